//! The round clock: starts round 1 on the first tick and, when a round's
//! time is up, publishes its standings and starts the next with a clean
//! slate (scores zeroed, every ship respawned fresh, projectiles cleared).
//! Owns round boundaries only; never credits kills.
//!
//! A round that `started` at tick S and `ends` at tick E covers the ticks
//! S+1..=E: the reset happens at the end of tick E, after its kills count.

use bevy_ecs::prelude::*;
use skirmish_shared::{EventKind, RoundState, ShipId, Standing, Tick};

use crate::game::components::{Health, Position, Projectile, Score, Ship, Weapon};
use crate::game::resources::{
    FirstRound, RoomClock, RoomRng, RoomRules, RoundClock, ShipGrid, ShipMark, TickEvents,
};

use super::respawn::pick_spawn_point;

/// Every ship with what a new round resets.
type RoundShips<'w, 's> = Query<
    'w,
    's,
    (
        Entity,
        &'static Ship,
        &'static mut Position,
        &'static mut Health,
        &'static mut Score,
        &'static mut Weapon,
    ),
>;

/// Starts the first round, or ends the current one when it is due.
#[expect(
    clippy::too_many_arguments,
    reason = "a round reset touches every kind of state; splitting it would hide that"
)]
pub fn run_round_clock(
    rules: Res<RoomRules>,
    clock: Res<RoomClock>,
    mut round: ResMut<RoundClock>,
    first: Res<FirstRound>,
    mut events: ResMut<TickEvents>,
    mut rng: ResMut<RoomRng>,
    mut grid: ResMut<ShipGrid>,
    mut ships: RoundShips,
    shots: Query<Entity, With<Projectile>>,
    mut commands: Commands,
    mut order: Local<Vec<(ShipId, Entity)>>,
) {
    let now = clock.tick;
    let length = rules.0.round_ticks.max(1);
    let next_number = match round.0 {
        None => first.0.max(1),
        Some(current) if now >= current.ends => {
            let mut standings: Vec<Standing> = ships
                .iter()
                .map(|(_, ship, _, _, score, _)| Standing {
                    ship: ship.id,
                    score: score.kills,
                })
                .collect();
            standings.sort_unstable_by(|a, b| b.score.cmp(&a.score).then(a.ship.cmp(&b.ship)));
            events.push(
                now,
                EventKind::RoundEnded {
                    round: current.number,
                    standings,
                },
            );
            reset_for_new_round(&rules.0, now, &mut rng.0, &mut grid, &mut ships, &mut order);
            for shot in &shots {
                commands.entity(shot).despawn();
            }
            current.number.saturating_add(1)
        }
        Some(_) => return,
    };
    let ends = now.after(length);
    round.0 = Some(RoundState {
        number: next_number,
        started: now,
        ends,
    });
    events.push(
        now,
        EventKind::RoundStarted {
            round: next_number,
            ends,
        },
    );
}

/// Zeroes every score and respawns every ship fresh, in id order, each one
/// clear of those placed before it.
fn reset_for_new_round(
    rules: &skirmish_shared::rules::Rules,
    now: Tick,
    rng: &mut skirmish_shared::rng::XorShift,
    grid: &mut ShipGrid,
    ships: &mut RoundShips,
    order: &mut Vec<(ShipId, Entity)>,
) {
    order.clear();
    order.extend(ships.iter().map(|(entity, ship, ..)| (ship.id, entity)));
    order.sort_unstable_by_key(|(id, _)| *id);
    grid.0.clear();
    for &(id, entity) in order.iter() {
        let Ok((_, _, mut pos, mut health, mut score, mut weapon)) = ships.get_mut(entity) else {
            continue;
        };
        let (x, y) = pick_spawn_point(rules, rng, &grid.0);
        *pos = Position { x, y };
        *health = Health {
            hp: rules.max_hp.max(1),
            respawn_at: now,
        };
        *score = Score::default();
        *weapon = Weapon::default();
        grid.0.insert(x, y, ShipMark { id, entity });
    }
}
