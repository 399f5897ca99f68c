// @ts-check
/**
 * @file Where to play: `POST /api/matchmake` on whichever node served the
 * page, and what its answer or refusal means. A seat's answer names the
 * room's owner node and its WebSocket URL with a seat ticket; a resume's
 * (`{"resume": token}`) names the owner of the ship that waits. In a
 * cluster that owner may be another node than the page's; alone, it is the
 * page's own server (same answer shape). Refusals are read by their `code`
 * only ({@link import('./http.js')}).
 *
 * Pure apart from the injected `fetch`: no DOM, no timers. `main.js` acts on
 * {@link matchStep} and shows {@link matchMessage}.
 */

import { errorOf } from './http.js';
import { CloseCode } from './protocol.js';

/**
 * Where matchmaking put the player.
 * @typedef {object} Placement
 * @property {string} room
 * @property {string} node the owner node's id
 * @property {string} nodeUrl the owner's base URL (`http(s)://host[/prefix]`)
 * @property {string} wsUrl the owner's `/ws` URL, with the seat ticket
 * @property {string | null} seat the seat ticket; null for a resume
 */

/**
 * A refusal, by its JSON `code` (`null`: no answer, or not the server's).
 * @typedef {object} MatchRefusal
 * @property {string | null} code
 * @property {string} message the server's words, or the network error
 * @property {number | null} retryAfterMs what `Retry-After` asks, if sent
 */

/** @typedef {{ ok: true, placement: Placement } | ({ ok: false } & MatchRefusal)} Matched */

/**
 * 32 lowercase hex digits of a 16-byte token (the resume token as Welcome
 * carries it).
 * @param {number[]} bytes
 */
