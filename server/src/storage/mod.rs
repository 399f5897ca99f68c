//! Durable records: players (device identities and their totals), finished
//! rounds (matches) with their standings, and the leaderboards read from
//! them, in SQLite (a file under `--data-dir`, the default) or PostgreSQL
//! (`--database-url`).
//!
//! - [`identity`]: minting and checking device identities (hashed secrets,
//!   constant-time compare).
//! - [`record`]: a finished round as a room hands it over.
//! - [`writer`]: the bounded queue rooms `try_send` finished rounds into,
//!   and the task that writes them in batches, retrying while the
//!   database is away.
//! - [`sql`]: the one [`Store`], on sqlx; [`migrations`]: its schema.
//! - [`replay`]: rounds' replays, encoded for storage and read back.
//!
//! A room never awaits anything here: it hands a finished round to
//! [`RoundSink::submit`], which never blocks. Reads (identity checks at
//! join, the history routes) run on the requests' own tasks, each bounded
//! by `--db-timeout-ms`.

pub mod identity;
pub mod migrations;
pub mod record;
pub mod replay;
pub mod sql;
pub mod writer;

use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use skirmish_shared::http::{LeaderboardRow, MatchRecord, MatchSummary, PlayerProfile};
use skirmish_shared::{PlayerKey, valid_player_key};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{ConnectOptions as _, Executor as _};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::config::Config;
use crate::metrics::Metrics;
use identity::{Identity, SecretHash};
use record::RoundRecord;
pub use writer::RoundSink;

/// The SQLite file's name inside `--data-dir`.
pub const SQLITE_FILE: &str = "skirmish.db";

/// The file held locked while a server migrates the SQLite file.
const MIGRATION_LOCK: &str = "migrate.lock";

/// Why a database call failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database answered with an error (a constraint, a bad statement):
    /// retrying the same write fails the same way.
    #[error("database refused: {0}")]
    Refused(String),
    /// The database could not be reached, or the connection broke: retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The call took longer than `--db-timeout-ms`.
    #[error("database did not answer within {0:?}")]
    Timeout(Duration),
    /// The database URL or data directory is unusable (at start only).
    #[error("{0}")]
    Setup(String),
}

impl From<sqlx::Error> for StorageError {
    fn from(err: sqlx::Error) -> StorageError {
        match err {
            sqlx::Error::Database(db) => StorageError::Refused(db.to_string()),
            sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::Decode(_)
            | sqlx::Error::TypeNotFound { .. } => StorageError::Refused(err.to_string()),
            other => StorageError::Unavailable(other.to_string()),
        }
    }
}

/// Which matches `GET /api/matches` lists (already validated).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MatchFilter {
    pub room: Option<String>,
    pub player: Option<String>,
    /// Only matches with a smaller id (the previous page's `next_before`).
    pub before: Option<u64>,
    /// At most this many (already capped).
    pub limit: u32,
}

/// Where records are kept. One implementation ([`sql::SqlStore`]) serves
/// SQLite and PostgreSQL; the trait is the seam the writer, the identity
/// checks and the routes use, and nothing else touches SQL.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Writes finished rounds, each with its standings and player rows, in
    /// one transaction: all of them or none. A round already written (same
    /// room, round and start) is skipped.
    fn write_rounds<'a>(
        &'a self,
        rounds: &'a [RoundRecord],
    ) -> BoxFuture<'a, Result<(), StorageError>>;

    /// The stored secret hash of a player, if it has a record.
    fn secret_hash<'a>(
        &'a self,
        player: &'a str,
    ) -> BoxFuture<'a, Result<Option<SecretHash>, StorageError>>;

    /// A player's record.
    fn player<'a>(
        &'a self,
        player: &'a str,
    ) -> BoxFuture<'a, Result<Option<PlayerProfile>, StorageError>>;

    /// Matches newest first.
    fn matches<'a>(
        &'a self,
        filter: &'a MatchFilter,
    ) -> BoxFuture<'a, Result<Vec<MatchSummary>, StorageError>>;

    /// One match with its standings.
    fn match_record(&self, id: u64) -> BoxFuture<'_, Result<Option<MatchRecord>, StorageError>>;

    /// Players ranked by kills (then wins, fewer deaths, id) over every
    /// round, or over rounds that ended at or after `since_ms`.
    fn leaderboard(
        &self,
        since_ms: Option<i64>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<LeaderboardRow>, StorageError>>;

    /// The stored (compressed) replay of a match.
    fn replay(&self, match_id: u64) -> BoxFuture<'_, Result<Option<Vec<u8>>, StorageError>>;

    /// Deletes replays of matches that ended before `ended_before_ms`, and
    /// all but the newest `keep` replays; how many it deleted. The matches
    /// and their standings stay.
    fn prune_replays(
        &self,
        ended_before_ms: Option<i64>,
        keep: Option<u64>,
    ) -> BoxFuture<'_, Result<u64, StorageError>>;

    /// Closes the connections (at shutdown, after the last write).
    fn close(&self) -> BoxFuture<'_, ()>;
}

