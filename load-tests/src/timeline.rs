//! The run over time, for the HTML report's charts: one [`Point`] a second
//! of connected clients per kind, updates per second, errors so far and
//! the server's CPU.
//!
//! The sampler is one task reading the shared counters; it never touches a
//! client. Its memory is bounded: at most [`MAX_POINTS`] points (a run is
//! at most `MAX_DURATION_SECS` long, plus the stop grace).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use skirmish_server::metrics::names;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::MAX_DURATION_SECS;
use crate::cpu::{self, CpuSample};
use crate::prom;
use crate::stats::{Recorder, Transport};

/// One point per this period.
pub const PERIOD: Duration = Duration::from_secs(1);

/// Most points kept: the longest run, a second each, plus a minute.
pub const MAX_POINTS: usize = MAX_DURATION_SECS as usize + 60;

/// The scrape of a server in another process must not hold a point back.
const SCRAPE_TIMEOUT: Duration = Duration::from_millis(800);

/// The run at one moment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Seconds since the first client's start.
    pub t: f64,
    /// Clients connected, per kind, in `Transport::ALL` order.
    pub connected: [u64; 4],
    /// Updates received per second since the previous point, all clients.
    pub messages_per_sec: f64,
    /// Errors so far, all clients.
    pub errors: u64,
    /// Cores the server used since the previous point: its threads when
    /// spawned, else its `skirmish_process_cpu_seconds`; `None` when
    /// neither can be read.
    pub server_cores: Option<f64>,
}

/// Where the server's CPU time comes from.
enum ServerCpu {
    /// Threads of this process (`--spawn`).
    Threads(Option<CpuSample>),
    /// The `/metrics` of a server elsewhere: the last reading and when.
    Scraped {
        http: reqwest::Client,
        url: String,
        last: Option<(Instant, f64)>,
    },
}

impl ServerCpu {
    async fn cores(&mut self) -> Option<f64> {
        match self {
            ServerCpu::Threads(last) => {
                let now = cpu::sample()?;
                let used = last.map(|before| now.since(&before, true).server_cores);
                *last = Some(now);
                used.flatten()
            }
            ServerCpu::Scraped { http, url, last } => {
                let text = tokio::time::timeout(SCRAPE_TIMEOUT, async {
                    http.get(url.as_str()).send().await.ok()?.text().await.ok()
                })
                .await
                .ok()
                .flatten()?;
                let seconds = prom::value(&text, names::PROCESS_CPU_SECONDS)?;
                let now = (Instant::now(), seconds);
                let used = last.map(|(at, before)| {
                    let cores =
                        (seconds - before) / now.0.duration_since(at).as_secs_f64().max(1e-3);
                    (cores * 100.0).round() / 100.0
                });
                *last = Some(now);
                used
            }
        }
    }
}

/// A running sampler; [`Sampler::finish`] stops it and hands the points.
#[derive(Debug)]
pub struct Sampler {
    stop: CancellationToken,
    task: JoinHandle<Vec<Point>>,
}

impl Sampler {
    /// Starts sampling `stats` from `started`; `base` is the server's URL
    /// and `spawned` whether it runs in this process.
    #[must_use]
    pub fn start(stats: Arc<Recorder>, started: Instant, base: &str, spawned: bool) -> Sampler {
        let server = if spawned {
            ServerCpu::Threads(None)
        } else {
            ServerCpu::Scraped {
                http: reqwest::Client::builder()
                    .no_proxy()
                    .build()
                    .unwrap_or_default(),
                url: format!("{base}metrics"),
                last: None,
            }
        };
        let stop = CancellationToken::new();
        let task = tokio::spawn(sample(stats, started, server, stop.clone()));
        Sampler { stop, task }
    }

    /// Stops sampling; the points so far.
    pub async fn finish(self) -> Vec<Point> {
        self.stop.cancel();
        self.task.await.unwrap_or_default()
    }
}

async fn sample(
    stats: Arc<Recorder>,
    started: Instant,
    mut server: ServerCpu,
    stop: CancellationToken,
) -> Vec<Point> {
    let mut points = Vec::with_capacity(64);
    let mut clock = tokio::time::interval(PERIOD);
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = (Instant::now(), stats.total(|c| &c.messages));
    // The first reading only sets the CPU baseline.
    server.cores().await;
    while points.len() < MAX_POINTS {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = clock.tick() => {}
        }
        let now = (Instant::now(), stats.total(|c| &c.messages));
        let secs = now.0.duration_since(last.0).as_secs_f64().max(1e-3);
        let rate = now.1.saturating_sub(last.1) as f64 / secs;
        last = now;
        points.push(Point {
            t: (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
            connected: Transport::ALL
                .map(|t| stats.get(t).counters.connected.load(Ordering::Relaxed)),
            messages_per_sec: rate.round(),
            errors: stats.total(|c| &c.errors),
            server_cores: server.cores().await,
        });
    }
    points
}
