//! Which log a room's spectators and pollers read on this node: the room's
//! own log when it runs here (or, on a draining node, the log of a room it
//! handed over, which ends with the adopter's `moved`); in cluster mode,
//! for a room another live node
//! owns, this node's follower mirror of it (same ids, same resume and reset
//! rules). Never opens a room. The same for the ticker: the node's own
//! log, or in cluster mode the mirror of the cluster ticker.

use std::net::IpAddr;
use std::sync::Arc;

use skirmish_shared::http::ApiErrorCode;
use tokio::sync::watch;

use super::AppState;
use super::api::ApiError;
use super::slots::RoomSlots;
use crate::cluster::follower::Following;
use crate::room::RoomHandle;
use crate::room::event_log::EventLog;
use crate::room::feed::SampleFrame;

/// A room's readable side on this node.
#[derive(Debug)]
pub struct RoomFeed {
    /// The log to read.
    pub log: Arc<EventLog>,
    /// Its state samples.
    pub samples: Option<watch::Receiver<Arc<SampleFrame>>>,
    /// The room, when it runs here.
    pub local: Option<RoomHandle>,
    /// The hold on the follower, for a room of another node: keep it as
    /// long as the reader reads.
    pub following: Option<Following>,
}

impl RoomFeed {
    /// The room's reader slots on this node: the room's own, or its
    /// follower's, so the per-room caps hold on every node.
    #[must_use]
    pub fn slots(&self) -> Option<&dyn RoomSlots> {
        match (&self.local, &self.following) {
            (Some(room), _) => Some(room),
            (None, Some(following)) => Some(following),
            (None, None) => None,
        }
    }
}

/// The feed of room `id` for `client`, which offers `invite` (a private
/// room's code; private rooms run on this node only, as the directory
/// never lists them).
///
/// # Errors
/// 404 when no live node has the room (and it was not lost with its
/// node); 403 for a private room without its
/// code, 429 past the address's rate of wrong codes; 503 when the cluster
/// directory or the room's log in Redis cannot be read now.
pub async fn find(
    app: &AppState,
    id: &str,
    invite: Option<&str>,
    client: IpAddr,
) -> Result<RoomFeed, ApiError> {
    let local = app.registry.watch(id, invite, client).map_err(|err| {
        app.metrics.reject(err.reason());
        ApiError::join_refused(err)
    })?;
    if let Some(room) = local {
        return Ok(RoomFeed {
            log: room.feed.log.clone(),
            samples: Some(room.feed.samples.clone()),
            local: Some(room),
            following: None,
        });
    }
    if let Some(log) = app.registry.handed_log(id) {
        // Handed over (a drain): read up to the adopter's `moved`, then
        // resume after it on any node.
        return Ok(RoomFeed {
            log,
            samples: None,
            local: None,
            following: None,
        });
    }
    let no_room = || ApiError::new(ApiErrorCode::NoRoom, format!("no room {id:?}"));
    let Some(cluster) = app.matchmaker.cluster() else {
        return Err(no_room());
    };
    let unavailable =
        |err: String| ApiError::new(ApiErrorCode::DirectoryUnavailable, err).retry_after(1);
    let owner = cluster
        .owner_of(id)
        .await
        .map_err(|err| unavailable(err.to_string()))?;
    let node = &app.matchmaker.node().id;
    let remote = matches!(&owner, Some((owner, _)) if owner != node);
    let following = if remote {
        cluster
            .followers
            .follow(id)
            .await
            .map_err(|err| unavailable(err.to_string()))?
    } else if let Some(mirror) = cluster.followers.closed_mirror(id) {
        // A room that just closed (say, drained) may still be mirrored here.
        mirror
    } else if owner.is_none()
        && cluster
            .directory
            .lost(id)
            .await
            .map_err(|err| unavailable(err.to_string()))?
    {
        // A room lost with its node is still read (to its `closed` entry)
        // while its log lasts, so a reader resuming after the loss is
        // told why the room ended, not just that it is unknown.
        cluster
            .followers
            .follow(id)
            .await
            .map_err(|err| unavailable(err.to_string()))?
    } else {
        return Err(no_room());
    };
    Ok(RoomFeed {
        log: following.log().clone(),
        samples: Some(following.samples()),
        local: None,
        following: Some(following),
    })
}

/// The ticker's readable side on this node: the log to read, and in
/// cluster mode the hold on the cluster ticker's follower (keep it as long
/// as the reader reads).
///
/// # Errors
/// 503 when the cluster ticker has not been read from Redis yet.
pub async fn ticker(app: &AppState) -> Result<(Arc<EventLog>, Option<Following>), ApiError> {
    let Some(cluster) = app.matchmaker.cluster() else {
        return Ok((app.registry.ticker().clone(), None));
    };
    let following = cluster.ticker.follow().await.map_err(|err| {
        ApiError::new(ApiErrorCode::DirectoryUnavailable, err.to_string()).retry_after(1)
    })?;
    Ok((following.log().clone(), Some(following)))
}
