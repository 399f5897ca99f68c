//! The reference arena's rules (GAME.md) and the pure functions both sides of
//! the wire must agree on: quantisation and ship movement.
//!
//! Ship movement is integer arithmetic on quantised positions, so the web
//! client's prediction reproduces the server bit for bit (golden trajectories
//! in `shared/vectors/` check it). Nothing here may depend on floating-point
//! behaviour that differs between Rust and JavaScript, except projectile
//! extrapolation, which is only drawn by clients, never decided by them.

use serde::{Deserialize, Serialize};

/// Sub-units per arena unit: positions travel as `u16` in 1/8 units, so the
/// 2000-unit arena spans 0..=16000 and a ship's per-tick move fits in a
/// one-byte varint delta.
pub const POS_SCALE: i32 = 8;

/// Aim angles travel as one byte: 256 steps per turn (1.4 degrees).
pub const AIM_STEPS: u32 = 256;

/// Input button bits (GAME.md).
pub mod buttons {
    /// Move up (y decreases).
    pub const UP: u8 = 1;
    /// Move down (y increases).
    pub const DOWN: u8 = 2;
    /// Move left (x decreases).
    pub const LEFT: u8 = 4;
    /// Move right (x increases).
    pub const RIGHT: u8 = 8;
    /// Fire; latched by the server until the next tick.
    pub const FIRE: u8 = 16;
    /// Every bit a client may set; others are cleared on arrival.
    pub const ALL: u8 = UP | DOWN | LEFT | RIGHT | FIRE;
}

/// The rules a room plays by, in wire-friendly units. Sent in `Welcome` so a
/// client predicts with the server's exact numbers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    /// Simulation ticks per second.
    pub tick_hz: u16,
    /// Arena width in units; x is in `[0, arena_w]`.
    pub arena_w: u16,
    /// Arena height in units; y is in `[0, arena_h]`.
    pub arena_h: u16,
    /// Ship speed in units per second (no inertia).
    pub ship_speed: u16,
    /// Projectile speed in units per second.
    pub shot_speed: u16,
    /// Projectile lifetime in ticks.
    pub shot_life_ticks: u16,
    /// Ticks between two shots of one ship.
    pub fire_cooldown_ticks: u16,
    /// Projectile-point to ship-centre distance that counts as a hit, in units.
    pub hit_radius: u16,
    /// Hit points of a fresh ship.
    pub max_hp: u8,
    /// Ticks a killed ship waits before it respawns (0: at once).
    pub respawn_ticks: u16,
    /// Length of a round in ticks.
    pub round_ticks: u32,
}

impl Rules {
    /// The reference arena of GAME.md at the given tick rate, with rounds of
    /// `round_secs` seconds and a respawn delay of `respawn_ms`.
    #[must_use]
    pub fn reference(tick_hz: u16, round_secs: u32, respawn_ms: u32) -> Rules {
        let hz = u32::from(tick_hz.max(1));
        let ticks_for_ms = |ms: u32| ms.saturating_mul(hz).div_ceil(1000);
        Rules {
            tick_hz: tick_hz.max(1),
            arena_w: 2000,
            arena_h: 2000,
            ship_speed: 200,
            shot_speed: 600,
            shot_life_ticks: u16::try_from(ticks_for_ms(1000)).unwrap_or(u16::MAX),
            fire_cooldown_ticks: u16::try_from(ticks_for_ms(250)).unwrap_or(u16::MAX),
            hit_radius: 20,
            max_hp: 3,
            respawn_ticks: u16::try_from(ticks_for_ms(respawn_ms)).unwrap_or(u16::MAX),
            round_ticks: round_secs.saturating_mul(hz),
        }
    }

    /// Largest x in sub-units.
    #[must_use]
    pub fn max_x(&self) -> u16 {
        quantise_units(f32::from(self.arena_w))
    }

    /// Largest y in sub-units.
    #[must_use]
    pub fn max_y(&self) -> u16 {
        quantise_units(f32::from(self.arena_h))
    }

    /// Sub-units a ship moves per tick along one axis. Rounded once, here,
    /// so client and server step by the same integer.
    #[must_use]
    pub fn step_axis(&self) -> i32 {
        let per_tick = f64::from(self.ship_speed) * f64::from(POS_SCALE) / f64::from(self.tick_hz);
        // Positive and small: `as` cannot truncate meaningfully here.
        per_tick.round() as i32
    }

    /// Sub-units a ship moves per tick along each axis when going diagonally
    /// (the speed is normalised, GAME.md).
    #[must_use]
    pub fn step_diag(&self) -> i32 {
        let per_tick = f64::from(self.ship_speed) * f64::from(POS_SCALE)
            / f64::from(self.tick_hz)
            / std::f64::consts::SQRT_2;
        per_tick.round() as i32
    }

