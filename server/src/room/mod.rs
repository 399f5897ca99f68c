//! Rooms: one task per room runs the tick loop; connections talk to it only
//! through its bounded inbox and read from their own [`Outbox`].
//!
//! - [`task`]: the room task (inbox, fixed-timestep loop, snapshot fan-out).
//! - [`clock`]: which phase of the tick period a room ticks on.
//! - [`registry`]: finding, creating and closing rooms; matchmaking.
//! - [`snapshot`]: history of recent ticks and delta building.
//! - [`outbox`]: the latest-wins slot each connection's writer reads.
//! - [`seat`]: a seated player as every transport holds it.
//! - [`event_ids`]: the process-wide allocator of disjoint event-id ranges.
//! - [`event_log`]: the resumable ring of events spectators and pollers read.
//! - [`feed`]: what a room publishes after each tick for those who watch.
//! - [`ticker`]: the server-wide score ticker and its top-N board.
//! - [`record`]: the round being played, as its record will say (kills,
//!   deaths, start time), handed to the storage writer when it ends.
//! - [`quota`]: how many rooms may exist and how fast an address opens them.
//! - [`invite`]: private rooms' invite codes and the rate of wrong guesses.
//! - [`bans`]: addresses and names an operator banned for a while.
//! - [`replay`]: each round's replay recorded from what the feed releases,
//!   handed to the storage writer with the round's record.
//!
//! A room never awaits network I/O: joins are answered through oneshot
//! channels and snapshots are dropped into outboxes.

/// Logs a room's or a player's comings and goings: at INFO for public rooms
/// (the default room and matchmaking's `arena-N`), whose number the server
/// chooses, and at DEBUG for rooms clients name, whose number and churn
/// follow whatever clients do. The span still carries the room and player.
macro_rules! lifecycle {
    ($public:expr, $($arg:tt)+) => {
        if $public {
            tracing::info!($($arg)+)
        } else {
            tracing::debug!($($arg)+)
        }
    };
}
pub(crate) use lifecycle;

pub mod area_grid;
pub mod bans;
pub mod clock;
pub mod event_ids;
pub mod event_log;
pub mod feed;
pub mod handover;
pub mod invite;
pub mod outbox;
pub mod quota;
pub mod record;
pub mod registry;
pub mod replay;
pub mod seat;
pub mod snapshot;
pub mod stall;
pub mod task;
pub mod ticker;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use skirmish_shared::rules::Rules;
use skirmish_shared::{ErrorCode, Input, ResumeToken, Welcome};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::metrics::Rejection;

pub use outbox::{Outbox, Outgoing, SnapshotOut};
pub use registry::{Entrant, Registry};
pub use seat::Seat;

/// Identifies one connection's session with a room, so a command from a
/// connection that has been replaced (resume elsewhere) is ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionId(pub u64);

/// Settings every room is created with.
#[derive(Clone, Debug)]
pub struct RoomConfig {
    /// Game rules (tick rate, round length, respawn delay...).
    pub rules: Rules,
    /// Server-side bots per room.
    pub bots: usize,
    /// Human players per room.
    pub max_players: usize,
    /// Inputs applied per player per tick; older excess is dropped.
    pub max_inputs_per_tick: usize,
    /// Longest rewind of lag compensation, in milliseconds (0: off).
    pub lag_comp_max_ms: u32,
    /// Phases of the tick period the process's rooms share (0: each room
    /// ticks from the instant it opened); see [`clock`].
    pub tick_phases: u16,
    /// This room's phase, dealt by the registry when it opens it.
    pub tick_phase: u16,
    /// Ticks of history kept for delta baselines.
    pub history_ticks: usize,
    /// Ticks with at least this many ships send each player only its area
    /// of interest (0: always).
    pub interest_from_ships: usize,
    /// How long a disconnected player's ship waits for a resume.
    pub resume_grace: Duration,
    /// How long an empty room (other than the default) lives on.
    pub empty_room_grace: Duration,
    /// Capacity of each room's inbox. Overflowing inputs are dropped and
    /// counted; joins wait for space.
    pub inbox_capacity: usize,
    /// Seed of the first room; later rooms use the following seeds.
    pub seed: u64,
    /// Events kept in each room's log for resuming readers.
    pub event_log_capacity: usize,
    /// State samples per second for spectators' minimaps.
    pub spectator_hz: u16,
    /// Seconds watchers (SSE, long-poll watchers, state samples, the
    /// ticker) are kept behind the room; players' own snapshots never are.
    pub spectator_delay_secs: u32,
    /// Spectators (SSE streams) per room.
    pub max_spectators: usize,
    /// Long polls waiting on one room (watchers and its legacy players).
    pub max_polls: usize,
    /// Where finished rounds go to be recorded; `None` without a database.
    pub rounds: Option<crate::storage::RoundSink>,
    /// When the node drains, rooms with players play to the end of their
    /// round before closing with [`SERVER_DRAIN`] (cluster mode with a
    /// `--drain-deadline-secs` above 0); otherwise they close at shutdown.
    pub drain_rounds: bool,
}

