//! The server is the authority: inputs a cheating client can craft (every
//! bit set, several inputs per tick, fire held down) never move a ship
//! faster or fire more often than the rules allow.

mod common;

use common::{Player, TestServer, test_config};
use skirmish_shared::rules::Rules;
use skirmish_shared::{ClientMsg, Input, ServerMsg};

#[tokio::test]
async fn impossible_inputs_move_and_fire_no_faster_than_the_rules() {
    let mut config = test_config();
    config.idle_timeout_secs = 60;
    let server = TestServer::start(config).await;
    let rules = Rules::default();
    let mut cheat = Player::join(&server, "Cheat", Some("fair")).await;
    cheat.snapshot().await;
    let me = cheat.ship();
    let start = cheat.world().ships[&me].state;
    let start_tick = cheat.world().tick;

    // Four inputs per tick, every bit set (opposite directions, fire and
    // bits the protocol does not define), plus "right+down" ones in the mix,
    // for 60 ticks.
    let mut shots = std::collections::BTreeSet::new();
    for _ in 0..60 {
        for buttons in [0xFF, 0b1010, 0xFF, 0b1_1010] {
            cheat.seq += 1;
            let ack = cheat.view.latest().map(|v| v.tick);
            let input = Input {
                seq: cheat.seq,
                ack,
                buttons,
                aim: 0,
            };
            cheat.send(&ClientMsg::Input(input)).await;
        }
        let body = loop {
            if let ServerMsg::Snapshot(s) = cheat.recv().await {
                cheat.view.apply(&s.body).expect("applies");
                break s.body;
            }
        };
        shots.extend(body.shots.iter().filter(|s| s.owner == me).map(|s| s.id));
    }
    let end = cheat.world().ships[&me].state;
    let ticks = cheat.world().tick.since(start_tick);
    // The farthest legal travel: one diagonal step per tick on each axis.
    let most = i64::from(ticks) * i64::from(rules.step_diag().max(rules.step_axis()));
    let dx = (i64::from(end.x) - i64::from(start.x)).abs();
    let dy = (i64::from(end.y) - i64::from(start.y)).abs();
    assert!(
        dx <= most && dy <= most,
        "moved ({dx}, {dy}) sub-units in {ticks} ticks; at most {most}"
    );
    assert!(
        dx > 0 || dy > 0,
        "the legal part of the inputs moved the ship"
    );
    // Fire is held every tick: one shot per cooldown at most.
    let cooldown = u32::from(rules.fire_cooldown_ticks);
    let allowed = ticks / cooldown + 1;
    assert!(
        (shots.len() as u32) <= allowed,
        "{} shots in {ticks} ticks; at most {allowed}",
        shots.len()
    );
    assert!(shots.len() >= 2, "holding fire does fire");
    server.stop().await;
}
