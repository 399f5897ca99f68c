//! The player WebSocket (`GET /ws`): binary frames only.
//!
//! A session is Hello → Welcome → inputs up and snapshots down. The URL may
//! name the room and carry a seat ticket from matchmaking
//! (`/ws?room=ID&seat=T`): the seat is spent before the player is seated in
//! that room, which must be on this node. The upgrade
//! handler only extracts and upgrades; [`session`] runs the socket as a
//! reader and a writer joined by `select!`, and does all cleanup (detach or
//! leave, the close frame, the log line) once, after it.
//!
//! The reader decodes through the shared codec and forwards inputs to the
//! room with `try_send` (a full inbox drops the input and counts it); the
//! writer sends whatever the room put in this connection's [`Outbox`].
//! Every malformed or abusive frame ends the session with a close code and a
//! reason; nothing a client sends can affect another session. Which code
//! and reason each end gets is decided in `close`, without I/O.

use std::net::IpAddr;
use std::time::Duration;

use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use skirmish_shared::codec::snapshot_frame;
use skirmish_shared::http::ApiErrorCode;
use skirmish_shared::{
    ClientMsg, CloseCode, ErrorCode, ErrorMsg, Hello, Moved, Notice, PROTOCOL_VERSION, Pong,
    ResumeToken, ServerMsg, bad_name_message, encode, valid_name,
};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior, timeout};
use tracing::{Instrument, debug, field, info, info_span};

mod close;
mod ping;

use super::AppState;
use super::api::ApiError;
use super::flood::FloodGuard;
use crate::listener::ConnSlot;
use crate::matchmaker::routes::KIND_WS;
use crate::matchmaker::{LiveRoute, RouteKey, SeatRefusal, SeatTicket};
use crate::metrics::{GaugeGuard, Metrics, Rejection, Transport};
use crate::room::{Entrant, JoinError, Outgoing, Peer, Seat, SessionId, lifecycle};
use crate::storage::grant_secret;
use close::{End, Frame, classify, socket_error, truncate};
use ping::PingClock;

/// The WebSocket layer's own cap. Frames between [`MAX_CLIENT_FRAME`] and
/// this get a clean 1009 from us; larger ones are cut off by tungstenite
/// before they are buffered, and also answered with 1009.
const WS_MAX_MESSAGE: usize = 64 * 1024;

/// tungstenite's read chunk. Its 128 KiB default is zero-filled on every
/// socket read, which made `memset` most of the server's CPU with hundreds
/// of players sending 12-byte inputs; client frames are at most 2560 bytes.
const WS_READ_BUFFER: usize = 4 * 1024;

/// Pongs waiting for the writer. Pings are rate-limited with everything
/// else, so a full queue only drops pongs of a flooding client.
const CONTROL_QUEUE: usize = 8;

/// How long the close frame may take to go out, and then how long the
/// server keeps reading (and discarding) until the client answers it.
/// Dropping a socket with unread input makes the kernel reset it, and a
/// reset can destroy the close frame before the client has read it.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// `GET /ws` query: where matchmaking sent the player.
#[derive(Debug, Default, serde::Deserialize)]
pub struct WsQuery {
    /// The room to join when Hello names none.
    room: Option<String>,
    /// A seat ticket for that room (32 hex digits).
    seat: Option<String>,
    /// A private room's invite code (32 hex digits), checked when the
    /// room is joined.
    invite: Option<String>,
}

/// What the URL asked for, checked.
#[derive(Debug, Default)]
struct Entry {
    room: Option<String>,
    seat: Option<SeatTicket>,
    invite: Option<String>,
}

impl Entry {
    fn parse(query: Result<Query<WsQuery>, QueryRejection>) -> Result<Entry, ApiError> {
        let Query(query) = query?;
        if let Some(room) = &query.room
            && !skirmish_shared::valid_room_id(room)
        {
            return Err(ApiError::new(
                ApiErrorCode::BadRoom,
                "room id must be 1-32 characters of A-Z a-z 0-9 _ -",
            ));
        }
        let seat = match query.seat.as_deref() {
            None => None,
            Some(_) if query.room.is_none() => {
                return Err(ApiError::new(
                    ApiErrorCode::BadParam,
                    "a seat ticket needs its room",
                ));
            }
            Some(hex) => Some(SeatTicket::parse(hex).ok_or_else(|| {
                ApiError::new(ApiErrorCode::BadToken, "seat must be 32 hex digits")
            })?),
        };
        Ok(Entry {
            room: query.room,
            seat,
            invite: query.invite,
        })
    }
}

