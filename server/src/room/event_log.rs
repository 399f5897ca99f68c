//! The event log: what spectators, scoreboards and pollers read. An
//! append-only ring of events with strictly increasing `u64` ids, plus the
//! snapshot that is true as of the newest id.
//!
//! One writer (a room task, or the ticker) appends a batch per tick under a
//! short write lock. Readers hold only a cursor (the last id they saw) and
//! copy `Arc`s out under a read lock; nobody holds the lock across an await
//! or any I/O, so appending never waits for a reader. A reader whose cursor
//! is not a position in this log (it left the ring, or it comes from
//! another log, a later id or an earlier process) gets [`Read::Reset`]
//! with the current snapshot, never a silent gap or a wrong event.
//!
//! Ids come from the process-wide [`IdAllocator`] in ranges no other log
//! shares (see [`super::event_ids`] for the arithmetic), so the only
//! cursors this log accepts are its head, the ids its ring holds and the
//! id just before the oldest of them. Every entry is rendered once, as an
//! SSE frame and as a long-poll JSON object (the typed events of
//! `skirmish_shared::feed`, serialized), and shared by every reader.

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parking_lot::RwLock;
use serde::Serialize;
use serde_json::value::RawValue;
use skirmish_shared::feed::{FeedEvent, Polled, Tagged};
use tokio::sync::watch;
use tracing::error;

use super::event_ids::{IdAllocator, IdsExhausted, LogIds, MAX_ID};

/// Why a log whose id space ran out stopped (see [`super::event_ids`]).
const IDS_EXHAUSTED: &str = "event ids exhausted";

/// One logged event, rendered for every transport.
#[derive(Clone, Debug)]
pub struct LogEntry {
    pub id: u64,
    /// `id: ..\nevent: ..\ndata: ..\n\n`.
    pub sse: Bytes,
    /// `{"id":..,"event":"..","data":{..}}`, as a poll page lists it.
    pub json: Box<RawValue>,
}

/// JSON already serialized, shared by every reader that sends it.
pub type Json = Arc<RawValue>;

/// `value` as JSON. Serializing the protocol's types cannot fail (no maps
/// with non-string keys, no fallible `Serialize` impls); were it to, the
/// reader would get `null` and the log an error line, never a panic.
#[must_use]
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).unwrap_or_else(|err| {
        error!(%err, "a protocol value failed to serialize");
        serde_json::value::to_raw_value(&()).unwrap_or_default()
    })
}

/// One Server-Sent Events frame: `id:` (when given), `event:`, `data:` and
/// the blank line. The only place SSE frames are written; `data` is one
/// line of compact JSON.
#[must_use]
pub fn sse_frame(id: Option<u64>, event: &str, data: &str) -> Bytes {
    Bytes::from(match id {
        Some(id) => format!("id: {id}\nevent: {event}\ndata: {data}\n\n"),
        None => format!("event: {event}\ndata: {data}\n\n"),
    })
}

