//! Brings dead ships back when their delay is up, at a random free point
//! with full hp; also owns how a free point is chosen (joins and round
//! resets use the same rule). Draws from the room's random stream in
//! ship-id order only, and never touches scores.

use bevy_ecs::prelude::*;
use skirmish_shared::ShipId;
use skirmish_shared::rng::XorShift;
use skirmish_shared::rules::{POS_SCALE, Rules};

use crate::game::components::{Health, Position, Ship};
use crate::game::grid::Grid;
use crate::game::resources::{RoomClock, RoomRng, RoomRules, ShipGrid, ShipMark};

/// A point is free when no living ship is within this many units. Must not
/// exceed the grid cell (`GRID_CELL_UNITS`), which a 3x3 lookup covers.
pub const SPAWN_CLEARANCE_UNITS: i64 = 100;
/// Random points tried before settling for the roomiest one seen.
pub const SPAWN_TRIES: u32 = 16;
/// Spawns keep this far from the walls (less in a tiny arena).
pub const SPAWN_MARGIN_UNITS: u16 = 50;

/// A random point (sub-units) with no living ship within the clearance; if
/// none turns up in `SPAWN_TRIES` draws, the draw farthest from its nearest
/// neighbour. Always consumes the same number of draws for the same grid.
pub fn pick_spawn_point(rules: &Rules, rng: &mut XorShift, grid: &Grid<ShipMark>) -> (u16, u16) {
    let scale = POS_SCALE as u16;
    let margin_x = SPAWN_MARGIN_UNITS
        .min(rules.arena_w / 4)
        .saturating_mul(scale);
    let margin_y = SPAWN_MARGIN_UNITS
        .min(rules.arena_h / 4)
        .saturating_mul(scale);
    let span_x = u32::from(rules.max_x().saturating_sub(2 * margin_x)) + 1;
    let span_y = u32::from(rules.max_y().saturating_sub(2 * margin_y)) + 1;
    let clearance = SPAWN_CLEARANCE_UNITS * i64::from(POS_SCALE);
    let clearance_sq = clearance * clearance;

    let mut best = (margin_x, margin_y);
    let mut best_room = -1i64;
    for _ in 0..SPAWN_TRIES {
        // below(span) < span <= max + 1, so the sums stay within u16.
        let x = margin_x + rng.below(span_x) as u16;
        let y = margin_y + rng.below(span_y) as u16;
        let nearest_sq = grid
            .near(i64::from(x), i64::from(y))
            .map(|e| {
                let dx = i64::from(e.x) - i64::from(x);
                let dy = i64::from(e.y) - i64::from(y);
                dx * dx + dy * dy
            })
            .min()
            .unwrap_or(i64::MAX);
        if nearest_sq > clearance_sq {
            return (x, y);
        }
        if nearest_sq > best_room {
            best_room = nearest_sq;
            best = (x, y);
        }
    }
    best
}

/// Respawns every dead ship whose `respawn_at` has come, in id order.
pub fn respawn_ships(
    rules: Res<RoomRules>,
    clock: Res<RoomClock>,
    mut rng: ResMut<RoomRng>,
    mut grid: ResMut<ShipGrid>,
    mut ships: Query<(Entity, &Ship, &mut Position, &mut Health)>,
    mut due: Local<Vec<(ShipId, Entity)>>,
) {
    due.clear();
    due.extend(
        ships
            .iter()
            .filter(|(_, _, _, health)| !health.alive() && health.respawn_at <= clock.tick)
            .map(|(entity, ship, _, _)| (ship.id, entity)),
    );
    if due.is_empty() {
        return;
    }
    due.sort_unstable_by_key(|(id, _)| *id);
    for &(id, entity) in due.iter() {
        let Ok((_, _, mut pos, mut health)) = ships.get_mut(entity) else {
            continue;
        };
        let (x, y) = pick_spawn_point(&rules.0, &mut rng.0, &grid.0);
        *pos = Position { x, y };
        health.hp = rules.0.max_hp.max(1);
        grid.0.insert(x, y, ShipMark { id, entity });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::resources::ShipGrid;

    fn mark(n: u32) -> ShipMark {
        ShipMark {
            id: ShipId(n as u16),
            entity: Entity::from_raw_u32(n).expect("non-max index"),
        }
    }

    #[test]
    fn spawn_points_stay_inside_the_margins_and_repeat_per_seed() {
        let rules = Rules::default();
        let grid = ShipGrid::for_rules(&rules).0;
        let mut a = XorShift::new(9);
        let mut b = XorShift::new(9);
        for _ in 0..1000 {
            let p = pick_spawn_point(&rules, &mut a, &grid);
            assert_eq!(p, pick_spawn_point(&rules, &mut b, &grid));
            assert!(
                (400..=15600).contains(&p.0) && (400..=15600).contains(&p.1),
                "{p:?}"
            );
        }
    }

    #[test]
    fn spawn_points_avoid_living_ships() {
        let rules = Rules::default();
        let mut grid = ShipGrid::for_rules(&rules).0;
        let mut rng = XorShift::new(1);
        // 50 clearance discs cover well under half the arena, so 16 draws
        // find a free point (this seed always does).
        for n in 0..50 {
            let (x, y) = pick_spawn_point(&rules, &mut rng, &grid);
            for e in grid.near(i64::from(x), i64::from(y)) {
                let d = (f64::from(e.x) - f64::from(x)).hypot(f64::from(e.y) - f64::from(y));
                assert!(d > 800.0, "spawned {d} sub-units from another ship");
            }
            grid.insert(x, y, mark(n + 1));
        }
    }

    #[test]
    fn a_crowded_arena_still_yields_the_roomiest_point() {
        let rules = Rules {
            arena_w: 100,
            arena_h: 100,
            ..Rules::default()
        };
        let mut grid = ShipGrid::for_rules(&rules).0;
        grid.insert(400, 400, mark(1));
        let p = pick_spawn_point(&rules, &mut XorShift::new(3), &grid);
        assert!(p.0 <= rules.max_x() && p.1 <= rules.max_y());
        assert_ne!(
            p,
            (400, 400),
            "the farthest of 16 draws is not the occupied centre"
        );
    }
}
