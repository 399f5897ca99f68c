//! Spectator and ticker feeds over real HTTP: order, resume, reset,
//! heartbeats, errors, limits, and a thousand concurrent spectators.

mod common;

use std::collections::BTreeSet;

use std::time::Duration;

use common::node_process::NodeProcess;
use common::{Player, SseClient, SseEvent, TestServer, refusal, test_config};
use serde_json::Value;
use skirmish_server::Config;
use skirmish_shared::feed::{FeedEvent, RoomEvent, TickerEvent};
use skirmish_shared::http::ApiErrorCode;

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
    let RoomEvent::Snapshot(body) = snapshot.room() else {
        panic!("a fresh stream starts with a snapshot: {snapshot:?}");
    };
    assert_eq!((body.room.as_str(), body.tick_hz), ("main", 30));
    let start = snapshot.id.expect("snapshot has an id");
    let sample = watcher.next().await;
    assert!(
        matches!(sample.room(), RoomEvent::State(_)),
        "then the state sample: {sample:?}"
    );

    // Logged events come in order with increasing ids. A spectator that
    // arrives before the first tick sees the bots' joins first, so read on
    // until the fighting has produced a kill.
    let mut first = read_until(&mut watcher, start + 12).await;
    while !first.iter().any(|e| e.event == "kill") {
        first.push(watcher.next_logged().await);
    }
    let ids: Vec<u64> = first.iter().filter_map(|e| e.id).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]) && ids[0] > start,
        "{start} then {ids:?}"
    );
    // Every frame is one of the shared types, and only logged kinds
    // carry ids.
    let events: Vec<RoomEvent> = first.iter().map(SseEvent::room).collect();
    let names: BTreeSet<&str> = events.iter().map(FeedEvent::name).collect();
    assert!(
        names
            .iter()
            .all(|n| ["join", "leave", "kill", "score", "round"].contains(n)),
        "{names:?}"
    );
    let kill = events.iter().find_map(|e| match e {
        RoomEvent::Kill(kill) => Some(kill),
        _ => None,
    });
    let kill = kill.expect("bots fight");
    assert_eq!(kill.room, "main");
    assert!(kill.killer_name.starts_with("Bot "), "{kill:?}");

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

    for stale in [start, 1, u64::MAX] {
        let mut late = SseClient::open(&http, &url, Some(stale)).await;
        let reset = late.next_logged().await;
        let RoomEvent::Reset(body) = reset.room() else {
            panic!("resuming from {stale}: {reset:?}");
        };
        assert_eq!(body.room, "main");
        assert!(body.players.len() >= 12);
        // After the reset the stream continues after the reset's id.
        let next = late.next_logged().await;
        assert!(next.id > reset.id, "{next:?} after {reset:?}");
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
    let status = missing.status().as_u16();
    let body: serde_json::Value = missing.json().await.expect("json");
    assert_eq!(refusal(status, &body), ApiErrorCode::NoRoom);
    assert!(body["error"].as_str().expect("message").contains("nowhere"));

    for query in ["lastEventId=-3", "lastEventId=1&lastEventId=2"] {
        let bad = http
            .get(server.http_url(&format!("/api/rooms/main/events?{query}")))
            .send()
            .await
            .expect("sent");
        let status = bad.status().as_u16();
        let body = bad.json::<serde_json::Value>().await.expect("json");
        assert_eq!(refusal(status, &body), ApiErrorCode::BadParam, "{query}");
    }

    let url = server.http_url("/api/rooms/main/events");
    let _a = SseClient::open(&http, &url, None).await;
    let _b = SseClient::open(&http, &url, None).await;
    let third = http.get(&url).send().await.expect("sent");
    assert_eq!(
        third.headers()["retry-after"],
        "5",
        "refusals say when to retry"
    );
    let status = third.status().as_u16();
    let body = third.json::<serde_json::Value>().await.expect("json");
    assert_eq!(refusal(status, &body), ApiErrorCode::RoomSpectatorLimit);
    assert_eq!(
        body["error"],
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
            assert!(id > prev, "ticker ids increase: {id} after {prev}");
        }
        last = event.id;
        match event.ticker() {
            TickerEvent::Score(score) => {
                assert!(score.delta >= 1 && !score.name.is_empty(), "{score:?}");
                rooms.insert(score.room);
            }
            TickerEvent::Board(board) => {
                boards += 1;
                assert!(board.top.len() <= 10);
                let scores: Vec<u16> = board.top.iter().map(|l| l.score).collect();
                assert!(
                    scores.windows(2).all(|w| w[0] >= w[1]),
                    "board sorted: {scores:?}"
                );
            }
            TickerEvent::Snapshot(_) => {}
            other => panic!("unexpected ticker event {other:?}"),
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
        if ["retry", ":"].contains(&event.event.as_str()) {
            continue;
        }
        if let RoomEvent::Closed(end) = event.room() {
            assert_eq!(end.reason, "room closed");
            closed = true;
            break;
        }
    }
    assert!(closed, "spectators are told the room closed");
    server.stop().await;
}

