//! Names of this node's Redis keys, all under `--redis-prefix`. The layout
//! is documented once, at the top of `lua/common.lua`, and in
//! `docs/scaleout.md`; the scripts build the same names from the prefix.
//!
//! The cluster ticker is read by the same follower code as a room, under
//! the feed name [`TICKER_FEED`]: the per-feed names ([`Keys::log`],
//! [`Keys::feed`], [`Keys::events_channel`], [`Keys::state_channel`]) map
//! it to the ticker's own keys.

/// The name the cluster ticker is followed under. `~` is not allowed in a
/// room id (`valid_room_id`), so no room can ever take this name.
pub const TICKER_FEED: &str = "~ticker";

/// Key names for one node.
#[derive(Clone, Debug)]
pub struct Keys {
    prefix: String,
    /// `p:node:{nid}`: this node's lease.
    pub node: String,
    /// `p:node:{nid}:rooms`: the rooms it owns.
    pub node_rooms: String,
    /// `p:nodes`: every lease's deadline.
    pub nodes: String,
    /// `p:mm`: open public rooms by seats taken.
    pub matchmaking: String,
}

impl Keys {
    /// The names for node `node_id` under `prefix`.
    #[must_use]
    pub fn new(prefix: &str, node_id: &str) -> Keys {
        let node = format!("{prefix}:node:{{{node_id}}}");
        Keys {
            prefix: prefix.to_owned(),
            node_rooms: format!("{node}:rooms"),
            node,
            nodes: format!("{prefix}:nodes"),
            matchmaking: format!("{prefix}:mm"),
        }
    }

    /// The prefix itself (scripts build per-room names from it).
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `p:room:{id}:seats`: reserved seats.
    #[must_use]
    pub fn seats(&self, room: &str) -> String {
        format!("{}:room:{{{room}}}:seats", self.prefix)
    }

    /// `p:room:{id}:held`: seats whose players arrived.
    #[must_use]
    pub fn held(&self, room: &str) -> String {
        format!("{}:room:{{{room}}}:held", self.prefix)
    }

    /// `p:room:{id}`: a room's directory entry (its fence).
    #[must_use]
    pub fn room(&self, room: &str) -> String {
        format!("{}:room:{{{room}}}", self.prefix)
    }

    /// `p:room:{id}:log`: the room's event log, a stream
    /// (`p:ticker:log` for [`TICKER_FEED`]).
    #[must_use]
    pub fn log(&self, room: &str) -> String {
        if room == TICKER_FEED {
            return format!("{}:ticker:log", self.prefix);
        }
        format!("{}:room:{{{room}}}:log", self.prefix)
    }

    /// `p:room:{id}:feed`: the log's head, snapshot and close reason
    /// (`p:ticker` for [`TICKER_FEED`]).
    #[must_use]
    pub fn feed(&self, room: &str) -> String {
        if room == TICKER_FEED {
            return format!("{}:ticker", self.prefix);
        }
        format!("{}:room:{{{room}}}:feed", self.prefix)
    }

    /// Channel `p:room:{id}:ev`: one message per appended batch
    /// (`p:ticker:ev` for [`TICKER_FEED`]).
    #[must_use]
    pub fn events_channel(&self, room: &str) -> String {
        if room == TICKER_FEED {
            return format!("{}:ticker:ev", self.prefix);
        }
        format!("{}:room:{{{room}}}:ev", self.prefix)
    }

    /// Channel `p:room:{id}:state`: the room's latest state sample
    /// (`p:ticker:state`, never published, for [`TICKER_FEED`]).
    #[must_use]
    pub fn state_channel(&self, room: &str) -> String {
        if room == TICKER_FEED {
            return format!("{}:ticker:state", self.prefix);
        }
        format!("{}:room:{{{room}}}:state", self.prefix)
    }

    /// Channel `p:notice`: the admin console's server messages, for every
    /// node's rooms.
    #[must_use]
    pub fn notice_channel(&self) -> String {
        format!("{}:notice", self.prefix)
    }

    /// Channel `p:node:{nid}:handover`: rooms offered to node `node_id`
    /// (a rolling deploy's handover).
    #[must_use]
    pub fn handover_channel(&self, node_id: &str) -> String {
        format!("{}:node:{{{node_id}}}:handover", self.prefix)
    }

    /// `p:board`: every node's own top lines, by fence.
    #[must_use]
    pub fn board(&self) -> String {
        format!("{}:board", self.prefix)
    }

    /// `p:sess:{selector}`: a session's route.
    #[must_use]
    pub fn session(&self, selector: &str) -> String {
        format!("{}:sess:{{{selector}}}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_scripts_layout() {
        let keys = Keys::new("t1", "n-a");
        assert_eq!(keys.node, "t1:node:{n-a}");
        assert_eq!(keys.node_rooms, "t1:node:{n-a}:rooms");
        assert_eq!(keys.nodes, "t1:nodes");
        assert_eq!(keys.matchmaking, "t1:mm");
        assert_eq!(keys.seats("main-1"), "t1:room:{main-1}:seats");
        assert_eq!(keys.held("main-1"), "t1:room:{main-1}:held");
        assert_eq!(keys.session("00ff"), "t1:sess:{00ff}");
        assert_eq!(keys.room("main-1"), "t1:room:{main-1}");
        assert_eq!(keys.log("main-1"), "t1:room:{main-1}:log");
        assert_eq!(keys.feed("main-1"), "t1:room:{main-1}:feed");
        assert_eq!(keys.events_channel("main-1"), "t1:room:{main-1}:ev");
        assert_eq!(keys.state_channel("main-1"), "t1:room:{main-1}:state");
        assert_eq!(keys.feed(TICKER_FEED), "t1:ticker");
        assert_eq!(keys.log(TICKER_FEED), "t1:ticker:log");
        assert_eq!(keys.events_channel(TICKER_FEED), "t1:ticker:ev");
        assert_eq!(keys.board(), "t1:board");
        assert_eq!(keys.handover_channel("n-b"), "t1:node:{n-b}:handover");
        assert!(!skirmish_shared::valid_room_id(TICKER_FEED));
    }
}
