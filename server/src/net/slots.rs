//! The slots a spectator stream or a waiting long poll holds while it
//! lives: one of the server's (`--max-spectators`, `--max-polls`), within
//! its client address's share (`--max-spectators-per-ip`,
//! `--max-polls-per-ip`), and one of its room's on this node
//! (`--max-spectators-per-room`, `--max-polls-per-room`: a room's own
//! when it runs here, its follower's when another node owns it, so every
//! node applies the cap to the readers it serves). Every refusal is a 503
//! with `Retry-After` that says which limit it met, and is counted in
//! `skirmish_rejected_total`. Taking a slot never waits: a full limit is
//! a refusal, not a queue.
//!
//! Slots are counted per address, not per connection: HTTP/2 multiplexes
//! many streams over one connection, so counting connections alone let one
//! connection hold every slot.

use std::net::IpAddr;

use axum::Extension;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::AppState;
use super::api::ApiError;
use crate::address_limit::{AddressPermit, Full};
use crate::cluster::follower::Following;
use crate::listener::ConnSlot;
use crate::metrics::Rejection;
use crate::room::RoomHandle;

/// What a slot is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotKind {
    /// An SSE stream of a room or of the ticker.
    Spectator,
    /// A long poll waiting for news.
    Poll,
}

/// A room's reader slots on this node.
pub trait RoomSlots {
    /// The room's id.
    fn room_id(&self) -> &str;
    /// One permit per reader of `kind`; past the room's cap, 503.
    fn permits(&self, kind: SlotKind) -> &std::sync::Arc<Semaphore>;
}

impl RoomSlots for RoomHandle {
    fn room_id(&self) -> &str {
        &self.id
    }

    fn permits(&self, kind: SlotKind) -> &std::sync::Arc<Semaphore> {
        match kind {
            SlotKind::Spectator => &self.spectator_permits,
            SlotKind::Poll => &self.poll_permits,
        }
    }
}

impl RoomSlots for Following {
    fn room_id(&self) -> &str {
        self.room()
    }

    fn permits(&self, kind: SlotKind) -> &std::sync::Arc<Semaphore> {
        match kind {
            SlotKind::Spectator => self.spectator_permits(),
            SlotKind::Poll => self.poll_permits(),
        }
    }
}

/// A held slot; dropping it frees every part.
#[derive(Debug)]
pub struct Slot {
    _server: AddressPermit,
    _room: Option<OwnedSemaphorePermit>,
}

/// The address of the client that sent a request, from its connection's
/// slot (absent only for requests that did not come through the listener).
#[must_use]
pub fn client_address(slot: Option<&Extension<ConnSlot>>) -> Option<IpAddr> {
    slot.map(|Extension(slot)| slot.address())
}

/// Takes a slot of `kind` for `client`, in `room` when there is one.
///
/// # Errors
/// A 503 naming the limit that is reached.
pub fn take(
    app: &AppState,
    kind: SlotKind,
    room: Option<&dyn RoomSlots>,
    client: Option<IpAddr>,
) -> Result<Slot, ApiError> {
    let (limit, room_cap) = match kind {
        SlotKind::Spectator => (&app.spectators, app.config.max_spectators_per_room),
        SlotKind::Poll => (&app.polls, app.config.max_polls_per_room),
    };
    let server = limit.try_take(client).map_err(|full| {
        let (reason, error) = match (kind, full) {
            (SlotKind::Spectator, Full::Total) => (
                Rejection::SpectatorLimit,
                ApiError::spectator_limit(limit.max_total()),
            ),
            (SlotKind::Spectator, Full::PerAddress) => (
                Rejection::IpSpectatorLimit,
                ApiError::address_spectator_limit(limit.max_per_address()),
            ),
            (SlotKind::Poll, Full::Total) => (
                Rejection::PollLimit,
                ApiError::poll_limit(limit.max_total()),
            ),
            (SlotKind::Poll, Full::PerAddress) => (
                Rejection::IpPollLimit,
                ApiError::address_poll_limit(limit.max_per_address()),
            ),
        };
        app.metrics.reject(reason);
        error
    })?;
    let room = room
        .map(|room| {
            room.permits(kind).clone().try_acquire_owned().map_err(|_| {
                let cap = room_cap as usize;
                match kind {
                    SlotKind::Spectator => {
                        app.metrics.reject(Rejection::SpectatorLimit);
                        ApiError::room_spectator_limit(room.room_id(), cap)
                    }
                    SlotKind::Poll => {
                        app.metrics.reject(Rejection::PollLimit);
                        ApiError::room_poll_limit(room.room_id(), cap)
                    }
                }
            })
        })
        .transpose()?;
    Ok(Slot {
        _server: server,
        _room: room,
    })
}
