//! Server-Sent Events: `GET /api/rooms/{id}/events` (one room) and
//! `GET /api/ticker` (score changes across rooms).
//!
//! A stream is a cursor into an [`EventLog`] plus, for rooms, the latest
//! state sample. It starts with `retry:` and either a `snapshot` event (a new
//! reader) or the events after `Last-Event-ID` (a resuming one, from the
//! header or `?lastEventId=`). A cursor the ring no longer holds gets a
//! `reset` event carrying a fresh snapshot. Idle streams get heartbeat
//! comments. A slow client only falls behind in the ring: its stream is
//! pulled as its socket accepts bytes, so it holds one batch at most, and
//! nothing it does reaches the room task.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderName, VARY,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt as _, stream};
use serde::Deserialize;
use skirmish_shared::feed::{Closed, FeedEvent, RoomEvent, names};
use skirmish_shared::http::{ApiErrorCode, MAX_EVENTS_PER_PAGE};
use tokio::sync::watch;
use tokio::time::{Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, info_span};

use super::AppState;
use super::api::ApiError;
use super::room_feed;
use super::slots::{self, Slot, SlotKind, client_address};
use super::stream_gzip::{self, StreamGzip};
use crate::cluster::follower::Following;
use crate::listener::ConnSlot;
use crate::metrics::{GaugeGuard, Metrics, Transport};
use crate::room::event_log::{EventLog, Read, sse_frame, to_json};
use crate::room::feed::SampleFrame;

/// What a disconnected EventSource should wait before reconnecting.
const RETRY_MS: u32 = 2000;

/// Query parameters of both feeds.
#[derive(Debug, Deserialize)]
pub struct FeedQuery {
    /// For clients that cannot set `Last-Event-ID`.
    #[serde(rename = "lastEventId")]
    last_event_id: Option<String>,
    /// A private room's invite code (EventSource can set no header).
    invite: Option<String>,
}

/// The resume point: the `Last-Event-ID` header, else `?lastEventId=`.
fn resume_point(headers: &HeaderMap, query: &FeedQuery) -> Result<Option<u64>, ApiError> {
    parse_resume_point(headers.get("last-event-id"), query.last_event_id.as_deref())
}

/// The resume point from the raw `Last-Event-ID` value, which wins when
/// present, and the `lastEventId` query parameter. Pure, so the
/// `http_params` fuzz target can call it.
///
/// # Errors
/// A 400 when the id is not text or not a non-negative integer.
pub fn parse_resume_point(
    header: Option<&HeaderValue>,
    query: Option<&str>,
) -> Result<Option<u64>, ApiError> {
    let raw = match header {
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| ApiError::new(ApiErrorCode::BadParam, "Last-Event-ID is not text"))?,
        ),
        None => query,
    };
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|_| {
            ApiError::new(
                ApiErrorCode::BadParam,
                format!("event id {text:?} is not a non-negative integer"),
            )
        }),
    }
}

/// `GET /api/rooms/{id}/events`.
pub async fn room_events(
    State(app): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<FeedQuery>, QueryRejection>,
    conn: Option<Extension<ConnSlot>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let client = super::client_of(conn.as_deref());
    let room = room_feed::find(&app, &id, query.invite.as_deref(), client).await?;
    let resume = resume_point(&headers, &query)?;
    let held = slots::take(
        &app,
        SlotKind::Spectator,
        room.slots(),
        client_address(conn.as_ref()),
    )?;
    let mut feed = Feed::new(room.log.clone(), room.samples.clone(), resume, &app, held);
    feed._following = room.following;
    let span = info_span!("sse", room = %id);
    Ok(respond(feed, span, app.stream_gzip(&headers)))
}

/// `GET /api/ticker`.
pub async fn ticker(
    State(app): State<AppState>,
    query: Result<Query<FeedQuery>, QueryRejection>,
    conn: Option<Extension<ConnSlot>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let (log, following) = room_feed::ticker(&app).await?;
    let resume = resume_point(&headers, &query)?;
    let held = slots::take(
        &app,
        SlotKind::Spectator,
        None,
        client_address(conn.as_ref()),
    )?;
    let mut feed = Feed::new(log, None, resume, &app, held);
    feed._following = following;
    Ok(respond(
        feed,
        info_span!("sse", room = "ticker"),
        app.stream_gzip(&headers),
    ))
}

fn respond(mut feed: Feed, span: tracing::Span, gzip: Option<StreamGzip>) -> Response {
    feed.span = span.clone();
    info!(parent: &span, resumed = feed.opening_resumed, gzip = gzip.is_some(), "stream opened");
    let metrics = feed.metrics.clone();
    let chunks = stream::unfold(feed, move |mut feed| {
        async move {
            let chunk = feed.next_chunk().await?;
            Some((chunk, feed))
        }
        .instrument(span.clone())
    });
    event_stream(chunks, &metrics, gzip)
}

