// @ts-check
/**
 * @file The client's view of the room: the states it has rebuilt from
 * snapshots, kept by tick so the next delta can start from whichever
 * baseline the server chose, and the game events not yet shown.
 *
 * The server deltas against the newest tick it has seen this client ack. It
 * only learns of a new ack when an Input arrives, so the baseline of the next
 * snapshot may be older than the client's newest state: states are kept
 * until a snapshot proves the server has moved past them (its baseline), and
 * a hard cap bounds memory if it never does. A snapshot whose baseline is
 * gone cannot be applied; the caller then acks `null` until a full snapshot
 * arrives. This module never touches the network or the DOM.
 */

/** @typedef {import('./protocol.js').Snapshot} Snapshot */
/** @typedef {import('./protocol.js').SnapshotBody} SnapshotBody */
/** @typedef {import('./protocol.js').GameEvent} GameEvent */
/** @typedef {import('./protocol.js').RoundState} RoundState */
/** @typedef {import('./protocol.js').ShipState} ShipState */

/**
 * A ship as the client knows it: its synced state plus the name and bot flag
 * that arrived when it spawned. Never mutated; a change makes a new object.
 * @typedef {ShipState & { name: string, bot: boolean }} Ship
 */

/**
 * A live projectile. `fired` is the tick it was fired (snapshot tick minus
 * its age then), so its age at any later tick is `tick - fired`.
 * @typedef {object} Shot
 * @property {number} id
 * @property {number} owner
 * @property {number} x origin, sub-units
 * @property {number} y origin, sub-units
 * @property {number} aim
 * @property {number} fired
 */

/**
 * The room at one tick.
 * @typedef {object} WorldState
 * @property {number} tick
 * @property {number} lastInput newest input sequence the server had applied
 * @property {RoundState | null} round
 * @property {ReadonlyMap<number, Ship>} ships
 * @property {ReadonlyMap<number, Shot>} shots
 */

/** @type {WorldState} */
const EMPTY = Object.freeze({
  tick: 0,
  lastInput: 0,
  round: null,
  ships: new Map(),
  shots: new Map(),
});

/** Events kept for a caller that stops draining them (a hidden tab). */
const MAX_PENDING_EVENTS = 256;

export class WorldView {
  /**
   * @param {{ maxStates?: number }} [options] `maxStates`: most states kept,
   *   whatever the baselines say (default 90: three seconds at 30 Hz).
   */
  constructor({ maxStates = 90 } = {}) {
    this.maxStates = maxStates;
    /** @type {Map<number, WorldState>} states by tick */
    this.states = new Map();
    /** @type {WorldState | null} the newest state */
    this.latest = null;
    /** True after a snapshot could not be applied, until one is. */
    this.needFull = false;
    /** Events at or before this tick have been taken in. */
    this.eventTick = 0;
    /** @type {GameEvent[]} events taken in and not yet drained */
    this.pendingEvents = [];
    /** @type {Map<number, string>} the roster: every ship name seen, by id (newest wins) */
    this.names = new Map();
  }

  /**
   * The `ack` the next Input carries: the newest tick held, or `null` (ask
   * for a full snapshot) before the first one and after a missing baseline.
   * @returns {number | null}
   */
  get ack() {
    return this.needFull || !this.latest ? null : this.latest.tick;
  }

  /**
   * @param {number} tick
   * @returns {WorldState | undefined}
   */
  stateAt(tick) {
    return this.states.get(tick);
  }

  /**
   * Applies one snapshot. Returns whether its baseline was available (always
   * true for a full one); on `false` nothing changed but the event log and
   * roster, and the client must ack `null` to get a full snapshot.
   * @param {Snapshot} snapshot
   * @returns {boolean}
   */
  apply(snapshot) {
    const body = snapshot.body;
    for (const spawn of body.spawned) this.names.set(spawn.ship.id, spawn.name);
    // Events carry their own ticks, so they are good even when the state is
    // not: taking them here keeps a kill on the feed across a resync.
    this.takeIn(body);

    const base = body.baseline === null ? EMPTY : this.states.get(body.baseline);
    const state = base && rebuild(base, snapshot, this.names);
    if (!state) {
      this.needFull = true;
      return false;
    }
    this.needFull = false;
    this.states.set(state.tick, state);
    if (!this.latest || state.tick >= this.latest.tick) this.latest = state;
    // The server only deltas against acks it has received, newest first: a
    // baseline of B means it will never again pick one older than B.
    if (body.baseline !== null) this.prune(body.baseline);
    this.enforceCap();
    return true;
  }

  /**
   * Forgets every state older than `tick`.
   * @param {number} tick
   */
  prune(tick) {
    for (const t of this.states.keys()) if (t < tick) this.states.delete(t);
  }

  /** Returns the events taken in since the last call, oldest first. */
  drainEvents() {
    const events = this.pendingEvents;
    this.pendingEvents = [];
    return events;
  }

  /**
   * Keeps events newer than any taken in before. A delta carries every event
   * after its baseline, so consecutive deltas overlap; a snapshot at tick T
   * has all of T's events, so T is the new watermark.
   * @param {SnapshotBody} body
   */
  takeIn(body) {
    const seen = this.eventTick;
    for (const event of body.events) if (event.tick > seen) this.pendingEvents.push(event);
    if (this.pendingEvents.length > MAX_PENDING_EVENTS) {
      this.pendingEvents.splice(0, this.pendingEvents.length - MAX_PENDING_EVENTS);
    }
    this.eventTick = Math.max(seen, body.tick);
  }

  enforceCap() {
    if (this.states.size <= this.maxStates) return;
    const ticks = [...this.states.keys()].sort((a, b) => a - b);
    for (const t of ticks.slice(0, ticks.length - this.maxStates)) this.states.delete(t);
  }
}

/**
 * The state `snapshot` describes, starting from `base`, in the order
 * protocol.rs gives: remove, add, apply changes, take the round. `null` when
 * the delta does not fit its baseline (a move of a ship it does not hold),
 * which a resync repairs like a missing baseline.
 * @param {WorldState} base
 * @param {Snapshot} snapshot
 * @param {ReadonlyMap<number, string>} names
 * @returns {WorldState | null}
 */
function rebuild(base, snapshot, names) {
  const body = snapshot.body;
  const ships = new Map(base.ships);
  const shots = new Map(base.shots);
  for (const id of body.removed) ships.delete(id);
  for (const id of body.shots_gone) shots.delete(id);
  for (const { ship, name, bot } of body.spawned) ships.set(ship.id, { ...ship, name, bot });
  for (const s of body.shots) {
    shots.set(s.id, { id: s.id, owner: s.owner, x: s.x, y: s.y, aim: s.aim, fired: body.tick - s.age });
  }
  for (const delta of body.changed) {
    if ('Moved' in delta) {
      const { id, dx, dy, aim } = delta.Moved;
      const prev = ships.get(id);
      if (!prev) return null;
      ships.set(id, { ...prev, x: prev.x + dx, y: prev.y + dy, aim });
    } else {
      const full = delta.Full;
      const prev = ships.get(full.id);
      ships.set(full.id, {
        ...full,
        name: prev?.name ?? names.get(full.id) ?? `#${full.id}`,
        bot: prev?.bot ?? false,
      });
    }
  }
  return {
    tick: body.tick,
    lastInput: snapshot.last_input,
    round: body.round ?? base.round,
    ships,
    shots,
  };
}
