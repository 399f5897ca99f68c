//! Prints the encoded sizes of full and delta snapshot bodies for rooms of
//! 16 to 512 ships playing the GAME.md bot policy, as a Markdown table for
//! `docs/protocol.md`. Sizes are deterministic (seeded), so the table only
//! changes when the protocol or the game does.

#[path = "../benches/policy_room.rs"]
mod policy_room;

use policy_room::PolicyRoom;
use skirmish_server::room::snapshot::{Frame, History};
use skirmish_shared::Tick;
use skirmish_shared::codec::EncodedBody;

fn size(history: &History, baseline: Option<Tick>) -> usize {
    let body = history.body(baseline).expect("history has frames");
    EncodedBody::new(&body).expect("encodes").len()
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
}
