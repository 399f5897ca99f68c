//! Handing a room over to another node at its round boundary (a rolling
//! deploy, issue 16): the record a draining room leaves, and the sink that
//! carries it to an adopting node. Between rounds a room's state is only
//! its roster, its players' resume tokens and its log's position, so this
//! record is all an adopter needs to continue it under the same id.
//!
//! This module owns the record's shape and the sink's contract only. It
//! never does I/O and never touches a running room: the registry takes the
//! record from a room whose loop has ended, and a [`HandoverSink`] (the
//! cluster's transport) moves it.

use std::future::Future;
use std::pin::Pin;

use skirmish_shared::ShipId;

use crate::room::event_log::LogEntry;
use crate::storage::identity::Identity;
use crate::tokens::Verifier;

/// What the adopting node needs to continue a room: taken when its round
/// ended on a draining node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandoverRecord {
    /// The room's id, kept by the adopter.
    pub room: String,
    /// Matchmaking may put players in it.
    pub public: bool,
    /// The round the room was about to play (the tick that ended the last
    /// one started it): the adopter plays it under this number.
    pub round: u32,
    /// The last id of the room's log: the adopter's log continues above it
    /// and names it as its first predecessor, so readers resume across the
    /// move with no gap.
    pub last_id: u64,
    /// Every seated player, connected or waiting for a resume.
    pub ships: Vec<HandedShip>,
}

/// One seated player, as the adopter seats it again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandedShip {
    /// Its ship id, kept so the client's own id stays true.
    pub ship: ShipId,
    /// Display name.
    pub name: String,
    /// Whose record its rounds add to.
    pub identity: Option<Identity>,
    /// Its resume token, known by selector and digest only.
    pub token: Verifier,
}

/// Where an adopter was found: the node players reconnect to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Adopted {
    /// The adopter's node id.
    pub node: String,
    /// The adopter's public base URL.
    pub node_url: String,
}

/// The answer of a [`HandoverSink`]: `None` when no node took the room.
pub type Handover = Pin<Box<dyn Future<Output = Option<Adopted>> + Send>>;

/// The adopter's first entry of the continued log (its `moved` event,
/// under the id the adopter gave it), as [`HandoverSink::moved_event`]
/// finds it; `None` when it could not be read in time.
pub type MovedEntry = Pin<Box<dyn Future<Output = Option<LogEntry>> + Send>>;

/// Carries a drained room's record to a node that adopts it.
///
/// The registry awaits it in the room's own task after the tick loop has
/// ended (never inside a tick). It must bound its own time: until it
/// resolves, the room's players wait, and a `None` closes the room with
/// `server_drain` as if no sink were set.
pub trait HandoverSink: Send + Sync + std::fmt::Debug {
    /// Hands `record` over; resolves to the adopter, or `None`.
    fn hand_over(&self, record: HandoverRecord) -> Handover;

    /// The entry that follows `last_id` in adopted room `room`'s continued
    /// log: the adopter's `moved`. The old owner's own spectators and
    /// pollers end with it, so they resume anywhere after the same id with
    /// no gap and no duplicate. Awaited after the players were told where
    /// the room went; it must bound its own time (about a second).
    fn moved_event(&self, room: &str, last_id: u64) -> MovedEntry;
}
