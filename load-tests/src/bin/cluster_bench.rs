//! `skirmish-cluster-bench`: the cluster benchmarks of `docs/benchmarks.md`
//! in one run, on one machine, every figure a ratio within the run (the
//! machine is shared and noisy; absolute figures drift between runs).
//!
//! It starts its own `redis-server` (free loopback port, no persistence)
//! and real `skirmish-server` processes (the release binary named by
//! `--server`), kills exactly the pids it started when done, and measures:
//! 1. **Added latency of a cross-node event**: one SSE reader on the
//!    room's owner and one on another node read the same rooms; for every
//!    event both saw, the other node's arrival minus the owner's. p50/p99.
//! 2. **Redis CPU** (`utime + stime` of its pid over a window): idle,
//!    then with the rooms' events flowing and no remote reader, then with
//!    every room followed by two other nodes: per 1,000 events/s (above
//!    idle) and per 100 followed rooms.
//! 3. **Server CPU for a fixed load** (the same rooms, bots and one local
//!    spectator per room) on one node, then spread over three: the sum of
//!    the three against the one; then the same without Redis (separate
//!    single servers), which tells the cost of spreading rooms over more
//!    processes from the cost of cluster mode.
//!
//! Rooms are opened by a long-poll join (the player then idles; it keeps
//! the room's bots fighting, which logs `kill` and `score` events).
//! Never talks to anything but 127.0.0.1.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use serde::Serialize;
use skirmish_load_tests::wire::SseParser;
use skirmish_server::metrics::cpu_ticks;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Clock ticks per second of `/proc` times (`USER_HZ`).
const USER_HZ: f64 = 100.0;

/// How long a process may take to answer after it starts.
const START: Duration = Duration::from_secs(30);

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "skirmish-cluster-bench",
    about = "Cluster benchmarks: cross-node latency, Redis CPU, server CPU on 1 vs 3 nodes"
)]
struct Args {
    /// The server binary (build it with --release).
    #[arg(long, default_value = "target/release/skirmish-server")]
    server: PathBuf,
    /// The Redis binary.
    #[arg(long, default_value = "redis-server")]
    redis_server: PathBuf,
    /// Rooms of the run (a multiple of 3: they are spread on 3 nodes in
    /// the CPU comparison).
    #[arg(long, default_value_t = 60)]
    rooms: usize,
    /// Server-side bots per room: they make the events.
    #[arg(long, default_value_t = 8)]
    bots: u16,
    /// Seconds of each measured window.
    #[arg(long, default_value_t = 20)]
    window: u64,
    /// Seconds before each window (rooms, followers and readers settle).
    #[arg(long, default_value_t = 4)]
    warmup: u64,
    /// Write the figures here as JSON.
    #[arg(long)]
    report: Option<PathBuf>,
}

