//! Rebuilds the grid of living ships after movement, for this tick's hit
//! tests and spawn clearance. Only indexes; never changes a ship.

use bevy_ecs::prelude::*;

use crate::game::components::{Health, Position, Ship};
use crate::game::resources::{ShipGrid, ShipMark};

/// Clears and refills the grid with every living ship's current position.
pub fn index_ships(mut grid: ResMut<ShipGrid>, ships: Query<(Entity, &Ship, &Position, &Health)>) {
    let grid = &mut grid.0;
    grid.clear();
    for (entity, ship, pos, health) in &ships {
        if health.alive() {
            grid.insert(
                pos.x,
                pos.y,
                ShipMark {
                    id: ship.id,
                    entity,
                },
            );
        }
    }
}
