//! The room registry: finds, creates and lists rooms, and seats players.
//!
//! The directory lock guards a small map and is held for lookups and
//! inserts only, never across an await or any I/O. A room's task is spawned
//! here, and the same spawned future takes the room out of the directory
//! when its loop ends, before the room tells its players it closed; a join
//! that raced with a closing room retries once.
//!
//! A room is opened only under the directory lock, after [`RoomQuota`]
//! admitted it there: the count it checks is the map's own length, so the
//! check and the insert are one step. Every refusal (a bad id, a resume
//! that cannot succeed, the room cap, the address's rate) comes before
//! anything is created.
//!
//! A private room is opened by [`Registry::create_private`] under a random
//! id with an invite code. It is in the directory like any room (so its id
//! cannot be opened twice), but [`Registry::list`] leaves it out (so neither
//! the lobby nor, in a cluster, the directory hears of it) and matchmaking
//! never picks it; every join of it by name goes through the
//! [`InviteGuard`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use skirmish_shared::feed::{MovedEvent, RoomEvent};
use skirmish_shared::{ResumeToken, valid_room_id};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::bans::BanList;
use super::event_ids::IdAllocator;
use super::event_log::{EventLog, Replica, unix_millis};
use super::feed::{Feed, FeedRates};
use super::handover::{Adopted, HandoverRecord, HandoverSink};
use super::invite::{InviteCode, InviteGuard};
use super::quota::{Opening, RoomQuota};
use super::seat::Seat;
use super::task::Room;
use super::ticker::Ticker;
use super::{JoinError, JoinRequest, Peer, RoomCmd, RoomConfig, RoomHandle, RoomStats, SessionId};
use crate::metrics::Metrics;
use crate::storage::identity::Identity;

/// Live rooms by id, shared with the spawned room futures so each can take
/// its own entry out when its room ends.
type Directory = Arc<Mutex<HashMap<Arc<str>, RoomHandle>>>;

/// Makes the replica of one room's log (cluster mode: its Redis writer).
pub type ReplicaFactory = Arc<dyn Fn(&Arc<str>, &Arc<EventLog>) -> Arc<dyn Replica> + Send + Sync>;

/// Summary of a room for the lobby: the JSON API's type.
pub use skirmish_shared::http::RoomSummary;

/// How a registry names the rooms it opens by itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomNames {
    /// The room that always exists.
    pub default_room: String,
    /// Public rooms opened when every other is full are `{prefix}-{n}`.
    pub public_prefix: String,
}

/// All rooms of this server.
pub struct Registry {
    rooms: Directory,
    /// The logs of public rooms this (draining) node is handing over or
    /// handed over, by id: out of `rooms` at their round's end, they stay
    /// readable here until the node exits, so a poller's next request and
    /// a new stream still read up to the adopter's `moved`
    /// ([`EventLog::close_with`]) and resume after it elsewhere. At most
    /// one per room the node had; never written outside a drain.
    handed: Arc<Mutex<HashMap<Arc<str>, Arc<EventLog>>>>,
    config: RoomConfig,
    default_room: Arc<str>,
    public_prefix: String,
    shutdown: CancellationToken,
    /// Cancelled when the node starts draining (and by `shutdown`, its
    /// parent): no new rooms or seats from then on.
    drain: CancellationToken,
    /// Cancelled when the drain deadline passed: rooms still playing close
    /// now (with `server_drain`), before shutdown closes connections.
    cut: CancellationToken,
    /// The room tasks alone, so a drain can wait for the last to close.
    room_tasks: TaskTracker,
    tracker: TaskTracker,
    next_instance: AtomicU64,
    next_public: AtomicU64,
    next_session: AtomicU64,
    /// The server-wide score ticker, fed by every room.
    ticker: Arc<Ticker>,
    metrics: Arc<Metrics>,
    /// The room cap and each address's rate of new rooms, asked under the
    /// directory lock.
    quota: RoomQuota,
    /// Every room's log is copied through this, once set (cluster mode).
    replicas: OnceLock<ReplicaFactory>,
    /// Each address's tries at private rooms' invite codes.
    invites: InviteGuard,
    /// Addresses and names operators banned: every join is checked first.
    bans: BanList,
    /// Where a drained room's record goes at its round's end, once set
    /// (cluster mode); without it the room closes with `server_drain`.
    handovers: Arc<OnceLock<Arc<dyn HandoverSink>>>,
}

