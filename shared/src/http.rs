//! The JSON API's bodies: long polling (watching and playing), the room
//! list, matchmaking and the cluster's nodes, players, match history and
//! leaderboards, and the one error body every
//! refusal carries, with its machine-readable [`ApiErrorCode`]. The feeds' events are in
//! [`crate::feed`]; the WebSocket's binary messages in [`crate::protocol`].
//!
//! Types only: routes, statuses and limits are enforced by the server
//! (`server/src/net/`), and this file must never grow an HTTP client or
//! server.

use serde::{Deserialize, Serialize};

use crate::feed::{Board, Polled, RoomEvent, RoomSnapshot, TickerEvent};
use crate::protocol::{Input, PlayerGrant, PlayerKey, ShipId, Snapshot, SnapshotBody};
use crate::rules::Rules;
use crate::tick::Tick;

/// Inputs one `POST /api/sessions/{token}/input` may carry.
pub const MAX_INPUTS_PER_REQUEST: usize = 32;

/// Events one poll page (and one SSE write) carries at most; a reader far
/// behind catches up in several.
pub const MAX_EVENTS_PER_PAGE: usize = 256;

/// The wait of a poll that names no `timeout`, in seconds (the server caps
/// every wait at `--max-poll-timeout-secs`).
pub const DEFAULT_POLL_TIMEOUT_SECS: u64 = 25;

/// Matches one `GET /api/matches` page carries at most (its `limit`).
pub const MAX_MATCHES_PER_PAGE: u32 = 100;

/// Matches a page carries when the request names no `limit`.
pub const DEFAULT_MATCHES_PER_PAGE: u32 = 20;

/// Rows `GET /api/leaderboard` answers at most (its `limit`).
pub const MAX_LEADERBOARD_ROWS: u32 = 100;

/// Rows a leaderboard carries when the request names no `limit`.
pub const DEFAULT_LEADERBOARD_ROWS: u32 = 20;

/// The body of every HTTP error: `{"error": "...", "code": "..."}`.
/// Clients branch on `code`; `error` is for people and may change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong, in words.
    pub error: String,
    /// What went wrong, for programs.
    pub code: ApiErrorCode,
    /// A long-poll player's `room_closed` `moved` only (a rolling deploy
    /// handed the room over): the base URL of the node the room continues
    /// on. The player joins the same room there with its resume token
    /// ([`JoinBody::resume`]) and gets its ship back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_url: Option<String>,
}

