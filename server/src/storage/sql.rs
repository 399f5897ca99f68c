//! The [`Store`] on SQL: one sqlx `Any` pool over SQLite or PostgreSQL,
//! one dialect for both (`$n` placeholders, `ON CONFLICT`, `RETURNING`,
//! `CAST(.. AS BIGINT)` where PostgreSQL would answer NUMERIC). Owns every
//! SQL statement; never called from a room's tick (the writer task and
//! request handlers call it).

use futures_util::future::BoxFuture;
use skirmish_shared::http::{
    LeaderboardRow, MatchRecord, MatchStanding, MatchSummary, PlayerProfile,
};
use sqlx::AnyPool;
use sqlx::any::AnyRow;
use sqlx::{Any, Row as _, Transaction};

use super::identity::SecretHash;
use super::record::{RoundRecord, is_win};
use super::replay::ReplayData;
use super::{MatchFilter, StorageError, Store};

/// Players, matches and standings in a SQL database.
#[derive(Debug)]
pub struct SqlStore {
    pool: AnyPool,
}

impl SqlStore {
    /// A store over `pool`, whose schema is migrated.
    #[must_use]
    pub fn new(pool: AnyPool) -> SqlStore {
        SqlStore { pool }
    }
}

/// Columns of a match summary, in [`summary`]'s order.
const SUMMARY: &str = "m.id, m.room, m.round, m.started_ms, m.ended_ms, m.ships, m.winner";

/// A leaderboard's order: kills, then wins, then fewer deaths, then the id,
/// so equal records always come in the same order. The columns are named
/// by the table they come from (`players`, or the week's sums `s`, which
/// share the names with `players` in the join).
macro_rules! leader_order {
    ($t:literal, $id:literal) => {
        concat!(
            $t,
            ".kills DESC, ",
            $t,
            ".wins DESC, ",
            $t,
            ".deaths ASC, ",
            $t,
            ".",
            $id,
            " ASC"
        )
    };
}

fn u64_of(row: &AnyRow, column: &str) -> Result<u64, sqlx::Error> {
    let value: i64 = row.try_get(column)?;
    Ok(u64::try_from(value).unwrap_or(0))
}

fn u32_of(row: &AnyRow, column: &str) -> Result<u32, sqlx::Error> {
    let value: i64 = row.try_get(column)?;
    Ok(u32::try_from(value).unwrap_or(if value < 0 { 0 } else { u32::MAX }))
}

fn summary(row: &AnyRow) -> Result<MatchSummary, sqlx::Error> {
    Ok(MatchSummary {
        id: u64_of(row, "id")?,
        room: row.try_get("room")?,
        round: u32_of(row, "round")?,
        started_ms: u64_of(row, "started_ms")?,
        ended_ms: u64_of(row, "ended_ms")?,
        ships: u32_of(row, "ships")?,
        winner: row.try_get("winner")?,
    })
}

fn leader(row: &AnyRow) -> Result<LeaderboardRow, sqlx::Error> {
    Ok(LeaderboardRow {
        rank: 0,
        player: row.try_get("player")?,
        name: row.try_get("name")?,
        kills: u64_of(row, "kills")?,
        deaths: u64_of(row, "deaths")?,
        wins: u64_of(row, "wins")?,
        rounds: u64_of(row, "rounds")?,
    })
}

