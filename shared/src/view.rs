//! What a client knows of a room: the reference way to apply snapshots.
//! Rust clients (tests, bots) use it directly; `web-client/src/snapshot.js`
//! implements the same rules.
//!
//! A client keeps the states it received by tick, because the server deltas
//! against whichever tick the client last acknowledged *and the server has
//! seen*, which may be older than the newest the client holds. Only a delta
//! proves which ack the server has seen: after a delta against tick B, the
//! server never uses a baseline older than B again (acks only move forward),
//! so states before B are dropped. A full snapshot proves nothing (the ack
//! may still be in flight) and drops nothing.

use std::collections::{BTreeMap, VecDeque};

use crate::protocol::{RoundState, ShipDelta, ShipId, ShipState, ShotId, ShotSpawn, SnapshotBody};
use crate::tick::Tick;

/// At most this many states are kept, whatever the baselines say.
pub const MAX_KEPT_STATES: usize = 64;

/// A ship as a client knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShipView {
    /// Synced state.
    pub state: ShipState,
    pub name: String,
    /// Server-side bot.
    pub bot: bool,
}

/// A projectile as a client knows it: where and when it was fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShotView {
    /// The ship that fired it.
    pub owner: ShipId,
    /// Origin x in sub-units.
    pub x: u16,
    /// Origin y in sub-units.
    pub y: u16,
    pub aim: u8,
    /// Tick it was fired.
    pub fired: Tick,
}

/// The room's state at one tick, as reconstructed by a client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorldView {
    pub tick: Tick,
    /// Round clock.
    pub round: Option<RoundState>,
    /// Ships by id.
    pub ships: BTreeMap<ShipId, ShipView>,
    /// Projectiles by id.
    pub shots: BTreeMap<ShotId, ShotView>,
}

/// Why a snapshot could not be applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    /// The delta's baseline is not held; ask for a full snapshot (`ack: None`).
    #[error("baseline tick {0} is not held")]
    MissingBaseline(Tick),
    /// A snapshot older than one already applied; ignore it.
    #[error("snapshot for tick {0} is older than the newest held")]
    Stale(Tick),
}

/// The states a client holds, by tick.
#[derive(Clone, Debug, Default)]
pub struct ViewHistory {
    states: VecDeque<WorldView>,
    /// Newest baseline the server has used: older states are useless.
    floor: Tick,
}

impl ViewHistory {
    /// An empty history: the next snapshot must be full.
    #[must_use]
    pub fn new() -> ViewHistory {
        ViewHistory::default()
    }

    /// The newest state.
    #[must_use]
    pub fn latest(&self) -> Option<&WorldView> {
        self.states.back()
    }

    /// The state held for `tick`.
    #[must_use]
    pub fn get(&self, tick: Tick) -> Option<&WorldView> {
        self.states.iter().find(|s| s.tick == tick)
    }

    /// Applies a snapshot body and returns the new newest state.
    ///
    /// # Errors
    /// [`ViewError::MissingBaseline`] when the delta's baseline is not held,
    /// [`ViewError::Stale`] when the body is not newer than the newest state.
    pub fn apply(&mut self, body: &SnapshotBody) -> Result<&WorldView, ViewError> {
        if self.latest().is_some_and(|latest| body.tick <= latest.tick) {
            return Err(ViewError::Stale(body.tick));
        }
        let mut view = match body.baseline {
            None => WorldView::default(),
            Some(base) => self
                .get(base)
                .cloned()
                .ok_or(ViewError::MissingBaseline(base))?,
        };
        apply_body(&mut view, body);
        if let Some(base) = body.baseline {
            self.floor = self.floor.max(base);
        }
        let floor = self.floor;
        self.states.retain(|s| s.tick >= floor);
        self.states.push_back(view);
        while self.states.len() > MAX_KEPT_STATES {
            self.states.pop_front();
        }
        Ok(self
            .states
            .back()
            .unwrap_or_else(|| unreachable!("just pushed")))
    }
}

