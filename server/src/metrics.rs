//! Prometheus metrics, served as OpenMetrics text at `GET /metrics`.
//!
//! One [`Metrics`] per server, shared by `Arc`. Counters and gauges are
//! atomics. A histogram takes its own small mutex for the duration of an
//! `observe` or of copying its buckets for a scrape, never across I/O: a
//! room's tick never waits on a scraper's network write. Rooms hold their
//! own histogram handle, so the per-tick path never touches the label map.
//!
//! Every label value comes from a fixed set, never from what a client
//! typed: `/metrics` stays the same size whatever clients do. Rooms get
//! their own tick series only while they are public (the default room and
//! matchmaking's `arena-N`), at most [`MAX_LABELLED_ROOMS`] of them; every
//! other room shares `room="other"` (see [`RoomTicks`]).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Rooms whose tick histogram carries their own id, the default room
/// included. A tick series is about 31 lines; 16 keep `/metrics` small and
/// cover the rooms an operator looks at one by one. Only public rooms
/// qualify: the server opens those, one per 64 seated players, so their
/// ids (`arena-N`) and number follow real load, not what clients type.
/// The N busiest were the other choice, but a series that comes and goes
/// with load is hard to graph, and "busy" can be bought with bots.
pub const MAX_LABELLED_ROOMS: usize = 16;

/// The shared `room` label of every room without its own series: rooms
/// clients named, and public rooms past [`MAX_LABELLED_ROOMS`].
pub const OTHER_ROOMS: &str = "other";

/// `room="..."`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RoomLabel {
    pub room: String,
}

/// `transport="websocket|sse|longpoll"`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransportLabel {
    /// One of [`transport`]'s names, never a client's word.
    pub transport: &'static str,
}

/// `reason="..."`, from [`Rejection::as_str`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// [`Rejection::as_str`] of the refusal.
    pub reason: &'static str,
}

/// Why a connection or a request was refused: the `reason` label of
/// `skirmish_rejected_total`. One enum, so the label set is fixed and
/// listed here, whatever clients send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// The listener is at `--max-connections`.
    ConnectionLimit,
    /// The address is at `--max-connections-per-ip`.
    IpConnectionLimit,
    /// The server is draining.
    ShuttingDown,
    /// No file descriptor left for the connection.
    FdLimit,
    /// The TLS handshake took too long.
    HandshakeTimeout,
    /// The request head took too long.
    HeaderTimeout,
    /// A browser origin not on the allow list.
    Origin,
    /// A malformed `/ws` query.
    BadWsQuery,
    /// No `Hello` within the timeout.
    HelloTimeout,
    /// A `Hello` of another protocol version.
    BadVersion,
    /// A name that is empty, too long or has control characters.
    BadName,
    /// A malformed room id, or a room on another node.
    BadRoom,
    /// A seat ticket that is unknown, expired or for another room.
    BadSeat,
    /// A seat reserved by matchmaking could not be taken.
    SeatRefused,
    /// A client stopped reading: a write outlived its timeout.
    WriteTimeout,
    /// `--max-legacy-sessions` long-poll players.
    LegacyLimit,
    /// The spectator cap, in all or of a room.
    SpectatorLimit,
    /// The address's spectator cap.
    IpSpectatorLimit,
    /// The poll cap, in all or of a room.
    PollLimit,
    /// The address's poll cap.
    IpPollLimit,
    /// The address's matchmaking rate.
    MatchmakeRate,
    /// The room is full (or closed while the join waited).
    RoomFull,
    /// A resume token no room holds.
    ResumeRejected,
    /// The room cap.
    RoomLimit,
    /// Every room and the room cap are full.
    ServerFull,
    /// The address's rate of new rooms.
    RoomRate,
    /// A private room without its invite code.
    Invite,
    /// The address's rate of wrong invite codes.
    InviteRate,
    /// A join refused by an operator's ban.
    Banned,
    /// The replay stream cap (`--max-replay-streams`).
    ReplayLimit,
    /// The address's replay stream cap.
    IpReplayLimit,
    /// A join without a valid signed player token (`--auth-jwt-key`).
    PlayerToken,
}

