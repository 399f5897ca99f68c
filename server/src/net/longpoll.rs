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

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use skirmish_shared::{Input, Snapshot, Tick, valid_name};
use tokio::time::Instant;

use super::AppState;
use super::api::ApiError;
use super::sessions::{LegacySession, Lookup, hex};
use super::slots::{self, Slot, SlotKind, client_address};
use crate::listener::ConnSlot;
use crate::metrics::{GaugeGuard, TransportLabel, transport};
use crate::room::event_log::{EventLog, Read};
use crate::room::{JoinError, Outgoing, RoomHandle, lifecycle};

/// Events per poll answer at most.
const BATCH: usize = 256;

/// Wait when the client names no timeout, in seconds.
const DEFAULT_TIMEOUT_SECS: u64 = 25;

/// Inputs accepted in one request.
const MAX_INPUTS_PER_REQUEST: usize = 32;

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
    q: &PollQuery,
) -> Result<PollParams<T>, ApiError> {
    parse_poll_query(q, app.config.max_poll_timeout_secs)
}

/// Parses a poll's query; `cap` is `--max-poll-timeout-secs`. Pure (no
/// state), so the `http_params` fuzz target can call it.
///
/// # Errors
/// A 400 naming the malformed or out-of-range parameter.
pub fn parse_poll_query<T: std::str::FromStr>(
    q: &PollQuery,
    cap: u64,
) -> Result<PollParams<T>, ApiError> {
    let after = match q.after.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(text.parse::<T>().map_err(|_| {
            ApiError::bad_request(format!("after={text:?}: expected a non-negative integer"))
        })?),
    };
    let timeout = match q.timeout.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_TIMEOUT_SECS.min(cap),
        Some(text) => {
            let secs: u64 = text.parse().map_err(|_| {
                ApiError::bad_request(format!("timeout={text:?}: expected whole seconds"))
            })?;
            if secs > cap {
                return Err(ApiError::bad_request(format!(
                    "timeout={secs}: the limit is {cap} seconds"
                )));
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

/// A 200 JSON answer, counted as a long-poll message.
fn answer(app: &AppState, body: impl Into<Bytes>) -> Response {
    let body = body.into();
    app.metrics.sent(transport::LONGPOLL, body.len());
    (StatusCode::OK, [(CONTENT_TYPE, "application/json")], body).into_response()
}

/// [`answer`] for a serialisable value.
fn answer_json<T: Serialize>(app: &AppState, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => answer(app, body),
        Err(err) => ApiError::internal(err.to_string()).into_response(),
    }
}

/// `GET /api/rooms/{id}/poll`.
pub async fn room_poll(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<PollQuery>,
    conn: Option<Extension<ConnSlot>>,
) -> Result<Response, ApiError> {
    let room = app
        .registry
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("no room {id:?}")))?;
    let params = parse_params::<u64>(&app, &query)?;
    let _slot = poll_slot(&app, Some(&room), conn.as_ref())?;
    Ok(poll_log(&app, &room.feed.log, params).await)
}

/// `GET /api/ticker/poll`.
pub async fn ticker_poll(
    State(app): State<AppState>,
    Query(query): Query<PollQuery>,
    conn: Option<Extension<ConnSlot>>,
) -> Result<Response, ApiError> {
    let params = parse_params::<u64>(&app, &query)?;
    let _slot = poll_slot(&app, None, conn.as_ref())?;
    let log = app.registry.ticker().clone();
    Ok(poll_log(&app, &log, params).await)
}

