//! The cluster-wide ticker with real parts only: Debian's `redis-server`
//! and real `skirmish-server` processes on 127.0.0.1:0, whose bots score.
//! Every node's `/api/ticker` must serve the same contiguous ids and
//! events, resume a cursor read elsewhere exactly, and `reset` a cursor
//! that is not in the ticker, including every cursor of a Redis that
//! restarted empty. Skipped, loudly, when redis-server is not installed.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::{Duration, Instant};

use common::cluster_nodes::{self, prefix, shared_redis};
use common::node_process::NodeProcess;
use common::redis_process::RedisProcess;
use common::{Player, SseClient, SseEvent};
use skirmish_server::cluster::redis::SCRIPTS;
use skirmish_server::metrics::names;
use skirmish_shared::feed::{Board, Polled, TickerEvent};
use skirmish_shared::http::TickerPage;

/// Slack for a loaded 2-core machine on top of any documented bound.
const MARGIN: Duration = Duration::from_secs(20);

/// A node scoring fast: a dozen bots in its default room.
const SCORING: &[&str] = &["--bots", "12"];
/// A node whose rooms never score.
const QUIET: &[&str] = &["--bots", "0"];

/// Starts node `id` of the cluster at `redis_url` under `test`'s prefix
/// (see [`cluster_nodes::node`]), with a board of 40 lines (every ship of
/// two rooms of 12 bots), refreshed every second; `extra` flags replace
/// these defaults. Waits until it holds its lease.
async fn node(redis_url: &str, test: &str, id: &str, extra: &[&str]) -> NodeProcess {
    let mut flags = Vec::new();
    for (flag, value) in [
        ("--follower-check-ms", "200"),
        ("--ticker-board-secs", "1"),
        ("--ticker-top", "40"),
    ] {
        if !extra.contains(&flag) {
            flags.extend([flag, value]);
        }
    }
    flags.extend_from_slice(extra);
    cluster_nodes::node(redis_url, &prefix(test), id, &flags).await
}

/// Polls `check` until it holds; fails the test past [`MARGIN`].
async fn wait_until<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    cluster_nodes::wait_until(what, MARGIN, check).await;
}

/// The ids of the rooms `node` owns, from its own room list.
async fn own_rooms(node: &NodeProcess) -> BTreeSet<String> {
    common::get_json(&node.server(), "/api/rooms")
        .await
        .as_array()
        .expect("a list")
        .iter()
        .filter(|r| r["node"] == node.id.as_str())
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect()
}

/// `/api/ticker/poll` on `node`, after `after` (or the first poll).
async fn poll(http: &reqwest::Client, node: &NodeProcess, after: Option<u64>) -> TickerPage {
    let query = after.map_or_else(String::new, |a| format!("&after={a}"));
    let response = http
        .get(node.url(&format!("/api/ticker/poll?timeout=2{query}")))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    response.json().await.expect("a ticker page")
}

/// One logged ticker frame: its id, name and data as sent.
type Logged = (u64, String, String);

fn logged(frame: SseEvent) -> Logged {
    (frame.id.expect("logged"), frame.event, frame.data)
}

/// Reads `reader` past its opening snapshot until `done` holds for what
/// it read, checking that every id is the one before plus one.
async fn read_contiguous(
    reader: &mut SseClient,
    mut done: impl FnMut(&[Logged]) -> bool,
) -> (u64, Vec<Logged>) {
    let snapshot = reader.next_logged().await;
    assert_eq!(snapshot.event, "snapshot", "{snapshot:?}");
    let start = snapshot.id.expect("the snapshot's id");
    let mut read: Vec<Logged> = Vec::new();
    let deadline = tokio::time::Instant::now() + MARGIN * 3;
    while !done(&read) {
        // Heartbeats keep the stream busy, so bound the whole read.
        let frame = tokio::time::timeout_at(deadline, reader.next_logged())
            .await
            .unwrap_or_else(|_| panic!("not within time, after {read:?}"));
        let frame = logged(frame);
        let prev = read.last().map_or(start, |f| f.0);
        assert_eq!(
            frame.0,
            prev + 1,
            "ids are contiguous: {frame:?} after {prev}"
        );
        read.push(frame);
    }
    (start, read)
}

fn ticker_event((_, event, data): &Logged) -> TickerEvent {
    common::SseEvent {
        id: None,
        event: event.clone(),
        data: data.clone(),
    }
    .ticker()
}

