//! The end of a run: the [`Report`] (written as JSON with `--report`), the
//! summary table, and the error budgets that decide the exit status.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use skirmish_server::metrics::names;

use crate::clients::play_state::ViewMode;
use crate::config::Plan;
use crate::cpu::CpuUse;
use crate::prom::{self, HistogramSeries};
use crate::stats::{Metric, Recorder, Transport, TransportStats};
use crate::timeline::Point;

/// Bot timer lag p99 above which the summary warns that the bots, not the
/// server, were the bottleneck.
pub const OVERLOADED_LAG_P99_MS: f64 = 10.0;

/// Version of the JSON report's shape.
pub const REPORT_VERSION: u32 = 1;

/// Which percentiles of a transport a budget reads.
type PickP99 = fn(&TransportReport) -> Option<&Percentiles>;

/// Limits a run must stay within; each is off unless given.
#[derive(Clone, Debug, Default, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct Budgets {
    /// Most errors allowed, all clients together.
    #[arg(long)]
    pub max_errors: Option<u64>,
    /// Highest connect p99 allowed, in ms, on any transport.
    #[arg(long)]
    pub max_connect_p99_ms: Option<f64>,
    /// Highest input-to-ack p99 allowed, in ms, for WebSocket and
    /// long-poll players alike.
    #[arg(long)]
    pub max_ack_p99_ms: Option<f64>,
    /// Highest event delivery p99 allowed, in ms, for SSE spectators and
    /// long-poll watchers alike.
    #[arg(long)]
    pub max_delivery_p99_ms: Option<f64>,
    /// Highest snapshot jitter p99 allowed, in ms, for players.
    #[arg(long)]
    pub max_jitter_p99_ms: Option<f64>,
    /// Highest server tick p99 allowed, in ms, in any room (ignored when
    /// the server exposes no tick histogram).
    #[arg(long)]
    pub max_tick_p99_ms: Option<f64>,
}

impl Budgets {
    /// Every budget `report` exceeds, one line each; empty when it passes.
    #[must_use]
    pub fn check(&self, report: &Report) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(max) = self.max_errors
            && report.errors > max
        {
            out.push(format!("errors: {} > --max-errors {max}", report.errors));
        }
        let p99_checks: [(Option<f64>, &str, PickP99); 4] = [
            (self.max_connect_p99_ms, "connect", |t| {
                t.connect_ms.as_ref()
            }),
            (self.max_ack_p99_ms, "ack", |t| t.ack_rtt_ms.as_ref()),
            (self.max_delivery_p99_ms, "delivery", |t| {
                t.delivery_ms.as_ref()
            }),
            (self.max_jitter_p99_ms, "jitter", |t| t.jitter_ms.as_ref()),
        ];
        for (budget, what, pick) in p99_checks {
            let Some(max) = budget else { continue };
            for t in &report.transports {
                if let Some(p) = pick(t)
                    && p.p99 > max
                {
                    out.push(format!(
                        "{} {what} p99 {:.2} ms > --max-{what}-p99-ms {max}",
                        t.transport.name(),
                        p.p99
                    ));
                }
            }
        }
        if let (Some(max), Some(rooms)) = (self.max_tick_p99_ms, &report.server_ticks) {
            for room in rooms {
                if let Some(p99) = room.p99_ms
                    && p99 > max
                {
                    out.push(format!(
                        "room {} tick p99 {p99:.3} ms > --max-tick-p99-ms {max}",
                        room.room
                    ));
                }
            }
        }
        out
    }
}

/// Latency percentiles in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
}

