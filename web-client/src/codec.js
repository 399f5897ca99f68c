// @ts-check
/**
 * @file The browser's mirror of `shared/src/codec/`: the bincode 2 (standard
 * config, over serde) encoding of every message in `protocol.js`, with the
 * id gaps of snapshot lists (`codec/id_gaps.rs`).
 *
 * The schema below is written field for field in the order of protocol.rs:
 * bincode has no field names on the wire, so order is the format. Decoding
 * must never hang or allocate from a forged length: every length is checked
 * against the bytes left before anything is read, and every failure is a
 * thrown {@link CodecError}.
 */

import { MAX_CLIENT_FRAME, MAX_SERVER_FRAME, ErrorCode } from './protocol.js';

/** @typedef {import('./protocol.js').ClientMsg} ClientMsg */
/** @typedef {import('./protocol.js').ErrorMsg} ErrorMsg */
/** @typedef {import('./protocol.js').EventKind} EventKind */
/** @typedef {import('./protocol.js').GameEvent} GameEvent */
/** @typedef {import('./protocol.js').Hello} Hello */
/** @typedef {import('./protocol.js').Input} Input */
/** @typedef {import('./protocol.js').Ping} Ping */
/** @typedef {import('./protocol.js').Pong} Pong */
/** @typedef {import('./protocol.js').RoundState} RoundState */
/** @typedef {import('./protocol.js').Rules} Rules */
/** @typedef {import('./protocol.js').ServerMsg} ServerMsg */
/** @typedef {import('./protocol.js').ShipDelta} ShipDelta */
/** @typedef {import('./protocol.js').ShipId} ShipId */
/** @typedef {import('./protocol.js').ShipSpawn} ShipSpawn */
/** @typedef {import('./protocol.js').ShipState} ShipState */
/** @typedef {import('./protocol.js').ShotId} ShotId */
/** @typedef {import('./protocol.js').ShotSpawn} ShotSpawn */
/** @typedef {import('./protocol.js').Snapshot} Snapshot */
/** @typedef {import('./protocol.js').SnapshotBody} SnapshotBody */
/** @typedef {import('./protocol.js').Standing} Standing */
/** @typedef {import('./protocol.js').Tick} Tick */
/** @typedef {import('./protocol.js').Welcome} Welcome */

// ---------------------------------------------------------------------------
// Errors

/** Why bytes did not become a message or a message did not become bytes. */
export class CodecError extends Error {
  /**
   * @param {'FrameTooLarge' | 'Malformed' | 'TrailingBytes' | 'Encode'} kind
   *   the `codec::CodecError` variant this mirrors
   * @param {string} message
   */
  constructor(kind, message) {
    super(`${kind}: ${message}`);
    this.name = 'CodecError';
    this.kind = kind;
  }
}

/** @param {string} message */
const malformed = (message) => new CodecError('Malformed', message);

// ---------------------------------------------------------------------------
// Bytes

// Varint markers of bincode 2: a first byte below 251 is the value itself.
const U16_MARKER = 251;
const U32_MARKER = 252;
const U64_MARKER = 253;

class Writer {
  constructor() {
    this.buf = new Uint8Array(64);
    this.len = 0;
  }

