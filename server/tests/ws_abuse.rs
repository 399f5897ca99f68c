//! Every kind of bad input on the player socket gets its close code and
//! reason, and leaves the room and the other players untouched.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{Player, Socket, TestServer, expect_close, raw_socket, send, test_config};
use futures_util::SinkExt;
use skirmish_shared::{
    ClientMsg, ErrorCode, Hello, Input, PROTOCOL_VERSION, Ping, ServerMsg, ShipId, encode,
};
use tokio_tungstenite::tungstenite::Message;

fn hello(name: &str, protocol: u16) -> ClientMsg {
    ClientMsg::Hello(Hello {
        token: None,
        protocol,
        player: None,
        name: name.into(),
        room: None,
        resume: None,
    })
}

async fn joined(server: &TestServer) -> Socket {
    let mut socket = raw_socket(server).await;
    send(&mut socket, &hello("Rogue", PROTOCOL_VERSION)).await;
    match common::recv(&mut socket).await {
        ServerMsg::Welcome(_) => socket,
        other => panic!("expected Welcome, got {other:?}"),
    }
}

async fn raw(socket: &mut Socket, message: Message) {
    socket.send(message).await.expect("send");
}

async fn expect_error(socket: &mut Socket, code: ErrorCode) {
    match common::recv(socket).await {
        ServerMsg::Error(e) => assert_eq!(e.code, code, "{}", e.message),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_frames_close_with_their_codes_and_spare_everyone_else() {
    let server = TestServer::start(test_config()).await;
    let mut bystander = Player::join(&server, "Bystander", None).await;
    bystander.snapshot().await;
    let tick_before = bystander.world().tick;

    // Text frame: 1003.
    let mut s = raw_socket(&server).await;
    raw(&mut s, Message::text("hello?")).await;
    let (code, reason) = expect_close(&mut s).await;
    assert_eq!(code, 1003, "{reason}");
    assert!(reason.contains("binary"), "{reason}");

    // Undecodable bytes before Hello: 1002.
    let mut s = raw_socket(&server).await;
    raw(&mut s, Message::binary(vec![0xFF, 0xFF, 0xFF])).await;
    let (code, reason) = expect_close(&mut s).await;
    assert_eq!(code, 1002);
    assert!(reason.contains("undecodable"), "{reason}");

    // A valid message with trailing bytes: 1002.
    let mut s = raw_socket(&server).await;
    let mut bytes = encode(&hello("Tail", PROTOCOL_VERSION)).expect("encode");
    bytes.push(0);
    raw(&mut s, Message::binary(bytes)).await;
    assert_eq!(expect_close(&mut s).await.0, 1002);

    // Wrong protocol version: an Error, then 1002.
    let mut s = raw_socket(&server).await;
    send(&mut s, &hello("Old", PROTOCOL_VERSION + 1)).await;
    expect_error(&mut s, ErrorCode::BadVersion).await;
    assert_eq!(expect_close(&mut s).await.0, 1002);

    // Input before Hello: 1002.
    let mut s = raw_socket(&server).await;
    let input = ClientMsg::Input(Input {
        seq: 1,
        ack: None,
        buttons: 0,
        aim: 0,
        view: None,
    });
    send(&mut s, &input).await;
    let (code, reason) = expect_close(&mut s).await;
    assert_eq!(code, 1002);
    assert!(reason.contains("Hello"), "{reason}");

    // Bad name: an Error, then 1008.
    let mut s = raw_socket(&server).await;
    send(&mut s, &hello("\u{1b}[31mred", PROTOCOL_VERSION)).await;
    expect_error(&mut s, ErrorCode::BadName).await;
    assert_eq!(expect_close(&mut s).await.0, 1008);

    // Hello twice: 1002.
    let mut s = joined(&server).await;
    send(&mut s, &hello("Again", PROTOCOL_VERSION)).await;
    assert_eq!(expect_close(&mut s).await.0, 1002);

    // Oversized frame (over our 2560-byte cap): 1009.
    let mut s = joined(&server).await;
    raw(&mut s, Message::binary(vec![1u8; 4096])).await;
    let (code, reason) = expect_close(&mut s).await;
    assert_eq!(code, 1009, "{reason}");

    // Far over the WebSocket layer's cap: still 1009.
    let mut s = joined(&server).await;
    raw(&mut s, Message::binary(vec![1u8; 200_000])).await;
    assert_eq!(expect_close(&mut s).await.0, 1009);

    // Input flood: 1008. Send a burst well past the two-second bucket,
    // then stop and read.
    let mut s = joined(&server).await;
    for seq in 1..=400 {
        let input = ClientMsg::Input(Input {
            seq,
            ack: None,
            buttons: 0,
            aim: 0,
            view: None,
        });
        if s.send(Message::binary(Bytes::from(
            encode(&input).expect("encode"),
        )))
        .await
        .is_err()
        {
            break;
        }
    }
    let (code, reason) = expect_close(&mut s).await;
    assert_eq!(code, 1008, "{reason}");
    assert!(reason.contains("flood"), "{reason}");

    // The bystander kept playing throughout: its room ticks on and its
    // socket still answers.
    bystander.ping(1).await;
    let mut ponged = false;
    while !ponged || bystander.world().tick < tick_before.after(10) {
        match bystander.recv().await {
            ServerMsg::Pong(p) => {
                assert_eq!(p.nonce, 1);
                ponged = true;
            }
            ServerMsg::Snapshot(s) => {
                bystander.view.apply(&s.body).expect("applies");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let rooms = common::get_json(&server, "/api/rooms").await;
    assert_eq!(
        rooms[0]["players"], 1,
        "every rogue seat was freed: {rooms}"
    );
    server.stop().await;
}

/// Whether the room's spectator snapshot (a long poll without cursor)
/// lists `ship`; also returns the id the snapshot is true as of.
async fn listed(server: &TestServer, poll: &str, ship: ShipId) -> (bool, u64) {
    let page = common::get_json(server, poll).await;
    let players = page["snapshot"]["players"].as_array().expect("players");
    (
        players.iter().any(|p| p["player"] == ship.0),
        page["next"].as_u64().expect("next"),
    )
}

/// Long-polls the room's log from `after` until `ship`'s `leave` event.
async fn wait_for_leave(server: &TestServer, poll: &str, mut after: u64, ship: ShipId) {
    loop {
        let page = common::get_json(server, &format!("{poll}?after={after}&timeout=5")).await;
        assert!(
            page.get("reset").is_none(),
            "a quiet room keeps its log: {page}"
        );
        let events = page["events"].as_array().expect("events");
        if events
            .iter()
            .any(|e| e["event"] == "leave" && e["data"]["player"] == ship.0)
        {
            return;
        }
        after = page["next"].as_u64().expect("next");
    }
}

#[tokio::test]
async fn silent_clients_time_out() {
    const GRACE: Duration = Duration::from_secs(2);
    let mut config = test_config();
    config.hello_timeout_secs = 1;
    config.idle_timeout_secs = 1;
    config.resume_grace_secs = GRACE.as_secs();
    let server = TestServer::start(config).await;
    let poll = "/api/rooms/grace/poll";

    let mut mute = raw_socket(&server).await;
    let (code, reason) = expect_close(&mut mute).await;
    assert_eq!(code, 4002, "{reason}");

    // A player that goes silent is closed, but its ship waits for a resume:
    // spectators still see it after the close.
    let mut idle = Player::join(&server, "Idle", Some("grace")).await;
    let ship = idle.ship();
    let token = idle.welcome.resume;
    let (code, reason) = expect_close(&mut idle.socket).await;
    assert_eq!(code, 4001, "{reason}");
    assert!(
        listed(&server, poll, ship).await.0,
        "the ship waits after 4001"
    );

    // Hello with the resume token takes the same ship back.
    let mut back = Player::hello(&server, "Idle", Some("grace"), Some(token)).await;
    assert!(back.welcome.resumed, "resumed");
    assert_eq!(back.ship(), ship, "the same ship");
    back.snapshot().await;
    assert!(back.world().ships.contains_key(&ship));

    // Silent again and never resumed: the ship leaves once the grace is
    // over, not before.
    let (code, reason) = expect_close(&mut back.socket).await;
    assert_eq!(code, 4001, "{reason}");
    let closed = tokio::time::Instant::now();
    let (still_there, after) = listed(&server, poll, ship).await;
    assert!(still_there, "the ship waits again");
    wait_for_leave(&server, poll, after, ship).await;
    let waited = closed.elapsed();
    assert!(
        waited >= GRACE - Duration::from_millis(300),
        "the ship left {waited:?} after the close; the grace is {GRACE:?}"
    );
    assert!(!listed(&server, poll, ship).await.0, "gone after the grace");

    // A client that keeps talking is never timed out.
    let mut chatty = Player::join(&server, "Chatty", None).await;
    let until = tokio::time::Instant::now() + Duration::from_millis(2500);
    let mut nonce = 0;
    while tokio::time::Instant::now() < until {
        nonce += 1;
        chatty.send(&ClientMsg::Ping(Ping { nonce })).await;
        loop {
            if let ServerMsg::Pong(p) = chatty.recv().await {
                assert_eq!(p.nonce, nonce);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.stop().await;
}
