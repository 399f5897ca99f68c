//! The admin console's server message (`POST /admin/api/notice`) through
//! real HTTP, a real WebSocket player, a real long-poll player and a real
//! SSE spectator: each gets the operator's words (`ServerMsg::Notice`, the
//! state answer's `notice`, the feed's `notice` event) in every room of
//! the node (of every node, in a cluster on a real Redis); the action is
//! audited, the text is bounded and notices are paced.

mod common;

use common::{Player, SseClient, TestServer, WAIT, client_from, refusal, sent, test_config};
use serde_json::{Value, json};
use skirmish_server::Config;
use skirmish_shared::feed::RoomEvent;
use skirmish_shared::http::{ApiErrorCode, AuditEntry};
use skirmish_shared::{MAX_NOTICE_LEN, ServerMsg};

const TOKEN: &str = "correct-horse-battery-staple";
const TEXT: &str = "Maintenance at 22:00 UTC: rounds end early";

fn admin_config() -> Config {
    let mut config = test_config();
    config.admin_token = Some(TOKEN.parse().expect("token"));
    config
}

/// `POST /admin/api/notice` with `text`: status, `Retry-After`, body.
async fn notice(server: &TestServer, text: &str) -> (u16, Option<u32>, Value) {
    let request = client_from([127, 0, 0, 1])
        .post(server.http_url("/admin/api/notice"))
        .bearer_auth(TOKEN)
        .json(&json!({ "text": text }));
    sent(request).await
}

