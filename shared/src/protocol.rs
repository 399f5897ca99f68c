//! Every message that crosses a player's WebSocket, and the codes and limits
//! that go with them. `web-client/src/protocol.js` mirrors this file; the
//! golden vectors in `shared/vectors/` keep the two from drifting.
//!
//! Wire compatibility rule: `ClientMsg::Hello` stays variant 0 with
//! `protocol` as its first field, so a server can always read the version of
//! a client built against any revision and answer a mismatch cleanly.

use serde::{Deserialize, Serialize};

use crate::rules::Rules;
use crate::tick::Tick;

/// Bumped on every change to the bytes of any message. 2: a snapshot body's
/// id-sorted lists carry id gaps instead of ids, and `changed` folds each
/// `ShipDelta` variant into its gap. 3: `Hello.player` and
/// `Welcome.player` (device identities), and `Input` ends with `view`, the
/// moment the client was showing, for lag compensation. 4: `Hello.token`,
/// a signed player token, and the longer client frame it needs. 5:
/// `ServerMsg::Moved`, a room handed over to another node in a rolling
/// deploy.
pub const PROTOCOL_VERSION: u16 = 5;

/// Longest signed player token (`Hello.token`) in bytes. An RS256 token
/// with a 4096-bit key and a few claims is under 1 KiB; this leaves room
/// for longer claims and nothing more.
pub const MAX_PLAYER_TOKEN_LEN: usize = 2048;

/// Largest client frame the server decodes. A Hello with the longest name,
/// room, a resume token and a player key is under 200 bytes, plus at most
/// [`MAX_PLAYER_TOKEN_LEN`] of token; anything near this is hostile.
pub const MAX_CLIENT_FRAME: usize = 512 + MAX_PLAYER_TOKEN_LEN;

/// Length of a player id: 16 lowercase hex digits (64 random bits).
pub const PLAYER_ID_LEN: usize = 16;

/// Length of a player secret: 64 lowercase hex digits (256 random bits).
pub const PLAYER_SECRET_LEN: usize = 64;

/// Largest server frame a client should accept: a full snapshot of a 512-ship
/// room with long names is about 30 KiB.
pub const MAX_SERVER_FRAME: usize = 1 << 20;

/// Longest player name in bytes (UTF-8).
pub const MAX_NAME_LEN: usize = 24;

/// Longest room id in bytes; room ids are `[A-Za-z0-9_-]`.
pub const MAX_ROOM_ID_LEN: usize = 32;

/// A ship's id within its room. Small ids are reused only after the snapshot
/// history window has passed, so a delta never mistakes a new ship for an old.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct ShipId(pub u16);

/// A projectile's id within its room (wraps; a projectile lives one second).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct ShotId(pub u16);

/// 128 random bits that let a player who lost its connection take its ship
/// back. Never logged: `Debug` hides it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResumeToken(pub [u8; 16]);

impl std::fmt::Debug for ResumeToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResumeToken(..)")
    }
}

/// Client to server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientMsg {
    /// First message on a socket; anything else first is a protocol error.
    Hello(Hello),
    /// One client tick of input.
    Input(Input),
    /// Round-trip probe; answered with `Pong`.
    Ping(Ping),
    /// The player leaves on purpose: no resume grace period.
    Leave,
}

/// Opens a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Must equal [`PROTOCOL_VERSION`].
    pub protocol: u16,
    /// Display name, 1 to [`MAX_NAME_LEN`] bytes.
    pub name: String,
    /// Room to join; `None` picks the least-full public room.
    pub room: Option<String>,
    /// Token from an earlier `Welcome`, to take that ship back.
    pub resume: Option<ResumeToken>,
    /// The device identity an earlier `Welcome` granted; `None` on a first
    /// visit. A wrong or unknown key plays as a new guest.
    pub player: Option<PlayerKey>,
    /// A signed player token (a JWT from the game's own accounts), at most
    /// [`MAX_PLAYER_TOKEN_LEN`] bytes. Required when the server runs with
    /// `--auth-jwt-key`: its `sub` is the player id, its `name` the display
    /// name. Ignored otherwise.
    pub token: Option<PlayerToken>,
}

/// A signed player token (a JWT) as a client presents it. Never logged:
/// `Debug` hides it, since whoever holds it plays as its subject until it
/// expires.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PlayerToken(pub String);