/// The answer of an event stream (live feeds and replays): `200`,
/// `text/event-stream`, never cached, not buffered by a proxy (nginx reads
/// `X-Accel-Buffering: no`), gzip-compressed chunk by chunk when `gzip`
/// was negotiated, each chunk counted as SSE bytes sent (as compressed).
pub(super) fn event_stream<S>(
    chunks: S,
    metrics: &Arc<Metrics>,
    gzip: Option<StreamGzip>,
) -> Response
where
    S: futures_util::Stream<Item = Bytes> + Send + 'static,
{
    let metrics = metrics.clone();
    let gzipped = gzip.is_some();
    let chunks = match gzip {
        Some(gzip) => stream_gzip::compress(chunks, gzip).boxed(),
        None => chunks.boxed(),
    };
    let body = chunks.map(move |chunk| {
        metrics.sent(Transport::Sse, chunk.len());
        Ok::<Bytes, Infallible>(chunk)
    });
    let mut response = (
        StatusCode::OK,
        [
            (CONTENT_TYPE, HeaderValue::from_static("text/event-stream")),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            ),
            // The answer depends on it whenever the server offers gzip.
            (VARY, HeaderValue::from_static("accept-encoding")),
        ],
        Body::from_stream(body),
    )
        .into_response();
    if gzipped {
        response
            .headers_mut()
            .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// One reader's stream state.
struct Feed {
    log: Arc<EventLog>,
    head: watch::Receiver<u64>,
    samples: Option<watch::Receiver<Arc<SampleFrame>>>,
    /// The last id this reader has been given (or its snapshot's id).
    cursor: u64,
    /// The first chunk: `retry` and the snapshot or resumed events.
    opening: Option<Bytes>,
    /// `None` with `--sse-heartbeat-secs 0`.
    heartbeat: Option<Interval>,
    shutdown: CancellationToken,
    done: bool,
    /// Whether the last thing sent was logged events (not a snapshot or
    /// `reset`): then a log that ended with a logged `closed` has told
    /// this reader already.
    read_events: bool,
    /// Released when the stream is dropped.
    _slot: Slot,
    /// Counted as a spectator while the stream lives.
    _counted: GaugeGuard,
    /// For a room of another node: keeps its follower open.
    _following: Option<Following>,
    metrics: Arc<Metrics>,
    /// For the open line: did the reader resume with an id?
    opening_resumed: bool,
    /// For the close line: why the stream ended.
    end: &'static str,
    /// The stream's span, for the close line (drop runs outside it).
    span: tracing::Span,
}

impl Drop for Feed {
    fn drop(&mut self) {
        info!(parent: &self.span, reason = self.end, "stream closed");
    }
}

/// The frame that ends a stream: `closed` (the log ended) or `shutdown`.
/// The ticker's ends have the room feed's names and payload.
pub(crate) fn end_frame(event: fn(Closed) -> RoomEvent, reason: &str) -> Bytes {
    let event = event(Closed {
        reason: reason.to_owned(),
    });
    sse_frame(None, event.name(), to_json(&event.data()).get())
}

impl Feed {
    fn new(
        log: Arc<EventLog>,
        mut samples: Option<watch::Receiver<Arc<SampleFrame>>>,
        resume: Option<u64>,
        app: &AppState,
        slot: Slot,
    ) -> Feed {
        let head = log.subscribe();
        let mut opening = BytesMut::from(format!("retry: {RETRY_MS}\n\n").as_bytes());
        let cursor = match resume {
            // Resume: the events come from the first read.
            Some(after) => after,
            None => {
                let (snapshot, id) = log.snapshot();
                opening.extend_from_slice(&sse_frame(Some(id), names::SNAPSHOT, snapshot.get()));
                if let Some(rx) = samples.as_mut() {
                    opening.extend_from_slice(&rx.borrow_and_update().sse);
                }
                id
            }
        };
        // `--sse-heartbeat-secs 0`: no heartbeat at all.
        let heartbeat = (app.config.sse_heartbeat_secs > 0).then(|| {
            let period = Duration::from_secs(app.config.sse_heartbeat_secs);
            let mut heartbeat =
                tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
            heartbeat
        });
        Feed {
            log,
            head,
            samples,
            cursor,
            opening: Some(opening.freeze()),
            heartbeat,
            shutdown: app.shutdown.clone(),
            done: false,
            read_events: false,
            _slot: slot,
            _counted: GaugeGuard::new(&app.metrics.spectators),
            _following: None,
            metrics: app.metrics.clone(),
            opening_resumed: resume.is_some(),
            end: "client went away",
            span: tracing::Span::none(),
        }
    }

    /// The next bytes to send; `None` ends the stream.
    ///
    /// One chunk holds everything the reader is owed when it wakes: the
    /// events logged since its cursor (a page at most) and the newest
    /// state sample, which a room releases in the same tick. So a tick
    /// costs each spectator one wake-up and one write, however many
    /// kinds of thing it published (issue 19).
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        let mut out = Owed::default();
        if let Some(opening) = self.opening.take() {
            out.push(&opening);
        }
        loop {
            // Seen before reading: an append after the read wakes us again,
            // and one already read does not wake us for nothing.
            self.head.borrow_and_update();
            match self.log.read(self.cursor, MAX_EVENTS_PER_PAGE) {
                Read::Events(events) => {
                    for event in &events {
                        out.push(&event.sse);
                    }
                    self.cursor = events.last().map_or(self.cursor, |e| e.id);
                    self.read_events = true;
                }
                Read::Reset { snapshot, head } => {
                    debug!(from = self.cursor, to = head, "reader reset");
                    self.metrics.reset(Transport::Sse);
                    out.push(&sse_frame(Some(head), names::RESET, snapshot.get()));
                    self.cursor = head;
                    self.read_events = false;
                }
                Read::Ended(reason) if self.read_events => {
                    // The `closed` entry this reader just read said it.
                    self.done = true;
                    self.end = reason;
                    return out.take();
                }
                Read::Closed(reason) | Read::Ended(reason) => {
                    self.done = true;
                    self.end = reason;
                    out.push(&end_frame(RoomEvent::Closed, reason));
                    return out.take();
                }
                Read::UpToDate => {}
            }
            if let Some(rx) = self.samples.as_mut() {
                match rx.has_changed() {
                    Ok(true) => out.push(&rx.borrow_and_update().sse),
                    Ok(false) => {}
                    // The room stopped publishing samples.
                    Err(_) => self.samples = None,
                }
            }
            if let Some(chunk) = out.take() {
                return Some(chunk);
            }
            let samples = self.samples.as_mut();
            let heartbeat = self.heartbeat.as_mut();
            tokio::select! {
                biased;
                () = self.shutdown.cancelled() => {
                    if self.log.is_drained() {
                        // The log closed just before shutdown (a drained
                        // room): send its events and its own reason.
                        continue;
                    }
                    self.done = true;
                    self.end = "server shutting down";
                    return Some(end_frame(RoomEvent::Shutdown, self.end));
                }
                changed = self.head.changed() => {
                    if changed.is_err() {
                        // The log's writer is gone without closing it.
                        self.done = true;
                        self.end = "log gone";
                        return None;
                    }
                }
                // Sent with any events of its tick, read next.
                sample = next_sample(samples) => match sample {
                    Some(bytes) => out.push(&bytes),
                    None => self.samples = None,
                },
                () = next_heartbeat(heartbeat) => return Some(Bytes::from_static(b": heartbeat\n\n")),
            }
        }
    }
}