/// Answers at once when the log has news for `after`, else waits for it
/// until the timeout.
async fn poll_log(app: &AppState, log: &Arc<EventLog>, params: PollParams<u64>) -> Response {
    let Some(after) = params.after else {
        let (snapshot, head) = log.snapshot();
        return answer(app, format!("{{\"snapshot\":{snapshot},\"next\":{head}}}"));
    };
    let deadline = Instant::now() + params.timeout;
    // Subscribe before reading, so an append between the read and the wait
    // still wakes us.
    let mut changes = log.subscribe();
    loop {
        changes.borrow_and_update();
        match log.read(after, BATCH) {
            Read::Events(events) => {
                let next = events.last().map_or(after, |e| e.id);
                let mut body = BytesMut::from(&b"{\"events\":["[..]);
                for (i, event) in events.iter().enumerate() {
                    if i > 0 {
                        body.extend_from_slice(b",");
                    }
                    body.extend_from_slice(&event.json);
                }
                body.extend_from_slice(format!("],\"next\":{next}}}").as_bytes());
                return answer(app, body.freeze());
            }
            Read::Reset { snapshot, head } => {
                app.metrics
                    .resets
                    .get_or_create(&TransportLabel {
                        transport: transport::LONGPOLL,
                    })
                    .inc();
                return answer(app, format!("{{\"reset\":{snapshot},\"next\":{head}}}"));
            }
            Read::Closed(reason) => {
                return answer(
                    app,
                    format!("{{\"events\":[],\"next\":{after},\"closed\":\"{reason}\"}}"),
                );
            }
            Read::UpToDate => {}
        }
        tokio::select! {
            changed = changes.changed() => if changed.is_err() {
                return answer(app, format!("{{\"events\":[],\"next\":{after},\"closed\":\"gone\"}}"));
            },
            () = tokio::time::sleep_until(deadline) => {
                return answer(app, format!("{{\"events\":[],\"next\":{after}}}"));
            }
            () = app.shutdown.cancelled() => {
                return answer(app, format!(
                    "{{\"events\":[],\"next\":{after},\"closed\":\"server shutting down\"}}"
                ));
            }
        }
    }
}

/// `POST /api/rooms/{id}/join` body.
#[derive(Debug, Deserialize)]
pub struct JoinBody {
    /// Display name.
    name: String,
}

/// The join answer: the session token plus what `Welcome` says.
#[derive(Debug, Serialize)]
struct Joined<'a> {
    token: String,
    ship: u16,
    room: &'a str,
    tick: u32,
    /// The binary protocol's resume token: a long-poll player may move to
    /// the WebSocket and keep its ship.
    resume: String,
    rules: &'a skirmish_shared::rules::Rules,
}

/// `POST /api/rooms/{id}/join`.
pub async fn join(
    State(app): State<AppState>,
    Path(id): Path<String>,
    slot: Option<Extension<ConnSlot>>,
    body: Result<Json<JoinBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(ApiError::from)?;
    if !valid_name(&body.name) {
        return Err(ApiError::bad_request(
            "name must be 1-24 bytes without control characters",
        ));
    }
    if !app.legacy.has_room() {
        app.metrics.reject("legacy_limit");
        return Err(ApiError::unavailable("too many long-poll players").retry_after(5));
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
        .map_err(|err| {
            let message = err.to_string();
            match err {
                JoinError::BadRoom
                | JoinError::ResumeRejected { .. }
                | JoinError::ResumeWithoutRoom => ApiError::bad_request(message),
                JoinError::RoomFull { .. } | JoinError::RoomClosed { .. } => {
                    ApiError::unavailable(message).retry_after(5)
                }
                JoinError::ShuttingDown => ApiError::unavailable(message),
                JoinError::RoomLimit { retry_after, .. } => {
                    ApiError::room_limit(message, retry_after)
                }
                JoinError::ServerFull { retry_after, .. } => {
                    ApiError::server_full(message, retry_after)
                }
                JoinError::RoomRate { retry_after, .. }
                | JoinError::RoomRateBusy { retry_after } => {
                    ApiError::room_rate(message, retry_after)
                }
            }
        })?;
    let welcome = seat.welcome.clone();
    let public = seat.room.public;
    let (token, _) = app.legacy.insert(seat);
    lifecycle!(public, room = %welcome.room, player = welcome.ship.0, "long-poll player joined");
    let joined = Joined {
        token: token.to_hex(),
        ship: welcome.ship.0,
        room: &welcome.room,
        tick: welcome.tick.0,
        resume: hex(&welcome.resume.0),
        rules: &welcome.rules,
    };
    Ok(answer_json(&app, &joined))
}

fn session_of(app: &AppState, token: &str) -> Result<Arc<LegacySession>, ApiError> {
    app.legacy.get(token).map_err(|lookup| match lookup {
        Lookup::Unknown => ApiError::not_found("unknown session"),
        Lookup::Gone => ApiError::gone("session expired or ended; join again"),
    })
}

/// `POST /api/sessions/{token}/input` body: one input or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum InputBody {
    /// `{"inputs": [...]}`.
    Many {
        /// In sequence order.
        inputs: Vec<Input>,
    },
    /// A single input object.
    One(Input),
}