/// Commands from connections to a room.
#[derive(Debug)]
pub enum RoomCmd {
    /// A player wants a seat (or its old one back).
    Join(JoinRequest),
    /// One input of a seated player.
    Input { session: SessionId, input: Input },
    /// The newest snapshot tick the client holds, from a transport whose
    /// acks do not ride on inputs (long polling).
    Ack {
        session: SessionId,
        /// The tick held; `None` asks for full snapshots.
        ack: Option<skirmish_shared::Tick>,
    },
    /// The connection ended without `Leave`: keep the ship for a resume.
    Detach { session: SessionId },
    /// The player left on purpose: remove the ship now.
    Leave { session: SessionId },
    /// The admin console asks who is seated; answered at once.
    Inspect { reply: oneshot::Sender<Inspection> },
    /// The admin console removes a player: its connection is closed with
    /// 1008 [`KICKED`]. The answer is the player as it was, or `None` when
    /// no such ship was seated.
    Kick {
        ship: skirmish_shared::ShipId,
        reply: oneshot::Sender<Option<skirmish_shared::http::AdminPlayer>>,
    },
    /// The admin console closes the room: it ends after this command and
    /// tells everyone attached [`CLOSED_BY_OPERATOR`].
    Close,
    /// Cluster mode: the cluster declared this room lost while this node
    /// was cut off past its lease (its log in Redis ends with `closed`
    /// `server_lost`, and nothing may follow it). The room ends; players
    /// are closed with 4003 [`ROOM_LOST`], local readers told the same.
    Lost,
    /// The admin console's message for every player (their next frame)
    /// and every watcher (a `notice` event, not delayed: it is no game
    /// state). The text is checked by the sender.
    Notice(Arc<str>),
}

/// Why a room the cluster declared lost ended (`closed` reason and close
/// frame reason), as its spectators on other nodes were told.
pub const ROOM_LOST: &str = "server_lost";

/// The close reason of a player the admin console kicked. Fixed words:
/// the operator's own reason goes to the log and the audit list, not into
/// the close frame (whose reason is a static string, at most 123 bytes).
pub const KICKED: &str = "kicked by an operator";

/// What players, spectators and pollers of a room the admin console closed
/// are told.
pub const CLOSED_BY_OPERATOR: &str = "room closed by an operator";

/// What players (close 1001), spectators and pollers of a room closed by a
/// node's drain (a rolling deploy) are told: a machine-readable word, so a
/// client can find a new match at once rather than show an error.
pub const SERVER_DRAIN: &str = "server_drain";

/// What players (close 1001), spectators and pollers of a room handed over
/// to another node are told.
pub const MOVED: &str = "moved";

/// Where a player connects from, as the admin console shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The client's address (its connection's peer; behind a proxy, the
    /// proxy's).
    pub address: std::net::IpAddr,
    /// How it plays: [`crate::metrics::Transport::WebSocket`] or
    /// [`crate::metrics::Transport::LongPoll`].
    pub transport: crate::metrics::Transport,
}

/// A room's answer to [`RoomCmd::Inspect`].
#[derive(Debug, Default)]
pub struct Inspection {
    /// Seated humans, by ship.
    pub players: Vec<skirmish_shared::http::AdminPlayer>,
    /// The 99th percentile of its recent ticks' durations, in
    /// milliseconds; `None` before its first tick.
    pub tick_p99_ms: Option<f64>,
}

