//! A player over the binary WebSocket (`GET /ws`), playing the GAME.md bot
//! policy.
//!
//! With `--matchmake` it first asks matchmaking and connects to the
//! answered owner's `ws_url` (seat ticket included).
//!
//! When the server says the room moved (`ServerMsg::Moved`, a rolling
//! deploy's handover), the bot connects to the new node and resumes its
//! ship with its token (counted in `moves`).
//!
//! Hello → Welcome, then a clock at the room's tick rate sends one `Input`
//! per tick (sequence from 1, ack = the newest tick held) while every
//! snapshot is applied with [`ViewHistory`], exactly as a real client does.
//! It answers nothing else (the WebSocket layer answers pings on its own).
//!
//! Measured: connect (TCP + upgrade + Hello → Welcome), input-to-ack round
//! trip, snapshot jitter, received bytes (frame payload + frame header, and
//! the upgrade response's head).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use skirmish_shared::bot::BotPolicy;
use skirmish_shared::codec::peek_snapshot;
use skirmish_shared::{
    ClientMsg, CloseCode, Hello, Moved, PROTOCOL_VERSION, ResumeToken, ServerMsg, Snapshot,
    SnapshotBody, Welcome, decode_server, encode,
};
use tokio::net::TcpStream;
use tokio::time::{MissedTickBehavior, sleep_until, timeout};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::matchmake::{self, Placement};
use super::play_state::{PlayState, ViewMode};
use super::{ClientCtx, ClientError, ClientSpec, LEAVE_TIMEOUT, connected};
use crate::stats::{Transport, TransportStats};
use crate::wire::{http_head_len, ws_frame_len};

/// tungstenite zero-fills its whole read buffer before every read (128 KiB
/// by default); at thousands of reads a second that memset alone costs a
/// sizeable share of a core. Snapshots are a few KiB (a full 512-ship one
/// is about 13 KiB), so a larger frame just takes another read.
const READ_BUFFER: usize = 16 * 1024;

/// A silent socket for this long is a failure (the server sends a snapshot
/// every tick).
const READ_TIMEOUT: Duration = Duration::from_secs(5);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One session, from connect to the stop (`Ok`) or a failure.
///
/// # Errors
/// Connection failures, refusals, closes and timeouts.
pub async fn session(
    ctx: &ClientCtx,
    spec: &ClientSpec,
    first: &mut bool,
) -> Result<(), ClientError> {
    let stats = ctx.stats.get(Transport::WsPlayer);
    let started = Instant::now();
    let placed = if ctx.matchmake {
        matchmake::place(ctx, spec, &ctx.http()?).await?
    } else {
        Placement::Open
    };
    let mut url = match placed {
        Placement::Seat(answer) => answer.ws_url,
        Placement::Open => own_ws_url(ctx)?,
    };
    let mut resume = None;
    let mut room = spec.room.clone();
    let mut _connected = None;
    loop {
        let (mut socket, welcome) = join(spec, stats, &url, &room, resume).await?;
        if _connected.is_none() {
            _connected = Some(connected(ctx, Transport::WsPlayer, started, first));
        }
        match play(ctx, spec, stats, &mut socket, &welcome).await? {
            Ended::Stopped => return Ok(()),
            // A rolling deploy handed the room over: take the same ship
            // back on its new node, as a real client does.
            Ended::Moved(to) => {
                stats.counters.moves.fetch_add(1, Ordering::Relaxed);
                url = to.ws_url;
                room = to.room;
                resume = Some(welcome.resume);
            }
        }
    }
}

/// How a game on one socket ended.
enum Ended {
    /// The run stopped.
    Stopped,
    /// The room moved: resume there.
    Moved(Moved),
}

