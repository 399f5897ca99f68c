//! Session routes: which room each player's resume token belongs to, so a
//! player who comes back through any node finds its room.
//!
//! This table holds the sessions of this node. A session is routed from
//! its Welcome until it leaves, or until its resume grace runs out after
//! its connection was lost. In cluster mode the lease task copies them
//! into Redis on every refresh, each living there for the rest of its
//! grace plus one lease, so a route ends with its session and the routes
//! of a dead node disappear by themselves.
//!
//! Routes are keyed by the token's first half (its selector, as in
//! [`crate::tokens`]): neither this table nor Redis ever holds a whole
//! token, and a route only says where to go; the room itself checks the
//! whole token, in constant time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use skirmish_shared::ResumeToken;
use tokio::time::Instant;

/// The public half of a resume token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RouteKey([u8; 8]);

impl RouteKey {
    /// The key of `token`.
    #[must_use]
    pub fn of(token: &ResumeToken) -> RouteKey {
        RouteKey::of_bytes(&token.0)
    }

    /// The key of any 128-bit token (a long-poll session's too).
    #[must_use]
    pub fn of_bytes(token: &[u8; 16]) -> RouteKey {
        let mut key = [0; 8];
        key.copy_from_slice(&token[..8]);
        RouteKey(key)
    }

    /// The key of a token written as 32 hex digits (as the long-poll join
    /// answer and the web client carry it).
    #[must_use]
    pub fn from_token_hex(hex: &str) -> Option<RouteKey> {
        let token = crate::matchmaker::parse_hex16(hex)?;
        Some(RouteKey::of(&ResumeToken(token)))
    }

    /// 16 hex digits.
    #[must_use]
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A WebSocket player's resume token: matchmaking resumes it.
pub const KIND_WS: &str = "ws";

/// A long-poll player's session token: its requests are redirected to the
/// owner (`net::longpoll::owner`).
pub const KIND_LEGACY: &str = "legacy";

/// A route as the lease task publishes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveRoute {
    /// The token's public half.
    pub key: RouteKey,
    pub room: Arc<str>,
    /// Its transport ([`KIND_WS`] or [`KIND_LEGACY`]).
    pub kind: &'static str,
    /// How much longer the session can resume if it stays away.
    pub resumable_for: Duration,
}

#[derive(Debug)]
struct Route {
    room: Arc<str>,
    kind: &'static str,
    /// When the connection was lost; `None` while connected.
    detached: Option<Instant>,
}

/// This node's routed sessions.
#[derive(Debug)]
pub struct SessionRoutes {
    /// Guards a small map for single lookups and inserts, and a sweep of
    /// it at most once per doubling of its size; never held across an
    /// await. Bounded by the seats of this node's rooms: a route lives
    /// only while its ship does.
    routes: Mutex<Routes>,
    /// The rooms' resume grace: how long a lost connection's route lasts.
    grace: Duration,
}

#[derive(Debug, Default)]
struct Routes {
    by_key: HashMap<RouteKey, Route>,
    /// Size after the last sweep; the next comes at twice that.
    swept: usize,
}

impl Routes {
    fn sweep(&mut self, grace: Duration) {
        self.by_key
            .retain(|_, r| r.detached.is_none_or(|at| at.elapsed() < grace));
        self.swept = self.by_key.len();
    }
}

impl SessionRoutes {
    /// An empty table whose lost sessions are kept for `grace`.
    #[must_use]
    pub fn new(grace: Duration) -> SessionRoutes {
        SessionRoutes {
            routes: Mutex::default(),
            grace,
        }
    }

    /// The session of `token` is connected to `room`.
    pub fn connected(&self, token: &ResumeToken, room: Arc<str>, kind: &'static str) {
        self.insert(RouteKey::of(token), room, kind);
    }

    /// The session of `key` is in `room` (connected).
    pub fn insert(&self, key: RouteKey, room: Arc<str>, kind: &'static str) {
        let mut routes = self.routes.lock();
        if routes.by_key.len() >= 2 * routes.swept.max(64) {
            routes.sweep(self.grace);
        }
        routes.by_key.insert(
            key,
            Route {
                room,
                kind,
                detached: None,
            },
        );
    }

