//! The simulated clients, one module per kind:
//! - [`ws_player`]: plays the bot policy over the binary WebSocket.
//! - [`sse_spectator`]: reads a room's SSE feed.
//! - [`poll_watcher`]: long-polls a room's event log with `after=next`.
//! - [`poll_player`]: plays the bot policy over long polling.
//! - [`matchmake`]: where players play with `--matchmake`.
//!
//! Every client runs as one task until the run's stop token fires. A
//! session that fails is counted by reason and started again after
//! [`RECONNECT_DELAY`], so the load stays at the level asked for; the
//! report shows reconnections as connects beyond the client count. A
//! player whose room was drained (a rolling deploy) is not a failure: it
//! starts again at once (with `--matchmake`, in a new match elsewhere).

pub mod matchmake;
pub mod play_state;
pub mod poll_player;
pub mod poll_watcher;
pub mod sse_spectator;
pub mod ws_player;

use std::future::Future;
use std::io::Read as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::{RequestBuilder, StatusCode, Url};
use skirmish_shared::http::{ApiErrorCode, ErrorBody};
use tokio_util::sync::CancellationToken;

use crate::stats::{Recorder, Transport};
use crate::wire::response_head_len;

/// Pause before a failed client connects again.
pub const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// Longest a connection, handshake or join may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long watchers wait for a room that no player has created yet.
pub const ROOM_WAIT: Duration = Duration::from_secs(10);

/// How long a stopping client may spend leaving cleanly.
pub const LEAVE_TIMEOUT: Duration = Duration::from_secs(2);

/// What every client shares.
#[derive(Debug)]
pub struct ClientCtx {
    /// Where measurements go.
    pub stats: Arc<Recorder>,
    /// Fired at the end of the run.
    pub stop: CancellationToken,
    /// The server's base URL (`http://host:port/`).
    pub base: Url,
    /// Long polls and SSE streams send `Accept-Encoding: gzip`.
    pub gzip: bool,
    /// How players keep snapshots.
    pub view: play_state::ViewMode,
    /// Players ask matchmaking where to play ([`matchmake`]).
    pub matchmake: bool,
    /// Over TLS (`--tls`, `--http-version 2`): the connections spectators
    /// and watchers share; `None` for plain HTTP/1.1 with reqwest.
    pub tls: Option<Arc<crate::h2::Links>>,
}

impl ClientCtx {
    /// `path` (no leading slash) under the server's base URL.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A fresh HTTP client: each simulated client holds its own
    /// connections, as separate browsers would.
    ///
    /// # Errors
    /// The client cannot be built (no TLS or resolver needed, so only on a
    /// broken system).
    pub fn http(&self) -> Result<reqwest::Client, ClientError> {
        reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_max_idle_per_host(2)
            .build()
            .map_err(|e| ClientError::Transport(format!("client: {e}")))
    }
}

/// What one simulated client is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientSpec {
    /// Its transport and role.
    pub kind: Transport,
    /// Its number within its kind, from 0.
    pub index: u32,
    /// The bot-policy seed index (players only): `BotPolicy::new(seed, hz)`.
    pub seed: u64,
    /// The room it joins or watches.
    pub room: String,
    /// The first player of its room: with `--matchmake`, it opens the room
    /// when no node has it.
    pub opens_room: bool,
}

