//! The node's one Redis connection and the Lua scripts that run on it.
//!
//! One [`ConnectionManager`] (a multiplexed connection that reconnects by
//! itself) carries every command and script of the process. Scripts are
//! the files in `lua/`, each with `common.lua` in front, compiled into the
//! binary and sent by SHA (`EVALSHA`, loaded again after a Redis restart).
//! Every call is bounded by `--redis-timeout-ms`, timed into
//! `skirmish_redis_seconds{op}` and counted in `skirmish_redis_errors{op}`
//! when it fails. Nothing here retries: callers decide (the lease task backs
//! off, a request answers 503).

use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, RedisResult, Script};

use crate::metrics::{Metrics, OpLabel};

/// A script file with the shared prelude in front.
macro_rules! lua {
    ($file:literal) => {
        Script::new(concat!(
            include_str!("lua/common.lua"),
            include_str!(concat!("lua/", $file))
        ))
    };
}

/// Every script, hashed once per process.
#[derive(Debug)]
pub struct Scripts {
    /// Lease refresh and room publication.
    pub heartbeat: Script,
    /// Publish a new room and reserve a seat in it.
    pub claim: Script,
    /// Reserve a seat in a named or the fullest open room.
    pub reserve: Script,
    /// Spend a seat ticket on arrival.
    pub consume: Script,
    /// Live nodes and their rooms.
    pub survey: Script,
    /// Where a session lives.
    pub route: Script,
    /// Which live node owns one room.
    pub owner: Script,
    /// Leave the cluster on purpose.
    pub leave: Script,
    /// Copy a batch of a room's event log and publish it.
    pub append: Script,
    /// Read a room's log head, snapshot and entries.
    pub log_read: Script,
    /// Close the log of a room whose writer's lease ran out.
    pub lose: Script,
    /// Append score events and a node's top lines to the cluster ticker.
    pub ticker_append: Script,
    /// Offer a drained room to another node.
    pub offer: Script,
    /// Adopt an offered room.
    pub takeover: Script,
    /// End an offer: taken, or withdrawn.
    pub settle: Script,
}

/// The scripts, compiled in.
pub static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    heartbeat: lua!("heartbeat.lua"),
    claim: lua!("claim.lua"),
    reserve: lua!("reserve.lua"),
    consume: lua!("consume.lua"),
    survey: lua!("survey.lua"),
    route: lua!("route.lua"),
    owner: lua!("owner.lua"),
    leave: lua!("leave.lua"),
    append: lua!("append.lua"),
    log_read: lua!("log_read.lua"),
    lose: lua!("lose.lua"),
    ticker_append: lua!("ticker_append.lua"),
    offer: lua!("offer.lua"),
    takeover: lua!("takeover.lua"),
    settle: lua!("settle.lua"),
});

/// Why a Redis call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A follower the node needs from its start could not be opened.
    #[error(transparent)]
    Follow(#[from] super::follower::FollowError),
    /// Redis refused or the connection failed.
    #[error("redis {op}: {source}")]
    Redis {
        /// The call.
        op: &'static str,
        /// What the client said.
        #[source]
        source: RedisError,
    },
    /// No answer within `--redis-timeout-ms`.
    #[error("redis {op}: no answer within {after:?}")]
    Timeout {
        /// The call.
        op: &'static str,
        /// The bound.
        after: Duration,
    },
    /// The same call failed moments ago; not asked again so soon.
    #[error("redis {op}: {cause} (failed moments ago)")]
    Recent {
        /// The call.
        op: &'static str,
        /// Why it failed then.
        cause: String,
    },
    /// An answer of a shape the script never gives.
    #[error("redis {op}: unexpected answer: {what}")]
    Reply {
        /// The call.
        op: &'static str,
        /// What came back.
        what: String,
    },
}

/// The connection, with metrics.
#[derive(Clone)]
pub struct RedisLink {
    /// For the node's pub/sub connection (the multiplexed one cannot
    /// subscribe).
    client: redis::Client,
    conn: ConnectionManager,
    timeout: Duration,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection's Debug shows the URL, which may hold a password.
        f.debug_struct("RedisLink")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisLink {
    /// The node's metrics, for what a caller counts of a call's outcome.
    #[must_use]
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// A link to `url` that connects on first use, so a node starts (and
    /// plays locally) while Redis is still unreachable.
    ///
    /// # Errors
    /// The URL is not usable (validated with the settings already).
    pub fn open(url: &str, timeout: Duration, metrics: Arc<Metrics>) -> Result<Self, ClusterError> {
        let fail = |source| ClusterError::Redis {
            op: "connect",
            source,
        };
        let client = redis::Client::open(url).map_err(fail)?;
        // One quick retry inside the client; the callers own the backoff,
        // so a dead Redis costs each call one timeout, not a long stall.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(timeout);
        let conn = client.get_connection_manager_lazy(config).map_err(fail)?;
        Ok(RedisLink {
            client,
            conn,
            timeout,
            metrics,
        })
    }

    /// A connection handle for one call (cheap: the same multiplexed
    /// connection).
    pub fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// A new pub/sub connection (the node's one, see `pubsub.rs`),
    /// bounded by the timeout and timed as `pubsub_connect`.
    ///
    /// # Errors
    /// Redis is unreachable.
    pub async fn pubsub(&self) -> Result<redis::aio::PubSub, ClusterError> {
        self.call("pubsub_connect", self.client.get_async_pubsub())
            .await
    }

    /// How long one call may take.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Runs one call under the timeout, timing it as `op`.
    ///
    /// # Errors
    /// The call failed or timed out.
    pub async fn call<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, ClusterError> {
        let started = Instant::now();
        let result = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) => Err(ClusterError::Redis { op, source }),
            Err(_) => Err(ClusterError::Timeout {
                op,
                after: self.timeout,
            }),
        };
        let label = OpLabel { op };
        self.metrics
            .redis_seconds
            .get_or_create(&label)
            .observe(started.elapsed().as_secs_f64());
        if result.is_err() {
            self.metrics.redis_errors.get_or_create(&label).inc();
        }
        result
    }

    /// Counts an answer of the wrong shape as an error of `op`.
    pub fn reply_error(&self, op: &'static str, what: impl Into<String>) -> ClusterError {
        self.metrics
            .redis_errors
            .get_or_create(&OpLabel { op })
            .inc();
        ClusterError::Reply {
            op,
            what: what.into(),
        }
    }
}
