//! A rolling deploy in cluster mode, with real parts only (Debian's
//! `redis-server`, real `skirmish-server` processes on 127.0.0.1:0): a node
//! sent SIGTERM stops taking rooms and seats, says so on `/readyz` and in
//! the directory at once, lets each room with players finish its round,
//! closes it with `server_drain` (players, spectators and pollers on every
//! node) when it is not handed over (`--no-handover` here; the handover is
//! cluster_handover.rs's), and exits within `--drain-deadline-secs`. Skipped, loudly, when
//! redis-server is not installed.

mod common;

use std::time::{Duration, Instant};

use common::cluster_nodes::{
    MARGIN, get, listed_on, matchmake, node, own_room, prefix, shared_redis, status, wait_until,
};
use common::node_process::NodeProcess;
use common::{Player, SseClient, connect_url, expect_close, refused_hello};
use serde_json::{Value, json};

/// A WebSocket player in `room` on its owner `node`.
async fn player_in(node: &NodeProcess, room: &str, name: &str) -> Player {
    let socket = connect_url(&format!("ws://{}/ws", node.addr)).await;
    let mut player = Player::hello_on(socket, name, Some(room), None).await;
    player.snapshot().await;
    player
}

/// Logged frames of `reader` (id, event, data) up to and including the
/// one that ends the stream (`closed` or `shutdown`).
async fn until_closed(reader: &mut SseClient, within: Duration) -> Vec<(u64, String, String)> {
    let started = Instant::now();
    let mut out = Vec::new();
    loop {
        assert!(
            started.elapsed() < within,
            "no `closed` within {within:?}: {out:?}"
        );
        let e = reader.next().await;
        // Only logged events and the final frame matter; state samples and
        // keep-alives do not.
        let last = e.event == "closed" || e.event == "shutdown";
        if e.id.is_some() || last {
            out.push((e.id.unwrap_or(0), e.event, e.data));
        }
        if last {
            return out;
        }
    }
}

/// Long-polls `room` on `node` from `after` until the page says the log
/// closed; every event, then the close reason.
async fn poll_until_closed(
    http: &reqwest::Client,
    node: &str,
    room: &str,
    mut after: u64,
) -> (Vec<(u64, String)>, String) {
    let mut events = Vec::new();
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < MARGIN * 6,
            "poll never closed: {events:?}"
        );
        let response = http
            .get(format!(
                "{node}/api/rooms/{room}/poll?after={after}&timeout=5"
            ))
            .send()
            .await
            .expect("sent");
        let status = response.status();
        let page: Value = response.json().await.expect("json");
        assert_eq!(status, 200, "{page} after {events:?}");
        for e in page["events"].as_array().expect("events") {
            events.push((
                e["id"].as_u64().expect("id"),
                e["event"].as_str().expect("event").to_owned(),
            ));
        }
        after = page["next"].as_u64().expect("next");
        if let Some(reason) = page["closed"].as_str() {
            return (events, reason.to_owned());
        }
    }
}

/// Ids strictly increasing: no duplicate, no event out of order.
fn increasing(ids: impl IntoIterator<Item = u64>) -> bool {
    let ids: Vec<u64> = ids.into_iter().collect();
    ids.windows(2).all(|w| w[0] < w[1])
}