/// A child process, SIGKILLed by its pid on drop.
struct Proc {
    child: Child,
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU seconds (user + system) so far.
    fn cpu_secs(&self) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .ok()
            .as_deref()
            .and_then(cpu_ticks)
            .map_or(0.0, |t| t as f64 / USER_HZ)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port (released at once; the process binds it next).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Starts redis-server without persistence and waits for PONG.
async fn start_redis(binary: &PathBuf, dir: &PathBuf) -> (Proc, u16) {
    let port = free_port();
    std::fs::create_dir_all(dir).expect("temp dir");
    let child = Command::new(binary)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts (apt-get install redis-server)");
    let redis = Proc { child };
    let started = Instant::now();
    loop {
        if let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            let mut answer = [0; 7];
            if stream.write_all(b"PING\r\n").await.is_ok()
                && stream.read_exact(&mut answer).await.is_ok()
                && &answer == b"+PONG\r\n"
            {
                return (redis, port);
            }
        }
        assert!(started.elapsed() < START, "redis-server did not answer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A server node.
struct Node {
    proc: Proc,
    base: String,
}

/// Starts a node (cluster mode on `redis_port`, prefix `prefix`; a
/// single server without Redis when `redis_port` is `None`) and waits
/// until it is ready (in a cluster: holds its lease).
async fn start_node(
    args: &Args,
    http: &reqwest::Client,
    redis_port: Option<u16>,
    prefix: &str,
    id: &str,
) -> Node {
    let port = free_port();
    let mut command = Command::new(&args.server);
    if let Some(redis_port) = redis_port {
        command
            .args(["--redis", &format!("redis://127.0.0.1:{redis_port}")])
            .args(["--redis-prefix", prefix, "--node-id", id]);
    }
    let child = command
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .args(["--bots", &args.bots.to_string()])
        .args(["--empty-room-secs", "3600", "--legacy-idle-secs", "3600"])
        .args(["--round-secs", "86400"])
        .args([
            "--max-rooms",
            "1000",
            "--new-rooms-per-ip-per-min",
            "100000",
        ])
        .args([
            "--max-spectators-per-ip",
            "10000",
            "--max-connections-per-ip",
            "10000",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server binary starts (cargo build --release)");
    let node = Node {
        proc: Proc { child },
        base: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    loop {
        let ready = http
            .get(format!("{}/readyz", node.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return node;
        }
        assert!(started.elapsed() < START, "node {id} did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Opens room `room` on `node` with an idle long-poll player in it.
async fn open_room(http: &reqwest::Client, node: &Node, room: &str) {
    let response = http
        .post(format!("{}/api/rooms/{room}/join", node.base))
        .json(&serde_json::json!({ "name": "Bench" }))
        .send()
        .await
        .expect("join sent");
    assert!(
        response.status().is_success(),
        "join {room}: {}",
        response.status()
    );
}

/// Waits until `node` lists every room of `rooms`.
async fn until_listed(http: &reqwest::Client, node: &Node, rooms: &[String]) {
    let started = Instant::now();
    loop {
        let listed: serde_json::Value =
            match http.get(format!("{}/api/rooms", node.base)).send().await {
                Ok(r) => r.json().await.unwrap_or_default(),
                Err(_) => serde_json::Value::Null,
            };
        let ids: Vec<&str> = listed
            .as_array()
            .map(|a| a.iter().filter_map(|r| r["id"].as_str()).collect())
            .unwrap_or_default();
        if rooms.iter().all(|r| ids.contains(&r.as_str())) {
            return;
        }
        assert!(
            started.elapsed() < START,
            "rooms not listed on {}",
            node.base
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What one SSE reader saw: each logged event's id and arrival.
type Arrivals = Vec<(u64, Instant)>;

/// Reads `room`'s events on `node` until `stop`; returns the arrivals of
/// logged events (not the opening snapshot or a reset).
fn reader(
    http: &reqwest::Client,
    node: &Node,
    room: &str,
    stop: &CancellationToken,
) -> JoinHandle<Arrivals> {
    let url = format!("{}/api/rooms/{room}/events", node.base);
    let (http, stop) = (http.clone(), stop.clone());
    tokio::spawn(async move {
        let mut seen = Vec::new();
        let response = http.get(&url).send().await.expect("stream opened");
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        let mut body = response.bytes_stream();
        let mut parser = SseParser::default();
        loop {
            let chunk = tokio::select! {
                chunk = body.next() => chunk,
                () = stop.cancelled() => return seen,
            };
            let Some(Ok(chunk)) = chunk else { return seen };
            let at = Instant::now();
            parser.push(&chunk);
            while let Some(frame) = parser.next_frame() {
                if let Some(id) = frame.id
                    && frame.event != "snapshot"
                    && frame.event != "reset"
                {
                    seen.push((id, at));
                }
            }
        }
    })
}

/// Stops the readers and collects what they saw.
async fn collect(stop: CancellationToken, readers: Vec<JoinHandle<Arrivals>>) -> Vec<Arrivals> {
    stop.cancel();
    let mut out = Vec::with_capacity(readers.len());
    for r in readers {
        out.push(r.await.unwrap_or_default());
    }
    out
}

/// Events that arrived within `[from, to)`.
fn count_in(arrivals: &[Arrivals], from: Instant, to: Instant) -> usize {
    arrivals
        .iter()
        .flatten()
        .filter(|(_, at)| *at >= from && *at < to)
        .count()
}

/// Batches node `node`'s log writer has written to Redis so far (one
/// `append` script call each).
async fn batches_written(http: &reqwest::Client, node: &Node) -> f64 {
    let series = format!(
        "{}_total{{outcome=\"written\"}}",
        skirmish_server::metrics::names::LOG_WRITER_BATCHES
    );
    let text = match http.get(format!("{}/metrics", node.base)).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    text.lines()
        .find_map(|l| l.strip_prefix(series.as_str())?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Cores one process used between two readings.
fn cores(cpu_before: f64, cpu_after: f64, secs: f64) -> f64 {
    (cpu_after - cpu_before) / secs
}

/// The figures of a run.
#[derive(Debug, Default, Serialize)]
struct Figures {
    rooms: usize,
    bots_per_room: u16,
    window_secs: u64,
    /// (1) other node's arrival minus the owner's, per event.
    added_latency_events: u64,
    added_latency_p50_ms: f64,
    added_latency_p99_ms: f64,
    added_latency_max_ms: f64,
    /// (2) Redis CPU.
    events_per_sec: f64,
    /// Room batches the log writer wrote per second (the rooms of one
    /// writer round share one `append` script call).
    appends_per_sec: f64,
    redis_cores_idle: f64,
    redis_cores_writes_only: f64,
    redis_cores_followed: f64,
    followed_rooms: usize,
    redis_pct_per_1k_events_per_sec: f64,
    redis_pct_per_100_followed_rooms: f64,
    /// (3) server CPU, same load.
    one_node_cores: f64,
    three_nodes_cores: [f64; 3],
    three_nodes_sum_cores: f64,
    three_over_one: f64,
    /// The control: the same load on servers without Redis.
    standalone_one_node_cores: f64,
    standalone_three_nodes_sum_cores: f64,
    standalone_three_over_one: f64,
}

/// (1) and (2): rooms on node a; readers on a; then readers on b and c.
async fn latency_and_redis(
    args: &Args,
    http: &reqwest::Client,
    redis: &Proc,
    redis_port: u16,
    f: &mut Figures,
) {
    let prefix = "bench-feeds";
    let a = start_node(args, http, Some(redis_port), prefix, "a").await;
    let b = start_node(args, http, Some(redis_port), prefix, "b").await;
    let c = start_node(args, http, Some(redis_port), prefix, "c").await;
    let rooms: Vec<String> = (0..args.rooms).map(|i| format!("feed{i}")).collect();
    for room in &rooms {
        open_room(http, &a, room).await;
    }
    until_listed(http, &b, &rooms).await;
    until_listed(http, &c, &rooms).await;
    let window = Duration::from_secs(args.window);
    let warmup = Duration::from_secs(args.warmup);

    let stop = CancellationToken::new();
    let on_a: Vec<_> = rooms.iter().map(|r| reader(http, &a, r, &stop)).collect();
    tokio::time::sleep(warmup).await;
    let (from, redis_before) = (Instant::now(), redis.cpu_secs());
    let batches_before = batches_written(http, &a).await;
    tokio::time::sleep(window).await;
    let (to, redis_after) = (Instant::now(), redis.cpu_secs());
    f.appends_per_sec =
        (batches_written(http, &a).await - batches_before) / to.duration_since(from).as_secs_f64();
    let writes_only = cores(
        redis_before,
        redis_after,
        to.duration_since(from).as_secs_f64(),
    );

    let remote_stop = CancellationToken::new();
    let mut remote: Vec<_> = rooms
        .iter()
        .map(|r| reader(http, &b, r, &remote_stop))
        .collect();
    remote.extend(rooms.iter().map(|r| reader(http, &c, r, &remote_stop)));
    tokio::time::sleep(warmup).await;
    let (from2, redis_before) = (Instant::now(), redis.cpu_secs());
    tokio::time::sleep(window).await;
    let (to2, redis_after) = (Instant::now(), redis.cpu_secs());
    let followed = cores(
        redis_before,
        redis_after,
        to2.duration_since(from2).as_secs_f64(),
    );
    let on_a = collect(stop, on_a).await;
    let remote = collect(remote_stop, remote).await;

    let secs = to.duration_since(from).as_secs_f64();
    let rate = count_in(&on_a, from, to) as f64 / secs;
    let rate2 = count_in(&on_a, from2, to2) as f64 / to2.duration_since(from2).as_secs_f64();
    f.events_per_sec = (rate + rate2) / 2.0;
    f.redis_cores_writes_only = writes_only;
    f.redis_cores_followed = followed;
    f.followed_rooms = 2 * rooms.len();
    f.redis_pct_per_1k_events_per_sec =
        (writes_only - f.redis_cores_idle) * 100.0 / (rate / 1000.0).max(1e-9);
    f.redis_pct_per_100_followed_rooms =
        (followed - writes_only) * 100.0 / (f.followed_rooms as f64 / 100.0);

    // Added latency: node b's readers (the first half of `remote`)
    // against the owner's, per event, in the second window.
    let mut added = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
    for (owner, other) in on_a.iter().zip(&remote[..rooms.len()]) {
        let at_owner: HashMap<u64, Instant> = owner.iter().copied().collect();
        for (id, at) in other {
            if let Some(first) = at_owner.get(id)
                && *first >= from2
                && *first < to2
            {
                let micros = at.saturating_duration_since(*first).as_micros();
                let _ = added.record(u64::try_from(micros).unwrap_or(u64::MAX).max(1));
            }
        }
    }
    f.added_latency_events = added.len();
    f.added_latency_p50_ms = added.value_at_quantile(0.5) as f64 / 1000.0;
    f.added_latency_p99_ms = added.value_at_quantile(0.99) as f64 / 1000.0;
    f.added_latency_max_ms = added.max() as f64 / 1000.0;
}

/// (3): the same rooms with one local spectator each, on one node, then
/// spread on three; in cluster mode (`redis_port`) or, as the control,
/// as separate servers without Redis. Returns the cores of each node of
/// the one-node run, then of the three-node run.
async fn one_versus_three(
    args: &Args,
    http: &reqwest::Client,
    redis_port: Option<u16>,
) -> (f64, [f64; 3]) {
    let window = Duration::from_secs(args.window);
    let warmup = Duration::from_secs(args.warmup);
    let mut per_node = Vec::new();
    for (run, nodes) in [("one", 1_usize), ("three", 3)] {
        let prefix = format!("bench-cpu-{run}");
        let mut started = Vec::new();
        for i in 0..nodes {
            started.push(start_node(args, http, redis_port, &prefix, &format!("n{i}")).await);
        }
        let stop = CancellationToken::new();
        let mut readers = Vec::new();
        for i in 0..args.rooms {
            let node = &started[i % nodes];
            let room = format!("cpu{i}");
            open_room(http, node, &room).await;
            readers.push(reader(http, node, &room, &stop));
        }
        tokio::time::sleep(warmup).await;
        let before: Vec<f64> = started.iter().map(|n| n.proc.cpu_secs()).collect();
        let from = Instant::now();
        tokio::time::sleep(window).await;
        let secs = from.elapsed().as_secs_f64();
        let used: Vec<f64> = started
            .iter()
            .zip(before)
            .map(|(n, b)| cores(b, n.proc.cpu_secs(), secs))
            .collect();
        collect(stop, readers).await;
        per_node.push(used);
    }
    (
        per_node[0][0],
        [per_node[1][0], per_node[1][1], per_node[1][2]],
    )
}

#[expect(clippy::print_stdout, reason = "the figures are the program's output")]
fn print(f: &Figures) {
    println!(
        "rooms {} (bots {} each), windows of {} s",
        f.rooms, f.bots_per_room, f.window_secs
    );
    println!(
        "(1) added latency, other node vs owner, {} events: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        f.added_latency_events,
        f.added_latency_p50_ms,
        f.added_latency_p99_ms,
        f.added_latency_max_ms
    );
    println!(
        "(2) {:.0} events/s in {:.0} appends/s; Redis {:.1}% of a core idle, {:.1}% writing, {:.1}% with {} \
         followed rooms: {:.2}% per 1,000 events/s above idle, {:.2}% per 100 followed rooms",
        f.events_per_sec,
        f.appends_per_sec,
        f.redis_cores_idle * 100.0,
        f.redis_cores_writes_only * 100.0,
        f.redis_cores_followed * 100.0,
        f.followed_rooms,
        f.redis_pct_per_1k_events_per_sec,
        f.redis_pct_per_100_followed_rooms
    );
    println!(
        "(3) cluster: one node {:.3} cores; three nodes {:.3} + {:.3} + {:.3} = {:.3} cores \
         ({:.2}x); without Redis: one {:.3}, three {:.3} ({:.2}x)",
        f.one_node_cores,
        f.three_nodes_cores[0],
        f.three_nodes_cores[1],
        f.three_nodes_cores[2],
        f.three_nodes_sum_cores,
        f.three_over_one,
        f.standalone_one_node_cores,
        f.standalone_three_nodes_sum_cores,
        f.standalone_three_over_one
    );
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    assert!(
        args.rooms > 0 && args.rooms.is_multiple_of(3),
        "--rooms must be a multiple of 3"
    );
    let http = reqwest::Client::new();
    let dir = std::env::temp_dir().join(format!("skirmish-cluster-bench-{}", std::process::id()));
    let (redis, redis_port) = start_redis(&args.redis_server, &dir).await;
    let mut figures = Figures {
        rooms: args.rooms,
        bots_per_room: args.bots,
        window_secs: args.window,
        ..Figures::default()
    };
    // Redis alone, for its idle cost (serverCron).
    let before = redis.cpu_secs();
    let from = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.window)).await;
    figures.redis_cores_idle = cores(before, redis.cpu_secs(), from.elapsed().as_secs_f64());
    latency_and_redis(&args, &http, &redis, redis_port, &mut figures).await;
    let (one, three) = one_versus_three(&args, &http, Some(redis_port)).await;
    figures.one_node_cores = one;
    figures.three_nodes_cores = three;
    figures.three_nodes_sum_cores = three.iter().sum();
    figures.three_over_one = figures.three_nodes_sum_cores / one.max(1e-9);
    let (one, three) = one_versus_three(&args, &http, None).await;
    figures.standalone_one_node_cores = one;
    figures.standalone_three_nodes_sum_cores = three.iter().sum();
    figures.standalone_three_over_one = figures.standalone_three_nodes_sum_cores / one.max(1e-9);
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
    print(&figures);
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&figures).expect("json");
        std::fs::write(path, json).expect("report written");
    }
}
