// @ts-check
/** @file The lobby's room rows and the round-end result lines. */

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { clock, inviteLink, inviteOf, resultLines, roomRows, withInvite } from '../src/lobby.js';
import { readJson } from '../testing/vectors.js';

test('clock shows m:ss, rounded up', () => {
  assert.equal(clock(0), '0:00');
  assert.equal(clock(0.2), '0:01');
  assert.equal(clock(125), '2:05');
  assert.equal(clock(-3), '0:00');
  assert.equal(clock(NaN), '0:00');
});

test('the room list becomes rows, public rooms first', () => {
  const rows = roomRows([
    { id: 'zeta', public: true, players: 2, max_players: 64, spectators: 1, bots: 3, tick: 5, tick_hz: 30, round_secs_left: 61.5 },
    { id: 'duel', public: false, players: 2, max_players: 2, spectators: 0, bots: 0, tick: 5, tick_hz: 30, round_secs_left: 3 },
    { id: 'main', public: true, players: 0, max_players: 64, spectators: 0, bots: 4, tick: 5, tick_hz: 30, round_secs_left: 180 },
    { nonsense: true },
    null,
  ]);
  assert.deepEqual(
    rows.map((r) => r.id),
    ['main', 'zeta', 'duel'],
  );
  assert.deepEqual(rows[1], { id: 'zeta', players: '2/64', full: false, spectators: 1, bots: 3, roundLeft: '1:02', public: true });
  assert.equal(rows[2].full, true);
  assert.deepEqual(roomRows({ error: 'x' }), []);
});

test('results rank best first and share ranks on ties', () => {
  const names = new Map([
    [1, 'Ada'],
    [2, 'Bot'],
    [3, 'Cy'],
  ]);
  const lines = resultLines(
    [
      { ship: 2, score: 4 },
      { ship: 1, score: 9 },
      { ship: 3, score: 4 },
    ],
    (id) => names.get(id) ?? '?',
    3,
  );
  assert.deepEqual(lines, [
    { rank: 1, ship: 1, name: 'Ada', score: 9, own: false },
    { rank: 2, ship: 2, name: 'Bot', score: 4, own: false },
    { rank: 2, ship: 3, name: 'Cy', score: 4, own: true },
  ]);
});

test('the golden room lists, single node and cluster, become the same rows', () => {
  const single = roomRows(readJson('http_rooms.json'));
  assert.deepEqual(single, [{ id: 'main', players: '12/64', full: false, spectators: 3, bots: 4, roundLeft: '2:38', public: true }]);
  assert.deepEqual(roomRows(readJson('http_rooms_cluster.json')), single);
});

test('an invite link carries the room in the query and the code in the fragment', () => {
  const created = readJson('http_create_room_answer.json');
  const invite = { room: created.room, code: created.invite };
  const link = inviteLink('https://play.example.org/', invite);
  assert.equal(link, `https://play.example.org/?room=${created.room}#invite=${created.invite}`);
  const url = new URL(link);
  assert.deepEqual(inviteOf(url.search, url.hash), invite);
  assert.deepEqual(inviteOf(url.search, url.hash.toUpperCase().replace('#INVITE', '#invite')), invite, 'either case');
  assert.equal(inviteOf('', url.hash), null, 'no room');
  assert.equal(inviteOf(url.search, ''), null, 'no code');
  assert.equal(inviteOf(url.search, '#invite=abc'), null, 'not 32 hex digits');
  assert.equal(inviteOf('?room=no%20spaces', url.hash), null, 'not a room id');
});

test('withInvite adds the code as a query parameter, or nothing', () => {
  assert.equal(withInvite('ws://h/ws', null), 'ws://h/ws');
  assert.equal(withInvite('ws://h/ws', 'ab'), 'ws://h/ws?invite=ab');
  assert.equal(withInvite('ws://h/ws?room=r&seat=s', 'ab'), 'ws://h/ws?room=r&seat=s&invite=ab');
});
