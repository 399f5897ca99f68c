//! JSON endpoints: the room list and health checks, plus [`ApiError`], the
//! one shape every HTTP error takes (`{"error": "...", "code": "..."}`,
//! the status following from the code), and [`json_errors`], which gives
//! that shape to the bare errors the HTTP layer answers by itself.

use axum::body::Body;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use skirmish_shared::http::{
    ApiErrorCode, CreateRoomBody, CreatedRoom, ErrorBody, MAX_SPECTATOR_DELAY_SECS,
};

use super::AppState;
use super::matchmake::node_url;
use crate::listener::ConnSlot;
use crate::matchmaker::RoomList;
use crate::room::JoinError;
use crate::room::registry::StalledRoom;

/// What a spectator refusal counts, and its `Retry-After`: EventSource
/// gives up on a 503, so the delay is for scripts and the web client's own
/// retry.
const SPECTATOR_STREAMS: (&str, u32) = ("spectator streams open", 5);

/// What a poll refusal counts, and its `Retry-After`: a poll slot frees
/// within a poll timeout at most, usually far sooner.
const WAITING_POLLS: (&str, u32) = ("polls waiting", 1);

/// `Retry-After` while draining: by then another instance, or this one
/// restarted, may answer.
const SHUTDOWN_RETRY_SECS: u32 = 5;

/// The error of every request refused because the server is draining, in
/// a JSON answer or the accept loop's canned one.
pub(crate) const SHUTTING_DOWN: &str = "the server is shutting down";

/// An HTTP error: a code (which sets the status) and words for people.
#[derive(Debug)]
pub struct ApiError {
    code: ApiErrorCode,
    message: String,
    retry_after: Option<u32>,
    /// Where the room continues (`room_closed` `moved` only).
    node_url: Option<String>,
}

