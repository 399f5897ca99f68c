//! Event ids: one process-wide allocator hands every event log (each room's
//! and the ticker's) disjoint ranges of ids, so a cursor from one log is
//! never mistaken for a position in another, and ids from an earlier run of
//! the server never land in a current log. It only does arithmetic on one
//! atomic counter: it never blocks and never does I/O, so a room task may
//! take a range mid-tick.
//!
//! # The arithmetic
//! - **The process floor** is unix milliseconds × [`IDS_PER_MS`] (1000),
//!   taken once per process: about 1.8e15 in 2026. Every id this process
//!   hands out lies between its floor and [`MAX_ID`] = 2^53 − 1, the
//!   largest integer a JavaScript number holds exactly.
//! - **Ranges.** A log takes its first range of [`FIRST_RANGE`] (256) ids
//!   when it opens. Its first id is its head until something is logged, so
//!   a fresh log's snapshot id is its own too. When a range is used up the
//!   log takes the next free range, twice as wide, up to [`LARGEST_RANGE`]
//!   (2^20). Ids thus grow strictly within a log and are consecutive
//!   within a range; between two of its ranges a log's ids jump over other
//!   logs' ranges. A log never runs out of ids while the process's space
//!   lasts, and it has reserved at most twice what it issued plus 512
//!   ([`reserved_bound`]): an idle room costs 256 ids, a busy one jumps
//!   once per million events.
//! - **Earlier processes.** A process's ids start at its own floor and grow
//!   only as fast as it reserves them, while the floor of a process started
//!   later grows by 1000 per millisecond of wall-clock time in between. So
//!   no id of an earlier process reaches a later floor unless the earlier
//!   one reserved more than 1000 ids per millisecond of its life on average
//!   (500,000 events a second, or about 3,900 new rooms a second,
//!   sustained from start to exit), far past what a server renders. The allocator
//!   warns once if it ever runs ahead of the clock that way.
//! - **Exhaustion.** The floor reaches [`MAX_ID`] in the year 2255; from
//!   today's floor the space above lasts about 228 years at a million ids
//!   a second. If it is ever used up, [`IdAllocator::reserve`] refuses
//!   rather than wrap or overlap, and the log that asked closes (readers
//!   get `closed`); the room plays on unwatched.
//!
//! Two processes that serve the same clients at the same time (rather than
//! one after the other) are beyond this scheme: that is the job of a shared
//! allocator such as a Redis counter handing out the same ranges, which can
//! replace this one without changing the ids clients hold.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use tracing::warn;

use super::event_log::unix_millis;

/// Ids the process floor advances per millisecond of wall-clock time.
pub const IDS_PER_MS: u64 = 1000;

/// The largest id ever handed out plus one, and the head of a log that got
/// no range: 2^53 − 1, JavaScript's `Number.MAX_SAFE_INTEGER`.
pub const MAX_ID: u64 = (1 << 53) - 1;

/// Width of a log's first range.
pub const FIRST_RANGE: u64 = 256;

/// Width a log's ranges double up to.
pub const LARGEST_RANGE: u64 = 1 << 20;

/// The id space is used up: the allocator refuses rather than overlap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("event ids exhausted: no {wanted} ids left below {MAX_ID}")]
pub struct IdsExhausted {
    /// The width asked for.
    pub wanted: u64,
}

/// Hands out disjoint ranges of ids above a floor. See the module docs.
#[derive(Debug)]
pub struct IdAllocator {
    floor: u64,
    /// The first id not yet handed out.
    next: AtomicU64,
    /// Whether the "ahead of the clock" warning was logged.
    warned: AtomicBool,
}

/// The floor of a process started at `unix_ms`.
#[must_use]
pub fn floor_at(unix_ms: u64) -> u64 {
    unix_ms.saturating_mul(IDS_PER_MS)
}

/// The most ids a log that issued `issued` of them has reserved.
#[must_use]
pub fn reserved_bound(issued: u64) -> u64 {
    2 * issued + 2 * FIRST_RANGE
}

impl IdAllocator {
    /// The allocator of this process, its floor taken on first use.
    #[must_use]
    pub fn process() -> Arc<IdAllocator> {
        static PROCESS: OnceLock<Arc<IdAllocator>> = OnceLock::new();
        PROCESS
            .get_or_init(|| Arc::new(IdAllocator::starting_at(floor_at(unix_millis()))))
            .clone()
    }

    /// An allocator whose first range starts at `floor`.
    #[must_use]
    pub fn starting_at(floor: u64) -> IdAllocator {
        IdAllocator {
            floor,
            next: AtomicU64::new(floor),
            warned: AtomicBool::new(false),
        }
    }

    /// Where this allocator's ids start.
    #[must_use]
    pub fn floor(&self) -> u64 {
        self.floor
    }

