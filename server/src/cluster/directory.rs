//! The cluster directory in Redis: node leases, the rooms each node owns,
//! seat reservations and session routes.
//!
//! Every value is absolute and written by its owner: a node writes its own
//! lease and its own rooms' entries, never another node's, and counts are
//! set, never incremented, so a lost or repeated write heals at the next
//! refresh. Every entry expires unless its owner refreshes it, so a dead
//! node's lease, rooms and routes disappear by themselves. Seats are the
//! one thing any node writes: a reservation is a ticket with an expiry in
//! the room's seat set, taken atomically against the room's cap.
//!
//! This module only talks to Redis; it never touches a room. What to
//! publish comes in as plain values (the registry's [`RoomSummary`]).

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use redis::AsyncCommands;
use tracing::warn;

use super::keys::Keys;
use super::redis::{ClusterError, RedisLink, SCRIPTS};
use crate::matchmaker::routes::LiveRoute;
use crate::matchmaker::{RouteKey, SeatTicket};
use crate::node::Node;
use crate::room::registry::RoomSummary;

/// Offered rooms one reservation looks at before giving up (each one found
/// dead or full on the way is withdrawn, so the next call sees others).
const RESERVE_CANDIDATES: usize = 32;

/// A live node, as the directory shows it (the `/api/nodes` entry).
pub use skirmish_shared::http::NodeEntry;

/// A room, as its owner last published it.
#[derive(Clone, Debug, PartialEq)]
pub struct DirectoryRoom {
    /// The room's figures (the round clock as of the survey).
    pub summary: RoomSummary,
    /// Owner node id.
    pub node: String,
    /// Owner's public URL.
    pub url: String,
}

/// Every live node and room.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Survey {
    /// Live nodes.
    pub nodes: Vec<NodeEntry>,
    /// Their rooms.
    pub rooms: Vec<DirectoryRoom>,
}

/// What a lease refresh found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lease {
    /// Held; `conflicts` are room ids another live node publishes (left
    /// out of the directory, local only).
    Held {
        /// Live nodes, this one included.
        live_nodes: u64,
        /// The lease key was gone: this is the node's first refresh, its
        /// lease had lapsed, or Redis lost its data (restarted empty,
        /// flushed, failed over to a replica that lacked it).
        fresh: bool,
        /// Rooms not published.
        conflicts: Vec<String>,
        /// Rooms the cluster declared lost while this node was cut off
        /// past its lease: not published, and to be ended here.
        lost: Vec<String>,
    },
    /// Another start of this node id holds the lease (until it expires).
    Taken {
        /// That start's boot id.
        by_boot: String,
    },
}

/// A reserved seat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reserved {
    /// Room id.
    pub room: String,
    /// Owner node id.
    pub node: String,
    /// Owner's public URL.
    pub url: String,
}

/// The answer to a reservation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// Reserved.
    Seat(Reserved),
    /// The room is at its cap (players and seats reserved).
    Full,
    /// The room has no live owner (unknown, closed, or its node died).
    Gone,
    /// The room or its node is draining.
    Closed,
    /// No open public room anywhere.
    NoneOpen,
    /// Another live node publishes a room with this id.
    Taken,
}

/// Where a session lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Room id.
    pub room: String,
    /// Owner node id.
    pub node: String,
    /// Owner's public URL (empty when the owner is gone).
    pub url: String,
    /// How the player is connected (`matchmaker::routes::KIND_*`).
    pub kind: String,
    /// The owner still holds its lease; false once it died.
    pub alive: bool,
}

/// The directory, as this node reads and writes it.
#[derive(Debug)]
pub struct RedisDirectory {
    link: RedisLink,
    keys: Keys,
    node: Arc<Node>,
    /// This incarnation's boot id: the start's, until the node rejoins the
    /// cluster under a new one after its lease lapsed
    /// ([`RedisDirectory::renew_boot`]). The lock is held only to clone or
    /// swap the id, never across a call.
    boot: Mutex<Arc<str>>,
    /// The node's public URL (always known in cluster mode).
    url: String,
    lease_ttl: Duration,
    seat_ttl: Duration,
}

