// @ts-check
/**
 * @file The camera and the minimap: the mirror of
 * `shared/src/interest.rs`. The game shows `VIEW_W` x `VIEW_H` arena units
 * centred on the own ship, slid inwards at the arena's edges; in crowded
 * rooms the server sends only the ships within that view plus `MARGIN`
 * (the golden vector `interest.json` pins both sides). The minimap maps
 * the whole arena into a small corner box. Pure: no DOM, no clock.
 */

import { POS_SCALE } from './rules.js';

/** Width of the camera's view, in arena units. */
export const VIEW_W = 960;
/** Height of the camera's view, in arena units. */
export const VIEW_H = 600;
/** Arena units beyond the view a player is still sent ships of. */
export const MARGIN = 100;

/**
 * @typedef {object} Rect a rectangle in arena units, edges included
 * @property {number} x0
 * @property {number} y0
 * @property {number} x1
 * @property {number} y1
 */

/**
 * The centre of a view of `view` units on an axis of `arena` units that
 * follows `at`: `at`, slid inwards so the view stays in the arena, or the
 * arena's middle when the arena is the smaller.
 * @param {number} at
 * @param {number} view
 * @param {number} arena
 */
function centre(at, view, arena) {
  if (arena <= view) return arena / 2;
  return Math.min(Math.max(at, view / 2), arena - view / 2);
}

/**
 * The view of a camera following a ship at (x, y), arena units.
 * @param {{ arena_w: number, arena_h: number }} rules
 * @param {number} x
 * @param {number} y
 * @returns {Rect}
 */
export function follow(rules, x, y) {
  const cx = centre(x, VIEW_W, rules.arena_w);
  const cy = centre(y, VIEW_H, rules.arena_h);
  return { x0: cx - VIEW_W / 2, y0: cy - VIEW_H / 2, x1: cx + VIEW_W / 2, y1: cy + VIEW_H / 2 };
}

/**
 * The area of interest of a ship at (x, y): its view widened by `MARGIN`.
 * @param {{ arena_w: number, arena_h: number }} rules
 * @param {number} x
 * @param {number} y
 * @returns {Rect}
 */
export function interest(rules, x, y) {
  const v = follow(rules, x, y);
  return { x0: v.x0 - MARGIN, y0: v.y0 - MARGIN, x1: v.x1 + MARGIN, y1: v.y1 + MARGIN };
}

/**
 * A rectangle in sub-units, as the server and the vectors write it.
 * @param {Rect} r
 * @returns {Rect}
 */
export function toSubUnits(r) {
  return { x0: r.x0 * POS_SCALE, y0: r.y0 * POS_SCALE, x1: r.x1 * POS_SCALE, y1: r.y1 * POS_SCALE };
}

/**
 * Whether a point (arena units) lies in `r`.
 * @param {Rect} r
 * @param {number} x
 * @param {number} y
 */
export function inside(r, x, y) {
  return x >= r.x0 && x <= r.x1 && y >= r.y0 && y <= r.y1;
}

/**
 * A canvas point (fractions 0..1 of its width and height) as an arena
 * point under `view`: where the mouse aims.
 * @param {Rect} view
 * @param {number} fx
 * @param {number} fy
 */
export function toArena(view, fx, fy) {
  return { x: view.x0 + fx * (view.x1 - view.x0), y: view.y0 + fy * (view.y1 - view.y0) };
}

/**
 * The minimap's placement: the whole arena scaled into a box of at most
 * `size` pixels on its longer side, in the canvas's bottom-right corner
 * `pad` pixels from the edges. `at(x, y)` maps arena units to canvas
 * pixels.
 * @param {{ arena_w: number, arena_h: number }} rules
 * @param {number} canvasW pixels
 * @param {number} canvasH pixels
 * @param {number} size pixels
 * @param {number} pad pixels
 */
export function minimap(rules, canvasW, canvasH, size, pad) {
  const k = size / Math.max(rules.arena_w, rules.arena_h);
  const w = rules.arena_w * k;
  const h = rules.arena_h * k;
  const left = canvasW - pad - w;
  const top = canvasH - pad - h;
  return {
    left,
    top,
    w,
    h,
    /** @param {number} x @param {number} y */
    at: (x, y) => ({ x: left + x * k, y: top + y * k }),
  };
}