  /** @param {number} n */
  reserve(n) {
    if (this.len + n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    grown.set(this.buf.subarray(0, this.len));
    this.buf = grown;
  }

  /** @param {number} b */
  byte(b) {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  /** @param {ArrayLike<number>} bytes */
  bytes(bytes) {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  /**
   * `n` little-endian bytes of a non-negative integer below 2^53.
   * @param {number} value
   * @param {number} n
   */
  le(value, n) {
    for (let i = 0; i < n; i++) {
      this.byte(value % 256);
      value = Math.floor(value / 256);
    }
  }

  /** @param {number} value a non-negative integer below 2^53 */
  varint(value) {
    if (value < U16_MARKER) {
      this.byte(value);
    } else if (value <= 0xffff) {
      this.byte(U16_MARKER);
      this.le(value, 2);
    } else if (value <= 0xffffffff) {
      this.byte(U32_MARKER);
      this.le(value, 4);
    } else {
      this.byte(U64_MARKER);
      this.le(value, 8);
    }
  }

  finish() {
    return this.buf.slice(0, this.len);
  }
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

class Reader {
  /** @param {Uint8Array} bytes */
  constructor(bytes) {
    this.bytes = bytes;
    this.pos = 0;
  }

  get remaining() {
    return this.bytes.length - this.pos;
  }

  byte() {
    if (this.pos >= this.bytes.length) {
      throw malformed(`unexpected end of frame at byte ${this.pos}`);
    }
    return this.bytes[this.pos++];
  }

  /** @param {number} n */
  take(n) {
    if (n > this.remaining) {
      throw malformed(`need ${n} bytes at byte ${this.pos}, ${this.remaining} left`);
    }
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** @param {number} n at most 6, so the result stays exact */
  le(n) {
    const b = this.take(n);
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + b[i];
    return v;
  }

  /**
   * A varint of a type `maxMarker` bits wide: a marker for a wider type is an
   * error, as in bincode (`InvalidIntegerType`), not a value to truncate.
   * Non-minimal forms (251 followed by a value below 251) are accepted,
   * because bincode accepts them.
   * @param {number} maxMarker U16_MARKER, U32_MARKER or U64_MARKER
   * @param {string} type for the error message
   */
  varint(maxMarker, type) {
    const first = this.byte();
    if (first < U16_MARKER) return first;
    if (first > maxMarker) {
      throw malformed(`varint marker ${first} is too wide for ${type} at byte ${this.pos - 1}`);
    }
    if (first === U16_MARKER) return this.le(2);
    if (first === U32_MARKER) return this.le(4);
    // u64: only lengths use it. Anything at or above 2^32 is far beyond any
    // frame, so the approximate double is fine: it only meets a length check.
    const lo = this.le(4);
    const hi = this.le(4);
    return hi * 0x1_0000_0000 + lo;
  }

  /** A collection or string length; never more than the bytes left. */
  length() {
    const at = this.pos;
    const len = this.varint(U64_MARKER, 'length');
    // Every element of every protocol collection takes at least one byte,
    // so a length above the bytes left is a lie, refused before allocating.
    if (len > this.remaining) {
      throw malformed(`length ${len} at byte ${at} exceeds the ${this.remaining} bytes left`);
    }
    return len;
  }
}

// ---------------------------------------------------------------------------
// Schema combinators: one codec per Rust type.

/**
 * @template T
 * @typedef {object} Codec
 * @property {string} name
 * @property {(w: Writer, value: T, path: string) => void} write
 * @property {(r: Reader) => T} read
 */

/**
 * @param {unknown} value
 * @param {number} max
 * @param {string} type
 * @param {string} path
 * @returns {number}
 */
function checkUint(value, max, type, path) {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new CodecError('Encode', `${path}: ${String(value)} is not a ${type}`);
  }
  return value;
}

/** @type {Codec<number>} */
const u8 = {
  name: 'u8',
  write: (w, v, path) => w.byte(checkUint(v, 0xff, 'u8', path)),
  read: (r) => r.byte(),
};

/** @type {Codec<number>} */
const u16 = {
  name: 'u16',
  write: (w, v, path) => w.varint(checkUint(v, 0xffff, 'u16', path)),
  read: (r) => r.varint(U16_MARKER, 'u16'),
};

/** @type {Codec<number>} */
const u32 = {
  name: 'u32',
  write: (w, v, path) => w.varint(checkUint(v, 0xffffffff, 'u32', path)),
  read: (r) => r.varint(U32_MARKER, 'u32'),
};

/** i16 as bincode writes it: zigzag, then a u16 varint. @type {Codec<number>} */
const i16 = {
  name: 'i16',
  write: (w, v, path) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < -0x8000 || v > 0x7fff) {
      throw new CodecError('Encode', `${path}: ${String(v)} is not an i16`);
    }
    w.varint(((v << 1) ^ (v >> 15)) & 0xffff);
  },
  read: (r) => {
    const z = r.varint(U16_MARKER, 'i16');
    return (z >>> 1) ^ -(z & 1);
  },
};

/** @type {Codec<boolean>} */
const bool = {
  name: 'bool',
  write: (w, v, path) => {
    if (typeof v !== 'boolean') throw new CodecError('Encode', `${path}: ${String(v)} is not a bool`);
    w.byte(v ? 1 : 0);
  },
  read: (r) => {
    const at = r.pos;
    const b = r.byte();
    if (b > 1) throw malformed(`invalid bool ${b} at byte ${at}`);
    return b === 1;
  },
};

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** @type {Codec<string>} */
const string = {
  name: 'String',
  write: (w, v, path) => {
    if (typeof v !== 'string') throw new CodecError('Encode', `${path}: not a string`);
    // A lone surrogate would silently become U+FFFD; a Rust String cannot
    // hold one, so refuse rather than send something else.
    if (LONE_SURROGATE.test(v)) {
      throw new CodecError('Encode', `${path}: string has a lone surrogate`);
    }
    const bytes = utf8Encoder.encode(v);
    w.varint(bytes.length);
    w.bytes(bytes);
  },
  read: (r) => {
    const at = r.pos;
    const bytes = r.take(r.length());
    try {
      return utf8Decoder.decode(bytes);
    } catch {
      throw malformed(`invalid UTF-8 in the string at byte ${at}`);
    }
  },
};

/**
 * A fixed byte array (`[u8; N]`): N raw bytes, no length.
 * @param {number} n
 * @returns {Codec<number[]>}
 */
function byteArray(n) {
  return {
    name: `[u8; ${n}]`,
    write: (w, v, path) => {
      if (v == null || typeof v !== 'object' || v.length !== n) {
        throw new CodecError('Encode', `${path}: expected ${n} bytes`);
      }
      for (let i = 0; i < n; i++) u8.write(w, v[i], `${path}[${i}]`);
    },
    read: (r) => Array.from(r.take(n)),
  };
}

/**
 * @template T
 * @param {Codec<T>} inner
 * @returns {Codec<T | null>}
 */
function option(inner) {
  return {
    name: `Option<${inner.name}>`,
    write: (w, v, path) => {
      if (v === null || v === undefined) {
        w.byte(0);
      } else {
        w.byte(1);
        inner.write(w, v, path);
      }
    },
    read: (r) => {
      const at = r.pos;
      const tag = r.byte();
      if (tag === 0) return null;
      if (tag === 1) return inner.read(r);
      throw malformed(`invalid Option tag ${tag} at byte ${at}`);
    },
  };
}

/**
 * @template T
 * @param {Codec<T>} inner
 * @returns {Codec<T[]>}
 */
function vec(inner) {
  return {
    name: `Vec<${inner.name}>`,
    write: (w, v, path) => {
      if (!Array.isArray(v)) throw new CodecError('Encode', `${path}: not an array`);
      w.varint(v.length);
      v.forEach((item, i) => inner.write(w, item, `${path}[${i}]`));
    },
    read: (r) => {
      const len = r.length();
      const out = [];
      for (let i = 0; i < len; i++) out.push(inner.read(r));
      return out;
    },
  };
}

/**
 * An entry of a snapshot body's id-sorted list (see `idGaps`): `write` puts
 * `toGap(id, path)` where the id goes, and `read` turns the gap it reads
 * back into the id with `toId(gap)`.
 * @template T
 * @typedef {object} GapCodec
 * @property {string} name
 * @property {(w: Writer, value: T, toGap: (id: unknown, path: string) => number, path: string) => void} write
 * @property {(r: Reader, toId: (gap: number) => number) => T} read
 */

/**
 * A snapshot body's id-sorted list, as `codec::id_gaps` writes it: a `vec`
 * whose entries each hold, in place of their id, the gap from the previous
 * entry's id (the first from 0), modulo 2^16. Values hold real ids both
 * ways; only the bytes carry gaps, and nothing is copied to write them.
 * @template T
 * @param {GapCodec<T>} entry
 * @returns {Codec<T[]>}
 */
function idGaps(entry) {
  return {
    name: `IdGaps<${entry.name}>`,
    write: (w, v, path) => {
      if (!Array.isArray(v)) throw new CodecError('Encode', `${path}: not an array`);
      let previous = 0;
      /**
       * @param {unknown} id
       * @param {string} at
       */
      const toGap = (id, at) => {
        const next = checkUint(id, 0xffff, 'u16', at);
        const gap = (next - previous) & 0xffff;
        previous = next;
        return gap;
      };
      w.varint(v.length);
      v.forEach((item, i) => entry.write(w, item, toGap, `${path}[${i}]`));
    },
    read: (r) => {
      let id = 0;
      /** @param {number} gap */
      const toId = (gap) => (id = (id + gap) & 0xffff);
      const len = r.length();
      const out = [];
      for (let i = 0; i < len; i++) out.push(entry.read(r, toId));
      return out;
    },
  };
}

/** A `ShipId` or `ShotId` entry: just its gap. @type {GapCodec<number>} */
const idGap = {
  name: 'u16',
  write: (w, v, toGap, path) => w.varint(toGap(v, path)),
  read: (r, toId) => toId(u16.read(r)),
};

/**
 * A struct entry led by its id: the `lead` field (the id's gap, or a struct
 * led by one), then `fields`. `rest` is the struct without its lead.
 * @param {string} name
 * @param {[string, GapCodec<any>]} lead
 * @param {[string, Codec<any>][]} fields the fields after the lead, in order
 * @returns {GapCodec<any> & { rest: Codec<any> }}
 */
function idLed(name, [leadField, lead], fields) {
  const rest = struct(name, fields);
  return {
    name,
    rest,
    write: (w, v, toGap, path) => {
      if (v === null || typeof v !== 'object') {
        throw new CodecError('Encode', `${path}: expected a ${name} object`);
      }
      lead.write(w, v[leadField], toGap, `${path}.${leadField}`);
      rest.write(w, v, path);
    },
    read: (r, toId) => ({ [leadField]: lead.read(r, toId), ...rest.read(r) }),
  };
}

/**
 * A struct: its fields in declaration order, no names on the wire.
 * @param {string} name
 * @param {[string, Codec<any>][]} fields
 * @returns {Codec<any>}
 */
function struct(name, fields) {
  return {
    name,
    write: (w, v, path) => {
      if (v === null || typeof v !== 'object') {
        throw new CodecError('Encode', `${path}: expected a ${name} object`);
      }
      for (const [field, codec] of fields) {
        if (!(field in v)) throw new CodecError('Encode', `${path}.${field} is missing`);
        codec.write(w, v[field], `${path}.${field}`);
      }
    },
    read: (r) => {
      /** @type {Record<string, unknown>} */
      const out = {};
      for (const [field, codec] of fields) out[field] = codec.read(r);
      return out;
    },
  };
}

/**
 * An externally tagged enum: the variant index as a u32 varint, then the
 * variant's payload. `null` payload: a unit variant, written as its name.
 * A newtype variant's payload is the inner value; a struct variant's is a
 * `struct` codec (serde writes both the same way).
 * @param {string} name
 * @param {[string, Codec<any> | null][]} variants
 * @returns {Codec<any>}
 */
function enumOf(name, variants) {
  const index = new Map(variants.map(([variant], i) => [variant, i]));
  return {
    name,
    write: (w, v, path) => {
      /** @type {string} */
      let variant;
      /** @type {unknown} */
      let payload;
      if (typeof v === 'string') {
        variant = v;
      } else if (v !== null && typeof v === 'object' && Object.keys(v).length === 1) {
        variant = Object.keys(v)[0];
        payload = v[variant];
      } else {
        throw new CodecError('Encode', `${path}: expected a ${name} variant`);
      }
      const i = index.get(variant);
      if (i === undefined) throw new CodecError('Encode', `${path}: ${name} has no variant ${variant}`);
      const codec = variants[i][1];
      if ((codec === null) !== (typeof v === 'string')) {
        throw new CodecError('Encode', `${path}: ${name}::${variant} is ${codec ? 'not ' : ''}a unit variant`);
      }
      w.varint(i);
      if (codec) codec.write(w, payload, `${path}.${variant}`);
    },
    read: (r) => {
      const at = r.pos;
      const i = r.varint(U32_MARKER, 'variant index');
      if (i >= variants.length) throw malformed(`${name} has no variant ${i} (byte ${at})`);
      const [variant, codec] = variants[i];
      return codec ? { [variant]: codec.read(r) } : variant;
    },
  };
}

// ---------------------------------------------------------------------------
// The protocol, in the order of protocol.rs.

const Tick = u32;
const ShipIdT = u16;
const ResumeTokenT = byteArray(16);

const PlayerKeyT = struct('PlayerKey', [
  ['id', string],
  ['secret', string],
]);

const HelloT = struct('Hello', [
  ['protocol', u16],
  ['name', string],
  ['room', option(string)],
  ['resume', option(ResumeTokenT)],
  ['player', option(PlayerKeyT)],
  ['token', option(string)],
]);

const ViewTimeT = struct('ViewTime', [
  ['tick', Tick],
  ['frac', u8],
]);

const InputT = struct('Input', [
  ['seq', u32],
  ['ack', option(Tick)],
  ['buttons', u8],
  ['aim', u8],
  ['view', option(ViewTimeT)],
]);

const PingT = struct('Ping', [['nonce', u32]]);

const ClientMsgT = enumOf('ClientMsg', [
  ['Hello', HelloT],
  ['Input', InputT],
  ['Ping', PingT],
  ['Leave', null],
]);

const RulesT = struct('Rules', [
  ['tick_hz', u16],
  ['arena_w', u16],
  ['arena_h', u16],
  ['ship_speed', u16],
  ['shot_speed', u16],
  ['shot_life_ticks', u16],
  ['fire_cooldown_ticks', u16],
  ['hit_radius', u16],
  ['max_hp', u8],
  ['respawn_ticks', u16],
  ['round_ticks', u32],
]);

const WelcomeT = struct('Welcome', [
  ['ship', ShipIdT],
  ['room', string],
  ['tick', Tick],
  ['resume', ResumeTokenT],
  ['resumed', bool],
  ['rules', RulesT],
  ['player', option(struct('PlayerGrant', [['id', string], ['secret', option(string)]]))],
]);

const RoundStateT = struct('RoundState', [
  ['number', u32],
  ['started', Tick],
  ['ends', Tick],
]);

// ShipState, ShipSpawn, ShipDelta and ShotSpawn only travel in a snapshot
// body's id-sorted lists, so they are written here as those lists' entries.

const ShipStateT = idLed(
  'ShipState',
  ['id', idGap],
  [
    ['x', u16],
    ['y', u16],
    ['aim', u8],
    ['hp', u8],
    ['score', u16],
  ],
);

const ShipSpawnT = idLed(
  'ShipSpawn',
  ['ship', ShipStateT],
  [
    ['name', string],
    ['bot', bool],
  ],
);

const ShipMovedT = struct('ShipDelta::Moved', [
  ['dx', i16],
  ['dy', i16],
  ['aim', u8],
]);

/**
 * A `changed` entry: one u32 varint `gap * 2 + variant` (0 Moved, 1 Full),
 * then the variant's fields without the id.
 * @type {GapCodec<ShipDelta>}
 */
const ShipDeltaT = {
  name: 'ShipDelta',
  write: (w, v, toGap, path) => {
    const keys = v !== null && typeof v === 'object' ? Object.keys(v) : [];
    const variant = keys.length === 1 ? ['Moved', 'Full'].indexOf(keys[0]) : -1;
    if (variant < 0) throw new CodecError('Encode', `${path}: expected a ShipDelta variant`);
    const at = `${path}.${keys[0]}`;
    const fields = /** @type {any} */ (v)[keys[0]];
    w.varint(toGap(fields?.id, `${at}.id`) * 2 + variant);
    (variant === 0 ? ShipMovedT : ShipStateT.rest).write(w, fields, at);
  },
  read: (r, toId) => {
    const at = r.pos;
    const head = r.varint(U32_MARKER, 'u32');
    if (head > 0x1ffff) throw malformed(`ShipDelta gap ${Math.floor(head / 2)} at byte ${at} is not a u16`);
    const id = toId(head >>> 1);
    return head & 1 ? { Full: { id, ...ShipStateT.rest.read(r) } } : { Moved: { id, ...ShipMovedT.read(r) } };
  },
};

const ShotSpawnT = idLed(
  'ShotSpawn',
  ['id', idGap],
  [
    ['owner', ShipIdT],
    ['x', u16],
    ['y', u16],
    ['aim', u8],
    ['age', u8],
  ],
);

const StandingT = struct('Standing', [
  ['ship', ShipIdT],
  ['score', u16],
]);

const EventKindT = enumOf('EventKind', [
  ['Joined', struct('EventKind::Joined', [['ship', ShipIdT]])],
  ['Left', struct('EventKind::Left', [['ship', ShipIdT]])],
  [
    'Killed',
    struct('EventKind::Killed', [
      ['killer', ShipIdT],
      ['victim', ShipIdT],
    ]),
  ],
  [
    'RoundStarted',
    struct('EventKind::RoundStarted', [
      ['round', u32],
      ['ends', Tick],
    ]),
  ],
  [
    'RoundEnded',
    struct('EventKind::RoundEnded', [
      ['round', u32],
      ['standings', vec(StandingT)],
    ]),
  ],
]);

const GameEventT = struct('GameEvent', [
  ['tick', Tick],
  ['kind', EventKindT],
]);

const SnapshotBodyT = struct('SnapshotBody', [
  ['tick', Tick],
  ['baseline', option(Tick)],
  ['round', option(RoundStateT)],
  ['spawned', idGaps(ShipSpawnT)],
  ['changed', idGaps(ShipDeltaT)],
  ['removed', idGaps(idGap)],
  ['shots', idGaps(ShotSpawnT)],
  ['shots_gone', idGaps(idGap)],
  ['events', vec(GameEventT)],
]);

const SnapshotT = struct('Snapshot', [
  ['last_input', u32],
  ['body', SnapshotBodyT],
]);

const PongT = struct('Pong', [
  ['nonce', u32],
  ['tick', Tick],
]);

const ErrorCodeT = enumOf(
  'ErrorCode',
  ErrorCode.map((name) => /** @type {[string, null]} */ ([name, null])),
);

const ErrorMsgT = struct('ErrorMsg', [
  ['code', ErrorCodeT],
  ['message', string],
]);

const ServerMsgT = enumOf('ServerMsg', [
  ['Welcome', WelcomeT],
  ['Snapshot', SnapshotT],
  ['Pong', PongT],
  ['Error', ErrorMsgT],
  ['Notice', struct('Notice', [['text', string]])],
  ['Moved', struct('Moved', [['room', string], ['node', string], ['node_url', string], ['ws_url', string]])],
]);

// ---------------------------------------------------------------------------
// The codec's entry points.

/**
 * @param {Uint8Array | ArrayBuffer | ArrayBufferView} input
 * @returns {Uint8Array}
 */
function asBytes(input) {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  throw new TypeError('expected a Uint8Array, ArrayBuffer or typed array view');
}

/**
 * @param {Codec<any>} codec
 * @param {unknown} value
 * @param {number} limit
 */
function encodeWith(codec, value, limit) {
  const w = new Writer();
  codec.write(w, value, codec.name);
  if (w.len > limit) {
    throw new CodecError('FrameTooLarge', `frame of ${w.len} bytes exceeds the limit of ${limit}`);
  }
  return w.finish();
}

/**
 * Checks the size, decodes, and refuses trailing bytes, like
 * `codec::decode_limited`.
 * @param {Codec<any>} codec
 * @param {Uint8Array | ArrayBuffer | ArrayBufferView} input
 * @param {number} limit
 */
function decodeWith(codec, input, limit) {
  const bytes = asBytes(input);
  if (bytes.length > limit) {
    throw new CodecError('FrameTooLarge', `frame of ${bytes.length} bytes exceeds the limit of ${limit}`);
  }
  const r = new Reader(bytes);
  const value = codec.read(r);
  if (r.remaining !== 0) {
    throw new CodecError('TrailingBytes', `${r.remaining} trailing bytes after a ${r.pos}-byte message`);
  }
  return value;
}

/**
 * One client frame. Refuses a frame the server would refuse as too large.
 * @param {ClientMsg} msg
 * @returns {Uint8Array}
 */
export function encodeClient(msg) {
  return encodeWith(ClientMsgT, msg, MAX_CLIENT_FRAME);
}

/**
 * @param {Uint8Array | ArrayBuffer | ArrayBufferView} bytes one client frame
 * @returns {ClientMsg}
 */
export function decodeClient(bytes) {
  return decodeWith(ClientMsgT, bytes, MAX_CLIENT_FRAME);
}

/**
 * One server frame (the client only needs this for tests and tools).
 * @param {ServerMsg} msg
 * @returns {Uint8Array}
 */
export function encodeServer(msg) {
  return encodeWith(ServerMsgT, msg, MAX_SERVER_FRAME);
}

/**
 * @param {Uint8Array | ArrayBuffer | ArrayBufferView} bytes one server frame
 * @returns {ServerMsg}
 */
export function decodeServer(bytes) {
  return decodeWith(ServerMsgT, bytes, MAX_SERVER_FRAME);
}
