//! The JSON feeds of those who watch: every event a room's stream
//! (`/api/rooms/{id}/events` over SSE, `/api/rooms/{id}/poll`) and the
//! server-wide ticker (`/api/ticker`, `/api/ticker/poll`) carry.
//!
//! An event is a name and a JSON object. Over SSE the name is the
//! `event:` line and the object the `data:` line (logged events add an
//! `id:`); a poll page lists logged events as `{"id", "event", "data"}`
//! ([`Polled`]). [`RoomEvent`] and [`TickerEvent`] are that pair as Rust
//! types (`#[serde(tag = "event", content = "data")]`), and their `NAMES`
//! are the one table of event names: the golden vectors carry it to the web
//! client's tests.
//!
//! Objects keep their keys in alphabetical order, the order the server has
//! always written; clients must not depend on it. This file holds types
//! only: it never touches a socket or a clock.

use serde::{Deserialize, Serialize, Serializer};

/// Declares a feed's event enum from one table of `Variant(Data) = "name"`
/// rows, and derives from the same rows its `NAMES` and its [`FeedEvent`]
/// impl, so the names cannot drift apart.
macro_rules! feed_events {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident($data:ty) = $tag:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "event", content = "data")]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $tag)] $variant($data), )*
        }

        impl $name {
            /// Every event name of this feed, in declaration order.
            pub const NAMES: &[&str] = &[$($tag),*];
        }

        impl FeedEvent for $name {
            fn name(&self) -> &'static str {
                match self {
                    $( $name::$variant(_) => $tag, )*
                }
            }

            fn serialize_data<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $( $name::$variant(data) => data.serialize(serializer), )*
                }
            }
        }
    };
}

/// What every feed's events have: a name and a payload, which SSE writes
/// apart.
pub trait FeedEvent: Serialize {
    /// The event's name: SSE `event:`, a poll entry's `"event"`.
    fn name(&self) -> &'static str;

    /// Serializes the payload alone, as SSE `data:` carries it.
    ///
    /// # Errors
    /// The serializer's.
    fn serialize_data<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;

    /// The payload alone, as a value to serialize.
    fn data(&self) -> Data<'_, Self>
    where
        Self: Sized,
    {
        Data(self)
    }
}

/// Names of the events that frame a stream rather than report the game:
/// the server writes them around payloads it rendered once and shares (the
/// log's snapshot, the state sample), and readers that do not parse every
/// frame branch on them. Both feeds' tables hold all but `state`; a test
/// keeps them equal to the enums' own.
pub mod names {
    /// A fresh reader's first event.
    pub const SNAPSHOT: &str = "snapshot";
    /// A lost reader's new start.
    pub const RESET: &str = "reset";
    /// A room's state sample.
    pub const STATE: &str = "state";
    /// The log ended.
    pub const CLOSED: &str = "closed";
    /// The server is stopping.
    pub const SHUTDOWN: &str = "shutdown";
}

/// An event's payload without its name: see [`FeedEvent::data`].
#[derive(Clone, Copy, Debug)]
pub struct Data<'a, E>(&'a E);

impl<E: FeedEvent> Serialize for Data<'_, E> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_data(serializer)
    }
}

feed_events! {
    /// Everything a room's feed carries.
    pub enum RoomEvent {
        /// Where a new reader starts; its id is the newest logged id.
        Snapshot(RoomSnapshot) = "snapshot",
        /// The reader's cursor was not in the log: start over from here.
        Reset(RoomSnapshot) = "reset",
        /// Every ship's position, for minimaps. Latest-wins, no id.
        State(StateSample) = "state",
        /// A player took a seat.
        Join(Join) = "join",
        /// A ship left the room.
        Leave(Leave) = "leave",
        /// One ship destroyed another.
        Kill(Kill) = "kill",
        /// A ship's score changed.
        Score(Score) = "score",
        /// A round started or ended.
        Round(Round) = "round",
        /// The room closed; the stream ends.
        Closed(Closed) = "closed",
        /// The server is stopping; the stream ends.
        Shutdown(Closed) = "shutdown",
        /// A message from the server's operators (the admin console).
        Notice(NoticeEvent) = "notice",
        /// The room continues on another node (a rolling deploy's
        /// handover); the log goes on under the next ids.
        Moved(MovedEvent) = "moved",
    }
}