/// Why the server refused a request. Each code has one HTTP status
/// ([`ApiErrorCode::status`]); `docs/protocol.md` lists them all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiErrorCode {
    /// A malformed request the HTTP layer refused (a path that is not
    /// UTF-8, an unreadable body).
    BadRequest,
    /// A query parameter or header value is malformed or out of range
    /// (`after`, `timeout`, `Last-Event-ID`).
    BadParam,
    /// The body is not JSON.
    BadJson,
    /// The name is empty, too long or has control characters.
    BadName,
    /// The room id is malformed.
    BadRoom,
    /// A resume token or seat ticket that is not 32 hex digits.
    BadToken,
    /// The resume token matches no ship of that room, or came without
    /// the room's id.
    ResumeRejected,
    /// More than [`MAX_INPUTS_PER_REQUEST`] inputs in one request.
    TooManyInputs,
    /// `/ws` without a valid WebSocket upgrade.
    NotWebsocket,
    /// A browser page of an origin that may not play.
    OriginForbidden,
    /// The room is private: joining or watching it needs its invite code.
    InviteRequired,
    /// The invite code given is not the room's.
    BadInvite,
    /// No such route or file.
    NotFound,
    /// The room does not exist (rooms are created by their first player).
    NoRoom,
    /// The session token was never issued, or was forgotten long ago.
    UnknownSession,
    /// The route exists, the method does not.
    MethodNotAllowed,
    /// A newer state poll of the same session took over this one.
    PollReplaced,
    /// The session expired: no request for the idle timeout. Join again.
    SessionExpired,
    /// The player left, or the room removed the ship. Join again.
    SessionEnded,
    /// Another connection (a WebSocket resume) took the ship.
    SessionReplaced,
    /// The room closed, or the server is stopping.
    RoomClosed,
    /// Cluster mode: the node that held this session is gone (its lease
    /// ran out), and the session with it; matchmake again.
    ServerLost,
    /// The body is larger than the server's limit.
    BodyTooLarge,
    /// The body has no JSON content type.
    NotJson,
    /// JSON of the wrong shape (a missing field, a number out of range).
    BadBody,
    /// `/ws` on a connection that cannot be upgraded.
    UpgradeRequired,
    /// More inputs per second than the session may send.
    InputFlood,
    /// This address opened new rooms faster than `--new-rooms-per-ip-per-min`.
    RoomRateLimited,
    /// So many addresses are opening rooms that the server takes no more
    /// for now.
    RoomRateBusy,
    /// This address asked for matchmaking faster than
    /// `--matchmakes-per-sec`.
    MatchmakeRateLimited,
    /// This address guessed wrong invite codes faster than
    /// `--invite-tries-per-ip-per-min`.
    InviteRateLimited,
    /// The server failed; the request may be retried.
    Internal,
    /// The server is shutting down.
    ShuttingDown,
    /// The room has no free seat.
    RoomFull,
    /// The room does not exist and the server holds `--max-rooms` rooms.
    RoomLimit,
    /// Matchmaking found no free public seat and may open no room.
    ServerFull,
    /// `--max-spectators` streams are open.
    SpectatorLimit,
    /// `--max-spectators-per-room` streams are open on this room.
    RoomSpectatorLimit,
    /// Your address has `--max-spectators-per-ip` streams open.
    IpSpectatorLimit,
    /// `--max-polls` polls are waiting.
    PollLimit,
    /// `--max-polls-per-room` polls are waiting on this room.
    RoomPollLimit,
    /// Your address has `--max-polls-per-ip` polls waiting.
    IpPollLimit,
    /// The server holds as many long-poll players as it may.
    LegacyLimit,
    /// The server holds as many connections as it may.
    ConnectionLimit,
    /// Your address holds as many connections as it may.
    IpConnectionLimit,
    /// The server is out of file descriptors.
    FdLimit,
    /// The cluster's directory (Redis) could not be asked.
    DirectoryUnavailable,
    /// This node does not hold its cluster lease: matchmaking sends no one
    /// here (`/readyz`).
    NotRegistered,
    /// No player has that id (or it never finished a round); in the admin
    /// API, the room has no such player.
    NoPlayer,
    /// No match has that id.
    NoMatch,
    /// The server runs without a database (`--no-database`): it keeps no
    /// players, matches or leaderboards.
    NoDatabase,
    /// The database did not answer in time; retry later.
    DatabaseUnavailable,
    /// The admin API: no `Authorization: Bearer` header, or not the admin
    /// token.
    Unauthorized,
    /// The admin API: this address gave wrong admin tokens too often.
    AdminRateLimited,
    /// An operator banned this address or name for a while
    /// (`Retry-After`).
    Banned,
    /// The match has no stored replay (none was recorded, or retention
    /// deleted it).
    ReplayNotFound,
    /// `--max-replay-streams` replay streams are open.
    ReplayLimit,
    /// Your address has `--max-replay-streams-per-ip` replay streams open.
    IpReplayLimit,
    /// Cluster mode: the session's room was lost with its node (the node
    /// died or was cut off past its lease, and the cluster closed the
    /// room); matchmake again.
    RoomLost,
    /// The server requires a signed player token (`--auth-jwt-key`) and
    /// the join carries none.
    TokenMissing,
    /// The player token is malformed, wrongly signed, of another algorithm,
    /// issuer or audience, or not valid yet.
    TokenInvalid,
    /// The player token's `exp` has passed.
    TokenExpired,
    /// `/healthz`: a live room has not finished a tick for `--stall-secs`
    /// (its tick loop is stuck); the liveness probe should restart the
    /// process.
    TickStalled,
}

