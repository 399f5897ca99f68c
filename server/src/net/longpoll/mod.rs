//! Long polling for clients that cannot hold a WebSocket or an event stream.
//!
//! Watching reads the same event logs as SSE:
//! - `GET /api/rooms/{id}/poll?after=ID&timeout=S`
//! - `GET /api/ticker/poll?after=ID&timeout=S`
//!
//! Playing holds a [`crate::room::Seat`] under a session token:
//! - `POST /api/rooms/{id}/join`
//! - `POST /api/sessions/{token}/input`
//! - `GET /api/sessions/{token}/state?after=TICK&timeout=S`
//! - `POST /api/sessions/{token}/leave`
//!
//! A long-poll player is an ordinary player to its room: the state poll's
//! `after` is its ack, so it gets deltas against what it holds, in the JSON
//! shape of the binary `Snapshot`. Every waiting poll holds a slot (see
//! [`super::slots`]); every wait ends at its timeout, at shutdown, or when the
//! log closes.
//!
//! - `watch`: the room and ticker polls, cursors into the event logs.
//! - `play`: the legacy player's join, input, state and leave.
//! - `owner`: the redirect of a player's request to the node holding it.
//!
//! This file holds what both share: the query parser, the poll slot and the
//! JSON answer. Neither half may wait on anything but its log or its seat,
//! its deadline and shutdown.

mod owner;
mod play;
mod watch;

use std::time::Duration;

use axum::Extension;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use skirmish_shared::http::{ApiErrorCode, DEFAULT_POLL_TIMEOUT_SECS};

use super::AppState;
use super::api::ApiError;
use super::slots::{self, RoomSlots, Slot, SlotKind, client_address};
use crate::listener::ConnSlot;
use crate::metrics::{GaugeGuard, Transport};

pub use play::{input, join, leave, state};
pub use watch::{room_poll, ticker_poll};

/// The query of every long poll. Parsed by hand so that every malformed
/// value gets a JSON 400 that says which one.
#[derive(Debug, Deserialize)]
pub struct PollQuery {
    after: Option<String>,
    timeout: Option<String>,
    /// A private room's invite code (room polls only).
    invite: Option<String>,
}

/// A poll's parsed query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollParams<T> {
    /// The cursor (event id or tick); `None` when absent or blank.
    pub after: Option<T>,
    /// How long to wait, at most the cap.
    pub timeout: Duration,
}

fn parse_params<T: std::str::FromStr>(
    app: &AppState,
    q: Result<Query<PollQuery>, QueryRejection>,
) -> Result<PollParams<T>, ApiError> {
    let Query(q) = q?;
    parse_poll_query(&q, app.config.max_poll_timeout_secs)
}

/// Parses a poll's query; `cap` is `--max-poll-timeout-secs`. Pure (no
/// state), so the `http_params` fuzz target can call it.
///
/// # Errors
/// A 400 (`bad_param`) naming the malformed or out-of-range parameter.
pub fn parse_poll_query<T: std::str::FromStr>(
    q: &PollQuery,
    cap: u64,
) -> Result<PollParams<T>, ApiError> {
    let bad = |message: String| ApiError::new(ApiErrorCode::BadParam, message);
    let after = match q.after.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(
            text.parse::<T>()
                .map_err(|_| bad(format!("after={text:?}: expected a non-negative integer")))?,
        ),
    };
    let timeout = match q.timeout.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_POLL_TIMEOUT_SECS.min(cap),
        Some(text) => {
            let secs: u64 = text
                .parse()
                .map_err(|_| bad(format!("timeout={text:?}: expected whole seconds")))?;
            if secs > cap {
                return Err(bad(format!("timeout={secs}: the limit is {cap} seconds")));
            }
            secs
        }
    };
    Ok(PollParams {
        after,
        timeout: Duration::from_secs(timeout),
    })
}

/// A waiting poll's slots (see [`slots`]) and its place in the `pollers`
/// gauge.
type PollSlot = (Slot, GaugeGuard);

fn poll_slot(
    app: &AppState,
    room: Option<&dyn RoomSlots>,
    conn: Option<&Extension<ConnSlot>>,
) -> Result<PollSlot, ApiError> {
    let slot = slots::take(app, SlotKind::Poll, room, client_address(conn))?;
    Ok((slot, GaugeGuard::new(&app.metrics.pollers)))
}

/// A JSON answer with `status`, counted as a long-poll message.
fn answer<T: Serialize>(app: &AppState, status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => {
            app.metrics.sent(Transport::LongPoll, body.len());
            (status, [(CONTENT_TYPE, "application/json")], body).into_response()
        }
        Err(err) => ApiError::new(ApiErrorCode::Internal, err.to_string()).into_response(),
    }
}
