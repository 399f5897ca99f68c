//! Cluster mode with real parts only: Debian's `redis-server` and real
//! `skirmish-server` processes on 127.0.0.1:0, with short leases. Each test
//! uses its own key prefix on a Redis the running tests share (the restart
//! test has its own). Skipped, loudly, when redis-server is not installed.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::cluster_nodes::{
    self, MARGIN, TTL_MS, get, listed_on, matchmake, node, node_args, own_room, prefix, room_of,
    shared_redis, status, take_seat, wait_until,
};
use common::node_process::NodeProcess;
use common::redis_process::RedisProcess;
use common::{
    Player, SseClient, connect_url, expect_close, hex, metric, recv, refused_hello, send,
};
use serde_json::{Value, json};
use skirmish_shared::http::ApiErrorCode;
use skirmish_shared::{ClientMsg, ErrorCode, Hello, PROTOCOL_VERSION, ServerMsg};

fn ids(list: &Value, field: &str) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|v| v[field].as_str().expect("string").to_owned())
        .collect()
}

#[tokio::test]
async fn every_node_lists_every_room_with_its_node() {
    let Some(redis) = shared_redis() else { return };
    let prefix = prefix("list");
    let a = node(&redis.url(), &prefix, "a", &[]).await;
    let b = node(&redis.url(), &prefix, "b", &[]).await;
    let http = reqwest::Client::new();
    let a_main = room_of(&get(&http, &a.url("/api/rooms")).await, "a");
    let a_main_id = a_main["id"].as_str().expect("id").to_owned();
    assert!(a_main_id.starts_with("main-"), "{a_main}");
    assert_eq!(a_main["node_url"], a.url(""));
    for field in [
        "public",
        "players",
        "max_players",
        "spectators",
        "bots",
        "tick",
        "tick_hz",
    ] {
        assert!(
            !a_main[field].is_null(),
            "today's field {field} kept: {a_main}"
        );
    }
    wait_until("B lists A's room", MARGIN, || async {
        let rooms = get(&http, &b.url("/api/rooms")).await;
        rooms.as_array().expect("array").iter().any(|r| {
            r["id"] == a_main_id.as_str() && r["node"] == "a" && r["node_url"] == a.url("")
        })
    })
    .await;
    let b_rooms = get(&http, &b.url("/api/rooms")).await;
    assert_eq!(
        ids(&b_rooms, "node").iter().filter(|n| *n == "b").count(),
        1
    );
    // A Hello naming A's room on B gets pointed at A, and no second room
    // of that id opens on B.
    let mut socket = connect_url(&format!("ws://{}/ws", b.addr)).await;
    send(
        &mut socket,
        &ClientMsg::Hello(Hello {
            token: None,
            protocol: PROTOCOL_VERSION,
            player: None,
            name: "Astray".into(),
            room: Some(a_main_id.clone()),
            resume: None,
        }),
    )
    .await;
    let ServerMsg::Error(error) = recv(&mut socket).await else {
        panic!("expected an Error");
    };
    assert_eq!(error.code, ErrorCode::BadRoom);
    assert!(error.message.contains(&a.url("")), "{}", error.message);
    assert_eq!(expect_close(&mut socket).await.0, 1008);
    let b_rooms = get(&http, &b.url("/api/rooms")).await;
    assert_eq!(
        ids(&b_rooms, "id")
            .iter()
            .filter(|id| **id == a_main_id)
            .count(),
        1
    );
    for node in [&a, &b] {
        let nodes = get(&http, &node.url("/api/nodes")).await;
        assert_eq!(ids(&nodes, "id"), ["a", "b"], "{nodes}");
        assert_eq!(ids(&nodes, "url"), [a.url(""), b.url("")]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_matchmakes_through_any_node_seat_everyone_on_the_owner() {
    const PLAYERS: usize = 30;
    const MAX: usize = 4;
    let Some(redis) = shared_redis() else { return };
    let prefix = prefix("mm30");
    let max = MAX.to_string();
    let extra = ["--max-players", max.as_str()];
    let nodes = Arc::new([
        node(&redis.url(), &prefix, "a", &extra).await,
        node(&redis.url(), &prefix, "b", &extra).await,
        node(&redis.url(), &prefix, "c", &extra).await,
    ]);
    let urls: HashMap<String, String> = nodes.iter().map(|n| (n.id.clone(), n.url(""))).collect();
    let http = reqwest::Client::new();
    let players: Vec<_> = (0..PLAYERS)
        .map(|i| {
            let (http, nodes) = (http.clone(), nodes.clone());
            tokio::spawn(async move {
                // Through a different node each time, in no fixed order.
                let asked = &nodes[(i * 7 + i / 3) % 3];
                let (status, answer) = matchmake(&http, asked, &json!({})).await;
                assert_eq!(status, 200, "{answer}");
                let player = take_seat(&answer, &format!("P{i}")).await;
                (answer, player)
            })
        })
        .collect();
    let mut seated: HashMap<String, usize> = HashMap::new();
    let mut held = Vec::new();
    for task in players {
        let (answer, player) = task.await.expect("player task");
        let room = answer["room"].as_str().expect("room");
        assert_eq!(player.welcome.room, room, "seated in the answered room");
        let owner = &urls[answer["node"].as_str().expect("node")];
        assert_eq!(&answer["node_url"], owner.as_str());
        let ws = answer["ws_url"].as_str().expect("ws_url");
        assert!(
            ws.starts_with(&format!(
                "{}/ws?room={room}&seat=",
                owner.replace("http", "ws")
            )),
            "the owner's socket: {ws}"
        );
        *seated.entry(room.to_owned()).or_default() += 1;
        held.push(player);
    }
    assert!(seated.values().all(|&n| n <= MAX), "{seated:?}");
    assert_eq!(seated.values().sum::<usize>(), PLAYERS);
    // Every node agrees once the owners have published their counts.
    wait_until(
        "every player counted in the cluster list",
        MARGIN,
        || async {
            let rooms = get(&http, &nodes[2].url("/api/rooms")).await;
            let rooms = rooms.as_array().expect("array");
            let total: u64 = rooms
                .iter()
                .map(|r| r["players"].as_u64().expect("n"))
                .sum();
            rooms
                .iter()
                .all(|r| r["players"].as_u64() <= r["max_players"].as_u64())
                && total == PLAYERS as u64
        },
    )
    .await;
}

#[tokio::test]
async fn an_abandoned_seat_frees_itself_and_a_ticket_seats_once() {
    const SEAT_TTL: Duration = Duration::from_millis(1500);
    let Some(redis) = shared_redis() else { return };
    let prefix = prefix("seat");
    let ttl = SEAT_TTL.as_millis().to_string();
    let a = node(
        &redis.url(),
        &prefix,
        "a",
        &["--max-players", "2", "--seat-ttl-ms", &ttl],
    )
    .await;
    let http = reqwest::Client::new();
    let (_, first) = matchmake(&http, &a, &json!({})).await;
    let room = first["room"].as_str().expect("room").to_owned();
    assert_eq!(first["seat_ttl_ms"], SEAT_TTL.as_millis() as u64);
    let (status, abandoned) = matchmake(&http, &a, &json!({ "room": room })).await;
    assert_eq!(status, 200, "{abandoned}");
    let reserved_at = Instant::now();
    let (status, full) = matchmake(&http, &a, &json!({ "room": room })).await;
    assert_eq!(
        common::refusal(status, &full),
        ApiErrorCode::RoomFull,
        "two seats reserved of two"
    );
    assert!(
        full["error"].as_str().expect("error").contains("full"),
        "{full}"
    );

    let player = take_seat(&first, "First").await;
    assert_eq!(player.welcome.room, room);
    let (why, code) = refused_hello(first["ws_url"].as_str().expect("url")).await;
    assert_eq!(code, 1013, "{why}");
    assert!(why.contains("expired or was used"), "{why}");

    // Nobody comes for the second seat: it frees itself at its expiry.
    wait_until(
        "the abandoned seat frees itself",
        SEAT_TTL + MARGIN,
        || async { matchmake(&http, &a, &json!({ "room": room })).await.0 == 200 },
    )
    .await;
    assert!(
        reserved_at.elapsed() >= SEAT_TTL - Duration::from_millis(100),
        "not before its expiry: {:?}",
        reserved_at.elapsed()
    );
    let (why, code) = refused_hello(abandoned["ws_url"].as_str().expect("url")).await;
    assert_eq!(code, 1013, "{why}");
    drop(player);
}

#[tokio::test]
async fn a_killed_nodes_lease_runs_out_and_its_rooms_leave_the_list() {
    let Some(redis) = shared_redis() else { return };
    let prefix = prefix("kill");
    let mut a = node(&redis.url(), &prefix, "a", &[]).await;
    let b = node(&redis.url(), &prefix, "b", &[]).await;
    let http = reqwest::Client::new();
    wait_until("B sees A and its room", MARGIN, || async {
        let nodes = get(&http, &b.url("/api/nodes")).await;
        let rooms = get(&http, &b.url("/api/rooms")).await;
        ids(&nodes, "id").contains(&"a".to_owned()) && ids(&rooms, "node").contains(&"a".to_owned())
    })
    .await;

    a.kill();
    let ttl = Duration::from_millis(TTL_MS);
    let took = wait_until("A's lease runs out on B", ttl + MARGIN, || async {
        let nodes = get(&http, &b.url("/api/nodes")).await;
        let rooms = get(&http, &b.url("/api/rooms")).await;
        ids(&nodes, "id") == ["b"] && ids(&rooms, "node").iter().all(|n| n == "b")
    })
    .await;
    assert!(took <= ttl + MARGIN, "{took:?}");
    for _ in 0..4 {
        let (status, answer) = matchmake(&http, &b, &json!({})).await;
        assert_eq!((status, &answer["node"]), (200, &json!("b")), "{answer}");
    }
}

#[tokio::test]
async fn a_node_stopping_cleanly_leaves_the_cluster_at_once() {
    let Some(redis) = shared_redis() else { return };
    let prefix = prefix("leave");
    // A lease far longer than the test: only leaving can remove it.
    let a = node(&redis.url(), &prefix, "a", &["--lease-ttl-ms", "60000"]).await;
    let b = node(&redis.url(), &prefix, "b", &[]).await;
    let http = reqwest::Client::new();
    wait_until("B sees A", MARGIN, || async {
        ids(&get(&http, &b.url("/api/nodes")).await, "id") == ["a", "b"]
    })
    .await;
    a.signal("TERM");
    let (exit, logs) = a.wait().await;
    assert!(exit.success(), "{exit:?}");
    assert!(
        logs.iter().any(|l| l.contains("left the cluster")),
        "{logs:?}"
    );
    wait_until(
        "A and its rooms are gone from B's lists",
        MARGIN,
        || async {
            ids(&get(&http, &b.url("/api/nodes")).await, "id") == ["b"]
                && ids(&get(&http, &b.url("/api/rooms")).await, "node") == ["b"]
        },
    )
    .await;
}

#[tokio::test]
async fn a_second_process_with_the_same_node_id_waits_for_the_first_lease() {
    let Some(redis) = shared_redis() else { return };
    let prefix = prefix("twice");
    let mut first = node(&redis.url(), &prefix, "a", &[]).await;
    let args = node_args(&redis.url(), &prefix, "a", &[]);
    let second = NodeProcess::start(&args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let http = reqwest::Client::new();
    wait_until("the second start says why it waits", MARGIN, || async {
        second
            .logs()
            .iter()
            .any(|l| l.contains("another start of this node id"))
    })
    .await;
    assert_eq!(status(&http, &second.url("/readyz")).await, 503);
    let nodes = get(&http, &second.url("/api/nodes")).await;
    assert_eq!(
        nodes[0]["url"],
        first.url(""),
        "the first keeps the lease: {nodes}"
    );

    first.kill();
    wait_until(
        "the second takes the id once the first lease ends",
        Duration::from_millis(TTL_MS) + MARGIN,
        || async { status(&http, &second.url("/readyz")).await == 200 },
    )
    .await;
    let nodes = get(&http, &second.url("/api/nodes")).await;
    assert_eq!(nodes[0]["url"], second.url(""), "{nodes}");
}

#[tokio::test]
async fn a_resume_token_finds_its_room_through_another_node() {
    let Some(redis) = shared_redis() else { return };
    let prefix = prefix("resume");
    let a = node(&redis.url(), &prefix, "a", &[]).await;
    let b = node(&redis.url(), &prefix, "b", &[]).await;
    let http = reqwest::Client::new();
    let a_room = own_room(&http, &a).await;
    wait_until("B knows A's room", MARGIN, || async {
        matchmake(&http, &b, &json!({ "room": a_room })).await.0 == 200
    })
    .await;
    let (_, answer) = matchmake(&http, &b, &json!({ "room": a_room })).await;
    assert_eq!(answer["node"], "a");
    let player = take_seat(&answer, "Roamer").await;
    let token = player.welcome.resume;
    let hex = hex(&token.0);
    drop(player);

    wait_until("B routes the token to A", MARGIN, || async {
        matchmake(&http, &b, &json!({ "resume": hex })).await.0 == 200
    })
    .await;
    let (_, answer) = matchmake(&http, &b, &json!({ "resume": hex })).await;
    assert_eq!(answer["room"], a_room.as_str());
    assert_eq!(answer["node_url"], a.url(""));
    assert_eq!(answer["seat"], Value::Null);
    let socket = connect_url(answer["ws_url"].as_str().expect("url")).await;
    let back = Player::hello_on(socket, "Roamer", None, Some(token)).await;
    assert!(back.welcome.resumed);
    assert_eq!(back.welcome.room, a_room);
    let (status, unknown) = matchmake(&http, &b, &json!({ "resume": "00".repeat(16) })).await;
    assert_eq!(
        common::refusal(status, &unknown),
        ApiErrorCode::UnknownSession
    );
}

#[tokio::test]
async fn play_goes_on_while_redis_is_down_and_the_node_rejoins_an_empty_redis() {
    let Some(mut redis) = RedisProcess::start() else {
        return;
    };
    let prefix = prefix("outage");
    let a = node(&redis.url(), &prefix, "a", &[]).await;
    let http = reqwest::Client::new();
    let (_, answer) = matchmake(&http, &a, &json!({})).await;
    let mut player = take_seat(&answer, "Steady").await;

    redis.kill();
    let down = Instant::now();
    // Local play keeps its rate: a second of snapshots arrives in about a
    // second while every Redis call fails.
    let first = player.snapshot().await.tick;
    let mut last = first;
    while down.elapsed() < Duration::from_secs(1) {
        player.input(0, 0).await;
        last = player.snapshot().await.tick;
    }
    let ticks = last.0 - first.0;
    assert!(ticks >= 15, "{ticks} ticks in a second of outage");
    wait_until(
        "the node reports it lost the cluster",
        Duration::from_millis(TTL_MS) + MARGIN,
        || async { status(&http, &a.url("/readyz")).await == 503 },
    )
    .await;
    let (status_code, refusal) = matchmake(&http, &a, &json!({})).await;
    assert_eq!(
        common::refusal(status_code, &refusal),
        ApiErrorCode::DirectoryUnavailable
    );
    assert!(
        refusal["error"]
            .as_str()
            .expect("error")
            .contains("directory"),
        "{refusal}"
    );
    assert_eq!(ids(&get(&http, &a.url("/api/rooms")).await, "node"), ["a"]);

    redis.restart();
    wait_until("the node joins the empty Redis again", MARGIN, || async {
        status(&http, &a.url("/readyz")).await == 200
    })
    .await;
    let (status_code, again) = matchmake(&http, &a, &json!({})).await;
    assert_eq!(status_code, 200, "{again}");
    // The survey's last failure is kept for a moment, then Redis is asked.
    wait_until("the node lists itself again", MARGIN, || async {
        status(&http, &a.url("/api/nodes")).await == 200
    })
    .await;
    assert_eq!(ids(&get(&http, &a.url("/api/nodes")).await, "id"), ["a"]);
    player.snapshot().await;
}

/// `GET /api/rooms/{room}/events` on `node`.
fn events_url(node: &NodeProcess, room: &str) -> String {
    node.url(&format!("/api/rooms/{room}/events"))
}

/// A player joins `room` on its owner `node`, sees one snapshot (so the
/// join is logged: a ship that joins and leaves within one tick is never
/// announced) and leaves: `join` and `leave` in the room's log.
async fn join_and_leave(node: &NodeProcess, room: &str, name: &str) {
    let socket = connect_url(&format!("ws://{}/ws", node.addr)).await;
    let mut player = Player::hello_on(socket, name, Some(room), None).await;
    player.snapshot().await;
    player.send(&ClientMsg::Leave).await;
}

/// The next `n` logged frames of `reader`: (id, event, data).
async fn logged(reader: &mut SseClient, n: usize) -> Vec<(u64, String, String)> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let e = reader.next_logged().await;
        out.push((e.id.expect("logged"), e.event, e.data));
    }
    out
}

/// Logged frames of `reader` up to `name`'s `leave` (a join into an empty
/// room may also log round events).
async fn until_left(reader: &mut SseClient, name: &str) -> Vec<(u64, String, String)> {
    let mut out = Vec::new();
    let started = Instant::now();
    loop {
        // State samples keep the stream busy, so bound the whole wait.
        assert!(started.elapsed() < MARGIN * 5, "{name} left: {out:?}");
        let e = logged(reader, 1).await.remove(0);
        let done = e.1 == "leave" && e.2.contains(&format!("\"name\":\"{name}\""));
        out.push(e);
        if done {
            return out;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spectators_and_pollers_on_any_node_read_the_owners_log() {
    let Some(redis) = shared_redis() else { return };
    let prefix = prefix("feeds");
    // No timed round ends: the room logs only what the test does.
    let extra = [
        "--event-log-capacity",
        "16",
        "--round-secs",
        "86400",
        "--follower-check-ms",
        "200",
        "--follower-idle-ms",
        "1000",
    ];
    let a = node(&redis.url(), &prefix, "a", &extra).await;
    let b = node(&redis.url(), &prefix, "b", &extra).await;
    let c = node(&redis.url(), &prefix, "c", &extra).await;
    let http = reqwest::Client::new();
    let room = own_room(&http, &a).await;
    listed_on(&http, &room, &[&b, &c]).await;

    // The same snapshot and the same events, with the same ids, on the
    // owner and on another node.
    let mut on_a = SseClient::open(&http, &events_url(&a, &room), None).await;
    let mut on_b = SseClient::open(&http, &events_url(&b, &room), None).await;
    assert_eq!((on_a.status, on_b.status), (200, 200));
    let (snap_a, snap_b) = (on_a.next_logged().await, on_b.next_logged().await);
    assert_eq!(snap_a.event, "snapshot");
    assert_eq!((&snap_b.event, snap_b.id), (&snap_a.event, snap_a.id));
    for name in ["Ann", "Bob"] {
        join_and_leave(&a, &room, name).await;
    }
    let seen_a = until_left(&mut on_a, "Bob").await;
    assert_eq!(until_left(&mut on_b, "Bob").await, seen_a);
    let people: Vec<&str> = seen_a
        .iter()
        .map(|e| e.1.as_str())
        .filter(|e| *e != "round")
        .collect();
    assert_eq!(people, ["join", "leave", "join", "leave"], "{seen_a:?}");

    // A reader that read two of them on A resumes on B: exactly the rest,
    // once, then what comes next.
    drop(on_a);
    for name in ["Cid", "Dee"] {
        join_and_leave(&a, &room, name).await;
    }
    let later = until_left(&mut on_b, "Dee").await;
    let mut resumed = SseClient::open(&http, &events_url(&b, &room), Some(seen_a[1].0)).await;
    let mut missed = seen_a[2..].to_vec();
    missed.extend(later.iter().cloned());
    assert_eq!(logged(&mut resumed, missed.len()).await, missed);
    join_and_leave(&a, &room, "Eve").await;
    let next = until_left(&mut on_b, "Eve").await;
    assert_eq!(logged(&mut resumed, next.len()).await, next, "no repeats");

    // Ten more joins and leaves push the first events out of every ring
    // (16): an old cursor gets `reset` at the head on either node, never a
    // wrong event.
    for i in 0..10 {
        join_and_leave(&a, &room, &format!("P{i}")).await;
    }
    let recent = until_left(&mut on_b, "P9").await;
    let head = recent.last().expect("events").0;
    for owner_or_not in [&a, &b] {
        let mut old = SseClient::open(&http, &events_url(owner_or_not, &room), snap_a.id).await;
        let reset = old.next_logged().await;
        assert_eq!((reset.event.as_str(), reset.id), ("reset", Some(head)));
    }

    // Long polls on a third node answer the same ids and events.
    let poll = |after: u64| {
        let url = c.url(&format!("/api/rooms/{room}/poll?after={after}"));
        let http = http.clone();
        async move { get(&http, &url).await }
    };
    let from = recent.len() - 10;
    let page = poll(recent[from - 1].0).await;
    let polled: Vec<(u64, String, Value)> = page["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["id"].as_u64().expect("id"),
                e["event"].as_str().expect("event").to_owned(),
                e["data"].clone(),
            )
        })
        .collect();
    let expected: Vec<(u64, String, Value)> = recent[from..]
        .iter()
        .map(|(id, event, data)| {
            (
                *id,
                event.clone(),
                serde_json::from_str(data).expect("json"),
            )
        })
        .collect();
    assert_eq!(polled, expected);
    assert_eq!(page["next"], head);
    let page = poll(snap_a.id.expect("id")).await;
    assert!(page["reset"].is_object(), "{page}");
    assert_eq!(page["next"], head);

    // Redis drops every subscriber (as it does to a slow one): B's
    // follower subscribes again and catches up, and its reader still gets
    // every event once, as on the owner.
    let mut on_a = SseClient::open(&http, &events_url(&a, &room), Some(head)).await;
    let mut conn = cluster_nodes::redis_connection(&redis.url()).await;
    let killed: u64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut conn)
        .await
        .expect("client kill");
    assert!(killed >= 1, "B's follower was subscribed");
    for name in ["Fay", "Gus"] {
        join_and_leave(&a, &room, name).await;
    }
    let owner = until_left(&mut on_a, "Gus").await;
    assert_eq!(until_left(&mut on_b, "Gus").await, owner);
    let metrics = reqwest::get(b.url("/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    // The owner's 10 Hz state samples reach B's spectators too.
    let mut sample = None;
    for _ in 0..200 {
        let frame = on_b.next().await;
        if frame.event == "state" {
            sample = Some(frame.json());
            break;
        }
    }
    let sample = sample.expect("a state sample on B");
    assert!(sample["ships"].is_array(), "{sample}");
    assert!(
        metric(
            &metrics,
            "skirmish_follower_repairs_total{outcome=\"resubscribed\"}"
        )
        .is_some_and(|n| n >= 1.0),
        "{metrics}"
    );
}

/// `CLIENT LIST TYPE pubsub` of `redis`: one line per subscribed
/// connection, with its `sub=` count.
async fn pubsub_clients(redis: &RedisProcess) -> Vec<String> {
    let mut conn = cluster_nodes::redis_connection(&redis.url()).await;
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut conn)
        .await
        .expect("client list");
    list.lines()
        .filter_map(|l| l.split(' ').find(|f| f.starts_with("sub=")))
        .map(str::to_owned)
        .collect()
}

fn sorted(mut list: Vec<String>) -> Vec<String> {
    list.sort();
    list
}

/// `CLIENT KILL TYPE pubsub` on `redis`: how many it dropped.
async fn kill_subscribers(redis: &RedisProcess) -> u64 {
    let mut conn = cluster_nodes::redis_connection(&redis.url()).await;
    redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut conn)
        .await
        .expect("client kill")
}

/// This node's `/metrics` text.
async fn metrics_of(node: &NodeProcess) -> String {
    reqwest::get(node.url("/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pubsub_connection_carries_every_followed_room_through_a_drop() {
    // Its own Redis: the test counts every subscribed connection.
    let Some(redis) = RedisProcess::start() else {
        return;
    };
    let prefix = prefix("shared-pubsub");
    // No periodic reads (60 s): after the drop, only the resubscription
    // can bring the missed events.
    let extra = [
        "--event-log-capacity",
        "64",
        "--round-secs",
        "86400",
        "--empty-room-secs",
        "3600",
        "--follower-check-ms",
        "60000",
    ];
    let a = node(&redis.url(), &prefix, "a", &extra).await;
    let b = node(&redis.url(), &prefix, "b", &extra).await;
    let http = reqwest::Client::new();
    let main = own_room(&http, &a).await;
    let mut rooms = vec![main];
    for name in ["alpha", "beta"] {
        join_and_leave(&a, name, "Opener").await;
        rooms.push(name.to_owned());
    }
    wait_until("B lists A's three rooms", MARGIN, || async {
        let listed = ids(&get(&http, &b.url("/api/rooms")).await, "id");
        rooms.iter().all(|r| listed.contains(r))
    })
    .await;
    let mut readers = Vec::new();
    for room in &rooms {
        let mut on_a = SseClient::open(&http, &events_url(&a, room), None).await;
        let mut on_b = SseClient::open(&http, &events_url(&b, room), None).await;
        assert_eq!((on_a.status, on_b.status), (200, 200), "{room}");
        let (snap_a, snap_b) = (on_a.next_logged().await, on_b.next_logged().await);
        assert_eq!((snap_b.event, snap_b.id), (snap_a.event, snap_a.id));
        readers.push((on_a, on_b));
    }
    // Every node follows the cluster ticker (two channels), the
    // operators' notices (one) and the rooms handed over to it (one) on its
    // one connection; B also follows A's three rooms, two channels each.
    wait_until(
        "A's connection carries the ticker's two channels, the notices' and its handovers', B's ten",
        MARGIN,
        || async { sorted(pubsub_clients(&redis).await) == ["sub=10", "sub=4"] },
    )
    .await;

    assert_eq!(kill_subscribers(&redis).await, 2);
    for room in &rooms {
        for name in ["Fay", "Gus"] {
            join_and_leave(&a, room, name).await;
        }
    }
    for (room, (on_a, on_b)) in rooms.iter().zip(&mut readers) {
        let owner = until_left(on_a, "Gus").await;
        assert_eq!(until_left(on_b, "Gus").await, owner, "{room}");
        assert!(owner.iter().any(|e| e.1 == "join"), "{room}: {owner:?}");
    }
    wait_until(
        "each node subscribes again on one connection",
        MARGIN,
        || async { sorted(pubsub_clients(&redis).await) == ["sub=10", "sub=4"] },
    )
    .await;
    let metrics = metrics_of(&b).await;
    assert_eq!(
        metric(&metrics, "skirmish_pubsub_reconnects_total"),
        Some(1.0)
    );
    assert_eq!(metric(&metrics, "skirmish_pubsub_channels"), Some(10.0));
    // The three rooms and the ticker.
    assert_eq!(
        metric(
            &metrics,
            "skirmish_follower_repairs_total{outcome=\"resubscribed\"}"
        ),
        Some(4.0),
        "{metrics}"
    );
    assert!(
        metric(&metrics, "skirmish_follower_lag_seconds_count").is_some_and(|n| n >= 1.0),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_node_follows_at_most_its_max_followed_rooms() {
    let Some(redis) = shared_redis() else { return };
    let prefix = prefix("max-followed");
    let extra = ["--empty-room-secs", "3600", "--follower-idle-ms", "200"];
    let a = node(&redis.url(), &prefix, "a", &extra).await;
    let mut b_args = extra.to_vec();
    b_args.extend(["--max-followed-rooms", "1"]);
    let b = node(&redis.url(), &prefix, "b", &b_args).await;
    let http = reqwest::Client::new();
    for name in ["alpha", "beta"] {
        join_and_leave(&a, name, "Opener").await;
    }
    wait_until("B lists A's rooms", MARGIN, || async {
        let listed = ids(&get(&http, &b.url("/api/rooms")).await, "id");
        listed.contains(&"alpha".to_owned()) && listed.contains(&"beta".to_owned())
    })
    .await;
    let alpha = SseClient::open(&http, &events_url(&b, "alpha"), None).await;
    assert_eq!(alpha.status, 200);
    let response = http.get(events_url(&b, "beta")).send().await.expect("sent");
    let status_code = response.status().as_u16();
    let refusal: Value = response.json().await.expect("json");
    assert_eq!(
        common::refusal(status_code, &refusal),
        ApiErrorCode::DirectoryUnavailable
    );
    assert!(
        refusal["error"]
            .as_str()
            .expect("error")
            .contains("follows 1 rooms"),
        "{refusal}"
    );
    // Once alpha's follower closes, beta can be followed.
    drop(alpha);
    wait_until(
        "B follows beta once alpha's follower closed",
        MARGIN,
        || async { status(&http, &events_url(&b, "beta")).await == 200 },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_rooms_feed_is_rewritten_when_redis_restarts_empty() {
    let Some(mut redis) = RedisProcess::start() else {
        return;
    };
    let prefix = prefix("feed-loss");
    // No timed round ends: the room stays idle after the test's events.
    let extra = [
        "--event-log-capacity",
        "16",
        "--round-secs",
        "86400",
        "--follower-idle-ms",
        "100",
        "--follower-check-ms",
        "200",
    ];
    let a = node(&redis.url(), &prefix, "a", &extra).await;
    let b = node(&redis.url(), &prefix, "b", &extra).await;
    let c = node(&redis.url(), &prefix, "c", &extra).await;
    let http = reqwest::Client::new();
    let room = own_room(&http, &a).await;
    listed_on(&http, &room, &[&b]).await;
    let mut on_b = SseClient::open(&http, &events_url(&b, &room), None).await;
    let before = on_b.next_logged().await;
    join_and_leave(&a, &room, "Ann").await;
    let mut head = until_left(&mut on_b, "Ann").await.last().expect("events").0;
    drop(on_b);

    redis.restart();
    // The room has had no event since: only the owner's rewrite of its
    // feed makes it readable on other nodes within a few lease refreshes
    // (else at the writer's idle refresh, minutes later).
    for other in [&b, &c] {
        wait_until("the idle room is readable again", MARGIN, || async {
            status(&http, &events_url(other, &room)).await == 200
        })
        .await;
    }
    // A cursor from before the loss gets `reset` at the head on a node
    // that never followed the room and on one that did, never a wrong
    // event; then the room's next events.
    for other in [&c, &b] {
        let mut old = SseClient::open(&http, &events_url(other, &room), before.id).await;
        assert_eq!(old.status, 200);
        let reset = old.next_logged().await;
        assert_eq!((reset.event.as_str(), reset.id), ("reset", Some(head)));
        join_and_leave(&a, &room, "Bob").await;
        let next = until_left(&mut old, "Bob").await;
        assert!(next.iter().all(|e| e.0 > head), "{next:?}");
        head = next.last().expect("events").0;
    }
    let metrics = metrics_of(&a).await;
    assert_eq!(
        metric(&metrics, "skirmish_redis_data_losses_total"),
        Some(1.0),
        "{metrics}"
    );
}

/// The status and error code of a refused `GET url`.
async fn refused(http: &reqwest::Client, url: &str) -> ApiErrorCode {
    let response = http.get(url).send().await.expect("sent");
    let status_code = response.status().as_u16();
    // A stream's body never ends: do not read an accepted one.
    assert_ne!(status_code, 200, "{url} was not refused");
    let body: Value = response.json().await.expect("json");
    common::refusal(status_code, &body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_applies_a_rooms_reader_caps_to_its_own_readers() {
    let Some(redis) = shared_redis() else { return };
    let prefix = prefix("room-caps");
    let caps = [
        "--max-spectators-per-room",
        "2",
        "--max-polls-per-room",
        "1",
        "--round-secs",
        "86400",
    ];
    let a = node(&redis.url(), &prefix, "a", &caps).await;
    let b = node(&redis.url(), &prefix, "b", &caps).await;
    let http = reqwest::Client::new();
    let room = own_room(&http, &a).await;
    listed_on(&http, &room, &[&b]).await;
    // Two streams on B fill the room's cap there; the owner's own cap is
    // untouched by them.
    let mut on_b = Vec::new();
    for _ in 0..2 {
        let reader = SseClient::open(&http, &events_url(&b, &room), None).await;
        assert_eq!(reader.status, 200);
        on_b.push(reader);
    }
    assert_eq!(
        refused(&http, &events_url(&b, &room)).await,
        ApiErrorCode::RoomSpectatorLimit
    );
    let on_a = SseClient::open(&http, &events_url(&a, &room), None).await;
    assert_eq!(on_a.status, 200);
    // A closed stream frees its slot once the server notices (its next
    // frame).
    on_b.pop();
    wait_until("a freed slot is taken again", MARGIN, || async {
        status(&http, &events_url(&b, &room)).await == 200
    })
    .await;

    // One long poll waits on the room on B; a second is refused there.
    let head = get(&http, &b.url(&format!("/api/rooms/{room}/poll?after=0"))).await["next"]
        .as_u64()
        .expect("next");
    let wait_url = b.url(&format!("/api/rooms/{room}/poll?after={head}&timeout=30"));
    let waiting = tokio::spawn({
        let (http, url) = (http.clone(), wait_url.clone());
        async move { http.get(url).send().await.map(|r| r.status().as_u16()) }
    });
    wait_until("B holds the first poll", MARGIN, || async {
        metric(&metrics_of(&b).await, "skirmish_pollers") == Some(1.0)
    })
    .await;
    let probe = b.url(&format!("/api/rooms/{room}/poll?after={head}&timeout=1"));
    assert_eq!(refused(&http, &probe).await, ApiErrorCode::RoomPollLimit);
    assert!(!waiting.is_finished(), "the first poll still waits");
    waiting.abort();
}

#[tokio::test]
async fn unwatched_rooms_publish_their_state_once_a_second() {
    // Its own Redis: the test counts every PUBLISH.
    let Some(redis) = RedisProcess::start() else {
        return;
    };
    let prefix = prefix("unwatched");
    // Three rooms opened at different moments, then no events: only
    // their state samples publish.
    let a = node(&redis.url(), &prefix, "a", &["--round-secs", "86400"]).await;
    for room in ["alpha", "beta"] {
        join_and_leave(&a, room, "Opener").await;
        tokio::time::sleep(Duration::from_millis(350)).await;
    }
    let mut conn = cluster_nodes::redis_connection(&redis.url()).await;
    let publishes = |stats: &str| -> u64 {
        stats
            .lines()
            .find_map(|l| l.strip_prefix("cmdstat_publish:calls="))
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let stats = || redis::cmd("INFO").arg("commandstats").clone();
    let before: String = stats().query_async(&mut conn).await.expect("info");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let after: String = stats().query_async(&mut conn).await.expect("info");
    let n = publishes(&after) - publishes(&before);
    // 10 Hz samples, nobody subscribed: about 4 per room in 4 s (a round
    // may straddle the edges), not one every other period (20).
    assert!((6..=18).contains(&n), "{n} publishes in 4 s");
}
