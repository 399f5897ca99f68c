//! The codec: the one place messages become bytes and bytes become messages.
//! bincode 2 (standard config: little-endian, varint integers) over serde.
//!
//! Decoding checks the frame size before bincode sees it, gives bincode the
//! same byte limit (so a forged length prefix cannot make it allocate), and
//! rejects trailing bytes. Arbitrary input yields a [`CodecError`], never a
//! panic (property tests below).
//!
//! - This file: encoding, decoding and their limits.
//! - `frame`: snapshot frames assembled from a body encoded once, and the
//!   head of a frame read without its body (re-exported here).
//! - `id_gaps`: the one wire detail that is not plain bincode-of-the-types:
//!   the id-sorted lists of a snapshot body carry each id as the gap from the
//!   previous entry's id, behind `#[serde(with)]` on those fields and only
//!   for binary serializers (in memory and in JSON ids are real ids).

mod frame;
pub(crate) mod id_gaps;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::protocol::{ClientMsg, MAX_CLIENT_FRAME, MAX_SERVER_FRAME, ServerMsg};

pub use frame::{EncodedBody, SnapshotHead, peek_snapshot, snapshot_frame};

/// What can go wrong turning bytes into messages or back.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    /// The frame is larger than the receiver accepts.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    FrameTooLarge { len: usize, max: usize },
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::*;
    use crate::tick::Tick;
    use proptest::prelude::*;

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
        (
            any::<u32>(),
            any::<Option<u32>>(),
            any::<u8>(),
            any::<u8>(),
            any::<Option<(u32, u8)>>(),
        )
            .prop_map(|(seq, ack, buttons, aim, view)| Input {
                seq,
                ack: ack.map(Tick),
                buttons,
                aim,
                view: view.map(|(tick, frac)| ViewTime {
                    tick: Tick(tick),
                    frac,
                }),
            })
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
                    token: None,
                    protocol,
                    player: None,
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