impl ApiErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ApiErrorCode; 63] = [
        ApiErrorCode::BadRequest,
        ApiErrorCode::BadParam,
        ApiErrorCode::BadJson,
        ApiErrorCode::BadName,
        ApiErrorCode::BadRoom,
        ApiErrorCode::BadToken,
        ApiErrorCode::ResumeRejected,
        ApiErrorCode::TooManyInputs,
        ApiErrorCode::NotWebsocket,
        ApiErrorCode::OriginForbidden,
        ApiErrorCode::InviteRequired,
        ApiErrorCode::BadInvite,
        ApiErrorCode::NotFound,
        ApiErrorCode::NoRoom,
        ApiErrorCode::UnknownSession,
        ApiErrorCode::MethodNotAllowed,
        ApiErrorCode::PollReplaced,
        ApiErrorCode::SessionExpired,
        ApiErrorCode::SessionEnded,
        ApiErrorCode::SessionReplaced,
        ApiErrorCode::RoomClosed,
        ApiErrorCode::ServerLost,
        ApiErrorCode::BodyTooLarge,
        ApiErrorCode::NotJson,
        ApiErrorCode::BadBody,
        ApiErrorCode::UpgradeRequired,
        ApiErrorCode::InputFlood,
        ApiErrorCode::RoomRateLimited,
        ApiErrorCode::RoomRateBusy,
        ApiErrorCode::MatchmakeRateLimited,
        ApiErrorCode::InviteRateLimited,
        ApiErrorCode::Internal,
        ApiErrorCode::ShuttingDown,
        ApiErrorCode::RoomFull,
        ApiErrorCode::RoomLimit,
        ApiErrorCode::ServerFull,
        ApiErrorCode::SpectatorLimit,
        ApiErrorCode::RoomSpectatorLimit,
        ApiErrorCode::IpSpectatorLimit,
        ApiErrorCode::PollLimit,
        ApiErrorCode::RoomPollLimit,
        ApiErrorCode::IpPollLimit,
        ApiErrorCode::LegacyLimit,
        ApiErrorCode::ConnectionLimit,
        ApiErrorCode::IpConnectionLimit,
        ApiErrorCode::FdLimit,
        ApiErrorCode::DirectoryUnavailable,
        ApiErrorCode::NotRegistered,
        ApiErrorCode::NoPlayer,
        ApiErrorCode::NoMatch,
        ApiErrorCode::NoDatabase,
        ApiErrorCode::DatabaseUnavailable,
        ApiErrorCode::Unauthorized,
        ApiErrorCode::AdminRateLimited,
        ApiErrorCode::Banned,
        ApiErrorCode::ReplayNotFound,
        ApiErrorCode::ReplayLimit,
        ApiErrorCode::IpReplayLimit,
        ApiErrorCode::RoomLost,
        ApiErrorCode::TokenMissing,
        ApiErrorCode::TokenInvalid,
        ApiErrorCode::TokenExpired,
        ApiErrorCode::TickStalled,
    ];

    /// The HTTP status the code is answered with.
    #[must_use]
    pub fn status(self) -> u16 {
        use ApiErrorCode::*;
        match self {
            BadRequest | BadParam | BadJson | BadName | BadRoom | BadToken | ResumeRejected
            | TooManyInputs | NotWebsocket => 400,
            Unauthorized | TokenMissing | TokenInvalid | TokenExpired => 401,
            OriginForbidden | InviteRequired | BadInvite | Banned => 403,
            NotFound | NoRoom | UnknownSession | NoPlayer | NoMatch | ReplayNotFound => 404,
            MethodNotAllowed => 405,
            PollReplaced => 409,
            SessionExpired | SessionEnded | SessionReplaced | RoomClosed | ServerLost
            | RoomLost => 410,
            BodyTooLarge => 413,
            NotJson => 415,
            BadBody => 422,
            UpgradeRequired => 426,
            InputFlood | RoomRateLimited | RoomRateBusy | MatchmakeRateLimited
            | InviteRateLimited | AdminRateLimited => 429,
            Internal => 500,
            ShuttingDown | RoomFull | RoomLimit | ServerFull | SpectatorLimit
            | RoomSpectatorLimit | IpSpectatorLimit | PollLimit | RoomPollLimit | IpPollLimit
            | LegacyLimit | ConnectionLimit | IpConnectionLimit | FdLimit
            | DirectoryUnavailable | NotRegistered | NoDatabase | DatabaseUnavailable
            | ReplayLimit | IpReplayLimit | TickStalled => 503,
        }
    }
}

