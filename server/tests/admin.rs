//! The admin API (`--admin-token`), through real HTTP and real players:
//! it is absent without a token, refuses wrong tokens and rate-limits
//! guessing, lists rooms and players, and its actions (close a room, kick a
//! player, drain the node) reach the players and the audit list.

mod common;

use std::time::Duration;

use common::node_process::NodeProcess;
use common::{Player, TestServer, WAIT, client_from, expect_close, refusal, sent, test_config};
use skirmish_server::Config;
use skirmish_shared::http::{AdminOverview, ApiErrorCode, AuditEntry};
use skirmish_shared::{ClientMsg, ErrorCode, Hello, PROTOCOL_VERSION, ServerMsg};

const TOKEN: &str = "correct-horse-battery-staple";

fn admin_config() -> Config {
    let mut config = test_config();
    config.admin_token = Some(TOKEN.parse().expect("token"));
    config
}

/// `GET path` with `token` as the bearer (none when `None`), from 127.0.0.1.
async fn get(url: &str, token: Option<&str>) -> (u16, Option<u32>, serde_json::Value) {
    let mut request = client_from([127, 0, 0, 1]).get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    sent(request).await
}

/// `POST path` with the right token and `{"reason": reason}`.
async fn act(server: &TestServer, path: &str, reason: &str) -> (u16, serde_json::Value) {
    let request = client_from([127, 0, 0, 1])
        .post(server.http_url(path))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({ "reason": reason }));
    let (status, _, body) = sent(request).await;
    (status, body)
}

