//! Who is in the room: admitting and removing ships between ticks, and the
//! server-side bot head count. Changes apply to the `World` at once (so a
//! new ship takes inputs on the very next step) while the Joined/Left news
//! waits in `RosterNews` for that step to announce it.
//!
//! Called only by `Sim` between steps, never from inside the schedule, and
//! never trusts a name for anything but display.

use std::sync::Arc;

use bevy_ecs::prelude::*;
use skirmish_shared::rng::XorShift;
use skirmish_shared::{EventKind, ShipId, Tick};

use super::components::{BotBrain, Controls, Health, Pilot, Position, Score, Ship, Weapon};
use super::ids::ShipIdPool;
use super::resources::{
    RoomClock, RoomRng, RoomRules, RosterNews, ShipDirectory, ShipGrid, ShipMark,
};
use super::systems::respawn::pick_spawn_point;

/// Adds a ship at a random free point with full hp and no score. `None`
/// when every ship id is live or quarantined.
pub fn spawn_ship(world: &mut World, name: Arc<str>, brain: Option<BotBrain>) -> Option<ShipId> {
    let now = world.resource::<RoomClock>().tick;
    let id = world.resource_mut::<ShipIdPool>().allocate(now)?;
    place_ship(world, id, name, brain);
    Some(id)
}

/// Adds a player's ship under `id`, as [`spawn_ship`] does: the ship a
/// player had in this room on another node (a handed-over room), so its
/// client's id stays true. False if `id` is live or quarantined here.
pub fn spawn_ship_as(world: &mut World, id: ShipId, name: Arc<str>) -> bool {
    let now = world.resource::<RoomClock>().tick;
    if !world.resource_mut::<ShipIdPool>().claim(id, now) {
        return false;
    }
    place_ship(world, id, name, None);
    true
}

/// Puts a ship with a live `id` at a random free point with full hp and
/// no score, and announces it.
fn place_ship(world: &mut World, id: ShipId, name: Arc<str>, brain: Option<BotBrain>) {
    let (x, y) = world.resource_scope(|world, grid: Mut<ShipGrid>| {
        world.resource_scope(|world, mut rng: Mut<RoomRng>| {
            pick_spawn_point(&world.resource::<RoomRules>().0, &mut rng.0, &grid.0)
        })
    });
    let hp = world.resource::<RoomRules>().0.max_hp.max(1);
    let pilot = Pilot {
        name,
        bot: brain.is_some(),
    };
    let mut ship = world.spawn((
        Ship { id },
        pilot,
        Position { x, y },
        Controls::default(),
        Health {
            hp,
            respawn_at: Tick(0),
        },
        Score::default(),
        Weapon::default(),
    ));
    if let Some(brain) = brain {
        ship.insert(brain);
    }
    let entity = ship.id();
    // Joiners between two ticks must see each other when picking a point.
    world
        .resource_mut::<ShipGrid>()
        .0
        .insert(x, y, ShipMark { id, entity });
    world.resource_mut::<ShipDirectory>().insert(id, entity);
    world
        .resource_mut::<RosterNews>()
        .0
        .push(EventKind::Joined { ship: id });
}

/// Removes a ship; false if no such ship is live. Its projectiles keep
/// flying (they were fired in the open) but can no longer score.
pub fn remove_ship(world: &mut World, id: ShipId) -> bool {
    let Some(entity) = world.resource_mut::<ShipDirectory>().remove(id) else {
        return false;
    };
    world.despawn(entity);
    let now = world.resource::<RoomClock>().tick;
    world.resource_mut::<ShipIdPool>().release(id, now);
    let mut news = world.resource_mut::<RosterNews>();
    let joined = EventKind::Joined { ship: id };
    if let Some(pending) = news.0.iter().position(|k| *k == joined) {
        // Joined and left between two ticks: no state ever held the ship,
        // so announcing either would describe a ship nobody could see.
        news.0.remove(pending);
    } else {
        news.0.push(EventKind::Left { ship: id });
    }
    true
}

/// Drops a ship's held movement and any latched fire (its player went
/// silent: the ship should drift to a stop, not keep strafing).
pub fn clear_input(world: &mut World, id: ShipId) {
    let Some(entity) = world.resource::<ShipDirectory>().get(id) else {
        return;
    };
    if let Some(mut controls) = world.get_mut::<Controls>(entity) {
        controls.movement = 0;
        controls.fire = false;
    }
}

/// Adds or removes server-side bots until `n` exist. New bots take the
/// smallest free "Bot N" numbers; the highest numbers leave first, so the
/// same calls always produce the same roster.
pub fn set_bots(world: &mut World, n: usize) {
    let mut bots: Vec<(u32, ShipId)> = world
        .query::<(&Ship, &BotBrain)>()
        .iter(world)
        .map(|(ship, brain)| (brain.number, ship.id))
        .collect();
    bots.sort_unstable();
    while bots.len() > n {
        if let Some((_, id)) = bots.pop() {
            remove_ship(world, id);
        }
    }
    let mut number = 0;
    let mut taken = bots.iter().map(|(num, _)| *num).peekable();
    for _ in bots.len()..n {
        number += 1;
        while taken.peek() == Some(&number) {
            taken.next();
            number += 1;
        }
        let seed = world.resource_mut::<RoomRng>().0.next_u64();
        let brain = BotBrain {
            number,
            rng: XorShift::new(seed),
            hold_ticks: 0,
            movement: 0,
            aim_error: 0,
        };
        if spawn_ship(world, Arc::from(format!("Bot {number}")), Some(brain)).is_none() {
            break;
        }
    }
}
