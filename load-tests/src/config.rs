//! The command line and what it is allowed to ask for. Everything a run
//! needs is checked here once, into a [`Plan`]: hard caps on clients and
//! time, and loopback-only targets unless `--allow-remote` says otherwise.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use reqwest::Url;
use skirmish_shared::valid_room_id;

use crate::Error;
use crate::clients::play_state::ViewMode;
use crate::report::Budgets;

/// Clients of all kinds together, at most.
pub const MAX_CLIENTS: u32 = 20_000;

/// Longest run, in seconds.
pub const MAX_DURATION_SECS: f64 = 3600.0;

/// Fastest ramp, in clients per second.
pub const MAX_RAMP: f64 = 10_000.0;

/// Most rooms players may be spread over.
pub const MAX_ROOMS: u32 = 1000;

/// Seats a spawned server may give one room (its own `--max-players` cap).
const MAX_SEATS_PER_ROOM: u32 = 2000;

/// skirmish-bots: load-test bots for the Skirmish server.
///
/// Players play the GAME.md bot policy over WebSocket; spectators read SSE;
/// pollers long-poll the room log; legacy players play over long polling.
#[derive(Clone, Debug, Parser)]
#[command(name = "skirmish-bots", version, about)]
pub struct Options {
    /// WebSocket players (bot i plays `BotPolicy::new(i, tick_hz)`).
    #[arg(long, default_value_t = 0)]
    pub players: u32,

    /// SSE spectators (`GET /api/rooms/{id}/events`).
    #[arg(long, default_value_t = 0)]
    pub spectators: u32,

    /// Long-poll watchers (`GET /api/rooms/{id}/poll?after=next`).
    #[arg(long, default_value_t = 0)]
    pub pollers: u32,

    /// Long-poll players (join, input, state); legacy player j plays
    /// `BotPolicy::new(players + j, tick_hz)`.
    #[arg(long, default_value_t = 0)]
    pub legacy: u32,

    /// Clients started per second, all kinds interleaved.
    #[arg(long, default_value_t = 200.0)]
    pub ramp: f64,

    /// Seconds from the first client's start to the stop, ramp included.
    #[arg(long, default_value_t = 30.0)]
    pub duration: f64,

    /// Seconds after the first start before the server's figures (tick
    /// durations, CPU, memory) start counting, so they show the steady
    /// state rather than the ramp. Client figures cover the whole run.
    #[arg(long, default_value_t = 0.0)]
    pub warmup: f64,

    /// The server under test (ignored with --spawn).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,

    /// Allow a --url host outside loopback.
    #[arg(long)]
    pub allow_remote: bool,

    /// Room every client goes to.
    #[arg(long, default_value = "main")]
    pub room: String,

    /// Spread clients over K rooms `bench-1..K` (client i goes to room
    /// i mod K + 1) instead of --room.
    #[arg(long)]
    pub rooms: Option<u32>,

    /// Start the server in-process on a free loopback port and stop it at
    /// the end: one command runs a whole benchmark.
    #[arg(long)]
    pub spawn: bool,

    /// Server-side bots in each room of the spawned server.
    #[arg(long, default_value_t = 0)]
    pub server_bots: u16,

    /// Tick rate of the spawned server.
    #[arg(long, default_value_t = 30)]
    pub tick_hz: u16,

    /// Worker threads of the spawned server's runtime (default: all cores).
    #[arg(long)]
    pub server_threads: Option<usize>,

    /// Long-poll and SSE clients send `Accept-Encoding: gzip`, as
    /// browsers do (the server compresses SSE only with `--sse-gzip`).
    #[arg(long)]
    pub gzip: bool,

    /// Players ask `POST /api/matchmake` for a seat in their room and play
    /// on the owner it names, as the browser does (a WebSocket player opens
    /// the answered ws_url; a long-poll player joins with the seat, then
    /// sends its session to the join's node_url). Each room's first player
    /// opens it. For a cluster, or a balancer in front of one.
    #[arg(long)]
    pub matchmake: bool,

