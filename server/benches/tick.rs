//! The room's per-tick costs at several room sizes: the simulation step, the
//! encoding of full and delta snapshot bodies, and the whole snapshot fan-out
//! for every player of a 512-ship room, whole and with interest management.
//!
//! Every ship is a human ship driven by the GAME.md load-test policy, with no
//! server-side bots, so the figures compare with other servers running the
//! same game. Rooms are warmed up for `WARM_UP_TICKS` so projectiles, hits
//! and respawns are in steady state.
//!
//! Targets on the reference 2-core machine (release): a 64-ship tick under
//! 100 µs, a 512-ship tick under 1 ms, all 512 players' snapshots under 2 ms.
//!
//! `tick_lag_comp` runs the same rooms with lag compensation at the default
//! 200 ms cap and every shot rewound (each input claims a view 250 ms back):
//! its ratio to `tick` is the cost of compensation, measured in one run.
//!
//! `cargo bench -p skirmish-server --bench tick`

mod policy_room;

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use policy_room::PolicyRoom;
use skirmish_server::room::snapshot::{BodyCache, Frame, History, Interest};
use skirmish_shared::codec::{EncodedBody, snapshot_frame};
use skirmish_shared::{ShipId, Tick};

/// Room sizes measured.
const ROOM_SIZES: [usize; 4] = [16, 64, 256, 512];
/// Ticks run before measuring: about three seconds of play.
const WARM_UP_TICKS: usize = 100;

/// The default lag-compensation cap (`--lag-comp-max-ms`).
const LAG_COMP_MS: u32 = 200;

/// A warmed-up room of `n` ships and its recent history.
fn warmed_room(n: usize) -> (PolicyRoom, History) {
    warmed(PolicyRoom::new(n))
}

fn warmed(mut room: PolicyRoom) -> (PolicyRoom, History) {
    let mut history = History::new(32);
    for _ in 0..WARM_UP_TICKS {
        let out = room.step();
        history.push(Frame {
            state: out.state,
            events: out.events,
        });
    }
    (room, history)
}

fn tick_benches(c: &mut Criterion) {
    for (name, lag_comp_ms) in [("tick", 0), ("tick_lag_comp", LAG_COMP_MS)] {
        let mut group = c.benchmark_group(name);
        for n in ROOM_SIZES {
            let (mut room, _) = warmed(PolicyRoom::with_lag_comp(n, lag_comp_ms));
            group.bench_function(BenchmarkId::from_parameter(n), |b| {
                b.iter_batched(
                    || room.players.draw().to_vec(),
                    |inputs| room.sim.step(black_box(&inputs)),
                    BatchSize::SmallInput,
                );
            });
        }
        group.finish();
    }
}

fn encode_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("snapshot");
    for n in ROOM_SIZES {
        let (_, history) = warmed_room(n);
        let now = history.latest().expect("warmed").state.tick;
        group.bench_function(BenchmarkId::new("full", n), |b| {
            b.iter(|| EncodedBody::new(&history.body(black_box(None)).expect("body")));
        });
        group.bench_function(BenchmarkId::new("delta", n), |b| {
            let base = Some(Tick(now.0 - 1));
            b.iter(|| EncodedBody::new(&history.body(black_box(base)).expect("body")));
        });
    }
    group.finish();
}

/// Every player of a 512-ship room gets its snapshot: acks spread over the
/// last three ticks (as over loopback) plus a few joiners wanting full ones.
/// Measures body building and encoding (once per distinct baseline) and the
/// per-player frame assembly the connection writers do.
fn fan_out_bench(c: &mut Criterion) {
    let (_, history) = warmed_room(512);
    let now = history.latest().expect("warmed").state.tick;
    let acks: Vec<Option<Tick>> = (0..512u32)
        .map(|i| match i % 20 {
            0 => None,
            1..=6 => Some(Tick(now.0 - 2)),
            7..=8 => Some(Tick(now.0 - 3)),
            _ => Some(Tick(now.0 - 1)),
        })
        .collect();
    c.bench_function("fan_out/512_players", |b| {
        b.iter(|| {
            let mut cache = BodyCache::default();
            let mut bytes = 0;
            for (i, ack) in acks.iter().enumerate() {
                let body = cache
                    .body(&history, *ack)
                    .expect("encodes")
                    .expect("history has frames");
                bytes += snapshot_frame(i as u32, &body.encoded)
                    .expect("frame")
                    .len();
            }
            black_box(bytes)
        });
    });
}

/// The same fan-out with interest management on every tick: each player's
/// body is its own (its area of interest at its baseline and now), built
/// and encoded per player. Its ratio to `fan_out/512_players` is the CPU
/// price of the bytes saved.
fn fan_out_interest_bench(c: &mut Criterion) {
    let mut room = PolicyRoom::new(512);
    let rules = room.sim.rules().clone();
    let mut history = History::with_interest(
        32,
        Interest {
            rules,
            from_ships: 0,
        },
    );
    for _ in 0..WARM_UP_TICKS {
        let out = room.step();
        history.push(Frame {
            state: out.state,
            events: out.events,
        });
    }
    let frame = history.latest().expect("warmed");
    let now = frame.state.tick;
    let players: Vec<(ShipId, Option<Tick>)> = frame
        .state
        .ships
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let ack = match i % 20 {
                0 => None,
                1..=6 => Some(Tick(now.0 - 2)),
                7..=8 => Some(Tick(now.0 - 3)),
                _ => Some(Tick(now.0 - 1)),
            };
            (s.state.id, ack)
        })
        .collect();
    c.bench_function("fan_out/512_players_interest", |b| {
        b.iter(|| {
            let mut cache = BodyCache::default();
            let mut bytes = 0;
            for (i, (ship, ack)) in players.iter().enumerate() {
                let body = cache
                    .body_for(&history, *ack, Some(*ship))
                    .expect("encodes")
                    .expect("history has frames");
                bytes += snapshot_frame(i as u32, &body.encoded)
                    .expect("frame")
                    .len();
            }
            black_box(bytes)
        });
    });
}

criterion_group!(
    benches,
    tick_benches,
    encode_benches,
    fan_out_bench,
    fan_out_interest_bench
);
criterion_main!(benches);
