// @ts-check
/**
 * @file The client's netcode, pure (no DOM, no clock of its own): prediction
 * and reconciliation of the player's own ship, and interpolation of every
 * other ship a little in the past.
 *
 * Prediction: every Input sent is applied at once with `rules.moveShip`, the
 * function the server moves ships with, bit for bit, and kept by sequence.
 * When a snapshot says the server applied inputs up to `last_input = N`, the
 * prediction restarts from the authoritative position and replays the kept
 * inputs after N; those up to N are dropped. The server moves a ship one
 * step per tick with the newest input's buttons and the client sends one
 * input per tick, so one replayed step per input is right; when the network
 * bunches inputs the server's step count differs for a tick and the next
 * reconciliation corrects it.
 *
 * Interpolation: snapshots are kept briefly by tick with their arrival time.
 * A {@link TickClock} turns arrival times into a smoothed estimate of when
 * each tick arrives, so the render tick `(now - delay)` falls between two
 * kept states however snapshots jitter or drop; ships are drawn between
 * those two. Angles go the short way round; a ship that jumped further than
 * it could move (a respawn) snaps instead of sliding across the arena.
 *
 * Lag compensation: every Input says which tick the other ships were drawn
 * at (`shownTick`, as a `viewTime`), so the server can judge its shots
 * against the ships as this screen showed them (docs/netcode.md).
 */

import { moveShip, stepAxis, units } from './rules.js';

/** @typedef {import('./protocol.js').Rules} Rules */

/** Default interpolation delay in milliseconds: three ticks at 30 Hz. */
export const INTERP_DELAY_MS = 100;
/** Inputs kept unacknowledged at most (four seconds at 30 Hz): beyond, the oldest go. */
export const MAX_PENDING_INPUTS = 120;
/** Snapshot states kept for interpolation. */
export const MAX_INTERP_STATES = 32;

/**
 * @typedef {object} PendingInput
 * @property {number} seq
 * @property {number} buttons
 */

/** The own ship, predicted ahead of the server by the inputs in flight. */
export class Prediction {
  /** @param {Rules} rules */
  constructor(rules) {
    this.rules = rules;
    /** @type {PendingInput[]} sent, not yet applied by the server; ascending seq */
    this.pending = [];
    /** Predicted position in sub-units; null before the first snapshot with the ship. */
    this.x = /** @type {number | null} */ (null);
    this.y = /** @type {number | null} */ (null);
    /** The ship is alive (dead ships do not move, on the server either). */
    this.alive = false;
    /** Tick of the newest snapshot reconciled with. */
    this.tick = 0;
    /** Newest acknowledged sequence seen. */
    this.acked = 0;
    /** Corrections: reconciliations that moved the prediction. */
    this.corrections = 0;
  }

  /**
   * An input was just sent: keep it and apply it at once.
   * @param {number} seq
   * @param {number} buttons
   */
  input(seq, buttons) {
    if (seq <= this.acked) return;
    this.pending.push({ seq, buttons });
    if (this.pending.length > MAX_PENDING_INPUTS) this.pending.shift();
    this.step(buttons);
  }

  /** @param {number} buttons */
  step(buttons) {
    if (this.x === null || this.y === null || !this.alive) return;
    [this.x, this.y] = moveShip(this.rules, this.x, this.y, buttons);
  }

  /**
   * The snapshot of `tick` put the own ship at `(x, y)` (sub-units) having
   * applied the inputs up to `lastInput`: restart from there and replay the
   * rest. A snapshot no newer than the last one reconciled changes nothing.
   * @param {number} tick
   * @param {number} lastInput
   * @param {number} x
   * @param {number} y
   * @param {boolean} alive
   */
  reconcile(tick, lastInput, x, y, alive) {
    if (tick <= this.tick || lastInput < this.acked) return; // an older snapshot: nothing new
    this.tick = tick;
    this.acked = lastInput;
    let drop = 0;
    while (drop < this.pending.length && this.pending[drop].seq <= lastInput) drop++;
    if (drop > 0) this.pending.splice(0, drop);
    const before = this.x === null ? null : [this.x, this.y];
    this.x = x;
    this.y = y;
    this.alive = alive;
    for (const p of this.pending) this.step(p.buttons);
    if (before && (before[0] !== this.x || before[1] !== this.y)) this.corrections++;
  }