    /// How players keep snapshots: `full` rebuilds the room with
    /// ViewHistory like a real client; `ticks` tracks only the ticks held
    /// (same acks, far less bot CPU in crowded rooms); `interest` is `full`
    /// and checks every state against the area of interest (a server at
    /// `--url` must run with `--interest-from-ships 0`; a spawned one does).
    #[arg(long, value_enum, default_value_t = ViewMode::Full)]
    pub view: ViewMode,

    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long)]
    pub quiet: bool,

    /// Write the JSON report here.
    #[arg(long)]
    pub report: Option<PathBuf>,

    /// Write a self-contained HTML report here: charts of the run over
    /// time (clients, updates per second, errors, server CPU), latency
    /// histograms per transport and the summary table.
    #[arg(long)]
    pub html: Option<PathBuf>,

    /// Write the HTML report's charts as SVG files into this directory.
    #[arg(long)]
    pub svg_dir: Option<PathBuf>,

    /// Error budgets: the exit status is non-zero when one is exceeded.
    #[command(flatten)]
    pub budgets: Budgets,

    /// Reach the spawned server over TLS (a self-signed certificate made
    /// for the run, trusted by the bots only): HTTP/1.1 by ALPN, one
    /// connection per client, bytes counted as TLS plaintext (see
    /// [`crate::h2`]). Spectators, watchers and long-poll players.
    #[arg(long)]
    pub tls: bool,

    /// HTTP version over `--tls`: `2` multiplexes clients onto shared
    /// connections, `--clients-per-connection` streams each, as a browser
    /// page behind an HTTP/2 server does. `2` implies `--tls`.
    #[arg(long, value_enum, default_value_t = HttpVersion::Http1)]
    pub http_version: HttpVersion,

    /// With `--http-version 2`: clients of one kind sharing a connection
    /// (a page's feeds and polls; Chromium opens one per origin).
    #[arg(long, default_value_t = 10)]
    pub clients_per_connection: u32,
}

/// The HTTP version the bots speak over `--tls`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum HttpVersion {
    /// HTTP/1.1: one connection per client.
    #[value(name = "1.1")]
    Http1,
    /// HTTP/2: clients share connections, one stream each.
    #[value(name = "2")]
    Http2,
}

/// Most clients one HTTP/2 connection may carry (the server's own cap on
/// streams per connection is 1000).
pub const MAX_CLIENTS_PER_CONNECTION: u32 = 1000;

/// How the bots speak to a TLS server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsPlan {
    /// HTTP/1.1 or HTTP/2 by ALPN.
    pub version: HttpVersion,
    /// Clients of one kind per connection: 1 for HTTP/1.1.
    pub clients_per_connection: u32,
}

/// Where the clients connect.
#[derive(Clone, Debug, PartialEq)]
pub enum TargetPlan {
    /// A running server.
    Url(Url),
    /// A server started in-process.
    Spawn {
        /// Server-side bots per room.
        server_bots: u16,
        /// Tick rate.
        tick_hz: u16,
        /// Runtime worker threads.
        threads: usize,
    },
}

/// A checked run: what to start, where, for how long.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The server under test.
    pub target: TargetPlan,
    /// WebSocket players.
    pub players: u32,
    /// SSE spectators.
    pub spectators: u32,
    /// Long-poll watchers.
    pub pollers: u32,
    /// Long-poll players.
    pub legacy: u32,
    /// Clients started per second.
    pub ramp: f64,
    /// From the first start to the stop.
    pub duration: Duration,
    /// From the first start to the server figures' first scrape.
    pub warmup: Duration,
    /// Rooms clients are spread over, round robin by index.
    pub rooms: Vec<String>,
    /// Long polls accept gzip.
    pub gzip: bool,
    /// Players matchmake.
    pub matchmake: bool,
    /// How players keep snapshots.
    pub view: ViewMode,
    /// Show the progress bar (when stderr is a terminal).
    pub progress: bool,
    /// Budgets to check the report against.
    pub budgets: Budgets,
    /// Sample the run every second for charts (`--html`, `--svg-dir`).
    pub timeline: bool,
    /// Over TLS (`--tls`, `--http-version 2`); `None`: plain HTTP/1.1.
    pub tls: Option<TlsPlan>,
}

impl Plan {
    /// Clients of all kinds.
    #[must_use]
    pub fn total_clients(&self) -> u32 {
        self.players + self.spectators + self.pollers + self.legacy
    }

    /// The room of client `index` (of any kind).
    #[must_use]
    pub fn room_of(&self, index: u32) -> &str {
        let n = self.rooms.len().max(1);
        &self.rooms[index as usize % n]
    }
}

