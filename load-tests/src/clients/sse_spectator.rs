//! A spectator reading a room's Server-Sent Events feed
//! (`GET /api/rooms/{id}/events`).
//!
//! Measured: connect (request until the opening `snapshot` event),
//! delivery latency of every logged event (receive time minus its `time`
//! stamp) and of `state` samples, resets, and received bytes (response
//! head, body, chunk framing). With `--gzip` it asks for a gzip stream and
//! decodes it chunk by chunk, counting both the wire and decoded bytes.

use std::io::Write as _;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use flate2::write::GzDecoder;
use futures_util::{Stream, StreamExt};
use http_body_util::BodyStream;
use reqwest::StatusCode;
use skirmish_shared::feed::names;
use skirmish_shared::http::ApiErrorCode;

use super::{ClientCtx, ClientError, ClientSpec, connected, error_code};
use crate::stats::{Metric, Transport, TransportStats};
use crate::wire::{
    SseFrame, SseParser, chunk_overhead, event_time, is_chunked, response_head_len, unix_ms,
};

/// A feed silent for this long has failed: `state` samples come ten times
/// a second while anyone plays, and heartbeats every 15 s otherwise.
const IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// A partial frame larger than this is not an SSE stream we understand.
const MAX_FRAME: usize = 4 << 20;

/// One session, from the request to the stop (`Ok`) or a failure.
///
/// # Errors
/// Refusals, timeouts, a feed that ends.
pub async fn session(
    ctx: &ClientCtx,
    spec: &ClientSpec,
    first: &mut bool,
) -> Result<(), ClientError> {
    let stats = ctx.stats.get(Transport::SseSpectator);
    let http = ctx.http()?;
    let path = format!("api/rooms/{}/events", spec.room);
    let started = Instant::now();
    let deadline = Instant::now() + super::ROOM_WAIT;
    let (mut body, chunked, gzip) = loop {
        stats.request();
        let (status, Opened { chunked, gzip }, mut body) =
            tokio::time::timeout(super::CONNECT_TIMEOUT, open(ctx, spec, &http, &path))
                .await
                .map_err(|_| ClientError::Timeout("sse connect"))??;
        if status == StatusCode::OK {
            break (body, chunked, gzip);
        }
        let mut refusal = Vec::new();
        while let Some(chunk) = body.next().await {
            refusal.extend_from_slice(&chunk?);
        }
        if ctx.tls.is_none() {
            stats.bytes(refusal.len() as u64);
        }
        // Rooms are created by their first player: wait for it a while.
        if error_code(&refusal) == Some(ApiErrorCode::NoRoom)
            && Instant::now() < deadline
            && !ctx.stop.is_cancelled()
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        return Err(ClientError::refused(status, &refusal));
    };
    let mut gunzip = gzip.then(|| GzDecoder::new(Vec::new()));
    let mut parser = SseParser::default();
    let mut guard = None;
    loop {
        let chunk = tokio::select! {
            () = ctx.stop.cancelled() => return Ok(()),
            chunk = tokio::time::timeout(IDLE_TIMEOUT, body.next()) => chunk,
        };
        let chunk = chunk
            .map_err(|_| ClientError::Timeout("sse idle"))?
            .ok_or(ClientError::Eof)??;
        let framing = if chunked {
            chunk_overhead(chunk.len())
        } else {
            0
        };
        let wire = chunk.len() as u64 + framing;
        // Over TLS the connection counts what it reads (crate::h2).
        if ctx.tls.is_none() {
            stats.bytes(wire);
        }
        let plain = match gunzip.as_mut() {
            // The server flushes after every batch of events, so each
            // chunk decodes to whole frames at once.
            Some(decoder) => {
                decoder
                    .write_all(&chunk)
                    .and_then(|()| decoder.flush())
                    .map_err(|_| ClientError::Protocol("undecodable gzip stream"))?;
                Bytes::from(std::mem::take(decoder.get_mut()))
            }
            None => chunk,
        };
        stats.decoded(plain.len() as u64);
        // A sample's share of the wire: its decoded length times this
        // chunk's compression ratio.
        let scale = wire as f64 / plain.len().max(1) as f64;
        parser.push(&plain);
        while let Some(frame) = parser.next_frame() {
            if frame.event == names::SNAPSHOT && guard.is_none() {
                guard = Some(connected(ctx, Transport::SseSpectator, started, first));
            }
            handle(stats, &frame, scale)?;
        }
        if parser.pending() > MAX_FRAME {
            return Err(ClientError::Protocol("an SSE frame over 4 MiB"));
        }
    }
}

