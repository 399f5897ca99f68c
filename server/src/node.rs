//! This process as players and the other nodes see it: its node id, the
//! boot id of this start, and the public URL browsers reach it at.
//!
//! Resolved once at start from the settings and the bound address; never
//! changes afterwards. Owns no connections and no state beyond those names.

use std::net::SocketAddr;

use rand::RngCore;

use crate::config::Config;
use crate::room::registry::RoomNames;

/// Characters a node's suffix adds to the ids of the rooms it opens in
/// cluster mode: `-` and the eight hex digits of its boot id.
pub const ROOM_SUFFIX_LEN: usize = 9;

/// Longest node id.
const MAX_NODE_ID_LEN: usize = 64;

/// Checks a node id: 1-64 of `[A-Za-z0-9_.-]` (no `:`, which separates a
/// node id from its boot id in a fence, and no `{}`, which Redis Cluster
/// reads as a hash tag).
#[must_use]
pub fn valid_node_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_NODE_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// Checks a public URL and returns it without a trailing `/`.
///
/// # Errors
/// Why the URL cannot be a node's address.
pub fn parse_public_url(url: &str) -> Result<String, &'static str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or("must start with http:// or https://")?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err("has no host");
    }
    if url.contains(['?', '#']) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must be a plain URL without query, fragment or spaces");
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// This node.
#[derive(Clone, Debug)]
pub struct Node {
    /// Its name in the cluster.
    pub id: String,
    /// Eight random hex digits, new at every start: the directory tells two
    /// incarnations of one node id apart by it, and room ids carry it. A
    /// node that rejoins after its lease lapsed takes another (its
    /// directory holds the current one); room ids keep this one.
    pub boot_id: String,
    /// Where browsers reach it (`http(s)://host[:port][/path]`), when known:
    /// `--public-url`, else the bound address unless that is a wildcard.
    pub public_url: Option<String>,
    /// Part of a cluster (`--redis`).
    pub clustered: bool,
}

/// Eight random hex digits: a boot id for a new start, or for a node that
/// rejoins the cluster under a new identity after its lease lapsed.
#[must_use]
pub fn new_boot_id() -> String {
    format!("{:08x}", rand::rng().next_u32())
}

impl Node {
    /// Names this process from validated settings and the bound address.
    #[must_use]
    pub fn resolve(config: &Config, bound: SocketAddr, tls: bool) -> Node {
        let boot_id = new_boot_id();
        let id = config
            .node_id
            .clone()
            .unwrap_or_else(|| format!("{}-{boot_id}", host_name()));
        let public_url = match &config.public_url {
            Some(url) => parse_public_url(url).ok(),
            None if bound.ip().is_unspecified() => None,
            None => Some(format!("{}://{bound}", if tls { "https" } else { "http" })),
        };
        Node {
            id,
            boot_id,
            public_url,
            clustered: config.clustered(),
        }
    }

    /// How this node names its rooms. A single node keeps the plain names;
    /// a cluster node adds its boot id, so no two nodes (nor two starts of
    /// one node) ever open rooms with the same id.
    #[must_use]
    pub fn room_names(&self, default_room: &str) -> RoomNames {
        if self.clustered {
            RoomNames {
                default_room: format!("{default_room}-{}", self.boot_id),
                public_prefix: format!("arena-{}", self.boot_id),
            }
        } else {
            RoomNames {
                default_room: default_room.to_owned(),
                public_prefix: "arena".to_owned(),
            }
        }
    }
}

/// The player WebSocket URL of a node whose public URL is `base`, for
/// `room`, with a seat ticket when one was reserved.
#[must_use]
pub fn ws_url(base: &str, room: &str, seat: Option<&str>) -> String {
    let base = base
        .strip_prefix("https://")
        .map(|rest| format!("wss://{rest}"))
        .or_else(|| {
            base.strip_prefix("http://")
                .map(|rest| format!("ws://{rest}"))
        })
        .unwrap_or_else(|| base.to_owned());
    // Room ids and tickets are plain ASCII (`[A-Za-z0-9_-]`, hex): nothing
    // to escape.
    match seat {
        Some(seat) => format!("{base}/ws?room={room}&seat={seat}"),
        None => format!("{base}/ws?room={room}"),
    }
}

/// The host name, cut to what a node id allows (`node` when unknown).
fn host_name() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let name: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(MAX_NODE_ID_LEN - ROOM_SUFFIX_LEN)
        .collect();
    if name.is_empty() {
        "node".to_owned()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_and_urls_are_checked() {
        assert!(valid_node_id("eu-3.node_1"));
        for bad in ["", "a:b", "a{b}", "a b", &"x".repeat(65)] {
            assert!(!valid_node_id(bad), "{bad}");
        }
        assert_eq!(
            parse_public_url("https://eu3.example.com/"),
            Ok("https://eu3.example.com".to_owned())
        );
        for bad in [
            "eu3.example.com",
            "ftp://x",
            "http://",
            "http://x/?a",
            "http://a b",
        ] {
            assert!(parse_public_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn websocket_urls_follow_the_scheme() {
        assert_eq!(
            ws_url("https://eu3.example.com/n3", "main-1", Some("ab")),
            "wss://eu3.example.com/n3/ws?room=main-1&seat=ab"
        );
        assert_eq!(
            ws_url("http://127.0.0.1:9", "r", None),
            "ws://127.0.0.1:9/ws?room=r"
        );
    }

    #[test]
    fn a_default_node_id_is_valid_and_names_rooms_that_fit() {
        let mut config = Config::defaults();
        config.redis = Some("redis://127.0.0.1:1".into());
        let node = Node::resolve(&config, "127.0.0.1:8080".parse().expect("addr"), false);
        assert!(valid_node_id(&node.id), "{}", node.id);
        assert_eq!(node.public_url.as_deref(), Some("http://127.0.0.1:8080"));
        let names = node.room_names("main");
        assert_eq!(names.default_room.len(), "main".len() + ROOM_SUFFIX_LEN);
        assert!(skirmish_shared::valid_room_id(&names.default_room));
        let wild = Node::resolve(&config, "0.0.0.0:8080".parse().expect("addr"), true);
        assert_eq!(wild.public_url, None);
    }
}
