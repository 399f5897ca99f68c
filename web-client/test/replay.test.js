// @ts-check
/**
 * @file Replay mode's logic: which match `?replay=` names, the stream URL,
 * the controls (pause keeps the position, a speed change or a seek
 * restarts from it, the end offers a replay from the start), and that a
 * replay started mid-round (`?at=`: the snapshot, then everything before
 * at once) leaves the board exactly as playing it from the start does.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { REPLAY_ENDED, REPLAY_SPEEDS, ReplayControl, replayOf, replayUrl } from '../src/replay.js';
import { RoomBoard } from '../src/standings.js';

test('?replay= names a positive match id, anything else is a problem', () => {
  assert.deepEqual(replayOf('?replay=42'), { id: 42, problem: '' });
  assert.deepEqual(replayOf('?room=main'), { id: null, problem: '' });
  for (const bad of ['?replay=0', '?replay=-1', '?replay=abc', '?replay=1.5', '?replay=']) {
    const { id, problem } = replayOf(bad);
    assert.equal(id, null, bad);
    assert.ok(problem.includes('not a match id'), bad);
  }
});

test('the stream URL carries the speed and the start, in tenths of seconds', () => {
  assert.equal(replayUrl(7, 8, 12.345), '/api/matches/7/replay?speed=8&at=12.3');
  assert.equal(replayUrl(7, 1, -3), '/api/matches/7/replay?speed=1&at=0');
  assert.deepEqual([...REPLAY_SPEEDS], [1, 2, 4, 8, 16]);
});

/** A snapshot of a round from tick 300 to tick 300 + 30 s at 30 Hz. */
const SNAPSHOT = {
  players: [
    { bot: false, hp: 3, name: 'Ada', player: 1, score: 0 },
    { bot: true, hp: 3, name: 'Bot 2', player: 2, score: 0 },
  ],
  room: 'main',
  round: { ends_tick: 1200, number: 4, secs_left: 30, started_tick: 300 },
  tick: 300,
  tick_hz: 30,
  time: 1,
};

test('pause keeps the position, speed and seek restart from it, the end replays from 0', () => {
  const control = new ReplayControl(9);
  assert.equal(control.url(), '/api/matches/9/replay?speed=1&at=0');
  control.opened(SNAPSHOT);
  assert.equal(control.duration, 30);
  assert.equal(control.position(300 + 30 * 10), 10);
  assert.equal(control.position(5000), 30, 'clamped to the round');

  control.pause(300 + 30 * 12);
  assert.equal(control.playing, false);
  assert.equal(control.at, 12);
  control.play();
  assert.equal(control.url(), '/api/matches/9/replay?speed=1&at=12');

  assert.equal(control.setSpeed(3, 0), false, 'not a speed the server streams at');
  assert.equal(control.setSpeed(8, 300 + 30 * 15), true);
  assert.equal(control.url(), '/api/matches/9/replay?speed=8&at=15');

  control.seek(99);
  assert.equal(control.at, 30, 'a seek stays in the round');
  control.seek(-5);
  assert.equal(control.at, 0);

  control.finished('server shutting down');
  assert.equal(control.ended, false, 'only the replay reaching its end ends it');
  control.finished(REPLAY_ENDED);
  assert.equal(control.ended, true);
  assert.equal(control.playing, false);
  control.play();
  assert.equal(control.at, 0, 'after the end, play starts over');
});

test('a replay started mid-round leaves the board as playing it from the start does', () => {
  const kill = (/** @type {number} */ id, /** @type {number} */ tick) => ({
    id,
    kind: 'kill',
    data: { killer: 1, killer_name: 'Ada', room: 'main', tick, time: tick, victim: 2, victim_name: 'Bot 2', weapon: 'blaster' },
  });
  const score = (/** @type {number} */ id, /** @type {number} */ tick, /** @type {number} */ n) => ({
    id,
    kind: 'score',
    data: { delta: 1, name: 'Ada', player: 1, room: 'main', score: n, tick, time: tick },
  });
  const sample = (/** @type {number} */ tick) => ({
    id: null,
    kind: 'state',
    data: { round_ends_tick: 1200, ships: [[1, 100 + tick, 200, 0, 3], [2, 50, 60, 0, 3]], tick, time: tick },
  });
  const frames = [sample(303), kill(11, 330), score(12, 330, 1), sample(333), kill(13, 600), score(14, 600, 2), sample(603)];
  const fold = (/** @type {typeof frames} */ list) => {
    const board = new RoomBoard('match 9');
    board.apply('snapshot', SNAPSHOT, 10, 0);
    for (const f of list) board.apply(f.kind, f.data, f.id, 0);
    return board;
  };
  const whole = fold(frames);
  // From 10 s (tick 600): the entries before it, then the newest sample before it, then the rest.
  const seeked = fold([kill(11, 330), score(12, 330, 1), sample(333), kill(13, 600), score(14, 600, 2), sample(603)]);
  assert.deepEqual(seeked.standings(0), whole.standings(0));
  assert.deepEqual(seeked.kills, whole.kills);
  assert.equal(seeked.tick, whole.tick);
  assert.equal(whole.standings(0)[0].score, 2);
});