impl Rejection {
    /// The label value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::ConnectionLimit => "connection_limit",
            Rejection::IpConnectionLimit => "ip_connection_limit",
            Rejection::ShuttingDown => "shutting_down",
            Rejection::FdLimit => "fd_limit",
            Rejection::HandshakeTimeout => "handshake_timeout",
            Rejection::HeaderTimeout => "header_timeout",
            Rejection::Origin => "origin",
            Rejection::BadWsQuery => "bad_ws_query",
            Rejection::HelloTimeout => "hello_timeout",
            Rejection::BadVersion => "bad_version",
            Rejection::BadName => "bad_name",
            Rejection::BadRoom => "bad_room",
            Rejection::BadSeat => "bad_seat",
            Rejection::SeatRefused => "seat_refused",
            Rejection::WriteTimeout => "write_timeout",
            Rejection::LegacyLimit => "legacy_limit",
            Rejection::SpectatorLimit => "spectator_limit",
            Rejection::IpSpectatorLimit => "ip_spectator_limit",
            Rejection::PollLimit => "poll_limit",
            Rejection::IpPollLimit => "ip_poll_limit",
            Rejection::MatchmakeRate => "matchmake_rate",
            Rejection::RoomFull => "room_full",
            Rejection::ResumeRejected => "resume_rejected",
            Rejection::RoomLimit => "room_limit",
            Rejection::ServerFull => "server_full",
            Rejection::RoomRate => "room_rate",
            Rejection::Invite => "invite",
            Rejection::InviteRate => "invite_rate",
            Rejection::Banned => "banned",
            Rejection::ReplayLimit => "replay_limit",
            Rejection::IpReplayLimit => "ip_replay_limit",
            Rejection::PlayerToken => "player_token",
        }
    }
}

/// `op="..."`: one kind of Redis call (a fixed set, see `cluster::redis`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpLabel {
    /// The call's name as `cluster::redis` times it; static, so no client
    /// input can become a label value.
    pub op: &'static str,
}

/// `outcome="..."`, from [`MatchOutcome::as_str`], [`LogBatch::as_str`],
/// [`FollowerRepair::as_str`] or [`TickerScore::as_str`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// The `as_str` of one of those enums.
    pub outcome: &'static str,
}

/// What came of one `POST /api/matchmake`: the `outcome` label of
/// `skirmish_matchmakes_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchOutcome {
    /// A resume was routed to its room's node.
    Resume,
    /// A seat was reserved.
    Seat,
    /// The room or the session is unknown.
    Unknown,
    /// The room is full or closed.
    Full,
    /// Refused (the room cap, the address's rate, shutdown...).
    Refused,
    /// The cluster directory could not be reached.
    Unavailable,
}

impl MatchOutcome {
    /// The label value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOutcome::Resume => "resume",
            MatchOutcome::Seat => "seat",
            MatchOutcome::Unknown => "unknown",
            MatchOutcome::Full => "full",
            MatchOutcome::Refused => "refused",
            MatchOutcome::Unavailable => "unavailable",
        }
    }
}

/// What became of one event-log batch on its way to Redis: the `outcome`
/// label of `skirmish_log_writer_batches_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogBatch {
    /// Copied.
    Written,
    /// Refused: another live node owns the room id.
    Fenced,
    /// The call failed; resent from the ring with the next batch.
    Failed,
    /// Dropped at a full queue; resent from the ring with the next batch.
    Overflow,
}

impl LogBatch {
    /// The label value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            LogBatch::Written => "written",
            LogBatch::Fenced => "fenced",
            LogBatch::Failed => "failed",
            LogBatch::Overflow => "overflow",
        }
    }
}

/// A follower's repair: the `outcome` label of
/// `skirmish_follower_repairs_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FollowerRepair {
    /// Missing entries read from the stream.
    GapFilled,
    /// Subscribed again after a lost connection.
    Resubscribed,
    /// The mirror started over; its readers get `reset`.
    Restarted,
}

impl FollowerRepair {
    /// The label value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            FollowerRepair::GapFilled => "gap_filled",
            FollowerRepair::Resubscribed => "resubscribed",
            FollowerRepair::Restarted => "restarted",
        }
    }
}

/// What became of one finished round on its way to the database: the
/// `outcome` label of `skirmish_db_rounds_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DbRound {
    /// Written (its match, standings and player rows, in one transaction).
    Written,
    /// Dropped: the backlog held `--db-backlog` rounds already.
    Dropped,
}

impl DbRound {
    /// Every outcome, in the order of [`DbRound`]'s discriminants.
    pub const ALL: [DbRound; 2] = [DbRound::Written, DbRound::Dropped];

    /// The label value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            DbRound::Written => "written",
            DbRound::Dropped => "dropped",
        }
    }
}

/// What became of one score event on its way to the cluster ticker: the
/// `outcome` label of `skirmish_ticker_scores_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TickerScore {
    /// Logged in the cluster ticker.
    Written,
    /// The call failed; the event is not logged (never retried: Redis
    /// allocates the ids, and a call that timed out may have run). The
    /// board is whole again after the node's next board refresh.
    Failed,
    /// Dropped at the writer's full queue; as for `Failed`.
    Overflow,
}

impl TickerScore {
    /// The label value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            TickerScore::Written => "written",
            TickerScore::Failed => "failed",
            TickerScore::Overflow => "overflow",
        }
    }
}

/// The transports: the `transport` label of every per-transport family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Players over `GET /ws`.
    WebSocket,
    /// Spectator and ticker streams.
    Sse,
    /// Watch polls and long-poll players.
    LongPoll,
}

