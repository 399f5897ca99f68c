// @ts-check
/**
 * @file GameSession driven with the golden frames: Hello out, Welcome in,
 * Inputs that ack the newest snapshot, Ping/Pong, errors and close codes.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { decodeClient, encodeClient, encodeServer } from '../src/codec.js';
import { GameSession } from '../src/session.js';
import { snapshot } from '../testing/messages.js';
import { readBytes, readJson } from '../testing/vectors.js';

/** A session writing into an array, on a clock the test moves. */
function harness({ resume = /** @type {number[] | null} */ (null), seq = 0 } = {}) {
  /** @type {Uint8Array[]} */
  const sent = [];
  const clock = { now: 1000 };
  const session = new GameSession({
    name: 'Ada',
    resume,
    seq,
    send: (msg) => sent.push(encodeClient(msg)),
    now: () => clock.now,
  });
  const last = () => decodeClient(sent[sent.length - 1]);
  return { session, sent, clock, last };
}

test('Hello first, then Welcome opens the game', () => {
  const { session, sent, last } = harness();
  assert.equal(session.state.phase, 'connecting');
  session.opened();
  assert.equal(Buffer.from(sent[0]).toString('hex'), Buffer.from(readBytes('client_hello.bin')).toString('hex'));
  assert.equal(session.sendInput(0, 0), false, 'no input before Welcome');
  assert.equal(sent.length, 1);

  session.receive(readBytes('server_welcome.bin'));
  const welcome = readJson('server_welcome.json').Welcome;
  assert.equal(session.state.phase, 'playing');
  assert.equal(session.state.ship, 3);
  assert.equal(session.state.room, 'main');
  assert.deepEqual(session.state.rules, welcome.rules);
  assert.deepEqual(session.resume, welcome.resume);

  assert.equal(session.sendInput(8, 64), true);
  assert.deepEqual(last(), { Input: { seq: 1, ack: null, buttons: 8, aim: 64, view: null } });
});

test('snapshots fill the state and the next Input acks them', () => {
  const { session, last } = harness();
  session.opened();
  session.receive(readBytes('server_welcome.bin'));
  session.receive(readBytes('server_snapshot_full.bin'));
  const s = session.state;
  assert.equal(s.tick, 1235);
  assert.equal(s.score, 300);
  assert.equal(s.hp, 2);
  assert.equal(s.timeLeft, (5401 - 1235) / 30);
  assert.deepEqual(
    s.ships.find((ship) => ship.own),
    { id: 3, name: 'Ada', bot: false, x: 15, y: 2000, aim: 7, hp: 2, score: 300, own: true },
  );
  session.sendInput(0, 0);
  assert.deepEqual(
    last(),
    { Input: { seq: 1, ack: 1235, buttons: 0, aim: 0, view: { tick: 1235, frac: 0 } } },
    'the render tick is before the only state held: that state is what shows',
  );
  assert.deepEqual(s.inputView, { tick: 1235, frac: 0 }, 'the state says which view the newest Input carried');

  session.receive(readBytes('server_snapshot_delta.bin'));
  assert.equal(s.tick, 1237);
  assert.equal(s.ships.length, 3);
  assert.equal(s.score, 301);
  assert.deepEqual(
    s.feed.map((line) => line.text),
    ['Grace joined', '#2 left', 'Ada ✕ Bot 1'],
  );
  assert.equal(s.seq, 301, 'the server applied up to 301: carry on from there');
  session.sendInput(0, 0);
  assert.deepEqual(last(), { Input: { seq: 302, ack: 1237, buttons: 0, aim: 0, view: { tick: 1235, frac: 0 } } });
});

test('a missing baseline makes the next Input ask for a full snapshot', () => {
  const { session, last } = harness();
  session.opened();
  session.receive(readBytes('server_welcome.bin'));
  session.receive(readBytes('server_snapshot_delta.bin'));
  assert.equal(session.state.tick, null);
  session.sendInput(0, 0);
  const msg = last();
  assert.ok(typeof msg === 'object' && 'Input' in msg);
  assert.equal(msg.Input.ack, null);
});

test('ping round trip', () => {
  const { session, clock, last } = harness();
  session.opened();
  session.sendPing();
  const ping = last();
  assert.ok(typeof ping === 'object' && 'Ping' in ping);
  clock.now += 42;
  session.receive(encodeServer({ Pong: { nonce: ping.Ping.nonce, tick: 7 } }));
  assert.equal(session.state.rttMs, 42);
  session.receive(encodeServer({ Pong: { nonce: 999, tick: 8 } }));
  assert.equal(session.state.rttMs, 42, 'an unknown nonce is ignored');
});