/// A feed's body, chunk by chunk.
type Body = Pin<Box<dyn Stream<Item = Result<Bytes, ClientError>> + Send>>;

/// How an opened feed's body comes.
struct Opened {
    /// In plain HTTP/1.1 chunks, whose framing the bytes count.
    chunked: bool,
    /// gzip-encoded (asked for with `--gzip`, over plain HTTP).
    gzip: bool,
}

/// Asks for the feed: over the run's TLS links when it has them, else
/// with `http` (counting the response head). The status, whether the
/// body is chunked or gzip-encoded, and the body.
async fn open(
    ctx: &ClientCtx,
    spec: &ClientSpec,
    http: &reqwest::Client,
    path: &str,
) -> Result<(StatusCode, Opened, Body), ClientError> {
    if let Some(links) = &ctx.tls {
        let response = links
            .get(
                Transport::SseSpectator,
                spec.index,
                &format!("/{path}"),
                "text/event-stream",
                super::CONNECT_TIMEOUT,
            )
            .await?;
        let status = response.status();
        let body = BodyStream::new(response.into_body()).filter_map(|frame| async move {
            match frame {
                Ok(frame) => frame.into_data().ok().map(Ok),
                Err(_) => Some(Err(ClientError::Transport("body read failed".into()))),
            }
        });
        let plain = Opened {
            chunked: false,
            gzip: false,
        };
        return Ok((status, plain, Box::pin(body)));
    }
    let mut request = http
        .get(ctx.url(path))
        .header("accept", "text/event-stream");
    if ctx.gzip {
        request = request.header(reqwest::header::ACCEPT_ENCODING, "gzip");
    }
    let response = request.send().await.map_err(|e| ClientError::http(&e))?;
    ctx.stats
        .get(Transport::SseSpectator)
        .head(response_head_len(&response));
    let opened = Opened {
        chunked: is_chunked(&response),
        gzip: response
            .headers()
            .get(reqwest::header::CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip")),
    };
    let status = response.status();
    let body = response
        .bytes_stream()
        .map(|chunk| chunk.map_err(|e| ClientError::http(&e)));
    Ok((status, opened, Box::pin(body)))
}

fn handle(stats: &TransportStats, frame: &SseFrame, scale: f64) -> Result<(), ClientError> {
    match frame.event.as_str() {
        // Comments, `retry:` and the opening snapshot carry no update.
        "" | names::SNAPSHOT => {}
        names::RESET => {
            stats.counters.resets.fetch_add(1, Ordering::Relaxed);
        }
        names::CLOSED | names::SHUTDOWN => {
            return Err(ClientError::FeedClosed(frame.event.clone()));
        }
        names::STATE => {
            stats.messages(1);
            let c = &stats.counters;
            c.samples.fetch_add(1, Ordering::Relaxed);
            c.sample_bytes.fetch_add(
                (frame.len as f64 * scale.min(1.0)).round() as u64,
                Ordering::Relaxed,
            );
            if let Some(time) = event_time(&frame.data) {
                stats.record_micros(
                    Metric::SampleDelivery,
                    unix_ms().saturating_sub(time) * 1000,
                );
            }
        }
        _ => {
            stats.messages(1);
            if frame.id.is_some()
                && let Some(time) = event_time(&frame.data)
            {
                stats.record_micros(Metric::Delivery, unix_ms().saturating_sub(time) * 1000);
            }
        }
    }
    Ok(())
}
