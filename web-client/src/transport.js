// @ts-check
/**
 * @file How a {@link import('./session.js').GameSession} reaches the server:
 * the binary WebSocket, or long polling over plain HTTP for networks where
 * the WebSocket cannot connect. Both deliver the decoded server messages the
 * binary decoder produces (`{Welcome}`, `{Snapshot}`, `{Error}`, ...) and take
 * client messages (`{Hello}`, `{Input}`, `{Ping}`, `'Leave'`), so the session
 * cannot tell them apart.
 *
 * Long polling maps the protocol onto the JSON API of `server/src/net/longpoll/`:
 * - Hello → `POST /api/rooms/{room}/join` (with the seat ticket matchmaking
 *   gave, if any); its answer becomes the Welcome, and its `node_url` the
 *   base of every later request (the node holding the session).
 * - Snapshots ← `GET /api/sessions/{token}/state?after=TICK`, polled again as
 *   soon as each answer is handed on. `after` is the tick the client holds
 *   (its ack), so the server answers with a delta against exactly that tick.
 * - Inputs → `POST /api/sessions/{token}/input`, batched: one POST in flight,
 *   the inputs made meanwhile queued (at most 32, oldest dropped) for the next.
 * - Leave → `POST /api/sessions/{token}/leave`.
 * - There is no Ping: the round trip of the input POSTs is the measured RTT.
 *
 * JSON answers are handed on as they are: the state answer's snapshot has
 * the shape the binary decoder produces (`http_state_answer.json` holds the
 * snapshot of `server_snapshot_delta.bin`, and the tests compare them), so
 * the session cannot tell the transports apart. An answer without the
 * fields the session relies on is a protocol error ({@link AnswerError}).
 * Refusals are read by their `code` ({@link import('./http.js')}), never by
 * their words.
 *
 * The page's fallback rule is the pure {@link webSocketTrouble}; nothing here
 * touches the DOM.
 */

import { DEFAULT_POLL_TIMEOUT_SECS, MAX_INPUTS_PER_REQUEST, errorOf, goneClose, joinRefusal } from './http.js';
import { decodeServer, encodeClient } from './codec.js';
import { CloseCode } from './protocol.js';
import { hexFromBytes } from './matchmaking.js';

/** @typedef {import('./protocol.js').ClientMsg} ClientMsg */
/** @typedef {import('./protocol.js').ServerMsg} ServerMsg */
/** @typedef {import('./protocol.js').Input} Input */
/** @typedef {import('./protocol.js').ErrorMsg} ErrorMsg */
/** @typedef {'websocket' | 'longpoll'} TransportKind */
/** @typedef {'auto' | TransportKind} TransportMode */

/**
 * What a transport tells its owner. `close` comes once and last; nothing
 * follows it.
 * @typedef {object} TransportHandlers
 * @property {() => void} open the transport can carry a Hello
 * @property {(msg: ServerMsg) => void} message one decoded server message
 * @property {(code: number, reason: string) => void} close
 * @property {(ms: number) => void} [rtt] a measured round trip, from
 *   transports without Ping/Pong
 */

/**
 * @typedef {object} Transport
 * @property {TransportKind} kind
 * @property {(handlers: TransportHandlers) => void} connect starts; call once
 * @property {(msg: ClientMsg) => void} send dropped when it cannot be carried
 * @property {(code?: number, reason?: string) => void} close ends it; the
 *   `close` handler still runs
 * @property {() => void} abandon ends it without calling any handler again
 */

/** Milliseconds a WebSocket has to bring a Welcome before the page falls back. */
export const FALLBACK_MS = 3000;

/** Close code of a connection lost without a close frame (as browsers report it). */
export const ABNORMAL_CLOSE = 1006;

/**
 * The transport the page URL asks for: `?transport=longpoll` or
 * `?transport=websocket` force one; anything else is `auto` (WebSocket first,
 * long polling if it cannot connect).
 * @param {string} search `location.search`
 * @returns {TransportMode}
 */
