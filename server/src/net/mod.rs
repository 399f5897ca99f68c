//! Everything that speaks HTTP or WebSocket. Handlers extract, validate and
//! hand over to rooms; they hold no game state of their own.
//!
//! - [`router`]: every route in one place.
//! - [`ws`]: the player WebSocket.
//! - [`sse`]: spectator and ticker event streams.
//! - [`longpoll`]: watching and playing over plain request/response.
//! - [`sessions`]: the tokens of long-poll players.
//! - [`api`]: JSON endpoints (room list, health) and the JSON error type.
//! - [`matchmake`]: `POST /api/matchmake` and `GET /api/nodes`.
//! - [`flood`]: the inbound rate limit of player transports.
//! - [`rate`]: per-address request rates (matchmaking).
//! - [`origin`]: which browser origins may open sockets and read the API.
//! - [`room_feed`]: which log a room's readers read here (its own, or a
//!   follower's mirror of another node's room).
//! - [`slots`]: the spectator and poll slots, per room, per address and in
//!   all.
//! - [`history`]: players, match history and leaderboards (JSON, read from
//!   the storage).
//! - [`replay`]: finished rounds' replays, streamed (SSE) or downloaded.

pub mod api;
pub mod flood;
pub mod history;
pub mod longpoll;
pub mod matchmake;
pub mod origin;
pub mod rate;
pub mod replay;
pub mod room_feed;
pub mod router;
pub mod sessions;
pub mod slots;
pub mod sse;
pub mod stream_gzip;
pub mod ws;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::address_limit::AddressLimit;
use crate::cluster::Cluster;
use crate::cluster::redis::ClusterError;
use crate::config::Config;
use crate::listener::ConnLimits;
use crate::matchmaker::{Matchmaker, SessionRoutes};
use crate::metrics::Metrics;
use crate::node::Node;
use crate::room::Registry;
use crate::room::event_ids::IdAllocator;
use crate::room::invite::InviteGuard;
use crate::room::quota::RoomQuota;
use crate::room::registry::Admission;
use crate::room::ticker::{TICKER_LOG_CAPACITY, Ticker, run_board};
use crate::storage::Storage;
use sessions::{SessionStore, run_sweeper};

/// What every handler can reach. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(Arc<AppInner>);

/// The shared parts behind [`AppState`].
#[derive(Debug)]
pub struct AppInner {
    /// Validated settings.
    pub config: Config,
    pub registry: Arc<Registry>,
    /// Cancelled when the server starts shutting down.
    pub shutdown: CancellationToken,
    /// Every connection and room task, so shutdown can wait for them.
    pub tracker: TaskTracker,
    /// Open TCP connections, in all and per address (the accept loop
    /// admits against them).
    pub connections: Arc<ConnLimits>,
    /// One slot per spectator or ticker stream: `--max-spectators` in all,
    /// `--max-spectators-per-ip` per client address, whatever connections
    /// (or HTTP/2 streams of one connection) they come over.
    pub spectators: Arc<AddressLimit>,
    /// One slot per waiting long poll: `--max-polls` in all,
    /// `--max-polls-per-ip` per client address.
    pub polls: Arc<AddressLimit>,
    /// Long-poll players by token.
    pub legacy: Arc<SessionStore>,
    /// Everything `/metrics` reports.
    pub metrics: Arc<Metrics>,
    /// Browser origins allowed to open player sockets and read the API.
    pub origins: origin::OriginPolicy,
    /// Seats, tickets and the room list, alone or in a cluster.
    pub matchmaker: Matchmaker,
    /// Matchmakes per client address (each holds a seat for a while).
    pub matchmake_rate: rate::PerAddressRate,
    /// Players, match history and leaderboards; `None` with
    /// `--no-database`.
    pub storage: Option<Storage>,
    /// One slot per replay request while it is answered or streamed:
    /// `--max-replay-streams` in all, `--max-replay-streams-per-ip` per
    /// client address (each holds a decoded replay).
    pub replays: Arc<AddressLimit>,
    /// The admin API, when an admin token is configured.
    pub admin: Option<crate::admin::Admin>,
    /// Signed player tokens every join must carry (`--auth-jwt-key`);
    /// `None` for anonymous play.
    pub player_auth: Option<Arc<crate::auth::PlayerAuth>>,
    /// One permit per gzip-compressed event stream (`--max-gzip-streams`):
    /// each holds a deflate state of a few hundred KB; past the cap
    /// streams go out plain.
    pub gzip_streams: Arc<tokio::sync::Semaphore>,
}

