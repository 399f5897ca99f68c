//! The node's one pub/sub connection to Redis, shared by every subscriber
//! of the process (the followers of other nodes' rooms, and anything else
//! that listens to a channel): it subscribes and unsubscribes channels on
//! demand and routes each message to the subscribers of its channel.
//!
//! A [`Subscription`] is a bounded queue of [`Delivery`]s. Its channels are
//! confirmed with [`Delivery::Subscribed`], on the first subscribe and
//! again after every reconnect: a subscriber reads its source (a stream,
//! a hash) after that, never before, so whatever the read lacks arrives as
//! a message. A subscriber that falls behind loses messages, never blocks
//! the others: its next delivery is [`Delivery::Missed`], which means
//! "read the source again".
//!
//! One task owns the connection. When Redis drops it (a restart,
//! `CLIENT KILL`, a subscriber over `client-output-buffer-limit pubsub`),
//! the task connects again with a doubling backoff, subscribes every wanted
//! channel in batches and confirms each to its subscribers.
//!
//! Never: awaits a subscriber (deliveries are `try_send`), or holds the
//! subscriber map's lock across an await.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use parking_lot::Mutex;
use redis::aio::{PubSubSink, PubSubStream};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::redis::{ClusterError, RedisLink};
use crate::metrics::Metrics;

/// Channels one node subscribes at most: every Redis PUBLISH to a channel
/// is sent to each subscribed connection, and a node's one connection
/// carries all its channels, so this bounds what one node can make Redis
/// and itself route. Followers take two channels per room (events and
/// state samples) and stop at `follower::MAX_FOLLOWED` rooms, well inside.
pub const MAX_CHANNELS: usize = 10_000;

/// Deliveries queued per subscription. A follower's channel carries one
/// message per owner batch (at most one per tick) plus its 10 Hz samples,
/// so this is seconds of traffic; past it the subscriber gets `Missed`.
const QUEUE: usize = 256;

/// Channels per SUBSCRIBE/UNSUBSCRIBE command: bounds one command's size
/// and the time Redis spends on it.
const BATCH: usize = 512;

/// First and longest wait between two connection attempts.
const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(2);

/// What a subscription receives.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// The channel is subscribed on the current connection (first time,
    /// or again after a reconnect). Messages published before this may be
    /// lost: read the source now.
    Subscribed(Arc<str>),
    /// One message.
    Message {
        /// Its channel.
        channel: Arc<str>,
        /// Its payload.
        payload: Bytes,
    },
    /// The subscription's queue was full and messages were dropped: read
    /// the source now.
    Missed,
}

/// Why a subscription was refused.
#[derive(Debug, thiserror::Error)]
#[error("this node already subscribes {max} channels")]
pub struct HubFull {
    /// The limit.
    pub max: usize,
}

/// One subscriber's queue, as the router sees it.
#[derive(Debug)]
struct Sink {
    id: u64,
    tx: mpsc::Sender<Delivery>,
    missed: Arc<AtomicBool>,
}

impl Sink {
    fn deliver(&self, delivery: Delivery) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(delivery) {
            self.missed.store(true, Ordering::Release);
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// Wanted channels and their subscribers.
    wanted: HashMap<Arc<str>, Vec<Sink>>,
    /// Channels the current connection has confirmed.
    on_wire: HashSet<Arc<str>>,
}

/// The shared connection's front: subscribe here.
#[derive(Debug)]
pub struct PubSubHub {
    link: RedisLink,
    metrics: Arc<Metrics>,
    next_id: AtomicU64,
    /// Held for map updates only, never across an await.
    state: Mutex<State>,
    /// Wakes the connection task to bring the connection in line with
    /// `wanted`.
    wake: Notify,
}

/// A hold on some channels; dropping it unsubscribes those no one else
/// wants.
#[derive(Debug)]
pub struct Subscription {
    hub: Arc<PubSubHub>,
    id: u64,
    channels: Vec<Arc<str>>,
    rx: mpsc::Receiver<Delivery>,
    missed: Arc<AtomicBool>,
}

impl Subscription {
    /// The next delivery, waiting for one. The hub keeps the queue open
    /// while the subscription lives, so `None` never comes in practice;
    /// subscribers stop on their own shutdown signal.
    pub async fn recv(&mut self) -> Option<Delivery> {
        if self.missed.swap(false, Ordering::AcqRel) {
            return Some(Delivery::Missed);
        }
        self.rx.recv().await
    }

