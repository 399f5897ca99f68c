//! Turns latched fire presses into projectiles. Owns the cooldown and shot
//! numbering; it consumes every latch (fired or not) so a press never
//! carries over to a later tick, and it never decides what a shot hits.

use bevy_ecs::prelude::*;
use skirmish_shared::rules::units;
use skirmish_shared::{ShipId, ShotId};

use crate::game::components::{Controls, Health, Position, Projectile, Ship, ShotPoint, Weapon};
use crate::game::past::{PastPositions, rewind_for};
use crate::game::resources::{ClampedViews, RoomClock, RoomRules, ShotCounter};

/// A ship that fires this tick.
#[derive(Clone, Copy, Debug)]
pub struct Trigger {
    owner: ShipId,
    origin: (u16, u16),
    aim: u8,
    rewind: u32,
}

/// Spawns a projectile for every living ship that pressed fire and whose
/// gun is ready, in ship-id order so shot ids do not depend on query order.
/// Each shot keeps how far back its shooter's screen was (clamped to the
/// room's cap and the frames held; clamped claims are counted).
#[expect(
    clippy::too_many_arguments,
    reason = "bevy systems take their data as parameters; grouping them would only hide what firing reads"
)]
pub fn fire_weapons(
    rules: Res<RoomRules>,
    clock: Res<RoomClock>,
    past: Res<PastPositions>,
    mut clamped: ResMut<ClampedViews>,
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
        let view = controls.fire_view.take();
        if !health.alive() || now < weapon.ready_at {
            continue;
        }
        let rewind = rewind_for(now, view, past.cap, past.held());
        clamped.0 += u32::from(rewind.clamped);
        weapon.ready_at = now.after(u32::from(rules.0.fire_cooldown_ticks));
        triggers.push(Trigger {
            owner: ship.id,
            origin: (pos.x, pos.y),
            aim: controls.aim,
            rewind: rewind.steps,
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
                rewind: trigger.rewind,
            },
            ShotPoint {
                x: units(trigger.origin.0),
                y: units(trigger.origin.1),
            },
        ));
    }
}
