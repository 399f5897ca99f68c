// @ts-check
/**
 * @file The JavaScript codec against the Rust one, through the golden
 * vectors: every message decodes to its serde_json and encodes to its bytes,
 * the code tables match, and malformed frames are refused with a CodecError.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

import {
  CodecError,
  decodeClient,
  decodeServer,
  encodeClient,
  encodeServer,
} from '../src/codec.js';
import {
  Buttons,
  CloseCode,
  ErrorCode,
  MAX_CLIENT_FRAME,
  MAX_NAME_LEN,
  MAX_ROOM_ID_LEN,
  MAX_SERVER_FRAME,
  PROTOCOL_VERSION,
  closeCodeName,
  validName,
  validRoomId,
} from '../src/protocol.js';
import { snapshot } from '../testing/messages.js';
import { index, readBytes, readJson } from '../testing/vectors.js';

const codecs = {
  client: { encode: encodeClient, decode: decodeClient },
  server: { encode: encodeServer, decode: decodeServer },
};

/** @param {Uint8Array} bytes */
const hex = (bytes) => Buffer.from(bytes).toString('hex');

/**
 * Asserts that decoding throws a CodecError (and nothing else).
 * @param {() => unknown} fn
 * @param {string} [kind]
 */
function assertRefused(fn, kind) {
  assert.throws(fn, (err) => {
    assert.ok(err instanceof CodecError, `expected a CodecError, got ${err}`);
    if (kind) assert.equal(err.kind, kind);
    return true;
  });
}

/** @param {string} file a Rust source file of the shared crate */
const rustSource = (file) =>
  readFileSync(new URL(`../../shared/src/${file}`, import.meta.url), 'utf8');

describe('constants', () => {
  test('limits and version match index.json', () => {
    assert.equal(PROTOCOL_VERSION, index.protocol_version);
    assert.equal(MAX_CLIENT_FRAME, index.max_client_frame);
    assert.equal(MAX_SERVER_FRAME, index.max_server_frame);
    assert.equal(MAX_NAME_LEN, index.max_name_len);
    assert.equal(MAX_ROOM_ID_LEN, index.max_room_id_len);
  });

  test('close codes match close_codes.json, in order', () => {
    assert.deepEqual(Object.entries(CloseCode), readJson('close_codes.json'));
    assert.equal(closeCodeName(4000), 'SessionReplaced');
    assert.equal(closeCodeName(1006), undefined);
  });

  test('error codes are the variants of protocol.rs ErrorCode, in order', () => {
    const block = rustSource('protocol.rs').match(/pub enum ErrorCode \{([\s\S]*?)\n\}/);
    assert.ok(block, 'ErrorCode enum found in protocol.rs');
    const variants = [...block[1].matchAll(/^\s{4}([A-Z]\w*),$/gm)].map((m) => m[1]);
    assert.deepEqual([...ErrorCode], variants);
    // ...and their wire index is their position.
    ErrorCode.forEach((code, i) => {
      const bytes = encodeServer({ Error: { code, message: '' } });
      assert.deepEqual([...bytes], [3, i, 0]);
    });
  });

  test('button bits match rules.rs', () => {
    const src = rustSource('rules.rs');
    for (const name of ['UP', 'DOWN', 'LEFT', 'RIGHT', 'FIRE']) {
      const m = src.match(new RegExp(`pub const ${name}: u8 = (\\d+);`));
      assert.ok(m, `${name} found in rules.rs`);
      assert.equal(Buttons[/** @type {'UP'} */ (name)], Number(m[1]), name);
    }
    assert.equal(Buttons.ALL, Buttons.UP | Buttons.DOWN | Buttons.LEFT | Buttons.RIGHT | Buttons.FIRE);
  });
});

describe('golden vectors', () => {
  assert.ok(index.messages.length >= 12, 'index.json lists the vectors');
  for (const { name, side, bytes: length } of index.messages) {
    const { encode, decode } = codecs[side];
    const bin = readBytes(`${name}.bin`);
    const json = readJson(`${name}.json`);

    test(`${name}: decode(bin) equals the json`, () => {
      assert.equal(bin.length, length);
      assert.deepStrictEqual(decode(bin), json);
    });

    test(`${name}: encode(json) equals the bin byte for byte`, () => {
      assert.equal(hex(encode(json)), hex(bin));
    });

    test(`${name}: every truncation is refused`, () => {
      for (let n = 0; n < bin.length; n++) assertRefused(() => decode(bin.subarray(0, n)));
    });

    test(`${name}: a trailing byte is refused`, () => {
      const long = new Uint8Array(bin.length + 1);
      long.set(bin);
      assertRefused(() => decode(long), 'TrailingBytes');
    });

    test(`${name}: the other side's decoder does not hang or crash`, () => {
      const other = side === 'client' ? decodeServer : decodeClient;
      try {
        other(bin);
      } catch (err) {
        assert.ok(err instanceof CodecError);
      }
    });
  }
});

