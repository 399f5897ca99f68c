//! Cluster mode (`--redis`): several nodes share one room directory,
//! matchmaking and seat reservations through Redis. Nothing here runs
//! without `--redis`.
//!
//! Rooms stay pinned to the node that opened them: the tick loop and the
//! World never leave it. What the cluster shares lives in Redis as soft
//! state with absolute values written by their owner, each expiring unless
//! refreshed: node leases, the rooms each node owns, seats and session
//! routes. See `docs/scaleout.md` for the keys and the guarantees.
//!
//! - [`redis`]: the one connection and the Lua scripts (in `lua/`).
//! - [`keys`]: key names under `--redis-prefix`.
//! - [`directory`]: reads and writes of the directory.
//! - [`lease`]: the task that keeps this node's lease and rooms published.
//! - [`log_writer`]: copies local rooms' event logs to Redis streams.
//! - [`follower`]: mirrors of other nodes' rooms for local readers.
//! - [`pubsub`]: the node's one pub/sub connection, shared by every
//!   subscriber.
//! - [`samples`]: local rooms' state samples to their Redis channels.
//! - [`ticker_writer`]: this node's score changes into the cluster ticker.
//! - [`ticker_follower`]: the cluster ticker's mirror for local readers.
//! - [`notices`]: the admin console's server messages to every node's rooms.
//! - [`handover`]: a draining node's rooms offered to, and adopted by,
//!   other nodes at their round boundary (a rolling deploy).
//!
//! A room task never awaits Redis, and nothing here awaits a room: the
//! lease task reads the registry's published figures (atomics) and writes
//! them out on its own clock; the lease and notice tasks hand rooms
//! commands with `try_send`. When Redis is slow or down, play goes on.

pub mod directory;
pub mod follower;
pub mod handover;
pub mod keys;
pub mod lease;
pub mod log_writer;
pub mod notices;
pub mod pubsub;
pub mod redis;
pub mod samples;
pub mod ticker_follower;
pub mod ticker_writer;

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::config::Config;
use crate::matchmaker::{SeatTicket, SessionRoutes};
use crate::metrics::Metrics;
use crate::node::Node;
use crate::room::Registry;
use crate::room::ticker::{TICKER_LOG_CAPACITY, Ticker};
use directory::{RedisDirectory, Survey};
use follower::{FollowerSettings, Followers};
use pubsub::PubSubHub;
use redis::{ClusterError, RedisLink};
use ticker_follower::TickerFollower;
use ticker_writer::TickerWriter;

/// Seated tickets waiting for the next lease refresh to release them. Past
/// this (Redis down for long), the oldest are forgotten: each then stays
/// counted until its held expiry (one lease), which can only under-fill a
/// room, never overfill it.
const MAX_SEATED: usize = 16_384;

/// How old a directory survey (or its failure) `GET /api/rooms`,
/// `/api/nodes` and the Hello check may use: however often they are asked,
/// each node surveys Redis at most this often.
const SURVEY_MAX_AGE: Duration = Duration::from_millis(250);

/// A survey, or why it failed.
type SurveyOutcome = Result<Arc<Survey>, String>;

/// This node's part in the cluster.
#[derive(Debug)]
pub struct Cluster {
    /// The shared directory.
    pub directory: Arc<RedisDirectory>,
    /// This node's followers of other nodes' rooms.
    pub followers: Arc<Followers>,
    /// This node's follower of the cluster ticker.
    pub ticker: TickerFollower,
    /// The node's one pub/sub connection: subscribe channels here.
    pub pubsub: Arc<PubSubHub>,
    /// Told by the lease task when Redis lost this node's keys; the log
    /// writer then rewrites every room's feed.
    feeds_lost: Arc<tokio::sync::Notify>,
    /// Tickets whose players were seated since the last refresh. A short
    /// push or a swap of the whole list; never held across an await.
    seated: Mutex<Vec<(Arc<str>, SeatTicket)>>,
    /// When the lease was last refreshed, while it is held.
    lease: Mutex<Option<Instant>>,
    lease_ttl: Duration,
    /// The last survey, or why it failed; the async lock makes concurrent
    /// readers share one Redis call instead of each making one, and a
    /// failure is kept as long as a survey, so readers queued behind a dead
    /// Redis get the error at once instead of one timeout each.
    survey: tokio::sync::Mutex<Option<(Instant, SurveyOutcome)>>,
    /// Publishing now, between refreshes (a room just opened here).
    publish: Publish,
    /// How long a join waits for that: twice `--redis-timeout-ms`.
    publish_within: Duration,
    /// Orders a lease refresh against a matchmaking open: the refresh
    /// reads the rooms and runs its script under the read side, the open
    /// creates its room and runs `claim` under the write side. Without it
    /// a refresh could publish (and so offer) a room opened for
    /// matchmaking before its claim took the first seat, other nodes'
    /// matchmakes could fill it, and the claim found it full; or a refresh
    /// that read the rooms before the open could run after the claim and
    /// withdraw the room with its reserved seat. Held for one Redis call
    /// at most on either side.
    opening: tokio::sync::RwLock<()>,
}

