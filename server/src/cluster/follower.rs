//! Followers: this node's mirrors of rooms owned by other nodes, so their
//! spectators and pollers can read here with the owner's ids, `Last-Event-ID`
//! resume and `reset` rules.
//!
//! One follower per node per followed room, however many readers: it
//! opens with the first local reader and closes [`Followers::idle`] after
//! the last one leaves. It fills an [`EventLog`] mirror (the same ring
//! type, with the owner's ids), so SSE and long polls read it exactly like
//! a local room's log.
//!
//! How it stays exact (see `docs/scaleout.md`):
//! 1. Subscribe to the room's channel first, then read the stream and the
//!    snapshot in one script, then apply what the channel brings. The
//!    owner appends and publishes in one atomic script, so whatever the
//!    read lacks arrives on the channel.
//! 2. Every entry carries its predecessor's id. An entry whose predecessor
//!    is the mirror's head is appended; one at or below the head is a
//!    duplicate and dropped; any other is a gap, filled by reading the
//!    stream after the head. A stream whose chain does not reach the head
//!    (trimmed, lost, or resent after the ring moved on) makes the mirror
//!    start over at the newest snapshot: its readers get `reset`, never a
//!    wrong event.
//! 3. A lost connection means subscribe again, then fill from the head; a
//!    periodic read after the head catches a lost last message.
//!
//! A follower never writes to Redis and never touches a room.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use parking_lot::Mutex;
use redis::Value;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, info, info_span, warn};

use super::directory::RedisDirectory;
use super::redis::{ClusterError, SCRIPTS};
use crate::metrics::{FollowerRepair, GaugeGuard, Metrics};
use crate::room::event_log::{EventLog, Json, LogEntry};
use crate::room::feed::SampleFrame;

/// The close reason a mirror gives its readers when the owner closed the
/// room's log.
const REMOTE_CLOSED: &str = "room closed";

/// Longest wait between two connection attempts to Redis.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// One entry as the channel and the stream carry it.
#[derive(Deserialize)]
struct Wire {
    id: u64,
    event: String,
    data: Box<RawValue>,
}

/// One published batch (see `log_writer.rs`).
#[derive(Deserialize)]
struct Message {
    entries: Vec<(u64, u64, Box<RawValue>)>,
    snap: Box<RawValue>,
    snap_at: u64,
    #[serde(default)]
    closed: Option<String>,
}

/// An entry read from the stream or the channel, before rendering.
struct Link {
    prev: u64,
    id: u64,
    json: Box<RawValue>,
}

/// Renders entries for the mirror; one that does not parse (never written
/// by this server) ends the batch there, which the next fill repairs.
fn render(links: &[Link]) -> Vec<LogEntry> {
    links
        .iter()
        .map_while(|l| {
            let wire: Wire = serde_json::from_str(l.json.get()).ok()?;
            (wire.id == l.id).then(|| LogEntry::rendered(l.id, &wire.event, &wire.data))
        })
        .collect()
}

/// What `log_read` answered.
struct Read {
    last: Option<u64>,
    snap_at: Option<u64>,
    snap: Option<Json>,
    closed: bool,
    entries: Vec<Link>,
}

/// Every followed room of this node.
#[derive(Debug)]
pub struct Followers {
    directory: Arc<RedisDirectory>,
    capacity: usize,
    /// How long a follower outlives its last reader.
    idle: Duration,
    /// How often an open follower reads the stream after its head.
    check: Duration,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    /// Followers by room. Held for lookups, inserts and removals only,
    /// never across an await.
    rooms: Mutex<HashMap<Arc<str>, Arc<Follower>>>,
}

/// One followed room.
#[derive(Debug)]
pub struct Follower {
    room: Arc<str>,
    log: Arc<EventLog>,
    /// Readers now; changed under the map's lock when it rises.
    readers: AtomicUsize,
    /// When the last reader left.
    left: Mutex<Instant>,
    /// True once the first read filled the mirror.
    ready: watch::Sender<bool>,
    /// The room's latest state sample, as its owner published it.
    samples: watch::Sender<Arc<SampleFrame>>,
}

/// A reader's hold on a follower: the mirror it reads, counted while held.
#[derive(Debug)]
pub struct Following {
    follower: Arc<Follower>,
}

impl Following {
    /// The mirror to read.
    #[must_use]
    pub fn log(&self) -> &Arc<EventLog> {
        &self.follower.log
    }

