//! Cluster nodes for tests: one shared Debian `redis-server`, real
//! `skirmish-server` processes with short leases and a key prefix per
//! test, and the HTTP calls the cluster tests make of them.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Player;
use super::connect_url;
use super::node_process::NodeProcess;
use super::redis_process::RedisProcess;

/// Lease refresh and lifetime of every node here: a dead node is noticed
/// in about a second.
pub const REFRESH_MS: u64 = 200;
pub const TTL_MS: u64 = 1000;

/// Slack for a loaded 2-core machine on top of any documented bound.
pub const MARGIN: Duration = Duration::from_secs(4);

/// One Redis for the tests running at the same time; the last test to
/// finish kills it.
pub fn shared_redis() -> Option<Arc<RedisProcess>> {
    RedisProcess::shared()
}

pub fn prefix(test: &str) -> String {
    format!("t{}-{test}", std::process::id())
}

/// The flags of node `id`: this test's Redis and prefix, short leases, no
/// bots. `extra` flags replace the defaults of the same name.
pub fn node_args(redis_url: &str, prefix: &str, id: &str, extra: &[&str]) -> Vec<String> {
    let (refresh, ttl) = (REFRESH_MS.to_string(), TTL_MS.to_string());
    let defaults = [
        ("--lease-refresh-ms", refresh.as_str()),
        ("--lease-ttl-ms", &ttl),
        ("--bots", "0"),
        // Every test client has the same address.
        ("--matchmakes-per-sec", "10000"),
        ("--new-rooms-per-ip-per-min", "100000"),
    ];
    let mut args = vec![
        "--redis",
        redis_url,
        "--redis-prefix",
        prefix,
        "--node-id",
        id,
    ];
    for (flag, value) in defaults {
        if !extra.contains(&flag) {
            args.extend([flag, value]);
        }
    }
    args.extend_from_slice(extra);
    args.into_iter().map(str::to_owned).collect()
}

/// Starts node `id` (see [`node_args`]) and waits until it holds its lease.
pub async fn node(redis_url: &str, prefix: &str, id: &str, extra: &[&str]) -> NodeProcess {
    let args = node_args(redis_url, prefix, id, extra);
    let node = NodeProcess::start(&args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(node.id, id);
    let http = reqwest::Client::new();
    wait_until("the node holds its lease", MARGIN, || async {
        status(&http, &node.url("/readyz")).await == 200
    })
    .await;
    node
}

/// Polls `check` until it holds; fails the test past `within`.
pub async fn wait_until<F, Fut>(what: &str, within: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub async fn status(http: &reqwest::Client, url: &str) -> u16 {
    http.get(url)
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

pub async fn get(http: &reqwest::Client, url: &str) -> Value {
    let response = http.get(url).send().await.expect("sent");
    assert_eq!(response.status(), 200, "{url}");
    response.json().await.expect("json")
}

/// `POST /api/matchmake` with `body`; status and JSON.
pub async fn matchmake(http: &reqwest::Client, node: &NodeProcess, body: &Value) -> (u16, Value) {
    let response = http
        .post(node.url("/api/matchmake"))
        .json(body)
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

/// Opens the answer's `ws_url` and says Hello (naming no room: the URL
/// does).
pub async fn take_seat(answer: &Value, name: &str) -> Player {
    let url = answer["ws_url"].as_str().expect("ws_url");
    Player::hello_on(connect_url(url).await, name, None, None).await
}

/// The id of the first room `owner` lists as its own (its default room).
pub async fn own_room(http: &reqwest::Client, owner: &NodeProcess) -> String {
    room_of(&get(http, &owner.url("/api/rooms")).await, &owner.id)["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// Waits until every node of `others` lists room `room`.
pub async fn listed_on(http: &reqwest::Client, room: &str, others: &[&NodeProcess]) {
    for other in others {
        wait_until(
            &format!("node {} lists room {room}", other.id),
            MARGIN,
            || async {
                let rooms = get(http, &other.url("/api/rooms")).await;
                rooms
                    .as_array()
                    .expect("array")
                    .iter()
                    .any(|r| r["id"] == room)
            },
        )
        .await;
    }
}

/// The first room of `node` in a room list.
pub fn room_of(rooms: &Value, node: &str) -> Value {
    rooms
        .as_array()
        .expect("array")
        .iter()
        .find(|r| r["node"] == node)
        .unwrap_or_else(|| panic!("a room of {node} in {rooms}"))
        .clone()
}

/// The p50 and p99 of measured durations, as the ignored measurement
/// tests print them for the tables in docs/scaleout.md.
pub fn percentiles(mut v: Vec<Duration>) -> String {
    v.sort();
    let at = |q: f64| {
        let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
        v[i].as_secs_f64() * 1000.0
    };
    format!(
        "p50 {:.1} ms, p99 {:.1} ms (n = {})",
        at(0.5),
        at(0.99),
        v.len()
    )
}

/// A connection of the test's own to the redis at `url`, to read or
/// arrange keys. (Here, not in `redis_process`, which the load-tests
/// share and which must not need the `redis` crate.)
pub async fn redis_connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis answers")
}

/// Marks `nodes` live under `prefix` with boot id 1 (the fence a script
/// checks), for tests that call the Lua scripts without node processes.
pub async fn live_fences(
    conn: &mut redis::aio::MultiplexedConnection,
    prefix: &str,
    nodes: &[&str],
) {
    for node in nodes {
        let _: () = redis::cmd("HSET")
            .arg(format!("{prefix}:node:{{{node}}}"))
            .arg("boot_id")
            .arg("1")
            .query_async(conn)
            .await
            .expect("a live fence");
    }
}
