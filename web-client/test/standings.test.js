// @ts-check
/**
 * @file The scoreboard's model driven with events shaped like the server's
 * SSE feeds: snapshots and resets, join/leave/score/kill/round, state
 * samples and the round clock, rank-change arrows, the ticker's board and
 * tape, and event ids (monotonic, replays dropped).
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  RoomBoard,
  TickerBoard,
  formatClock,
  lerpAim,
  moveText,
  nextConnection,
  parseEventId,
  rankChanges,
} from '../src/standings.js';

const FLOOR = 1795376003413000;

/** A room snapshot as `/api/rooms/main/events` opens with. */
function snapshot({ tick = 48, players = [[1, 'Bot 1', 0], [2, 'Bot 2', 0], [3, 'Ada', 2]] } = {}) {
  return {
    room: 'main',
    tick,
    tick_hz: 30,
    round: { number: 1, started_tick: 1, ends_tick: 5401, secs_left: (5401 - tick) / 30 },
    players: players.map(([player, name, score]) => ({
      player,
      name,
      bot: String(name).startsWith('Bot'),
      score,
      hp: 3,
    })),
    time: 1795376004984,
  };
}

/** A board fed a snapshot at id FLOOR + 10, time 0. */
function room() {
  const board = new RoomBoard('main');
  assert.equal(board.apply('snapshot', snapshot(), FLOOR + 10, 0), true);
  return board;
}

/** @param {RoomBoard | TickerBoard} board @param {number} now */
const order = (board, now = 0) => board.standings(now).map((l) => `${l.name}:${l.score}`);

/** @param {number} player @param {string} name @param {number} score @param {number} delta */
const score = (player, name, score, delta = 1) => ({ room: 'main', player, name, score, delta, tick: 90, time: 1 });

