//! The schema's versions, embedded in the binary (`server/migrations/`,
//! one folder per backend), applied at start by sqlx's migrator, which
//! records each in `_sqlx_migrations`, refuses a changed one, and under
//! PostgreSQL takes an advisory lock so nodes starting together apply each
//! once. A migration once released is never edited: add the next number.

use std::borrow::Cow;

use futures_util::future::BoxFuture;
use sqlx::AnyPool;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

use super::StorageError;

/// Which SQL the database speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend of a `--database-url`.
    ///
    /// # Errors
    /// A scheme other than `sqlite:`, `postgres:` or `postgresql:`.
    pub fn of_url(url: &str) -> Result<Backend, StorageError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            // The URL may carry a password: only its scheme is shown.
            let scheme = url.split(':').next().unwrap_or_default();
            Err(StorageError::Setup(format!(
                "--database-url: scheme {scheme:?} is neither postgres:// nor sqlite:"
            )))
        }
    }

    /// For logs.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// `(version, description, sql)` of every migration, oldest first.
    fn migrations(self) -> &'static [(i64, &'static str, &'static str)] {
        match self {
            Backend::Sqlite => &[
                (
                    1,
                    "records",
                    include_str!("../../migrations/sqlite/0001_records.sql"),
                ),
                (
                    2,
                    "replays",
                    include_str!("../../migrations/sqlite/0002_replays.sql"),
                ),
            ],
            Backend::Postgres => &[
                (
                    1,
                    "records",
                    include_str!("../../migrations/postgres/0001_records.sql"),
                ),
                (
                    2,
                    "replays",
                    include_str!("../../migrations/postgres/0002_replays.sql"),
                ),
            ],
        }
    }
}

/// The embedded migrations of one backend, as sqlx's migrator reads them.
#[derive(Debug)]
struct Embedded(Backend);

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async move {
            Ok(self
                .0
                .migrations()
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// Brings the schema up to date. `lock` (SQLite under `--data-dir`) is a
/// file held exclusively meanwhile: sqlx locks PostgreSQL but not SQLite,
/// and two servers started together on one data directory (as the web
/// client's end-to-end test does) would otherwise both apply version 1.
///
/// # Errors
/// A migration failed, or the database holds one this binary does not know
/// (a newer server ran on it) or one that changed since it was applied.
pub async fn run(
    pool: &AnyPool,
    backend: Backend,
    lock: Option<std::path::PathBuf>,
) -> Result<(), StorageError> {
    let setup = |err: &dyn std::fmt::Display| StorageError::Setup(format!("migrations: {err}"));
    let held = match lock {
        Some(path) => Some(
            tokio::task::spawn_blocking(move || {
                let file = std::fs::File::create(&path)?;
                file.lock()?;
                Ok::<_, std::io::Error>(file)
            })
            .await
            .map_err(|err| setup(&err))?
            .map_err(|err| setup(&err))?,
        ),
        None => None,
    };
    let migrator = Migrator::new(Embedded(backend))
        .await
        .map_err(|err| setup(&err))?;
    let applied = migrator.run(pool).await.map_err(|err| setup(&err));
    // Closing the file releases the lock.
    drop(held);
    applied
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_come_from_the_url_scheme_without_echoing_the_url() {
        assert_eq!(
            Backend::of_url("postgres://u:p@h/db").ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(Backend::of_url("sqlite://x.db").ok(), Some(Backend::Sqlite));
        let err = Backend::of_url("mysql://u:secret@h/db").expect_err("refused");
        assert!(!err.to_string().contains("secret"));
    }

    #[test]
    fn both_backends_have_the_same_versions() {
        let versions = |b: Backend| -> Vec<i64> { b.migrations().iter().map(|m| m.0).collect() };
        assert_eq!(versions(Backend::Sqlite), versions(Backend::Postgres));
    }
}
