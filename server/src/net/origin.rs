//! Which web origins may use the server from a browser: the player
//! WebSocket refuses others (so another site cannot open a player socket
//! with a visitor's browser), and the JSON API and feeds answer CORS only
//! for them.
//!
//! Allowed: the server's own origin (the request's authority under http or
//! https), any origin on localhost, and the origins listed in
//! `--allowed-origins`. A request without `Origin` is not from a browser
//! page (bots, curl, tests) and is not subject to the rule.
//!
//! The request's authority is the one [`authority`] reads, whatever the
//! HTTP version: HTTP/2 carries it as `:authority` (in the request URI) and
//! sends no `Host`, so comparing with `Host` alone refused every
//! page of the server's own origin over HTTP/2. The player socket and CORS
//! both ask [`OriginPolicy::allows`], so they cannot disagree.

use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Uri};

/// The authority (host and port) a request was sent to: the URI's (HTTP/2
/// `:authority`, or an HTTP/1.1 absolute-form target, which RFC 9112 says
/// wins over `Host`), else the `Host` header.
#[must_use]
pub fn authority<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Option<&'a str> {
    uri.authority()
        .map(axum::http::uri::Authority::as_str)
        .or_else(|| headers.get("host").and_then(|h| h.to_str().ok()))
}

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

    /// Whether a browser page at `origin` may use a server reached at
    /// `uri` with `headers` (see [`authority`]).
    #[must_use]
    pub fn allows(&self, origin: &HeaderValue, uri: &Uri, headers: &HeaderMap) -> bool {
        self.allows_page(origin, authority(uri, headers))
    }

    /// The rule for a request: passes without an `Origin` header (not a
    /// browser page).
    ///
    /// # Errors
    /// The `Origin` of a page the rule refuses.
    pub fn check<'a>(&self, parts: &'a Parts) -> Result<(), &'a HeaderValue> {
        match parts.headers.get("origin") {
            Some(origin) if !self.allows(origin, &parts.uri, &parts.headers) => Err(origin),
            _ => Ok(()),
        }
    }

    /// Whether a browser page at `origin` may use a server reached as
    /// `own` (host and port).
    fn allows_page(&self, origin: &HeaderValue, own: Option<&str>) -> bool {
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
        if own.is_some_and(|own| authority == own.to_ascii_lowercase()) {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(policy: &OriginPolicy, origin: &str, host: &str) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_str(host).expect("header"));
        policy.allows(
            &HeaderValue::from_str(origin).expect("header"),
            &Uri::from_static("/"),
            &headers,
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

    #[test]
    fn the_authority_is_the_uris_when_it_has_one_else_host() {
        let p = OriginPolicy::default();
        let origin = HeaderValue::from_static("https://game.example.org");
        let mut host = HeaderMap::new();
        host.insert("host", HeaderValue::from_static("game.example.org"));
        // HTTP/2: `:authority` in the URI, no Host.
        let h2 = Uri::from_static("https://game.example.org/ws");
        assert!(p.allows(&origin, &h2, &HeaderMap::new()));
        assert_eq!(authority(&h2, &host), Some("game.example.org"));
        // HTTP/1.1 origin-form: Host.
        assert!(p.allows(&origin, &Uri::from_static("/ws"), &host));
        // Neither: only localhost and the list pass.
        assert!(!p.allows(&origin, &Uri::from_static("/ws"), &HeaderMap::new()));
        // The URI's authority wins over a Host naming another server.
        let mut other = HeaderMap::new();
        other.insert("host", HeaderValue::from_static("evil.example"));
        assert!(p.allows(&origin, &h2, &other));
        let evil = HeaderValue::from_static("https://evil.example");
        assert!(!p.allows(&evil, &h2, &other));
    }
}