/// `GET /ws`: upgrades to the player protocol; 403 for a browser page of a
/// foreign origin, 400 for a malformed room or seat in the URL, and the
/// error body for a request that is no upgrade.
pub async fn upgrade(
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    State(app): State<AppState>,
    slot: Option<Extension<ConnSlot>>,
    query: Result<Query<WsQuery>, QueryRejection>,
    parts: axum::http::request::Parts,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => {
            let code = match rejection.status() {
                StatusCode::METHOD_NOT_ALLOWED => ApiErrorCode::MethodNotAllowed,
                StatusCode::UPGRADE_REQUIRED => ApiErrorCode::UpgradeRequired,
                _ => ApiErrorCode::NotWebsocket,
            };
            return ApiError::new(code, rejection.body_text()).into_response();
        }
    };
    let entry = match Entry::parse(query) {
        Ok(entry) => entry,
        Err(err) => {
            app.metrics.reject(Rejection::BadWsQuery);
            return err.into_response();
        }
    };
    if let Err(origin) = app.origins.check(&parts) {
        app.metrics.reject(Rejection::Origin);
        let shown = origin.to_str().unwrap_or("?");
        let message = format!("origin {shown} may not open a player socket");
        return ApiError::new(ApiErrorCode::OriginForbidden, message).into_response();
    }
    ws.read_buffer_size(WS_READ_BUFFER)
        .max_message_size(WS_MAX_MESSAGE)
        .max_frame_size(WS_MAX_MESSAGE)
        .on_upgrade(move |socket| {
            let tracker = app.tracker.clone();
            let client = super::client_of(slot.as_deref());
            tracker.track_future(async move {
                let session_id = app.registry.new_session();
                let span = info_span!(
                    "ws",
                    session = session_id.0,
                    room = field::Empty,
                    player = field::Empty
                );
                let (sink, stream) = socket.split();
                session(sink, stream, app, session_id, client, entry)
                    .instrument(span)
                    .await;
                // The TCP connection is counted until the socket is done.
                drop(slot);
            })
        })
}

/// Runs one player connection from `client` (its address as the limits
/// count it) from the first frame to the close; `entry` is what its URL
/// asked for.
async fn session<S, R>(
    mut sink: S,
    mut stream: R,
    app: AppState,
    id: SessionId,
    client: IpAddr,
    entry: Entry,
) where
    S: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    info!("connection opened");
    // Every frame counts against the rate, pings before Hello included.
    let mut flood = FloodGuard::new(app.config.max_msgs_per_sec);
    let hello_timeout = Duration::from_secs(app.config.hello_timeout_secs);
    let hello = match timeout(hello_timeout, read_hello(&mut stream, &mut flood, &app)).await {
        Err(_) => {
            app.metrics.reject(Rejection::HelloTimeout);
            Err(End::close(CloseCode::HelloTimeout, "no Hello in time"))
        }
        Ok(result) => result,
    };
    let end = match hello {
        Err(end) => end,
        Ok(hello) => match admit(&mut sink, &app, id, hello, client, entry).await {
            Err(end) => end,
            Ok(seat) => {
                let _playing = GaugeGuard::new(&app.metrics.players_on(Transport::WebSocket));
                let token = seat.welcome.resume;
                app.matchmaker
                    .routes
                    .connected(&token, seat.room.id.clone(), KIND_WS);
                announce(&app, &token, &seat);
                let end = play(&mut sink, &mut stream, &mut flood, &app, &seat).await;
                if end.leave {
                    app.matchmaker.routes.left(&token);
                    seat.leave().await;
                } else {
                    app.matchmaker.routes.detached(&token);
                    seat.detach().await;
                }
                end
            }
        },
    };
    if let Some((code, reason)) = &end.close {
        let frame = CloseFrame {
            code: code.code(),
            reason: truncate(reason).into(),
        };
        // A client that stopped reading must not hold the task forever.
        let sent = timeout(CLOSE_LINGER, sink.send(Message::Close(Some(frame)))).await;
        if matches!(sent, Ok(Ok(()))) {
            // Read until the client answers the close (the stream ends),
            // so the socket is not dropped with unread input.
            let _ = timeout(CLOSE_LINGER, async {
                while let Some(Ok(_)) = stream.next().await {}
            })
            .await;
        }
    }
    let code = end.close.as_ref().map(|(c, _)| c.code());
    info!(reason = %end.reason, close_code = code, "connection closed");
}

