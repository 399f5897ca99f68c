//! Players, match history and leaderboards: `GET /api/players/{id}`,
//! `GET /api/matches`, `GET /api/matches/{id}`, `GET /api/leaderboard`.
//! Every parameter is parsed by hand and bounded (ids by shape, pages by
//! [`MAX_MATCHES_PER_PAGE`] and [`MAX_LEADERBOARD_ROWS`]), so a malformed
//! one gets a 400 `bad_param` naming it; every read is bounded by
//! `--db-timeout-ms` and the pool's size. Reads only: never writes, never
//! touches a room.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use skirmish_shared::http::{
    ApiErrorCode, DEFAULT_LEADERBOARD_ROWS, DEFAULT_MATCHES_PER_PAGE, Leaderboard,
    LeaderboardPeriod, MAX_LEADERBOARD_ROWS, MAX_MATCHES_PER_PAGE, MatchPage, MatchRecord,
    PlayerProfile,
};
use skirmish_shared::{valid_player_id, valid_room_id};

use super::AppState;
use super::api::ApiError;
use crate::room::record::unix_ms;
use crate::storage::{MatchFilter, Storage, StorageError};

/// The week of `period=week`, in milliseconds.
const WEEK_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// How long a client should wait after `database_unavailable`.
const RETRY_SECS: u32 = 2;

/// `GET /api/matches`' query, as text: each value is checked by hand.
#[derive(Debug, Default, Deserialize)]
pub struct MatchesQuery {
    room: Option<String>,
    player: Option<String>,
    before: Option<String>,
    limit: Option<String>,
}

/// `GET /api/leaderboard`'s query.
#[derive(Debug, Default, Deserialize)]
pub struct LeaderboardQuery {
    period: Option<String>,
    limit: Option<String>,
}

fn bad(message: String) -> ApiError {
    ApiError::new(ApiErrorCode::BadParam, message)
}

pub(crate) fn storage(app: &AppState) -> Result<&Storage, ApiError> {
    app.storage.as_ref().ok_or_else(|| {
        ApiError::new(
            ApiErrorCode::NoDatabase,
            "this server keeps no records (--no-database)",
        )
    })
}

impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> ApiError {
        match err {
            StorageError::Unavailable(_) | StorageError::Timeout(_) => ApiError::new(
                ApiErrorCode::DatabaseUnavailable,
                "the database did not answer; retry later",
            )
            .retry_after(RETRY_SECS),
            // The details went to the log (`Storage::read`).
            StorageError::Refused(_) | StorageError::Setup(_) => {
                ApiError::new(ApiErrorCode::Internal, "the database failed this request")
            }
        }
    }
}

/// A non-empty parameter; blank counts as absent.
fn given(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// `limit` within `1..=max`, `default` when absent.
fn limit(value: Option<&String>, default: u32, max: u32) -> Result<u32, ApiError> {
    match given(value) {
        None => Ok(default),
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| bad(format!("limit={text:?}: expected 1 to {max}"))),
    }
}

/// A positive id that fits the database's 63 bits.
pub(crate) fn row_id(name: &str, text: &str) -> Result<u64, ApiError> {
    text.parse::<u64>()
        .ok()
        .filter(|n| (1..=i64::MAX as u64).contains(n))
        .ok_or_else(|| bad(format!("{name}={text:?}: expected a positive integer")))
}

/// Parses `GET /api/matches`' query. Pure, for tests.
///
/// # Errors
/// A 400 naming the first malformed parameter.
pub fn parse_matches_query(q: &MatchesQuery) -> Result<MatchFilter, ApiError> {
    let room = match given(q.room.as_ref()) {
        Some(room) if !valid_room_id(room) => {
            return Err(bad(format!(
                "room={room:?}: expected 1-32 characters of A-Z a-z 0-9 _ -"
            )));
        }
        room => room.map(str::to_owned),
    };
    let player = match given(q.player.as_ref()) {
        Some(player) if !valid_player_id(player) => {
            return Err(bad(format!("player={player:?}: expected 16 hex digits")));
        }
        player => player.map(str::to_owned),
    };
    let before = given(q.before.as_ref())
        .map(|text| row_id("before", text))
        .transpose()?;
    Ok(MatchFilter {
        room,
        player,
        before,
        limit: limit(
            q.limit.as_ref(),
            DEFAULT_MATCHES_PER_PAGE,
            MAX_MATCHES_PER_PAGE,
        )?,
    })
}

