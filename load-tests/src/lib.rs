//! # skirmish-load-tests
//!
//! `skirmish-bots`: simulated clients for every transport the Skirmish
//! server speaks, measured with HDR histograms. Players play the GAME.md bot
//! policy ([`skirmish_shared::bot::BotPolicy`]), so two runs with the same
//! counts send the same inputs and runs are comparable.
//!
//! # Layout
//! - [`config`]: the command line ([`Options`]), its hard caps and the
//!   loopback rule, checked once into a [`Plan`].
//! - [`target`]: the server under test: a URL, or a real
//!   `skirmish_server::Server` started in-process (`--spawn`).
//! - [`run`]: the run itself: ramp clients up, hold, stop them, collect.
//! - [`clients`]: one module per kind of client: WebSocket players, SSE
//!   spectators, long-poll watchers and long-poll (legacy) players.
//! - [`wire`]: byte accounting (HTTP heads, chunk and frame overhead) and
//!   the small parsers the clients share (SSE frames, event `time`).
//! - [`stats`]: live counters and histograms every client records into.
//! - [`prom`]: reading the server's tick histogram from `GET /metrics`
//!   (metric names from `skirmish_server::metrics::names`).
//! - [`report`]: the summary table, the JSON report and the error budgets.
//! - [`progress`]: the live progress bar.
//! - [`timeline`]: the run second by second, for the charts.
//! - [`html`] and [`svg`]: the self-contained HTML report and its charts.
//! - [`cpu`]: how the cores were shared between a spawned server and the
//!   bots.
//! - [`h2`]: HTTP/1.1 and HTTP/2 over TLS (`--tls`, `--http-version 2`):
//!   connection slots clients share, bytes counted as TLS plaintext.
//!
//! The bots never target anything but loopback unless told to
//! (`--allow-remote`), and are bounded in count and time.

pub mod clients;
pub mod config;
pub mod cpu;
pub mod h2;
pub mod html;
pub mod progress;
pub mod prom;
pub mod report;
pub mod run;
pub mod stats;
pub mod svg;
pub mod target;
pub mod timeline;
pub mod wire;

pub use config::{Options, Plan};
pub use report::{Budgets, Report};
pub use run::run;

/// Why a run could not start or finish. Client failures are not errors of
/// the run: they are counted in the report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag is out of range or the flags contradict each other.
    #[error("{0}")]
    BadPlan(String),
    /// `--url` names a host outside loopback without `--allow-remote`.
    #[error(
        "--url {0}: refusing a host outside 127.0.0.0/8, ::1 and localhost without --allow-remote"
    )]
    NotLoopback(String),
    /// The in-process server did not start or stop.
    #[error("in-process server: {0}")]
    Spawn(String),
    /// Writing the report failed.
    #[error("cannot write the report to {path}: {source}")]
    Report {
        /// Where.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