impl Options {
    /// Checks the flags against the caps and the loopback rule.
    ///
    /// # Errors
    /// [`Error::BadPlan`] for out-of-range values, [`Error::NotLoopback`]
    /// for a remote `--url` without `--allow-remote`.
    pub fn plan(&self) -> Result<Plan, Error> {
        let bad = |msg: String| Err(Error::BadPlan(msg));
        let total = [self.players, self.spectators, self.pollers, self.legacy]
            .iter()
            .try_fold(0u32, |sum, n| sum.checked_add(*n))
            .unwrap_or(u32::MAX);
        if total == 0 {
            return bad(
                "nothing to run: give --players, --spectators, --pollers or --legacy".into(),
            );
        }
        if total > MAX_CLIENTS {
            return bad(format!("{total} clients: at most {MAX_CLIENTS} in one run"));
        }
        if !(self.duration > 0.0 && self.duration <= MAX_DURATION_SECS) {
            return bad(format!(
                "--duration {}: must be above 0 and at most {MAX_DURATION_SECS} seconds",
                self.duration
            ));
        }
        if !(self.warmup >= 0.0 && self.warmup < self.duration) {
            return Err(Error::BadPlan(format!(
                "--warmup {}: must be at least 0 and below --duration {}",
                self.warmup, self.duration
            )));
        }
        if !(self.ramp > 0.0 && self.ramp <= MAX_RAMP) {
            return bad(format!(
                "--ramp {}: must be above 0 and at most {MAX_RAMP} clients per second",
                self.ramp
            ));
        }
        let rooms = match self.rooms {
            None => {
                if !valid_room_id(&self.room) {
                    return bad(format!(
                        "--room {:?}: must be 1-32 characters of A-Z a-z 0-9 _ -",
                        self.room
                    ));
                }
                vec![self.room.clone()]
            }
            Some(k) if (1..=MAX_ROOMS).contains(&k) => {
                (1..=k).map(|i| format!("bench-{i}")).collect()
            }
            Some(k) => return bad(format!("--rooms {k}: must be 1 to {MAX_ROOMS}")),
        };
        let target = if self.spawn {
            if !(1..=240).contains(&self.tick_hz) {
                return bad(format!("--tick-hz {}: must be 1 to 240", self.tick_hz));
            }
            let seats = (self.players + self.legacy).div_ceil(rooms.len() as u32);
            if seats + u32::from(self.server_bots) > MAX_SEATS_PER_ROOM {
                return bad(format!(
                    "{seats} players per room: a spawned server seats at most {MAX_SEATS_PER_ROOM}; use --rooms"
                ));
            }
            let threads = self
                .server_threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
            if !(1..=256).contains(&threads) {
                return bad(format!("--server-threads {threads}: must be 1 to 256"));
            }
            TargetPlan::Spawn {
                server_bots: self.server_bots,
                tick_hz: self.tick_hz,
                threads,
            }
        } else {
            let url = Url::parse(&self.url)
                .map_err(|e| Error::BadPlan(format!("--url {}: {e}", self.url)))?;
            if url.scheme() != "http" {
                return bad(format!(
                    "--url {}: only http:// is supported (over TLS the bots trust only the certificate --spawn --tls makes)",
                    self.url
                ));
            }
            if !self.allow_remote && !is_loopback(&url) {
                return Err(Error::NotLoopback(self.url.clone()));
            }
            TargetPlan::Url(url)
        };
        Ok(Plan {
            target,
            players: self.players,
            spectators: self.spectators,
            pollers: self.pollers,
            legacy: self.legacy,
            ramp: self.ramp,
            duration: Duration::from_secs_f64(self.duration),
            warmup: Duration::from_secs_f64(self.warmup),
            rooms,
            gzip: self.gzip,
            matchmake: self.matchmake,
            view: self.view,
            progress: !self.quiet,
            budgets: self.budgets.clone(),
            timeline: self.html.is_some() || self.svg_dir.is_some(),
            tls: self.tls_plan()?,
        })
    }

    /// `--tls` and `--http-version`, checked: TLS needs `--spawn` (the
    /// bots trust only the certificate they made, so `--matchmake`'s
    /// other nodes are out) and carries spectators, watchers and long-poll
    /// players (WebSocket players are no HTTP streams; they play through
    /// `--server-bots`).
    fn tls_plan(&self) -> Result<Option<TlsPlan>, Error> {
        if !self.tls && self.http_version == HttpVersion::Http1 {
            return Ok(None);
        }
        let bad = |msg: &str| Err(Error::BadPlan(msg.to_owned()));
        if !self.spawn {
            return bad(
                "--tls and --http-version 2 need --spawn: the bots trust only the certificate they make",
            );
        }
        if self.gzip {
            return bad("--gzip is for plain runs: the TLS clients ask for no encoding");
        }
        if self.players > 0 {
            return bad(
                "--tls and --http-version 2 carry --spectators, --pollers and --legacy only (not --players)",
            );
        }
        if self.matchmake {
            return bad(
                "--matchmake is for plain runs: the TLS clients reach only the spawned server",
            );
        }
        let clients_per_connection = match self.http_version {
            HttpVersion::Http1 => 1,
            HttpVersion::Http2 => self.clients_per_connection,
        };
        if !(1..=MAX_CLIENTS_PER_CONNECTION).contains(&clients_per_connection) {
            return bad("--clients-per-connection: must be 1 to 1000");
        }
        Ok(Some(TlsPlan {
            version: self.http_version,
            clients_per_connection,
        }))
    }
}