describe('encoding', () => {
  test('varint boundaries use the smallest form', () => {
    /** @type {[number, number[]][]} */
    const cases = [
      [0, [0]],
      [250, [250]],
      [251, [251, 251, 0]],
      [0xffff, [251, 0xff, 0xff]],
      [0x10000, [252, 0, 0, 1, 0]],
      [0xffffffff, [252, 0xff, 0xff, 0xff, 0xff]],
    ];
    for (const [nonce, varint] of cases) {
      const bytes = encodeClient({ Ping: { nonce } });
      assert.deepEqual([...bytes], [2, ...varint], `nonce ${nonce}`);
      assert.deepEqual(decodeClient(bytes), { Ping: { nonce } });
    }
  });

  test('i16 deltas round-trip at the edges (zigzag)', () => {
    for (const d of [0, -1, 1, -76, 106, 125, -126, 32767, -32768]) {
      const msg = {
        Snapshot: snapshot(
          {
            tick: 2,
            baseline: 1,
            changed: [{ Moved: { id: 1, dx: d, dy: d === -32768 ? 32767 : 0 - d, aim: 0 } }],
          },
          1,
        ),
      };
      assert.deepStrictEqual(decodeServer(encodeServer(msg)), msg, `delta ${d}`);
    }
  });

  test('id-sorted lists carry gaps on the wire and real ids in values', () => {
    const msg = { Snapshot: snapshot({ tick: 5, removed: [250, 251, 500], shots_gone: [0, 1, 65535] }) };
    const frozen = structuredClone(msg);
    const bytes = encodeServer(msg);
    assert.deepStrictEqual(msg, frozen, 'encoding leaves the value alone');
    // The same bytes as codec.rs's sorted_ids_go_on_the_wire_as_gaps test.
    assert.deepEqual(
      [...bytes],
      [1, 0, 5, 0, 0, 0, 0, 3, 250, 1, 249, 0, 3, 0, 1, 0xfb, 0xfe, 0xff, 0],
    );
    assert.deepStrictEqual(decodeServer(bytes), msg);
  });

  test('changed folds the ShipDelta variant into the gap', () => {
    const moved = (/** @type {number} */ id, /** @type {number} */ dx) => ({ Moved: { id, dx, dy: 0, aim: 9 } });
    const full = (/** @type {number} */ id) => ({ Full: { id, x: 1, y: 2, aim: 3, hp: 4, score: 5 } });
    const msg = {
      Snapshot: snapshot({ tick: 0, changed: [moved(3, -1), full(4), moved(129, 1), full(65535), moved(0, 0)] }),
    };
    const bytes = encodeServer(msg);
    // The same bytes as codec.rs's changed_folds_the_variant_into_the_gap.
    assert.deepEqual([...bytes], [
      1, 0, // Snapshot, last_input
      0, 0, 0, 0, // tick, baseline, round, spawned
      5, // changed: 5
      6, 1, 0, 9, // gap 3 * 2 + Moved, dx -1, dy 0, aim
      3, 1, 2, 3, 4, 5, // gap 1 * 2 + Full, x, y, aim, hp, score
      250, 2, 0, 9, // gap 125 * 2 + Moved: still one byte
      0xfc, 0xfd, 0xfe, 1, 0, 1, 2, 3, 4, 5, // gap 65406 * 2 + Full: a u32
      2, 0, 0, 9, // gap 1 (wrapped) * 2 + Moved
      0, 0, 0, 0, // removed, shots, shots_gone, events
    ]);
    assert.deepStrictEqual(decodeServer(bytes), msg);
  });

  test('malformed id-sorted entries are refused', () => {
    const message = (/** @type {object} */ over) => ({ Snapshot: snapshot({ tick: 0, ...over }) });
    const ship = { id: 1, x: 1, y: 2, aim: 3, hp: 4, score: 5 };
    for (const bad of [
      { changed: [{ Teleported: { id: 1 } }] },
      { changed: [{ Moved: { id: 1, dx: 0, dy: 0, aim: 0 }, Full: ship }] },
      { changed: ['Moved'] },
      { changed: [null] },
      { changed: [{ Moved: { id: 65536, dx: 0, dy: 0, aim: 0 } }] },
      { changed: [{ Moved: { id: 1, dx: 0, aim: 0 } }] },
      { changed: [{ Full: { ...ship, hp: 256 } }] },
      { spawned: [{ ship: { ...ship, id: -1 }, name: 'a', bot: false }] },
      { spawned: [{ name: 'a', bot: false }] },
      { shots: [{ id: 1, owner: 2, x: 3, y: 4, aim: 5 }] },
      { removed: [1.5] },
      { shots_gone: ['2'] },
    ]) {
      assertRefused(() => encodeServer(/** @type {any} */ (message(bad))), 'Encode');
    }
  });

  test('unsorted and wrapping id lists round-trip', () => {
    const ship = (/** @type {number} */ id) => ({ id, x: 1, y: 2, aim: 3, hp: 4, score: 5 });
    const msg = {
      Snapshot: snapshot({
        tick: 1,
        spawned: [600, 7, 7, 65535, 0].map((id) => ({ ship: ship(id), name: 'n', bot: false })),
        changed: [{ Full: ship(9) }, { Moved: { id: 3, dx: 1, dy: -1, aim: 0 } }],
        removed: [65535, 0],
        shots: [{ id: 40000, owner: 600, x: 9, y: 9, aim: 1, age: 0 }],
        shots_gone: [2, 1],
      }),
    };
    assert.deepStrictEqual(decodeServer(encodeServer(msg)), msg);
  });

  test('strings keep a leading byte-order mark and non-ASCII text', () => {
    const msg = { Hello: { protocol: 1, name: '\uFEFFZoë 🚀', room: 'r', resume: null, player: null, token: null } };
    assert.deepStrictEqual(decodeClient(encodeClient(msg)), msg);
  });

  test('values that do not fit their Rust type are refused', () => {
    const input = (/** @type {object} */ over) => ({
      Input: { seq: 1, ack: null, buttons: 0, aim: 0, view: null, ...over },
    });
    for (const bad of [
      input({ buttons: 256 }),
      input({ aim: -1 }),
      input({ seq: 2 ** 32 }),
      input({ seq: 1.5 }),
      input({ ack: '3' }),
      input({ view: { tick: 5, frac: 256 } }),
      input({ view: { tick: -1, frac: 0 } }),
      { Input: { seq: 1, ack: null, buttons: 0 } },
      { Hello: { protocol: 70000, name: 'a', room: null, resume: null, player: null, token: null } },
      { Hello: { protocol: 1, name: 'a', room: null, resume: new Array(15).fill(0), player: null, token: null } },
      { Hello: { protocol: 1, name: 'a\uD800', room: null, resume: null, player: null, token: null } },
      { Hello: { protocol: 1, name: 'x'.repeat(MAX_CLIENT_FRAME), room: null, resume: null, player: null, token: null } },
      { Nope: {} },
      { Leave: {} },
      'Ping',
      { Ping: { nonce: 1 }, Leave: null },
    ]) {
      assertRefused(() => encodeClient(/** @type {any} */ (bad)));
    }
  });

  test('a Uint8Array resume token encodes like an array', () => {
    const resume = Array.from({ length: 16 }, (_, i) => i * 16);
    const a = encodeClient({ Hello: { protocol: 1, name: 'a', room: null, resume, player: null, token: null } });
    const b = encodeClient({
      Hello: { protocol: 1, name: 'a', room: null, resume: /** @type {any} */ (Uint8Array.from(resume)), player: null, token: null },
    });
    assert.equal(hex(a), hex(b));
  });
});

