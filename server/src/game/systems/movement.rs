//! Moves living ships one tick along their held movement. Owns nothing but
//! the call into `Rules::move_ship`, the one movement function client
//! prediction shares; it must never move a ship any other way.

use bevy_ecs::prelude::*;

use crate::game::components::{Controls, Health, Position};
use crate::game::resources::RoomRules;

/// One tick of movement for every living ship; the dead stay where they fell.
pub fn move_ships(rules: Res<RoomRules>, mut ships: Query<(&mut Position, &Controls, &Health)>) {
    for (mut pos, controls, health) in &mut ships {
        if !health.alive() || controls.movement == 0 {
            continue;
        }
        let (x, y) = rules.0.move_ship(pos.x, pos.y, controls.movement);
        // Only write on change, so a resting ship is not marked as changed.
        if (x, y) != (pos.x, pos.y) {
            *pos = Position { x, y };
        }
    }
}