impl std::fmt::Debug for PlayerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlayerToken(..)")
    }
}

/// A device identity as the client presents it: the id and secret a
/// `Welcome` (or a long-poll join answer) granted, kept by the client (the
/// web client in `localStorage`). Never logged: `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerKey {
    /// [`PLAYER_ID_LEN`] lowercase hex digits.
    pub id: String,
    /// [`PLAYER_SECRET_LEN`] lowercase hex digits.
    pub secret: String,
}

impl std::fmt::Debug for PlayerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlayerKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The identity a session plays under, as the server grants it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerGrant {
    /// The player's id (`GET /api/players/{id}`).
    pub id: String,
    /// Present only when the server made this identity now: keep it with
    /// the id and present both in later Hellos. `None` when the key the
    /// client presented was accepted (or on a resume).
    pub secret: Option<String>,
}

impl std::fmt::Debug for PlayerGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlayerGrant")
            .field("id", &self.id)
            .field("new", &self.secret.is_some())
            .finish()
    }
}

/// Whether `id` has the shape of a player id ([`PLAYER_ID_LEN`] lowercase
/// hex digits); anything else is never looked up.
#[must_use]
pub fn valid_player_id(id: &str) -> bool {
    id.len() == PLAYER_ID_LEN && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether `key` has the shape of a key the server grants.
#[must_use]
pub fn valid_player_key(key: &PlayerKey) -> bool {
    valid_player_id(&key.id)
        && key.secret.len() == PLAYER_SECRET_LEN
        && key
            .secret
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// One client tick of input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// Counts up from 1; the server ignores sequences it has already applied.
    pub seq: u32,
    /// Newest snapshot tick the client has received and can use as a delta
    /// baseline; `None` asks for a full snapshot.
    pub ack: Option<Tick>,
    /// Button bits ([`crate::rules::buttons`]).
    pub buttons: u8,
    /// Quantised aim ([`crate::rules::quantise_aim`]).
    pub aim: u8,
    /// The moment the client's screen showed the other ships when it read
    /// these buttons; `None` when it shows none yet (or does not say: bots,
    /// old HTTP clients). The server judges this input's shots against the
    /// ships as they were then, within its cap (docs/netcode.md). Default in
    /// JSON so HTTP clients may leave it out; always present in bincode.
    #[serde(default)]
    pub view: Option<ViewTime>,
}

/// A fractional tick: `tick + frac / 256`. Interpolation draws other ships
/// between two snapshot ticks, so the moment on screen is rarely a whole
/// tick; 1/256 of a 33 ms tick is 0.13 ms, finer than any frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewTime {
    /// The whole tick at or before the moment shown.
    pub tick: Tick,
    /// How far past `tick`, in 256ths of a tick.
    pub frac: u8,
}

impl ViewTime {
    /// Steps of `frac` per tick.
    pub const FRAC_STEPS: u32 = 256;

    /// The time in 256ths of a tick since tick 0.
    #[must_use]
    pub fn fixed(self) -> u64 {
        u64::from(self.tick.0) * u64::from(Self::FRAC_STEPS) + u64::from(self.frac)
    }
}

/// Round-trip probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    /// Echoed back in `Pong`.
    pub nonce: u32,
}

/// Server to client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServerMsg {
    /// Answer to `Hello`.
    Welcome(Welcome),
    /// The room's state at a tick, full or as a delta.
    Snapshot(Snapshot),
    /// Answer to `Ping`.
    Pong(Pong),
    /// Why the server is about to close the socket, or refused a request.
    Error(ErrorMsg),
    /// A message from the server's operators for every player's HUD
    /// (maintenance, an event). Version 4.
    Notice(Notice),
    /// The room moved to another node at its round boundary (a rolling
    /// deploy): the socket closes next (`moved`); connect to `ws_url` and
    /// send `Hello` with the same resume token to take the same ship back,
    /// score included. Version 5.
    Moved(Moved),
}

/// Where a room handed over continues.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moved {
    /// The room's id, unchanged.
    pub room: String,
    /// The node that now runs it.
    pub node: String,
    /// That node's public base URL (`http(s)://host[:port][/path]`).
    pub node_url: String,
    /// Its player WebSocket for the room: resume there.
    pub ws_url: String,
}

/// Longest operator message in bytes (UTF-8): a HUD line, not a page.
pub const MAX_NOTICE_LEN: usize = 200;