export function hexFromBytes(bytes) {
  if (!Array.isArray(bytes) || bytes.length !== 16 || !bytes.every((b) => Number.isInteger(b) && b >= 0 && b < 256)) {
    throw new TypeError('a token is 16 bytes');
  }
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The request body: a room by name, the room of a resume token, or (neither)
 * the fullest open public room.
 * @param {{ room?: string | null, resume?: number[] | null }} want
 */
export function matchBody({ room = null, resume = null }) {
  if (resume) return { resume: hexFromBytes(resume) };
  return room ? { room } : {};
}

/** @param {unknown} v @param {RegExp} scheme */
const isUrl = (v, scheme) => typeof v === 'string' && scheme.test(v);

/**
 * The placement an answer stands for, or null when it lacks what the page
 * needs (then the page plays on its own server).
 * @param {any} answer
 * @returns {Placement | null}
 */
export function placementFrom(answer) {
  const ok =
    answer &&
    typeof answer.room === 'string' &&
    typeof answer.node === 'string' &&
    isUrl(answer.node_url, /^https?:\/\//) &&
    isUrl(answer.ws_url, /^wss?:\/\//) &&
    (answer.seat === null || answer.seat === undefined || typeof answer.seat === 'string');
  if (!ok) return null;
  return {
    room: answer.room,
    node: answer.node,
    nodeUrl: answer.node_url.replace(/\/+$/, ''),
    wsUrl: answer.ws_url,
    seat: answer.seat ?? null,
  };
}

/**
 * Asks `POST {base}/api/matchmake`.
 * @param {object} options
 * @param {string | null} [options.room] null: any public room
 * @param {number[] | null} [options.resume] a resume token: back to its room
 * @param {string} [options.base] origin and prefix of `/api`; `''` on the page
 * @param {typeof fetch} [options.fetch]
 * @returns {Promise<Matched>}
 */
export async function matchmake({ room = null, resume = null, base = '', fetch: fetcher = (i, o) => globalThis.fetch(i, o) }) {
  let res;
  try {
    res = await fetcher(`${base}/api/matchmake`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(matchBody({ room, resume })),
      cache: 'no-store',
    });
  } catch (err) {
    return { ok: false, code: null, message: `matchmaking unreachable: ${String(err)}`, retryAfterMs: null };
  }
  if (!res.ok) {
    const { code, message } = await errorOf(res);
    const secs = Number(res.headers?.get?.('retry-after'));
    return { ok: false, code, message, retryAfterMs: Number.isFinite(secs) && secs > 0 ? secs * 1000 : null };
  }
  let placement = null;
  try {
    placement = placementFrom(await res.json());
  } catch {
    // not JSON: below
  }
  if (!placement) return { ok: false, code: null, message: 'matchmaking answered without a room and URL', retryAfterMs: null };
  return { ok: true, placement };
}

/**
 * What the page does after a refusal:
 * - `fresh`: the resume token is no good (`unknown_session`, or
 *   `server_lost`/`room_lost`: its node, or its room, is gone): forget it
 *   and matchmake anew.
 * - `direct`: the room named exists nowhere: say Hello on the page's own
 *   server, which opens it (rooms are made on demand).
 * - `retry`: busy or unreachable for now (429, 503, no answer): ask again
 *   after `retryAfterMs` or a reconnect delay.
 * - `stop`: show the refusal; the player decides.
 * @param {MatchRefusal} refusal
 * @param {{ resuming: boolean, named: boolean }} asked
 * @returns {'fresh' | 'direct' | 'retry' | 'stop'}
 */
export function matchStep({ code }, { resuming, named }) {
  if (resuming && (code === 'unknown_session' || code === 'server_lost' || code === 'room_lost')) return 'fresh';
  if (code === 'no_room' && named && !resuming) return 'direct';
  if (code === null || RETRY.has(code)) return 'retry';
  return 'stop';
}

/** Refusals that may pass by themselves. */
const RETRY = new Set(['directory_unavailable', 'not_registered', 'matchmake_rate_limited', 'internal']);

/**
 * What the player is told, by code; the server's words only for a code this
 * table does not know.
 * @type {Readonly<Record<string, string>>}
 */
const MESSAGES = Object.freeze({
  room_full: 'That room is full.',
  no_room: 'There is no room by that name.',
  server_full: 'Every server is full right now; try again in a moment.',
  room_limit: 'The server holds as many rooms as it may; pick a listed room.',
  room_rate_limited: 'You opened rooms too quickly; wait a minute.',
  room_rate_busy: 'Too many new rooms right now; try again in a moment.',
  matchmake_rate_limited: 'Too many attempts; wait a moment.',
  directory_unavailable: 'The game directory is unavailable; try again in a moment.',
  not_registered: 'This server is not in the cluster yet; try again in a moment.',
  shutting_down: 'The server is restarting; try again in a moment.',
  server_lost: 'The server holding your game is gone.',
  room_lost: 'Your room was lost with its server.',
  unknown_session: 'Your earlier game is over.',
  bad_room: 'Room ids are 1 to 32 of A-Z, a-z, 0-9, _ and -.',
  bad_token: 'The saved game could not be read.',
});

/**
 * The close reason of a game whose node drained it (a rolling deploy): the
 * round was played out, the room is gone, and the player should be in a
 * new match at once rather than looking at an error.
 */
export const SERVER_DRAIN = 'server_drain';

/** What the player reads while a drained game finds a new match. */
export const DRAINED_MESSAGE = 'The server is being updated; finding you a new match…';

/**
 * Whether a WebSocket close ended a drained room: 1001 (going away) with
 * the reason `server_drain`. A plain 1001 (the server stopping) is not.
 * @param {number} code
 * @param {string} reason
 */
export function drained(code, reason) {
  return code === 1001 && reason === SERVER_DRAIN;
}

/**
 * Where to resume after a close that followed `Moved` (1001 `moved`): the
 * new node's placement, with no seat (the resume token is the ticket).
 * `null` for any other close.
 * @param {number} code
 * @param {string} reason
 * @param {{ room: string, node: string, node_url: string, ws_url: string } | null} moved
 */
export function movedPlacement(code, reason, moved) {
  if (code !== 1001 || reason !== 'moved' || !moved) return null;
  return { room: moved.room, node: moved.node, nodeUrl: moved.node_url, wsUrl: moved.ws_url, seat: null };
}

/**
 * The line shown for a refusal: the table's words and the code.
 * @param {MatchRefusal} refusal
 */
export function matchMessage({ code, message }) {
  if (code === null) return message;
  return `${MESSAGES[code] ?? message} (${code})`;
}

/**
 * A game the server ended for good while the player was in it, so the page
 * matchmakes a new one by itself: the words it shows meanwhile, or null when
 * `code` is not such an end. `room_lost` (close 4003): the room's server was
 * cut off from the cluster and the cluster closed the room.
 * @param {number} code the WebSocket close code
 * @returns {string | null}
 */
export function lostGame(code) {
  return code === CloseCode.RoomLost ? rematchText('room_lost') : null;
}

/**
 * What the page says while it matchmakes afresh after a refusal or an end:
 * why the old game is gone, then that a new one is on its way.
 * @param {string | null} code
 */
export function rematchText(code) {
  const why = (code && LOST[code]) ?? 'Your earlier game is over.';
  return `${why} Finding you a new game…`;
}

/** Why an old game is gone, by the code that said so. */
const LOST = Object.freeze({
  server_lost: 'The server holding your game is gone.',
  room_lost: 'Your room was lost with its server.',
  unknown_session: 'Your earlier game is over.',
});