    /// One tick of ship movement: the position after holding `buttons` for a
    /// tick from `(x, y)`, clamped to the arena. Pure integer arithmetic.
    #[must_use]
    pub fn move_ship(&self, x: u16, y: u16, buttons: u8) -> (u16, u16) {
        let (dx, dy) = direction(buttons);
        if dx == 0 && dy == 0 {
            return (x, y);
        }
        let step = if dx != 0 && dy != 0 {
            self.step_diag()
        } else {
            self.step_axis()
        };
        let nx = (i32::from(x) + dx * step).clamp(0, i32::from(self.max_x()));
        let ny = (i32::from(y) + dy * step).clamp(0, i32::from(self.max_y()));
        // Clamped into 0..=max, which came from a u16.
        (nx as u16, ny as u16)
    }

    /// Where a projectile fired from `origin` (sub-units) along `aim` is after
    /// `age` ticks, in arena units. Computed from the origin every time (never
    /// accumulated) so a client extrapolating it draws what the server tests.
    #[must_use]
    pub fn shot_position(&self, origin: (u16, u16), aim: u8, age: u32) -> (f32, f32) {
        let (dir_x, dir_y) = aim_vector(aim);
        let dist = f32::from(self.shot_speed) / f32::from(self.tick_hz) * age as f32;
        (
            units(origin.0) + dir_x * dist,
            units(origin.1) + dir_y * dist,
        )
    }
}

impl Default for Rules {
    fn default() -> Self {
        Rules::reference(30, 180, 0)
    }
}

/// The unit direction of `buttons` as `(-1|0|1, -1|0|1)`; opposite buttons
/// cancel.
#[must_use]
pub fn direction(buttons: u8) -> (i32, i32) {
    let axis =
        |neg: u8, pos: u8| -> i32 { i32::from(buttons & pos != 0) - i32::from(buttons & neg != 0) };
    (
        axis(buttons::LEFT, buttons::RIGHT),
        axis(buttons::UP, buttons::DOWN),
    )
}

/// Arena units to wire sub-units, clamped to the `u16` range.
#[must_use]
pub fn quantise_units(v: f32) -> u16 {
    (v * POS_SCALE as f32)
        .round()
        .clamp(0.0, f32::from(u16::MAX)) as u16
}

/// Wire sub-units to arena units.
#[must_use]
pub fn units(v: u16) -> f32 {
    f32::from(v) / POS_SCALE as f32
}

/// Radians (any value) to a one-byte aim; 0 points along +x, angles grow
/// towards +y (screen down).
#[must_use]
pub fn quantise_aim(radians: f32) -> u8 {
    if !radians.is_finite() {
        return 0;
    }
    let turns = radians / std::f32::consts::TAU;
    let steps = (turns * AIM_STEPS as f32).round() as i64;
    steps.rem_euclid(i64::from(AIM_STEPS)) as u8
}

/// One-byte aim to radians in `[0, 2π)`.
#[must_use]
pub fn aim_radians(aim: u8) -> f32 {
    f32::from(aim) * std::f32::consts::TAU / AIM_STEPS as f32
}

/// Unit vector of a one-byte aim.
#[must_use]
pub fn aim_vector(aim: u8) -> (f32, f32) {
    let a = aim_radians(aim);
    (a.cos(), a.sin())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_numbers_match_game_md() {
        let r = Rules::default();
        assert_eq!(r.shot_life_ticks, 30);
        assert_eq!(
            r.fire_cooldown_ticks, 8,
            "250 ms at 30 Hz rounds up to 8 ticks"
        );
        assert_eq!(r.step_axis(), 53, "200 u/s * 8 / 30 Hz = 53.3");
        assert_eq!(r.step_diag(), 38, "53.3 / sqrt 2 = 37.7");
        assert_eq!(r.max_x(), 16000);
        assert_eq!(r.round_ticks, 180 * 30);
    }

    #[test]
    fn movement_is_clamped_and_opposites_cancel() {
        let r = Rules::default();
        assert_eq!(r.move_ship(0, 0, buttons::UP | buttons::LEFT), (0, 0));
        assert_eq!(
            r.move_ship(100, 100, buttons::UP | buttons::DOWN),
            (100, 100)
        );
        assert_eq!(r.move_ship(100, 100, buttons::RIGHT), (153, 100));
        assert_eq!(
            r.move_ship(100, 100, buttons::RIGHT | buttons::DOWN),
            (138, 138)
        );
        assert_eq!(
            r.move_ship(15990, 5, buttons::RIGHT | buttons::UP),
            (16000, 0)
        );
        assert_eq!(r.move_ship(100, 100, buttons::FIRE), (100, 100));
    }

    #[test]
    fn aim_round_trips_within_half_a_step() {
        for step in 0..=255u8 {
            assert_eq!(quantise_aim(aim_radians(step)), step);
        }
        assert_eq!(quantise_aim(-std::f32::consts::FRAC_PI_2), 192);
        assert_eq!(quantise_aim(f32::NAN), 0);
    }

    #[test]
    fn shots_fly_from_their_origin() {
        let r = Rules::default();
        let (x, y) = r.shot_position((800, 800), 0, 3);
        assert!((x - 160.0).abs() < 1e-3 && (y - 100.0).abs() < 1e-3);
    }
}
