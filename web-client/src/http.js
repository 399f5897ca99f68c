// @ts-check
/**
 * @file The browser's mirror of `shared/src/http.rs`: the JSON API's limits
 * and its error codes, and what a code means to a game played over long
 * polling. Every HTTP error's body is `{"error": "...", "code": "..."}`;
 * the browser branches on `code` and only shows `error`.
 * `test/http.test.js` checks the table against `error_codes.json` and the
 * limits against `index.json`.
 */

import { CloseCode } from './protocol.js';

/** @typedef {import('./protocol.js').ErrorMsg} ErrorMsg */

/** Inputs one `POST /api/sessions/{token}/input` may carry. */
export const MAX_INPUTS_PER_REQUEST = 32;
/** Events one poll page carries at most. */
export const MAX_EVENTS_PER_PAGE = 256;
/** The wait of a poll that names no `timeout`, in seconds. */
export const DEFAULT_POLL_TIMEOUT_SECS = 25;

/**
 * Every `ApiErrorCode` with its HTTP status, in the enum's order. What each
 * means is in `docs/protocol.md` ("Error codes").
 */
export const ApiErrorCode = Object.freeze({
  bad_request: 400,
  bad_param: 400,
  bad_json: 400,
  bad_name: 400,
  bad_room: 400,
  bad_token: 400,
  resume_rejected: 400,
  too_many_inputs: 400,
  not_websocket: 400,
  origin_forbidden: 403,
  invite_required: 403,
  bad_invite: 403,
  not_found: 404,
  no_room: 404,
  unknown_session: 404,
  method_not_allowed: 405,
  poll_replaced: 409,
  session_expired: 410,
  session_ended: 410,
  session_replaced: 410,
  room_closed: 410,
  server_lost: 410,
  body_too_large: 413,
  not_json: 415,
  bad_body: 422,
  upgrade_required: 426,
  input_flood: 429,
  room_rate_limited: 429,
  room_rate_busy: 429,
  matchmake_rate_limited: 429,
  invite_rate_limited: 429,
  internal: 500,
  shutting_down: 503,
  room_full: 503,
  room_limit: 503,
  server_full: 503,
  spectator_limit: 503,
  room_spectator_limit: 503,
  ip_spectator_limit: 503,
  poll_limit: 503,
  room_poll_limit: 503,
  ip_poll_limit: 503,
  legacy_limit: 503,
  connection_limit: 503,
  ip_connection_limit: 503,
  fd_limit: 503,
  directory_unavailable: 503,
  not_registered: 503,
  no_player: 404,
  no_match: 404,
  no_database: 503,
  database_unavailable: 503,
  unauthorized: 401,
  admin_rate_limited: 429,
  banned: 403,
  replay_not_found: 404,
  replay_limit: 503,
  ip_replay_limit: 503,
  room_lost: 410,
  token_missing: 401,
  token_invalid: 401,
  token_expired: 401,
  tick_stalled: 503,
});

/**
 * A refused join in the binary protocol's terms: the `ErrorCode` the
 * WebSocket would have sent, and the close code it would have used.
 * @type {Readonly<Record<string, [ErrorMsg['code'], number]>>}
 */
const JOIN_REFUSALS = Object.freeze({
  bad_name: ['BadName', CloseCode.PolicyViolation],
  bad_room: ['BadRoom', CloseCode.PolicyViolation],
  resume_rejected: ['ResumeRejected', CloseCode.PolicyViolation],
  room_full: ['RoomFull', CloseCode.TryAgainLater],
  room_limit: ['RoomLimit', CloseCode.TryAgainLater],
  room_rate_limited: ['RoomRateLimited', CloseCode.TryAgainLater],
  room_rate_busy: ['RoomRateLimited', CloseCode.TryAgainLater],
  invite_required: ['InviteRequired', CloseCode.PolicyViolation],
  bad_invite: ['InviteRequired', CloseCode.PolicyViolation],
  invite_rate_limited: ['InviteRateLimited', CloseCode.TryAgainLater],
  banned: ['Banned', CloseCode.PolicyViolation],
  token_missing: ['TokenMissing', CloseCode.Unauthorized],
  token_invalid: ['TokenInvalid', CloseCode.Unauthorized],
  token_expired: ['TokenExpired', CloseCode.Unauthorized],
  server_full: ['ServerFull', CloseCode.TryAgainLater],
  legacy_limit: ['ServerFull', CloseCode.TryAgainLater],
  connection_limit: ['ServerFull', CloseCode.TryAgainLater],
  ip_connection_limit: ['ServerFull', CloseCode.TryAgainLater],
  fd_limit: ['ServerFull', CloseCode.TryAgainLater],
  shutting_down: ['ShuttingDown', CloseCode.GoingAway],
});

/**
 * What a refused join means: the Error the WebSocket would have sent (if
 * any) and its close code. A code the table does not know is the client's
 * fault: no Error, close 1002.
 * @param {string | null} code the answer's `code`
 * @param {string} message the answer's `error`
 * @returns {{ error: ErrorMsg | null, code: number }}
 */
export function joinRefusal(code, message) {
  const known = code === null ? undefined : JOIN_REFUSALS[code];
  if (!known) return { error: null, code: CloseCode.ProtocolError };
  return { error: { code: known[0], message }, code: known[1] };
}

/**
 * The close code of a session the server no longer has, as the WebSocket
 * would have been closed; `null` when `code` does not say the session is
 * gone.
 * @type {Readonly<Record<string, number>>}
 */
const GONE = Object.freeze({
  session_replaced: CloseCode.SessionReplaced,
  session_expired: CloseCode.IdleTimeout,
  unknown_session: CloseCode.IdleTimeout,
  room_closed: CloseCode.GoingAway,
  server_lost: CloseCode.GoingAway,
  room_lost: CloseCode.RoomLost,
  session_ended: CloseCode.Normal,
});

/**
 * @param {string | null} code an error answer's `code`
 * @returns {number | null} the close code, or null: the session is not gone
 */
export function goneClose(code) {
  return (code !== null && GONE[code]) || null;
}

/**
 * The `code` and `error` of an error answer; `code` is null when the body is
 * not the server's error body (a proxy's page, say). `nodeUrl` is the node a
 * handed-over room continues on (a long-poll `room_closed` `moved`), else null.
 * @param {Response} res
 * @returns {Promise<{ code: string | null, message: string, nodeUrl: string | null }>}
 */
export async function errorOf(res) {
  try {
    const body = await res.json();
    if (body && typeof body.code === 'string') {
      const nodeUrl = typeof body.node_url === 'string' ? body.node_url : null;
      return { code: body.code, message: typeof body.error === 'string' ? body.error : body.code, nodeUrl };
    }
  } catch {
    // not JSON
  }
  return { code: null, message: `HTTP ${res.status}`, nodeUrl: null };
}