/// What a reader gets for its cursor.
#[derive(Debug)]
pub enum Read {
    /// Events after the cursor, oldest first (at most the batch size).
    Events(Vec<Arc<LogEntry>>),
    /// Nothing newer than the cursor yet.
    UpToDate,
    /// The cursor is not in the log: start over from this snapshot, which is
    /// true as of `head`.
    Reset {
        /// The current snapshot.
        snapshot: Json,
        /// The newest id.
        head: u64,
    },
    /// The log's writer is gone (room closed, server stopping).
    Closed(&'static str),
    /// The log closed with a logged `closed` entry, its newest: a reader
    /// that read that entry has been told; one that did not (it reset
    /// onto it, or resumed after it) is told by the transport.
    Ended(&'static str),
}

#[derive(Debug)]
struct Ring {
    entries: VecDeque<Arc<LogEntry>>,
    capacity: usize,
    /// Where the next ids come from; `None` once the id space ran out.
    ids: Option<LogIds>,
    /// The newest id (the log's first id while nothing was appended).
    head: u64,
    /// The id just before the oldest entry: the newest evicted one, or the
    /// log's first id. A reader there still misses nothing.
    horizon: u64,
    snapshot: Json,
    closed: Option<&'static str>,
    /// Whether the close was logged as the newest entry (a mirror of a
    /// log another node's `lose` closed).
    closed_logged: bool,
}

impl Ring {
    /// The next event's id; `None` (and the log closed) when the id space
    /// ran out, so no id is ever reused.
    fn issue(&mut self) -> Option<u64> {
        let issued = self.ids.as_mut().map(LogIds::issue)?;
        match issued {
            Ok(id) => Some(id),
            Err(err) => {
                error!(cause = %err, head = self.head, "event log closed: no ids left");
                self.ids = None;
                self.closed = Some(IDS_EXHAUSTED);
                None
            }
        }
    }
}

/// A bounded, resumable event log. See the module docs.
#[derive(Debug)]
pub struct EventLog {
    ring: RwLock<Ring>,
    /// The newest id, for readers to wait on; `watch` holds one value, so
    /// waking a thousand readers costs no queue.
    head: watch::Sender<u64>,
    /// Where appends are copied, once set (cluster mode).
    replica: OnceLock<Arc<dyn Replica>>,
}

/// Unix time in milliseconds, the clock events are stamped with.
#[must_use]
pub fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0))
}

/// An event's payload serialized ahead of the log's lock; the lock is held
/// only to number it and frame it.
struct Payload {
    name: &'static str,
    data: Box<RawValue>,
}

fn render(id: u64, payload: &Payload) -> LogEntry {
    LogEntry::rendered(id, payload.name, &payload.data)
}

impl LogEntry {
    /// Event `name` with payload `data` as entry `id`, framed for every
    /// transport. A mirror renders what it reads back the same way, so a
    /// spectator gets the same bytes from any node.
    #[must_use]
    pub fn rendered(id: u64, name: &str, data: &RawValue) -> LogEntry {
        let event = Tagged { event: name, data };
        LogEntry {
            id,
            sse: sse_frame(Some(id), name, data.get()),
            json: to_json(&Polled { id, event }),
        }
    }
}

/// One append, as a log hands it to its [`Replica`]: entries whose
/// predecessors are `prev`, then each other, and the snapshot true as of
/// the last of them (or of `prev` when there are none).
#[derive(Debug)]
pub struct Appended {
    /// The id before the first entry: the log's head before the append.
    pub prev: u64,
    /// The new entries, oldest first.
    pub entries: Vec<Arc<LogEntry>>,
    /// The snapshot after the append.
    pub snapshot: Json,
}

/// Where a log copies its appends (cluster mode: the Redis log writer).
/// Called under the log's write lock, in append order, so it must only
/// hand the batch over (a `try_send`), never wait.
pub trait Replica: Send + Sync + std::fmt::Debug {
    /// One append happened.
    fn appended(&self, batch: Appended);
    /// The log closed for `reason`.
    fn closed(&self, reason: &'static str);
}

impl EventLog {
    /// An empty log holding up to `capacity` events, its ids from
    /// `allocator`. If no ids are left it starts closed.
    #[must_use]
    pub fn new(capacity: usize, allocator: Arc<IdAllocator>, snapshot: Json) -> Arc<EventLog> {
        EventLog::with_ids(capacity, LogIds::open(allocator), snapshot)
    }

    /// An empty log that continues another node's log whose last id was
    /// `last` (a room handed over at its round boundary): its head is
    /// `last` and its ids are above it, so a reader's cursor on the old
    /// log reads on here with no gap, and its first event names `last` as
    /// its predecessor (the followers' chain check). If no ids are left
    /// above `last` it starts closed.
    #[must_use]
    pub fn continuing(
        capacity: usize,
        allocator: Arc<IdAllocator>,
        last: u64,
        snapshot: Json,
    ) -> Arc<EventLog> {
        let ids = LogIds::continuing(allocator, last).map(|ids| (ids, last));
        EventLog::with_ids(capacity, ids, snapshot)
    }

