// @ts-check
/**
 * @file The browser's mirror of `shared/src/protocol.rs`: every message on a
 * player's WebSocket as a type, its codes and limits, and the checks the
 * server applies to a Hello. How those messages become bytes is `codec.js`,
 * as it is `codec/` in Rust.
 *
 * Message values have exactly the shape serde_json gives the Rust types
 * (externally tagged enums, `null` for `None`, a ResumeToken as 16 numbers),
 * so the golden vectors in `shared/vectors/` compare with `deepStrictEqual`.
 */

/** Bumped on every change to the bytes of any message. */
export const PROTOCOL_VERSION = 5;
/** Longest signed player token (`Hello.token`) in bytes. */
export const MAX_PLAYER_TOKEN_LEN = 2048;
/** Largest client frame the server decodes: 512 plus a token. */
export const MAX_CLIENT_FRAME = 512 + MAX_PLAYER_TOKEN_LEN;
/** Largest server frame a client accepts. */
export const MAX_SERVER_FRAME = 1 << 20;
/** Longest operator message (`Notice.text`) in UTF-8 bytes. */
export const MAX_NOTICE_LEN = 200;
/** Longest player name in UTF-8 bytes. */
export const MAX_NAME_LEN = 24;
/** Longest room id in bytes; room ids are `[A-Za-z0-9_-]`. */
export const MAX_ROOM_ID_LEN = 32;

/** Input button bits (GAME.md, `rules::buttons`). */
export const Buttons = Object.freeze({
  UP: 1,
  DOWN: 2,
  LEFT: 4,
  RIGHT: 8,
  FIRE: 16,
  ALL: 31,
});

/** WebSocket close codes the server uses (`protocol::CloseCode`). */
export const CloseCode = Object.freeze({
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  InternalError: 1011,
  TryAgainLater: 1013,
  SessionReplaced: 4000,
  IdleTimeout: 4001,
  HelloTimeout: 4002,
  RoomLost: 4003,
  Unauthorized: 4004,
});

/** `protocol::ErrorCode` variant names, in variant (wire index) order. */
export const ErrorCode = Object.freeze(
  /** @type {const} */ ([
    'BadVersion',
    'BadName',
    'BadRoom',
    'RoomFull',
    'ServerFull',
    'ResumeRejected',
    'ShuttingDown',
    'RoomLimit',
    'RoomRateLimited',
    'InviteRequired',
    'InviteRateLimited',
    'Banned',
    'TokenMissing',
    'TokenInvalid',
    'TokenExpired',
  ]),
);

/**
 * The name of a close code, or `undefined` for one the server never sends.
 * @param {number} code
 * @returns {string | undefined}
 */
export function closeCodeName(code) {
  return Object.keys(CloseCode).find(
    (name) => CloseCode[/** @type {keyof typeof CloseCode} */ (name)] === code,
  );
}

// ---------------------------------------------------------------------------
// Message shapes (serde_json of the Rust types).

/** @typedef {number} Tick u32; a room counts from 1. */
/** @typedef {number} ShipId u16 */
/** @typedef {number} ShotId u16 */
/** @typedef {number[]} ResumeToken exactly 16 bytes */

/**
 * @typedef {object} Hello
 * @property {number} protocol
 * @property {string} name
 * @property {string | null} room
 * @property {ResumeToken | null} resume
 * @property {PlayerKey | null} player the device identity an earlier Welcome granted
 * @property {string | null} token a signed player token (a JWT) for a server
 *   started with `--auth-jwt-key`
 */
/** @typedef {{ id: string, secret: string }} PlayerKey a device identity (`identity.js` keeps it) */
/** @typedef {{ id: string, secret: string | null }} PlayerGrant secret: only when new */
/**
 * @typedef {object} Input
 * @property {number} seq
 * @property {Tick | null} ack
 * @property {number} buttons
 * @property {number} aim
 * @property {ViewTime | null} view the moment the screen showed other ships
 */
/**
 * A fractional tick, `tick + frac / 256` (`protocol::ViewTime`).
 * @typedef {object} ViewTime
 * @property {Tick} tick
 * @property {number} frac 0..255
 */