/// The storage of a running server: the store, and the sink rooms hand
/// finished rounds to. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Storage {
    store: Arc<dyn Store>,
    rounds: RoundSink,
    /// `--db-timeout-ms`: the bound of every read.
    timeout: Duration,
    metrics: Arc<Metrics>,
    /// Set while reads fail, so an outage is logged once (every request
    /// would otherwise log it), and its end once.
    reads_failing: Arc<std::sync::atomic::AtomicBool>,
}

/// A join's identity, once checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub identity: Identity,
    /// The secret of an identity minted now, to hand to the client once.
    pub new_secret: Option<String>,
}

impl Storage {
    /// Opens the database the settings name (creating the SQLite file and
    /// its directory on first start), runs its migrations, and starts the
    /// writer. `None` with `--no-database`.
    ///
    /// # Errors
    /// The URL or directory is unusable, the database cannot be reached,
    /// or a migration fails.
    pub async fn open(
        config: &Config,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
        tracker: &TaskTracker,
    ) -> Result<Option<Storage>, StorageError> {
        if config.no_database {
            info!("no database: identities, match history and leaderboards are off");
            return Ok(None);
        }
        let (url, backend, lock) = match &config.database_url {
            Some(url) => (url.clone(), migrations::Backend::of_url(url)?, None),
            None => (
                sqlite_url(&config.data_dir)?,
                migrations::Backend::Sqlite,
                Some(config.data_dir.join(MIGRATION_LOCK)),
            ),
        };
        sqlx::any::install_default_drivers();
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|err| StorageError::Setup(format!("--database-url: {err}")))?
            // Every statement at DEBUG would log each round's inserts.
            .disable_statement_logging();
        let timeout = Duration::from_millis(config.db_timeout_ms);
        // One connection first: the pool would report any failure as its
        // own timeout, and an operator needs the reason (refused, bad
        // password, no such database).
        match tokio::time::timeout(timeout, options.connect()).await {
            Ok(Ok(probe)) => {
                let _ = sqlx::Connection::close(probe).await;
            }
            Ok(Err(err)) => {
                return Err(StorageError::Setup(format!(
                    "cannot open the database: {err}"
                )));
            }
            Err(_) => {
                return Err(StorageError::Setup(format!(
                    "cannot open the database: no answer within {timeout:?} (--db-timeout-ms)"
                )));
            }
        }
        let pool = AnyPoolOptions::new()
            .max_connections(config.db_max_connections)
            .acquire_timeout(timeout)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == migrations::Backend::Sqlite {
                        // Wait out the writer's transaction rather than
                        // fail a read; foreign keys are off by default.
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        // A committed round survives a power cut too.
                        conn.execute("PRAGMA synchronous = FULL").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|err| StorageError::Setup(format!("cannot open the database: {err}")))?;
        if backend == migrations::Backend::Sqlite {
            // Readers do not wait for the writer, nor it for them; the
            // mode is kept in the file.
            pool.execute("PRAGMA journal_mode = WAL").await?;
        }
        migrations::run(&pool, backend, lock).await?;
        info!(
            backend = backend.as_str(),
            "database open, schema up to date"
        );
        let store: Arc<dyn Store> = Arc::new(sql::SqlStore::new(pool));
        let day_ms = 24 * 60 * 60 * 1000;
        let retention = writer::Retention {
            max_age_ms: (config.replay_retention_days > 0)
                .then(|| i64::from(config.replay_retention_days) * day_ms),
            max_replays: (config.max_replays > 0).then_some(config.max_replays),
        };
        let rounds = writer::start(
            store.clone(),
            retention,
            config.db_backlog as usize,
            metrics.clone(),
            shutdown,
            tracker,
        );
        Ok(Some(Storage {
            store,
            rounds,
            timeout,
            metrics,
            reads_failing: Arc::default(),
        }))
    }

    /// The store itself, for benchmarks (the server reads through
    /// [`Storage::read`] and writes through [`Storage::rounds`]).
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Where rooms hand finished rounds.
    #[must_use]
    pub fn rounds(&self) -> &RoundSink {
        &self.rounds
    }

    /// Runs a read within `--db-timeout-ms`, counting failures.
    ///
    /// # Errors
    /// The read failed or timed out.
    pub async fn read<'a, T>(
        &'a self,
        call: impl FnOnce(&'a dyn Store) -> BoxFuture<'a, Result<T, StorageError>>,
    ) -> Result<T, StorageError> {
        let result = match tokio::time::timeout(self.timeout, call(&*self.store)).await {
            Ok(result) => result,
            Err(_) => Err(StorageError::Timeout(self.timeout)),
        };
        use std::sync::atomic::Ordering::Relaxed;
        match &result {
            Err(err) => {
                self.metrics.db_errors.inc();
                if self.reads_failing.swap(true, Relaxed) {
                    debug!(%err, "database read failed");
                } else {
                    warn!(%err, "database reads failing: joins play unrecorded, history answers 503");
                }
            }
            Ok(_) => {
                if self.reads_failing.swap(false, Relaxed) {
                    info!("database reads answered again");
                }
            }
        }
        result
    }

    /// The identity a joining player plays under: the one its key proves,
    /// else a new one. `None` when the database could not be asked: the
    /// player plays unrecorded and keeps its key for next time, rather
    /// than being handed a new identity that would replace it.
    pub async fn resolve(&self, key: Option<&PlayerKey>) -> Option<Resolved> {
        if let Some(key) = key.filter(|key| valid_player_key(key)) {
            match self.read(|store| store.secret_hash(&key.id)).await {
                Ok(Some(stored)) => {
                    if let Some(identity) = identity::check(key, stored) {
                        return Some(Resolved {
                            identity,
                            new_secret: None,
                        });
                    }
                }
                // Never recorded (no finished round yet): a new guest.
                Ok(None) => {}
                Err(_) => return None,
            }
        }
        let (identity, secret) = identity::mint();
        Some(Resolved {
            identity,
            new_secret: Some(secret),
        })
    }
}

