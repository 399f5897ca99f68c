// @ts-check
/**
 * @file The leaderboard as the scoreboard shows it: the vector's answer
 * becomes its lines, a server without a database hides the panel, and
 * anything malformed is "unavailable", never half drawn.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { fetchLeaderboard, fetchLeaderboards, leaderboardNote, leaderboardView, LEADERBOARD_ROWS } from '../src/records.js';
import { readJson } from '../testing/vectors.js';

const BOARD = readJson('http_leaderboard.json');

test("the vector's leaderboard becomes its lines", () => {
  const view = leaderboardView(200, BOARD);
  assert.equal(view.kind, 'lines');
  assert.deepEqual(view.kind === 'lines' && view.lines, BOARD.rows);
});

test('no database hides it; errors and malformed rows are unavailable', () => {
  assert.deepEqual(leaderboardView(503, { error: 'x', code: 'no_database' }), { kind: 'off' });
  assert.deepEqual(leaderboardView(503, { error: 'x', code: 'database_unavailable' }), { kind: 'unavailable' });
  assert.deepEqual(leaderboardView(200, null), { kind: 'unavailable' });
  const bad = { ...BOARD, rows: [{ ...BOARD.rows[0], kills: -1 }] };
  assert.deepEqual(leaderboardView(200, bad), { kind: 'unavailable' });
});

test("it asks for this week's top rows", async () => {
  /** @type {string[]} */
  const asked = [];
  const fetchFn = /** @type {typeof fetch} */ (
    async (url) => {
      asked.push(String(url));
      return new Response(JSON.stringify(BOARD), { status: 200 });
    }
  );
  const view = await fetchLeaderboard(fetchFn);
  assert.equal(view.kind, 'lines');
  assert.deepEqual(asked, [`/api/leaderboard?period=week&limit=${LEADERBOARD_ROWS}`]);
  const failing = /** @type {typeof fetch} */ (async () => { throw new Error('offline'); });
  assert.deepEqual(await fetchLeaderboard(failing), { kind: 'unavailable' });
});

test("the lobby asks for both leaderboards, this week's and all time", async () => {
  /** @type {string[]} */
  const asked = [];
  const allTime = { ...BOARD, period: 'all', since_ms: null };
  const fetchFn = /** @type {typeof fetch} */ (
    async (url) => {
      asked.push(String(url));
      const body = String(url).includes('period=all') ? allTime : BOARD;
      return new Response(JSON.stringify(body), { status: 200 });
    }
  );
  const { week, all } = await fetchLeaderboards(fetchFn);
  assert.deepEqual(asked.sort(), [
    `/api/leaderboard?period=all&limit=${LEADERBOARD_ROWS}`,
    `/api/leaderboard?period=week&limit=${LEADERBOARD_ROWS}`,
  ]);
  assert.deepEqual(week, { kind: 'lines', lines: BOARD.rows });
  assert.deepEqual(all, { kind: 'lines', lines: BOARD.rows });
  const off = /** @type {typeof fetch} */ (
    async () => new Response(JSON.stringify({ error: 'x', code: 'no_database' }), { status: 503 })
  );
  assert.deepEqual(await fetchLeaderboards(off), { week: { kind: 'off' }, all: { kind: 'off' } });
});

test('the empty line says why a board has no rows', () => {
  assert.equal(leaderboardNote({ kind: 'lines', lines: [] }, 'No rounds yet.'), 'No rounds yet.');
  assert.equal(leaderboardNote({ kind: 'unavailable' }, 'No rounds yet.'), 'Records unavailable right now.');
  assert.equal(leaderboardNote({ kind: 'off' }, 'No rounds yet.'), '');
  assert.equal(leaderboardNote(leaderboardView(200, BOARD), 'No rounds yet.'), '');
});
