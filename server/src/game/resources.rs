//! Room-wide singletons the systems share: rules, clock, random stream, the
//! id-to-entity directory, the spatial index and the tick's outgoing
//! buffers. Plain data; the rules that change them live in `systems/`, and
//! nothing here may block, lock or talk to the network.

use bevy_ecs::prelude::*;
use skirmish_shared::rng::XorShift;
use skirmish_shared::rules::{POS_SCALE, Rules};
use skirmish_shared::{EventKind, GameEvent, Input, RoundState, ShipId, Tick};

use super::grid::Grid;
use super::output::WorldState;

/// Smallest grid cell, in units. GAME.md asks for about 100; the cell also
/// must cover the hit radius and the spawn clearance for a 3x3 lookup to see
/// every candidate.
pub const GRID_CELL_UNITS: u16 = 100;

/// The rules this room plays by, fixed at creation.
#[derive(Resource, Clone, Debug)]
pub struct RoomRules(pub Rules);

/// The tick being simulated (during a step) or last completed (between).
#[derive(Resource, Clone, Copy, Debug, Default)]
pub struct RoomClock {
    /// Current tick; `Tick(0)` before the first step.
    pub tick: Tick,
}

/// The room's seeded random stream (spawn points, bot seeds). Consumed only
/// in ship-id order so a room replays exactly from its seed.
#[derive(Resource, Clone, Debug)]
pub struct RoomRng(pub XorShift);

/// Inputs that arrived since the last step, drained at the start of the
/// next. Bounded by the caller's inbox; the per-ship bound is applied here.
#[derive(Resource, Debug, Default)]
pub struct InputInbox {
    /// `(ship, input)` in arrival order.
    pub arrivals: Vec<(ShipId, Input)>,
    /// At most this many inputs per ship are applied in one tick (at least 1).
    pub max_per_tick: usize,
    /// Inputs dropped this tick: stale, duplicate or beyond `max_per_tick`.
    pub dropped: u32,
}

/// Ship id to entity. A vector indexed by id because ids are small and
/// dense (smallest free first), and lookups happen for every input.
#[derive(Resource, Debug, Default)]
pub struct ShipDirectory {
    by_id: Vec<Option<Entity>>,
    len: usize,
}

impl ShipDirectory {
    /// The entity of a live ship.
    #[must_use]
    pub fn get(&self, id: ShipId) -> Option<Entity> {
        self.by_id.get(usize::from(id.0)).copied().flatten()
    }

    /// Number of live ships.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the room has no ship.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Records a new ship.
    pub fn insert(&mut self, id: ShipId, entity: Entity) {
        let index = usize::from(id.0);
        if self.by_id.len() <= index {
            self.by_id.resize(index + 1, None);
        }
        if self.by_id[index].replace(entity).is_none() {
            self.len += 1;
        }
    }

    /// Forgets a ship; returns its entity if it was known.
    pub fn remove(&mut self, id: ShipId) -> Option<Entity> {
        let entity = self.by_id.get_mut(usize::from(id.0)).and_then(Option::take);
        if entity.is_some() {
            self.len -= 1;
        }
        entity
    }
}

/// Where a living ship is, for hit tests and spawn clearance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShipMark {
    /// The ship's id, the tie-breaker when two are equally near.
    pub id: ShipId,
    pub entity: Entity,
}

/// Living ships bucketed by position, rebuilt after movement every tick;
/// spawns between ticks add themselves so two joiners do not land together.
#[derive(Resource, Debug)]
pub struct ShipGrid(pub Grid<ShipMark>);

impl ShipGrid {
    /// A grid for `rules`' arena with cells large enough for its radii.
    #[must_use]
    pub fn for_rules(rules: &Rules) -> ShipGrid {
        let cell_units = GRID_CELL_UNITS.max(rules.hit_radius);
        let cell = u32::from(cell_units) * POS_SCALE as u32;
        ShipGrid(Grid::new(rules.max_x(), rules.max_y(), cell))
    }
}

/// Wire ids and fire order for new projectiles.
#[derive(Resource, Debug, Default)]
pub struct ShotCounter {
    /// Next `ShotId` (wraps; a shot lives about a second, so ids never clash).
    pub next_id: u16,
    /// Next fire serial (never wraps in practice).
    pub next_serial: u64,
}

/// Joined/Left news from between ticks, announced on the next step.
#[derive(Resource, Debug, Default)]
pub struct RosterNews(pub Vec<EventKind>);

/// The current round; `None` until the first step starts round 1 (or
/// [`FirstRound`]).
#[derive(Resource, Debug, Default)]
pub struct RoundClock(pub Option<RoundState>);

/// The number the first step gives the first round: 1, or for a room
/// handed over from another node the round it was about to play there,
/// so round numbers go on across the move.
#[derive(Resource, Debug)]
pub struct FirstRound(pub u32);

impl Default for FirstRound {
    fn default() -> Self {
        FirstRound(1)
    }
}

/// This tick's game events, in the order they happened.
#[derive(Resource, Debug, Default)]
pub struct TickEvents(pub Vec<GameEvent>);

impl TickEvents {
    /// Appends an event stamped with `tick`.
    pub fn push(&mut self, tick: Tick, kind: EventKind) {
        self.0.push(GameEvent { tick, kind });
    }
}

/// The quantised world the emit system builds at the end of a tick, taken by
/// `Sim::step`. Not the connection outbox of `room::outbox`: nothing here is
/// sent anywhere yet.
#[derive(Resource, Debug, Default)]
pub struct EmittedState(pub Option<WorldState>);

/// Shots fired this tick whose claimed view time was clamped: later than
/// the tick, or further back than the lag-compensation cap.
#[derive(Resource, Debug, Default)]
pub struct ClampedViews(pub u32);

/// A kill, from the hit test to scoring.
#[derive(Message, Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShipKilled {
    /// The shot's owner (may have left the room since firing).
    pub killer: ShipId,
    /// The ship that lost its last hit point.
    pub victim: ShipId,
}