    /// An empty log with these ids and head, or closed without ids.
    fn with_ids(
        capacity: usize,
        ids: Result<(LogIds, u64), IdsExhausted>,
        snapshot: Json,
    ) -> Arc<EventLog> {
        let (ids, first, closed) = match ids {
            Ok((ids, first)) => (Some(ids), first, None),
            Err(err) => {
                error!(cause = %err, "new event log has no ids; it starts closed");
                (None, MAX_ID, Some(IDS_EXHAUSTED))
            }
        };
        let (head, _) = watch::channel(first);
        Arc::new(EventLog {
            ring: RwLock::new(Ring {
                entries: VecDeque::with_capacity(capacity.max(1)),
                capacity: capacity.max(1),
                ids,
                head: first,
                horizon: first,
                snapshot,
                closed,
                closed_logged: false,
            }),
            head,
            replica: OnceLock::new(),
        })
    }

    /// A mirror of another node's log: no ids of its own, filled by a
    /// follower with the entries it reads, starting empty at `head`.
    #[must_use]
    pub fn mirror(capacity: usize, head: u64, snapshot: Json) -> Arc<EventLog> {
        let (head_tx, _) = watch::channel(head);
        Arc::new(EventLog {
            ring: RwLock::new(Ring {
                entries: VecDeque::with_capacity(capacity.max(1)),
                capacity: capacity.max(1),
                ids: None,
                head,
                horizon: head,
                snapshot,
                closed: None,
                closed_logged: false,
            }),
            head: head_tx,
            replica: OnceLock::new(),
        })
    }

    /// Copies every later append to `replica`, starting with the current
    /// snapshot (so a replica learns the head of a log with no events
    /// yet). A second replica is refused (returns false).
    pub fn replicate_to(&self, replica: Arc<dyn Replica>) -> bool {
        let ring = self.ring.write();
        if self.replica.set(replica.clone()).is_err() {
            return false;
        }
        replica.appended(Appended {
            prev: ring.head,
            entries: Vec::new(),
            snapshot: ring.snapshot.clone(),
        });
        true
    }

    /// A mirror's next entries (each id above the head, each the successor
    /// of the one before in the source log) and the snapshot as of the
    /// last. Entries not above the head are skipped.
    pub fn mirror_extend(&self, entries: Vec<LogEntry>, snapshot: Option<Json>) {
        let head = {
            let mut ring = self.ring.write();
            for entry in entries {
                if entry.id <= ring.head {
                    continue;
                }
                if ring.entries.len() == ring.capacity
                    && let Some(evicted) = ring.entries.pop_front()
                {
                    ring.horizon = evicted.id;
                }
                ring.head = entry.id;
                ring.entries.push_back(Arc::new(entry));
            }
            if let Some(snapshot) = snapshot {
                ring.snapshot = snapshot;
            }
            ring.head
        };
        self.head.send_replace(head);
    }

    /// A mirror starts over at `horizon` (its source's history before is
    /// lost to it): every cursor it held resets, to `snapshot`, true as of
    /// the last of `entries`.
    pub fn mirror_restart(&self, horizon: u64, entries: Vec<LogEntry>, snapshot: Json) {
        {
            let mut ring = self.ring.write();
            ring.entries.clear();
            ring.head = horizon;
            ring.horizon = horizon;
        }
        self.mirror_extend(entries, Some(snapshot));
    }

    /// Appends `events` and, when given, replaces the snapshot, as one
    /// step: a reader sees both or neither.
    pub fn append<E: FeedEvent>(&self, events: &[E], snapshot: Option<Json>) {
        self.append_kept(events, snapshot, false);
    }

