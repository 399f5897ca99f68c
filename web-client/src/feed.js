// @ts-check
/**
 * @file The browser's mirror of `shared/src/feed.rs`: the names of every
 * event a room's feed (`/api/rooms/{id}/events`) and the server-wide ticker
 * (`/api/ticker`) carry. The one table the scoreboard listens with and
 * `standings.js` branches on; `test/feed.test.js` checks it against the
 * golden vectors (`index.json`'s `room_events` and `ticker_events`, and
 * every `feed_*.json`).
 *
 * An event's data has the JSON shape of its Rust type (see
 * `docs/protocol.md`, "JSON messages").
 */

/** A room feed's events (`RoomEvent`), in its order. */
export const RoomEvent = Object.freeze({
  /** Where a fresh stream starts; its id is the newest logged id. */
  Snapshot: 'snapshot',
  /** The cursor was not in the log: start over from this snapshot. */
  Reset: 'reset',
  /** Every ship's position, ten times a second; no id, latest-wins. */
  State: 'state',
  Join: 'join',
  Leave: 'leave',
  Kill: 'kill',
  Score: 'score',
  /** `phase` says `started` or `ended`. */
  Round: 'round',
  /** The room closed; the stream ends. */
  Closed: 'closed',
  /** The server is stopping; the stream ends. */
  Shutdown: 'shutdown',
  /** A message from the server's operators. */
  Notice: 'notice',
  /** The room continues on another node; the ids go on. */
  Moved: 'moved',
});

/** The ticker's events (`TickerEvent`), in its order. */
export const TickerEvent = Object.freeze({
  /** Where a fresh stream starts: the newest board. */
  Snapshot: 'snapshot',
  /** The cursor was not in the log: the newest board. */
  Reset: 'reset',
  /** The best lines across rooms, when they changed. */
  Board: 'board',
  /** A score change in any room. */
  Score: 'score',
  Closed: 'closed',
  Shutdown: 'shutdown',
});

/** The room events that carry an id and change the board. */
export const LOGGED_ROOM_EVENTS = new Set([
  RoomEvent.Join,
  RoomEvent.Leave,
  RoomEvent.Kill,
  RoomEvent.Score,
  RoomEvent.Round,
  RoomEvent.Notice,
  RoomEvent.Moved,
]);

/**
 * Whether `name` ends a stream (`closed`, `shutdown`), on either feed.
 * @param {string} name
 */
export function endsStream(name) {
  return name === RoomEvent.Closed || name === RoomEvent.Shutdown;
}