async fn overview(server: &TestServer) -> AdminOverview {
    let (status, _, body) = get(&server.http_url("/admin/api/overview"), Some(TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).expect("an overview")
}

/// Polls the overview until `done` holds.
async fn overview_until(
    server: &TestServer,
    done: impl Fn(&AdminOverview) -> bool,
) -> AdminOverview {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let seen = overview(server).await;
        if done(&seen) {
            return seen;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "overview never became {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn without_a_token_the_admin_api_is_absent() {
    let server = TestServer::start(test_config()).await;
    for path in [
        "/admin",
        "/admin/admin.js",
        "/admin/api/overview",
        "/admin/api/audit",
    ] {
        let (status, _, body) = get(&server.http_url(path), Some(TOKEN)).await;
        assert_eq!(refusal(status, &body), ApiErrorCode::NotFound, "{path}");
    }
    let request = client_from([127, 0, 0, 1])
        .post(server.http_url("/admin/api/drain"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({ "reason": "x" }));
    let (status, _, body) = sent(request).await;
    assert_eq!(refusal(status, &body), ApiErrorCode::NotFound);
    server.stop().await;
}

#[tokio::test]
async fn wrong_or_missing_tokens_get_401_and_guessing_is_rate_limited() {
    let server = TestServer::start(admin_config()).await;
    let url = server.http_url("/admin/api/overview");
    let (status, _, body) = get(&url, None).await;
    assert_eq!(refusal(status, &body), ApiErrorCode::Unauthorized);
    let almost = format!("{}X", &TOKEN[..TOKEN.len() - 1]);
    let (status, _, body) = get(&url, Some(&almost)).await;
    assert_eq!(refusal(status, &body), ApiErrorCode::Unauthorized);
    // The right token refunds its try: polling never runs the budget down.
    for _ in 0..30 {
        assert_eq!(get(&url, Some(TOKEN)).await.0, 200);
    }
    // Ten wrong tries in all pass as 401s (two above), then 429.
    for _ in 0..8 {
        let (status, _, body) = get(&url, Some("wrong-token-wrong-token")).await;
        assert_eq!(refusal(status, &body), ApiErrorCode::Unauthorized);
    }
    let (status, retry, body) = get(&url, Some("wrong-token-wrong-token")).await;
    assert_eq!(refusal(status, &body), ApiErrorCode::AdminRateLimited);
    assert!(retry.is_some_and(|s| s >= 1), "Retry-After: {retry:?}");
    // Even the right token waits: the address is limited, not the token.
    let (status, _, body) = get(&url, Some(TOKEN)).await;
    assert_eq!(refusal(status, &body), ApiErrorCode::AdminRateLimited);
    // Another address is not affected.
    let (status, _, _) = sent(client_from([127, 0, 0, 2]).get(&url).bearer_auth(TOKEN)).await;
    assert_eq!(status, 200);
    server.stop().await;
}

#[tokio::test]
async fn the_overview_lists_rooms_with_their_players() {
    let server = TestServer::start(admin_config()).await;
    let ada = Player::join(&server, "ada", Some("arena-x")).await;
    let polled = client_from([127, 0, 0, 2])
        .post(server.http_url("/api/rooms/arena-x/join"))
        .json(&serde_json::json!({ "name": "bob" }));
    let (status, _, joined) = sent(polled).await;
    assert_eq!(status, 200, "{joined}");
    let seen = overview_until(&server, |o| {
        o.rooms
            .iter()
            .any(|r| r.summary.id == "arena-x" && r.humans.len() == 2 && r.tick_p99_ms.is_some())
    })
    .await;
    assert!(!seen.draining);
    assert_eq!(seen.nodes.len(), 1, "a single node lists itself");
    assert_eq!(seen.nodes[0].id, seen.node);
    let room = seen
        .rooms
        .iter()
        .find(|r| r.summary.id == "arena-x")
        .expect("room");
    assert_eq!(room.summary.players, 2);
    assert!(!room.private);
    assert!(room.tick_p99_ms.is_some_and(|ms| ms > 0.0 && ms < 1000.0));
    let ada_seen = room.humans.iter().find(|p| p.name == "ada").expect("ada");
    assert_eq!(ada_seen.ship, ada.ship());
    assert!(ada_seen.connected);
    assert_eq!(ada_seen.address, "127.0.0.1");
    assert_eq!(ada_seen.transport, "websocket");
    let bob = room.humans.iter().find(|p| p.name == "bob").expect("bob");
    assert_eq!(
        u64::from(bob.ship.0),
        joined["ship"].as_u64().expect("ship")
    );
    assert_eq!(bob.address, "127.0.0.2");
    assert_eq!(bob.transport, "longpoll");
    assert!(
        seen.rooms.iter().any(|r| r.summary.id == "main"),
        "the default room too"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_kicked_player_is_closed_with_1008_and_the_kick_is_audited() {
    let server = TestServer::start(admin_config()).await;
    let mut ada = Player::join(&server, "ada", Some("arena-k")).await;
    let bob = Player::join(&server, "bob", Some("arena-k")).await;
    let path = format!("/admin/api/rooms/arena-k/players/{}/kick", ada.ship().0);
    let (status, body) = act(&server, &path, "abusive name").await;
    assert_eq!(status, 200, "{body}");
    let entry: AuditEntry = serde_json::from_value(body).expect("an audit entry");
    assert_eq!(entry.action, "kick");
    assert_eq!(entry.target, format!("arena-k/{}", ada.ship().0));
    assert!(entry.who.contains("127.0.0.1"), "{}", entry.who);
    assert_eq!(
        expect_close(&mut ada.socket).await,
        (1008, "kicked by an operator".to_owned())
    );
    let seen = overview_until(&server, |o| {
        o.rooms
            .iter()
            .any(|r| r.summary.id == "arena-k" && r.humans.len() == 1)
    })
    .await;
    let room = seen
        .rooms
        .iter()
        .find(|r| r.summary.id == "arena-k")
        .expect("room");
    assert_eq!(room.humans[0].ship, bob.ship(), "only the kicked one left");
    // Kicking again: no such player. Unknown rooms and bad reasons refused.
    let (status, body) = act(&server, &path, "again").await;
    assert_eq!(refusal(status, &body), ApiErrorCode::NoPlayer);
    let (status, body) = act(&server, "/admin/api/rooms/nowhere/players/1/kick", "x").await;
    assert_eq!(refusal(status, &body), ApiErrorCode::NoRoom);
    let (status, body) = act(&server, &path, "").await;
    assert_eq!(refusal(status, &body), ApiErrorCode::BadBody);
    let (status, body) = act(&server, &path, &"x".repeat(201)).await;
    assert_eq!(refusal(status, &body), ApiErrorCode::BadBody);
    let (status, _, body) = get(&server.http_url("/admin/api/audit"), Some(TOKEN)).await;
    assert_eq!(status, 200);
    let audit: Vec<AuditEntry> = serde_json::from_value(body).expect("audit list");
    assert_eq!(audit, vec![entry], "refused actions are not audited");
    server.stop().await;
}

#[tokio::test]
async fn a_closed_room_closes_its_players_and_leaves_the_list() {
    let server = TestServer::start(admin_config()).await;
    let mut ada = Player::join(&server, "ada", Some("arena-c")).await;
    let (status, body) = act(&server, "/admin/api/rooms/arena-c/close", "maintenance").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        expect_close(&mut ada.socket).await,
        (1001, "room closed by an operator".to_owned())
    );
    overview_until(&server, |o| {
        o.rooms.iter().all(|r| r.summary.id != "arena-c")
    })
    .await;
    let (status, _, body) = get(&server.http_url("/admin/api/audit"), Some(TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(body[0]["action"], "close_room");
    assert_eq!(body[0]["reason"], "maintenance");
    server.stop().await;
}

/// The real binary: a drain through the API closes the players, exits 0
/// like SIGTERM, and its log names who drained, never the token.
#[tokio::test]
async fn a_drain_closes_players_and_stops_the_process_without_logging_the_token() {
    let node = NodeProcess::start(&["--admin-token", TOKEN, "--bots", "0"]).await;
    let server = node.server();
    let mut ada = Player::join(&server, "ada", None).await;
    // Wrong tokens are logged by address only.
    let wrong = format!("{TOKEN}-but-wrong");
    let (status, _, _) = get(&server.http_url("/admin/api/overview"), Some(&wrong)).await;
    assert_eq!(status, 401);
    let (status, body) = act(&server, "/admin/api/drain", "deploy").await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["action"], "drain");
    assert_eq!(
        expect_close(&mut ada.socket).await,
        (1001, "server shutting down".to_owned())
    );
    let (status, logs) = tokio::time::timeout(WAIT, node.wait())
        .await
        .expect("the process exits after the drain");
    assert!(status.success(), "{status:?}");
    assert!(
        logs.iter()
            .any(|l| l.contains("admin: node draining") && l.contains("127.0.0.1")),
        "the drain is logged with who did it: {logs:?}"
    );
    assert!(
        logs.iter().all(|l| !l.contains(TOKEN)),
        "the token (or a wrong one) is never logged"
    );
}

#[tokio::test]
async fn with_admin_bind_the_api_is_only_on_its_own_address() {
    let mut config = admin_config();
    config.admin_bind = Some("127.0.0.1:0".parse().expect("addr"));
    let server = TestServer::start(config).await;
    let admin = server
        .server
        .as_ref()
        .expect("running")
        .admin_addr()
        .expect("admin address");
    let (status, _, body) = get(&server.http_url("/admin/api/overview"), Some(TOKEN)).await;
    assert_eq!(
        refusal(status, &body),
        ApiErrorCode::NotFound,
        "not on --bind"
    );
    let (status, _, body) = get(&format!("http://{admin}/admin/api/overview"), Some(TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = get(&format!("http://{admin}/admin/api/overview"), None).await;
    assert_eq!(refusal(status, &body), ApiErrorCode::Unauthorized);
    let page = client_from([127, 0, 0, 1]).get(format!("http://{admin}/admin"));
    let page = page.send().await.expect("sent");
    assert_eq!(page.status(), 200, "the console's page is there");
    assert!(page.text().await.expect("text").contains("/admin/admin.js"));
    let script = client_from([127, 0, 0, 1]).get(format!("http://{admin}/admin/admin.js"));
    assert_eq!(script.send().await.expect("sent").status(), 200);
    let (status, _, body) = get(&format!("http://{admin}/api/rooms"), None).await;
    assert_eq!(
        refusal(status, &body),
        ApiErrorCode::NotFound,
        "only the admin API there"
    );
    server.stop().await;
}

#[tokio::test]
async fn admin_bind_without_a_token_and_bad_token_files_refuse_to_start() {
    let mut config = test_config();
    config.admin_bind = Some("127.0.0.1:0".parse().expect("addr"));
    let err = skirmish_server::Server::start(config)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("--admin-bind"), "{err}");
    let dir = std::env::temp_dir().join(format!("skirmish-admin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("token");
    std::fs::write(&file, "short\n").expect("write");
    let mut config = test_config();
    config.admin_token_file = Some(file.clone());
    let err = skirmish_server::Server::start(config)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("--admin-token-file"), "{err}");
    assert!(
        !err.to_string().contains("short"),
        "the file is never quoted: {err}"
    );
    std::fs::write(&file, format!("{TOKEN}\n")).expect("write");
    let mut config = test_config();
    config.admin_token_file = Some(file);
    let server = TestServer::start(config).await;
    assert_eq!(overview(&server).await.rooms.len(), 1);
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// A long-poll join of `room` as `name` from `source`.
async fn poll_join(
    server: &TestServer,
    source: [u8; 4],
    room: &str,
    name: &str,
) -> (u16, Option<u32>, serde_json::Value) {
    let request = client_from(source)
        .post(server.http_url(&format!("/api/rooms/{room}/join")))
        .json(&serde_json::json!({ "name": name }));
    sent(request).await
}

/// A kick of `ship` in `room` with `body` (reason and ban fields).
async fn kick_with(
    server: &TestServer,
    room: &str,
    ship: u64,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let request = client_from([127, 0, 0, 1])
        .post(server.http_url(&format!("/admin/api/rooms/{room}/players/{ship}/kick")))
        .bearer_auth(TOKEN)
        .json(&body);
    let (status, _, body) = sent(request).await;
    (status, body)
}

#[tokio::test]
async fn a_kick_with_a_ban_refuses_that_address_or_name_on_every_transport() {
    let server = TestServer::start(admin_config()).await;
    // An address ban, through long polling.
    let (status, _, mallory) = poll_join(&server, [127, 0, 0, 3], "arena-b", "mallory").await;
    assert_eq!(status, 200, "{mallory}");
    let ship = mallory["ship"].as_u64().expect("ship");
    for bad in [
        serde_json::json!({ "reason": "x", "ban_secs": 60 }),
        serde_json::json!({ "reason": "x", "ban_address": true }),
        serde_json::json!({ "reason": "x", "ban_secs": 700_000, "ban_name": true }),
    ] {
        let (status, body) = kick_with(&server, "arena-b", ship, bad).await;
        assert_eq!(refusal(status, &body), ApiErrorCode::BadBody);
    }
    let order = serde_json::json!({ "reason": "spam", "ban_secs": 600, "ban_address": true });
    let (status, entry) = kick_with(&server, "arena-b", ship, order).await;
    assert_eq!(status, 200, "{entry}");
    assert_eq!(entry["reason"], "spam (banned address 127.0.0.3 for 600 s)");
    let (status, retry, body) = poll_join(&server, [127, 0, 0, 3], "arena-b", "someone").await;
    assert_eq!(refusal(status, &body), ApiErrorCode::Banned);
    assert!(
        retry.is_some_and(|s| (590..=600).contains(&s)),
        "Retry-After {retry:?}"
    );
    let (status, _, body) = poll_join(&server, [127, 0, 0, 4], "arena-b", "mallory").await;
    assert_eq!(status, 200, "another address, same name: {body}");

    // A name ban, through the WebSocket, any case.
    let ada = Player::join(&server, "ada", Some("arena-b")).await;
    let order = serde_json::json!({ "reason": "name", "ban_secs": 60, "ban_name": true });
    let (status, body) = kick_with(&server, "arena-b", u64::from(ada.ship().0), order).await;
    assert_eq!(status, 200, "{body}");
    let mut socket = common::raw_socket(&server).await;
    let hello = Hello {
        token: None,
        protocol: PROTOCOL_VERSION,
        name: "ADA".into(),
        room: Some("arena-b".into()),
        resume: None,
        player: None,
    };
    common::send(&mut socket, &ClientMsg::Hello(hello)).await;
    let ServerMsg::Error(error) = common::recv(&mut socket).await else {
        panic!("expected an Error");
    };
    assert_eq!(error.code, ErrorCode::Banned, "{}", error.message);
    assert_eq!(expect_close(&mut socket).await.0, 1008);
    Player::join(&server, "bob", Some("arena-b")).await;
    let metrics = reqwest::get(server.http_url("/metrics"))
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    assert_eq!(
        common::metric(&metrics, "skirmish_rejected_total{reason=\"banned\"}"),
        Some(2.0)
    );
    server.stop().await;
}