impl Transport {
    /// Every transport, in the order of [`Transport`]'s discriminants.
    pub const ALL: [Transport; 3] = [Transport::WebSocket, Transport::Sse, Transport::LongPoll];

    /// The label value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::WebSocket => "websocket",
            Transport::Sse => "sse",
            Transport::LongPoll => "longpoll",
        }
    }
}

impl From<Transport> for TransportLabel {
    fn from(transport: Transport) -> TransportLabel {
        TransportLabel {
            transport: transport.as_str(),
        }
    }
}

/// Every metric's name, exported once: the server registers under these
/// and the load-test bots read the same names from a scrape. Counters get
/// `_total` appended by the OpenMetrics encoder.
pub mod names {
    /// User and system CPU seconds of the server process.
    pub const PROCESS_CPU_SECONDS: &str = "skirmish_process_cpu_seconds";
    /// Resident memory of the server process.
    pub const PROCESS_RESIDENT_BYTES: &str = "skirmish_process_resident_bytes";
    /// Highest resident memory so far.
    pub const PROCESS_PEAK_RESIDENT_BYTES: &str = "skirmish_process_peak_resident_bytes";
    /// Open file descriptors.
    pub const PROCESS_OPEN_FDS: &str = "skirmish_process_open_fds";
    /// Threads of the server process.
    pub const PROCESS_THREADS: &str = "skirmish_process_threads";
    /// Seconds one room tick took, by room (histogram).
    pub const TICK_DURATION_SECONDS: &str = "skirmish_tick_duration_seconds";
    /// Open TCP connections.
    pub const CONNECTIONS: &str = "skirmish_connections";
    /// Rooms open.
    pub const ROOMS: &str = "skirmish_rooms";
    /// Seated players, by transport.
    pub const PLAYERS: &str = "skirmish_players";
    /// Open spectator and ticker streams.
    pub const SPECTATORS: &str = "skirmish_spectators";
    /// Long polls waiting.
    pub const POLLERS: &str = "skirmish_pollers";
    /// Long-poll player sessions.
    pub const LEGACY_SESSIONS: &str = "skirmish_legacy_sessions";
    /// Messages sent, by transport (a counter: `_total` on the wire).
    pub const MESSAGES_SENT: &str = "skirmish_messages_sent";
    /// Payload bytes sent, by transport (a counter).
    pub const BYTES_SENT: &str = "skirmish_bytes_sent";
    /// Inputs dropped (a counter).
    pub const INPUTS_DROPPED: &str = "skirmish_inputs_dropped";
    /// Shots whose claimed view time was clamped (a counter).
    pub const LAG_COMP_CLAMPED: &str = "skirmish_lag_comp_clamped";
    /// Snapshots replaced before a slow reader took them (a counter).
    pub const SNAPSHOTS_SKIPPED: &str = "skirmish_snapshots_skipped";
    /// Event-log readers reset, by transport (a counter).
    pub const RESETS: &str = "skirmish_resets";
    /// Refusals, by [`super::Rejection`] (a counter).
    pub const REJECTED: &str = "skirmish_rejected";
    /// Seconds per Redis call, by call (histogram).
    pub const REDIS_SECONDS: &str = "skirmish_redis_seconds";
    /// Failed Redis calls, by call (a counter).
    pub const REDIS_ERRORS: &str = "skirmish_redis_errors";
    /// Live nodes at the last lease refresh.
    pub const CLUSTER_NODES: &str = "skirmish_cluster_nodes";
    /// Matchmaking answers, by [`super::MatchOutcome`] (a counter).
    pub const MATCHMAKES: &str = "skirmish_matchmakes";
    /// Finished rounds waiting for the database writer.
    pub const DB_BACKLOG: &str = "skirmish_db_backlog";
    /// Finished rounds by [`super::DbRound`] (a counter).
    pub const DB_ROUNDS: &str = "skirmish_db_rounds";
    /// Database calls that failed or timed out (a counter).
    pub const DB_ERRORS: &str = "skirmish_db_errors";
    /// Jobs waiting for the cluster ticker writer.
    pub const TICKER_WRITER_BACKLOG: &str = "skirmish_ticker_writer_backlog";
    /// Score events bound for the cluster ticker, by
    /// [`super::TickerScore`] (a counter).
    pub const TICKER_SCORES: &str = "skirmish_ticker_scores";
    /// Event-log batches queued for the Redis log writer.
    pub const LOG_WRITER_BACKLOG: &str = "skirmish_log_writer_backlog";
    /// Event-log batches, by [`super::LogBatch`] (a counter).
    pub const LOG_WRITER_BATCHES: &str = "skirmish_log_writer_batches";
    /// Rooms of other nodes followed now.
    pub const FOLLOWERS: &str = "skirmish_followers";
    /// Follower repairs, by [`super::FollowerRepair`] (a counter).
    pub const FOLLOWER_REPAIRS: &str = "skirmish_follower_repairs";
    /// Rooms this node declared lost (their node's lease ran out; a
    /// counter).
    pub const ROOMS_LOST: &str = "skirmish_rooms_lost";
    /// Seconds from the owner's append to the follower's (histogram).
    pub const FOLLOWER_LAG_SECONDS: &str = "skirmish_follower_lag_seconds";
    /// Channels this node's pub/sub connection carries.
    pub const PUBSUB_CHANNELS: &str = "skirmish_pubsub_channels";
    /// Reconnects of the pub/sub connection after a drop (a counter).
    pub const PUBSUB_RECONNECTS: &str = "skirmish_pubsub_reconnects";
    /// Times this node found Redis had lost its keys (a counter).
    pub const REDIS_DATA_LOSSES: &str = "skirmish_redis_data_losses";
    /// Live rooms whose tick loop stalled.
    pub const ROOMS_STALLED: &str = "skirmish_rooms_stalled";
    /// Rejoins under a new boot id after a lapsed lease (a counter).
    pub const IDENTITY_RENEWALS: &str = "skirmish_identity_renewals";
}