/// The rooms of the ships on `board`.
fn board_rooms(board: &Board) -> BTreeSet<String> {
    board.top.iter().map(|l| l.room.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_serves_one_ticker_of_every_nodes_scores_with_contiguous_ids() {
    let Some(redis) = shared_redis() else { return };
    let test = "contiguous";
    let a = node(&redis.url(), test, "a", SCORING).await;
    let b = node(&redis.url(), test, "b", SCORING).await;
    let c = node(&redis.url(), test, "c", QUIET).await;
    let http = reqwest::Client::new();
    let (rooms_a, rooms_b) = (own_rooms(&a).await, own_rooms(&b).await);
    let mut readers = Vec::new();
    for n in [&a, &b, &c] {
        let reader = SseClient::open(&http, &n.url("/api/ticker"), None).await;
        assert_eq!(reader.status, 200);
        readers.push(reader);
    }

    // C has no scoring room, yet its ticker carries the scores of A's and
    // B's rooms, with ids n, n+1, ...
    let mut on_c = readers.pop().expect("c's reader");
    let (_, seen_c) = read_contiguous(&mut on_c, |read| {
        let mut scored = BTreeSet::new();
        for frame in read {
            match ticker_event(frame) {
                TickerEvent::Score(s) => {
                    scored.insert(s.room);
                }
                TickerEvent::Board(_) => {}
                other => panic!("unexpected ticker event {other:?}"),
            }
        }
        scored.iter().any(|r| rooms_a.contains(r)) && scored.iter().any(|r| rooms_b.contains(r))
    })
    .await;

    // A and B serve the same ids with the same events, byte for byte.
    let last = seen_c.last().expect("events").0;
    let by_id: BTreeMap<u64, &Logged> = seen_c.iter().map(|f| (f.0, f)).collect();
    for reader in &mut readers {
        let (_, seen) =
            read_contiguous(reader, |read| read.last().is_some_and(|f| f.0 >= last)).await;
        let common: Vec<&Logged> = seen.iter().filter(|f| by_id.contains_key(&f.0)).collect();
        assert!(
            common.len() >= seen_c.len() / 2,
            "{} of {} overlap",
            common.len(),
            seen_c.len()
        );
        for frame in common {
            assert_eq!(
                Some(&frame),
                by_id.get(&frame.0),
                "the same event under the same id"
            );
        }
    }

    // The scorers' writers count what they logged.
    for n in [&a, &b] {
        let text = http
            .get(n.url("/metrics"))
            .send()
            .await
            .expect("sent")
            .text()
            .await
            .expect("text");
        let series = format!("{}_total{{outcome=\"written\"}}", names::TICKER_SCORES);
        let written = common::metric(&text, &series);
        assert!(written.is_some_and(|w| w >= 1.0), "{written:?}");
    }

    // The board on C holds ships of both nodes' rooms too (a board of 40
    // lines holds every ship of both).
    let page = poll(&http, &c, None).await;
    let board = page.snapshot.expect("a first poll gets the board");
    let rooms = board_rooms(&board);
    assert!(rooms.iter().any(|r| rooms_a.contains(r)), "{rooms:?}");
    assert!(rooms.iter().any(|r| rooms_b.contains(r)), "{rooms:?}");
    assert!(page.next >= last);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_clusters_ticker_is_readable_at_once_on_every_node() {
    let Some(redis) = shared_redis() else { return };
    // No scores, and no board refresh but the one each node sends at
    // start: that one must create the cluster ticker.
    let quiet = ["--bots", "0", "--ticker-board-secs", "3600"];
    let a = node(&redis.url(), "fresh", "a", &quiet).await;
    let b = node(&redis.url(), "fresh", "b", &quiet).await;
    let http = reqwest::Client::new();
    let mut heads = Vec::new();
    for n in [&a, &b] {
        let mut reader = SseClient::open(&http, &n.url("/api/ticker"), None).await;
        assert_eq!(reader.status, 200);
        let snapshot = reader.next_logged().await;
        assert!(matches!(snapshot.ticker(), TickerEvent::Snapshot(b) if b.top.is_empty()));
        heads.push(snapshot.id.expect("its id"));
    }
    assert_eq!(heads[0], heads[1], "one ticker, one head");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_read_on_one_node_resumes_on_another_and_a_foreign_one_resets() {
    let Some(redis) = shared_redis() else { return };
    let test = "resume";
    let a = node(&redis.url(), test, "a", SCORING).await;
    let b = node(&redis.url(), test, "b", QUIET).await;
    let http = reqwest::Client::new();

    // Read three events on A, then leave.
    let mut on_a = SseClient::open(&http, &a.url("/api/ticker"), None).await;
    let (_, first) = read_contiguous(&mut on_a, |read| read.len() >= 3).await;
    drop(on_a);
    let cursor = first.last().expect("three").0;

    // Once the ticker moved on, B resumes the cursor with exactly the
    // events after it, and a poll on A agrees.
    wait_until("the ticker moves on", || async {
        poll(&http, &b, None).await.next >= cursor + 5
    })
    .await;
    wait_until("A's mirror has them too", || async {
        poll(&http, &a, None).await.next >= cursor + 5
    })
    .await;
    let mut on_b = SseClient::open(&http, &b.url("/api/ticker"), Some(cursor)).await;
    let mut resumed = Vec::new();
    while resumed.len() < 5 {
        let frame = logged(on_b.next_logged().await);
        assert_eq!(frame.0, cursor + 1 + resumed.len() as u64, "{frame:?}");
        assert!(matches!(
            ticker_event(&frame),
            TickerEvent::Score(_) | TickerEvent::Board(_)
        ));
        resumed.push(frame);
    }
    let page = poll(&http, &a, Some(cursor)).await;
    let polled: Vec<u64> = page
        .events
        .iter()
        .map(|e: &Polled<TickerEvent>| e.id)
        .collect();
    assert_eq!(
        polled[..5],
        resumed.iter().map(|f| f.0).collect::<Vec<_>>()[..]
    );
    for (polled, frame) in page.events.iter().zip(&resumed) {
        assert_eq!(polled.event, ticker_event(frame));
    }

    // A cursor the ticker never issued (a room log's id, one from before
    // the ticker began, one from the future) gets `reset` with the board
    // on either node, never an event. (B's room ids start at B's clock,
    // past every id of a ticker younger than B by hundreds of thousands.)
    let room = own_rooms(&b).await.pop_first().expect("a room");
    let room_page = common::get_json(&b.server(), &format!("/api/rooms/{room}/poll")).await;
    let room_cursor = room_page["next"].as_u64().expect("a room cursor");
    for foreign in [room_cursor, 5, cursor - 100_000, u64::MAX / 2] {
        for n in [&a, &b] {
            let mut reader = SseClient::open(&http, &n.url("/api/ticker"), Some(foreign)).await;
            let frame = reader.next_logged().await;
            assert_eq!(frame.event, "reset", "cursor {foreign}: {frame:?}");
            assert!(frame.id.expect("the head") > cursor);
            assert!(matches!(frame.ticker(), TickerEvent::Reset(_)));
            let page = poll(&http, n, Some(foreign)).await;
            assert!(
                page.reset.is_some() && page.events.is_empty(),
                "cursor {foreign}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restarted_empty_never_reissues_an_id_a_reader_holds() {
    let Some(mut redis) = RedisProcess::start() else {
        return;
    };
    let test = "restart";
    let a = node(&redis.url(), test, "a", SCORING).await;
    let b = node(
        &redis.url(),
        test,
        "b",
        &["--bots", "0", "--idle-timeout-secs", "600"],
    )
    .await;
    let http = reqwest::Client::new();
    // A player who never scores, on the board only by B's refreshes.
    let idle_room = own_rooms(&b).await.pop_first().expect("a room");
    let _idle = Player::join(&b.server(), "Idle", Some(&idle_room)).await;
    wait_until("the idle player is on the board", || async {
        let board = poll(&http, &a, None).await.snapshot.expect("a board");
        board.top.iter().any(|l| l.name == "Idle")
    })
    .await;

    // A poller on B holds a cursor some events in.
    let mut cursor = poll(&http, &b, None).await.next;
    let mut seen = BTreeSet::from([cursor]);
    let started = Instant::now();
    while seen.len() < 4 {
        assert!(
            started.elapsed() < MARGIN,
            "the ticker logs nothing: {seen:?}"
        );
        let page = poll(&http, &b, Some(cursor)).await;
        assert!(page.reset.is_none(), "no reset before the restart");
        seen.extend(page.events.iter().map(|e| e.id));
        cursor = page.next;
    }
    let newest = *seen.last().expect("ids");

    // Redis loses everything. The poller goes on from its cursor: it may
    // get what the old ticker still had, then `reset` to a head above
    // every id it saw, then new events after that head.
    redis.restart();
    let started = Instant::now();
    let head = loop {
        assert!(
            started.elapsed() < MARGIN * 2,
            "no reset after Redis restarted"
        );
        let page = poll(&http, &b, Some(cursor)).await;
        for (i, e) in page.events.iter().enumerate() {
            assert_eq!(e.id, cursor + 1 + i as u64, "contiguous until the reset");
            assert!(!seen.contains(&e.id));
        }
        if page.reset.is_some() {
            break page.next;
        }
        seen.extend(page.events.iter().map(|e| e.id));
        cursor = page.next;
    };
    assert!(
        head > *seen.last().expect("ids"),
        "the floor is above {newest}"
    );
    // A's mirror starts over too (until then the new head is foreign to
    // it), and then continues from that head.
    let started = Instant::now();
    let page = loop {
        assert!(started.elapsed() < MARGIN, "A serves no event after {head}");
        let page = poll(&http, &a, Some(head)).await;
        if !page.events.is_empty() && page.reset.is_none() {
            break page;
        }
    };
    assert_eq!(page.events[0].id, head + 1);

    // The new ticker's board began empty and folds only new scores, so
    // a ship that never scores reaches it only through its node's board
    // refresh: B's idle player is back on the board.
    wait_until("the board is whole again", || async {
        let board = poll(&http, &a, None).await.snapshot.expect("a board");
        board
            .top
            .iter()
            .any(|l| l.name == "Idle" && l.room == idle_room)
    })
    .await;
}

/// One `ticker_append` call as `fence` with its node's `lines`, a board
/// refresh or not, and `scores` as `(room, player, new score, delta)`.
/// Returns the ticker's head.
async fn append(
    conn: &mut redis::aio::MultiplexedConnection,
    prefix: &str,
    fence: &str,
    lines: &[(&str, u16, u16)],
    refresh: bool,
    scores: &[(&str, u16, u16, u16)],
) -> u64 {
    let line = |(room, player, score): &(&str, u16, u16)| {
        serde_json::json!({"bot": false, "name": format!("P{player}"), "player": player,
                           "room": room, "score": score})
    };
    let lines: Vec<serde_json::Value> = lines.iter().map(line).collect();
    let mut call = SCRIPTS.ticker_append.prepare_invoke();
    call.key(format!("{prefix}:ticker"))
        .key(format!("{prefix}:ticker:log"))
        .key(format!("{prefix}:board"))
        .arg(prefix)
        .arg(fence)
        .arg(4096)
        .arg(60_000)
        .arg(format!("{prefix}:ticker:ev"))
        .arg(3)
        .arg(serde_json::to_string(&lines).expect("json"))
        .arg(if refresh { "1" } else { "0" })
        .arg(scores.len());
    for (room, player, score, delta) in scores {
        let data = serde_json::json!({"delta": delta, "name": format!("P{player}"),
            "player": player, "room": room, "score": score, "tick": 1, "time": 0});
        call.arg(data.to_string()).arg("0");
    }
    let reply: (String, String) = call.invoke_async(conn).await.expect("ticker_append runs");
    assert_eq!(reply.0, "ok");
    reply.1.parse().expect("an id")
}

/// The ticker's snapshot: its id and board as `(room, player, score)`.
async fn snapshot(
    conn: &mut redis::aio::MultiplexedConnection,
    prefix: &str,
) -> (u64, Vec<(String, u16, u16)>) {
    let (snap, snap_at): (String, u64) = redis::cmd("HMGET")
        .arg(format!("{prefix}:ticker"))
        .arg("snap")
        .arg("snap_at")
        .query_async(conn)
        .await
        .expect("the ticker's head");
    let board: Board = serde_json::from_str(&snap).expect("a board");
    let top = board
        .top
        .into_iter()
        .map(|l| (l.room, l.player, l.score))
        .collect();
    (snap_at, top)
}

fn board_of(lines: &[(&str, u16, u16)]) -> Vec<(String, u16, u16)> {
    lines
        .iter()
        .map(|(r, p, s)| (r.to_string(), *p, *s))
        .collect()
}

#[tokio::test]
async fn the_append_script_numbers_from_the_floor_folds_as_clients_do_and_drops_dead_nodes() {
    let Some(redis) = shared_redis() else { return };
    let prefix = format!("t{}-script", std::process::id());
    let mut conn = cluster_nodes::redis_connection(&redis.url()).await;
    cluster_nodes::live_fences(&mut conn, &prefix, &["a", "b"]).await;
    let (clock, _): (u64, u64) = redis::cmd("TIME")
        .query_async(&mut conn)
        .await
        .expect("time");

    // A fresh ticker starts above Redis's clock in ms x 1000, and numbers
    // entries one by one, each naming the one before.
    let head = append(
        &mut conn,
        &prefix,
        "a:1",
        &[],
        false,
        &[("alpha", 1, 1, 1), ("alpha", 2, 1, 1)],
    )
    .await;
    let floor = head - 2;
    assert!(floor >= clock * 1000, "{floor} below the clock {clock} s");
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(format!("{prefix}:ticker:log"))
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .expect("the stream");
    let ids: Vec<String> = entries.iter().map(|e| e.0.clone()).collect();
    assert_eq!(
        ids,
        [format!("{}-0", floor + 1), format!("{}-0", floor + 2)]
    );
    assert_eq!(entries[1].1[0], ("p".into(), (floor + 1).to_string()));
    let entry: Polled<TickerEvent> = serde_json::from_str(&entries[1].1[1].1).expect("an entry");
    assert_eq!(entry.id, floor + 2);
    assert!(matches!(entry.event, TickerEvent::Score(ref s) if s.player == 2));

    // Ties go by room byte-wise ("Zed" before "alpha", whatever Redis's
    // locale), then by player; the board keeps 3 lines.
    let head = append(
        &mut conn,
        &prefix,
        "b:1",
        &[],
        false,
        &[("Zed", 9, 1, 1), ("Zed", 3, 1, 1)],
    )
    .await;
    assert_eq!(head, floor + 4);
    let expected = board_of(&[("Zed", 3, 1), ("Zed", 9, 1), ("alpha", 1, 1)]);
    assert_eq!(snapshot(&mut conn, &prefix).await, (head, expected));

    // A score that starts below a line's old one means a new round in its
    // room: the room's other lines drop to 0.
    let head = append(&mut conn, &prefix, "b:1", &[], false, &[("Zed", 9, 2, 1)]).await;
    let expected = board_of(&[("Zed", 9, 2), ("Zed", 3, 1), ("alpha", 1, 1)]);
    assert_eq!(snapshot(&mut conn, &prefix).await, (head, expected));
    let head = append(&mut conn, &prefix, "b:1", &[], false, &[("Zed", 3, 1, 1)]).await;
    let expected = board_of(&[("Zed", 3, 1), ("alpha", 1, 1), ("Zed", 9, 0)]);
    assert_eq!(snapshot(&mut conn, &prefix).await, (head, expected));

    // A refresh re-derives the board from every live node's own lines;
    // a dead node's lines leave, and the new board is logged once.
    let _: () = redis::cmd("HSET")
        .arg(format!("{prefix}:board"))
        .arg("z:9")
        .arg(r#"[{"bot":false,"name":"Ghost","player":1,"room":"gone","score":99}]"#)
        .query_async(&mut conn)
        .await
        .expect("a dead node's lines");
    let a_lines = [("alpha", 1, 5), ("alpha", 2, 4)];
    let board = append(&mut conn, &prefix, "b:1", &[("Zed", 3, 1)], true, &[]).await;
    assert_eq!(board, head + 1, "the board is logged as the next entry");
    let expected = board_of(&[("Zed", 3, 1)]);
    assert_eq!(snapshot(&mut conn, &prefix).await, (board, expected));
    let fences: Vec<String> = redis::cmd("HKEYS")
        .arg(format!("{prefix}:board"))
        .query_async(&mut conn)
        .await
        .expect("the board's nodes");
    assert!(!fences.contains(&"z:9".to_owned()), "{fences:?}");
    let board = append(&mut conn, &prefix, "a:1", &a_lines, true, &[]).await;
    let expected = board_of(&[("alpha", 1, 5), ("alpha", 2, 4), ("Zed", 3, 1)]);
    assert_eq!(snapshot(&mut conn, &prefix).await, (board, expected));
    let again = append(&mut conn, &prefix, "b:1", &[("Zed", 3, 1)], true, &[]).await;
    assert_eq!(again, board, "an unchanged board is not logged again");
}