impl Percentiles {
    /// From a histogram of microseconds; `None` when it is empty.
    #[must_use]
    pub fn from_micros(h: &Histogram<u64>) -> Option<Percentiles> {
        if h.is_empty() {
            return None;
        }
        let ms = |us: u64| round3(us as f64 / 1000.0);
        Some(Percentiles {
            count: h.len(),
            mean: round3(h.mean() / 1000.0),
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        })
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// What one kind of client saw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransportReport {
    /// Which kind.
    pub transport: Transport,
    /// Clients started.
    pub clients: u64,
    /// Clients that connected at least once.
    pub connected: u64,
    /// Connections made, reconnections included.
    pub connects: u64,
    /// Connect time.
    pub connect_ms: Option<Percentiles>,
    /// Input-to-ack round trip (players).
    pub ack_rtt_ms: Option<Percentiles>,
    /// Snapshot inter-arrival jitter (players).
    pub jitter_ms: Option<Percentiles>,
    /// Logged-event delivery latency (spectators, watchers).
    pub delivery_ms: Option<Percentiles>,
    /// `state` sample delivery latency (SSE spectators).
    pub sample_delivery_ms: Option<Percentiles>,
    /// Bytes received, all clients.
    pub bytes: u64,
    /// Bytes received per second of connection, averaged over clients.
    pub bytes_per_client_per_sec: f64,
    /// Updates received (snapshots, events, samples), all clients.
    pub messages: u64,
    /// Updates per second, all clients.
    pub messages_per_sec: f64,
    /// Bytes on the wire per update received.
    pub bytes_per_message: Option<f64>,
    /// SSE `state` samples among the updates.
    pub samples: u64,
    /// Bytes of those samples' frames.
    pub sample_bytes: u64,
    /// Bytes on the wire per logged event: everything but the samples'
    /// frames, divided by the updates that are not samples.
    pub bytes_per_event: Option<f64>,
    /// HTTP requests made.
    pub requests: u64,
    /// Feeds reset for falling off the event log.
    pub resets: u64,
    /// Players that followed their room to another node.
    pub moves: u64,
    /// Snapshots older than one already applied.
    pub stale: u64,
    /// Errors and unexpected disconnects.
    pub errors: u64,
    /// Errors by reason.
    pub errors_by_reason: BTreeMap<String, u64>,
    /// Of `bytes`, HTTP response heads.
    #[serde(default)]
    pub head_bytes: u64,
    /// Bodies after decompression: over the bodies' wire bytes, the
    /// compression ratio.
    #[serde(default)]
    pub decoded_bytes: u64,
    /// Long-poll answers without an event (the wait ran out).
    #[serde(default)]
    pub empty_answers: u64,
}

impl TransportReport {
    fn build(transport: Transport, stats: &TransportStats, elapsed: Duration) -> TransportReport {
        let c = &stats.counters;
        let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let bytes = load(&c.bytes);
        let messages = load(&c.messages);
        let samples = load(&c.samples);
        let sample_bytes = load(&c.sample_bytes);
        let connected_secs = load(&c.connected_micros) as f64 / 1e6;
        let pct = |m| Percentiles::from_micros(&stats.histogram(m));
        TransportReport {
            transport,
            clients: load(&c.started),
            connected: load(&c.ever_connected),
            connects: load(&c.connects),
            connect_ms: pct(Metric::Connect),
            ack_rtt_ms: pct(Metric::AckRtt),
            jitter_ms: pct(Metric::Jitter),
            delivery_ms: pct(Metric::Delivery),
            sample_delivery_ms: pct(Metric::SampleDelivery),
            bytes,
            bytes_per_client_per_sec: if connected_secs > 0.0 {
                (bytes as f64 / connected_secs).round()
            } else {
                0.0
            },
            messages,
            messages_per_sec: round3(messages as f64 / elapsed.as_secs_f64().max(1e-3)),
            bytes_per_message: (messages > 0).then(|| round3(bytes as f64 / messages as f64)),
            samples,
            sample_bytes,
            bytes_per_event: (messages > samples).then(|| {
                round3(bytes.saturating_sub(sample_bytes) as f64 / (messages - samples) as f64)
            }),
            requests: load(&c.requests),
            resets: load(&c.resets),
            moves: load(&c.moves),
            stale: load(&c.stale),
            errors: load(&c.errors),
            errors_by_reason: stats.reasons(),
            head_bytes: load(&c.head_bytes),
            decoded_bytes: load(&c.decoded_bytes),
            empty_answers: load(&c.empty_answers),
        }
    }
}

/// Tick durations of one room during the run, from the server's metrics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerTicks {
    /// Room id.
    pub room: String,
    /// Ticks observed during the run.
    pub ticks: u64,
    /// Mean tick, ms.
    pub mean_ms: Option<f64>,
    /// Median estimated from the buckets, ms.
    pub p50_ms: Option<f64>,
    /// 99th percentile estimated from the buckets, ms.
    pub p99_ms: Option<f64>,
}

