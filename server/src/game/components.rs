//! The data a room's entities carry: ships and projectiles. Plain data only;
//! every rule that changes these lives in a system under `systems/`, and
//! nothing here may know about networking or the wire encoding.

use std::sync::Arc;

use bevy_ecs::prelude::*;
use skirmish_shared::rng::XorShift;
use skirmish_shared::{ShipId, ShotId, Tick, ViewTime};

/// A ship's identity. The id never changes while the entity lives; it is the
/// key every ordering decision sorts by, because query order is not a promise.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ship {
    /// Wire id, unique among live ships and quarantined after removal.
    pub id: ShipId,
}

/// Who flies a ship. The name is shared with every snapshot by `Arc` so
/// building a tick's output never copies strings.
#[derive(Component, Clone, Debug)]
pub struct Pilot {
    /// Display name, already validated by whoever admitted the player.
    pub name: Arc<str>,
    /// True for a server-side bot.
    pub bot: bool,
}

/// Where a ship is, in wire sub-units (`POS_SCALE` per unit). The quantised
/// value is the authoritative one so client prediction can match it exactly.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// x in sub-units.
    pub x: u16,
    /// y in sub-units.
    pub y: u16,
}

/// What the pilot is holding. Movement and aim persist until the next input
/// arrives; fire does not: it is latched for one tick so a press shorter than
/// a tick is never lost, and a press is never repeated by a late packet.
#[derive(Component, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Controls {
    /// Movement bits only (`UP | DOWN | LEFT | RIGHT`); fire lives in `fire`.
    pub movement: u8,
    /// Quantised aim, also the ship's synced aim.
    pub aim: u8,
    /// Fire was pressed in an input applied this tick (consumed by `fire`).
    pub fire: bool,
    /// What the newest input that pressed fire this tick says its screen
    /// showed (consumed with `fire`); the shot is judged as of then.
    pub fire_view: Option<ViewTime>,
    /// Newest input sequence applied; older or equal ones are stale.
    pub last_input: u32,
}

/// Hit points and, once they reach zero, when the ship comes back. While
/// alive, `respawn_at` is the tick after which the current life's positions
/// start (set by death and round resets), so a rewound shot never hits a
/// ship where it stood in an earlier life.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Health {
    /// 0 means dead: not drawn as alive, not moving, firing or hittable.
    pub hp: u8,
    /// Tick at which a dead ship respawns; meaningless while alive.
    pub respawn_at: Tick,
}

impl Health {
    /// True while the ship has hit points left.
    #[must_use]
    pub fn alive(&self) -> bool {
        self.hp > 0
    }
}

/// Kills this round.
#[derive(Component, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Score {
    /// Saturates rather than wraps: a wrapped score would crown the loser.
    pub kills: u16,
}

/// The gun's cooldown.
#[derive(Component, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Weapon {
    /// First tick on which the ship may fire again.
    pub ready_at: Tick,
}

/// A server-side bot's private state. Each bot draws from its own generator
/// (seeded from the room's) so bots stay deterministic whatever order the
/// query visits them in.
#[derive(Component, Clone, Debug)]
pub struct BotBrain {
    /// "Bot N": names and removal order (highest number leaves first).
    pub number: u32,
    /// The bot's own random stream.
    pub rng: XorShift,
    /// Ticks before the bot picks a new movement.
    pub hold_ticks: u32,
    /// Movement currently held.
    pub movement: u8,
    /// Aim error in aim steps, redrawn with the movement, so bots miss
    /// sometimes and humans can beat them.
    pub aim_error: i8,
}

/// A projectile in flight. Its position is always recomputed from origin and
/// age with `Rules::shot_position`, never accumulated, so the client's
/// extrapolation draws exactly what the server tests.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Projectile {
    /// Wire id (wrapping counter).
    pub id: ShotId,
    /// Fire order across the room's life; unlike `id` it never wraps, so it
    /// orders hits deterministically.
    pub serial: u64,
    /// Who fired it; never hit by it.
    pub owner: ShipId,
    /// Origin in sub-units.
    pub origin: (u16, u16),
    /// Direction (quantised aim).
    pub aim: u8,
    /// Tick it was fired (age 0).
    pub fired: Tick,
    /// Lag compensation: every tick this shot is tested against the ships
    /// as they were this many 256ths of a tick earlier (its shooter's view,
    /// clamped to the room's cap); 0 tests against the ships of now.
    pub rewind: u32,
}

/// A projectile's position this tick, in arena units.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct ShotPoint {
    /// x in units.
    pub x: f32,
    /// y in units.
    pub y: f32,
}