    /// The next message's payload, skipping (re)subscriptions and misses;
    /// `None` once `shutdown` is cancelled. For subscribers that act on each
    /// message alone and have no source to re-read (offers, notices).
    pub async fn next_payload(&mut self, shutdown: &CancellationToken) -> Option<Bytes> {
        loop {
            let delivery = tokio::select! {
                delivery = self.recv() => delivery?,
                () = shutdown.cancelled() => return None,
            };
            if let Delivery::Message { payload, .. } = delivery {
                return Some(payload);
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut state = self.hub.state.lock();
        for channel in &self.channels {
            if let Some(sinks) = state.wanted.get_mut(channel) {
                sinks.retain(|s| s.id != self.id);
                if sinks.is_empty() {
                    state.wanted.remove(channel);
                }
            }
        }
        self.hub
            .metrics
            .pubsub_channels
            .set(i64::try_from(state.wanted.len()).unwrap_or(i64::MAX));
        drop(state);
        self.hub.wake.notify_one();
    }
}

impl PubSubHub {
    /// A hub on `link`'s Redis; [`Self::run`] must run for it to deliver.
    #[must_use]
    pub fn new(link: RedisLink, metrics: Arc<Metrics>) -> Arc<PubSubHub> {
        Arc::new(PubSubHub {
            link,
            metrics,
            next_id: AtomicU64::new(0),
            state: Mutex::default(),
            wake: Notify::new(),
        })
    }

    /// Subscribes `channels` for one subscriber. Never waits: the
    /// subscription gets `Subscribed` for each channel once Redis confirms
    /// it (at once for a channel the connection already carries).
    ///
    /// # Errors
    /// The node would subscribe more than [`MAX_CHANNELS`] channels.
    pub fn subscribe(self: &Arc<Self>, channels: &[String]) -> Result<Subscription, HubFull> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let missed = Arc::new(AtomicBool::new(false));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut state = self.state.lock();
        let new = channels
            .iter()
            .filter(|c| !state.wanted.contains_key(c.as_str()))
            .count();
        if state.wanted.len() + new > MAX_CHANNELS {
            return Err(HubFull { max: MAX_CHANNELS });
        }
        let mut held = Vec::with_capacity(channels.len());
        for channel in channels {
            let key: Arc<str> = state
                .wanted
                .get_key_value(channel.as_str())
                .map_or_else(|| Arc::from(channel.as_str()), |(k, _)| k.clone());
            let sink = Sink {
                id,
                tx: tx.clone(),
                missed: missed.clone(),
            };
            if state.on_wire.contains(&key) {
                sink.deliver(Delivery::Subscribed(key.clone()));
            }
            state.wanted.entry(key.clone()).or_default().push(sink);
            held.push(key);
        }
        self.metrics
            .pubsub_channels
            .set(i64::try_from(state.wanted.len()).unwrap_or(i64::MAX));
        drop(state);
        self.wake.notify_one();
        Ok(Subscription {
            hub: self.clone(),
            id,
            channels: held,
            rx,
            missed,
        })
    }

    /// Owns the connection until shutdown: connects, keeps the subscribed
    /// channels in line with the wanted ones, routes messages, and starts
    /// over when the connection drops.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut retry = FIRST_RETRY;
        let mut connected_before = false;
        loop {
            let pubsub = tokio::select! {
                pubsub = self.link.pubsub() => pubsub,
                () = shutdown.cancelled() => return,
            };
            let (mut sink, mut stream) = match pubsub {
                Ok(pubsub) => pubsub.split(),
                Err(err) => {
                    debug!(%err, "no pub/sub connection; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(retry) => {}
                        () = shutdown.cancelled() => return,
                    }
                    retry = (retry * 2).min(MAX_RETRY);
                    continue;
                }
            };
            retry = FIRST_RETRY;
            if connected_before {
                self.metrics.pubsub_reconnects.inc();
                info!("pub/sub connection open again; subscribing every channel");
            }
            connected_before = true;
            match self.serve(&mut sink, &mut stream, &shutdown).await {
                Ok(()) => return,
                Err(err) => warn!(%err, "pub/sub connection lost; connecting again"),
            }
            self.state.lock().on_wire.clear();
        }
    }

    /// Serves one connection: `Ok` at shutdown, `Err` when it failed.
    async fn serve(
        &self,
        sink: &mut PubSubSink,
        stream: &mut PubSubStream,
        shutdown: &CancellationToken,
    ) -> Result<(), ClusterError> {
        let mut dirty = true;
        loop {
            if dirty {
                dirty = false;
                self.sync(sink).await?;
            }
            tokio::select! {
                message = stream.next() => match message {
                    Some(message) => self.route(&message),
                    None => {
                        return Err(ClusterError::Reply {
                            op: "subscribe",
                            what: "the connection closed".to_owned(),
                        });
                    }
                },
                () = self.wake.notified() => dirty = true,
                () = shutdown.cancelled() => return Ok(()),
            }
        }
    }

    /// Subscribes wanted channels the connection lacks and unsubscribes
    /// those no one wants any more; confirms new ones to their
    /// subscribers.
    async fn sync(&self, sink: &mut PubSubSink) -> Result<(), ClusterError> {
        let (add, remove): (Vec<Arc<str>>, Vec<Arc<str>>) = {
            let state = self.state.lock();
            (
                state
                    .wanted
                    .keys()
                    .filter(|c| !state.on_wire.contains(*c))
                    .cloned()
                    .collect(),
                state
                    .on_wire
                    .iter()
                    .filter(|c| !state.wanted.contains_key(*c))
                    .cloned()
                    .collect(),
            )
        };
        for batch in remove.chunks(BATCH) {
            let names: Vec<&str> = batch.iter().map(AsRef::as_ref).collect();
            self.link
                .call("unsubscribe", sink.unsubscribe(names))
                .await?;
            let mut state = self.state.lock();
            for channel in batch {
                state.on_wire.remove(channel);
            }
        }
        for batch in add.chunks(BATCH) {
            let names: Vec<&str> = batch.iter().map(AsRef::as_ref).collect();
            self.link.call("subscribe", sink.subscribe(names)).await?;
            let mut state = self.state.lock();
            for channel in batch {
                state.on_wire.insert(channel.clone());
                for s in state.wanted.get(channel).into_iter().flatten() {
                    s.deliver(Delivery::Subscribed(channel.clone()));
                }
            }
        }
        Ok(())
    }

    /// Hands one message to its channel's subscribers.
    fn route(&self, message: &redis::Msg) {
        let name = message.get_channel_name();
        let state = self.state.lock();
        let Some((channel, sinks)) = state.wanted.get_key_value(name) else {
            // Unsubscribed since; the connection catches up at its sync.
            return;
        };
        let payload = Bytes::copy_from_slice(message.get_payload_bytes());
        for sink in sinks {
            sink.deliver(Delivery::Message {
                channel: channel.clone(),
                payload: payload.clone(),
            });
        }
    }
}