/// The address a request came from (limits key it by [`crate::listener::limit_key`]).
/// Every request the listener serves carries its
/// connection's slot; one without (a router served some other way) counts
/// as the unspecified address, so all such requests share one budget.
pub(crate) fn client_of(slot: Option<&crate::listener::ConnSlot>) -> std::net::IpAddr {
    slot.map_or(
        std::net::Ipv4Addr::UNSPECIFIED.into(),
        crate::listener::ConnSlot::address,
    )
}

impl std::ops::Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl AppState {
    /// The compressor for an event stream asked for with `headers`; `None`
    /// sends it plain (see [`stream_gzip`]).
    #[must_use]
    pub fn stream_gzip(&self, headers: &axum::http::HeaderMap) -> Option<stream_gzip::StreamGzip> {
        stream_gzip::StreamGzip::negotiate(self.config.sse_gzip, &self.gzip_streams, headers)
    }

    /// An operator's drain: as SIGTERM, rooms with players finish their
    /// round first when the node drains rounds (cluster mode); otherwise
    /// everything stops now. `main` waits on the draining token and stops
    /// the process either way.
    pub fn begin_drain(&self) {
        if self.registry.drains_rounds() {
            self.registry.draining().cancel();
        } else {
            self.shutdown.cancel();
        }
    }

    /// The identity a new ship plays under: `None` when the server keeps no
    /// records or the database could not be asked (see
    /// [`Storage::resolve`]).
    pub async fn resolve_identity(
        &self,
        key: Option<&skirmish_shared::PlayerKey>,
    ) -> Option<crate::storage::Resolved> {
        match &self.storage {
            Some(storage) => storage.resolve(key).await,
            None => None,
        }
    }

    /// Checks a join's signed player token when the server requires one:
    /// `Ok(None)` for anonymous play, the token's player, or the refusal
    /// (counted, and logged by reason only: never the token).
    ///
    /// # Errors
    /// The token is missing, invalid or expired.
    pub fn check_player_token(
        &self,
        token: Option<&skirmish_shared::PlayerToken>,
        name: &str,
    ) -> Result<Option<crate::auth::TokenPlayer>, crate::auth::TokenRefusal> {
        let Some(auth) = &self.player_auth else {
            return Ok(None);
        };
        auth.check(token, name).map(Some).inspect_err(|refusal| {
            self.metrics.reject(crate::metrics::Rejection::PlayerToken);
            tracing::debug!(why = %refusal, "join refused");
        })
    }

    /// The identity a joining player plays under: its token's subject
    /// when it has one, else its device key's ([`Self::resolve_identity`]).
    /// `None` without a database, as for device keys.
    pub async fn join_identity(
        &self,
        token: Option<&crate::auth::TokenPlayer>,
        key: Option<&skirmish_shared::PlayerKey>,
    ) -> Option<crate::storage::Resolved> {
        match token {
            Some(player) => self.storage.as_ref().map(|_| crate::storage::Resolved {
                identity: player.identity.clone(),
                new_secret: None,
            }),
            None => self.resolve_identity(key).await,
        }
    }