/// A watcher's poll answer (`GET /api/rooms/{id}/poll`,
/// `GET /api/ticker/poll`). `next` is the cursor to poll `after`; `events`
/// is empty when the page carries a snapshot, a reset, a close or nothing
/// new before the timeout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
// Not serde's inferred `S: Default`: the defaults are `None` and empty.
#[serde(bound(deserialize = "S: Deserialize<'de>, E: Deserialize<'de>"))]
pub struct PollPage<S, E> {
    /// The first poll's answer (no `after`): where to start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<S>,
    /// The cursor was not in the log: start over from this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset: Option<S>,
    /// Logged events after the cursor, oldest first, at most
    /// [`MAX_EVENTS_PER_PAGE`].
    #[serde(default)]
    pub events: Vec<E>,
    /// The id the page is true as of.
    pub next: u64,
    /// The log ended (`room closed`, `server shutting down`): stop polling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<String>,
}

/// A room's poll page.
pub type RoomPage = PollPage<RoomSnapshot, Polled<RoomEvent>>;

/// The ticker's poll page.
pub type TickerPage = PollPage<Board, Polled<TickerEvent>>;

/// `POST /api/rooms/{id}/join`'s body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinBody {
    /// Display name, 1 to [`crate::MAX_NAME_LEN`] bytes.
    pub name: String,
    /// A seat ticket from `POST /api/matchmake` for this room (32 hex
    /// digits): the seat is spent on the room's owner, as on `/ws`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seat: Option<String>,
    /// A private room's invite code (32 hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite: Option<String>,
    /// The device identity an earlier join granted (as `Hello.player`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub player: Option<PlayerKey>,
    /// A signed player token, as `Hello.token`: required with
    /// `--auth-jwt-key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<crate::protocol::PlayerToken>,
    /// A resume token (32 hex digits, as [`JoinAnswer::resume`] or
    /// `Welcome.resume`): take back that ship, with its score, instead of
    /// a new one, as `Hello.resume` does. Not with `seat` (a seat is for a
    /// new ship).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<String>,
}

/// `POST /api/rooms`'s body: the room to open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRoomBody {
    /// Private: listed nowhere, joined and watched only with the invite
    /// code. A public room is opened for matchmaking otherwise.
    #[serde(default)]
    pub private: bool,
    /// Seconds the room's watchers (SSE, long-poll watchers, minimap
    /// samples) see it late, 0 to [`MAX_SPECTATOR_DELAY_SECS`]: a
    /// tournament host's defence against ghosting. Absent: the server's
    /// `--spectator-delay-secs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spectator_delay_secs: Option<u32>,
}

/// The longest spectator delay a room may have (`--spectator-delay-secs`
/// has the same bound): each room holds that much formatted feed.
pub const MAX_SPECTATOR_DELAY_SECS: u32 = 60;

/// `POST /api/rooms`'s answer (201): the room opened, and for a private
/// room the code that lets players and spectators in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedRoom {
    pub room: String,
    /// The room is private.
    pub private: bool,
    /// The invite code (32 hex digits, 128 random bits); `null` for a
    /// public room.
    pub invite: Option<String>,
    /// The owner node's public URL: the room lives there.
    pub node_url: String,
    /// Seconds the room's watchers see it late.
    pub spectator_delay_secs: u32,
}

