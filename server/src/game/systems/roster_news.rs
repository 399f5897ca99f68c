//! Announces ships that joined or left between ticks as this tick's first
//! events. Owns only the hand-over from `RosterNews` to `TickEvents`; the
//! roster itself changes in `game::roster`, never here.

use bevy_ecs::prelude::*;

use crate::game::resources::{RoomClock, RosterNews, TickEvents};

/// Stamps pending Joined/Left news with the current tick, in call order.
pub fn announce_roster_changes(
    clock: Res<RoomClock>,
    mut news: ResMut<RosterNews>,
    mut events: ResMut<TickEvents>,
) {
    for kind in news.0.drain(..) {
        events.push(clock.tick, kind);
    }
}
