// @ts-check
/**
 * @file The netcode against a simulated authoritative server built from the
 * same `moveShip`: prediction and reconciliation under latency, jitter and
 * dropped snapshots; interpolation math and the aim wrap.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { Buttons } from '../src/protocol.js';
import {
  Interpolator,
  Prediction,
  TickClock,
  interpolateShip,
  lerpAim,
  viewTime,
} from '../src/prediction.js';
import { moveShip, units } from '../src/rules.js';
import { readJson } from '../testing/vectors.js';

/** @type {import('../src/protocol.js').Rules} */
const RULES = readJson('server_welcome.json').Welcome.rules;

/** Deterministic xorshift32, so failures replay. */
/** @param {number} seed */
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

const MOVES = [
  0,
  Buttons.UP,
  Buttons.DOWN,
  Buttons.LEFT,
  Buttons.RIGHT,
  Buttons.UP | Buttons.LEFT,
  Buttons.UP | Buttons.RIGHT,
  Buttons.DOWN | Buttons.LEFT,
  Buttons.DOWN | Buttons.RIGHT,
  Buttons.LEFT | Buttons.RIGHT | Buttons.FIRE,
];

/**
 * Runs a client and an authoritative server one tick at a time. The server
 * does what `ingest.rs` + `movement.rs` do: inputs that arrived this tick,
 * newest by seq wins the held movement, one `moveShip` step per tick with
 * the held movement, then a snapshot with `last_input`.
 * @param {object} o
 * @param {number} o.ticks
 * @param {() => number} o.up ticks an input takes to arrive
 * @param {() => number} o.down ticks a snapshot takes to arrive
 * @param {() => boolean} o.drop a snapshot is lost
 * @param {(tick: number) => number | null} o.buttons the client's input at a tick, null: send none
 * @param {[number, number]} [o.start]
 * @param {(check: { prediction: Prediction, snap: { tick: number, lastInput: number, x: number, y: number } }) => void} [o.onReconcile]
 * @param {(check: { prediction: Prediction, seq: number }) => void} [o.onInput]
 */
function simulate({ ticks, up, down, drop, buttons, start = [8000, 8000], onReconcile, onInput }) {
  const prediction = new Prediction(RULES);
  const server = { x: start[0], y: start[1], held: 0, lastInput: 0 };
  /** @type {{ at: number, seq: number, buttons: number }[]} */
  const toServer = [];
  /** @type {{ at: number, tick: number, lastInput: number, x: number, y: number }[]} */
  const toClient = [];
  /** Server position right after the tick that applied each seq. */
  const afterSeq = new Map();
  let seq = 0;
  // The first (full) snapshot arrives before any input: the client knows its ship.
  prediction.reconcile(0.5, 0, server.x, server.y, true);

  for (let tick = 1; tick <= ticks; tick++) {
    // Server tick.
    const arrived = toServer.filter((m) => m.at <= tick).sort((a, b) => a.seq - b.seq);
    for (const m of arrived) toServer.splice(toServer.indexOf(m), 1);
    const fresh = arrived.filter((m) => m.seq > server.lastInput);
    if (fresh.length > 0) {
      const newest = fresh[fresh.length - 1];
      server.held = newest.buttons;
      server.lastInput = newest.seq;
    }
    [server.x, server.y] = moveShip(RULES, server.x, server.y, server.held);
    if (fresh.length > 0) afterSeq.set(server.lastInput, [server.x, server.y]);
    if (!drop()) toClient.push({ at: tick + down(), tick, lastInput: server.lastInput, x: server.x, y: server.y });

    // Client frame: snapshots in arrival order, then this tick's input.
    const due = toClient.filter((m) => m.at <= tick).sort((a, b) => a.at - b.at || a.tick - b.tick);
    for (const snap of due) {
      toClient.splice(toClient.indexOf(snap), 1);
      prediction.reconcile(snap.tick, snap.lastInput, snap.x, snap.y, true);
      onReconcile?.({ prediction, snap });
    }
    const b = buttons(tick);
    if (b !== null) {
      seq += 1;
      prediction.input(seq, b);
      toServer.push({ at: tick + up(), seq, buttons: b });
      onInput?.({ prediction, seq });
    }
  }
  return { prediction, server, afterSeq };
}

