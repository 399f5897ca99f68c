//! A spectator reading a room's Server-Sent Events feed
//! (`GET /api/rooms/{id}/events`).
//!
//! Measured: connect (request until the opening `snapshot` event),
//! delivery latency of every logged event (receive time minus its `time`
//! stamp) and of `state` samples, resets, and received bytes (response
//! head, body, chunk framing). With `--gzip` it asks for a gzip stream and
//! decodes it chunk by chunk, counting both the wire and decoded bytes.

use std::io::Write as _;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use flate2::write::GzDecoder;
use futures_util::StreamExt;
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
    let url = ctx.url(&format!("api/rooms/{}/events", spec.room));
    let started = Instant::now();
    let deadline = Instant::now() + super::ROOM_WAIT;
    let response = loop {
        stats.request();
        let mut request = http.get(&url).header("accept", "text/event-stream");
        if ctx.gzip {
            request = request.header(reqwest::header::ACCEPT_ENCODING, "gzip");
        }
        let response = tokio::time::timeout(super::CONNECT_TIMEOUT, request.send())
            .await
            .map_err(|_| ClientError::Timeout("sse connect"))?
            .map_err(|e| ClientError::http(&e))?;
        stats.head(response_head_len(&response));
        if response.status() == StatusCode::OK {
            break response;
        }
        let status = response.status();
        let body = response.bytes().await.map_err(|e| ClientError::http(&e))?;
        stats.bytes(body.len() as u64);
        // Rooms are created by their first player: wait for it a while.
        if error_code(&body) == Some(ApiErrorCode::NoRoom)
            && Instant::now() < deadline
            && !ctx.stop.is_cancelled()
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        return Err(ClientError::refused(status, &body));
    };
    let chunked = is_chunked(&response);
    let mut gunzip = response
        .headers()
        .get(reqwest::header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"))
        .then(|| GzDecoder::new(Vec::new()));
    let mut body = response.bytes_stream();
    let mut parser = SseParser::default();
    let mut guard = None;
    loop {
        let chunk = tokio::select! {
            () = ctx.stop.cancelled() => return Ok(()),
            chunk = tokio::time::timeout(IDLE_TIMEOUT, body.next()) => chunk,
        };
        let chunk = chunk
            .map_err(|_| ClientError::Timeout("sse idle"))?
            .ok_or(ClientError::Eof)?
            .map_err(|e| ClientError::http(&e))?;
        let framing = if chunked {
            chunk_overhead(chunk.len())
        } else {
            0
        };
        let wire = chunk.len() as u64 + framing;
        stats.bytes(wire);
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
