//! The room task: owns one [`Sim`] and runs it at the room's tick rate.
//!
//! Between ticks it files commands from its inbox (joins are answered at
//! once, inputs wait for the next tick). After each tick it records the frame
//! in the history and drops each connected player's snapshot into its
//! outbox. It must never await anything but its inbox, its timer and the
//! shutdown and drain signals: no locks held by I/O code, no sockets. It knows nothing
//! of the registry: whoever spawned it takes it out of the directory when
//! `Room::run` returns, then calls `Room::close`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant as StdInstant;

use crate::tokens::{TokenMap, Verifier};
use skirmish_shared::http::AdminPlayer;
use skirmish_shared::{
    CloseCode, EventKind, Input, PlayerGrant, ResumeToken, ShipId, Tick, Welcome,
};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::event_log::EventLog;
use super::feed::Feed;
use super::handover::{Adopted, HandedShip, HandoverRecord};
use super::record::RoundTally;
use super::replay::Handover;
use super::snapshot::{BodyCache, Frame, History, Interest};
use super::{
    Inspection, JoinError, JoinRequest, Joined, Outbox, Peer, RoomCmd, RoomConfig, RoomStats,
    SessionId, SnapshotOut,
};
use crate::game::past::LagCompensation;
use crate::game::{Sim, SimConfig};
use crate::metrics::{Metrics, RoomTicks};
use crate::storage::identity::Identity;

/// A seated human player.
#[derive(Debug)]
struct Player {
    ship: ShipId,
    /// Display name, for the admin console.
    name: String,
    /// Where its connection comes from (the newest, after a resume).
    peer: Peer,
    /// Its resume token's verifier (what a handover passes on; an adopted
    /// ship's token was never seen whole here).
    token: Verifier,
    session: SessionId,
    link: Link,
    /// Newest snapshot tick the client says it holds.
    ack: Option<Tick>,
    /// Inputs filed since the last tick, bounded by [`MAX_PENDING_INPUTS`].
    pending: u16,
    /// Whose record this ship's rounds add to; `None` plays unrecorded.
    identity: Option<Identity>,
}

impl Player {
    /// What the admin console shows of it.
    fn admin_view(&self) -> AdminPlayer {
        AdminPlayer {
            ship: self.ship,
            name: self.name.clone(),
            connected: matches!(self.link, Link::Connected(_)),
            address: self.peer.address.to_string(),
            transport: self.peer.transport.as_str().to_owned(),
            ping_ms: match &self.link {
                Link::Connected(outbox) => outbox.rtt_ms(),
                Link::Detached { .. } => None,
            },
        }
    }
}

/// Whether a seated player has a connection to send snapshots to.
#[derive(Debug)]
enum Link {
    /// Connected: its snapshots go to this outbox.
    Connected(Arc<Outbox>),
    /// The connection was lost at `since`; the ship waits out the resume
    /// grace from then.
    Detached { since: Instant },
}

/// Where a room is in its life; decides when it closes by itself.
#[derive(Clone, Copy, Debug)]
enum Lifecycle {
    /// The default room: it never closes for want of players.
    Permanent,
    /// At least one player is seated (connected or awaiting a resume).
    Occupied,
    /// No players since `since`; closes once the empty-room grace passes.
    Empty { since: Instant },
}

/// Why a ship left the room, for its log line.
#[derive(Clone, Copy, Debug)]
enum Removal {
    /// The player sent `Leave` (or the transport's equivalent).
    Left,
    /// The connection ended and the room keeps no ship for a resume.
    Disconnected,
    /// Detached longer than the resume grace.
    GraceExpired,
    /// The admin console removed it.
    Kicked,
}

impl Removal {
    fn as_str(self) -> &'static str {
        match self {
            Removal::Left => "left",
            Removal::Disconnected => "disconnected",
            Removal::GraceExpired => "resume grace expired",
            Removal::Kicked => "kicked by an operator",
        }
    }
}

/// Ticks whose durations the admin console's p99 is taken over: ten
/// seconds at 30 Hz, 1.2 KB per room.
const RECENT_TICKS: usize = 300;

/// Inputs one player may file between two ticks; beyond it they are dropped
/// (the sim would drop all but `max_inputs_per_tick` anyway).
const MAX_PENDING_INPUTS: u16 = 16;