export function transportMode(search) {
  const asked = new URLSearchParams(search).get('transport')?.trim().toLowerCase();
  if (asked === 'longpoll' || asked === 'long-poll' || asked === 'polling') return 'longpoll';
  if (asked === 'websocket' || asked === 'ws') return 'websocket';
  return 'auto';
}

/**
 * The fallback rule: what the page does when its WebSocket closes, or has
 * brought no Welcome after {@link FALLBACK_MS}.
 *
 * - A socket that got a Welcome was established: never fall back; a close is
 *   a disconnect like any other.
 * - A socket on which the server spoke (an Error before closing: room full,
 *   bad name, ...) reached the game: long polling would be refused the same
 *   way, so that is a disconnect too.
 * - `?transport=websocket` never falls back.
 * - A page whose WebSocket carried a game before never falls back: WebSockets
 *   work from here, so a reconnect that cannot connect means the game's node
 *   is unreachable (it died); that is a disconnect, and the reconnect rules
 *   matchmake again (issue 16: a room lost with its node).
 * - Otherwise (error or close before open, a close with no word from the
 *   server, or no Welcome in time) the WebSocket cannot carry the game: use
 *   long polling.
 *
 * A timeout that does not fall back changes nothing: keep waiting.
 * @param {object} what
 * @param {TransportMode} what.mode
 * @param {'close' | 'timeout'} what.event
 * @param {boolean} what.welcomed a Welcome arrived on this socket
 * @param {boolean} what.answered any server message arrived on this socket
 * @param {boolean} [what.worked] a WebSocket of this page got a Welcome before
 * @returns {'longpoll' | 'disconnected' | 'wait'}
 */
export function webSocketTrouble({ mode, event, welcomed, answered, worked = false }) {
  const stay = event === 'timeout' ? 'wait' : 'disconnected';
  if (welcomed || answered || worked || mode === 'websocket') return stay;
  return 'longpoll';
}

/** Delays between reconnect attempts after a dropped game, in ms. Their sum
 * stays inside the server's resume grace (15 s), so the ship is still there. */
export const RECONNECT_DELAYS_MS = [500, 1000, 2000, 4000, 6000];

/**
 * Whether a game that ended with `code` should reconnect with its resume
 * token: yes when the connection was lost or timed out (the ship waits for a
 * resume); no when the end was deliberate or final: the player left (1000),
 * another connection took the session (4000), the server shut down (1001),
 * the client broke the protocol (1002, 1003, 1008, 1009: the seat is gone),
 * or the room was full (1013).
 * @param {number} code
 * @param {number} attempt reconnects already tried for this drop
 * @returns {number | null} delay before the next attempt, or null: stop
 */
export function reconnectDelay(code, attempt) {
  const final = [1000, 1001, 1002, 1003, 1008, 1009, 1013, 4000];
  if (final.includes(code) || attempt >= RECONNECT_DELAYS_MS.length) return null;
  return RECONNECT_DELAYS_MS[attempt];
}

// ---------------------------------------------------------------------------
// WebSocket

/** The binary protocol over one WebSocket. */
export class WebSocketTransport {
  /**
   * @param {string} url
   * @param {{ WebSocket?: typeof WebSocket }} [options] an injected constructor
   */
  constructor(url, { WebSocket: Socket = globalThis.WebSocket } = {}) {
    /** @type {'websocket'} */
    this.kind = 'websocket';
    this.url = url;
    this.Socket = Socket;
    /** @type {WebSocket | null} */
    this.ws = null;
    /** @type {TransportHandlers | null} */
    this.handlers = null;
  }

