// @ts-check
/**
 * @file One player's session over any message transport: says Hello, keeps
 * what Welcome granted, feeds snapshots to the {@link WorldView}, builds
 * Inputs and Pings, and turns it all into a plain `state` object for the page
 * to draw and for browser tests to read (`window.skirmish.state`).
 *
 * It owns no socket, timer or DOM, and speaks decoded messages both ways: the
 * page calls `opened`, `handle` (or `receive` for a binary frame), `closed`,
 * `sendInput` and `sendPing`, and the `send` option carries client messages
 * to whichever transport is in use (`transport.js`), so the WebSocket and
 * long polling share every line of game logic and Node tests drive it with
 * arrays.
 */

import { decodeServer } from './codec.js';
import { closeCodeName, PROTOCOL_VERSION } from './protocol.js';
import { units } from './rules.js';
import { WorldView } from './snapshot.js';
import { resultLines } from './lobby.js';
import { Interpolator, Prediction, viewTime } from './prediction.js';

/** @typedef {import('./protocol.js').ClientMsg} ClientMsg */
/** @typedef {import('./protocol.js').ServerMsg} ServerMsg */
/** @typedef {import('./protocol.js').Rules} Rules */
/** @typedef {import('./protocol.js').GameEvent} GameEvent */
/** @typedef {import('./transport.js').TransportKind} TransportKind */

/**
 * A ship as the page shows it: positions in arena units.
 * @typedef {object} ShipView
 * @property {number} id
 * @property {string} name
 * @property {boolean} bot
 * @property {number} x
 * @property {number} y
 * @property {number} aim quantised
 * @property {number} hp
 * @property {number} score
 * @property {boolean} own
 */

/**
 * @typedef {object} FeedLine
 * @property {string} text
 * @property {number} at `now()` when it arrived
 */

/**
 * Everything the page shows, as plain data.
 * @typedef {object} SessionState
 * @property {'connecting' | 'joining' | 'playing' | 'closed'} phase
 * @property {TransportKind} transport how messages travel
 * @property {boolean} fallback long polling because the WebSocket could not connect
 * @property {boolean} connected the transport is open
 * @property {number | null} ship own ship id, from Welcome
 * @property {string | null} room
 * @property {Rules | null} rules
 * @property {number | null} tick newest snapshot tick
 * @property {ShipView[]} ships every ship, dead ones included (hp 0)
 * @property {number} score own score
 * @property {number} hp own hit points
 * @property {{ number: number, started: number, ends: number } | null} round
 * @property {number | null} timeLeft seconds left in the round
 * @property {number | null} rttMs newest round trip: a Ping's, or a long-poll input POST's
 * @property {number} seq newest input sequence sent
 * @property {number} lastInput newest input sequence the server applied
 * @property {{ x: number, y: number } | null} predicted own ship's predicted
 *   position in arena units (null before the first snapshot holding it)
 * @property {number} pendingInputs inputs sent and not yet applied by the server
 * @property {import('./camera.js').Rect | null} camera what the game's canvas
 *   shows, in arena units (set by the page as it draws; null before)
 * @property {Drawn | null} drawn the other ships as the page last drew them
 *   (set by the page as it draws; null before)
 * @property {import('./protocol.js').ViewTime | null} inputView the view time
 *   the newest Input carried (lag compensation judges its shot there)
 * @property {RoundResults | null} results the newest round's final standings
 * @property {boolean} resumed
 * @property {FeedLine[]} feed kill feed and notices, newest last
 * @property {{ code: string, message: string } | null} error the server's Error message
 * @property {{ code: number, name: string, reason: string } | null} close
 */

/**
 * One drawn frame's other ships, and the moment they show: what the player
 * aims at, for browser tests that aim like a player.
 * @typedef {object} Drawn
 * @property {number} at `now()` when the frame was drawn
 * @property {number | null} tick the (fractional) tick shown, `Interpolator.shownTick`
 * @property {import('./prediction.js').DrawnShip[]} ships positions in arena units
 */

/**
 * @typedef {object} RoundResults
 * @property {number} round
 * @property {import('./lobby.js').ResultLine[]} lines best first
 * @property {number} at `now()` when it arrived
 */

/** Lines kept in the kill feed. */
const FEED_LINES = 6;
/** How an operator's message (`Notice`) starts on the HUD's feed. */
export const SERVER_PREFIX = 'Server: ';
/** What the HUD says when the room moves to another server (a rolling deploy). */
export const MOVED_MESSAGE = 'Server: your match moved to a new server; rejoining…';
/** Pings awaiting a Pong; older ones are forgotten (their Pong was lost). */
const MAX_PENDING_PINGS = 8;

