//! The codec: the one place messages become bytes and bytes become messages.
//! bincode 2 (standard config: little-endian, varint integers) over serde.
//!
//! Decoding checks the frame size before bincode sees it, gives bincode the
//! same byte limit (so a forged length prefix cannot make it allocate), and
//! rejects trailing bytes. Arbitrary input yields a [`CodecError`], never a
//! panic (property tests below).
//!
//! One wire detail is not plain bincode-of-the-types: the id-sorted lists of
//! a snapshot body carry each id as the gap from the previous entry's id
//! (`id_gaps`). It lives here, behind `#[serde(with)]` on those fields, and
//! only for binary serializers: in memory and in JSON ids are real ids.

use std::fmt;

use serde::de::{self, DeserializeOwned, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::protocol::{
    ClientMsg, MAX_CLIENT_FRAME, MAX_SERVER_FRAME, ServerMsg, ShipDelta, ShipId, ShipSpawn,
    ShipState, ShotId, ShotSpawn, SnapshotBody,
};
use crate::tick::Tick;

/// What can go wrong turning bytes into messages or back.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    /// The frame is larger than the receiver accepts.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    FrameTooLarge {
        /// Frame length.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// The bytes are not a message.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// A message decoded but bytes were left over.
    #[error("{extra} trailing bytes after a {used}-byte message")]
    TrailingBytes {
        /// Bytes the message used.
        used: usize,
        /// Bytes left over.
        extra: usize,
    },
    /// A value could not be encoded (a bug on the sending side).
    #[error("cannot encode: {0}")]
    Encode(String),
}

/// The bincode configuration, with a decode limit of `LIMIT` bytes.
const fn config<const LIMIT: usize>() -> bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<LIMIT>,
> {
    bincode::config::standard().with_limit::<LIMIT>()
}

/// Encodes any protocol value.
///
/// # Errors
/// Only for values serde cannot describe to bincode; none of the protocol's.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    bincode::serde::encode_to_vec(value, config::<MAX_SERVER_FRAME>())
        .map_err(|e| CodecError::Encode(e.to_string()))
}

fn decode_limited<T: DeserializeOwned, const LIMIT: usize>(bytes: &[u8]) -> Result<T, CodecError> {
    if bytes.len() > LIMIT {
        return Err(CodecError::FrameTooLarge {
            len: bytes.len(),
            max: LIMIT,
        });
    }
    let (value, used) = bincode::serde::decode_from_slice(bytes, config::<LIMIT>())
        .map_err(|e| CodecError::Malformed(e.to_string()))?;
    if used != bytes.len() {
        return Err(CodecError::TrailingBytes {
            used,
            extra: bytes.len() - used,
        });
    }
    Ok(value)
}

/// Decodes one client frame (at most [`MAX_CLIENT_FRAME`] bytes).
///
/// # Errors
/// Oversized, malformed or over-long frames.
pub fn decode_client(bytes: &[u8]) -> Result<ClientMsg, CodecError> {
    decode_limited::<ClientMsg, MAX_CLIENT_FRAME>(bytes)
}

/// Decodes one server frame (at most [`MAX_SERVER_FRAME`] bytes).
///
/// # Errors
/// Oversized, malformed or over-long frames.
pub fn decode_server(bytes: &[u8]) -> Result<ServerMsg, CodecError> {
    decode_limited::<ServerMsg, MAX_SERVER_FRAME>(bytes)
}

/// A snapshot body encoded once, to be shared by every player whose snapshot
/// has the same baseline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedBody(Vec<u8>);

impl EncodedBody {
    /// Encodes `body`.
    ///
    /// # Errors
    /// See [`encode`].
    pub fn new(body: &SnapshotBody) -> Result<EncodedBody, CodecError> {
        encode(body).map(EncodedBody)
    }

    /// The body back as a value, for tests of the encoding. (Transports
    /// that speak JSON keep the value the bytes were made from.)
    #[cfg(test)]
    fn decode(&self) -> Result<SnapshotBody, CodecError> {
        decode_limited::<SnapshotBody, MAX_SERVER_FRAME>(&self.0)
    }