/// Connects to `url` and says Hello to `room` (taking a ship back with
/// `resume`).
async fn join(
    spec: &ClientSpec,
    stats: &TransportStats,
    url: &str,
    room: &str,
    resume: Option<ResumeToken>,
) -> Result<(Socket, Welcome), ClientError> {
    let (mut socket, response) = timeout(
        super::CONNECT_TIMEOUT,
        tokio_tungstenite::connect_async_with_config(
            url,
            Some(WebSocketConfig::default().read_buffer_size(READ_BUFFER)),
            true,
        ),
    )
    .await
    .map_err(|_| ClientError::Timeout("ws connect"))?
    .map_err(ws_error)?;
    stats.bytes(http_head_len(
        response.status().canonical_reason().unwrap_or(""),
        response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().len(), v.len())),
    ));
    send(
        &mut socket,
        &ClientMsg::Hello(Hello {
            token: None,
            protocol: PROTOCOL_VERSION,
            player: None,
            name: format!("bot-{}", spec.index),
            room: Some(room.to_owned()),
            resume,
        }),
    )
    .await?;
    let welcome = timeout(super::CONNECT_TIMEOUT, welcome(&mut socket, stats))
        .await
        .map_err(|_| ClientError::Timeout("welcome"))??;
    Ok((socket, welcome))
}

/// The target's own `/ws`.
fn own_ws_url(ctx: &ClientCtx) -> Result<String, ClientError> {
    let mut url = ctx
        .base
        .join("ws")
        .map_err(|_| ClientError::Protocol("bad url"))?;
    url.set_scheme("ws")
        .map_err(|()| ClientError::Protocol("bad url"))?;
    Ok(url.into())
}

async fn welcome(socket: &mut Socket, stats: &TransportStats) -> Result<Welcome, ClientError> {
    loop {
        match next_message(socket, stats, ViewMode::Full).await? {
            Some(ServerMsg::Welcome(w)) => return Ok(w),
            Some(ServerMsg::Error(e)) => return Err(ClientError::Refused(format!("{:?}", e.code))),
            Some(_) => return Err(ClientError::Protocol("a message before Welcome")),
            None => {}
        }
    }
}

async fn play(
    ctx: &ClientCtx,
    spec: &ClientSpec,
    stats: &TransportStats,
    socket: &mut Socket,
    welcome: &Welcome,
) -> Result<Ended, ClientError> {
    let tick_hz = welcome.rules.tick_hz;
    let mut policy = BotPolicy::new(spec.seed, tick_hz);
    let mut state = PlayState::new(&welcome.rules, welcome.ship, ctx.view);
    let mut clock = tokio::time::interval(state.period());
    clock.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut last_frame = Instant::now();
    loop {
        let silent_until = tokio::time::Instant::from_std(last_frame + READ_TIMEOUT);
        // Biased: a clock tick is due at most once a period, and a frame
        // already waiting always beats the silence check, so a bot that was
        // not scheduled for a while does not blame the server for it.
        tokio::select! {
            biased;
            () = ctx.stop.cancelled() => {
                leave(socket, stats).await;
                return Ok(Ended::Stopped);
            }
            _ = clock.tick() => {
                let input = state.input(&mut policy);
                send(socket, &ClientMsg::Input(input)).await?;
            }
            message = next_message(socket, stats, ctx.view) => {
                last_frame = Instant::now();
                match message? {
                    Some(ServerMsg::Snapshot(snapshot)) => state.snapshot(stats, &snapshot),
                    Some(ServerMsg::Error(e)) => {
                        return Err(ClientError::Refused(format!("{:?}", e.code)));
                    }
                    Some(ServerMsg::Welcome(_)) => {
                        return Err(ClientError::Protocol("a second Welcome"));
                    }
                    // Operators' messages are for people; bots play on.
                    Some(ServerMsg::Moved(to)) => return Ok(Ended::Moved(to)),
                    Some(ServerMsg::Pong(_) | ServerMsg::Notice(_)) | None => {}
                }
            }
            () = sleep_until(silent_until) => return Err(ClientError::Timeout("snapshot")),
        }
    }
}

