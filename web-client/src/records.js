// @ts-check
/**
 * @file The records the server keeps (`docs/persistence.md`), as pages
 * show them: the leaderboard of `GET /api/leaderboard`. Fetching and
 * checking the answer only; `scoreboard.js` draws it. A server without a
 * database answers `503 no_database`: then there is nothing to show, and
 * the panel stays hidden. The scoreboard shows this week's; the lobby
 * both (`fetchLeaderboards`).
 */

/** Rows the scoreboard's leaderboard shows. */
export const LEADERBOARD_ROWS = 10;

/**
 * @typedef {object} LeaderLine
 * @property {number} rank
 * @property {string} player the player's id
 * @property {string} name
 * @property {number} kills
 * @property {number} deaths
 * @property {number} wins
 * @property {number} rounds
 */

/**
 * What to show of a leaderboard request: its lines, or why there are none.
 * @typedef {{ kind: 'lines', lines: LeaderLine[] } | { kind: 'off' } | { kind: 'unavailable' }} LeaderboardView
 */

/** @param {unknown} n */
const isCount = (n) => Number.isInteger(n) && /** @type {number} */ (n) >= 0;

/**
 * The leaderboard an answer carries, checked line by line.
 * @param {number} status
 * @param {unknown} body the answer's JSON (null when it was not JSON)
 * @returns {LeaderboardView}
 */
export function leaderboardView(status, body) {
  const b = /** @type {any} */ (body);
  if (status === 503 && b?.code === 'no_database') return { kind: 'off' };
  if (status !== 200 || !Array.isArray(b?.rows)) return { kind: 'unavailable' };
  /** @type {LeaderLine[]} */
  const lines = [];
  for (const r of b.rows) {
    const ok =
      r &&
      isCount(r.rank) &&
      typeof r.player === 'string' &&
      typeof r.name === 'string' &&
      isCount(r.kills) &&
      isCount(r.deaths) &&
      isCount(r.wins) &&
      isCount(r.rounds);
    if (!ok) return { kind: 'unavailable' };
    lines.push({
      rank: r.rank,
      player: r.player,
      name: r.name,
      kills: r.kills,
      deaths: r.deaths,
      wins: r.wins,
      rounds: r.rounds,
    });
  }
  return { kind: 'lines', lines };
}

/**
 * Asks for a leaderboard: over the last 7 days (`week`, the default) or
 * all time (`all`).
 * @param {typeof fetch} fetchFn
 * @param {'week' | 'all'} [period]
 * @returns {Promise<LeaderboardView>}
 */
export async function fetchLeaderboard(fetchFn, period = 'week') {
  try {
    const res = await fetchFn(`/api/leaderboard?period=${period}&limit=${LEADERBOARD_ROWS}`, { cache: 'no-store' });
    const body = await res.json().catch(() => null);
    return leaderboardView(res.status, body);
  } catch {
    return { kind: 'unavailable' };
  }
}

/**
 * Both leaderboards, as the lobby shows them side by side.
 * @param {typeof fetch} fetchFn
 * @returns {Promise<{ week: LeaderboardView, all: LeaderboardView }>}
 */
export async function fetchLeaderboards(fetchFn) {
  const [week, all] = await Promise.all([fetchLeaderboard(fetchFn, 'week'), fetchLeaderboard(fetchFn, 'all')]);
  return { week, all };
}

/**
 * What a leaderboard's empty line says for a view (`''`: it has lines).
 * @param {LeaderboardView} view
 * @param {string} none what to say when nobody is on it
 */
export function leaderboardNote(view, none) {
  if (view.kind === 'unavailable') return 'Records unavailable right now.';
  if (view.kind === 'lines' && view.lines.length === 0) return none;
  return '';
}
