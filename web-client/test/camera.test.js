// @ts-check
/**
 * @file The camera and the area of interest place exactly as the server's
 * `shared/src/interest.rs` (golden vector `interest.json`); the minimap and
 * the mouse map as drawn.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { MARGIN, VIEW_H, VIEW_W, follow, inside, interest, minimap, toArena, toSubUnits } from '../src/camera.js';
import { readJson } from '../testing/vectors.js';

const vector = readJson('interest.json');

describe('camera', () => {
  test('sizes are the server’s', () => {
    assert.deepEqual([VIEW_W, VIEW_H, MARGIN], [vector.view_w, vector.view_h, vector.margin]);
  });

  test('view and interest match the server in the middle, at edges, corners and small arenas', () => {
    assert.ok(vector.cases.length >= 6);
    for (const c of vector.cases) {
      const rules = { arena_w: c.arena[0], arena_h: c.arena[1] };
      const [x, y] = c.ship.map((/** @type {number} */ v) => v / 8);
      assert.deepEqual(toSubUnits(follow(rules, x, y)), c.view, `view at ${c.ship}`);
      assert.deepEqual(toSubUnits(interest(rules, x, y)), c.interest, `interest at ${c.ship}`);
      assert.ok(inside(follow(rules, x, y), x, y), 'own ship in view');
    }
  });

  test('the view follows the ship and stops at the walls', () => {
    const rules = { arena_w: 2000, arena_h: 2000 };
    assert.deepEqual(follow(rules, 1000, 1000), { x0: 520, y0: 700, x1: 1480, y1: 1300 });
    assert.deepEqual(follow(rules, 1010, 990), { x0: 530, y0: 690, x1: 1490, y1: 1290 });
    assert.deepEqual(follow(rules, 5, 1995), { x0: 0, y0: 1400, x1: 960, y1: 2000 });
  });

  test('the mouse aims at the arena point under it', () => {
    const view = follow({ arena_w: 2000, arena_h: 2000 }, 1000, 1000);
    assert.deepEqual(toArena(view, 0.5, 0.5), { x: 1000, y: 1000 });
    assert.deepEqual(toArena(view, 0, 1), { x: 520, y: 1300 });
  });

  test('the minimap holds the whole arena in the corner', () => {
    const m = minimap({ arena_w: 2000, arena_h: 1000 }, 1280, 800, 200, 10);
    assert.deepEqual([m.left, m.top, m.w, m.h], [1070, 690, 200, 100]);
    assert.deepEqual(m.at(0, 0), { x: 1070, y: 690 });
    assert.deepEqual(m.at(2000, 1000), { x: 1270, y: 790 });
  });
});
