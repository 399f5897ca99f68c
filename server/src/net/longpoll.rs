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

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use skirmish_shared::http::{
    ApiErrorCode, DEFAULT_POLL_TIMEOUT_SECS, InputAccepted, InputBody, JoinAnswer, JoinBody,
    LeaveAnswer, MAX_EVENTS_PER_PAGE, MAX_INPUTS_PER_REQUEST, PollPage, StateAnswer,
};
use skirmish_shared::{CloseCode, Snapshot, Tick, valid_name};
use tokio::time::Instant;

use super::AppState;
use super::api::ApiError;
use super::sessions::{LegacySession, Lookup, hex};
use super::slots::{self, Slot, SlotKind, client_address};
use crate::listener::ConnSlot;
use crate::metrics::{GaugeGuard, TransportLabel, transport};
use crate::room::event_log::{EventLog, Read};
use crate::room::{Outgoing, RoomHandle, lifecycle};

/// The query of every long poll. Parsed by hand so that every malformed
/// value gets a JSON 400 that says which one.
#[derive(Debug, Deserialize)]
pub struct PollQuery {
    after: Option<String>,
    timeout: Option<String>,
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
    room: Option<&RoomHandle>,
    conn: Option<&Extension<ConnSlot>>,
) -> Result<PollSlot, ApiError> {
    let slot = slots::take(app, SlotKind::Poll, room, client_address(conn))?;
    Ok((slot, GaugeGuard::new(&app.metrics.pollers)))
}

/// A JSON answer with `status`, counted as a long-poll message.
fn answer<T: Serialize>(app: &AppState, status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => {
            app.metrics.sent(transport::LONGPOLL, body.len());
            (status, [(CONTENT_TYPE, "application/json")], body).into_response()
        }
        Err(err) => ApiError::new(ApiErrorCode::Internal, err.to_string()).into_response(),
    }
}

/// A watcher's page as the server writes it: the snapshot and the events
/// are JSON the log rendered once, shared by every reader.
type Page<'a> = PollPage<&'a RawValue, &'a RawValue>;

/// An empty page at `next`.
fn page<'a>(next: u64) -> Page<'a> {
    PollPage {
        snapshot: None,
        reset: None,
        events: Vec::new(),
        next,
        closed: None,
    }
}

/// `GET /api/rooms/{id}/poll`.
pub async fn room_poll(
    State(app): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<PollQuery>, QueryRejection>,
    conn: Option<Extension<ConnSlot>>,
) -> Result<Response, ApiError> {
    let room = app
        .registry
        .get(&id)
        .ok_or_else(|| ApiError::new(ApiErrorCode::NoRoom, format!("no room {id:?}")))?;
    let params = parse_params::<u64>(&app, query)?;
    let _slot = poll_slot(&app, Some(&room), conn.as_ref())?;
    Ok(poll_log(&app, &room.feed.log, params).await)
}

/// `GET /api/ticker/poll`.
pub async fn ticker_poll(
    State(app): State<AppState>,
    query: Result<Query<PollQuery>, QueryRejection>,
    conn: Option<Extension<ConnSlot>>,
) -> Result<Response, ApiError> {
    let params = parse_params::<u64>(&app, query)?;
    let _slot = poll_slot(&app, None, conn.as_ref())?;
    let log = app.registry.ticker().clone();
    Ok(poll_log(&app, &log, params).await)
}

/// Answers at once when the log has news for `after`, else waits for it
/// until the timeout.
async fn poll_log(app: &AppState, log: &Arc<EventLog>, params: PollParams<u64>) -> Response {
    let ok = |page: &Page<'_>| answer(app, StatusCode::OK, page);
    let Some(after) = params.after else {
        let (snapshot, head) = log.snapshot();
        return ok(&PollPage {
            snapshot: Some(&*snapshot),
            ..page(head)
        });
    };
    let deadline = Instant::now() + params.timeout;
    // Subscribe before reading, so an append between the read and the wait
    // still wakes us.
    let mut changes = log.subscribe();
    loop {
        changes.borrow_and_update();
        match log.read(after, MAX_EVENTS_PER_PAGE) {
            Read::Events(events) => {
                let next = events.last().map_or(after, |e| e.id);
                return ok(&PollPage {
                    events: events.iter().map(|e| &*e.json).collect(),
                    ..page(next)
                });
            }
            Read::Reset { snapshot, head } => {
                app.metrics
                    .resets
                    .get_or_create(&TransportLabel {
                        transport: transport::LONGPOLL,
                    })
                    .inc();
                return ok(&PollPage {
                    reset: Some(&*snapshot),
                    ..page(head)
                });
            }
            Read::Closed(reason) => {
                return ok(&PollPage {
                    closed: Some(reason.to_owned()),
                    ..page(after)
                });
            }
            Read::UpToDate => {}
        }
        let closed = tokio::select! {
            changed = changes.changed() => match changed {
                Ok(()) => continue,
                Err(_) => "gone",
            },
            () = tokio::time::sleep_until(deadline) => return ok(&page(after)),
            () = app.shutdown.cancelled() => "server shutting down",
        };
        return ok(&PollPage {
            closed: Some(closed.to_owned()),
            ..page(after)
        });
    }
}

