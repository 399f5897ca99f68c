//! The bots through a rolling deploy: three Skirmish nodes sharing a
//! Debian `redis-server`, the real `skirmish-bots` binary playing on node A
//! (WebSocket and long-poll players), and node A drained mid-run exactly as
//! its SIGTERM does (`Server::drain`, then `Server::shutdown`). At its
//! round's end the room moves to another node; every bot follows `moved`
//! there with its resume token, takes its ship back and plays on to the end
//! of the run: the JSON report counts one move per player and no error.
//! Skipped, loudly, when redis-server is not installed.

#[allow(
    dead_code,
    reason = "the server tests' helper; this test uses part of it"
)]
#[path = "../../server/tests/common/redis_process.rs"]
mod redis_process;

use std::process::Command;
use std::time::{Duration, Instant};

use redis_process::RedisProcess;
use serde_json::Value;
use skirmish_server::{Config, Server};

/// WebSocket and long-poll players the bots run.
const PLAYERS: u64 = 4;
const LEGACY: u64 = 2;

/// Slack for a loaded 2-core machine on every wait.
const MARGIN: Duration = Duration::from_secs(10);

/// A cluster node in this process on a loopback port, with test leases,
/// short rounds (the handover happens at a round's end) and no server
/// bots, so the room's players are the bots' alone.
async fn node(redis: &RedisProcess, prefix: &str, id: &str) -> Server {
    let mut config = Config::defaults();
    config.bind = ([127, 0, 0, 1], 0).into();
    config.redis = Some(redis.url());
    config.redis_prefix = prefix.to_owned();
    config.node_id = Some(id.to_owned());
    config.lease_refresh_ms = 200;
    config.lease_ttl_ms = 1000;
    config.bots = 0;
    config.round_secs = 3;
    Server::start(config).await.expect("the node starts")
}

/// `room` as `/api/rooms` on `server` lists it (with its owner node in a
/// cluster), if listed.
async fn listed(http: &reqwest::Client, server: &Server, room: &str) -> Option<Value> {
    let rooms: Value = http
        .get(format!("http://{}/api/rooms", server.addr()))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    rooms.as_array()?.iter().find(|r| r["id"] == room).cloned()
}

/// Waits until `check` holds, polling every 50 ms, at most [`MARGIN`].
async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < MARGIN, "{what}: not within {MARGIN:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bots_follow_their_room_to_its_adopter_through_a_rolling_deploy() {
    let Some(redis) = RedisProcess::start() else {
        return;
    };
    let prefix = format!("ho{}", std::process::id());
    let a = node(&redis, &prefix, "a").await;
    let b = node(&redis, &prefix, "b").await;
    let c = node(&redis, &prefix, "c").await;
    let http = reqwest::Client::new();
    for server in [&a, &b, &c] {
        let ready = format!("http://{}/readyz", server.addr());
        wait_for("the node holds its lease", || async {
            http.get(&ready)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        })
        .await;
    }

    let room = "handover";
    let report = std::env::temp_dir().join(format!("skirmish-bots-ho-{}.json", std::process::id()));
    let bots = tokio::task::spawn_blocking({
        let url = format!("http://{}", a.addr());
        let report = report.clone();
        move || {
            Command::new(env!("CARGO_BIN_EXE_skirmish-bots"))
                .args(["--url", &url, "--room", room])
                .args(["--players", &PLAYERS.to_string()])
                .args(["--legacy", &LEGACY.to_string()])
                .args(["--duration", "14", "--ramp", "50", "--quiet"])
                .args(["--max-errors", "0"])
                .arg("--report")
                .arg(&report)
                .output()
                .expect("skirmish-bots runs")
        }
    });

    // Every bot is seated on A before the deploy starts.
    wait_for("every bot seated on A", || async {
        listed(&http, &a, room)
            .await
            .is_some_and(|r| r["players"] == PLAYERS + LEGACY && r["node"] == "a")
    })
    .await;
    let deploy = tokio::spawn(async move {
        a.drain().await;
        a.shutdown(MARGIN).await
    });

    // The room continues on B or C with the same players, and plays on:
    // its clock runs there with every bot seated.
    wait_for("the room listed on its adopter", || async {
        listed(&http, &b, room).await.is_some_and(|r| {
            (r["node"] == "b" || r["node"] == "c") && r["players"] == PLAYERS + LEGACY
        })
    })
    .await;
    let adopter = listed(&http, &b, room).await.expect("listed")["node"].clone();
    let server = if adopter == "b" { &b } else { &c };
    let tick = |r: Option<Value>| r.and_then(|r| r["tick"].as_u64()).unwrap_or(0);
    let first = tick(listed(&http, server, room).await);
    wait_for("the adopted room ticks", || async {
        tick(listed(&http, server, room).await) > first
    })
    .await;
    deploy
        .await
        .expect("join")
        .expect("A stops within its deadline");

    let bots = bots.await.expect("join");
    let table = String::from_utf8_lossy(&bots.stdout);
    let report_text = std::fs::read_to_string(&report).unwrap_or_default();
    let _ = std::fs::remove_file(&report);
    assert!(
        bots.status.success(),
        "skirmish-bots failed ({}):\n{table}\n{}",
        bots.status,
        String::from_utf8_lossy(&bots.stderr)
    );
    let report: Value = serde_json::from_str(&report_text).expect("the JSON report");
    assert_eq!(report["errors"], 0, "{table}");
    let transports = report["transports"].as_array().expect("transports");
    let moves: u64 = transports
        .iter()
        .map(|t| t["moves"].as_u64().expect("moves"))
        .sum();
    assert_eq!(moves, PLAYERS + LEGACY, "one move per player: {table}");
    for t in transports {
        assert_eq!(t["moves"], t["clients"], "{table}");
        assert_eq!(
            t["connects"], t["clients"],
            "a move is no reconnect: {table}"
        );
    }
}
