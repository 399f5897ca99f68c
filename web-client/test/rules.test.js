// @ts-check
/**
 * @file Client prediction must move a ship exactly as the server does: every
 * golden trajectory from `shared/vectors/` replays position for position.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { Buttons } from '../src/protocol.js';
import {
  POS_SCALE,
  REFERENCE_ARENA,
  aimRadians,
  direction,
  maxX,
  moveShip,
  quantiseAim,
  quantiseUnits,
  shotPosition,
  stepAxis,
  stepDiag,
} from '../src/rules.js';
import { index, readJson } from '../testing/vectors.js';

/** @type {import('../src/protocol.js').Rules} */
const REFERENCE = readJson('server_welcome.json').Welcome.rules;

describe('movement trajectories', () => {
  assert.ok(index.trajectories.length >= 3, 'index.json lists the trajectories');
  for (const name of index.trajectories) {
    test(`${name} replays exactly`, () => {
      /** @type {{ rules: import('../src/protocol.js').Rules, start: [number, number], steps: [number, number, number][] }} */
      const { rules, start, steps } = readJson(`${name}.json`);
      assert.ok(steps.length > 0);
      let [x, y] = start;
      steps.forEach(([buttons, ex, ey], i) => {
        [x, y] = moveShip(rules, x, y, buttons);
        assert.deepEqual([x, y], [ex, ey], `${name} tick ${i + 1}, buttons ${buttons}`);
      });
    });
  }

  test('the trajectories cover every direction and a wall', () => {
    const seen = new Set();
    let clamped = false;
    for (const name of index.trajectories) {
      const { rules, steps } = readJson(`${name}.json`);
      for (const [buttons, x, y] of steps) {
        seen.add(direction(buttons).join());
        if (x === 0 || y === 0 || x === maxX(rules) || y === maxX(rules)) clamped = true;
      }
    }
    assert.equal(seen.size, 9);
    assert.ok(clamped);
  });
});

test('the reference arena is the golden Welcome\'s', () => {
  assert.deepEqual(REFERENCE_ARENA, { arena_w: REFERENCE.arena_w, arena_h: REFERENCE.arena_h });
});

describe('rules.rs unit cases', () => {
  test('reference numbers', () => {
    assert.equal(POS_SCALE, 8);
    assert.equal(stepAxis(REFERENCE), 53);
    assert.equal(stepDiag(REFERENCE), 38);
    assert.equal(maxX(REFERENCE), 16000);
    const at60 = { ...REFERENCE, tick_hz: 60 };
    assert.equal(stepAxis(at60), 27);
    assert.equal(stepDiag(at60), 19);
  });

  test('movement is clamped and opposites cancel', () => {
    const { UP, DOWN, LEFT, RIGHT, FIRE } = Buttons;
    assert.deepEqual(moveShip(REFERENCE, 0, 0, UP | LEFT), [0, 0]);
    assert.deepEqual(moveShip(REFERENCE, 100, 100, UP | DOWN), [100, 100]);
    assert.deepEqual(moveShip(REFERENCE, 100, 100, RIGHT), [153, 100]);
    assert.deepEqual(moveShip(REFERENCE, 100, 100, RIGHT | DOWN), [138, 138]);
    assert.deepEqual(moveShip(REFERENCE, 15990, 5, RIGHT | UP), [16000, 0]);
    assert.deepEqual(moveShip(REFERENCE, 100, 100, FIRE), [100, 100]);
  });

  test('aim round-trips within half a step', () => {
    for (let step = 0; step < 256; step++) assert.equal(quantiseAim(aimRadians(step)), step);
    assert.equal(quantiseAim(-Math.PI / 2), 192);
    assert.equal(quantiseAim(Math.PI / 2), 64);
    assert.equal(quantiseAim(Math.PI), 128);
    assert.equal(quantiseAim(NaN), 0);
    assert.equal(quantiseAim(Infinity), 0);
    assert.equal(quantiseAim(1e30), 255, 'saturates like `as i64`');
    assert.equal(quantiseAim(-1e30), 0);
  });

  test('negative half steps round away from zero, as f32::round does', () => {
    // -2.5 steps: Rust rounds to -3 (253), Math.round would give -2 (254).
    const radians = (-2.5 / 256) * 2 * Math.PI;
    assert.equal(quantiseAim(radians), 253);
  });

  test('shots fly from their origin', () => {
    const [x, y] = shotPosition(REFERENCE, [800, 800], 0, 3);
    assert.ok(Math.abs(x - 160) < 1e-3 && Math.abs(y - 100) < 1e-3, `${x}, ${y}`);
    const [dx, dy] = shotPosition(REFERENCE, [8000, 8000], 64, 30);
    assert.ok(Math.abs(dx - 1000) < 1e-3 && Math.abs(dy - 1600) < 1e-3, `${dx}, ${dy}`);
  });

  test('units quantise and clamp', () => {
    assert.equal(quantiseUnits(2000), 16000);
    assert.equal(quantiseUnits(-1), 0);
    assert.equal(quantiseUnits(1e9), 0xffff);
    assert.equal(quantiseUnits(0.0625), 1, 'half a sub-unit rounds away from zero');
  });
});