/// Adds a new identity's secret to the Welcome that grants it: the room
/// built the Welcome with the id only, and the secret exists nowhere but
/// here and in the client from now on.
pub fn grant_secret(welcome: &mut skirmish_shared::Welcome, resolved: Option<Resolved>) {
    let Some(Resolved {
        identity,
        new_secret: Some(secret),
    }) = resolved
    else {
        return;
    };
    if let Some(grant) = welcome.player.as_mut()
        && !welcome.resumed
        && *grant.id == *identity.id
    {
        grant.secret = Some(secret);
    }
}

/// `sqlite://<data-dir>/skirmish.db?mode=rwc`, creating the directory.
fn sqlite_url(dir: &std::path::Path) -> Result<String, StorageError> {
    std::fs::create_dir_all(dir).map_err(|err| {
        StorageError::Setup(format!(
            "--data-dir {}: cannot create: {err}",
            dir.display()
        ))
    })?;
    let file = dir.join(SQLITE_FILE);
    let path = file
        .to_str()
        .filter(|p| !p.contains(['?', '#']))
        .ok_or_else(|| {
            StorageError::Setup(format!(
                "--data-dir {}: the path must be UTF-8 without '?' or '#'",
                dir.display()
            ))
        })?;
    Ok(format!("sqlite://{path}?mode=rwc"))
}
