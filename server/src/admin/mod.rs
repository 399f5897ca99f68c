//! The admin console (`/admin`, `web-client/admin.html`) and its API
//! (`/admin/api/...`): what operators see of this node and the few things
//! they may do to it (close a room, kick a player, drain).
//!
//! - [`token`]: the admin token and its constant-time comparison.
//! - [`audit`]: the bounded list of actions done.
//! - [`notice`]: the server message shown in every player's HUD.
//! - [`minimap`]: a room's newest state sample, for the console's map.
//!
//! It exists only when an admin token is configured; otherwise nothing is
//! routed and `/admin/...` answers 404 like any unknown path. Every request
//! carries `Authorization: Bearer <token>`; wrong or missing tokens get 401
//! `unauthorized`, and an address that sends too many of them gets 429
//! `admin_rate_limited` before its token is even compared.
//!
//! It must never block a room: it asks rooms through their inboxes without
//! waiting for space (a busy room shows no players for a second rather than
//! holding the request), and acts on them with commands the room handles
//! between ticks.

pub mod audit;
pub mod minimap;
pub mod notice;
pub mod token;

use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Extension, Json, Router};
use skirmish_shared::ShipId;
use skirmish_shared::http::{
    AdminKick, AdminOverview, AdminReason, AdminRoom, ApiErrorCode, AuditEntry,
    MAX_ADMIN_REASON_LEN, MAX_BAN_SECS,
};
use tokio::sync::oneshot;
use tower_http::services::ServeFile;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tracing::{info, warn};

use crate::listener::ConnSlot;
use crate::net::AppState;
use crate::net::api::{self, ApiError};
use crate::net::rate::{MAX_TRACKED_ADDRESSES, PerAddressRate};
use crate::room::bans::Banned;
use crate::room::{Inspection, RoomCmd, RoomHandle};
use audit::AuditLog;
use token::AdminToken;

/// Wrong tokens an address may send per minute, after a burst of
/// [`WRONG_TOKEN_BURST`]: a typo or two pass, guessing a 16-byte token does
/// not. Right tokens give their try back, so the console's polling costs
/// nothing.
const WRONG_TOKENS_PER_MIN: f64 = 6.0;

/// Wrong tokens an address may send at once.
const WRONG_TOKEN_BURST: f64 = 10.0;

/// How long the overview waits for a room to say who is seated; a room
/// that answers later is shown without its players.
const INSPECT_WAIT: Duration = Duration::from_millis(500);

/// How long an action waits for space in a room's inbox (a room drains
/// its inbox between ticks; a full one for this long is stuck).
const ACTION_WAIT: Duration = Duration::from_secs(2);

/// The admin API's state: the token, the rate of wrong tries, the audit
/// list.
#[derive(Debug)]
pub struct Admin {
    token: AdminToken,
    /// Tries per client address; a right token refunds its try.
    tries: PerAddressRate,
    /// Actions done, newest last.
    pub audit: AuditLog,
    /// When this node last sent a server message.
    notices: notice::NoticePace,
}

impl Admin {
    /// The admin API opened by `token`.
    #[must_use]
    pub fn new(token: AdminToken) -> Admin {
        Admin {
            token,
            tries: PerAddressRate::new(
                WRONG_TOKENS_PER_MIN / 60.0,
                WRONG_TOKEN_BURST,
                MAX_TRACKED_ADDRESSES,
            ),
            audit: AuditLog::default(),
            notices: notice::NoticePace::default(),
        }
    }
}

/// Who did an action, as logs and the audit list name them: the token's
/// holder (there is one token) and the address it came from.
#[derive(Clone, Debug)]
struct Operator(String);

/// The console's page (`/admin`), its script (`/admin/admin.js`) and the
/// API (`/admin/api/...`). Without a token every path under `/admin`,
/// whatever the method, answers 404 `not_found`, as a path that never
/// existed (not the file server's 405 to a POST).
pub fn routes(state: &AppState) -> Router<AppState> {
    if state.admin.is_none() {
        return Router::new()
            .route("/admin", any(api::not_found))
            .route("/admin/{*rest}", any(api::not_found));
    }
    // The page holds no secret: it asks for the token and sends it to the
    // API, which checks every request.
    let web = &state.config.web_root;
    let page = Router::new()
        .route_service("/admin", ServeFile::new(web.join("admin.html")))
        .route_service("/admin/admin.js", ServeFile::new(web.join("src/admin.js")));
    let api = Router::new()
        .route("/overview", get(overview))
        .route("/audit", get(audit_list))
        .route("/rooms/{id}/close", post(close_room))
        .route("/rooms/{id}/players/{ship}/kick", post(kick))
        .route("/drain", post(drain))
        .route("/notice", post(notice::send_notice))
        .route("/rooms/{id}/minimap", get(minimap::minimap))
        .fallback(api::not_found)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes as usize))
        // A body trickled in slowly must not hold a request forever.
        .layer(RequestBodyTimeoutLayer::new(Duration::from_secs(
            state.config.header_timeout_secs,
        )))
        // Outermost: no body is read before the token is checked.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ));
    page.nest("/admin/api", api)
}