    /// The next `width` ids, never handed out before.
    ///
    /// # Errors
    /// [`IdsExhausted`] when fewer than `width` ids are left below
    /// [`MAX_ID`].
    pub fn reserve(&self, width: u64) -> Result<Range<u64>, IdsExhausted> {
        let exhausted = IdsExhausted { wanted: width };
        let start = self
            .next
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |next| {
                next.checked_add(width).filter(|end| *end <= MAX_ID)
            })
            .map_err(|_| exhausted)?;
        let range = start..start + width;
        let clock = floor_at(unix_millis());
        if range.end > clock && !self.warned.swap(true, Ordering::Relaxed) {
            warn!(
                next = range.end,
                clock_floor = clock,
                ahead_ms = (range.end - clock) / IDS_PER_MS,
                "event ids ran ahead of the clock; a restart before it catches up could meet ids of this run"
            );
        }
        Ok(range)
    }

    /// The next `width` ids, all above `after`: the first range of a log
    /// that continues another process's log whose last id was `after` (a
    /// room handed over between nodes). The counter is lifted to
    /// `after + 1` first, so no later range of this allocator, for any
    /// log, reaches back below the continued log's ids. If the counter is
    /// already past `after + 1`, the range starts there: the continued
    /// log's ids then jump, which readers accept (they chain entries by
    /// their predecessor, as between any two ranges of one log).
    ///
    /// # Errors
    /// [`IdsExhausted`] when fewer than `width` ids are left between
    /// `after` and [`MAX_ID`]; nothing is reserved then.
    pub fn reserve_above(&self, after: u64, width: u64) -> Result<Range<u64>, IdsExhausted> {
        let exhausted = IdsExhausted { wanted: width };
        let start = self
            .next
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |next| {
                let start = next.max(after.checked_add(1)?);
                start.checked_add(width).filter(|end| *end <= MAX_ID)
            })
            .map_err(|_| exhausted)?
            .max(after + 1);
        Ok(start..start + width)
    }
}

/// One log's supply of ids: the range it is using and where to get the
/// next one. Lives under the log's write lock.
#[derive(Debug)]
pub struct LogIds {
    allocator: Arc<IdAllocator>,
    /// The next id to issue.
    next: u64,
    /// End of the current range (exclusive).
    end: u64,
    /// Width of the current range.
    width: u64,
}

impl LogIds {
    /// A new log's ids and its first head (the first id of its first
    /// range, never issued to an event).
    ///
    /// # Errors
    /// [`IdsExhausted`] when the allocator has no range left.
    pub fn open(allocator: Arc<IdAllocator>) -> Result<(LogIds, u64), IdsExhausted> {
        let first = allocator.reserve(FIRST_RANGE)?;
        let head = first.start;
        let ids = LogIds {
            allocator,
            next: first.start + 1,
            end: first.end,
            width: FIRST_RANGE,
        };
        Ok((ids, head))
    }

    /// The ids of a log that continues one whose last id was `last` (a
    /// room handed over from another node): its head is `last`, so its
    /// first event names `last` as its predecessor and readers holding a
    /// cursor of the old log read on without a gap; every id it issues is
    /// above `last`.
    ///
    /// # Errors
    /// [`IdsExhausted`] when no range is left above `last`.
    pub fn continuing(allocator: Arc<IdAllocator>, last: u64) -> Result<LogIds, IdsExhausted> {
        let first = allocator.reserve_above(last, FIRST_RANGE)?;
        Ok(LogIds {
            allocator,
            next: first.start,
            end: first.end,
            width: FIRST_RANGE,
        })
    }

