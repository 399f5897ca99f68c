//! Long-poll player sessions: a 128-bit random token names a [`Seat`] held
//! over plain HTTP. A session that makes no request for the idle timeout
//! expires: its ship leaves the room and its token answers 410 for a while
//! (then 404, like one never issued), with the code of why it ended. The
//! store's lock guards map lookups only, never an await.
//!
//! Every live session is also a route ([`SessionRoutes`], kind `legacy`),
//! which cluster mode publishes, so another node can send the session's
//! requests here.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use skirmish_shared::http::ApiErrorCode;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::flood::FloodGuard;
use crate::matchmaker::routes::{KIND_LEGACY, RouteKey, SessionRoutes};
use crate::metrics::{GaugeGuard, Metrics, Transport};
use crate::room::{Seat, lifecycle};
use crate::tokens::TokenMap;

/// How long an expired token is remembered, to answer 410 instead of 404.
const TOMBSTONE_TTL: Duration = Duration::from_secs(600);

/// At most this many tombstones; the oldest go first.
const MAX_TOMBSTONES: usize = 10_000;

/// A session token: 16 random bytes, written as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionToken([u8; 16]);

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens are credentials: never in logs.
        f.write_str("SessionToken(..)")
    }
}

impl SessionToken {
    /// Parses 32 hex digits (either case).
    #[must_use]
    pub fn parse(text: &str) -> Option<SessionToken> {
        // `from_str_radix` also takes a sign: "+f" would read as "0f", so
        // one token had many spellings. Only digits (found by fuzzing).
        if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut bytes = [0; 16];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(SessionToken(bytes))
    }

    /// The raw bytes.
    #[must_use]
    pub fn bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The 32 hex digits.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

/// Lowercase hex of `bytes`.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// One long-poll player.
#[derive(Debug)]
pub struct LegacySession {
    /// The seat in its room.
    pub seat: Seat,
    last_seen: Mutex<Instant>,
    flood: Mutex<FloodGuard>,
    /// Numbers the state polls; a poll is current while it holds the newest.
    polls: watch::Sender<u64>,
    /// Counted in the session and player gauges while it lives.
    _counted: [GaugeGuard; 2],
}

impl LegacySession {
    /// Records activity (every request counts).
    pub fn touch(&self) {
        *self.last_seen.lock() = Instant::now();
    }

    /// Starts a state poll, which makes any older one of this session stale.
    /// Resolves the returned future when a newer poll starts.
    pub fn begin_poll(&self) -> impl Future<Output = ()> + use<> {
        let mut mine = 0;
        self.polls.send_modify(|n| {
            *n += 1;
            mine = *n;
        });
        let mut newest = self.polls.subscribe();
        async move {
            // The sender lives as long as the session; if it went, the
            // poll is over anyway.
            let _ = newest.wait_for(|n| *n != mine).await;
        }
    }

    /// Takes `n` inputs from the session's rate budget.
    pub fn allow(&self, n: u32) -> bool {
        self.flood.lock().allow(n)
    }
}

/// Why a token found nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Never issued (or forgotten long ago).
    Unknown,
    /// It ended recently, for this reason (a 410 code).
    Gone(ApiErrorCode),
}

/// All long-poll sessions.
#[derive(Debug)]
pub struct SessionStore {
    live: Mutex<TokenMap<Arc<LegacySession>>>,
    /// Ended sessions: when, and why.
    gone: Mutex<TokenMap<(Instant, ApiErrorCode)>>,
    idle: Duration,
    max: usize,
    msgs_per_sec: u32,
    /// Where this node's sessions are, for other nodes to send them here.
    routes: Arc<SessionRoutes>,
    metrics: Arc<Metrics>,
}

impl SessionStore {
    /// A store expiring sessions idle for `idle`, holding at most `max`,
    /// each routed in `routes` while it lives.
    #[must_use]
    pub fn new(
        idle: Duration,
        max: usize,
        msgs_per_sec: u32,
        routes: Arc<SessionRoutes>,
        metrics: Arc<Metrics>,
    ) -> SessionStore {
        SessionStore {
            live: Mutex::new(TokenMap::new()),
            gone: Mutex::new(TokenMap::new()),
            idle,
            max,
            msgs_per_sec,
            routes,
            metrics,
        }
    }

    /// Whether another session fits.
    #[must_use]
    pub fn has_room(&self) -> bool {
        self.live.lock().len() < self.max
    }

    /// Live sessions.
    #[must_use]
    pub fn len(&self) -> usize {
        self.live.lock().len()
    }