fn tick_histogram() -> Histogram {
    // 25 µs to about 290 ms in steps of √2, fine enough to tell a 3 ms p99
    // from a 4 ms one; a tick's whole budget at 30 Hz is 33 ms.
    Histogram::new(exponential_buckets(0.000_025, std::f64::consts::SQRT_2, 28))
}

/// This process's resource use, read from `/proc/self` at each scrape
/// (Linux; elsewhere the gauges stay 0).
#[derive(Debug, Default)]
struct ProcessGauges {
    cpu_seconds: Gauge<f64, AtomicU64>,
    resident_bytes: Gauge,
    peak_resident_bytes: Gauge,
    open_fds: Gauge,
    threads: Gauge,
}

impl ProcessGauges {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            names::PROCESS_CPU_SECONDS,
            "User and system CPU time of the server process",
            self.cpu_seconds.clone(),
        );
        registry.register(
            names::PROCESS_RESIDENT_BYTES,
            "Resident memory of the server process",
            self.resident_bytes.clone(),
        );
        registry.register(
            names::PROCESS_PEAK_RESIDENT_BYTES,
            "Highest resident memory of the server process so far",
            self.peak_resident_bytes.clone(),
        );
        registry.register(
            names::PROCESS_OPEN_FDS,
            "Open file descriptors (sockets included)",
            self.open_fds.clone(),
        );
        registry.register(
            names::PROCESS_THREADS,
            "Threads of the server process",
            self.threads.clone(),
        );
    }

    fn refresh(&self) {
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat")
            && let Some(ticks) = cpu_ticks(&stat)
        {
            // Linux reports in USER_HZ, which is 100 on every platform it
            // supports today.
            self.cpu_seconds.set(ticks as f64 / 100.0);
        }
        if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
            let field = |name: &str| -> Option<i64> {
                let line = status.lines().find(|l| l.starts_with(name))?;
                line[name.len()..].split_whitespace().next()?.parse().ok()
            };
            if let Some(kib) = field("VmRSS:") {
                self.resident_bytes.set(kib * 1024);
            }
            if let Some(kib) = field("VmHWM:") {
                self.peak_resident_bytes.set(kib * 1024);
            }
            if let Some(n) = field("Threads:") {
                self.threads.set(n);
            }
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            self.open_fds
                .set(i64::try_from(fds.count()).unwrap_or(i64::MAX));
        }
    }
}