/// An operator's message to every player and spectator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// 1 to [`MAX_NOTICE_LEN`] bytes without control characters.
    pub text: String,
}

/// The session is open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// The player's own ship.
    pub ship: ShipId,
    /// The room joined.
    pub room: String,
    /// The room's tick when the player joined.
    pub tick: Tick,
    /// Present this in a later `Hello` to take the ship back.
    pub resume: ResumeToken,
    /// True when this session took over an existing ship.
    pub resumed: bool,
    /// The rules to predict with.
    pub rules: Rules,
    /// The identity this session's rounds are recorded under; `None` when
    /// the server keeps no records (no database, or it could not be asked:
    /// keep any key you hold and present it next time).
    pub player: Option<PlayerGrant>,
}

/// A snapshot as one player receives it. `last_input` comes first because it
/// is the only per-player part: the server encodes each distinct `body` once
/// and prefixes it per player.
///
/// `B` is how the body is held: a `SnapshotBody` everywhere but where the
/// server writes long polling's JSON from the body its room built, by
/// reference (`Snapshot<&SnapshotBody>` serializes the same).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot<B = SnapshotBody> {
    /// Newest input sequence of this player the server has applied.
    pub last_input: u32,
    /// The room's state.
    pub body: B,
}

/// The room's state at `tick`: a full snapshot when `baseline` is `None`,
/// else the difference from the state at `baseline`.
///
/// Applying a delta: start from the client's stored state at `baseline`,
/// remove `removed` ships and `shots_gone` shots, add `spawned` and `shots`,
/// apply `changed`, take `round` when present.
///
/// The five lists of ships and shots are sorted by id. On the binary wire
/// each of their ids is the gap from the previous entry's id, and in
/// `changed` that gap also carries the `ShipDelta` variant
/// ([`crate::codec`]'s `id_gaps`); in memory and in JSON they are real ids.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotBody {
    /// The tick this state belongs to.
    pub tick: Tick,
    /// The acknowledged tick this is a delta against; `None`: full state.
    pub baseline: Option<Tick>,
    /// Round clock; present in full snapshots and when it changed.
    pub round: Option<RoundState>,
    /// Ships not in the baseline (every ship in a full snapshot), by id.
    #[serde(with = "crate::codec::id_gaps")]
    pub spawned: Vec<ShipSpawn>,
    /// Ships in both whose state changed, by id.
    #[serde(with = "crate::codec::id_gaps")]
    pub changed: Vec<ShipDelta>,
    /// Ships in the baseline that are gone, by id.
    #[serde(with = "crate::codec::id_gaps")]
    pub removed: Vec<ShipId>,
    /// Live projectiles not in the baseline (all of them in a full
    /// snapshot), by id.
    #[serde(with = "crate::codec::id_gaps")]
    pub shots: Vec<ShotSpawn>,
    /// Projectiles in the baseline that are gone (hit or expired), by id.
    #[serde(with = "crate::codec::id_gaps")]
    pub shots_gone: Vec<ShotId>,
    /// Game events after the baseline tick up to `tick` (only `tick`'s in a
    /// full snapshot); each carries its tick so a client drops repeats.
    pub events: Vec<GameEvent>,
}

/// The round clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundState {
    /// Round number, from 1.
    pub number: u32,
    /// Tick the round started.
    pub started: Tick,
    /// Tick the round ends.
    pub ends: Tick,
}

/// Everything synced about a ship. Positions are in 1/8 units
/// ([`crate::rules::POS_SCALE`]); `hp == 0` means dead, waiting to respawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipState {
    pub id: ShipId,
    /// x in sub-units.
    pub x: u16,
    /// y in sub-units.
    pub y: u16,
    /// Quantised aim.
    pub aim: u8,
    /// Hit points.
    pub hp: u8,
    /// Kills this round.
    pub score: u16,
}

/// A ship entering the client's view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipSpawn {
    /// Its full state.
    pub ship: ShipState,
    pub name: String,
    /// True for a server-side bot.
    pub bot: bool,
}

/// How a ship changed since the baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShipDelta {
    /// Only position and aim changed (the common case: 4 bytes while the
    /// id gap and the moves are small).
    Moved {
        id: ShipId,
        /// x change in sub-units.
        dx: i16,
        /// y change in sub-units.
        dy: i16,
        /// New aim.
        aim: u8,
    },
    /// Anything else changed (hp, score, respawn): the whole state.
    Full(ShipState),
}

