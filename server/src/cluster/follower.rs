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
//! 4. Every read also says whether the room's writer still holds its
//!    lease. When it does not (its node was killed or paused past its
//!    lease), the follower runs `lose`, which closes the log in Redis with
//!    a `closed` entry (reason `server_lost`) under the next id, publishes
//!    it and withdraws the room. Every node's followers then receive that
//!    one entry, so all agree on its id; `lose` acts once, whoever calls.
//!    The check rides on the reads a follower makes anyway, so finding a
//!    dead owner costs nothing extra, and it is done exactly for the rooms
//!    someone is watching (an unwatched room needs no one told; the
//!    directory drops it when the lease expires).
//!
//! Apart from `lose`, a follower never writes to Redis, and it never
//! touches a room.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use redis::Value;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, info, info_span, warn};

use super::directory::RedisDirectory;
use super::log_writer::unix_ms;
use super::pubsub::{Delivery, HubFull, PubSubHub, Subscription};
use super::redis::{ClusterError, SCRIPTS};
use crate::metrics::{FollowerRepair, GaugeGuard, Metrics};
use crate::room::event_log::{EventLog, Json, LogEntry};
use crate::room::feed::SampleFrame;

/// The close reason a mirror gives its readers when the owner closed the
/// room's log.
const REMOTE_CLOSED: &str = "room closed";

/// The reason of the `closed` entry `lose` logs when a room's node is gone.
pub const SERVER_LOST: &str = "server_lost";

/// The mirror's close reason for a feed's `closed` field: the owner's
/// own word when clients act on it (`lose`'s `server_lost`: the room is
/// gone; a drain's `server_drain`: find a new match), [`REMOTE_CLOSED`]
/// for any other. The log keeps static reasons, and a reason read from
/// Redis is never trusted as one.
fn close_reason(closed: &str) -> &'static str {
    if closed == SERVER_LOST {
        SERVER_LOST
    } else if closed == crate::room::SERVER_DRAIN {
        crate::room::SERVER_DRAIN
    } else {
        REMOTE_CLOSED
    }
}

/// The most `--max-followed-rooms` may be: rooms of other nodes one node
/// follows at once. Each costs a mirror ring (`--event-log-capacity`
/// entries), a task and two channels on the node's pub/sub connection
/// (`pubsub::MAX_CHANNELS` holds every follower's). Readers are bounded by
/// `--max-spectators` and `--max-polls` anyway; this bounds what they can
/// make the node mirror.
pub const MAX_FOLLOWED: usize = 4096;

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
    /// When the owner appended the oldest entry (Unix ms).
    #[serde(default)]
    at: Option<u64>,
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
    /// The feed's `closed` reason, once the log closed.
    closed: Option<String>,
    entries: Vec<Link>,
    /// The log is open but its writer no longer holds its lease.
    orphaned: bool,
}

/// How followers behave (from the settings).
#[derive(Debug, Clone, Copy)]
pub struct FollowerSettings {
    /// `--event-log-capacity`: the owners' and the mirrors' rings.
    pub capacity: usize,
    /// `--follower-idle-ms`.
    pub idle: Duration,
    /// `--follower-check-ms`.
    pub check: Duration,
    /// `--max-followed-rooms`.
    pub max_followed: usize,
    /// `--max-spectators-per-room`, applied here to each followed room.
    pub max_spectators: usize,
    /// `--max-polls-per-room`, applied here to each followed room.
    pub max_polls: usize,
}

/// Every followed room of this node.
#[derive(Debug)]
pub struct Followers {
    directory: Arc<RedisDirectory>,
    capacity: usize,
    /// The per-room caps of readers on this node.
    max_spectators: usize,
    max_polls: usize,
    /// How long a follower outlives its last reader.
    idle: Duration,
    /// How often an open follower reads the stream after its head.
    check: Duration,
    /// `--max-followed-rooms`, at most [`MAX_FOLLOWED`].
    max_followed: usize,
    metrics: Arc<Metrics>,
    /// The node's pub/sub connection.
    hub: Arc<PubSubHub>,
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
    /// This node's share of the room's caps: one permit per local
    /// spectator stream (`--max-spectators-per-room`) and per waiting poll
    /// (`--max-polls-per-room`), as the owner keeps for its own readers.
    spectator_permits: Arc<Semaphore>,
    poll_permits: Arc<Semaphore>,
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

    /// The followed room's id.
    #[must_use]
    pub fn room(&self) -> &str {
        &self.follower.room
    }

    /// One permit per spectator stream of the room on this node.
    #[must_use]
    pub fn spectator_permits(&self) -> &Arc<Semaphore> {
        &self.follower.spectator_permits
    }