describe('RoomBoard', () => {
  test('a snapshot fills the standings, best first, ties by ship id', () => {
    const board = room();
    assert.equal(board.ready, true);
    assert.equal(board.lastEventId, FLOOR + 10);
    assert.equal(board.tickHz, 30);
    assert.deepEqual(board.round, { number: 1, endsTick: 5401 });
    assert.deepEqual(order(board), ['Ada:2', 'Bot 1:0', 'Bot 2:0']);
    const top = board.standings(0)[0];
    assert.deepEqual(top, { player: 3, name: 'Ada', bot: false, score: 2, hp: 3, rank: 1, move: null });
    assert.equal(board.leader(), 3);
    assert.equal(board.tick, null, 'the tick comes from state samples only');
    assert.equal(board.secsLeft(0), null, 'no clock before a sample');
  });

  test('join, score, leave and kill', () => {
    const board = room();
    assert.equal(board.apply('join', { room: 'main', player: 7, name: 'Eve', bot: false, tick: 50 }, FLOOR + 11, 0), true);
    assert.deepEqual(order(board), ['Ada:2', 'Bot 1:0', 'Bot 2:0', 'Eve:0']);
    assert.equal(board.standings(0)[3].move, null, 'a newcomer arrives, it does not move');

    board.apply(
      'kill',
      { room: 'main', killer: 7, killer_name: 'Eve', victim: 1, victim_name: 'Bot 1', weapon: 'blaster', tick: 80, time: 5 },
      FLOOR + 12,
      0,
    );
    board.apply('score', score(7, 'Eve', 1), FLOOR + 13, 0);
    assert.deepEqual(order(board), ['Ada:2', 'Eve:1', 'Bot 1:0', 'Bot 2:0']);
    assert.deepEqual(board.kills, [
      { id: FLOOR + 12, killer: 7, killerName: 'Eve', victim: 1, victimName: 'Bot 1', weapon: 'blaster', tick: 80, time: 5 },
    ]);

    board.apply('leave', { room: 'main', player: 3, name: 'Ada', tick: 95 }, FLOOR + 14, 0);
    assert.deepEqual(order(board), ['Eve:1', 'Bot 1:0', 'Bot 2:0']);
    assert.equal(board.leader(), 7);
    assert.equal(board.lastEventId, FLOOR + 14);
  });

  test('a score for a player never seen joining adds them', () => {
    const board = room();
    board.apply('score', score(9, 'Zed', 4, 1), FLOOR + 11, 0);
    assert.deepEqual(order(board), ['Zed:4', 'Ada:2', 'Bot 1:0', 'Bot 2:0']);
  });

  test('the kill feed keeps the newest eight, newest first', () => {
    const board = room();
    for (let i = 1; i <= 11; i++) {
      const kill = { room: 'main', killer: 1, killer_name: 'Bot 1', victim: 2, victim_name: 'Bot 2', weapon: 'blaster', tick: i, time: i };
      board.apply('kill', kill, FLOOR + 10 + i, 0);
    }
    assert.equal(board.kills.length, 8);
    assert.deepEqual(
      board.kills.map((k) => k.tick),
      [11, 10, 9, 8, 7, 6, 5, 4],
    );
  });

  test('rank-change arrows: up, down, score deltas, adding up, fading', () => {
    const board = room(); // Ada 2, Bot 1 0, Bot 2 0
    board.apply('score', score(2, 'Bot 2', 1), FLOOR + 11, 1000);
    let lines = board.standings(1000);
    assert.deepEqual(order(board, 1000), ['Ada:2', 'Bot 2:1', 'Bot 1:0']);
    assert.deepEqual(lines[1].move, { rank: 1, score: 1, at: 1000 }, 'Bot 2 went up one place, one point');
    assert.deepEqual(lines[2].move, { rank: -1, score: 0, at: 1000 }, 'Bot 1 fell one place');
    assert.equal(lines[0].move, null, 'Ada did not move');
    assert.equal(moveText(lines[1].move), '▲1 +1');
    assert.equal(moveText(lines[2].move), '▼1');

    // Two more points in a burst (each within MERGE_MS of the last): from
    // third to first, +3 in all.
    board.apply('score', score(2, 'Bot 2', 2), FLOOR + 12, 2000);
    board.apply('score', score(2, 'Bot 2', 3), FLOOR + 13, 3000);
    lines = board.standings(3000);
    assert.deepEqual(order(board, 3000), ['Bot 2:3', 'Ada:2', 'Bot 1:0']);
    assert.deepEqual(lines[0].move, { rank: 2, score: 3, at: 3000 });
    assert.deepEqual(lines[1].move, { rank: -1, score: 0, at: 2000 }, 'Ada fell at 2 all: ties go to the lower id');
    assert.equal(moveText(lines[0].move), '▲2 +3');

    // A point that does not change places shows the score only; Ada's fall
    // was 1.5 s ago, so this is a new move, not a sum.
    board.apply('score', score(3, 'Ada', 3), FLOOR + 14, 3500);
    assert.deepEqual(order(board, 3500), ['Bot 2:3', 'Ada:3', 'Bot 1:0']);
    assert.equal(moveText(board.standings(3500)[1].move), '+1');

    // Each line's move fades MOVE_MS (4 s) after its last change.
    assert.equal(board.standings(6999)[0].move?.rank, 2);
    assert.equal(board.standings(7000)[0].move, null);
    assert.equal(board.standings(7499)[1].move?.score, 1);
    assert.equal(board.standings(7500)[1].move, null);
    assert.equal(board.standings(7500)[2].move, null, 'Bot 1 fell at 1000, long gone');
  });

  test('a line that keeps scoring shows its latest move, not a running total', () => {
    const board = room(); // Ada 2, Bot 1 0, Bot 2 0
    board.apply('score', score(3, 'Ada', 3), FLOOR + 11, 0);
    board.apply('score', score(3, 'Ada', 4), FLOOR + 12, 1000);
    assert.equal(moveText(board.standings(1000)[0].move), '+2', 'within MERGE_MS: one burst');
    board.apply('score', score(3, 'Ada', 5), FLOOR + 13, 3000);
    assert.equal(moveText(board.standings(3000)[0].move), '+1', 'two seconds later: a move of its own');
  });

  test('a leave moves the lines below it up', () => {
    const board = room();
    board.apply('leave', { room: 'main', player: 3, name: 'Ada', tick: 95 }, FLOOR + 11, 0);
    const lines = board.standings(0);
    assert.deepEqual(lines.map((l) => moveText(l.move)), ['▲1', '▲1']);
  });

  test('round ended shows the standings and zeroes every score; started sets the clock', () => {
    const board = room();
    board.apply('score', score(1, 'Bot 1', 1), FLOOR + 11, 0);
    const standings = [
      { player: 3, name: 'Ada', score: 2 },
      { player: 1, name: 'Bot 1', score: 1 },
      { player: 2, name: 'Bot 2', score: 0 },
    ];
    board.apply('round', { room: 'main', phase: 'ended', round: 1, standings, tick: 5401, time: 9 }, FLOOR + 12, 500);
    assert.deepEqual(board.result, { round: 1, standings, at: 500 });
    assert.deepEqual(order(board, 500), ['Bot 1:0', 'Bot 2:0', 'Ada:0']);
    assert.deepEqual(
      board.standings(500).map((l) => l.move),
      [null, null, null],
      'a new round is a clean slate, not a crash of the leader',
    );
    assert.equal(board.leader(), null);

    board.apply(
      'round',
      { room: 'main', phase: 'started', round: 2, ends_tick: 10801, secs_left: 180, tick: 5401, time: 9 },
      FLOOR + 13,
      500,
    );
    assert.deepEqual(board.round, { number: 2, endsTick: 10801 });
    assert.ok(board.resultAt(8499));
    assert.equal(board.resultAt(8500), null, 'results show for RESULT_MS');
  });

  test('state samples give the tick, the clock, hp and the ships', () => {
    const board = room();
    board.apply(
      'state',
      { tick: 54, round_ends_tick: 5401, ships: [[1, 100, 200, 64, 3], [2, 300, 400, 0, 0], [3, 1000, 1000, 0, 1]], time: 1 },
      null,
      10_000,
    );
    assert.equal(board.tick, 54);
    assert.equal(board.secsLeft(10_000), (5401 - 54) / 30);
    assert.equal(board.secsLeft(11_000), (5401 - 54) / 30 - 1, 'runs on between samples');
    assert.equal(board.secsLeft(1e9), 0);
    assert.equal(formatClock(board.secsLeft(10_000)), '02:59');
    assert.deepEqual(
      board.shipsAt(10_000).map((s) => s.id),
      [1, 3],
      'dead ships are hidden',
    );
    assert.equal(board.players.get(2)?.hp, 0);
    assert.equal(board.lastEventId, FLOOR + 10, 'state samples carry no id');

    // The next sample, 100 ms later: drawn halfway 50 ms after that (100 ms behind).
    board.apply('state', { tick: 57, round_ends_tick: 5401, ships: [[1, 120, 200, 66, 3], [3, 1900, 1000, 0, 1]], time: 2 }, null, 10_100);
    const [one, three] = board.shipsAt(10_150);
    assert.deepEqual(one, { id: 1, x: 110, y: 200, aim: 65, hp: 3 });
    assert.equal(three.x, 1900, 'a jump across the arena is a respawn, not drawn as a glide');

    // A restarted server counts ticks from 1 again: its samples are taken,
    // and not interpolated from the old world's.
    board.apply('state', { tick: 3, round_ends_tick: 5401, ships: [[1, 125, 200, 0, 3]], time: 3 }, null, 10_200);
    assert.equal(board.tick, 3);
    assert.equal(board.secsLeft(10_200), (5401 - 3) / 30);
    assert.deepEqual(board.shipsAt(10_250), [{ id: 1, x: 125, y: 200, aim: 0, hp: 3 }]);
  });

  test('reset replaces everything but keeps the newest sample', () => {
    const board = room();
    board.apply('state', { tick: 60, round_ends_tick: 5401, ships: [[1, 1, 1, 0, 3]], time: 1 }, null, 0);
    board.apply('kill', { room: 'main', killer: 1, killer_name: 'Bot 1', victim: 2, victim_name: 'Bot 2', weapon: 'blaster', tick: 61, time: 1 }, FLOOR + 11, 0);
    board.apply('score', score(1, 'Bot 1', 1), FLOOR + 12, 0);
    board.apply('round', { room: 'main', phase: 'ended', round: 1, standings: [], tick: 5401, time: 9 }, FLOOR + 13, 0);

    const after = snapshot({ tick: 6000, players: [[4, 'Bot 4', 5], [5, 'Cy', 1]] });
    after.round = { number: 3, started_tick: 5401, ends_tick: 10801, secs_left: 160 };
    assert.equal(board.apply('reset', after, FLOOR + 900, 100), true);
    assert.equal(board.lastEventId, FLOOR + 900);
    assert.deepEqual(order(board, 100), ['Bot 4:5', 'Cy:1']);
    assert.deepEqual(board.kills, []);
    assert.equal(board.result, null);
    assert.deepEqual(board.round, { number: 3, endsTick: 10801 });
    assert.equal(board.standings(100)[0].move, null, 'no arrows across a reset');
    assert.equal(board.tick, 60);

    // The events after the reset apply; replays from before it do not.
    assert.equal(board.apply('score', score(5, 'Cy', 2), FLOOR + 13, 100), false);
    assert.equal(board.apply('score', score(5, 'Cy', 2), FLOOR + 901, 100), true);
    assert.deepEqual(order(board, 100), ['Bot 4:5', 'Cy:2']);
  });

  test('event ids: monotonic, replays and duplicates ignored, unlogged events pass', () => {
    const board = room();
    assert.equal(board.apply('score', score(1, 'Bot 1', 1), FLOOR + 11, 0), true);
    assert.equal(board.apply('score', score(1, 'Bot 1', 1), FLOOR + 11, 0), false, 'same id again');
    assert.equal(board.apply('score', score(1, 'Bot 1', 9), FLOOR + 5, 0), false, 'older than the snapshot');
    assert.equal(board.lastEventId, FLOOR + 11);
    assert.deepEqual(order(board), ['Ada:2', 'Bot 1:1', 'Bot 2:0']);
    assert.equal(board.apply('score', score(1, 'Bot 1', 2), FLOOR + 15, 0), true, 'gaps are fine');
    assert.equal(board.apply('score', score(2, 'Bot 2', 1), FLOOR + 14, 0), false, 'going back is not');
    assert.equal(board.lastEventId, FLOOR + 15);
    assert.equal(board.apply('heartbeat', {}, null, 0), false, 'unknown kinds change nothing');
    assert.equal(board.apply('closed', { reason: 'room closed' }, null, 0), false);
    assert.equal(board.lastEventId, FLOOR + 15);
  });
});