/// `POST /api/rooms/{id}/join`'s answer: the session token plus what the
/// WebSocket's `Welcome` says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinAnswer {
    /// The session: 32 hex digits, in every later request's path.
    pub token: String,
    /// The player's own ship.
    pub ship: ShipId,
    /// The room joined.
    pub room: String,
    /// The room's tick when the player joined.
    pub tick: Tick,
    /// The WebSocket's resume token as 32 hex digits: a long-poll player
    /// may move to the WebSocket and keep its ship.
    pub resume: String,
    /// The rules to predict with.
    pub rules: Rules,
    /// The base URL of the node that holds the session (its
    /// `--public-url`): every later request of the session goes there. A
    /// request that reaches another node is redirected to it (307).
    pub node_url: String,
    /// The identity the rounds are recorded under (as `Welcome.player`).
    #[serde(default)]
    pub player: Option<PlayerGrant>,
    /// The join took back the ship of its resume token (as
    /// `Welcome.resumed`).
    #[serde(default)]
    pub resumed: bool,
}

/// `POST /api/sessions/{token}/input`'s body: one input, or several in
/// sequence order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InputBody {
    /// `{"inputs": [...]}`, at most [`MAX_INPUTS_PER_REQUEST`].
    Many {
        /// In sequence order.
        inputs: Vec<Input>,
    },
    /// A single input object.
    One(Input),
}

/// `POST /api/sessions/{token}/input`'s answer (202).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputAccepted {
    /// Inputs handed to the room.
    pub accepted: u32,
}

/// `GET /api/sessions/{token}/state`'s answer: the newest snapshot after
/// the tick the client holds, in the JSON shape of the binary `Snapshot`,
/// or `null` when none came before the timeout. `B` is how the body is
/// held: clients read a `SnapshotBody`; the server writes the one its room
/// built, by reference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(deserialize = "B: Deserialize<'de>"))]
pub struct StateAnswer<B = SnapshotBody> {
    /// The snapshot, or `null`.
    pub snapshot: Option<Snapshot<B>>,
    /// The server is stopping: stop polling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<String>,
    /// An operator's message (as `ServerMsg::Notice`); such an answer has
    /// no snapshot: poll again with the same `after`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
}

/// `POST /api/sessions/{token}/leave`'s answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaveAnswer {
    /// Always true: the ship left.
    pub left: bool,
}

/// One room of `GET /api/rooms`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoomSummary {
    pub id: String,
    /// Matchmaking may put players here.
    pub public: bool,
    /// Human players seated.
    pub players: u32,
    /// Human seats.
    pub max_players: u32,
    /// Open spectator streams.
    pub spectators: u32,
    /// Server-side bots.
    pub bots: u32,
    /// Last completed tick.
    pub tick: u32,
    /// Ticks per second.
    pub tick_hz: u16,
    /// Seconds left in the current round.
    pub round_secs_left: f64,
}

/// A room of `GET /api/rooms` in cluster mode: the summary, plus its owner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListedRoom {
    /// The room's figures.
    #[serde(flatten)]
    pub summary: RoomSummary,
    /// Owner node id.
    pub node: String,
    /// Owner's public URL (empty when the answering node does not know its
    /// own).
    pub node_url: String,
}

/// `GET /api/rooms`: plain summaries on a single node, with owners in a
/// cluster. A client reads either; the cluster form is tried first, since
/// its entries are summaries too.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RoomList {
    /// Cluster node.
    Cluster(Vec<ListedRoom>),
    /// Single node.
    Local(Vec<RoomSummary>),
}

/// `POST /api/matchmake`'s body; every field optional, an empty body too.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchBody {
    /// A seat in this room rather than the fullest open one.
    #[serde(default)]
    pub room: Option<String>,
    /// Back to the room of this resume token (32 hex digits), no seat.
    #[serde(default)]
    pub resume: Option<String>,
}