impl ServerTicks {
    /// From a histogram in seconds.
    #[must_use]
    pub fn from_series(room: String, series: &HistogramSeries) -> ServerTicks {
        let ms = |s: f64| (s * 1e6).round() / 1e3;
        ServerTicks {
            room,
            ticks: series.total() as u64,
            mean_ms: series.mean().map(ms),
            p50_ms: series.quantile(0.5).map(ms),
            p99_ms: series.quantile(0.99).map(ms),
        }
    }
}

/// The server process after the warmup, from its `/metrics` (a server
/// the bots did not spawn).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerProcess {
    /// Cores busy on average between the two scrapes.
    pub cpu_cores: f64,
    /// Resident memory at the end, MB (10^6 bytes).
    pub resident_mb: f64,
    /// Highest resident memory of the process's life, MB.
    pub peak_resident_mb: f64,
    /// Open file descriptors at the end.
    pub open_fds: u64,
}

impl ServerProcess {
    /// From the `skirmish_process_*` gauges of two scrapes `window` apart.
    #[must_use]
    pub fn from_scrapes(before: &str, after: &str, window: Duration) -> Option<ServerProcess> {
        let cpu = |text: &str| prom::value(text, names::PROCESS_CPU_SECONDS);
        let mb = |name: &str| prom::value(after, name).map(|b| round3(b / 1e6));
        let cores = (cpu(after)? - cpu(before)?) / window.as_secs_f64().max(1e-3);
        Some(ServerProcess {
            cpu_cores: (cores * 100.0).round() / 100.0,
            resident_mb: mb(names::PROCESS_RESIDENT_BYTES)?,
            peak_resident_mb: mb(names::PROCESS_PEAK_RESIDENT_BYTES)?,
            open_fds: prom::value(after, names::PROCESS_OPEN_FDS)? as u64,
        })
    }
}

/// What was run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The server's base URL.
    pub url: String,
    /// The server ran in this process (and shared its cores with the bots).
    pub spawned: bool,
    /// WebSocket players.
    pub players: u32,
    /// SSE spectators.
    pub spectators: u32,
    /// Long-poll watchers.
    pub pollers: u32,
    /// Long-poll players.
    pub legacy: u32,
    /// Rooms the clients were spread over.
    pub rooms: Vec<String>,
    /// Clients started per second.
    pub ramp: f64,
    /// Planned duration, seconds.
    pub duration_secs: f64,
    /// Long polls and SSE streams accepted gzip.
    pub gzip: bool,
    /// How players kept snapshots.
    pub view: ViewMode,
}

