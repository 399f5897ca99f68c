//! `GET /api/matches/{id}/replay`: a finished round's replay, streamed as
//! Server-Sent Events with the live room feed's event names, ids and JSON
//! (so the scoreboard plays it with its live code), at `?speed=` 1 to 16
//! times the round's pace, from `?at=` seconds into the round, resuming
//! after `Last-Event-ID`; or, with `?format=json`, the whole replay as one
//! JSON document (`skirmish_shared::replay::Replay`).
//!
//! Bounded: every request takes a replay slot (`--max-replay-streams` in
//! all, `--max-replay-streams-per-ip` per client address) before the
//! database is asked, and holds it while its stream lives; the stored
//! blob is decoded on the blocking pool, at most
//! [`MAX_REPLAY_JSON`](crate::storage::replay::MAX_REPLAY_JSON) bytes. A
//! stream is pulled as the client's socket takes it and holds nothing but
//! its decoded replay. Reads only: never writes, never touches a room.

use std::time::Duration;

use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_TYPE, HeaderMap};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures_util::stream;
use serde::Deserialize;
use skirmish_shared::feed::{RoomEvent, names};
use skirmish_shared::http::{ApiErrorCode, MAX_EVENTS_PER_PAGE};
use skirmish_shared::replay::MAX_REPLAY_SPEED;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument as _, info, info_span, warn};

use super::AppState;
use super::api::ApiError;
use super::history::{row_id, storage};
use super::slots::client_address;
use super::sse::{end_frame, event_stream};
use crate::address_limit::{AddressPermit, Full};
use crate::listener::ConnSlot;
use crate::metrics::{Metrics, Rejection};
use crate::room::event_log::sse_frame;
use crate::storage::replay::{self, Playback, ReplayError};

/// What a disconnected EventSource should wait before reconnecting.
const RETRY_MS: u32 = 2000;

/// What a replay-slot refusal counts, and its `Retry-After`.
const REPLAY_STREAMS: &str = "replay streams open";
const REPLAY_RETRY_SECS: u32 = 5;

/// Why a finished replay stream ends (its `closed` event's reason).
pub const REPLAY_ENDED: &str = "replay ended";

/// `GET /api/matches/{id}/replay`'s query, as text: checked by hand.
#[derive(Debug, Default, Deserialize)]
pub struct ReplayQuery {
    speed: Option<String>,
    at: Option<String>,
    format: Option<String>,
    /// For clients that cannot set `Last-Event-ID`.
    #[serde(rename = "lastEventId")]
    last_event_id: Option<String>,
}

/// The query, checked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReplayParams {
    /// Times the round's pace, 1 to [`MAX_REPLAY_SPEED`].
    pub speed: f64,
    /// Seconds into the round to start at.
    pub at: f64,
    /// The whole replay as JSON rather than a stream.
    pub json: bool,
}

fn bad(message: String) -> ApiError {
    ApiError::new(ApiErrorCode::BadParam, message)
}

/// Parses the query. Pure, for tests.
///
/// # Errors
/// A 400 `bad_param` naming the first malformed parameter.
pub fn parse_replay_query(q: &ReplayQuery) -> Result<ReplayParams, ApiError> {
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let number = |text: &str| text.parse::<f64>().ok().filter(|n| n.is_finite());
    let speed = match given(&q.speed) {
        None => 1.0,
        Some(text) => number(&text)
            .filter(|n| (1.0..=f64::from(MAX_REPLAY_SPEED)).contains(n))
            .ok_or_else(|| bad(format!("speed={text:?}: expected 1 to {MAX_REPLAY_SPEED}")))?,
    };
    let at = match given(&q.at) {
        None => 0.0,
        Some(text) => number(&text).filter(|n| *n >= 0.0).ok_or_else(|| {
            bad(format!(
                "at={text:?}: expected seconds into the round, >= 0"
            ))
        })?,
    };
    let json = match given(&q.format).as_deref() {
        None | Some("sse") => false,
        Some("json") => true,
        Some(other) => return Err(bad(format!("format={other:?}: expected sse or json"))),
    };
    Ok(ReplayParams { speed, at, json })
}

