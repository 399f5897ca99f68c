// @ts-check
/**
 * @file The device identity: kept in storage as the server granted it,
 * presented in Hello (its bytes are the golden vector's), replaced only by
 * a new grant, and ignored when the stored value has the wrong shape.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { decodeClient, encodeClient } from '../src/codec.js';
import { loadPlayerKey, savePlayerKey, STORAGE_KEY, validPlayerKey } from '../src/identity.js';
import { GameSession } from '../src/session.js';
import { welcomeFromJoin } from '../src/transport.js';
import { readBytes, readJson } from '../testing/vectors.js';

/** A `localStorage` stand-in backed by a Map. */
function memoryStore() {
  const map = new Map();
  return {
    map,
    /** @param {string} k */
    getItem: (k) => map.get(k) ?? null,
    /** @param {string} k @param {string} v */
    setItem: (k, v) => void map.set(k, v),
  };
}

const KEY = readJson('client_hello_player.json').Hello.player;

test('a stored key round-trips and a malformed one is ignored', () => {
  const store = memoryStore();
  assert.equal(loadPlayerKey(store), null, 'first visit');
  assert.equal(savePlayerKey(store, KEY), true);
  assert.deepEqual(loadPlayerKey(store), KEY);
  for (const bad of ['not json', '{}', JSON.stringify({ id: 'ABC', secret: KEY.secret }), JSON.stringify({ ...KEY, secret: 'ff' })]) {
    store.map.set(STORAGE_KEY, bad);
    assert.equal(loadPlayerKey(store), null, bad);
  }
  assert.equal(validPlayerKey(KEY), true);
  assert.equal(savePlayerKey(store, { id: 'x', secret: 'y' }), false, 'only what a server grants');
  const broken = { getItem: () => { throw new Error('denied'); }, setItem: () => { throw new Error('denied'); } };
  assert.equal(loadPlayerKey(broken), null);
  assert.equal(savePlayerKey(broken, KEY), false);
  assert.equal(loadPlayerKey(null), null);
});

test('Hello presents the key held, byte for byte as the vector', () => {
  /** @type {Uint8Array[]} */
  const sent = [];
  const session = new GameSession({ name: 'Ada', player: KEY, send: (msg) => sent.push(encodeClient(msg)) });
  session.opened();
  assert.equal(Buffer.from(sent[0]).toString('hex'), Buffer.from(readBytes('client_hello_player.bin')).toString('hex'));
});

test('a granted identity is kept; a Welcome without a secret keeps the key held', () => {
  /** @type {import('../src/protocol.js').PlayerKey[]} */
  const kept = [];
  const session = new GameSession({ name: 'Ada', send: () => {}, onPlayer: (key) => kept.push(key) });
  session.opened();
  session.receive(readBytes('server_welcome_new_player.bin'));
  const grant = readJson('server_welcome_new_player.json').Welcome.player;
  assert.deepEqual(kept, [{ id: grant.id, secret: grant.secret }]);
  assert.deepEqual(session.player, kept[0]);

  const returning = new GameSession({ name: 'Ada', player: KEY, send: () => {}, onPlayer: (key) => kept.push(key) });
  returning.opened();
  returning.receive(readBytes('server_welcome.bin'));
  assert.equal(kept.length, 1, 'no grant, nothing to keep');
  assert.deepEqual(returning.player, KEY);
});

test('long polling carries the identity both ways', () => {
  const answer = readJson('http_join_answer_new_player.json');
  const welcome = welcomeFromJoin(answer);
  assert.deepEqual(welcome.Welcome.player, answer.player);
  assert.deepEqual(decodeClient(encodeClient({ Hello: readJson('client_hello_player.json').Hello })), {
    Hello: readJson('client_hello_player.json').Hello,
  });
});
