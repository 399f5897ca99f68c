//! # skirmish-server
//!
//! An authoritative, tick-based arena shooter server. Players speak binary
//! WebSocket; every room is one task running a bevy_ecs simulation at a fixed
//! rate.
//!
//! # Layout
//! - [`address_limit`]: counting slots in all and per client address.
//! - [`admin`]: the admin API (`--admin-token`): overview, room and player
//!   actions, drain, and the audit list.
//! - [`auth`]: signed player tokens (`--auth-jwt-key`): the verifier and
//!   the check every join makes.
//! - [`cluster`]: cluster mode (`--redis`): node leases, the shared room
//!   directory, seats and session routes in Redis; rooms' event logs and
//!   the cluster-wide ticker through Redis streams.
//! - [`config`]: settings (flags with `SKIRMISH_*` fallbacks), validated once.
//! - [`connection`]: serving one connection; its idle timeout and graceful
//!   close.
//! - [`fd_limit`]: the open-file limit, raised at start; the spare
//!   descriptor.
//! - [`game`]: the bevy_ecs simulation of one room; no networking.
//! - [`listener`]: the accept loop, connection limits, refusals while
//!   draining or out of descriptors.
//! - [`matchmaker`]: matchmaking and seat tickets, alone or in a cluster.
//! - [`metrics`]: Prometheus metrics for `/metrics`: every metric name once
//!   (`metrics::names`, read by the bots too) and every label set as a
//!   fixed enum.
//! - [`node`]: this process's name, boot id and public URL.
//! - [`room`]: the room task (tick loop, inbox, feed, snapshot fan-out),
//!   the registry that spawns and removes rooms, the room quota, the
//!   per-connection outbox, the event logs spectators and pollers read, the
//!   event-id allocator and the server-wide ticker.
//! - [`net`]: routes, the player WebSocket (and its close rules), SSE, long
//!   polling (watching and legacy play), JSON endpoints, origin and slot
//!   limits.
//! - [`server`]: binding, serving and graceful shutdown.
//! - [`storage`]: players, match history and leaderboards in SQLite or
//!   PostgreSQL; the bounded writer rooms hand finished rounds to.
//! - [`tls`]: HTTPS with HTTP/1.1 and HTTP/2 by ALPN.
//! - [`tokens`]: secret-token maps with constant-time comparison.

pub mod address_limit;
pub mod admin;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod connection;
pub mod fd_limit;
pub mod game;
pub mod listener;
pub mod matchmaker;
pub mod metrics;
pub mod net;
pub mod node;
pub mod room;
pub mod server;
pub mod storage;
pub mod tls;
pub mod tokens;

pub use config::Config;
pub use server::Server;