/// Writes one round inside `tx`: its match, then per line the player row
/// (inserted with the first round, else added to) and the standing.
async fn write_round(
    tx: &mut Transaction<'_, Any>,
    round: &RoundRecord,
) -> Result<(), sqlx::Error> {
    let ships = i64::try_from(round.standings.len()).unwrap_or(i64::MAX);
    let inserted = sqlx::query(
        "INSERT INTO matches (room, round, started_ms, ended_ms, ships, winner) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (room, round, started_ms) DO NOTHING RETURNING id",
    )
    .bind(round.room.as_str())
    .bind(i64::from(round.round))
    .bind(round.started_ms)
    .bind(round.ended_ms)
    .bind(ships)
    .bind(round.winner().map(str::to_owned))
    .fetch_optional(&mut **tx)
    .await?;
    // Already there: an earlier attempt committed before its answer was
    // lost. Writing it again would count the round twice.
    let Some(inserted) = inserted else {
        return Ok(());
    };
    let match_id: i64 = inserted.try_get("id")?;
    for (position, (line, rank)) in round.standings.iter().zip(round.ranks()).enumerate() {
        let mut player_id = None;
        if let Some(identity) = &line.player {
            let win = i64::from(is_win(rank, line.score));
            // The secret hash is written with the first round and is the
            // condition of every later update: an id that somehow met a
            // different hash adds nothing to that player's record.
            let updated = sqlx::query(
                "INSERT INTO players (id, secret_hash, name, rounds, kills, deaths, wins, \
                 best_score, first_seen_ms, last_seen_ms) \
                 VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $8, $8) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
                 rounds = players.rounds + 1, kills = players.kills + excluded.kills, \
                 deaths = players.deaths + excluded.deaths, wins = players.wins + excluded.wins, \
                 best_score = CASE WHEN excluded.best_score > players.best_score \
                 THEN excluded.best_score ELSE players.best_score END, \
                 last_seen_ms = CASE WHEN excluded.last_seen_ms > players.last_seen_ms \
                 THEN excluded.last_seen_ms ELSE players.last_seen_ms END \
                 WHERE players.secret_hash = excluded.secret_hash",
            )
            .bind(&*identity.id)
            .bind(identity.secret_hash.to_hex())
            .bind(line.name.as_str())
            .bind(i64::from(line.kills))
            .bind(i64::from(line.deaths))
            .bind(win)
            .bind(i64::from(line.score))
            .bind(round.ended_ms)
            .execute(&mut **tx)
            .await?;
            if updated.rows_affected() > 0 {
                player_id = Some(identity.id.to_string());
            }
        }
        sqlx::query(
            "INSERT INTO standings (match_id, position, rank, player_id, name, bot, score, \
             kills, deaths) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(match_id)
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .bind(i64::from(rank))
        .bind(player_id)
        .bind(line.name.as_str())
        .bind(i64::from(line.bot))
        .bind(i64::from(line.score))
        .bind(i64::from(line.kills))
        .bind(i64::from(line.deaths))
        .execute(&mut **tx)
        .await?;
    }
    // The writer encodes every replay before the transaction.
    if let Some(ReplayData::Encoded(replay)) = &round.replay {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        sqlx::query(
            "INSERT INTO replays (match_id, format, ended_ms, json_bytes, events, samples, \
             duration_ms, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(match_id)
        .bind(i64::from(skirmish_shared::replay::REPLAY_FORMAT))
        .bind(round.ended_ms)
        .bind(n(replay.json_bytes))
        .bind(i64::from(replay.events))
        .bind(i64::from(replay.samples))
        .bind(n(replay.duration_ms))
        .bind(replay.body.clone())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl Store for SqlStore {
    fn write_rounds<'a>(
        &'a self,
        rounds: &'a [RoundRecord],
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            let mut tx = self.pool.begin().await?;
            for round in rounds {
                write_round(&mut tx, round).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn secret_hash<'a>(
        &'a self,
        player: &'a str,
    ) -> BoxFuture<'a, Result<Option<SecretHash>, StorageError>> {
        Box::pin(async move {
            let row = sqlx::query("SELECT secret_hash FROM players WHERE id = $1")
                .bind(player)
                .fetch_optional(&self.pool)
                .await?;
            match row {
                None => Ok(None),
                Some(row) => {
                    let text: String = row.try_get("secret_hash")?;
                    Ok(SecretHash::from_hex(&text))
                }
            }
        })
    }

    fn player<'a>(
        &'a self,
        player: &'a str,
    ) -> BoxFuture<'a, Result<Option<PlayerProfile>, StorageError>> {
        Box::pin(async move {
            let row = sqlx::query(
                "SELECT id, name, rounds, kills, deaths, wins, best_score, first_seen_ms, \
                 last_seen_ms FROM players WHERE id = $1",
            )
            .bind(player)
            .fetch_optional(&self.pool)
            .await?;
            let Some(row) = row else {
                return Ok(None);
            };
            Ok(Some(PlayerProfile {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                rounds: u64_of(&row, "rounds")?,
                kills: u64_of(&row, "kills")?,
                deaths: u64_of(&row, "deaths")?,
                wins: u64_of(&row, "wins")?,
                best_score: u32_of(&row, "best_score")?,
                first_seen_ms: u64_of(&row, "first_seen_ms")?,
                last_seen_ms: u64_of(&row, "last_seen_ms")?,
            }))
        })
    }

    fn matches<'a>(
        &'a self,
        filter: &'a MatchFilter,
    ) -> BoxFuture<'a, Result<Vec<MatchSummary>, StorageError>> {
        Box::pin(async move {
            // Parameters are numbered as the conditions are added; the
            // values are bound in the same order below.
            let mut sql = format!("SELECT {SUMMARY} FROM matches m WHERE 1 = 1");
            let mut n = 0;
            let mut next = || {
                n += 1;
                n
            };
            if filter.room.is_some() {
                sql.push_str(&format!(" AND m.room = ${}", next()));
            }
            if filter.player.is_some() {
                sql.push_str(&format!(
                    " AND EXISTS (SELECT 1 FROM standings s WHERE s.match_id = m.id \
                     AND s.player_id = ${})",
                    next()
                ));
            }
            if filter.before.is_some() {
                sql.push_str(&format!(" AND m.id < ${}", next()));
            }
            sql.push_str(&format!(" ORDER BY m.id DESC LIMIT ${}", next()));
            let mut query = sqlx::query(&sql);
            if let Some(room) = &filter.room {
                query = query.bind(room.as_str());
            }
            if let Some(player) = &filter.player {
                query = query.bind(player.as_str());
            }
            if let Some(before) = filter.before {
                query = query.bind(i64::try_from(before).unwrap_or(i64::MAX));
            }
            let rows = query
                .bind(i64::from(filter.limit))
                .fetch_all(&self.pool)
                .await?;
            Ok(rows.iter().map(summary).collect::<Result<_, _>>()?)
        })
    }

    fn match_record(&self, id: u64) -> BoxFuture<'_, Result<Option<MatchRecord>, StorageError>> {
        Box::pin(async move {
            let Ok(id) = i64::try_from(id) else {
                return Ok(None);
            };
            let row = sqlx::query(&format!("SELECT {SUMMARY} FROM matches m WHERE m.id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
            let Some(row) = row else {
                return Ok(None);
            };
            let lines = sqlx::query(
                "SELECT rank, player_id, name, bot, score, kills, deaths FROM standings \
                 WHERE match_id = $1 ORDER BY position",
            )
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
            let standings = lines
                .iter()
                .map(|line| {
                    Ok(MatchStanding {
                        rank: u32_of(line, "rank")?,
                        player: line.try_get("player_id")?,
                        name: line.try_get("name")?,
                        bot: line.try_get::<i64, _>("bot")? != 0,
                        score: u32_of(line, "score")?,
                        kills: u32_of(line, "kills")?,
                        deaths: u32_of(line, "deaths")?,
                    })
                })
                .collect::<Result<_, sqlx::Error>>()?;
            Ok(Some(MatchRecord {
                summary: summary(&row)?,
                standings,
            }))
        })
    }

    fn leaderboard(
        &self,
        since_ms: Option<i64>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<LeaderboardRow>, StorageError>> {
        Box::pin(async move {
            let rows = match since_ms {
                None => {
                    sqlx::query(&format!(
                        "SELECT id AS player, name, kills, deaths, wins, rounds FROM players \
                         ORDER BY {} LIMIT $1",
                        leader_order!("players", "id")
                    ))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?
                }
                Some(since) => {
                    sqlx::query(&format!(
                        "SELECT s.player, p.name, s.kills, s.deaths, s.wins, s.rounds FROM ( \
                         SELECT st.player_id AS player, \
                         CAST(SUM(st.kills) AS BIGINT) AS kills, \
                         CAST(SUM(st.deaths) AS BIGINT) AS deaths, \
                         CAST(SUM(CASE WHEN st.rank = 1 AND st.score > 0 THEN 1 ELSE 0 END) \
                         AS BIGINT) AS wins, \
                         CAST(COUNT(*) AS BIGINT) AS rounds \
                         FROM standings st JOIN matches m ON m.id = st.match_id \
                         WHERE m.ended_ms >= $1 AND st.player_id IS NOT NULL \
                         GROUP BY st.player_id) s JOIN players p ON p.id = s.player \
                         ORDER BY {} LIMIT $2",
                        leader_order!("s", "player")
                    ))
                    .bind(since)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?
                }
            };
            let mut board: Vec<LeaderboardRow> =
                rows.iter().map(leader).collect::<Result<_, _>>()?;
            for (i, row) in board.iter_mut().enumerate() {
                row.rank = u32::try_from(i + 1).unwrap_or(u32::MAX);
            }
            Ok(board)
        })
    }

    fn replay(&self, match_id: u64) -> BoxFuture<'_, Result<Option<Vec<u8>>, StorageError>> {
        Box::pin(async move {
            let Ok(id) = i64::try_from(match_id) else {
                return Ok(None);
            };
            let row = sqlx::query("SELECT body FROM replays WHERE match_id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
            Ok(row.map(|row| row.try_get("body")).transpose()?)
        })
    }

    fn prune_replays(
        &self,
        ended_before_ms: Option<i64>,
        keep: Option<u64>,
    ) -> BoxFuture<'_, Result<u64, StorageError>> {
        Box::pin(async move {
            let mut deleted = 0;
            if let Some(before) = ended_before_ms {
                deleted += sqlx::query("DELETE FROM replays WHERE ended_ms < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
            }
            if let Some(keep) = keep {
                // The newest `keep` by match id (ids grow with time); no
                // row at that offset (fewer replays) deletes nothing.
                deleted += sqlx::query(
                    "DELETE FROM replays WHERE match_id <= (SELECT match_id FROM replays \
                     ORDER BY match_id DESC LIMIT 1 OFFSET $1)",
                )
                .bind(i64::try_from(keep).unwrap_or(i64::MAX))
                .execute(&self.pool)
                .await?
                .rows_affected();
            }
            Ok(deleted)
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.pool.close())
    }
}
