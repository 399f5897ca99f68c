//! Playing by long poll (legacy clients): a [`crate::room::Seat`] held under
//! a session token between requests. The state poll's `after` is the
//! player's ack; the answer is the snapshot body the room built, written as
//! JSON once. A request for a session or room another node holds is
//! redirected there ([`super::owner`]).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use skirmish_shared::http::{
    ApiErrorCode, InputAccepted, InputBody, JoinAnswer, JoinBody, LeaveAnswer,
    MAX_INPUTS_PER_REQUEST, StateAnswer,
};
use skirmish_shared::{CloseCode, ResumeToken, Snapshot, Tick, bad_name_message, valid_name};
use tokio::time::Instant;
use tracing::warn;

use super::owner::{self, Refused};
use super::{PollQuery, answer, parse_params, poll_slot};
use crate::listener::ConnSlot;
use crate::matchmaker::routes::KIND_LEGACY;
use crate::matchmaker::{LiveRoute, MatchError, RouteKey, SeatRefusal, SeatTicket, parse_hex16};
use crate::metrics::{Rejection, Transport};
use crate::net::AppState;
use crate::net::api::ApiError;
use crate::net::matchmake::node_url;
use crate::net::sessions::{LegacySession, Lookup, SessionToken, hex};
use crate::room::{Entrant, Peer};
use crate::room::{Outgoing, Seat, lifecycle};
use crate::storage::grant_secret;

/// `POST /api/rooms/{id}/join`: a new ship in room `id`, or in the seat a
/// ticket from matchmaking reserved there, or the ship of a resume token
/// taken back (after a handover's `moved`, as a WebSocket `Hello` resumes).
/// A room another node owns is redirected there.
pub async fn join(
    State(app): State<AppState>,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    slot: Option<Extension<ConnSlot>>,
    body: Result<Json<JoinBody>, JsonRejection>,
) -> Result<Response, Refused> {
    let Json(mut body) = body?;
    let token_player = app
        .check_player_token(body.token.as_ref(), &body.name)
        .map_err(|refusal| ApiError::new(refusal.api_code(), refusal.to_string()))?;
    if let Some(player) = &token_player {
        body.name.clone_from(&player.name);
    }
    if !valid_name(&body.name) {
        return Err(ApiError::new(ApiErrorCode::BadName, bad_name_message()).into());
    }
    let ticket =
        match body.seat.as_deref() {
            None => None,
            Some(hex) => Some(SeatTicket::parse(hex).ok_or_else(|| {
                ApiError::new(ApiErrorCode::BadToken, "seat must be 32 hex digits")
            })?),
        };
    let resume = match body.resume.as_deref() {
        None => None,
        Some(_) if ticket.is_some() => {
            app.metrics.reject(Rejection::BadSeat);
            return Err(ApiError::new(
                ApiErrorCode::ResumeRejected,
                "a seat ticket is for a new ship: resume without it",
            )
            .into());
        }
        Some(hex) => Some(ResumeToken(parse_hex16(hex).ok_or_else(|| {
            ApiError::new(ApiErrorCode::BadToken, "resume must be 32 hex digits")
        })?)),
    };
    if let Some((node, url)) = app.matchmaker.owner_elsewhere(&id).await {
        return Err(owner::moved(&node, &url, &uri));
    }
    if !app.legacy.has_room() {
        app.metrics.reject(Rejection::LegacyLimit);
        return Err(
            ApiError::new(ApiErrorCode::LegacyLimit, "too many long-poll players")
                .retry_after(5)
                .into(),
        );
    }
    // A resume takes back a ship that keeps its own identity.
    let resolved = match resume {
        Some(_) => None,
        None => {
            app.join_identity(token_player.as_ref(), body.player.as_ref())
                .await
        }
    };
    let entrant = Entrant {
        name: body.name,
        resume,
        identity: resolved.as_ref().map(|r| r.identity.clone()),
        peer: Peer {
            address: crate::net::client_of(slot.as_deref()),
            transport: Transport::LongPoll,
        },
    };
    let seat = take_seat(&app, entrant, &id, ticket, body.invite.as_deref()).await?;
    let mut welcome = seat.welcome.clone();
    grant_secret(&mut welcome, resolved);
    let public = seat.room.public;
    let room = seat.room.id.clone();
    let (token, _) = app.legacy.insert(seat);
    app.matchmaker
        .announce(LiveRoute {
            key: RouteKey::of_bytes(token.bytes()),
            room,
            kind: KIND_LEGACY,
            resumable_for: Duration::from_secs(app.config.legacy_idle_secs),
        })
        .await;
    lifecycle!(public, room = %welcome.room, player = welcome.ship.0, resumed = welcome.resumed, "long-poll player joined");
    let joined = JoinAnswer {
        token: token.to_hex(),
        ship: welcome.ship,
        room: welcome.room,
        tick: welcome.tick,
        resume: hex(&welcome.resume.0),
        rules: welcome.rules,
        node_url: node_url(&app, &headers),
        player: welcome.player,
        resumed: welcome.resumed,
    };
    Ok(answer(&app, StatusCode::OK, &joined))
}