describe('malformed frames', () => {
  /** @param {number[]} bytes */
  const client = (bytes) => () => decodeClient(Uint8Array.from(bytes));
  /** @param {number[]} bytes */
  const server = (bytes) => () => decodeServer(Uint8Array.from(bytes));

  test('empty and oversized frames', () => {
    assertRefused(client([]), 'Malformed');
    assertRefused(server([]), 'Malformed');
    assertRefused(() => decodeClient(new Uint8Array(MAX_CLIENT_FRAME + 1)), 'FrameTooLarge');
    assertRefused(() => decodeServer(new Uint8Array(MAX_SERVER_FRAME + 1)), 'FrameTooLarge');
  });

  test('unknown variant indices', () => {
    assertRefused(client([4]), 'Malformed');
    assertRefused(client([251, 4, 0]), 'Malformed');
    assertRefused(client([252, 0, 0, 0, 1]), 'Malformed');
  });

  test('bincode accepts a non-minimal varint, so do we', () => {
    // bincode 2 checks the marker against the type, not minimality.
    assert.deepEqual(decodeClient(Uint8Array.from([2, 251, 5, 0])), { Ping: { nonce: 5 } });
    assert.deepEqual(decodeClient(Uint8Array.from([251, 3, 0])), 'Leave');
  });

  test('unknown variants of inner enums', () => {
    assertRefused(server([6]));
    assertRefused(server([3, 15, 0])); // ErrorCode 15
    // An event kind 5.
    assertRefused(server([1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 5]));
  });

  test('a ShipDelta head whose gap is not a u16', () => {
    // changed: 1 entry, head 2^17 (gap 65536, Moved), dx, dy, aim.
    const body = [1, 0, 1, 0, 0, 0, 1];
    assertRefused(server([...body, 252, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]), 'Malformed');
    assertRefused(server([...body, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 'Malformed');
    // 2^17 - 1 is the largest: gap 65535, Full.
    assert.deepEqual(decodeServer(Uint8Array.from([...body, 252, 0xff, 0xff, 1, 0, 1, 2, 3, 4, 5, 0, 0, 0, 0])), {
      Snapshot: snapshot({ tick: 1, changed: [{ Full: { id: 65535, x: 1, y: 2, aim: 3, hp: 4, score: 5 } }] }),
    });
  });

  test('markers too wide for the type', () => {
    assertRefused(client([0, 252, 1, 0, 0, 0, 1, 97, 0, 0])); // protocol: u16 with a u32 marker
    assertRefused(client([2, 253, 1, 0, 0, 0, 0, 0, 0, 0])); // nonce: u32 with a u64 marker
    assertRefused(client([2, 254, ...new Array(16).fill(0)])); // u128 marker
    assertRefused(client([2, 255])); // reserved marker
  });

  test('invalid bool and Option bytes', () => {
    assertRefused(client([0, 1, 1, 97, 2, 0])); // room: Option tag 2
    assertRefused(client([1, 1, 2, 0, 0])); // ack: Option tag 2
    const welcome = readBytes('server_welcome.bin');
    const bad = Uint8Array.from(welcome);
    const resumedAt = 1 + 1 + 1 + 4 + 3 + 16; // variant, ship, len, "main", tick, token
    assert.equal(bad[resumedAt], 0);
    bad[resumedAt] = 2;
    assertRefused(() => decodeServer(bad), 'Malformed');
  });

  test('invalid UTF-8', () => {
    assertRefused(client([0, 1, 2, 0xc3, 0x28, 0, 0])); // broken two-byte sequence
    assertRefused(client([0, 1, 3, 0xed, 0xa0, 0x80, 0, 0])); // an encoded surrogate
    assertRefused(client([0, 1, 2, 0xc0, 0x80, 0, 0])); // overlong NUL
  });

  test('forged lengths fail without allocating', () => {
    // The codec.rs test case: a name claiming 2^62 bytes.
    assertRefused(client([0, 1, 253, 0, 0, 0, 0, 0, 0, 0, 0x40]), 'Malformed');
    assertRefused(client([0, 1, 253, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 'Malformed');
    assertRefused(client([0, 1, 252, 0xff, 0xff, 0xff, 0xff, 97]), 'Malformed');
    assertRefused(client([0, 1, 2, 97]), 'Malformed'); // one byte short
    // A snapshot claiming 2^32-1 spawned ships.
    assertRefused(server([1, 0, 1, 0, 0, 252, 0xff, 0xff, 0xff, 0xff, 0]), 'Malformed');
  });

  test('random and mutated frames only ever throw CodecError', () => {
    let seed = 0x2545f491;
    const next = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return seed >>> 0;
    };
    const vectors = index.messages.map(({ name }) => readBytes(`${name}.bin`));
    for (let i = 0; i < 5000; i++) {
      let bytes;
      if (i % 2 === 0) {
        bytes = Uint8Array.from({ length: next() % 80 }, () => next() & 0xff);
      } else {
        bytes = Uint8Array.from(vectors[next() % vectors.length]);
        for (let flips = 1 + (next() % 4); flips > 0; flips--) {
          bytes[next() % bytes.length] ^= 1 + (next() % 255);
        }
        bytes = bytes.subarray(0, next() % (bytes.length + 1));
      }
      for (const decode of [decodeClient, decodeServer]) {
        try {
          decode(bytes);
        } catch (err) {
          assert.ok(err instanceof CodecError, `${hex(bytes)}: ${err}`);
        }
      }
    }
  });

  test('ArrayBuffer and DataView input', () => {
    const bin = readBytes('server_pong.bin');
    const buffer = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
    assert.deepEqual(decodeServer(buffer), readJson('server_pong.json'));
    assert.deepEqual(decodeServer(new DataView(buffer)), readJson('server_pong.json'));
  });
});

describe('Hello validation mirrors protocol.rs', () => {
  test('names', () => {
    assert.ok(validName('Ada'));
    assert.ok(validName('Zoë the 2nd'));
    assert.ok(!validName(''));
    assert.ok(!validName('   '));
    assert.ok(!validName('a\u0007b'));
    assert.ok(!validName('x'.repeat(MAX_NAME_LEN + 1)));
    assert.ok(!validName('é'.repeat(13)), '26 bytes');
  });

  test('rooms', () => {
    assert.ok(validRoomId('arena-1_b'));
    assert.ok(!validRoomId('a b'));
    assert.ok(!validRoomId(''));
    assert.ok(!validRoomId('r'.repeat(MAX_ROOM_ID_LEN + 1)));
  });
});