describe('TickerBoard', () => {
  /** @param {[string, number, string, number][]} lines */
  const top = (lines) => ({
    time: 1,
    top: lines.map(([room, player, name, score]) => ({ room, player, name, score, bot: name.startsWith('Bot') })),
  });
  /** @param {string} room @param {number} player @param {string} name @param {number} score @param {number} [delta] */
  const tscore = (room, player, name, score, delta = 1) => ({ room, player, name, score, delta, tick: 1, time: 1 });

  test('snapshot, then score events move lines and fill the tape', () => {
    const t = new TickerBoard();
    t.apply('snapshot', top([['main', 1, 'Bot 1', 3], ['duel', 2, 'Ada', 2], ['main', 3, 'Bot 3', 2]]), FLOOR + 3, 0);
    assert.equal(t.lastEventId, FLOOR + 3);
    assert.deepEqual(order(t), ['Bot 1:3', 'Ada:2', 'Bot 3:2'], 'ties by room: duel before main');

    t.apply('score', tscore('main', 3, 'Bot 3', 4), FLOOR + 4, 100);
    assert.deepEqual(order(t, 100), ['Bot 3:4', 'Bot 1:3', 'Ada:2']);
    const lines = t.standings(100);
    assert.deepEqual(lines[0].move, { rank: 2, score: 2, at: 100 }, 'moves measure against the board, not the delta');
    assert.equal(moveText(lines[1].move), '▼1');
    assert.deepEqual(t.tape[0], { id: FLOOR + 4, room: 'main', player: 3, name: 'Bot 3', score: 4, delta: 1, at: 100 });

    // Someone not on the board yet joins it.
    t.apply('score', tscore('duel', 9, 'Cy', 1), FLOOR + 5, 200);
    assert.deepEqual(order(t, 200), ['Bot 3:4', 'Bot 1:3', 'Ada:2', 'Cy:1']);
    assert.deepEqual(
      t.tape.map((i) => i.name),
      ['Cy', 'Bot 3'],
      'tape newest first',
    );
  });

  test('board events replace the lines and show how they moved', () => {
    const t = new TickerBoard();
    t.apply('snapshot', top([]), FLOOR + 1, 0);
    assert.deepEqual(order(t), [], 'a fresh server has an empty board');
    t.apply('board', top([['main', 1, 'Bot 1', 2], ['main', 2, 'Bot 2', 1]]), FLOOR + 2, 0);
    assert.deepEqual(order(t), ['Bot 1:2', 'Bot 2:1']);
    assert.deepEqual(t.standings(0).map((l) => l.move), [null, null], 'new lines arrive without arrows');
    t.apply('board', top([['main', 2, 'Bot 2', 3], ['main', 1, 'Bot 1', 2]]), FLOOR + 3, 10);
    assert.deepEqual(t.standings(10).map((l) => moveText(l.move)), ['▲1 +2', '▼1']);
    assert.deepEqual(t.standings(10).map((l) => l.rank), [1, 2]);
  });

  test('the board keeps its length: a low score does not push anyone off', () => {
    const t = new TickerBoard();
    const lines = /** @type {[string, number, string, number][]} */ (
      Array.from({ length: 10 }, (_, i) => ['main', i + 1, `Bot ${i + 1}`, 20 - i])
    );
    t.apply('snapshot', top(lines), FLOOR + 1, 0);
    t.apply('score', tscore('other', 1, 'Low', 1), FLOOR + 2, 0);
    assert.equal(t.top.length, 10);
    assert.ok(!t.top.some((l) => l.name === 'Low'));
    assert.equal(t.tape[0].name, 'Low', 'it is on the tape all the same');
    t.apply('score', tscore('other', 1, 'Low', 15, 14), FLOOR + 3, 0);
    assert.equal(t.top.length, 10);
    assert.equal(t.top[6].name, 'Low', 'after Bot 6, also on 15: main sorts before other');
    assert.equal(t.top.at(-1)?.name, 'Bot 9', 'the last one fell off');
  });

  test("a score below a line's known score means that room began a new round", () => {
    const t = new TickerBoard();
    t.apply('snapshot', top([['main', 1, 'Bot 1', 7], ['duel', 4, 'Ada', 5], ['main', 2, 'Bot 2', 3]]), FLOOR + 1, 0);
    t.apply('score', tscore('main', 2, 'Bot 2', 1), FLOOR + 2, 0);
    assert.deepEqual(order(t), ['Ada:5', 'Bot 2:1', 'Bot 1:0']);
  });

  test('reset replaces the board; ids are monotonic', () => {
    const t = new TickerBoard();
    t.apply('snapshot', top([['main', 1, 'Bot 1', 3]]), FLOOR + 10, 0);
    assert.equal(t.apply('score', tscore('main', 1, 'Bot 1', 4), FLOOR + 10, 0), false, 'duplicate');
    assert.equal(t.apply('board', top([]), FLOOR + 9, 0), false, 'older');
    assert.equal(t.apply('score', tscore('main', 1, 'Bot 1', 4), FLOOR + 11, 0), true);
    assert.equal(t.apply('state', {}, null, 0), false, 'the ticker has no samples');
    t.apply('reset', top([['x', 5, 'New', 1]]), FLOOR + 500, 0);
    assert.equal(t.lastEventId, FLOOR + 500);
    assert.deepEqual(order(t), ['New:1']);
    assert.equal(t.standings(0)[0].move, null);
    assert.equal(t.apply('score', tscore('x', 5, 'New', 2), FLOOR + 12, 0), false);
  });
});