/// A join as the room receives it.
#[derive(Debug)]
pub struct JoinRequest {
    /// The new connection's session.
    pub session: SessionId,
    /// Display name (already validated).
    pub name: String,
    /// Token of the ship to take back.
    pub resume: Option<ResumeToken>,
    /// Whose record a new ship's rounds add to (ignored on a resume: the
    /// ship keeps its own); `None` plays unrecorded.
    pub identity: Option<crate::storage::identity::Identity>,
    /// Where the player connects from.
    pub peer: Peer,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Result<Joined, JoinError>>,
}

/// A seat in a room.
#[derive(Debug)]
pub struct Joined {
    /// What to tell the client.
    pub welcome: Welcome,
    /// Where the room puts this player's snapshots.
    pub outbox: Arc<Outbox>,
}

/// Why a join was refused. Clients see the code and the text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// No free seat.
    #[error("room {room} is full ({max} players)")]
    RoomFull { room: String, max: usize },
    /// The token matches no ship in that room (expired or never issued).
    #[error("nothing to resume in room {room}: join without the token")]
    ResumeRejected { room: String },
    /// The room id is malformed.
    #[error("room id must be 1-32 characters of A-Z a-z 0-9 _ -")]
    BadRoom,
    /// The room closed while the join was on its way; try again.
    #[error("room {room} closed")]
    RoomClosed { room: String },
    /// The server is stopping.
    #[error("server is shutting down")]
    ShuttingDown,
    /// A resume token came without its room's id (tokens belong to one room).
    #[error("a resume token needs the id of the room it was issued in")]
    ResumeWithoutRoom,
    /// The named room does not exist, and opening it would pass `--max-rooms`.
    #[error("the server holds its limit of {max} rooms: join an existing room or retry later")]
    RoomLimit {
        /// `--max-rooms`.
        max: usize,
        /// Seconds to wait before trying again.
        retry_after: u32,
    },
    /// Matchmaking found no free public seat and may not open another room.
    #[error("every public room is full and the server holds its limit of {max} rooms: retry later")]
    ServerFull {
        /// `--max-rooms`.
        max: usize,
        /// Seconds to wait before trying again.
        retry_after: u32,
    },
    /// This client address opened new rooms faster than its rate.
    #[error(
        "too many new rooms from your address (at most {per_min} a minute): retry in {retry_after} s"
    )]
    RoomRate {
        /// `--new-rooms-per-ip-per-min`.
        per_min: u32,
        /// Seconds until the address may open another room.
        retry_after: u32,
    },
    /// So many addresses are opening rooms that the rate table is full.
    #[error("too many addresses are opening rooms at once: retry in {retry_after} s")]
    RoomRateBusy {
        /// Seconds to wait before trying again.
        retry_after: u32,
    },
    /// The room is private and the invite code is missing or wrong.
    #[error("{}", invite_refusal(room, *offered))]
    InviteRequired {
        room: String,
        /// A code was given (and was wrong).
        offered: bool,
    },
    /// An operator banned this address or name.
    #[error("banned by an operator: retry in {retry_after} s")]
    Banned {
        /// Seconds left of the ban.
        retry_after: u32,
    },
    /// This client address gave too many wrong invite codes.
    #[error(
        "too many wrong invite codes from your address (at most {per_min} a minute): retry in {retry_after} s"
    )]
    InviteRate {
        /// `--invite-tries-per-ip-per-min`.
        per_min: u32,
        /// Seconds until the address may try again.
        retry_after: u32,
    },
}

/// The words of an `InviteRequired` refusal.
fn invite_refusal(room: &str, offered: bool) -> String {
    if offered {
        format!("wrong invite code for private room {room}")
    } else {
        format!("room {room} is private: join it with its invite link")
    }
}

