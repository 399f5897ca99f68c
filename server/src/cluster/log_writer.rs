//! The log writer: copies every local room's event log to Redis, so other
//! nodes' followers can serve its spectators and pollers.
//!
//! A room's log hands each append to its [`RoomReplica`], which only
//! `try_send`s it into one bounded queue per node: the room task never
//! awaits Redis and never blocks on it. One writer task drains the queue
//! and sends every room's batch of a round in one `append` script call
//! (per room: fence check, `XADD` with the log's own ids, head and
//! snapshot, `PUBLISH`, in one atomic step), which answers each room on
//! its own (written, fenced or failed). What a small call costs Redis is
//! mostly the call, not the room, so one call per round instead of one
//! per room. A call carries at most [`CALL_ROOMS`] rooms and
//! [`CALL_BYTES`] bytes; a larger round's calls go out in one pipeline.
//! A round holds what queued while the last one was in flight, and what
//! the rooms of the tick phase that woke the writer append before it runs
//! again ([`crate::room::clock`]): rooms tick in a few shared phases, so
//! one round carries a phase's rooms, not one room (docs/benchmarks.md).
//! The rooms of one call share one Redis: Redis Cluster, which shards keys
//! by slot, would refuse it (see `lua/append.lua`).
//!
//! The room's in-memory log stays the truth. When a batch cannot follow on
//! what the writer last wrote (the queue overflowed, a call failed, Redis
//! lost data), the writer resends what the room's ring still holds after
//! that point; when the ring no longer holds it, the batch goes out with
//! its true predecessor id anyway, and followers, finding the chain
//! broken, start over and give their readers `reset`. Never a wrong event.
//! A fenced answer (another live node owns the room id) is logged and
//! counted; what follows from it is issue 16's.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use redis::Value;
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::directory::RedisDirectory;
use super::redis::SCRIPTS;
use crate::metrics::{LogBatch, Metrics};
use crate::room::event_log::{Appended, EventLog, LogEntry, Read, Replica};
use crate::room::registry::ReplicaFactory;

/// Batches the queue holds. A tick appends at most one batch per room, so
/// this is about four seconds of 30 Hz ticks for 30 busy rooms; past it
/// batches are dropped (counted) and resent from the rooms' rings.
const QUEUE: usize = 4096;

/// Batches taken from the queue per round of script calls: bounds the
/// memory of one round.
const DRAIN: usize = 512;

/// Rooms one `append` call carries at most. A script holds Redis for its
/// whole run, every other client waiting: a room of a few events costs
/// it 10 to 20 µs, so a call of 128 rooms about 2 ms. A round of more
/// rooms goes out in several calls, in one pipeline still.
const CALL_ROOMS: usize = 128;

/// JSON bytes one `append` call carries at most, past its first room: a
/// room resent from its whole ring (a few thousand events) alone can be
/// a megabyte, and such rooms get calls of their own rather than making
/// Redis read and run one call of many megabytes.
const CALL_BYTES: usize = 1 << 20;

/// How long a room's feed lives in Redis without a write, and how often
/// the writer rewrites an idle room's head to keep it: a room with no
/// events for hours stays followable, a dead node's history expires.
const FEED_TTL: Duration = Duration::from_secs(600);
const FEED_REFRESH: Duration = Duration::from_secs(120);

/// How often a busy room's write also refreshes its feed's and stream's
/// ttl ([`FEED_TTL`]). Refreshing at every batch cost Redis two of a
/// room's eight commands per batch (docs/benchmarks.md); once a minute
/// still keeps a live room's keys nine minutes from expiring, and a dead
/// node's keys go at most [`FEED_TTL`] after its last write, as before.
const TTL_REFRESH: Duration = Duration::from_secs(60);