export class GameSession {
  /**
   * @param {object} options
   * @param {string} options.name
   * @param {string | null} [options.room] null: any public room
   * @param {number[] | null} [options.resume] token from an earlier Welcome
   * @param {number} [options.seq] last sequence sent on an earlier socket, so a
   *   resumed ship's server, which ignores sequences already applied, takes
   *   the new inputs
   * @param {import('./protocol.js').PlayerKey | null} [options.player] the
   *   device identity to present in Hello (`identity.js`)
   * @param {string | null} [options.token] a signed player token for Hello
   *   (`player_token.js`), for a server started with `--auth-jwt-key`
   * @param {(key: import('./protocol.js').PlayerKey) => void} [options.onPlayer]
   *   called when a Welcome grants a new identity, to keep it
   * @param {(msg: ClientMsg) => void} options.send hands one message to the transport
   * @param {TransportKind} [options.transport] for the state (and the HUD)
   * @param {boolean} [options.fallback] the transport is long polling
   *   because the WebSocket could not connect
   * @param {() => number} [options.now] milliseconds
   */
  constructor({
    name,
    room = null,
    resume = null,
    seq = 0,
    player = null,
    token = null,
    onPlayer = () => {},
    send,
    transport = 'websocket',
    fallback = false,
    now = () => performance.now(),
  }) {
    this.name = name;
    this.room = room;
    this.resume = resume;
    this.player = player;
    this.playerToken = token;
    this.onPlayer = onPlayer;
    this.send = send;
    this.now = now;
    this.view = new WorldView();
    /** Milliseconds (`now()`) when the newest state arrived, to extrapolate from. */
    this.snapshotAt = 0;
    /** Snapshots applied, for the page's measured snapshot rate. */
    this.snapshots = 0;
    this.nonce = 0;
    /** @type {Map<number, number>} ping nonce → sent at */
    this.pings = new Map();
    /** @type {Prediction | null} the own ship ahead of the server; from Welcome */
    this.prediction = null;
    /** @type {Interpolator | null} other ships a little in the past; from Welcome */
    this.interpolator = null;
    /** @type {SessionState} */
    this.state = {
      phase: 'connecting',
      transport,
      fallback,
      connected: false,
      ship: null,
      room: null,
      rules: null,
      tick: null,
      ships: [],
      score: 0,
      hp: 0,
      round: null,
      timeLeft: null,
      rttMs: null,
      seq,
      lastInput: 0,
      predicted: null,
      pendingInputs: 0,
      camera: null,
      drawn: null,
      inputView: null,
      results: null,
      resumed: false,
      feed: [],
      error: null,
      close: null,
      /** Where the room went (`Moved`): the close that follows resumes there. */
      moved: null,
    };
  }

  /** @param {ClientMsg} msg */
  post(msg) {
    this.send(msg);
  }

  /** The transport is open: say Hello. */
  opened() {
    this.state.connected = true;
    this.state.phase = 'joining';
    this.post({
      Hello: {
        protocol: PROTOCOL_VERSION,
        name: this.name,
        room: this.room,
        resume: this.resume,
        player: this.player,
        token: this.playerToken,
      },
    });
  }

  /**
   * Handles one binary frame from the server. Throws a CodecError for a
   * frame that is not a message; the caller should close the socket.
   * @param {ArrayBuffer | Uint8Array} data
   * @returns {ServerMsg}
   */
  receive(data) {
    return this.handle(decodeServer(data));
  }

  /**
   * Handles one decoded server message, whichever transport brought it.
   * @param {ServerMsg} msg
   * @returns {ServerMsg}
   */
  handle(msg) {
    if (typeof msg !== 'object') return msg;
    if ('Welcome' in msg) {
      const w = msg.Welcome;
      this.resume = w.resume;
      // A new identity (first visit, or a key the server did not know):
      // keep it. Without a grant the key held stays for the next visit.
      if (w.player?.secret) {
        this.player = { id: w.player.id, secret: w.player.secret };
        this.onPlayer(this.player);
      }
      Object.assign(this.state, {
        phase: 'playing',
        ship: w.ship,
        room: w.room,
        rules: w.rules,
        resumed: w.resumed,
      });
      this.prediction = new Prediction(w.rules);
      this.interpolator = new Interpolator(w.rules);
    } else if ('Snapshot' in msg) {
      this.applySnapshot(msg.Snapshot);
    } else if ('Pong' in msg) {
      const sent = this.pings.get(msg.Pong.nonce);
      if (sent !== undefined) {
        this.pings.delete(msg.Pong.nonce);
        this.state.rttMs = this.now() - sent;
      }
    } else if ('Error' in msg) {
      this.state.error = { code: msg.Error.code, message: msg.Error.message };
      if (msg.Error.code === 'ResumeRejected') this.resume = null;
    } else if ('Notice' in msg) {
      this.notice(`${SERVER_PREFIX}${msg.Notice.text}`);
    } else if ('Moved' in msg) {
      this.state.moved = msg.Moved;
      this.notice(MOVED_MESSAGE);
    }
    return msg;
  }

  /** @param {import('./protocol.js').Snapshot} snapshot */
  applySnapshot(snapshot) {
    const applied = this.view.apply(snapshot);
    // A resumed ship's server remembers sequences from the old socket.
    this.state.seq = Math.max(this.state.seq, snapshot.last_input);
    for (const event of this.view.drainEvents()) this.note(event);
    if (!applied) return;
    this.snapshotAt = this.now();
    this.snapshots += 1;
    this.track(snapshot.body.tick);
    this.refresh();
  }