  /** The ship left the world (removed, or a new session): forget the position. */
  reset() {
    this.x = null;
    this.y = null;
    this.alive = false;
  }

  /** Predicted position in arena units, or null. */
  position() {
    return this.x === null || this.y === null ? null : { x: units(this.x), y: units(this.y) };
  }
}

// ---------------------------------------------------------------------------
// Interpolation

/**
 * A ship as interpolation needs it.
 * @typedef {object} InterpShip
 * @property {number} x sub-units
 * @property {number} y sub-units
 * @property {number} aim quantised
 * @property {number} hp
 */

/**
 * One kept snapshot state.
 * @typedef {object} InterpState
 * @property {number} tick
 * @property {number} at arrival time, ms
 * @property {ReadonlyMap<number, InterpShip>} ships
 */

/**
 * A ship drawn at the render time.
 * @typedef {object} DrawnShip
 * @property {number} id
 * @property {number} x arena units
 * @property {number} y arena units
 * @property {number} aim quantised, fractional
 * @property {number} hp
 */

/**
 * Linear interpolation.
 * @param {number} a
 * @param {number} b
 * @param {number} t
 */
export function lerp(a, b, t) {
  return a + (b - a) * t;
}

/**
 * Interpolates two quantised aims (256 steps per turn) the short way round;
 * the result is fractional, in [0, 256).
 * @param {number} a
 * @param {number} b
 * @param {number} t
 */
export function lerpAim(a, b, t) {
  let d = (((b - a) % 256) + 256) % 256; // [0, 256)
  if (d > 128) d -= 256; // (-128, 128]
  const v = a + d * t;
  return ((v % 256) + 256) % 256;
}

/**
 * Turns arrival times into a smoothed tick timeline: `timeOf(tick)` is when
 * that tick's snapshot is expected to arrive, `tickAt(ms)` the (fractional)
 * tick arriving at `ms`. Early arrivals pull the estimate at once (they show
 * the true minimum delay); late ones only slowly, so jitter does not shake
 * the timeline. A jump beyond `resetMs` (a stall, a resync) restarts it.
 */
export class TickClock {
  /**
   * @param {number} tickMs milliseconds per tick
   * @param {{ resetMs?: number, drift?: number }} [options]
   */
  constructor(tickMs, { resetMs = 500, drift = 0.05 } = {}) {
    this.tickMs = tickMs;
    this.resetMs = resetMs;
    this.drift = drift;
    /** Arrival time of tick 0 on this timeline, or null before any sample. */
    this.offset = /** @type {number | null} */ (null);
  }

  /**
   * @param {number} tick
   * @param {number} at arrival, ms
   */
  observe(tick, at) {
    const sample = at - tick * this.tickMs;
    if (this.offset === null || Math.abs(sample - this.offset) > this.resetMs) this.offset = sample;
    else if (sample < this.offset) this.offset = sample;
    else this.offset += (sample - this.offset) * this.drift;
  }

  /** @param {number} ms */
  tickAt(ms) {
    return this.offset === null ? null : (ms - this.offset) / this.tickMs;
  }
}

/** Other ships, drawn `delayMs` in the past between the two states around then. */
export class Interpolator {
  /**
   * @param {Rules} rules
   * @param {{ delayMs?: number, maxStates?: number }} [options]
   */
  constructor(rules, { delayMs = INTERP_DELAY_MS, maxStates = MAX_INTERP_STATES } = {}) {
    this.rules = rules;
    this.delayMs = delayMs;
    this.maxStates = maxStates;
    this.clock = new TickClock(1000 / Math.max(1, rules.tick_hz));
    /** @type {InterpState[]} ascending tick */
    this.states = [];
    // A ship moves at most one diagonal-or-axis step per tick; twice the axis
    // step per tick is beyond any real move, so more is a teleport (respawn).
    this.jumpPerTick = 2 * Math.max(1, stepAxis(rules));
  }

