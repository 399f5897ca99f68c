//! Snapshot frames: a body encoded once and framed per player, byte for
//! byte what [`super::encode`] would write for the whole message, and the
//! head of a frame read without its body. Nothing here decodes a body.

use super::{CodecError, config, encode};
use crate::protocol::{MAX_SERVER_FRAME, SnapshotBody};
use crate::tick::Tick;

/// A snapshot body encoded once, to be shared by every player whose snapshot
/// has the same baseline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedBody(pub(super) Vec<u8>);

impl EncodedBody {
    /// Encodes `body`.
    ///
    /// # Errors
    /// See [`encode`].
    pub fn new(body: &SnapshotBody) -> Result<EncodedBody, CodecError> {
        encode(body).map(EncodedBody)
    }

    /// Encodes `body` through `buffer`, a caller's reused scratch (its
    /// contents are replaced), into one allocation of the exact size: the
    /// room encodes a body per player per tick, and growing a fresh vector
    /// to each body's size was most of that encoding's cost.
    ///
    /// # Errors
    /// See [`encode`].
    pub fn new_in(body: &SnapshotBody, buffer: &mut Vec<u8>) -> Result<EncodedBody, CodecError> {
        buffer.clear();
        bincode::serde::encode_into_std_write(body, buffer, config::<MAX_SERVER_FRAME>())
            .map_err(|e| CodecError::Encode(e.to_string()))?;
        Ok(EncodedBody(buffer.as_slice().to_vec()))
    }

    /// The body back as a value, for the transports that speak JSON when
    /// the room kept only the bytes.
    ///
    /// # Errors
    /// The bytes are not a body (a bug: they were encoded from one).
    pub fn decode(&self) -> Result<SnapshotBody, CodecError> {
        super::decode_limited::<SnapshotBody, MAX_SERVER_FRAME>(&self.0)
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
    // The head (two varints, at most 1 + 5 bytes) goes through bincode on
    // the stack, so each player's frame is one exact allocation: this runs
    // once per player per tick.
    let mut head = [0u8; 8];
    let len = bincode::serde::encode_into_slice(
        (SNAPSHOT_VARIANT, last_input),
        &mut head,
        config::<MAX_SERVER_FRAME>(),
    )
    .map_err(|e| CodecError::Encode(e.to_string()))?;
    let mut frame = Vec::with_capacity(len + body.0.len());
    frame.extend_from_slice(&head[..len]);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::*;

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
    fn encoding_through_a_reused_buffer_is_the_plain_encoding() {
        let body = sample_body();
        let mut buffer = vec![0xAA; 5000];
        let reused = EncodedBody::new_in(&body, &mut buffer).unwrap();
        assert_eq!(reused, EncodedBody::new(&body).unwrap());
        assert_eq!(reused.0.capacity(), reused.len(), "one exact allocation");
        let empty = SnapshotBody::default();
        assert_eq!(
            EncodedBody::new_in(&empty, &mut buffer).unwrap(),
            EncodedBody::new(&empty).unwrap()
        );
    }
}
