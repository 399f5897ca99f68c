//! A watcher long-polling a room's event log
//! (`GET /api/rooms/{id}/poll?after=next&timeout=25`).
//!
//! The first poll (no `after`) answers the room snapshot and the id it is
//! true as of; every later poll asks for what came after the last `next`.
//!
//! Measured: connect (the first answer), delivery latency of every event,
//! resets, requests, answers without events, and received bytes (head and
//! body as sent, gzip when `--gzip`; heads also apart).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use skirmish_shared::http::RoomPage;

use super::{ClientCtx, ClientError, ClientSpec, connected, get_answer, when_room_exists};
use crate::stats::{Metric, Transport};
use crate::wire::unix_ms;

/// The wait each poll asks for, in seconds.
pub const POLL_TIMEOUT_SECS: u64 = 25;

/// Extra time a poll's answer may take beyond its wait.
const POLL_SLACK: Duration = Duration::from_secs(10);

/// One session, from the first poll to the stop (`Ok`) or a failure.
///
/// # Errors
/// Refusals, timeouts, undecodable answers, a closed room.
pub async fn session(
    ctx: &ClientCtx,
    spec: &ClientSpec,
    first: &mut bool,
) -> Result<(), ClientError> {
    let kind = Transport::PollWatcher;
    let stats = ctx.stats.get(kind);
    let http = ctx.http()?;
    let base = format!("api/rooms/{}/poll", spec.room);
    let started = Instant::now();
    let opening = when_room_exists(ctx, || {
        get_answer(ctx, kind, spec.index, &http, &base, super::CONNECT_TIMEOUT)
    })
    .await?;
    let mut next = page(&opening)?.next;
    let _connected = connected(ctx, kind, started, first);
    let timeout = Duration::from_secs(POLL_TIMEOUT_SECS) + POLL_SLACK;
    loop {
        let url = format!("{base}?after={next}&timeout={POLL_TIMEOUT_SECS}");
        let answer = tokio::select! {
            () = ctx.stop.cancelled() => return Ok(()),
            answer = get_answer(ctx, kind, spec.index, &http, &url, timeout) => answer?,
        };
        let received = unix_ms();
        let page = page(&answer)?;
        if let Some(reason) = page.closed {
            return Err(ClientError::FeedClosed(reason));
        }
        if page.reset.is_some() {
            stats
                .counters
                .resets
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        if page.events.is_empty() && page.reset.is_none() {
            // The wait ran out: a whole request and answer for nothing.
            stats
                .counters
                .empty_answers
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        stats.messages(page.events.len() as u64);
        for polled in &page.events {
            if let Some(time) = polled.event.time() {
                stats.record_micros(Metric::Delivery, received.saturating_sub(time) * 1000);
            }
        }
        next = page.next;
    }
}

fn page(answer: &super::Answer) -> Result<RoomPage, ClientError> {
    if answer.status != StatusCode::OK {
        return Err(answer.refused());
    }
    serde_json::from_slice(&answer.body)
        .map_err(|_| ClientError::Protocol("undecodable poll answer"))
}
