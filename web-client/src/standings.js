// @ts-check
/**
 * @file What the scoreboard page knows, rebuilt from the server's SSE feeds:
 * a room's standings, kill feed, round clock and minimap ships
 * ({@link RoomBoard}), the server-wide top board and its tape of score
 * changes ({@link TickerBoard}), and how each line moved since the last
 * change, stock-ticker style. Also the little rules the page shares: event
 * ids, the connection phase, player colours, the clock's text.
 *
 * Every event goes through `apply(kind, data, id, now)`: `id` is the SSE id
 * (null for unlogged events such as `state`), `now` the caller's clock in
 * milliseconds, so tests drive time by hand. This module never touches the
 * network or the DOM. Event names come from `feed.js`, the one table.
 */

import { LOGGED_ROOM_EVENTS, RoomEvent, TickerEvent } from './feed.js';

/** Kill-feed lines kept, newest first. */
export const KILL_FEED_LEN = 8;
/** Milliseconds a rank or score move stays on show. */
export const MOVE_MS = 4000;
/** A move this soon after the last one adds up with it (a burst); later, it replaces it. */
export const MERGE_MS = 1500;
/** Milliseconds the previous round's results stay on show. */
export const RESULT_MS = 8000;
/** Score changes kept on the ticker's tape, newest first. */
export const TAPE_LEN = 40;
/** Lines on the ticker's board when the server's board is shorter. */
export const TICKER_TOP = 10;
/** Two samples of a ship further apart than this (arena units) are a respawn, not a move. */
const TELEPORT = 250;

/**
 * A room's player as the scoreboard shows it.
 * @typedef {object} Player
 * @property {number} player ship id
 * @property {string} name
 * @property {boolean} bot
 * @property {number} score
 * @property {number | null} hp null until a snapshot or state sample says
 */

/**
 * How a line moved: places gained (negative when it fell), points gained,
 * and when it last moved. Moves within {@link MERGE_MS} of each other add up,
 * so a burst reads as one move, while a line that keeps scoring shows its
 * latest move rather than a running total.
 * @typedef {object} Move
 * @property {number} rank
 * @property {number} score
 * @property {number} at
 */

/**
 * A line of a sorted board, with its 1-based rank and its fresh move.
 * @template T
 * @typedef {T & { rank: number, move: Move | null }} Ranked
 */

/**
 * @typedef {object} Kill
 * @property {number | null} id event id
 * @property {number} killer
 * @property {string} killerName
 * @property {number} victim
 * @property {string} victimName
 * @property {string} weapon
 * @property {number} tick
 * @property {number} time server unix milliseconds
 */

/**
 * A round's final standings, and when (local clock) they arrived.
 * @typedef {object} RoundResult
 * @property {number} round
 * @property {{ player: number, name: string, score: number }[]} standings
 * @property {number} at
 */

/**
 * A ship in a state sample; x, y in arena units, aim a byte.
 * @typedef {object} Ship
 * @property {number} id
 * @property {number} x
 * @property {number} y
 * @property {number} aim
 * @property {number} hp
 */

/**
 * @typedef {object} Sample
 * @property {number} tick
 * @property {Ship[]} ships
 * @property {number} at local milliseconds it arrived
 */

/**
 * A line of the ticker's board.
 * @typedef {object} TickerLine
 * @property {string} room
 * @property {number} player
 * @property {string} name
 * @property {number} score
 * @property {boolean} bot
 */

/**
 * A score change on the ticker's tape.
 * @typedef {object} TapeItem
 * @property {number | null} id
 * @property {string} room
 * @property {number} player
 * @property {string} name
 * @property {number} score
 * @property {number} delta
 * @property {number} at
 */

// ---------------------------------------------------------------------------
// Shared rules

/**
 * An SSE id as a number, or null when there is none. The server's ids stay
 * below 2^53, so a Number holds them exactly; anything else is not an id.
 * @param {string | number | null | undefined} raw
 * @returns {number | null}
 */
export function parseEventId(raw) {
  if (raw === null || raw === undefined || raw === '') return null;
  const id = typeof raw === 'number' ? raw : /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  return Number.isSafeInteger(id) && id >= 0 ? id : null;
}

/**
 * The event-id watermark of one feed. Logged events carry increasing ids;
 * one at or below the newest seen is a replay (a resume that overlapped)
 * and is dropped. A snapshot or reset starts the watermark afresh wherever
 * its id is, since it replaces everything before it.
 */
