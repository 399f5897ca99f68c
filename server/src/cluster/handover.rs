//! A rolling deploy's handover over Redis (issue 16): a draining node's
//! room, at its round boundary, goes to another live node, which continues
//! it under the same id, the same log ids and the same ships.
//!
//! - **Offering** (the draining node): [`RedisHandover`] is the registry's
//!   [`HandoverSink`]. It only `try_send`s the record to this node's offer
//!   task, so the room task never awaits Redis; the task picks the live,
//!   non-draining node with the fewest players (then rooms) from a fresh
//!   survey, waits until its own log writer has copied the room's log up to
//!   the record's last id (the adopter continues from there: no gap), and
//!   runs `offer`: the offer (id, adopter, deadline) is marked on the
//!   room's entry and the record published on the adopter's handover
//!   channel in one step. It then watches the room's entry until its fence
//!   names the adopter, or the offer window passes and `settle` withdraws
//!   the offer atomically (a later adopter is refused); then the next
//!   candidate, up to [`MAX_CANDIDATES`]. The room task's own bound is the
//!   drain deadline: past it the room closes with `server_drain`, and this
//!   task, seeing nobody waits, withdraws the offer.
//! - **Adopting** (every node): the adoption task reads this node's
//!   handover channel on the node's one pub/sub connection, checks the
//!   record (the registry would take it: not draining, id free, room cap),
//!   runs `takeover` (the room's entry and its log's feed name this node's
//!   fence from now on, so the old owner's appends are fenced and no id is
//!   ever written twice) and only then opens the room
//!   ([`Registry::adopt`]), whose log continues above the old last id with
//!   a `moved` event.
//!
//! The channel is Redis pub/sub, at most once: a record published while
//! the adopter's subscription is down is lost, the offer window passes and
//! the next candidate is asked. What a record carries is a resume token's
//! selector and SHA-256 (never the token) and a player identity's secret
//! hash: Redis is trusted with them as it is with session routes.
//!
//! This module never touches a running room and never waits on one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::RngCore;
use serde::{Deserialize, Serialize};
use skirmish_shared::{ShipId, valid_name};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, info, info_span, warn};

use super::directory::RedisDirectory;
use super::follower;
use super::pubsub::PubSubHub;
use super::redis::{ClusterError, SCRIPTS};
use crate::node::Node;
use crate::room::handover::{
    Adopted, HandedShip, Handover, HandoverRecord, HandoverSink, MovedEntry,
};
use crate::room::registry::Registry;
use crate::storage::identity::{Identity, SecretHash};
use crate::tokens::Verifier;

/// Records waiting for the offer task. A node's rooms end their rounds at
/// different moments and the task takes each at once, so this only needs
/// to hold a burst of rooms ending together; a record that finds it full
/// closes its room with `server_drain`.
const QUEUE: usize = 1024;

/// How long one candidate has to take an offered room: one pub/sub hop and
/// one script call, with room for a loaded Redis (`--redis-timeout-ms`
/// bounds each call well below it).
const OFFER_WINDOW: Duration = Duration::from_secs(2);

/// Candidates asked in turn before the room closes as drained.
const MAX_CANDIDATES: usize = 3;

/// How long the offer task waits for its log writer to copy the room's
/// last events (normally one writer round, a few milliseconds).
const COPY_WAIT: Duration = Duration::from_secs(3);

/// How often the offer task reads the room's entry while an offer is open,
/// and asks again while the log is not copied yet: a player waits at most
/// this long after the takeover to hear where its room went.
const POLL: Duration = Duration::from_millis(20);

/// How long a handed-over room's old owner looks for the adopter's
/// `moved` in Redis to end its own readers' streams with (see
/// [`HandoverSink::moved_event`]); past it they get `closed` `moved`. The
/// room's players were told already: only this node's exit waits.
const MOVED_WAIT: Duration = Duration::from_secs(1);

/// The largest record an adopter reads: 64 ships of about 400 bytes each,
/// with room to spare. Anything longer is not a record this server wrote.
const MAX_OFFER_BYTES: usize = 64 * 1024;

/// A seat count no room reaches (`--max-players` is at most 1024).
const MAX_SHIPS: usize = 4096;