  /** @param {TransportHandlers} handlers */
  connect(handlers) {
    this.handlers = handlers;
    const ws = new this.Socket(this.url);
    this.ws = ws;
    ws.binaryType = 'arraybuffer';
    ws.addEventListener('open', () => this.handlers?.open());
    ws.addEventListener('message', (e) => {
      if (!this.handlers || typeof e.data === 'string') return; // the protocol is binary only
      let msg;
      try {
        msg = decodeServer(e.data);
      } catch (err) {
        console.warn('skirmish: undecodable frame from the server', err);
        ws.close();
        return;
      }
      this.handlers.message(msg);
    });
    ws.addEventListener('close', (e) => {
      const handlers = this.handlers;
      this.handlers = null;
      handlers?.close(e.code, e.reason);
    });
  }

  /** @param {ClientMsg} msg */
  send(msg) {
    if (this.ws && this.ws.readyState === this.Socket.OPEN) this.ws.send(encodeClient(msg));
  }

  /**
   * @param {number} [code]
   * @param {string} [reason]
   */
  close(code, reason) {
    this.ws?.close(code, reason);
  }

  abandon() {
    this.handlers = null;
    this.ws?.close();
  }
}

// ---------------------------------------------------------------------------
// Long polling

/** Milliseconds between retries of a failed state poll; then give up. */
const RETRY_MS = [500, 1000, 2000, 4000, 4000];

/**
 * A ResumeToken (16 numbers) from 32 hex digits.
 * @param {string} hex
 * @returns {number[]}
 */
export function bytesFromHex(hex) {
  if (typeof hex !== 'string' || !/^[0-9a-fA-F]{32}$/.test(hex)) {
    throw new TypeError(`resume token ${JSON.stringify(hex)} is not 32 hex digits`);
  }
  const bytes = [];
  for (let i = 0; i < 32; i += 2) bytes.push(parseInt(hex.slice(i, i + 2), 16));
  return bytes;
}

/** A JSON answer without the fields the session relies on. */
export class AnswerError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'AnswerError';
  }
}

/** @param {unknown} n */
const isCount = (n) => Number.isInteger(n) && /** @type {number} */ (n) >= 0;

/**
 * The Welcome a join answer (`http_join_answer.json`) stands for. Long-poll
 * joins never resume.
 * @param {any} joined the `POST /api/rooms/{id}/join` answer
 * @returns {ServerMsg}
 */
export function welcomeFromJoin(joined) {
  const ok =
    joined &&
    typeof joined.token === 'string' &&
    isCount(joined.ship) &&
    typeof joined.room === 'string' &&
    isCount(joined.tick) &&
    joined.rules &&
    isCount(joined.rules.tick_hz);
  if (!ok) throw new AnswerError('the join answer lacks token, ship, room, tick or rules');
  let resume;
  try {
    resume = bytesFromHex(joined.resume);
  } catch (err) {
    throw new AnswerError(String(err));
  }
  return {
    Welcome: {
      ship: joined.ship,
      room: joined.room,
      tick: joined.tick,
      resume,
      resumed: joined.resumed === true,
      rules: joined.rules,
      player: joined.player ?? null,
    },
  };
}

const SNAPSHOT_LISTS = ['spawned', 'changed', 'removed', 'shots', 'shots_gone', 'events'];

/**
 * The Snapshot message a state answer's `snapshot` is. Checked only for
 * what the session relies on: the tick, the baseline and the lists.
 * @param {any} snapshot
 * @returns {ServerMsg}
 */
export function snapshotFromAnswer(snapshot) {
  const body = snapshot?.body;
  const ok =
    isCount(snapshot?.last_input) &&
    isCount(body?.tick) &&
    (body.baseline === null || isCount(body.baseline)) &&
    (body.round === null || typeof body.round === 'object') &&
    SNAPSHOT_LISTS.every((list) => Array.isArray(body[list]));
  if (!ok) throw new AnswerError('malformed snapshot in the state answer');
  return { Snapshot: snapshot };
}

/**
 * Milliseconds a `Retry-After` header asks for, or `fallback`.
 * @param {Response} res
 * @param {number} fallback
 */
