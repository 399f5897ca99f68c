//! Projectile-to-ship hit tests and their damage. Owns deciding who a shot
//! hits and taking the hit point; leaves scoring to `score` (via the
//! `ShipKilled` message) and bringing the dead back to `respawn`.
//!
//! Each projectile looks only at the 3x3 grid cells around its point. A shot
//! hits at most one ship: the nearest within `hit_radius`, ties to the
//! lowest id; never its owner, never a dead ship. Shots are settled in fire
//! order, so when two shots reach a ship on its last hit point the older one
//! kills it and the younger flies on.

use bevy_ecs::prelude::*;
use skirmish_shared::ShipId;
use skirmish_shared::rules::units;

use crate::game::components::{Health, Projectile, Ship, ShotPoint};
use crate::game::grid::Grid;
use crate::game::resources::{RoomClock, RoomRules, ShipGrid, ShipKilled, ShipMark};

/// A projectile with at least one ship in reach this tick.
#[derive(Clone, Copy, Debug)]
pub struct Contact {
    serial: u64,
    shot: Entity,
    owner: ShipId,
    point: ShotPoint,
}

/// Finds and applies this tick's hits.
#[expect(
    clippy::too_many_arguments,
    reason = "bevy systems take their data as parameters; grouping them would only hide what the hit test reads"
)]
pub fn resolve_hits(
    rules: Res<RoomRules>,
    clock: Res<RoomClock>,
    grid: Res<ShipGrid>,
    shots: Query<(Entity, &Projectile, &ShotPoint)>,
    mut ships: Query<(&Ship, &mut Health)>,
    mut commands: Commands,
    mut kills: MessageWriter<ShipKilled>,
    mut contacts: Local<Vec<Contact>>,
) {
    let rules = &rules.0;
    let radius = f32::from(rules.hit_radius);
    let radius_sq = radius * radius;
    let grid = &grid.0;

    // Pass 1, any order: which shots reach anyone at all? Usually few, so
    // only those are sorted and settled.
    contacts.clear();
    for (shot, projectile, point) in &shots {
        if best_target(grid, *point, projectile.owner, radius_sq, |_| true).is_some() {
            contacts.push(Contact {
                serial: projectile.serial,
                shot,
                owner: projectile.owner,
                point: *point,
            });
        }
    }
    if contacts.is_empty() {
        return;
    }
    contacts.sort_unstable_by_key(|c| c.serial);

    // Pass 2, fire order: re-pick with current hit points, since an older
    // shot may just have killed the nearest ship.
    for contact in contacts.iter() {
        let alive = |mark: &ShipMark| {
            ships
                .get(mark.entity)
                .is_ok_and(|(_, health)| health.alive())
        };
        let Some(victim) = best_target(grid, contact.point, contact.owner, radius_sq, alive) else {
            continue;
        };
        let Ok((ship, mut health)) = ships.get_mut(victim.entity) else {
            continue;
        };
        commands.entity(contact.shot).despawn();
        health.hp = health.hp.saturating_sub(1);
        if health.hp == 0 {
            health.respawn_at = clock.tick.after(u32::from(rules.respawn_ticks));
            kills.write(ShipKilled {
                killer: contact.owner,
                victim: ship.id,
            });
        }
    }
}

/// The ship a shot at `point` hits: within the radius, not the owner,
/// accepted by `eligible`; nearest first, then lowest id.
fn best_target(
    grid: &Grid<ShipMark>,
    point: ShotPoint,
    owner: ShipId,
    radius_sq: f32,
    eligible: impl Fn(&ShipMark) -> bool,
) -> Option<ShipMark> {
    let cell_x = (point.x * skirmish_shared::rules::POS_SCALE as f32) as i64;
    let cell_y = (point.y * skirmish_shared::rules::POS_SCALE as f32) as i64;
    let mut best: Option<(f32, ShipMark)> = None;
    for entry in grid.near(cell_x, cell_y) {
        if entry.item.id == owner {
            continue;
        }
        let dx = point.x - units(entry.x);
        let dy = point.y - units(entry.y);
        let dist_sq = dx * dx + dy * dy;
        if dist_sq > radius_sq {
            continue;
        }
        let better = match best {
            None => true,
            Some((d, mark)) => dist_sq < d || (dist_sq == d && entry.item.id < mark.id),
        };
        if better && eligible(&entry.item) {
            best = Some((dist_sq, entry.item));
        }
    }
    best.map(|(_, mark)| mark)
}
