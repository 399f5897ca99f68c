//! # skirmish-shared
//!
//! The one definition of Skirmish's wire protocol and game rules, used by the
//! server, the load-test bots and (through golden vectors) the web client.
//!
//! # Layout
//! - [`tick`]: the `Tick` newtype, simulation time on the wire.
//! - [`protocol`]: `ClientMsg` / `ServerMsg` and every type they carry,
//!   `CloseCode`, `PROTOCOL_VERSION` and the frame limits.
//! - [`feed`]: the JSON events of the room feeds and the ticker (SSE and
//!   watching by long poll), and the one table of their names.
//! - [`http`]: the JSON API's bodies (poll pages, join, input and state
//!   answers, the room list) and the error body with its `ApiErrorCode`.
//! - [`codec`]: the only place that turns messages into bytes and back
//!   (bincode 2 today; swapping the format touches this module only): the
//!   codec itself, snapshot frame assembly (`codec/frame.rs`) and the id
//!   gaps of snapshot lists (`codec/id_gaps.rs`).
//! - [`rules`]: the reference arena's constants and the pure movement and
//!   quantisation functions that client prediction must reproduce exactly.
//! - [`interest`]: the camera's view and the area of interest around a
//!   player's ship that the server sends it ships and shots of.
//! - [`rng`]: the seeded xorshift generator the bot policy is defined with.
//! - [`view`]: how a client applies snapshots (full and delta) to what it holds.
//! - [`bot`]: the load-test bot policy of GAME.md, shared by server-side
//!   benchmarks and `skirmish-bots`.
//! - [`replay`]: a finished round's replay as the JSON download carries it.
//!
//! This crate must never depend on tokio, axum or anything that does I/O.

pub mod bot;
pub mod codec;
pub mod feed;
pub mod http;
pub mod interest;
pub mod protocol;
pub mod replay;
pub mod rng;
pub mod rules;
pub mod tick;
pub mod view;

pub use codec::{CodecError, decode_client, decode_server, encode};
pub use protocol::*;
pub use tick::Tick;
