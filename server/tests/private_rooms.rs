//! Private rooms over real sockets: created by `POST /api/rooms`, listed
//! nowhere, never picked by matchmaking, and joined or watched on every
//! transport only with the invite code; wrong codes are rate limited per
//! client address.

mod common;

use common::cluster_nodes::{MARGIN, get, matchmake, node, prefix, shared_redis, wait_until};
use common::{
    Player, TestServer, WAIT, client_from, connect_url, expect_close, get_json, metric, refusal,
    sent, test_config,
};
use serde_json::{Value, json};
use skirmish_shared::http::{ApiErrorCode, CreatedRoom};
use skirmish_shared::{ClientMsg, ErrorCode, Hello, PROTOCOL_VERSION, ServerMsg};

/// Opens a private room from `http`.
async fn create(server: &TestServer, http: &reqwest::Client) -> CreatedRoom {
    let url = server.http_url("/api/rooms");
    let (status, _, body) = sent(http.post(url).json(&json!({ "private": true }))).await;
    assert_eq!(status, 201, "{body}");
    serde_json::from_value(body).expect("a CreatedRoom")
}

/// `?invite=` for `code`, or nothing.
fn invite_query(code: Option<&str>) -> String {
    code.map_or_else(String::new, |c| format!("?invite={c}"))
}

/// A long-poll join of `room` with `invite`: status, Retry-After, body.
async fn poll_join(
    server: &TestServer,
    http: &reqwest::Client,
    room: &str,
    invite: Option<&str>,
) -> (u16, Option<u32>, Value) {
    let url = server.http_url(&format!("/api/rooms/{room}/join"));
    let mut body = json!({ "name": "Guest" });
    if let Some(code) = invite {
        body["invite"] = json!(code);
    }
    sent(http.post(url).json(&body)).await
}

/// Says Hello for `room` on a socket opened at `/ws` plus `query`, and
/// expects a refusal: the Error's code and text, and the close code.
async fn refused_ws(server: &TestServer, query: &str, room: &str) -> (ErrorCode, String, u16) {
    let mut socket = connect_url(&format!("{}{query}", server.ws_url())).await;
    common::send(
        &mut socket,
        &ClientMsg::Hello(Hello {
            token: None,
            protocol: PROTOCOL_VERSION,
            name: "Guest".into(),
            room: Some(room.into()),
            resume: None,
            player: None,
        }),
    )
    .await;
    let ServerMsg::Error(error) = common::recv(&mut socket).await else {
        panic!("expected an Error");
    };
    let (code, _) = expect_close(&mut socket).await;
    (error.code, error.message, code)
}

/// The status and body of `GET url` (first bytes only for a stream).
async fn watch(http: &reqwest::Client, url: String) -> (u16, String) {
    let mut response = http.get(url).send().await.expect("sent");
    let status = response.status().as_u16();
    let first = tokio::time::timeout(WAIT, response.chunk())
        .await
        .expect("a first chunk in time")
        .expect("readable")
        .unwrap_or_default();
    (status, String::from_utf8_lossy(&first).into_owned())
}

fn code_of(status: u16, body: &str) -> ApiErrorCode {
    refusal(
        status,
        &serde_json::from_str(body).expect("JSON error body"),
    )
}