/// SIGTERM during a round: readyz and the directory say "draining" at once,
/// matchmaking sends newcomers elsewhere, the round is played to its end,
/// and then the player (1001 `server_drain`), the spectators on both nodes
/// and a poller on the other node are told, with the same ids everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_plays_the_round_out_then_closes_it_with_server_drain_everywhere() {
    let Some(redis) = shared_redis() else { return };
    let prefix = prefix("drain");
    let a = node(
        &redis.url(),
        &prefix,
        "a",
        &["--round-secs", "8", "--no-handover"],
    )
    .await;
    let b = node(&redis.url(), &prefix, "b", &[]).await;
    let http = reqwest::Client::new();
    let room = own_room(&http, &a).await;
    listed_on(&http, &room, &[&b]).await;
    let mut player = player_in(&a, &room, "Stay").await;
    let events = |n: &NodeProcess| n.url(&format!("/api/rooms/{room}/events"));
    let mut on_a = SseClient::open(&http, &events(&a), None).await;
    let mut on_b = SseClient::open(&http, &events(&b), None).await;
    let snapshot = on_b.next_logged().await;
    assert_eq!(snapshot.event, "snapshot");
    let cursor = snapshot.id.expect("id");
    let poller = tokio::spawn({
        let (http, room, b) = (http.clone(), room.clone(), b.url(""));
        async move { poll_until_closed(&http, &b, &room, cursor).await }
    });

    a.terminate();
    let signalled = Instant::now();
    wait_until("A's /readyz answers 503", MARGIN, || async {
        status(&http, &a.url("/readyz")).await == 503
    })
    .await;
    wait_until("B sees A draining", MARGIN, || async {
        let nodes = get(&http, &b.url("/api/nodes")).await;
        nodes
            .as_array()
            .expect("nodes")
            .iter()
            .any(|n| n["id"] == "a" && n["draining"] == true)
    })
    .await;
    // A newcomer is seated on B, never in A's room with its free seats.
    for through in [&a, &b] {
        let (code, answer) = matchmake(&http, through, &json!({})).await;
        assert_eq!(code, 200, "{answer}");
        assert_eq!(answer["node"], "b", "{answer}");
    }
    // A new seat on A is refused; the player already there plays on.
    let (reason, code) = refused_hello(&format!("ws://{}/ws", a.addr)).await;
    assert_eq!(code, 1001, "{reason}");
    let before = player.snapshot().await.tick;
    let after = player.snapshot().await.tick;
    assert!(after > before, "the room still ticks while draining");

    // At the round's end: the player is closed with the drain's word.
    assert_eq!(
        expect_close(&mut player.socket).await,
        (1001, "server_drain".to_owned())
    );
    let closed_after = signalled.elapsed();
    assert!(
        closed_after < Duration::from_secs(8) + MARGIN,
        "closed at the end of an 8 s round: {closed_after:?}"
    );
    // Spectators on A and on B: the same ids and events, the round's end,
    // then `closed` with `server_drain`.
    let seen_a = until_closed(&mut on_a, MARGIN * 4).await;
    let seen_b = until_closed(&mut on_b, MARGIN * 4).await;
    let (last_a, last_b) = (seen_a.last().expect("a"), seen_b.last().expect("b"));
    assert_eq!(last_b.1, "closed", "{seen_b:?}");
    let reason: Value = serde_json::from_str(&last_b.2).expect("json");
    assert_eq!(reason, json!({ "reason": "server_drain" }));
    assert_eq!((&last_a.1, &last_a.2), (&last_b.1, &last_b.2));
    let logged_b: Vec<_> = seen_b[..seen_b.len() - 1].to_vec();
    let logged_a: Vec<_> = seen_a[..seen_a.len() - 1]
        .iter()
        .filter(|e| e.0 > cursor)
        .cloned()
        .collect();
    let logged_b: Vec<_> = logged_b.into_iter().filter(|e| e.0 > cursor).collect();
    assert_eq!(logged_a, logged_b, "one log, one set of ids, on every node");
    assert!(increasing(logged_b.iter().map(|e| e.0)), "{logged_b:?}");
    assert!(
        logged_b
            .iter()
            .any(|e| e.1 == "round" && e.2.contains("\"phase\":\"ended\"")),
        "the round was played to its end: {logged_b:?}"
    );
    // The poller on B: the same events, once each, then the same reason.
    let (polled, why) = tokio::time::timeout(MARGIN * 6, poller)
        .await
        .expect("the poll ends")
        .expect("task");
    assert_eq!(why, "server_drain");
    let polled_ids: Vec<u64> = polled.iter().map(|e| e.0).collect();
    let sse_ids: Vec<u64> = logged_b.iter().map(|e| e.0).collect();
    assert_eq!(polled_ids, sse_ids, "{polled:?}");

    let (exit, logs) = a.wait().await;
    assert!(exit.success(), "{exit:?}");
    assert!(
        logs.iter()
            .any(|l| l.contains("drained: every room closed")),
        "{logs:?}"
    );
    wait_until("A's room is gone from B's list", MARGIN, || async {
        let rooms = get(&http, &b.url("/api/rooms")).await;
        !rooms
            .as_array()
            .expect("rooms")
            .iter()
            .any(|r| r["id"] == room)
    })
    .await;
}