/// What the queue carries.
#[derive(Debug)]
enum Job {
    Appended(Appended),
    /// The log closed at this head, with its snapshot as of then. The
    /// snapshot travels with the job because a closed room's log is soon
    /// dropped: at a drain's end the writer's last round runs after the
    /// room is gone, and without it the `closed` entry was never written,
    /// so other nodes closed the room as `server_lost` once the node left.
    Closed(&'static str, u64, Option<Arc<RawValue>>),
}

/// One room's queued job.
#[derive(Debug)]
struct Queued {
    room: Arc<str>,
    log: Weak<EventLog>,
    job: Job,
    /// When the room appended it (Unix ms, this node's clock).
    at_ms: u64,
}

/// Now as Unix milliseconds: the clock followers measure their lag
/// against (nodes' clocks must agree, as NTP keeps them).
#[must_use]
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A room log's replica: hands appends to the writer's queue.
#[derive(Debug)]
pub struct RoomReplica {
    room: Arc<str>,
    log: Weak<EventLog>,
    tx: mpsc::Sender<Queued>,
    metrics: Arc<Metrics>,
}

impl RoomReplica {
    fn queue(&self, job: Job) {
        let queued = Queued {
            room: self.room.clone(),
            log: self.log.clone(),
            job,
            at_ms: unix_ms(),
        };
        if self.tx.try_send(queued).is_err() {
            // The writer resends from the ring when the next batch does
            // not follow on what it wrote.
            self.metrics.log_batch(LogBatch::Overflow);
        } else {
            self.metrics.log_writer_backlog.inc();
        }
    }
}

impl Replica for RoomReplica {
    fn appended(&self, batch: Appended) {
        self.queue(Job::Appended(batch));
    }

    fn closed(&self, reason: &'static str) {
        let (snapshot, head) = self.log.upgrade().map_or((None, 0), |log| {
            let (snapshot, head) = log.snapshot();
            (Some(snapshot), head)
        });
        self.queue(Job::Closed(reason, head, snapshot));
    }
}

/// The message a batch is published as: the entries with their
/// predecessors, the snapshot as of the last, and a close.
#[derive(Serialize)]
struct Message<'a> {
    /// `(prev, id, entry)`, oldest first.
    entries: Vec<(u64, u64, &'a RawValue)>,
    snap: &'a RawValue,
    snap_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    closed: Option<&'static str>,
    /// When the room appended the oldest entry (Unix ms), for the
    /// followers' lag; absent when the batch was rebuilt from the ring.
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<u64>,
}

/// What the writer knows of one room.
#[derive(Debug)]
struct Written {
    /// The newest id Redis holds from this node, once known.
    last: Option<u64>,
    log: Weak<EventLog>,
    at: Instant,
    /// When a written batch with entries last refreshed the room's ttls
    /// (both its keys existed then); `None` until one did.
    ttl_at: Option<Instant>,
}

/// One room's work in a round: merged batches.
struct Work {
    log: Weak<EventLog>,
    prev: u64,
    entries: Vec<Arc<LogEntry>>,
    snapshot: Option<Arc<RawValue>>,
    closed: Option<&'static str>,
    /// When the oldest merged batch was appended (Unix ms).
    at_ms: Option<u64>,
}

/// One room's part of an `append` call: its batch, ready to send.
struct Part {
    room: Arc<str>,
    log: Weak<EventLog>,
    closed: Option<&'static str>,
    /// The id before the first entry.
    prev: u64,
    entries: Vec<Arc<LogEntry>>,
    snapshot: Arc<RawValue>,
    snap_at: u64,
    /// The [`Message`] followers get, as JSON.
    message: String,
    /// Whether this write refreshes the room's ttls ([`TTL_REFRESH`]).
    refresh_ttl: bool,
}

impl Part {
    /// About what the part adds to a call (the JSON it carries).
    fn bytes(&self) -> usize {
        self.message.len()
            + self.snapshot.get().len()
            + self
                .entries
                .iter()
                .map(|e| e.json.get().len())
                .sum::<usize>()
    }
}

/// `parts` in calls of at most [`CALL_ROOMS`] rooms and, past a call's
/// first room, [`CALL_BYTES`] bytes, in order.
fn split(parts: Vec<Part>) -> Vec<Vec<Part>> {
    let mut calls: Vec<Vec<Part>> = Vec::new();
    let mut bytes = 0;
    for part in parts {
        let size = part.bytes();
        match calls.last_mut() {
            Some(call) if call.len() < CALL_ROOMS && bytes + size <= CALL_BYTES => {
                bytes += size;
                call.push(part);
            }
            _ => {
                bytes = size;
                calls.push(vec![part]);
            }
        }
    }
    calls
}

/// The writer task and the factory of its replicas.
#[derive(Debug)]
pub struct LogWriter {
    directory: Arc<RedisDirectory>,
    rx: mpsc::Receiver<Queued>,
    capacity: usize,
    /// Notified when Redis lost this node's keys.
    lost: Arc<Notify>,
    metrics: Arc<Metrics>,
    rooms: HashMap<Arc<str>, Written>,
}

impl LogWriter {
    /// A writer for rooms whose rings hold `capacity` events, and the
    /// factory that gives each room log its replica.
    #[must_use]
    pub fn new(
        directory: Arc<RedisDirectory>,
        capacity: usize,
        lost: Arc<Notify>,
        metrics: Arc<Metrics>,
    ) -> (LogWriter, ReplicaFactory) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let replica_metrics = metrics.clone();
        let factory: ReplicaFactory = Arc::new(move |room, log| {
            Arc::new(RoomReplica {
                room: room.clone(),
                log: Arc::downgrade(log),
                tx: tx.clone(),
                metrics: replica_metrics.clone(),
            }) as Arc<dyn Replica>
        });
        let writer = LogWriter {
            directory,
            rx,
            capacity,
            lost,
            metrics,
            rooms: HashMap::new(),
        };
        (writer, factory)
    }