#[tokio::test]
async fn a_private_room_is_listed_nowhere_and_matchmaking_never_sends_anyone_there() {
    let server = TestServer::start(test_config()).await;
    let http = client_from([127, 0, 0, 1]);
    let room = create(&server, &http).await;
    assert!(room.private);
    assert!(room.room.starts_with("p-"), "{}", room.room);
    let invite = room.invite.clone().expect("an invite code");
    assert_eq!(invite.len(), 32);
    assert!(invite.bytes().all(|b| b.is_ascii_hexdigit()));
    let other = create(&server, &http).await;
    assert_ne!(other.room, room.room);
    assert_ne!(other.invite, room.invite);

    // A player inside, so a listing by occupancy would show it.
    let ws = format!("{}?room={}&invite={invite}", server.ws_url(), room.room);
    let inside = Player::hello_on(connect_url(&ws).await, "Host", None, None).await;
    assert_eq!(inside.welcome.room, room.room);

    let listed = get_json(&server, "/api/rooms").await;
    let ids: Vec<&str> = listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["main"], "private rooms are not listed");

    let matchmake = server.http_url("/api/matchmake");
    let (status, _, body) = sent(http.post(&matchmake).json(&json!({ "room": room.room }))).await;
    assert_eq!(
        refusal(status, &body),
        ApiErrorCode::NoRoom,
        "matchmaking does not know it: {body}"
    );
    for _ in 0..3 {
        let (status, _, body) = sent(http.post(&matchmake).json(&json!({}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["room"], "main", "never a private room: {body}");
    }

    // Only private rooms are created here.
    let url = server.http_url("/api/rooms");
    let (status, _, body) = sent(http.post(url).json(&json!({ "private": false }))).await;
    assert_eq!(refusal(status, &body), ApiErrorCode::BadBody, "{body}");
    server.stop().await;
}

#[tokio::test]
async fn every_transport_refuses_a_private_room_without_its_invite_code() {
    let server = TestServer::start(test_config()).await;
    let http = client_from([127, 0, 0, 1]);
    let room = create(&server, &http).await;
    let id = room.room.as_str();
    let code = room.invite.clone().expect("code");
    let wrong = "0".repeat(32);

    // WebSocket: the room in Hello or in the URL, the code in the URL.
    let (error, message, close) = refused_ws(&server, "", id).await;
    assert_eq!((error, close), (ErrorCode::InviteRequired, 1008));
    assert!(message.contains("is private"), "{message}");
    let (error, message, close) = refused_ws(&server, &format!("?invite={wrong}"), id).await;
    assert_eq!((error, close), (ErrorCode::InviteRequired, 1008));
    assert!(message.contains("wrong invite code"), "{message}");
    let (error, _, close) = refused_ws(&server, "?invite=not-hex", id).await;
    assert_eq!((error, close), (ErrorCode::InviteRequired, 1008));
    let url = format!(
        "{}?room={id}&invite={}",
        server.ws_url(),
        code.to_uppercase()
    );
    let player = Player::hello_on(connect_url(&url).await, "Ws", None, None).await;
    assert_eq!(player.welcome.room, id);

    // Long-poll join.
    let (status, _, body) = poll_join(&server, &http, id, None).await;
    assert_eq!(refusal(status, &body), ApiErrorCode::InviteRequired);
    let (status, _, body) = poll_join(&server, &http, id, Some(&wrong)).await;
    assert_eq!(refusal(status, &body), ApiErrorCode::BadInvite);
    let (status, _, body) = poll_join(&server, &http, id, Some(&code)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["room"], id);

    // Spectators: the event stream and the room poll.
    for route in ["events", "poll"] {
        let base = server.http_url(&format!("/api/rooms/{id}/{route}"));
        let (status, body) = watch(&http, format!("{base}{}", invite_query(None))).await;
        assert_eq!(
            code_of(status, &body),
            ApiErrorCode::InviteRequired,
            "{route}"
        );
        let (status, body) = watch(&http, format!("{base}{}", invite_query(Some(&wrong)))).await;
        assert_eq!(code_of(status, &body), ApiErrorCode::BadInvite, "{route}");
        let (status, body) = watch(&http, format!("{base}{}", invite_query(Some(&code)))).await;
        assert_eq!(status, 200, "{route}: {body}");
        assert!(body.contains(id), "{route} shows the room: {body}");
    }

    // The public room needs no code, and ignores one.
    let url = server.http_url("/api/rooms/main/poll?invite=whatever");
    assert_eq!(watch(&http, url).await.0, 200);

    let text = common::http_get(&server.http_url("/metrics")).await.1;
    let invite_refusals = metric(&text, "skirmish_rejected_total{reason=\"invite\"}");
    assert_eq!(invite_refusals, Some(9.0), "3 ws + 2 join + 2×2 watch");
    server.stop().await;
}

#[tokio::test]
async fn a_player_back_with_its_resume_token_needs_no_invite_code() {
    let server = TestServer::start(test_config()).await;
    let http = client_from([127, 0, 0, 1]);
    let room = create(&server, &http).await;
    let code = room.invite.expect("code");
    let url = format!("{}?room={}&invite={code}", server.ws_url(), room.room);
    let first = Player::hello_on(connect_url(&url).await, "Back", None, None).await;
    let (ship, token) = (first.ship(), first.welcome.resume);
    drop(first);
    let back = Player::hello(&server, "Back", Some(&room.room), Some(token)).await;
    assert!(back.welcome.resumed);
    assert_eq!(back.ship(), ship);
    server.stop().await;
}

#[tokio::test]
async fn guessing_invite_codes_is_rate_limited_per_address() {
    let mut config = test_config();
    config.invite_tries_per_ip_per_min = 5;
    let server = TestServer::start(config).await;
    let owner = client_from([127, 0, 0, 5]);
    let room = create(&server, &owner).await;
    let id = room.room.as_str();
    let code = room.invite.clone().expect("code");

    // The owner's friends behind one address: right codes cost nothing.
    for _ in 0..8 {
        let (status, _, body) = poll_join(&server, &owner, id, Some(&code)).await;
        assert_eq!(status, 200, "{body}");
    }

    // The guesser is on 127.0.0.1, where the test's WebSockets come from.
    let guesser = client_from([127, 0, 0, 1]);
    let mut outcomes = Vec::new();
    for guess in 0..20u32 {
        let guess = format!("{guess:032x}");
        let (status, retry, body) = poll_join(&server, &guesser, id, Some(&guess)).await;
        outcomes.push((refusal(status, &body), retry));
    }
    let wrong = outcomes
        .iter()
        .filter(|(c, _)| *c == ApiErrorCode::BadInvite)
        .count();
    // A minute's worth (5) at once, then one every 12 s: a slow machine
    // may see one refill during the loop, never more.
    assert!((5..=6).contains(&wrong), "{outcomes:?}");
    assert!(
        outcomes[..5]
            .iter()
            .all(|(c, _)| *c == ApiErrorCode::BadInvite)
    );
    for (code, retry) in &outcomes[wrong..] {
        assert_eq!(*code, ApiErrorCode::InviteRateLimited);
        assert!(retry.is_some_and(|r| (1..=12).contains(&r)), "{retry:?}");
    }
    // Limited, the guesser is refused before its code is compared, on
    // every route: even the right code.
    let (status, _, body) = poll_join(&server, &guesser, id, Some(&code)).await;
    assert_eq!(refusal(status, &body), ApiErrorCode::InviteRateLimited);
    let events = server.http_url(&format!("/api/rooms/{id}/events?invite={code}"));
    let (status, body) = watch(&guesser, events).await;
    assert_eq!(code_of(status, &body), ApiErrorCode::InviteRateLimited);
    let (error, message, close) = refused_ws(&server, &format!("?invite={code}"), id).await;
    assert_eq!(
        (error, close),
        (ErrorCode::InviteRateLimited, 1013),
        "{message}"
    );
    assert!(
        message.starts_with("too many wrong invite codes"),
        "{message}"
    );
    // Another address is not affected.
    let other = client_from([127, 0, 0, 3]);
    let (status, _, body) = poll_join(&server, &other, id, Some(&code)).await;
    assert_eq!(status, 200, "{body}");

    let text = common::http_get(&server.http_url("/metrics")).await.1;
    let limited = metric(&text, "skirmish_rejected_total{reason=\"invite_rate\"}");
    assert!(limited.is_some_and(|n| n >= 14.0), "{limited:?}");
    server.stop().await;
}

#[tokio::test]
async fn private_rooms_count_against_the_room_cap_and_the_address_rate() {
    let mut config = test_config();
    config.new_rooms_per_ip_per_min = 2;
    let server = TestServer::start(config).await;
    let http = client_from([127, 0, 0, 4]);
    create(&server, &http).await;
    create(&server, &http).await;
    let url = server.http_url("/api/rooms");
    let (status, retry, body) = sent(http.post(&url).json(&json!({ "private": true }))).await;
    assert_eq!(refusal(status, &body), ApiErrorCode::RoomRateLimited);
    assert!(retry.is_some());
    server.stop().await;

    let mut config = test_config();
    config.max_rooms = 2;
    let server = TestServer::start(config).await;
    create(&server, &http).await;
    let url = server.http_url("/api/rooms");
    let (status, _, body) = sent(http.post(&url).json(&json!({ "private": true }))).await;
    assert_eq!(refusal(status, &body), ApiErrorCode::RoomLimit);
    server.stop().await;
}

#[tokio::test]
async fn in_a_cluster_a_private_room_stays_off_the_directory() {
    let Some(redis) = shared_redis() else { return };
    let prefix = prefix("private");
    let a = node(&redis.url(), &prefix, "a", &[]).await;
    let b = node(&redis.url(), &prefix, "b", &[]).await;
    let http = reqwest::Client::new();
    let url = a.url("/api/rooms");
    let (status, _, body) = sent(http.post(url).json(&json!({ "private": true }))).await;
    assert_eq!(status, 201, "{body}");
    let room: CreatedRoom = serde_json::from_value(body).expect("a CreatedRoom");
    assert_eq!(room.node_url, a.url(""), "the room lives on the node asked");
    let code = room.invite.expect("code");
    // A player inside it on A, so A's next heartbeats carry a player.
    let ws = format!(
        "{}?room={}&invite={code}",
        a.url("/ws").replacen("http", "ws", 1),
        room.room
    );
    let inside = Player::hello_on(connect_url(&ws).await, "Host", None, None).await;
    assert_eq!(inside.welcome.room, room.room);

    // A room opened on A after the private one: once B lists it, A has
    // published since the private room opened.
    let _later = Player::hello_on(
        connect_url(&a.url("/ws").replacen("http", "ws", 1)).await,
        "Later",
        Some("later"),
        None,
    )
    .await;
    wait_until("B lists A's later room", MARGIN, || async {
        let rooms = get(&http, &b.url("/api/rooms")).await;
        rooms
            .as_array()
            .expect("array")
            .iter()
            .any(|r| r["id"] == "later")
    })
    .await;
    for node in [&a, &b] {
        let rooms = get(&http, &node.url("/api/rooms")).await;
        let listed = rooms.as_array().expect("array");
        assert!(
            listed.iter().all(|r| r["id"] != room.room.as_str()),
            "listed on {}: {rooms}",
            node.url("")
        );
        let (status, body) = matchmake(&http, node, &json!({ "room": room.room })).await;
        assert_ne!(status, 200, "matchmaking seated someone: {body}");
    }
    // B cannot follow it either: it is nowhere in the directory.
    let events = b.url(&format!("/api/rooms/{}/events?invite={code}", room.room));
    let (status, body) = watch(&http, events).await;
    assert_eq!(code_of(status, &body), ApiErrorCode::NoRoom);
}