/// Middleware: the request carries the admin token, and its address is
/// within its rate of tries.
async fn require_token(
    State(app): State<AppState>,
    slot: Option<Extension<ConnSlot>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(admin) = app.admin.as_ref() else {
        return api::not_found().await.into_response();
    };
    let client = crate::net::client_of(slot.as_deref());
    if let Err(refusal) = admin.tries.allow(client) {
        warn!(%client, "admin API: too many wrong tokens from this address");
        return ApiError::new(
            ApiErrorCode::AdminRateLimited,
            "too many wrong admin tokens from your address",
        )
        .retry_after(refusal.retry_after_secs())
        .into_response();
    }
    if !bearer(request.headers()).is_some_and(|offered| admin.token.matches(offered)) {
        // The address only: what was offered is never logged.
        warn!(%client, "admin API: wrong or missing token");
        return ApiError::new(
            ApiErrorCode::Unauthorized,
            "the admin API needs `Authorization: Bearer <admin token>`",
        )
        .into_response();
    }
    admin.tries.refund(client);
    request
        .extensions_mut()
        .insert(Operator(format!("admin token from {client}")));
    next.run(request).await
}

/// The token of `Authorization: Bearer <token>`.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The audit list, present whenever these routes are.
fn audit_of(app: &AppState) -> &AuditLog {
    // Routed only when `admin` is set (see `routes`).
    &app.admin
        .as_ref()
        .expect("admin routes need the admin state")
        .audit
}

/// `GET /admin/api/overview`: the nodes, and this node's rooms (private
/// ones too) with their seated players.
async fn overview(State(app): State<AppState>) -> Json<AdminOverview> {
    let (nodes, nodes_error) = match app.matchmaker.nodes().await {
        Ok(nodes) => (nodes, None),
        Err(err) => (Vec::new(), Some(err.to_string())),
    };
    let mut handles = app.registry.handles();
    handles.sort_by(|a, b| a.id.cmp(&b.id));
    let rooms = futures_util::future::join_all(handles.iter().map(inspect)).await;
    Json(AdminOverview {
        node: app.matchmaker.node().id.clone(),
        draining: app.registry.is_shutting_down(),
        nodes,
        nodes_error,
        rooms,
    })
}

/// A room's figures and its seated players, if it answers in time.
async fn inspect(handle: &RoomHandle) -> AdminRoom {
    let (reply, answer) = oneshot::channel();
    let seen = if handle.inbox.try_send(RoomCmd::Inspect { reply }).is_ok() {
        tokio::time::timeout(INSPECT_WAIT, answer)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
    } else {
        Inspection::default()
    };
    AdminRoom {
        summary: handle.summary(),
        private: handle.invite.is_some(),
        tick_p99_ms: seen.tick_p99_ms,
        humans: seen.players,
    }
}

/// `GET /admin/api/audit`: the kept actions, oldest first.
async fn audit_list(State(app): State<AppState>) -> Json<Vec<AuditEntry>> {
    Json(audit_of(&app).list())
}

/// The reason of an action's body, checked.
fn reason_of(body: Result<Json<AdminReason>, JsonRejection>) -> Result<String, ApiError> {
    let Json(AdminReason { reason }) = body?;
    checked(&reason)
}

/// `reason`, trimmed, if it is 1 to [`MAX_ADMIN_REASON_LEN`] bytes without
/// control characters.
fn checked(reason: &str) -> Result<String, ApiError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.len() > MAX_ADMIN_REASON_LEN || reason.contains(char::is_control)
    {
        return Err(ApiError::new(
            ApiErrorCode::BadBody,
            format!("reason: 1 to {MAX_ADMIN_REASON_LEN} bytes without control characters"),
        ));
    }
    Ok(reason.to_owned())
}

/// The room `id` on this node.
fn room_of(app: &AppState, id: &str) -> Result<RoomHandle, ApiError> {
    app.registry
        .get(id)
        .ok_or_else(|| ApiError::new(ApiErrorCode::NoRoom, format!("no room {id:?} on this node")))
}

