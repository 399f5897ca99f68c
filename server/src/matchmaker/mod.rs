//! Matchmaking and seat tickets, the same API whether the server runs
//! alone or as a cluster node.
//!
//! `POST /api/matchmake` asks [`Matchmaker::place`] for a seat: in the room
//! named, in the fullest open public room (a new one when all are full), or
//! back in the room of a resume token. A seat is a [`SeatTicket`] reserved
//! against the room's cap; the player presents it on the owner's
//! `/ws?room=&seat=` and the owner spends it ([`Matchmaker::take_seat`])
//! before seating the player, so no room overfills. An abandoned ticket
//! frees its seat when it expires.
//!
//! - [`local`]: the reservations of a single node, in memory.
//! - [`routes`]: which room each resume token belongs to.
//! - In cluster mode the same steps run as Redis scripts
//!   ([`crate::cluster`]); this module picks, and never touches a room's
//!   state itself.

pub mod local;
pub mod routes;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use subtle::ConstantTimeEq;
use tracing::warn;

use crate::cluster::Cluster;
use crate::cluster::directory::{DirectoryRoom, NodeEntry, Reservation, Reserved, Route};
use crate::cluster::redis::ClusterError;
use crate::metrics::{MatchOutcome, Metrics};
use crate::node::Node;
use crate::room::{Entrant, JoinError, Registry, Seat, SessionId};
use local::{LocalRefusal, LocalSeats};
pub use routes::{LiveRoute, RouteKey, SessionRoutes};

/// 16 bytes from 32 hex digits (either case).
#[must_use]
pub fn parse_hex16(hex: &str) -> Option<[u8; 16]> {
    // `from_str_radix` also takes a sign ("+f" reads as 0x0f), which would
    // give one token many spellings: only digits.
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// A reserved seat, as the player carries it to the room's owner: 128
/// random bits (32 hex digits), compared in constant time.
#[derive(Clone, Copy, Eq)]
pub struct SeatTicket([u8; 16]);

impl SeatTicket {
    /// A fresh random ticket.
    #[must_use]
    pub fn new() -> SeatTicket {
        let mut bytes = [0; 16];
        rand::rng().fill_bytes(&mut bytes);
        SeatTicket(bytes)
    }

    /// A ticket written as 32 hex digits.
    #[must_use]
    pub fn parse(hex: &str) -> Option<SeatTicket> {
        parse_hex16(hex).map(SeatTicket)
    }

    /// 32 lowercase hex digits.
    #[must_use]
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl Default for SeatTicket {
    fn default() -> Self {
        SeatTicket::new()
    }
}

impl PartialEq for SeatTicket {
    fn eq(&self, other: &SeatTicket) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::fmt::Debug for SeatTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SeatTicket(..)")
    }
}

/// What a player asks matchmaking for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Want {
    /// A seat in the fullest open public room.
    AnyRoom,
    /// A seat in this room.
    Room(String),
    /// The room of this session, to resume it (no seat: the ship waits).
    Resume(RouteKey),
}

/// Where matchmaking sends a player.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placed {
    pub room: String,
    /// The owner node's id.
    pub node: String,
    /// The owner's public URL; `None` for this node when it does not know
    /// its own (a wildcard bind without `--public-url`).
    pub url: Option<String>,
    /// The reserved seat; `None` for a resume.
    pub seat: Option<SeatTicket>,
}

/// Why matchmaking has no seat to give.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MatchError {
    /// The room named does not exist (anywhere in the cluster).
    #[error("no room {0}")]
    NoRoom(String),
    /// The room named is at its cap.
    #[error("room {0} is full")]
    RoomFull(String),
    /// The room named is closing.
    #[error("room {0} is closing")]
    RoomClosed(String),
    /// The resume token matches no session that can still resume.
    #[error("no session to resume for that token")]
    UnknownSession,
    /// The session's node is gone (its lease ran out), and the session
    /// with it.
    #[error("node {0} that held this session is gone; matchmake again")]
    ServerLost(String),
    /// The session's room was lost with its node: the cluster closed its
    /// log (`closed` `server_lost`).
    #[error("room {0} was lost with its node; matchmake again")]
    RoomLost(String),
    /// This node cannot open a room now.
    #[error("{0}")]
    Refused(JoinError),
    /// The cluster directory is unreachable, or this node holds no lease.
    #[error("the cluster directory is unavailable: {0}")]
    Unavailable(String),
}

