//! Id gaps: the binary form of a snapshot body's id-sorted lists
//! (`spawned`, `changed`, `removed`, `shots`, `shots_gone`).
//!
//! Each entry is encoded exactly as its type, except that its id holds the
//! gap from the previous entry's id (the first entry's gap is from 0), taken
//! modulo 2^16. Ship ids of a 512-ship room run up to 511, and shot ids up to
//! 65535, so most real ids are 3-byte varints while most gaps in a sorted
//! list are 1 byte. Modular arithmetic makes the transform total: any list,
//! sorted or not, round-trips exactly (unsorted or wrapped lists just cost
//! more bytes).
//!
//! `changed` also folds the `ShipDelta` variant into its gap: each entry is
//! one u32 varint `gap * 2 + variant` (0 `Moved`, 1 `Full`), then the
//! variant's fields without the id. A head whose gap is 2^16 or more is
//! malformed.
//!
//! Human-readable serializers (serde_json: the long-poll transport, the
//! golden vectors' `.json`) get the plain list of real ids, so only the bytes
//! on the binary wire change. `web-client/src/codec.js` (`idGaps`)
//! mirrors this.

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::protocol::{ShipDelta, ShipId, ShipSpawn, ShipState, ShotId, ShotSpawn};

/// A list entry that carries an id, and its binary form with a gap in
/// place of that id.
pub(crate) trait Keyed: Serialize + for<'de> Deserialize<'de> {
    /// The entry's id.
    fn key(&self) -> u16;
    /// Replaces the entry's id.
    fn set_key(&mut self, key: u16);
    /// Writes the entry with `gap` in place of its id.
    fn serialize_gapped<S: Serializer>(&self, gap: u16, serializer: S) -> Result<S::Ok, S::Error>;
    /// Reads what [`Keyed::serialize_gapped`] wrote, the gap as the id.
    fn deserialize_gapped<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
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

/// The bare id newtypes (`removed`, `shots_gone`): the entry is the id.
macro_rules! keyed_id {
    ($($id:ident),*) => {$(
        impl Keyed for $id {
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

impl Keyed for ShotSpawn {
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
impl Keyed for ShipSpawn {
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
impl Keyed for ShipDelta {
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
    use crate::codec::{CodecError, EncodedBody};
    use crate::protocol::*;
    use crate::tick::Tick;

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
}