/// Asks for the lease task's next refresh now, and tells who asked when a
/// refresh that began after the ask has published. Counters only; no lock.
#[derive(Debug, Default)]
struct Publish {
    /// Wakes the lease task.
    wake: tokio::sync::Notify,
    /// Asks so far.
    asked: std::sync::atomic::AtomicU64,
    /// The asks the last successful refresh covered.
    done: tokio::sync::watch::Sender<u64>,
}

impl Cluster {
    /// Opens the link to Redis and starts the lease task; the node joins
    /// the cluster at its first refresh (at once when Redis answers).
    /// From now on `ticker`'s scores go to the cluster ticker.
    ///
    /// # Errors
    /// `--redis` is missing or unusable.
    #[expect(
        clippy::too_many_arguments,
        reason = "the node's parts the cluster joins, each built by AppState"
    )]
    pub fn start(
        config: &Config,
        node: Arc<Node>,
        registry: Arc<Registry>,
        ticker: &Ticker,
        routes: Arc<SessionRoutes>,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
        tracker: &TaskTracker,
    ) -> Result<Arc<Cluster>, ClusterError> {
        let link = RedisLink::open(
            config.redis.as_deref().unwrap_or_default(),
            Duration::from_millis(config.redis_timeout_ms),
            metrics.clone(),
        )?;
        let lease_ttl = Duration::from_millis(config.lease_ttl_ms);
        let directory = Arc::new(RedisDirectory::new(
            link,
            &config.redis_prefix,
            node.clone(),
            lease_ttl,
            Duration::from_millis(config.seat_ttl_ms),
        ));
        let capacity = config.event_log_capacity as usize;
        let feeds_lost = Arc::new(tokio::sync::Notify::new());
        let (writer, replicas) = log_writer::LogWriter::new(
            directory.clone(),
            capacity,
            feeds_lost.clone(),
            metrics.clone(),
        );
        let log_written = CancellationToken::new();
        tracker.spawn({
            let (shutdown, log_written) = (shutdown.clone(), log_written.clone());
            async move {
                writer.run(shutdown).await;
                log_written.cancel();
            }
            .instrument(tracing::info_span!("log_writer", node = %node.id))
        });
        registry.replicate_with(replicas);
        let sample_period = Duration::from_secs(1) / u32::from(config.spectator_hz.max(1));
        tracker.spawn(
            samples::run(
                directory.clone(),
                registry.clone(),
                sample_period,
                shutdown.clone(),
            )
            .instrument(tracing::info_span!("samples", node = %node.id)),
        );
        let pubsub = PubSubHub::new(directory.link().clone(), metrics.clone());
        tracker.spawn(
            pubsub
                .clone()
                .run(shutdown.clone())
                .instrument(tracing::info_span!("pubsub", node = %node.id)),
        );
        tracker.spawn(
            notices::run(
                pubsub.clone(),
                directory.clone(),
                registry.clone(),
                shutdown.clone(),
            )
            .instrument(tracing::info_span!("notices", node = %node.id)),
        );
        let handovers = handover::start(
            directory.clone(),
            node.clone(),
            lease_ttl,
            registry.clone(),
            &pubsub,
            shutdown.clone(),
            tracker,
        );
        if !config.no_handover {
            registry.hand_over_with(Arc::new(handovers));
        }
        let (ticker_writer, sink) = TickerWriter::new(
            directory.clone(),
            TICKER_LOG_CAPACITY,
            usize::from(config.ticker_top),
            metrics.clone(),
        );
        tracker.spawn(
            ticker_writer
                .run(shutdown.clone())
                .instrument(tracing::info_span!("ticker_writer", node = %node.id)),
        );
        ticker.send_to(sink);
        let ticker = TickerFollower::start(
            directory.clone(),
            TICKER_LOG_CAPACITY,
            Duration::from_millis(config.follower_check_ms),
            metrics.clone(),
            pubsub.clone(),
            shutdown.clone(),
            tracker.clone(),
        )?;
        let followers = Followers::new(
            directory.clone(),
            FollowerSettings {
                capacity,
                idle: Duration::from_millis(config.follower_idle_ms),
                check: Duration::from_millis(config.follower_check_ms),
                max_followed: config.max_followed_rooms as usize,
                max_spectators: config.max_spectators_per_room as usize,
                max_polls: config.max_polls_per_room as usize,
            },
            metrics.clone(),
            pubsub.clone(),
            shutdown.clone(),
            tracker.clone(),
        );
        let cluster = Arc::new(Cluster {
            directory,
            followers,
            ticker,
            pubsub,
            feeds_lost,
            seated: Mutex::default(),
            lease: Mutex::default(),
            lease_ttl,
            survey: tokio::sync::Mutex::default(),
            publish: Publish::default(),
            publish_within: 2 * Duration::from_millis(config.redis_timeout_ms),
            opening: tokio::sync::RwLock::new(()),
        });
        let lease = lease::LeaseTask {
            cluster: cluster.clone(),
            registry,
            routes,
            refresh: Duration::from_millis(config.lease_refresh_ms),
            lease_ttl,
            metrics,
            log_written,
        };
        tracker.spawn(
            lease
                .run(shutdown)
                .instrument(tracing::info_span!("lease", node = %node.id)),
        );
        Ok(cluster)
    }

    /// Whether this node holds its lease: refreshed within the lease's
    /// lifetime, and not held by another start of the same node id.
    #[must_use]
    pub fn lease_held(&self) -> bool {
        self.lease
            .lock()
            .is_some_and(|at| at.elapsed() < self.lease_ttl)
    }

    fn set_lease(&self, refreshed: Option<Instant>) {
        *self.lease.lock() = refreshed;
    }

    /// A ticket's player is seated: release its held seat at the next
    /// refresh, which publishes a count that includes the player.
    pub fn seated(&self, room: Arc<str>, ticket: SeatTicket) {
        let mut seated = self.seated.lock();
        if seated.len() >= MAX_SEATED {
            seated.remove(0);
        }
        seated.push((room, ticket));
    }

    fn take_seated(&self) -> Vec<(Arc<str>, SeatTicket)> {
        std::mem::take(&mut *self.seated.lock())
    }

    /// Puts back tickets a failed refresh did not release.
    fn restore_seated(&self, mut earlier: Vec<(Arc<str>, SeatTicket)>) {
        let mut seated = self.seated.lock();
        earlier.append(&mut seated);
        let excess = earlier.len().saturating_sub(MAX_SEATED);
        earlier.drain(..excess);
        *seated = earlier;
    }

    /// Publishes this node's rooms now rather than at the next refresh,
    /// and waits (at most twice `--redis-timeout-ms`) until a refresh that
    /// began after this call has: a room opened by name is then visible to every node
    /// before its first player hears Welcome, so nobody is sent to it on
    /// its owner and told it does not exist on the next node.
    pub async fn publish_now(&self) {
        use std::sync::atomic::Ordering;
        let ask = self.publish.asked.fetch_add(1, Ordering::AcqRel) + 1;
        let mut done = self.publish.done.subscribe();
        self.publish.wake.notify_one();
        let published =
            tokio::time::timeout(self.publish_within, done.wait_for(|n| *n >= ask)).await;
        if published.is_err() {
            tracing::warn!("a new room was not published in time; it is at the next refresh");
        }
    }

    /// For the lease task: the asks a refresh starting now covers.
    fn publish_asked(&self) -> u64 {
        self.publish
            .asked
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// For the lease task: a refresh covering `asked` asks has published.
    fn published(&self, asked: u64) {
        self.publish.done.send_if_modified(|n| {
            let newer = asked > *n;
            *n = (*n).max(asked);
            newer
        });
    }

    /// Held while a room opened for matchmaking is created and claimed: no
    /// lease refresh reads the rooms or publishes them meanwhile (see
    /// `opening`).
    pub async fn opening_room(&self) -> tokio::sync::RwLockWriteGuard<'_, ()> {
        self.opening.write().await
    }

    /// For the lease task: held from reading the rooms until their refresh
    /// has run, so it runs wholly before or wholly after an open's claim.
    async fn refreshing(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.opening.read().await
    }

    /// For the lease task: until someone asks to publish now.
    async fn publish_wanted(&self) {
        self.publish.wake.notified().await;
    }

    /// The live node that owns `room` (id and public URL): from the
    /// cached survey, or, for a room it does not list (newer than it), from
    /// the room's own entry in Redis.
    ///
    /// # Errors
    /// Redis failed.
    pub async fn owner_of(&self, room: &str) -> Result<Option<(String, String)>, ClusterError> {
        let survey = self.survey().await?;
        if let Some(r) = survey.rooms.iter().find(|r| r.summary.id == room) {
            return Ok(Some((r.node.clone(), r.url.clone())));
        }
        self.directory.owner(room).await
    }

    /// Every live node and room, at most [`SURVEY_MAX_AGE`] old.
    ///
    /// # Errors
    /// Redis failed.
    pub async fn survey(&self) -> Result<Arc<Survey>, ClusterError> {
        let mut cached = self.survey.lock().await;
        if let Some((at, survey)) = &*cached
            && at.elapsed() < SURVEY_MAX_AGE
        {
            return survey.clone().map_err(|cause| ClusterError::Recent {
                op: "survey",
                cause,
            });
        }
        let survey = self.directory.survey().await.map(Arc::new);
        *cached = Some((
            Instant::now(),
            survey.as_ref().map(Arc::clone).map_err(ToString::to_string),
        ));
        survey
    }
}
