// @ts-check
/**
 * @file The transports: long polling against a fake `fetch` (join → Welcome,
 * state polls with `after`, snapshots, re-polls, closes, input batching), the
 * WebSocket against a fake socket, and the fallback rule.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { MAX_INPUTS_PER_REQUEST } from '../src/http.js';
import { decodeClient, decodeServer, encodeServer } from '../src/codec.js';
import { CloseCode } from '../src/protocol.js';
import { GameSession } from '../src/session.js';
import {
  bytesFromHex,
  LongPollTransport,
  transportMode,
  webSocketTrouble,
  WebSocketTransport,
  welcomeFromJoin,
} from '../src/transport.js';
import { readBytes, readJson } from '../testing/vectors.js';

const BASE = 'http://game.test';
const WELCOME = readJson('server_welcome.json').Welcome;
/** The golden join answer: it stands for the golden Welcome. */
const JOINED = readJson('http_join_answer.json');

/** Lets every settled promise run its continuations. */
async function settle() {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * A `fetch` that records each request and answers only when the test says.
 * @typedef {{ url: string, init: RequestInit, path: string, query: URLSearchParams,
 *   body: any, respond: (status: number, body?: unknown, headers?: Record<string, string>) => void,
 *   fail: (err: Error) => void }} Call
 */
function fakeFetch() {
  /** @type {Call[]} */
  const calls = [];
  /** @type {typeof fetch} */
  const fetcher = (input, init = {}) =>
    new Promise((resolve, reject) => {
      const url = new URL(String(input));
      const call = {
        url: String(input),
        init,
        path: url.pathname,
        query: url.searchParams,
        body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
        respond: (/** @type {number} */ status, /** @type {unknown} */ body = {}, headers = {}) =>
          resolve(
            new Response(JSON.stringify(body), {
              status,
              headers: { 'content-type': 'application/json', ...headers },
            }),
          ),
        fail: (/** @type {Error} */ err) => reject(err),
      };
      init.signal?.addEventListener('abort', () => {
        answered.add(call);
        reject(new DOMException('aborted', 'AbortError'));
      });
      calls.push(call);
    });
  /**
   * The requests not yet answered whose path ends with `suffix`.
   * @param {string} suffix
   */
  const pending = (suffix) => calls.filter((c) => c.path.endsWith(suffix) && !answered.has(c));
  /** @type {Set<Call>} */
  const answered = new Set();
  /**
   * The one open request ending with `suffix`, marked answered.
   * @param {string} suffix
   */
  const take = (suffix) => {
    const open = pending(suffix);
    assert.equal(open.length, 1, `one open ${suffix} request, not ${open.length}`);
    answered.add(open[0]);
    return open[0];
  };
  return { fetch: fetcher, calls, pending, take };
}

/**
 * A long-poll transport on a fake fetch and clock, with what it reported.
 * @param {Partial<ConstructorParameters<typeof LongPollTransport>[0]>} [options]
 */
function harness(options = {}) {
  const net = fakeFetch();
  const clock = { now: 1000 };
  /** @type {{ fn: () => void, ms: number }[]} */
  const timers = [];
  const transport = new LongPollTransport({
    base: BASE,
    fetch: net.fetch,
    now: () => clock.now,
    setTimeout: (fn, ms) => timers.push({ fn, ms }),
    clearTimeout: () => {},
    ...options,
  });
  /** @type {any[]} */
  const messages = [];
  /** @type {{ code: number, reason: string }[]} */
  const closes = [];
  /** @type {number[]} */
  const rtts = [];
  let opened = 0;
  transport.connect({
    open: () => (opened += 1),
    message: (msg) => messages.push(msg),
    close: (code, reason) => closes.push({ code, reason }),
    rtt: (ms) => rtts.push(ms),
  });
  return { transport, net, clock, timers, messages, closes, rtts, opened: () => opened };
}

/** A harness already past the join. */
async function joined(options = {}) {
  const h = harness(options);
  await settle();
  h.transport.send({ Hello: { protocol: 1, name: 'Ada', room: null, resume: null } });
  h.net.take('/api/rooms/main/join').respond(200, JOINED);
  await settle();
  return h;
}

const SNAPSHOT_FULL = readJson('server_snapshot_full.json').Snapshot;
const SNAPSHOT_DELTA = readJson('server_snapshot_delta.json').Snapshot;

test('the page URL picks the transport', () => {
  assert.equal(transportMode(''), 'auto');
  assert.equal(transportMode('?transport=longpoll'), 'longpoll');
  assert.equal(transportMode('?room=x&transport=websocket'), 'websocket');
  assert.equal(transportMode('?transport=LongPoll'), 'longpoll');
  assert.equal(transportMode('?transport=carrier-pigeon'), 'auto');
});

test('fallback rule: only a WebSocket that never reached the game falls back', () => {
  const fresh = { welcomed: false, answered: false };
  assert.equal(webSocketTrouble({ mode: 'auto', event: 'close', ...fresh }), 'longpoll', 'error/close before open');
  assert.equal(webSocketTrouble({ mode: 'auto', event: 'timeout', ...fresh }), 'longpoll', 'no Welcome in time');
  assert.equal(webSocketTrouble({ mode: 'websocket', event: 'close', ...fresh }), 'disconnected', 'forced WebSocket');
  assert.equal(webSocketTrouble({ mode: 'websocket', event: 'timeout', ...fresh }), 'wait');
  const established = { welcomed: true, answered: true };
  assert.equal(webSocketTrouble({ mode: 'auto', event: 'close', ...established }), 'disconnected', 'never after Welcome');
  assert.equal(webSocketTrouble({ mode: 'auto', event: 'timeout', ...established }), 'wait');
  const refused = { welcomed: false, answered: true };
  assert.equal(webSocketTrouble({ mode: 'auto', event: 'close', ...refused }), 'disconnected', 'the server said no');
  assert.equal(webSocketTrouble({ mode: 'auto', event: 'timeout', ...refused }), 'wait');
  // A reconnect on a page whose WebSocket played before: the node is gone,
  // not the WebSocket (issue 16).
  const again = { ...fresh, worked: true };
  assert.equal(webSocketTrouble({ mode: 'auto', event: 'close', ...again }), 'disconnected', 'a reconnect after a Welcome');
  assert.equal(webSocketTrouble({ mode: 'auto', event: 'timeout', ...again }), 'wait');
});

test('a join answer is the Welcome the binary decoder gives', () => {
  assert.deepEqual(bytesFromHex('00ff10'.padEnd(32, '0')), [0, 255, 16, ...new Array(13).fill(0)]);
  assert.throws(() => bytesFromHex('abc'), TypeError);
  assert.deepEqual(welcomeFromJoin(JOINED), decodeServer(readBytes('server_welcome.bin')));
  assert.throws(() => welcomeFromJoin({ ...JOINED, ship: -1 }), { name: 'AnswerError' });
  assert.throws(() => welcomeFromJoin({ ...JOINED, resume: 'abc' }), { name: 'AnswerError' });
});

test('open, then Hello joins the room and the answer becomes Welcome', async () => {
  const h = harness();
  assert.equal(h.opened(), 0, 'open comes after connect returns');
  await settle();
  assert.equal(h.opened(), 1);
  h.transport.send({ Hello: { protocol: 1, name: 'Ada', room: 'arena-2', resume: null } });
  h.transport.send({ Hello: { protocol: 1, name: 'Ada', room: 'arena-2', resume: null } });
  const join = h.net.take('/api/rooms/arena-2/join');
  assert.equal(h.net.calls.length, 1, 'one join for a repeated Hello');
  assert.equal(join.url, `${BASE}/api/rooms/arena-2/join`);
  assert.equal(join.init.method, 'POST');
  assert.deepEqual(join.body, { name: 'Ada' });
  join.respond(200, { ...JOINED, room: 'arena-2' });
  await settle();
  assert.deepEqual(h.messages, [{ Welcome: { ...WELCOME, room: 'arena-2' } }]);
  const poll = h.net.take(`/api/sessions/${JOINED.token}/state`);
  assert.equal(poll.query.get('after'), null, 'nothing held yet: no after');
  assert.equal(poll.query.get('timeout'), '25');
});

test('a seat ticket goes with the join, and the answer’s node takes every later request', async () => {
  const h = harness({ seat: '5f0c9d2e8a7b4c3d2e1f0a9b8c7d6e5f' });
  await settle();
  h.transport.send({ Hello: { protocol: 1, name: 'Ada', room: 'arena-2', resume: null } });
  const join = h.net.take('/api/rooms/arena-2/join');
  assert.equal(join.url, `${BASE}/api/rooms/arena-2/join`, 'the join goes where matchmaking said');
  assert.deepEqual(join.body, { name: 'Ada', seat: '5f0c9d2e8a7b4c3d2e1f0a9b8c7d6e5f' });
  join.respond(200, { ...JOINED, room: 'arena-2', node_url: 'http://lb.test/node/b/' });
  await settle();
  assert.equal(h.net.take('/state').url.split('?')[0], `http://lb.test/node/b/api/sessions/${JOINED.token}/state`);
  h.transport.send('Leave');
  assert.equal(h.net.take('/leave').url, `http://lb.test/node/b/api/sessions/${JOINED.token}/leave`);

  // An answer without a usable node_url leaves the base as it was.
  const plain = harness();
  await settle();
  plain.transport.send({ Hello: { protocol: 1, name: 'Bo', room: null, resume: null } });
  plain.net.take('/join').respond(200, { ...JOINED, node_url: 'javascript:alert(1)' });
  await settle();
  assert.ok(plain.net.take('/state').url.startsWith(`${BASE}/api/`));
});

test('a private room’s invite code goes with the join, as in the golden body', async () => {
  const golden = readJson('http_join_body_invite.json');
  const h = harness({ invite: golden.invite });
  await settle();
  h.transport.send({ Hello: { protocol: 1, name: golden.name, room: 'p-3f9a0c1d2e4b5a6c', resume: null } });
  assert.deepEqual(h.net.take('/api/rooms/p-3f9a0c1d2e4b5a6c/join').body, golden);
});

test('a signed player token goes with the join, as in the golden body', async () => {
  const golden = readJson('http_join_body_token.json');
  const h = harness();
  await settle();
  h.transport.send({
    Hello: { protocol: 1, name: golden.name, room: 'arena-1', resume: null, player: null, token: golden.token },
  });
  assert.deepEqual(h.net.take('/api/rooms/arena-1/join').body, golden);
});

test('a handed-over room: the state poll says where (Moved), and the join there takes the ship back with the resume token', async () => {
  const moved = readJson('http_error_moved.json');
  const h = await joined();
  h.net.take('/state').respond(410, moved);
  await settle();
  assert.deepEqual(h.messages.at(-1), {
    Moved: { room: JOINED.room, node: '', node_url: moved.node_url, ws_url: '' },
  });
  assert.deepEqual(h.closes, [{ code: CloseCode.GoingAway, reason: 'moved' }]);

  // The page starts again at the node's base with the stored token.
  const golden = readJson('http_join_body_resume.json');
  const back = harness({ base: moved.node_url });
  await settle();
  back.transport.send({ Hello: { protocol: 1, name: golden.name, room: 'main', resume: bytesFromHex(golden.resume) } });
  const join = back.net.take('/api/rooms/main/join');
  assert.ok(join.url.startsWith(`${moved.node_url}/api/`), join.url);
  assert.deepEqual(join.body, golden);
  join.respond(200, readJson('http_join_answer_resumed.json'));
  await settle();
  assert.equal(back.messages[0].Welcome.resumed, true);
  assert.equal(back.messages[0].Welcome.ship, JOINED.ship);
});

test('a seat ticket is for a new ship: the join sends no resume token with it', async () => {
  const h = harness({ seat: '5f0c9d2e8a7b4c3d2e1f0a9b8c7d6e5f' });
  await settle();
  h.transport.send({ Hello: { protocol: 1, name: 'Ada', room: 'main', resume: bytesFromHex(JOINED.resume) } });
  assert.deepEqual(h.net.take('/api/rooms/main/join').body, readJson('http_join_body_seat.json'));
});

test('a refused join delivers the Error, then closes', async () => {
  const h = harness();
  await settle();
  h.transport.send({ Hello: { protocol: 1, name: 'Ada', room: null, resume: null } });
  h.net
    .take('/api/rooms/main/join')
    .respond(503, readJson('http_error.json'), { 'retry-after': '5' });
  await settle();
  assert.deepEqual(h.messages, [{ Error: { code: 'RoomFull', message: 'room main is full (64 players)' } }]);
  assert.deepEqual(h.closes, [{ code: CloseCode.TryAgainLater, reason: 'room main is full (64 players)' }]);
  assert.equal(h.net.calls.length, 1);
});

test('state polls: snapshots become Snapshot messages, after follows the tick held, null re-polls', async () => {
  const h = await joined();
  h.net.take('/state').respond(200, { snapshot: SNAPSHOT_FULL });
  await settle();
  assert.deepEqual(h.messages[1], { Snapshot: SNAPSHOT_FULL });
  assert.deepEqual(h.messages[1], readJson('server_snapshot_full.json'), 'same as the golden frame decodes to');

  let poll = h.net.take('/state');
  assert.equal(poll.query.get('after'), '1235');
  poll.respond(200, { snapshot: null });
  await settle();
  assert.equal(h.messages.length, 2);
  poll = h.net.take('/state');
  assert.equal(poll.query.get('after'), '1235', 'a timeout polls again from the same tick');
  poll.respond(200, { snapshot: SNAPSHOT_DELTA });
  await settle();
  assert.deepEqual(h.messages[2], { Snapshot: SNAPSHOT_DELTA });
  assert.equal(h.net.take('/state').query.get('after'), '1237');
  assert.deepEqual(h.closes, []);
});

test('the golden state answer is handed on as the binary decoder gives it', async () => {
  const h = await joined();
  h.net.take('/state').respond(200, readJson('http_state_answer.json'));
  await settle();
  assert.deepEqual(h.messages[1], decodeServer(readBytes('server_snapshot_delta.bin')));
  h.net.take('/state').respond(200, readJson('http_state_timeout.json'));
  await settle();
  assert.equal(h.messages.length, 2, 'a timeout delivers nothing');
  h.net.take('/state').respond(200, readJson('http_state_closed.json'));
  await settle();
  assert.deepEqual(h.closes, [{ code: CloseCode.GoingAway, reason: 'server shutting down' }]);
});

test('a long-poll notice is delivered as the WebSocket Notice, then polling goes on', async () => {
  const h = await joined();
  h.net.take('/state').respond(200, readJson('http_state_notice.json'));
  await settle();
  assert.deepEqual(h.messages.at(-1), decodeServer(readBytes('server_notice.bin')));
  assert.ok(h.net.take('/state'), 'the next poll goes out');
  assert.deepEqual(h.closes, []);
});

test('after is whatever the holder says it holds', async () => {
  /** @type {number | null} */
  let held = null;
  const h = await joined({ holding: () => held });
  h.net.take('/state').respond(200, { snapshot: SNAPSHOT_FULL });
  await settle();
  const poll = h.net.take('/state');
  assert.equal(poll.query.get('after'), null, 'the holder could not apply it: ask for a full one');
  held = 1235;
  poll.respond(200, { snapshot: null });
  await settle();
  assert.equal(h.net.take('/state').query.get('after'), '1235');
});

test('the same GameSession logic runs over long polling', async () => {
  const net = fakeFetch();
  /** @type {LongPollTransport} */
  const transport = new LongPollTransport({
    base: BASE,
    fetch: net.fetch,
    holding: () => session.view.ack,
    now: () => 0,
  });
  const session = new GameSession({ name: 'Ada', send: (msg) => transport.send(msg), transport: 'longpoll', now: () => 0 });
  /** @type {number[]} */
  const closes = [];
  transport.connect({
    open: () => session.opened(),
    message: (msg) => session.handle(msg),
    close: (code) => closes.push(code),
    rtt: (ms) => session.measured(ms),
  });
  await settle();
  net.take('/api/rooms/main/join').respond(200, JOINED);
  await settle();
  assert.equal(session.state.phase, 'playing');
  assert.equal(session.state.transport, 'longpoll');
  assert.deepEqual(session.resume, WELCOME.resume);

  net.take('/state').respond(200, { snapshot: SNAPSHOT_FULL });
  await settle();
  assert.equal(session.state.tick, 1235);
  assert.equal(session.state.score, 300);
  const poll = net.take('/state');
  assert.equal(poll.query.get('after'), '1235');
  assert.equal(session.sendInput(8, 64), true);
  assert.deepEqual(net.take('/input').body, { inputs: [{ seq: 1, ack: 1235, buttons: 8, aim: 64, view: { tick: 1235, frac: 0 } }] });

  poll.respond(200, { snapshot: SNAPSHOT_DELTA });
  assert.equal(net.pending('/state').length, 0);
  await settle();
  assert.equal(session.state.tick, 1237);
  assert.deepEqual(session.state.feed.map((l) => l.text), ['Grace joined', '#2 left', 'Ada ✕ Bot 1']);
  assert.equal(session.state.seq, 301);
  assert.equal(net.take('/state').query.get('after'), '1237');
  assert.deepEqual(closes, []);
});

test('410 on the state poll closes with the server’s reason and stops polling', async () => {
  const h = await joined();
  h.net
    .take('/state')
    .respond(410, { error: 'session resumed by another connection', code: 'session_replaced' });
  await settle();
  assert.deepEqual(h.closes, [{ code: CloseCode.SessionReplaced, reason: 'session resumed by another connection' }]);
  assert.equal(h.net.pending('/state').length, 0);
  h.transport.send({ Input: { seq: 1, ack: null, buttons: 0, aim: 0, view: null } });
  assert.equal(h.net.pending('/input').length, 0, 'nothing is sent after the close');
  h.transport.close();
  assert.equal(h.closes.length, 1, 'close is reported once');
});

test('a closing server ends the session', async () => {
  const h = await joined();
  h.net.take('/state').respond(200, { snapshot: null, closed: 'server shutting down' });
  await settle();
  assert.deepEqual(h.closes, [{ code: CloseCode.GoingAway, reason: 'server shutting down' }]);
});

test('a malformed snapshot is a protocol error', async () => {
  const h = await joined();
  h.net.take('/state').respond(200, { snapshot: { last_input: 0, body: { tick: 'soon' } } });
  await settle();
  assert.equal(h.closes.length, 1);
  assert.equal(h.closes[0].code, CloseCode.ProtocolError);
  assert.equal(h.messages.length, 1, 'only the Welcome');
});

test('failed polls retry with a backoff, then give up', async () => {
  const h = await joined();
  h.net.take('/state').fail(new TypeError('network down'));
  await settle();
  assert.equal(h.timers.length, 1);
  assert.equal(h.timers[0].ms, 500);
  h.timers[0].fn();
  await settle();
  h.net
    .take('/state')
    .respond(503, { error: 'too many pending polls; retry shortly', code: 'poll_limit' }, { 'retry-after': '1' });
  await settle();
  assert.equal(h.timers[1].ms, 1000, 'Retry-After');
  h.timers[1].fn();
  await settle();
  h.net.take('/state').respond(200, { snapshot: null });
  await settle();
  // A good answer resets the count: it takes six failures in a row to give up.
  for (let i = 0; i < 6; i++) {
    assert.deepEqual(h.closes, []);
    h.net.take('/state').fail(new TypeError('network down'));
    await settle();
    h.timers[h.timers.length - 1].fn();
    await settle();
  }
  assert.deepEqual(h.timers.slice(2).map((t) => t.ms), [500, 1000, 2000, 4000, 4000]);
  assert.equal(h.closes.length, 1);
  assert.equal(h.closes[0].code, 1006);
});

test('inputs: one POST in flight, the rest batched in order with the newest ack', async () => {
  let held = 1235;
  const h = await joined({ holding: () => held });
  const input = (/** @type {number} */ seq) => ({ Input: { seq, ack: 1200, buttons: seq % 32, aim: seq, view: null } });

  h.transport.send(input(1));
  h.transport.send(input(2));
  h.transport.send(input(3));
  const first = h.net.take('/input');
  assert.equal(first.url, `${JOINED.node_url}/api/sessions/${JOINED.token}/input`, 'to the session’s node');
  assert.equal(first.init.method, 'POST');
  assert.deepEqual(first.body, { inputs: [{ seq: 1, ack: 1235, buttons: 1, aim: 1, view: null }] }, 'the ack is the tick held now');
  assert.equal(h.net.pending('/input').length, 0, 'one POST in flight');

  held = 1240;
  h.clock.now += 37;
  first.respond(202, { accepted: 1 });
  await settle();
  assert.deepEqual(h.rtts, [37], 'an input POST is the round trip');
  const second = h.net.take('/input');
  assert.deepEqual(
    second.body.inputs.map((/** @type {any} */ i) => [i.seq, i.ack]),
    [[2, 1240], [3, 1240]],
  );

  // More than a batch while one is in flight: the oldest go.
  for (let seq = 4; seq < 4 + MAX_INPUTS_PER_REQUEST + 8; seq++) h.transport.send(input(seq));
  second.respond(202, { accepted: 2 });
  await settle();
  const third = h.net.take('/input');
  const seqs = third.body.inputs.map((/** @type {any} */ i) => i.seq);
  assert.equal(seqs.length, MAX_INPUTS_PER_REQUEST);
  assert.deepEqual(seqs, Array.from({ length: MAX_INPUTS_PER_REQUEST }, (_, i) => 12 + i));

  // A lost POST loses its batch, and the next one goes.
  h.transport.send(input(100));
  third.fail(new TypeError('network down'));
  await settle();
  assert.deepEqual(h.net.take('/input').body.inputs.map((/** @type {any} */ i) => i.seq), [100]);
  assert.deepEqual(h.closes, []);
});

test('429 pauses the input POSTs for Retry-After', async () => {
  const h = await joined();
  h.transport.send({ Input: { seq: 1, ack: null, buttons: 0, aim: 0, view: null } });
  h.net.take('/input').respond(429, { error: 'input flood', code: 'input_flood' }, { 'retry-after': '1' });
  await settle();
  h.transport.send({ Input: { seq: 2, ack: null, buttons: 0, aim: 0, view: null } });
  h.transport.send({ Input: { seq: 3, ack: null, buttons: 0, aim: 0, view: null } });
  assert.equal(h.net.pending('/input').length, 0);
  const resume = h.timers.find((t) => t.ms === 1000);
  assert.ok(resume, 'a timer ends the pause');
  h.clock.now += 1000;
  resume.fn();
  assert.deepEqual(h.net.take('/input').body.inputs.map((/** @type {any} */ i) => i.seq), [2, 3]);
});

test('410 on an input POST closes too', async () => {
  const h = await joined();
  h.transport.send({ Input: { seq: 1, ack: null, buttons: 0, aim: 0, view: null } });
  h.net
    .take('/input')
    .respond(410, { error: 'session expired or ended; join again', code: 'session_expired' });
  await settle();
  assert.deepEqual(h.closes, [{ code: CloseCode.IdleTimeout, reason: 'session expired or ended; join again' }]);
  assert.equal(h.net.pending('/state').length, 0, 'the open poll was aborted');
});

test('Ping is not sent; Leave posts leave and closes', async () => {
  const h = await joined();
  const before = h.net.calls.length;
  h.transport.send({ Ping: { nonce: 1 } });
  assert.equal(h.net.calls.length, before);
  h.transport.send('Leave');
  const leave = h.net.take(`/api/sessions/${JOINED.token}/leave`);
  assert.equal(leave.init.method, 'POST');
  assert.deepEqual(h.closes, [{ code: CloseCode.Normal, reason: 'left' }]);
  assert.equal(h.net.pending('/state').length, 0);
});

test('abandon stops without a word', async () => {
  const h = await joined();
  h.transport.abandon();
  await settle();
  assert.deepEqual(h.closes, []);
  assert.equal(h.net.pending('/state').length, 0);
});

test('the WebSocket transport decodes frames and encodes messages', () => {
  /** A stand-in for the browser's WebSocket. */
  class FakeSocket extends EventTarget {
    static OPEN = 1;
    /** @type {FakeSocket[]} */
    static made = [];
    /** @param {string} url */
    constructor(url) {
      super();
      this.url = url;
      this.readyState = 0;
      this.binaryType = 'blob';
      /** @type {Uint8Array[]} */
      this.sent = [];
      FakeSocket.made.push(this);
    }
    /** @param {Uint8Array} bytes */
    send(bytes) {
      this.sent.push(bytes);
    }
    close(code = 1005, reason = '') {
      this.readyState = 3;
      this.dispatchEvent(Object.assign(new Event('close'), { code, reason }));
    }
  }
  const transport = new WebSocketTransport('ws://game.test/ws', {
    WebSocket: /** @type {any} */ (FakeSocket),
  });
  /** @type {string[]} */
  const log = [];
  transport.connect({
    open: () => log.push('open'),
    message: (msg) => log.push(Object.keys(msg)[0]),
    close: (code, reason) => log.push(`close ${code} ${reason}`),
  });
  const ws = FakeSocket.made[0];
  assert.equal(ws.url, 'ws://game.test/ws');
  assert.equal(ws.binaryType, 'arraybuffer');
  transport.send({ Ping: { nonce: 1 } });
  assert.equal(ws.sent.length, 0, 'nothing before open');
  ws.readyState = 1;
  ws.dispatchEvent(new Event('open'));
  transport.send({ Ping: { nonce: 7 } });
  assert.deepEqual(decodeClient(ws.sent[0]), { Ping: { nonce: 7 } });
  ws.dispatchEvent(Object.assign(new Event('message'), { data: readBytes('server_welcome.bin').buffer }));
  ws.dispatchEvent(Object.assign(new Event('message'), { data: 'text is not the protocol' }));
  ws.dispatchEvent(Object.assign(new Event('message'), { data: encodeServer({ Pong: { nonce: 7, tick: 1 } }) }));
  transport.close(1000, 'leave');
  assert.deepEqual(log, ['open', 'Welcome', 'Pong', 'close 1000 leave']);

  // Abandoned (the fallback): its close is not reported.
  const quiet = new WebSocketTransport('ws://game.test/ws', { WebSocket: /** @type {any} */ (FakeSocket) });
  quiet.connect({ open: () => log.push('open 2'), message: () => {}, close: () => log.push('close 2') });
  quiet.abandon();
  assert.equal(log.length, 4);
});

import { reconnectDelay, RECONNECT_DELAYS_MS } from '../src/transport.js';

test('dropped games reconnect within the resume grace; deliberate ends do not', () => {
  for (const lost of [1006, 1011, 4001]) {
    assert.equal(reconnectDelay(lost, 0), RECONNECT_DELAYS_MS[0], `code ${lost}`);
    assert.equal(reconnectDelay(lost, RECONNECT_DELAYS_MS.length), null, 'gives up after the last delay');
  }
  for (const final of [1000, 1001, 1002, 1003, 1008, 1009, 1013, 4000]) {
    assert.equal(reconnectDelay(final, 0), null, `code ${final}`);
  }
  const total = RECONNECT_DELAYS_MS.reduce((a, b) => a + b, 0);
  assert.ok(total < 15_000, 'all attempts fit in the 15 s resume grace');
});