/// The next server message, counting its bytes; `None` for control frames.
/// With [`ViewMode::Ticks`] a snapshot's body is not decoded: only its head
/// (`last_input`, tick, baseline) is read, which is all a tick history
/// needs. Cancel-safe: tungstenite buffers partial frames inside the stream.
async fn next_message(
    socket: &mut Socket,
    stats: &TransportStats,
    view: ViewMode,
) -> Result<Option<ServerMsg>, ClientError> {
    let frame = socket
        .next()
        .await
        .ok_or(ClientError::Eof)?
        .map_err(ws_error)?;
    match frame {
        Message::Binary(bytes) => {
            stats.bytes(ws_frame_len(bytes.len()));
            stats.messages(1);
            if view == ViewMode::Ticks
                && let Some(head) = peek_snapshot(&bytes)
                    .map_err(|_| ClientError::Protocol("undecodable server frame"))?
            {
                return Ok(Some(ServerMsg::Snapshot(Snapshot {
                    last_input: head.last_input,
                    body: SnapshotBody {
                        tick: head.tick,
                        baseline: head.baseline,
                        ..SnapshotBody::default()
                    },
                })));
            }
            decode_server(&bytes)
                .map(Some)
                .map_err(|_| ClientError::Protocol("undecodable server frame"))
        }
        Message::Ping(p) | Message::Pong(p) => {
            stats.bytes(ws_frame_len(p.len()));
            Ok(None)
        }
        Message::Close(Some(frame)) if is_drained(u16::from(frame.code), &frame.reason) => {
            Err(ClientError::Drained)
        }
        Message::Close(frame) => Err(closed(frame.map(|f| u16::from(f.code)))),
        Message::Text(_) => Err(ClientError::Protocol("a text frame")),
        Message::Frame(_) => Ok(None),
    }
}

/// The server's close of a drained room: 1001 with the reason
/// `server_drain` (a plain 1001 is the server stopping).
fn is_drained(code: u16, reason: &str) -> bool {
    code == CloseCode::GoingAway.code() && reason == "server_drain"
}

fn closed(code: Option<u16>) -> ClientError {
    let code = code.unwrap_or(1005);
    let name = CloseCode::ALL
        .iter()
        .find(|c| c.code() == code)
        .map_or("unknown", |c| c.name());
    ClientError::Closed { code, name }
}

async fn send(socket: &mut Socket, msg: &ClientMsg) -> Result<(), ClientError> {
    let bytes = encode(msg).map_err(|_| ClientError::Protocol("unencodable message"))?;
    socket
        .send(Message::Binary(Bytes::from(bytes)))
        .await
        .map_err(ws_error)
}

/// Says Leave and waits briefly for the server's close, so the ship leaves
/// at once instead of waiting out its resume grace.
async fn leave(socket: &mut Socket, stats: &TransportStats) {
    let _ = timeout(LEAVE_TIMEOUT, async {
        if send(socket, &ClientMsg::Leave).await.is_err() {
            return;
        }
        while let Ok(Some(_) | None) = next_message(socket, stats, ViewMode::Ticks).await {}
    })
    .await;
}

fn ws_error(err: tungstenite::Error) -> ClientError {
    use tungstenite::Error as E;
    match err {
        E::Http(response) => ClientError::refused(
            response.status(),
            response.body().as_deref().unwrap_or_default(),
        ),
        E::ConnectionClosed | E::AlreadyClosed => ClientError::Eof,
        E::Io(io) => ClientError::Transport(format!("io {:?}", io.kind())),
        E::Protocol(_) => ClientError::Transport("ws protocol error".into()),
        E::Capacity(_) => ClientError::Transport("ws frame too large".into()),
        other => ClientError::Transport(format!("ws {}", variant_name(&other))),
    }
}

fn variant_name(err: &tungstenite::Error) -> &'static str {
    use tungstenite::Error as E;
    match err {
        E::Tls(_) => "tls",
        E::Url(_) => "url",
        E::HttpFormat(_) => "http format",
        E::Utf8(_) => "utf8",
        E::AttackAttempt => "attack attempt",
        E::WriteBufferFull(_) => "write buffer full",
        _ => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_going_away_close_with_server_drain_is_a_drain() {
        // The server's words, as server/tests/cluster_drain.rs sees them.
        assert!(is_drained(1001, "server_drain"));
        assert!(!is_drained(1001, "server shutting down"));
        assert!(!is_drained(1000, "server_drain"));
    }
}
