// @ts-check
/**
 * @file The JSON API's codes and limits against `shared/src/http.rs` (through
 * the golden vectors), and what each code means to a game over long polling.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  ApiErrorCode,
  DEFAULT_POLL_TIMEOUT_SECS,
  MAX_EVENTS_PER_PAGE,
  MAX_INPUTS_PER_REQUEST,
  errorOf,
  goneClose,
  joinRefusal,
} from '../src/http.js';
import { CloseCode, ErrorCode } from '../src/protocol.js';
import { index, readJson } from '../testing/vectors.js';

test('codes and statuses match error_codes.json, in order', () => {
  assert.deepEqual(Object.entries(ApiErrorCode), readJson('error_codes.json'));
});

test('limits match index.json', () => {
  assert.equal(MAX_INPUTS_PER_REQUEST, index.max_inputs_per_request);
  assert.equal(MAX_EVENTS_PER_PAGE, index.max_events_per_page);
  assert.equal(DEFAULT_POLL_TIMEOUT_SECS, index.default_poll_timeout_secs);
});

test('a refused join is the WebSocket’s Error and close code', () => {
  const golden = readJson('http_error.json');
  assert.deepEqual(joinRefusal(golden.code, golden.error), {
    error: { code: 'RoomFull', message: golden.error },
    code: CloseCode.TryAgainLater,
  });
  /** @type {[string, string, number][]} */
  const cases = [
    ['bad_name', 'BadName', CloseCode.PolicyViolation],
    ['bad_room', 'BadRoom', CloseCode.PolicyViolation],
    ['room_limit', 'RoomLimit', CloseCode.TryAgainLater],
    ['room_rate_limited', 'RoomRateLimited', CloseCode.TryAgainLater],
    ['room_rate_busy', 'RoomRateLimited', CloseCode.TryAgainLater],
    ['invite_required', 'InviteRequired', CloseCode.PolicyViolation],
    ['bad_invite', 'InviteRequired', CloseCode.PolicyViolation],
    ['invite_rate_limited', 'InviteRateLimited', CloseCode.TryAgainLater],
    ['server_full', 'ServerFull', CloseCode.TryAgainLater],
    ['legacy_limit', 'ServerFull', CloseCode.TryAgainLater],
    ['connection_limit', 'ServerFull', CloseCode.TryAgainLater],
    ['shutting_down', 'ShuttingDown', CloseCode.GoingAway],
  ];
  for (const [code, error, close] of cases) {
    assert.ok(code in ApiErrorCode, code);
    assert.ok(ErrorCode.includes(/** @type {any} */ (error)), error);
    assert.deepEqual(joinRefusal(code, 'words'), { error: { code: error, message: 'words' }, code: close }, code);
  }
  // Words never count: a code the table does not know is the client's fault.
  assert.deepEqual(joinRefusal('bad_body', 'room main is full'), { error: null, code: CloseCode.ProtocolError });
  assert.deepEqual(joinRefusal(null, 'too many long-poll players'), { error: null, code: CloseCode.ProtocolError });
});

test('every code that says a session is gone closes the game like the WebSocket', () => {
  const gone = Object.entries(ApiErrorCode).filter(([, status]) => status === 410);
  assert.ok(gone.length >= 4);
  for (const [code] of gone) assert.notEqual(goneClose(code), null, code);
  assert.equal(goneClose('session_replaced'), CloseCode.SessionReplaced);
  assert.equal(goneClose('session_expired'), CloseCode.IdleTimeout);
  assert.equal(goneClose('unknown_session'), CloseCode.IdleTimeout);
  assert.equal(goneClose('room_closed'), CloseCode.GoingAway);
  assert.equal(goneClose('session_ended'), CloseCode.Normal);
  assert.equal(goneClose('poll_limit'), null);
  assert.equal(goneClose(null), null);
});

test('an error answer gives its code; anything else gives none', async () => {
  const golden = readJson('http_error.json');
  assert.deepEqual(await errorOf(new Response(JSON.stringify(golden), { status: 503 })), {
    code: 'room_full',
    message: golden.error,
    nodeUrl: null,
  });
  const moved = readJson('http_error_moved.json');
  assert.deepEqual(await errorOf(new Response(JSON.stringify(moved), { status: 410 })), {
    code: 'room_closed',
    message: 'moved',
    nodeUrl: moved.node_url,
  });
  assert.deepEqual(await errorOf(new Response('<h1>Bad gateway</h1>', { status: 502 })), {
    code: null,
    message: 'HTTP 502',
    nodeUrl: null,
  });
});
