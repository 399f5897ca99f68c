//! Everything the clients measure, shared by all of them: live counters
//! (atomics, read by the progress bar) and HDR histograms per transport.
//!
//! A histogram is behind a short `parking_lot` mutex taken for one
//! `record` at a time, never across an await: thousands of clients
//! recording a few dozen values a second each contend far less than one
//! histogram per client would cost in memory (each is ~100 KiB at three
//! significant figures).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// The kinds of clients, one per transport and role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// Players over the binary WebSocket.
    WsPlayer,
    /// Spectators reading a room's SSE feed.
    SseSpectator,
    /// Watchers long-polling a room's log.
    PollWatcher,
    /// Players over long polling (join, input, state).
    PollPlayer,
}

impl Transport {
    /// Every kind, in report order.
    pub const ALL: [Transport; 4] = [
        Transport::WsPlayer,
        Transport::SseSpectator,
        Transport::PollWatcher,
        Transport::PollPlayer,
    ];

    /// The name used in tables and reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Transport::WsPlayer => "ws-player",
            Transport::SseSpectator => "sse-spectator",
            Transport::PollWatcher => "poll-watcher",
            Transport::PollPlayer => "poll-player",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What a histogram measures. Every value is recorded in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Start of the connection until the client is in (Welcome, the first
    /// snapshot event or answer, the join answer).
    Connect,
    /// Input sequence N sent until the first snapshot with
    /// `last_input >= N` (players).
    AckRtt,
    /// |snapshot inter-arrival - 1/tick_hz| (players).
    Jitter,
    /// Receive time minus the event's `time` stamp, for logged events
    /// (spectators and watchers). Millisecond resolution.
    Delivery,
    /// The same for SSE `state` samples (latest-wins, not logged).
    SampleDelivery,
}

impl Metric {
    const COUNT: usize = 5;

    fn index(self) -> usize {
        self as usize
    }
}

/// Live counters of one transport.
#[derive(Debug, Default)]
pub struct Counters {
    /// Clients started.
    pub started: AtomicU64,
    /// Clients connected right now.
    pub connected: AtomicU64,
    /// Clients that connected at least once.
    pub ever_connected: AtomicU64,
    /// Successful connections, reconnections included.
    pub connects: AtomicU64,
    /// Bytes received, framing and HTTP heads included.
    pub bytes: AtomicU64,
    /// Updates received: snapshots, events, state samples.
    pub messages: AtomicU64,
    /// Of `messages`, SSE `state` samples (latest-wins positions, not
    /// logged events).
    pub samples: AtomicU64,
    /// Bytes of those samples' frames.
    pub sample_bytes: AtomicU64,
    /// HTTP requests made (HTTP transports).
    pub requests: AtomicU64,
    /// Feeds that fell off the event log and got a `reset`.
    pub resets: AtomicU64,
    /// Players whose room moved to another node (`ServerMsg::Moved`, a
    /// rolling deploy) and who resumed there.
    pub moves: AtomicU64,
    /// Snapshots older than one already applied (ignored).
    pub stale: AtomicU64,
    /// Errors and unexpected disconnects.
    pub errors: AtomicU64,
    /// Total time clients were connected, in microseconds.
    pub connected_micros: AtomicU64,
    /// Of `bytes`, HTTP response heads.
    pub head_bytes: AtomicU64,
    /// Bodies after decompression (equal to the bodies' wire bytes when
    /// nothing was compressed), for the compression ratio.
    pub decoded_bytes: AtomicU64,
    /// Long-poll answers that carried no event (the wait ran out).
    pub empty_answers: AtomicU64,
}

/// Everything measured about one transport.
#[derive(Debug)]
pub struct TransportStats {
    /// Live counters.
    pub counters: Counters,
    histograms: Mutex<Vec<Histogram<u64>>>,
    reasons: Mutex<BTreeMap<String, u64>>,
}

/// Largest value a histogram keeps: one hour in microseconds. Larger
/// values are clamped to it.
const HIST_MAX_MICROS: u64 = 3_600_000_000;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_MICROS, 3)
        .unwrap_or_else(|_| unreachable!("constant bounds are valid"))
}