/// `POST /api/rooms/{id}/join`.
pub async fn join(
    State(app): State<AppState>,
    Path(id): Path<String>,
    slot: Option<Extension<ConnSlot>>,
    body: Result<Json<JoinBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    if !valid_name(&body.name) {
        return Err(ApiError::new(
            ApiErrorCode::BadName,
            "name must be 1-24 bytes without control characters",
        ));
    }
    if !app.legacy.has_room() {
        app.metrics.reject("legacy_limit");
        return Err(
            ApiError::new(ApiErrorCode::LegacyLimit, "too many long-poll players").retry_after(5),
        );
    }
    let session = app.registry.new_session();
    let seat = app
        .registry
        .join(
            session,
            body.name,
            Some(id),
            None,
            super::client_of(slot.as_deref()),
        )
        .await
        .inspect_err(|err| app.metrics.reject(err.reason()))
        .map_err(ApiError::join_refused)?;
    let welcome = seat.welcome.clone();
    let public = seat.room.public;
    let (token, _) = app.legacy.insert(seat);
    lifecycle!(public, room = %welcome.room, player = welcome.ship.0, "long-poll player joined");
    let joined = JoinAnswer {
        token: token.to_hex(),
        ship: welcome.ship,
        room: welcome.room,
        tick: welcome.tick,
        resume: hex(&welcome.resume.0),
        rules: welcome.rules,
    };
    Ok(answer(&app, StatusCode::OK, &joined))
}

fn session_of(app: &AppState, token: &str) -> Result<Arc<LegacySession>, ApiError> {
    app.legacy.get(token).map_err(|lookup| match lookup {
        Lookup::Unknown => ApiError::new(ApiErrorCode::UnknownSession, "unknown session"),
        Lookup::Gone(code) => ApiError::new(code, "session expired or ended; join again"),
    })
}

/// `POST /api/sessions/{token}/input`.
pub async fn input(
    State(app): State<AppState>,
    Path(token): Path<String>,
    body: Result<Json<InputBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let session = session_of(&app, &token)?;
    let Json(body) = body?;
    let inputs = match body {
        InputBody::Many { inputs } => inputs,
        InputBody::One(input) => vec![input],
    };
    if inputs.len() > MAX_INPUTS_PER_REQUEST {
        return Err(ApiError::new(
            ApiErrorCode::TooManyInputs,
            format!("at most {MAX_INPUTS_PER_REQUEST} inputs per request"),
        ));
    }
    let accepted = u32::try_from(inputs.len()).unwrap_or(u32::MAX);
    if !session.allow(accepted) {
        return Err(ApiError::new(
            ApiErrorCode::InputFlood,
            format!(
                "input flood: more than {} inputs per second",
                app.config.max_msgs_per_sec
            ),
        )
        .retry_after(1));
    }
    for input in inputs {
        session.seat.input(input);
    }
    Ok((StatusCode::ACCEPTED, Json(InputAccepted { accepted })).into_response())
}

/// The 410 code of a session its room closed, by the close code a
/// WebSocket would have got.
fn gone_code(code: CloseCode) -> ApiErrorCode {
    match code {
        CloseCode::SessionReplaced => ApiErrorCode::SessionReplaced,
        CloseCode::GoingAway => ApiErrorCode::RoomClosed,
        _ => ApiErrorCode::SessionEnded,
    }
}

/// `GET /api/sessions/{token}/state`: the newest snapshot after `after`,
/// as a delta against `after` when the server still holds it.
pub async fn state(
    State(app): State<AppState>,
    Path(token): Path<String>,
    query: Result<Query<PollQuery>, QueryRejection>,
    conn: Option<Extension<ConnSlot>>,
) -> Result<Response, ApiError> {
    let session = session_of(&app, &token)?;
    let params = parse_params::<u32>(&app, query)?;
    let _slot = poll_slot(&app, Some(&session.seat.room), conn.as_ref())?;
    // One state poll per session: a second client with the same token (or
    // a retry racing the old poll) takes over, and the older poll is told.
    let replaced = session.begin_poll();
    tokio::pin!(replaced);
    let after = params.after.map(Tick);
    session.seat.ack(after);
    let deadline = Instant::now() + params.timeout;
    let nothing = |closed: Option<&str>| StateAnswer::<()> {
        snapshot: None,
        closed: closed.map(str::to_owned),
    };
    loop {
        let next = tokio::select! {
            out = session.seat.next() => out,
            () = &mut replaced => {
                return Err(ApiError::new(
                    ApiErrorCode::PollReplaced,
                    "replaced by a newer poll of this session",
                ));
            }
            () = tokio::time::sleep_until(deadline) => {
                return Ok(answer(&app, StatusCode::OK, &nothing(None)));
            }
            () = app.shutdown.cancelled() => {
                return Ok(answer(&app, StatusCode::OK, &nothing(Some("server shutting down"))));
            }
        };
        match next {
            Outgoing::Close(code, reason) => {
                let code = gone_code(code);
                app.legacy.remove(&token, code);
                return Err(ApiError::new(code, reason));
            }
            Outgoing::Snapshot(out) => {
                // The body the room built, written as it lies: never
                // decoded back from its encoding, never copied.
                let body = &out.body.value;
                // Only what the client can apply: newer than what it holds,
                // and full or against exactly the tick it named. Anything
                // else was built before the room saw this ack; the next
                // tick's will fit.
                let newer = after.is_none_or(|a| body.tick > a);
                let fits = body.baseline.is_none() || body.baseline == after;
                if newer && fits {
                    let snapshot = Snapshot {
                        last_input: out.last_input,
                        body,
                    };
                    let state = StateAnswer {
                        snapshot: Some(snapshot),
                        closed: None,
                    };
                    return Ok(answer(&app, StatusCode::OK, &state));
                }
            }
        }
    }
}

/// `POST /api/sessions/{token}/leave`: the ship leaves now.
pub async fn leave(
    State(app): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let session = session_of(&app, &token)?;
    app.legacy.remove(&token, ApiErrorCode::SessionEnded);
    session.seat.leave().await;
    Ok(Json(LeaveAnswer { left: true }).into_response())
}
