//! The cluster ticker as this node's readers see it: one always-on
//! follower of the ticker's stream (`p:ticker:log`, channel `p:ticker:ev`),
//! so `GET /api/ticker` and `/api/ticker/poll` on every node serve the
//! same contiguous ids, `Last-Event-ID` resume, `reset` rules and board.
//!
//! It is the room follower (`follower.rs`: subscribe, then read, then
//! merge by predecessor) run on the ticker's keys under the feed name
//! [`TICKER_FEED`], in a follower set of its own so its mirror keeps as
//! many entries as a single node's ticker, subscribed on the node's one pub/sub
//! connection like every follower. This node holds it from start
//! to shutdown, so it never closes for want of readers. It never writes
//! to Redis (`ticker_writer.rs` does).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::directory::RedisDirectory;
use super::follower::{FollowError, FollowerSettings, Followers, Following};
use super::keys::TICKER_FEED;
use super::pubsub::PubSubHub;
use crate::metrics::Metrics;

/// This node's follower of the cluster ticker.
#[derive(Debug)]
pub struct TickerFollower {
    followers: Arc<Followers>,
    /// The node's own hold: keeps the follower running with no reader.
    _held: Following,
}

impl TickerFollower {
    /// Starts following the ticker, its mirror keeping `capacity` entries
    /// and reading after its head every `check`, on the node's pub/sub
    /// connection.
    ///
    /// # Errors
    /// The pub/sub connection carries all the channels it may (it carries
    /// none yet when the node starts).
    pub fn start(
        directory: Arc<RedisDirectory>,
        capacity: usize,
        check: Duration,
        metrics: Arc<Metrics>,
        hub: Arc<PubSubHub>,
        shutdown: CancellationToken,
        tracker: TaskTracker,
    ) -> Result<TickerFollower, FollowError> {
        // Held for the node's life, so the idle time never comes into play.
        let settings = FollowerSettings {
            capacity,
            idle: Duration::MAX,
            check,
            max_followed: 1,
            // The ticker's readers take no room slot (node-wide caps only,
            // as on a single node), so these permits are never asked for.
            max_spectators: tokio::sync::Semaphore::MAX_PERMITS,
            max_polls: tokio::sync::Semaphore::MAX_PERMITS,
        };
        let followers = Followers::new(directory, settings, metrics, hub, shutdown, tracker);
        let held = followers.hold(TICKER_FEED)?;
        Ok(TickerFollower {
            followers,
            _held: held,
        })
    }

    /// A reader's hold on the mirror, once its first read is done (up to
    /// twice the Redis timeout).
    ///
    /// # Errors
    /// The ticker has not been read from Redis yet (Redis down since this
    /// node started).
    pub async fn follow(&self) -> Result<Following, FollowError> {
        self.followers.follow(TICKER_FEED).await
    }
}