/// The record as the channel carries it (JSON).
#[derive(Debug, Serialize, Deserialize)]
struct Offer {
    /// This offer's id: `takeover` answers only to it.
    id: String,
    /// The offering owner's fence.
    from: String,
    room: String,
    public: bool,
    round: u32,
    last_id: u64,
    ships: Vec<OfferedShip>,
}

#[derive(Debug, Serialize, Deserialize)]
struct OfferedShip {
    ship: u16,
    name: String,
    /// Player id and secret hash, when its rounds are recorded.
    identity: Option<(String, [u8; 32])>,
    selector: [u8; 8],
    digest: [u8; 32],
}

impl Offer {
    fn new(id: String, from: String, record: &HandoverRecord) -> Offer {
        Offer {
            id,
            from,
            room: record.room.clone(),
            public: record.public,
            round: record.round,
            last_id: record.last_id,
            ships: record
                .ships
                .iter()
                .map(|s| OfferedShip {
                    ship: s.ship.0,
                    name: s.name.clone(),
                    identity: s
                        .identity
                        .as_ref()
                        .map(|i| (i.id.to_string(), i.secret_hash.0)),
                    selector: s.token.selector,
                    digest: s.token.digest,
                })
                .collect(),
        }
    }

    /// The record, if every part is one this server could have written.
    fn record(&self) -> Option<HandoverRecord> {
        if self.ships.len() > MAX_SHIPS {
            return None;
        }
        let mut ships = Vec::with_capacity(self.ships.len());
        for s in &self.ships {
            if !valid_name(&s.name) {
                return None;
            }
            let identity = match &s.identity {
                Some((id, hash)) if skirmish_shared::valid_player_id(id) => Some(Identity {
                    id: id.as_str().into(),
                    secret_hash: SecretHash(*hash),
                }),
                Some(_) => return None,
                None => None,
            };
            ships.push(HandedShip {
                ship: ShipId(s.ship),
                name: s.name.clone(),
                identity,
                token: Verifier {
                    selector: s.selector,
                    digest: s.digest,
                },
            });
        }
        Some(HandoverRecord {
            room: self.room.clone(),
            public: self.public,
            round: self.round,
            last_id: self.last_id,
            ships,
        })
    }
}

/// One room waiting for an adopter, and who waits for the answer.
struct Request {
    record: HandoverRecord,
    reply: oneshot::Sender<Option<Adopted>>,
}

/// The registry's sink: hands each record to the offer task.
#[derive(Debug)]
pub struct RedisHandover {
    tx: mpsc::Sender<Request>,
    /// Where the adopter's `moved` entry is read back.
    directory: Arc<RedisDirectory>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("room", &self.record.room)
            .finish_non_exhaustive()
    }
}

impl HandoverSink for RedisHandover {
    fn hand_over(&self, record: HandoverRecord) -> Handover {
        let (reply, answer) = oneshot::channel();
        let queued = self.tx.try_send(Request { record, reply });
        Box::pin(async move {
            if let Err(err) = queued {
                warn!(%err, "handover queue full: the room closes as drained");
                return None;
            }
            answer.await.ok().flatten()
        })
    }

    fn moved_event(&self, room: &str, last_id: u64) -> MovedEntry {
        let (directory, room) = (self.directory.clone(), room.to_owned());
        Box::pin(async move {
            // The adopter appends `moved` as it opens the room, which is
            // after the takeover this node just saw; its log writer copies
            // it within a round, normally milliseconds.
            let until = Instant::now() + MOVED_WAIT;
            loop {
                match follower::entry_after(&directory, &room, last_id).await {
                    Ok(Some(entry)) => return Some(entry),
                    Ok(None) => {}
                    Err(err) => debug!(%err, "the adopter's first entry not read; asking again"),
                }
                if Instant::now() >= until {
                    warn!(%room, "the adopter's `moved` not in Redis in time: \
                                  this node's readers get `closed` `moved`");
                    return None;
                }
                tokio::time::sleep(POLL).await;
            }
        })
    }
}

/// What the offering and adopting sides share.
#[derive(Clone, Debug)]
struct Parts {
    directory: Arc<RedisDirectory>,
    node: Arc<Node>,
    lease_ttl: Duration,
}

