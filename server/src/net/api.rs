//! JSON endpoints: the room list and health checks, plus [`ApiError`], the
//! one shape every HTTP error takes (`{"error": "..."}` with a status).

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::AppState;
use crate::matchmaker::RoomList;
use crate::room::JoinError;

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

/// An HTTP error with a JSON body.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    retry_after: Option<u32>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400: a malformed parameter or body.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// 409: the request lost to a newer one.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, message)
    }

    /// 410: it existed and is over.
    pub fn gone(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::GONE, message)
    }

    /// 429: slow down.
    pub fn too_many(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, message).retry_after(1)
    }

    /// 500.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// 503: at a limit or shutting down.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    /// 503: the named room does not exist and opening it would pass
    /// `--max-rooms`.
    pub fn room_limit(message: impl Into<String>, retry_after: u32) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message).retry_after(retry_after)
    }

    /// 503: no public room has a seat and no room may be opened.
    pub fn server_full(message: impl Into<String>, retry_after: u32) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message).retry_after(retry_after)
    }

    /// 429: this client address opens new rooms too fast.
    pub fn room_rate(message: impl Into<String>, retry_after: u32) -> ApiError {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, message).retry_after(retry_after)
    }

    /// 503: `--max-spectators` streams are open.
    pub fn spectator_limit(max: usize) -> ApiError {
        ApiError::at_limit("the server has", max, SPECTATOR_STREAMS)
    }

    /// 503: `--max-spectators-per-room` streams are open on `room`.
    pub fn room_spectator_limit(room: &str, max: usize) -> ApiError {
        ApiError::at_limit(&format!("room {room:?} has"), max, SPECTATOR_STREAMS)
    }

    /// 503: the client's address has `--max-spectators-per-ip` streams open.
    pub fn address_spectator_limit(max: usize) -> ApiError {
        ApiError::at_limit("your address has", max, SPECTATOR_STREAMS)
    }

    /// 503: `--max-polls` polls are waiting.
    pub fn poll_limit(max: usize) -> ApiError {
        ApiError::at_limit("the server has", max, WAITING_POLLS)
    }

    /// 503: `--max-polls-per-room` polls are waiting on `room`.
    pub fn room_poll_limit(room: &str, max: usize) -> ApiError {
        ApiError::at_limit(&format!("room {room:?} has"), max, WAITING_POLLS)
    }

    /// 503: the client's address has `--max-polls-per-ip` polls waiting.
    pub fn address_poll_limit(max: usize) -> ApiError {
        ApiError::at_limit("your address has", max, WAITING_POLLS)
    }

    /// 503 with `Retry-After`: "`holder` `max` `what`, the most allowed".
    fn at_limit(holder: &str, max: usize, (what, retry): (&str, u32)) -> ApiError {
        ApiError::unavailable(format!("{holder} {max} {what}, the most allowed")).retry_after(retry)
    }

    /// 503: the server is draining before it exits.
    pub fn shutting_down() -> ApiError {
        ApiError::unavailable(SHUTTING_DOWN).retry_after(SHUTDOWN_RETRY_SECS)
    }

    /// The answer to a join or matchmake the registry refused.
    #[must_use]
    pub fn join_refused(err: JoinError) -> ApiError {
        let message = err.to_string();
        match err {
            JoinError::BadRoom
            | JoinError::ResumeRejected { .. }
            | JoinError::ResumeWithoutRoom => ApiError::bad_request(message),
            JoinError::RoomFull { .. } | JoinError::RoomClosed { .. } => {
                ApiError::unavailable(message).retry_after(5)
            }
            JoinError::ShuttingDown => ApiError::unavailable(message),
            JoinError::RoomLimit { retry_after, .. } => ApiError::room_limit(message, retry_after),
            JoinError::ServerFull { retry_after, .. } => {
                ApiError::server_full(message, retry_after)
            }
            JoinError::RoomRate { retry_after, .. } | JoinError::RoomRateBusy { retry_after } => {
                ApiError::room_rate(message, retry_after)
            }
        }
    }

    /// Adds `Retry-After: secs`.
    #[must_use]
    pub fn retry_after(mut self, secs: u32) -> ApiError {
        self.retry_after = Some(secs);
        self
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        ApiError::new(rejection.status(), rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ErrorBody {
                error: &self.message,
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

/// `GET /api/rooms`: this node's rooms; in a cluster every live node's,
/// each with its node.
pub async fn rooms(State(app): State<AppState>) -> Json<RoomList> {
    Json(app.matchmaker.rooms().await)
}

/// `GET /metrics`: Prometheus (OpenMetrics) text.
pub async fn metrics(State(app): State<AppState>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}

/// `GET /healthz`: the process is alive.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: accepting players (not shutting down; in a cluster,
/// holding its lease, so matchmaking can send players here).
pub async fn readyz(State(app): State<AppState>) -> Response {
    if app.shutdown.is_cancelled() {
        ApiError::shutting_down().into_response()
    } else if app
        .matchmaker
        .cluster()
        .is_some_and(|cluster| !cluster.lease_held())
    {
        ApiError::unavailable("not registered in the cluster (Redis unreachable?)").into_response()
    } else {
        "ready\n".into_response()
    }
}

/// Any route that does not exist.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}
