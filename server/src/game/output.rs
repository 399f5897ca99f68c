//! What a tick hands to the room: the quantised world state and the tick's
//! events. Wire-ready values only (no entities, no floats), cheap to clone
//! because names are `Arc`ed; turning them into snapshots and deltas is the
//! room's job, never this module's.

use std::sync::Arc;

use skirmish_shared::{GameEvent, RoundState, ShipId, ShipState, ShotId, Tick};

/// The result of one `Sim::step`.
#[derive(Clone, Debug, PartialEq)]
pub struct TickOutput {
    /// The tick just simulated.
    pub tick: Tick,
    /// The state after it.
    pub state: WorldState,
    /// Events of this tick, in order.
    pub events: Vec<GameEvent>,
    /// Inputs dropped this tick (beyond `max_inputs_per_tick`, or stale seq).
    pub inputs_dropped: u32,
    /// Shots fired this tick whose claimed view time was clamped (later
    /// than the tick, or beyond the lag-compensation cap).
    pub views_clamped: u32,
}

/// The quantised, wire-ready state after a tick. Cheap to clone (Arc'd names).
#[derive(Clone, Debug, PartialEq)]
pub struct WorldState {
    /// The tick this state belongs to.
    pub tick: Tick,
    /// The round clock.
    pub round: RoundState,
    /// Sorted by id.
    pub ships: Vec<ShipEntry>,
    /// Sorted by id (ids wrap, sorting by raw u16 is fine: they are unique
    /// among live shots).
    pub shots: Vec<ShotEntry>,
}

/// One ship as synced.
#[derive(Clone, Debug, PartialEq)]
pub struct ShipEntry {
    /// Position, aim, hp and score.
    pub state: ShipState,
    pub name: Arc<str>,
    /// True for a server-side bot.
    pub bot: bool,
    /// Newest input seq applied.
    pub last_input: u32,
}

/// One live projectile, as clients extrapolate it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ShotEntry {
    pub id: ShotId,
    /// The ship that fired it.
    pub owner: ShipId,
    /// Origin x in sub-units.
    pub x: u16,
    /// Origin y in sub-units.
    pub y: u16,
    /// Direction (quantised aim).
    pub aim: u8,
    /// Tick it was fired.
    pub fired: Tick,
}
