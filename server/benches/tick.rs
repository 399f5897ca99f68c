//! Tick cost of the room simulation (`Sim::step`) at several room sizes.
//!
//! Every ship is a human ship driven by the GAME.md load-test policy
//! (`BotPolicy::new(i, 30)`), with no server-side bots, so the figures are
//! comparable with other servers running the same game. Each room is warmed
//! up for `WARM_UP_TICKS` so projectiles, hits and respawns are in steady
//! state; one measured iteration is one `step` with that tick's inputs
//! (generated outside the timing).
//!
//! Targets on the reference 2-core machine (release): 64 ships under
//! 100 µs, 512 ships under 1 ms.

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use skirmish_server::game::{Sim, SimConfig};
use skirmish_shared::bot::BotPolicy;
use skirmish_shared::rules::Rules;
use skirmish_shared::{Input, ShipId};

/// Room sizes measured.
const ROOM_SIZES: [usize; 4] = [16, 64, 256, 512];
/// Ticks run before measuring: about three seconds of play.
const WARM_UP_TICKS: usize = 100;

/// The players of a room: each ship and the policy that drives it.
struct Players(Vec<(ShipId, BotPolicy)>);

impl Players {
    /// One client tick of input from every player; none acks a snapshot.
    fn next_inputs(&mut self) -> Vec<(ShipId, Input)> {
        self.0
            .iter_mut()
            .map(|(id, policy)| {
                let bot = policy.next_input();
                let input = Input {
                    seq: bot.seq,
                    ack: None,
                    buttons: bot.buttons,
                    aim: bot.aim,
                };
                (*id, input)
            })
            .collect()
    }
}

/// A warmed-up room of `n` policy-driven ships.
fn room(n: usize) -> (Sim, Players) {
    let rules = Rules::default();
    let hz = rules.tick_hz;
    let mut sim = Sim::new(SimConfig {
        rules,
        seed: 1,
        bots: 0,
        max_inputs_per_tick: 8,
    });
    let mut players = Players(
        (0..n)
            .map(|i| {
                (
                    sim.spawn_player(&format!("p{i}")),
                    BotPolicy::new(i as u64, hz),
                )
            })
            .collect(),
    );
    for _ in 0..WARM_UP_TICKS {
        let inputs = players.next_inputs();
        sim.step(&inputs);
    }
    (sim, players)
}

fn tick_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("tick");
    for n in ROOM_SIZES {
        let (mut sim, mut players) = room(n);
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter_batched(
                || players.next_inputs(),
                |inputs| sim.step(black_box(&inputs)),
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, tick_benches);
criterion_main!(benches);