class Cursor {
  constructor() {
    /** @type {number | null} */
    this.lastEventId = null;
  }

  /**
   * Whether an event with this id is new; records it when it is.
   * @param {number | null} id
   */
  admit(id) {
    if (id === null) return true;
    if (this.lastEventId !== null && id <= this.lastEventId) return false;
    this.lastEventId = id;
    return true;
  }

  /** @param {number | null} id */
  restart(id) {
    if (id !== null) this.lastEventId = id;
  }
}

/**
 * The phase the page shows for its stream. `open` is EventSource's open
 * event; `error` its error event, with the readyState it left (2: CLOSED,
 * the browser gave up, e.g. on a 404); `retry` a new EventSource the page
 * made itself after that.
 * @typedef {'connecting' | 'live' | 'reconnecting' | 'closed'} ConnectionPhase
 * @param {ConnectionPhase} phase
 * @param {'open' | 'error' | 'retry'} what
 * @param {number} [readyState]
 * @returns {ConnectionPhase}
 */
export function nextConnection(phase, what, readyState) {
  if (what === 'open') return 'live';
  if (what === 'retry') return phase === 'connecting' ? 'connecting' : 'reconnecting';
  if (readyState === 2) return 'closed';
  return phase === 'connecting' ? 'connecting' : 'reconnecting';
}

/**
 * Seconds as `mm:ss`, rounded up so 0:00 means the round is over; `--:--`
 * when unknown.
 * @param {number | null} secs
 */
export function formatClock(secs) {
  if (secs === null || !Number.isFinite(secs)) return '--:--';
  const whole = Math.max(0, Math.ceil(secs - 1e-9));
  return `${String(Math.floor(whole / 60)).padStart(2, '0')}:${String(whole % 60).padStart(2, '0')}`;
}

/**
 * A player's colour, the same in the list and on the minimap: hues spread by
 * the golden angle so neighbouring ids differ.
 * @param {number} id
 */
export function playerColor(id) {
  return `hsl(${Math.round((id * 137.508) % 360)}, 72%, 62%)`;
}

/**
 * A move as the board shows it: `▲2 +1`, `▼1`, `+1`; '' for none.
 * @param {Move | null} move
 */
export function moveText(move) {
  if (!move) return '';
  const parts = [];
  if (move.rank > 0) parts.push(`▲${move.rank}`);
  else if (move.rank < 0) parts.push(`▼${-move.rank}`);
  if (move.score !== 0) parts.push(move.score > 0 ? `+${move.score}` : String(move.score));
  return parts.join(' ');
}

/**
 * Compares what two rankings say about each line: for every key in `after`
 * that was in `before` and changed place or score, how it moved. Lines new
 * in `after` did not move; they arrived.
 * @template T
 * @template {string | number} K
 * @param {readonly T[]} before best first
 * @param {readonly T[]} after best first
 * @param {(line: T) => K} keyOf
 * @param {(line: T) => number} scoreOf
 * @returns {Map<K, { rank: number, score: number }>}
 */
export function rankChanges(before, after, keyOf, scoreOf) {
  /** @type {Map<K, { index: number, score: number }>} */
  const was = new Map();
  before.forEach((line, index) => was.set(keyOf(line), { index, score: scoreOf(line) }));
  /** @type {Map<K, { rank: number, score: number }>} */
  const changes = new Map();
  after.forEach((line, index) => {
    const prev = was.get(keyOf(line));
    if (!prev) return;
    const rank = prev.index - index;
    const score = scoreOf(line) - prev.score;
    if (rank !== 0 || score !== 0) changes.set(keyOf(line), { rank, score });
  });
  return changes;
}

/**
 * The moves of one board, keyed like its lines.
 * @template {string | number} K
 */
class Moves {
  /**
   * @param {number} moveMs
   * @param {number} mergeMs
   */
  constructor(moveMs, mergeMs) {
    this.moveMs = moveMs;
    this.mergeMs = mergeMs;
    /** @type {Map<K, Move>} */
    this.byKey = new Map();
  }

  /**
   * Adds changes; one right after the last move adds up with it.
   * @param {Map<K, { rank: number, score: number }>} changes
   * @param {number} now
   */
  add(changes, now) {
    for (const [key, change] of changes) {
      const last = this.fresh(key, now);
      const prev = last && now - last.at < this.mergeMs ? last : null;
      const move = {
        rank: change.rank + (prev?.rank ?? 0),
        score: change.score + (prev?.score ?? 0),
        at: now,
      };
      if (move.rank === 0 && move.score === 0) this.byKey.delete(key);
      else this.byKey.set(key, move);
    }
  }

