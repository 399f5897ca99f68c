//! Spectator and ticker feeds over real HTTP: order, resume, reset,
//! heartbeats, errors, limits, and a thousand concurrent spectators.

mod common;

use std::collections::BTreeSet;

use common::{Player, SseClient, SseEvent, TestServer, test_config};
use skirmish_server::Config;

/// A busy arena: many bots, instant respawns, so kills and scores flow.
fn busy_config() -> Config {
    let mut config = test_config();
    config.bots = 12;
    config
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// Reads frames until one with an id passes `at_least`, returning the
/// logged events seen (snapshot and reset frames included).
async fn read_until(feed: &mut SseClient, at_least: u64) -> Vec<SseEvent> {
    let mut seen = Vec::new();
    loop {
        let event = feed.next_logged().await;
        let id = event.id.expect("logged");
        seen.push(event);
        if id >= at_least {
            return seen;
        }
    }
}

#[tokio::test]
async fn room_feed_starts_with_a_snapshot_and_resumes_exactly() {
    let server = TestServer::start(busy_config()).await;
    let http = client();
    let url = server.http_url("/api/rooms/main/events");
    let mut watcher = SseClient::open(&http, &url, None).await;
    assert_eq!(watcher.status, 200);
    assert_eq!(watcher.headers["content-type"], "text/event-stream");
    assert_eq!(watcher.headers["cache-control"], "no-cache");
    assert_eq!(watcher.headers["x-accel-buffering"], "no");
    assert_eq!(watcher.next().await.event, "retry");
    let snapshot = watcher.next().await;
    assert_eq!(snapshot.event, "snapshot");
    let body = snapshot.json();
    assert_eq!(body["room"], "main");
    assert_eq!(body["tick_hz"], 30);
    let start = snapshot.id.expect("snapshot has an id");

    // Logged events come in order with consecutive ids. A spectator that
    // arrives before the first tick sees the bots' joins first, so read on
    // until the fighting has produced a kill.
    let mut first = read_until(&mut watcher, start + 12).await;
    while !first.iter().any(|e| e.event == "kill") {
        first.push(watcher.next_logged().await);
    }
    let ids: Vec<u64> = first.iter().filter_map(|e| e.id).collect();
    assert_eq!(
        ids,
        (start + 1..=start + ids.len() as u64).collect::<Vec<_>>()
    );
    let names: BTreeSet<&str> = first.iter().map(|e| e.event.as_str()).collect();
    assert!(
        names
            .iter()
            .all(|n| ["join", "leave", "kill", "score", "round"].contains(n)),
        "{names:?}"
    );
    assert!(names.contains("kill"), "bots fight: {names:?}");
    let kill = first
        .iter()
        .find(|e| e.event == "kill")
        .expect("a kill")
        .json();
    for field in [
        "room",
        "killer",
        "killer_name",
        "victim",
        "victim_name",
        "weapon",
        "tick",
        "time",
    ] {
        assert!(kill.get(field).is_some(), "kill lacks {field}: {kill}");
    }

    // Drop the connection at `cut`, let the watcher run ahead, then resume
    // with the header and with the query parameter: both get exactly what
    // was missed, in order.
    let cut = start + 4;
    let end = first.last().and_then(|e| e.id).expect("ids") + 8;
    let expected: Vec<SseEvent> = first
        .iter()
        .chain(read_until(&mut watcher, end).await.iter())
        .filter(|e| e.id.is_some_and(|id| id > cut))
        .cloned()
        .collect();
    let mut resumed = SseClient::open(&http, &url, Some(cut)).await;
    assert_eq!(resumed.next().await.event, "retry");
    let got = read_until(&mut resumed, end).await;
    assert_eq!(got, expected, "header resume");
    let query_url = format!("{url}?lastEventId={cut}");
    let mut by_query = SseClient::open(&http, &query_url, None).await;
    assert_eq!(
        read_until(&mut by_query, end).await,
        expected,
        "query resume"
    );
    server.stop().await;
}

#[tokio::test]
async fn evicted_or_foreign_ids_get_a_reset_with_a_fresh_snapshot() {
    let mut config = busy_config();
    config.event_log_capacity = 16;
    let server = TestServer::start(config).await;
    let http = client();
    let url = server.http_url("/api/rooms/main/events");
    let mut watcher = SseClient::open(&http, &url, None).await;
    let start = watcher.next_logged().await.id.expect("snapshot id");
    read_until(&mut watcher, start + 20).await;

    for stale in [start, 1] {
        let mut late = SseClient::open(&http, &url, Some(stale)).await;
        let reset = late.next_logged().await;
        assert_eq!(reset.event, "reset", "resuming from {stale}");
        let body = reset.json();
        assert_eq!(body["room"], "main");
        assert!(body["players"].as_array().expect("players").len() >= 12);
        // After the reset the stream continues right after the reset's id.
        let next = late.next_logged().await;
        assert_eq!(next.id, reset.id.map(|id| id + 1));
    }
    server.stop().await;
}

#[tokio::test]
async fn idle_feeds_carry_heartbeats_and_errors_are_json() {
    let mut config = test_config();
    config.sse_heartbeat_secs = 1;
    config.max_spectators_per_room = 2;
    let server = TestServer::start(config).await;
    let http = client();
    // The ticker has no state samples: with no games scoring, only
    // heartbeats flow.
    let mut ticker = SseClient::open(&http, &server.http_url("/api/ticker"), None).await;
    assert_eq!(ticker.next().await.event, "retry");
    assert_eq!(ticker.next().await.event, "snapshot");
    loop {
        if ticker.next().await.event == ":" {
            break;
        }
    }

    let missing = http
        .get(server.http_url("/api/rooms/nowhere/events"))
        .send()
        .await
        .expect("sent");
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.expect("json");
    assert!(body["error"].as_str().expect("message").contains("nowhere"));

    let bad = http
        .get(server.http_url("/api/rooms/main/events?lastEventId=-3"))
        .send()
        .await
        .expect("sent");
    assert_eq!(bad.status(), 400);
    assert!(bad.json::<serde_json::Value>().await.expect("json")["error"].is_string());

    let url = server.http_url("/api/rooms/main/events");
    let _a = SseClient::open(&http, &url, None).await;
    let _b = SseClient::open(&http, &url, None).await;
    let third = http.get(&url).send().await.expect("sent");
    assert_eq!(third.status(), 503);
    assert_eq!(
        third.headers()["retry-after"],
        "5",
        "refusals say when to retry"
    );
    assert_eq!(
        third.json::<serde_json::Value>().await.expect("json")["error"],
        "room \"main\" has 2 spectator streams open, the most allowed"
    );
    let rooms = common::get_json(&server, "/api/rooms").await;
    assert_eq!(rooms[0]["spectators"], 2);
    server.stop().await;
}

#[tokio::test]
async fn the_ticker_carries_scores_from_every_room() {
    let mut config = busy_config();
    config.ticker_board_secs = 1;
    let server = TestServer::start(config).await;
    // Rooms open when a player asks for them; their bots do the scoring.
    let _alpha = Player::join(&server, "A", Some("alpha")).await;
    let _beta = Player::join(&server, "B", Some("beta")).await;
    let http = client();
    let mut ticker = SseClient::open(&http, &server.http_url("/api/ticker"), None).await;
    let mut rooms = BTreeSet::new();
    let mut boards = 0;
    let mut last = None;
    while rooms.len() < 3 || boards == 0 {
        let event = ticker.next_logged().await;
        if let (Some(prev), Some(id)) = (last, event.id) {
            assert_eq!(id, prev + 1, "ticker ids are consecutive");
        }
        last = event.id;
        match event.event.as_str() {
            "score" => {
                let data = event.json();
                assert!(data["delta"].as_u64().expect("delta") >= 1);
                assert!(data["score"].as_u64().is_some() && data["name"].is_string());
                rooms.insert(data["room"].as_str().expect("room").to_owned());
            }
            "board" => {
                boards += 1;
                let top = event.json()["top"].as_array().expect("top").clone();
                assert!(top.len() <= 10);
                let scores: Vec<u64> = top
                    .iter()
                    .map(|l| l["score"].as_u64().expect("score"))
                    .collect();
                assert!(
                    scores.windows(2).all(|w| w[0] >= w[1]),
                    "board sorted: {scores:?}"
                );
            }
            "snapshot" => {}
            other => panic!("unexpected ticker event {other}"),
        }
    }
    assert_eq!(
        rooms,
        BTreeSet::from(["alpha".into(), "beta".into(), "main".into()])
    );
    server.stop().await;
}

#[tokio::test]
async fn a_thousand_spectators_see_the_same_sequence() {
    const SPECTATORS: usize = 1000;
    const EVENTS: u64 = 10;
    let server = TestServer::start(busy_config()).await;
    let url = server.http_url("/api/rooms/main/events");
    let http = client();
    let (target_tx, target_rx) = tokio::sync::watch::channel(None::<u64>);
    let mut starts = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..SPECTATORS {
        let (http, url, mut target) = (http.clone(), url.clone(), target_rx.clone());
        let (start_tx, start_rx) = tokio::sync::oneshot::channel();
        starts.push(start_rx);
        tasks.spawn(async move {
            let mut feed = SseClient::open(&http, &url, None).await;
            let start = feed.next_logged().await.id.expect("snapshot id");
            start_tx.send(start).expect("test alive");
            let end = *target.wait_for(Option::is_some).await.expect("target set");
            let end = end.expect("some");
            read_until(&mut feed, end).await
        });
    }
    let mut latest_start = 0;
    for start in starts {
        latest_start = latest_start.max(start.await.expect("spectator connected"));
    }
    let end = latest_start + EVENTS;
    target_tx.send_replace(Some(end));
    let mut reference: Option<Vec<(u64, String, String)>> = None;
    while let Some(result) = tasks.join_next().await {
        let seen: Vec<(u64, String, String)> = result
            .expect("spectator task")
            .into_iter()
            .filter_map(|e| e.id.map(|id| (id, e.event, e.data)))
            .filter(|(id, ..)| *id > latest_start && *id <= end)
            .collect();
        assert_eq!(seen.len() as u64, EVENTS);
        match &reference {
            None => reference = Some(seen),
            Some(r) => assert_eq!(&seen, r, "every spectator sees the same events"),
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn spectators_of_a_closing_room_get_closed() {
    let mut config = test_config();
    config.empty_room_secs = 1;
    let server = TestServer::start(config).await;
    let mut player = Player::join(&server, "Brief", Some("brief")).await;
    let http = client();
    let mut feed = SseClient::open(&http, &server.http_url("/api/rooms/brief/events"), None).await;
    assert_eq!(feed.status, 200);
    player.send(&skirmish_shared::ClientMsg::Leave).await;
    // State samples flow at 10 Hz until the room closes after its 1 s grace.
    let mut closed = false;
    for _ in 0..200 {
        let event = feed.next().await;
        if event.event == "closed" {
            assert_eq!(event.json()["reason"], "room closed");
            closed = true;
            break;
        }
    }
    assert!(closed, "spectators are told the room closed");
    server.stop().await;
}