/// A factory has no useful Debug.
struct Opaque;

impl std::fmt::Debug for Opaque {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReplicaFactory")
    }
}

/// Who asks a room for a seat.
#[derive(Clone, Debug)]
pub struct Entrant {
    /// Display name (checked by the transport).
    pub name: String,
    /// A resume token: take back a ship instead of a new one.
    pub resume: Option<ResumeToken>,
    /// Whose record a new ship's rounds add to; `None` plays unrecorded.
    pub identity: Option<Identity>,
    /// Where the player connects from, and how.
    pub peer: Peer,
}

/// The limits a client meets at the registry's door: the room quota
/// (opening rooms) and the invite guard (entering private ones).
#[derive(Debug)]
pub struct Admission {
    pub quota: RoomQuota,
    pub invites: InviteGuard,
}

/// What a join asks of the registry besides the player's name.
#[derive(Clone, Copy, Debug)]
pub struct Ask<'a> {
    /// The room named, or `None` for matchmaking.
    pub room: Option<&'a str>,
    /// The client holds a resume token.
    pub resuming: bool,
    /// The client's address (as the connection limits count it), charged
    /// if a room must be opened or an invite code is wrong.
    pub client: IpAddr,
    /// The invite code offered for a private room.
    pub invite: Option<&'a str>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("default_room", &self.default_room)
            .field("rooms", &self.rooms.lock().len())
            .field("replicas", &self.replicas.get().map(|_| Opaque))
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// A registry with the default room already running.
    #[must_use]
    pub fn new(
        config: RoomConfig,
        names: RoomNames,
        shutdown: CancellationToken,
        tracker: TaskTracker,
        ticker: Arc<Ticker>,
        metrics: Arc<Metrics>,
        Admission { quota, invites }: Admission,
    ) -> Arc<Registry> {
        let registry = Arc::new(Registry {
            rooms: Arc::default(),
            handed: Arc::default(),
            config,
            default_room: names.default_room.into(),
            public_prefix: names.public_prefix,
            drain: shutdown.child_token(),
            cut: shutdown.child_token(),
            shutdown,
            room_tasks: TaskTracker::new(),
            tracker,
            next_instance: AtomicU64::new(1),
            next_public: AtomicU64::new(2),
            next_session: AtomicU64::new(1),
            ticker,
            metrics,
            quota,
            replicas: OnceLock::new(),
            invites,
            bans: BanList::default(),
            handovers: Arc::default(),
        });
        let mut rooms = registry.rooms.lock();
        registry.open(
            &mut rooms,
            registry.default_room.clone(),
            true,
            None,
            None,
            None,
        );
        drop(rooms);
        registry
    }

    /// The bans operators set (the admin API adds them).
    #[must_use]
    pub fn bans(&self) -> &BanList {
        &self.bans
    }

    /// The id of the room that always exists.
    #[must_use]
    pub fn default_room(&self) -> &str {
        &self.default_room
    }

    /// The server is draining or stopping: no new rooms or seats.
    #[must_use]
    pub fn is_shutting_down(&self) -> bool {
        self.drain.is_cancelled()
    }

    /// Whether a drain lets rooms with players finish their round
    /// ([`RoomConfig::drain_rounds`]); otherwise shutdown closes them.
    #[must_use]
    pub fn drains_rounds(&self) -> bool {
        self.config.drain_rounds
    }

    /// Cancelled when the node starts draining, or stopping.
    #[must_use]
    pub fn draining(&self) -> CancellationToken {
        self.drain.clone()
    }

    /// Starts the drain: no new rooms or seats; rooms with players play to
    /// their round's end (see [`RoomConfig::drain_rounds`]). Resolves when
    /// the last room has closed; the caller bounds it with its deadline.
    pub async fn drain_rooms(&self) {
        self.drain.cancel();
        // Every opening checks `drain`, then opens under the directory
        // lock: taking it here lets one that checked before the cancel
        // finish first, so its room is tracked before the close. (A room
        // opened later anyway sees the drain at once and, with no players,
        // closes.)
        drop(self.rooms.lock());
        self.room_tasks.close();
        self.room_tasks.wait().await;
    }

    /// The drain deadline passed: every room still playing closes now, as
    /// drained. Resolves when the last has closed.
    pub async fn cut_drain(&self) {
        self.cut.cancel();
        self.room_tasks.wait().await;
    }

    /// The server-wide ticker log.
    #[must_use]
    pub fn ticker(&self) -> &Arc<EventLog> {
        self.ticker.log()
    }

    /// Every live room's handle (for the ticker's board).
    #[must_use]
    pub fn handles(&self) -> Vec<RoomHandle> {
        self.rooms.lock().values().cloned().collect()
    }

    /// Copies the log of every room, open now or later, through
    /// `factory`'s replicas. Set once; a second call is ignored.
    pub fn replicate_with(&self, factory: ReplicaFactory) {
        // Under the directory lock, so no room opens between the two steps.
        let rooms = self.rooms.lock();
        if self.replicas.set(factory.clone()).is_err() {
            return;
        }
        for (id, room) in rooms.iter() {
            room.feed.log.replicate_to(factory(id, &room.feed.log));
        }
    }

    /// Sends each drained room's record to `sink` at its round's end, so
    /// another node can continue it. Set once; a second call is ignored.
    pub fn hand_over_with(&self, sink: Arc<dyn HandoverSink>) {
        let _ = self.handovers.set(sink);
    }

    /// Continues a room handed over by another node: opens it under the
    /// same id, its log above the old log's last id, its ships seated
    /// under their old ids and waiting for their players to resume with
    /// their old tokens.
    ///
    /// # Errors
    /// This node is draining or stopping, the id is malformed or already
    /// open here, or the room cap is reached.
    ///
    /// The room's log continues with a `moved` event naming `here`, this
    /// node, so readers following it anywhere learn where it went.
    pub fn adopt(&self, record: &HandoverRecord, here: &Adopted) -> Result<RoomHandle, JoinError> {
        let mut rooms = self.rooms.lock();
        self.admit_adoption(&rooms, record)?;
        Ok(self.open(
            &mut rooms,
            record.room.as_str().into(),
            record.public,
            None,
            Some((record, here)),
            None,
        ))
    }

    /// Whether [`Registry::adopt`] would take `record` now: asked before
    /// the cluster moves the room's ownership here, so a room is rarely
    /// taken over by a node that then cannot open it.
    ///
    /// # Errors
    /// As [`Registry::adopt`].
    pub fn can_adopt(&self, record: &HandoverRecord) -> Result<(), JoinError> {
        self.admit_adoption(&self.rooms.lock(), record)
    }

    fn admit_adoption(
        &self,
        rooms: &HashMap<Arc<str>, RoomHandle>,
        record: &HandoverRecord,
    ) -> Result<(), JoinError> {
        if self.drain.is_cancelled() {
            return Err(JoinError::ShuttingDown);
        }
        if !valid_room_id(&record.room)
            || record.room == *self.default_room
            || rooms.contains_key(record.room.as_str())
        {
            return Err(JoinError::BadRoom);
        }
        self.quota.admit_handover(rooms.len())
    }

    /// A new session id for a connection.
    #[must_use]
    pub fn new_session(&self) -> SessionId {
        SessionId(self.next_session.fetch_add(1, Ordering::Relaxed))
    }

    /// Starts a room task (continuing `adopted`, a room handed over to
    /// this node); the caller holds the directory lock.
    fn open(
        &self,
        rooms: &mut HashMap<Arc<str>, RoomHandle>,
        id: Arc<str>,
        public: bool,
        invite: Option<InviteCode>,
        adopted: Option<(&HandoverRecord, &Adopted)>,
        spectator_delay_secs: Option<u32>,
    ) -> RoomHandle {
        let instance = self.next_instance.fetch_add(1, Ordering::Relaxed);
        let mut config = self.config.clone();
        if let Some(secs) = spectator_delay_secs {
            config.spectator_delay_secs = secs;
        }
        config.seed = config.seed.wrapping_add(instance - 1);
        config.tick_phase = super::clock::phase_of(instance, config.tick_phases);
        let (tx, rx) = mpsc::channel(config.inbox_capacity.max(1));
        let stats = Arc::new(RoomStats::default());
        stats.bots.store(
            u32::try_from(config.bots).unwrap_or(u32::MAX),
            Ordering::Relaxed,
        );
        let rates = FeedRates {
            tick_hz: config.rules.tick_hz,
            spectator_hz: config.spectator_hz,
            delay_ticks: config
                .spectator_delay_secs
                .saturating_mul(u32::from(config.rules.tick_hz)),
        };
        let (mut feed, readers) = Feed::new(
            id.clone(),
            rates,
            config.event_log_capacity,
            IdAllocator::process(),
            invite.is_none().then(|| self.ticker.clone()),
            adopted.map(|(record, _)| record.last_id),
        );
        // A private room's rounds get no replay: watching it takes its
        // invite code, and a replay would show it to anyone.
        if invite.is_none() && config.rounds.is_some() {
            feed.record_replays();
        }
        if let Some(factory) = self.replicas.get() {
            readers.log.replicate_to(factory(&id, &readers.log));
        }
        if let Some((_, here)) = adopted {
            // The first id above the old owner's last, before the room's
            // first tick: where every reader learns the room moved.
            let moved = RoomEvent::Moved(MovedEvent {
                room: id.to_string(),
                node: here.node.clone(),
                node_url: here.node_url.clone(),
                time: unix_millis(),
            });
            readers.log.append(&[moved], None);
        }
        let handle = RoomHandle {
            id: id.clone(),
            public,
            invite,
            instance,
            inbox: tx,
            stats: stats.clone(),
            rules: Arc::new(config.rules.clone()),
            max_players: config.max_players,
            feed: readers,
            spectator_permits: Arc::new(tokio::sync::Semaphore::new(config.max_spectators)),
            max_spectators: config.max_spectators,
            poll_permits: Arc::new(tokio::sync::Semaphore::new(config.max_polls)),
            metrics: self.metrics.clone(),
        };
        let permanent = id == self.default_room;
        let room = Room::new(
            id.clone(),
            permanent,
            public,
            config,
            stats,
            feed,
            self.metrics.clone(),
            adopted.map(|(record, _)| record),
        );
        let directory = self.rooms.clone();
        let handovers = self.handovers.clone();
        let handed = self.handed.clone();
        let shutdown = self.shutdown.clone();
        let drain = self.drain.clone();
        let cut = self.cut.clone();
        let entry = id.clone();
        self.tracker.spawn(
            self.room_tasks.track_future(
                async move {
                    let mut inbox = rx;
                    let mut room = room.run(&mut inbox, &shutdown, &drain, &cut).await;
                    // Out of the directory before anyone hears the room closed,
                    // and only this instance: a room of the same id opened since
                    // stays. The inbox lives until then, so a join that reached
                    // it meanwhile fails as `RoomClosed` and its retry finds the
                    // room gone.
                    {
                        let mut rooms = directory.lock();
                        if rooms.get(&entry).is_some_and(|h| h.instance == instance) {
                            rooms.remove(&entry);
                        }
                    }
                    // The record only when a sink can take it.
                    let handover = handovers
                        .get()
                        .and_then(|sink| Some((sink, room.handover_record()?)));
                    if let Some((_, record)) = &handover
                        && record.public
                    {
                        handed.lock().insert(entry.clone(), room.log().clone());
                    }
                    let adopted = match handover {
                        Some((sink, record)) => tokio::select! {
                            adopted = sink.hand_over(record) => adopted,
                            // The deadline, or shutdown, ends the wait.
                            () = cut.cancelled() => None,
                        },
                        None => None,
                    };
                    match (adopted, handovers.get()) {
                        (Some(adopted), Some(sink)) => {
                            let (log, last_id) = room.close_moved(&adopted);
                            let moved = tokio::select! {
                                moved = sink.moved_event(&entry, last_id) => moved,
                                () = cut.cancelled() => None,
                            };
                            log.close_with(moved, super::MOVED);
                        }
                        _ => {
                            handed.lock().remove(&entry);
                            room.close(shutdown.is_cancelled());
                        }
                    }
                    drop(inbox);
                }
                .instrument(tracing::info_span!("room", room = %id)),
            ),
        );
        rooms.insert(id, handle.clone());
        handle
    }

    /// The room a player asking for `ask.room` should go to: that room
    /// (opened on demand), or with `None` the least-full public room with a
    /// seat (a new public room when all are full). A resume never opens a
    /// room: its token can only be in one that exists.
    ///
    /// # Errors
    /// A malformed room id, a resume token for no room, the room cap, the
    /// client's rate of new rooms, or shutdown in progress.
    pub fn pick(&self, ask: Ask<'_>) -> Result<RoomHandle, JoinError> {
        // A draining node still lets a player back into its ship.
        if self.shutdown.is_cancelled() || (self.drain.is_cancelled() && !ask.resuming) {
            return Err(JoinError::ShuttingDown);
        }
        let mut rooms = self.rooms.lock();
        if let Some(id) = ask.room {
            if !valid_room_id(id) {
                return Err(JoinError::BadRoom);
            }
            if let Some(handle) = rooms.get(id) {
                // A resume token is a secret of its own, issued only to a
                // player who got in: the room checks it.
                if !ask.resuming {
                    let code = handle.invite.as_ref();
                    self.invites.check(id, code, ask.invite, ask.client)?;
                }
                return Ok(handle.clone());
            }
            if ask.resuming {
                return Err(JoinError::ResumeRejected { room: id.into() });
            }
            self.quota.admit(rooms.len(), ask.client, Opening::Named)?;
            return Ok(self.open(&mut rooms, id.into(), false, None, None, None));
        }
        if ask.resuming {
            return Err(JoinError::ResumeWithoutRoom);
        }
        let best = rooms
            .values()
            .filter(|h| h.public && h.has_seat())
            .min_by_key(|h| (h.players(), h.id != self.default_room, h.instance))
            .cloned();
        if let Some(handle) = best {
            return Ok(handle);
        }
        self.quota
            .admit(rooms.len(), ask.client, Opening::Matchmaking)?;
        Ok(self.open_public(&mut rooms))
    }

    /// Opens a new public room for matchmaking from `client`, whatever the
    /// others hold (matchmaking fills rooms by its own count, seat
    /// reservations included), within the room cap and the address's rate.
    ///
    /// # Errors
    /// The room cap, the client's rate of new rooms, or shutdown.
    pub fn create_public(&self, client: IpAddr) -> Result<RoomHandle, JoinError> {
        if self.drain.is_cancelled() {
            return Err(JoinError::ShuttingDown);
        }
        let mut rooms = self.rooms.lock();
        self.quota
            .admit(rooms.len(), client, Opening::Matchmaking)?;
        Ok(self.open_public(&mut rooms))
    }

    /// Opens the next free `{public_prefix}-{n}`; the caller holds the lock.
    fn open_public(&self, rooms: &mut HashMap<Arc<str>, RoomHandle>) -> RoomHandle {
        loop {
            let n = self.next_public.fetch_add(1, Ordering::Relaxed);
            let id: Arc<str> = format!("{}-{n}", self.public_prefix).into();
            if !rooms.contains_key(&id) {
                return self.open(rooms, id, true, None, None, None);
            }
        }
    }

    /// Opens a private room for `client`: a random id (`p-` and 16 hex
    /// digits, so ids say nothing about how many exist) and a fresh invite
    /// code, within the room cap and the address's rate of new rooms. Its
    /// watchers see it `spectator_delay_secs` late (checked by the caller),
    /// or the server's `--spectator-delay-secs`.
    ///
    /// # Errors
    /// The room cap, the client's rate of new rooms, or shutdown.
    pub fn create_private(
        &self,
        client: IpAddr,
        spectator_delay_secs: Option<u32>,
    ) -> Result<(RoomHandle, InviteCode), JoinError> {
        if self.drain.is_cancelled() {
            return Err(JoinError::ShuttingDown);
        }
        let mut rooms = self.rooms.lock();
        self.quota.admit(rooms.len(), client, Opening::Named)?;
        let code = InviteCode::generate();
        loop {
            let id: Arc<str> = format!("p-{:016x}", rand::random::<u64>()).into();
            if !rooms.contains_key(&id) {
                return Ok((
                    self.open(
                        &mut rooms,
                        id,
                        false,
                        Some(code),
                        None,
                        spectator_delay_secs,
                    ),
                    code,
                ));
            }
        }
    }

    /// Room `id` for a spectator or poller from `client` offering
    /// `invite`: any room, a private one with its code.
    ///
    /// # Errors
    /// `Ok(None)` when no such room runs here; a refused invite code.
    pub fn watch(
        &self,
        id: &str,
        invite: Option<&str>,
        client: IpAddr,
    ) -> Result<Option<RoomHandle>, JoinError> {
        let Some(handle) = self.get(id) else {
            return Ok(None);
        };
        self.invites
            .check(id, handle.invite.as_ref(), invite, client)?;
        Ok(Some(handle))
    }

    /// The log of public room `id` if this node handed it over (or is
    /// handing it over): readable up to the adopter's `moved`.
    #[must_use]
    pub fn handed_log(&self, id: &str) -> Option<Arc<EventLog>> {
        self.handed.lock().get(id).cloned()
    }

    /// Seats `entrant`: picks the room (`room`, or matchmaking's when
    /// `None`) and asks it. Retries once when the room closed under the
    /// request.
    ///
    /// # Errors
    /// A ban, or whatever [`Registry::pick`] or the room refused with.
    pub async fn join(
        &self,
        session: SessionId,
        entrant: Entrant,
        room: Option<String>,
        invite: Option<&str>,
    ) -> Result<Seat, JoinError> {
        self.bans.check(entrant.peer.address, &entrant.name)?;
        let mut last = JoinError::ShuttingDown;
        let ask = Ask {
            room: room.as_deref(),
            resuming: entrant.resume.is_some(),
            client: entrant.peer.address,
            invite,
        };
        for _ in 0..2 {
            let handle = self.pick(ask)?;
            match Registry::seat_in(handle, session, entrant.clone()).await {
                Err(closed @ JoinError::RoomClosed { .. }) => last = closed,
                seated => return seated,
            }
        }
        Err(last)
    }

    /// Seats a new ship for `entrant` in a room that exists now, never
    /// opening one (a seat reserved by matchmaking is for that room only).
    ///
    /// # Errors
    /// A ban; the room is gone, private, or refused.
    pub async fn join_existing(
        &self,
        session: SessionId,
        entrant: Entrant,
        room: &str,
    ) -> Result<Seat, JoinError> {
        if self.shutdown.is_cancelled() || (self.drain.is_cancelled() && entrant.resume.is_none()) {
            return Err(JoinError::ShuttingDown);
        }
        self.bans.check(entrant.peer.address, &entrant.name)?;
        let handle = self.get(room).ok_or_else(|| JoinError::RoomClosed {
            room: room.to_owned(),
        })?;
        // Matchmaking reserves no seat in a private room; a ticket for one
        // (another node's room of the same id) does not open it.
        if handle.invite.is_some() {
            return Err(JoinError::InviteRequired {
                room: room.to_owned(),
                offered: false,
            });
        }
        let entrant = Entrant {
            resume: None,
            ..entrant
        };
        Registry::seat_in(handle, session, entrant).await
    }

    /// Asks `handle`'s room for a seat; `RoomClosed` when it closed first.
    async fn seat_in(
        handle: RoomHandle,
        session: SessionId,
        entrant: Entrant,
    ) -> Result<Seat, JoinError> {
        let (reply, answer) = oneshot::channel();
        let request = RoomCmd::Join(JoinRequest {
            session,
            name: entrant.name,
            resume: entrant.resume,
            identity: entrant.identity,
            peer: entrant.peer,
            reply,
        });
        let closed = || JoinError::RoomClosed {
            room: handle.id.to_string(),
        };
        if handle.inbox.send(request).await.is_err() {
            return Err(closed());
        }
        let joined = answer.await.map_err(|_| closed())??;
        Ok(Seat {
            room: handle,
            session,
            outbox: joined.outbox,
            welcome: joined.welcome,
        })
    }

    /// The lobby's list, sorted by id: every room but the private ones
    /// (what the cluster directory publishes too).
    #[must_use]
    pub fn list(&self) -> Vec<RoomSummary> {
        let rooms = self.rooms.lock();
        let mut list: Vec<RoomSummary> = rooms
            .values()
            .filter(|h| h.invite.is_none())
            .map(RoomHandle::summary)
            .collect();
        drop(rooms);
        list.sort_by(|a, b| a.id.cmp(&b.id));
        list
    }

    /// A live room by id.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<RoomHandle> {
        self.rooms.lock().get(id).cloned()
    }

    /// The live rooms that have not ticked for longer than `threshold`,
    /// sorted by id, with how long each has not (the health check). Reads
    /// each room's tick stamp under the directory lock only: a stuck room
    /// holds no lock of ours, so this never waits for it.
    #[must_use]
    pub fn stalled(&self, threshold: std::time::Duration) -> Vec<StalledRoom> {
        let rooms = self.rooms.lock();
        let mut stalled: Vec<StalledRoom> = rooms
            .values()
            .filter_map(|h| {
                let age = h.stats.last_tick.age();
                (age > threshold).then(|| StalledRoom {
                    // A private room's id is for its invitees only.
                    id: h.invite.is_none().then(|| h.id.clone()),
                    since_ms: u64::try_from(age.as_millis()).unwrap_or(u64::MAX),
                })
            })
            .collect();
        drop(rooms);
        stalled.sort_by(|a, b| a.id.cmp(&b.id));
        stalled
    }
}