  /**
   * @param {K} key
   * @param {number} now
   * @returns {Move | null}
   */
  fresh(key, now) {
    const move = this.byKey.get(key);
    if (!move) return null;
    if (now - move.at >= this.moveMs) {
      this.byKey.delete(key);
      return null;
    }
    return move;
  }

  clear() {
    this.byKey.clear();
  }
}

// ---------------------------------------------------------------------------
// One room

/**
 * Best first; ties go to the lower ship id, as the server's standings do.
 * @param {Player} a
 * @param {Player} b
 */
const byScore = (a, b) => b.score - a.score || a.player - b.player;

/** One room's feed (`/api/rooms/{id}/events`) folded into what the page shows. */
export class RoomBoard {
  /**
   * @param {string} room
   * @param {{ moveMs?: number, mergeMs?: number, killsKept?: number }} [options]
   */
  constructor(room, { moveMs = MOVE_MS, mergeMs = MERGE_MS, killsKept = KILL_FEED_LEN } = {}) {
    this.room = room;
    this.killsKept = killsKept;
    this.cursor = new Cursor();
    /** @type {Moves<number>} */
    this.moves = new Moves(moveMs, mergeMs);
    /** @type {number | null} ticks per second, from the snapshot */
    this.tickHz = null;
    /** @type {{ number: number | null, endsTick: number | null }} */
    this.round = { number: null, endsTick: null };
    /** @type {Map<number, Player>} */
    this.players = new Map();
    /** @type {Kill[]} newest first */
    this.kills = [];
    /** @type {RoundResult | null} the last round's results */
    this.result = null;
    /** @type {Sample | null} the newest state sample */
    this.sample = null;
    /** @type {Sample | null} the one before it, to interpolate from */
    this.previous = null;
    /** Whether a snapshot or reset has arrived. */
    this.ready = false;
    /** @type {{ text: string, at: number } | null} the operators' newest message */
    this.notice = null;
  }

  get lastEventId() {
    return this.cursor.lastEventId;
  }

  /** The newest sampled tick, or null before the first sample. */
  get tick() {
    return this.sample?.tick ?? null;
  }

  /**
   * Folds in one event. Returns whether it was taken (false: a replayed
   * id, an unknown kind or one that changes nothing).
   * @param {string} kind the SSE event name
   * @param {any} data its parsed JSON
   * @param {number | null} id its SSE id (null for `state`)
   * @param {number} now local milliseconds
   */
  apply(kind, data, id, now) {
    if (kind === RoomEvent.Snapshot || kind === RoomEvent.Reset) {
      this.cursor.restart(id);
      this.replace(data);
      return true;
    }
    if (kind === RoomEvent.State) {
      this.takeSample(data, now);
      return true;
    }
    if (!LOGGED_ROOM_EVENTS.has(kind) || !this.cursor.admit(id)) return false;
    switch (kind) {
      case RoomEvent.Join:
        this.rerank(now, () => {
          this.players.set(data.player, {
            player: data.player,
            name: String(data.name),
            bot: Boolean(data.bot),
            score: 0,
            hp: null,
          });
        });
        break;
      case RoomEvent.Leave:
        this.rerank(now, () => this.players.delete(data.player));
        break;
      case RoomEvent.Kill:
        this.kills.unshift({
          id,
          killer: data.killer,
          killerName: String(data.killer_name),
          victim: data.victim,
          victimName: String(data.victim_name),
          weapon: String(data.weapon ?? ''),
          tick: data.tick,
          time: data.time,
        });
        this.kills.length = Math.min(this.kills.length, this.killsKept);
        break;
      case RoomEvent.Score:
        this.rerank(now, () => {
          const known = this.players.get(data.player);
          this.players.set(data.player, {
            player: data.player,
            name: String(data.name),
            bot: known?.bot ?? false,
            score: data.score,
            hp: known?.hp ?? null,
          });
        });
        break;
      case RoomEvent.Notice:
        this.notice = { text: String(data.text), at: now };
        break;
      case RoomEvent.Moved:
        // A rolling deploy handed the room to another node: the feed goes
        // on, and the board says so once.
        this.notice = { text: `Room moved to server ${String(data.node)}`, at: now };
        break;
      case RoomEvent.Round:
        if (data.phase === 'started') {
          this.round = { number: data.round, endsTick: data.ends_tick };
        } else if (data.phase === 'ended') {
          this.result = {
            round: data.round,
            standings: (data.standings ?? []).map(
              /** @param {any} s */ (s) => ({ player: s.player, name: String(s.name), score: s.score }),
            ),
            at: now,
          };
          // Every score goes back to 0 with no score events: a clean slate,
          // not a move worth an arrow.
          for (const p of this.players.values()) p.score = 0;
          this.moves.clear();
        }
        break;
    }
    return true;
  }

