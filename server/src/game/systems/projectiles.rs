//! Flies projectiles: recomputes each one's point from origin and age
//! (never accumulated, so clients extrapolate exactly) and retires those
//! that outlived `shot_life_ticks` or left the arena. Never tests hits.

use bevy_ecs::prelude::*;

use crate::game::components::{Projectile, ShotPoint};
use crate::game::resources::{RoomClock, RoomRules};

/// Advances every projectile to the current tick.
///
/// A shot lives `shot_life_ticks` ticks: ages `0..shot_life_ticks`. It is
/// gone as soon as its point is outside `[0, arena]` on either axis.
pub fn fly_projectiles(
    rules: Res<RoomRules>,
    clock: Res<RoomClock>,
    mut shots: Query<(Entity, &Projectile, &mut ShotPoint)>,
    mut commands: Commands,
) {
    let rules = &rules.0;
    let (w, h) = (f32::from(rules.arena_w), f32::from(rules.arena_h));
    for (entity, shot, mut point) in &mut shots {
        let age = clock.tick.since(shot.fired);
        if age >= u32::from(rules.shot_life_ticks) {
            commands.entity(entity).despawn();
            continue;
        }
        let (x, y) = rules.shot_position(shot.origin, shot.aim, age);
        if !(0.0..=w).contains(&x) || !(0.0..=h).contains(&y) {
            commands.entity(entity).despawn();
            continue;
        }
        *point = ShotPoint { x, y };
    }
}