/// Publishes a new session's route now (in a cluster), rather than at the
/// next lease refresh, so a resume through another node finds it at once.
/// In the background: play never waits for Redis.
fn announce(app: &AppState, token: &ResumeToken, seat: &Seat) {
    if app.matchmaker.cluster().is_none() {
        return;
    }
    let route = LiveRoute {
        key: RouteKey::of(token),
        room: seat.room.id.clone(),
        kind: KIND_WS,
        resumable_for: Duration::from_secs(app.config.resume_grace_secs),
    };
    let mm = app.clone();
    app.tracker
        .spawn(async move { mm.matchmaker.announce(route).await });
}

/// Reads until the first frame, which must be a binary Hello.
async fn read_hello<R>(stream: &mut R, flood: &mut FloodGuard, app: &AppState) -> Result<Hello, End>
where
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    loop {
        let frame = match stream.next().await {
            None => return Err(End::gone("closed before Hello")),
            Some(Err(err)) => return Err(socket_error(&err.to_string())),
            Some(Ok(frame)) => frame,
        };
        if !flood.allow(1) {
            return Err(flooded(app));
        }
        match classify(frame) {
            Frame::Skip => continue,
            Frame::End(end) => return Err(end),
            Frame::Msg(ClientMsg::Hello(hello)) => return Ok(hello),
            Frame::Msg(_) => {
                return Err(End::close(
                    CloseCode::ProtocolError,
                    "the first message must be Hello",
                ));
            }
        }
    }
}

fn flooded(app: &AppState) -> End {
    End::close(
        CloseCode::PolicyViolation,
        format!(
            "input flood: more than {} messages per second",
            app.config.max_msgs_per_sec
        ),
    )
}

/// Sends an error message, then ends with `code`.
async fn refuse<S>(sink: &mut S, code: CloseCode, error: ErrorCode, message: String) -> End
where
    S: Sink<Message> + Unpin,
{
    if let Ok(bytes) = encode(&ServerMsg::Error(ErrorMsg {
        code: error,
        message: message.clone(),
    })) {
        let _ = sink.send(Message::Binary(Bytes::from(bytes))).await;
    }
    End::close(code, message)
}

/// Checks the Hello, seats the player and sends Welcome.
async fn admit<S>(
    sink: &mut S,
    app: &AppState,
    id: SessionId,
    mut hello: Hello,
    client: IpAddr,
    entry: Entry,
) -> Result<Seat, End>
where
    S: Sink<Message> + Unpin,
{
    let peer = Peer {
        address: client,
        transport: Transport::WebSocket,
    };
    if hello.protocol != PROTOCOL_VERSION {
        let msg = format!(
            "protocol version {} is not supported; this server speaks {PROTOCOL_VERSION}",
            hello.protocol
        );
        app.metrics.reject(Rejection::BadVersion);
        return Err(refuse(sink, CloseCode::ProtocolError, ErrorCode::BadVersion, msg).await);
    }
    let token_player = match app.check_player_token(hello.token.as_ref(), &hello.name) {
        Ok(player) => player,
        Err(refusal) => {
            let msg = refusal.to_string();
            return Err(refuse(sink, refusal.close_code(), refusal.error_code(), msg).await);
        }
    };
    if let Some(player) = &token_player {
        hello.name.clone_from(&player.name);
    }
    if !valid_name(&hello.name) {
        let msg = bad_name_message();
        app.metrics.reject(Rejection::BadName);
        return Err(refuse(sink, CloseCode::PolicyViolation, ErrorCode::BadName, msg).await);
    }
    if let Some(room) = entry.room {
        match &hello.room {
            Some(named) if *named != room => {
                let msg = format!("Hello names room {named} but the URL is for room {room}");
                app.metrics.reject(Rejection::BadRoom);
                return Err(refuse(sink, CloseCode::ProtocolError, ErrorCode::BadRoom, msg).await);
            }
            _ => hello.room = Some(room),
        }
    }
    let invite = entry.invite.as_deref();
    let joined = match (entry.seat, hello.room) {
        (Some(ticket), Some(room)) => {
            if hello.resume.is_some() {
                let msg = "a seat ticket is for a new ship: resume without it".to_owned();
                app.metrics.reject(Rejection::BadSeat);
                return Err(refuse(
                    sink,
                    CloseCode::ProtocolError,
                    ErrorCode::ResumeRejected,
                    msg,
                )
                .await);
            }
            let resolved = app
                .join_identity(token_player.as_ref(), hello.player.as_ref())
                .await;
            let entrant = Entrant {
                name: hello.name,
                resume: None,
                identity: resolved.as_ref().map(|r| r.identity.clone()),
                peer,
            };
            (
                take_reserved_seat(sink, app, id, entrant, room, ticket).await?,
                resolved,
            )
        }
        (_, room) => {
            if let Some(room) = &room
                && let Some((node, url)) = app.matchmaker.owner_elsewhere(room).await
            {
                let msg = format!(
                    "room {room} is on node {node} ({url}): ask POST /api/matchmake \
                     with {{\"room\": \"{room}\"}} for a seat there"
                );
                app.metrics.reject(Rejection::BadRoom);
                return Err(
                    refuse(sink, CloseCode::PolicyViolation, ErrorCode::BadRoom, msg).await,
                );
            }
            // A resume takes back a ship that keeps its own identity.
            let resolved = match hello.resume {
                Some(_) => None,
                None => {
                    app.join_identity(token_player.as_ref(), hello.player.as_ref())
                        .await
                }
            };
            let entrant = Entrant {
                name: hello.name,
                resume: hello.resume,
                identity: resolved.as_ref().map(|r| r.identity.clone()),
                peer,
            };
            (
                app.matchmaker.join_by_name(id, entrant, room, invite).await,
                resolved,
            )
        }
    };
    let (joined, resolved) = joined;
    let mut seat = match joined {
        Ok(seat) => seat,
        Err(err) => {
            app.metrics.reject(err.reason());
            let code = match err.code() {
                ErrorCode::RoomFull
                | ErrorCode::ServerFull
                | ErrorCode::RoomLimit
                | ErrorCode::RoomRateLimited
                | ErrorCode::InviteRateLimited => CloseCode::TryAgainLater,
                ErrorCode::ShuttingDown => CloseCode::GoingAway,
                _ => CloseCode::PolicyViolation,
            };
            return Err(refuse(sink, code, err.code(), err.to_string()).await);
        }
    };
    let span = tracing::Span::current();
    span.record("room", field::display(&seat.room.id));
    span.record("player", seat.welcome.ship.0);
    lifecycle!(
        seat.room.public,
        resumed = seat.welcome.resumed,
        "player seated"
    );
    grant_secret(&mut seat.welcome, resolved);
    let welcome = encode(&ServerMsg::Welcome(seat.welcome.clone()))
        .map_err(|e| End::close(CloseCode::InternalError, e.to_string()))?;
    // A failed send means the socket is gone; the writer finds out next and
    // the caller's cleanup detaches the seat.
    let _ = sink.send(Message::Binary(Bytes::from(welcome))).await;
    Ok(seat)
}