/// True when `url`'s host is `localhost`, in 127.0.0.0/8 or `::1`.
#[must_use]
pub fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    // IPv6 hosts come bracketed: `[::1]`.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(args: &[&str]) -> Options {
        let mut all = vec!["skirmish-bots"];
        all.extend_from_slice(args);
        Options::try_parse_from(all).expect("flags parse")
    }

    #[test]
    fn only_loopback_targets_without_allow_remote() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3/",
            "http://localhost:9000",
            "http://LOCALHOST",
            "http://[::1]:8080",
        ] {
            let plan = options(&["--players", "1", "--url", ok]).plan();
            assert!(plan.is_ok(), "{ok}: {plan:?}");
        }
        for remote in [
            "http://10.0.0.1:8080",
            "http://example.com",
            "http://[::2]/",
            "http://0.0.0.0:8080",
            "http://localhost.example.com",
        ] {
            let plan = options(&["--players", "1", "--url", remote]).plan();
            assert!(matches!(plan, Err(Error::NotLoopback(_))), "{remote}");
            assert!(
                options(&["--players", "1", "--url", remote, "--allow-remote"])
                    .plan()
                    .is_ok()
            );
        }
    }

    #[test]
    fn caps_hold() {
        for args in [
            &["--players", "20001"][..],
            &["--players", "10000", "--spectators", "10001"],
            &["--players", "1", "--duration", "3601"],
            &["--players", "1", "--duration", "0"],
            &["--players", "1", "--ramp", "0"],
            &["--players", "1", "--rooms", "0"],
            &["--players", "1", "--room", "no spaces"],
            &["--players", "1", "--url", "https://127.0.0.1"],
            &["--players", "2001", "--spawn"],
            &[],
        ] {
            assert!(
                matches!(options(args).plan(), Err(Error::BadPlan(_))),
                "{args:?}"
            );
        }
        assert!(options(&["--players", "20000"]).plan().is_ok());
        assert!(
            options(&["--players", "4000", "--spawn", "--rooms", "2"])
                .plan()
                .is_ok()
        );
    }

    #[test]
    fn tls_runs_are_spawned_http_clients() {
        let plan = options(&["--spectators", "5", "--spawn", "--http-version", "2"])
            .plan()
            .expect("plan");
        assert_eq!(
            plan.tls,
            Some(TlsPlan {
                version: HttpVersion::Http2,
                clients_per_connection: 10
            })
        );
        let h1 = options(&["--pollers", "5", "--spawn", "--tls"])
            .plan()
            .expect("plan");
        assert_eq!(h1.tls.map(|t| t.clients_per_connection), Some(1));
        assert!(
            options(&["--legacy", "1", "--spawn", "--http-version", "2"])
                .plan()
                .is_ok()
        );
        for args in [
            &["--spectators", "5", "--http-version", "2"][..],
            &["--players", "1", "--spawn", "--tls"],
            &["--legacy", "1", "--spawn", "--tls", "--matchmake"],
            &[
                "--pollers",
                "1",
                "--spawn",
                "--http-version",
                "2",
                "--clients-per-connection",
                "0",
            ],
        ] {
            assert!(
                matches!(options(args).plan(), Err(Error::BadPlan(_))),
                "{args:?}"
            );
        }
    }

    #[test]
    fn rooms_spread_round_robin() {
        let plan = options(&["--players", "5", "--rooms", "3"])
            .plan()
            .expect("plan");
        let rooms: Vec<&str> = (0..5).map(|i| plan.room_of(i)).collect();
        assert_eq!(
            rooms,
            ["bench-1", "bench-2", "bench-3", "bench-1", "bench-2"]
        );
        let single = options(&["--players", "2", "--room", "arena_9"])
            .plan()
            .expect("plan");
        assert_eq!(single.room_of(1), "arena_9");
    }
}