/// Starts the offer and adoption tasks of this node; returns the sink to
/// give the registry.
pub fn start(
    directory: Arc<RedisDirectory>,
    node: Arc<Node>,
    lease_ttl: Duration,
    registry: Arc<Registry>,
    hub: &Arc<PubSubHub>,
    shutdown: CancellationToken,
    tracker: &TaskTracker,
) -> RedisHandover {
    let sink_directory = directory.clone();
    let parts = Parts {
        directory,
        node,
        lease_ttl,
    };
    let (tx, rx) = mpsc::channel(QUEUE);
    let id = parts.node.id.clone();
    tracker.spawn(
        offers(parts.clone(), rx, tracker.clone(), shutdown.clone())
            .instrument(info_span!("handover_offers", node = %id)),
    );
    let channel = parts.directory.keys().handover_channel(&parts.node.id);
    match hub.subscribe(std::slice::from_ref(&channel)) {
        Ok(subscription) => {
            tracker.spawn(
                adoptions(parts, subscription, registry, shutdown)
                    .instrument(info_span!("handover_adoptions", node = %id)),
            );
        }
        // Only past the hub's channel cap, which rooms' followers reach
        // first: this node then adopts nothing, and offers time out.
        Err(err) => warn!(%err, "this node cannot adopt rooms handed over"),
    }
    RedisHandover {
        tx,
        directory: sink_directory,
    }
}

/// Takes each record and offers it in a task of its own, so rooms ending
/// together are offered together. Ends at shutdown (after the drain: no
/// room waits any more).
async fn offers(
    parts: Parts,
    mut rx: mpsc::Receiver<Request>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
) {
    loop {
        let request = tokio::select! {
            request = rx.recv() => request,
            () = shutdown.cancelled() => return,
        };
        let Some(Request { record, mut reply }) = request else {
            return;
        };
        let parts = parts.clone();
        let room = record.room.clone();
        tracker.spawn(
            async move {
                let adopted = offer_room(&parts, &record, &mut reply).await;
                let _ = reply.send(adopted);
            }
            .instrument(info_span!("handover", room = %room)),
        );
    }
}

/// Offers `record` to the best candidates in turn; the adopter, or `None`.
async fn offer_room(
    parts: &Parts,
    record: &HandoverRecord,
    reply: &mut oneshot::Sender<Option<Adopted>>,
) -> Option<Adopted> {
    let started = Instant::now();
    let candidates = match candidates(parts).await {
        Ok(candidates) => candidates,
        Err(err) => {
            warn!(%err, "no survey: the room closes as drained");
            settle(parts, &record.room, "", true).await;
            return None;
        }
    };
    if candidates.is_empty() {
        info!("no live node to take the room: it closes as drained");
        settle(parts, &record.room, "", true).await;
        return None;
    }
    let fence = parts.directory.fence();
    // Whether the last `settle` withdrew the room (it closes here).
    let mut withdrawn = false;
    for (n, node) in candidates.iter().take(MAX_CANDIDATES).enumerate() {
        let last_try = n + 1 == candidates.len().min(MAX_CANDIDATES);
        let id = format!("{:016x}", rand::rng().next_u64());
        let payload = match serde_json::to_string(&Offer::new(id.clone(), fence.clone(), record)) {
            Ok(payload) => payload,
            Err(err) => {
                warn!(%err, "record not encoded: the room closes as drained");
                return None;
            }
        };
        match offer_to(parts, record, &id, node, &payload, reply).await {
            Offered::Open => {}
            Offered::Absent => {
                debug!(adopter = %node, "no listener on its channel; next candidate");
                continue;
            }
            Offered::Gone => {
                settle(parts, &record.room, &id, true).await;
                return None;
            }
        }
        let until = Instant::now() + OFFER_WINDOW;
        while Instant::now() < until && !reply.is_closed() {
            tokio::time::sleep(POLL).await;
            if let Ok(Some(adopted)) = taken(parts, &record.room, &fence).await {
                info!(adopter = %adopted.node, after_ms = started.elapsed().as_millis(),
                      "room handed over");
                return Some(adopted);
            }
        }
        let give_up = last_try || reply.is_closed();
        withdrawn = give_up;
        if let Some(adopted) = settle(parts, &record.room, &id, give_up).await {
            if reply.is_closed() {
                warn!(adopter = %adopted.node,
                      "room taken after its drain deadline: its players heard server_drain, \
                       their tokens resume there");
            }
            return Some(adopted);
        }
        if give_up {
            break;
        }
        info!(adopter = %node, "offer not taken in time; next candidate");
    }
    if !withdrawn {
        // The last candidate was not listening: no offer is open, and the
        // room leaves the directory as it closes here.
        settle(parts, &record.room, "", true).await;
    }
    info!("no node took the room: it closes as drained");
    None
}