function retryAfterMs(res, fallback) {
  const secs = Number(res.headers?.get?.('retry-after'));
  return Number.isFinite(secs) && secs > 0 ? secs * 1000 : fallback;
}

/** The game over long polling (`server/src/net/longpoll/`). */
export class LongPollTransport {
  /**
   * @param {object} [options]
   * @param {string} [options.base] origin and path prefix of `/api`; `''` on
   *   the page. The join answer's `node_url` replaces it: the session's
   *   node, where its later requests go directly
   * @param {string | null} [options.seat] a seat ticket from matchmaking,
   *   spent by the join
   * @param {string | null} [options.invite] a private room's invite code,
   *   shown to the join
   * @param {typeof fetch} [options.fetch]
   * @param {() => number | null} [options.holding] the tick the client holds
   *   (its ack: `WorldView.ack`); default the newest snapshot handed on
   * @param {() => number} [options.now] milliseconds
   * @param {number} [options.pollTimeoutSecs]
   * @param {(fn: () => void, ms: number) => unknown} [options.setTimeout]
   * @param {(id: any) => void} [options.clearTimeout]
   */
  constructor({
    base = '',
    seat = null,
    invite = null,
    fetch: fetcher = (input, init) => globalThis.fetch(input, init),
    holding,
    now = () => performance.now(),
    pollTimeoutSecs = DEFAULT_POLL_TIMEOUT_SECS,
    setTimeout: later = (fn, ms) => globalThis.setTimeout(fn, ms),
    clearTimeout: cancel = (id) => globalThis.clearTimeout(id),
  } = {}) {
    /** @type {'longpoll'} */
    this.kind = 'longpoll';
    this.base = base;
    this.seat = seat;
    this.invite = invite;
    this.fetch = fetcher;
    this.holding = holding ?? (() => this.newest);
    this.now = now;
    this.pollTimeoutSecs = pollTimeoutSecs;
    this.later = later;
    this.cancel = cancel;
    /** @type {TransportHandlers | null} */
    this.handlers = null;
    /** Session token from the join answer. */
    this.token = /** @type {string | null} */ (null);
    /** The room the join answer named: where a `moved` close says the room went. */
    this.room = /** @type {string | null} */ (null);
    this.joining = false;
    this.closed = false;
    /** Tick of the newest snapshot handed on. */
    this.newest = /** @type {number | null} */ (null);
    /** @type {Input[]} inputs waiting for the next POST, oldest first */
    this.queue = [];
    this.inFlight = false;
    /** No input POST before this (`now()`), after a 429. */
    this.pausedUntil = 0;
    /** @type {unknown} the timer that ends a pause of the input POSTs */
    this.pauseTimer = null;
    /** @type {{ id: unknown, resolve: () => void } | null} the wait before a state poll's retry */
    this.retryWait = null;
    this.polls = new AbortController();
  }

  /** @param {TransportHandlers} handlers */
  connect(handlers) {
    this.handlers = handlers;
    // There is nothing to open: say so as a socket would, after this call.
    queueMicrotask(() => {
      if (!this.closed) this.handlers?.open();
    });
  }

  /** @param {string} path */
  url(path) {
    return `${this.base}/api/${path}`;
  }

  /** @param {ClientMsg} msg */
  send(msg) {
    if (this.closed) return;
    if (msg === 'Leave') {
      this.leave();
    } else if ('Hello' in msg) {
      if (!this.joining && !this.token) {
        void this.join(msg.Hello.name, msg.Hello.room, msg.Hello.player, msg.Hello.token, msg.Hello.resume);
      }
    } else if ('Input' in msg) {
      if (!this.token) return;
      this.queue.push(msg.Input);
      if (this.queue.length > MAX_INPUTS_PER_REQUEST) {
        this.queue.splice(0, this.queue.length - MAX_INPUTS_PER_REQUEST);
      }
      this.flush();
    }
    // Ping: long polling has none; input POSTs measure the round trip.
  }

