//! The cluster ticker's writer: every node's score changes go into one
//! ticker in Redis, whose ids the `ticker_append` script allocates, so
//! they are contiguous across the cluster.
//!
//! The node's [`Ticker`](crate::room::ticker::Ticker) hands each room's
//! score changes of a tick, and this node's board after them, to its
//! [`TickerSink`], which only `try_send`s them into one bounded queue: a
//! room task never awaits Redis and never blocks on it. One writer task
//! drains the queue and sends what it drained as one script call (the
//! events in queue order, this node's newest top lines, and a board
//! refresh if one was queued).
//!
//! Score events are at most once in the cluster ticker: one dropped at a
//! full queue, or in a call that failed, is not logged (a call that timed
//! out may have run, and a retry would log it twice under new ids). Every
//! node sends its re-derived top lines each `--ticker-board-secs`, so the
//! board is whole again after the next refresh of the node that lost them,
//! which logs a `board` event if the board it derives differs. This module
//! never reads the ticker: its follower does (`ticker_follower.rs`).

use std::sync::Arc;
use std::time::Duration;

use redis::Value;
use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::directory::RedisDirectory;
use super::keys::TICKER_FEED;
use super::redis::{ClusterError, SCRIPTS};
use crate::metrics::{Metrics, TickerScore};
use crate::room::event_log::to_json;
use crate::room::feed::ScoreLine;
use crate::room::ticker::{self, ScoreChange, ScoreSink};

/// Jobs the queue holds. A room queues at most one job per tick with
/// scores, and the board task one per refresh: with 30 rooms scoring on
/// every tick, this is a second of them. Past it, jobs are dropped
/// (counted in `skirmish_ticker_scores_total{outcome="overflow"}`).
const QUEUE: usize = 1024;

/// Jobs merged into one script call: bounds the script's run time (it
/// folds each score into a board of `--ticker-top` lines) and its
/// arguments.
const DRAIN: usize = 256;

/// How long the ticker's keys live without a write. Every node refreshes
/// them each `--ticker-board-secs`, so they expire only when no node is
/// left; the ticker then starts again at the floor.
const TICKER_TTL: Duration = Duration::from_secs(600);

/// One queued job.
#[derive(Debug)]
enum Job {
    /// A room's score events of one tick (each its `score` payload and
    /// whether the scorer is a bot), and this node's top lines after them.
    Scored {
        scores: Vec<(Box<RawValue>, bool)>,
        lines: Box<RawValue>,
    },
    /// This node's top lines, re-derived from its rooms.
    Refreshed { lines: Box<RawValue> },
}

impl Job {
    fn scores(&self) -> usize {
        match self {
            Job::Scored { scores, .. } => scores.len(),
            Job::Refreshed { .. } => 0,
        }
    }
}

/// The ticker's sink in cluster mode: queues for the writer.
#[derive(Debug)]
pub struct TickerSink {
    tx: mpsc::Sender<Job>,
    metrics: Arc<Metrics>,
}

/// `lines` as board lines, JSON.
fn lines_json(lines: &[ScoreLine]) -> Box<RawValue> {
    to_json(&ticker::board(lines).top)
}

impl TickerSink {
    fn queue(&self, job: Job) {
        let scores = job.scores();
        if self.tx.try_send(job).is_err() {
            self.metrics.ticker_scores(TickerScore::Overflow, scores);
        } else {
            self.metrics.ticker_writer_backlog.inc();
        }
    }
}

impl ScoreSink for TickerSink {
    fn scored(&self, changes: &[ScoreChange], board: &[ScoreLine]) {
        let scores = changes
            .iter()
            .map(|c| (to_json(&c.event), c.line.bot))
            .collect();
        self.queue(Job::Scored {
            scores,
            lines: lines_json(board),
        });
    }

    fn refreshed(&self, board: &[ScoreLine]) {
        self.queue(Job::Refreshed {
            lines: lines_json(board),
        });
    }
}