impl JoinError {
    /// The protocol's code for this refusal.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        match self {
            JoinError::RoomFull { .. } | JoinError::RoomClosed { .. } => ErrorCode::RoomFull,
            JoinError::ResumeRejected { .. } | JoinError::ResumeWithoutRoom => {
                ErrorCode::ResumeRejected
            }
            JoinError::BadRoom => ErrorCode::BadRoom,
            JoinError::ShuttingDown => ErrorCode::ShuttingDown,
            JoinError::RoomLimit { .. } => ErrorCode::RoomLimit,
            JoinError::ServerFull { .. } => ErrorCode::ServerFull,
            JoinError::RoomRate { .. } | JoinError::RoomRateBusy { .. } => {
                ErrorCode::RoomRateLimited
            }
            JoinError::InviteRequired { .. } => ErrorCode::InviteRequired,
            JoinError::InviteRate { .. } => ErrorCode::InviteRateLimited,
            JoinError::Banned { .. } => ErrorCode::Banned,
        }
    }

    /// The `reason` label of `skirmish_rejected_total`: one per kind of
    /// refusal, a fixed set whatever clients send.
    #[must_use]
    pub fn reason(&self) -> Rejection {
        match self {
            JoinError::RoomFull { .. } | JoinError::RoomClosed { .. } => Rejection::RoomFull,
            JoinError::ResumeRejected { .. } | JoinError::ResumeWithoutRoom => {
                Rejection::ResumeRejected
            }
            JoinError::BadRoom => Rejection::BadRoom,
            JoinError::ShuttingDown => Rejection::ShuttingDown,
            JoinError::RoomLimit { .. } => Rejection::RoomLimit,
            JoinError::ServerFull { .. } => Rejection::ServerFull,
            JoinError::RoomRate { .. } | JoinError::RoomRateBusy { .. } => Rejection::RoomRate,
            JoinError::InviteRequired { .. } => Rejection::Invite,
            JoinError::InviteRate { .. } => Rejection::InviteRate,
            JoinError::Banned { .. } => Rejection::Banned,
        }
    }
}

/// Figures a room publishes for the room list without being asked: plain
/// atomics the room task stores after each tick.
#[derive(Debug, Default)]
pub struct RoomStats {
    /// Human players seated (connected or waiting for a resume).
    pub players: AtomicU32,
    /// Server-side bots.
    pub bots: AtomicU32,
    /// Last completed tick.
    pub tick: AtomicU32,
    /// Tick the current round ends.
    pub round_ends: AtomicU32,
    /// When the room last finished a tick (the health check's stall test).
    pub last_tick: stall::TickStamp,
}

/// A live room, as the registry and connections hold it.
#[derive(Clone, Debug)]
pub struct RoomHandle {
    pub id: Arc<str>,
    /// Matchmaking may put players here.
    pub public: bool,
    /// A private room's invite code: it is listed nowhere, and joining or
    /// watching it needs the code.
    pub invite: Option<invite::InviteCode>,
    /// Distinguishes this room from a later one with the same id.
    pub instance: u64,
    /// The room's inbox.
    pub inbox: mpsc::Sender<RoomCmd>,
    /// Published figures.
    pub stats: Arc<RoomStats>,
    pub rules: Arc<Rules>,
    /// Human seats.
    pub max_players: usize,
    /// The room's event log, state samples and scoreboard.
    pub feed: feed::FeedReaders,
    /// One permit per spectator stream; past the cap, 503.
    pub spectator_permits: Arc<Semaphore>,
    /// The spectator cap.
    pub max_spectators: usize,
    /// One permit per long poll waiting on this room; past the cap, 503.
    pub poll_permits: Arc<Semaphore>,
    /// The server's metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl RoomHandle {
    /// Open spectator streams.
    #[must_use]
    pub fn spectators(&self) -> usize {
        self.max_spectators
            .saturating_sub(self.spectator_permits.available_permits())
    }

    /// Seated human players.
    #[must_use]
    pub fn players(&self) -> u32 {
        self.stats.players.load(Ordering::Relaxed)
    }

    /// The room's figures for the lobby, as of its last tick.
    #[must_use]
    pub fn summary(&self) -> registry::RoomSummary {
        let tick = self.stats.tick.load(Ordering::Relaxed);
        let ends = self.stats.round_ends.load(Ordering::Relaxed);
        registry::RoomSummary {
            id: self.id.to_string(),
            public: self.public,
            players: self.players(),
            max_players: u32::try_from(self.max_players).unwrap_or(u32::MAX),
            spectators: u32::try_from(self.spectators()).unwrap_or(u32::MAX),
            bots: self.stats.bots.load(Ordering::Relaxed),
            tick,
            tick_hz: self.rules.tick_hz,
            round_secs_left: f64::from(ends.saturating_sub(tick)) / f64::from(self.rules.tick_hz),
        }
    }

    /// Whether another human fits (approximate: the room has the last word).
    #[must_use]
    pub fn has_seat(&self) -> bool {
        (self.players() as usize) < self.max_players
    }
}