/** @typedef {{ nonce: number }} Ping */
/** @typedef {{ Hello: Hello } | { Input: Input } | { Ping: Ping } | 'Leave'} ClientMsg */

/**
 * @typedef {object} Rules
 * @property {number} tick_hz
 * @property {number} arena_w
 * @property {number} arena_h
 * @property {number} ship_speed
 * @property {number} shot_speed
 * @property {number} shot_life_ticks
 * @property {number} fire_cooldown_ticks
 * @property {number} hit_radius
 * @property {number} max_hp
 * @property {number} respawn_ticks
 * @property {number} round_ticks
 */
/**
 * @typedef {object} Welcome
 * @property {ShipId} ship
 * @property {string} room
 * @property {Tick} tick
 * @property {ResumeToken} resume
 * @property {boolean} resumed
 * @property {Rules} rules
 * @property {PlayerGrant | null} player null: this server keeps no records now
 */
/** @typedef {{ number: number, started: Tick, ends: Tick }} RoundState */
/**
 * @typedef {object} ShipState
 * @property {ShipId} id
 * @property {number} x sub-units (1/8 unit)
 * @property {number} y sub-units
 * @property {number} aim quantised
 * @property {number} hp 0: dead, waiting to respawn
 * @property {number} score
 */
/** @typedef {{ ship: ShipState, name: string, bot: boolean }} ShipSpawn */
/** @typedef {{ id: ShipId, dx: number, dy: number, aim: number }} ShipMoved */
/** @typedef {{ Moved: ShipMoved } | { Full: ShipState }} ShipDelta */
/**
 * @typedef {object} ShotSpawn
 * @property {ShotId} id
 * @property {ShipId} owner
 * @property {number} x origin, sub-units
 * @property {number} y origin, sub-units
 * @property {number} aim
 * @property {number} age ticks since fired, as of the snapshot's tick
 */
/** @typedef {{ ship: ShipId, score: number }} Standing */
/**
 * @typedef {{ Joined: { ship: ShipId } }
 *   | { Left: { ship: ShipId } }
 *   | { Killed: { killer: ShipId, victim: ShipId } }
 *   | { RoundStarted: { round: number, ends: Tick } }
 *   | { RoundEnded: { round: number, standings: Standing[] } }} EventKind
 */
/** @typedef {{ tick: Tick, kind: EventKind }} GameEvent */
/**
 * @typedef {object} SnapshotBody
 * @property {Tick} tick
 * @property {Tick | null} baseline null: a full snapshot
 * @property {RoundState | null} round
 * @property {ShipSpawn[]} spawned
 * @property {ShipDelta[]} changed
 * @property {ShipId[]} removed
 * @property {ShotSpawn[]} shots
 * @property {ShotId[]} shots_gone
 * @property {GameEvent[]} events
 */
/** @typedef {{ last_input: number, body: SnapshotBody }} Snapshot */
/** @typedef {{ nonce: number, tick: Tick }} Pong */
/** @typedef {{ code: typeof ErrorCode[number], message: string }} ErrorMsg */
/**
 * @typedef {{ Welcome: Welcome } | { Snapshot: Snapshot } | { Pong: Pong }
 *   | { Error: ErrorMsg }} ServerMsg
 */

// ---------------------------------------------------------------------------
// Validation the server applies to a Hello, so the lobby can say so first.

const utf8Encoder = new TextEncoder();

/**
 * `protocol::valid_name`: 1 to MAX_NAME_LEN UTF-8 bytes, no control
 * characters, not only whitespace. (JavaScript's `trim` also strips U+FEFF,
 * which Rust's does not; a name of only U+FEFF is refused here and accepted
 * there, which is harmless.)
 * @param {string} name
 */
export function validName(name) {
  return (
    name.trim().length > 0 &&
    utf8Encoder.encode(name).length <= MAX_NAME_LEN &&
    !/\p{Cc}/u.test(name)
  );
}

/**
 * `protocol::valid_room_id`: 1 to MAX_ROOM_ID_LEN of `[A-Za-z0-9_-]`.
 * @param {string} id
 */
export function validRoomId(id) {
  return id.length > 0 && id.length <= MAX_ROOM_ID_LEN && /^[A-Za-z0-9_-]+$/.test(id);
}