/// The writer task.
#[derive(Debug)]
pub struct TickerWriter {
    directory: Arc<RedisDirectory>,
    rx: mpsc::Receiver<Job>,
    /// Entries the ticker's stream keeps (approximately, at least).
    capacity: usize,
    /// Lines on the board.
    top: usize,
    metrics: Arc<Metrics>,
}

impl TickerWriter {
    /// A writer for a ticker keeping `capacity` entries with a board of
    /// `top` lines, and the sink to give the node's ticker.
    #[must_use]
    pub fn new(
        directory: Arc<RedisDirectory>,
        capacity: usize,
        top: usize,
        metrics: Arc<Metrics>,
    ) -> (TickerWriter, Arc<TickerSink>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let sink = Arc::new(TickerSink {
            tx,
            metrics: metrics.clone(),
        });
        let writer = TickerWriter {
            directory,
            rx,
            capacity,
            top: top.max(1),
            metrics,
        };
        (writer, sink)
    }

    /// Runs until shutdown (then writes what is queued, once).
    pub async fn run(mut self, shutdown: CancellationToken) {
        loop {
            let mut jobs = Vec::new();
            tokio::select! {
                n = self.rx.recv_many(&mut jobs, DRAIN) => {
                    if n == 0 {
                        return;
                    }
                    // Rooms of one tick phase score together, and the
                    // first one's job woke us: let the rest queue before
                    // the call, so one call carries the phase's scores
                    // (a call's fixed cost, the board read and written
                    // back, was most of what the ticker cost Redis).
                    tokio::task::yield_now().await;
                    while jobs.len() < DRAIN && let Ok(job) = self.rx.try_recv() {
                        jobs.push(job);
                    }
                }
                () = shutdown.cancelled() => {
                    while jobs.len() < DRAIN && let Ok(job) = self.rx.try_recv() {
                        jobs.push(job);
                    }
                    self.write(jobs).await;
                    return;
                }
            }
            self.write(jobs).await;
        }
    }

    /// One script call for a drained set of jobs.
    async fn write(&self, jobs: Vec<Job>) {
        if jobs.is_empty() {
            return;
        }
        self.metrics
            .ticker_writer_backlog
            .dec_by(i64::try_from(jobs.len()).unwrap_or(i64::MAX));
        let mut scores = Vec::new();
        let mut lines = None;
        let mut refresh = false;
        for job in jobs {
            match job {
                Job::Scored {
                    scores: mut s,
                    lines: l,
                } => {
                    scores.append(&mut s);
                    lines = Some(l);
                }
                Job::Refreshed { lines: l } => {
                    refresh = true;
                    lines = Some(l);
                }
            }
        }
        let Some(lines) = lines else { return };
        let dir = &self.directory;
        let keys = dir.keys();
        let mut call = SCRIPTS.ticker_append.prepare_invoke();
        call.key(keys.feed(TICKER_FEED))
            .key(keys.log(TICKER_FEED))
            .key(keys.board())
            .arg(keys.prefix())
            .arg(dir.fence())
            .arg(self.capacity)
            .arg(u64::try_from(TICKER_TTL.as_millis()).unwrap_or(u64::MAX))
            .arg(keys.events_channel(TICKER_FEED))
            .arg(self.top)
            .arg(lines.get())
            .arg(if refresh { "1" } else { "0" })
            .arg(scores.len());
        for (data, bot) in &scores {
            call.arg(data.get()).arg(if *bot { "1" } else { "0" });
        }
        let mut conn = dir.link().conn();
        let reply: Result<Vec<Value>, ClusterError> = dir
            .link()
            .call("ticker_append", call.invoke_async(&mut conn))
            .await;
        let outcome = match reply.as_deref() {
            Ok([Value::BulkString(tag), ..]) if tag == b"ok" => TickerScore::Written,
            Ok(other) => {
                warn!(reply = ?other, "ticker append: unexpected answer");
                TickerScore::Failed
            }
            Err(err) => {
                debug!(%err, scores = scores.len(), "ticker append failed; its scores are not logged");
                TickerScore::Failed
            }
        };
        self.metrics.ticker_scores(outcome, scores.len());
    }
}