/// Everything a run measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`REPORT_VERSION`].
    pub version: u32,
    /// What was run.
    pub run: RunInfo,
    /// Seconds from the first client's start to the stop.
    pub elapsed_secs: f64,
    /// One entry per kind of client that ran.
    pub transports: Vec<TransportReport>,
    /// Errors, all clients.
    pub errors: u64,
    /// Server tick durations per room; `None` when `/metrics` has none.
    pub server_ticks: Option<Vec<ServerTicks>>,
    /// How late the bots' timers fired (a 10 ms probe): the bots' own
    /// scheduling delay, included in every latency they measure.
    pub bot_lag_ms: Option<Percentiles>,
    /// Cores busy on average during the run: the spawned server's threads
    /// and the bots'; `None` where `/proc` is missing.
    pub cpu: Option<CpuUse>,
    /// The server process (CPU, memory) when the bots did not spawn it;
    /// `None` with `--spawn` or when `/metrics` has no process figures.
    pub server_process: Option<ServerProcess>,
    /// The budgets checked.
    pub budgets: Budgets,
    /// Budgets exceeded; empty when the run passed.
    pub violations: Vec<String>,
    /// The run second by second (the HTML report's charts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<Point>,
    /// Each kind's main latency, bucketed (the HTML report's histograms).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub latency: Vec<LatencyHistogram>,
    /// With `--tls` or `--http-version 2`: the connections the clients
    /// used and the bytes they sent (received bytes are each transport's
    /// `bytes`, counted the same way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsUse>,
}

/// How the clients used TLS connections ([`crate::h2`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TlsUse {
    /// `1.1` or `2`, as ALPN chose.
    pub http_version: String,
    /// Clients of one kind per connection.
    pub clients_per_connection: u32,
    /// TLS connections opened, reconnections included.
    pub connections: u64,
    /// TLS plaintext the clients wrote (requests; HTTP/2 control frames).
    pub sent_bytes: u64,
}

/// Upper bounds, in ms, of the latency histograms' buckets (the last
/// bucket takes everything above the last bound).
pub const LATENCY_BOUNDS_MS: [f64; 13] = [
    1.0, 2.0, 5.0, 10.0, 20.0, 35.0, 50.0, 75.0, 100.0, 200.0, 500.0, 1000.0, 5000.0,
];

/// One kind's main latency as counts per bucket of [`LATENCY_BOUNDS_MS`]:
/// input-to-ack for players, event delivery for watchers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencyHistogram {
    /// Which kind.
    pub transport: Transport,
    /// What was measured (`ack` or `delivery`).
    pub metric: String,
    /// Samples per bucket; one more than the bounds (the overflow).
    pub counts: Vec<u64>,
}

impl LatencyHistogram {
    /// From the recorded histogram of `transport`'s main metric; `None`
    /// when it has no samples.
    #[must_use]
    pub fn build(transport: Transport, stats: &TransportStats) -> Option<LatencyHistogram> {
        let (metric, name) = match transport {
            Transport::WsPlayer | Transport::PollPlayer => (Metric::AckRtt, "ack"),
            Transport::SseSpectator | Transport::PollWatcher => (Metric::Delivery, "delivery"),
        };
        let h = stats.histogram(metric);
        if h.is_empty() {
            return None;
        }
        let mut low = 0;
        let mut counts = Vec::with_capacity(LATENCY_BOUNDS_MS.len() + 1);
        for bound in LATENCY_BOUNDS_MS {
            let high = (bound * 1000.0) as u64;
            counts.push(h.count_between(low, high));
            low = high + 1;
        }
        counts.push(h.count_between(low, h.max().max(low)));
        Some(LatencyHistogram {
            transport,
            metric: name.to_owned(),
            counts,
        })
    }
}

impl Report {
    /// Collects the measurements and checks the budgets.
    #[must_use]
    pub fn build(
        plan: &Plan,
        url: &str,
        spawned: bool,
        stats: &Recorder,
        elapsed: Duration,
        server_ticks: Option<Vec<ServerTicks>>,
        cpu: Option<CpuUse>,
    ) -> Report {
        let transports: Vec<TransportReport> = Transport::ALL
            .iter()
            .map(|&t| TransportReport::build(t, stats.get(t), elapsed))
            .filter(|t| t.clients > 0)
            .collect();
        let mut report = Report {
            version: REPORT_VERSION,
            run: RunInfo {
                url: url.to_owned(),
                spawned,
                players: plan.players,
                spectators: plan.spectators,
                pollers: plan.pollers,
                legacy: plan.legacy,
                rooms: plan.rooms.clone(),
                ramp: plan.ramp,
                duration_secs: plan.duration.as_secs_f64(),
                gzip: plan.gzip,
                view: plan.view,
            },
            elapsed_secs: round3(elapsed.as_secs_f64()),
            errors: transports.iter().map(|t| t.errors).sum(),
            transports,
            server_ticks,
            bot_lag_ms: Percentiles::from_micros(&stats.lag()),
            cpu,
            server_process: None,
            budgets: plan.budgets.clone(),
            violations: Vec::new(),
            timeline: Vec::new(),
            latency: Transport::ALL
                .iter()
                .filter_map(|&t| LatencyHistogram::build(t, stats.get(t)))
                .collect(),
            tls: None,
        };
        report.violations = plan.budgets.check(&report);
        report
    }

