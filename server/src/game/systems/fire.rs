//! Turns latched fire presses into projectiles. Owns the cooldown and shot
//! numbering; it consumes every latch (fired or not) so a press never
//! carries over to a later tick, and it never decides what a shot hits.

use bevy_ecs::prelude::*;
use skirmish_shared::rules::units;
use skirmish_shared::{ShipId, ShotId};

use crate::game::components::{Controls, Health, Position, Projectile, Ship, ShotPoint, Weapon};
use crate::game::resources::{RoomClock, RoomRules, ShotCounter};

/// A ship that fires this tick.
#[derive(Clone, Copy, Debug)]
pub struct Trigger {
    owner: ShipId,
    origin: (u16, u16),
    aim: u8,
}

/// Spawns a projectile for every living ship that pressed fire and whose
/// gun is ready, in ship-id order so shot ids do not depend on query order.
pub fn fire_weapons(
    rules: Res<RoomRules>,
    clock: Res<RoomClock>,
    mut counter: ResMut<ShotCounter>,
    mut ships: Query<(&Ship, &Position, &Health, &mut Controls, &mut Weapon)>,
    mut commands: Commands,
    mut triggers: Local<Vec<Trigger>>,
) {
    let now = clock.tick;
    triggers.clear();
    for (ship, pos, health, mut controls, mut weapon) in &mut ships {
        if !controls.fire {
            continue;
        }
        controls.fire = false;
        if !health.alive() || now < weapon.ready_at {
            continue;
        }
        weapon.ready_at = now.after(u32::from(rules.0.fire_cooldown_ticks));
        triggers.push(Trigger {
            owner: ship.id,
            origin: (pos.x, pos.y),
            aim: controls.aim,
        });
    }
    triggers.sort_unstable_by_key(|t| t.owner);
    for trigger in triggers.iter() {
        let id = ShotId(counter.next_id);
        counter.next_id = counter.next_id.wrapping_add(1);
        let serial = counter.next_serial;
        counter.next_serial += 1;
        commands.spawn((
            Projectile {
                id,
                serial,
                owner: trigger.owner,
                origin: trigger.origin,
                aim: trigger.aim,
                fired: now,
            },
            ShotPoint {
                x: units(trigger.origin.0),
                y: units(trigger.origin.1),
            },
        ));
    }
}