describe('helpers', () => {
  test('parseEventId takes the server ids exactly and nothing else', () => {
    assert.equal(parseEventId('1795376003413009'), 1795376003413009);
    assert.equal(parseEventId(' 12 '), 12);
    assert.equal(parseEventId(''), null);
    assert.equal(parseEventId(null), null);
    assert.equal(parseEventId(undefined), null);
    assert.equal(parseEventId('-1'), null);
    assert.equal(parseEventId('1e3'), null);
    assert.equal(parseEventId('99999999999999999999'), null, 'beyond 2^53 is not exact');
    assert.equal(parseEventId(7), 7);
  });

  test('rankChanges compares places and scores by key', () => {
    const a = { k: 'a', s: 1 };
    const b = { k: 'b', s: 0 };
    const c = { k: 'c', s: 0 };
    const changes = rankChanges([a, b, c], [c, a, { k: 'd', s: 0 }, b], (l) => l.k, (l) => l.s);
    assert.deepEqual(Object.fromEntries(changes), { c: { rank: 2, score: 0 }, a: { rank: -1, score: 0 }, b: { rank: -2, score: 0 } });
  });

  test('nextConnection: connecting, live, reconnecting, closed', () => {
    assert.equal(nextConnection('connecting', 'error', 0), 'connecting', 'never opened yet');
    assert.equal(nextConnection('connecting', 'open'), 'live');
    assert.equal(nextConnection('live', 'error', 0), 'reconnecting');
    assert.equal(nextConnection('reconnecting', 'open'), 'live');
    assert.equal(nextConnection('live', 'error', 2), 'closed', 'the browser gave up (404, 503)');
    assert.equal(nextConnection('closed', 'retry'), 'reconnecting');
    assert.equal(nextConnection('connecting', 'retry'), 'connecting');
  });

  test('formatClock and lerpAim', () => {
    assert.equal(formatClock(null), '--:--');
    assert.equal(formatClock(180), '03:00');
    assert.equal(formatClock(59.2), '01:00');
    assert.equal(formatClock(0.4), '00:01');
    assert.equal(formatClock(0), '00:00');
    assert.equal(formatClock(-3), '00:00');
    assert.equal(lerpAim(250, 6, 0.5), 0, 'the short way across 0');
    assert.equal(lerpAim(6, 250, 0.5), 0);
    assert.equal(lerpAim(10, 20, 0.5), 15);
  });
});
