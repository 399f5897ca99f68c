//! The lease task: every `--lease-refresh-ms`, and at once when a room
//! opened here ([`Cluster::publish_now`]), it refreshes this node's lease
//! and publishes its rooms (one script call), then the routes of its
//! sessions (one pipeline). On a clean stop it takes the node
//! out of the directory. A room the refresh reports lost (the cluster
//! closed it while this node was cut off past its lease) is ended here
//! with [`RoomCmd::Lost`].
//!
//! A node whose own lease lapsed while it was stopped (SIGSTOP, a stall, a
//! suspended VM: its last refresh is older than the lease and no refresh
//! failed since) rejoins under a new boot id before its next refresh, so
//! the cluster sees a new incarnation and trusts nothing the old one held.
//! A node that could not reach Redis keeps its identity: it knew it was
//! cut off, and Redis may have restarted empty with nothing lost.
//!
//! It reads the registry's figures, which the rooms keep in atomics, and
//! sends a room nothing but that `Lost` (a `try_send`, never awaited): a
//! slow or dead Redis delays only this task. A failed refresh is logged and retried with a doubling backoff
//! (from 100 ms, never slower than the refresh interval), so the lease
//! comes back within one interval of Redis returning, even after Redis
//! lost every key.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::Cluster;
use super::directory::Lease;
use crate::matchmaker::SessionRoutes;
use crate::metrics::Metrics;
use crate::room::{Registry, RoomCmd};

/// The first retry after a failed refresh; doubled after each failure.
const FIRST_RETRY: Duration = Duration::from_millis(100);

/// Failures between two log lines while Redis stays down.
const LOG_EVERY: u32 = 20;

/// Longest a stopping node waits for its log writer's last round before it
/// leaves the cluster anyway (Redis down: the lease then just expires).
const LAST_WRITES: Duration = Duration::from_secs(3);

/// What the lease task needs.
#[derive(Debug)]
pub struct LeaseTask {
    /// The cluster it keeps this node in.
    pub cluster: Arc<Cluster>,
    /// Where the rooms' figures come from.
    pub registry: Arc<Registry>,
    /// The sessions to route here.
    pub routes: Arc<SessionRoutes>,
    /// Interval between refreshes.
    pub refresh: Duration,
    /// A lease's lifetime: how long a route outlives its session's grace
    /// when this node stops refreshing it.
    pub lease_ttl: Duration,
    /// For `skirmish_cluster_nodes`.
    pub metrics: Arc<Metrics>,
    /// Cancelled once the log writer has sent its last round. Leaving
    /// before it would let another node's follower see the lease gone
    /// and close a drained room as `server_lost` before this node's own
    /// `closed` (`server_drain`) reached Redis.
    pub log_written: CancellationToken,
}

impl LeaseTask {
    /// Ends the rooms the cluster declared lost while this node was cut
    /// off past its lease: their logs in Redis are closed for good
    /// (`append` answers `fenced`), so they can only end. Each room is
    /// told once it takes the command; a full inbox is retried at the next
    /// refresh, which reports the room again while it runs.
    fn end_lost(&self, lost: &[String]) {
        for room in lost {
            let Some(handle) = self.registry.get(room) else {
                continue;
            };
            if handle.inbox.try_send(RoomCmd::Lost).is_ok() {
                warn!(
                    room,
                    "the cluster declared this room lost while this node was cut off \
                     past its lease; its players are closed with 4003"
                );
            }
        }
    }

    /// Refreshes until shutdown, then leaves the cluster.
    pub async fn run(self, shutdown: CancellationToken) {
        let directory = &self.cluster.directory;
        let mut failures: u32 = 0;
        let mut wait = Duration::ZERO;
        let mut conflicts: Vec<String> = Vec::new();
        let mut held_before = false;
        // When the last refresh that held the lease returned.
        let mut held_at: Option<Instant> = None;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
                // A room opened here: publish it now.
                () = self.cluster.publish_wanted() => {}
            }
            let started = Instant::now();
            if failures == 0 && held_at.is_some_and(|at| at.elapsed() > self.lease_ttl) {
                let lapsed_ms = held_at.map_or(0, |at| at.elapsed().as_millis());
                let boot = directory.renew_boot();
                self.metrics.identity_renewals.inc();
                warn!(
                    lapsed_ms,
                    %boot,
                    "this node's lease lapsed while it was stopped; \
                     rejoining the cluster under a new boot id"
                );
            }
            let asked = self.cluster.publish_asked();
            // No matchmaking open between reading the rooms and publishing
            // them: each room is offered only once its claim has run.
            let refreshing = self.cluster.refreshing().await;
            // Taken before the rooms are read, so every ticket released
            // here belongs to a player the published count includes.
            let seated = self.cluster.take_seated();
            let rooms = self.registry.list();
            let draining = self.registry.is_shutting_down();
            let refreshed = directory.heartbeat(&rooms, &seated, draining).await;
            drop(refreshing);
            match refreshed {
                Ok(Lease::Held {
                    live_nodes,
                    fresh,
                    conflicts: now_conflicting,
                    lost,
                }) => {
                    self.end_lost(&lost);
                    if fresh {
                        // Whatever this node wrote may be gone: rewrite
                        // every room's feed now rather than at its next
                        // event or idle refresh, so other nodes can read
                        // it again.
                        self.cluster.feeds_lost.notify_one();
                        if held_before {
                            self.metrics.redis_data_losses.inc();
                            warn!(
                                "this node's keys were gone from Redis; rewriting every room's feed"
                            );
                        }
                    }
                    held_before = true;
                    held_at = Some(Instant::now());
                    self.cluster.set_lease(Some(started));
                    self.cluster.published(asked);
                    self.metrics
                        .cluster_nodes
                        .set(i64::try_from(live_nodes).unwrap_or(i64::MAX));
                    if failures > 0 {
                        info!(failures, "lease refreshed again");
                    }
                    failures = 0;
                    wait = self.refresh;
                    for room in now_conflicting.iter().filter(|r| !conflicts.contains(r)) {
                        warn!(
                            room,
                            "another live node publishes this room id; it stays local"
                        );
                    }
                    conflicts = now_conflicting;
                    if let Err(err) = directory
                        .write_routes(&self.routes.live_routes(), self.lease_ttl)
                        .await
                    {
                        warn!(%err, "session routes not refreshed");
                    }
                }
                Ok(Lease::Taken { by_boot }) => {
                    self.cluster.set_lease(None);
                    self.cluster.restore_seated(seated);
                    if failures.is_multiple_of(LOG_EVERY) {
                        warn!(
                            other_boot = %by_boot,
                            "another start of this node id holds its lease; \
                             joining when it expires"
                        );
                    }
                    failures = failures.saturating_add(1);
                    wait = self.refresh;
                }
                Err(err) => {
                    self.cluster.restore_seated(seated);
                    if failures.is_multiple_of(LOG_EVERY) {
                        warn!(%err, failures, "lease not refreshed; retrying");
                    }
                    failures = failures.saturating_add(1);
                    wait = FIRST_RETRY
                        .saturating_mul(1 << (failures - 1).min(16))
                        .min(self.refresh);
                }
            }
            // The lease lapses by itself once it is older than its ttl.
        }
        if tokio::time::timeout(LAST_WRITES, self.log_written.cancelled())
            .await
            .is_err()
        {
            warn!("the log writer's last round is late; leaving the cluster before it");
        }
        self.cluster.set_lease(None);
        match directory.leave().await {
            Ok(()) => info!("left the cluster"),
            Err(err) => warn!(%err, "could not leave the cluster; the lease will expire"),
        }
    }
}
