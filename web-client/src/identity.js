// @ts-check
/**
 * @file The device identity: the player id and secret a Welcome granted,
 * kept in `localStorage` and presented in every later Hello, so the
 * server adds this browser's rounds to one record. Owns that one storage
 * key; never sends the secret anywhere but in Hello (and the long-poll
 * join). A stored value of the wrong shape is ignored: the next Welcome
 * grants a new identity.
 */

/** The `localStorage` key. */
export const STORAGE_KEY = 'skirmish.player';

const HEX = /^[0-9a-f]+$/;

/**
 * @typedef {Pick<Storage, 'getItem' | 'setItem'>} KeyStore what of
 *   `localStorage` this needs (tests pass a Map-backed one)
 */

/**
 * The page's `localStorage`, or null where reading it throws (storage
 * disabled, a sandboxed frame) or there is none (Node).
 * @returns {KeyStore | null}
 */
export function browserStorage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

/**
 * Whether `key` has the shape the server grants: 16 and 64 lowercase hex.
 * @param {unknown} key
 * @returns {key is import('./protocol.js').PlayerKey}
 */
export function validPlayerKey(key) {
  if (!key || typeof key !== 'object') return false;
  const { id, secret } = /** @type {{ id?: unknown, secret?: unknown }} */ (key);
  return (
    typeof id === 'string' &&
    typeof secret === 'string' &&
    id.length === 16 &&
    secret.length === 64 &&
    HEX.test(id) &&
    HEX.test(secret)
  );
}

/**
 * The identity this browser holds, or null (first visit, storage off, or
 * a value of the wrong shape).
 * @param {KeyStore | null | undefined} store
 * @returns {import('./protocol.js').PlayerKey | null}
 */
export function loadPlayerKey(store) {
  try {
    const text = store?.getItem(STORAGE_KEY);
    if (!text) return null;
    const key = JSON.parse(text);
    return validPlayerKey(key) ? { id: key.id, secret: key.secret } : null;
  } catch {
    // Storage disabled (private mode, a sandboxed frame) or unreadable.
    return null;
  }
}

/**
 * Keeps a newly granted identity; false when it could not be stored (the
 * game goes on; the next visit is a new guest).
 * @param {KeyStore | null | undefined} store
 * @param {import('./protocol.js').PlayerKey} key
 * @returns {boolean}
 */
export function savePlayerKey(store, key) {
  if (!store || !validPlayerKey(key)) return false;
  try {
    store.setItem(STORAGE_KEY, JSON.stringify({ id: key.id, secret: key.secret }));
    return true;
  } catch {
    return false;
  }
}