/// Seats a matchmade player in `room`, which must be on this node (see
/// [`crate::matchmaker::Matchmaker::seat_reserved`]).
async fn take_reserved_seat<S>(
    sink: &mut S,
    app: &AppState,
    id: SessionId,
    entrant: Entrant,
    room: String,
    ticket: SeatTicket,
) -> Result<Result<Seat, JoinError>, End>
where
    S: Sink<Message> + Unpin,
{
    match app
        .matchmaker
        .seat_reserved(id, entrant, &room, ticket)
        .await
    {
        Ok(seat) => Ok(Ok(seat)),
        Err(SeatRefusal::Join(err)) => Ok(Err(err)),
        Err(refusal) => {
            let msg = format!("room {room}: {refusal}");
            app.metrics.reject(Rejection::SeatRefused);
            Err(refuse(sink, CloseCode::TryAgainLater, ErrorCode::RoomFull, msg).await)
        }
    }
}

/// The seated part of a session: reader and writer until one ends or the
/// server shuts down.
async fn play<S, R>(
    sink: &mut S,
    stream: &mut R,
    flood: &mut FloodGuard,
    app: &AppState,
    seat: &Seat,
) -> End
where
    S: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let (control_tx, control_rx) = mpsc::channel(CONTROL_QUEUE);
    let pings = PingClock::new();
    let writer = Writer {
        heartbeat: Duration::from_secs(app.config.heartbeat_secs),
        stall: Duration::from_secs(app.config.write_timeout_secs),
        metrics: &app.metrics,
        pings: &pings,
    };
    tokio::select! {
        end = read_loop(stream, flood, app, seat, control_tx, &pings) => end,
        end = writer.run(sink, seat, control_rx) => end,
        () = app.shutdown.cancelled() => match seat.outbox.closing() {
            Some((code, reason)) => End::close(code, reason),
            None => End::close(CloseCode::GoingAway, "server shutting down"),
        },
    }
}

