//! Server configuration: every setting is a CLI flag with an environment
//! fallback (`SKIRMISH_*`) and a default that runs the reference arena.
//! Validated once at start; nothing else parses settings.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use skirmish_shared::rules::Rules;
use skirmish_shared::valid_room_id;

use crate::admin::token::AdminToken;
use crate::auth::PlayerAuth;
use crate::auth::jwt::{AuthSettings, JwtAlg, KeyMaterial};
use crate::room::RoomConfig;

/// Skirmish: an authoritative, tick-based arena shooter server.
#[derive(Clone, Debug, Parser)]
#[command(name = "skirmish-server", version, about)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "SKIRMISH_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Simulation ticks per second (a snapshot goes to each player every tick).
    #[arg(long, env = "SKIRMISH_TICK_HZ", default_value_t = 30,
          value_parser = clap::value_parser!(u16).range(1..=240))]
    pub tick_hz: u16,

    /// Length of a round in seconds.
    #[arg(long, env = "SKIRMISH_ROUND_SECS", default_value_t = 180,
          value_parser = clap::value_parser!(u32).range(5..=86_400))]
    pub round_secs: u32,

    /// Delay before a killed ship respawns, in milliseconds.
    #[arg(long, env = "SKIRMISH_RESPAWN_MS", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=60_000))]
    pub respawn_ms: u32,

    /// Server-side bots in each room.
    #[arg(long, env = "SKIRMISH_BOTS", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(0..=512))]
    pub bots: u16,

    /// Human players per room.
    #[arg(long, env = "SKIRMISH_MAX_PLAYERS", default_value_t = 64,
          value_parser = clap::value_parser!(u16).range(1..=2000))]
    pub max_players: u16,

    /// Id of the public room that always exists.
    #[arg(long, env = "SKIRMISH_DEFAULT_ROOM", default_value = "main")]
    pub default_room: String,

    /// Inputs applied per player per tick; older excess is dropped.
    #[arg(long, env = "SKIRMISH_MAX_INPUTS_PER_TICK", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub max_inputs_per_tick: u16,

    /// Lag compensation: the furthest back, in milliseconds, a shot is
    /// judged against the ships as its shooter's screen showed them. Covers
    /// round trip plus the client's 100 ms interpolation; a claim beyond it
    /// is clamped and counted. 0 turns compensation off.
    #[arg(long, env = "SKIRMISH_LAG_COMP_MAX_MS", default_value_t = 200,
          value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub lag_comp_max_ms: u32,

    /// Phases of the tick period this process's rooms tick on, aligned to
    /// the Unix clock: rooms of one phase tick together, so their Redis
    /// appends and samples leave in one wake-up (docs/benchmarks.md). More
    /// phases spread the rooms' CPU over the period; 0 lets each room tick
    /// from the instant it opened. Default: 1 with `--redis` (half Redis's
    /// CPU per event), 0 without (nothing to batch; players' jitter lower).
    #[arg(long, env = "SKIRMISH_TICK_PHASES",
          value_parser = clap::value_parser!(u16).range(0..=16))]
    pub tick_phases: Option<u16>,

    /// Messages per second one player may send before it is closed (1008).
    #[arg(long, env = "SKIRMISH_MAX_MSGS_PER_SEC", default_value_t = 120,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_msgs_per_sec: u32,

    /// Seconds a disconnected player's ship waits for a resume.
    #[arg(long, env = "SKIRMISH_RESUME_GRACE_SECS", default_value_t = 15)]
    pub resume_grace_secs: u64,

    /// Seconds an empty room (other than the default) stays open.
    #[arg(long, env = "SKIRMISH_EMPTY_ROOM_SECS", default_value_t = 30)]
    pub empty_room_secs: u64,

    /// Rooms open at once, the default room included. A join that would
    /// open another gets 503 (WebSocket: close 1013); rooms that exist
    /// still take players. Each idle room costs about 0.25 MB and 0.075 % of
    /// a core with the default bots; 256 rooms hold every connection of the
    /// default --max-connections in rooms of 64 with room to spare.
    #[arg(long, env = "SKIRMISH_MAX_ROOMS", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_rooms: u32,

    /// New rooms one client address (IPv6: one /64) may open per minute,
    /// with a minute's worth at once; more get 429 (WebSocket: close 1013).
    /// Joining a room that exists costs nothing. Raise it behind a reverse
    /// proxy and for load tests from one machine.
    #[arg(long, env = "SKIRMISH_NEW_ROOMS_PER_IP_PER_MIN", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub new_rooms_per_ip_per_min: u32,

    /// Wrong (or missing) invite codes for private rooms one client address
    /// (IPv6: one /64) may send per minute, a minute's worth at once; more
    /// get 429 `invite_rate_limited` (WebSocket: close 1013) whatever code
    /// they carry. A right code costs nothing.
    #[arg(long, env = "SKIRMISH_INVITE_TRIES_PER_IP_PER_MIN", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub invite_tries_per_ip_per_min: u32,

    /// Seconds without any message from a player before it is closed (4001).
    #[arg(long, env = "SKIRMISH_IDLE_TIMEOUT_SECS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub idle_timeout_secs: u64,

    /// Seconds a new WebSocket has to send Hello (4002).
    #[arg(long, env = "SKIRMISH_HELLO_TIMEOUT_SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub hello_timeout_secs: u64,

    /// Seconds one WebSocket frame may wait to be sent (the client stopped
    /// reading and the buffers are full) before the connection is dropped.
    #[arg(long, env = "SKIRMISH_WRITE_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub write_timeout_secs: u64,

    /// Seconds between WebSocket pings the server sends.
    #[arg(long, env = "SKIRMISH_HEARTBEAT_SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub heartbeat_secs: u64,

    /// Open TCP connections in all (every transport); more get 503.
    #[arg(long, env = "SKIRMISH_MAX_CONNECTIONS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Open TCP connections from one client address (IPv6: one /64); more
    /// get 503. Raise it behind a reverse proxy or for load tests from one
    /// machine.
    #[arg(long, env = "SKIRMISH_MAX_CONNECTIONS_PER_IP", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections_per_ip: u32,

    /// HTTP/2 streams one connection may have open at once (its
    /// SETTINGS_MAX_CONCURRENT_STREAMS); a client queues requests past it.
    /// A page needs a few feeds and polls at a time; hyper's default of 200
    /// let one connection hold 200 request slots.
    #[arg(long, env = "SKIRMISH_MAX_STREAMS_PER_CONNECTION", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_streams_per_connection: u32,

    /// Largest request body of the JSON API, in bytes; larger get 413.
    #[arg(long, env = "SKIRMISH_MAX_BODY_BYTES", default_value_t = 16 * 1024,
          value_parser = clap::value_parser!(u32).range(256..=1 << 20))]
    pub max_body_bytes: u32,

    /// Seconds a connection has for its TLS handshake and for each request
    /// head, and a request for its body; slower clients are dropped. A
    /// connection with no open request (HTTP/2: no open stream) for this
    /// long is closed (HTTP/2: with GOAWAY).
    #[arg(long, env = "SKIRMISH_HEADER_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub header_timeout_secs: u64,

    /// Ticks of snapshot history kept for delta baselines.
    #[arg(long, env = "SKIRMISH_HISTORY_TICKS", default_value_t = 32,
          value_parser = clap::value_parser!(u16).range(2..=1024))]
    pub history_ticks: u16,

    /// Interest management: a room tick with at least this many ships
    /// sends each player only the ships and shots around it (its camera's
    /// view plus a margin); below it every player gets the whole room, so
    /// small rooms cost exactly what they did and their minimaps show
    /// everyone. 0 filters always; above the room's seats, never.
    #[arg(long, env = "SKIRMISH_INTEREST_FROM_SHIPS", default_value_t = 64)]
    pub interest_from_ships: u16,

    /// Events each room's log keeps for resuming spectators and pollers.
    #[arg(long, env = "SKIRMISH_EVENT_LOG_CAPACITY", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(16..=1_000_000))]
    pub event_log_capacity: u32,

    /// State samples per second sent to spectators (minimap positions).
    #[arg(long, env = "SKIRMISH_SPECTATOR_HZ", default_value_t = 10,
          value_parser = clap::value_parser!(u16).range(1..=60))]
    pub spectator_hz: u16,

    /// Seconds spectators see a room late: its SSE feed, long-poll
    /// watchers, minimap samples and ticker scores, with the same ids and
    /// resume rules, so a player cannot watch its own room's feed to find
    /// opponents. Players' own snapshots are never delayed. Each room holds
    /// up to this many seconds of formatted feed (at most 60 s).
    #[arg(long, env = "SKIRMISH_SPECTATOR_DELAY_SECS", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=60))]
    pub spectator_delay_secs: u32,

    /// Seconds between SSE heartbeat comments on idle streams; 0 sends
    /// none. A proxy cuts a stream silent for its read timeout (nginx's
    /// default `proxy_read_timeout` is 60 s), so keep this below it; 0 is
    /// for measuring exactly that (docs/transports-study.md, "Heartbeats
    /// behind nginx").
    #[arg(long, env = "SKIRMISH_SSE_HEARTBEAT_SECS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub sse_heartbeat_secs: u64,

    /// Compress SSE streams (room feeds, the ticker, replays) with gzip
    /// for clients that send `Accept-Encoding: gzip`, flushed after every
    /// batch of events. Off by default: each compressed stream holds a
    /// deflate state of a few hundred KB and the CPU to fill it (see
    /// docs/transports-study.md, "Compression").
    #[arg(long, env = "SKIRMISH_SSE_GZIP")]
    pub sse_gzip: bool,

    /// Compressed event streams at once, in all; past it streams are sent
    /// plain (each holds its compressor's memory).
    #[arg(long, env = "SKIRMISH_MAX_GZIP_STREAMS", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_gzip_streams: u32,

    /// Spectator streams per room; more get 503.
    #[arg(long, env = "SKIRMISH_MAX_SPECTATORS_PER_ROOM", default_value_t = 2000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_spectators_per_room: u32,

    /// Spectator and ticker streams in total; more get 503.
    #[arg(long, env = "SKIRMISH_MAX_SPECTATORS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_spectators: u32,

    /// Spectator and ticker streams from one client address (IPv6: one
    /// /64), over any number of connections; more get 503.
    #[arg(long, env = "SKIRMISH_MAX_SPECTATORS_PER_IP", default_value_t = 200,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_spectators_per_ip: u32,

    /// Seconds between two top-N boards on the ticker (sent when changed).
    #[arg(long, env = "SKIRMISH_TICKER_BOARD_SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub ticker_board_secs: u64,

    /// Lines on the ticker's board.
    #[arg(long, env = "SKIRMISH_TICKER_TOP", default_value_t = 10,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub ticker_top: u16,

    /// Long polls waiting at once (all kinds); more get 503 with Retry-After.
    #[arg(long, env = "SKIRMISH_MAX_POLLS", default_value_t = 2000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_polls: u32,

    /// Long polls waiting on one room (watchers and its legacy players);
    /// more get 503 with Retry-After.
    #[arg(long, env = "SKIRMISH_MAX_POLLS_PER_ROOM", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_polls_per_room: u32,

    /// Long polls waiting at once from one client address (IPv6: one /64),
    /// over any number of connections; more get 503 with Retry-After.
    #[arg(long, env = "SKIRMISH_MAX_POLLS_PER_IP", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_polls_per_ip: u32,

    /// Longest wait a long poll may ask for, in seconds (default wait 25).
    #[arg(long, env = "SKIRMISH_MAX_POLL_TIMEOUT_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub max_poll_timeout_secs: u64,

    /// Seconds without a request before a long-poll player's session expires.
    #[arg(long, env = "SKIRMISH_LEGACY_IDLE_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub legacy_idle_secs: u64,

    /// Long-poll player sessions at once.
    #[arg(long, env = "SKIRMISH_MAX_LEGACY_SESSIONS", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_legacy_sessions: u32,

    /// Seed of the first room's simulation (later rooms add 1 each).
    #[arg(long, env = "SKIRMISH_SEED", default_value_t = 1)]
    pub seed: u64,

    /// Web origins allowed besides the server's own and localhost, comma
    /// separated (e.g. https://play.example.com): browser pages elsewhere
    /// cannot open the player WebSocket and get no CORS answers.
    #[arg(long, env = "SKIRMISH_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Seconds shutdown may take (clients told, rooms stopped) before exit.
    #[arg(long, env = "SKIRMISH_SHUTDOWN_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub shutdown_timeout_secs: u64,

    /// PEM certificate chain: serve HTTPS (HTTP/1.1 and HTTP/2 by ALPN).
    #[arg(long, env = "SKIRMISH_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of `--tls-cert`.
    #[arg(long, env = "SKIRMISH_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Log line format: human-readable text, or one JSON object per line.
    #[arg(long, env = "SKIRMISH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Matchmakes per second one client address may ask for (two seconds'
    /// burst); more get 429. Each reserves a seat for `--seat-ttl-ms`.
    #[arg(long, env = "SKIRMISH_MATCHMAKES_PER_SEC", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub matchmakes_per_sec: u32,

    /// Redis URL (`redis://host:6379/0`, `redis+unix:///run/redis.sock`):
    /// run as one node of a cluster that shares rooms, matchmaking and
    /// seats through it. Without it the server is a single node and needs
    /// no other service.
    #[arg(long, env = "SKIRMISH_REDIS")]
    pub redis: Option<String>,

    /// This node's name in the cluster (1-64 of A-Z a-z 0-9 _ . -);
    /// default: the host name and a random suffix, new at every start.
    #[arg(long, env = "SKIRMISH_NODE_ID")]
    pub node_id: Option<String>,

    /// The URL browsers reach this node at (`https://eu3.example.com`);
    /// matchmaking sends players of its rooms there. Default: the bound
    /// address (required in cluster mode when `--bind` is a wildcard).
    #[arg(long, env = "SKIRMISH_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Prefix of every Redis key, so several clusters (or test runs) can
    /// share one Redis.
    #[arg(long, env = "SKIRMISH_REDIS_PREFIX", default_value = "sk")]
    pub redis_prefix: String,

    /// Milliseconds between two refreshes of this node's lease and of its
    /// rooms in the directory.
    #[arg(long, env = "SKIRMISH_LEASE_REFRESH_MS", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(50..=60_000))]
    pub lease_refresh_ms: u64,

    /// Milliseconds a lease lives without a refresh: a node silent this
    /// long is dead to the cluster (at least twice the refresh interval).
    #[arg(long, env = "SKIRMISH_LEASE_TTL_MS", default_value_t = 6000,
          value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub lease_ttl_ms: u64,

    /// Milliseconds a seat reserved by matchmaking waits for its player to
    /// connect before it frees itself.
    #[arg(long, env = "SKIRMISH_SEAT_TTL_MS", default_value_t = 15_000,
          value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub seat_ttl_ms: u64,

    /// Milliseconds one Redis command may take before it counts as failed.
    #[arg(long, env = "SKIRMISH_REDIS_TIMEOUT_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub redis_timeout_ms: u64,

    /// Cluster mode: seconds a stopping node (SIGTERM, admin drain) lets
    /// its rooms with players play on to the end of their round before
    /// they close with `server_drain`; past it they close at once. 0
    /// closes them at once. Keep it below the supervisor's kill timeout
    /// (Kubernetes' `terminationGracePeriodSeconds`) minus
    /// `--shutdown-timeout-secs`.
    #[arg(long, env = "SKIRMISH_DRAIN_DEADLINE_SECS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub drain_deadline_secs: u64,

    /// Cluster mode: a draining node's rooms end with `server_drain` at
    /// their round's end instead of moving to another node (the rolling
    /// deploy's handover, docs/scaleout.md): for a deploy whose nodes
    /// cannot continue each other's rooms. The node still adopts rooms
    /// other nodes hand over.
    #[arg(long, env = "SKIRMISH_NO_HANDOVER")]
    pub no_handover: bool,

    /// Milliseconds a follower of another node's room outlives its last
    /// local reader (a reader that comes back soon finds it warm).
    #[arg(long, env = "SKIRMISH_FOLLOWER_IDLE_MS", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    pub follower_idle_ms: u64,

    /// Milliseconds between a follower's reads of its room's stream head,
    /// which catch a lost last message.
    #[arg(long, env = "SKIRMISH_FOLLOWER_CHECK_MS", default_value_t = 3000,
          value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub follower_check_ms: u64,

    /// Directory for the embedded SQLite database (`skirmish.db`), created
    /// on first start: players, finished rounds, leaderboards. Unused with
    /// `--database-url` or `--no-database`.
    #[arg(long, env = "SKIRMISH_DATA_DIR", default_value = "skirmish-data")]
    pub data_dir: PathBuf,

    /// A PostgreSQL URL (`postgres://user:pass@host/db`) to keep records
    /// in instead of the SQLite file: what a cluster's nodes share.
    /// `sqlite://path` also works.
    #[arg(long, env = "SKIRMISH_DATABASE_URL", conflicts_with = "no_database")]
    pub database_url: Option<String>,

    /// Keep no records at all: no identities, match history or
    /// leaderboards (their routes answer 503 `no_database`).
    #[arg(long, env = "SKIRMISH_NO_DATABASE")]
    pub no_database: bool,

    /// Finished rounds waiting for the database; while it is slow or down
    /// play goes on, and rounds past this are dropped and counted.
    #[arg(long, env = "SKIRMISH_DB_BACKLOG", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub db_backlog: u32,

    /// Database connections in the pool (the writer takes one at a time;
    /// the rest serve the history routes and identity checks).
    #[arg(long, env = "SKIRMISH_DB_MAX_CONNECTIONS", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(2..=1000))]
    pub db_max_connections: u32,

    /// Milliseconds a database read (an identity check at join, a history
    /// route) may take before it gives up: a join then plays unrecorded, a
    /// route answers 503.
    #[arg(long, env = "SKIRMISH_DB_TIMEOUT_MS", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub db_timeout_ms: u64,

    /// Days a finished round's replay is kept (then the writer deletes it;
    /// the match and its standings stay). 0 keeps replays forever.
    #[arg(long, env = "SKIRMISH_REPLAY_RETENTION_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(0..=36_500))]
    pub replay_retention_days: u32,

    /// Replays kept at most (the newest); 0 for no cap.
    #[arg(long, env = "SKIRMISH_MAX_REPLAYS", default_value_t = 0)]
    pub max_replays: u64,

    /// Replay streams (`GET /api/matches/{id}/replay`) open at once; each
    /// holds its decoded replay (about 0.6 MB for a 3-minute round of 8
    /// ships, at most 64 MB).
    #[arg(long, env = "SKIRMISH_MAX_REPLAY_STREAMS", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_replay_streams: u32,

    /// Replay streams one client address may have open at once.
    #[arg(long, env = "SKIRMISH_MAX_REPLAY_STREAMS_PER_IP", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_replay_streams_per_ip: u32,
    /// Rooms of other nodes this node follows at once (each costs a mirror
    /// ring, a task and two channels on its one pub/sub connection); a
    /// reader of one more gets 503 `directory_unavailable`.
    #[arg(long, env = "SKIRMISH_MAX_FOLLOWED_ROOMS", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_followed_rooms: u32,
    /// The admin token (16-256 visible ASCII bytes): turns on the admin
    /// console and its API under `/admin`. Never logged. Prefer
    /// `--admin-token-file`: a flag's value shows in the process list.
    #[arg(
        long,
        env = "SKIRMISH_ADMIN_TOKEN",
        hide_env_values = true,
        conflicts_with = "admin_token_file"
    )]
    pub admin_token: Option<AdminToken>,

    /// A file whose first line is the admin token (see `--admin-token`).
    #[arg(long, env = "SKIRMISH_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,

    /// Serve the admin console and API on this address only (one kept
    /// private), not on `--bind`. Needs an admin token.
    #[arg(long, env = "SKIRMISH_ADMIN_BIND")]
    pub admin_bind: Option<SocketAddr>,

    /// Signed player tokens: every join must carry a JWT signed with this
    /// key. An HS256 secret (at least 32 bytes), or an RS256 or EdDSA
    /// public key in PEM. Never logged. Prefer `--auth-jwt-key-file` or
    /// the environment: a flag's value shows in the process list. Without
    /// a key, play is anonymous.
    #[arg(
        long,
        env = "SKIRMISH_AUTH_JWT_KEY",
        hide_env_values = true,
        conflicts_with = "auth_jwt_key_file"
    )]
    pub auth_jwt_key: Option<KeyMaterial>,

    /// A file holding the `--auth-jwt-key` (the secret, a trailing newline
    /// aside, or the PEM public key).
    #[arg(long, env = "SKIRMISH_AUTH_JWT_KEY_FILE")]
    pub auth_jwt_key_file: Option<PathBuf>,

    /// The one algorithm tokens may use; inferred from the key when unset
    /// (a PEM key: RS256 or EdDSA by its kind; anything else: HS256).
    #[arg(long, env = "SKIRMISH_AUTH_JWT_ALG")]
    pub auth_jwt_alg: Option<JwtAlg>,

    /// Tokens must carry this `iss`.
    #[arg(long, env = "SKIRMISH_AUTH_JWT_ISSUER")]
    pub auth_jwt_issuer: Option<String>,

    /// Tokens must carry this `aud`.
    #[arg(long, env = "SKIRMISH_AUTH_JWT_AUDIENCE")]
    pub auth_jwt_audience: Option<String>,

    /// Clock skew allowed when checking `exp` and `nbf`, in seconds.
    #[arg(long, env = "SKIRMISH_AUTH_JWT_LEEWAY_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=300))]
    pub auth_jwt_leeway_secs: u64,

    /// Directory of the web client's static files.
    #[arg(long, env = "SKIRMISH_WEB_ROOT", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../web-client"))]
    pub web_root: PathBuf,

    /// Seconds a live room may go without finishing a tick before
    /// `/healthz` answers 503 `tick_stalled` (a tick takes milliseconds;
    /// the default leaves room for a loaded machine and a debugger's
    /// pause without letting a stuck room go unnoticed for long).
    #[arg(long, env = "SKIRMISH_STALL_SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub stall_secs: u64,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// For people: coloured when stdout is a terminal.
    Text,
    /// For log pipelines: one JSON object per line, span fields included.
    Json,
}

