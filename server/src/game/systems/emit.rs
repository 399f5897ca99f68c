//! Builds the tick's wire-ready `WorldState` from the world. Read-only over
//! the game state; it must never change a ship or decide anything, so a
//! tick's output is exactly what the earlier phases left behind.

use bevy_ecs::prelude::*;
use skirmish_shared::{RoundState, ShipState, Tick};

use crate::game::components::{Controls, Health, Pilot, Position, Projectile, Score, Ship};
use crate::game::output::{ShipEntry, ShotEntry, WorldState};
use crate::game::resources::{EmittedState, RoomClock, RoundClock};

/// Publishes ships and shots, each sorted by id, into [`EmittedState`] for `Sim::step` to take.
pub fn publish_world_state(
    clock: Res<RoomClock>,
    round: Res<RoundClock>,
    ships: Query<(&Ship, &Pilot, &Position, &Controls, &Health, &Score)>,
    shots: Query<&Projectile>,
    mut emitted: ResMut<EmittedState>,
) {
    // The vectors go to the caller every tick, so they are allocated at
    // their exact size rather than reused.
    let mut ship_entries = Vec::with_capacity(ships.iter().len());
    ship_entries.extend(
        ships
            .iter()
            .map(|(ship, pilot, pos, controls, health, score)| ShipEntry {
                state: ShipState {
                    id: ship.id,
                    x: pos.x,
                    y: pos.y,
                    aim: controls.aim,
                    hp: health.hp,
                    score: score.kills,
                },
                name: pilot.name.clone(),
                bot: pilot.bot,
                last_input: controls.last_input,
            }),
    );
    ship_entries.sort_unstable_by_key(|e| e.state.id);

    let mut shot_entries = Vec::with_capacity(shots.iter().len());
    shot_entries.extend(shots.iter().map(|p| ShotEntry {
        id: p.id,
        owner: p.owner,
        x: p.origin.0,
        y: p.origin.1,
        aim: p.aim,
        fired: p.fired,
    }));
    shot_entries.sort_unstable_by_key(|s| s.id);

    // The round clock runs before Emit every tick, so it is always set here;
    // the fallback only keeps a misordered schedule from panicking.
    let round = round.0.unwrap_or(RoundState {
        number: 0,
        started: Tick(0),
        ends: Tick(0),
    });
    emitted.0 = Some(WorldState {
        tick: clock.tick,
        round,
        ships: ship_entries,
        shots: shot_entries,
    });
}
