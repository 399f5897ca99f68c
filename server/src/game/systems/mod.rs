//! The room's systems, one concern per file, and the one place their order
//! is declared. Systems talk through components, resources and messages,
//! never by calling each other, and none of them may touch the network or
//! read the wall clock: a tick is a pure function of the world and inputs.

use bevy_ecs::prelude::*;

pub mod bots;
pub mod emit;
pub mod fire;
pub mod hits;
pub mod ingest;
pub mod movement;
pub mod past_positions;
pub mod projectiles;
pub mod respawn;
pub mod roster_news;
pub mod round;
pub mod score;
pub mod spatial;

/// The phases of a room tick, in order.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoomSystems {
    /// Take in what arrived since the last tick: roster news, inputs, bots.
    Ingest,
    /// Advance the world: movement, firing, projectile flight, spatial index.
    Simulate,
    /// Settle what the movement caused: hits, deaths, respawns.
    Resolve,
    /// Credit kills and run the round clock.
    Score,
    /// Build the tick's wire-ready output.
    Emit,
}

/// The room schedule. Within each set the systems are chained too, because
/// a single-threaded tick gains nothing from leaving them unordered and
/// determinism gains a lot from a fixed order.
#[must_use]
pub fn room_schedule() -> Schedule {
    let mut schedule = Schedule::default();
    // 1. Ingest: announce roster changes, apply inputs, let bots decide.
    // 2. Simulate: move ships, record them for lag compensation, fire, fly
    //    projectiles, rebuild the grid.
    // 3. Resolve: hit tests, then respawns (delay 0 respawns on the kill's tick).
    // 4. Score: credit kills, then the round clock (which may reset scores).
    // 5. Emit: the quantised state the room sends.
    schedule.configure_sets(
        (
            RoomSystems::Ingest,
            RoomSystems::Simulate,
            RoomSystems::Resolve,
            RoomSystems::Score,
            RoomSystems::Emit,
        )
            .chain(),
    );
    schedule.add_systems(
        (
            roster_news::announce_roster_changes,
            ingest::apply_inputs,
            bots::drive_bots,
        )
            .chain()
            .in_set(RoomSystems::Ingest),
    );
    schedule.add_systems(
        (
            movement::move_ships,
            past_positions::record_past_positions,
            fire::fire_weapons,
            projectiles::fly_projectiles,
            spatial::index_ships,
        )
            .chain()
            .in_set(RoomSystems::Simulate),
    );
    schedule.add_systems(
        (hits::resolve_hits, respawn::respawn_ships)
            .chain()
            .in_set(RoomSystems::Resolve),
    );
    schedule.add_systems(
        (score::credit_kills, round::run_round_clock)
            .chain()
            .in_set(RoomSystems::Score),
    );
    schedule.add_systems(emit::publish_world_state.in_set(RoomSystems::Emit));
    schedule
}
