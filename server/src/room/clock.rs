//! When a room ticks: the rooms of a process tick in a few shared phases
//! of the tick period, aligned to the Unix clock, instead of each at the
//! instant it happened to open.
//!
//! Why: whatever a tick sends on (a room's log appends to Redis, its state
//! samples, its snapshots) then leaves every room of a phase within a
//! fraction of a millisecond, so one wake-up of the log writer, of Redis
//! and of the other nodes' pub/sub readers carries every room of the phase
//! instead of one room each. Waking a sleeping process is what most of a
//! small call costs on a virtual machine (docs/benchmarks.md: Redis spends
//! about four times as much CPU on an `append` sent alone as on one in a
//! pipeline). The price is that a phase's rooms compete for the cores at
//! the same instant: a room can start its snapshot fan-out a little later
//! than it would alone, by at most the tick time of the rooms ahead of it
//! in its phase. More phases spread that; `--tick-phases 0` gives every
//! room its own phase, as before.
//!
//! This module only computes instants; it never sleeps or reads a room.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::{Instant, Interval, MissedTickBehavior};

/// The tick clock of a room in `phase` of `phases` (0 phases: a clock that
/// starts now, unaligned).
#[must_use]
pub fn tick_clock(period: Duration, phase: u16, phases: u16) -> Interval {
    let start = Instant::now() + first_wait(period, phase, phases, since_unix_epoch());
    let mut clock = tokio::time::interval_at(start, period);
    // A late tick is skipped rather than run in a burst: bursts would
    // send clients several snapshots at once and starve other rooms.
    // Skipping also keeps the clock on its phase.
    clock.set_missed_tick_behavior(MissedTickBehavior::Skip);
    clock
}

/// The phase a room opened as the `instance`th of its process takes:
/// rooms are dealt round the phases so each phase holds an equal share.
#[must_use]
pub fn phase_of(instance: u64, phases: u16) -> u16 {
    if phases == 0 {
        return 0;
    }
    u16::try_from(instance % u64::from(phases)).unwrap_or(0)
}

/// How long to wait from `now` (time since the Unix epoch) until the next
/// start of `phase`: always less than one period, so a wrong wall clock
/// can delay a room's first tick by one period at most.
fn first_wait(period: Duration, phase: u16, phases: u16, now: Duration) -> Duration {
    let period_ns = period.as_nanos();
    if phases == 0 || period_ns == 0 {
        return Duration::ZERO;
    }
    let offset = period_ns * u128::from(phase % phases) / u128::from(phases);
    let into = now.as_nanos() % period_ns;
    let wait = (offset + period_ns - into) % period_ns;
    Duration::from_nanos(u64::try_from(wait).unwrap_or(0))
}

fn since_unix_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERIOD: Duration = Duration::from_millis(30);

    #[test]
    fn a_phase_starts_at_its_share_of_the_period() {
        // 1,000,000 ms since the epoch is 10 ms into a 30 ms period.
        let now = Duration::from_millis(1_000_000);
        assert_eq!(first_wait(PERIOD, 0, 3, now), Duration::from_millis(20));
        assert_eq!(first_wait(PERIOD, 1, 3, now), Duration::from_millis(0));
        assert_eq!(first_wait(PERIOD, 2, 3, now), Duration::from_millis(10));
    }

    #[test]
    fn the_wait_is_always_shorter_than_a_period() {
        for ms in 0..90 {
            for phase in 0..4 {
                let wait = first_wait(PERIOD, phase, 4, Duration::from_millis(ms));
                assert!(wait < PERIOD, "{ms} ms, phase {phase}: {wait:?}");
            }
        }
    }

    #[test]
    fn rooms_on_one_phase_tick_together() {
        // Two rooms opened 7 ms apart on the same phase start on the same
        // instant of the Unix clock.
        let a = Duration::from_millis(5_000_003);
        let b = a + Duration::from_millis(7);
        assert_eq!(
            a + first_wait(PERIOD, 1, 2, a),
            b + first_wait(PERIOD, 1, 2, b)
        );
    }

    #[test]
    fn zero_phases_starts_at_once() {
        let now = Duration::from_millis(1_000_010);
        assert_eq!(first_wait(PERIOD, 0, 0, now), Duration::ZERO);
        assert_eq!(phase_of(7, 0), 0);
    }

    #[test]
    fn rooms_are_dealt_round_the_phases() {
        let phases: Vec<u16> = (1..=6).map(|i| phase_of(i, 3)).collect();
        assert_eq!(phases, [1, 2, 0, 1, 2, 0]);
    }
}
