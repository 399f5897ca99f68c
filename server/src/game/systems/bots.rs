//! Server-side bots: each tick, every living bot writes its held controls
//! (movement, aim, fire) as a player's input would. Bots get no powers a
//! player lacks: they act only through `Controls`, and they see only what
//! every client sees (positions and held movement). They must never touch
//! another ship's state or the room's random stream.
//!
//! The play: approach the nearest living ship when far, back off when
//! close, wander in between, keep off the walls; aim at it with a lead and a
//! small error redrawn every few seconds, and fire when it is within range.
//! Good enough to keep a room lively, easy enough to beat.

use bevy_ecs::prelude::*;
use skirmish_shared::ShipId;
use skirmish_shared::bot::MOVES;
use skirmish_shared::rules::{POS_SCALE, Rules, buttons, direction, quantise_aim};

use crate::game::components::{BotBrain, Controls, Health, Position, Ship};
use crate::game::resources::RoomRules;

/// Bots fire at targets within this many units.
pub const FIRE_RANGE_UNITS: f32 = 600.0;
/// Farther than this a bot closes in.
const APPROACH_UNITS: f32 = 450.0;
/// Closer than this a bot backs off.
const RETREAT_UNITS: f32 = 180.0;
/// A bot within this distance of a wall turns away from it.
const WALL_MARGIN_UNITS: f32 = 120.0;
/// Chance per tick of pulling the trigger while a target is in range. With
/// the cooldown this is well below a human's top rate of fire.
const FIRE_CHANCE: f64 = 0.25;
/// Largest aim error, in aim steps (256 per turn): about 11 degrees, a miss
/// at 300 units when it is large.
const MAX_AIM_ERROR: u32 = 8;
/// Share of the target's motion a bot leads by: half, so a target that
/// keeps moving is still hard to hit and one that stops is easy.
const LEAD: f32 = 0.5;
/// Movement is held for this many ticks, at least.
const MIN_HOLD_SECS: f64 = 0.5;
/// And at most.
const MAX_HOLD_SECS: f64 = 1.5;

/// What a bot knows about another ship.
#[derive(Clone, Copy, Debug)]
pub struct Contact {
    id: ShipId,
    x: f32,
    y: f32,
    movement: u8,
}

/// Every ship as a bot may see it.
type Sightings<'w, 's> = Query<
    'w,
    's,
    (
        &'static Ship,
        &'static Position,
        &'static Health,
        &'static Controls,
    ),
>;
/// The bots, with the controls they write.
type Pilots<'w, 's> = Query<
    'w,
    's,
    (
        &'static Ship,
        &'static Position,
        &'static Health,
        &'static mut Controls,
        &'static mut BotBrain,
    ),
>;

/// Writes every living bot's controls for this tick.
pub fn drive_bots(
    rules: Res<RoomRules>,
    mut ships: ParamSet<(Sightings, Pilots)>,
    mut contacts: Local<Vec<Contact>>,
) {
    let rules = &rules.0;
    contacts.clear();
    contacts.extend(
        ships
            .p0()
            .iter()
            .filter(|(_, _, health, _)| health.alive())
            .map(|(ship, pos, _, controls)| Contact {
                id: ship.id,
                x: units(pos.x),
                y: units(pos.y),
                movement: controls.movement,
            }),
    );
    for (ship, pos, health, mut controls, mut brain) in &mut ships.p1() {
        if !health.alive() {
            controls.movement = 0;
            controls.fire = false;
            continue;
        }
        let me = (units(pos.x), units(pos.y));
        let target = nearest(&contacts, ship.id, me);
        let brain = &mut *brain;
        if brain.hold_ticks == 0 {
            choose_movement(rules, brain, me, target);
        }
        brain.hold_ticks -= 1;
        controls.movement = avoid_walls(rules, me, brain.movement);
        if let Some((target, dist)) = target {
            controls.aim = aim_at(rules, me, target, dist, brain.aim_error);
            if dist <= FIRE_RANGE_UNITS && brain.rng.chance(FIRE_CHANCE) {
                controls.fire = true;
            }
        }
    }
}

fn units(v: u16) -> f32 {
    f32::from(v) / POS_SCALE as f32
}

/// The nearest other living ship and its distance; ties go to the lowest id
/// so the choice does not depend on query order.
fn nearest(contacts: &[Contact], me: ShipId, at: (f32, f32)) -> Option<(Contact, f32)> {
    contacts
        .iter()
        .filter(|c| c.id != me)
        .map(|c| (*c, (c.x - at.0).powi(2) + (c.y - at.1).powi(2)))
        .min_by(|(a, da), (b, db)| da.total_cmp(db).then(a.id.cmp(&b.id)))
        .map(|(c, d2)| (c, d2.sqrt()))
}

fn choose_movement(
    rules: &Rules,
    brain: &mut BotBrain,
    me: (f32, f32),
    target: Option<(Contact, f32)>,
) {
    let hz = f64::from(rules.tick_hz);
    let hold = brain.rng.range_f64(MIN_HOLD_SECS, MAX_HOLD_SECS) * hz;
    // Positive and small: `as` cannot truncate meaningfully.
    brain.hold_ticks = (hold.round() as u32).max(1);
    let error = brain.rng.below(2 * MAX_AIM_ERROR + 1) as i32 - MAX_AIM_ERROR as i32;
    brain.aim_error = i8::try_from(error).unwrap_or(0);
    brain.movement = match target {
        Some((t, dist)) if dist > APPROACH_UNITS => toward(t.x - me.0, t.y - me.1),
        Some((t, dist)) if dist < RETREAT_UNITS => toward(me.0 - t.x, me.1 - t.y),
        _ => MOVES[brain.rng.below(MOVES.len() as u32) as usize],
    };
}