  /** @param {any} data a snapshot or reset */
  replace(data) {
    this.ready = true;
    if (typeof data.room === 'string') this.room = data.room;
    if (data.tick_hz > 0) this.tickHz = data.tick_hz;
    this.round = { number: data.round?.number ?? null, endsTick: data.round?.ends_tick ?? null };
    this.players = new Map(
      (data.players ?? []).map(
        /** @param {any} p */ (p) => [
          p.player,
          { player: p.player, name: String(p.name), bot: Boolean(p.bot), score: p.score, hp: p.hp ?? null },
        ],
      ),
    );
    this.kills = [];
    this.result = null;
    this.moves.clear();
    // The ships stay: samples are not logged, and the next one is due soon.
  }

  /**
   * @param {any} data a state sample
   * @param {number} now
   */
  takeSample(data, now) {
    const ships = (data.ships ?? []).map(
      /** @param {number[]} s */ ([id, x, y, aim, hp]) => ({ id, x, y, aim, hp }),
    );
    // One stream delivers samples in order, so a tick that went back is a
    // restarted server (a reset follows or came first): a new world, with
    // nothing to glide from.
    const restarted = this.sample !== null && data.tick < this.sample.tick;
    this.previous = restarted ? null : this.sample;
    this.sample = { tick: data.tick, ships, at: now };
    if (data.round_ends_tick !== undefined) this.round = { ...this.round, endsTick: data.round_ends_tick };
    for (const ship of ships) {
      const player = this.players.get(ship.id);
      if (player) player.hp = ship.hp;
    }
  }

  /**
   * Runs a change to the players and records how the ranking moved.
   * @param {number} now
   * @param {() => void} change
   */
  rerank(now, change) {
    // Copies: a change may edit a player in place.
    const before = this.sorted().map((p) => ({ ...p }));
    change();
    this.moves.add(
      rankChanges(before, this.sorted(), (p) => p.player, (p) => p.score),
      now,
    );
  }

  /** Players best first. */
  sorted() {
    return [...this.players.values()].sort(byScore);
  }

  /**
   * The standings, best first, each with its rank and fresh move.
   * @param {number} now
   * @returns {Ranked<Player>[]}
   */
  standings(now) {
    return this.sorted().map((p, i) => ({ ...p, rank: i + 1, move: this.moves.fresh(p.player, now) }));
  }

  /** The leader's ship id: the top scorer, once someone has scored. */
  leader() {
    const top = this.sorted()[0];
    return top && top.score > 0 ? top.player : null;
  }

  /**
   * Seconds left in the round: from the newest sample's tick, run on by the
   * local clock since it arrived. Null before a sample and a tick rate.
   * @param {number} now
   */
  secsLeft(now) {
    const { sample, tickHz } = this;
    const ends = this.round.endsTick;
    if (!sample || !tickHz || ends === null) return null;
    return Math.max(0, (ends - sample.tick) / tickHz - Math.max(0, now - sample.at) / 1000);
  }

  /**
   * The previous round's results while they are on show.
   * @param {number} now
   * @param {number} [showMs]
   */
  resultAt(now, showMs = RESULT_MS) {
    return this.result && now - this.result.at < showMs ? this.result : null;
  }

  /**
   * Living ships, placed between the last two samples as of `now - delayMs`,
   * so 10 samples a second still move smoothly.
   * @param {number} now
   * @param {number} [delayMs]
   * @returns {Ship[]}
   */
  shipsAt(now, delayMs = 100) {
    const cur = this.sample;
    if (!cur) return [];
    const prev = this.previous;
    const alive = cur.ships.filter((s) => s.hp > 0);
    if (!prev || cur.at <= prev.at) return alive;
    const t = Math.min(1, Math.max(0, (now - delayMs - prev.at) / (cur.at - prev.at)));
    const before = new Map(prev.ships.map((s) => [s.id, s]));
    return alive.map((s) => {
      const p = before.get(s.id);
      if (!p || p.hp === 0 || Math.hypot(s.x - p.x, s.y - p.y) > TELEPORT) return s;
      return { ...s, x: p.x + (s.x - p.x) * t, y: p.y + (s.y - p.y) * t, aim: lerpAim(p.aim, s.aim, t) };
    });
  }
}