    /// One permit per long poll waiting on the room on this node.
    #[must_use]
    pub fn poll_permits(&self) -> &Arc<Semaphore> {
        &self.follower.poll_permits
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
pub enum FollowError {
    /// The first read did not complete in time.
    #[error(
        "room {room:?} is not readable from this node yet: its log was not read within {wait:?}"
    )]
    NotReady {
        /// The room.
        room: String,
        /// How long the reader waited.
        wait: Duration,
    },
    /// This node follows `--max-followed-rooms` rooms already.
    #[error(
        "this node already follows {max} rooms of other nodes; read room {room:?} \
         on its owner or another node, or retry later"
    )]
    TooMany {
        /// The room.
        room: String,
        /// The limit.
        max: usize,
    },
}

impl Followers {
    /// Followers of rooms whose owners' rings hold `settings.capacity`
    /// events.
    #[must_use]
    pub fn new(
        directory: Arc<RedisDirectory>,
        settings: FollowerSettings,
        metrics: Arc<Metrics>,
        hub: Arc<PubSubHub>,
        shutdown: CancellationToken,
        tracker: TaskTracker,
    ) -> Arc<Followers> {
        Arc::new(Followers {
            directory,
            capacity: settings.capacity,
            max_spectators: settings.max_spectators,
            max_polls: settings.max_polls,
            idle: settings.idle,
            check: settings.check,
            max_followed: settings.max_followed.min(MAX_FOLLOWED),
            metrics,
            hub,
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
    /// has not written the room's log yet), or the node follows
    /// `--max-followed-rooms` rooms already.
    pub async fn follow(self: &Arc<Self>, room: &str) -> Result<Following, FollowError> {
        let held = self.hold(room)?;
        let mut ready = held.follower.ready.subscribe();
        let wait = self.directory.link().timeout() * 2;
        match tokio::time::timeout(wait, ready.wait_for(|r| *r)).await {
            Ok(Ok(_)) => Ok(held),
            _ => Err(FollowError::NotReady {
                room: room.to_owned(),
                wait,
            }),
        }
    }

    /// A hold on `room`'s follower, opening it if needed, without waiting
    /// for its first read: a follower held this way runs for as long as
    /// the hold (the cluster ticker's is held for the node's life).
    ///
    /// # Errors
    /// The node follows `--max-followed-rooms` rooms already, or its
    /// pub/sub connection carries all the channels it may.
    pub fn hold(self: &Arc<Self>, room: &str) -> Result<Following, FollowError> {
        let too_many = || FollowError::TooMany {
            room: room.to_owned(),
            max: self.max_followed,
        };
        let mut rooms = self.rooms.lock();
        let follower = match rooms.get(room) {
            Some(follower) => follower.clone(),
            None if rooms.len() >= self.max_followed => return Err(too_many()),
            None => {
                let follower = self.open(room).map_err(|_| too_many())?;
                rooms.insert(Arc::from(room), follower.clone());
                follower
            }
        };
        follower.readers.fetch_add(1, Ordering::Relaxed);
        Ok(Following { follower })
    }

    /// A hold on `room`'s follower if this node already runs one whose
    /// mirror the owner closed: the room left the directory, but a reader
    /// that comes back (a poller's next page, an SSE reconnect) still gets
    /// the events it missed and the close reason, until the follower's idle
    /// timeout, instead of `no_room`.
    #[must_use]
    pub fn closed_mirror(self: &Arc<Self>, room: &str) -> Option<Following> {
        let rooms = self.rooms.lock();
        let follower = rooms.get(room).filter(|f| f.log.is_closed())?.clone();
        follower.readers.fetch_add(1, Ordering::Relaxed);
        Some(Following { follower })
    }

    /// Subscribes the room's channels and starts its follower's task.
    fn open(self: &Arc<Self>, room: &str) -> Result<Arc<Follower>, HubFull> {
        let keys = self.directory.keys();
        let (channel, state_channel) = (keys.events_channel(room), keys.state_channel(room));
        let subscription = self
            .hub
            .subscribe(&[channel.clone(), state_channel.clone()])?;
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
            spectator_permits: Arc::new(Semaphore::new(self.max_spectators)),
            poll_permits: Arc::new(Semaphore::new(self.max_polls)),
        });
        let task = Task {
            followers: self.clone(),
            follower: follower.clone(),
            channel,
            state_channel,
            _counted: GaugeGuard::new(&self.metrics.followers),
        };
        self.tracker.spawn(
            task.run(subscription)
                .instrument(info_span!("follower", room = %room)),
        );
        Ok(follower)
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
        log_read(&self.directory, room, after, self.capacity).await
    }
}

/// One `log_read` call on `room`'s log: at most `count` entries after
/// `after`, or the newest ones.
async fn log_read(
    directory: &RedisDirectory,
    room: &str,
    after: Option<u64>,
    count: usize,
) -> Result<Read, ClusterError> {
    const OP: &str = "log_read";
    let keys = directory.keys();
    let link = directory.link();
    let mut call = SCRIPTS.log_read.prepare_invoke();
    call.key(keys.log(room))
        .key(keys.feed(room))
        .arg(after.map(|a| a.to_string()).unwrap_or_default())
        .arg(count)
        .arg(keys.prefix());
    let mut conn = link.conn();
    let reply: Vec<Value> = link.call(OP, call.invoke_async(&mut conn)).await?;
    let text = |v: &Value| match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        _ => None,
    };
    let [last, snap_at, snap, closed, Value::Array(flat), orphaned] = reply.as_slice() else {
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
        closed: text(closed).filter(|c| !c.is_empty()),
        entries,
        orphaned: text(orphaned).is_some_and(|o| o == "1"),
    })
}