    /// Builds the state and starts the default room and the ticker, and
    /// in cluster mode the lease task. `admin_token` (read from the config
    /// by the caller, which reports a bad token file) opens the admin API.
    ///
    /// # Errors
    /// `--redis` is unusable.
    #[expect(
        clippy::too_many_arguments,
        reason = "each is built (and its failure reported) by the caller at start"
    )]
    pub fn new(
        config: Config,
        node: Node,
        metrics: Arc<Metrics>,
        storage: Option<Storage>,
        shutdown: CancellationToken,
        tracker: TaskTracker,
        admin_token: Option<crate::admin::token::AdminToken>,
        player_auth: Option<Arc<crate::auth::PlayerAuth>>,
    ) -> Result<AppState, ClusterError> {
        let ticker = Ticker::new(
            TICKER_LOG_CAPACITY,
            usize::from(config.ticker_top),
            IdAllocator::process(),
        );
        let mut room_config = config.room_config();
        room_config.rounds = storage.as_ref().map(|s| s.rounds().clone());
        let registry = Registry::new(
            room_config,
            node.room_names(&config.default_room),
            shutdown.clone(),
            tracker.clone(),
            ticker.clone(),
            metrics.clone(),
            Admission {
                quota: RoomQuota::new(
                    config.max_rooms as usize,
                    config.new_rooms_per_ip_per_min,
                    Duration::from_secs(config.empty_room_secs),
                ),
                invites: InviteGuard::new(config.invite_tries_per_ip_per_min),
            },
        );
        let connections = ConnLimits::new(
            config.max_connections as usize,
            config.max_connections_per_ip as usize,
            metrics.connections.clone(),
        );
        let spectators = AddressLimit::new(
            config.max_spectators as usize,
            config.max_spectators_per_ip as usize,
        );
        let polls = AddressLimit::new(config.max_polls as usize, config.max_polls_per_ip as usize);
        let config_replays = (config.max_replay_streams, config.max_replay_streams_per_ip);
        let config_gzip_streams = config.max_gzip_streams as usize;
        let routes = Arc::new(SessionRoutes::new(Duration::from_secs(
            config.resume_grace_secs,
        )));
        let legacy = Arc::new(SessionStore::new(
            Duration::from_secs(config.legacy_idle_secs),
            config.max_legacy_sessions as usize,
            config.max_msgs_per_sec,
            routes.clone(),
            metrics.clone(),
        ));
        tracker.spawn(run_sweeper(legacy.clone(), shutdown.clone()));
        let origins = origin::OriginPolicy::new(&config.allowed_origins);
        let node = Arc::new(node);
        let matchmaker = if config.clustered() {
            let cluster = Cluster::start(
                &config,
                node.clone(),
                registry.clone(),
                &ticker,
                routes.clone(),
                metrics.clone(),
                shutdown.clone(),
                &tracker,
            )?;
            Matchmaker::clustered(node, registry.clone(), routes, cluster, metrics.clone())
        } else {
            Matchmaker::local(
                node,
                registry.clone(),
                routes,
                Duration::from_millis(config.seat_ttl_ms),
                metrics.clone(),
            )
        };
        // After the cluster took the ticker's scores (in cluster mode), so
        // its first board, sent at once, creates the cluster ticker.
        tracker.spawn(run_board(
            registry.clone(),
            ticker,
            Duration::from_secs(config.ticker_board_secs),
            shutdown.clone(),
        ));
        Ok(AppState(Arc::new(AppInner {
            admin: admin_token.map(crate::admin::Admin::new),
            player_auth,
            matchmaker,
            matchmake_rate: rate::PerAddressRate::per_second(
                config.matchmakes_per_sec,
                rate::MAX_TRACKED_ADDRESSES,
            ),
            origins,
            config,
            registry,
            shutdown,
            tracker,
            connections,
            spectators,
            polls,
            legacy,
            metrics,
            storage,
            replays: AddressLimit::new(config_replays.0 as usize, config_replays.1 as usize),
            gzip_streams: Arc::new(tokio::sync::Semaphore::new(config_gzip_streams)),
        })))
    }
}