/// Hands `cmd` to `room`, waiting at most [`ACTION_WAIT`] for space.
async fn tell(room: &RoomHandle, cmd: RoomCmd) -> Result<(), ApiError> {
    let gone = || ApiError::new(ApiErrorCode::NoRoom, format!("room {:?} closed", room.id));
    match tokio::time::timeout(ACTION_WAIT, room.inbox.send(cmd)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(gone()),
        Err(_) => Err(ApiError::new(
            ApiErrorCode::Internal,
            format!("room {:?} did not take the command in time", room.id),
        )),
    }
}

/// `POST /admin/api/rooms/{id}/close` with `{"reason": "..."}`: the room
/// ends; its players are closed with 1001 `room closed by an operator`,
/// its spectators and pollers told the same.
async fn close_room(
    State(app): State<AppState>,
    Extension(Operator(who)): Extension<Operator>,
    Path(id): Path<String>,
    body: Result<Json<AdminReason>, JsonRejection>,
) -> Result<Json<AuditEntry>, ApiError> {
    let reason = reason_of(body)?;
    let room = room_of(&app, &id)?;
    tell(&room, RoomCmd::Close).await?;
    info!(room = %room.id, %who, %reason, "admin: room closed");
    Ok(Json(audit_of(&app).record(
        &who,
        "close_room",
        &room.id,
        &reason,
    )))
}

/// `POST /admin/api/rooms/{id}/players/{ship}/kick` with
/// `{"reason": "...", "ban_secs": N, "ban_address": bool, "ban_name": bool}`
/// (the ban optional): the player's ship is removed and its connection
/// closed with 1008 `kicked by an operator`; a ban refuses its address or
/// name every join for `ban_secs`.
async fn kick(
    State(app): State<AppState>,
    Extension(Operator(who)): Extension<Operator>,
    Path((id, ship)): Path<(String, u16)>,
    body: Result<Json<AdminKick>, JsonRejection>,
) -> Result<Json<AuditEntry>, ApiError> {
    let Json(order) = body?;
    let reason = checked(&order.reason)?;
    let bans = order.ban_secs > 0;
    if bans != (order.ban_address || order.ban_name) || order.ban_secs > MAX_BAN_SECS {
        return Err(ApiError::new(
            ApiErrorCode::BadBody,
            format!(
                "a ban needs ban_secs (1 to {MAX_BAN_SECS}) and ban_address or ban_name, \
                 or neither"
            ),
        ));
    }
    let room = room_of(&app, &id)?;
    let ship = ShipId(ship);
    let (reply, answer) = oneshot::channel();
    tell(&room, RoomCmd::Kick { ship, reply }).await?;
    let Some(player) = answer.await.ok().flatten() else {
        return Err(ApiError::new(
            ApiErrorCode::NoPlayer,
            format!("room {id:?} has no player with ship {}", ship.0),
        ));
    };
    let length = Duration::from_secs(u64::from(order.ban_secs));
    let mut banned = Vec::new();
    if order.ban_address
        && let Ok(address) = player.address.parse()
    {
        app.registry.bans().ban(Banned::Address(address), length);
        banned.push(format!("address {address}"));
    }
    if order.ban_name {
        app.registry
            .bans()
            .ban(Banned::Name(player.name.clone()), length);
        banned.push(format!("name {:?}", player.name));
    }
    let ban = if banned.is_empty() {
        String::new()
    } else {
        format!(
            " (banned {} for {} s)",
            banned.join(" and "),
            order.ban_secs
        )
    };
    info!(room = %room.id, player = ship.0, %who, %reason, ban, "admin: player kicked");
    let target = format!("{}/{}", room.id, ship.0);
    let entry = audit_of(&app).record(&who, "kick", &target, &format!("{reason}{ban}"));
    Ok(Json(entry))
}

/// `POST /admin/api/drain` with `{"reason": "..."}`: the node drains and
/// stops, as on SIGTERM (see docs/operations.md, "Graceful shutdown").
/// Answered 202 before the drain closes this connection.
async fn drain(
    State(app): State<AppState>,
    Extension(Operator(who)): Extension<Operator>,
    body: Result<Json<AdminReason>, JsonRejection>,
) -> Result<Response, ApiError> {
    let reason = reason_of(body)?;
    info!(%who, %reason, "admin: node draining");
    let entry = audit_of(&app).record(&who, "drain", "", &reason);
    app.begin_drain();
    Ok((StatusCode::ACCEPTED, Json(entry)).into_response())
}