/// `GET /api/players/{id}`.
pub async fn player(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PlayerProfile>, ApiError> {
    if !valid_player_id(&id) {
        return Err(bad(format!("player id {id:?}: expected 16 hex digits")));
    }
    storage(&app)?
        .read(|store| store.player(&id))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::new(ApiErrorCode::NoPlayer, format!("no player {id}")))
}

/// `GET /api/matches?room=&player=&before=&limit=`: newest first.
pub async fn matches(
    State(app): State<AppState>,
    query: Result<Query<MatchesQuery>, QueryRejection>,
) -> Result<Json<MatchPage>, ApiError> {
    let Query(query) = query?;
    let mut filter = parse_matches_query(&query)?;
    let page = filter.limit;
    // One more than the page: whether an older page exists.
    filter.limit = page + 1;
    let mut matches = storage(&app)?.read(|store| store.matches(&filter)).await?;
    let more = matches.len() > page as usize;
    matches.truncate(page as usize);
    let next_before = if more {
        matches.last().map(|m| m.id)
    } else {
        None
    };
    Ok(Json(MatchPage {
        matches,
        next_before,
    }))
}

/// `GET /api/matches/{id}`.
pub async fn match_record(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<MatchRecord>, ApiError> {
    let id = row_id("match id", &id)?;
    storage(&app)?
        .read(|store| store.match_record(id))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::new(ApiErrorCode::NoMatch, format!("no match {id}")))
}

/// `GET /api/leaderboard?period=all|week&limit=`.
pub async fn leaderboard(
    State(app): State<AppState>,
    query: Result<Query<LeaderboardQuery>, QueryRejection>,
) -> Result<Json<Leaderboard>, ApiError> {
    let Query(query) = query?;
    let period = match given(query.period.as_ref()) {
        None | Some("all") => LeaderboardPeriod::All,
        Some("week") => LeaderboardPeriod::Week,
        Some(other) => return Err(bad(format!("period={other:?}: expected all or week"))),
    };
    let rows = limit(
        query.limit.as_ref(),
        DEFAULT_LEADERBOARD_ROWS,
        MAX_LEADERBOARD_ROWS,
    )?;
    let since_ms = match period {
        LeaderboardPeriod::All => None,
        LeaderboardPeriod::Week => Some(unix_ms().saturating_sub(WEEK_MS)),
    };
    let board = storage(&app)?
        .read(|store| store.leaderboard(since_ms, rows))
        .await?;
    Ok(Json(Leaderboard {
        period,
        since_ms: since_ms.map(|ms| u64::try_from(ms).unwrap_or(0)),
        rows: board,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(room: &str, player: &str, before: &str, limit: &str) -> MatchesQuery {
        let some = |s: &str| Some(s.to_owned());
        MatchesQuery {
            room: some(room),
            player: some(player),
            before: some(before),
            limit: some(limit),
        }
    }

    #[test]
    fn match_queries_are_bounded_and_blank_means_absent() {
        let filter =
            parse_matches_query(&query("main", "0123456789abcdef", "41", "5")).expect("valid");
        assert_eq!(
            filter,
            MatchFilter {
                room: Some("main".into()),
                player: Some("0123456789abcdef".into()),
                before: Some(41),
                limit: 5,
            }
        );
        let blank = parse_matches_query(&query("", " ", "", "")).expect("valid");
        assert_eq!(blank.limit, DEFAULT_MATCHES_PER_PAGE);
        assert_eq!((blank.room, blank.player, blank.before), (None, None, None));
        for bad in [
            query("a b", "", "", ""),
            query("", "XYZ", "", ""),
            query("", "", "-1", ""),
            query("", "", "0", ""),
            query("", "", "9223372036854775808", ""),
            query("", "", "", "0"),
            query("", "", "", "101"),
        ] {
            let err = parse_matches_query(&bad).expect_err("refused");
            assert_eq!(err.code(), ApiErrorCode::BadParam);
        }
    }
}
