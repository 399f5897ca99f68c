// @ts-check
/**
 * @file Protocol messages for tests, with every field a test does not care
 * about at its empty value.
 */

/** @typedef {import('../src/protocol.js').Snapshot} Snapshot */
/** @typedef {import('../src/protocol.js').SnapshotBody} SnapshotBody */

/**
 * A snapshot message with every list empty, then `body` over it.
 * @param {Partial<SnapshotBody> & { tick: number }} body
 * @param {number} [lastInput]
 * @returns {Snapshot}
 */
export function snapshot(body, lastInput = 0) {
  return {
    last_input: lastInput,
    body: {
      baseline: null,
      round: null,
      spawned: [],
      changed: [],
      removed: [],
      shots: [],
      shots_gone: [],
      events: [],
      ...body,
    },
  };
}