/// Applies `body` to `view`, which must be the state at `body.baseline`
/// (or empty for a full snapshot).
pub fn apply_body(view: &mut WorldView, body: &SnapshotBody) {
    view.tick = body.tick;
    if body.round.is_some() {
        view.round = body.round;
    }
    for id in &body.removed {
        view.ships.remove(id);
    }
    for id in &body.shots_gone {
        view.shots.remove(id);
    }
    for spawn in &body.spawned {
        view.ships.insert(
            spawn.ship.id,
            ShipView {
                state: spawn.ship,
                name: spawn.name.clone(),
                bot: spawn.bot,
            },
        );
    }
    for delta in &body.changed {
        let Some(ship) = view.ships.get_mut(&delta.id()) else {
            continue;
        };
        match *delta {
            ShipDelta::Moved { dx, dy, aim, .. } => {
                ship.state.x = offset(ship.state.x, dx);
                ship.state.y = offset(ship.state.y, dy);
                ship.state.aim = aim;
            }
            ShipDelta::Full(state) => ship.state = state,
        }
    }
    for shot in &body.shots {
        view.shots.insert(shot.id, shot_view(body.tick, shot));
    }
}

fn offset(v: u16, d: i16) -> u16 {
    (i32::from(v) + i32::from(d)).clamp(0, i32::from(u16::MAX)) as u16
}

fn shot_view(tick: Tick, shot: &ShotSpawn) -> ShotView {
    ShotView {
        owner: shot.owner,
        x: shot.x,
        y: shot.y,
        aim: shot.aim,
        fired: Tick(tick.0.saturating_sub(u32::from(shot.age))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ShipSpawn;

    fn ship(id: u16, x: u16) -> ShipState {
        ShipState {
            id: ShipId(id),
            x,
            y: 10,
            aim: 0,
            hp: 3,
            score: 0,
        }
    }

    #[test]
    fn deltas_apply_to_their_baseline_and_missing_ones_are_reported() {
        let mut h = ViewHistory::new();
        let full = SnapshotBody {
            tick: Tick(10),
            spawned: vec![ShipSpawn {
                ship: ship(1, 100),
                name: "a".into(),
                bot: false,
            }],
            ..SnapshotBody::default()
        };
        h.apply(&full).unwrap();
        let delta = SnapshotBody {
            tick: Tick(12),
            baseline: Some(Tick(10)),
            changed: vec![ShipDelta::Moved {
                id: ShipId(1),
                dx: -40,
                dy: 5,
                aim: 9,
            }],
            ..SnapshotBody::default()
        };
        let v = h.apply(&delta).unwrap();
        assert_eq!(
            (v.ships[&ShipId(1)].state.x, v.ships[&ShipId(1)].state.y),
            (60, 15)
        );
        // Another delta against tick 10 (the server had not seen our ack of 12).
        let again = SnapshotBody {
            tick: Tick(13),
            ..delta.clone()
        };
        assert_eq!(h.apply(&again).unwrap().ships[&ShipId(1)].state.x, 60);
        assert_eq!(h.apply(&again), Err(ViewError::Stale(Tick(13))));
        // A full snapshot (our ack of 13 not yet seen) keeps 10..13: the
        // server may still delta against any of them.
        let resync = SnapshotBody {
            tick: Tick(14),
            ..full.clone()
        };
        h.apply(&resync).unwrap();
        let late = SnapshotBody {
            tick: Tick(15),
            baseline: Some(Tick(13)),
            ..SnapshotBody::default()
        };
        assert_eq!(h.apply(&late).unwrap().ships[&ShipId(1)].state.x, 60);
        assert!(
            h.get(Tick(12)).is_none(),
            "states before the used baseline are dropped"
        );
        let orphan = SnapshotBody {
            tick: Tick(20),
            baseline: Some(Tick(11)),
            ..SnapshotBody::default()
        };
        assert_eq!(h.apply(&orphan), Err(ViewError::MissingBaseline(Tick(11))));
    }
}
