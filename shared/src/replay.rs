//! A finished round's replay as `GET /api/matches/{id}/replay?format=json`
//! downloads it: the round's room-feed entries, with the ids and payloads
//! the live feed gave them, and its state samples. Streamed
//! (`GET /api/matches/{id}/replay` over SSE) it is the same events under
//! the same names, paced by their ticks. Types only: no I/O, no clock.

use serde::{Deserialize, Serialize};

use crate::feed::{Polled, RoomEvent, StateSample};

/// The version of [`Replay`]'s layout this build writes and reads.
pub const REPLAY_FORMAT: u32 = 1;

/// Fastest replay stream (`?speed=`), times the round's own pace.
pub const MAX_REPLAY_SPEED: u32 = 16;

/// One round, as its spectators saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Replay {
    /// [`REPLAY_FORMAT`].
    pub format: u32,
    pub room: String,
    /// The room's round number.
    pub round: u32,
    /// The room's ticks per second: ticks over this are seconds.
    pub tick_hz: u16,
    /// The tick of the round's `round` `started` entry; `?at=` counts from it.
    pub start_tick: u32,
    /// The tick of its `round` `ended` entry.
    pub end_tick: u32,
    /// Where a viewer starts: the room's `snapshot` event as the live log
    /// held it right after the round started (its id that of the newest
    /// entry then).
    pub snapshot: Polled<RoomEvent>,
    /// Every room-feed entry after the snapshot up to and including the
    /// round's end, oldest first, with its live id.
    pub events: Vec<Polled<RoomEvent>>,
    /// The minimap samples of the round (`--spectator-hz`), oldest first.
    pub samples: Vec<StateSample>,
}
