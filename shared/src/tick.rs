//! Simulation time. A room counts ticks from 1; tick 0 never exists, so a
//! client that has received nothing yet says so with `None`, not with 0.

use serde::{Deserialize, Serialize};

/// One step of a room's fixed-timestep simulation.
///
/// Arithmetic saturates: a room would need 4.5 years at 30 Hz to reach
/// `u32::MAX`, and saturating there is safer than wrapping into the past.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Tick(pub u32);

impl Tick {
    /// The tick `n` steps later, saturating at `u32::MAX`.
    #[must_use]
    pub fn after(self, n: u32) -> Tick {
        Tick(self.0.saturating_add(n))
    }

    /// How many ticks `self` is past `earlier`; 0 when it is not later.
    #[must_use]
    pub fn since(self, earlier: Tick) -> u32 {
        self.0.saturating_sub(earlier.0)
    }

    /// The next tick.
    #[must_use]
    pub fn next(self) -> Tick {
        self.after(1)
    }
}

impl std::fmt::Display for Tick {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Tick(u32::MAX).next(), Tick(u32::MAX));
        assert_eq!(Tick(5).since(Tick(7)), 0);
        assert_eq!(Tick(7).since(Tick(5)), 2);
        assert_eq!(Tick(1).after(29), Tick(30));
    }
}