    /// Writes the report as pretty JSON.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write_json(&self, path: &std::path::Path) -> Result<(), crate::Error> {
        let json = serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into());
        std::fs::write(path, json + "\n").map_err(|source| crate::Error::Report {
            path: path.display().to_string(),
            source,
        })
    }

    /// True when no budget was exceeded.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }

    /// The report of one kind of client.
    #[must_use]
    pub fn transport(&self, transport: Transport) -> Option<&TransportReport> {
        self.transports.iter().find(|t| t.transport == transport)
    }

    /// The summary table and notes, as printed at the end of a run.
    #[must_use]
    pub fn table(&self) -> String {
        let pair = |p: &Option<Percentiles>| {
            p.as_ref().map_or_else(
                || "-".to_owned(),
                |p| format!("{:.1} / {:.1}", p.p50, p.p99),
            )
        };
        let one = |p: &Option<Percentiles>| {
            p.as_ref()
                .map_or_else(|| "-".to_owned(), |p| format!("{:.1}", p.p99))
        };
        let mut out = format!(
            "{:<14} {:>11} {:>15} {:>15} {:>15} {:>9} {:>10} {:>8} {:>9} {:>6}\n",
            "transport",
            "clients",
            "connect p50/99",
            "ack p50/99",
            "delivery p50/99",
            "jitter99",
            "B/s/client",
            "B/update",
            "updates/s",
            "errors"
        );
        for t in &self.transports {
            out.push_str(&format!(
                "{:<14} {:>11} {:>15} {:>15} {:>15} {:>9} {:>10.0} {:>8} {:>9.0} {:>6}\n",
                t.transport.name(),
                format!("{}/{}", t.connected, t.clients),
                pair(&t.connect_ms),
                pair(&t.ack_rtt_ms),
                pair(&t.delivery_ms),
                one(&t.jitter_ms),
                t.bytes_per_client_per_sec,
                t.bytes_per_message
                    .map_or_else(|| "-".to_owned(), |b| format!("{b:.0}")),
                t.messages_per_sec,
                t.errors
            ));
        }
        out.push_str(&format!(
            "(latencies in ms; {:.1} s; {} error(s))\n",
            self.elapsed_secs, self.errors
        ));
        for t in self.transports.iter().filter(|t| t.samples > 0) {
            out.push_str(&format!(
                "{}: {} state samples of {:.0} B on average; {} B per logged event\n",
                t.transport.name(),
                t.samples,
                t.sample_bytes as f64 / t.samples as f64,
                t.bytes_per_event
                    .map_or_else(|| "-".to_owned(), |b| format!("{b:.0}"))
            ));
        }
        match &self.server_ticks {
            None => {
                out.push_str("server tick: n/a (no skirmish_tick_duration_seconds at /metrics)\n")
            }
            Some(rooms) => {
                for r in rooms {
                    let f =
                        |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"));
                    out.push_str(&format!(
                        "server tick, room {}: {} ticks, mean {} ms, p50 {} ms, p99 {} ms\n",
                        r.room,
                        r.ticks,
                        f(r.mean_ms),
                        f(r.p50_ms),
                        f(r.p99_ms)
                    ));
                }
            }
        }
        if let Some(tls) = &self.tls {
            out.push_str(&format!(
                "over TLS, HTTP/{} ({} client(s) per connection): {} connection(s), {} B sent\n",
                tls.http_version, tls.clients_per_connection, tls.connections, tls.sent_bytes
            ));
        }
        if let Some(lag) = &self.bot_lag_ms {
            out.push_str(&format!(
                "bot timer lag: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms\n",
                lag.p50, lag.p99, lag.max
            ));
            if lag.p99 > OVERLOADED_LAG_P99_MS {
                out.push_str(
                    "WARNING: the bots were overloaded (timer lag p99 over 10 ms): latencies and errors above measure the bots as much as the server; use fewer bots, --view ticks, or another machine\n",
                );
            }
        }
        if let Some(cpu) = &self.cpu {
            let ours = cpu.bots_cores + cpu.server_cores.unwrap_or(0.0);
            let others = cpu.machine_busy_cores.map_or_else(String::new, |busy| {
                format!(", other processes {:.2} cores", (busy - ours).max(0.0))
            });
            let server = cpu
                .server_cores
                .map_or_else(String::new, |s| format!("server {s:.2} cores, "));
            out.push_str(&format!(
                "cpu: {server}bots {:.2} cores{others}, of {} on this machine\n",
                cpu.bots_cores, cpu.machine_cores
            ));
        }
        if let Some(p) = &self.server_process {
            out.push_str(&format!(
                "server process: {:.2} cores, {:.1} MB resident (peak {:.1} MB), {} open fds\n",
                p.cpu_cores, p.resident_mb, p.peak_resident_mb, p.open_fds
            ));
        }
        for t in &self.transports {
            for (reason, n) in &t.errors_by_reason {
                out.push_str(&format!("error {}: {reason} x{n}\n", t.transport.name()));
            }
        }
        if self.passed() {
            out.push_str("budgets: ok\n");
        } else {
            for v in &self.violations {
                out.push_str(&format!("BUDGET EXCEEDED: {v}\n"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pct(p99: f64) -> Percentiles {
        Percentiles {
            count: 10,
            mean: p99 / 2.0,
            p50: p99 / 2.0,
            p90: p99,
            p99,
            p999: p99,
            max: p99,
        }
    }

    fn transport(kind: Transport, errors: u64) -> TransportReport {
        TransportReport {
            transport: kind,
            clients: 2,
            connected: 2,
            connects: 2,
            connect_ms: Some(pct(3.0)),
            ack_rtt_ms: None,
            jitter_ms: None,
            delivery_ms: None,
            sample_delivery_ms: None,
            bytes: 0,
            bytes_per_client_per_sec: 0.0,
            messages: 0,
            messages_per_sec: 0.0,
            bytes_per_message: None,
            samples: 0,
            sample_bytes: 0,
            bytes_per_event: None,
            requests: 0,
            resets: 0,
            moves: 0,
            stale: 0,
            errors,
            errors_by_reason: BTreeMap::new(),
            head_bytes: 0,
            decoded_bytes: 0,
            empty_answers: 0,
        }
    }

    fn report() -> Report {
        let mut ws = transport(Transport::WsPlayer, 1);
        ws.ack_rtt_ms = Some(pct(40.0));
        ws.jitter_ms = Some(pct(5.0));
        let mut sse = transport(Transport::SseSpectator, 2);
        sse.delivery_ms = Some(pct(2.0));
        Report {
            version: REPORT_VERSION,
            run: RunInfo {
                url: "http://127.0.0.1:1/".into(),
                spawned: true,
                players: 2,
                spectators: 2,
                pollers: 0,
                legacy: 0,
                rooms: vec!["main".into()],
                ramp: 10.0,
                duration_secs: 1.0,
                gzip: false,
                view: ViewMode::Full,
            },
            elapsed_secs: 1.0,
            transports: vec![ws, sse],
            errors: 3,
            server_ticks: Some(vec![ServerTicks {
                room: "main".into(),
                ticks: 30,
                mean_ms: Some(0.2),
                p50_ms: Some(0.2),
                p99_ms: Some(0.9),
            }]),
            bot_lag_ms: None,
            cpu: None,
            server_process: None,
            budgets: Budgets::default(),
            violations: Vec::new(),
            timeline: Vec::new(),
            latency: Vec::new(),
            tls: None,
        }
    }

    #[test]
    fn no_budget_means_a_pass() {
        assert!(Budgets::default().check(&report()).is_empty());
    }

    #[test]
    fn each_budget_is_checked_against_the_transports_that_measure_it() {
        let within = Budgets {
            max_errors: Some(3),
            max_connect_p99_ms: Some(3.0),
            max_ack_p99_ms: Some(40.0),
            max_delivery_p99_ms: Some(2.0),
            max_jitter_p99_ms: Some(5.0),
            max_tick_p99_ms: Some(0.9),
        };
        assert_eq!(within.check(&report()), Vec::<String>::new());
        let tight = Budgets {
            max_errors: Some(2),
            max_connect_p99_ms: Some(2.5),
            max_ack_p99_ms: Some(39.0),
            max_delivery_p99_ms: Some(1.0),
            max_jitter_p99_ms: Some(4.0),
            max_tick_p99_ms: Some(0.5),
        };
        let violations = tight.check(&report());
        assert_eq!(
            violations,
            vec![
                "errors: 3 > --max-errors 2",
                "ws-player connect p99 3.00 ms > --max-connect-p99-ms 2.5",
                "sse-spectator connect p99 3.00 ms > --max-connect-p99-ms 2.5",
                "ws-player ack p99 40.00 ms > --max-ack-p99-ms 39",
                "sse-spectator delivery p99 2.00 ms > --max-delivery-p99-ms 1",
                "ws-player jitter p99 5.00 ms > --max-jitter-p99-ms 4",
                "room main tick p99 0.900 ms > --max-tick-p99-ms 0.5",
            ]
        );
    }

    #[test]
    fn a_server_without_tick_metrics_passes_the_tick_budget() {
        let mut r = report();
        r.server_ticks = None;
        let budgets = Budgets {
            max_tick_p99_ms: Some(0.001),
            ..Budgets::default()
        };
        assert!(budgets.check(&r).is_empty());
        assert!(r.table().contains("server tick: n/a"));
    }

    #[test]
    fn percentiles_come_out_in_milliseconds() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("bounds");
        for us in 1..=1000 {
            h.record(us * 1000).expect("in range");
        }
        let p = Percentiles::from_micros(&h).expect("samples");
        assert_eq!(p.count, 1000);
        assert!((p.p50 - 500.0).abs() < 1.0, "{p:?}");
        assert!((p.p99 - 990.0).abs() < 1.0, "{p:?}");
        assert!(Percentiles::from_micros(&Histogram::<u64>::new(3).expect("h")).is_none());
    }

    #[test]
    fn server_process_comes_from_two_scrapes() {
        let before = "skirmish_process_cpu_seconds 10.0\nskirmish_process_resident_bytes 1\n";
        let after = "# HELP x\nskirmish_process_cpu_seconds 13.0\n\
                     skirmish_process_resident_bytes 31500000\n\
                     skirmish_process_peak_resident_bytes 40000000\n\
                     skirmish_process_open_fds 517\n";
        let p =
            ServerProcess::from_scrapes(before, after, Duration::from_secs(10)).expect("figures");
        assert_eq!(p.cpu_cores, 0.3);
        assert_eq!(p.resident_mb, 31.5);
        assert_eq!(p.peak_resident_mb, 40.0);
        assert_eq!(p.open_fds, 517);
        assert_eq!(
            ServerProcess::from_scrapes("", after, Duration::from_secs(1)),
            None
        );
    }
}