/// The bytes a stream owes its reader, gathered into one chunk. A lone
/// piece (most often a state sample) is passed on as the shared `Bytes`,
/// never copied; only several pieces are joined.
#[derive(Default)]
struct Owed {
    first: Option<Bytes>,
    joined: Option<BytesMut>,
}

impl Owed {
    fn push(&mut self, bytes: &Bytes) {
        match (&self.first, &mut self.joined) {
            (None, _) => self.first = Some(bytes.clone()),
            (Some(_), Some(joined)) => joined.extend_from_slice(bytes),
            (Some(first), None) => {
                let mut joined = BytesMut::with_capacity(first.len() + bytes.len());
                joined.extend_from_slice(first);
                joined.extend_from_slice(bytes);
                self.joined = Some(joined);
            }
        }
    }

    /// The chunk, or `None` when nothing is owed; leaves nothing owed.
    fn take(&mut self) -> Option<Bytes> {
        let first = self.first.take();
        match self.joined.take() {
            Some(joined) => Some(joined.freeze()),
            None => first,
        }
    }
}

/// The heartbeat timer's next tick; pends forever when heartbeats are off.
async fn next_heartbeat(heartbeat: Option<&mut Interval>) {
    match heartbeat {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// The next state sample's bytes; `None` when the room stopped publishing.
/// Pends forever for feeds without samples.
async fn next_sample(samples: Option<&mut watch::Receiver<Arc<SampleFrame>>>) -> Option<Bytes> {
    let Some(rx) = samples else {
        return std::future::pending().await;
    };
    rx.changed().await.ok()?;
    Some(rx.borrow_and_update().sse.clone())
}