    /// Encoded length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true for a real body; here for clippy's `len_without_is_empty`.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `ServerMsg::Snapshot`'s variant index: the frame prefix written by
/// [`snapshot_frame`]. A test pins it to what serde derives.
const SNAPSHOT_VARIANT: u32 = 1;

/// The frame of `ServerMsg::Snapshot(Snapshot { last_input, body })` built
/// from a pre-encoded body: byte for byte what [`encode`] produces, without
/// re-encoding the body for every player.
///
/// # Errors
/// See [`encode`].
pub fn snapshot_frame(last_input: u32, body: &EncodedBody) -> Result<Vec<u8>, CodecError> {
    let mut frame = encode(&(SNAPSHOT_VARIANT, last_input))?;
    frame.extend_from_slice(&body.0);
    Ok(frame)
}

/// What a client needs to acknowledge a snapshot: the head of its frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotHead {
    /// `Snapshot::last_input`.
    pub last_input: u32,
    /// `SnapshotBody::tick`.
    pub tick: Tick,
    /// `SnapshotBody::baseline`.
    pub baseline: Option<Tick>,
}

/// Reads the head of a `ServerMsg::Snapshot` frame without decoding its
/// body: for clients that only track ticks (the load-test bots' `--view
/// ticks`). `Ok(None)` for any other message; the body is not checked.
///
/// # Errors
/// An oversized frame, or a snapshot frame too short for its head.
pub fn peek_snapshot(frame: &[u8]) -> Result<Option<SnapshotHead>, CodecError> {
    if frame.len() > MAX_SERVER_FRAME {
        return Err(CodecError::FrameTooLarge {
            len: frame.len(),
            max: MAX_SERVER_FRAME,
        });
    }
    let malformed = |e: bincode::error::DecodeError| CodecError::Malformed(e.to_string());
    let (variant, used): (u32, usize) =
        bincode::serde::decode_from_slice(frame, config::<MAX_SERVER_FRAME>())
            .map_err(malformed)?;
    if variant != SNAPSHOT_VARIANT {
        return Ok(None);
    }
    // `Snapshot` is `last_input`, then the body, which starts with `tick`
    // and `baseline`; the rest of the body is left unread.
    let ((last_input, tick, baseline), _): ((u32, Tick, Option<Tick>), usize) =
        bincode::serde::decode_from_slice(&frame[used..], config::<MAX_SERVER_FRAME>())
            .map_err(malformed)?;
    Ok(Some(SnapshotHead {
        last_input,
        tick,
        baseline,
    }))
}

/// Id gaps: the binary form of a snapshot body's id-sorted lists
/// (`spawned`, `changed`, `removed`, `shots`, `shots_gone`).
///
/// Each entry is encoded exactly as its type, except that its id holds the
/// gap from the previous entry's id (the first entry's gap is from 0), taken
/// modulo 2^16. Ship ids of a 512-ship room run up to 511, and shot ids up to
/// 65535, so most real ids are 3-byte varints while most gaps in a sorted
/// list are 1 byte. Modular arithmetic makes the transform total: any list,
/// sorted or not, round-trips exactly (unsorted or wrapped lists just cost
/// more bytes).
///
/// `changed` also folds the `ShipDelta` variant into its gap: each entry is
/// one u32 varint `gap * 2 + variant` (0 `Moved`, 1 `Full`), then the
/// variant's fields without the id. A head whose gap is 2^16 or more is
/// malformed.
///
/// Human-readable serializers (serde_json: the long-poll transport, the
/// golden vectors' `.json`) get the plain list of real ids, so only the bytes
/// on the binary wire change. `web-client/src/protocol.js` (`idGaps`)
/// mirrors this.
pub(crate) mod id_gaps {
    use super::{Deserialize, Deserializer, Serialize, Serializer};

    /// A list entry that carries an id, and its binary form with a gap in
    /// place of that id.
    pub(crate) trait Keyed: Serialize + for<'de> Deserialize<'de> {
        /// The entry's id.
        fn key(&self) -> u16;
        /// Replaces the entry's id.
        fn set_key(&mut self, key: u16);
        /// Writes the entry with `gap` in place of its id.
        fn serialize_gapped<S: Serializer>(
            &self,
            gap: u16,
            serializer: S,
        ) -> Result<S::Ok, S::Error>;
        /// Reads what [`Keyed::serialize_gapped`] wrote, the gap as the id.
        fn deserialize_gapped<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Self, D::Error> {
            Self::deserialize(deserializer)
        }
    }