feed_events! {
    /// Everything the server-wide ticker carries.
    pub enum TickerEvent {
        /// Where a new reader starts: the newest board.
        Snapshot(Board) = "snapshot",
        /// The reader's cursor was not in the log: the newest board.
        Reset(Board) = "reset",
        /// The best lines across every room, when they changed.
        Board(Board) = "board",
        /// A ship's score changed, in any room.
        Score(Score) = "score",
        /// The ticker ended (the server is stopping).
        Closed(Closed) = "closed",
        /// The server is stopping; the stream ends.
        Shutdown(Closed) = "shutdown",
    }
}

impl RoomEvent {
    /// When the server logged or sampled it (unix ms); the bots measure
    /// delivery with it. `None` for `closed` and `shutdown`.
    #[must_use]
    pub fn time(&self) -> Option<u64> {
        match self {
            RoomEvent::Snapshot(s) | RoomEvent::Reset(s) => Some(s.time),
            RoomEvent::State(s) => Some(s.time),
            RoomEvent::Join(e) => Some(e.time),
            RoomEvent::Leave(e) => Some(e.time),
            RoomEvent::Kill(e) => Some(e.time),
            RoomEvent::Score(e) => Some(e.time),
            RoomEvent::Round(Round::Started { time, .. } | Round::Ended { time, .. }) => {
                Some(*time)
            }
            RoomEvent::Notice(e) => Some(e.time),
            RoomEvent::Moved(e) => Some(e.time),
            RoomEvent::Closed(_) | RoomEvent::Shutdown(_) => None,
        }
    }
}

impl TickerEvent {
    /// When the server logged it (unix ms). `None` for `closed` and
    /// `shutdown`.
    #[must_use]
    pub fn time(&self) -> Option<u64> {
        match self {
            TickerEvent::Snapshot(b) | TickerEvent::Reset(b) | TickerEvent::Board(b) => {
                Some(b.time)
            }
            TickerEvent::Score(e) => Some(e.time),
            TickerEvent::Closed(_) | TickerEvent::Shutdown(_) => None,
        }
    }
}

/// A logged event as a poll page lists it: `{"id", "event", "data"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Polled<E> {
    /// Its id in the log; poll again with `after` set to the last one.
    pub id: u64,
    /// The event and its payload.
    #[serde(flatten)]
    pub event: E,
}

/// The wire layout of a feed event, for a writer that already holds the
/// payload serialized (the server renders each logged event once and
/// shares the bytes). Serializes exactly as the typed event does.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Tagged<'a, D> {
    /// The event's name.
    pub event: &'a str,
    pub data: D,
}

/// A room as a spectator starts from: the round clock and every ship's
/// line. `S` is how strings are held: clients read `String`; the server
/// writes `&str` borrowed from its state, because it builds this on every
/// tick with events, for every ship of the room.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoomSnapshot<S = String> {
    /// Every ship, by id.
    pub players: Vec<PlayerLine<S>>,
    pub room: S,
    /// The current round.
    pub round: RoundClock,
    /// The tick the snapshot is true at (that of the newest logged event).
    pub tick: u32,
    /// The room's ticks per second.
    pub tick_hz: u16,
    /// Unix milliseconds when it was built.
    pub time: u64,
}

/// One ship in a [`RoomSnapshot`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerLine<S = String> {
    /// A server-side bot.
    pub bot: bool,
    /// Hit points; 0 while dead.
    pub hp: u8,
    pub name: S,
    /// Ship id.
    pub player: u16,
    /// Kills this round.
    pub score: u16,
}

/// The round clock of a [`RoomSnapshot`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoundClock {
    /// The tick it ends.
    pub ends_tick: u32,
    /// Counts from 1.
    pub number: u32,
    /// Seconds left when the snapshot was built.
    pub secs_left: f64,
    /// The tick it started.
    pub started_tick: u32,
}

/// Every ship's position at one tick.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateSample {
    /// The tick the round ends; with `tick` and the rate, the round clock.
    pub round_ends_tick: u32,
    /// Every ship, by id.
    pub ships: Vec<ShipSample>,
    /// The tick sampled.
    pub tick: u32,
    /// Unix milliseconds when it was sampled.
    pub time: u64,
}

/// One ship of a [`StateSample`]: `[id, x, y, aim, hp]`, positions in arena
/// units, `aim` a byte (256 steps per turn, 0 along +x, growing towards +y),
/// `hp` 0 while dead. An array, not an object: a sample holds every ship,
/// ten times a second.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShipSample(pub u16, pub f32, pub f32, pub u8, pub u8);

/// `join`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Join {
    /// A server-side bot.
    pub bot: bool,
    pub name: String,
    /// Ship id.
    pub player: u16,
    pub room: String,
    /// The tick it happened.
    pub tick: u32,
    /// Unix milliseconds when it was logged.
    pub time: u64,
}

