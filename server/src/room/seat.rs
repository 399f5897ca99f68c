//! A player's seat in a room: the one player-session interface every
//! transport uses. The WebSocket and long polling differ only in how bytes
//! travel; joining, inputs, acks, snapshots, leaving and resuming all go
//! through a `Seat`, so the room cannot tell them apart.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use skirmish_shared::{Input, Tick, Welcome};

use super::{Outbox, Outgoing, RoomCmd, RoomHandle, SessionId};

/// A seated player, as its transport holds it.
#[derive(Clone, Debug)]
pub struct Seat {
    pub room: RoomHandle,
    /// This connection's session (a resume elsewhere makes it stale).
    pub session: SessionId,
    /// Where the room puts this player's snapshots.
    pub outbox: Arc<Outbox>,
    /// What the room said when seating the player.
    pub welcome: Welcome,
}

impl Seat {
    /// Files one input for the next tick. A full room inbox drops it (and
    /// counts it) rather than making a transport wait.
    pub fn input(&self, input: Input) {
        let cmd = RoomCmd::Input {
            session: self.session,
            input,
        };
        if self.room.inbox.try_send(cmd).is_err() {
            self.room.metrics.inputs_dropped.inc();
        }
    }

    /// Tells the room which snapshot tick the client holds (for transports
    /// whose acks do not ride on inputs). Best effort like inputs.
    pub fn ack(&self, ack: Option<Tick>) {
        let _ = self.room.inbox.try_send(RoomCmd::Ack {
            session: self.session,
            ack,
        });
    }

    /// The next snapshot or close request for this player.
    pub async fn next(&self) -> Outgoing {
        self.outbox.next().await
    }

    /// The room's last completed tick.
    #[must_use]
    pub fn tick(&self) -> Tick {
        Tick(self.room.stats.tick.load(Ordering::Relaxed))
    }

    /// The player left on purpose: the ship goes now. Waits for inbox space
    /// (the room drains it every tick): losing this would leave a ghost.
    pub async fn leave(&self) {
        let _ = self
            .room
            .inbox
            .send(RoomCmd::Leave {
                session: self.session,
            })
            .await;
    }

    /// The connection was lost: the ship waits for a resume.
    pub async fn detach(&self) {
        let _ = self
            .room
            .inbox
            .send(RoomCmd::Detach {
                session: self.session,
            })
            .await;
    }
}