impl ApiError {
    /// An error answered with `code`'s status.
    pub fn new(code: ApiErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            retry_after: None,
            node_url: None,
        }
    }

    /// 503 `spectator_limit`: `--max-spectators` streams are open.
    pub fn spectator_limit(max: usize) -> ApiError {
        ApiError::at_limit(
            ApiErrorCode::SpectatorLimit,
            "the server has",
            max,
            SPECTATOR_STREAMS,
        )
    }

    /// 503 `room_spectator_limit`: `--max-spectators-per-room` streams are
    /// open on `room`.
    pub fn room_spectator_limit(room: &str, max: usize) -> ApiError {
        let holder = format!("room {room:?} has");
        ApiError::at_limit(
            ApiErrorCode::RoomSpectatorLimit,
            &holder,
            max,
            SPECTATOR_STREAMS,
        )
    }

    /// 503 `ip_spectator_limit`: the client's address has
    /// `--max-spectators-per-ip` streams open.
    pub fn address_spectator_limit(max: usize) -> ApiError {
        ApiError::at_limit(
            ApiErrorCode::IpSpectatorLimit,
            "your address has",
            max,
            SPECTATOR_STREAMS,
        )
    }

    /// 503 `poll_limit`: `--max-polls` polls are waiting.
    pub fn poll_limit(max: usize) -> ApiError {
        ApiError::at_limit(
            ApiErrorCode::PollLimit,
            "the server has",
            max,
            WAITING_POLLS,
        )
    }

    /// 503 `room_poll_limit`: `--max-polls-per-room` polls are waiting on
    /// `room`.
    pub fn room_poll_limit(room: &str, max: usize) -> ApiError {
        let holder = format!("room {room:?} has");
        ApiError::at_limit(ApiErrorCode::RoomPollLimit, &holder, max, WAITING_POLLS)
    }

    /// 503 `ip_poll_limit`: the client's address has `--max-polls-per-ip`
    /// polls waiting.
    pub fn address_poll_limit(max: usize) -> ApiError {
        ApiError::at_limit(
            ApiErrorCode::IpPollLimit,
            "your address has",
            max,
            WAITING_POLLS,
        )
    }

    /// `code` with `Retry-After`: "`holder` `max` `what`, the most allowed".
    fn at_limit(
        code: ApiErrorCode,
        holder: &str,
        max: usize,
        (what, retry): (&str, u32),
    ) -> ApiError {
        ApiError::new(code, format!("{holder} {max} {what}, the most allowed")).retry_after(retry)
    }

    /// 503 `shutting_down`: the server is draining before it exits.
    pub fn shutting_down() -> ApiError {
        ApiError::new(ApiErrorCode::ShuttingDown, SHUTTING_DOWN).retry_after(SHUTDOWN_RETRY_SECS)
    }

    /// The answer to a join or matchmake the registry refused: the
    /// refusal's code, with `Retry-After` when waiting may help.
    #[must_use]
    pub fn join_refused(err: JoinError) -> ApiError {
        let (code, retry) = match err {
            JoinError::BadRoom => (ApiErrorCode::BadRoom, None),
            JoinError::ResumeRejected { .. } | JoinError::ResumeWithoutRoom => {
                (ApiErrorCode::ResumeRejected, None)
            }
            JoinError::RoomFull { .. } | JoinError::RoomClosed { .. } => {
                (ApiErrorCode::RoomFull, Some(5))
            }
            JoinError::ShuttingDown => (ApiErrorCode::ShuttingDown, None),
            JoinError::RoomLimit { retry_after, .. } => {
                (ApiErrorCode::RoomLimit, Some(retry_after))
            }
            JoinError::ServerFull { retry_after, .. } => {
                (ApiErrorCode::ServerFull, Some(retry_after))
            }
            JoinError::RoomRate { retry_after, .. } => {
                (ApiErrorCode::RoomRateLimited, Some(retry_after))
            }
            JoinError::RoomRateBusy { retry_after } => {
                (ApiErrorCode::RoomRateBusy, Some(retry_after))
            }
            JoinError::InviteRequired { offered: false, .. } => {
                (ApiErrorCode::InviteRequired, None)
            }
            JoinError::InviteRequired { offered: true, .. } => (ApiErrorCode::BadInvite, None),
            JoinError::Banned { retry_after } => (ApiErrorCode::Banned, Some(retry_after)),
            JoinError::InviteRate { retry_after, .. } => {
                (ApiErrorCode::InviteRateLimited, Some(retry_after))
            }
        };
        let refusal = ApiError::new(code, err.to_string());
        match retry {
            Some(secs) => refusal.retry_after(secs),
            None => refusal,
        }
    }

    /// Adds `Retry-After: secs`.
    #[must_use]
    pub fn retry_after(mut self, secs: u32) -> ApiError {
        self.retry_after = Some(secs);
        self
    }

    /// Names the node the player's room continues on (a handover's
    /// `moved`), so the client joins there with its resume token.
    #[must_use]
    pub fn moved_to(mut self, node_url: impl Into<String>) -> ApiError {
        self.node_url = Some(node_url.into());
        self
    }

    /// The machine-readable code.
    #[must_use]
    pub fn code(&self) -> ApiErrorCode {
        self.code
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        let code = match &rejection {
            JsonRejection::JsonDataError(_) => ApiErrorCode::BadBody,
            JsonRejection::JsonSyntaxError(_) => ApiErrorCode::BadJson,
            JsonRejection::MissingJsonContentType(_) => ApiErrorCode::NotJson,
            JsonRejection::BytesRejection(_)
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                ApiErrorCode::BodyTooLarge
            }
            _ => ApiErrorCode::BadRequest,
        };
        ApiError::new(code, rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> ApiError {
        ApiError::new(ApiErrorCode::BadParam, rejection.body_text())
    }
}

/// The status of `code`.
fn status(code: ApiErrorCode) -> StatusCode {
    StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The JSON body of `code` and `message`.
#[must_use]
pub fn error_body(code: ApiErrorCode, message: impl Into<String>) -> Vec<u8> {
    body_of(&ErrorBody {
        error: message.into(),
        code,
        node_url: None,
    })
}

fn body_of(body: &ErrorBody) -> Vec<u8> {
    // Plain strings and a unit enum: serializing cannot fail.
    serde_json::to_vec(body).unwrap_or_default()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            status(self.code),
            [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            body_of(&ErrorBody {
                error: self.message,
                code: self.code,
                node_url: self.node_url,
            }),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// The code of a bare error the HTTP layer answered by itself (a method
/// the route lacks, a path that is not UTF-8, a missing file), by status.
fn layer_code(status: StatusCode) -> Option<ApiErrorCode> {
    Some(match status {
        StatusCode::BAD_REQUEST => ApiErrorCode::BadRequest,
        StatusCode::NOT_FOUND => ApiErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ApiErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ApiErrorCode::BodyTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiErrorCode::NotJson,
        StatusCode::UNPROCESSABLE_ENTITY => ApiErrorCode::BadBody,
        StatusCode::UPGRADE_REQUIRED => ApiErrorCode::UpgradeRequired,
        StatusCode::INTERNAL_SERVER_ERROR => ApiErrorCode::Internal,
        _ => return None,
    })
}

/// Middleware: an error answer that is not JSON (one the HTTP layer made:
/// axum's 405, an extractor's plain-text 400, the file server's 404) gets
/// the error body, so every error on every route carries a code. Its
/// status and headers stay.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    let Some(code) = layer_code(status).filter(|_| !is_json) else {
        return response;
    };
    let reason = status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase();
    let (mut parts, _) = response.into_parts();
    // The bare body may have been compressed; the new one is not.
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.remove(axum::http::header::CONTENT_ENCODING);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, Body::from(error_body(code, reason)))
}