/// Live, non-draining nodes other than this one, fewest players first.
async fn candidates(parts: &Parts) -> Result<Vec<String>, ClusterError> {
    let survey = parts.directory.survey().await?;
    let mut nodes: Vec<_> = survey
        .nodes
        .into_iter()
        .filter(|n| n.id != parts.node.id && !n.draining && n.lease_ms_left > 0)
        .filter(|n| !n.url.is_empty())
        .collect();
    nodes.sort_by(|a, b| (a.players, a.rooms, &a.id).cmp(&(b.players, b.rooms, &b.id)));
    Ok(nodes.into_iter().map(|n| n.id).collect())
}

enum Offered {
    /// Published; the adopter may take it within the window.
    Open,
    /// Nobody listens on that node's channel.
    Absent,
    /// This node no longer owns the room (or Redis kept failing).
    Gone,
}

/// Runs `offer` until the log is copied and the offer is out.
async fn offer_to(
    parts: &Parts,
    record: &HandoverRecord,
    id: &str,
    adopter: &str,
    payload: &str,
    reply: &oneshot::Sender<Option<Adopted>>,
) -> Offered {
    const OP: &str = "offer";
    let dir = &parts.directory;
    let keys = dir.keys();
    let until = Instant::now() + COPY_WAIT;
    loop {
        let mut call = SCRIPTS.offer.prepare_invoke();
        call.key(keys.room(&record.room))
            .key(keys.feed(&record.room))
            .arg(keys.prefix())
            .arg(dir.fence())
            .arg(record.last_id)
            .arg(id)
            .arg(adopter)
            .arg(ms(OFFER_WINDOW))
            .arg(keys.handover_channel(adopter))
            .arg(payload);
        let mut conn = dir.link().conn();
        let answer: Result<Vec<String>, _> =
            dir.link().call(OP, call.invoke_async(&mut conn)).await;
        match answer.as_deref().map(|a| a.first().map(String::as_str)) {
            Ok(Some("offered")) => return Offered::Open,
            Ok(Some("absent")) => return Offered::Absent,
            Ok(Some("gone")) => {
                warn!("the room's entry is no longer this node's: it closes as drained");
                return Offered::Gone;
            }
            Ok(Some("behind")) => {}
            Ok(_) => warn!(answer = ?answer, "offer: unexpected answer"),
            Err(err) => debug!(%err, "offer failed; asking again"),
        }
        if Instant::now() >= until || reply.is_closed() {
            warn!("the room's log was not copied in time: it closes as drained");
            return Offered::Gone;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The adopter, once the room's entry names another fence than ours.
async fn taken(parts: &Parts, room: &str, fence: &str) -> Result<Option<Adopted>, ClusterError> {
    let dir = &parts.directory;
    let mut conn = dir.link().conn();
    let (holder, node, url): (Option<String>, Option<String>, Option<String>) = dir
        .link()
        .call(
            "handover_watch",
            redis::cmd("HMGET")
                .arg(dir.keys().room(room))
                .arg("fence")
                .arg("owner")
                .arg("url")
                .query_async(&mut conn),
        )
        .await?;
    Ok(match (holder, node, url) {
        (Some(holder), Some(node), Some(node_url)) if holder != fence => {
            Some(Adopted { node, node_url })
        }
        _ => None,
    })
}

/// Ends offer `id` of `room` (withdrawing the room when `last`): the
/// adopter if it took the room meanwhile.
async fn settle(parts: &Parts, room: &str, id: &str, last: bool) -> Option<Adopted> {
    let dir = &parts.directory;
    let keys = dir.keys();
    let mut call = SCRIPTS.settle.prepare_invoke();
    call.key(keys.room(room))
        .key(&keys.matchmaking)
        .arg(keys.prefix())
        .arg(dir.fence())
        .arg(id)
        .arg(room)
        .arg(if last { "1" } else { "0" });
    let mut conn = dir.link().conn();
    match dir
        .link()
        .call::<Vec<String>>("settle", call.invoke_async(&mut conn))
        .await
        .as_deref()
    {
        Ok([tag, node, node_url]) if tag == "taken" => Some(Adopted {
            node: node.clone(),
            node_url: node_url.clone(),
        }),
        Ok(_) => None,
        Err(err) => {
            // The offer expires by itself; its adopter is then refused.
            warn!(%err, "settle failed");
            None
        }
    }
}

/// Adopts every room offered on this node's channel, until shutdown.
async fn adoptions(
    parts: Parts,
    mut subscription: super::pubsub::Subscription,
    registry: Arc<Registry>,
    shutdown: CancellationToken,
) {
    let here = Adopted {
        node: parts.node.id.clone(),
        node_url: parts.node.public_url.clone().unwrap_or_default(),
    };
    while let Some(payload) = subscription.next_payload(&shutdown).await {
        let offer = (payload.len() <= MAX_OFFER_BYTES)
            .then(|| serde_json::from_slice::<Offer>(&payload).ok())
            .flatten();
        let Some((offer, record)) = offer.and_then(|o| o.record().map(|r| (o, r))) else {
            warn!(bytes = payload.len(), "a malformed handover offer ignored");
            continue;
        };
        let span = info_span!("adopt", room = %record.room, from = %offer.from);
        adopt(&parts, &registry, &here, &offer, &record)
            .instrument(span)
            .await;
    }
}

/// Takes over one offered room and opens it here.
async fn adopt(
    parts: &Parts,
    registry: &Registry,
    here: &Adopted,
    offer: &Offer,
    record: &HandoverRecord,
) {
    const OP: &str = "takeover";
    if let Err(err) = registry.can_adopt(record) {
        // The offer window passes and the old owner asks another node.
        info!(%err, "offered room not taken");
        return;
    }
    let dir = &parts.directory;
    let keys = dir.keys();
    let mut call = SCRIPTS.takeover.prepare_invoke();
    call.key(keys.room(&record.room))
        .key(keys.feed(&record.room))
        .arg(keys.prefix())
        .arg(&offer.id)
        .arg(&offer.from)
        .arg(&parts.node.id)
        .arg(dir.fence())
        .arg(&here.node_url)
        .arg(ms(parts.lease_ttl))
        .arg(&record.room);
    let mut conn = dir.link().conn();
    let answer: Result<Vec<String>, _> = dir.link().call(OP, call.invoke_async(&mut conn)).await;
    match answer.as_deref() {
        Ok([tag]) if tag == "ok" => {}
        Ok([tag, why]) if tag == "refused" => {
            info!(why = %why, "offered room not taken");
            return;
        }
        Ok(other) => {
            warn!(answer = ?other, "takeover: unexpected answer");
            return;
        }
        Err(err) => {
            warn!(%err, "takeover failed; the old owner's offer times out");
            return;
        }
    }
    match registry.adopt(record, here) {
        Ok(_) => info!(
            players = record.ships.len(),
            last_id = record.last_id,
            "room adopted from a draining node"
        ),
        // The registry said yes a moment ago; only a drain that began in
        // between gets here, and the room's players find it lost.
        Err(err) => warn!(%err, "room taken over but not opened"),
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_survives_its_wire_form_and_a_bad_one_is_refused() {
        let record = HandoverRecord {
            room: "arena-0a0b0c0d-3".into(),
            public: true,
            round: 7,
            last_id: 1_795_376_145_506_000,
            ships: vec![HandedShip {
                ship: ShipId(4),
                name: "Ada".into(),
                identity: Some(Identity {
                    id: "0123456789abcdef".into(),
                    secret_hash: SecretHash([7; 32]),
                }),
                token: Verifier {
                    selector: [1; 8],
                    digest: [2; 32],
                },
            }],
        };
        let wire = serde_json::to_string(&Offer::new("id".into(), "a:1".into(), &record))
            .expect("encodes");
        let offer: Offer = serde_json::from_str(&wire).expect("decodes");
        assert_eq!(offer.record(), Some(record));
        let mut bad = offer;
        bad.ships[0].name = "\u{7}".into();
        assert_eq!(bad.record(), None);
    }
}
