//! Prints the encoded sizes of full and delta snapshot bodies for rooms of
//! 16 to 512 ships playing the GAME.md bot policy, as a Markdown table for
//! `docs/protocol.md`. Sizes are deterministic (seeded), so the table only
//! changes when the protocol or the game does. A second table gives the
//! mean per-player delta with interest management (every player sent only
//! its area of interest) against the same room sent whole.

#[path = "../benches/policy_room.rs"]
mod policy_room;

use policy_room::PolicyRoom;
use skirmish_server::room::snapshot::{Frame, History, Interest};
use skirmish_shared::Tick;
use skirmish_shared::codec::EncodedBody;

fn size(history: &History, baseline: Option<Tick>) -> usize {
    let body = history.body(baseline).expect("history has frames");
    EncodedBody::new(&body).expect("encodes").len()
}

/// A 300-tick room of `n` policy ships, every tick filtered per player.
fn filtered_history(n: usize) -> History {
    let mut room = PolicyRoom::new(n);
    let rules = room.sim.rules().clone();
    let mut history = History::with_interest(
        32,
        Interest {
            rules,
            from_ships: 0,
        },
    );
    for _ in 0..300 {
        let out = room.step();
        history.push(Frame {
            state: out.state,
            events: out.events,
        });
    }
    history
}

/// Mean and largest encoded delta against tick-1 over every player.
fn per_player(history: &History) -> (f64, usize) {
    let frame = history.latest().expect("frames");
    let base = Some(Tick(frame.state.tick.0 - 1));
    let sizes: Vec<usize> = frame
        .state
        .ships
        .iter()
        .map(|s| {
            let body = history.body_for(base, Some(s.state.id)).expect("body");
            EncodedBody::new(&body).expect("encodes").len()
        })
        .collect();
    let total: usize = sizes.iter().sum();
    (
        total as f64 / sizes.len() as f64,
        sizes.iter().copied().max().unwrap_or(0),
    )
}

#[expect(clippy::print_stdout, reason = "this example's output is its report")]
fn main() {
    println!(
        "| ships | full | delta vs tick-1 | delta vs tick-2 | delta vs tick-3 | bytes per ship (delta vs tick-1) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for n in [16, 64, 256, 512] {
        let mut room = PolicyRoom::new(n);
        let mut history = History::new(32);
        for _ in 0..300 {
            let out = room.step();
            history.push(Frame {
                state: out.state,
                events: out.events,
            });
        }
        let now = history.latest().expect("frames").state.tick;
        let ago = |k: u32| Some(Tick(now.0 - k));
        let d1 = size(&history, ago(1));
        println!(
            "| {n} | {} | {d1} | {} | {} | {:.1} |",
            size(&history, None),
            size(&history, ago(2)),
            size(&history, ago(3)),
            d1 as f64 / n as f64
        );
    }
    println!();
    println!(
        "| ships | whole room, delta vs tick-1 | area of interest, mean per player | largest | ratio |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for n in [64, 256, 512] {
        let history = filtered_history(n);
        let now = history.latest().expect("frames").state.tick;
        let whole = size(&history, Some(Tick(now.0 - 1)));
        let (mean, most) = per_player(&history);
        println!(
            "| {n} | {whole} | {mean:.0} | {most} | {:.2} |",
            mean / whole as f64
        );
    }
}