    /// Runs until shutdown (then writes what is queued, once).
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut refresh = tokio::time::interval(FEED_REFRESH);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let mut jobs = Vec::new();
            tokio::select! {
                n = self.rx.recv_many(&mut jobs, DRAIN) => {
                    if n == 0 {
                        return;
                    }
                    // Rooms of one tick phase are ready together, and the
                    // first one's batch woke us: let the rest append
                    // before the round, so one call carries them all.
                    tokio::task::yield_now().await;
                    while jobs.len() < DRAIN {
                        let Ok(job) = self.rx.try_recv() else { break };
                        jobs.push(job);
                    }
                }
                _ = refresh.tick() => {
                    self.refresh_idle().await;
                    continue;
                }
                () = self.lost.notified() => {
                    self.rewrite_all().await;
                    continue;
                }
                () = shutdown.cancelled() => {
                    while let Ok(job) = self.rx.try_recv() {
                        jobs.push(job);
                    }
                    self.round(jobs).await;
                    return;
                }
            }
            self.round(jobs).await;
        }
    }

    /// Rewrites the head and snapshot of rooms not written for a while.
    async fn refresh_idle(&mut self) {
        let idle: Vec<(Arc<str>, Weak<EventLog>)> = self
            .rooms
            .iter()
            .filter(|(_, w)| w.at.elapsed() >= FEED_REFRESH)
            .map(|(room, w)| (room.clone(), w.log.clone()))
            .collect();
        self.write_heads(idle).await;
    }

    /// Redis lost what this node wrote: forget what it acknowledged and
    /// write every room's head and snapshot again. Its stream starts over
    /// at the head, so a remote reader whose cursor is older gets `reset`
    /// (a live follower whose head is the room's goes on unharmed).
    async fn rewrite_all(&mut self) {
        let all: Vec<(Arc<str>, Weak<EventLog>)> = self
            .rooms
            .iter_mut()
            .map(|(room, w)| {
                w.last = None;
                w.ttl_at = None;
                (room.clone(), w.log.clone())
            })
            .collect();
        self.write_heads(all).await;
    }

    /// Writes each room's head and snapshot, without entries.
    async fn write_heads(&mut self, rooms: Vec<(Arc<str>, Weak<EventLog>)>) {
        let mut batch = Vec::with_capacity(rooms.len());
        for (room, log) in rooms {
            let Some(live) = log.upgrade() else {
                self.rooms.remove(&room);
                continue;
            };
            let (snapshot, head) = live.snapshot();
            let work = Work {
                log,
                prev: head,
                entries: Vec::new(),
                snapshot: Some(snapshot),
                closed: None,
                at_ms: None,
            };
            batch.push((room, work));
        }
        self.write_all(batch).await;
    }

    /// Writes one drained set of jobs: per room, in order, consecutive
    /// appends merged while each follows on the one before.
    async fn round(&mut self, jobs: Vec<Queued>) {
        self.metrics
            .log_writer_backlog
            .dec_by(i64::try_from(jobs.len()).unwrap_or(i64::MAX));
        let mut order: Vec<Arc<str>> = Vec::new();
        let mut work: HashMap<Arc<str>, Vec<Work>> = HashMap::new();
        for queued in jobs {
            let runs = work.entry(queued.room.clone()).or_insert_with(|| {
                order.push(queued.room.clone());
                Vec::new()
            });
            let prev = match &queued.job {
                Job::Appended(a) => a.prev,
                Job::Closed(_, head, _) => *head,
            };
            let follows = runs.last().is_some_and(|w| {
                w.closed.is_none() && w.entries.last().map_or(w.prev, |e| e.id) == prev
            });
            if !follows {
                runs.push(Work {
                    log: queued.log.clone(),
                    prev,
                    entries: Vec::new(),
                    snapshot: None,
                    closed: None,
                    at_ms: Some(queued.at_ms),
                });
            }
            let Some(run) = runs.last_mut() else { continue };
            match queued.job {
                Job::Appended(mut a) => {
                    run.entries.append(&mut a.entries);
                    run.snapshot = Some(a.snapshot);
                }
                Job::Closed(reason, _, snapshot) => {
                    run.closed = Some(reason);
                    if snapshot.is_some() {
                        run.snapshot = snapshot;
                    }
                }
            }
        }
        // A room's later run (rare: its batches did not follow on each
        // other) starts from what Redis acknowledged of its earlier one, so
        // each call carries at most one run per room.
        let mut runs: Vec<(Arc<str>, std::vec::IntoIter<Work>)> = order
            .into_iter()
            .map(|room| {
                let runs = work.remove(&room).unwrap_or_default().into_iter();
                (room, runs)
            })
            .collect();
        loop {
            let batch: Vec<(Arc<str>, Work)> = runs
                .iter_mut()
                .filter_map(|(room, runs)| runs.next().map(|run| (room.clone(), run)))
                .collect();
            if batch.is_empty() {
                break;
            }
            self.write_all(batch).await;
        }
    }

    /// Writes one set of rooms' work: per room, what Redis lacks resent
    /// from the ring first; the rooms in as few `append` calls as
    /// [`CALL_ROOMS`] and [`CALL_BYTES`] allow, in one pipeline; then each
    /// room's outcome on its own.
    async fn write_all(&mut self, batch: Vec<(Arc<str>, Work)>) {
        let parts: Vec<Part> = batch
            .into_iter()
            .filter_map(|(room, work)| self.prepare(room, work))
            .collect();
        if parts.is_empty() {
            return;
        }
        let calls = split(parts);
        let cmds: Vec<redis::Cmd> = calls.iter().map(|parts| self.call(parts)).collect();
        let replies = self.send(&cmds).await;
        for (parts, reply) in calls.into_iter().zip(replies) {
            let answers = self.answers(reply, parts.len());
            for (part, answer) in parts.into_iter().zip(answers) {
                self.settle(&part, answer);
            }
        }
    }

    /// Sends `calls` in one pipeline. A Redis that lost its scripts (a
    /// restart) answers `NOSCRIPT`: the script is loaded once and those
    /// calls are sent again.
    /// A failed call's error is for the log only (the link has counted it).
    async fn send(&self, calls: &[redis::Cmd]) -> Vec<Result<Value, String>> {
        let link = self.directory.link();
        let mut conn = link.conn();
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for call in calls {
            pipe.add_command(call.clone());
        }
        let replies: Vec<redis::RedisResult<Value>> = match link
            .call::<Vec<redis::RedisResult<Value>>>("append", pipe.query_async(&mut conn))
            .await
        {
            Ok(replies) if replies.len() == calls.len() => replies,
            Ok(replies) => {
                let what = format!("{} answers to {} calls", replies.len(), calls.len());
                let err = link.reply_error("append", what).to_string();
                return vec![Err(err); calls.len()];
            }
            Err(err) => return vec![Err(err.to_string()); calls.len()],
        };
        let no_script = |r: &redis::RedisResult<Value>| {
            r.as_ref().is_err_and(|e| {
                e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
            })
        };
        let mut out: Vec<Result<Value, String>> = Vec::with_capacity(calls.len());
        if replies.iter().any(no_script) {
            let loaded = link
                .call("append_load", SCRIPTS.append.load_async(&mut conn))
                .await;
            for (call, reply) in calls.iter().zip(replies) {
                out.push(if !no_script(&reply) {
                    reply.map_err(|err| err.to_string())
                } else if let Err(err) = &loaded {
                    Err(err.to_string())
                } else {
                    link.call("append", call.query_async(&mut conn))
                        .await
                        .map_err(|err| err.to_string())
                });
            }
        } else {
            out.extend(
                replies
                    .into_iter()
                    .map(|r| r.map_err(|err| err.to_string())),
            );
        }
        out
    }

    /// One call's answer split into its `rooms` rooms' answers, in order:
    /// a failed call, or one of the wrong shape, fails each of its rooms.
    fn answers(&self, reply: Result<Value, String>, rooms: usize) -> Vec<Result<Value, String>> {
        match reply {
            Ok(Value::Array(answers)) if answers.len() == rooms => {
                answers.into_iter().map(Ok).collect()
            }
            Ok(other) => {
                let what = format!("{other:?} to a call of {rooms} rooms");
                let err = self.directory.link().reply_error("append", what);
                vec![Err(err.to_string()); rooms]
            }
            Err(err) => vec![Err(err); rooms],
        }
    }

    /// The `append` call of `parts`' rooms (see `lua/append.lua`).
    fn call(&self, parts: &[Part]) -> redis::Cmd {
        let dir = &self.directory;
        let keys = dir.keys();
        let mut call = redis::cmd("EVALSHA");
        call.arg(SCRIPTS.append.get_hash()).arg(parts.len() * 3);
        for part in parts {
            call.arg(keys.room(&part.room))
                .arg(keys.log(&part.room))
                .arg(keys.feed(&part.room));
        }
        call.arg(keys.prefix())
            .arg(dir.fence())
            .arg(self.capacity)
            .arg(u64::try_from(FEED_TTL.as_millis()).unwrap_or(u64::MAX))
            .arg(parts.len());
        for part in parts {
            call.arg(keys.events_channel(&part.room))
                .arg(&part.message)
                .arg(part.snapshot.get())
                .arg(part.snap_at)
                .arg(part.closed.unwrap_or(""))
                .arg(if part.refresh_ttl { "1" } else { "" })
                .arg(part.entries.len());
            let mut prev = part.prev;
            for entry in &part.entries {
                call.arg(prev).arg(entry.id).arg(entry.json.get());
                prev = entry.id;
            }
        }
        call
    }

    /// One room's part of an `append` call, after resending from the ring
    /// what Redis lacks; `None` when there is nothing to send (the room is
    /// gone).
    fn prepare(&self, room: Arc<str>, mut work: Work) -> Option<Part> {
        let written = self.rooms.get(&room);
        let known = written.and_then(|w| w.last);
        let ttl_at = written.and_then(|w| w.ttl_at);
        if let Some(last) = known {
            // Entries Redis has already: the first kept one follows on
            // the newest of them.
            if let Some(written) = work
                .entries
                .iter()
                .map(|e| e.id)
                .filter(|id| *id <= last)
                .max()
            {
                work.prev = written;
                work.entries.retain(|e| e.id > last);
            }
            if work.prev != last
                && let Some(log) = work.log.upgrade()
            {
                resync(&log, last, &mut work);
            }
        }
        let snapshot = work
            .snapshot
            .clone()
            .or_else(|| work.log.upgrade().map(|log| log.snapshot().0))?;
        let snap_at = work.entries.last().map_or(work.prev, |e| e.id);
        let mut prev = work.prev;
        let mut triples = Vec::with_capacity(work.entries.len());
        for entry in &work.entries {
            triples.push((prev, entry.id, &*entry.json));
            prev = entry.id;
        }
        let message = Message {
            entries: triples,
            snap: &snapshot,
            snap_at,
            closed: work.closed,
            at: work.at_ms.filter(|_| !work.entries.is_empty()),
        };
        let message = serde_json::to_string(&message).ok()?;
        // A write of no entries (an idle room's refresh, a rewrite, a
        // close) always refreshes: it is rare, and the stream it may leave
        // missing must not be taken for one whose ttl is set.
        let refresh_ttl =
            work.entries.is_empty() || ttl_at.is_none_or(|at| at.elapsed() >= TTL_REFRESH);
        Some(Part {
            room,
            log: work.log,
            closed: work.closed,
            prev: work.prev,
            entries: work.entries,
            snapshot,
            snap_at,
            message,
            refresh_ttl,
        })
    }

    /// Records one room's answer: what Redis now holds, or that the next
    /// batch must resend from the ring.
    fn settle(&mut self, part: &Part, reply: Result<Value, String>) {
        let (room, log, closed) = (&part.room, &part.log, part.closed);
        let ttl_at = self.rooms.get(room).and_then(|w| w.ttl_at);
        let reply = reply.map(|value| match value {
            Value::Array(items) => items,
            other => vec![other],
        });
        let outcome = match reply.as_deref() {
            Ok([Value::BulkString(tag), Value::BulkString(last), ..]) if tag == b"ok" => {
                let last = std::str::from_utf8(last).ok().and_then(|s| s.parse().ok());
                self.rooms.insert(
                    room.clone(),
                    Written {
                        last,
                        log: log.clone(),
                        at: Instant::now(),
                        ttl_at: if part.refresh_ttl && !part.entries.is_empty() {
                            Some(Instant::now())
                        } else {
                            ttl_at
                        },
                    },
                );
                if closed.is_some() {
                    self.rooms.remove(room);
                }
                LogBatch::Written
            }
            Ok([Value::BulkString(tag), Value::BulkString(holder), ..]) if tag == b"fenced" => {
                warn!(room = %room, holder = %String::from_utf8_lossy(holder),
                      "log not copied: another live node owns this room id");
                LogBatch::Fenced
            }
            Ok([Value::BulkString(tag), Value::BulkString(why), ..]) if tag == b"failed" => {
                warn!(room = %room, why = %String::from_utf8_lossy(why),
                      "log append failed in Redis; the ring is resent later");
                LogBatch::Failed
            }
            Ok(other) => {
                warn!(room = %room, reply = ?other, "log append: unexpected answer");
                LogBatch::Failed
            }
            Err(err) => {
                debug!(room = %room, %err, "log append failed; the ring is resent later");
                LogBatch::Failed
            }
        };
        if outcome != LogBatch::Written {
            // Unknown: the next batch resends from the ring after what
            // Redis acknowledged last.
            if let Some(w) = self.rooms.get_mut(room) {
                w.at = Instant::now();
            } else {
                self.rooms.insert(
                    room.clone(),
                    Written {
                        last: None,
                        log: log.clone(),
                        at: Instant::now(),
                        ttl_at: None,
                    },
                );
            }
        }
        self.metrics.log_batch(outcome);
    }
}