/// Why a seat ticket seated no one.
#[derive(Debug, thiserror::Error)]
pub enum SeatRefusal {
    /// The room is not on this node (closed, or never here).
    #[error("the room is not on this node (closed, or ask matchmaking again)")]
    NotHere,
    /// The ticket is unknown, already used or expired.
    #[error("the seat expired or was used: ask matchmaking again")]
    Spent,
    /// The room refused the player.
    #[error("{0}")]
    Join(JoinError),
}

/// The outcome of presenting a seat ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeatCheck {
    /// Reserved and unexpired: now spent.
    Spent,
    /// Unknown, already used or expired.
    Refused,
    /// The directory could not be asked; the room's own cap still holds.
    Unchecked,
}

pub use skirmish_shared::http::{ListedRoom, RoomList};

enum Backend {
    Local(LocalSeats),
    Cluster(Arc<Cluster>),
}

/// Matchmaking for this node.
pub struct Matchmaker {
    node: Arc<Node>,
    registry: Arc<Registry>,
    backend: Backend,
    /// Sessions of this node by resume token.
    pub routes: Arc<SessionRoutes>,
    /// Held while this node opens a room for a matchmake that found none
    /// (across the Redis calls that publish it): concurrent requests that
    /// also found none then fill that room instead of each opening one.
    /// Never held by a room task.
    opening: tokio::sync::Mutex<()>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Matchmaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matchmaker")
            .field("node", &self.node.id)
            .field("clustered", &self.cluster().is_some())
            .finish_non_exhaustive()
    }
}

impl Matchmaker {
    /// Matchmaking of a single node: seats wait `seat_ttl` for players.
    #[must_use]
    pub fn local(
        node: Arc<Node>,
        registry: Arc<Registry>,
        routes: Arc<SessionRoutes>,
        seat_ttl: Duration,
        metrics: Arc<Metrics>,
    ) -> Matchmaker {
        Matchmaker {
            node,
            registry,
            backend: Backend::Local(LocalSeats::new(seat_ttl)),
            routes,
            opening: tokio::sync::Mutex::new(()),
            metrics,
        }
    }

    /// Matchmaking of a cluster node, through `cluster`'s directory.
    #[must_use]
    pub fn clustered(
        node: Arc<Node>,
        registry: Arc<Registry>,
        routes: Arc<SessionRoutes>,
        cluster: Arc<Cluster>,
        metrics: Arc<Metrics>,
    ) -> Matchmaker {
        Matchmaker {
            node,
            registry,
            backend: Backend::Cluster(cluster),
            routes,
            opening: tokio::sync::Mutex::new(()),
            metrics,
        }
    }

