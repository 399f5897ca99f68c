//! Room creation as an attacker tries it, over real sockets: a flood of new
//! room names from one address, the total room cap, a resume that names a
//! room that does not exist, and `/metrics` under many client-named rooms.
//! Every refusal must come before anything is created.

mod common;

use std::time::Duration;

use common::{
    Player, TestServer, client_from, expect_close, get_json, metric, refusal, test_config,
};
use serde_json::{Value, json};
use skirmish_shared::http::ApiErrorCode;
use skirmish_shared::{ClientMsg, ErrorCode, Hello, PROTOCOL_VERSION, ResumeToken, ServerMsg};

/// A POST's status, `Retry-After` and JSON body. Requests of one client
/// in sequence reuse one keep-alive connection, as the flood in issue 13
/// did.
async fn post(http: &reqwest::Client, url: &str, body: Value) -> (u16, Option<u32>, Value) {
    common::sent(http.post(url).json(&body)).await
}

/// The ids `GET /api/rooms` lists.
async fn room_ids(server: &TestServer) -> Vec<String> {
    get_json(server, "/api/rooms")
        .await
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect()
}

/// The default room's last tick, from `GET /api/rooms`.
async fn main_tick(server: &TestServer) -> u64 {
    let rooms = get_json(server, "/api/rooms").await;
    let main = rooms
        .as_array()
        .expect("a list")
        .iter()
        .find(|r| r["id"] == "main");
    main.expect("main is listed")["tick"]
        .as_u64()
        .expect("tick")
}

async fn metrics_text(server: &TestServer) -> String {
    common::http_get(&server.http_url("/metrics")).await.1
}

