// @ts-check
/**
 * @file Where the page finds a signed player token (a JWT) for a server
 * started with `--auth-jwt-key`: a hook the game maker's own page sets,
 * else the link's fragment. Never in the query string: a fragment is not
 * sent to any server, so it stays out of access logs and `Referer`
 * headers. Owns finding the token; never stores it (a page reload asks
 * the hook again, and tokens are short-lived).
 */

import { MAX_PLAYER_TOKEN_LEN } from './protocol.js';

/**
 * The token to put in `Hello.token` (and the long-poll join), or null.
 * `hook` is `window.skirmishPlayerToken`: a string, or a function returning
 * one (called at every join, so a reconnect gets a fresh token). A token
 * that is not three base64url parts, or is too long, is not sent: the
 * server would refuse it anyway, and its refusal (`TokenMissing`, close
 * 4004) is what the page shows.
 * @param {unknown} hook
 * @param {string} hash `location.hash`, e.g. `#token=eyJ...`
 * @returns {string | null}
 */
export function playerTokenOf(hook, hash) {
  const offered =
    typeof hook === 'function'
      ? hook()
      : typeof hook === 'string'
        ? hook
        : new URLSearchParams(hash.replace(/^#/, '')).get('token');
  if (typeof offered !== 'string') return null;
  const token = offered.trim();
  return wellFormed(token) ? token : null;
}

/**
 * A compact JWS: three base64url parts, at most the server's length.
 * @param {string} token
 */
export function wellFormed(token) {
  return (
    token.length > 0 &&
    token.length <= MAX_PLAYER_TOKEN_LEN &&
    /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)
  );
}
