//! The record writer: rooms hand finished rounds to a bounded queue with
//! `try_send` ([`RoundSink::submit`], never blocking a tick), and one task
//! writes them in batches. While the database is slow or down the batch in
//! hand is retried with backoff and new rounds wait in the queue; past
//! `--db-backlog` they are dropped and counted. Each episode (the queue
//! overflowing, the database failing) is logged once when it starts and
//! once when it ends. Never awaited by a room.
//!
//! Replays ride with their rounds: the writer encodes them (JSON, zlib) on
//! the blocking pool before the transaction, and deletes replays past
//! their retention (`--replay-retention-days`, `--max-replays`) between
//! batches.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument as _, error, info, info_span, warn};

use super::record::RoundRecord;
use super::replay::{self, ReplayData};
use super::{StorageError, Store};
use crate::metrics::{DbRound, Metrics};

/// Rounds written in one transaction at most: a backlog drains in a few
/// large transactions, and one transaction never grows without bound.
const MAX_BATCH: usize = 64;

/// First and longest wait between two attempts while the database fails.
const BACKOFF_MIN: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// How long the queue may take to reach the database at shutdown; what is
/// still unwritten then is lost (and logged).
const FINAL_FLUSH: Duration = Duration::from_secs(5);

/// Rounds waiting in the queue with their replay at most. A replay holds
/// its round's log entries and samples until it is encoded (about 1 MB
/// for a 3-minute round of 8 ships), so while the database is away only
/// this many keep theirs: later rounds are queued without one (a `WARN`
/// each), which bounds the memory a long outage costs to about this many
/// megabytes.
pub const MAX_QUEUED_REPLAYS: usize = 64;

/// How often replays older than `--replay-retention-days` are deleted
/// (and once at start): the age limit needs no finer grain, and each run
/// is one indexed delete.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Which replays the writer deletes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    /// Replays of matches that ended longer ago than this
    /// (`--replay-retention-days`); `None` keeps them.
    pub max_age_ms: Option<i64>,
    /// All but the newest this many (`--max-replays`), checked after every
    /// batch that stored a replay; `None`: no cap.
    pub max_replays: Option<u64>,
}

/// Where rooms hand finished rounds. Cheap to clone.
#[derive(Clone, Debug)]
pub struct RoundSink {
    /// Bounded by `--db-backlog`: the rounds a database outage may hold.
    tx: mpsc::Sender<RoundRecord>,
    metrics: Arc<Metrics>,
    /// Set while the queue overflows, so the episode is logged once.
    overflowing: Arc<AtomicBool>,
    /// Queued rounds holding a replay not yet written, at most
    /// [`MAX_QUEUED_REPLAYS`].
    replays: Arc<AtomicUsize>,
}

impl RoundSink {
    /// Queues a finished round; never waits. A full queue drops it; past
    /// [`MAX_QUEUED_REPLAYS`] waiting replays, it goes without its replay.
    pub fn submit(&self, mut round: RoundRecord) {
        if round.replay.is_some()
            && self.replays.fetch_add(1, Ordering::Relaxed) >= MAX_QUEUED_REPLAYS
        {
            self.replays.fetch_sub(1, Ordering::Relaxed);
            round.replay = None;
            warn!(room = %round.room, round = round.round,
                "replay backlog full (the database is behind): the round is queued without its replay");
        }
        let replay = round.replay.is_some();
        match self.tx.try_send(round) {
            Ok(()) => {
                self.metrics.db_backlog.inc();
            }
            Err(TrySendError::Full(round)) => {
                if replay {
                    self.replays.fetch_sub(1, Ordering::Relaxed);
                }
                self.metrics.db_rounds(DbRound::Dropped, 1);
                if !self.overflowing.swap(true, Ordering::Relaxed) {
                    warn!(
                        room = %round.room,
                        round = round.round,
                        "record backlog full (--db-backlog): finished rounds are being dropped"
                    );
                }
            }
            // The writer has stopped: the server is shutting down.
            Err(TrySendError::Closed(_)) => {}
        }
    }
}

/// Starts the writer task over `store`; rounds go through the sink.
pub fn start(
    store: Arc<dyn Store>,
    retention: Retention,
    backlog: usize,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    tracker: &TaskTracker,
) -> RoundSink {
    let (tx, rx) = mpsc::channel(backlog.max(1));
    let overflowing = Arc::new(AtomicBool::new(false));
    let replays = Arc::new(AtomicUsize::new(0));
    let writer = Writer {
        replays: replays.clone(),
        store,
        rx,
        metrics: metrics.clone(),
        overflowing: overflowing.clone(),
        failing: false,
        retention,
    };
    tracker.spawn(writer.run(shutdown).instrument(info_span!("record_writer")));
    RoundSink {
        tx,
        metrics,
        overflowing,
        replays,
    }
}

struct Writer {
    store: Arc<dyn Store>,
    rx: mpsc::Receiver<RoundRecord>,
    metrics: Arc<Metrics>,
    overflowing: Arc<AtomicBool>,
    /// The database failed the last attempt (logged once per episode).
    failing: bool,
    retention: Retention,
    /// The sink's count of queued replays, released as rounds are done.
    replays: Arc<AtomicUsize>,
}

