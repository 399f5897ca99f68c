//! The per-connection outbox: a latest-wins slot between a room's tick loop
//! and one connection's writer.
//!
//! The room puts the newest snapshot in and never waits; the writer takes it
//! out when the socket can take it. A snapshot not yet taken is replaced (and
//! counted as skipped), so a slow reader costs one slot of memory and needs no
//! kick: its next delta is built against whatever it acknowledged. The lock
//! guards a pointer swap only and is never held across an await or I/O.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use skirmish_shared::{CloseCode, Moved};
use tokio::sync::Notify;

use super::snapshot::SharedBody;

/// One player's snapshot: the per-player header plus a body shared by every
/// player with the same baseline.
#[derive(Clone, Debug)]
pub struct SnapshotOut {
    /// Newest input sequence applied for this player.
    pub last_input: u32,
    pub body: Arc<SharedBody>,
}

/// What the writer should do next.
#[derive(Debug)]
pub enum Outgoing {
    /// Send this snapshot.
    Snapshot(SnapshotOut),
    /// Close the socket with this code and reason; nothing follows.
    Close(CloseCode, &'static str),
    /// Send an operator's message (`ServerMsg::Notice`).
    Notice(Arc<str>),
    /// Tell the player where its room continues (`ServerMsg::Moved`); the
    /// close follows.
    Moved(Arc<Moved>),
}

#[derive(Debug, Default)]
struct Slot {
    snapshot: Option<SnapshotOut>,
    close: Option<(CloseCode, &'static str)>,
    /// Latest-wins too: operators send a notice every few seconds at most,
    /// and a newer one says what matters now.
    notice: Option<Arc<str>>,
    /// Where the room went: sent once, before the close that comes with it.
    moved: Option<Arc<Moved>>,
}

/// Latest-wins slot of one connection. Memory: one snapshot handle and
/// one notice handle. It also carries the connection's last measured
/// round trip from the connection to the room (the admin overview).
#[derive(Debug, Default)]
pub struct Outbox {
    /// Milliseconds plus one; 0 before the first measurement. An atomic,
    /// so neither side ever waits on the other for it.
    rtt: AtomicU32,
    slot: Mutex<Slot>,
    /// Wakes the writer; `notify_one` stores a permit when no one waits, so a
    /// put between two `next` calls is never missed.
    wake: Notify,
}

impl Outbox {
    /// A fresh, empty outbox.
    #[must_use]
    pub fn new() -> Arc<Outbox> {
        Arc::new(Outbox::default())
    }

    /// Offers the newest snapshot, replacing an unsent one. Never blocks on
    /// the writer. Returns true when an unsent snapshot was replaced
    /// (skipped for a slow reader).
    pub fn put(&self, snapshot: SnapshotOut) -> bool {
        let replaced = self.slot.lock().snapshot.replace(snapshot).is_some();
        self.wake.notify_one();
        replaced
    }

    /// Records the connection's newest round trip.
    pub fn set_rtt(&self, rtt: Duration) {
        let ms = u32::try_from(rtt.as_millis()).unwrap_or(u32::MAX - 1);
        self.rtt.store(ms.saturating_add(1), Ordering::Relaxed);
    }

    /// The newest round trip in milliseconds, if one was measured.
    #[must_use]
    pub fn rtt_ms(&self) -> Option<u32> {
        self.rtt.load(Ordering::Relaxed).checked_sub(1)
    }

    /// Offers an operator's message, replacing an unsent one. Never blocks.
    pub fn notice(&self, text: Arc<str>) {
        self.slot.lock().notice = Some(text);
        self.wake.notify_one();
    }

    /// Asks the writer to close the socket; later snapshots are ignored.
    pub fn close(&self, code: CloseCode, reason: &'static str) {
        let mut slot = self.slot.lock();
        slot.close.get_or_insert((code, reason));
        drop(slot);
        self.wake.notify_one();
    }