impl Config {
    /// The defaults, as if started with no flags and no environment. For
    /// tests and embedding; `main` uses `Config::parse()`.
    #[must_use]
    pub fn defaults() -> Config {
        Config::parse_from(["skirmish-server"])
    }

    /// Checks what clap's ranges cannot.
    ///
    /// # Errors
    /// One line naming the bad setting.
    pub fn validate(&self) -> Result<(), String> {
        if !valid_room_id(&self.default_room) {
            return Err(format!(
                "--default-room {:?}: must be 1-32 characters of A-Z a-z 0-9 _ -",
                self.default_room
            ));
        }
        self.validate_cluster()?;
        if self.admin_token()?.is_none() && self.admin_bind.is_some() {
            return Err("--admin-bind needs --admin-token or --admin-token-file".to_owned());
        }
        if !self.web_root.is_dir() {
            return Err(format!(
                "--web-root {}: not a directory",
                self.web_root.display()
            ));
        }
        Ok(())
    }

    /// The admin token, from `--admin-token` or `--admin-token-file`;
    /// `None` when the admin API is off.
    ///
    /// # Errors
    /// The token file cannot be read or holds no acceptable token.
    pub fn admin_token(&self) -> Result<Option<AdminToken>, String> {
        match (&self.admin_token, &self.admin_token_file) {
            (Some(token), _) => Ok(Some(token.clone())),
            (None, Some(path)) => AdminToken::read(path)
                .map(Some)
                .map_err(|why| format!("--admin-token-file: {why}")),
            (None, None) => Ok(None),
        }
    }

