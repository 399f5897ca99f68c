// @ts-check
/**
 * @file The lobby's model, without DOM or network: the room list as
 * `GET /api/rooms` gives it turned into display rows, and the round-end
 * results as the game view shows them. `main.js` fetches and draws.
 */

/** Milliseconds between refreshes of the room list. */
export const ROOMS_REFRESH_MS = 2000;

/**
 * One entry of `GET /api/rooms` (`registry::RoomSummary`).
 * @typedef {object} RoomSummary
 * @property {string} id
 * @property {boolean} public
 * @property {number} players human players
 * @property {number} max_players human seats
 * @property {number} spectators
 * @property {number} bots
 * @property {number} tick
 * @property {number} tick_hz
 * @property {number} round_secs_left
 */

/**
 * One room as the lobby lists it.
 * @typedef {object} RoomRow
 * @property {string} id
 * @property {string} players "3/64"
 * @property {boolean} full
 * @property {number} spectators
 * @property {number} bots
 * @property {string} roundLeft "2:05"
 * @property {boolean} public
 */

/**
 * A private room and its invite code, as an invite link carries them.
 * @typedef {object} Invite
 * @property {string} room
 * @property {string} code 32 hex digits
 */

/**
 * The invite a page URL carries: `?room=ID#invite=CODE`. The code rides in
 * the fragment, which the browser never sends (no server log, no Referer
 * holds it).
 * @param {string} search `location.search`
 * @param {string} hash `location.hash`
 * @returns {Invite | null}
 */
export function inviteOf(search, hash) {
  const room = new URLSearchParams(search).get('room')?.trim() ?? '';
  const code = new URLSearchParams(hash.replace(/^#/, '')).get('invite')?.trim() ?? '';
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(room) || !/^[0-9a-fA-F]{32}$/.test(code)) return null;
  return { room, code: code.toLowerCase() };
}

/**
 * The link that lets a friend into `invite`'s room from the page at `base`
 * (origin and path).
 * @param {string} base
 * @param {Invite} invite
 */
export function inviteLink(base, invite) {
  return `${base}?room=${encodeURIComponent(invite.room)}#invite=${invite.code}`;
}

/**
 * `url` with `?invite=` (or `&invite=`) added when `invite` is set: how the
 * WebSocket and the spectator stream show the code.
 * @param {string} url
 * @param {string | null} invite
 */
export function withInvite(url, invite) {
  if (!invite) return url;
  return `${url}${url.includes('?') ? '&' : '?'}invite=${encodeURIComponent(invite)}`;
}

/**
 * Seconds as `m:ss`, rounded up (a clock shows 0:01 until it is over).
 * @param {number} secs
 */
export function clock(secs) {
  const s = Math.max(0, Math.ceil(Number.isFinite(secs) ? secs : 0));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * The rows of the room list, public rooms first then by id. Entries without
 * a string id are skipped, so an unexpected answer shows fewer rooms rather
 * than breaking the lobby.
 * @param {unknown} list the parsed JSON answer
 * @returns {RoomRow[]}
 */
export function roomRows(list) {
  if (!Array.isArray(list)) return [];
  /** @param {unknown} v */
  const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  return list
    .filter((r) => r && typeof r === 'object' && typeof r.id === 'string')
    .map((r) => ({
      id: r.id,
      players: `${num(r.players)}/${num(r.max_players)}`,
      full: num(r.max_players) > 0 && num(r.players) >= num(r.max_players),
      spectators: num(r.spectators),
      bots: num(r.bots),
      roundLeft: clock(num(r.round_secs_left)),
      public: r.public !== false,
    }))
    .sort((a, b) => Number(b.public) - Number(a.public) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * One line of the round-end results.
 * @typedef {object} ResultLine
 * @property {number} rank 1-based; equal scores share a rank
 * @property {number} ship
 * @property {string} name
 * @property {number} score
 * @property {boolean} own
 */

/**
 * The RoundEnded standings as result lines, best first, with names.
 * @param {{ ship: number, score: number }[]} standings
 * @param {(id: number) => string} nameOf
 * @param {number | null} own
 * @returns {ResultLine[]}
 */
export function resultLines(standings, nameOf, own) {
  const sorted = [...standings].sort((a, b) => b.score - a.score || a.ship - b.ship);
  /** @type {ResultLine[]} */
  const lines = [];
  sorted.forEach((s, i) => {
    const rank = i > 0 && sorted[i - 1].score === s.score ? lines[i - 1].rank : i + 1;
    lines.push({ rank, ship: s.ship, name: nameOf(s.ship), score: s.score, own: s.ship === own });
  });
  return lines;
}