    /// An entry on its way out: borrowed, with the gap that replaces its id.
    struct Gapped<'a, T> {
        entry: &'a T,
        gap: u16,
    }

    impl<T: Keyed> Serialize for Gapped<'_, T> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            self.entry.serialize_gapped(self.gap, serializer)
        }
    }

    /// An entry on its way in, its id still a gap.
    struct Ungapped<T>(T);

    impl<'de, T: Keyed> Deserialize<'de> for Ungapped<T> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            T::deserialize_gapped(deserializer).map(Ungapped)
        }
    }

    /// Writes `items` with their ids as gaps (binary) or as they are (JSON).
    pub(crate) fn serialize<S: Serializer, T: Keyed>(
        items: &[T],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            return items.serialize(serializer);
        }
        let mut previous = 0u16;
        serializer.collect_seq(items.iter().map(|entry| {
            let id = entry.key();
            let gap = id.wrapping_sub(previous);
            previous = id;
            Gapped { entry, gap }
        }))
    }

    /// Reads what [`serialize`] wrote, turning gaps back into ids.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>, T: Keyed>(
        deserializer: D,
    ) -> Result<Vec<T>, D::Error> {
        if deserializer.is_human_readable() {
            return Vec::deserialize(deserializer);
        }
        let mut id = 0u16;
        let entries = Vec::<Ungapped<T>>::deserialize(deserializer)?;
        Ok(entries
            .into_iter()
            .map(|Ungapped(mut item)| {
                id = id.wrapping_add(item.key());
                item.set_key(id);
                item
            })
            .collect())
    }
}

/// The bare id newtypes (`removed`, `shots_gone`): the entry is the id.
macro_rules! keyed_id {
    ($($id:ident),*) => {$(
        impl id_gaps::Keyed for $id {
            fn key(&self) -> u16 {
                self.0
            }
            fn set_key(&mut self, key: u16) {
                self.0 = key;
            }
            fn serialize_gapped<S: Serializer>(&self, gap: u16, serializer: S) -> Result<S::Ok, S::Error> {
                $id(gap).serialize(serializer)
            }
        }
    )*};
}
keyed_id!(ShipId, ShotId);

impl id_gaps::Keyed for ShotSpawn {
    fn key(&self) -> u16 {
        self.id.0
    }
    fn set_key(&mut self, key: u16) {
        self.id.0 = key;
    }
    fn serialize_gapped<S: Serializer>(&self, gap: u16, serializer: S) -> Result<S::Ok, S::Error> {
        ShotSpawn {
            id: ShotId(gap),
            ..*self
        }
        .serialize(serializer)
    }
}

/// A `ShipSpawn` is its fields in order: a copy of the small `ShipState`
/// with the gap, and the borrowed name.
impl id_gaps::Keyed for ShipSpawn {
    fn key(&self) -> u16 {
        self.ship.id.0
    }
    fn set_key(&mut self, key: u16) {
        self.ship.id.0 = key;
    }
    fn serialize_gapped<S: Serializer>(&self, gap: u16, serializer: S) -> Result<S::Ok, S::Error> {
        let ShipSpawn { ship, name, bot } = self;
        let ship = ShipState {
            id: ShipId(gap),
            ..*ship
        };
        (ship, name, bot).serialize(serializer)
    }
    fn deserialize_gapped<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (ship, name, bot) = Deserialize::deserialize(deserializer)?;
        Ok(ShipSpawn { ship, name, bot })
    }
}

/// `gap * 2 + variant` as one u32 varint, then the variant's fields without
/// the id.
impl id_gaps::Keyed for ShipDelta {
    fn key(&self) -> u16 {
        self.id().0
    }
    fn set_key(&mut self, key: u16) {
        match self {
            ShipDelta::Moved { id, .. } => id.0 = key,
            ShipDelta::Full(state) => state.id.0 = key,
        }
    }
    fn serialize_gapped<S: Serializer>(&self, gap: u16, serializer: S) -> Result<S::Ok, S::Error> {
        let head = u32::from(gap) * 2;
        match *self {
            ShipDelta::Moved { id: _, dx, dy, aim } => (head, (dx, dy, aim)).serialize(serializer),
            ShipDelta::Full(ShipState {
                id: _,
                x,
                y,
                aim,
                hp,
                score,
            }) => (head + 1, (x, y, aim, hp, score)).serialize(serializer),
        }
    }
    fn deserialize_gapped<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_tuple(2, GappedShipDelta)
    }
}

/// Reads a `changed` entry: its head, then the fields its variant bit says.
struct GappedShipDelta;

