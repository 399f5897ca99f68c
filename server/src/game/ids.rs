//! Ship id allocation: the smallest free id from 1, with a quarantine after
//! release. Clients diff snapshots against acknowledged baselines; if an id
//! came back too soon, a baseline holding the old ship would turn the new one
//! into a mere "changed" entry. Pure bookkeeping, no `World` access.

use bevy_ecs::prelude::*;
use skirmish_shared::{ShipId, Tick};

/// Ticks a released id stays unused. The room keeps less snapshot history
/// than this, so no usable baseline can hold the previous owner of an id.
pub const ID_QUARANTINE_TICKS: u32 = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Free,
    Live,
    /// Released at this tick (the last tick it was in an output).
    Quarantined(Tick),
}

impl Slot {
    /// Whether an id in this slot may be handed out at `now`.
    fn usable(self, now: Tick) -> bool {
        match self {
            Slot::Free => true,
            Slot::Live => false,
            Slot::Quarantined(at) => now.since(at) >= ID_QUARANTINE_TICKS,
        }
    }
}

/// Which ship ids are live, free or quarantined.
#[derive(Resource, Clone, Debug, Default)]
pub struct ShipIdPool {
    /// Indexed by id; index 0 is never handed out.
    slots: Vec<Slot>,
    /// Every slot below this is live, so the search for the smallest usable
    /// id starts here: filling a room allocates in amortised O(1).
    live_prefix: usize,
}

impl ShipIdPool {
    /// The smallest id usable at `now` (the last completed tick), marked
    /// live; `None` only when all 65,535 ids are live or quarantined.
    pub fn allocate(&mut self, now: Tick) -> Option<ShipId> {
        self.reserve_zero();
        let start = self.live_prefix;
        let index = match self.slots[start..].iter().position(|s| s.usable(now)) {
            Some(i) => start + i,
            None if self.slots.len() <= usize::from(u16::MAX) => {
                self.slots.push(Slot::Free);
                self.slots.len() - 1
            }
            None => return None,
        };
        self.mark_live(index);
        u16::try_from(index).ok().map(ShipId)
    }

    /// Marks `id` live if it is usable at `now`: a ship seated under the id
    /// it had on another node (a handed-over room). False if it is live,
    /// quarantined or 0.
    pub fn claim(&mut self, id: ShipId, now: Tick) -> bool {
        self.reserve_zero();
        let index = usize::from(id.0);
        if self.slots.len() <= index {
            self.slots.resize(index + 1, Slot::Free);
        }
        if !self.slots[index].usable(now) {
            return false;
        }
        self.mark_live(index);
        true
    }

    /// Id 0 is never handed out: its slot is live from the start.
    fn reserve_zero(&mut self) {
        if self.slots.is_empty() {
            self.slots.push(Slot::Live);
            self.live_prefix = 1;
        }
    }

    fn mark_live(&mut self, index: usize) {
        self.slots[index] = Slot::Live;
        while self.slots.get(self.live_prefix) == Some(&Slot::Live) {
            self.live_prefix += 1;
        }
    }

    /// Releases a live id at `now`; false if it was not live.
    pub fn release(&mut self, id: ShipId, now: Tick) -> bool {
        match self.slots.get_mut(usize::from(id.0)) {
            Some(slot) if *slot == Slot::Live && id.0 != 0 => {
                *slot = Slot::Quarantined(now);
                self.live_prefix = self.live_prefix.min(usize::from(id.0));
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smallest_free_id_from_one() {
        let mut pool = ShipIdPool::default();
        let t = Tick(5);
        assert_eq!(pool.allocate(t), Some(ShipId(1)));
        assert_eq!(pool.allocate(t), Some(ShipId(2)));
        assert_eq!(pool.allocate(t), Some(ShipId(3)));
        assert!(pool.release(ShipId(2), t));
        assert!(!pool.release(ShipId(2), t), "already released");
        assert!(!pool.release(ShipId(0), t), "0 is never live");
        assert!(!pool.release(ShipId(99), t), "unknown");
        assert_eq!(pool.allocate(t), Some(ShipId(4)), "2 is quarantined");
    }

    #[test]
    fn quarantine_lasts_exactly_128_ticks() {
        let mut pool = ShipIdPool::default();
        assert_eq!(pool.allocate(Tick(0)), Some(ShipId(1)));
        assert!(pool.release(ShipId(1), Tick(10)));
        assert_eq!(pool.allocate(Tick(137)), Some(ShipId(2)));
        assert!(pool.release(ShipId(2), Tick(137)));
        assert_eq!(pool.allocate(Tick(138)), Some(ShipId(1)), "10 + 128");
        assert_eq!(pool.allocate(Tick(138)), Some(ShipId(3)));
    }

    #[test]
    fn exhaustion_is_a_value_not_a_panic() {
        let mut pool = ShipIdPool::default();
        for n in 1..=u16::MAX {
            assert_eq!(pool.allocate(Tick(0)), Some(ShipId(n)));
        }
        assert_eq!(pool.allocate(Tick(0)), None);
        assert!(pool.release(ShipId(7), Tick(0)));
        assert_eq!(pool.allocate(Tick(0)), None, "7 is quarantined");
        assert_eq!(pool.allocate(Tick(128)), Some(ShipId(7)));
    }

    #[test]
    fn a_claimed_id_is_live_and_allocation_goes_around_it() {
        let mut pool = ShipIdPool::default();
        assert!(pool.claim(ShipId(3), Tick(0)), "beyond the slots so far");
        assert!(pool.claim(ShipId(1), Tick(0)));
        assert!(!pool.claim(ShipId(3), Tick(0)), "already live");
        assert!(!pool.claim(ShipId(0), Tick(0)), "0 is never handed out");
        assert_eq!(pool.allocate(Tick(0)), Some(ShipId(2)));
        assert_eq!(pool.allocate(Tick(0)), Some(ShipId(4)));
        assert!(pool.release(ShipId(3), Tick(1)));
        assert!(!pool.claim(ShipId(3), Tick(100)), "quarantined");
        assert!(pool.claim(ShipId(3), Tick(129)));
    }
}