    /// The signed-player-token verifier the `--auth-jwt-*` flags ask for;
    /// `None` for anonymous play.
    ///
    /// # Errors
    /// The key cannot be read or used (the error never quotes it).
    pub fn player_auth(&self) -> Result<Option<std::sync::Arc<PlayerAuth>>, String> {
        PlayerAuth::from_settings(&AuthSettings {
            key: self.auth_jwt_key.clone(),
            key_file: self.auth_jwt_key_file.clone(),
            alg: self.auth_jwt_alg,
            issuer: self.auth_jwt_issuer.clone(),
            audience: self.auth_jwt_audience.clone(),
            leeway_secs: self.auth_jwt_leeway_secs,
        })
        .map_err(|err| err.to_string())
    }

    /// How many tick phases rooms share: `--tick-phases`, else 1 in a
    /// cluster (the rooms' Redis writes batch) and 0 alone.
    #[must_use]
    pub fn tick_phases(&self) -> u16 {
        self.tick_phases.unwrap_or(u16::from(self.clustered()))
    }

    /// Cluster mode: `--redis` is set.
    #[must_use]
    pub fn clustered(&self) -> bool {
        self.redis.is_some()
    }

    fn validate_cluster(&self) -> Result<(), String> {
        if let Some(id) = &self.node_id
            && !crate::node::valid_node_id(id)
        {
            return Err(format!(
                "--node-id {id:?}: must be 1-64 characters of A-Z a-z 0-9 _ . -"
            ));
        }
        if let Some(url) = &self.public_url {
            crate::node::parse_public_url(url)
                .map_err(|why| format!("--public-url {url:?}: {why}"))?;
        }
        let Some(redis) = &self.redis else {
            return Ok(());
        };
        // The URL may carry a password: only the parse error is shown.
        redis::Client::open(redis.as_str())
            .map_err(|err| format!("--redis: not a usable Redis URL: {err}"))?;
        if self.redis_prefix.is_empty()
            || self.redis_prefix.len() > 32
            || !self
                .redis_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b))
        {
            return Err(format!(
                "--redis-prefix {:?}: must be 1-32 characters of A-Z a-z 0-9 _ . : -",
                self.redis_prefix
            ));
        }
        if self.lease_ttl_ms < 2 * self.lease_refresh_ms {
            return Err(format!(
                "--lease-ttl-ms {} must be at least twice --lease-refresh-ms {}: \
                 one late refresh must not lose the lease",
                self.lease_ttl_ms, self.lease_refresh_ms
            ));
        }
        // Rooms a node opens carry its boot id (`main-1a2b3c4d`) so that
        // ids never collide between nodes.
        if self.default_room.len() + crate::node::ROOM_SUFFIX_LEN > skirmish_shared::MAX_ROOM_ID_LEN
        {
            return Err(format!(
                "--default-room {:?}: at most {} characters in cluster mode \
                 (the node's suffix takes {})",
                self.default_room,
                skirmish_shared::MAX_ROOM_ID_LEN - crate::node::ROOM_SUFFIX_LEN,
                crate::node::ROOM_SUFFIX_LEN
            ));
        }
        if self.public_url.is_none() && self.bind.ip().is_unspecified() {
            return Err(format!(
                "--public-url is required in cluster mode when --bind {} is a wildcard \
                 address: other nodes send players to it",
                self.bind
            ));
        }
        Ok(())
    }

    /// The game rules these settings give.
    #[must_use]
    pub fn rules(&self) -> Rules {
        Rules::reference(self.tick_hz, self.round_secs, self.respawn_ms)
    }

    /// How the accept loop admits connections.
    #[must_use]
    pub fn listen_config(&self) -> crate::listener::ListenConfig {
        crate::listener::ListenConfig {
            max_connections: self.max_connections as usize,
            max_connections_per_ip: self.max_connections_per_ip as usize,
            header_timeout: Duration::from_secs(self.header_timeout_secs),
            max_streams: self.max_streams_per_connection,
        }
    }

    /// What every room is created with.
    #[must_use]
    pub fn room_config(&self) -> RoomConfig {
        RoomConfig {
            rules: self.rules(),
            bots: usize::from(self.bots),
            max_players: usize::from(self.max_players),
            max_inputs_per_tick: usize::from(self.max_inputs_per_tick),
            lag_comp_max_ms: self.lag_comp_max_ms,
            tick_phases: self.tick_phases(),
            tick_phase: 0,
            history_ticks: usize::from(self.history_ticks),
            interest_from_ships: usize::from(self.interest_from_ships),
            resume_grace: Duration::from_secs(self.resume_grace_secs),
            empty_room_grace: Duration::from_secs(self.empty_room_secs),
            inbox_capacity: 8192,
            seed: self.seed,
            event_log_capacity: self.event_log_capacity as usize,
            spectator_hz: self.spectator_hz,
            spectator_delay_secs: self.spectator_delay_secs,
            max_spectators: self.max_spectators_per_room as usize,
            max_polls: self.max_polls_per_room as usize,
            rounds: None,
            drain_rounds: self.clustered() && self.drain_deadline_secs > 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_reference_arena_and_valid() {
        let c = Config::defaults();
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.rules(), Rules::default());
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn rooms_share_one_tick_phase_in_a_cluster_and_none_alone_unless_told() {
        let phases = |args: &[&str]| {
            let mut all = vec!["s"];
            all.extend_from_slice(args);
            Config::try_parse_from(all).expect("parses").tick_phases()
        };
        assert_eq!(phases(&[]), 0);
        assert_eq!(phases(&["--redis", "redis://127.0.0.1:6379/0"]), 1);
        assert_eq!(
            phases(&["--redis", "redis://127.0.0.1:6379/0", "--tick-phases", "0"]),
            0
        );
        assert_eq!(phases(&["--tick-phases", "4"]), 4);
        assert!(Config::try_parse_from(["s", "--tick-phases", "17"]).is_err());
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(Config::try_parse_from(["s", "--tick-hz", "0"]).is_err());
        assert!(Config::try_parse_from(["s", "--bind", "nowhere"]).is_err());
        let c = Config::try_parse_from(["s", "--default-room", "a b"]).expect("parses");
        assert!(c.validate().is_err());
    }

    #[test]
    fn cluster_settings_are_checked_only_together_with_redis() {
        let cluster = |extra: &[&str]| {
            let mut args = vec!["s", "--redis", "redis://127.0.0.1:6379/0"];
            args.extend_from_slice(extra);
            Config::try_parse_from(args).expect("parses").validate()
        };
        assert_eq!(cluster(&[]), Ok(()));
        assert_eq!(
            cluster(&[
                "--node-id",
                "eu-1",
                "--public-url",
                "https://eu1.example.com/"
            ]),
            Ok(())
        );
        for (bad, says) in [
            (&["--redis-prefix", "a b"][..], "--redis-prefix"),
            (&["--node-id", "a:b"], "--node-id"),
            (&["--public-url", "eu1.example.com"], "--public-url"),
            (
                &["--lease-refresh-ms", "2000", "--lease-ttl-ms", "3000"],
                "twice",
            ),
            (&["--bind", "0.0.0.0:8080"], "--public-url is required"),
            (&["--default-room", &"m".repeat(24)], "--default-room"),
        ] {
            let err = cluster(bad).expect_err("refused");
            assert!(err.contains(says), "{bad:?}: {err}");
        }
        let bad_url = Config::try_parse_from(["s", "--redis", "http://x"]).expect("parses");
        assert!(bad_url.validate().expect_err("refused").contains("--redis"));
        // Without --redis the cluster's own settings change nothing.
        let single = Config::try_parse_from(["s", "--bind", "0.0.0.0:8080"]).expect("parses");
        assert_eq!(single.validate(), Ok(()));
    }
}