impl<'de> Visitor<'de> for GappedShipDelta {
    type Value = ShipDelta;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a ship delta led by gap * 2 + variant")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ShipDelta, A::Error> {
        let head: u32 = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let gap = u16::try_from(head / 2).map_err(|_| {
            de::Error::invalid_value(de::Unexpected::Unsigned(head.into()), &"a gap below 2^16")
        })?;
        let id = ShipId(gap);
        let missing = || de::Error::invalid_length(1, &self);
        Ok(if head & 1 == 0 {
            let (dx, dy, aim) = seq.next_element()?.ok_or_else(missing)?;
            ShipDelta::Moved { id, dx, dy, aim }
        } else {
            let (x, y, aim, hp, score) = seq.next_element()?.ok_or_else(missing)?;
            ShipDelta::Full(ShipState {
                id,
                x,
                y,
                aim,
                hp,
                score,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::*;
    use proptest::prelude::*;

    fn sample_body() -> SnapshotBody {
        SnapshotBody {
            tick: Tick(300),
            baseline: Some(Tick(298)),
            round: None,
            spawned: vec![],
            changed: vec![ShipDelta::Moved {
                id: ShipId(3),
                dx: -53,
                dy: 0,
                aim: 64,
            }],
            removed: vec![ShipId(9)],
            shots: vec![],
            shots_gone: vec![ShotId(1000)],
            events: vec![GameEvent {
                tick: Tick(299),
                kind: EventKind::Killed {
                    killer: ShipId(3),
                    victim: ShipId(9),
                },
            }],
        }
    }

    #[test]
    fn peeking_reads_a_snapshot_head_and_nothing_else() {
        for (last_input, baseline) in [
            (0, None),
            (70_000, Some(Tick(298))),
            (u32::MAX, Some(Tick(0))),
        ] {
            let body = SnapshotBody {
                baseline,
                ..sample_body()
            };
            let frame = encode(&ServerMsg::Snapshot(Snapshot { last_input, body })).unwrap();
            assert_eq!(
                peek_snapshot(&frame),
                Ok(Some(SnapshotHead {
                    last_input,
                    tick: Tick(300),
                    baseline,
                }))
            );
            assert!(peek_snapshot(&frame[..2]).is_err());
        }
        let pong = encode(&ServerMsg::Pong(Pong {
            nonce: 1,
            tick: Tick(2),
        }))
        .unwrap();
        assert_eq!(peek_snapshot(&pong), Ok(None));
        assert!(peek_snapshot(&[]).is_err());
    }

    #[test]
    fn shared_body_frames_equal_plain_encoding() {
        let body = sample_body();
        let encoded = EncodedBody::new(&body).unwrap();
        assert_eq!(encoded.decode(), Ok(body.clone()));
        for last_input in [0, 1, 250, 251, 70_000, u32::MAX] {
            let plain = encode(&ServerMsg::Snapshot(Snapshot {
                last_input,
                body: body.clone(),
            }))
            .unwrap();
            assert_eq!(snapshot_frame(last_input, &encoded).unwrap(), plain);
        }
    }

    #[test]
    fn sorted_ids_go_on_the_wire_as_gaps_and_stay_ids_in_json() {
        let body = SnapshotBody {
            tick: Tick(5),
            removed: vec![ShipId(250), ShipId(251), ShipId(500)],
            shots_gone: vec![ShotId(0), ShotId(1), ShotId(65535)],
            ..SnapshotBody::default()
        };
        let bytes = EncodedBody::new(&body).unwrap();
        #[rustfmt::skip]
        let expected = [
            5, 0, 0, 0, 0,             // tick, baseline, round, spawned, changed
            3, 250, 1, 249,            // removed: 250, +1, +249
            0,                         // shots
            3, 0, 1, 0xfb, 0xfe, 0xff, // shots_gone: 0, +1, +65534
            0,                         // events
        ];
        assert_eq!(bytes.0, expected);
        assert_eq!(bytes.decode(), Ok(body.clone()));
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["removed"], serde_json::json!([250, 251, 500]));
        assert_eq!(json["shots_gone"], serde_json::json!([0, 1, 65535]));
        let back: SnapshotBody = serde_json::from_value(json).unwrap();
        assert_eq!(back, body);
    }

    #[test]
    fn changed_folds_the_variant_into_the_gap() {
        let moved = |id, dx| ShipDelta::Moved {
            id: ShipId(id),
            dx,
            dy: 0,
            aim: 9,
        };
        let full = |id| {
            ShipDelta::Full(ShipState {
                id: ShipId(id),
                x: 1,
                y: 2,
                aim: 3,
                hp: 4,
                score: 5,
            })
        };
        let body = SnapshotBody {
            changed: vec![
                moved(3, -1),
                full(4),
                moved(129, 1),
                full(65535),
                moved(0, 0),
            ],
            ..SnapshotBody::default()
        };
        let bytes = EncodedBody::new(&body).unwrap();
        #[rustfmt::skip]
        let expected = [
            0, 0, 0, 0,                     // tick, baseline, round, spawned
            5,                              // changed: 5
            6, 1, 0, 9,                     // gap 3 * 2 + Moved, dx -1, dy 0, aim
            3, 1, 2, 3, 4, 5,               // gap 1 * 2 + Full, x, y, aim, hp, score
            250, 2, 0, 9,                   // gap 125 * 2 + Moved: still one byte
            0xfc, 0xfd, 0xfe, 1, 0,         // gap 65406 * 2 + Full: a u32
            1, 2, 3, 4, 5,
            2, 0, 0, 9,                     // gap 1 (wrapped) * 2 + Moved
            0, 0, 0, 0,                     // removed, shots, shots_gone, events
        ];
        assert_eq!(bytes.0, expected);
        assert_eq!(bytes.decode(), Ok(body.clone()));
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json["changed"][0],
            serde_json::json!({"Moved": {"id": 3, "dx": -1, "dy": 0, "aim": 9}})
        );
        let back: SnapshotBody = serde_json::from_value(json).unwrap();
        assert_eq!(back, body);

        // The largest head is gap 65535, Full; one more is not a gap.
        let entry = |head: [u8; 4]| {
            let mut bytes = vec![0, 0, 0, 0, 1, 0xfc];
            bytes.extend(head);
            bytes.extend([1, 2, 3, 4, 5, 0, 0, 0, 0]);
            EncodedBody(bytes).decode()
        };
        assert_eq!(
            entry([0xff, 0xff, 1, 0]),
            Ok(SnapshotBody {
                changed: vec![full(65535)],
                ..SnapshotBody::default()
            })
        );
        assert!(matches!(entry([0, 0, 2, 0]), Err(CodecError::Malformed(_))));
    }

    #[test]
    fn unsorted_and_wrapping_id_lists_round_trip() {
        let spawn = |id| ShipSpawn {
            ship: ShipState {
                id: ShipId(id),
                x: 1,
                y: 2,
                aim: 3,
                hp: 4,
                score: 5,
            },
            name: "n".into(),
            bot: false,
        };
        let body = SnapshotBody {
            spawned: vec![spawn(600), spawn(7), spawn(7), spawn(65535), spawn(0)],
            changed: vec![
                ShipDelta::Full(spawn(9).ship),
                ShipDelta::Moved {
                    id: ShipId(3),
                    dx: 1,
                    dy: -1,
                    aim: 0,
                },
            ],
            shots: vec![ShotSpawn {
                id: ShotId(40_000),
                owner: ShipId(600),
                x: 9,
                y: 9,
                aim: 1,
                age: 0,
            }],
            ..SnapshotBody::default()
        };
        let encoded = EncodedBody::new(&body).unwrap();
        assert_eq!(encoded.decode(), Ok(body));
    }

    #[test]
    fn limits_and_trailing_bytes_are_errors() {
        let ping = encode(&ClientMsg::Ping(Ping { nonce: 5 })).unwrap();
        assert_eq!(decode_client(&ping), Ok(ClientMsg::Ping(Ping { nonce: 5 })));
        let mut long = ping.clone();
        long.push(0);
        assert_eq!(
            decode_client(&long),
            Err(CodecError::TrailingBytes { used: 2, extra: 1 })
        );
        assert!(matches!(
            decode_client(&vec![0; MAX_CLIENT_FRAME + 1]),
            Err(CodecError::FrameTooLarge { .. })
        ));
        assert!(matches!(decode_client(&[]), Err(CodecError::Malformed(_))));
        // A Hello whose name claims 2^62 bytes must fail without allocating.
        let forged = [0u8, 1, 253, 0, 0, 0, 0, 0, 0, 0, 0x40];
        assert!(matches!(
            decode_client(&forged),
            Err(CodecError::Malformed(_))
        ));
    }

    fn arb_input() -> impl Strategy<Value = Input> {
        (any::<u32>(), any::<Option<u32>>(), any::<u8>(), any::<u8>()).prop_map(
            |(seq, ack, buttons, aim)| Input {
                seq,
                ack: ack.map(Tick),
                buttons,
                aim,
            },
        )
    }

    fn arb_client() -> impl Strategy<Value = ClientMsg> {
        prop_oneof![
            (
                any::<u16>(),
                "[a-z]{0,24}",
                proptest::option::of("[a-z0-9_-]{1,32}"),
                proptest::option::of(any::<[u8; 16]>())
            )
                .prop_map(|(protocol, name, room, resume)| ClientMsg::Hello(Hello {
                    protocol,
                    name,
                    room,
                    resume: resume.map(ResumeToken),
                })),
            arb_input().prop_map(ClientMsg::Input),
            any::<u32>().prop_map(|nonce| ClientMsg::Ping(Ping { nonce })),
            Just(ClientMsg::Leave),
        ]
    }

    fn arb_ship() -> impl Strategy<Value = ShipState> {
        (
            any::<u16>(),
            any::<u16>(),
            any::<u16>(),
            any::<u8>(),
            any::<u8>(),
            any::<u16>(),
        )
            .prop_map(|(id, x, y, aim, hp, score)| ShipState {
                id: ShipId(id),
                x,
                y,
                aim,
                hp,
                score,
            })
    }

    fn arb_body() -> impl Strategy<Value = SnapshotBody> {
        (
            any::<u32>(),
            any::<Option<u32>>(),
            proptest::collection::vec((arb_ship(), "[a-zA-Z ]{1,24}", any::<bool>()), 0..8),
            proptest::collection::vec(
                prop_oneof![
                    (any::<u16>(), any::<i16>(), any::<i16>(), any::<u8>()).prop_map(
                        |(id, dx, dy, aim)| ShipDelta::Moved {
                            id: ShipId(id),
                            dx,
                            dy,
                            aim
                        }
                    ),
                    arb_ship().prop_map(ShipDelta::Full),
                ],
                0..32,
            ),
            proptest::collection::vec(any::<u16>(), 0..8),
            proptest::collection::vec(
                (
                    any::<u16>(),
                    any::<u16>(),
                    any::<u16>(),
                    any::<u16>(),
                    any::<u8>(),
                    any::<u8>(),
                ),
                0..8,
            ),
        )
            .prop_map(
                |(tick, baseline, spawned, changed, removed, shots)| SnapshotBody {
                    tick: Tick(tick),
                    baseline: baseline.map(Tick),
                    round: Some(RoundState {
                        number: 2,
                        started: Tick(tick / 2),
                        ends: Tick(tick),
                    }),
                    spawned: spawned
                        .into_iter()
                        .map(|(ship, name, bot)| ShipSpawn { ship, name, bot })
                        .collect(),
                    changed,
                    removed: removed.iter().copied().map(ShipId).collect(),
                    shots: shots
                        .into_iter()
                        .map(|(id, owner, x, y, aim, age)| ShotSpawn {
                            id: ShotId(id),
                            owner: ShipId(owner),
                            x,
                            y,
                            aim,
                            age,
                        })
                        .collect(),
                    shots_gone: removed.into_iter().map(ShotId).collect(),
                    events: vec![GameEvent {
                        tick: Tick(tick),
                        kind: EventKind::RoundEnded {
                            round: 1,
                            standings: vec![Standing {
                                ship: ShipId(1),
                                score: 3,
                            }],
                        },
                    }],
                },
            )
    }

    proptest! {
        #[test]
        fn client_messages_round_trip(msg in arb_client()) {
            let bytes = encode(&msg).unwrap();
            prop_assert!(bytes.len() <= MAX_CLIENT_FRAME);
            prop_assert_eq!(decode_client(&bytes), Ok(msg));
        }

        #[test]
        fn server_messages_round_trip(body in arb_body(), last_input in any::<u32>()) {
            let msg = ServerMsg::Snapshot(Snapshot { last_input, body });
            let bytes = encode(&msg).unwrap();
            prop_assert_eq!(decode_server(&bytes), Ok(msg));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = decode_client(&bytes);
            let _ = decode_server(&bytes);
        }

        #[test]
        fn mutated_valid_frames_never_panic(
            msg in arb_client(),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
            cut in any::<usize>(),
        ) {
            let mut bytes = encode(&msg).unwrap();
            for (at, byte) in flips {
                let i = at % bytes.len();
                bytes[i] ^= byte;
            }
            let _ = decode_client(&bytes);
            bytes.truncate(cut % (bytes.len() + 1));
            let _ = decode_client(&bytes);
        }
    }
}