    /// Tells the player its room moved to another node, then closes the
    /// socket with [`super::MOVED`]. Never blocks.
    pub fn moved(&self, to: Arc<Moved>) {
        let mut slot = self.slot.lock();
        if slot.close.is_none() {
            slot.moved = Some(to);
            slot.close = Some((CloseCode::GoingAway, super::MOVED));
        }
        drop(slot);
        self.wake.notify_one();
    }

    /// The close asked for, if any: a connection stopping for another
    /// reason (shutdown) closes with the room's words when the room spoke
    /// first (a drained room's `server_drain` just before shutdown).
    #[must_use]
    pub fn closing(&self) -> Option<(CloseCode, &'static str)> {
        self.slot.lock().close
    }

    /// Waits for the next thing to send. Where a moved room went comes
    /// first (its close follows); a close wins over a pending notice, and a
    /// notice over a snapshot (it is rare and small, and the snapshot is
    /// still there next time).
    pub async fn next(&self) -> Outgoing {
        loop {
            {
                let mut slot = self.slot.lock();
                if let Some(to) = slot.moved.take() {
                    return Outgoing::Moved(to);
                }
                if let Some((code, reason)) = slot.close {
                    return Outgoing::Close(code, reason);
                }
                if let Some(text) = slot.notice.take() {
                    return Outgoing::Notice(text);
                }
                if let Some(snapshot) = slot.snapshot.take() {
                    return Outgoing::Snapshot(snapshot);
                }
            }
            self.wake.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skirmish_shared::SnapshotBody;
    use skirmish_shared::codec::EncodedBody;

    fn out(last_input: u32) -> SnapshotOut {
        let value = SnapshotBody::default();
        let encoded = EncodedBody::new(&value).expect("encode");
        SnapshotOut {
            last_input,
            body: Arc::new(SharedBody::new(value, encoded)),
        }
    }

    #[tokio::test]
    async fn newest_snapshot_wins_and_replacements_are_reported() {
        let outbox = Outbox::new();
        assert!(!outbox.put(out(1)));
        assert!(outbox.put(out(2)));
        assert!(outbox.put(out(3)));
        match outbox.next().await {
            Outgoing::Snapshot(s) => assert_eq!(s.last_input, 3),
            other => panic!("expected a snapshot, got {other:?}"),
        }
        assert!(!outbox.put(out(4)), "the slot was emptied by the writer");
    }

    #[tokio::test]
    async fn a_waiting_writer_is_woken_and_close_wins() {
        let outbox = Outbox::new();
        let waiter = {
            let outbox = outbox.clone();
            tokio::spawn(async move { outbox.next().await })
        };
        tokio::task::yield_now().await;
        outbox.put(out(7));
        assert!(matches!(waiter.await.expect("join"), Outgoing::Snapshot(s) if s.last_input == 7));
        outbox.put(out(8));
        outbox.close(CloseCode::SessionReplaced, "resumed elsewhere");
        assert!(matches!(
            outbox.next().await,
            Outgoing::Close(CloseCode::SessionReplaced, _)
        ));
    }

    #[tokio::test]
    async fn a_notice_goes_before_the_snapshot_and_the_newest_wins() {
        let outbox = Outbox::new();
        outbox.put(out(1));
        outbox.notice("first".into());
        outbox.notice("second".into());
        assert!(matches!(outbox.next().await, Outgoing::Notice(text) if &*text == "second"));
        assert!(matches!(outbox.next().await, Outgoing::Snapshot(s) if s.last_input == 1));
    }

    #[tokio::test]
    async fn a_move_is_told_once_before_its_close() {
        let outbox = Outbox::new();
        outbox.put(out(1));
        outbox.moved(Arc::new(Moved {
            room: "r".into(),
            node: "b".into(),
            node_url: "http://b.test".into(),
            ws_url: "ws://b.test/ws?room=r".into(),
        }));
        assert!(matches!(outbox.next().await, Outgoing::Moved(to) if to.node == "b"));
        assert!(matches!(
            outbox.next().await,
            Outgoing::Close(CloseCode::GoingAway, crate::room::MOVED)
        ));
    }
}