/// Waits until the `skirmish_rooms` gauge reads `n` (rooms count themselves
/// when their task starts, a moment after the registry lists them).
async fn rooms_gauge(server: &TestServer, n: usize) {
    let mut last = None;
    for _ in 0..500 {
        last = metric(&metrics_text(server).await, "skirmish_rooms");
        if last == Some(n as f64) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("skirmish_rooms stayed at {last:?}, expected {n}");
}

fn rejected(text: &str, reason: &str) -> f64 {
    metric(
        text,
        &format!("skirmish_rejected_total{{reason=\"{reason}\"}}"),
    )
    .unwrap_or(0.0)
}

/// Says Hello and expects a refusal: the `Error` code, then the close code
/// and its reason.
async fn refused_hello(
    server: &TestServer,
    room: Option<&str>,
    resume: Option<ResumeToken>,
) -> (ErrorCode, String, u16, String) {
    let mut socket = common::raw_socket(server).await;
    common::send(
        &mut socket,
        &ClientMsg::Hello(Hello {
            token: None,
            protocol: PROTOCOL_VERSION,
            player: None,
            name: "Refused".into(),
            room: room.map(Into::into),
            resume,
        }),
    )
    .await;
    let error = match common::recv(&mut socket).await {
        ServerMsg::Error(e) => e,
        other => panic!("expected an Error, got {other:?}"),
    };
    let (code, reason) = expect_close(&mut socket).await;
    (error.code, error.message, code, reason)
}

#[tokio::test]
async fn a_flood_of_new_room_names_from_one_address_is_refused_past_its_rate() {
    let mut config = test_config();
    config.new_rooms_per_ip_per_min = 3;
    let server = TestServer::start(config).await;
    let http = client_from([127, 0, 0, 1]);
    let ticks_before = main_tick(&server).await;

    // The flood: join a new name, leave, next name, on one
    // keep-alive connection.
    let mut opened = Vec::new();
    let mut refusals = Vec::new();
    for i in 0..20 {
        let url = server.http_url(&format!("/api/rooms/flood-{i}/join"));
        let (status, retry, body) = post(&http, &url, json!({ "name": "Flood" })).await;
        match status {
            200 => {
                let token = body["token"].as_str().expect("token");
                let leave = server.http_url(&format!("/api/sessions/{token}/leave"));
                let (status, _, _) = post(&http, &leave, json!({})).await;
                assert_eq!(status, 200);
                opened.push(format!("flood-{i}"));
            }
            _ => refusals.push((i, status, retry, body)),
        }
    }
    // A minute's worth (3) at once, then one every 20 s: a slow machine
    // may see one more refill during the loop, never more.
    assert!(
        (3..=4).contains(&opened.len()),
        "opened {opened:?}, refused {refusals:?}"
    );
    assert_eq!(opened[..3], ["flood-0", "flood-1", "flood-2"]);
    for (i, status, retry, body) in &refusals {
        assert_eq!(
            refusal(*status, body),
            ApiErrorCode::RoomRateLimited,
            "flood-{i}: {body}"
        );
        let retry = retry.expect("Retry-After on every refusal");
        assert!((1..=20).contains(&retry), "Retry-After {retry}");
        let error = body["error"].as_str().expect("JSON error");
        assert!(
            error.starts_with("too many new rooms from your address (at most 3 a minute)"),
            "{error}"
        );
    }
    // Nothing was created for a refused request.
    let mut expected: Vec<String> = opened.clone();
    expected.push("main".into());
    expected.sort();
    assert_eq!(room_ids(&server).await, expected);
    rooms_gauge(&server, expected.len()).await;
    let text = metrics_text(&server).await;
    assert_eq!(
        rejected(&text, "room_rate"),
        refusals.len() as f64,
        "{text}"
    );

    // The limit is per address: another one may still open a room, and
    // joining a room that exists costs nothing.
    let other = client_from([127, 0, 0, 2]);
    let (status, _, body) = post(
        &other,
        &server.http_url("/api/rooms/elsewhere/join"),
        json!({ "name": "Other" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = post(
        &http,
        &server.http_url("/api/rooms/elsewhere/join"),
        json!({ "name": "Joiner" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // And the default room ticks on (a loaded machine may take a while to
    // run it, so wait for the tick to move rather than read it once).
    tokio::time::timeout(common::WAIT, async {
        while main_tick(&server).await <= ticks_before {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the default room ticked on");
    server.stop().await;
}

#[tokio::test]
async fn the_room_cap_refuses_new_rooms_but_seats_players_where_there_is_room() {
    let mut config = test_config();
    config.max_players = 1;
    config.max_rooms = 2;
    let server = TestServer::start(config).await;
    let mut first = Player::join(&server, "First", None).await;
    let second = Player::join(&server, "Second", None).await;
    assert_eq!(first.welcome.room, "main");
    assert_eq!(
        second.welcome.room, "arena-2",
        "below the cap, matchmaking opens a room"
    );

    // At the cap with every public seat taken: matchmaking refuses.
    let (error, message, code, reason) = refused_hello(&server, None, None).await;
    assert_eq!(error, ErrorCode::ServerFull, "{message}");
    assert_eq!(
        message,
        "every public room is full and the server holds its limit of 2 rooms: retry later"
    );
    assert_eq!((code, reason.as_str()), (1013, message.as_str()));

    // A new name is refused on the WebSocket...
    let (error, message, code, reason) = refused_hello(&server, Some("fresh"), None).await;
    assert_eq!(error, ErrorCode::RoomLimit, "{message}");
    assert_eq!(
        message,
        "the server holds its limit of 2 rooms: join an existing room or retry later"
    );
    assert_eq!((code, reason.as_str()), (1013, message.as_str()));
    // ...and over HTTP, with a JSON reason and Retry-After.
    let http = client_from([127, 0, 0, 1]);
    let join = server.http_url("/api/rooms/fresh/join");
    let (status, retry, body) = post(&http, &join, json!({ "name": "Late" })).await;
    assert_eq!(refusal(status, &body), ApiErrorCode::RoomLimit);
    assert_eq!(body["error"], message.as_str());
    assert!(retry.is_some_and(|s| s >= 1), "Retry-After {retry:?}");
    assert_eq!(room_ids(&server).await, ["arena-2", "main"]);

    // Rooms that exist still take players.
    first.send(&ClientMsg::Leave).await;
    expect_close(&mut first.socket).await;
    let (status, _, body) = post(
        &http,
        &server.http_url("/api/rooms/main/join"),
        json!({ "name": "Back" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let text = metrics_text(&server).await;
    assert_eq!(rejected(&text, "server_full"), 1.0, "{text}");
    assert_eq!(rejected(&text, "room_limit"), 2.0, "{text}");
    // Rooms the server opened keep their own tick series.
    assert!(
        metric(
            &text,
            "skirmish_tick_duration_seconds_count{room=\"arena-2\"}"
        )
        .is_some(),
        "{text}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_resume_that_cannot_succeed_creates_no_room() {
    let mut config = test_config();
    config.max_players = 1;
    let server = TestServer::start(config).await;
    // Main is full, so a matchmaking join would have to open a room.
    let _holder = Player::join(&server, "Holder", None).await;

    let bogus = Some(ResumeToken([7; 16]));
    let (error, message, code, _) = refused_hello(&server, Some("ghost"), bogus).await;
    assert_eq!(error, ErrorCode::ResumeRejected, "{message}");
    assert_eq!(
        message,
        "nothing to resume in room ghost: join without the token"
    );
    assert_eq!(code, 1008);
    assert_eq!(room_ids(&server).await, ["main"], "no room for a refusal");

    let (error, message, code, _) = refused_hello(&server, None, bogus).await;
    assert_eq!(error, ErrorCode::ResumeRejected, "{message}");
    assert_eq!(
        message,
        "a resume token needs the id of the room it was issued in"
    );
    assert_eq!(code, 1008);
    assert_eq!(room_ids(&server).await, ["main"], "no room for a refusal");

    let text = metrics_text(&server).await;
    assert_eq!(metric(&text, "skirmish_rooms"), Some(1.0), "{text}");
    assert_eq!(rejected(&text, "resume_rejected"), 2.0, "{text}");
    server.stop().await;
}

#[tokio::test]
async fn metrics_stay_bounded_however_many_rooms_clients_name() {
    let server = TestServer::start(test_config()).await;
    rooms_gauge(&server, 1).await;
    let baseline = metrics_text(&server).await.lines().count();

    let http = client_from([127, 0, 0, 1]);
    for i in 0..40 {
        let url = server.http_url(&format!("/api/rooms/named-{i}/join"));
        let (status, _, body) = post(&http, &url, json!({ "name": "Namer" })).await;
        assert_eq!(status, 200, "{body}");
    }
    rooms_gauge(&server, 41).await;
    let text = metrics_text(&server).await;
    // One shared histogram for every client-named room (about 31 lines)
    // plus a few new counters; 40 rooms of their own would add 1240.
    let grown = text.lines().count() - baseline;
    assert!(grown <= 45, "/metrics grew by {grown} lines:\n{text}");
    assert!(!text.contains("room=\"named-"), "{text}");
    let other = metric(
        &text,
        "skirmish_tick_duration_seconds_count{room=\"other\"}",
    );
    assert!(other.is_some_and(|n| n > 0.0), "{text}");
    assert!(
        metric(&text, "skirmish_tick_duration_seconds_count{room=\"main\"}").is_some(),
        "{text}"
    );
    server.stop().await;
}