    /// Its connection was lost: the ship waits for a resume.
    pub fn detached(&self, token: &ResumeToken) {
        if let Some(route) = self.routes.lock().by_key.get_mut(&RouteKey::of(token)) {
            route.detached = Some(Instant::now());
        }
    }

    /// The player left: no resume.
    pub fn left(&self, token: &ResumeToken) {
        self.remove(&RouteKey::of(token));
    }

    /// The session of `key` ended.
    pub fn remove(&self, key: &RouteKey) {
        self.routes.lock().by_key.remove(key);
    }

    /// The room of a WebSocket session of this node that can still resume.
    #[must_use]
    pub fn room_of(&self, key: &RouteKey) -> Option<Arc<str>> {
        let routes = self.routes.lock();
        let route = routes.by_key.get(key).filter(|r| r.kind == KIND_WS)?;
        route
            .detached
            .is_none_or(|at| at.elapsed() < self.grace)
            .then(|| route.room.clone())
    }

    /// Every session that can still resume, with how much longer it can
    /// (the whole grace while connected), for the lease task to publish;
    /// forgets the lost ones whose grace has run out.
    #[must_use]
    pub fn live_routes(&self) -> Vec<LiveRoute> {
        let mut routes = self.routes.lock();
        routes.sweep(self.grace);
        routes
            .by_key
            .iter()
            .map(|(key, r)| LiveRoute {
                key: *key,
                room: r.room.clone(),
                kind: r.kind,
                resumable_for: r
                    .detached
                    .map_or(self.grace, |at| self.grace.saturating_sub(at.elapsed())),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(first: u8) -> ResumeToken {
        let mut t = [7; 16];
        t[0] = first;
        ResumeToken(t)
    }

    #[tokio::test(start_paused = true)]
    async fn routes_follow_a_session_until_it_leaves_or_its_grace_ends() {
        let routes = SessionRoutes::new(Duration::from_millis(30));
        let (a, b) = (token(1), token(2));
        routes.connected(&a, "r1".into(), KIND_WS);
        routes.connected(&b, "r2".into(), KIND_WS);
        assert_eq!(routes.room_of(&RouteKey::of(&a)).as_deref(), Some("r1"));
        assert_eq!(routes.live_routes().len(), 2);
        routes.left(&a);
        assert_eq!(routes.room_of(&RouteKey::of(&a)), None);
        routes.detached(&b);
        tokio::time::advance(Duration::from_millis(10)).await;
        assert_eq!(routes.room_of(&RouteKey::of(&b)).as_deref(), Some("r2"));
        let live = routes.live_routes();
        assert_eq!(live.len(), 1);
        assert_eq!(
            live[0].resumable_for,
            Duration::from_millis(20),
            "the rest of its grace"
        );
        tokio::time::advance(Duration::from_millis(30)).await;
        assert_eq!(routes.room_of(&RouteKey::of(&b)), None);
        assert!(routes.live_routes().is_empty());
    }

    #[test]
    fn a_long_poll_route_is_published_but_never_resumed() {
        let routes = SessionRoutes::new(Duration::from_secs(1));
        let key = RouteKey::of_bytes(&[9; 16]);
        routes.insert(key, "r1".into(), KIND_LEGACY);
        assert_eq!(routes.room_of(&key), None, "not a resume token");
        let live = routes.live_routes();
        assert_eq!((live.len(), live[0].kind), (1, KIND_LEGACY));
        routes.remove(&key);
        assert!(routes.live_routes().is_empty());
    }

    #[test]
    fn a_route_key_is_the_tokens_first_half() {
        let hex = "0123456789abcdef0011223344556677";
        let key = RouteKey::from_token_hex(hex).expect("valid");
        assert_eq!(key.to_hex(), "0123456789abcdef");
        assert_eq!(RouteKey::from_token_hex("0123"), None);
        assert_eq!(RouteKey::from_token_hex(&"g".repeat(32)), None);
    }
}