  /**
   * Feeds a newly applied state to the netcode: the interpolation buffer,
   * and the reconciliation of the own ship's prediction.
   * @param {number} tick the state just applied
   */
  track(tick) {
    const world = this.view.latest;
    if (!world || world.tick !== tick) return; // an older state: nothing new to show
    this.interpolator?.push(tick, this.snapshotAt, world.ships.values());
    const prediction = this.prediction;
    if (!prediction) return;
    const me = this.ownShip();
    if (me) prediction.reconcile(world.tick, world.lastInput, me.x, me.y, me.hp > 0);
    else prediction.reset();
    this.notePrediction();
  }

  notePrediction() {
    const p = this.prediction;
    this.state.predicted = p ? p.position() : null;
    this.state.pendingInputs = p ? p.pending.length : 0;
  }

  /** Rebuilds the plain state from the newest world state. */
  refresh() {
    const world = this.view.latest;
    if (!world) return;
    const own = this.state.ship;
    /** @type {ShipView[]} */
    const ships = [];
    for (const s of world.ships.values()) {
      ships.push({
        id: s.id,
        name: s.name,
        bot: s.bot,
        x: units(s.x),
        y: units(s.y),
        aim: s.aim,
        hp: s.hp,
        score: s.score,
        own: s.id === own,
      });
    }
    const me = own === null ? undefined : world.ships.get(own);
    const hz = this.state.rules?.tick_hz ?? 0;
    Object.assign(this.state, {
      tick: world.tick,
      ships,
      score: me?.score ?? 0,
      hp: me?.hp ?? 0,
      round: world.round,
      timeLeft: world.round && hz ? Math.max(0, world.round.ends - world.tick) / hz : null,
      lastInput: world.lastInput,
    });
  }

  /**
   * Puts a game event on the feed, with names from the roster.
   * @param {GameEvent} event
   */
  note(event) {
    /** @param {number} id */
    const who = (id) => this.view.names.get(id) ?? `#${id}`;
    const kind = event.kind;
    let text;
    if ('Killed' in kind) text = `${who(kind.Killed.killer)} ✕ ${who(kind.Killed.victim)}`;
    else if ('Joined' in kind) text = `${who(kind.Joined.ship)} joined`;
    else if ('Left' in kind) text = `${who(kind.Left.ship)} left`;
    else if ('RoundStarted' in kind) text = `Round ${kind.RoundStarted.round} started`;
    else {
      const { round, standings } = kind.RoundEnded;
      this.state.results = { round, lines: resultLines(standings, who, this.state.ship), at: this.now() };
      const best = kind.RoundEnded.standings[0];
      text = `Round ${kind.RoundEnded.round} over` + (best ? `: ${who(best.ship)} wins with ${best.score}` : '');
    }
    this.notice(text);
  }

  /**
   * Sends one tick of input; only once Welcome arrived.
   * @param {number} buttons
   * @param {number} aim quantised
   * @returns {boolean} whether it was sent
   */
  sendInput(buttons, aim) {
    if (this.state.phase !== 'playing') return false;
    this.state.seq += 1;
    // The moment the other ships are drawn at, for lag compensation.
    const view = viewTime(this.interpolator?.shownTick(this.now()) ?? null);
    this.post({ Input: { seq: this.state.seq, ack: this.view.ack, buttons, aim, view } });
    this.state.inputView = view;
    this.prediction?.input(this.state.seq, buttons);
    this.notePrediction();
    return true;
  }

  /**
   * A round trip the transport measured itself (long polling has no Ping).
   * @param {number} ms
   */
  measured(ms) {
    this.state.rttMs = ms;
  }

  /**
   * Puts a notice (not a game event) on the feed.
   * @param {string} text
   */
  notice(text) {
    this.state.feed.push({ text, at: this.now() });
    if (this.state.feed.length > FEED_LINES) this.state.feed.shift();
  }

  /** Sends a Ping; its Pong sets `state.rttMs`. */
  sendPing() {
    if (!this.state.connected) return;
    this.nonce = (this.nonce + 1) >>> 0;
    this.pings.set(this.nonce, this.now());
    if (this.pings.size > MAX_PENDING_PINGS) {
      const oldest = this.pings.keys().next().value;
      if (oldest !== undefined) this.pings.delete(oldest);
    }
    this.post({ Ping: { nonce: this.nonce } });
  }

  /** The player leaves on purpose: no resume. */
  leave() {
    if (this.state.connected) this.post('Leave');
    this.resume = null;
  }

  /**
   * The transport closed.
   * @param {number} code
   * @param {string} reason
   */
  closed(code, reason) {
    this.state.connected = false;
    this.state.phase = 'closed';
    this.state.close = { code, name: closeCodeName(code) ?? '', reason };
  }

  /** The own ship's world state, if it is in the newest snapshot. */
  ownShip() {
    const own = this.state.ship;
    return own === null ? undefined : this.view.latest?.ships.get(own);
  }
}