/// `POST /api/sessions/{token}/input`.
pub async fn input(
    State(app): State<AppState>,
    Path(token): Path<String>,
    body: Result<Json<InputBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let session = session_of(&app, &token)?;
    let Json(body) = body.map_err(ApiError::from)?;
    let inputs = match body {
        InputBody::Many { inputs } => inputs,
        InputBody::One(input) => vec![input],
    };
    if inputs.len() > MAX_INPUTS_PER_REQUEST {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_INPUTS_PER_REQUEST} inputs per request"
        )));
    }
    if !session.allow(u32::try_from(inputs.len()).unwrap_or(u32::MAX)) {
        return Err(ApiError::too_many(format!(
            "input flood: more than {} inputs per second",
            app.config.max_msgs_per_sec
        )));
    }
    let accepted = inputs.len();
    for input in inputs {
        session.seat.input(input);
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "accepted": accepted })),
    )
        .into_response())
}

/// `GET /api/sessions/{token}/state`: the newest snapshot after `after`,
/// as a delta against `after` when the server still holds it.
pub async fn state(
    State(app): State<AppState>,
    Path(token): Path<String>,
    Query(query): Query<PollQuery>,
    conn: Option<Extension<ConnSlot>>,
) -> Result<Response, ApiError> {
    let session = session_of(&app, &token)?;
    let params = parse_params::<u32>(&app, &query)?;
    let _slot = poll_slot(&app, Some(&session.seat.room), conn.as_ref())?;
    // One state poll per session: a second client with the same token (or
    // a retry racing the old poll) takes over, and the older poll is told.
    let replaced = session.begin_poll();
    tokio::pin!(replaced);
    let after = params.after.map(Tick);
    session.seat.ack(after);
    let deadline = Instant::now() + params.timeout;
    loop {
        let next = tokio::select! {
            out = session.seat.next() => out,
            () = &mut replaced => {
                return Err(ApiError::conflict("replaced by a newer poll of this session"));
            }
            () = tokio::time::sleep_until(deadline) => {
                return Ok(answer_json(&app, &serde_json::json!({ "snapshot": null })));
            }
            () = app.shutdown.cancelled() => {
                return Ok(answer_json(&app, &serde_json::json!({
                    "snapshot": null, "closed": "server shutting down"
                })));
            }
        };
        match next {
            Outgoing::Close(_, reason) => {
                app.legacy.remove(&token);
                return Err(ApiError::gone(reason));
            }
            Outgoing::Snapshot(out) => {
                let body = out
                    .body
                    .decode()
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                // Only what the client can apply: newer than what it holds,
                // and full or against exactly the tick it named. Anything
                // else was built before the room saw this ack; the next
                // tick's will fit.
                let newer = after.is_none_or(|a| body.tick > a);
                let fits = body.baseline.is_none() || body.baseline == after;
                if newer && fits {
                    // Serialized straight to bytes: `json!` would first
                    // build a Value tree of every ship, which was a quarter
                    // of the server's CPU with 256 long-poll players.
                    #[derive(Serialize)]
                    struct Answer {
                        snapshot: Snapshot,
                    }
                    let snapshot = Snapshot {
                        last_input: out.last_input,
                        body,
                    };
                    return Ok(answer_json(&app, &Answer { snapshot }));
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
    app.legacy.remove(&token);
    session.seat.leave().await;
    Ok(Json(serde_json::json!({ "left": true })).into_response())
}