/// Why a client's session ended before the run did. The reason string is
/// the key errors are counted under, so it stays low-cardinality.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A wait ran out.
    #[error("timeout ({0})")]
    Timeout(&'static str),
    /// The server refused with an error body: its status and code.
    #[error("http {status} {}", code_name(*.code))]
    Api {
        /// The status.
        status: u16,
        /// Why, for programs.
        code: ApiErrorCode,
    },
    /// An HTTP status other than the expected one, without the server's
    /// error body (a proxy's answer, say).
    #[error("http {0}")]
    Status(u16),
    /// The server closed the WebSocket with a code.
    #[error("ws close {code} {name}")]
    Closed {
        /// Close code.
        code: u16,
        /// Its name.
        name: &'static str,
    },
    /// The server refused with an `Error` message.
    #[error("refused {0}")]
    Refused(String),
    /// The connection ended without a close frame or a closing event.
    #[error("connection lost")]
    Eof,
    /// The server ended a feed (`closed`, `shutdown`).
    #[error("feed {0}")]
    FeedClosed(String),
    /// Something the protocol does not allow.
    #[error("protocol: {0}")]
    Protocol(&'static str),
    /// The room's node drained it (close 1001 `server_drain`, a rolling
    /// deploy): not a failure; the bot finds a new match at once, as the
    /// browser client does.
    #[error("room drained")]
    Drained,
    /// A connection-level failure (refused, reset, I/O).
    #[error("{0}")]
    Transport(String),
}

/// A code as the wire spells it (`room_full`), for the error counts.
fn code_name(code: ApiErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The code of an error answer's body, when it is the server's error body.
#[must_use]
pub fn error_code(body: &[u8]) -> Option<ApiErrorCode> {
    serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .map(|error| error.code)
}

impl ClientError {
    /// An answer that is not the one expected: refused with a code, or a
    /// bare status.
    #[must_use]
    pub fn refused(status: StatusCode, body: &[u8]) -> ClientError {
        match error_code(body) {
            Some(code) => ClientError::Api {
                status: status.as_u16(),
                code,
            },
            None => ClientError::Status(status.as_u16()),
        }
    }

    /// From a reqwest failure.
    #[must_use]
    pub fn http(err: &reqwest::Error) -> ClientError {
        if err.is_timeout() {
            ClientError::Timeout("http")
        } else if err.is_connect() {
            ClientError::Transport("connect failed".into())
        } else if let Some(status) = err.status() {
            ClientError::Status(status.as_u16())
        } else if err.is_body() || err.is_decode() {
            ClientError::Transport("body read failed".into())
        } else {
            ClientError::Transport("request failed".into())
        }
    }
}

/// Runs one client until the stop token fires, starting its session again
/// after each failure.
pub async fn run_client(ctx: Arc<ClientCtx>, spec: ClientSpec) {
    let stats = ctx.stats.get(spec.kind);
    stats
        .counters
        .started
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut first = true;
    while !ctx.stop.is_cancelled() {
        let result = match spec.kind {
            Transport::WsPlayer => ws_player::session(&ctx, &spec, &mut first).await,
            Transport::SseSpectator => sse_spectator::session(&ctx, &spec, &mut first).await,
            Transport::PollWatcher => poll_watcher::session(&ctx, &spec, &mut first).await,
            Transport::PollPlayer => poll_player::session(&ctx, &spec, &mut first).await,
        };
        match result {
            Ok(()) => return,
            Err(ClientError::Drained) => {
                tracing::debug!(client = spec.index, "room drained; finding a new match");
                continue;
            }
            Err(err) => {
                // Failures caused by our own stop are not the server's.
                if ctx.stop.is_cancelled() {
                    return;
                }
                tracing::debug!(client = spec.index, kind = spec.kind.name(), %err, "session failed");
                stats.error(err.to_string());
            }
        }
        tokio::select! {
            () = ctx.stop.cancelled() => return,
            () = tokio::time::sleep(RECONNECT_DELAY) => {}
        }
    }
}

/// The connection is in: records the connect time and marks the client
/// connected for as long as the returned guard lives.
fn connected(
    ctx: &ClientCtx,
    kind: Transport,
    started: Instant,
    first: &mut bool,
) -> crate::stats::Connected {
    ctx.stats
        .get(kind)
        .record(crate::stats::Metric::Connect, started.elapsed());
    let guard = crate::stats::Connected::new(ctx.stats.clone(), kind, *first);
    *first = false;
    guard
}

/// A whole HTTP answer, as the client saw it and as the wire carried it.
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: StatusCode,
    /// Bytes received: head plus body as sent (compressed, if it was).
    pub wire_bytes: u64,
    /// The body, decompressed.
    pub body: Bytes,
}

impl Answer {
    /// The error code, when the answer is an error with the server's body.
    #[must_use]
    pub fn code(&self) -> Option<ApiErrorCode> {
        (self.status.is_client_error() || self.status.is_server_error())
            .then(|| error_code(&self.body))
            .flatten()
    }

    /// The answer as a failure: why the server refused.
    #[must_use]
    pub fn refused(&self) -> ClientError {
        ClientError::refused(self.status, &self.body)
    }
}

/// Sends `request` and reads the whole answer, counting one request and
/// the answer's bytes against `kind`.
///
/// # Errors
/// Transport failures and undecodable gzip.
pub async fn fetch(
    ctx: &ClientCtx,
    kind: Transport,
    request: RequestBuilder,
) -> Result<Answer, ClientError> {
    let stats = ctx.stats.get(kind);
    stats.request();
    let request = if ctx.gzip {
        request.header(reqwest::header::ACCEPT_ENCODING, "gzip")
    } else {
        request
    };
    let response = request.send().await.map_err(|e| ClientError::http(&e))?;
    let status = response.status();
    let head = response_head_len(&response);
    let gzipped = response
        .headers()
        .get(reqwest::header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let chunked = crate::wire::is_chunked(&response);
    let raw = response.bytes().await.map_err(|e| ClientError::http(&e))?;
    let framing = if chunked {
        // A whole body read back is one or more chunks; count one.
        crate::wire::chunk_overhead(raw.len()) + 5
    } else {
        0
    };
    let wire_bytes = head + raw.len() as u64 + framing;
    stats.head(head);
    stats.bytes(raw.len() as u64 + framing);
    let body = if gzipped {
        let mut plain = Vec::with_capacity(raw.len() * 4);
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut plain)
            .map_err(|_| ClientError::Protocol("undecodable gzip body"))?;
        Bytes::from(plain)
    } else {
        raw
    };
    stats.decoded(body.len() as u64);
    Ok(Answer {
        status,
        wire_bytes,
        body,
    })
}

/// One request of a simulated client, as either carrier sends it.
#[derive(Clone, Debug)]
pub struct Call {
    /// The client's kind, whose counters the request and answer go to.
    pub kind: Transport,
    /// The client's number within its kind (its TLS connection slot).
    pub index: u32,
    /// Which of the client's concurrent requests this is (over TLS, its
    /// connection).
    pub lane: crate::h2::Lane,
    /// The path and query under the server's base URL, no leading slash;
    /// with `--matchmake` (plain HTTP only) a whole URL on another node.
    pub path: String,
    /// A POST with this JSON body (empty: no body); `None`: a GET.
    pub json: Option<Bytes>,
    /// Longest the request and its answer may take.
    pub timeout: Duration,
}

impl Call {
    /// `GET path` on the [`Lane::Wait`](crate::h2::Lane::Wait) lane.
    #[must_use]
    pub fn get(kind: Transport, index: u32, path: String, timeout: Duration) -> Call {
        Call {
            kind,
            index,
            lane: crate::h2::Lane::Wait,
            path,
            json: None,
            timeout,
        }
    }

    /// `POST path` with `body` as JSON (`None`: no body) on the
    /// [`Lane::Send`](crate::h2::Lane::Send) lane.
    ///
    /// # Errors
    /// The body does not serialise (never for the wire types).
    pub fn post<T: serde::Serialize>(
        kind: Transport,
        index: u32,
        path: String,
        body: Option<&T>,
        timeout: Duration,
    ) -> Result<Call, ClientError> {
        let json = match body {
            Some(body) => serde_json::to_vec(body)
                .map_err(|_| ClientError::Protocol("unserialisable request body"))?,
            None => Vec::new(),
        };
        Ok(Call {
            kind,
            index,
            lane: crate::h2::Lane::Send,
            path,
            json: Some(Bytes::from(json)),
            timeout,
        })
    }
}

/// `call`'s whole answer: over the run's TLS links when it has them, else
/// with `http`.
///
/// # Errors
/// As [`fetch`] and [`crate::h2::Links::fetch`]; an unusable URL.
pub async fn send(
    ctx: &ClientCtx,
    http: &reqwest::Client,
    call: Call,
) -> Result<Answer, ClientError> {
    if let Some(links) = &ctx.tls {
        return links.fetch(&call).await;
    }
    // Joined, so a whole URL (a session on another node) stays whole.
    let url = ctx
        .base
        .join(&call.path)
        .map_err(|_| ClientError::Protocol("unusable request URL"))?;
    let request = match call.json {
        Some(json) if json.is_empty() => http.post(url),
        Some(json) => http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(json),
        None => http.get(url),
    };
    fetch(ctx, call.kind, request.timeout(call.timeout)).await
}

/// `GET path` (under the base URL) as a whole answer for client `index`
/// of `kind` (see [`send`]).
///
/// # Errors
/// As [`send`].
pub async fn get_answer(
    ctx: &ClientCtx,
    kind: Transport,
    index: u32,
    http: &reqwest::Client,
    path: &str,
    timeout: Duration,
) -> Result<Answer, ClientError> {
    send(ctx, http, Call::get(kind, index, path.to_owned(), timeout)).await
}

/// Retries `attempt` while it answers `no_room` (the room does not exist
/// yet: rooms are created by their first player), for up to
/// [`ROOM_WAIT`].
///
/// # Errors
/// Whatever the last attempt failed with.
pub async fn when_room_exists<F, Fut>(
    ctx: &ClientCtx,
    mut attempt: F,
) -> Result<Answer, ClientError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Answer, ClientError>>,
{
    let deadline = Instant::now() + ROOM_WAIT;
    loop {
        let answer = attempt().await?;
        if answer.code() != Some(ApiErrorCode::NoRoom)
            || Instant::now() >= deadline
            || ctx.stop.is_cancelled()
        {
            return Ok(answer);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Awaits an optional in-flight future; pending forever when there is none,
/// so it can sit in a `select!` branch.
pub async fn in_flight<F: Future + Unpin>(slot: &mut Option<F>) -> F::Output {
    match slot.as_mut() {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_counted_by_code() {
        let vector = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/vectors/http_error.json"
        ))
        .expect("the golden error body");
        let refused = ClientError::refused(StatusCode::SERVICE_UNAVAILABLE, &vector);
        assert!(matches!(
            refused,
            ClientError::Api {
                status: 503,
                code: ApiErrorCode::RoomFull
            }
        ));
        assert_eq!(refused.to_string(), "http 503 room_full");
        let bare = ClientError::refused(StatusCode::BAD_GATEWAY, b"<html>proxy</html>");
        assert_eq!(bare.to_string(), "http 502");
    }
}
