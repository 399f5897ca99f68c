//! The server is the authority: inputs a cheating client can craft (every
//! bit set, several inputs per tick, fire held down) never move a ship
//! faster or fire more often than the rules allow, along an axis or
//! diagonally.

mod common;

use std::collections::BTreeSet;

use common::{Player, TestServer, test_config};
use skirmish_shared::rules::{POS_SCALE, buttons};
use skirmish_shared::{ClientMsg, Input, ServerMsg, ShipId, Tick};

/// Ticks each movement phase lasts.
const PHASE_TICKS: usize = 60;

/// The legal step per tick along each moving axis, from the rules' speed as
/// GAME.md states it (200 units/s, diagonals normalised), computed here
/// rather than by the rules' own step functions, so that a server whose
/// movement code (or those functions) went faster would fail.
fn legal_steps(player: &Player) -> (i64, i64) {
    let rules = &player.welcome.rules;
    let per_tick = f64::from(rules.ship_speed) * f64::from(POS_SCALE) / f64::from(rules.tick_hz);
    (
        per_tick.round() as i64,
        (per_tick / std::f64::consts::SQRT_2).round() as i64,
    )
}

/// Where the cheat's ship is and the tick it was seen at.
fn seen(cheat: &Player) -> (i64, i64, Tick) {
    let world = cheat.world();
    let ship = world.ships[&cheat.ship()].state;
    (i64::from(ship.x), i64::from(ship.y), world.tick)
}

/// Sends `batch` as one tick's inputs and waits for the next snapshot;
/// collects the cheat's shots.
async fn one_tick(cheat: &mut Player, batch: &[u8], shots: &mut BTreeSet<u16>) {
    for &pressed in batch {
        cheat.seq += 1;
        let input = Input {
            seq: cheat.seq,
            ack: cheat.view.latest().map(|v| v.tick),
            buttons: pressed,
            aim: 0,
            view: None,
        };
        cheat.send(&ClientMsg::Input(input)).await;
    }
    let me: ShipId = cheat.ship();
    let body = loop {
        if let ServerMsg::Snapshot(s) = cheat.recv().await {
            cheat.view.apply(&s.body).expect("applies");
            break s.body;
        }
    };
    shots.extend(body.shots.iter().filter(|s| s.owner == me).map(|s| s.id.0));
}

/// Releases every button and waits until the ship stands still, so the
/// next phase starts from rest and no held movement leaks into it.
async fn stop(cheat: &mut Player, shots: &mut BTreeSet<u16>) {
    let mut last = None;
    loop {
        one_tick(cheat, &[0], shots).await;
        let (x, y, _) = seen(cheat);
        if last == Some((x, y)) {
            return;
        }
        last = Some((x, y));
    }
}

/// Towards the arena's centre along one axis: `(negative, positive)`
/// button chosen by which half `at` is in. A phase travels at most 400
/// units, less than half the arena, so it never reaches a wall.
fn inwards(at: i64, max: u16, neg: u8, pos: u8) -> u8 {
    if at * 2 < i64::from(max) { pos } else { neg }
}

/// Holds `direction` for [`PHASE_TICKS`] ticks, four inputs a tick with
/// every other bit a client can set mixed in (the newest of each tick is
/// the one that holds), fire held down. Returns the travel `(dx, dy)` in
/// sub-units and the ticks it took.
async fn phase(cheat: &mut Player, direction: u8, shots: &mut BTreeSet<u16>) -> (i64, i64, u32) {
    stop(cheat, shots).await;
    let (x0, y0, t0) = seen(cheat);
    let batch = [0xFF, direction, 0xFF, direction | buttons::FIRE | 0xE0];
    for _ in 0..PHASE_TICKS {
        one_tick(cheat, &batch, shots).await;
    }
    let (x1, y1, t1) = seen(cheat);
    ((x1 - x0).abs(), (y1 - y0).abs(), t1.since(t0))
}

#[tokio::test]
async fn impossible_inputs_move_and_fire_no_faster_than_the_rules() {
    let mut config = test_config();
    config.idle_timeout_secs = 60;
    let server = TestServer::start(config).await;
    let mut cheat = Player::join(&server, "Cheat", Some("fair")).await;
    cheat.snapshot().await;
    let (axis, diagonal) = legal_steps(&cheat);
    let rules = cheat.welcome.rules.clone();
    let mut shots = BTreeSet::new();
    let start_tick = cheat.world().tick;

    // Along one axis: at most one axis step per tick, and nothing across.
    let (x, _, _) = seen(&cheat);
    let right = inwards(x, rules.max_x(), buttons::LEFT, buttons::RIGHT);
    let (dx, dy, ticks) = phase(&mut cheat, right, &mut shots).await;
    let most = i64::from(ticks) * axis;
    assert!(
        dx <= most && dy == 0,
        "axis: moved ({dx}, {dy}) sub-units in {ticks} ticks; at most ({most}, 0)"
    );
    assert!(dx >= most / 2, "axis: the legal part moved the ship: {dx}");

    // Diagonally: at most one normalised step per tick on each axis, the
    // same on both, so no faster than along an axis.
    let (x, y, _) = seen(&cheat);
    let across = inwards(x, rules.max_x(), buttons::LEFT, buttons::RIGHT)
        | inwards(y, rules.max_y(), buttons::UP, buttons::DOWN);
    let (dx, dy, ticks) = phase(&mut cheat, across, &mut shots).await;
    let most = i64::from(ticks) * diagonal;
    assert!(
        dx <= most && dy <= most,
        "diagonal: moved ({dx}, {dy}) sub-units in {ticks} ticks; at most {most} on each axis"
    );
    assert_eq!(dx, dy, "diagonal: both axes move alike");
    assert!(
        dx >= most / 2,
        "diagonal: the legal part moved the ship: {dx}"
    );

    // Fire is held every tick of both phases: one shot per cooldown at most.
    let ticks = cheat.world().tick.since(start_tick);
    let allowed = ticks / u32::from(rules.fire_cooldown_ticks) + 1;
    assert!(
        (shots.len() as u32) <= allowed,
        "{} shots in {ticks} ticks; at most {allowed}",
        shots.len()
    );
    assert!(shots.len() >= 2, "holding fire does fire");
    server.stop().await;
}
