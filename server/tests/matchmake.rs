//! `POST /api/matchmake` on a single node: the same answer as in a
//! cluster, seats reserved in memory, tickets spent on the WebSocket.

mod common;

use std::time::Duration;

use common::{
    Player, TestServer, connect_url, expect_close, hex, recv, refused_hello, send, test_config,
};
use serde_json::{Value, json};
use skirmish_shared::http::ApiErrorCode;
use skirmish_shared::{ClientMsg, Hello, PROTOCOL_VERSION, ServerMsg};
use tokio_tungstenite::tungstenite::Error;

async fn matchmake(server: &TestServer, body: Option<Value>) -> (u16, Value) {
    let http = reqwest::Client::new();
    let mut request = http.post(server.http_url("/api/matchmake"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

#[tokio::test]
async fn matchmaking_fills_the_fullest_room_and_seats_the_ticket_holder() {
    let mut config = test_config();
    config.max_players = 2;
    let server = TestServer::start(config).await;
    let (status, first) = matchmake(&server, None).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["room"], "main");
    assert_eq!(first["node_url"], server.http_url(""));
    let seat = first["seat"].as_str().expect("seat");
    assert_eq!(seat.len(), 32);
    assert_eq!(
        first["ws_url"],
        format!("ws://{}/ws?room=main&seat={seat}", server.addr)
    );
    assert_eq!(first["seat_ttl_ms"], 15_000);
    let nodes: Value = common::get_json(&server, "/api/nodes").await;
    assert_eq!(first["node"], nodes[0]["id"]);

    // The reserved seat counts: the second fills main, the third opens a
    // new public room.
    let (_, second) = matchmake(&server, Some(json!({}))).await;
    assert_eq!(second["room"], "main");
    let (_, third) = matchmake(&server, None).await;
    assert_eq!(third["room"], "arena-2");
    for answer in [&first, &second, &third] {
        let url = answer["ws_url"].as_str().expect("url");
        let player = Player::hello_on(connect_url(url).await, "Matched", None, None).await;
        assert_eq!(player.welcome.room, answer["room"].as_str().expect("room"));
    }
    let (why, code) = refused_hello(first["ws_url"].as_str().expect("url")).await;
    assert_eq!(code, 1013, "a ticket seats once: {why}");
    server.stop().await;
}

#[tokio::test]
async fn an_expired_seat_is_refused_and_frees_its_place() {
    let mut config = test_config();
    config.max_players = 1;
    config.seat_ttl_ms = 200;
    let server = TestServer::start(config).await;
    let (_, answer) = matchmake(&server, Some(json!({ "room": "main" }))).await;
    let (status, full) = matchmake(&server, Some(json!({ "room": "main" }))).await;
    assert_eq!(status, 503, "{full}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (why, code) = refused_hello(answer["ws_url"].as_str().expect("url")).await;
    assert_eq!(code, 1013, "{why}");
    assert!(why.contains("expired"), "{why}");
    let (status, again) = matchmake(&server, Some(json!({ "room": "main" }))).await;
    assert_eq!(status, 200, "the expired seat is free again: {again}");
    server.stop().await;
}

#[tokio::test]
async fn a_resume_token_is_routed_back_to_its_room() {
    let server = TestServer::start(test_config()).await;
    // Matchmaking seats players in rooms that exist; a player opens one
    // by naming it in Hello.
    let host = Player::join(&server, "Host", Some("den")).await;
    let (_, answer) = matchmake(&server, Some(json!({ "room": "den" }))).await;
    let guest = Player::hello_on(
        connect_url(answer["ws_url"].as_str().expect("url")).await,
        "Guest",
        None,
        None,
    )
    .await;
    let token = guest.welcome.resume;
    drop(guest);
    let (status, back) = matchmake(&server, Some(json!({ "resume": hex(&token.0) }))).await;
    assert_eq!(status, 200, "{back}");
    assert_eq!(back["room"], "den");
    assert_eq!(back["seat"], Value::Null);
    assert_eq!(back["ws_url"], format!("ws://{}/ws?room=den", server.addr));
    let socket = connect_url(back["ws_url"].as_str().expect("url")).await;
    let resumed = Player::hello_on(socket, "Guest", None, Some(token)).await;
    assert!(resumed.welcome.resumed);
    drop(host);
    server.stop().await;
}

#[tokio::test]
async fn malformed_requests_are_refused_with_reasons() {
    let server = TestServer::start(test_config()).await;
    for (body, code, says) in [
        (json!({ "room": "a b" }), ApiErrorCode::BadRoom, "room id"),
        (json!({ "resume": "xyz" }), ApiErrorCode::BadToken, "32 hex"),
        (
            json!({ "room": "main", "resume": "00" }),
            ApiErrorCode::BadRequest,
            "not both",
        ),
        (
            json!({ "room": "nowhere" }),
            ApiErrorCode::NoRoom,
            "no room",
        ),
        (
            json!({ "resume": "00".repeat(16) }),
            ApiErrorCode::UnknownSession,
            "no session",
        ),
        (json!({ "room": 5 }), ApiErrorCode::BadBody, ""),
    ] {
        let (got, answer) = matchmake(&server, Some(body.clone())).await;
        assert_eq!(common::refusal(got, &answer), code, "{body} -> {answer}");
        assert!(
            answer["error"].as_str().expect("error").contains(says),
            "{body} -> {answer}"
        );
    }
    let seat = "ab".repeat(16);
    for (query, code, says) in [
        ("?seat=abc&room=main", ApiErrorCode::BadToken, "32 hex"),
        (
            &*format!("?seat={seat}"),
            ApiErrorCode::BadParam,
            "needs its room",
        ),
        ("?room=a%20b", ApiErrorCode::BadRoom, "room id"),
    ] {
        let url = format!("ws://{}/ws{query}", server.addr);
        let Err(Error::Http(response)) = tokio_tungstenite::connect_async(&url).await else {
            panic!("{query}: the upgrade is refused");
        };
        let body =
            String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).to_string();
        let json: Value = serde_json::from_str(&body).expect("a JSON body");
        let status = response.status().as_u16();
        assert_eq!(common::refusal(status, &json), code, "{query}: {body}");
        assert!(body.contains(says), "{query}: {body}");
    }
    // A Hello naming another room than the URL's.
    let mut socket = connect_url(&format!("ws://{}/ws?room=main", server.addr)).await;
    send(
        &mut socket,
        &ClientMsg::Hello(Hello {
            token: None,
            protocol: PROTOCOL_VERSION,
            player: None,
            name: "Lost".into(),
            room: Some("other".into()),
            resume: None,
        }),
    )
    .await;
    assert!(matches!(recv(&mut socket).await, ServerMsg::Error(_)));
    assert_eq!(expect_close(&mut socket).await.0, 1002);
    server.stop().await;
}

#[tokio::test]
async fn one_address_may_only_matchmake_so_often() {
    let mut config = test_config();
    config.matchmakes_per_sec = 1;
    let server = TestServer::start(config).await;
    for _ in 0..2 {
        assert_eq!(
            matchmake(&server, None).await.0,
            200,
            "two seconds of burst"
        );
    }
    let response = reqwest::Client::new()
        .post(server.http_url("/api/matchmake"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.headers()["retry-after"], "1");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        common::refusal(status, &body),
        ApiErrorCode::MatchmakeRateLimited
    );
    assert!(
        body["error"]
            .as_str()
            .expect("error")
            .contains("per second"),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test]
async fn matchmaking_opens_no_room_past_the_cap() {
    let mut config = test_config();
    config.max_players = 1;
    config.max_rooms = 1;
    let server = TestServer::start(config).await;
    assert_eq!(matchmake(&server, None).await.0, 200, "the seat in main");
    let (status, full) = matchmake(&server, None).await;
    assert_eq!(common::refusal(status, &full), ApiErrorCode::ServerFull);
    assert!(
        full["error"]
            .as_str()
            .expect("error")
            .contains("limit of 1 rooms"),
        "{full}"
    );
    let rooms = common::get_json(&server, "/api/rooms").await;
    assert_eq!(rooms.as_array().expect("array").len(), 1, "{rooms}");
    server.stop().await;
}

/// A lone node told no `--public-url` answers with the URL the client used
/// (a proxy's or a port forward's), so the browser's next connection goes
/// the same way; told one, it answers that.
#[tokio::test]
async fn a_lone_node_answers_the_url_the_client_reached_it_by() {
    let server = TestServer::start(test_config()).await;
    let via_proxy = |path: &str, body: Value| {
        let request = reqwest::Client::new()
            .post(server.http_url(path))
            .header("host", "proxy.test:8443")
            .json(&body);
        async move {
            let response = request.send().await.expect("sent");
            response.json::<Value>().await.expect("json")
        }
    };
    let answer = via_proxy("/api/matchmake", json!({})).await;
    assert_eq!(answer["node_url"], "http://proxy.test:8443", "{answer}");
    assert!(
        answer["ws_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("ws://proxy.test:8443/ws?room=main&seat=")),
        "{answer}"
    );
    let joined = via_proxy("/api/rooms/main/join", json!({"name": "Polly"})).await;
    assert_eq!(joined["node_url"], "http://proxy.test:8443", "{joined}");
    server.stop().await;

    let mut told = test_config();
    told.public_url = Some("https://play.example.com".into());
    let server = TestServer::start(told).await;
    let (status, answer) = matchmake(&server, None).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["node_url"], "https://play.example.com");
    server.stop().await;
}