impl Writer {
    async fn run(mut self, shutdown: CancellationToken) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut backoff = BACKOFF_MIN;
        let mut prune = tokio::time::interval(PRUNE_EVERY);
        prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if batch.is_empty() {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    _ = prune.tick(), if self.retention.max_age_ms.is_some() => {
                        self.prune(true).await;
                        continue;
                    }
                    n = self.rx.recv_many(&mut batch, MAX_BATCH) => if n == 0 { break },
                }
            }
            let replays = batch.iter().any(|round| round.replay.is_some());
            if self.write(&mut batch).await {
                backoff = BACKOFF_MIN;
                if replays && self.retention.max_replays.is_some() {
                    self.prune(false).await;
                }
                continue;
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
        self.flush(batch).await;
        self.store.close().await;
    }

    /// One attempt at `batch`; true when it is done with (written, or
    /// refused round by round), false to retry it later.
    async fn write(&mut self, batch: &mut Vec<RoundRecord>) -> bool {
        let unstored = encode_replays(batch).await;
        self.replays.fetch_sub(unstored, Ordering::Relaxed);
        let replays = batch.iter().filter(|round| round.replay.is_some()).count();
        match self.store.write_rounds(batch).await {
            Ok(()) => {
                self.written(batch.len());
                batch.clear();
                self.replays.fetch_sub(replays, Ordering::Relaxed);
                true
            }
            Err(StorageError::Refused(why)) => {
                self.replays.fetch_sub(replays, Ordering::Relaxed);
                // Something in the batch the database will never take:
                // write the rounds one by one so only that one is lost.
                self.metrics.db_errors.inc();
                for round in batch.drain(..) {
                    match self.store.write_rounds(std::slice::from_ref(&round)).await {
                        Ok(()) => self.written(1),
                        Err(err) => {
                            self.metrics.db_errors.inc();
                            self.metrics.db_backlog.dec();
                            self.metrics.db_rounds(DbRound::Dropped, 1);
                            error!(room = %round.room, round = round.round, %err, batch_error = %why,
                                "the database refused a round; it is dropped");
                        }
                    }
                }
                true
            }
            Err(err) => {
                self.metrics.db_errors.inc();
                if !self.failing {
                    self.failing = true;
                    warn!(%err, waiting = batch.len() + self.rx.len(),
                        "cannot write finished rounds; they wait and are retried (play goes on)");
                }
                false
            }
        }
    }

    /// Deletes replays past their retention: by age when `by_age`, else
    /// past the count. A failure is logged and retried at the next chance.
    async fn prune(&mut self, by_age: bool) {
        let retention = self.retention;
        let before = if by_age {
            retention
                .max_age_ms
                .map(|age| crate::room::record::unix_ms().saturating_sub(age))
        } else {
            None
        };
        match self
            .store
            .prune_replays(before, retention.max_replays)
            .await
        {
            Ok(0) => {}
            Ok(deleted) => info!(deleted, "replays past their retention deleted"),
            Err(err) => {
                self.metrics.db_errors.inc();
                warn!(%err, "cannot delete old replays; retried later");
            }
        }
    }

    fn written(&mut self, n: usize) {
        let n64 = u64::try_from(n).unwrap_or(u64::MAX);
        self.metrics.db_rounds(DbRound::Written, n64);
        self.metrics
            .db_backlog
            .dec_by(i64::try_from(n).unwrap_or(i64::MAX));
        if self.failing {
            self.failing = false;
            info!(
                waiting = self.rx.len(),
                "database back: writing the backlog"
            );
        }
        if self.overflowing.swap(false, Ordering::Relaxed) {
            info!("record backlog has room again");
        }
    }

    /// At shutdown: whatever is queued gets one bounded last chance.
    async fn flush(&mut self, mut batch: Vec<RoundRecord>) {
        self.rx.close();
        while let Some(round) = self.rx.recv().await {
            batch.push(round);
        }
        if batch.is_empty() {
            return;
        }
        let last = async {
            while !batch.is_empty() {
                let take = batch.len().min(MAX_BATCH);
                let mut chunk: Vec<RoundRecord> = batch.drain(..take).collect();
                while !self.write(&mut chunk).await {
                    tokio::time::sleep(BACKOFF_MIN).await;
                }
            }
        };
        if tokio::time::timeout(FINAL_FLUSH, last).await.is_err() {
            error!(
                "shutdown: the database did not take the last finished rounds within {FINAL_FLUSH:?}; they are lost"
            );
        }
    }
}

/// Encodes the batch's captured replays on the blocking pool (a few
/// milliseconds of CPU each), once: a retried batch holds them encoded. A
/// replay that cannot be encoded (too large) is dropped; its round is
/// written without it. Returns how many replays were dropped so.
async fn encode_replays(batch: &mut [RoundRecord]) -> usize {
    let captured: Vec<_> = batch
        .iter()
        .enumerate()
        .filter_map(|(i, round)| match &round.replay {
            Some(ReplayData::Captured(capture)) => Some((i, capture.clone())),
            _ => None,
        })
        .collect();
    if captured.is_empty() {
        return 0;
    }
    let mut dropped = 0;
    let encoded = tokio::task::spawn_blocking(move || {
        captured
            .into_iter()
            .map(|(i, capture)| (i, replay::encode(&capture)))
            .collect::<Vec<_>>()
    })
    .await;
    let Ok(encoded) = encoded else {
        error!("replay encoding failed; the rounds are written without them");
        for round in batch.iter_mut() {
            if matches!(round.replay, Some(ReplayData::Captured(_))) {
                round.replay = None;
                dropped += 1;
            }
        }
        return dropped;
    };
    for (i, result) in encoded {
        let round = &mut batch[i];
        round.replay = match result {
            Ok(replay) => Some(ReplayData::Encoded(Arc::new(replay))),
            Err(err) => {
                warn!(room = %round.room, round = round.round, %err, "replay not stored");
                dropped += 1;
                None
            }
        };
    }
    dropped
}