/// The one of eight directions closest to `(dx, dy)` as button bits.
#[must_use]
pub fn toward(dx: f32, dy: f32) -> u8 {
    // sin(22.5°): a component smaller than this share of the length is
    // closer to the other axis.
    let len = (dx * dx + dy * dy).sqrt();
    if len == 0.0 {
        return 0;
    }
    let threshold = 0.382_683_43 * len;
    let mut bits = 0;
    if dx > threshold {
        bits |= buttons::RIGHT;
    } else if dx < -threshold {
        bits |= buttons::LEFT;
    }
    if dy > threshold {
        bits |= buttons::DOWN;
    } else if dy < -threshold {
        bits |= buttons::UP;
    }
    bits
}

/// `movement` with any component pointing into a nearby wall reversed.
fn avoid_walls(rules: &Rules, me: (f32, f32), movement: u8) -> u8 {
    let (dx, dy) = direction(movement);
    let (w, h) = (f32::from(rules.arena_w), f32::from(rules.arena_h));
    let flip = |d: i32, v: f32, max: f32| -> i32 {
        if (d < 0 && v < WALL_MARGIN_UNITS) || (d > 0 && v > max - WALL_MARGIN_UNITS) {
            -d
        } else {
            d
        }
    };
    let (dx, dy) = (flip(dx, me.0, w), flip(dy, me.1, h));
    let mut bits = 0;
    match dx {
        1 => bits |= buttons::RIGHT,
        -1 => bits |= buttons::LEFT,
        _ => {}
    }
    match dy {
        1 => bits |= buttons::DOWN,
        -1 => bits |= buttons::UP,
        _ => {}
    }
    bits
}

/// Aim part of the way towards where the target will be when a shot gets
/// there (assuming it keeps its held movement), plus the bot's error.
fn aim_at(rules: &Rules, me: (f32, f32), target: Contact, dist: f32, error: i8) -> u8 {
    let shot_per_tick = f32::from(rules.shot_speed) / f32::from(rules.tick_hz);
    let ship_per_tick = f32::from(rules.ship_speed) / f32::from(rules.tick_hz);
    let flight_ticks = if shot_per_tick > 0.0 {
        dist / shot_per_tick
    } else {
        0.0
    };
    let (mx, my) = direction(target.movement);
    let norm = if mx != 0 && my != 0 {
        std::f32::consts::FRAC_1_SQRT_2
    } else {
        1.0
    };
    let lead = LEAD * ship_per_tick * flight_ticks * norm;
    let (tx, ty) = (target.x + mx as f32 * lead, target.y + my as f32 * lead);
    let aim = quantise_aim((ty - me.1).atan2(tx - me.0));
    aim.wrapping_add_signed(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toward_picks_the_nearest_of_eight_directions() {
        assert_eq!(toward(10.0, 0.0), buttons::RIGHT);
        assert_eq!(toward(-10.0, 1.0), buttons::LEFT);
        assert_eq!(toward(0.0, -10.0), buttons::UP);
        assert_eq!(toward(10.0, 10.0), buttons::RIGHT | buttons::DOWN);
        assert_eq!(toward(-10.0, -9.0), buttons::LEFT | buttons::UP);
        assert_eq!(toward(0.0, 0.0), 0);
    }

    #[test]
    fn walls_turn_bots_around() {
        let r = Rules::default();
        assert_eq!(
            avoid_walls(&r, (50.0, 1000.0), buttons::LEFT | buttons::UP),
            buttons::RIGHT | buttons::UP
        );
        assert_eq!(
            avoid_walls(&r, (1000.0, 1950.0), buttons::DOWN),
            buttons::UP
        );
        assert_eq!(
            avoid_walls(&r, (1000.0, 1000.0), buttons::DOWN),
            buttons::DOWN
        );
        assert_eq!(avoid_walls(&r, (50.0, 50.0), 0), 0);
    }

    #[test]
    fn aim_points_at_a_still_target_and_leads_a_moving_one() {
        let r = Rules::default();
        let still = Contact {
            id: ShipId(2),
            x: 100.0,
            y: 200.0,
            movement: 0,
        };
        // y grows downwards: straight down is a quarter turn.
        assert_eq!(aim_at(&r, (100.0, 100.0), still, 100.0, 0), 64);
        assert_eq!(aim_at(&r, (100.0, 100.0), still, 100.0, -3), 61);
        let moving = Contact {
            movement: buttons::RIGHT,
            ..still
        };
        let led = aim_at(&r, (100.0, 100.0), moving, 100.0, 0);
        assert!(
            led < 64 && led > 50,
            "leads to the right of straight down: {led}"
        );
    }

    #[test]
    fn nearest_breaks_ties_by_id() {
        let c = |id, x| Contact {
            id: ShipId(id),
            x,
            y: 0.0,
            movement: 0,
        };
        let contacts = [c(5, 10.0), c(1, 0.0), c(3, -10.0)];
        let (t, d) = nearest(&contacts, ShipId(1), (0.0, 0.0)).expect("two others");
        assert_eq!((t.id, d), (ShipId(3), 10.0));
        assert!(nearest(&contacts[1..2], ShipId(1), (0.0, 0.0)).is_none());
    }
}