    /// [`EventLog::append`], also returning the entries it logged (fewer
    /// than `events` only when the id space ran out), for a room that
    /// records its rounds' replays. The entries are the ring's own `Arc`s:
    /// keeping them copies nothing.
    pub fn append_kept<E: FeedEvent>(
        &self,
        events: &[E],
        snapshot: Option<Json>,
        keep: bool,
    ) -> Vec<Arc<LogEntry>> {
        if events.is_empty() && snapshot.is_none() {
            return Vec::new();
        }
        let payloads: Vec<Payload> = events
            .iter()
            .map(|e| Payload {
                name: e.name(),
                data: to_json(&e.data()),
            })
            .collect();
        let (head, kept) = {
            let mut ring = self.ring.write();
            let prev = ring.head;
            let replica = self.replica.get();
            let mut appended = Vec::new();
            for payload in &payloads {
                let Some(id) = ring.issue() else { break };
                if ring.entries.len() == ring.capacity
                    && let Some(evicted) = ring.entries.pop_front()
                {
                    ring.horizon = evicted.id;
                }
                let entry = Arc::new(render(id, payload));
                if replica.is_some() || keep {
                    appended.push(entry.clone());
                }
                ring.entries.push_back(entry);
                ring.head = id;
            }
            if let Some(snapshot) = snapshot {
                ring.snapshot = snapshot;
            }
            let kept = if keep { appended.clone() } else { Vec::new() };
            if let Some(replica) = replica {
                replica.appended(Appended {
                    prev,
                    entries: appended,
                    snapshot: ring.snapshot.clone(),
                });
            }
            (ring.head, kept)
        };
        self.head.send_replace(head);
        kept
    }

    /// Marks the log finished; readers get [`Read::Closed`].
    pub fn close(&self, reason: &'static str) {
        self.ring.write().closed = Some(reason);
        if let Some(replica) = self.replica.get() {
            replica.closed(reason);
        }
        // Wake every waiting reader so it sees the close.
        self.head.send_modify(|_| {});
    }

    /// Ends a handed-over room's log on this (its old) node with `last`,
    /// the adopter's first entry (its `moved` event, under the adopter's
    /// id), so its readers read exactly what the continued log holds up to
    /// there and resume anywhere after it; readers at that entry get
    /// [`Read::Ended`] (they were told). Without the entry (it could not be
    /// read in time, or is not this log's successor) the log closes with a
    /// plain [`Read::Closed`]. The entry is the adopter's, already in
    /// Redis: it never goes to this log's replica.
    pub fn close_with(&self, last: Option<LogEntry>, reason: &'static str) {
        let Some(last) = last.filter(|e| e.id > self.head()) else {
            self.close(reason);
            return;
        };
        let head = {
            let mut ring = self.ring.write();
            if ring.entries.len() == ring.capacity
                && let Some(evicted) = ring.entries.pop_front()
            {
                ring.horizon = evicted.id;
            }
            ring.head = last.id;
            ring.entries.push_back(Arc::new(last));
            ring.closed = Some(reason);
            ring.closed_logged = true;
            ring.head
        };
        if let Some(replica) = self.replica.get() {
            replica.closed(reason);
        }
        self.head.send_replace(head);
    }

    /// Marks a mirror finished by its newest entry, a logged `closed`
    /// (another node's `lose`): readers at the head get [`Read::Ended`].
    pub fn close_logged(&self, reason: &'static str) {
        {
            let mut ring = self.ring.write();
            ring.closed = Some(reason);
            ring.closed_logged = true;
        }
        self.head.send_modify(|_| {});
    }

    /// Whether the log was closed.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.ring.read().closed.is_some()
    }

    /// Whether the log was closed by a drain ([`crate::room::SERVER_DRAIN`])
    /// or a handover ([`crate::room::MOVED`]): such a room closes just
    /// before the server stops, and its readers are owed its last events
    /// and that reason rather than "shutting down".
    #[must_use]
    pub fn is_drained(&self) -> bool {
        matches!(
            self.ring.read().closed,
            Some(crate::room::SERVER_DRAIN | crate::room::MOVED)
        )
    }

    /// The current snapshot and the id it is true as of.
    #[must_use]
    pub fn snapshot(&self) -> (Json, u64) {
        let ring = self.ring.read();
        (ring.snapshot.clone(), ring.head)
    }

    /// The newest id.
    #[must_use]
    pub fn head(&self) -> u64 {
        self.ring.read().head
    }