  /**
   * Ends the transport: stops polling and reports the close once.
   * @param {number} [code]
   * @param {string} [reason]
   */
  close(code = CloseCode.Normal, reason = '') {
    if (this.closed) return;
    this.closed = true;
    this.polls.abort();
    if (this.pauseTimer !== null) this.cancel(this.pauseTimer);
    this.pauseTimer = null;
    if (this.retryWait) {
      this.cancel(this.retryWait.id);
      this.retryWait.resolve();
    }
    this.queue = [];
    const handlers = this.handlers;
    this.handlers = null;
    handlers?.close(code, reason);
  }

  abandon() {
    this.handlers = null;
    this.close();
  }

  /**
   * @param {string} name
   * @param {string | null} room
   * @param {import('./protocol.js').PlayerKey | null} [player]
   * @param {string | null} [playerToken] a signed player token (`--auth-jwt-key`)
   * @param {number[] | null} [resume] a resume token: take back that ship
   *   (after a handover's `moved`); not with a seat, which is for a new ship
   */
  async join(name, room, player = null, playerToken = null, resume = null) {
    this.joining = true;
    let res;
    try {
      res = await this.fetch(this.url(`rooms/${encodeURIComponent(room || 'main')}/join`), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          name,
          ...(this.seat ? { seat: this.seat } : {}),
          ...(this.invite ? { invite: this.invite } : {}),
          ...(player ? { player } : {}),
          ...(playerToken ? { token: playerToken } : {}),
          ...(resume && !this.seat ? { resume: hexFromBytes(resume) } : {}),
        }),
        signal: this.polls.signal,
      });
    } catch (err) {
      this.close(ABNORMAL_CLOSE, `join failed: ${String(err)}`);
      return;
    }
    if (this.closed) return;
    if (!res.ok) {
      const { code, message } = await errorOf(res);
      if (this.closed) return;
      const refusal = joinRefusal(code, message);
      if (refusal.error) this.deliver({ Error: refusal.error });
      this.close(refusal.code, message);
      return;
    }
    let welcome;
    try {
      const joined = await res.json();
      if (this.closed) return;
      welcome = welcomeFromJoin(joined);
      this.token = String(joined.token);
      this.room = welcome.Welcome.room;
      // The node holding the session: later requests go there directly
      // rather than through whichever node the join reached.
      if (typeof joined.node_url === 'string' && /^https?:\/\//.test(joined.node_url)) {
        this.base = joined.node_url.replace(/\/+$/, '');
      }
    } catch (err) {
      this.close(CloseCode.ProtocolError, `bad join answer: ${String(err)}`);
      return;
    }
    this.joining = false;
    this.deliver(welcome);
    void this.pollLoop();
  }

  /** @param {ServerMsg} msg */
  deliver(msg) {
    if (this.closed) return;
    if (typeof msg === 'object' && 'Snapshot' in msg) {
      this.newest = Math.max(this.newest ?? 0, msg.Snapshot.body.tick);
    }
    this.handlers?.message(msg);
  }

  /** Polls the state until the transport closes: one request at a time. */
  async pollLoop() {
    let failures = 0;
    while (!this.closed) {
      const after = this.holding();
      const query = `timeout=${this.pollTimeoutSecs}` + (after === null ? '' : `&after=${after}`);
      /** @type {number} milliseconds to wait before retrying; 0: no failure */
      let retry = 0;
      try {
        const res = await this.fetch(this.url(`sessions/${this.token}/state?${query}`), {
          cache: 'no-store',
          signal: this.polls.signal,
        });
        if (this.closed) return;
        if (!res.ok) {
          const { code, message, nodeUrl } = await errorOf(res);
          if (this.closed) return;
          const gone = goneClose(code);
          if (gone !== null) {
            if (code === 'room_closed' && message === 'moved') {
              // A rolling deploy handed the room over: say where, as the
              // WebSocket's Moved does (no ws_url; the node's base, or the
              // page's when an older server names none), then close.
              this.deliver({ Moved: { room: this.room ?? '', node: '', node_url: nodeUrl ?? '', ws_url: '' } });
            }
            this.close(gone, message);
            return;
          }
          // Busy or failing (a poll limit, a proxy's 502): try again later.
          if (res.status !== 429 && res.status < 500) {
            this.close(CloseCode.ProtocolError, message);
            return;
          }
          retry = retryAfterMs(res, RETRY_MS[Math.min(failures, RETRY_MS.length - 1)]);
        } else {
          const answer = await res.json();
          if (this.closed) return;
          failures = 0;
          if (typeof answer.notice === 'string') {
            // An operator's message, as the WebSocket's Notice; no snapshot.
            this.deliver({ Notice: { text: answer.notice } });
          }
          if (answer.snapshot) {
            this.deliver(snapshotFromAnswer(answer.snapshot));
          } else if (answer.closed) {
            this.close(CloseCode.GoingAway, String(answer.closed));
            return;
          }
          // A null snapshot is a timeout: poll again.
        }
      } catch (err) {
        if (this.closed) return;
        if (err instanceof AnswerError) {
          this.close(CloseCode.ProtocolError, err.message);
          return;
        }
        retry = RETRY_MS[Math.min(failures, RETRY_MS.length - 1)];
      }
      if (retry > 0) {
        failures += 1;
        if (failures > RETRY_MS.length) {
          this.close(ABNORMAL_CLOSE, 'long polling: the server stopped answering');
          return;
        }
        await new Promise((resolve) => {
          const done = () => {
            this.retryWait = null;
            resolve(undefined);
          };
          this.retryWait = { id: this.later(done, retry), resolve: done };
        });
      }
    }
  }

  /**
   * Sends the queued inputs, unless a POST is in flight (its answer sends
   * the next batch) or the server asked to slow down. Every input carries
   * the tick held now: the ack means "the newest state I hold".
   */
  flush() {
    if (this.closed || this.inFlight || !this.token || this.queue.length === 0) return;
    const wait = this.pausedUntil - this.now();
    if (wait > 0) {
      if (this.pauseTimer === null) {
        this.pauseTimer = this.later(() => {
          this.pauseTimer = null;
          this.flush();
        }, wait);
      }
      return;
    }
    const ack = this.holding();
    const inputs = this.queue.splice(0, MAX_INPUTS_PER_REQUEST).map((input) => ({ ...input, ack }));
    this.inFlight = true;
    const sent = this.now();
    this.fetch(this.url(`sessions/${this.token}/input`), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs }),
    })
      .then(async (res) => {
        if (this.closed) return;
        if (res.ok) {
          this.handlers?.rtt?.(this.now() - sent);
          return;
        }
        const { code, message } = await errorOf(res);
        if (this.closed) return;
        const gone = goneClose(code);
        if (gone !== null) {
          this.close(gone, message);
        } else if (code === 'input_flood' || res.status === 429) {
          // The batch is lost, like inputs a flooded room drops.
          this.pausedUntil = this.now() + retryAfterMs(res, 1000);
        } else {
          console.warn(`skirmish: ${inputs.length} inputs refused: ${code ?? ''} ${message}`);
        }
      })
      .catch((err) => {
        // Lost on the way; the state poll notices a real outage.
        if (!this.closed) console.warn('skirmish: input POST failed', err);
      })
      .finally(() => {
        this.inFlight = false;
        this.flush();
      });
  }

  /** The player leaves: tell the server, stop everything. */
  leave() {
    if (this.token) {
      this.fetch(this.url(`sessions/${this.token}/leave`), { method: 'POST', keepalive: true }).catch(() => {});
    }
    this.close(CloseCode.Normal, 'left');
  }
}