impl ShipDelta {
    /// The ship this delta is about.
    #[must_use]
    pub fn id(&self) -> ShipId {
        match self {
            ShipDelta::Moved { id, .. } => *id,
            ShipDelta::Full(s) => s.id,
        }
    }
}

/// A projectile, sent once when fired. Clients extrapolate it with
/// [`crate::rules::Rules::shot_position`] from its origin and age; the server
/// says when it is gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShotSpawn {
    pub id: ShotId,
    /// The ship that fired it.
    pub owner: ShipId,
    /// Origin x in sub-units.
    pub x: u16,
    /// Origin y in sub-units.
    pub y: u16,
    /// Direction (quantised aim).
    pub aim: u8,
    /// Ticks since it was fired, as of the snapshot's tick.
    pub age: u8,
}

/// Something that happened on a tick.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GameEvent {
    pub tick: Tick,
    pub kind: EventKind,
}

/// The kinds of game events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// A ship joined (its name arrives in `spawned`).
    Joined { ship: ShipId },
    /// A ship left.
    Left { ship: ShipId },
    /// A ship lost its last hit point.
    Killed {
        /// Who fired.
        killer: ShipId,
        /// Who died.
        victim: ShipId,
    },
    /// A round began.
    RoundStarted {
        round: u32,
        /// Tick it ends.
        ends: Tick,
    },
    /// A round ended; scores reset for the next.
    RoundEnded {
        round: u32,
        /// Final scores, best first.
        standings: Vec<Standing>,
    },
}

/// One line of a round's results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    pub ship: ShipId,
    /// Kills.
    pub score: u16,
}

/// Answer to `Ping`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pong {
    /// The ping's nonce.
    pub nonce: u32,
    /// The room's current tick.
    pub tick: Tick,
}

/// A refusal, sent before the server closes the socket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorMsg {
    /// Machine-readable reason.
    pub code: ErrorCode,
    /// Human-readable detail.
    pub message: String,
}

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// `Hello.protocol` is not [`PROTOCOL_VERSION`].
    BadVersion,
    /// The name is empty, too long or has control characters.
    BadName,
    /// The room id is malformed.
    BadRoom,
    /// The room has no free seat.
    RoomFull,
    /// The server has no room for another player.
    ServerFull,
    /// The resume token is unknown or expired; send Hello without it.
    ResumeRejected,
    /// The server is shutting down.
    ShuttingDown,
    /// The room does not exist and the server holds as many rooms as it
    /// may (`--max-rooms`): join an existing room, or retry later.
    RoomLimit,
    /// The room does not exist and this client address opened new rooms
    /// too fast; retry after the time the message gives.
    RoomRateLimited,
    /// The room is private and the invite code is missing or wrong.
    InviteRequired,
    /// This client address guessed wrong invite codes too often; retry
    /// after the time the message gives.
    InviteRateLimited,
    /// An operator banned this address or name for a while; the message
    /// says how long is left.
    Banned,
    /// The server requires a signed player token and the Hello has none
    /// (close 4004).
    TokenMissing,
    /// The token is malformed, wrongly signed, of another algorithm,
    /// issuer or audience, or not valid yet (close 4004).
    TokenInvalid,
    /// The token's `exp` has passed: get a fresh one (close 4004).
    TokenExpired,
}

/// WebSocket close codes the server uses. Standard codes where one fits,
/// 4000-4999 (application range) for Skirmish's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum CloseCode {
    /// Normal end (the client said Leave).
    Normal = 1000,
    /// The server is shutting down.
    GoingAway = 1001,
    /// Undecodable frame, wrong protocol version, or messages out of order.
    ProtocolError = 1002,
    /// A text frame: the protocol is binary only.
    UnsupportedData = 1003,
    /// Input flood or another abuse of the protocol.
    PolicyViolation = 1008,
    /// A frame larger than [`MAX_CLIENT_FRAME`].
    MessageTooBig = 1009,
    /// The server failed; the client may retry.
    InternalError = 1011,
    /// Room or server full, at the room cap, or opening rooms too fast;
    /// retry later.
    TryAgainLater = 1013,
    /// Another connection resumed this session.
    SessionReplaced = 4000,
    /// Nothing arrived for longer than the idle timeout.
    IdleTimeout = 4001,
    /// No Hello arrived within the handshake timeout.
    HelloTimeout = 4002,
    /// Cluster mode: the room was lost. Its node was cut off past its
    /// lease (paused, partitioned), and the cluster closed the room and
    /// told its spectators `server_lost`; matchmake again.
    RoomLost = 4003,
    /// The server requires a signed player token and the Hello's is
    /// missing, invalid or expired; the reason says which.
    Unauthorized = 4004,
}

