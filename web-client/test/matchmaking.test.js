// @ts-check
/**
 * @file Matchmaking as the page asks it: the request body, the answer
 * turned into a placement, refusals read by their code (what to do next,
 * what to show), against a fake `fetch`.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ApiErrorCode } from '../src/http.js';
import {
  drained,
  hexFromBytes,
  lostGame,
  matchBody,
  matchMessage,
  matchmake,
  matchStep,
  placementFrom,
  rematchText,
  SERVER_DRAIN,
} from '../src/matchmaking.js';
import { CloseCode } from '../src/protocol.js';

const ANSWER = {
  room: 'arena-1a2b3c4d-2',
  node: 'b',
  node_url: 'http://lb.test/node/b',
  ws_url: 'ws://lb.test/node/b/ws?room=arena-1a2b3c4d-2&seat=5f0c9d2e8a7b4c3d2e1f0a9b8c7d6e5f',
  seat: '5f0c9d2e8a7b4c3d2e1f0a9b8c7d6e5f',
  seat_ttl_ms: 15000,
};

/**
 * A fetch answering every call with `status` and `body`; records the calls.
 * @param {number} status
 * @param {unknown} body
 * @param {Record<string, string>} [headers]
 */
function answering(status, body, headers = {}) {
  /** @type {{ url: string, init: any }[]} */
  const calls = [];
  /** @type {typeof fetch} */
  const fetcher = async (url, init) => {
    calls.push({ url: String(url), init });
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
  };
  return { fetch: fetcher, calls };
}

test('the body names a room, a resume token, or nothing', () => {
  const token = Array.from({ length: 16 }, (_, i) => i * 17);
  assert.equal(hexFromBytes(token), '00112233445566778899aabbccddeeff');
  assert.deepEqual(matchBody({ room: 'den' }), { room: 'den' });
  assert.deepEqual(matchBody({ room: null }), {});
  assert.deepEqual(matchBody({ room: 'den', resume: token }), { resume: '00112233445566778899aabbccddeeff' }, 'a resume goes back to its own room');
  assert.throws(() => hexFromBytes([1, 2, 3]), TypeError);
  assert.throws(() => hexFromBytes(Array(16).fill(256)), TypeError);
});

test('an answer becomes the owner’s placement', async () => {
  const net = answering(200, ANSWER);
  const matched = await matchmake({ room: 'arena-1a2b3c4d-2', base: 'http://lb.test', fetch: net.fetch });
  assert.deepEqual(matched, {
    ok: true,
    placement: { room: ANSWER.room, node: 'b', nodeUrl: 'http://lb.test/node/b', wsUrl: ANSWER.ws_url, seat: ANSWER.seat },
  });
  assert.equal(net.calls[0].url, 'http://lb.test/api/matchmake');
  assert.equal(net.calls[0].init.method, 'POST');
  assert.deepEqual(JSON.parse(net.calls[0].init.body), { room: 'arena-1a2b3c4d-2' });

  // A resume's answer has no seat; a trailing slash on node_url goes.
  assert.deepEqual(placementFrom({ ...ANSWER, seat: null, seat_ttl_ms: null, node_url: 'https://b.example/' }), {
    room: ANSWER.room,
    node: 'b',
    nodeUrl: 'https://b.example',
    wsUrl: ANSWER.ws_url,
    seat: null,
  });
  for (const broken of [{ ...ANSWER, ws_url: 'http://x/ws' }, { ...ANSWER, node_url: 'javascript:x' }, { ...ANSWER, room: 3 }, null]) {
    assert.equal(placementFrom(broken), null, JSON.stringify(broken));
  }
  const odd = await matchmake({ fetch: answering(200, { room: 'x' }).fetch });
  assert.equal(odd.ok, false);
});

test('a refusal carries its code and Retry-After; no answer has no code', async () => {
  const refused = await matchmake({
    fetch: answering(503, { error: 'redis down', code: 'directory_unavailable' }, { 'retry-after': '2' }).fetch,
  });
  assert.deepEqual(refused, { ok: false, code: 'directory_unavailable', message: 'redis down', retryAfterMs: 2000 });
  const down = await matchmake({
    fetch: async () => {
      throw new TypeError('failed to fetch');
    },
  });
  assert.equal(down.ok, false);
  assert.equal(!down.ok && down.code, null);
});

test('what the page does next depends on the code alone', () => {
  const fresh = { resuming: true, named: false };
  const named = { resuming: false, named: true };
  const any = { resuming: false, named: false };
  /** @param {string | null} code */
  const r = (code) => ({ code, message: 'words that never count', retryAfterMs: null });
  assert.equal(matchStep(r('unknown_session'), fresh), 'fresh', 'the ship is gone: join anew');
  assert.equal(matchStep(r('server_lost'), fresh), 'fresh', 'its node is gone: join anew');
  assert.equal(matchStep(r('room_lost'), fresh), 'fresh', 'its room is gone: join anew');
  assert.equal(matchStep(r('no_room'), named), 'direct', 'a new name opens the room');
  assert.equal(matchStep(r('no_room'), fresh), 'stop');
  for (const code of ['directory_unavailable', 'not_registered', 'matchmake_rate_limited', null]) {
    assert.equal(matchStep(r(code), any), 'retry', String(code));
  }
  for (const code of ['room_full', 'server_full', 'room_limit', 'bad_room']) {
    assert.equal(matchStep(r(code), named), 'stop', code);
  }
});

test('the player reads the code’s words and the code; unknown codes show the server’s words', () => {
  assert.equal(matchMessage({ code: 'room_full', message: 'room den is full', retryAfterMs: null }), 'That room is full. (room_full)');
  assert.equal(
    matchMessage({ code: 'server_lost', message: 'node a is gone', retryAfterMs: null }),
    'The server holding your game is gone. (server_lost)',
  );
  assert.equal(matchMessage({ code: 'fd_limit', message: 'out of descriptors', retryAfterMs: null }), 'out of descriptors (fd_limit)');
  assert.equal(matchMessage({ code: null, message: 'matchmaking unreachable', retryAfterMs: null }), 'matchmaking unreachable');
  for (const code of ['room_full', 'no_room', 'server_full', 'server_lost', 'unknown_session', 'directory_unavailable']) {
    assert.ok(code in ApiErrorCode, code);
  }
});

test('a lost game is matchmade anew, and the page says why', () => {
  assert.equal(
    lostGame(CloseCode.RoomLost),
    'Your room was lost with its server. Finding you a new game…',
  );
  for (const code of [CloseCode.GoingAway, CloseCode.SessionReplaced, 1006]) {
    assert.equal(lostGame(code), null, String(code));
  }
  assert.equal(rematchText('server_lost'), 'The server holding your game is gone. Finding you a new game…');
  assert.equal(rematchText(null), 'Your earlier game is over. Finding you a new game…');
});

test('a game closed by a drain (1001 server_drain) finds a new match; other closes do not', () => {
  // The server's words, as server/tests/cluster_drain.rs sees them.
  assert.equal(SERVER_DRAIN, 'server_drain');
  assert.equal(drained(1001, 'server_drain'), true);
  assert.equal(drained(1001, 'server shutting down'), false);
  assert.equal(drained(1000, 'server_drain'), false);
  assert.equal(drained(1006, ''), false);
});
