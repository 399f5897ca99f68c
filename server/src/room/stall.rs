//! Tick stamps: when each room last finished a tick, for the health check
//! (`/healthz` answers 503 `tick_stalled` while a live room has not ticked
//! for `--stall-secs`).
//!
//! The room task stores its stamp after every tick: one relaxed atomic
//! store, no lock. `/healthz` and `/metrics` read the stamps. Nothing here
//! may take a lock or await: a room stuck in its tick must never hold up
//! the reader that reports it, and the reader must never slow a tick.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The process's monotonic zero: stamps are milliseconds since it, so one
/// `u64` holds a stamp and the wall clock's jumps cannot fake a stall.
static EPOCH: OnceLock<Instant> = OnceLock::new();

fn now_ms() -> u64 {
    let since = EPOCH.get_or_init(Instant::now).elapsed();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// When a room last finished a tick. A new stamp reads "now": a room that
/// just opened has its first tick within one period.
#[derive(Debug)]
pub struct TickStamp(AtomicU64);

impl Default for TickStamp {
    fn default() -> Self {
        TickStamp(AtomicU64::new(now_ms()))
    }
}

impl TickStamp {
    /// The room ticked now.
    pub fn stamp(&self) {
        self.0.store(now_ms(), Ordering::Relaxed);
    }

    /// How long since the room last ticked.
    #[must_use]
    pub fn age(&self) -> Duration {
        Duration::from_millis(now_ms().saturating_sub(self.0.load(Ordering::Relaxed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_ages_until_the_next_tick() {
        let stamp = TickStamp::default();
        std::thread::sleep(Duration::from_millis(20));
        assert!(stamp.age() >= Duration::from_millis(20));
        stamp.stamp();
        assert!(stamp.age() < Duration::from_millis(20));
    }
}
