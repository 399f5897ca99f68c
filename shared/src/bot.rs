//! The load-test bot policy of GAME.md, one place for everything that plays
//! it: `skirmish-bots` clients and the server's tick benchmark.
//!
//! Every client tick a bot holds one of nine movement choices (eight
//! directions or idle) for 0.5 to 2.0 s, turns its aim at a rate drawn from
//! [-3, 3] rad/s whenever the movement is redrawn, and sets the fire bit with
//! probability 0.1. Bot `i` seeds its generator with `i + 1`.

use crate::rng::XorShift;
use crate::rules::{buttons, quantise_aim};

/// The nine movement choices, idle first.
pub const MOVES: [u8; 9] = [
    0,
    buttons::UP,
    buttons::UP | buttons::RIGHT,
    buttons::RIGHT,
    buttons::DOWN | buttons::RIGHT,
    buttons::DOWN,
    buttons::DOWN | buttons::LEFT,
    buttons::LEFT,
    buttons::UP | buttons::LEFT,
];

/// Probability of pressing fire on a tick.
pub const FIRE_CHANCE: f64 = 0.1;

/// One bot's policy state.
#[derive(Clone, Debug)]
pub struct BotPolicy {
    rng: XorShift,
    tick_hz: f64,
    movement: u8,
    ticks_left: u32,
    turn_rate: f64,
    aim: f64,
    seq: u32,
}

/// What a bot does on one client tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BotInput {
    /// Input sequence number, counting up from 1.
    pub seq: u32,
    /// Button bits.
    pub buttons: u8,
    /// Quantised aim.
    pub aim: u8,
}

impl BotPolicy {
    /// The policy of bot number `index` (seeded with `index + 1`) ticking at
    /// `tick_hz`.
    #[must_use]
    pub fn new(index: u64, tick_hz: u16) -> BotPolicy {
        let mut rng = XorShift::new(index.wrapping_add(1));
        let aim = rng.range_f64(0.0, std::f64::consts::TAU);
        BotPolicy {
            rng,
            tick_hz: f64::from(tick_hz.max(1)),
            movement: 0,
            ticks_left: 0,
            turn_rate: 0.0,
            aim,
            seq: 0,
        }
    }

    /// The input for the next client tick.
    pub fn next_input(&mut self) -> BotInput {
        if self.ticks_left == 0 {
            self.movement = MOVES[self.rng.below(9) as usize];
            let hold_secs = self.rng.range_f64(0.5, 2.0);
            self.ticks_left = ((hold_secs * self.tick_hz).round() as u32).max(1);
            self.turn_rate = self.rng.range_f64(-3.0, 3.0);
        }
        self.ticks_left -= 1;
        self.aim = (self.aim + self.turn_rate / self.tick_hz).rem_euclid(std::f64::consts::TAU);
        let fire = if self.rng.chance(FIRE_CHANCE) {
            buttons::FIRE
        } else {
            0
        };
        self.seq = self.seq.wrapping_add(1);
        BotInput {
            seq: self.seq,
            buttons: self.movement | fire,
            aim: quantise_aim(self.aim as f32),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_bots_repeat_and_differ() {
        let run = |i| {
            let mut b = BotPolicy::new(i, 30);
            (0..300).map(|_| b.next_input()).collect::<Vec<_>>()
        };
        assert_eq!(run(0), run(0));
        assert_ne!(run(0), run(1));
        let inputs = run(4);
        assert_eq!(inputs[0].seq, 1);
        assert_eq!(inputs[299].seq, 300);
    }

    #[test]
    fn fires_about_one_tick_in_ten() {
        let mut b = BotPolicy::new(9, 30);
        let fired = (0..30_000)
            .filter(|_| b.next_input().buttons & buttons::FIRE != 0)
            .count();
        assert!((2_600..3_400).contains(&fired), "fired {fired} of 30000");
    }
}
