//! The event log: what spectators, scoreboards and pollers read. An
//! append-only ring of events with consecutive `u64` ids, plus the snapshot
//! that is true as of the newest id.
//!
//! One writer (a room task, or the ticker) appends a batch per tick under a
//! short write lock. Readers hold only a cursor (the last id they saw) and
//! copy `Arc`s out under a read lock; nobody holds the lock across an await
//! or any I/O, so appending never waits for a reader. A reader whose cursor
//! has left the ring (or comes from another incarnation of the server) gets
//! [`Read::Reset`] with the current snapshot, never a silent gap.
//!
//! Ids start at a per-incarnation floor (unix milliseconds × 1000, below
//! 2^53 so JavaScript holds them exactly), so an id from an earlier process
//! is never mistaken for a current one. Every entry is rendered once, as an
//! SSE frame and as a long-poll JSON object, and shared by every reader.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parking_lot::RwLock;
use tokio::sync::watch;

/// One logged event, rendered for every transport.
#[derive(Debug)]
pub struct LogEntry {
    /// Its id.
    pub id: u64,
    /// Event name (`join`, `kill`, ...).
    pub kind: &'static str,
    /// The JSON object.
    pub data: Arc<str>,
    /// `id: ..\nevent: ..\ndata: ..\n\n`.
    pub sse: Bytes,
    /// `{"id":..,"event":"..","data":{..}}`.
    pub json: Bytes,
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
        snapshot: Arc<str>,
        /// The newest id.
        head: u64,
    },
    /// The log's writer is gone (room closed, server stopping).
    Closed(&'static str),
}

#[derive(Debug)]
struct Ring {
    entries: VecDeque<Arc<LogEntry>>,
    capacity: usize,
    /// The newest id (the floor while nothing was appended).
    head: u64,
    snapshot: Arc<str>,
    closed: Option<&'static str>,
}

/// A bounded, resumable event log. See the module docs.
#[derive(Debug)]
pub struct EventLog {
    ring: RwLock<Ring>,
    /// The newest id, for readers to wait on; `watch` holds one value, so
    /// waking a thousand readers costs no queue.
    head: watch::Sender<u64>,
}

/// A floor for a new log's ids: unix time in milliseconds × 1000.
#[must_use]
pub fn incarnation_floor() -> u64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
    ms.saturating_mul(1000)
}

/// Unix time in milliseconds, the clock events are stamped with.
#[must_use]
pub fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0))
}

fn render(id: u64, kind: &'static str, data: &str) -> (Bytes, Bytes) {
    let sse = format!("id: {id}\nevent: {kind}\ndata: {data}\n\n");
    let json = format!("{{\"id\":{id},\"event\":\"{kind}\",\"data\":{data}}}");
    (Bytes::from(sse), Bytes::from(json))
}

impl EventLog {
    /// An empty log holding up to `capacity` events, ids after `floor`.
    #[must_use]
    pub fn new(capacity: usize, floor: u64, snapshot: Arc<str>) -> Arc<EventLog> {
        let (head, _) = watch::channel(floor);
        Arc::new(EventLog {
            ring: RwLock::new(Ring {
                entries: VecDeque::with_capacity(capacity.max(1)),
                capacity: capacity.max(1),
                head: floor,
                snapshot,
                closed: None,
            }),
            head,
        })
    }

    /// Appends `events` (name, JSON object) and, when given, replaces the
    /// snapshot, as one step: a reader sees both or neither.
    pub fn append(&self, events: Vec<(&'static str, String)>, snapshot: Option<Arc<str>>) {
        if events.is_empty() && snapshot.is_none() {
            return;
        }
        let head = {
            let mut ring = self.ring.write();
            for (kind, data) in events {
                let id = ring.head + 1;
                let (sse, json) = render(id, kind, &data);
                if ring.entries.len() == ring.capacity {
                    ring.entries.pop_front();
                }
                ring.entries.push_back(Arc::new(LogEntry {
                    id,
                    kind,
                    data: data.into(),
                    sse,
                    json,
                }));
                ring.head = id;
            }
            if let Some(snapshot) = snapshot {
                ring.snapshot = snapshot;
            }
            ring.head
        };
        self.head.send_replace(head);
    }

    /// Marks the log finished; readers get [`Read::Closed`].
    pub fn close(&self, reason: &'static str) {
        self.ring.write().closed = Some(reason);
        // Wake every waiting reader so it sees the close.
        self.head.send_modify(|_| {});
    }

    /// The current snapshot and the id it is true as of.
    #[must_use]
    pub fn snapshot(&self) -> (Arc<str>, u64) {
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
        if let Some(reason) = ring.closed.filter(|_| after >= ring.head) {
            return Read::Closed(reason);
        }
        if after == ring.head {
            return Read::UpToDate;
        }
        let oldest = ring.entries.front().map_or(ring.head + 1, |e| e.id);
        if after > ring.head || after + 1 < oldest {
            return Read::Reset {
                snapshot: ring.snapshot.clone(),
                head: ring.head,
            };
        }
        // Ids are consecutive, so the first unseen entry is at a known index.
        let start = usize::try_from(after + 1 - oldest).unwrap_or(usize::MAX);
        Read::Events(
            ring.entries
                .iter()
                .skip(start)
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

    fn log(capacity: usize) -> Arc<EventLog> {
        EventLog::new(capacity, 1000, Arc::from("{\"s\":0}"))
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
        log.append(vec![("join", "{}".into()), ("kill", "{}".into())], None);
        log.append(vec![("score", "{}".into())], Some(Arc::from("{\"s\":1}")));
        assert_eq!(ids(log.read(1000, 10)), [1001, 1002, 1003]);
        assert_eq!(ids(log.read(1001, 10)), [1002, 1003]);
        assert_eq!(ids(log.read(1000, 2)), [1001, 1002]);
        assert!(matches!(log.read(1003, 10), Read::UpToDate));
        assert_eq!(log.snapshot(), (Arc::from("{\"s\":1}"), 1003));
    }

    #[test]
    fn evicted_and_foreign_cursors_reset() {
        let log = log(3);
        for _ in 0..5 {
            log.append(vec![("kill", "{\"a\":1}".into())], None);
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
    fn entries_are_rendered_once_for_both_transports() {
        let log = log(4);
        log.append(vec![("kill", "{\"killer\":3}".into())], None);
        let Read::Events(events) = log.read(1000, 1) else {
            panic!("events expected");
        };
        assert_eq!(
            &events[0].sse[..],
            b"id: 1001\nevent: kill\ndata: {\"killer\":3}\n\n"
        );
        assert_eq!(
            &events[0].json[..],
            b"{\"id\":1001,\"event\":\"kill\",\"data\":{\"killer\":3}}"
        );
    }

    #[tokio::test]
    async fn waiting_readers_wake_on_append_and_close() {
        let log = log(4);
        let mut rx = log.subscribe();
        let writer = log.clone();
        tokio::spawn(async move { writer.append(vec![("join", "{}".into())], None) });
        rx.changed().await.expect("writer alive");
        assert_eq!(*rx.borrow_and_update(), 1001);
        log.close("room closed");
        rx.changed().await.expect("close wakes");
        assert!(matches!(log.read(1001, 10), Read::Closed("room closed")));
        // A reader behind the close still gets what was logged first.
        assert_eq!(ids(log.read(1000, 10)), [1001]);
    }

    #[test]
    fn floors_fit_javascript_numbers() {
        assert!(incarnation_floor() < (1u64 << 53));
        assert!(incarnation_floor() > 1_600_000_000_000_000);
    }
}