/// A room whose tick loop stalled, as `/healthz` reports it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StalledRoom {
    /// The room's id; `None` for a private room (`/healthz` is public).
    pub id: Option<Arc<str>>,
    /// Milliseconds since its last tick.
    pub since_ms: u64,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser as _;
    use skirmish_shared::{CloseCode, ResumeToken};

    use super::*;
    use crate::metrics::Transport;
    use crate::room::event_log::{LogEntry, Read};
    use crate::room::handover::{Handover, MovedEntry};
    use crate::room::{MOVED, Peer, SERVER_DRAIN};

    /// A registry as a clustered node has it, with one-second rounds and
    /// `bots` bots per room.
    fn registry(bots: usize) -> Arc<Registry> {
        let mut config = crate::Config::parse_from(["skirmish-server"]).room_config();
        config.rules.round_ticks = u32::from(config.rules.tick_hz);
        config.bots = bots;
        config.drain_rounds = true;
        config.resume_grace = Duration::from_secs(30);
        Registry::new(
            config,
            RoomNames {
                default_room: "main".into(),
                public_prefix: "arena".into(),
            },
            CancellationToken::new(),
            TaskTracker::new(),
            Ticker::new(64, 10, IdAllocator::process()),
            Arc::new(Metrics::new()),
            Admission {
                quota: RoomQuota::new(8, 60, Duration::from_secs(30)),
                invites: InviteGuard::new(10),
            },
        )
    }

    fn entrant(name: &str, resume: Option<ResumeToken>) -> Entrant {
        Entrant {
            name: name.into(),
            resume,
            identity: None,
            peer: Peer {
                address: std::net::Ipv4Addr::LOCALHOST.into(),
                transport: Transport::WebSocket,
            },
        }
    }

    /// `name` (back with `resume`, if given) joins the room `duel`.
    async fn join_duel(
        registry: &Registry,
        name: &str,
        resume: Option<ResumeToken>,
    ) -> Result<Seat, JoinError> {
        registry
            .join(
                registry.new_session(),
                entrant(name, resume),
                Some("duel".into()),
                None,
            )
            .await
    }

    /// Hands records to another registry in this process, as the cluster's
    /// transport would to another node (`None` adopts nothing), and keeps
    /// them.
    #[derive(Debug, Default)]
    struct InProcess {
        adopter: Option<Arc<Registry>>,
        records: parking_lot::Mutex<Vec<HandoverRecord>>,
    }

    impl HandoverSink for InProcess {
        fn hand_over(&self, record: HandoverRecord) -> Handover {
            let adopted = self
                .adopter
                .as_ref()
                .and_then(|b| b.adopt(&record, &node_b()).ok())
                .map(|_| node_b());
            self.records.lock().push(record);
            Box::pin(async move { adopted })
        }

        fn moved_event(&self, room: &str, last_id: u64) -> MovedEntry {
            let first =
                self.adopter
                    .as_ref()
                    .and_then(|b| match b.get(room)?.feed.log.read(last_id, 1) {
                        Read::Events(events) => events.first().map(|e| (**e).clone()),
                        _ => None,
                    });
            Box::pin(async move { first })
        }
    }

    fn node_b() -> Adopted {
        Adopted {
            node: "b".into(),
            node_url: "http://b.test".into(),
        }
    }

    /// The round a log entry says started, if it is a `round` start.
    fn round_started(entry: &LogEntry) -> Option<u64> {
        let value: serde_json::Value = serde_json::from_str(entry.json.get()).ok()?;
        (value["event"] == "round" && value["data"]["phase"] == "started")
            .then(|| value["data"]["round"].as_u64())
            .flatten()
    }

    async fn drained(registry: &Registry) {
        tokio::time::timeout(Duration::from_secs(30), registry.drain_rooms())
            .await
            .expect("the round ends and the drain finishes");
    }

    #[tokio::test]
    async fn a_drained_room_continues_on_its_adopter_with_its_ships_tokens_and_log_ids() {
        // The new deploy runs a bot per room, the old one none: the bot
        // must not take a handed-over ship's id.
        let (a, b) = (registry(0), registry(1));
        let sink = Arc::new(InProcess {
            adopter: Some(b.clone()),
            ..InProcess::default()
        });
        a.hand_over_with(sink.clone());
        let ada = join_duel(&a, "Ada", None).await.expect("seated");
        let bob = join_duel(&a, "Bob", None).await.expect("seated");
        drained(&a).await;

        // The old owner's players are told the room moved; its readers get
        // the same word after the last event the adopter continues from.
        assert_eq!(ada.outbox.closing(), Some((CloseCode::GoingAway, MOVED)));
        // The old log ends with the adopter's own `moved` entry, under its
        // id: a reader of either log resumes after it on either.
        let old_log = &ada.room.feed.log;
        let record = sink.records.lock().pop().expect("one record");
        let last = record.last_id;
        let adopted = b.get("duel").expect("adopted under the same id");
        let Read::Events(ours) = old_log.read(last, 10) else {
            panic!("the old log ends with the adopter's moved");
        };
        let Read::Events(theirs) = adopted.feed.log.read(last, 1) else {
            panic!("the continued log starts with moved");
        };
        assert_eq!(ours.len(), 1);
        assert_eq!((ours[0].id, &ours[0].sse), (theirs[0].id, &theirs[0].sse));
        assert!(ours[0].json.get().contains(r#""event":"moved""#));
        assert!(matches!(old_log.read(ours[0].id, 10), Read::Ended(MOVED)));

        // The adopter holds the room under the same id; its log reads on
        // from the old last id (no reset, every id above it), and plays the
        // round the old owner had just started, under its number.
        assert_eq!(record.round, 2);
        let mut appended = adopted.feed.log.subscribe();
        let first_round = loop {
            match adopted.feed.log.read(last, 100) {
                Read::Events(events) => {
                    assert!(events.iter().all(|e| e.id > last));
                    if let Some(round) = events.iter().find_map(|e| round_started(e)) {
                        break round;
                    }
                }
                Read::UpToDate => {}
                other => panic!("a cursor of the old log must read on, got {other:?}"),
            }
            tokio::time::timeout(Duration::from_secs(10), appended.changed())
                .await
                .expect("the adopter logs its first round")
                .expect("log open");
        };
        assert_eq!(first_round, 2);

        // Each player resumes there with its old token into its old ship;
        // another token is refused, and a newcomer gets a free id.
        for seat in [&ada, &bob] {
            let back = join_duel(&b, "x", Some(seat.welcome.resume))
                .await
                .expect("resumed with the old token");
            assert_eq!(back.welcome.ship, seat.welcome.ship);
            assert!(back.welcome.resumed);
        }
        let mut forged = ada.welcome.resume;
        forged.0[15] ^= 1;
        let refused = join_duel(&b, "x", Some(forged)).await;
        assert!(matches!(refused, Err(JoinError::ResumeRejected { .. })));
        let newcomer = join_duel(&b, "Cy", None).await.expect("seated");
        assert!(![ada.welcome.ship, bob.welcome.ship].contains(&newcomer.welcome.ship));
        assert_eq!(adopted.players(), 3);
    }

    #[tokio::test]
    async fn a_room_no_node_adopts_closes_with_server_drain() {
        let a = registry(0);
        a.hand_over_with(Arc::new(InProcess::default()));
        let ada = join_duel(&a, "Ada", None).await.expect("seated");
        drained(&a).await;
        assert_eq!(
            ada.outbox.closing(),
            Some((CloseCode::GoingAway, SERVER_DRAIN))
        );
    }
}