impl TransportStats {
    fn new() -> TransportStats {
        TransportStats {
            counters: Counters::default(),
            histograms: Mutex::new((0..Metric::COUNT).map(|_| histogram()).collect()),
            reasons: Mutex::default(),
        }
    }

    /// Records a duration.
    pub fn record(&self, metric: Metric, value: Duration) {
        self.record_micros(metric, u64::try_from(value.as_micros()).unwrap_or(u64::MAX));
    }

    /// Records a value in microseconds.
    pub fn record_micros(&self, metric: Metric, micros: u64) {
        self.histograms.lock()[metric.index()].saturating_record(micros);
    }

    /// Counts an error by reason.
    pub fn error(&self, reason: impl Into<String>) {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        *self.reasons.lock().entry(reason.into()).or_default() += 1;
    }

    /// Adds received bytes.
    pub fn bytes(&self, n: u64) {
        self.counters.bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts received updates.
    pub fn messages(&self, n: u64) {
        self.counters.messages.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds the bytes of an HTTP response head (also counted in `bytes`).
    pub fn head(&self, n: u64) {
        self.counters.head_bytes.fetch_add(n, Ordering::Relaxed);
        self.bytes(n);
    }

    /// Adds body bytes as decoded.
    pub fn decoded(&self, n: u64) {
        self.counters.decoded_bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts one HTTP request.
    pub fn request(&self) {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// A copy of one histogram.
    #[must_use]
    pub fn histogram(&self, metric: Metric) -> Histogram<u64> {
        self.histograms.lock()[metric.index()].clone()
    }

    /// Errors by reason.
    #[must_use]
    pub fn reasons(&self) -> BTreeMap<String, u64> {
        self.reasons.lock().clone()
    }
}

/// The measurements of a whole run.
#[derive(Debug)]
pub struct Recorder {
    transports: [TransportStats; 4],
    /// How late the bots' runtime wakes a timer: when this grows, the bots
    /// are overloaded and measure themselves rather than the server.
    lag: Mutex<Histogram<u64>>,
}

impl Default for Recorder {
    fn default() -> Recorder {
        Recorder {
            transports: std::array::from_fn(|_| TransportStats::new()),
            lag: Mutex::new(histogram()),
        }
    }
}

impl Recorder {
    /// Records how late a timer fired.
    pub fn record_lag(&self, late: Duration) {
        self.lag
            .lock()
            .saturating_record(u64::try_from(late.as_micros()).unwrap_or(u64::MAX));
    }

    /// A copy of the timer-lag histogram.
    #[must_use]
    pub fn lag(&self) -> Histogram<u64> {
        self.lag.lock().clone()
    }

    /// The stats of one transport.
    #[must_use]
    pub fn get(&self, transport: Transport) -> &TransportStats {
        &self.transports[transport.index()]
    }

    /// Sum of one counter over all transports.
    #[must_use]
    pub fn total(&self, counter: impl Fn(&Counters) -> &AtomicU64) -> u64 {
        self.transports
            .iter()
            .map(|t| counter(&t.counters).load(Ordering::Relaxed))
            .sum()
    }
}

/// Marks one client as connected while it lives: counts the connection and
/// adds its connected time when dropped.
#[derive(Debug)]
pub struct Connected {
    stats: Arc<Recorder>,
    transport: Transport,
    since: Instant,
}

impl Connected {
    /// Counts a new connection of `transport`; `first` when it is this
    /// client's first.
    #[must_use]
    pub fn new(stats: Arc<Recorder>, transport: Transport, first: bool) -> Connected {
        let c = &stats.get(transport).counters;
        c.connected.fetch_add(1, Ordering::Relaxed);
        c.connects.fetch_add(1, Ordering::Relaxed);
        if first {
            c.ever_connected.fetch_add(1, Ordering::Relaxed);
        }
        Connected {
            stats,
            transport,
            since: Instant::now(),
        }
    }
}

impl Drop for Connected {
    fn drop(&mut self) {
        let c = &self.stats.get(self.transport).counters;
        c.connected.fetch_sub(1, Ordering::Relaxed);
        let micros = u64::try_from(self.since.elapsed().as_micros()).unwrap_or(u64::MAX);
        c.connected_micros.fetch_add(micros, Ordering::Relaxed);
    }
}
