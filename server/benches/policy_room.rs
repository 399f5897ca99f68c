//! A room of N ships all playing the GAME.md bot policy, shared by the tick
//! benchmark and the snapshot-size example so both measure the same game.

use skirmish_server::game::{Sim, SimConfig, TickOutput};
use skirmish_shared::bot::BotPolicy;
use skirmish_shared::rules::Rules;
use skirmish_shared::{Input, ShipId};

/// N policy-driven human ships, no server-side bots.
pub struct PolicyRoom {
    pub sim: Sim,
    pub players: Players,
}

/// Each ship and the policy that drives it.
pub struct Players {
    ships: Vec<(ShipId, BotPolicy)>,
    inputs: Vec<(ShipId, Input)>,
}

impl Players {
    /// Every ship's next input (one per tick each; none acks a snapshot).
    pub fn draw(&mut self) -> &[(ShipId, Input)] {
        self.inputs.clear();
        for (id, policy) in &mut self.ships {
            let input = policy.next_input();
            self.inputs.push((
                *id,
                Input {
                    seq: input.seq,
                    ack: None,
                    buttons: input.buttons,
                    aim: input.aim,
                    view: None,
                },
            ));
        }
        &self.inputs
    }
}

impl PolicyRoom {
    pub fn new(n: usize) -> PolicyRoom {
        let rules = Rules::default();
        let mut sim = Sim::new(SimConfig {
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
            },
        }
    }

    /// One tick with freshly drawn inputs.
    pub fn step(&mut self) -> TickOutput {
        let inputs = self.players.draw();
        self.sim.step(inputs)
    }
}
