// @ts-check
/**
 * @file Replay mode of the scoreboard page: which match `?replay=<id>`
 * names, the stream URL for a speed and a start time, and the controls'
 * state (play, pause, seek, speed) with the playback position read from
 * the ticks the stream carries. The stream itself is the live feed's
 * events (`GET /api/matches/{id}/replay`), so the page folds it into the
 * same `RoomBoard` and draws it with the same code. No DOM, no network.
 */

/** The speeds the server streams at (`?speed=` 1 to 16). */
export const REPLAY_SPEEDS = Object.freeze([1, 2, 4, 8, 16]);

/** Why a replay stream ends by itself (its `closed` event's reason). */
export const REPLAY_ENDED = 'replay ended';

/**
 * The match a URL's `?replay=` names: a positive integer id, else null
 * with the problem (absent: no problem).
 * @param {string} search
 * @returns {{ id: number | null, problem: string }}
 */
export function replayOf(search) {
  const raw = new URLSearchParams(search).get('replay');
  if (raw === null) return { id: null, problem: '' };
  const text = raw.trim();
  if (/^[1-9]\d{0,15}$/.test(text)) return { id: Number(text), problem: '' };
  return { id: null, problem: `"${raw}" is not a match id` };
}

/**
 * The replay stream of match `id` at `speed` from `at` seconds into the
 * round.
 * @param {number} id
 * @param {number} speed
 * @param {number} at
 */
export function replayUrl(id, speed, at) {
  const from = Math.max(0, Math.floor(at * 10) / 10);
  return `/api/matches/${id}/replay?speed=${speed}&at=${from}`;
}

/**
 * The state of one match's replay controls.
 */
export class ReplayControl {
  /** @param {number} id the match */
  constructor(id) {
    this.id = id;
    this.speed = 1;
    this.playing = true;
    /** Seconds into the round the next stream starts at. */
    this.at = 0;
    /** Whether the stream reached the round's end. */
    this.ended = false;
    /** @type {{ startTick: number, endTick: number, tickHz: number } | null} from the opening snapshot */
    this.round = null;
  }

  /** The URL of the stream to open now. */
  url() {
    return replayUrl(this.id, this.speed, this.at);
  }

  /**
   * Reads the round's clock from a stream's opening `snapshot` (or
   * `reset`): the tick it started, the tick it ends, the rate.
   * @param {any} snapshot
   */
  opened(snapshot) {
    const round = snapshot?.round;
    const tickHz = Number(snapshot?.tick_hz);
    if (!round || !(tickHz > 0)) return;
    this.round = { startTick: Number(round.started_tick), endTick: Number(round.ends_tick), tickHz };
  }

  /** The round's length in seconds, once known. */
  get duration() {
    if (!this.round) return null;
    return Math.max(0, (this.round.endTick - this.round.startTick) / this.round.tickHz);
  }

  /**
   * Seconds into the round at `tick` (the newest sampled tick), clamped
   * to the round; `at` while nothing was sampled.
   * @param {number | null} tick
   */
  position(tick) {
    if (!this.round || tick === null) return this.at;
    const secs = (tick - this.round.startTick) / this.round.tickHz;
    return Math.min(Math.max(0, secs), this.duration ?? secs);
  }

  /**
   * Pauses where the stream is.
   * @param {number | null} tick
   */
  pause(tick) {
    this.at = this.position(tick);
    this.playing = false;
  }

  /** Plays on from where it paused, or from the start after the end. */
  play() {
    if (this.ended) {
      this.at = 0;
      this.ended = false;
    }
    this.playing = true;
  }

  /**
   * Jumps to `secs` into the round.
   * @param {number} secs
   */
  seek(secs) {
    const duration = this.duration ?? Infinity;
    this.at = Math.min(Math.max(0, Number.isFinite(secs) ? secs : 0), duration);
    this.ended = false;
  }

  /**
   * Changes the speed (one of `REPLAY_SPEEDS`), keeping the position.
   * Returns whether it changed.
   * @param {number} speed
   * @param {number | null} tick
   */
  setSpeed(speed, tick) {
    if (!REPLAY_SPEEDS.includes(speed) || speed === this.speed) return false;
    this.at = this.position(tick);
    this.speed = speed;
    return true;
  }

  /**
   * The stream ended by itself.
   * @param {string} reason its `closed` reason
   */
  finished(reason) {
    if (reason !== REPLAY_ENDED) return;
    this.ended = true;
    this.playing = false;
    this.at = this.duration ?? this.at;
  }
}
