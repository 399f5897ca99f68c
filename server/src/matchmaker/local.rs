//! Seat reservations of a single node, in memory: the same rules as the
//! cluster's Redis scripts (`cluster/lua/common.lua`), for a server that
//! runs alone. A seat is a ticket with an expiry, counted against its
//! room's cap with the players until its player arrives or it expires.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use super::SeatTicket;
use crate::room::{JoinError, Registry, RoomHandle};

/// Why a seat could not be reserved.
#[derive(Debug, PartialEq, Eq)]
pub enum LocalRefusal {
    /// No room with that id.
    NoRoom,
    /// At its cap.
    Full,
    /// Opening a room was refused.
    Join(JoinError),
}

/// A room's reserved seats, each with its expiry.
type Tickets = Vec<(SeatTicket, Instant)>;

/// Reserved seats by room.
#[derive(Debug)]
pub struct LocalSeats {
    /// Held for one reservation or one arrival: a scan of the rooms and a
    /// push, no await. At most `max_players` tickets per room (a full room
    /// takes none), and tickets of closed rooms are dropped at the next
    /// reservation.
    seats: Mutex<HashMap<Arc<str>, Tickets>>,
    ttl: Duration,
}

impl LocalSeats {
    /// No reservations; each will wait `ttl` for its player.
    #[must_use]
    pub fn new(ttl: Duration) -> LocalSeats {
        LocalSeats {
            seats: Mutex::default(),
            ttl,
        }
    }

    /// Reserves a seat for `ticket` in `room`, or with `None` in the
    /// fullest public room with a free seat (a new one, charged to
    /// `client`'s rate of new rooms, when all are full).
    ///
    /// # Errors
    /// The room is unknown or full, or a new one could not be opened.
    pub fn reserve(
        &self,
        registry: &Registry,
        room: Option<&str>,
        ticket: SeatTicket,
        client: IpAddr,
    ) -> Result<RoomHandle, LocalRefusal> {
        let now = Instant::now();
        let mut seats = self.seats.lock();
        seats.retain(|room, tickets| {
            tickets.retain(|(_, expires)| *expires > now);
            !tickets.is_empty() && registry.get(room).is_some()
        });
        let taken = |h: &RoomHandle| h.players() as usize + seats.get(&h.id).map_or(0, Vec::len);
        let handle = match room {
            Some(id) => {
                // A private room is not there for matchmaking: it answers
                // as an unknown room, telling nothing of its existence.
                let handle = registry
                    .get(id)
                    .filter(|h| h.invite.is_none())
                    .ok_or(LocalRefusal::NoRoom)?;
                if taken(&handle) >= handle.max_players {
                    return Err(LocalRefusal::Full);
                }
                handle
            }
            None => {
                let fullest = registry
                    .handles()
                    .into_iter()
                    .filter(|h| h.public && taken(h) < h.max_players)
                    .max_by_key(|h| (taken(h), std::cmp::Reverse(h.instance)));
                match fullest {
                    Some(handle) => handle,
                    None => registry.create_public(client).map_err(LocalRefusal::Join)?,
                }
            }
        };
        seats
            .entry(handle.id.clone())
            .or_default()
            .push((ticket, now + self.ttl));
        Ok(handle)
    }

    /// Spends `ticket` for its player arriving in `room`: true when it was
    /// reserved there and has not expired.
    pub fn consume(&self, room: &str, ticket: &SeatTicket) -> bool {
        let mut seats = self.seats.lock();
        let Some(tickets) = seats.get_mut(room) else {
            return false;
        };
        let Some(at) = tickets.iter().position(|(t, _)| t == ticket) else {
            return false;
        };
        let (_, expires) = tickets.swap_remove(at);
        expires > Instant::now()
    }
}
