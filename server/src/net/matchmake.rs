//! `POST /api/matchmake` and `GET /api/nodes`.
//!
//! Matchmaking answers where to play: the room, its owner node, and the
//! owner's WebSocket URL carrying a seat ticket (`/ws?room=ID&seat=T`),
//! the same shape alone or in a cluster. The handler validates and asks
//! [`crate::matchmaker`]; it holds no state.

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::HeaderMap;
use axum::{Extension, Json};
use skirmish_shared::http::{ApiErrorCode, MatchAnswer, MatchBody, NodeEntry};
use skirmish_shared::valid_room_id;

use super::AppState;
use super::api::ApiError;
use crate::listener::ConnSlot;
use crate::matchmaker::{MatchError, Placed, RouteKey, Want};
use crate::metrics::Rejection;
use crate::node::ws_url;

/// `POST /api/matchmake`.
///
/// # Errors
/// 400 for a malformed body, 404 for an unknown room or session, 410 for a
/// session whose node is gone (`room_lost`, or `server_lost` when Redis
/// cannot tell whether its room was closed), 429 past
/// the address's rate, 503 when no seat can be given now (full, shutting
/// down, directory unreachable).
pub async fn matchmake(
    State(app): State<AppState>,
    slot: Option<Extension<ConnSlot>>,
    headers: HeaderMap,
    body: Result<Option<Json<MatchBody>>, JsonRejection>,
) -> Result<Json<MatchAnswer>, ApiError> {
    let client = super::client_of(slot.as_deref());
    if let Err(refusal) = app.matchmake_rate.allow(client) {
        app.metrics.reject(Rejection::MatchmakeRate);
        return Err(ApiError::new(
            ApiErrorCode::MatchmakeRateLimited,
            format!(
                "more than {} matchmakes per second from your address",
                app.config.matchmakes_per_sec
            ),
        )
        .retry_after(refusal.retry_after_secs()));
    }
    let body = body
        .map_err(ApiError::from)?
        .map(|Json(b)| b)
        .unwrap_or_default();
    let want = match (body.room, body.resume) {
        (Some(_), Some(_)) => {
            return Err(ApiError::new(
                ApiErrorCode::BadRequest,
                "name a room or a resume token, not both",
            ));
        }
        (Some(room), None) if !valid_room_id(&room) => {
            return Err(ApiError::new(
                ApiErrorCode::BadRoom,
                "room id must be 1-32 characters of A-Z a-z 0-9 _ -",
            ));
        }
        (Some(room), None) => Want::Room(room),
        (None, Some(token)) => Want::Resume(RouteKey::from_token_hex(&token).ok_or_else(|| {
            ApiError::new(ApiErrorCode::BadToken, "resume must be 32 hex digits")
        })?),
        (None, None) => Want::AnyRoom,
    };
    let placed = app
        .matchmaker
        .place(want, client)
        .await
        .map_err(|err| match err {
            MatchError::NoRoom(_) => ApiError::new(ApiErrorCode::NoRoom, err.to_string()),
            MatchError::UnknownSession => {
                ApiError::new(ApiErrorCode::UnknownSession, err.to_string())
            }
            MatchError::ServerLost(_) => ApiError::new(ApiErrorCode::ServerLost, err.to_string()),
            MatchError::RoomLost(_) => ApiError::new(ApiErrorCode::RoomLost, err.to_string()),
            MatchError::RoomFull(_) | MatchError::RoomClosed(_) => {
                ApiError::new(ApiErrorCode::RoomFull, err.to_string()).retry_after(1)
            }
            MatchError::Unavailable(_) => {
                ApiError::new(ApiErrorCode::DirectoryUnavailable, err.to_string()).retry_after(1)
            }
            MatchError::Refused(err) => ApiError::join_refused(err),
        })?;
    let Placed {
        room,
        node,
        url,
        seat,
    } = placed;
    let node_url = match url {
        Some(url) if app.matchmaker.cluster().is_some() => url,
        _ => node_url(&app, &headers),
    };
    let seat = seat.map(|t| t.to_hex());
    Ok(Json(MatchAnswer {
        ws_url: ws_url(&node_url, &room, seat.as_deref()),
        seat_ttl_ms: seat.is_some().then_some(app.config.seat_ttl_ms),
        room,
        node,
        node_url,
        seat,
    }))
}

/// The URL a client should use for this node: its `--public-url`, the one
/// the cluster knows it by, or, for a single node told no `--public-url`,
/// the URL the client reached it by. A lone node is the only place to
/// send anyone, and the client's own URL still works behind a proxy or a
/// port forward, where the bound address would not.
pub fn node_url(app: &AppState, headers: &HeaderMap) -> String {
    let told = app.config.public_url.is_some() || app.matchmaker.cluster().is_some();
    match &app.matchmaker.node().public_url {
        Some(url) if told => url.clone(),
        _ => own_url(app, headers),
    }
}

/// This node's URL as the client reached it, for a node that does not
/// know its own (bound to a wildcard address without `--public-url`).
/// The client only hears back the host it asked for.
fn own_url(app: &AppState, headers: &HeaderMap) -> String {
    let scheme = if app.config.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && !h.contains(['/', ' ', '?', '#']))
        .map_or_else(|| app.config.bind.to_string(), str::to_owned);
    format!("{scheme}://{host}")
}

/// `GET /api/nodes`: the live nodes of the cluster (this one alone on a
/// single node).
///
/// # Errors
/// 503 when the directory is unreachable.
pub async fn nodes(State(app): State<AppState>) -> Result<Json<Vec<NodeEntry>>, ApiError> {
    app.matchmaker.nodes().await.map(Json).map_err(|err| {
        ApiError::new(ApiErrorCode::DirectoryUnavailable, err.to_string()).retry_after(1)
    })
}