test('errors and close codes are kept for the page', () => {
  const { session } = harness({ resume: new Array(16).fill(1) });
  session.opened();
  session.receive(encodeServer({ Error: { code: 'ResumeRejected', message: 'expired' } }));
  assert.deepEqual(session.state.error, { code: 'ResumeRejected', message: 'expired' });
  assert.equal(session.resume, null, 'a rejected token is dropped');
  session.closed(1002, 'bad hello');
  assert.equal(session.state.connected, false);
  assert.deepEqual(session.state.close, { code: 1002, name: 'ProtocolError', reason: 'bad hello' });
});

test('Leave is sent once and forgets the token', () => {
  const { session, last } = harness({ resume: new Array(16).fill(2), seq: 40 });
  session.opened();
  const hello = last();
  assert.ok(typeof hello === 'object' && 'Hello' in hello);
  assert.deepEqual(hello.Hello.resume, new Array(16).fill(2));
  session.receive(readBytes('server_welcome.bin'));
  session.sendInput(0, 0);
  assert.deepEqual(last(), { Input: { seq: 41, ack: null, buttons: 0, aim: 0, view: null } }, 'sequences continue');
  session.leave();
  assert.equal(last(), 'Leave');
  assert.equal(session.resume, null);
});

test('an undecodable frame throws for the caller to close on', () => {
  const { session } = harness();
  assert.throws(() => session.receive(Uint8Array.from([9])), { name: 'CodecError' });
});

test('inputs are predicted at once and reconciled by the next snapshot', async () => {
  const { moveShip, units } = await import('../src/rules.js');
  const { session } = harness();
  session.opened();
  session.receive(readBytes('server_welcome.bin'));
  assert.equal(session.state.predicted, null);
  const rules = session.state.rules;
  assert.ok(rules);
  const full = readJson('server_snapshot_full.json');
  session.receive(readBytes('server_snapshot_full.bin'));
  const me = session.ownShip();
  assert.ok(me);
  assert.deepEqual(session.state.predicted, { x: units(me.x), y: units(me.y) });
  assert.equal(session.state.pendingInputs, 0);

  session.sendInput(8, 0);
  session.sendInput(8, 0);
  assert.equal(session.state.pendingInputs, 2);
  let [x, y] = moveShip(rules, me.x, me.y, 8);
  [x, y] = moveShip(rules, x, y, 8);
  const alive = me.hp > 0;
  assert.deepEqual(session.state.predicted, alive ? { x: units(x), y: units(y) } : { x: units(me.x), y: units(me.y) });

  // The server applied the first input: one step, and the second is replayed.
  const [sx, sy] = moveShip(rules, me.x, me.y, 8);
  const body = {
    ...full.Snapshot.body,
    tick: full.Snapshot.body.tick + 1,
    baseline: null,
    spawned: full.Snapshot.body.spawned.map((/** @type {any} */ s) =>
      s.ship.id === me.id ? { ...s, ship: { ...s.ship, x: sx, y: sy } } : s,
    ),
    events: [],
  };
  session.handle({ Snapshot: { last_input: 1, body } });
  assert.equal(session.state.pendingInputs, 1);
  const [px, py] = alive ? moveShip(rules, sx, sy, 8) : [sx, sy];
  assert.deepEqual(session.state.predicted, { x: units(px), y: units(py) });

  session.handle({ Snapshot: { last_input: 2, body: { ...body, tick: body.tick + 1 } } });
  assert.equal(session.state.pendingInputs, 0);
  assert.deepEqual(session.state.predicted, { x: units(sx), y: units(sy) });
  // Other ships are buffered for interpolation.
  assert.equal(session.interpolator?.states.length, 3);
});

test('a RoundEnded event leaves the results with names and ranks', () => {
  const { session } = harness();
  session.opened();
  session.receive(readBytes('server_welcome.bin'));
  session.receive(readBytes('server_snapshot_full.bin'));
  const tick = /** @type {number} */ (session.state.tick);
  const ids = session.state.ships.map((s) => s.id);
  session.handle({
    Snapshot: snapshot({
      tick: tick + 1,
      baseline: tick,
      events: [
        {
          tick: tick + 1,
          kind: { RoundEnded: { round: 4, standings: ids.map((ship, i) => ({ ship, score: i === 0 ? 1 : 7 })) } },
        },
      ],
    }),
  });
  const results = session.state.results;
  assert.ok(results);
  assert.equal(results.round, 4);
  assert.equal(results.lines.length, ids.length);
  assert.equal(results.lines[0].score, 7);
  assert.equal(results.lines[results.lines.length - 1].score, 1);
  assert.equal(results.lines[0].name, session.view.names.get(results.lines[0].ship));
  assert.equal(results.lines.filter((l) => l.own).length, ids.includes(3) ? 1 : 0);
});