/// `POST /api/matchmake`'s answer: where to play.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchAnswer {
    pub room: String,
    /// The owner node's id.
    pub node: String,
    /// The owner node's public URL (for its SSE and HTTP routes).
    pub node_url: String,
    /// Where to open the player WebSocket (with the seat ticket).
    pub ws_url: String,
    /// The seat ticket; `null` for a resume (send `Hello.resume` instead).
    pub seat: Option<String>,
    /// Milliseconds the seat waits for the WebSocket; `null` for a resume.
    pub seat_ttl_ms: Option<u64>,
}

/// One live node of `GET /api/nodes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeEntry {
    pub id: String,
    /// Its public URL.
    pub url: String,
    /// Its current start.
    pub boot_id: String,
    /// Rooms it owns.
    pub rooms: u32,
    /// Players seated on it.
    pub players: u32,
    /// It takes no new rooms or seats.
    pub draining: bool,
    /// Milliseconds until its lease runs out unless refreshed.
    pub lease_ms_left: u64,
}

/// `GET /api/players/{id}`: a player's record over every round it finished.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerProfile {
    pub id: String,
    /// The name of its latest recorded round.
    pub name: String,
    /// Rounds it was in when they ended.
    pub rounds: u64,
    pub kills: u64,
    pub deaths: u64,
    /// Rounds it ended at the top of the standings (ties included) with at
    /// least one kill.
    pub wins: u64,
    /// Its best score in one round.
    pub best_score: u32,
    /// Unix milliseconds of its first recorded round's end.
    pub first_seen_ms: u64,
    /// Unix milliseconds of its latest recorded round's end.
    pub last_seen_ms: u64,
}

/// One line of a match's final standings, best first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchStanding {
    /// 1 for the best; ships with equal scores share a rank.
    pub rank: u32,
    /// The player's id; `null` for bots and players the server could not
    /// identify (no database at their join).
    pub player: Option<String>,
    pub name: String,
    pub bot: bool,
    pub score: u32,
    /// Kills this round.
    pub kills: u32,
    /// Deaths this round.
    pub deaths: u32,
}

/// A match (one finished round) in a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchSummary {
    /// Increasing in the order matches were recorded.
    pub id: u64,
    pub room: String,
    /// The room's round number.
    pub round: u32,
    /// Unix milliseconds the round started.
    pub started_ms: u64,
    /// Unix milliseconds the round ended.
    pub ended_ms: u64,
    /// Ships in the final standings, bots included.
    pub ships: u32,
    /// Name of the best ship, `null` when nobody scored.
    pub winner: Option<String>,
}

/// `GET /api/matches/{id}`: the match and its full standings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchRecord {
    #[serde(flatten)]
    pub summary: MatchSummary,
    /// Best first.
    pub standings: Vec<MatchStanding>,
}

/// `GET /api/matches?room=&player=&before=&limit=`: newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchPage {
    pub matches: Vec<MatchSummary>,
    /// Pass as `before` for the next (older) page; `null` on the last.
    pub next_before: Option<u64>,
}

/// Which rounds a leaderboard adds up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaderboardPeriod {
    /// Every recorded round.
    #[default]
    All,
    /// Rounds that ended in the last 7 days.
    Week,
}

/// One player of a leaderboard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderboardRow {
    /// From 1; every row has its own (ties are broken, see [`Leaderboard`]).
    pub rank: u32,
    pub player: String,
    pub name: String,
    pub kills: u64,
    pub deaths: u64,
    pub wins: u64,
    pub rounds: u64,
}

/// `GET /api/leaderboard?period=all|week&limit=`: ranked by kills, then
/// wins, then fewer deaths, then player id, so equal records always come
/// in the same order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leaderboard {
    pub period: LeaderboardPeriod,
    /// Unix milliseconds the period starts (`null` for `all`).
    pub since_ms: Option<u64>,
    pub rows: Vec<LeaderboardRow>,
}

