// @ts-check
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import { playerTokenOf, wellFormed } from '../src/player_token.js';
import { GameSession } from '../src/session.js';
import { encodeClient } from '../src/codec.js';
import { MAX_PLAYER_TOKEN_LEN } from '../src/protocol.js';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln';

describe('player tokens', () => {
  test('the hook wins over the fragment, and a function is asked each time', () => {
    let calls = 0;
    const hook = () => {
      calls += 1;
      return JWT;
    };
    assert.equal(playerTokenOf(hook, '#token=a.b.c'), JWT);
    assert.equal(playerTokenOf(hook, ''), JWT);
    assert.equal(calls, 2);
    assert.equal(playerTokenOf(JWT, '#token=a.b.c'), JWT);
  });

  test('the fragment gives the token when no hook is set', () => {
    assert.equal(playerTokenOf(undefined, `#token=${JWT}`), JWT);
    assert.equal(playerTokenOf(undefined, `#invite=00&token=${JWT}`), JWT);
    assert.equal(playerTokenOf(undefined, ''), null);
  });

  test('malformed or oversized tokens are not sent', () => {
    assert.equal(playerTokenOf('not a token', ''), null);
    assert.equal(playerTokenOf(undefined, '#token=a.b'), null);
    assert.equal(playerTokenOf(() => 42, ''), null);
    const long = `a.b.${'c'.repeat(MAX_PLAYER_TOKEN_LEN)}`;
    assert.equal(wellFormed(long), false);
    assert.equal(wellFormed(JWT), true);
  });

  test('the session says Hello with the token, and it fits a client frame', () => {
    /** @type {any[]} */
    const sent = [];
    const session = new GameSession({ name: 'Ada', token: JWT, send: (msg) => sent.push(msg) });
    session.opened();
    assert.equal(sent[0].Hello.token, JWT);
    const bytes = encodeClient(sent[0]);
    assert.ok(bytes.length > JWT.length);
    const anonymous = new GameSession({ name: 'Ada', send: (msg) => sent.push(msg) });
    anonymous.opened();
    assert.equal(sent[1].Hello.token, null);
  });
});
