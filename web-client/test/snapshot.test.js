// @ts-check
/**
 * @file WorldView rebuilds the room from a full snapshot and deltas on it,
 * reports a missing baseline, prunes what the server can no longer use and
 * passes each game event on once.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { decodeServer } from '../src/codec.js';
import { WorldView } from '../src/snapshot.js';
import { snapshot } from '../testing/messages.js';
import { readBytes, readJson } from '../testing/vectors.js';

/** @typedef {import('../src/protocol.js').Snapshot} Snapshot */

/** @param {string} name a snapshot vector */
const vector = (name) => /** @type {Snapshot} */ (readJson(`${name}.json`).Snapshot);

/** @param {WorldView} view */
const shipsOf = (view) => Object.fromEntries([...(view.latest?.ships ?? [])]);

describe('WorldView', () => {
  test('a full snapshot becomes the state', () => {
    const view = new WorldView();
    assert.equal(view.ack, null, 'nothing to ack yet');
    assert.equal(view.apply(vector('server_snapshot_full')), true);
    assert.equal(view.ack, 1235);
    const state = view.latest;
    assert.ok(state);
    assert.equal(state.tick, 1235);
    assert.deepEqual(state.round, { number: 1, started: 1, ends: 5401 });
    assert.deepEqual(shipsOf(view), {
      1: { id: 1, x: 8000, y: 8000, aim: 7, hp: 3, score: 0, name: 'Bot 1', bot: true },
      3: { id: 3, x: 120, y: 16000, aim: 7, hp: 2, score: 300, name: 'Ada', bot: false },
    });
    assert.deepEqual([...state.shots.values()], [
      { id: 65535, owner: 1, x: 8000, y: 8000, aim: 128, fired: 1231 },
    ]);
  });

  test('the delta vector applies on the full vector', () => {
    const view = new WorldView();
    view.apply(vector('server_snapshot_full'));
    view.drainEvents();
    assert.equal(view.apply(vector('server_snapshot_delta')), true);
    const state = view.latest;
    assert.ok(state);
    assert.equal(state.tick, 1237);
    assert.equal(state.lastInput, 301);
    assert.deepEqual(state.round, { number: 1, started: 1, ends: 5401 }, 'kept from the baseline');
    assert.deepEqual(shipsOf(view), {
      // Moved: dx 106, dy -76, new aim; name and bot kept.
      1: { id: 1, x: 8106, y: 7924, aim: 9, hp: 3, score: 0, name: 'Bot 1', bot: true },
      // Full: replaced, name kept.
      3: { id: 3, x: 140, y: 15000, aim: 7, hp: 3, score: 301, name: 'Ada', bot: false },
      // Spawned.
      4: { id: 4, x: 400, y: 500, aim: 7, hp: 3, score: 0, name: 'Grace', bot: false },
    });
    assert.equal(state.shots.size, 0, 'shot 65535 is gone');
    assert.deepEqual(
      view.drainEvents().map((e) => Object.keys(e.kind)[0]),
      ['Joined', 'Left', 'Killed'],
    );
    assert.equal(view.names.get(4), 'Grace');
    // The baseline is untouched: states are values.
    assert.equal(view.stateAt(1235)?.ships.get(1)?.x, 8000);
  });

  test('decoded frames apply like the json', () => {
    const view = new WorldView();
    for (const name of ['server_snapshot_full', 'server_snapshot_delta']) {
      const msg = decodeServer(readBytes(`${name}.bin`));
      assert.ok(typeof msg === 'object' && 'Snapshot' in msg);
      assert.equal(view.apply(msg.Snapshot), true);
    }
    const json = new WorldView();
    json.apply(vector('server_snapshot_full'));
    json.apply(vector('server_snapshot_delta'));
    assert.deepEqual(shipsOf(view), shipsOf(json));
  });

  test('a missing baseline is reported and asks for a full snapshot', () => {
    const view = new WorldView();
    assert.equal(view.apply(vector('server_snapshot_delta')), false, 'nothing held');
    assert.equal(view.latest, null);
    assert.equal(view.ack, null);

    view.apply(vector('server_snapshot_full'));
    assert.equal(view.apply(snapshot({ tick: 1300, baseline: 1299 })), false);
    assert.equal(view.ack, null, 'ack null until a snapshot applies again');
    assert.ok(view.stateAt(1235), 'the state is unchanged');
    assert.equal(view.stateAt(1300), undefined);

    assert.equal(view.apply(snapshot({ tick: 1301, round: { number: 1, started: 1, ends: 5401 } })), true);
    assert.equal(view.ack, 1301);
  });

  test('a move of a ship the baseline does not hold asks for a resync', () => {
    const view = new WorldView();
    view.apply(vector('server_snapshot_full'));
    const bad = snapshot({ tick: 1236, baseline: 1235, changed: [{ Moved: { id: 9, dx: 1, dy: 1, aim: 0 } }] });
    assert.equal(view.apply(bad), false);
    assert.equal(view.ack, null);
    assert.equal(view.stateAt(1236), undefined);
  });

  test('round state is taken when present', () => {
    const view = new WorldView();
    view.apply(snapshot({ tick: 5400, round: { number: 1, started: 1, ends: 5401 } }));
    assert.equal(view.apply(vector('server_snapshot_round')), true);
    assert.deepEqual(view.latest?.round, { number: 2, started: 5401, ends: 10801 });
    assert.equal(view.latest?.lastInput, 70000);
    assert.deepEqual(
      view.drainEvents().map((e) => Object.keys(e.kind)[0]),
      ['RoundEnded', 'RoundStarted'],
    );
  });

  test('a ship removed and respawned in one delta takes the new spawn', () => {
    const view = new WorldView();
    view.apply(vector('server_snapshot_full'));
    const ship = { id: 1, x: 10, y: 20, aim: 0, hp: 3, score: 0 };
    view.apply(snapshot({ tick: 1236, baseline: 1235, removed: [1], spawned: [{ ship, name: 'New', bot: false }] }));
    assert.deepEqual(view.latest?.ships.get(1), { ...ship, name: 'New', bot: false });
  });

  test('overlapping deltas pass each event on once', () => {
    const view = new WorldView();
    view.apply(vector('server_snapshot_full'));
    view.apply(vector('server_snapshot_delta'));
    assert.equal(view.drainEvents().length, 3);
    // The server has not seen the ack of 1237 yet: another delta from 1235
    // repeats the events of 1236 and 1237 and adds one at 1238.
    const again = vector('server_snapshot_delta');
    again.body.tick = 1238;
    again.body.events.push({ tick: 1238, kind: { Left: { ship: 4 } } });
    assert.equal(view.apply(again), true);
    assert.deepEqual(view.drainEvents(), [{ tick: 1238, kind: { Left: { ship: 4 } } }]);
    assert.equal(view.ack, 1238);
    // Events of a snapshot that cannot be applied are still news.
    view.apply(snapshot({ tick: 1240, baseline: 1, events: [{ tick: 1239, kind: { Joined: { ship: 5 } } }] }));
    assert.deepEqual(view.drainEvents(), [{ tick: 1239, kind: { Joined: { ship: 5 } } }]);
  });

  test('shots age from the tick they were fired', () => {
    const view = new WorldView();
    view.apply(vector('server_snapshot_full'));
    view.apply(snapshot({ tick: 1240, baseline: 1235 }));
    const shot = view.latest?.shots.get(65535);
    assert.ok(shot);
    assert.equal(1240 - shot.fired, 9, 'age 4 at 1235, 9 at 1240');
  });

  test('states older than the newest baseline the server used are pruned', () => {
    const view = new WorldView();
    view.apply(snapshot({ tick: 10 }));
    view.apply(snapshot({ tick: 11, baseline: 10 }));
    view.apply(snapshot({ tick: 12, baseline: 10 }));
    assert.deepEqual([...view.states.keys()], [10, 11, 12], 'the server may still pick 10 or 11');
    view.apply(snapshot({ tick: 13, baseline: 12 }));
    assert.deepEqual([...view.states.keys()], [12, 13]);
    assert.equal(view.apply(snapshot({ tick: 14, baseline: 11 })), false, '11 is gone');
  });

  test('history is capped even if the server never moves its baseline', () => {
    const view = new WorldView({ maxStates: 5 });
    // Full snapshots say nothing about baselines, so only the cap prunes.
    for (let t = 1; t <= 20; t++) view.apply(snapshot({ tick: t }));
    assert.deepEqual([...view.states.keys()], [16, 17, 18, 19, 20]);
  });
});