/// One event log as both transports read it.
struct Log {
    name: String,
    sse: String,
    poll: String,
}

fn room_log(server: &TestServer, room: &str) -> Log {
    Log {
        name: format!("room {room}"),
        sse: server.http_url(&format!("/api/rooms/{room}/events")),
        poll: server.http_url(&format!("/api/rooms/{room}/poll")),
    }
}

fn ticker_log(server: &TestServer) -> Log {
    Log {
        name: "the ticker".into(),
        sse: server.http_url("/api/ticker"),
        poll: server.http_url("/api/ticker/poll"),
    }
}

async fn get_json(http: &reqwest::Client, url: &str) -> Value {
    let response = http.get(url).send().await.expect("sent");
    assert_eq!(response.status(), 200, "{url}");
    response.json().await.expect("JSON body")
}

/// The id a fresh long poll's snapshot of `log` is true as of, once the
/// snapshot satisfies `settled` (so nothing more is about to be logged).
async fn settled_head(http: &reqwest::Client, log: &Log, settled: impl Fn(&Value) -> bool) -> u64 {
    for _ in 0..500 {
        let page = get_json(http, &log.poll).await;
        if settled(&page["snapshot"]) {
            return page["next"].as_u64().expect("next");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} never settled", log.name);
}

/// A reader resuming from `cursor` gets a `reset`, over SSE and over a
/// long poll. A cursor wrongly taken for a position in a quiet log would
/// get nothing instead: SSE would stay silent and the poll would time out.
async fn assert_reset(http: &reqwest::Client, log: &Log, cursor: u64, what: &str) {
    let mut feed = SseClient::open(http, &log.sse, Some(cursor)).await;
    assert_eq!(feed.status, 200);
    let first = tokio::time::timeout(Duration::from_secs(3), feed.next_logged())
        .await
        .unwrap_or_else(|_| panic!("{what}: SSE on {} from {cursor}: no reset", log.name));
    assert_eq!(
        first.event, "reset",
        "{what}: SSE on {} from {cursor}",
        log.name
    );
    let page = get_json(http, &format!("{}?after={cursor}&timeout=1", log.poll)).await;
    assert!(
        page["reset"].is_object(),
        "{what}: poll on {} after={cursor}: {page}",
        log.name
    );
}

/// Opens `rooms` with one long-poll join each, all requests written at
/// once on connections opened beforehand. The players stay seated for a
/// minute (the default legacy idle time is longer than any test).
async fn open_rooms_at_once(server: &TestServer, rooms: &[String]) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sockets = Vec::new();
    for _ in rooms {
        sockets.push(
            tokio::net::TcpStream::connect(server.addr)
                .await
                .expect("connect"),
        );
    }
    let requests: Vec<String> = rooms
        .iter()
        .map(|room| {
            let body = r#"{"name":"P"}"#;
            format!(
                "POST /api/rooms/{room}/join HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                server.addr,
                body.len()
            )
        })
        .collect();
    for (socket, request) in sockets.iter_mut().zip(&requests) {
        socket.write_all(request.as_bytes()).await.expect("write");
    }
    for mut socket in sockets {
        let mut answer = String::new();
        tokio::time::timeout(common::WAIT, socket.read_to_string(&mut answer))
            .await
            .expect("answer in time")
            .expect("read");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
}

/// Quiet logs: no bots, no scores, no board until long after a test.
fn quiet_config() -> Config {
    let mut config = test_config();
    config.ticker_board_secs = 3600;
    config.idle_timeout_secs = 60;
    config
}

/// The heads of `logs` once settled: the round has started and each room
/// has its one player (none in main); the ticker logs nothing.
async fn settled_heads(http: &reqwest::Client, logs: &[Log]) -> Vec<u64> {
    let mut heads = Vec::new();
    for log in logs {
        heads.push(
            settled_head(http, log, |s| {
                let players = usize::from(s["room"] != "main");
                s.get("top").is_some()
                    || (s["round"]["number"] == 1
                        && s["players"].as_array().map(Vec::len) == Some(players))
            })
            .await,
        );
    }
    heads
}

/// Each log's head, given to each other log, gets a reset.
async fn assert_apart(http: &reqwest::Client, logs: &[Log], heads: &[u64]) {
    for (from, cursor) in logs.iter().zip(heads) {
        for to in logs.iter().filter(|l| l.name != from.name) {
            assert_reset(http, to, *cursor, &format!("the head of {}", from.name)).await;
        }
    }
}

#[tokio::test]
async fn cursors_from_another_log_the_future_or_an_earlier_process_get_a_reset() {
    let http = client();
    // The default room and the ticker open microseconds apart at start, in
    // the same millisecond more often than not: on a few fresh servers,
    // each one's cursor goes to the other.
    for _ in 0..3 {
        let fresh = TestServer::start(quiet_config()).await;
        let logs = [room_log(&fresh, "main"), ticker_log(&fresh)];
        let heads = settled_heads(&http, &logs).await;
        assert_apart(&http, &logs, &heads).await;
        fresh.stop().await;
    }

    // Eight rooms opened in one burst: long-poll joins on connections
    // opened beforehand, written back to back, so that rooms open as close
    // together as the machine allows.
    let server = TestServer::start(quiet_config()).await;
    let rooms: Vec<String> = (0..8).map(|i| format!("burst{i}")).collect();
    open_rooms_at_once(&server, &rooms).await;
    let mut logs = vec![room_log(&server, "main"), ticker_log(&server)];
    logs.extend(rooms.iter().map(|room| room_log(&server, room)));
    let heads = settled_heads(&http, &logs).await;
    assert_apart(&http, &logs, &heads).await;

    // Ids no log has given out yet: the very next one, and far ahead.
    for (log, head) in logs.iter().zip(&heads) {
        for ahead in [1, 1_000_000_000] {
            assert_reset(&http, log, head + ahead, "a future id").await;
        }
    }
    // Ids of an earlier process: this test's server, to a server binary
    // started after it.
    let later = NodeProcess::start(&["--bots", "0"]).await;
    for log in [
        room_log(&later.server(), "main"),
        ticker_log(&later.server()),
    ] {
        for cursor in &heads {
            assert_reset(&http, &log, *cursor, "an id of an earlier process").await;
        }
    }
    server.stop().await;
}

/// Whether a ticker board (`{"top": [...]}`) shows `player` of `room` with
/// at least `score`.
fn board_has(board: &Value, room: &str, player: u64, score: u64) -> bool {
    board["top"]
        .as_array()
        .expect("top")
        .iter()
        .any(|l| l["room"] == room && l["player"] == player && l["score"].as_u64() >= Some(score))
}

/// Whether a ticker event is the score change `(room, player, tick)`.
fn is_change(kind: &str, data: &Value, change: &Value) -> bool {
    kind == "score"
        && ["room", "player", "tick"]
            .iter()
            .all(|field| data[field] == change[field])
}

/// Events a reader may read past its snapshot looking for a change.
const LOOK_AHEAD: usize = 64;

#[tokio::test]
async fn a_fresh_ticker_reader_sees_the_newest_score_in_its_snapshot_or_after_it() {
    let mut config = busy_config();
    // The board refreshes only at start: a snapshot that is only the board
    // would stay stale for the whole test.
    config.ticker_board_secs = 3600;
    // Every ship is on the board.
    config.ticker_top = 100;
    let server = TestServer::start(config).await;
    let http = client();
    let mut room = SseClient::open(&http, &server.http_url("/api/rooms/main/events"), None).await;
    for _ in 0..3 {
        // A score change in the room...
        let change = loop {
            let event = room.next_logged().await;
            if event.event == "score" {
                break event.json();
            }
        };
        let player = change["player"].as_u64().expect("player");
        let score = change["score"].as_u64().expect("score");
        let seen_in = |board: &Value| board_has(board, "main", player, score);

        // ...is in a fresh SSE reader's snapshot or among the events after
        // it, and the same for a reset reader...
        for resume in [None, Some(1)] {
            let mut ticker = SseClient::open(&http, &server.http_url("/api/ticker"), resume).await;
            let opening = ticker.next_logged().await;
            assert_eq!(
                opening.event,
                if resume.is_some() {
                    "reset"
                } else {
                    "snapshot"
                }
            );
            let mut found = seen_in(&opening.json());
            for _ in 0..LOOK_AHEAD {
                if found {
                    break;
                }
                let event = ticker.next_logged().await;
                found = is_change(&event.event, &event.json(), &change);
            }
            assert!(
                found,
                "SSE {resume:?}: {change} neither in {} nor after it",
                opening.data
            );
        }

        // ...and in a fresh long poll's.
        let first = get_json(&http, &server.http_url("/api/ticker/poll")).await;
        let mut found = seen_in(&first["snapshot"]);
        let mut next = first["next"].as_u64().expect("next");
        let mut read = 0;
        for _ in 0..LOOK_AHEAD {
            if found || read >= LOOK_AHEAD {
                break;
            }
            let page = get_json(
                &http,
                &server.http_url(&format!("/api/ticker/poll?after={next}&timeout=5")),
            )
            .await;
            next = page["next"].as_u64().expect("next");
            for event in page["events"].as_array().expect("events") {
                read += 1;
                found |= is_change(
                    event["event"].as_str().expect("kind"),
                    &event["data"],
                    &change,
                );
            }
        }
        assert!(found, "poll: {change} neither in {first} nor after it");
    }
    server.stop().await;
}