    /// The id for the next event: greater than every id this log issued.
    ///
    /// # Errors
    /// [`IdsExhausted`] when the range is used up and no other is left.
    pub fn issue(&mut self) -> Result<u64, IdsExhausted> {
        if self.next == self.end {
            let width = (self.width * 2).min(LARGEST_RANGE);
            let range = self.allocator.reserve(width)?;
            self.width = width;
            self.next = range.start;
            self.end = range.end;
        }
        let id = self.next;
        self.next += 1;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS_PER_YEAR: u64 = 31_556_952_000; // 365.2425 days

    /// Unix milliseconds at the start of `year` (Gregorian, approximate to
    /// a day, which is plenty for these bounds).
    fn year_start_ms(year: u64) -> u64 {
        (year - 1970) * MS_PER_YEAR
    }

    #[test]
    fn floors_fit_javascript_numbers_for_centuries() {
        let today = floor_at(unix_millis());
        assert!(today > floor_at(year_start_ms(2025)), "clock sane");
        assert!(floor_at(year_start_ms(2255)) < MAX_ID);
        assert!(floor_at(year_start_ms(2256)) > MAX_ID);
        // At a million ids a second (500,000 events a second, beyond what
        // a server renders) the space above today's floor lasts two
        // centuries.
        let per_year = 1_000_000 * MS_PER_YEAR / 1000;
        assert!((MAX_ID - today) / per_year >= 200);
        assert!(IdAllocator::process().floor() <= today);
        assert!(IdAllocator::process().floor() > floor_at(year_start_ms(2025)));
    }

    #[test]
    fn ranges_are_disjoint_and_above_the_floor() {
        let ids = IdAllocator::starting_at(5_000);
        let a = ids.reserve(10).expect("space");
        let b = ids.reserve(20).expect("space");
        assert_eq!(a, 5_000..5_010);
        assert_eq!(b, 5_010..5_030);
    }

    #[test]
    fn a_log_never_runs_out_and_reserves_at_most_twice_what_it_issued() {
        let allocator = Arc::new(IdAllocator::starting_at(1_000_000));
        let (mut a, head_a) = LogIds::open(allocator.clone()).expect("space");
        let (mut b, head_b) = LogIds::open(allocator.clone()).expect("space");
        let mut last_a = head_a;
        let mut issued_a = Vec::new();
        let mut issued_b = std::collections::BTreeSet::from([head_b]);
        // Two logs interleaved, one busy and one slow, for three million
        // events: each strictly increasing, never sharing an id.
        for i in 0..3_000_000u64 {
            let id = a.issue().expect("space");
            assert!(id > last_a);
            last_a = id;
            if i % 1000 == 0 {
                issued_a.push(id);
            }
            if i % 5 == 0 {
                issued_b.insert(b.issue().expect("space"));
            }
        }
        assert!(issued_a.iter().all(|id| !issued_b.contains(id)));
        let reserved = allocator.next.load(Ordering::Relaxed) - allocator.floor();
        assert!(
            reserved <= reserved_bound(3_000_000) + reserved_bound(600_000),
            "{reserved} reserved"
        );
        assert_eq!(a.width, LARGEST_RANGE, "ranges stop doubling");
    }

    #[test]
    fn a_continued_log_chains_on_the_old_last_id_and_lifts_the_counter() {
        // The adopting node started later: its floor is above the old
        // log's last id. The continued log's first id is then its counter
        // (a jump readers accept), and still chained on the old last.
        let late = Arc::new(IdAllocator::starting_at(9_000));
        let mut log = LogIds::continuing(late.clone(), 5_000).expect("space");
        assert_eq!(log.issue(), Ok(9_000));
        // The adopting node started earlier and has handed out less: the
        // log continues at the old last + 1, and no later range of that
        // allocator, for any log, reaches below the continued ids.
        let early = Arc::new(IdAllocator::starting_at(1_000));
        let mut log = LogIds::continuing(early.clone(), 5_000).expect("space");
        let first = log.issue().expect("space");
        assert_eq!(first, 5_001);
        let (mut other, other_head) = LogIds::open(early.clone()).expect("space");
        assert!(other_head >= 5_001 + FIRST_RANGE);
        assert!(other.issue().expect("space") > 5_001 + FIRST_RANGE);
        // The continued log goes on past its first range, above every id
        // it issued.
        let mut last = first;
        for _ in 0..(3 * FIRST_RANGE) {
            let id = log.issue().expect("space");
            assert!(id > last);
            last = id;
        }
        // A last id at the top of the space leaves nothing: refused, and
        // nothing taken.
        let before = early.next.load(Ordering::Relaxed);
        assert_eq!(
            early.reserve_above(MAX_ID - 10, FIRST_RANGE),
            Err(IdsExhausted {
                wanted: FIRST_RANGE
            })
        );
        assert_eq!(
            early.reserve_above(u64::MAX, 1),
            Err(IdsExhausted { wanted: 1 })
        );
        assert_eq!(early.next.load(Ordering::Relaxed), before);
    }

    #[test]
    fn an_exhausted_allocator_refuses_instead_of_overlapping() {
        let allocator = Arc::new(IdAllocator::starting_at(MAX_ID - FIRST_RANGE - 10));
        let (mut log, head) = LogIds::open(allocator.clone()).expect("one range left");
        assert_eq!(head, MAX_ID - FIRST_RANGE - 10);
        for _ in 1..FIRST_RANGE {
            assert!(log.issue().expect("in range") < MAX_ID);
        }
        assert_eq!(
            log.issue(),
            Err(IdsExhausted {
                wanted: 2 * FIRST_RANGE
            })
        );
        assert!(LogIds::open(allocator.clone()).is_err());
        // A failed reservation takes nothing: the last ten ids are still
        // there for a request that fits.
        assert_eq!(allocator.reserve(10), Ok(MAX_ID - 10..MAX_ID));
    }
}