/// A replay slot for `client`; past a limit, 503 naming it.
fn take_slot(app: &AppState, client: Option<std::net::IpAddr>) -> Result<AddressPermit, ApiError> {
    app.replays.try_take(client).map_err(|full| {
        let (reason, code, holder, max) = match full {
            Full::Total => (
                Rejection::ReplayLimit,
                ApiErrorCode::ReplayLimit,
                "the server has",
                app.replays.max_total(),
            ),
            Full::PerAddress => (
                Rejection::IpReplayLimit,
                ApiErrorCode::IpReplayLimit,
                "your address has",
                app.replays.max_per_address(),
            ),
        };
        app.metrics.reject(reason);
        ApiError::new(
            code,
            format!("{holder} {max} {REPLAY_STREAMS}, the most allowed"),
        )
        .retry_after(REPLAY_RETRY_SECS)
    })
}

/// Runs CPU-bound replay decoding on the blocking pool.
async fn decode<T: Send + 'static>(
    id: u64,
    work: impl FnOnce() -> Result<T, ReplayError> + Send + 'static,
) -> Result<T, ApiError> {
    let failed = |why: String| {
        warn!(match_id = id, %why, "stored replay cannot be read");
        ApiError::new(ApiErrorCode::Internal, "the stored replay cannot be read")
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(failed(err.to_string())),
        Err(err) => Err(failed(err.to_string())),
    }
}

/// `GET /api/matches/{id}/replay?speed=&at=&format=`.
pub async fn replay(
    State(app): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<ReplayQuery>, QueryRejection>,
    conn: Option<Extension<ConnSlot>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let params = parse_replay_query(&query)?;
    let resume = super::sse::parse_resume_point(
        headers.get("last-event-id"),
        query.last_event_id.as_deref(),
    )?;
    let id = row_id("match id", &id)?;
    let storage = storage(&app)?;
    let slot = take_slot(&app, client_address(conn.as_ref()))?;
    let body = storage
        .read(|store| store.replay(id))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ApiErrorCode::ReplayNotFound,
                format!("match {id} has no stored replay"),
            )
        })?;
    if params.json {
        let json = decode(id, move || replay::decompress(&body)).await?;
        return Ok((
            StatusCode::OK,
            [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            json,
        )
            .into_response());
    }
    let playback = decode(id, move || replay::playback(&replay::decompress(&body)?)).await?;
    let round_secs =
        f64::from(playback.end_tick.saturating_sub(playback.start_tick)) / hz(&playback);
    if params.at > round_secs {
        return Err(bad(format!(
            "at={}: the round lasted {round_secs:.1} s",
            params.at
        )));
    }
    let span = info_span!("replay", match_id = id);
    let stream = ReplayStream::new(playback, params, resume, &app, slot);
    info!(parent: &span, speed = params.speed, at = params.at, resumed = resume.is_some(), "replay stream opened");
    Ok(respond(
        stream,
        app.metrics.clone(),
        span,
        app.stream_gzip(&headers),
    ))
}

fn hz(playback: &Playback) -> f64 {
    f64::from(playback.tick_hz.max(1))
}

fn respond(
    stream: ReplayStream,
    metrics: std::sync::Arc<Metrics>,
    span: tracing::Span,
    gzip: Option<super::stream_gzip::StreamGzip>,
) -> Response {
    let chunks = stream::unfold(stream, move |mut stream| {
        async move {
            let chunk = stream.next_chunk().await?;
            Some((chunk, stream))
        }
        .instrument(span.clone())
    });
    event_stream(chunks, &metrics, gzip)
}

/// One replay stream: the decoded replay and where playback is.
struct ReplayStream {
    playback: Playback,
    /// The next frame to send.
    next: usize,
    /// The round tick that plays at `started`.
    origin_tick: u32,
    started: Instant,
    speed: f64,
    /// The first chunk: `retry`, the snapshot (or reset) and what `at`
    /// skipped.
    opening: Option<Bytes>,
    shutdown: CancellationToken,
    done: bool,
    /// Released when the stream is dropped.
    _slot: AddressPermit,
}

fn frame_bytes(frame: &replay::PlaybackFrame) -> Bytes {
    sse_frame(frame.id, &frame.event, frame.data.get())
}