/** A player who holds a random movement for a random 3 to 20 ticks. */
/** @param {number} seed */
function player(seed) {
  const r = rng(seed);
  let held = 0;
  let until = 0;
  return (/** @type {number} */ tick) => {
    if (tick >= until) {
      held = MOVES[Math.floor(r() * MOVES.length)];
      until = tick + 3 + Math.floor(r() * 18);
    }
    return held;
  };
}

describe('prediction and reconciliation', () => {
  test('steady latency: the prediction is exactly where the server will put the ship', () => {
    let checked = 0;
    /** @type {[number, number | null, number | null][]} prediction right after sending each seq */
    const pendingChecks = [];
    const { afterSeq, prediction } = simulate({
      ticks: 600,
      up: () => 3,
      down: () => 2,
      drop: () => false,
      buttons: player(7),
      start: [400, 15800], // near two walls: clamping is predicted too
      onInput: ({ prediction: p, seq }) => pendingChecks.push([seq, p.x, p.y]),
    });
    for (const [seq, x, y] of pendingChecks) {
      const server = afterSeq.get(seq);
      if (!server) continue; // sent after the last server tick
      assert.deepEqual([x, y], server, `seq ${seq}`);
      checked++;
    }
    assert.ok(checked > 590, `checked ${checked}`);
    assert.equal(prediction.corrections, 0, 'no correction was needed');
  });

  for (const { name, seed, dropRate, jitter } of [
    { name: 'jitter and 25% dropped snapshots', seed: 11, dropRate: 0.25, jitter: 3 },
    { name: 'heavy jitter and 50% dropped snapshots', seed: 12, dropRate: 0.5, jitter: 6 },
  ]) {
    test(`${name}: predicted equals authoritative whenever nothing is pending`, () => {
      const r = rng(seed);
      let settled = 0;
      const talk = player(seed);
      const { prediction, server } = simulate({
        ticks: 1500,
        up: () => 1 + Math.floor(r() * jitter),
        down: () => 1 + Math.floor(r() * jitter),
        drop: () => r() < dropRate,
        // Pauses in sending, so the pending list empties now and then.
        buttons: (tick) => (tick % 200 > 170 ? null : talk(tick)),
        onReconcile: ({ prediction: p, snap }) => {
          for (const input of p.pending) assert.ok(input.seq > snap.lastInput, 'acked inputs dropped');
          if (p.tick !== snap.tick) return; // arrived after a newer one: ignored
          if (p.pending.length === 0) {
            assert.deepEqual([p.x, p.y], [snap.x, snap.y], `tick ${snap.tick}`);
            settled++;
          }
        },
      });
      assert.ok(settled > 20, `settled ${settled} times`);
      assert.ok(prediction.pending.length < 12);
      assert.ok(server.x >= 0 && server.y >= 0);
    });
  }

  test('pending inputs are replayed from the authoritative position', () => {
    const p = new Prediction(RULES);
    p.reconcile(1, 0, 1000, 1000, true);
    p.input(1, Buttons.RIGHT);
    p.input(2, Buttons.RIGHT);
    p.input(3, Buttons.DOWN);
    assert.equal(p.pending.length, 3);
    // The server applied 1 but from elsewhere (say a collision with a wall we did not know).
    p.reconcile(2, 1, 500, 500, true);
    assert.deepEqual(
      p.pending.map((i) => i.seq),
      [2, 3],
    );
    let [x, y] = moveShip(RULES, 500, 500, Buttons.RIGHT);
    [x, y] = moveShip(RULES, x, y, Buttons.DOWN);
    assert.deepEqual([p.x, p.y], [x, y]);
    assert.deepEqual(p.position(), { x: units(x), y: units(y) });
    assert.equal(p.corrections, 1);
    // An older snapshot changes nothing.
    p.reconcile(1, 0, 0, 0, true);
    assert.deepEqual([p.x, p.y], [x, y]);
    p.reconcile(2, 1, 0, 0, true);
    assert.deepEqual([p.x, p.y], [x, y]);
    p.reconcile(3, 3, 42, 43, true);
    assert.equal(p.pending.length, 0);
    assert.deepEqual([p.x, p.y], [42, 43]);
  });

  test('a dead ship does not move until the server respawns it', () => {
    const p = new Prediction(RULES);
    p.reconcile(1, 0, 1000, 1000, false);
    p.input(1, Buttons.LEFT);
    assert.deepEqual([p.x, p.y], [1000, 1000]);
    p.reconcile(2, 1, 3000, 3000, true);
    p.input(2, Buttons.LEFT);
    assert.deepEqual([p.x, p.y], moveShip(RULES, 3000, 3000, Buttons.LEFT));
  });

  test('before the first snapshot there is nothing to predict; inputs still wait', () => {
    const p = new Prediction(RULES);
    p.input(1, Buttons.UP);
    assert.equal(p.position(), null);
    assert.equal(p.pending.length, 1);
    p.reconcile(1, 0, 800, 800, true);
    assert.deepEqual([p.x, p.y], moveShip(RULES, 800, 800, Buttons.UP));
  });
});

