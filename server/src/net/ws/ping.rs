//! The server's own round-trip measurement of a player socket: each
//! heartbeat ping carries a stamp (milliseconds since the connection's
//! start), and the pong that echoes the newest stamp gives the round trip,
//! which the admin overview shows as the player's ping. Owns the stamps;
//! never trusts a pong it did not ask for (an unsolicited or stale pong,
//! or one with another payload, measures nothing).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

/// Stamps of one connection's pings. The writer stamps, the reader checks;
/// both run in the connection's task, and the atomic lets them share it
/// without a lock.
#[derive(Debug)]
pub(super) struct PingClock {
    start: Instant,
    /// The newest ping's stamp plus one; 0 before the first ping.
    last: AtomicU64,
}

impl PingClock {
    pub(super) fn new() -> PingClock {
        PingClock {
            start: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    /// The payload of the next ping: its stamp, 8 bytes little-endian.
    pub(super) fn stamp(&self) -> Bytes {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        self.last.store(ms + 1, Ordering::Relaxed);
        Bytes::copy_from_slice(&ms.to_le_bytes())
    }

    /// The round trip a pong measures: only one echoing the newest ping,
    /// once (the stamp is spent).
    pub(super) fn answered(&self, payload: &[u8]) -> Option<Duration> {
        let ms = u64::from_le_bytes(payload.try_into().ok()?);
        self.last
            .compare_exchange(ms + 1, 0, Ordering::Relaxed, Ordering::Relaxed)
            .ok()?;
        let sent = Duration::from_millis(ms);
        Some(self.start.elapsed().saturating_sub(sent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn only_the_echo_of_the_newest_ping_measures_once() {
        let clock = PingClock::new();
        assert_eq!(
            clock.answered(&0u64.to_le_bytes()),
            None,
            "no ping sent yet"
        );
        tokio::time::advance(Duration::from_millis(1000)).await;
        let first = clock.stamp();
        tokio::time::advance(Duration::from_millis(500)).await;
        let second = clock.stamp();
        tokio::time::advance(Duration::from_millis(40)).await;
        assert_eq!(clock.answered(&first), None, "a stale pong");
        assert_eq!(clock.answered(b"junk"), None);
        assert_eq!(clock.answered(&second), Some(Duration::from_millis(40)));
        assert_eq!(clock.answered(&second), None, "a stamp measures once");
    }
}