  /**
   * Keeps one snapshot state.
   * @param {number} tick
   * @param {number} at arrival, ms
   * @param {Iterable<{ id: number } & InterpShip>} ships
   */
  push(tick, at, ships) {
    const last = this.states[this.states.length - 1];
    if (last && tick <= last.tick) return; // out of order or a repeat
    /** @type {Map<number, InterpShip>} */
    const map = new Map();
    for (const s of ships) map.set(s.id, { x: s.x, y: s.y, aim: s.aim, hp: s.hp });
    this.states.push({ tick, at, ships: map });
    if (this.states.length > this.maxStates) this.states.shift();
    this.clock.observe(tick, at);
  }

  /** The render tick at `now`: `delayMs` before the newest arrivals, fractional. */
  renderTick(/** @type {number} */ now) {
    return this.clock.tickAt(now - this.delayMs);
  }

  /**
   * The tick `sample(now)` draws: the render tick held within the kept
   * states (before the oldest or after the newest, the end is what shows).
   * This is the moment an Input's `view` reports; null before any state.
   * @param {number} now ms
   * @returns {number | null}
   */
  shownTick(now) {
    const tick = this.renderTick(now);
    const s = this.states;
    if (tick === null || s.length === 0) return null;
    return Math.min(Math.max(tick, s[0].tick), s[s.length - 1].tick);
  }

  /**
   * The two states around `tick` and how far between them (0..1). Before
   * the oldest or after the newest state it holds the end (no extrapolation).
   * @param {number} tick
   * @returns {{ a: InterpState, b: InterpState, t: number } | null}
   */
  bracket(tick) {
    const s = this.states;
    if (s.length === 0) return null;
    if (tick <= s[0].tick) return { a: s[0], b: s[0], t: 0 };
    const newest = s[s.length - 1];
    if (tick >= newest.tick) return { a: newest, b: newest, t: 0 };
    let i = s.length - 1;
    while (s[i - 1].tick > tick) i--;
    const a = s[i - 1];
    const b = s[i];
    return { a, b, t: (tick - a.tick) / (b.tick - a.tick) };
  }

  /**
   * Every ship at render time `now`, except `skip` (the own ship).
   * @param {number} now ms
   * @param {number | null} [skip]
   * @returns {DrawnShip[]}
   */
  sample(now, skip = null) {
    const tick = this.renderTick(now);
    const br = tick === null ? null : this.bracket(tick);
    if (!br) return [];
    const { a, b, t } = br;
    const span = Math.max(1, b.tick - a.tick);
    /** @type {DrawnShip[]} */
    const out = [];
    for (const [id, sb] of b.ships) {
      if (id === skip) continue;
      const sa = a.ships.get(id);
      out.push(sa ? interpolateShip(id, sa, sb, t, this.jumpPerTick * span) : drawn(id, sb, sb.aim));
    }
    return out;
  }
}

/**
 * A fractional tick as the wire's `ViewTime`: the whole tick at or before
 * it and 256ths past it, rounded down so the server never sees a moment
 * later than the one drawn.
 * @param {number | null} tick
 * @returns {import('./protocol.js').ViewTime | null}
 */
export function viewTime(tick) {
  if (tick === null || !Number.isFinite(tick) || tick < 0) return null;
  const whole = Math.floor(tick);
  return { tick: whole, frac: Math.min(255, Math.floor((tick - whole) * 256)) };
}

/**
 * @param {number} id
 * @param {InterpShip} s
 * @param {number} aim
 * @returns {DrawnShip}
 */
function drawn(id, s, aim) {
  return { id, x: units(s.x), y: units(s.y), aim, hp: s.hp };
}

/**
 * One ship between two states. A respawn (back from hp 0) or a jump longer
 * than `maxJump` sub-units snaps to the nearer state in time.
 * @param {number} id
 * @param {InterpShip} a
 * @param {InterpShip} b
 * @param {number} t 0..1
 * @param {number} maxJump
 * @returns {DrawnShip}
 */
export function interpolateShip(id, a, b, t, maxJump) {
  const jumped =
    (a.hp === 0 && b.hp > 0) || Math.abs(b.x - a.x) > maxJump || Math.abs(b.y - a.y) > maxJump;
  if (jumped) return t < 0.5 ? drawn(id, a, a.aim) : drawn(id, b, b.aim);
  return {
    id,
    x: units(lerp(a.x, b.x, t)),
    y: units(lerp(a.y, b.y, t)),
    aim: lerpAim(a.aim, b.aim, t),
    hp: t < 1 ? a.hp : b.hp,
  };
}