/// Seats a long-poll player in room `id` (on this node): in the seat its
/// ticket reserved, or by name (which may open the room).
async fn take_seat(
    app: &AppState,
    entrant: Entrant,
    id: &str,
    ticket: Option<SeatTicket>,
    invite: Option<&str>,
) -> Result<Seat, ApiError> {
    let session = app.registry.new_session();
    let Some(ticket) = ticket else {
        return app
            .matchmaker
            .join_by_name(session, entrant, Some(id.to_owned()), invite)
            .await
            .inspect_err(|err| app.metrics.reject(err.reason()))
            .map_err(ApiError::join_refused);
    };
    match app
        .matchmaker
        .seat_reserved(session, entrant, id, ticket)
        .await
    {
        Ok(seat) => Ok(seat),
        Err(SeatRefusal::Join(err)) => {
            app.metrics.reject(err.reason());
            Err(ApiError::join_refused(err))
        }
        Err(refusal) => {
            app.metrics.reject(Rejection::SeatRefused);
            Err(
                ApiError::new(ApiErrorCode::RoomFull, format!("room {id}: {refusal}"))
                    .retry_after(1),
            )
        }
    }
}

/// The live session of `token` on this node. A token this node does not
/// know may be another node's session: its request is redirected there,
/// or refused with `room_lost` when that node is gone and its room with
/// it (`server_lost` when Redis cannot tell).
async fn session_of(app: &AppState, token: &str, uri: &Uri) -> Result<Arc<LegacySession>, Refused> {
    let lookup = match app.legacy.get(token) {
        Ok(session) => return Ok(session),
        Err(lookup) => lookup,
    };
    if let Lookup::Gone(code) = lookup {
        return Err(ApiError::new(code, "session expired or ended; join again").into());
    }
    let unknown = || ApiError::new(ApiErrorCode::UnknownSession, "unknown session").into();
    let Some(key) = SessionToken::parse(token).map(|t| RouteKey::of_bytes(t.bytes())) else {
        return Err(unknown());
    };
    let home = app.matchmaker.session_home(&key).await.map_err(|err| {
        ApiError::new(ApiErrorCode::DirectoryUnavailable, err.to_string()).retry_after(1)
    })?;
    match home {
        None => Err(unknown()),
        Some(route) if !route.alive => {
            let err = app.matchmaker.gone(route).await;
            let code = match err {
                MatchError::RoomLost(_) => ApiErrorCode::RoomLost,
                _ => ApiErrorCode::ServerLost,
            };
            Err(ApiError::new(code, err.to_string()).into())
        }
        Some(route) => Err(owner::moved(&route.node, &route.url, uri)),
    }
}

/// `POST /api/sessions/{token}/input`.
pub async fn input(
    State(app): State<AppState>,
    Path(token): Path<String>,
    OriginalUri(uri): OriginalUri,
    body: Result<Json<InputBody>, JsonRejection>,
) -> Result<Response, Refused> {
    let session = session_of(&app, &token, &uri).await?;
    let Json(body) = body?;
    let inputs = match body {
        InputBody::Many { inputs } => inputs,
        InputBody::One(input) => vec![input],
    };
    if inputs.len() > MAX_INPUTS_PER_REQUEST {
        return Err(ApiError::new(
            ApiErrorCode::TooManyInputs,
            format!("at most {MAX_INPUTS_PER_REQUEST} inputs per request"),
        )
        .into());
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
        .retry_after(1)
        .into());
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
    OriginalUri(uri): OriginalUri,
    query: Result<Query<PollQuery>, QueryRejection>,
    conn: Option<Extension<ConnSlot>>,
) -> Result<Response, Refused> {
    let session = session_of(&app, &token, &uri).await?;
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
        notice: None,
    };
    loop {
        let next = tokio::select! {
            // What the room said first wins over shutdown: a drained room
            // closes just before the server stops.
            biased;
            out = session.seat.next() => out,
            () = &mut replaced => {
                return Err(ApiError::new(
                    ApiErrorCode::PollReplaced,
                    "replaced by a newer poll of this session",
                )
                .into());
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
                return Err(ApiError::new(code, reason).into());
            }
            // A long-poll session does not move: its player joins the room
            // again on the node the answer names, with its resume token,
            // and gets its ship back there.
            Outgoing::Moved(to) => {
                let code = gone_code(CloseCode::GoingAway);
                app.legacy.remove(&token, code);
                let err = ApiError::new(code, crate::room::MOVED).moved_to(to.node_url.clone());
                return Err(err.into());
            }
            Outgoing::Notice(text) => {
                let state = StateAnswer::<()> {
                    snapshot: None,
                    closed: None,
                    notice: Some(text.to_string()),
                };
                return Ok(answer(&app, StatusCode::OK, &state));
            }
            Outgoing::Snapshot(out) => {
                // A shared body as the room built it; a player's own
                // (interest-filtered) body decoded from its bytes, once.
                let body = match out.body.value() {
                    Ok(body) => body,
                    Err(err) => {
                        warn!(%err, "snapshot body does not decode");
                        continue;
                    }
                };
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
                        notice: None,
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
    OriginalUri(uri): OriginalUri,
) -> Result<Response, Refused> {
    let session = session_of(&app, &token, &uri).await?;
    app.legacy.remove(&token, ApiErrorCode::SessionEnded);
    session.seat.leave().await;
    Ok(Json(LeaveAnswer { left: true }).into_response())
}
