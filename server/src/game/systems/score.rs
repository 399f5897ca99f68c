//! Credits kills: one Killed event per kill, in the order the hits were
//! settled, and +1 to the killer if it is still in the room. Never decides
//! who died; that is `hits`.

use bevy_ecs::prelude::*;
use skirmish_shared::EventKind;

use crate::game::components::Score;
use crate::game::resources::{RoomClock, ShipDirectory, ShipKilled, TickEvents};

/// Turns this tick's `ShipKilled` messages into events and score.
///
/// Drained rather than read with a `MessageReader`: every kill is consumed
/// on the tick it happens, so the double buffer (and the update system it
/// needs) would only add a tick of memory.
pub fn credit_kills(
    clock: Res<RoomClock>,
    directory: Res<ShipDirectory>,
    mut kills: ResMut<Messages<ShipKilled>>,
    mut scores: Query<&mut Score>,
    mut events: ResMut<TickEvents>,
) {
    for kill in kills.drain() {
        events.push(
            clock.tick,
            EventKind::Killed {
                killer: kill.killer,
                victim: kill.victim,
            },
        );
        // A killer who left since firing has no score to credit.
        if let Some(mut score) = directory
            .get(kill.killer)
            .and_then(|entity| scores.get_mut(entity).ok())
        {
            score.kills = score.kills.saturating_add(1);
        }
    }
}