/// How long a lost room's log stays readable (as an owner's feed lives
/// without a write): a reader or a resume token coming back within it is
/// told the room was lost.
const LOST_FEED_TTL: Duration = Duration::from_secs(600);

/// Milliseconds as Redis arguments take them.
fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The nine strings `publish_room` (common.lua) reads per room.
fn room_args(room: &RoomSummary) -> [String; 9] {
    let round_ms = (room.round_secs_left.max(0.0) * 1000.0).round() as u64;
    [
        room.id.clone(),
        u8::from(room.public).to_string(),
        room.players.to_string(),
        room.max_players.to_string(),
        room.spectators.to_string(),
        room.bots.to_string(),
        room.tick.to_string(),
        room.tick_hz.to_string(),
        round_ms.to_string(),
    ]
}

impl RedisDirectory {
    /// The directory of `node` through `link`.
    #[must_use]
    pub fn new(
        link: RedisLink,
        prefix: &str,
        node: Arc<Node>,
        lease_ttl: Duration,
        seat_ttl: Duration,
    ) -> RedisDirectory {
        RedisDirectory {
            keys: Keys::new(prefix, &node.id),
            url: node.public_url.clone().unwrap_or_default(),
            boot: Mutex::new(node.boot_id.as_str().into()),
            link,
            node,
            lease_ttl,
            seat_ttl,
        }
    }

    /// The Redis link (for the log writer and followers).
    #[must_use]
    pub fn link(&self) -> &RedisLink {
        &self.link
    }

    /// This node's key names.
    #[must_use]
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// This incarnation's fence, `nid:boot_id`, as room entries carry it.
    #[must_use]
    pub fn fence(&self) -> String {
        format!("{}:{}", self.node.id, self.boot())
    }

    /// This incarnation's boot id.
    #[must_use]
    pub fn boot(&self) -> Arc<str> {
        self.boot.lock().clone()
    }

    /// Takes a new boot id, so this node's next lease refresh registers a
    /// new incarnation: nothing fenced by the old one (its lapsed lease,
    /// the feeds and routes it wrote) is trusted again. Returns the new id.
    pub fn renew_boot(&self) -> Arc<str> {
        let boot: Arc<str> = crate::node::new_boot_id().into();
        *self.boot.lock() = boot.clone();
        boot
    }

    /// How long a reserved seat waits.
    #[must_use]
    pub fn seat_ttl(&self) -> Duration {
        self.seat_ttl
    }