/// Everything one room task owns.
pub struct Room {
    id: Arc<str>,
    /// Matchmaking may put players here (the default room and `arena-N`):
    /// its comings and goings are logged at INFO, a client-named room's at
    /// DEBUG.
    public: bool,
    config: RoomConfig,
    sim: Sim,
    history: History,
    /// This tick's encoded bodies by baseline (shared ones only).
    bodies: BodyCache,
    players: HashMap<ShipId, Player>,
    by_session: HashMap<SessionId, ShipId>,
    by_token: TokenMap<ShipId>,
    inputs: Vec<(ShipId, Input)>,
    stats: Arc<RoomStats>,
    lifecycle: Lifecycle,
    /// What spectators and the ticker are told after each tick.
    feed: Feed,
    metrics: Arc<Metrics>,
    /// This room's tick-duration histogram (its own series or the shared
    /// one); dropped with the room, which removes an own series.
    tick_seconds: RoomTicks,
    /// Kills and deaths of the round being played, for its record.
    tally: RoundTally,
    /// Finished rounds waiting (at most the spectator delay) for the
    /// feed to release their end and so their replay.
    handover: Handover,
    /// The admin console closed the room: it ends after this command.
    closed_by_operator: bool,
    /// The cluster declared the room lost ([`RoomCmd::Lost`]).
    lost: bool,
    /// The last [`RECENT_TICKS`] ticks' durations in seconds, oldest
    /// first, for the admin console's p99 (sorted only when asked).
    recent_ticks: VecDeque<f32>,
    /// The node is draining (cluster mode): the room plays to the end of
    /// its round, then closes with [`super::SERVER_DRAIN`].
    draining: bool,
    /// The loop ended because a draining room's round ended: the boundary
    /// where it may be handed over.
    round_over: bool,
}