    /// This node.
    #[must_use]
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The cluster, in cluster mode.
    #[must_use]
    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        match &self.backend {
            Backend::Cluster(cluster) => Some(cluster),
            Backend::Local(_) => None,
        }
    }

    /// Finds the player from `client` a room and, unless resuming, reserves
    /// a seat. A room opened for it counts against `client`'s rate of new
    /// rooms and the room cap.
    ///
    /// # Errors
    /// No seat to give; see [`MatchError`].
    pub async fn place(&self, want: Want, client: IpAddr) -> Result<Placed, MatchError> {
        let placed = match &self.backend {
            Backend::Local(seats) => self.place_local(seats, want, client),
            Backend::Cluster(cluster) => self.place_clustered(cluster, want, client).await,
        };
        self.metrics.matchmade(match &placed {
            Ok(Placed { seat: None, .. }) => MatchOutcome::Resume,
            Ok(_) => MatchOutcome::Seat,
            Err(
                MatchError::NoRoom(_)
                | MatchError::UnknownSession
                | MatchError::ServerLost(_)
                | MatchError::RoomLost(_),
            ) => MatchOutcome::Unknown,
            Err(MatchError::RoomFull(_) | MatchError::RoomClosed(_)) => MatchOutcome::Full,
            Err(MatchError::Refused(_)) => MatchOutcome::Refused,
            Err(MatchError::Unavailable(_)) => MatchOutcome::Unavailable,
        });
        placed
    }

    fn here(&self, room: String, seat: Option<SeatTicket>) -> Placed {
        Placed {
            room,
            node: self.node.id.clone(),
            url: self.node.public_url.clone(),
            seat,
        }
    }

    fn place_local(
        &self,
        seats: &LocalSeats,
        want: Want,
        client: IpAddr,
    ) -> Result<Placed, MatchError> {
        let room = match want {
            Want::Resume(key) => {
                let room = self
                    .routes
                    .room_of(&key)
                    .ok_or(MatchError::UnknownSession)?;
                return Ok(self.here(room.to_string(), None));
            }
            Want::Room(room) => Some(room),
            Want::AnyRoom => None,
        };
        let ticket = SeatTicket::new();
        match seats.reserve(&self.registry, room.as_deref(), ticket, client) {
            Ok(handle) => Ok(self.here(handle.id.to_string(), Some(ticket))),
            Err(LocalRefusal::NoRoom) => Err(MatchError::NoRoom(room.unwrap_or_default())),
            Err(LocalRefusal::Full) => Err(MatchError::RoomFull(room.unwrap_or_default())),
            Err(LocalRefusal::Join(err)) => Err(MatchError::Refused(err)),
        }
    }

    async fn place_clustered(
        &self,
        cluster: &Cluster,
        want: Want,
        client: IpAddr,
    ) -> Result<Placed, MatchError> {
        let directory = &cluster.directory;
        let unavailable = |err: ClusterError| {
            warn!(%err, "matchmaking could not reach the directory");
            MatchError::Unavailable(err.to_string())
        };
        let ticket = SeatTicket::new();
        let placed = |seat: Reserved| Placed {
            room: seat.room,
            node: seat.node,
            url: Some(seat.url),
            seat: Some(ticket),
        };
        let room = match want {
            Want::Resume(key) => {
                let route = directory
                    .route(&key)
                    .await
                    .map_err(unavailable)?
                    .filter(|r| r.kind == routes::KIND_WS)
                    .ok_or(MatchError::UnknownSession)?;
                if !route.alive {
                    return Err(gone(cluster, route).await);
                }
                return Ok(Placed {
                    room: route.room,
                    node: route.node,
                    url: Some(route.url),
                    seat: None,
                });
            }
            Want::Room(room) => room,
            Want::AnyRoom => {
                if let Reservation::Seat(seat) = directory
                    .reserve(None, &ticket)
                    .await
                    .map_err(unavailable)?
                {
                    return Ok(placed(seat));
                }
                return self.open_room(cluster, ticket, client).await.map(placed);
            }
        };
        match directory
            .reserve(Some(&room), &ticket)
            .await
            .map_err(unavailable)?
        {
            Reservation::Seat(seat) => Ok(placed(seat)),
            Reservation::Full => Err(MatchError::RoomFull(room)),
            Reservation::Closed => Err(MatchError::RoomClosed(room)),
            Reservation::Gone | Reservation::NoneOpen | Reservation::Taken => {
                Err(MatchError::NoRoom(room))
            }
        }
    }

    /// No open room anywhere: open one here and take its first seat, one
    /// request at a time (the ones waiting may find this room open).
    async fn open_room(
        &self,
        cluster: &Cluster,
        ticket: SeatTicket,
        client: IpAddr,
    ) -> Result<Reserved, MatchError> {
        let directory = &cluster.directory;
        let unavailable = |err: ClusterError| MatchError::Unavailable(err.to_string());
        let _opening = self.opening.lock().await;
        if let Reservation::Seat(seat) = directory
            .reserve(None, &ticket)
            .await
            .map_err(unavailable)?
        {
            return Ok(seat);
        }
        if !cluster.lease_held() {
            return Err(MatchError::Unavailable(
                "this node holds no lease in the cluster yet".into(),
            ));
        }
        // Until the claim has run, no lease refresh publishes the new room:
        // a refresh would offer it with every seat free, other nodes'
        // matchmakes could fill it, and this claim would find it full.
        let opening = cluster.opening_room().await;
        let handle = self
            .registry
            .create_public(client)
            .map_err(MatchError::Refused)?;
        let draining = self.registry.is_shutting_down();
        let claimed = directory.claim(&handle.summary(), &ticket, draining).await;
        drop(opening);
        match claimed.map_err(unavailable)? {
            Reservation::Seat(seat) => Ok(seat),
            Reservation::Gone => Err(MatchError::Unavailable(
                "this node lost its lease in the cluster".into(),
            )),
            other => Err(MatchError::Unavailable(format!(
                "the new room {} could not be published: {other:?}",
                handle.id
            ))),
        }
    }

    /// Publishes the route of a session just opened here at once, rather
    /// than at the next lease refresh: its client may send the next request
    /// through another node the moment it has its token. A failure is
    /// logged; the lease task publishes the route again anyway.
    pub async fn announce(&self, route: LiveRoute) {
        if let Backend::Cluster(cluster) = &self.backend
            && let Err(err) = cluster.directory.write_route(&route).await
        {
            warn!(%err, room = %route.room, "session route not published yet");
        }
    }

    /// Where the long-poll session of `key` lives, when it is not on this
    /// node: `None` on a single node, or when no route is published.
    ///
    /// # Errors
    /// The directory is unreachable.
    pub async fn session_home(&self, key: &RouteKey) -> Result<Option<Route>, MatchError> {
        let Backend::Cluster(cluster) = &self.backend else {
            return Ok(None);
        };
        let route = cluster.directory.route(key).await.map_err(|err| {
            warn!(%err, "cannot tell which node holds a long-poll session");
            MatchError::Unavailable(err.to_string())
        })?;
        Ok(route.filter(|r| r.kind == routes::KIND_LEGACY && r.node != self.node.id))
    }

    /// Why the session of `route`, whose node no longer holds its lease,
    /// cannot go on: its room is lost (closed for good with `closed`
    /// `server_lost`; this call closes it when no one has yet), or, when
    /// Redis cannot say, its node is gone.
    pub async fn gone(&self, route: Route) -> MatchError {
        match &self.backend {
            Backend::Cluster(cluster) => gone(cluster, route).await,
            Backend::Local(_) => MatchError::ServerLost(route.node),
        }
    }

    /// Seats the player of a seat ticket for `room` (from `/ws?seat=` or a
    /// long-poll join): spends the ticket, then joins; the seat is freed
    /// again if the join fails.
    ///
    /// # Errors
    /// The room is not on this node, the ticket is spent or expired, or the
    /// room refused the player.
    pub async fn seat_reserved(
        &self,
        session: SessionId,
        entrant: Entrant,
        room: &str,
        ticket: SeatTicket,
    ) -> Result<Seat, SeatRefusal> {
        if self.registry.get(room).is_none() {
            return Err(SeatRefusal::NotHere);
        }
        if self.take_seat(room, &ticket).await == SeatCheck::Refused {
            return Err(SeatRefusal::Spent);
        }
        let joined = self.registry.join_existing(session, entrant, room).await;
        match &joined {
            Ok(seat) => self.seated(seat.room.id.clone(), ticket),
            Err(_) => self.release(room, &ticket).await,
        }
        joined.map_err(SeatRefusal::Join)
    }

    /// Spends `ticket` for its player arriving in `room`, which is on this
    /// node.
    pub async fn take_seat(&self, room: &str, ticket: &SeatTicket) -> SeatCheck {
        match &self.backend {
            Backend::Local(seats) => {
                if seats.consume(room, ticket) {
                    SeatCheck::Spent
                } else {
                    SeatCheck::Refused
                }
            }
            Backend::Cluster(cluster) => match cluster.directory.consume(room, ticket).await {
                Ok(true) => SeatCheck::Spent,
                Ok(false) => SeatCheck::Refused,
                Err(err) => {
                    warn!(%err, room, "seat ticket not checked: directory unreachable");
                    SeatCheck::Unchecked
                }
            },
        }
    }

    /// The player of a spent ticket is seated in `room`: the seat stays
    /// counted until this node publishes a player count that includes it.
    pub fn seated(&self, room: Arc<str>, ticket: SeatTicket) {
        if let Backend::Cluster(cluster) = &self.backend {
            cluster.seated(room, ticket);
        }
    }

    /// The player of a spent ticket could not be seated: free the seat.
    pub async fn release(&self, room: &str, ticket: &SeatTicket) {
        if let Backend::Cluster(cluster) = &self.backend
            && let Err(err) = cluster.directory.release(room, ticket).await
        {
            warn!(%err, room, "seat not released; it frees itself at its expiry");
        }
    }

    /// In a cluster, the node (id and URL) that owns `room` when it is not
    /// on this node, so a Hello naming it is not answered with a second room
    /// of the same id here. `None` when it is here, unknown, or the
    /// directory cannot say (then play goes on locally).
    pub async fn owner_elsewhere(&self, room: &str) -> Option<(String, String)> {
        let Backend::Cluster(cluster) = &self.backend else {
            return None;
        };
        if self.registry.get(room).is_some() {
            return None;
        }
        match cluster.owner_of(room).await {
            Ok(owner) => owner.filter(|(node, _)| *node != self.node.id),
            Err(err) => {
                warn!(%err, room, "cannot tell whether another node owns this room");
                None
            }
        }
    }

    /// Joins (or resumes) by room name, as a `Hello` or a long-poll join
    /// without a ticket does. A join that opened its room here publishes it
    /// in a cluster before returning (see [`Cluster::publish_now`]), so
    /// every node finds the room from its first Welcome on.
    ///
    /// # Errors
    /// The room refused the player.
    pub async fn join_by_name(
        &self,
        session: SessionId,
        entrant: Entrant,
        room: Option<String>,
        invite: Option<&str>,
    ) -> Result<Seat, JoinError> {
        let opens = room
            .as_ref()
            .is_some_and(|r| self.registry.get(r).is_none());
        let seat = self.registry.join(session, entrant, room, invite).await?;
        if let (true, Backend::Cluster(cluster)) = (opens, &self.backend) {
            tracing::debug!(room = %seat.room.id, "publishing a room opened by name");
            cluster.publish_now().await;
        }
        Ok(seat)
    }

    /// `GET /api/rooms`: this node's rooms, and in a cluster every other
    /// live node's as last published (this node's own are always fresh).
    /// Without the directory, a cluster node lists its own rooms only.
    pub async fn rooms(&self) -> RoomList {
        let local = self.registry.list();
        let Backend::Cluster(cluster) = &self.backend else {
            return RoomList::Local(local);
        };
        let url = self.node.public_url.clone().unwrap_or_default();
        let mut rooms: Vec<ListedRoom> = local
            .into_iter()
            .map(|summary| ListedRoom {
                summary,
                node: self.node.id.clone(),
                node_url: url.clone(),
            })
            .collect();
        match cluster.survey().await {
            Ok(survey) => rooms.extend(survey.rooms.iter().filter(|r| r.node != self.node.id).map(
                |DirectoryRoom { summary, node, url }| ListedRoom {
                    summary: summary.clone(),
                    node: node.clone(),
                    node_url: url.clone(),
                },
            )),
            Err(err) => warn!(%err, "room list without other nodes: directory unreachable"),
        }
        rooms.sort_by(|a, b| a.summary.id.cmp(&b.summary.id));
        RoomList::Cluster(rooms)
    }

    /// `GET /api/nodes`: the live nodes (this one alone on a single node).
    ///
    /// # Errors
    /// The directory is unreachable.
    pub async fn nodes(&self) -> Result<Vec<NodeEntry>, MatchError> {
        match &self.backend {
            Backend::Local(_) => {
                let rooms = self.registry.list();
                Ok(vec![NodeEntry {
                    id: self.node.id.clone(),
                    url: self.node.public_url.clone().unwrap_or_default(),
                    boot_id: self.node.boot_id.clone(),
                    rooms: u32::try_from(rooms.len()).unwrap_or(u32::MAX),
                    players: rooms.iter().map(|r| r.players).sum(),
                    draining: self.registry.is_shutting_down(),
                    lease_ms_left: 0,
                }])
            }
            Backend::Cluster(cluster) => Ok(cluster
                .survey()
                .await
                .map_err(|err| MatchError::Unavailable(err.to_string()))?
                .nodes
                .clone()),
        }
    }
}

/// [`Matchmaker::gone`], for a session of a dead node: runs `lose` on its
/// room, so a resume token answers `room_lost` whether or not anyone was
/// watching the room (a room nobody watched is closed here).
async fn gone(cluster: &Cluster, route: Route) -> MatchError {
    match cluster.directory.lose(&route.room).await {
        Ok(true) => MatchError::RoomLost(route.room),
        Ok(false) => MatchError::ServerLost(route.node),
        Err(err) => {
            warn!(%err, "could not close the lost room of a dead node's session");
            MatchError::ServerLost(route.node)
        }
    }
}