describe('interpolation', () => {
  test('aims interpolate the short way round', () => {
    assert.equal(lerpAim(250, 6, 0.5), 0);
    assert.equal(lerpAim(6, 250, 0.5), 0);
    assert.equal(lerpAim(250, 6, 0.25), 253);
    assert.equal(lerpAim(10, 20, 0.5), 15);
    assert.equal(lerpAim(0, 128, 0.5), 64);
    assert.equal(lerpAim(200, 200, 0.7), 200);
    assert.equal(lerpAim(255, 1, 1), 1);
  });

  test('a ship moves linearly between states; a respawn or a jump snaps', () => {
    const a = { x: 800, y: 800, aim: 0, hp: 3 };
    const b = { x: 880, y: 760, aim: 8, hp: 2 };
    assert.deepEqual(interpolateShip(1, a, b, 0.25, 1000), { id: 1, x: 102.5, y: 98.75, aim: 2, hp: 3 });
    assert.deepEqual(interpolateShip(1, a, b, 1, 1000), { id: 1, x: 110, y: 95, aim: 8, hp: 2 });
    const far = { x: 12000, y: 400, aim: 100, hp: 3 };
    assert.deepEqual(interpolateShip(1, a, far, 0.4, 1000), { id: 1, x: 100, y: 100, aim: 0, hp: 3 });
    assert.deepEqual(interpolateShip(1, a, far, 0.6, 1000), { id: 1, x: 1500, y: 50, aim: 100, hp: 3 });
    const dead = { ...a, hp: 0 };
    const back = { x: 830, y: 800, aim: 0, hp: 3 };
    assert.equal(interpolateShip(1, dead, back, 0.7, 1000).x, units(830));
  });

  test('the tick clock follows the earliest arrivals and ignores late jitter', () => {
    const clock = new TickClock(100 / 3);
    clock.observe(10, 1000);
    assert.equal(clock.tickAt(1000), 10);
    clock.observe(11, 1000 + 100 / 3 + 20); // late by 20 ms: barely moves
    assert.ok(Math.abs(/** @type {number} */ (clock.tickAt(1000)) - 10) < 0.05);
    clock.observe(12, 1000 + 200 / 3 - 5); // early: taken at once
    assert.ok(Math.abs(/** @type {number} */ (clock.tickAt(1000 + 200 / 3 - 5)) - 12) < 1e-9);
    clock.observe(500, 90000); // a stall: restart
    assert.ok(Math.abs(/** @type {number} */ (clock.tickAt(90000)) - 500) < 1e-9);
  });

  test('ships are drawn the delay in the past, between the bracketing states, across a dropped snapshot', () => {
    const rules = { ...RULES, tick_hz: 30 };
    const interp = new Interpolator(rules, { delayMs: 100 });
    const tickMs = 1000 / 30;
    const ship = (/** @type {number} */ x) => [
      { id: 1, x, y: 800, aim: 0, hp: 3 },
      { id: 2, x: 4000, y: 4000, aim: 250, hp: 3 },
    ];
    // Ticks 1..10 arrive on time; tick 6 is lost. Ship 1 moves 53 sub-units per tick.
    for (let t = 1; t <= 10; t++) if (t !== 6) interp.push(t, t * tickMs, ship(800 + 53 * t));
    // At the arrival of tick 10, 100 ms back is tick 7.
    const now = 10 * tickMs;
    assert.ok(Math.abs(/** @type {number} */ (interp.renderTick(now)) - 7) < 1e-9);
    const at = (/** @type {number} */ ms) => interp.sample(ms).find((s) => s.id === 1)?.x;
    assert.equal(at(now), units(800 + 53 * 7));
    // Half a tick earlier: between 6 (lost) and 7, i.e. between 5 and 7.
    assert.equal(at(now - tickMs / 2), units(800 + 53 * 6.5));
    // Beyond the newest state it holds; before the oldest it holds.
    assert.equal(at(now + 1000), units(800 + 53 * 10));
    assert.equal(at(0), units(800 + 53));
    // The own ship is skipped.
    assert.deepEqual(
      interp.sample(now, 1).map((s) => s.id),
      [2],
    );
    // Repeats and older ticks are ignored; the buffer is bounded.
    interp.push(9, now, ship(0));
    assert.equal(interp.states.length, 9);
    for (let t = 11; t < 100; t++) interp.push(t, t * tickMs, ship(800));
    assert.equal(interp.states.length, interp.maxStates);
  });

  test('the view time an Input reports is the tick the ships are drawn at, held within the states', () => {
    const rules = { ...RULES, tick_hz: 30 };
    const interp = new Interpolator(rules, { delayMs: 100 });
    const tickMs = 1000 / 30;
    assert.equal(interp.shownTick(0), null, 'nothing drawn yet');
    assert.equal(viewTime(interp.shownTick(0)), null);
    for (let t = 1; t <= 10; t++) interp.push(t, t * tickMs, [{ id: 1, x: 53 * t, y: 0, aim: 0, hp: 3 }]);
    const now = 10 * tickMs;
    // A quarter tick after tick 10 arrived, the screen shows 7.25: exactly
    // where `sample` draws ship 1, and the wire carries 7 + 64/256.
    const at = now + tickMs / 4;
    const shown = /** @type {number} */ (interp.shownTick(at));
    assert.ok(Math.abs(shown - 7.25) < 1e-9);
    assert.equal(interp.sample(at)[0].x, units(53 * shown));
    assert.deepEqual(viewTime(shown), { tick: 7, frac: 64 });
    // Rounded down, never later than the moment drawn; held at the ends.
    assert.deepEqual(viewTime(7.999), { tick: 7, frac: 255 });
    assert.deepEqual(viewTime(interp.shownTick(now + 10_000)), { tick: 10, frac: 0 });
    assert.deepEqual(viewTime(interp.shownTick(0)), { tick: 1, frac: 0 });
    assert.equal(viewTime(Number.NaN), null);
  });

  test('ships appear when they spawn and go when removed', () => {
    const interp = new Interpolator(RULES, { delayMs: 0 });
    interp.push(1, 0, [{ id: 1, x: 0, y: 0, aim: 0, hp: 3 }]);
    interp.push(2, 1000 / RULES.tick_hz, [{ id: 2, x: 80, y: 80, aim: 0, hp: 3 }]);
    assert.deepEqual(
      interp.sample(1000 / RULES.tick_hz / 2).map((s) => s.id),
      [2],
    );
  });
});