    /// Events after `after`, at most `max` of them.
    #[must_use]
    pub fn read(&self, after: u64, max: usize) -> Read {
        let ring = self.ring.read();
        if after == ring.head {
            return match ring.closed {
                None => Read::UpToDate,
                Some(reason) if ring.closed_logged => Read::Ended(reason),
                Some(reason) => Read::Closed(reason),
            };
        }
        // Only an id this log gave out is a position in it: the horizon or
        // one the ring holds. Anything else (evicted, another log's, from
        // the future or an earlier process) starts over.
        let start = if after == ring.horizon {
            0
        } else if let Ok(i) = ring.entries.binary_search_by_key(&after, |e| e.id) {
            i + 1
        } else {
            return Read::Reset {
                snapshot: ring.snapshot.clone(),
                head: ring.head,
            };
        };
        Read::Events(
            ring.entries
                .range(start..)
                .take(max.max(1))
                .cloned()
                .collect(),
        )
    }

    /// A receiver that changes whenever events are appended or the log
    /// closes.
    #[must_use]
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.head.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skirmish_shared::feed::{Closed, RoomEvent};

    fn json(text: &str) -> Json {
        Json::from(RawValue::from_string(text.to_owned()).expect("JSON"))
    }

    fn log(capacity: usize) -> Arc<EventLog> {
        let ids = Arc::new(IdAllocator::starting_at(1000));
        EventLog::new(capacity, ids, json("{\"s\":0}"))
    }

    #[test]
    fn a_continued_log_reads_on_from_the_old_logs_cursor() {
        // The old owner's log, its last id 1002.
        let old = log(8);
        old.append(&[event("a"), event("b")], None);
        let last = old.head();
        // The adopter's allocator started later, above that id.
        let allocator = Arc::new(IdAllocator::starting_at(50_000));
        let new = EventLog::continuing(8, allocator, last, json("{\"s\":1}"));
        let captured = Arc::new(Captured::default());
        assert!(new.replicate_to(captured.clone()));
        assert_eq!(new.head(), last);
        // A reader whose cursor is the old log's last id is neither reset
        // nor shown anything twice: it reads the new events from there.
        assert!(matches!(new.read(last, 10), Read::UpToDate));
        new.append(&[event("c")], None);
        assert_eq!(ids(new.read(last, 10)), vec![50_000]);
        // The replica (the Redis writer) learns the old last id as the
        // head, and chains the first entry on it, which is what followers
        // check.
        assert_eq!(*captured.prevs.lock(), vec![last, last]);
    }

    /// Records the predecessor of every batch a log replicates.
    #[derive(Debug, Default)]
    struct Captured {
        prevs: parking_lot::Mutex<Vec<u64>>,
    }

    impl Replica for Captured {
        fn appended(&self, batch: Appended) {
            self.prevs.lock().push(batch.prev);
        }
        fn closed(&self, _reason: &'static str) {}
    }

    fn is_reset(read: &Read) -> bool {
        matches!(read, Read::Reset { .. })
    }

    /// Any event: the log only names and serializes it.
    fn event(reason: &str) -> RoomEvent {
        RoomEvent::Closed(Closed {
            reason: reason.into(),
        })
    }

    fn ids(read: Read) -> Vec<u64> {
        match read {
            Read::Events(v) => v.iter().map(|e| e.id).collect(),
            other => panic!("expected events, got {other:?}"),
        }
    }

    #[test]
    fn readers_resume_exactly_after_their_cursor() {
        let log = log(8);
        assert!(matches!(log.read(1000, 10), Read::UpToDate));
        log.append(&[event("a"), event("b")], None);
        log.append(&[event("c")], Some(json("{\"s\":1}")));
        assert_eq!(ids(log.read(1000, 10)), [1001, 1002, 1003]);
        assert_eq!(ids(log.read(1001, 10)), [1002, 1003]);
        assert_eq!(ids(log.read(1000, 2)), [1001, 1002]);
        assert!(matches!(log.read(1003, 10), Read::UpToDate));
        let (snapshot, head) = log.snapshot();
        assert_eq!((snapshot.get(), head), ("{\"s\":1}", 1003));
    }

