// @ts-check
/**
 * A room handed over to another node (a rolling deploy): the player hears
 * `Moved` and resumes on the new node with its token; the scoreboard's
 * feed goes on and says so once. Each from its golden vector.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { movedPlacement } from '../src/matchmaking.js';
import { GameSession, MOVED_MESSAGE } from '../src/session.js';
import { RoomBoard } from '../src/standings.js';
import { readBytes, readJson } from '../testing/vectors.js';

const MOVED = readJson('server_moved.json').Moved;

test('a WebSocket Moved is kept for the close that follows and shown on the HUD', () => {
  const session = new GameSession({ name: 'Ada', send: () => {}, now: () => 1000 });
  const msg = session.receive(readBytes('server_moved.bin'));
  assert.deepEqual(msg, { Moved: MOVED });
  assert.deepEqual(session.state.moved, MOVED);
  assert.deepEqual(session.state.feed.at(-1), { text: MOVED_MESSAGE, at: 1000 });
});

test('the close after Moved resumes on the new node, with no seat ticket', () => {
  assert.deepEqual(movedPlacement(1001, 'moved', MOVED), {
    room: MOVED.room,
    node: MOVED.node,
    nodeUrl: MOVED.node_url,
    wsUrl: MOVED.ws_url,
    seat: null,
  });
  assert.equal(movedPlacement(1001, 'server_drain', MOVED), null);
  assert.equal(movedPlacement(1006, 'moved', MOVED), null);
  assert.equal(movedPlacement(1001, 'moved', null), null);
});

test('the scoreboard applies the moved event once and keeps its board', () => {
  const board = new RoomBoard(MOVED.room);
  const event = readJson('feed_room_moved.json');
  assert.equal(event.event, 'moved');
  assert.equal(board.apply('moved', event.data, 9, 5), true);
  assert.deepEqual(board.notice, { text: `Room moved to server ${MOVED.node}`, at: 5 });
  assert.equal(board.apply('moved', event.data, 9, 6), false, 'a replayed id changes nothing');
});
