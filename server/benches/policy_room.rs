//! A room of N ships all playing the GAME.md bot policy, shared by the tick
//! benchmark and the snapshot-size example so both measure the same game.
//! With lag compensation on, every input claims the view of a client 150 ms
//! of round trip away drawing 100 ms in the past (7.5 ticks at 30 Hz,
//! beyond the default 200 ms cap): every shot is rewound, the worst case.

use skirmish_server::game::past::LagCompensation;
use skirmish_server::game::{Sim, SimConfig, TickOutput};
use skirmish_shared::bot::BotPolicy;
use skirmish_shared::rules::Rules;
use skirmish_shared::{Input, ShipId, Tick, ViewTime};

/// How far behind the tick its input is applied on each ship claims its
/// screen was, in 256ths of a tick (250 ms at 30 Hz).
const VIEW_BEHIND: u32 = 1920;

/// N policy-driven human ships, no server-side bots.
pub struct PolicyRoom {
    pub sim: Sim,
    pub players: Players,
}

/// Each ship and the policy that drives it.
pub struct Players {
    ships: Vec<(ShipId, BotPolicy)>,
    inputs: Vec<(ShipId, Input)>,
    /// Inputs carry a view time (lag compensation is on).
    claim_views: bool,
    /// The tick the next drawn inputs will be applied on: every draw is
    /// followed by exactly one step.
    next_tick: u32,
}

impl Players {
    /// Every ship's next input (one per tick each; none acks a snapshot).
    pub fn draw(&mut self) -> &[(ShipId, Input)] {
        self.inputs.clear();
        let now = self.next_tick;
        self.next_tick += 1;
        let view = (self.claim_views && now * 256 > VIEW_BEHIND).then(|| {
            let fixed = now * 256 - VIEW_BEHIND;
            ViewTime {
                tick: Tick(fixed / 256),
                frac: (fixed % 256) as u8,
            }
        });
        for (id, policy) in &mut self.ships {
            let input = policy.next_input();
            self.inputs.push((
                *id,
                Input {
                    seq: input.seq,
                    ack: None,
                    buttons: input.buttons,
                    aim: input.aim,
                    view,
                },
            ));
        }
        &self.inputs
    }
}

impl PolicyRoom {
    pub fn new(n: usize) -> PolicyRoom {
        PolicyRoom::with_lag_comp(n, 0)
    }

    /// A room whose shots are judged up to `max_ms` in the past (0: off),
    /// every input claiming a view 250 ms back when on.
    pub fn with_lag_comp(n: usize, max_ms: u32) -> PolicyRoom {
        let rules = Rules::default();
        let mut sim = Sim::new(SimConfig {
            lag_comp: LagCompensation::from_ms(&rules, max_ms),
            rules: rules.clone(),
            seed: 7,
            bots: 0,
            max_inputs_per_tick: 4,
        });
        let ships = (0..n)
            .map(|i| {
                let id = sim.spawn_player(&format!("Bot {i}"));
                (id, BotPolicy::new(i as u64, rules.tick_hz))
            })
            .collect();
        PolicyRoom {
            sim,
            players: Players {
                ships,
                inputs: Vec::with_capacity(n),
                claim_views: max_ms > 0,
                next_tick: 1,
            },
        }
    }

    /// One tick with freshly drawn inputs.
    pub fn step(&mut self) -> TickOutput {
        let inputs = self.players.draw();
        self.sim.step(inputs)
    }
}
