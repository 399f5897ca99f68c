// @ts-check
/**
 * @file The browser's mirror of `shared/src/rules.rs`: quantisation and ship
 * movement, which client prediction must reproduce bit for bit.
 *
 * Ship movement is integer arithmetic on sub-unit positions; the two step
 * sizes are the only floating-point values, each rounded once from the same
 * f64 expression as in Rust, so `moveShip` equals `Rules::move_ship` exactly
 * (the golden trajectories in `shared/vectors/` check it). Aim quantisation
 * repeats Rust's f32 arithmetic with `Math.fround`. Projectile positions are
 * only drawn, never decided, so they may differ from the server's in the last
 * bit of an f32.
 */

import { Buttons } from './protocol.js';

/** @typedef {import('./protocol.js').Rules} Rules */

/** Sub-units per arena unit: positions travel as u16 in 1/8 units. */
export const POS_SCALE = 8;
/** Aim angles travel as one byte: 256 steps per turn. */
export const AIM_STEPS = 256;

/**
 * The size of the reference arena of GAME.md (`Rules::reference`), the one
 * every room runs. Pages that read only the feeds, which do not carry the
 * rules, draw with it; a test checks it against the golden Welcome's rules.
 */
export const REFERENCE_ARENA = Object.freeze({ arena_w: 2000, arena_h: 2000 });

const TAU_F32 = Math.fround(2 * Math.PI);
const I32_MAX = 2147483647;
const I32_MIN = -2147483648;
const TWO_POW_63 = 9223372036854775808;

/**
 * Rust's `f64 as i32`: truncates, saturates, NaN becomes 0. Only reachable
 * with a hostile `tick_hz` of 0, but then both sides agree on it too.
 * @param {number} v
 */
function asI32(v) {
  if (Number.isNaN(v)) return 0;
  return Math.trunc(Math.min(I32_MAX, Math.max(I32_MIN, v)));
}

/**
 * Rust's `f32::round`/`f64::round`: half away from zero. (`Math.round` rounds
 * half up, which agrees only for positive values.)
 * @param {number} v
 */
function roundHalfAway(v) {
  return v < 0 ? -Math.round(-v) : Math.round(v);
}

/**
 * Largest x in sub-units (`Rules::max_x`).
 * @param {Rules} rules
 */
export function maxX(rules) {
  return Math.min(rules.arena_w * POS_SCALE, 0xffff);
}

/**
 * Largest y in sub-units (`Rules::max_y`).
 * @param {Rules} rules
 */
export function maxY(rules) {
  return Math.min(rules.arena_h * POS_SCALE, 0xffff);
}

/**
 * Sub-units a ship moves per tick along one axis (`Rules::step_axis`).
 * @param {Rules} rules
 */
export function stepAxis(rules) {
  const perTick = (rules.ship_speed * POS_SCALE) / rules.tick_hz;
  return asI32(roundHalfAway(perTick));
}

/**
 * Sub-units a ship moves per tick along each axis on a diagonal
 * (`Rules::step_diag`). `Math.SQRT2` is the same double as Rust's `SQRT_2`,
 * and the divisions run in the same order.
 * @param {Rules} rules
 */
export function stepDiag(rules) {
  const perTick = (rules.ship_speed * POS_SCALE) / rules.tick_hz / Math.SQRT2;
  return asI32(roundHalfAway(perTick));
}

/**
 * The unit direction of `buttons` as `[-1|0|1, -1|0|1]`; opposite buttons
 * cancel (`rules::direction`).
 * @param {number} buttons
 * @returns {[number, number]}
 */
export function direction(buttons) {
  /** @param {number} neg @param {number} pos */
  const axis = (neg, pos) => (buttons & pos ? 1 : 0) - (buttons & neg ? 1 : 0);
  return [axis(Buttons.LEFT, Buttons.RIGHT), axis(Buttons.UP, Buttons.DOWN)];
}

/**
 * One tick of ship movement from `(x, y)` in sub-units, clamped to the arena
 * (`Rules::move_ship`).
 * @param {Rules} rules
 * @param {number} x
 * @param {number} y
 * @param {number} buttons
 * @returns {[number, number]}
 */
export function moveShip(rules, x, y, buttons) {
  const [dx, dy] = direction(buttons);
  if (dx === 0 && dy === 0) return [x, y];
  const step = dx !== 0 && dy !== 0 ? stepDiag(rules) : stepAxis(rules);
  // Rust computes in i32; these stay far inside the double's exact range.
  const nx = Math.min(Math.max(x + dx * step, 0), maxX(rules));
  const ny = Math.min(Math.max(y + dy * step, 0), maxY(rules));
  return [nx, ny];
}

/**
 * Wire sub-units to arena units (`rules::units`).
 * @param {number} v
 */
export function units(v) {
  return v / POS_SCALE;
}

/**
 * Arena units to wire sub-units, clamped to the u16 range
 * (`rules::quantise_units`).
 * @param {number} v
 */
export function quantiseUnits(v) {
  const scaled = roundHalfAway(Math.fround(Math.fround(v) * POS_SCALE));
  if (Number.isNaN(scaled)) return 0;
  return Math.min(Math.max(scaled, 0), 0xffff);
}

/**
 * Radians (any value) to a one-byte aim; 0 points along +x, angles grow
 * towards +y (screen down) (`rules::quantise_aim`, in its f32 arithmetic).
 * @param {number} radians
 */
export function quantiseAim(radians) {
  const r = Math.fround(radians);
  if (!Number.isFinite(r)) return 0;
  const turns = Math.fround(r / TAU_F32);
  const steps = roundHalfAway(Math.fround(turns * AIM_STEPS));
  // `as i64` saturates; i64::MAX is 255 mod 256 and i64::MIN is 0.
  if (steps >= TWO_POW_63) return 255;
  if (steps <= -TWO_POW_63) return 0;
  return ((steps % AIM_STEPS) + AIM_STEPS) % AIM_STEPS;
}

/**
 * One-byte aim to radians in [0, 2π) (`rules::aim_radians`).
 * @param {number} aim
 */
export function aimRadians(aim) {
  return Math.fround(Math.fround(aim * TAU_F32) / AIM_STEPS);
}

/**
 * Unit vector of a one-byte aim (`rules::aim_vector`).
 * @param {number} aim
 * @returns {[number, number]}
 */
export function aimVector(aim) {
  const a = aimRadians(aim);
  return [Math.fround(Math.cos(a)), Math.fround(Math.sin(a))];
}

/**
 * Where a projectile fired from `origin` (sub-units) along `aim` is after
 * `age` ticks, in arena units (`Rules::shot_position`). `age` may be
 * fractional, to extrapolate between snapshots.
 * @param {Rules} rules
 * @param {[number, number]} origin
 * @param {number} aim
 * @param {number} age
 * @returns {[number, number]}
 */
export function shotPosition(rules, origin, aim, age) {
  const [dirX, dirY] = aimVector(aim);
  const dist = Math.fround(Math.fround(rules.shot_speed / rules.tick_hz) * Math.fround(age));
  return [
    Math.fround(units(origin[0]) + Math.fround(dirX * dist)),
    Math.fround(units(origin[1]) + Math.fround(dirY * dist)),
  ];
}