/// The entry right after `after` in `room`'s log in Redis, once written:
/// what a handed-over room's old owner reads to end its own readers'
/// streams with the adopter's `moved` event, under its id. `None` while
/// it is not there (or the entry there does not follow `after`).
///
/// # Errors
/// Redis could not be read.
pub async fn entry_after(
    directory: &RedisDirectory,
    room: &str,
    after: u64,
) -> Result<Option<LogEntry>, ClusterError> {
    let read = log_read(directory, room, Some(after), 1).await?;
    Ok(read
        .entries
        .first()
        .filter(|l| l.prev == after)
        .and_then(|l| render(std::slice::from_ref(l)).pop()))
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

    async fn run(self, mut subscription: Subscription) {
        let f = &self.followers;
        let mut check = tokio::time::interval(f.check);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Reads wait for the channel's first confirmation: subscribe
        // first, then read.
        let mut subscribed = false;
        loop {
            tokio::select! {
                delivery = subscription.recv() => match delivery {
                    Some(Delivery::Subscribed(channel)) if *channel == *self.channel => {
                        if subscribed {
                            f.repaired(FollowerRepair::Resubscribed);
                        }
                        subscribed = true;
                        self.catch_up().await;
                    }
                    Some(Delivery::Subscribed(_)) => {}
                    Some(Delivery::Missed) => self.catch_up().await,
                    Some(Delivery::Message { channel, payload }) => {
                        if *channel == *self.state_channel {
                            self.sample(&payload);
                        } else {
                            self.apply(&payload).await;
                        }
                    }
                    None => return,
                },
                _ = check.tick() => {
                    if f.close_if_idle(&self.follower) {
                        info!("no readers left; follower closed");
                        return;
                    }
                    if subscribed {
                        self.catch_up().await;
                    }
                }
                () = f.shutdown.cancelled() => return,
            }
        }
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
            let read = match self.read(Some(head)).await {
                Some(read) => read,
                None => return,
            };
            let behind = read.last.is_some_and(|last| last > head);
            if read.entries.is_empty() {
                if behind {
                    // The stream has nothing after the head, yet its head
                    // is newer: entries were lost or trimmed.
                    self.restart().await;
                } else if let Some(closed) = &read.closed {
                    self.close(closed);
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
                if let Some(closed) = &read.closed {
                    self.close(closed);
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
        let Some(read) = self.read(None).await else {
            return;
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
        if let Some(closed) = &read.closed {
            self.close(closed);
        }
    }

    /// One `log_read` after `after` (or of the newest entries); when the
    /// room's writer has lost its lease, runs `lose` first and reads
    /// again, so the answer carries the `closed` entry. `None` when Redis
    /// could not be read.
    async fn read(&self, after: Option<u64>) -> Option<Read> {
        let f = &self.followers;
        let room = &self.follower.room;
        let read = f
            .read(room, after)
            .await
            .map_err(|err| debug!(%err, "read failed"))
            .ok()?;
        if !read.orphaned {
            return Some(read);
        }
        if let Err(err) = f.directory.lose(room).await {
            debug!(%err, "lose failed; the next check tries again");
            return Some(read);
        }
        f.read(room, after)
            .await
            .map_err(|err| debug!(%err, "read failed"))
            .ok()
    }

    /// Closes the mirror for the feed's `closed` reason. A lost room's
    /// `closed` is an entry of the log, the mirror's newest once it is at
    /// the head; the readers who read it need no second frame.
    fn close(&self, closed: &str) {
        let reason = close_reason(closed);
        if reason == SERVER_LOST {
            self.log().close_logged(reason);
        } else {
            self.log().close(reason);
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
                if let Some(at) = message.at.filter(|_| n > 0) {
                    let lag_ms = unix_ms().saturating_sub(at);
                    #[expect(clippy::cast_precision_loss, reason = "milliseconds of lag")]
                    self.followers
                        .metrics
                        .follower_lag
                        .observe(lag_ms as f64 / 1000.0);
                }
                if n < links.len() {
                    self.catch_up().await;
                }
            }
            Some(_) => self.catch_up().await,
        }
        if let Some(closed) = &message.closed
            && self.log().head() == message.snap_at
        {
            self.close(closed);
        }
    }
}