impl Room {
    /// A room with a fresh simulation, or continuing `adopted`, a room
    /// handed over from another node: its round numbers go on, its ships
    /// are seated under their old ids (before any bot takes one) and wait
    /// for their players' resumes.
    #[expect(
        clippy::too_many_arguments,
        reason = "the registry's one caller passes each part it built"
    )]
    pub(super) fn new(
        id: Arc<str>,
        permanent: bool,
        public: bool,
        config: RoomConfig,
        stats: Arc<RoomStats>,
        feed: Feed,
        metrics: Arc<Metrics>,
        adopted: Option<&HandoverRecord>,
    ) -> Room {
        let handed = adopted.map_or(&[][..], |record| &record.ships);
        let tick_seconds = metrics.room_ticks(&id, public);
        let sim = Sim::new(SimConfig {
            rules: config.rules.clone(),
            seed: config.seed,
            bots: if handed.is_empty() { config.bots } else { 0 },
            max_inputs_per_tick: config.max_inputs_per_tick,
            lag_comp: LagCompensation::from_ms(&config.rules, config.lag_comp_max_ms),
        });
        let mut room = Room {
            id,
            public,
            history: History::with_interest(
                config.history_ticks,
                Interest {
                    rules: config.rules.clone(),
                    from_ships: config.interest_from_ships,
                },
            ),
            bodies: BodyCache::default(),
            config,
            sim,
            players: HashMap::new(),
            by_session: HashMap::new(),
            by_token: TokenMap::new(),
            inputs: Vec::new(),
            stats,
            lifecycle: if permanent {
                Lifecycle::Permanent
            } else {
                Lifecycle::Empty {
                    since: Instant::now(),
                }
            },
            feed,
            tick_seconds,
            metrics,
            tally: RoundTally::default(),
            handover: Handover::default(),
            closed_by_operator: false,
            lost: false,
            recent_ticks: VecDeque::with_capacity(RECENT_TICKS),
            draining: false,
            round_over: false,
        };
        if let Some(record) = adopted {
            room.sim.continue_rounds_at(record.round);
            room.seat_handed(handed);
        }
        room
    }

    /// Seats the ships of a room handed over, detached (their players
    /// resume with their old tokens within the resume grace), then adds the
    /// room's bots around their ids.
    fn seat_handed(&mut self, handed: &[HandedShip]) {
        let since = Instant::now();
        for ship in handed {
            if !self.sim.try_spawn_player_as(ship.ship, &ship.name) {
                warn!(
                    player = ship.ship.0,
                    "handed-over ship id taken twice; its player is not seated"
                );
                continue;
            }
            self.by_token.adopt(ship.token, ship.ship);
            self.players.insert(
                ship.ship,
                Player {
                    ship: ship.ship,
                    name: ship.name.clone(),
                    // Until its player resumes: where the room came from.
                    peer: Peer {
                        address: std::net::Ipv4Addr::UNSPECIFIED.into(),
                        transport: crate::metrics::Transport::WebSocket,
                    },
                    token: ship.token,
                    session: SessionId(0),
                    link: Link::Detached { since },
                    ack: None,
                    pending: 0,
                    identity: ship.identity.clone(),
                },
            );
        }
        self.sim.set_bots(self.config.bots);
        self.lifecycle = Lifecycle::Occupied;
        self.publish_players();
        lifecycle!(
            self.public,
            players = self.players.len(),
            "room adopted from another node"
        );
    }

    /// Runs until shutdown, or until the room has been empty for its grace
    /// period (the default room never closes), or, once `drain` fires with
    /// [`RoomConfig::drain_rounds`] on, until its round ends (at once
    /// without players: no one loses a round) or `cut` fires (the drain
    /// deadline passed). Returns the room with its
    /// players still seated: its owner takes it out of the directory first,
    /// so no join finds it, and then calls [`Room::close`].
    pub(super) async fn run(
        mut self,
        inbox: &mut mpsc::Receiver<RoomCmd>,
        shutdown: &CancellationToken,
        drain: &CancellationToken,
        cut: &CancellationToken,
    ) -> Room {
        let period = std::time::Duration::from_secs_f64(1.0 / f64::from(self.config.rules.tick_hz));
        let mut clock =
            super::clock::tick_clock(period, self.config.tick_phase, self.config.tick_phases);
        lifecycle!(
            self.public,
            tick_hz = self.config.rules.tick_hz,
            bots = self.config.bots,
            "room opened"
        );
        self.metrics.rooms.inc();
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                () = drain.cancelled(), if self.config.drain_rounds && !self.draining => {
                    self.draining = true;
                    if self.players.is_empty() {
                        break;
                    }
                    lifecycle!(self.public, "draining: the room closes when its round ends");
                }
                // Before shutdown, so players hear `server_drain` from the
                // room rather than their connections' "shutting down".
                () = cut.cancelled() => break,
                _ = clock.tick() => {
                    let round_ended = self.tick();
                    if self.draining && round_ended && !self.players.is_empty() {
                        self.round_over = true;
                        break;
                    }
                    if self.should_close() || (self.draining && self.players.is_empty()) {
                        break;
                    }
                }
                cmd = inbox.recv() => match cmd {
                    Some(cmd) => {
                        self.handle(cmd);
                        if self.closed_by_operator || self.lost {
                            break;
                        }
                    }
                    None => break,
                },
            }
        }
        self
    }

    /// What another node needs to continue this room, if its loop ended at
    /// a drained round's end with players seated (the only point where a
    /// room is handed over); `None` otherwise.
    pub(super) fn handover_record(&mut self) -> Option<HandoverRecord> {
        if !self.round_over {
            return None;
        }
        let round = self.history.latest().map_or(0, |f| f.state.round.number);
        let mut ships: Vec<HandedShip> = self
            .players
            .values()
            .map(|p| HandedShip {
                ship: p.ship,
                name: p.name.clone(),
                identity: p.identity.clone(),
                token: p.token,
            })
            .collect();
        ships.sort_by_key(|s| s.ship);
        Some(HandoverRecord {
            room: self.id.to_string(),
            public: self.public,
            round,
            last_id: self.feed.settle(),
            ships,
        })
    }

    /// The room's log.
    pub(super) fn log(&self) -> &Arc<EventLog> {
        self.feed.log()
    }

    /// The room continues on another node: players are told where
    /// (`ServerMsg::Moved`) and their connections closed with
    /// [`super::MOVED`]. Its log is left open, settled, for the caller to
    /// end with the adopter's `moved` ([`EventLog::close_with`]): the log
    /// and its last id.
    pub(super) fn close_moved(mut self, adopted: &Adopted) -> (Arc<EventLog>, u64) {
        let to = Arc::new(skirmish_shared::Moved {
            room: self.id.to_string(),
            node: adopted.node.clone(),
            node_url: adopted.node_url.clone(),
            ws_url: crate::node::ws_url(&adopted.node_url, &self.id, None),
        });
        for player in self.players.values() {
            if let Link::Connected(outbox) = &player.link {
                outbox.moved(to.clone());
            }
        }
        let last = self.feed.settle();
        self.metrics.rooms.dec();
        lifecycle!(self.public, node_url = %adopted.node_url, "room handed over");
        (self.feed.log().clone(), last)
    }

    /// Tells everyone still attached that the room is gone: players'
    /// connections are closed, spectators and pollers get a final `closed`.
    pub(super) fn close(mut self, shutting_down: bool) {
        let (code, reason) = match (self.lost, self.closed_by_operator, shutting_down) {
            (true, _, _) => (CloseCode::RoomLost, super::ROOM_LOST),
            // A draining room closes as drained, whether its round ended
            // or the drain deadline cut it short.
            _ if self.draining => (CloseCode::GoingAway, super::SERVER_DRAIN),
            (false, _, true) => (CloseCode::GoingAway, "server shutting down"),
            (false, true, false) => (CloseCode::GoingAway, super::CLOSED_BY_OPERATOR),
            (false, false, false) => (CloseCode::GoingAway, "room closed"),
        };
        for player in self.players.values() {
            if let Link::Connected(outbox) = &player.link {
                outbox.close(code, reason);
            }
        }
        // Spectators and pollers of this room get a final `closed`.
        self.feed.close(reason);
        if let Some(sink) = &self.config.rounds {
            self.handover.flush(self.feed.take_replays(), sink);
        }
        self.metrics.rooms.dec();
        lifecycle!(self.public, reason, "room closed");
    }

    fn should_close(&mut self) -> bool {
        let since = match self.lifecycle {
            Lifecycle::Permanent => return false,
            _ if !self.players.is_empty() => {
                self.lifecycle = Lifecycle::Occupied;
                return false;
            }
            Lifecycle::Occupied => {
                let since = Instant::now();
                self.lifecycle = Lifecycle::Empty { since };
                since
            }
            Lifecycle::Empty { since } => since,
        };
        since.elapsed() >= self.config.empty_room_grace
    }

    fn handle(&mut self, cmd: RoomCmd) {
        match cmd {
            RoomCmd::Join(req) => self.join(req),
            RoomCmd::Input { session, input } => self.file_input(session, input),
            RoomCmd::Ack { session, ack } => {
                let now = self.sim.tick();
                if let Some(player) = self
                    .by_session
                    .get(&session)
                    .and_then(|ship| self.players.get_mut(ship))
                {
                    player.ack = ack.filter(|t| *t <= now);
                }
            }
            RoomCmd::Detach { session } => self.detach(session),
            RoomCmd::Leave { session } => {
                if let Some(ship) = self.by_session.get(&session).copied() {
                    self.remove(ship, Removal::Left);
                }
            }
            RoomCmd::Inspect { reply } => {
                let _ = reply.send(self.inspect());
            }
            RoomCmd::Kick { ship, reply } => {
                let seated = self.players.get(&ship).map(|p| {
                    if let Link::Connected(outbox) = &p.link {
                        outbox.close(CloseCode::PolicyViolation, super::KICKED);
                    }
                    p.admin_view()
                });
                self.remove(ship, Removal::Kicked);
                let _ = reply.send(seated);
            }
            RoomCmd::Close => self.closed_by_operator = true,
            RoomCmd::Lost => self.lost = true,
            RoomCmd::Notice(text) => {
                for player in self.players.values() {
                    if let Link::Connected(outbox) = &player.link {
                        outbox.notice(text.clone());
                    }
                }
                self.feed.notice(&text);
            }
        }
    }

    /// What the admin console shows of this room: who is seated, from
    /// where, and how long recent ticks took.
    fn inspect(&self) -> Inspection {
        let mut players: Vec<AdminPlayer> = self.players.values().map(Player::admin_view).collect();
        players.sort_by_key(|p| p.ship);
        let mut ticks: Vec<f32> = self.recent_ticks.iter().copied().collect();
        ticks.sort_by(f32::total_cmp);
        // Nearest rank: the smallest duration at or above 99 % of ticks.
        let rank = (ticks.len() * 99).div_ceil(100);
        let tick_p99_ms = rank
            .checked_sub(1)
            .and_then(|i| ticks.get(i))
            .map(|secs| f64::from(*secs) * 1000.0);
        Inspection {
            players,
            tick_p99_ms,
        }
    }

    fn join(&mut self, req: JoinRequest) {
        let JoinRequest {
            session,
            name,
            resume,
            identity,
            peer,
            reply,
        } = req;
        let result = match resume {
            Some(token) => self.resume(session, token, peer),
            None => self.seat(session, &name, identity, peer),
        };
        if let Err(err) = &result {
            debug!(%err, "join refused");
        }
        // The connection may have given up waiting; then there is no one to tell.
        let _ = reply.send(result);
    }

    /// The Welcome of `ship`; its `player` carries the id only (a new
    /// identity's secret is added by the transport, which minted it).
    fn welcome(&self, ship: ShipId, token: ResumeToken, resumed: bool) -> Welcome {
        Welcome {
            ship,
            room: self.id.to_string(),
            tick: self.sim.tick(),
            resume: token,
            resumed,
            rules: self.config.rules.clone(),
            player: self
                .players
                .get(&ship)
                .and_then(|p| p.identity.as_ref())
                .map(|identity| PlayerGrant {
                    id: identity.id.to_string(),
                    secret: None,
                }),
        }
    }

    fn seat(
        &mut self,
        session: SessionId,
        name: &str,
        identity: Option<Identity>,
        peer: Peer,
    ) -> Result<Joined, JoinError> {
        if self.players.len() >= self.config.max_players {
            return Err(JoinError::RoomFull {
                room: self.id.to_string(),
                max: self.config.max_players,
            });
        }
        let Some(ship) = self.sim.try_spawn_player(name) else {
            return Err(JoinError::RoomFull {
                room: self.id.to_string(),
                max: self.config.max_players,
            });
        };
        let token = ResumeToken(self.by_token.issue(ship));
        let outbox = Outbox::new();
        self.players.insert(
            ship,
            Player {
                ship,
                name: name.to_owned(),
                peer,
                token: Verifier::of(&token.0),
                session,
                link: Link::Connected(outbox.clone()),
                ack: None,
                pending: 0,
                identity,
            },
        );
        self.by_session.insert(session, ship);
        self.publish_players();
        lifecycle!(self.public, player = ship.0, name, "player joined");
        Ok(Joined {
            welcome: self.welcome(ship, token, false),
            outbox,
        })
    }

    fn resume(
        &mut self,
        session: SessionId,
        token: ResumeToken,
        peer: Peer,
    ) -> Result<Joined, JoinError> {
        let rejected = || JoinError::ResumeRejected {
            room: self.id.to_string(),
        };
        let ship = *self.by_token.get(&token.0).ok_or_else(rejected)?;
        let player = self.players.get_mut(&ship).ok_or_else(rejected)?;
        let outbox = Outbox::new();
        let old = std::mem::replace(&mut player.link, Link::Connected(outbox.clone()));
        if let Link::Connected(old) = old {
            // The newer connection wins; the older learns why it was closed.
            old.close(
                CloseCode::SessionReplaced,
                "session resumed by another connection",
            );
        }
        self.by_session.remove(&player.session);
        player.session = session;
        player.peer = peer;
        player.ack = None;
        self.by_session.insert(session, ship);
        lifecycle!(self.public, player = ship.0, "player resumed");
        Ok(Joined {
            welcome: self.welcome(ship, token, true),
            outbox,
        })
    }

    fn file_input(&mut self, session: SessionId, input: Input) {
        let Some(player) = self
            .by_session
            .get(&session)
            .and_then(|ship| self.players.get_mut(ship))
        else {
            return;
        };
        let now = self.sim.tick();
        // An ack of a tick the room has not reached yet is a confused or
        // lying client: treat it as "nothing held" and send full snapshots.
        player.ack = input.ack.filter(|t| *t <= now);
        if player.pending >= MAX_PENDING_INPUTS {
            self.metrics.inputs_dropped.inc();
            return;
        }
        player.pending += 1;
        self.inputs.push((player.ship, input));
    }

    fn detach(&mut self, session: SessionId) {
        let Some(ship) = self.by_session.remove(&session) else {
            return;
        };
        if self.config.resume_grace.is_zero() {
            self.remove(ship, Removal::Disconnected);
            return;
        }
        if let Some(player) = self.players.get_mut(&ship) {
            player.link = Link::Detached {
                since: Instant::now(),
            };
            self.sim.clear_input(ship);
            lifecycle!(
                self.public,
                player = ship.0,
                "player disconnected; ship kept for resume"
            );
        }
    }

    fn remove(&mut self, ship: ShipId, why: Removal) {
        if let Some(player) = self.players.remove(&ship) {
            self.by_session.remove(&player.session);
            // By value: an adopted ship's token is known by its verifier.
            self.by_token.retain(|held| *held != ship);
            if let Link::Connected(outbox) = player.link {
                outbox.close(CloseCode::Normal, "left the room");
            }
            self.sim.remove_ship(ship);
            self.tally.forget(ship);
            self.publish_players();
            lifecycle!(
                self.public,
                player = ship.0,
                why = why.as_str(),
                "player removed"
            );
        }
    }

    fn publish_players(&self) {
        self.stats.players.store(
            u32::try_from(self.players.len()).unwrap_or(u32::MAX),
            Ordering::Relaxed,
        );
    }

    /// One fixed step: simulate, record, fan out, expire. Returns whether
    /// this tick ended a round (the boundary a draining room closes at).
    fn tick(&mut self) -> bool {
        let started = StdInstant::now();
        let output = self.sim.step(&self.inputs);
        self.inputs.clear();
        for player in self.players.values_mut() {
            player.pending = 0;
        }
        self.metrics
            .inputs_dropped
            .inc_by(u64::from(output.inputs_dropped));
        self.metrics
            .lag_comp_clamped
            .inc_by(u64::from(output.views_clamped));
        self.stats.tick.store(output.tick.0, Ordering::Relaxed);
        self.stats.last_tick.stamp();
        self.stats
            .round_ends
            .store(output.state.round.ends.0, Ordering::Relaxed);
        let round_ended = output
            .events
            .iter()
            .any(|e| matches!(e.kind, EventKind::RoundEnded { .. }));
        self.history.push(Frame {
            state: output.state,
            events: output.events,
        });
        // Players first: their writers are woken before the feed wakes
        // every spectator's stream, so on a busy core a player's snapshot
        // never queues behind thousands of spectator wake-ups (issue 19).
        self.fan_out();
        if let Some(frame) = self.history.latest() {
            self.feed.publish(frame);
            let players = &self.players;
            let finished = self.tally.observe(frame, &self.id, |ship| {
                players.get(&ship).and_then(|p| p.identity.clone())
            });
            if let Some(sink) = &self.config.rounds {
                let replays = self.feed.take_replays();
                let delay = self.feed.delay_ticks();
                self.handover
                    .tick(frame.state.tick, delay, finished, replays, sink);
            }
        }
        self.expire_detached();
        let took = started.elapsed();
        self.tick_seconds.observe(took.as_secs_f64());
        if self.recent_ticks.len() == RECENT_TICKS {
            self.recent_ticks.pop_front();
        }
        self.recent_ticks.push_back(took.as_secs_f32());
        if took.as_secs_f64() * f64::from(self.config.rules.tick_hz) > 0.5 {
            warn!(tick = %self.sim.tick(), micros = took.as_micros(), "slow tick: over half the budget");
        }
        round_ended
    }

    /// Puts each connected player's snapshot in its outbox, encoding each
    /// distinct baseline's body once (in crowded ticks, each player's own
    /// area of interest: `snapshot.rs`).
    fn fan_out(&mut self) {
        // Borrowed field by field: the frame is read in place, not copied
        // (every ship and shot) on each tick.
        let Room {
            history,
            bodies,
            players,
            metrics,
            ..
        } = self;
        let Some(frame) = history.latest() else {
            return;
        };
        let mut skipped = 0;
        for player in players.values() {
            let Link::Connected(outbox) = &player.link else {
                continue;
            };
            let body = match bodies.body_for(history, player.ack, Some(player.ship)) {
                Ok(Some(body)) => body,
                Ok(None) => continue,
                Err(err) => {
                    warn!(%err, "snapshot body failed to encode");
                    continue;
                }
            };
            let last_input = frame
                .state
                .ships
                .binary_search_by_key(&player.ship, |s| s.state.id)
                .map_or(0, |i| frame.state.ships[i].last_input);
            if outbox.put(SnapshotOut { last_input, body }) {
                skipped += 1;
            }
        }
        metrics.snapshots_skipped.inc_by(skipped);
    }

    fn expire_detached(&mut self) {
        let grace = self.config.resume_grace;
        let expired: Vec<ShipId> = self
            .players
            .values()
            .filter(|p| matches!(p.link, Link::Detached { since } if since.elapsed() >= grace))
            .map(|p| p.ship)
            .collect();
        for ship in expired {
            self.remove(ship, Removal::GraceExpired);
        }
    }
}