    #[test]
    fn evicted_and_foreign_cursors_reset() {
        let log = log(3);
        for _ in 0..5 {
            log.append(&[event("a")], None);
        }
        // Ring holds 1003..=1005; a cursor at 1002 still resumes.
        assert_eq!(ids(log.read(1002, 10)), [1003, 1004, 1005]);
        for stale in [1001, 999, 5, 2000] {
            match log.read(stale, 10) {
                Read::Reset { head, .. } => assert_eq!(head, 1005),
                other => panic!("cursor {stale}: expected reset, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_mirror_closed_by_its_logged_closed_entry_ends_without_a_second_close() {
        let mirror = EventLog::mirror(4, 1000, json("null"));
        let data = to_json(&serde_json::json!({ "reason": "server_lost" }));
        mirror.mirror_extend(vec![LogEntry::rendered(1001, "closed", &data)], None);
        mirror.close_logged("server_lost");
        // A reader before the entry reads it; at the entry, the log has
        // ended and the entry said so.
        assert_eq!(ids(mirror.read(1000, 10)), [1001]);
        assert!(matches!(mirror.read(1001, 10), Read::Ended("server_lost")));
        // A plain close still asks the transport for its closing frame.
        let log = log(4);
        log.close("room closed");
        assert!(matches!(log.read(1000, 10), Read::Closed("room closed")));
    }

    #[test]
    fn entries_are_rendered_once_for_both_transports() {
        let log = log(4);
        log.append(&[event("gone")], None);
        let Read::Events(events) = log.read(1000, 1) else {
            panic!("events expected");
        };
        assert_eq!(
            &events[0].sse[..],
            b"id: 1001\nevent: closed\ndata: {\"reason\":\"gone\"}\n\n"
        );
        assert_eq!(
            events[0].json.get(),
            r#"{"id":1001,"event":"closed","data":{"reason":"gone"}}"#
        );
    }

    #[tokio::test]
    async fn waiting_readers_wake_on_append_and_close() {
        let log = log(4);
        let mut rx = log.subscribe();
        let writer = log.clone();
        tokio::spawn(async move { writer.append(&[event("a")], None) });
        rx.changed().await.expect("writer alive");
        assert_eq!(*rx.borrow_and_update(), 1001);
        log.close("room closed");
        rx.changed().await.expect("close wakes");
        assert!(matches!(log.read(1001, 10), Read::Closed("room closed")));
        // A reader behind the close still gets what was logged first.
        assert_eq!(ids(log.read(1000, 10)), [1001]);
    }

    #[test]
    fn cursors_from_another_log_reset_even_when_in_range() {
        let alloc = Arc::new(IdAllocator::starting_at(1000));
        let a = EventLog::new(64, alloc.clone(), json("{}"));
        let b = EventLog::new(64, alloc, json("{}"));
        for _ in 0..10 {
            a.append(&[event("a")], None);
            b.append(&[event("a")], None);
        }
        // Created together, yet neither accepts the other's head, first
        // id or any id it logged.
        let (_, head_a) = a.snapshot();
        let (_, head_b) = b.snapshot();
        assert_ne!(head_a, head_b);
        for cursor in [head_a, head_a - 3, ids_of(&a)[0], 1000] {
            assert!(is_reset(&b.read(cursor, 10)), "a's {cursor} in b");
        }
        for cursor in [head_b, head_b - 3, ids_of(&b)[0]] {
            assert!(is_reset(&a.read(cursor, 10)), "b's {cursor} in a");
        }
        // Their own cursors still resume.
        assert_eq!(ids(a.read(1000, 100)).len(), 10);
    }

    fn ids_of(log: &EventLog) -> Vec<u64> {
        ids(log.read(log.ring.read().horizon, usize::MAX))
    }

    #[test]
    fn readers_resume_across_a_jump_to_the_next_range() {
        let alloc = Arc::new(IdAllocator::starting_at(1000));
        let busy = EventLog::new(1024, alloc.clone(), json("{}"));
        let other = EventLog::new(8, alloc, json("{}"));
        for _ in 0..300 {
            busy.append(&[event("a")], None);
        }
        other.append(&[event("a")], None);
        let all = ids_of(&busy);
        assert_eq!(all.len(), 300);
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        // The first range (1000..1256) is used up, then `other`'s range
        // lies between: the busy log's ids jump over it.
        assert_eq!(all[254], 1255);
        assert_eq!(all[255], 1512);
        assert_eq!(ids(busy.read(1255, 2)), [1512, 1513]);
        assert!(is_reset(&busy.read(1256, 2)), "an id in the gap");
        assert!(is_reset(&busy.read(1300, 2)), "another log's range");
    }

    /// What a log hands its replica, recorded.
    #[derive(Debug, Default)]
    struct Recorder(parking_lot::Mutex<Vec<(u64, Vec<u64>)>>);

    impl Replica for Recorder {
        fn appended(&self, batch: Appended) {
            let ids = batch.entries.iter().map(|e| e.id).collect();
            self.0.lock().push((batch.prev, ids));
        }
        fn closed(&self, _: &'static str) {}
    }

    #[test]
    fn a_replica_gets_each_append_with_its_predecessor_and_a_mirror_serves_the_same_reads() {
        let alloc = Arc::new(IdAllocator::starting_at(1000));
        let log = EventLog::new(4, alloc, json("{}"));
        let recorder = Arc::new(Recorder::default());
        assert!(log.replicate_to(recorder.clone()));
        log.append(&[event("a"), event("b")], Some(json("{\"s\":1}")));
        log.append(&[event("c")], Some(json("{\"s\":2}")));
        assert_eq!(
            *recorder.0.lock(),
            [(1000, vec![]), (1000, vec![1001, 1002]), (1002, vec![1003])]
        );
        // A mirror filled with the same entries answers every cursor as
        // the log does.
        let mirror = EventLog::mirror(4, 1000, json("null"));
        let copy = |after| match log.read(after, 10) {
            Read::Events(v) => v
                .iter()
                .map(|e| {
                    let polled: serde_json::Value =
                        serde_json::from_str(e.json.get()).expect("json");
                    let data = to_json(&polled["data"]);
                    LogEntry::rendered(e.id, polled["event"].as_str().expect("name"), &data)
                })
                .collect(),
            other => panic!("{other:?}"),
        };
        mirror.mirror_extend(copy(1000), Some(log.snapshot().0));
        for cursor in [1000, 1001, 1002, 1003] {
            assert_eq!(
                format!("{:?}", mirror.read(cursor, 10)),
                format!("{:?}", log.read(cursor, 10))
            );
        }
        assert!(is_reset(&mirror.read(999, 10)));
        // Starting over at 1003 resets every older cursor to the snapshot
        // as of 1003.
        mirror.mirror_restart(1003, Vec::new(), json("{\"s\":9}"));
        match mirror.read(1001, 10) {
            Read::Reset { snapshot, head } => {
                assert_eq!((snapshot.get(), head), ("{\"s\":9}", 1003))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(mirror.read(1003, 10), Read::UpToDate));
    }

    #[test]
    fn a_log_without_ids_closes_instead_of_reusing_one() {
        let alloc = Arc::new(IdAllocator::starting_at(MAX_ID - 300));
        let log = EventLog::new(8, alloc.clone(), json("{}"));
        for _ in 0..260 {
            log.append(&[event("a")], None);
        }
        let head = log.head();
        assert_eq!(head, MAX_ID - 300 + 255, "the first range, used up");
        assert!(matches!(log.read(head, 10), Read::Closed(IDS_EXHAUSTED)));
        let late = EventLog::new(8, alloc, json("{}"));
        assert!(matches!(
            late.read(late.head(), 10),
            Read::Closed(IDS_EXHAUSTED)
        ));
    }
}
