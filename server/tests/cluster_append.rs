//! The log writer's `append` script with real parts only: Debian's
//! `redis-server` and a real `skirmish-server` node on 127.0.0.1:0. One
//! call carries every room of a writer round, and answers each room on its
//! own. Skipped, loudly, when redis-server is not installed.

mod common;

use std::sync::{Arc, Mutex};

use common::cluster_nodes::{self, MARGIN, live_fences, node, prefix, shared_redis, wait_until};
use common::redis_process::RedisProcess;
use common::{Player, connect_url};
use futures_util::StreamExt;
use skirmish_server::cluster::redis::SCRIPTS;

/// `p:room:{id}`, the prefix of a room's keys.
fn room_key(prefix: &str, room: &str) -> String {
    format!("{prefix}:room:{{{room}}}")
}

#[tokio::test]
async fn one_append_call_answers_each_of_its_rooms_on_its_own() {
    let Some(redis) = shared_redis() else { return };
    let prefix = prefix("append-rooms");
    let mut conn = cluster_nodes::redis_connection(&redis.url()).await;
    // Two live incarnations: the writer, a:1, and b:1.
    live_fences(&mut conn, &prefix, &["a", "b"]).await;
    let key = |room: &str| room_key(&prefix, room);
    // `taken` is b:1's; `lost` was closed by `lose`; `broken`'s feed is
    // not a hash, so its commands fail; `orphan` names c:1, whose lease
    // is gone, so a:1 may write it; `fine` is new.
    let setup: [&[&str]; 4] = [
        &["HSET", &key("taken"), "fence", "b:1"],
        &[
            "HSET",
            &format!("{}:feed", key("lost")),
            "closed",
            "server_lost",
            "last",
            "5",
        ],
        &["SET", &format!("{}:feed", key("broken")), "not a hash"],
        &["HSET", &key("orphan"), "fence", "c:1"],
    ];
    for command in setup {
        let _: () = redis::cmd(command[0])
            .arg(&command[1..])
            .query_async(&mut conn)
            .await
            .expect("set up");
    }
    let rooms = ["taken", "lost", "broken", "orphan", "fine"];

    let mut call = SCRIPTS.append.prepare_invoke();
    for room in rooms {
        let key = key(room);
        call.key(&key)
            .key(format!("{key}:log"))
            .key(format!("{key}:feed"));
    }
    call.arg(&prefix)
        .arg("a:1")
        .arg(64)
        .arg(60_000)
        .arg(rooms.len());
    for room in rooms {
        call.arg(format!("{}:ev", key(room)))
            .arg(format!("the message of {room}"))
            .arg(format!("{{\"snapshot\":\"{room}\"}}"))
            .arg(11)
            .arg("")
            .arg("1")
            .arg(2)
            .arg(&["0", "10", "{\"id\":10}"])
            .arg(&["10", "11", "{\"id\":11}"]);
    }
    let answers: Vec<(String, String)> = call.invoke_async(&mut conn).await.expect("append runs");

    let answer = |tag: &str, what: &str| (tag.to_owned(), what.to_owned());
    assert_eq!(answers.len(), rooms.len(), "{answers:?}");
    assert_eq!(answers[0], answer("fenced", "b:1"));
    assert_eq!(answers[1], answer("fenced", "lost"));
    assert_eq!(answers[2].0, "failed", "{answers:?}");
    assert!(answers[2].1.contains("WRONGTYPE"), "{answers:?}");
    assert_eq!(answers[3], answer("ok", "11"));
    assert_eq!(answers[4], answer("ok", "11"));
    for room in rooms {
        let ids: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg(format!("{}:log", key(room)))
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await
            .expect("xrange");
        let ids: Vec<&str> = ids.iter().map(|(id, _)| id.as_str()).collect();
        let written = ["orphan", "fine"].contains(&room);
        let expected: &[&str] = if written { &["10-0", "11-0"] } else { &[] };
        assert_eq!(ids, expected, "{room}");
    }
    // A written room's feed names its writer and holds the batch's head.
    for room in ["orphan", "fine"] {
        let feed: (String, String, String, String) = redis::cmd("HMGET")
            .arg(format!("{}:feed", key(room)))
            .arg(&["last", "snap_at", "snap", "fence"])
            .query_async(&mut conn)
            .await
            .expect("the feed");
        let snap = format!("{{\"snapshot\":\"{room}\"}}");
        assert_eq!(feed, ("11".into(), "11".into(), snap, "a:1".into()));
    }
    // The lost room stays closed at its head.
    let lost: (String, String) = redis::cmd("HMGET")
        .arg(format!("{}:feed", key("lost")))
        .arg(&["last", "closed"])
        .query_async(&mut conn)
        .await
        .expect("the lost feed");
    assert_eq!(lost, ("5".into(), "server_lost".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_round_of_many_rooms_is_one_append_call() {
    // Its own Redis: the test flushes it and watches every command.
    let Some(redis) = RedisProcess::start() else {
        return;
    };
    let prefix = prefix("append-round");
    // No timed round ends and no bots: the rooms stay idle after their
    // players join, so only the writer's rewrite appends to them.
    let extra = ["--round-secs", "86400", "--empty-room-secs", "3600"];
    let a = node(&redis.url(), &prefix, "a", &extra).await;
    let mut conn = cluster_nodes::redis_connection(&redis.url()).await;
    let rooms: Vec<String> = (1..=6).map(|i| format!("round{i}")).collect();
    let mut players = Vec::new();
    for room in &rooms {
        let socket = connect_url(&format!("ws://{}/ws", a.addr)).await;
        let mut player = Player::hello_on(socket, "Opener", Some(room), None).await;
        player.snapshot().await;
        players.push(player);
    }
    let feeds: Vec<String> = rooms
        .iter()
        .map(|room| format!("{}:feed", room_key(&prefix, room)))
        .collect();
    let watch = conn.clone();
    let every_feed_written = || {
        let mut conn = watch.clone();
        let feeds = feeds.clone();
        async move {
            let written: usize = redis::cmd("EXISTS")
                .arg(&feeds)
                .query_async(&mut conn)
                .await
                .expect("exists");
            written == feeds.len()
        }
    };
    wait_until("every room's feed is in Redis", MARGIN, every_feed_written).await;

    // Every command Redis runs from now on.
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut monitor = redis::Client::open(redis.url())
        .expect("redis url")
        .get_async_monitor()
        .await
        .expect("monitor")
        .into_on_message::<String>();
    let record = seen.clone();
    let watcher = tokio::spawn(async move {
        while let Some(line) = monitor.next().await {
            record.lock().expect("lines").push(line);
        }
    });
    // Lose every key: the node's heartbeat finds its lease gone, and the
    // writer writes every room's head again, in one round.
    let _: () = redis::cmd("FLUSHALL")
        .query_async(&mut conn)
        .await
        .expect("flushall");
    wait_until(
        "every room's feed is written again",
        MARGIN,
        every_feed_written,
    )
    .await;
    watcher.abort();

    let append = format!("\"EVALSHA\" \"{}\"", SCRIPTS.append.get_hash());
    let lines = seen.lock().expect("lines").clone();
    let first = lines
        .iter()
        .find(|line| line.contains(&append))
        .unwrap_or_else(|| panic!("no append call in {lines:?}"));
    for feed in &feeds {
        assert!(
            first.contains(&format!("\"{feed}\"")),
            "the first append call after the loss lacks {feed}: {first}"
        );
    }
    drop(players);
}

/// One room's `append` call with one entry, `id`, after `prev`; `refresh`
/// is the ttl argument ('1' or '').
async fn append_one(
    conn: &mut redis::aio::MultiplexedConnection,
    prefix: &str,
    room: &str,
    (prev, id): (u64, u64),
    refresh: &str,
) -> Vec<(String, String)> {
    let key = room_key(prefix, room);
    let mut call = SCRIPTS.append.prepare_invoke();
    call.key(&key)
        .key(format!("{key}:log"))
        .key(format!("{key}:feed"))
        .arg(prefix)
        .arg("a:1")
        .arg(64)
        .arg(60_000)
        .arg(1)
        .arg(format!("{key}:ev"))
        .arg("the message")
        .arg("{}")
        .arg(id)
        .arg("")
        .arg(refresh)
        .arg(1)
        .arg(prev)
        .arg(id)
        .arg(format!("{{\"id\":{id}}}"));
    call.invoke_async(conn).await.expect("append runs")
}

#[tokio::test]
async fn a_feed_gets_its_ttl_when_created_and_when_the_writer_asks() {
    let Some(redis) = shared_redis() else { return };
    let prefix = prefix("append-ttl");
    let mut conn = cluster_nodes::redis_connection(&redis.url()).await;
    let key = room_key(&prefix, "ttl");
    let (feed, log) = (format!("{key}:feed"), format!("{key}:log"));
    let watch = conn.clone();
    let pttl = |key: String| {
        let mut conn = watch.clone();
        async move {
            let ms: i64 = redis::cmd("PTTL")
                .arg(key)
                .query_async(&mut conn)
                .await
                .expect("pttl");
            ms
        }
    };
    // A new feed gets its ttl even when the writer does not ask: a dead
    // node's keys must expire.
    let answers = append_one(&mut conn, &prefix, "ttl", (0, 1), "").await;
    assert_eq!(answers, [("ok".to_owned(), "1".to_owned())]);
    for key in [&feed, &log] {
        let ms = pttl(key.clone()).await;
        assert!(ms > 50_000 && ms <= 60_000, "{key}: pttl {ms}");
    }
    // Between refreshes a batch leaves the ttls as they are.
    for key in [&feed, &log] {
        let _: () = redis::cmd("PEXPIRE")
            .arg(key)
            .arg(30_000)
            .query_async(&mut conn)
            .await
            .expect("pexpire");
    }
    append_one(&mut conn, &prefix, "ttl", (1, 2), "").await;
    for key in [&feed, &log] {
        let ms = pttl(key.clone()).await;
        assert!(ms > 0 && ms <= 30_000, "{key}: pttl {ms}");
    }
    // A refresh sets them again.
    append_one(&mut conn, &prefix, "ttl", (2, 3), "1").await;
    for key in [&feed, &log] {
        let ms = pttl(key.clone()).await;
        assert!(ms > 50_000 && ms <= 60_000, "{key}: pttl {ms}");
    }
}