impl ReplayStream {
    fn new(
        playback: Playback,
        params: ReplayParams,
        resume: Option<u64>,
        app: &AppState,
        slot: AddressPermit,
    ) -> ReplayStream {
        let mut opening = BytesMut::from(format!("retry: {RETRY_MS}\n\n").as_bytes());
        let snapshot_id = playback.snapshot.0;
        let snapshot = |name| sse_frame(Some(snapshot_id), name, playback.snapshot.1.get());
        let resumed_at = resume.and_then(|after| {
            if after == snapshot_id {
                return Some(0);
            }
            playback
                .frames
                .iter()
                .position(|f| f.id == Some(after))
                .map(|i| i + 1)
        });
        let (next, origin_tick) = match (resume, resumed_at) {
            // Resuming where the reader was: its clock restarts there.
            (Some(_), Some(next)) => {
                let tick = next
                    .checked_sub(1)
                    .and_then(|i| playback.frames.get(i))
                    .map_or(playback.start_tick, |f| f.tick);
                (next, tick)
            }
            // Not an id of this replay: start over, as the live feed's
            // `reset` does.
            (Some(_), None) => {
                opening.extend_from_slice(&snapshot(names::RESET));
                (0, playback.start_tick)
            }
            (None, _) => {
                opening.extend_from_slice(&snapshot(names::SNAPSHOT));
                let at_tick = playback
                    .start_tick
                    .saturating_add((params.at * hz(&playback)).round() as u32);
                // Everything before `at` at once: the standings and kill
                // feed as they were then, and the newest minimap.
                let skipped = playback.frames.partition_point(|f| f.tick < at_tick);
                let last_sample = playback.frames[..skipped]
                    .iter()
                    .rposition(|f| f.id.is_none());
                for (i, frame) in playback.frames[..skipped].iter().enumerate() {
                    if frame.id.is_some() || Some(i) == last_sample {
                        opening.extend_from_slice(&frame_bytes(frame));
                    }
                }
                (skipped, at_tick)
            }
        };
        ReplayStream {
            playback,
            next,
            origin_tick,
            started: Instant::now(),
            speed: params.speed,
            opening: Some(opening.freeze()),
            shutdown: app.shutdown.clone(),
            done: false,
            _slot: slot,
        }
    }

    /// When frame `i` is due.
    fn due(&self, i: usize) -> Instant {
        let tick = self.playback.frames[i].tick;
        let secs =
            f64::from(tick.saturating_sub(self.origin_tick)) / hz(&self.playback) / self.speed;
        self.started + Duration::from_secs_f64(secs)
    }

    /// The next bytes to send; `None` ends the stream.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if let Some(opening) = self.opening.take() {
            return Some(opening);
        }
        if self.done {
            return None;
        }
        if self.next >= self.playback.frames.len() {
            self.done = true;
            return Some(end_frame(RoomEvent::Closed, REPLAY_ENDED));
        }
        tokio::select! {
            biased;
            () = self.shutdown.cancelled() => {
                self.done = true;
                return Some(end_frame(RoomEvent::Shutdown, "server shutting down"));
            }
            () = tokio::time::sleep_until(self.due(self.next)) => {}
        }
        let now = Instant::now();
        let mut out = BytesMut::new();
        let mut sent = 0;
        while self.next < self.playback.frames.len()
            && sent < MAX_EVENTS_PER_PAGE
            && self.due(self.next) <= now
        {
            out.extend_from_slice(&frame_bytes(&self.playback.frames[self.next]));
            self.next += 1;
            sent += 1;
        }
        Some(out.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(speed: &str, at: &str, format: &str) -> ReplayQuery {
        let some = |s: &str| Some(s.to_owned());
        ReplayQuery {
            speed: some(speed),
            at: some(at),
            format: some(format),
            last_event_id: None,
        }
    }

    #[test]
    fn speed_at_and_format_are_bounded_and_blank_means_default() {
        let params = parse_replay_query(&query("8", "12.5", "json")).expect("valid");
        assert_eq!(
            params,
            ReplayParams {
                speed: 8.0,
                at: 12.5,
                json: true
            }
        );
        let blank = parse_replay_query(&query("", " ", "")).expect("valid");
        assert_eq!(
            blank,
            ReplayParams {
                speed: 1.0,
                at: 0.0,
                json: false
            }
        );
        for bad in [
            query("0", "", ""),
            query("0.5", "", ""),
            query("17", "", ""),
            query("NaN", "", ""),
            query("fast", "", ""),
            query("", "-1", ""),
            query("", "inf", ""),
            query("", "", "xml"),
        ] {
            let err = parse_replay_query(&bad).expect_err("refused");
            assert_eq!(err.code(), ApiErrorCode::BadParam);
        }
    }
}