/// `GET /admin/api/overview`: what the admin console shows, in one answer
/// (it polls this every second).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminOverview {
    /// The answering node's id.
    pub node: String,
    /// It is draining: it takes no new players and stops when they are gone.
    pub draining: bool,
    /// The live nodes: the cluster's directory, or this node alone.
    pub nodes: Vec<NodeEntry>,
    /// Why `nodes` is empty: the directory could not be asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes_error: Option<String>,
    /// This node's rooms, private ones included, sorted by id.
    pub rooms: Vec<AdminRoom>,
}

/// A room as the admin console shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminRoom {
    /// The lobby's figures (players, spectators, tick rate, round clock).
    #[serde(flatten)]
    pub summary: RoomSummary,
    /// Private: joined and watched only with its invite code.
    pub private: bool,
    /// The 99th percentile of its last 300 ticks' durations (ten seconds at
    /// 30 Hz), in milliseconds; `null` when it did not answer or has not
    /// ticked yet.
    pub tick_p99_ms: Option<f64>,
    /// Its seated human players; empty when the room did not answer in
    /// time (it is closing, or its inbox is full).
    pub humans: Vec<AdminPlayer>,
}

/// A seated human player of [`AdminRoom`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminPlayer {
    /// Its ship: what `kick` names.
    pub ship: ShipId,
    /// Display name.
    pub name: String,
    /// Its connection is open (false while the ship waits for a resume).
    pub connected: bool,
    /// The client's address (its newest connection's; behind a reverse
    /// proxy, the proxy's).
    pub address: String,
    /// `websocket` or `longpoll`.
    pub transport: String,
    /// The connection's round trip, as the server last measured it with a
    /// WebSocket ping (every `--heartbeat-secs`), in milliseconds. Absent
    /// for long-poll players, detached ships, and before the first pong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ping_ms: Option<u32>,
}

/// `POST /admin/api/rooms/{id}/close` and
/// `POST /admin/api/rooms/{id}/players/{ship}/kick`: why, 1 to
/// [`MAX_ADMIN_REASON_LEN`] bytes without control characters. It goes to
/// the server's log and the audit list; players are told fixed words
/// (`kicked by an operator`, `room closed by an operator`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminReason {
    pub reason: String,
}

/// `GET /admin/api/rooms/{id}/minimap`: the room's newest state sample
/// (the `state` feed event watchers get) and the arena it is drawn in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminMinimap {
    pub arena_w: u16,
    pub arena_h: u16,
    pub sample: crate::feed::StateSample,
}

/// `POST /admin/api/notice`: a message shown in every player's HUD and on
/// every scoreboard of this node (1 to [`crate::MAX_NOTICE_LEN`] bytes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminNotice {
    pub text: String,
}

/// `POST /admin/api/rooms/{id}/players/{ship}/kick`: the reason (as
/// [`AdminReason`]), and optionally a ban of the player's address, its
/// name, or both, for `ban_secs` (1 to [`MAX_BAN_SECS`]). A banned client's
/// joins are refused with `banned` until then.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminKick {
    pub reason: String,
    /// How long the ban lasts; 0 (the default) bans nothing.
    #[serde(default)]
    pub ban_secs: u32,
    /// Ban the address the player connects from (IPv6: its /64).
    #[serde(default)]
    pub ban_address: bool,
    /// Ban the player's name (any case).
    #[serde(default)]
    pub ban_name: bool,
}

/// The longest ban: a week. Longer belongs in a firewall.
pub const MAX_BAN_SECS: u32 = 7 * 24 * 3600;

/// The longest reason of an admin action (it is kept in the bounded
/// audit list).
pub const MAX_ADMIN_REASON_LEN: usize = 200;

/// Every admin action's answer: what was done, as the audit list says it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// Who did it: the token's label and the client's address.
    pub who: String,
    /// `close_room`, `kick` or `drain`.
    pub action: String,
    /// The room or `room/ship` acted on; empty for the node.
    pub target: String,
    /// The reason given.
    pub reason: String,
}
