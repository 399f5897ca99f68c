//! Records where every living ship is after this tick's movement into the
//! ring of past frames that lag compensation rewinds into. Only records;
//! never changes a ship and never judges a shot.

use bevy_ecs::prelude::*;

use crate::game::components::{Health, Position, Ship};
use crate::game::past::PastPositions;
use crate::game::resources::{RoomClock, ShipMark};

/// Adds this tick's frame, replacing the oldest. Runs right after movement,
/// before firing, so a shot fired now may rewind into every frame held.
pub fn record_past_positions(
    clock: Res<RoomClock>,
    mut past: ResMut<PastPositions>,
    ships: Query<(Entity, &Ship, &Position, &Health)>,
) {
    if past.cap.frames() == 0 {
        return;
    }
    past.begin(clock.tick);
    for (entity, ship, pos, health) in &ships {
        if health.alive() {
            let mark = ShipMark {
                id: ship.id,
                entity,
            };
            past.record(mark, pos.x, pos.y);
        }
    }
}