/**
 * Aim bytes interpolated the short way round; may be fractional.
 * @param {number} from
 * @param {number} to
 * @param {number} t
 */
export function lerpAim(from, to, t) {
  const turn = ((((to - from) % 256) + 384) % 256) - 128;
  return (((from + turn * t) % 256) + 256) % 256;
}

// ---------------------------------------------------------------------------
// The ticker

/** @param {TickerLine} line */
const lineKey = (line) => `${line.room}/${line.player}`;

/**
 * Best first; ties by room, then ship id, as the server sorts its board.
 * @param {TickerLine} a
 * @param {TickerLine} b
 */
const byTickerScore = (a, b) =>
  b.score - a.score || (a.room < b.room ? -1 : a.room > b.room ? 1 : 0) || a.player - b.player;

/**
 * The ticker feed (`/api/ticker`) folded in: the top board across rooms and
 * a tape of score changes. Score events between two boards move their line
 * at once; the next board (every few seconds) is the truth again.
 */
export class TickerBoard {
  /** @param {{ moveMs?: number, mergeMs?: number, tapeLen?: number, top?: number }} [options] */
  constructor({ moveMs = MOVE_MS, mergeMs = MERGE_MS, tapeLen = TAPE_LEN, top = TICKER_TOP } = {}) {
    this.tapeLen = tapeLen;
    this.minTop = top;
    this.size = top;
    this.cursor = new Cursor();
    /** @type {Moves<string>} */
    this.moves = new Moves(moveMs, mergeMs);
    /** @type {TickerLine[]} best first */
    this.top = [];
    /** @type {TapeItem[]} newest first */
    this.tape = [];
    this.ready = false;
  }

  get lastEventId() {
    return this.cursor.lastEventId;
  }

  /**
   * @param {string} kind
   * @param {any} data
   * @param {number | null} id
   * @param {number} now
   */
  apply(kind, data, id, now) {
    if (kind === TickerEvent.Snapshot || kind === TickerEvent.Reset) {
      this.cursor.restart(id);
      this.ready = true;
      this.moves.clear();
      this.top = this.board(data.top);
      return true;
    }
    if ((kind !== TickerEvent.Board && kind !== TickerEvent.Score) || !this.cursor.admit(id)) return false;
    const before = this.top;
    if (kind === TickerEvent.Board) {
      this.top = this.board(data.top);
    } else {
      this.tape.unshift({
        id,
        room: String(data.room),
        player: data.player,
        name: String(data.name),
        score: data.score,
        delta: data.delta,
        at: now,
      });
      this.tape.length = Math.min(this.tape.length, this.tapeLen);
      this.top = this.scored(data);
    }
    this.moves.add(rankChanges(before, this.top, lineKey, (l) => l.score), now);
    return true;
  }

  /**
   * @param {any} top the server's board lines
   * @returns {TickerLine[]}
   */
  board(top) {
    const lines = (top ?? []).map(
      /** @param {any} l */ (l) => ({
        room: String(l.room),
        player: l.player,
        name: String(l.name),
        score: l.score,
        bot: Boolean(l.bot),
      }),
    );
    this.size = Math.max(this.minTop, lines.length);
    return lines.sort(byTickerScore);
  }

  /**
   * The board after one score event. Scores only grow within a round, so a
   * line whose score was already above the new one's starting point means
   * that room began a new round: its other lines are at 0 now too.
   * @param {any} data
   * @returns {TickerLine[]}
   */
  scored(data) {
    const room = String(data.room);
    const known = this.top.find((l) => l.room === room && l.player === data.player);
    const newRound = known !== undefined && known.score > data.score - data.delta;
    const lines = this.top
      .filter((l) => !(l.room === room && l.player === data.player))
      .map((l) => (newRound && l.room === room ? { ...l, score: 0 } : l));
    lines.push({ room, player: data.player, name: String(data.name), score: data.score, bot: known?.bot ?? false });
    return lines.sort(byTickerScore).slice(0, this.size);
  }

  /**
   * The board with ranks and fresh moves.
   * @param {number} now
   * @returns {Ranked<TickerLine>[]}
   */
  standings(now) {
    return this.top.map((l, i) => ({ ...l, rank: i + 1, move: this.moves.fresh(lineKey(l), now) }));
  }
}
