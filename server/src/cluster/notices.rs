//! The admin console's server messages across the cluster. A notice sent
//! on one node's console (`POST /admin/api/notice`) goes to that node's
//! rooms at once and is published on `p:notice`; every other node's notice
//! task hands it to its own rooms, so every player and spectator of the
//! cluster sees it, whichever node the operator asked.
//!
//! Owns the channel's message format (`<sender's fence>\n<text>`). Never
//! waits on a room (rooms get `try_send`: a room whose inbox is full misses
//! the notice, as a HUD line is not worth delaying its inputs) and never
//! stores a notice: one published while a node's pub/sub connection is
//! down is not replayed to it (docs/operations.md).

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use super::directory::RedisDirectory;
use super::pubsub::PubSubHub;
use super::redis::ClusterError;
use crate::room::RoomCmd;
use crate::room::registry::Registry;

/// Publishes `text` for the other nodes; answers how many nodes' pub/sub
/// connections received it (this node's own included).
///
/// # Errors
/// Redis did not answer in time, or refused.
pub async fn publish(directory: &RedisDirectory, text: &str) -> Result<u64, ClusterError> {
    let payload = format!("{}\n{text}", directory.fence());
    let mut conn = directory.link().conn();
    directory
        .link()
        .call(
            "publish_notice",
            redis::cmd("PUBLISH")
                .arg(directory.keys().notice_channel())
                .arg(payload)
                .query_async::<u64>(&mut conn),
        )
        .await
}

/// Hands every notice another node publishes to this node's rooms, until
/// shutdown.
pub async fn run(
    hub: Arc<PubSubHub>,
    directory: Arc<RedisDirectory>,
    registry: Arc<Registry>,
    shutdown: CancellationToken,
) {
    let channel = directory.keys().notice_channel();
    let mut subscription = match hub.subscribe(std::slice::from_ref(&channel)) {
        Ok(subscription) => subscription,
        Err(err) => {
            // Only past the hub's channel cap, which rooms' followers
            // reach first; the node's own console still reaches its rooms.
            info!(%err, "server messages from other nodes are not received");
            return;
        }
    };
    while let Some(payload) = subscription.next_payload(&shutdown).await {
        // Read per message: a node paused past its lease takes a new boot
        // id, and its own messages then carry that one.
        let Some(text) = from_other_node(&payload, &directory.fence()) else {
            continue;
        };
        let text: Arc<str> = text.into();
        let mut reached = 0usize;
        for room in registry.handles() {
            if room.inbox.try_send(RoomCmd::Notice(text.clone())).is_ok() {
                reached += 1;
            }
        }
        info!(rooms = reached, text = %text, "server message from another node shown");
    }
}

/// The text of a notice another node published: `None` for this node's
/// own (its rooms have it already) and for anything not a notice as the
/// console accepts one (the channel is Redis's, not a client's, but a
/// HUD line is never longer or stranger than the console allows).
fn from_other_node<'a>(payload: &'a [u8], own: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(payload).ok()?;
    let (sender, text) = text.split_once('\n')?;
    if sender == own {
        return None;
    }
    if !crate::admin::notice::acceptable(text) {
        debug!(
            len = text.len(),
            "a malformed server message from Redis ignored"
        );
        return None;
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use skirmish_shared::MAX_NOTICE_LEN;

    use super::*;

    #[test]
    fn only_other_nodes_acceptable_notices_are_shown() {
        assert_eq!(
            from_other_node(b"b:2\nRestart at noon", "a:1"),
            Some("Restart at noon")
        );
        assert_eq!(from_other_node(b"a:1\nRestart at noon", "a:1"), None);
        assert_eq!(from_other_node(b"b:2\n", "a:1"), None);
        assert_eq!(from_other_node(b"b:2\nline\nbreak", "a:1"), None);
        assert_eq!(from_other_node(b"no separator", "a:1"), None);
        assert_eq!(from_other_node(&[0xff, b'\n', b'x'], "a:1"), None);
        let long = format!("b:2\n{}", "x".repeat(MAX_NOTICE_LEN + 1));
        assert_eq!(from_other_node(long.as_bytes(), "a:1"), None);
    }
}