/// utime + stime of a `/proc/*/stat` line (fields 14 and 15; the command
/// name in field 2 may contain spaces, so count from its closing paren).
/// Public for the load-test bots, which read their own threads with it.
#[must_use]
pub fn cpu_ticks(stat: &str) -> Option<u64> {
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn redis_histogram() -> Histogram {
    // 50 µs (a loopback round trip) to about 1.6 s (past any sane timeout)
    // in doublings.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

type TickFamily = Family<RoomLabel, Histogram, fn() -> Histogram>;
type RedisFamily = Family<OpLabel, Histogram, fn() -> Histogram>;

/// One room's handle on the tick histogram: its own series, or the shared
/// `other` one. Dropping it (the room closed) removes an own series and
/// frees its place for another public room; the shared one stays.
#[derive(Debug)]
pub struct RoomTicks {
    histogram: Histogram,
    own: Option<OwnSeries>,
}

#[derive(Debug)]
struct OwnSeries {
    family: TickFamily,
    label: RoomLabel,
    labelled: Arc<AtomicUsize>,
}

impl RoomTicks {
    /// Records one tick's duration.
    pub fn observe(&self, seconds: f64) {
        self.histogram.observe(seconds);
    }
}

impl Drop for RoomTicks {
    fn drop(&mut self) {
        if let Some(own) = &self.own {
            own.family.remove(&own.label);
            own.labelled.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Every metric the server exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Seconds one room tick took (simulate, record, fan out, publish).
    pub tick_duration: TickFamily,
    /// Rooms with their own tick series now, at most [`MAX_LABELLED_ROOMS`].
    labelled_rooms: Arc<AtomicUsize>,
    /// Open TCP connections (every transport, plain and TLS).
    pub connections: Gauge,
    /// Rooms open.
    pub rooms: Gauge,
    /// Seated players by transport (a detached player waiting for a resume
    /// is not counted).
    pub players: Family<TransportLabel, Gauge>,
    /// Open spectator and ticker streams.
    pub spectators: Gauge,
    /// Long polls waiting (watch and state polls).
    pub pollers: Gauge,
    /// Long-poll player sessions.
    pub legacy_sessions: Gauge,
    /// Messages sent, by transport (frames, events, poll answers).
    pub messages_sent: Family<TransportLabel, Counter>,
    /// Payload bytes sent, by transport.
    pub bytes_sent: Family<TransportLabel, Counter>,
    /// Inputs dropped: stale, over the per-tick cap, or a full room inbox.
    pub inputs_dropped: Counter,
    /// Shots whose claimed view time was in the future or beyond the
    /// lag-compensation cap, and were clamped.
    pub lag_comp_clamped: Counter,
    /// Snapshots replaced in an outbox before a slow reader took them.
    pub snapshots_skipped: Counter,
    /// Readers that fell off an event log and got a reset, by transport.
    pub resets: Family<TransportLabel, Counter>,
    /// Connections and requests refused, by reason.
    pub rejected: Family<ReasonLabel, Counter>,
    /// Seconds each Redis call took, failed ones included (cluster mode).
    pub redis_seconds: RedisFamily,
    /// Redis calls that failed (timeout, connection, script error), by call.
    pub redis_errors: Family<OpLabel, Counter>,
    /// Live nodes in the cluster at this node's last lease refresh.
    pub cluster_nodes: Gauge,
    /// `POST /api/matchmake` answers, by outcome.
    pub matchmakes: Family<OutcomeLabel, Counter>,
    /// Log batches waiting for the Redis log writer (cluster mode).
    pub log_writer_backlog: Gauge,
    /// Log batches by what became of them: `written`, `fenced`, `failed`,
    /// `overflow` (dropped at a full queue; later resent from the ring).
    pub log_writer_batches: Family<OutcomeLabel, Counter>,
    /// Rooms of other nodes this node follows now.
    pub followers: Gauge,
    /// Follower repairs: `gap_filled`, `resubscribed`, `restarted` (the
    /// mirror started over; its readers get `reset`).
    pub follower_repairs: Family<OutcomeLabel, Counter>,
    /// Rooms of dead nodes whose logs this node closed (`lose`).
    pub rooms_lost: Counter,
    /// Finished rounds waiting for the database writer (queued or in the
    /// batch being retried).
    pub db_backlog: Gauge,
    /// Finished rounds by outcome: `written`, `dropped`.
    pub db_rounds: Family<OutcomeLabel, Counter>,
    /// Database calls that failed or timed out (writes, reads, checks).
    pub db_errors: Counter,
    /// `db_rounds` handles by [`DbRound`], resolved once: rooms count a
    /// dropped round on their tick and must not touch the label map's lock.
    db_rounds_by_outcome: [Counter; 2],
    /// Jobs (a tick's scores, or a board refresh) waiting for the cluster
    /// ticker writer.
    pub ticker_writer_backlog: Gauge,
    /// Score events bound for the cluster ticker: `written`, `failed`,
    /// `overflow`.
    pub ticker_scores: Family<OutcomeLabel, Counter>,
    /// Seconds from the owner's append (its wall clock) to the follower's
    /// append of the same batch (this node's wall clock).
    pub follower_lag: Histogram,
    /// Channels the node's pub/sub connection carries (or will, once
    /// connected).
    pub pubsub_channels: Gauge,
    /// Times the pub/sub connection was opened again after a drop.
    pub pubsub_reconnects: Counter,
    /// Times a lease refresh found this node's lease key gone (Redis
    /// restarted empty, was flushed, or the lease lapsed): every owned
    /// room's feed is rewritten then.
    pub redis_data_losses: Counter,
    /// Live rooms whose tick loop stalled (no tick for `--stall-secs`), as
    /// of the last `/healthz` or `/metrics` request.
    pub rooms_stalled: Gauge,
    /// Times this node rejoined the cluster under a new boot id because its
    /// lease lapsed while it was stopped.
    pub identity_renewals: Counter,
    /// CPU, memory, descriptors and threads of this process.
    process: ProcessGauges,
    /// `(messages, bytes)` handles by [`Transport`], resolved once: `sent`
    /// runs for every frame of every connection and must not touch the
    /// label maps' locks.
    sent_by_transport: [(Counter, Counter); 3],
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// All metrics, registered.
    #[must_use]
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let tick_duration = TickFamily::new_with_constructor(tick_histogram);
        registry.register(
            names::TICK_DURATION_SECONDS,
            "Seconds one room tick took",
            tick_duration.clone(),
        );
        let m = Metrics {
            tick_duration,
            labelled_rooms: Arc::default(),
            connections: Gauge::default(),
            rooms: Gauge::default(),
            players: Family::default(),
            spectators: Gauge::default(),
            pollers: Gauge::default(),
            legacy_sessions: Gauge::default(),
            messages_sent: Family::default(),
            bytes_sent: Family::default(),
            inputs_dropped: Counter::default(),
            lag_comp_clamped: Counter::default(),
            snapshots_skipped: Counter::default(),
            resets: Family::default(),
            rejected: Family::default(),
            redis_seconds: RedisFamily::new_with_constructor(redis_histogram),
            redis_errors: Family::default(),
            cluster_nodes: Gauge::default(),
            matchmakes: Family::default(),
            log_writer_backlog: Gauge::default(),
            log_writer_batches: Family::default(),
            followers: Gauge::default(),
            follower_repairs: Family::default(),
            rooms_lost: Counter::default(),
            db_backlog: Gauge::default(),
            db_rounds: Family::default(),
            db_errors: Counter::default(),
            db_rounds_by_outcome: Default::default(),
            ticker_writer_backlog: Gauge::default(),
            ticker_scores: Family::default(),
            follower_lag: redis_histogram(),
            pubsub_channels: Gauge::default(),
            pubsub_reconnects: Counter::default(),
            redis_data_losses: Counter::default(),
            rooms_stalled: Gauge::default(),
            identity_renewals: Counter::default(),
            process: ProcessGauges::default(),
            sent_by_transport: Default::default(),
            registry,
        };
        let m = Metrics {
            sent_by_transport: Transport::ALL.map(|t| {
                let label = TransportLabel::from(t);
                (
                    m.messages_sent.get_or_create_owned(&label),
                    m.bytes_sent.get_or_create_owned(&label),
                )
            }),
            db_rounds_by_outcome: DbRound::ALL.map(|o| {
                m.db_rounds.get_or_create_owned(&OutcomeLabel {
                    outcome: o.as_str(),
                })
            }),
            ..m
        };
        let mut registry = m.registry;
        registry.register(
            names::CONNECTIONS,
            "Open TCP connections",
            m.connections.clone(),
        );
        registry.register(names::ROOMS, "Rooms open", m.rooms.clone());
        registry.register(
            names::PLAYERS,
            "Seated players by transport",
            m.players.clone(),
        );
        registry.register(
            names::SPECTATORS,
            "Open spectator and ticker streams",
            m.spectators.clone(),
        );
        registry.register(names::POLLERS, "Long polls waiting", m.pollers.clone());
        registry.register(
            names::LEGACY_SESSIONS,
            "Long-poll player sessions",
            m.legacy_sessions.clone(),
        );
        registry.register(
            names::MESSAGES_SENT,
            "Messages sent by transport",
            m.messages_sent.clone(),
        );
        registry.register(
            names::BYTES_SENT,
            "Payload bytes sent by transport",
            m.bytes_sent.clone(),
        );
        registry.register(
            names::INPUTS_DROPPED,
            "Inputs dropped (stale, over the per-tick cap, or inbox full)",
            m.inputs_dropped.clone(),
        );
        registry.register(
            names::LAG_COMP_CLAMPED,
            "Shots whose claimed view time was in the future or beyond the lag-compensation cap",
            m.lag_comp_clamped.clone(),
        );
        registry.register(
            names::SNAPSHOTS_SKIPPED,
            "Snapshots replaced before a slow reader took them",
            m.snapshots_skipped.clone(),
        );
        registry.register(
            names::RESETS,
            "Event-log readers reset after falling off the ring",
            m.resets.clone(),
        );
        registry.register(
            names::REJECTED,
            "Connections and requests refused, by reason",
            m.rejected.clone(),
        );
        registry.register(
            names::REDIS_SECONDS,
            "Seconds one Redis call took, by call",
            m.redis_seconds.clone(),
        );
        registry.register(
            names::REDIS_ERRORS,
            "Redis calls that failed, by call",
            m.redis_errors.clone(),
        );
        registry.register(
            names::CLUSTER_NODES,
            "Live nodes at this node's last lease refresh",
            m.cluster_nodes.clone(),
        );
        registry.register(
            names::MATCHMAKES,
            "Matchmaking answers, by outcome",
            m.matchmakes.clone(),
        );
        registry.register(
            names::LOG_WRITER_BACKLOG,
            "Event-log batches waiting for the Redis writer",
            m.log_writer_backlog.clone(),
        );
        registry.register(
            names::LOG_WRITER_BATCHES,
            "Event-log batches by outcome (written, fenced, failed, overflow)",
            m.log_writer_batches.clone(),
        );
        registry.register(
            names::FOLLOWERS,
            "Rooms of other nodes followed",
            m.followers.clone(),
        );
        registry.register(
            names::FOLLOWER_REPAIRS,
            "Follower repairs (gap_filled, resubscribed, restarted)",
            m.follower_repairs.clone(),
        );
        registry.register(
            names::ROOMS_LOST,
            "Rooms of dead nodes whose logs this node closed (server_lost)",
            m.rooms_lost.clone(),
        );
        registry.register(
            names::DB_BACKLOG,
            "Finished rounds waiting for the database writer",
            m.db_backlog.clone(),
        );
        registry.register(
            names::DB_ROUNDS,
            "Finished rounds by outcome (written, dropped)",
            m.db_rounds.clone(),
        );
        registry.register(
            names::DB_ERRORS,
            "Database calls that failed or timed out",
            m.db_errors.clone(),
        );
        registry.register(
            names::TICKER_WRITER_BACKLOG,
            "Score and board jobs waiting for the cluster ticker writer",
            m.ticker_writer_backlog.clone(),
        );
        registry.register(
            names::TICKER_SCORES,
            "Score events bound for the cluster ticker by outcome (written, failed, overflow)",
            m.ticker_scores.clone(),
        );
        registry.register(
            names::FOLLOWER_LAG_SECONDS,
            "Seconds from the owner's append to the follower's",
            m.follower_lag.clone(),
        );
        registry.register(
            names::PUBSUB_CHANNELS,
            "Channels this node's pub/sub connection carries",
            m.pubsub_channels.clone(),
        );
        registry.register(
            names::PUBSUB_RECONNECTS,
            "Pub/sub connection reopened after a drop",
            m.pubsub_reconnects.clone(),
        );
        registry.register(
            names::REDIS_DATA_LOSSES,
            "Lease refreshes that found this node's keys gone from Redis",
            m.redis_data_losses.clone(),
        );
        registry.register(
            names::ROOMS_STALLED,
            "Live rooms that have not ticked for --stall-secs",
            m.rooms_stalled.clone(),
        );
        registry.register(
            names::IDENTITY_RENEWALS,
            "Rejoins of the cluster under a new boot id after the lease lapsed while stopped",
            m.identity_renewals.clone(),
        );
        m.process.register(&mut registry);
        Metrics { registry, ..m }
    }

    /// The tick histogram a room records into: its own series when it is
    /// `public` and one of the first [`MAX_LABELLED_ROOMS`] open, else the
    /// shared `room="other"`.
    #[must_use]
    pub fn room_ticks(&self, room: &str, public: bool) -> RoomTicks {
        let claimed = public
            && self
                .labelled_rooms
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                    (n < MAX_LABELLED_ROOMS).then_some(n + 1)
                })
                .is_ok();
        let label = RoomLabel {
            room: if claimed { room } else { OTHER_ROOMS }.into(),
        };
        let histogram = self.tick_duration.get_or_create_owned(&label);
        RoomTicks {
            histogram,
            own: claimed.then(|| OwnSeries {
                family: self.tick_duration.clone(),
                label,
                labelled: self.labelled_rooms.clone(),
            }),
        }
    }

    /// Counts one message of `bytes` sent over `transport`.
    pub fn sent(&self, transport: Transport, bytes: usize) {
        let (messages, sent) = &self.sent_by_transport[transport as usize];
        messages.inc();
        sent.inc_by(u64::try_from(bytes).unwrap_or(u64::MAX));
    }

    /// Counts a reader of `transport` that fell off an event log.
    pub fn reset(&self, transport: Transport) {
        self.resets.get_or_create(&transport.into()).inc();
    }

    /// The seated-players gauge of `transport`.
    #[must_use]
    pub fn players_on(&self, transport: Transport) -> Gauge {
        self.players.get_or_create_owned(&transport.into())
    }

    /// Counts a refusal.
    pub fn reject(&self, why: Rejection) {
        let label = ReasonLabel {
            reason: why.as_str(),
        };
        self.rejected.get_or_create(&label).inc();
    }

    /// Counts an event-log batch's fate.
    pub fn log_batch(&self, outcome: LogBatch) {
        let label = OutcomeLabel {
            outcome: outcome.as_str(),
        };
        self.log_writer_batches.get_or_create(&label).inc();
    }

    /// Counts a follower's repair.
    pub fn follower_repaired(&self, repair: FollowerRepair) {
        let label = OutcomeLabel {
            outcome: repair.as_str(),
        };
        self.follower_repairs.get_or_create(&label).inc();
    }

    /// Counts finished rounds' fate (lock-free: a room calls it).
    pub fn db_rounds(&self, outcome: DbRound, n: u64) {
        self.db_rounds_by_outcome[outcome as usize].inc_by(n);
    }

    /// Counts `n` score events bound for the cluster ticker.
    pub fn ticker_scores(&self, outcome: TickerScore, n: usize) {
        let label = OutcomeLabel {
            outcome: outcome.as_str(),
        };
        self.ticker_scores
            .get_or_create(&label)
            .inc_by(u64::try_from(n).unwrap_or(u64::MAX));
    }

    /// Counts a matchmaking answer.
    pub fn matchmade(&self, outcome: MatchOutcome) {
        let label = OutcomeLabel {
            outcome: outcome.as_str(),
        };
        self.matchmakes.get_or_create(&label).inc();
    }

    /// The OpenMetrics text of every metric.
    #[must_use]
    pub fn render(&self) -> String {
        self.process.refresh();
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// Increments a gauge now and decrements it when dropped, so a stream or
/// a poll is counted exactly while it lives, whichever way it ends.
#[derive(Debug)]
pub struct GaugeGuard(Gauge);

impl GaugeGuard {
    /// Counts one more on `gauge`.
    #[must_use]
    pub fn new(gauge: &Gauge) -> GaugeGuard {
        gauge.inc();
        GaugeGuard(gauge.clone())
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_labels() {
        let m = Metrics::new();
        let main = m.room_ticks("main", true);
        main.observe(0.0004);
        m.sent(Transport::WebSocket, 120);
        m.reject(Rejection::ConnectionLimit);
        let guard = GaugeGuard::new(&m.spectators);
        let text = m.render();
        for line in [
            "skirmish_tick_duration_seconds_count{room=\"main\"} 1",
            "skirmish_messages_sent_total{transport=\"websocket\"} 1",
            "skirmish_bytes_sent_total{transport=\"websocket\"} 120",
            "skirmish_rejected_total{reason=\"connection_limit\"} 1",
            "skirmish_spectators 1",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        drop(guard);
        assert!(m.render().contains("skirmish_spectators 0"));
        if cfg!(target_os = "linux") {
            let resident = text
                .lines()
                .find_map(|l| l.strip_prefix("skirmish_process_resident_bytes "))
                .and_then(|v| v.parse::<u64>().ok())
                .expect("resident memory reported");
            assert!(resident > 1 << 20, "{resident}");
            assert!(text.contains("skirmish_process_cpu_seconds "), "{text}");
        }
        drop(main);
        assert!(!m.render().contains("room=\"main\""));
    }

    #[test]
    fn each_transport_counts_under_its_own_label() {
        let m = Metrics::new();
        for (i, t) in Transport::ALL.into_iter().enumerate() {
            m.sent(t, 10 * (i + 1));
        }
        let text = m.render();
        for (i, t) in Transport::ALL.into_iter().enumerate() {
            let line = format!(
                "skirmish_bytes_sent_total{{transport=\"{}\"}} {}",
                t.as_str(),
                10 * (i + 1)
            );
            assert!(text.contains(&line), "missing {line} in\n{text}");
        }
    }

    #[test]
    fn only_a_bounded_set_of_public_rooms_gets_its_own_tick_series() {
        let m = Metrics::new();
        let lines = |m: &Metrics| m.render().lines().count();
        let named: Vec<RoomTicks> = (0..50)
            .map(|i| m.room_ticks(&format!("named-{i}"), false))
            .collect();
        for ticks in &named {
            ticks.observe(0.001);
        }
        let text = m.render();
        assert!(!text.contains("named-"), "{text}");
        assert!(text.contains("skirmish_tick_duration_seconds_count{room=\"other\"} 50"));
        let one_series = lines(&m);
        let public: Vec<RoomTicks> = (0..40)
            .map(|i| m.room_ticks(&format!("arena-{i}"), true))
            .collect();
        let text = m.render();
        assert!(text.contains("room=\"arena-15\""), "{text}");
        assert!(!text.contains("room=\"arena-16\""), "{text}");
        // 16 more series, however many public rooms are open.
        let per_series = 31;
        assert!(lines(&m) <= one_series + MAX_LABELLED_ROOMS * per_series);
        // A closed room frees its place; the shared series stays.
        drop(public);
        drop(named);
        let text = m.render();
        assert!(!text.contains("arena-"), "{text}");
        assert!(text.contains("room=\"other\""), "{text}");
        let again = m.room_ticks("arena-99", true);
        again.observe(0.001);
        assert!(m.render().contains("room=\"arena-99\""));
    }
}