/// `leave`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leave {
    /// Display name (`?` for a ship the feed never saw join).
    pub name: String,
    /// Ship id.
    pub player: u16,
    pub room: String,
    /// The tick it happened.
    pub tick: u32,
    /// Unix milliseconds when it was logged.
    pub time: u64,
}

/// `kill`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kill {
    /// The ship that fired.
    pub killer: u16,
    /// Its display name.
    pub killer_name: String,
    pub room: String,
    /// The tick it happened.
    pub tick: u32,
    /// Unix milliseconds when it was logged.
    pub time: u64,
    /// The ship destroyed.
    pub victim: u16,
    /// Its display name.
    pub victim_name: String,
    /// What did it.
    pub weapon: Weapon,
}

/// The arena has one weapon; the field is there for the ones to come.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weapon {
    /// The ships' gun.
    Blaster,
}

/// `score`: a ship's new score and the kills of this tick that made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    /// Kills this tick.
    pub delta: u16,
    pub name: String,
    /// Ship id.
    pub player: u16,
    pub room: String,
    /// The new score.
    pub score: u16,
    /// The tick it happened.
    pub tick: u32,
    /// Unix milliseconds when it was logged.
    pub time: u64,
}

/// `round`: `"phase": "started"` or `"ended"`. Scores go back to 0 when a
/// round ends, with no `score` events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Round {
    /// A round began.
    Started {
        /// The tick it ends.
        ends_tick: u32,
        room: String,
        round: u32,
        /// Seconds until it ends.
        secs_left: f64,
        /// The tick it happened.
        tick: u32,
        /// Unix milliseconds when it was logged.
        time: u64,
    },
    /// A round ended.
    Ended {
        room: String,
        round: u32,
        /// Final scores, best first.
        standings: Vec<StandingLine>,
        /// The tick it happened.
        tick: u32,
        /// Unix milliseconds when it was logged.
        time: u64,
    },
}

/// One line of a finished round's standings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandingLine {
    pub name: String,
    /// Ship id.
    pub player: u16,
    /// Kills in the round.
    pub score: u16,
}

/// The ticker's board: the best lines across every room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Board {
    /// Unix milliseconds when it was built.
    pub time: u64,
    /// Best first; ties by room, then ship id.
    pub top: Vec<BoardLine>,
}

/// One line of the [`Board`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardLine {
    /// A server-side bot.
    pub bot: bool,
    pub name: String,
    /// Ship id.
    pub player: u16,
    pub room: String,
    /// Kills this round.
    pub score: u16,
}

/// `notice`: an operator's message, as players get it in
/// `ServerMsg::Notice`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeEvent {
    /// 1 to [`crate::MAX_NOTICE_LEN`] bytes without control characters.
    pub text: String,
    pub room: String,
    pub time: u64,
}

/// `moved`: the room's new node, logged by that node as the first event it
/// adds to the room's log (the id after the old owner's last one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovedEvent {
    pub room: String,
    /// The node that now runs the room.
    pub node: String,
    /// That node's public base URL.
    pub node_url: String,
    pub time: u64,
}

/// `closed` and `shutdown`: why the stream ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Closed {
    /// For people (`room closed`, `server shutting down`).
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_names_are_the_enums_own() {
        let board = || Board {
            time: 0,
            top: Vec::new(),
        };
        let snapshot = || RoomSnapshot {
            players: Vec::new(),
            room: String::new(),
            round: RoundClock {
                ends_tick: 0,
                number: 0,
                secs_left: 0.0,
                started_tick: 0,
            },
            tick: 0,
            tick_hz: 30,
            time: 0,
        };
        assert_eq!(RoomEvent::Snapshot(snapshot()).name(), names::SNAPSHOT);
        assert_eq!(RoomEvent::Reset(snapshot()).name(), names::RESET);
        assert_eq!(TickerEvent::Snapshot(board()).name(), names::SNAPSHOT);
        assert_eq!(TickerEvent::Reset(board()).name(), names::RESET);
        let sample = StateSample {
            round_ends_tick: 0,
            ships: Vec::new(),
            tick: 0,
            time: 0,
        };
        assert_eq!(RoomEvent::State(sample).name(), names::STATE);
        let closed = || Closed {
            reason: String::new(),
        };
        for (room, ticker, name) in [
            (
                RoomEvent::Closed(closed()),
                TickerEvent::Closed(closed()),
                names::CLOSED,
            ),
            (
                RoomEvent::Shutdown(closed()),
                TickerEvent::Shutdown(closed()),
                names::SHUTDOWN,
            ),
        ] {
            assert_eq!((room.name(), ticker.name()), (name, name));
        }
    }
}
