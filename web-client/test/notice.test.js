// @ts-check
/**
 * The operators' server message (`Notice`) reaches every client's HUD:
 * the WebSocket's binary message, the long-poll state answer's `notice`
 * and the room feed's `notice` event, each from its golden vector.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { decodeServer } from '../src/codec.js';
import { GameSession, SERVER_PREFIX } from '../src/session.js';
import { RoomBoard } from '../src/standings.js';
import { readBytes, readJson } from '../testing/vectors.js';

const TEXT = readJson('server_notice.json').Notice.text;

test('a WebSocket Notice puts the text on the HUD feed', () => {
  const session = new GameSession({ name: 'Ada', send: () => {}, now: () => 1000 });
  const msg = session.receive(readBytes('server_notice.bin'));
  assert.deepEqual(msg, { Notice: { text: TEXT } });
  assert.deepEqual(session.state.feed.at(-1), { text: `${SERVER_PREFIX}${TEXT}`, at: 1000 });
});

test('the long-poll answer carries the same words as the binary message', () => {
  const answer = readJson('http_state_notice.json');
  assert.equal(answer.snapshot, null);
  assert.deepEqual({ Notice: { text: answer.notice } }, decodeServer(readBytes('server_notice.bin')));
});

test('the scoreboard keeps the newest notice from the feed', () => {
  const board = new RoomBoard('main');
  const event = readJson('feed_room_notice.json');
  assert.equal(event.event, 'notice');
  assert.equal(board.apply('notice', event.data, 7, 5), true);
  assert.deepEqual(board.notice, { text: TEXT, at: 5 });
  assert.equal(board.apply('notice', event.data, 7, 6), false, 'a replayed id changes nothing');
});