impl CloseCode {
    /// Every code, for the web client's code table test.
    pub const ALL: [CloseCode; 13] = [
        CloseCode::Normal,
        CloseCode::GoingAway,
        CloseCode::ProtocolError,
        CloseCode::UnsupportedData,
        CloseCode::PolicyViolation,
        CloseCode::MessageTooBig,
        CloseCode::InternalError,
        CloseCode::TryAgainLater,
        CloseCode::SessionReplaced,
        CloseCode::IdleTimeout,
        CloseCode::HelloTimeout,
        CloseCode::RoomLost,
        CloseCode::Unauthorized,
    ];

    /// The numeric code.
    #[must_use]
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The code's name as the JavaScript client spells it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            CloseCode::Normal => "Normal",
            CloseCode::GoingAway => "GoingAway",
            CloseCode::ProtocolError => "ProtocolError",
            CloseCode::UnsupportedData => "UnsupportedData",
            CloseCode::PolicyViolation => "PolicyViolation",
            CloseCode::MessageTooBig => "MessageTooBig",
            CloseCode::InternalError => "InternalError",
            CloseCode::TryAgainLater => "TryAgainLater",
            CloseCode::SessionReplaced => "SessionReplaced",
            CloseCode::IdleTimeout => "IdleTimeout",
            CloseCode::HelloTimeout => "HelloTimeout",
            CloseCode::RoomLost => "RoomLost",
            CloseCode::Unauthorized => "Unauthorized",
        }
    }
}

/// Checks a display name: 1 to [`MAX_NAME_LEN`] bytes, no control characters,
/// not only whitespace.
#[must_use]
pub fn valid_name(name: &str) -> bool {
    !name.trim().is_empty() && name.len() <= MAX_NAME_LEN && !name.chars().any(char::is_control)
}

/// What a client whose name [`valid_name`] refused is told, built from
/// [`MAX_NAME_LEN`] so the words cannot disagree with the rule.
#[must_use]
pub fn bad_name_message() -> String {
    format!("name must be 1-{MAX_NAME_LEN} bytes without control characters")
}

/// Checks a room id: 1 to [`MAX_ROOM_ID_LEN`] of `[A-Za-z0-9_-]`.
#[must_use]
pub fn valid_room_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ROOM_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_rooms_are_checked() {
        assert!(valid_name("Ada"));
        assert!(valid_name("Zoë the 2nd"));
        assert!(!valid_name(""));
        assert!(!valid_name("   "));
        assert!(!valid_name("a\u{7}b"));
        assert!(!valid_name(&"x".repeat(MAX_NAME_LEN + 1)));
        assert!(bad_name_message().contains(&format!("1-{MAX_NAME_LEN} bytes")));
        assert!(valid_room_id("arena-1_b"));
        assert!(!valid_room_id("a b"));
        assert!(!valid_room_id(""));
        assert!(!valid_room_id(&"r".repeat(MAX_ROOM_ID_LEN + 1)));
    }

    #[test]
    fn player_keys_are_checked_and_stay_out_of_logs() {
        let key = PlayerKey {
            id: "0123456789abcdef".into(),
            secret: "f".repeat(PLAYER_SECRET_LEN),
        };
        assert!(valid_player_key(&key));
        assert!(!format!("{key:?}").contains("fff"));
        assert!(!valid_player_id("0123456789ABCDEF"));
        assert!(!valid_player_id("0123"));
        let short = PlayerKey {
            secret: "f".repeat(PLAYER_SECRET_LEN - 1),
            ..key.clone()
        };
        assert!(!valid_player_key(&short));
        let grant = PlayerGrant {
            id: key.id,
            secret: Some(key.secret),
        };
        assert!(!format!("{grant:?}").contains("fff"));
    }

    #[test]
    fn resume_tokens_stay_out_of_logs() {
        assert_eq!(format!("{:?}", ResumeToken([7; 16])), "ResumeToken(..)");
    }
}