    /// The room's latest state sample (empty until the first arrives).
    #[must_use]
    pub fn samples(&self) -> watch::Receiver<Arc<SampleFrame>> {
        self.follower.samples.subscribe()
    }
}

impl Drop for Following {
    fn drop(&mut self) {
        *self.follower.left.lock() = Instant::now();
        self.follower.readers.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Why a room cannot be followed now.
#[derive(Debug, thiserror::Error)]
#[error("room {room:?} is not readable from this node yet: {cause}")]
pub struct NotReady {
    /// The room.
    pub room: String,
    /// Why.
    pub cause: String,
}

impl Followers {
    /// Followers of rooms whose owners' rings hold `capacity` events.
    #[must_use]
    pub fn new(
        directory: Arc<RedisDirectory>,
        capacity: usize,
        idle: Duration,
        check: Duration,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
        tracker: TaskTracker,
    ) -> Arc<Followers> {
        Arc::new(Followers {
            directory,
            capacity,
            idle,
            check,
            metrics,
            shutdown,
            tracker,
            rooms: Mutex::default(),
        })
    }

    /// A hold on `room`'s follower, opening it if needed; waits (up to
    /// twice the Redis timeout) for its first read.
    ///
    /// # Errors
    /// The first read did not complete in time (Redis down, or the owner
    /// has not written the room's log yet).
    pub async fn follow(self: &Arc<Self>, room: &str) -> Result<Following, NotReady> {
        let held = self.hold(room);
        let mut ready = held.follower.ready.subscribe();
        let wait = self.directory.link().timeout() * 2;
        match tokio::time::timeout(wait, ready.wait_for(|r| *r)).await {
            Ok(Ok(_)) => Ok(held),
            _ => Err(NotReady {
                room: room.to_owned(),
                cause: format!("its log was not read within {wait:?}"),
            }),
        }
    }

    /// A hold on `room`'s follower, opening it if needed, without waiting
    /// for its first read: a follower held this way runs for as long as
    /// the hold (the cluster ticker's is held for the node's life).
    #[must_use]
    pub fn hold(self: &Arc<Self>, room: &str) -> Following {
        let mut rooms = self.rooms.lock();
        let follower = rooms
            .entry(Arc::from(room))
            .or_insert_with(|| self.open(room))
            .clone();
        follower.readers.fetch_add(1, Ordering::Relaxed);
        Following { follower }
    }

    fn open(self: &Arc<Self>, room: &str) -> Arc<Follower> {
        let null: Json = Arc::from(
            RawValue::from_string("null".to_owned())
                .unwrap_or_else(|_| serde_json::value::to_raw_value(&()).unwrap_or_default()),
        );
        let follower = Arc::new(Follower {
            room: Arc::from(room),
            log: EventLog::mirror(self.capacity, 0, null),
            readers: AtomicUsize::new(0),
            left: Mutex::new(Instant::now()),
            ready: watch::channel(false).0,
            samples: watch::channel(Arc::new(SampleFrame {
                tick: skirmish_shared::Tick(0),
                sse: bytes::Bytes::new(),
            }))
            .0,
        });
        let task = Task {
            followers: self.clone(),
            follower: follower.clone(),
            channel: self.directory.keys().events_channel(room),
            state_channel: self.directory.keys().state_channel(room),
            _counted: GaugeGuard::new(&self.metrics.followers),
        };
        self.tracker
            .spawn(task.run().instrument(info_span!("follower", room = %room)));
        follower
    }

    fn repaired(&self, repair: FollowerRepair) {
        self.metrics.follower_repaired(repair);
    }

    /// Removes `follower` if it has had no reader for [`Self::idle`].
    fn close_if_idle(&self, follower: &Arc<Follower>) -> bool {
        let mut rooms = self.rooms.lock();
        if follower.readers.load(Ordering::Relaxed) > 0
            || follower.left.lock().elapsed() < self.idle
        {
            return false;
        }
        rooms.remove(&follower.room);
        true
    }

    /// One `log_read` call: after `after`, or the newest entries.
    async fn read(&self, room: &str, after: Option<u64>) -> Result<Read, ClusterError> {
        const OP: &str = "log_read";
        let keys = self.directory.keys();
        let link = self.directory.link();
        let mut call = SCRIPTS.log_read.prepare_invoke();
        call.key(keys.log(room))
            .key(keys.feed(room))
            .arg(after.map(|a| a.to_string()).unwrap_or_default())
            .arg(self.capacity);
        let mut conn = link.conn();
        let reply: Vec<Value> = link.call(OP, call.invoke_async(&mut conn)).await?;
        let text = |v: &Value| match v {
            Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
            _ => None,
        };
        let [last, snap_at, snap, closed, Value::Array(flat)] = reply.as_slice() else {
            return Err(link.reply_error(OP, format!("{reply:?}")));
        };
        let number = |v: &Value| text(v).and_then(|s| s.parse::<u64>().ok());
        let mut entries = Vec::with_capacity(flat.len() / 3);
        for triple in flat.chunks_exact(3) {
            let (Some(id), Some(prev), Some(json)) = (
                number(&triple[0]),
                number(&triple[1]),
                text(&triple[2]).and_then(|s| RawValue::from_string(s).ok()),
            ) else {
                return Err(link.reply_error(OP, "a malformed stream entry"));
            };
            entries.push(Link { prev, id, json });
        }
        Ok(Read {
            last: number(last),
            snap_at: number(snap_at),
            snap: text(snap)
                .and_then(|s| RawValue::from_string(s).ok())
                .map(Json::from),
            closed: text(closed).is_some_and(|c| !c.is_empty()),
            entries,
        })
    }
}

/// A follower's task.
struct Task {
    followers: Arc<Followers>,
    follower: Arc<Follower>,
    channel: String,
    state_channel: String,
    _counted: GaugeGuard,
}

impl Task {
    fn log(&self) -> &EventLog {
        &self.follower.log
    }

    async fn run(self) {
        let f = &self.followers;
        let mut backoff = Duration::from_millis(100);
        let mut subscribed_before = false;
        loop {
            if f.shutdown.is_cancelled() || f.close_if_idle(&self.follower) {
                break;
            }
            let mut messages = match self.subscribe().await {
                Ok(messages) => messages,
                Err(err) => {
                    debug!(%err, "cannot subscribe; retrying");
                    self.pause(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            backoff = Duration::from_millis(100);
            if subscribed_before {
                f.repaired(FollowerRepair::Resubscribed);
            }
            subscribed_before = true;
            let mut check = tokio::time::interval(f.check);
            check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first tick is at once: the read after subscribing.
            loop {
                tokio::select! {
                    message = messages.next() => match message {
                        Some(message) if message.get_channel_name() == self.state_channel => {
                            self.sample(message.get_payload_bytes());
                        }
                        Some(message) => self.apply(message.get_payload_bytes()).await,
                        None => {
                            info!("subscription lost; subscribing again");
                            break;
                        }
                    },
                    _ = check.tick() => {
                        if f.close_if_idle(&self.follower) {
                            info!("no readers left; follower closed");
                            return;
                        }
                        self.catch_up().await;
                    }
                    () = f.shutdown.cancelled() => return,
                }
            }
        }
    }

    async fn pause(&self, d: Duration) {
        tokio::select! {
            () = tokio::time::sleep(d) => {}
            () = self.followers.shutdown.cancelled() => {}
        }
    }

    async fn subscribe(&self) -> Result<redis::aio::PubSubStream, ClusterError> {
        let link = self.followers.directory.link();
        let mut pubsub = link.pubsub().await?;
        link.call("subscribe", pubsub.subscribe(&self.channel))
            .await?;
        link.call("subscribe", pubsub.subscribe(&self.state_channel))
            .await?;
        Ok(pubsub.into_on_message())
    }

    /// Reads what the mirror lacks: everything after its head, or (before
    /// the first read, or when the stream no longer reaches the head) the
    /// newest entries and snapshot, starting over.
    async fn catch_up(&self) {
        let f = &self.followers;
        let first = !*self.follower.ready.borrow();
        if first {
            self.restart().await;
            return;
        }
        loop {
            let head = self.log().head();
            let read = match f.read(&self.follower.room, Some(head)).await {
                Ok(read) => read,
                Err(err) => {
                    debug!(%err, "catch-up read failed");
                    return;
                }
            };
            let behind = read.last.is_some_and(|last| last > head);
            if read.entries.is_empty() {
                if behind {
                    // The stream has nothing after the head, yet its head
                    // is newer: entries were lost or trimmed.
                    self.restart().await;
                } else if read.closed {
                    self.log().close(REMOTE_CLOSED);
                }
                return;
            }
            if read.entries[0].prev != head {
                self.restart().await;
                return;
            }
            let full = read.entries.len() >= f.capacity;
            let snapshot = read
                .snap
                .filter(|_| read.snap_at == read.entries.last().map(|l| l.id));
            let n = self.extend(&read.entries, snapshot);
            if n < read.entries.len() {
                // The chain breaks inside the stream.
                self.restart().await;
                return;
            }
            f.repaired(FollowerRepair::GapFilled);
            if !full {
                if read.closed {
                    self.log().close(REMOTE_CLOSED);
                }
                return;
            }
        }
    }

    /// Appends the leading run of `links` that chains on the head; returns
    /// how many it took.
    fn extend(&self, links: &[Link], snapshot: Option<Json>) -> usize {
        let mut prev = self.log().head();
        let n = links
            .iter()
            .take_while(|l| {
                let ok = l.prev == prev;
                prev = l.id;
                ok
            })
            .count();
        let entries = render(&links[..n]);
        let snapshot = snapshot.filter(|_| entries.len() == links.len());
        self.log().mirror_extend(entries, snapshot);
        n
    }

    /// Starts the mirror over from the newest stream entries that chain up
    /// to the snapshot.
    async fn restart(&self) {
        let f = &self.followers;
        let read = match f.read(&self.follower.room, None).await {
            Ok(read) => read,
            Err(err) => {
                debug!(%err, "read failed");
                return;
            }
        };
        let (Some(snap_at), Some(snapshot)) = (read.snap_at, read.snap) else {
            debug!("the owner has not written this room's log yet");
            return;
        };
        let mut entries: Vec<Link> = read
            .entries
            .into_iter()
            .filter(|l| l.id <= snap_at)
            .collect();
        // The run that ends at the snapshot, chained by predecessors.
        let start = if entries.last().map(|l| l.id) == Some(snap_at) {
            let mut i = entries.len() - 1;
            while i > 0 && entries[i].prev == entries[i - 1].id {
                i -= 1;
            }
            i
        } else {
            entries.len()
        };
        let entries = entries.split_off(start);
        let horizon = entries.first().map_or(snap_at, |l| l.prev);
        let rendered = render(&entries);
        if rendered.len() < entries.len() {
            warn!("unreadable entries in the room's stream; starting at its snapshot");
            self.log().mirror_restart(snap_at, Vec::new(), snapshot);
        } else {
            self.log().mirror_restart(horizon, rendered, snapshot);
        }
        if self.follower.ready.send_replace(true) {
            f.repaired(FollowerRepair::Restarted);
        }
        if read.closed {
            self.log().close(REMOTE_CLOSED);
        }
    }

    /// One state sample: `<tick>\n<sse frame>`, latest wins.
    fn sample(&self, payload: &[u8]) {
        let Some(split) = payload.iter().position(|b| *b == b'\n') else {
            return;
        };
        let Some(tick) = std::str::from_utf8(&payload[..split])
            .ok()
            .and_then(|t| t.parse::<u32>().ok())
        else {
            return;
        };
        let frame = SampleFrame {
            tick: skirmish_shared::Tick(tick),
            sse: bytes::Bytes::copy_from_slice(&payload[split + 1..]),
        };
        self.follower.samples.send_replace(Arc::new(frame));
    }

    /// One message from the channel.
    async fn apply(&self, payload: &[u8]) {
        if !*self.follower.ready.borrow() {
            // Before the first read: that read covers it.
            self.catch_up().await;
            return;
        }
        let Ok(message) = serde_json::from_slice::<Message>(payload) else {
            warn!("an unreadable message on the room's channel");
            return;
        };
        let head = self.log().head();
        let links: Vec<Link> = message
            .entries
            .into_iter()
            .filter(|(_, id, _)| *id > head)
            .map(|(prev, id, json)| Link { prev, id, json })
            .collect();
        let snapshot: Json = Json::from(message.snap);
        match links.first() {
            None if message.snap_at == head => self.log().mirror_extend(Vec::new(), Some(snapshot)),
            None => {}
            Some(first) if first.prev == head => {
                let at_end = links.last().map(|l| l.id) == Some(message.snap_at);
                let n = self.extend(&links, at_end.then_some(snapshot));
                if n < links.len() {
                    self.catch_up().await;
                }
            }
            Some(_) => self.catch_up().await,
        }
        if message.closed.is_some() && self.log().head() == message.snap_at {
            self.log().close(REMOTE_CLOSED);
        }
    }
}
