//! State samples across nodes: the 10 Hz minimap sample of each local room
//! goes to its Redis channel `p:room:{id}:state`, latest-wins, never to a
//! stream. Followers on other nodes put what arrives into their room's
//! sample slot.
//!
//! One task per node publishes, on its own clock, what the rooms' sample
//! slots hold: a room task never waits for it. A room nobody follows
//! (PUBLISH reached no subscriber) is published again only once a second,
//! so an unwatched cluster costs Redis little.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::directory::RedisDirectory;
use crate::room::Registry;

/// How often a room without subscribers is published (to notice new ones).
const UNWATCHED_EVERY: Duration = Duration::from_secs(1);

/// Publishes the rooms' samples every `period` until shutdown.
pub async fn run(
    directory: Arc<RedisDirectory>,
    registry: Arc<Registry>,
    period: Duration,
    shutdown: CancellationToken,
) {
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // Per room: the tick last published, and when it last had no
    // subscriber.
    let mut sent: HashMap<Arc<str>, (u32, Option<Instant>)> = HashMap::new();
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let mut pipe = redis::pipe();
        let mut rooms = Vec::new();
        let handles = registry.handles();
        // Forget closed rooms only: a room skipped this round (unchanged,
        // or unwatched and published less than a second ago) keeps its
        // entry, else it would be published again next round.
        let live: HashSet<Arc<str>> = handles.iter().map(|h| h.id.clone()).collect();
        sent.retain(|id, _| live.contains(id));
        for room in handles {
            let frame = room.feed.samples.borrow().clone();
            let (last, unwatched) = sent.get(&room.id).copied().unwrap_or((u32::MAX, None));
            if frame.tick.0 == last || unwatched.is_some_and(|at| at.elapsed() < UNWATCHED_EVERY) {
                continue;
            }
            let mut payload = format!("{}\n", frame.tick.0).into_bytes();
            payload.extend_from_slice(&frame.sse);
            pipe.publish(directory.keys().state_channel(&room.id), payload);
            rooms.push((room.id.clone(), frame.tick.0));
        }
        if rooms.is_empty() {
            continue;
        }
        let mut conn = directory.link().conn();
        match directory
            .link()
            .call("publish_state", pipe.query_async::<Vec<u64>>(&mut conn))
            .await
        {
            Ok(receivers) => {
                for ((id, tick), n) in rooms.into_iter().zip(receivers) {
                    sent.insert(id, (tick, (n == 0).then(Instant::now)));
                }
            }
            Err(err) => debug!(%err, "state samples not published"),
        }
    }
}
