//! Which web origins may use the server from a browser: the player
//! WebSocket refuses others (so another site cannot open a player socket
//! with a visitor's browser), and the JSON API and feeds answer CORS only
//! for them.
//!
//! Allowed: the server's own origin (the request's `Host` under http or
//! https), any origin on localhost, and the origins listed in
//! `--allowed-origins`. A request without `Origin` is not from a browser
//! page (bots, curl, tests) and is not subject to the rule.

use axum::http::HeaderValue;
use axum::http::request::Parts;

/// The origin rule of this server.
#[derive(Clone, Debug, Default)]
pub struct OriginPolicy {
    /// Exact origins allowed besides the server's own and localhost, like
    /// `https://play.example.com`.
    extra: Vec<String>,
}

impl OriginPolicy {
    /// A policy allowing `extra` besides the defaults.
    #[must_use]
    pub fn new(extra: &[String]) -> OriginPolicy {
        OriginPolicy {
            extra: extra
                .iter()
                .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
                .filter(|o| !o.is_empty())
                .collect(),
        }
    }

    /// Whether a browser page at `origin` may use a server reached as `host`.
    #[must_use]
    pub fn allows(&self, origin: &HeaderValue, host: Option<&HeaderValue>) -> bool {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        let Some((scheme, authority)) = origin.split_once("://") else {
            return false;
        };
        if scheme != "http" && scheme != "https" {
            return false;
        }
        let own = host
            .and_then(|h| h.to_str().ok())
            .is_some_and(|h| authority == h.to_ascii_lowercase());
        if own {
            return true;
        }
        let hostname = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => authority.split(':').next().unwrap_or(""),
        };
        if matches!(hostname, "localhost" | "127.0.0.1" | "::1") {
            return true;
        }
        self.extra.contains(&origin)
    }

    /// The rule for a request: true without an `Origin` header.
    #[must_use]
    pub fn allows_request(&self, parts: &Parts) -> bool {
        match parts.headers.get("origin") {
            None => true,
            Some(origin) => self.allows(origin, parts.headers.get("host")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(policy: &OriginPolicy, origin: &str, host: &str) -> bool {
        policy.allows(
            &HeaderValue::from_str(origin).expect("header"),
            Some(&HeaderValue::from_str(host).expect("header")),
        )
    }

    #[test]
    fn own_origin_localhost_and_listed_origins_only() {
        let p = OriginPolicy::new(&["https://Play.Example.com/".into()]);
        assert!(allows(&p, "https://game.example.org", "game.example.org"));
        assert!(allows(
            &p,
            "http://game.example.org:8080",
            "game.example.org:8080"
        ));
        assert!(allows(&p, "http://localhost:5173", "game.example.org"));
        assert!(allows(&p, "http://127.0.0.1:9", "game.example.org"));
        assert!(allows(&p, "http://[::1]:8080", "game.example.org"));
        assert!(allows(&p, "https://play.example.com", "game.example.org"));
        assert!(!allows(&p, "https://evil.example", "game.example.org"));
        assert!(!allows(
            &p,
            "https://game.example.org.evil.example",
            "game.example.org"
        ));
        assert!(!allows(
            &p,
            "https://localhost.evil.example",
            "game.example.org"
        ));
        assert!(!allows(&p, "null", "game.example.org"));
        assert!(!allows(&p, "file://x", "game.example.org"));
    }
}