/// A round longer than the drain deadline is cut short at the deadline,
/// still with `server_drain`; the admin API's drain is the same drain as
/// SIGTERM; a node whose rooms have no players stops at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drain_deadline_cuts_a_long_round_short_admin_drain_included_and_empty_rooms_close_at_once()
 {
    const TOKEN: &str = "correct-horse-battery-staple";
    let Some(redis) = shared_redis() else { return };
    let prefix = prefix("deadline");
    let long = ["--round-secs", "600", "--drain-deadline-secs", "2"];
    let a = node(
        &redis.url(),
        &prefix,
        "a",
        &[&long[..], &["--admin-token", TOKEN]].concat(),
    )
    .await;
    let idle = node(&redis.url(), &prefix, "idle", &long).await;
    let http = reqwest::Client::new();
    let room = own_room(&http, &a).await;
    let mut player = player_in(&a, &room, "Late").await;

    let drained = http
        .post(a.url("/admin/api/drain"))
        .bearer_auth(TOKEN)
        .json(&json!({ "reason": "deploy" }))
        .send()
        .await
        .expect("sent");
    assert_eq!(drained.status(), 202);
    let signalled = Instant::now();
    assert_eq!(status(&http, &a.url("/readyz")).await, 503);
    // Still playing until the deadline, not closed by the drain itself.
    player.snapshot().await;
    assert_eq!(
        expect_close(&mut player.socket).await,
        (1001, "server_drain".to_owned())
    );
    let took = signalled.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(2) + MARGIN,
        "closed at the 2 s deadline, not the round's end: {took:?}"
    );
    let (exit, logs) = a.wait().await;
    assert!(exit.success(), "{exit:?}");
    assert!(
        logs.iter().any(|l| l.contains("drain deadline passed")),
        "{logs:?}"
    );

    let signalled = Instant::now();
    idle.terminate();
    let (exit, logs) = idle.wait().await;
    assert!(exit.success(), "{exit:?}");
    assert!(
        signalled.elapsed() < Duration::from_secs(2),
        "no players, nothing to wait for: {:?}",
        signalled.elapsed()
    );
    assert!(
        logs.iter()
            .any(|l| l.contains("drained: every room closed")),
        "{logs:?}"
    );
}

/// The figure in docs/scaleout.md: how long a drained room's player is out
/// of play (from its `server_drain` close to its first snapshot in a new
/// match through another node), and how soon the draining node answers
/// `/readyz` 503, over repeated runs. Ignored in the normal run (about a
/// minute): `cargo test -p skirmish-server --test cluster_drain -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by hand"]
#[expect(
    clippy::print_stderr,
    reason = "its output is the figures, for the person who ran it"
)]
async fn measure_drain_to_playing_again() {
    const RUNS: usize = 30;
    let Some(redis) = shared_redis() else { return };
    let prefix = prefix("measure");
    let b = node(&redis.url(), &prefix, "b", &[]).await;
    let http = reqwest::Client::new();
    let (mut unready, mut replay) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        let id = format!("a{run}");
        let a = node(
            &redis.url(),
            &prefix,
            &id,
            &[
                "--round-secs",
                "600",
                "--drain-deadline-secs",
                "1",
                "--no-handover",
            ],
        )
        .await;
        let room = own_room(&http, &a).await;
        let mut player = player_in(&a, &room, "Again").await;
        a.terminate();
        let signalled = Instant::now();
        while status(&http, &a.url("/readyz")).await != 503 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        unready.push(signalled.elapsed());
        let close = expect_close(&mut player.socket).await;
        assert_eq!(close, (1001, "server_drain".to_owned()), "{:?}", a.logs());
        // What the web client does on `server_drain`: matchmake anew.
        let closed = Instant::now();
        let (code, answer) = matchmake(&http, &b, &json!({})).await;
        assert_eq!(
            (code, answer["node"].as_str()),
            (200, Some("b")),
            "{answer}"
        );
        let mut again = common::cluster_nodes::take_seat(&answer, "Again").await;
        again.snapshot().await;
        replay.push(closed.elapsed());
        again.send(&skirmish_shared::ClientMsg::Leave).await;
        let (exit, _) = a.wait().await;
        assert!(exit.success());
    }
    let ms = common::cluster_nodes::percentiles;
    eprintln!("SIGTERM to /readyz 503: {}", ms(unready));
    eprintln!(
        "server_drain close to playing again on another node: {}",
        ms(replay)
    );
}