    /// A call of a script about this node's lease: its four keys, then
    /// the prefix, node id and boot id.
    fn node_call<'s>(&self, script: &'s redis::Script) -> redis::ScriptInvocation<'s> {
        let mut call = script.prepare_invoke();
        call.key(&self.keys.node)
            .key(&self.keys.nodes)
            .key(&self.keys.node_rooms)
            .key(&self.keys.matchmaking)
            .arg(self.keys.prefix())
            .arg(&self.node.id)
            .arg(&*self.boot());
        call
    }

    /// Refreshes this node's lease and publishes `rooms` (every room it
    /// owns; rooms published before and missing now are withdrawn).
    /// `seated` are tickets whose players `rooms` already count.
    ///
    /// # Errors
    /// Redis failed.
    pub async fn heartbeat(
        &self,
        rooms: &[RoomSummary],
        seated: &[(Arc<str>, SeatTicket)],
        draining: bool,
    ) -> Result<Lease, ClusterError> {
        const OP: &str = "heartbeat";
        let players: u64 = rooms.iter().map(|r| u64::from(r.players)).sum();
        let mut call = self.node_call(&SCRIPTS.heartbeat);
        call.arg(&self.url)
            .arg(ms(self.lease_ttl))
            .arg(u8::from(draining))
            .arg(env!("CARGO_PKG_VERSION"))
            .arg(players)
            .arg(seated.len());
        for (room, ticket) in seated {
            call.arg(&**room).arg(ticket.to_hex());
        }
        call.arg(rooms.len());
        for room in rooms {
            call.arg(&room_args(room)[..]);
        }
        let mut conn = self.link.conn();
        let answer: Vec<String> = self.link.call(OP, call.invoke_async(&mut conn)).await?;
        match answer.split_first() {
            Some((status, [live, fresh, rooms @ ..])) if status == "ok" => {
                let (lost, conflicts): (Vec<&String>, Vec<&String>) =
                    rooms.iter().partition(|r| r.starts_with('!'));
                Ok(Lease::Held {
                    live_nodes: live.parse().unwrap_or(0),
                    fresh: fresh == "1",
                    conflicts: conflicts.into_iter().cloned().collect(),
                    lost: lost.into_iter().map(|r| r[1..].to_owned()).collect(),
                })
            }
            Some((status, [boot])) if status == "taken" => Ok(Lease::Taken {
                by_boot: boot.clone(),
            }),
            _ => Err(self.link.reply_error(OP, format!("{answer:?}"))),
        }
    }

    /// Takes this node's lease and rooms out of the directory (a clean
    /// stop), so nobody is sent here any more.
    ///
    /// # Errors
    /// Redis failed.
    pub async fn leave(&self) -> Result<(), ClusterError> {
        let call = self.node_call(&SCRIPTS.leave);
        let mut conn = self.link.conn();
        let _: i64 = self
            .link
            .call("leave", call.invoke_async(&mut conn))
            .await?;
        Ok(())
    }

    /// Every live node and the rooms each owns.
    ///
    /// # Errors
    /// Redis failed.
    pub async fn survey(&self) -> Result<Survey, ClusterError> {
        const OP: &str = "survey";
        let mut call = SCRIPTS.survey.prepare_invoke();
        call.key(&self.keys.nodes).arg(self.keys.prefix());
        let mut conn = self.link.conn();
        let (nodes, rooms): (Vec<Vec<String>>, Vec<Vec<String>>) =
            self.link.call(OP, call.invoke_async(&mut conn)).await?;
        let bad = |row: &[String]| self.link.reply_error(OP, format!("{row:?}"));
        let num = |s: &str| s.parse::<u64>().unwrap_or(0);
        let small = |s: &str| u32::try_from(num(s)).unwrap_or(u32::MAX);
        let mut survey = Survey::default();
        for row in nodes {
            let [id, url, boot_id, rooms, players, draining, left] = &row[..] else {
                return Err(bad(&row));
            };
            survey.nodes.push(NodeEntry {
                id: id.clone(),
                url: url.clone(),
                boot_id: boot_id.clone(),
                rooms: small(rooms),
                players: small(players),
                draining: draining == "1",
                lease_ms_left: num(left),
            });
        }
        for row in rooms {
            let [
                id,
                node,
                url,
                public,
                players,
                max,
                spectators,
                bots,
                tick,
                hz,
                left,
            ] = &row[..]
            else {
                return Err(bad(&row));
            };
            survey.rooms.push(DirectoryRoom {
                summary: RoomSummary {
                    id: id.clone(),
                    public: public == "1",
                    players: small(players),
                    max_players: small(max),
                    spectators: small(spectators),
                    bots: small(bots),
                    tick: small(tick),
                    tick_hz: u16::try_from(num(hz)).unwrap_or(u16::MAX),
                    round_secs_left: num(left) as f64 / 1000.0,
                },
                node: node.clone(),
                url: url.clone(),
            });
        }
        survey.nodes.sort_by(|a, b| a.id.cmp(&b.id));
        survey.rooms.sort_by(|a, b| a.summary.id.cmp(&b.summary.id));
        Ok(survey)
    }

    /// Reserves a seat for `ticket` in `room`, or with `None` in the
    /// fullest open public room of the cluster.
    ///
    /// # Errors
    /// Redis failed.
    pub async fn reserve(
        &self,
        room: Option<&str>,
        ticket: &SeatTicket,
    ) -> Result<Reservation, ClusterError> {
        let mut call = SCRIPTS.reserve.prepare_invoke();
        call.key(&self.keys.matchmaking)
            .arg(self.keys.prefix())
            .arg(ticket.to_hex())
            .arg(ms(self.seat_ttl))
            .arg(room.unwrap_or(""))
            .arg(RESERVE_CANDIDATES);
        self.reservation("reserve", &mut call).await
    }

    /// Publishes `room`, just opened here, and reserves a seat in it in the
    /// same step.
    ///
    /// # Errors
    /// Redis failed.
    pub async fn claim(
        &self,
        room: &RoomSummary,
        ticket: &SeatTicket,
        draining: bool,
    ) -> Result<Reservation, ClusterError> {
        let mut call = SCRIPTS.claim.prepare_invoke();
        call.key(&self.keys.matchmaking)
            .key(&self.keys.node_rooms)
            .arg(self.keys.prefix())
            .arg(&self.node.id)
            .arg(&*self.boot())
            .arg(&self.url)
            .arg(ms(self.lease_ttl))
            .arg(u8::from(draining))
            .arg(ticket.to_hex())
            .arg(ms(self.seat_ttl))
            .arg(&room_args(room)[..]);
        self.reservation("claim", &mut call).await
    }

    async fn reservation(
        &self,
        op: &'static str,
        call: &mut redis::ScriptInvocation<'_>,
    ) -> Result<Reservation, ClusterError> {
        let mut conn = self.link.conn();
        let answer: Vec<String> = self.link.call(op, call.invoke_async(&mut conn)).await?;
        Ok(match &answer[..] {
            [ok, room, node, url, _ttl] if ok == "ok" => Reservation::Seat(Reserved {
                room: room.clone(),
                node: node.clone(),
                url: url.clone(),
            }),
            [s] if s == "full" => Reservation::Full,
            [s] if s == "gone" => Reservation::Gone,
            [s] if s == "closed" => Reservation::Closed,
            [s] if s == "none" => Reservation::NoneOpen,
            [s] if s == "taken" => Reservation::Taken,
            _ => return Err(self.link.reply_error(op, format!("{answer:?}"))),
        })
    }

    /// Spends `ticket` for its player arriving in `room` (owned here): true
    /// when it was reserved and has not expired.
    ///
    /// # Errors
    /// Redis failed.
    pub async fn consume(&self, room: &str, ticket: &SeatTicket) -> Result<bool, ClusterError> {
        let mut call = SCRIPTS.consume.prepare_invoke();
        call.key(self.keys.seats(room))
            .key(self.keys.held(room))
            .arg(ticket.to_hex())
            .arg(ms(self.lease_ttl));
        let mut conn = self.link.conn();
        let spent: i64 = self
            .link
            .call("consume", call.invoke_async(&mut conn))
            .await?;
        Ok(spent == 1)
    }

    /// Frees a spent seat whose player could not be seated after all.
    ///
    /// # Errors
    /// Redis failed.
    pub async fn release(&self, room: &str, ticket: &SeatTicket) -> Result<(), ClusterError> {
        let mut conn = self.link.conn();
        let key = self.keys.held(room);
        let _: i64 = self
            .link
            .call("release", conn.zrem(key, ticket.to_hex()))
            .await?;
        Ok(())
    }

    /// Writes the routes of this node's sessions, each living for the rest
    /// of its resume grace plus `lease` unless written again.
    ///
    /// # Errors
    /// Redis failed.
    pub async fn write_routes(
        &self,
        routes: &[LiveRoute],
        lease: Duration,
    ) -> Result<(), ClusterError> {
        if routes.is_empty() {
            return Ok(());
        }
        let fence = self.fence();
        let mut pipe = redis::pipe();
        for route in routes {
            let name = self.keys.session(&route.key.to_hex());
            pipe.hset_multiple(
                &name,
                &[
                    ("room", &*route.room),
                    ("node", self.node.id.as_str()),
                    ("fence", fence.as_str()),
                    ("kind", route.kind),
                ],
            )
            .ignore()
            .pexpire(
                &name,
                i64::try_from(ms(route.resumable_for + lease)).unwrap_or(i64::MAX),
            )
            .ignore();
        }
        let mut conn = self.link.conn();
        self.link.call("routes", pipe.exec_async(&mut conn)).await
    }

    /// The live node owning `room` (its id and public URL), read from the
    /// room's own entry: O(1), for a room the cached survey does not list.
    ///
    /// # Errors
    /// Redis failed.
    pub async fn owner(&self, room: &str) -> Result<Option<(String, String)>, ClusterError> {
        const OP: &str = "owner";
        let mut call = SCRIPTS.owner.prepare_invoke();
        call.key(self.keys.room(room)).arg(self.keys.prefix());
        let mut conn = self.link.conn();
        let answer: Vec<String> = self.link.call(OP, call.invoke_async(&mut conn)).await?;
        match <[String; 2]>::try_from(answer) {
            Ok([node, url]) => Ok(Some((node, url))),
            Err(answer) if answer.is_empty() => Ok(None),
            Err(answer) => Err(self.link.reply_error(OP, format!("{answer:?}"))),
        }
    }

    /// Runs `lose` on room `room`: when the incarnation writing its log
    /// no longer holds its lease, closes the log with a `closed` entry
    /// (reason `server_lost`) under the next id, publishes it to every
    /// follower and withdraws the room. Acts once, whoever calls. Returns
    /// whether the room is now lost (by this call or an earlier one).
    ///
    /// # Errors
    /// Redis failed.
    pub async fn lose(&self, room: &str) -> Result<bool, ClusterError> {
        const OP: &str = "lose";
        let mut call = SCRIPTS.lose.prepare_invoke();
        call.key(self.keys.room(room))
            .key(self.keys.log(room))
            .key(self.keys.feed(room))
            .arg(self.keys.prefix())
            .arg(ms(LOST_FEED_TTL))
            .arg(self.keys.events_channel(room))
            .arg(room);
        let mut conn = self.link.conn();
        let reply: Vec<String> = self.link.call(OP, call.invoke_async(&mut conn)).await?;
        match reply.as_slice() {
            [tag, _] if tag == "lost" => {
                warn!(
                    room,
                    "the room's node is gone (its lease ran out): its log is closed, server_lost"
                );
                self.link.metrics().rooms_lost.inc();
                Ok(true)
            }
            [tag, reason] if tag == "closed" => Ok(reason == super::follower::SERVER_LOST),
            [tag] if tag == "alive" || tag == "empty" => Ok(false),
            _ => Err(self.link.reply_error(OP, format!("{reply:?}"))),
        }
    }

    /// Whether room `room`'s log was closed because its node was lost
    /// (`lose`): its readers are still served the closed log (its
    /// `closed` entry, `server_lost`) while it lasts in Redis.
    ///
    /// # Errors
    /// Redis failed.
    pub async fn lost(&self, room: &str) -> Result<bool, ClusterError> {
        const OP: &str = "lost";
        let mut conn = self.link.conn();
        let closed: Option<String> = self
            .link
            .call(
                OP,
                redis::cmd("HGET")
                    .arg(self.keys.feed(room))
                    .arg("closed")
                    .query_async(&mut conn),
            )
            .await?;
        Ok(closed.as_deref() == Some(super::follower::SERVER_LOST))
    }

    /// Writes one route now (a session that was just opened), living for
    /// the rest of its grace plus one lease like the lease task's.
    ///
    /// # Errors
    /// Redis failed.
    pub async fn write_route(&self, route: &LiveRoute) -> Result<(), ClusterError> {
        self.write_routes(std::slice::from_ref(route), self.lease_ttl)
            .await
    }

    /// Where the session of `key` lives, while its route lasts (the rest
    /// of its grace plus one lease, also after its node died).
    ///
    /// # Errors
    /// Redis failed.
    pub async fn route(&self, key: &RouteKey) -> Result<Option<Route>, ClusterError> {
        const OP: &str = "route";
        let mut call = SCRIPTS.route.prepare_invoke();
        call.key(self.keys.session(&key.to_hex()))
            .arg(self.keys.prefix());
        let mut conn = self.link.conn();
        let answer: Vec<String> = self.link.call(OP, call.invoke_async(&mut conn)).await?;
        match &answer[..] {
            [] => Ok(None),
            [room, node, url, kind, alive] => Ok(Some(Route {
                room: room.clone(),
                node: node.clone(),
                url: url.clone(),
                kind: kind.clone(),
                alive: alive == "1",
            })),
            _ => Err(self.link.reply_error(OP, format!("{answer:?}"))),
        }
    }
}
