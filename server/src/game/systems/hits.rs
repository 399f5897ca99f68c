//! Projectile-to-ship hit tests and their damage. Owns deciding who a shot
//! hits and taking the hit point; leaves scoring to `score` (via the
//! `ShipKilled` message) and bringing the dead back to `respawn`.
//!
//! Each projectile looks only at the 3x3 grid cells around its point. A shot
//! hits at most one ship: the nearest within `hit_radius`, ties to the
//! lowest id; never its owner, never a dead ship. Shots are settled in fire
//! order, so when two shots reach a ship on its last hit point the older one
//! kills it and the younger flies on.
//!
//! Lag compensation: a shot with a `rewind` is tested, every tick of its
//! flight, against the ships as they were that long ago (interpolated
//! between two past frames as the shooter's screen drew them), so it lives
//! in its shooter's timeline. Such a shot only hits a ship that is alive
//! now and has been since before that moment (docs/netcode.md).

use bevy_ecs::prelude::*;
use skirmish_shared::ShipId;
use skirmish_shared::rules::units;

use crate::game::components::{Health, Projectile, Ship, ShotPoint};
use crate::game::past::{PastPositions, between, rewound};
use crate::game::resources::{RoomClock, RoomRules, ShipGrid, ShipKilled, ShipMark};

/// A projectile with at least one ship in reach this tick.
#[derive(Clone, Copy, Debug)]
pub struct Contact {
    serial: u64,
    shot: Entity,
    owner: ShipId,
    point: ShotPoint,
    rewind: u32,
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
    past: Res<PastPositions>,
    shots: Query<(Entity, &Projectile, &ShotPoint)>,
    mut ships: Query<(&Ship, &mut Health)>,
    mut commands: Commands,
    mut kills: MessageWriter<ShipKilled>,
    mut contacts: Local<Vec<Contact>>,
) {
    let rules = &rules.0;
    let radius = f32::from(rules.hit_radius);
    let radius_sq = radius * radius;
    let targets = Targets {
        now: clock.tick,
        grid: &grid.0,
        past: &past,
    };

    // Pass 1, any order: which shots reach anyone at all? Usually few, so
    // only those are sorted and settled.
    contacts.clear();
    for (shot, projectile, point) in &shots {
        let contact = Contact {
            serial: projectile.serial,
            shot,
            owner: projectile.owner,
            point: *point,
            rewind: projectile.rewind,
        };
        if targets.any_near(&contact, radius) {
            contacts.push(contact);
        }
    }
    if contacts.is_empty() {
        return;
    }
    contacts.sort_unstable_by_key(|c| c.serial);

    // Pass 2, fire order: re-pick with current hit points, since an older
    // shot may just have killed the nearest ship.
    for contact in contacts.iter() {
        // A rewound shot sees the ship at frame `since`; the ship must have
        // lived since before it (its life began after `respawn_at`).
        let since = rewound(clock.tick, contact.rewind).0;
        let alive = |mark: &ShipMark| {
            ships.get(mark.entity).is_ok_and(|(_, health)| {
                health.alive() && (contact.rewind == 0 || health.respawn_at < since)
            })
        };
        let Some(victim) = targets.best(contact, radius_sq, alive) else {
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

/// Where a shot may find ships: the grid of now, or a past frame.
struct Targets<'a> {
    now: skirmish_shared::Tick,
    grid: &'a crate::game::grid::Grid<ShipMark>,
    past: &'a PastPositions,
}

impl Targets<'_> {
    /// Whether any ship but the owner may be within `radius` of the shot:
    /// exact for a shot of now; for a rewound shot a cheaper test against
    /// the earlier frame with the radius widened by one tick's move (the
    /// ship drawn between two frames is never further than that from the
    /// first). Pass 2 then decides exactly.
    fn any_near(&self, contact: &Contact, radius: f32) -> bool {
        if contact.rewind == 0 {
            return self.best(contact, radius * radius, |_| true).is_some();
        }
        let (tick, _) = rewound(self.now, contact.rewind);
        let Some(frame) = self.past.frame(tick) else {
            return false;
        };
        let reach = radius + self.past.tick_move;
        let (cell_x, cell_y) = sub_units(contact.point);
        frame.grid.near(cell_x, cell_y).any(|e| {
            let dx = contact.point.x - units(e.x);
            let dy = contact.point.y - units(e.y);
            e.item.id != contact.owner && dx * dx + dy * dy <= reach * reach
        })
    }

    /// The ship `contact` hits: within the radius, not the owner, accepted
    /// by `eligible`; nearest first, then lowest id. A rewound shot looks in
    /// the past frame at or before its moment and places each ship between
    /// that frame and the next; a frame no longer held (never, while the
    /// rewind respects the ring) means no hit rather than a guess.
    fn best(
        &self,
        contact: &Contact,
        radius_sq: f32,
        eligible: impl Fn(&ShipMark) -> bool,
    ) -> Option<ShipMark> {
        let (cell_x, cell_y) = sub_units(contact.point);
        if contact.rewind == 0 {
            let near = self.grid.near(cell_x, cell_y);
            let found = near.map(|e| (e.item, (units(e.x), units(e.y))));
            return nearest(found, contact, radius_sq, eligible);
        }
        let (tick, frac) = rewound(self.now, contact.rewind);
        let frame = self.past.frame(tick)?;
        let next = if frac == 0 {
            None
        } else {
            self.past.frame(tick.next())
        };
        let found = frame.grid.near(cell_x, cell_y).map(|e| {
            let then = (e.x, e.y);
            let after = next.and_then(|n| n.position(e.item.id)).unwrap_or(then);
            (e.item, between(then, after, frac))
        });
        nearest(found, contact, radius_sq, eligible)
    }
}

/// A shot point in sub-units, for grid lookups.
fn sub_units(point: ShotPoint) -> (i64, i64) {
    let scale = skirmish_shared::rules::POS_SCALE as f32;
    ((point.x * scale) as i64, (point.y * scale) as i64)
}

/// The nearest eligible ship among `found` (ship, position in units) within
/// the radius of `contact`'s point, never its owner; ties to the lowest id.
fn nearest(
    found: impl Iterator<Item = (ShipMark, (f32, f32))>,
    contact: &Contact,
    radius_sq: f32,
    eligible: impl Fn(&ShipMark) -> bool,
) -> Option<ShipMark> {
    let point = contact.point;
    let mut best: Option<(f32, ShipMark)> = None;
    for (item, (x, y)) in found {
        if item.id == contact.owner {
            continue;
        }
        let dx = point.x - x;
        let dy = point.y - y;
        let dist_sq = dx * dx + dy * dy;
        if dist_sq > radius_sq {
            continue;
        }
        let better = match best {
            None => true,
            Some((d, mark)) => dist_sq < d || (dist_sq == d && item.id < mark.id),
        };
        if better && eligible(&item) {
            best = Some((dist_sq, item));
        }
    }
    best.map(|(_, mark)| mark)
}