/// A long-poll player's join in `room`: its session token.
async fn poll_player(server: &TestServer, room: &str) -> String {
    let (status, _, body) = sent(
        client_from([127, 0, 0, 1])
            .post(server.http_url(&format!("/api/rooms/{room}/join")))
            .json(&json!({ "name": "Poller" })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().expect("token").to_owned()
}

/// Polls the session's state until an answer carries a notice.
async fn polled_notice(server: &TestServer, token: &str) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut after: Option<u64> = None;
    loop {
        assert!(tokio::time::Instant::now() < deadline, "no notice polled");
        let query = after.map_or(String::new(), |a| format!("&after={a}"));
        let (status, _, body) = sent(
            client_from([127, 0, 0, 1])
                .get(server.http_url(&format!("/api/sessions/{token}/state?timeout=2{query}"))),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        if let Some(text) = body["notice"].as_str() {
            assert!(
                body["snapshot"].is_null(),
                "a notice answer has no snapshot"
            );
            return text.to_owned();
        }
        if let Some(tick) = body["snapshot"]["body"]["tick"].as_u64() {
            after = Some(tick);
        }
    }
}

/// Reads the player's messages until a Notice (snapshots keep coming, so
/// the wait is bounded as a whole).
async fn notice_of(player: &mut Player) -> String {
    tokio::time::timeout(WAIT, async {
        loop {
            if let ServerMsg::Notice(notice) = player.recv().await {
                return notice.text;
            }
        }
    })
    .await
    .expect("a Notice in time")
}

#[tokio::test]
async fn a_server_message_reaches_players_pollers_and_spectators_of_every_room_and_is_audited() {
    let server = TestServer::start(admin_config()).await;
    let mut a = Player::join(&server, "Ada", Some("notice-a")).await;
    let mut b = Player::join(&server, "Bo", Some("notice-b")).await;
    let poller = poll_player(&server, "notice-b").await;
    let http = reqwest::Client::new();
    let mut feed =
        SseClient::open(&http, &server.http_url("/api/rooms/notice-a/events"), None).await;
    assert_eq!(feed.status, 200);
    feed.next_logged().await; // the snapshot

    let (status, _, body) = notice(&server, &format!("  {TEXT}\t")).await;
    assert_eq!(status, 200, "{body}");
    let entry: AuditEntry = serde_json::from_value(body).expect("an audit entry");
    assert_eq!(entry.action, "notice");
    assert_eq!(entry.reason, TEXT, "trimmed");

    assert_eq!(
        notice_of(&mut a).await,
        TEXT,
        "a WebSocket player in one room"
    );
    assert_eq!(
        notice_of(&mut b).await,
        TEXT,
        "a WebSocket player in another"
    );
    assert_eq!(
        polled_notice(&server, &poller).await,
        TEXT,
        "a long-poll player"
    );
    let event = loop {
        let event = feed.next_logged().await;
        if event.event == "notice" {
            break event;
        }
    };
    let RoomEvent::Notice(seen) = event.room() else {
        panic!("not a notice: {event:?}");
    };
    assert_eq!((seen.text.as_str(), seen.room.as_str()), (TEXT, "notice-a"));

    // Players keep playing: snapshots still come after the notice.
    a.snapshot().await;

    let (status, _, audit) = sent(
        client_from([127, 0, 0, 1])
            .get(server.http_url("/admin/api/audit"))
            .bearer_auth(TOKEN),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        audit
            .as_array()
            .expect("a list")
            .iter()
            .any(|e| e["action"] == "notice" && e["reason"] == TEXT),
        "{audit}"
    );
    server.stop().await;
}

#[tokio::test]
async fn server_messages_are_bounded_and_paced() {
    let server = TestServer::start(admin_config()).await;
    for bad in [
        String::new(),
        "   ".into(),
        "a\u{7}b".into(),
        "x".repeat(MAX_NOTICE_LEN + 1),
    ] {
        let (status, _, body) = notice(&server, &bad).await;
        assert_eq!(refusal(status, &body), ApiErrorCode::BadBody, "{bad:?}");
    }
    let (status, _, body) = notice(&server, &"x".repeat(MAX_NOTICE_LEN)).await;
    assert_eq!(status, 200, "the longest text is taken: {body}");
    let (status, retry, body) = notice(&server, "again at once").await;
    assert_eq!(refusal(status, &body), ApiErrorCode::AdminRateLimited);
    assert!(retry.is_some_and(|s| (1..=2).contains(&s)), "{retry:?}");
    // Without the token: 401, as every admin route.
    let (status, _, body) = sent(
        client_from([127, 0, 0, 1])
            .post(server.http_url("/admin/api/notice"))
            .json(&json!({ "text": TEXT })),
    )
    .await;
    assert_eq!(refusal(status, &body), ApiErrorCode::Unauthorized);
    server.stop().await;
}

/// In a cluster, a message sent on one node's console reaches the players
/// of the other nodes' rooms too, and the audit says it went out to them.
#[tokio::test]
async fn in_a_cluster_a_server_message_sent_on_one_node_reaches_the_other_nodes_players() {
    use common::cluster_nodes::{MARGIN, node, prefix, shared_redis};
    let Some(redis) = shared_redis() else { return };
    let prefix = prefix("notice");
    let a = node(&redis.url(), &prefix, "a", &["--admin-token", TOKEN]).await;
    let b = node(&redis.url(), &prefix, "b", &[]).await;
    let socket = common::connect_url(&format!("ws://{}/ws", b.addr)).await;
    let mut far = Player::hello_on(socket, "Far", Some("notice-far"), None).await;
    far.snapshot().await;

    // B subscribes the notice channel as it starts, and Redis confirms
    // that on its own time: a message published before is not B's, so
    // send again (at the console's pace) until B's player shows one.
    let started = tokio::time::Instant::now();
    let text = loop {
        assert!(
            started.elapsed() < MARGIN * 3,
            "B's player never got the message"
        );
        let request = client_from([127, 0, 0, 1])
            .post(a.url("/admin/api/notice"))
            .bearer_auth(TOKEN)
            .json(&json!({ "text": TEXT }));
        let (status, retry, body) = sent(request).await;
        if status == 429 {
            let secs = retry.expect("Retry-After");
            tokio::time::sleep(std::time::Duration::from_secs(secs.into())).await;
            continue;
        }
        assert_eq!(status, 200, "{body}");
        let entry: AuditEntry = serde_json::from_value(body).expect("an audit entry");
        assert!(
            entry.target.ends_with("nodes"),
            "the audit counts the nodes reached: {}",
            entry.target
        );
        let shown = tokio::time::timeout(std::time::Duration::from_secs(3), async {
            loop {
                if let ServerMsg::Notice(notice) = far.recv().await {
                    return notice.text;
                }
            }
        })
        .await;
        if let Ok(text) = shown {
            break text;
        }
    };
    assert_eq!(text, TEXT);
}