/// Replaces `work`'s entries with everything the ring holds after `last`
/// and its snapshot, when the ring still holds `last`; otherwise leaves
/// the batch as it is (its chain breaks, and followers start over).
fn resync(log: &EventLog, last: u64, work: &mut Work) {
    let (snapshot, head) = log.snapshot();
    if let Read::Events(entries) = log.read(last, usize::MAX) {
        work.entries = entries.into_iter().filter(|e| e.id <= head).collect();
        work.prev = last;
        work.snapshot = Some(snapshot);
        work.at_ms = None;
    } else if let Read::UpToDate = log.read(last, 1) {
        work.entries.clear();
        work.prev = last;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A part of `bytes` bytes of message.
    fn part(bytes: usize) -> Part {
        Part {
            room: Arc::from("r"),
            log: Weak::new(),
            closed: None,
            prev: 0,
            entries: Vec::new(),
            snapshot: RawValue::from_string("{}".to_owned()).expect("json").into(),
            snap_at: 0,
            message: "m".repeat(bytes.saturating_sub(2)),
            refresh_ttl: true,
        }
    }

    fn sizes(calls: &[Vec<Part>]) -> Vec<usize> {
        calls.iter().map(Vec::len).collect()
    }

    #[test]
    fn a_round_is_one_call_up_to_its_room_and_byte_bounds() {
        let small = |n| (0..n).map(|_| part(2_000)).collect::<Vec<_>>();
        assert_eq!(sizes(&split(small(90))), [90]);
        assert_eq!(sizes(&split(small(300))), [CALL_ROOMS, CALL_ROOMS, 44]);
        // A room over the byte bound goes out alone, and the rooms after
        // it start a new call.
        let mut parts = small(3);
        parts.push(part(CALL_BYTES + 1));
        parts.extend(small(2));
        assert_eq!(sizes(&split(parts)), [3, 1, 2]);
        let half = || part(CALL_BYTES / 2);
        assert_eq!(sizes(&split(vec![half(), half(), half()])), [2, 1]);
    }
}
