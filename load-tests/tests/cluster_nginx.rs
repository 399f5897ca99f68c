//! The bots through a real load balancer: three Skirmish nodes sharing a
//! Debian `redis-server`, Debian's `nginx` in front of them running the
//! shipped `deploy/nginx/skirmish.conf` (round robin, no stickiness), and
//! the real `skirmish-bots` binary pointed at nginx with `--matchmake`:
//! every kind of client plays and watches a match with zero errors.
//! Skipped, loudly, when redis-server or nginx is not installed.

#[allow(
    dead_code,
    reason = "the server tests' helper; this test uses part of it"
)]
#[path = "../../server/tests/common/nginx_process.rs"]
mod nginx_process;
#[allow(
    dead_code,
    reason = "the server tests' helper; this test uses part of it"
)]
#[path = "../../server/tests/common/redis_process.rs"]
mod redis_process;

use std::process::Command;
use std::time::Duration;

use nginx_process::NginxProcess;
use redis_process::RedisProcess;
use serde_json::Value;
use skirmish_server::{Config, Server};

/// A cluster node in this process: the real server on a loopback port,
/// with test leases, its public URL on the balancer, and per-address
/// limits fitting every client arriving from the balancer.
async fn node(redis: &RedisProcess, prefix: &str, id: &str, lb_port: u16) -> Server {
    let mut config = Config::defaults();
    config.bind = ([127, 0, 0, 1], 0).into();
    config.redis = Some(redis.url());
    config.redis_prefix = prefix.to_owned();
    config.node_id = Some(id.to_owned());
    config.public_url = Some(NginxProcess::node_url_at(lb_port, id));
    config.lease_refresh_ms = 200;
    config.lease_ttl_ms = 1000;
    config.bots = 2;
    // Rounds end and start again during the run: a whole match.
    config.round_secs = 4;
    config.max_connections_per_ip = 4096;
    config.max_spectators_per_ip = 4096;
    config.max_polls_per_ip = 4096;
    config.matchmakes_per_sec = 10_000;
    config.new_rooms_per_ip_per_min = 10_000;
    Server::start(config).await.expect("the node starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bots_play_a_match_through_nginx_in_front_of_three_nodes() {
    let Some(redis) = RedisProcess::start() else {
        return;
    };
    if !NginxProcess::available() {
        return;
    }
    let port = NginxProcess::free_port();
    let prefix = format!("lb{}", std::process::id());
    let mut nodes = Vec::new();
    for id in ["a", "b", "c"] {
        nodes.push((id, node(&redis, &prefix, id, port).await));
    }
    let upstreams: Vec<(&str, std::net::SocketAddr)> = nodes
        .iter()
        .map(|(id, server)| (*id, server.addr()))
        .collect();
    let nginx = NginxProcess::start(port, &upstreams).expect("nginx starts");
    // Every node holds its lease (readyz) before the bots come.
    let http = reqwest::Client::new();
    for (id, _) in &nodes {
        let ready = nginx.url(&format!("/node/{id}/readyz"));
        let mut tries = 0;
        while http
            .get(&ready)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .ok()
            != Some(200)
        {
            tries += 1;
            assert!(tries < 200, "node {id} never ready");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    let report = std::env::temp_dir().join(format!("skirmish-bots-lb-{}.json", std::process::id()));
    let bots = tokio::task::spawn_blocking({
        let url = nginx.url("/");
        let report = report.clone();
        move || {
            Command::new(env!("CARGO_BIN_EXE_skirmish-bots"))
                .args(["--url", &url, "--matchmake", "--rooms", "2"])
                .args([
                    "--players",
                    "8",
                    "--legacy",
                    "4",
                    "--spectators",
                    "4",
                    "--pollers",
                    "4",
                ])
                .args([
                    "--duration",
                    "9",
                    "--ramp",
                    "20",
                    "--quiet",
                    "--max-errors",
                    "0",
                ])
                .arg("--report")
                .arg(&report)
                .output()
                .expect("skirmish-bots runs")
        }
    })
    .await
    .expect("join");
    let table = String::from_utf8_lossy(&bots.stdout);
    let report_text = std::fs::read_to_string(&report).unwrap_or_default();
    let _ = std::fs::remove_file(&report);
    assert!(
        bots.status.success(),
        "skirmish-bots failed ({}):\n{table}\n{}\nnginx: {}",
        bots.status,
        String::from_utf8_lossy(&bots.stderr),
        nginx.error_log()
    );
    let report: Value = serde_json::from_str(&report_text).expect("the JSON report");
    assert_eq!(report["errors"], 0, "{table}");
    let transports = report["transports"].as_array().expect("transports");
    assert_eq!(transports.len(), 4, "{table}");
    for t in transports {
        assert_eq!(
            t["connected"], t["clients"],
            "every client connected: {table}"
        );
        assert_eq!(
            t["connects"], t["clients"],
            "none had to reconnect: {table}"
        );
        assert!(t["messages"].as_u64().is_some_and(|n| n > 0), "{table}");
    }

    // The two rooms were each opened once, cluster-wide.
    let rooms: Value = http
        .get(nginx.url("/api/rooms"))
        .send()
        .await
        .expect("rooms")
        .json()
        .await
        .expect("json");
    for name in ["bench-1", "bench-2"] {
        let copies = rooms
            .as_array()
            .expect("array")
            .iter()
            .filter(|r| r["id"] == name)
            .count();
        assert_eq!(copies, 1, "{name} in {rooms}");
    }
    drop(nginx);
    for (_, server) in nodes {
        server
            .shutdown(Duration::from_secs(10))
            .await
            .expect("the node stops");
    }
}