async fn read_loop<R>(
    stream: &mut R,
    flood: &mut FloodGuard,
    app: &AppState,
    seat: &Seat,
    control: mpsc::Sender<ServerMsg>,
    pings: &PingClock,
) -> End
where
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let idle = Duration::from_secs(app.config.idle_timeout_secs);
    // One timer for the whole session, pushed back only when it fires
    // early: a timeout around each read armed and cancelled a timer for
    // every input (30 a second per player).
    let mut heard = Instant::now();
    let quiet_until = tokio::time::sleep_until(heard + idle);
    tokio::pin!(quiet_until);
    loop {
        let frame = tokio::select! {
            next = stream.next() => match next {
                None => return End::gone("connection lost"),
                Some(Err(err)) => return socket_error(&err.to_string()),
                Some(Ok(frame)) => frame,
            },
            () = &mut quiet_until => {
                if heard.elapsed() >= idle {
                    return End::close(
                        CloseCode::IdleTimeout,
                        format!("nothing received for {} s", idle.as_secs()),
                    );
                }
                quiet_until.as_mut().reset(heard + idle);
                continue;
            }
        };
        heard = Instant::now();
        if !flood.allow(1) {
            return flooded(app);
        }
        if let Message::Pong(payload) = &frame
            && let Some(rtt) = pings.answered(payload)
        {
            seat.outbox.set_rtt(rtt);
        }
        match classify(frame) {
            Frame::Skip => {}
            Frame::End(end) => return end,
            Frame::Msg(ClientMsg::Input(input)) => seat.input(input),
            Frame::Msg(ClientMsg::Ping(ping)) => {
                let _ = control.try_send(ServerMsg::Pong(Pong {
                    nonce: ping.nonce,
                    tick: seat.tick(),
                }));
            }
            Frame::Msg(ClientMsg::Leave) => {
                return End {
                    close: Some((CloseCode::Normal, "left".into())),
                    leave: true,
                    reason: "left".into(),
                };
            }
            Frame::Msg(ClientMsg::Hello(_)) => {
                return End::close(CloseCode::ProtocolError, "Hello sent twice");
            }
        }
    }
}

/// The sending half of a seated session.
struct Writer<'a> {
    /// Interval of the server's pings.
    heartbeat: Duration,
    /// Longest a single frame may wait to be sent: a client that stops
    /// reading fills the socket buffers and is dropped after this.
    stall: Duration,
    metrics: &'a Metrics,
    /// Stamps each ping, so the reader can time its pong.
    pings: &'a PingClock,
}

impl Writer<'_> {
    async fn run<S>(self, sink: &mut S, seat: &Seat, mut control: mpsc::Receiver<ServerMsg>) -> End
    where
        S: Sink<Message> + Unpin,
    {
        let mut ping = tokio::time::interval(self.heartbeat);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ping.tick().await;
        loop {
            let message = tokio::select! {
                out = seat.next() => match out {
                    Outgoing::Close(code, reason) => return End::close(code, reason),
                    Outgoing::Notice(text) => match encode(&ServerMsg::Notice(Notice { text: text.to_string() })) {
                        Ok(bytes) => Message::Binary(Bytes::from(bytes)),
                        Err(err) => return End::close(CloseCode::InternalError, err.to_string()),
                    },
                    Outgoing::Moved(to) => match encode(&ServerMsg::Moved(Moved::clone(&to))) {
                        Ok(bytes) => Message::Binary(Bytes::from(bytes)),
                        Err(err) => return End::close(CloseCode::InternalError, err.to_string()),
                    },
                    Outgoing::Snapshot(snapshot) => match snapshot_frame(snapshot.last_input, &snapshot.body.encoded) {
                        Ok(frame) => Message::Binary(Bytes::from(frame)),
                        Err(err) => return End::close(CloseCode::InternalError, err.to_string()),
                    },
                },
                Some(msg) = control.recv() => match encode(&msg) {
                    Ok(bytes) => Message::Binary(Bytes::from(bytes)),
                    Err(err) => return End::close(CloseCode::InternalError, err.to_string()),
                },
                _ = ping.tick() => Message::Ping(self.pings.stamp()),
            };
            let len = match &message {
                Message::Binary(bytes) => bytes.len(),
                _ => 0,
            };
            match timeout(self.stall, sink.send(message)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => {
                    debug!("send failed");
                    return End::gone("connection lost while sending");
                }
                // Its buffers are full: the client stopped reading. Its ship
                // waits for a resume like after any lost connection.
                Err(_) => {
                    self.metrics.reject(Rejection::WriteTimeout);
                    return End::gone(format!(
                        "stopped reading: a frame waited {} s to be sent",
                        self.stall.as_secs()
                    ));
                }
            }
            if len > 0 {
                self.metrics.sent(Transport::WebSocket, len);
            }
        }
    }
}