    /// True when no session is live.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.live.lock().is_empty()
    }

    /// Registers a seat under a fresh token, and routes it.
    pub fn insert(&self, seat: Seat) -> (SessionToken, Arc<LegacySession>) {
        let room = seat.room.id.clone();
        let session = Arc::new(LegacySession {
            seat,
            last_seen: Mutex::new(Instant::now()),
            flood: Mutex::new(FloodGuard::new(self.msgs_per_sec)),
            polls: watch::Sender::new(0),
            _counted: [
                GaugeGuard::new(&self.metrics.legacy_sessions),
                GaugeGuard::new(&self.metrics.players_on(Transport::LongPoll)),
            ],
        });
        let token = SessionToken(self.live.lock().issue(session.clone()));
        self.routes
            .insert(RouteKey::of_bytes(&token.0), room, KIND_LEGACY);
        (token, session)
    }

    /// The live session of `token`, touched.
    ///
    /// # Errors
    /// [`Lookup::Gone`] with the reason for a recently ended token, else
    /// [`Lookup::Unknown`].
    pub fn get(&self, token: &str) -> Result<Arc<LegacySession>, Lookup> {
        let token = SessionToken::parse(token).ok_or(Lookup::Unknown)?;
        if let Some(session) = self.live.lock().get(&token.0).cloned() {
            session.touch();
            return Ok(session);
        }
        if let Some((_, why)) = self.gone.lock().get(&token.0) {
            return Err(Lookup::Gone(*why));
        }
        Err(Lookup::Unknown)
    }

    /// Ends a session (left, or closed by the room); its token answers 410
    /// with `why`.
    pub fn remove(&self, token: &str, why: ApiErrorCode) -> Option<Arc<LegacySession>> {
        let token = SessionToken::parse(token)?;
        let session = self.live.lock().remove(&token.0)?;
        self.bury(token, why);
        Some(session)
    }

    fn bury(&self, token: SessionToken, why: ApiErrorCode) {
        self.routes.remove(&RouteKey::of_bytes(&token.0));
        let mut gone = self.gone.lock();
        let full = gone.len() >= MAX_TOMBSTONES;
        if let Some(oldest) = full
            .then(|| gone.iter().min_by_key(|(_, (at, _))| *at).map(|(t, _)| *t))
            .flatten()
        {
            gone.remove(&oldest);
        }
        gone.insert(token.0, (Instant::now(), why));
    }

    /// Removes sessions idle past the timeout and returns them, so the
    /// caller can free their seats; forgets old tombstones.
    pub fn sweep(&self) -> Vec<Arc<LegacySession>> {
        let idle = self.idle;
        let expired: Vec<(SessionToken, Arc<LegacySession>)> = {
            let mut live = self.live.lock();
            let tokens: Vec<SessionToken> = live
                .iter()
                .filter(|(_, s)| s.last_seen.lock().elapsed() >= idle)
                .map(|(t, _)| SessionToken(*t))
                .collect();
            tokens
                .into_iter()
                .filter_map(|t| live.remove(&t.0).map(|s| (t, s)))
                .collect()
        };
        for (token, _) in &expired {
            self.bury(*token, ApiErrorCode::SessionExpired);
        }
        self.gone
            .lock()
            .retain(|(at, _)| at.elapsed() < TOMBSTONE_TTL);
        expired.into_iter().map(|(_, s)| s).collect()
    }
}

/// Expires idle sessions once a second until shutdown; their ships leave.
pub async fn run_sweeper(store: Arc<SessionStore>, shutdown: CancellationToken) {
    let mut clock = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = clock.tick() => {}
        }
        for session in store.sweep() {
            lifecycle!(session.seat.room.public, room = %session.seat.room.id,
                       player = session.seat.welcome.ship.0, "long-poll session expired");
            session.seat.leave().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_as_hex_and_reject_junk() {
        let t = SessionToken(TokenMap::new().issue(()));
        assert_eq!(SessionToken::parse(&t.to_hex()), Some(t));
        assert_eq!(t.to_hex().len(), 32);
        for bad in ["", "xyz", &"g".repeat(32), &"a".repeat(31), &"é".repeat(16)] {
            assert_eq!(SessionToken::parse(bad), None, "{bad:?}");
        }
        // Signs are not digits (fuzz/http_params found "+1" read as "01").
        for signed in ["0123456789abcdef+123456789abcdef", &"+0".repeat(16)] {
            assert_eq!(SessionToken::parse(signed), None, "{signed:?}");
        }
        let upper = "0123456789ABCDEF0123456789ABCDEF";
        assert_eq!(
            SessionToken::parse(upper).map(|t| t.to_hex()),
            Some(upper.to_ascii_lowercase())
        );
        assert_eq!(format!("{t:?}"), "SessionToken(..)");
    }
}