/// `GET /api/rooms`: this node's rooms; in a cluster every live node's,
/// each with its node.
pub async fn rooms(State(app): State<AppState>) -> Json<RoomList> {
    Json(app.matchmaker.rooms().await)
}

/// `POST /api/rooms` with `{"private": true}`: opens a private room here
/// and answers 201 with its id and invite code. Charged like any new room
/// (`--max-rooms`, `--new-rooms-per-ip-per-min`).
///
/// # Errors
/// 400/415/422 for a malformed body or a public room asked for (those are
/// opened by matchmaking or by joining a new name); 429 past the address's
/// rate of new rooms; 503 at the room cap or while draining.
pub async fn create_room(
    State(app): State<AppState>,
    slot: Option<Extension<ConnSlot>>,
    headers: HeaderMap,
    body: Result<Json<CreateRoomBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    if !body.private {
        return Err(ApiError::new(
            ApiErrorCode::BadBody,
            "only private rooms are created here ({\"private\": true}); public rooms open \
             through POST /api/matchmake or by joining a new room name",
        ));
    }
    if let Some(secs) = body.spectator_delay_secs
        && secs > MAX_SPECTATOR_DELAY_SECS
    {
        return Err(ApiError::new(
            ApiErrorCode::BadBody,
            format!("spectator_delay_secs: 0 to {MAX_SPECTATOR_DELAY_SECS}"),
        ));
    }
    let client = super::client_of(slot.as_deref());
    let delay = body.spectator_delay_secs;
    let (room, code) = app.registry.create_private(client, delay).map_err(|err| {
        app.metrics.reject(err.reason());
        ApiError::join_refused(err)
    })?;
    tracing::debug!(room = %room.id, "private room opened");
    let created = CreatedRoom {
        room: room.id.to_string(),
        private: true,
        invite: Some(code.to_hex()),
        node_url: node_url(&app, &headers),
        spectator_delay_secs: delay.unwrap_or(app.config.spectator_delay_secs),
    };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// `GET /metrics`: Prometheus (OpenMetrics) text.
pub async fn metrics(State(app): State<AppState>) -> Response {
    stalled_rooms(&app);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}

/// `GET /healthz`: the process is alive and every room ticks: 200 `ok`,
/// or 503 `tick_stalled` naming the rooms that have not finished a tick
/// for `--stall-secs` (the liveness probe restarts a process whose room is
/// stuck; its players cannot play).
pub async fn healthz(State(app): State<AppState>) -> Response {
    let stalled = stalled_rooms(&app);
    if stalled.is_empty() {
        return "ok\n".into_response();
    }
    let body = StalledBody {
        error: format!(
            "{} room(s) have not ticked for over {} s",
            stalled.len(),
            app.config.stall_secs
        ),
        code: ApiErrorCode::TickStalled,
        rooms: stalled,
    };
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

/// `/healthz`'s 503: the error shape plus the stalled rooms.
#[derive(serde::Serialize)]
struct StalledBody {
    error: String,
    code: ApiErrorCode,
    rooms: Vec<StalledRoom>,
}

/// The rooms whose tick stalled now; sets the gauge that counts them.
fn stalled_rooms(app: &AppState) -> Vec<StalledRoom> {
    let threshold = std::time::Duration::from_secs(app.config.stall_secs);
    let stalled = app.registry.stalled(threshold);
    app.metrics
        .rooms_stalled
        .set(i64::try_from(stalled.len()).unwrap_or(i64::MAX));
    stalled
}

/// `GET /readyz`: accepting players (not draining or shutting down; in a
/// cluster, holding its lease, so matchmaking can send players here).
pub async fn readyz(State(app): State<AppState>) -> Response {
    if app.registry.is_shutting_down() {
        ApiError::shutting_down().into_response()
    } else if app
        .matchmaker
        .cluster()
        .is_some_and(|cluster| !cluster.lease_held())
    {
        let message = "not registered in the cluster (Redis unreachable?)";
        ApiError::new(ApiErrorCode::NotRegistered, message).into_response()
    } else {
        "ready\n".into_response()
    }
}

/// Any route that does not exist.
pub async fn not_found() -> ApiError {
    ApiError::new(ApiErrorCode::NotFound, "no such route")
}
