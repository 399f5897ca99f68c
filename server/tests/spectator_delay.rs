//! The spectator delay through real clients: with `--spectator-delay-secs
//! 1`, an SSE watcher, a long-poll watcher and the minimap samples see the
//! room a second (30 ticks) late, with the same ids and resume rules, while
//! the players' own snapshots are live; a private room created with its
//! own `spectator_delay_secs` is watched that late on a server without one.

mod common;

use std::time::{Duration, Instant};

use common::{Player, SseClient, SseEvent, TestServer, get_json, test_config};
use serde_json::Value;
use skirmish_shared::feed::RoomEvent;

/// The delay under test, and the same in ticks at 30 Hz.
const DELAY_SECS: u32 = 1;
const DELAY_TICKS: u64 = 30;

/// The room's live tick, as the room list says it (set before the room
/// publishes anything of that tick).
async fn live_tick(server: &TestServer) -> u64 {
    let rooms = get_json(server, "/api/rooms").await;
    rooms
        .as_array()
        .and_then(|rooms| rooms.iter().find(|r| r["id"] == "main"))
        .and_then(|room| room["tick"].as_u64())
        .expect("the main room is listed")
}

/// Reads the feed until the `join` of `name`, checking on the way that
/// every state sample is at least the delay old when it arrives.
async fn join_of(
    server: &TestServer,
    feed: &mut SseClient,
    name: &str,
) -> (SseEvent, u64, Instant) {
    loop {
        let event = feed.next().await;
        match event.event.as_str() {
            "state" => {
                let RoomEvent::State(sample) = event.room() else {
                    unreachable!("a state frame")
                };
                let live = live_tick(server).await;
                assert!(
                    u64::from(sample.tick) + DELAY_TICKS <= live.max(DELAY_TICKS),
                    "a sample of tick {} arrived at live tick {live}",
                    sample.tick
                );
            }
            "join" if event.json()["name"] == name => {
                let live = live_tick(server).await;
                return (event, live, Instant::now());
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn watchers_see_the_room_late_with_the_same_ids_and_players_see_it_live() {
    let mut config = test_config();
    config.spectator_delay_secs = DELAY_SECS;
    let server = TestServer::start(config).await;
    let http = reqwest::Client::new();
    let url = server.http_url("/api/rooms/main/events");
    let mut watcher = SseClient::open(&http, &url, None).await;
    assert_eq!(watcher.status, 200);

    // A player joins: its own snapshots show its join at once.
    let mut ada = Player::join(&server, "Ada", Some("main")).await;
    let welcomed = Instant::now();
    let first = ada.snapshot().await;
    let joined_at = first
        .events
        .iter()
        .find(
            |e| matches!(e.kind, skirmish_shared::EventKind::Joined { ship } if ship == ada.ship()),
        )
        .map(|e| u64::from(e.tick.0))
        .expect("the player's first snapshot carries its own join");
    let seen_live = welcomed.elapsed();

    // The watcher gets the same join, the delay later in room ticks.
    let (join, live, arrived) = join_of(&server, &mut watcher, "Ada").await;
    assert_eq!(join.json()["tick"].as_u64(), Some(joined_at));
    assert!(
        live >= joined_at + DELAY_TICKS,
        "the join of tick {joined_at} reached a watcher at live tick {live}"
    );
    let waited = arrived - welcomed;
    assert!(
        waited >= Duration::from_millis(900) && seen_live < waited,
        "the player saw its join after {seen_live:?}, the watcher after {waited:?}"
    );

    // A second join; then resume after the first, over SSE and long
    // polling: exactly the entries after it, with the same ids.
    let _bob = Player::join(&server, "Bob", Some("main")).await;
    let (bob_join, live, _) = join_of(&server, &mut watcher, "Bob").await;
    let bob_tick = bob_join.json()["tick"].as_u64().expect("tick");
    assert!(live >= bob_tick + DELAY_TICKS);
    let (ada_id, bob_id) = (join.id.expect("logged"), bob_join.id.expect("logged"));
    assert!(ada_id < bob_id);

    let mut resumed = SseClient::open(&http, &url, Some(ada_id)).await;
    let mut after = Vec::new();
    while after.last().is_none_or(|e: &SseEvent| e.id != Some(bob_id)) {
        after.push(resumed.next_logged().await);
    }
    assert_eq!(
        after.first().and_then(|e| e.id),
        Some(ada_id + 1),
        "resumes right after the id it was given"
    );
    assert_eq!(after.last(), Some(&bob_join), "the same entry, the same id");

    let page = get_json(
        &server,
        &format!("/api/rooms/main/poll?after={ada_id}&timeout=0"),
    )
    .await;
    let polled: Vec<(u64, String)> = page["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e: &Value| {
            (
                e["id"].as_u64().expect("id"),
                e["event"].as_str().expect("event").to_owned(),
            )
        })
        .collect();
    let streamed: Vec<(u64, String)> = after
        .iter()
        .map(|e| (e.id.expect("logged"), e.event.clone()))
        .collect();
    assert_eq!(
        polled[..streamed.len()],
        streamed[..],
        "long polling reads the same delayed log"
    );

    // A fresh watcher starts from a snapshot that is itself a delay old.
    let mut late = SseClient::open(&http, &url, None).await;
    let snapshot = loop {
        let event = late.next_logged().await;
        if let RoomEvent::Snapshot(snapshot) = event.room() {
            break snapshot;
        }
    };
    let live = live_tick(&server).await;
    assert!(
        u64::from(snapshot.tick) + DELAY_TICKS <= live,
        "snapshot of tick {} at live tick {live}",
        snapshot.tick
    );
    server.stop().await;
}

/// `POST /api/rooms` with `body`: status and answer.
async fn create(server: &TestServer, body: &Value) -> (u16, Value) {
    let (status, _, answer) = common::sent(
        reqwest::Client::new()
            .post(server.http_url("/api/rooms"))
            .json(body),
    )
    .await;
    (status, answer)
}

#[tokio::test]
async fn a_private_room_created_with_its_own_delay_is_watched_that_late() {
    let server = TestServer::start(test_config()).await;

    let (status, plain) = create(&server, &serde_json::json!({ "private": true })).await;
    assert_eq!(status, 201, "{plain}");
    assert_eq!(plain["spectator_delay_secs"], 0, "the server's delay");
    let (status, refused) = create(
        &server,
        &serde_json::json!({ "private": true, "spectator_delay_secs": 61 }),
    )
    .await;
    assert_eq!(
        (status, &refused["code"]),
        (422, &Value::from("bad_body")),
        "{refused}"
    );

    let (status, room) = create(
        &server,
        &serde_json::json!({ "private": true, "spectator_delay_secs": DELAY_SECS }),
    )
    .await;
    assert_eq!(status, 201, "{room}");
    assert_eq!(room["spectator_delay_secs"], DELAY_SECS);
    let (id, invite) = (
        room["room"].as_str().expect("id"),
        room["invite"].as_str().expect("invite"),
    );
    let http = reqwest::Client::new();
    let events = server.http_url(&format!("/api/rooms/{id}/events?invite={invite}"));
    let mut feed = SseClient::open(&http, &events, None).await;
    assert_eq!(feed.status, 200);
    feed.next_logged().await; // the snapshot

    let url = format!("{}?room={id}&invite={invite}", server.ws_url());
    let mut player = Player::hello_on(common::connect_url(&url).await, "Late", None, None).await;
    let joined = Instant::now();
    player.snapshot().await;
    loop {
        let event = feed.next().await;
        if event.event == "join" && event.json()["name"] == "Late" {
            break;
        }
    }
    // Released DELAY_TICKS ticks after the tick that logged it: never
    // sooner than the delay (a loaded machine only makes ticks later).
    let late = joined.elapsed();
    assert!(
        late >= Duration::from_millis(900),
        "the join reached the watcher {late:?} after it happened"
    );
}
