//! A player over long polling, playing the GAME.md bot policy:
//! `POST /api/rooms/{id}/join`, then at once
//! - a clock at the room's tick rate queues one input per tick, and one
//!   `POST /api/sessions/{token}/input` at a time carries what is queued
//!   (one input, or a batch of up to 32 when a request was slow);
//! - one `GET /api/sessions/{token}/state?after=TICK` at a time waits for
//!   the next snapshot after the newest tick held, which is applied with
//!   `ViewHistory` like a WebSocket player's.
//!
//! Measured: connect (the join answer), input-to-ack round trip (from when
//! the input was due, so time spent queued behind a slow POST counts),
//! snapshot jitter, requests, and received bytes.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use skirmish_shared::Input;
use skirmish_shared::bot::BotPolicy;
use skirmish_shared::http::{InputBody, JoinAnswer, JoinBody, MAX_INPUTS_PER_REQUEST, StateAnswer};
use tokio::time::MissedTickBehavior;

use super::matchmake::{self, Placement};
use super::play_state::PlayState;
use super::{
    Answer, ClientCtx, ClientError, ClientSpec, LEAVE_TIMEOUT, connected, fetch, in_flight,
};
use crate::stats::Transport;

/// Wait of each state poll, in seconds: a snapshot comes every tick, so
/// this only matters when the room stalls.
const STATE_TIMEOUT_SECS: u64 = 5;

/// Extra time an answer may take beyond its wait.
const SLACK: Duration = Duration::from_secs(10);

const KIND: Transport = Transport::PollPlayer;

type InFlight<'a> = Pin<Box<dyn Future<Output = Result<Answer, ClientError>> + Send + 'a>>;

/// One session, from the join to the stop (`Ok`) or a failure.
///
/// # Errors
/// Refusals (`session_expired`, say), timeouts, undecodable answers.
pub async fn session(
    ctx: &ClientCtx,
    spec: &ClientSpec,
    first: &mut bool,
) -> Result<(), ClientError> {
    let stats = ctx.stats.get(KIND);
    let http = ctx.http()?;
    let started = Instant::now();
    let placed = if ctx.matchmake {
        matchmake::place(ctx, spec, &http).await?
    } else {
        Placement::Open
    };
    let seat = match placed {
        Placement::Seat(answer) => answer.seat,
        Placement::Open => None,
    };
    // Through the target: a node that does not own the room redirects
    // the join (seat and all) to the owner.
    let join = http
        .post(ctx.url(&format!("api/rooms/{}/join", spec.room)))
        .json(&JoinBody {
            name: format!("poll-bot-{}", spec.index),
            // Load-test bots keep no identity: each join is a new guest.
            player: None,
            seat,
            invite: None,
            token: None,
        })
        .timeout(super::CONNECT_TIMEOUT);
    let answer = fetch(ctx, KIND, join).await?;
    if answer.status != StatusCode::OK {
        return Err(answer.refused());
    }
    let joined: JoinAnswer = serde_json::from_slice(&answer.body)
        .map_err(|_| ClientError::Protocol("undecodable join answer"))?;
    let _connected = connected(ctx, KIND, started, first);
    // With --matchmake, as the browser: the rest of the session goes to
    // the node holding it.
    let session = if ctx.matchmake {
        format!(
            "{}/api/sessions/{}/",
            joined.node_url.trim_end_matches('/'),
            joined.token
        )
    } else {
        ctx.url(&format!("api/sessions/{}/", joined.token))
    };

    let tick_hz = joined.rules.tick_hz;
    let mut policy = BotPolicy::new(spec.seed, tick_hz);
    let mut state = PlayState::new(&joined.rules, joined.ship, ctx.view);
    let mut clock = tokio::time::interval(state.period());
    clock.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut queued: Vec<Input> = Vec::new();
    let mut post: Option<InFlight<'_>> = None;
    let mut poll: Option<InFlight<'_>> = Some(state_poll(ctx, &http, &session, &state));
    loop {
        tokio::select! {
            () = ctx.stop.cancelled() => {
                drop((post, poll));
                let leave = http.post(format!("{session}leave")).timeout(LEAVE_TIMEOUT);
                let _ = fetch(ctx, KIND, leave).await;
                return Ok(());
            }
            _ = clock.tick() => {
                queued.push(state.input(&mut policy));
                if post.is_none() {
                    post = Some(send_inputs(ctx, &http, &session, &mut queued));
                }
            }
            answer = in_flight(&mut post) => {
                post = None;
                let answer = answer?;
                if answer.status != StatusCode::ACCEPTED {
                    return Err(answer.refused());
                }
                if !queued.is_empty() {
                    post = Some(send_inputs(ctx, &http, &session, &mut queued));
                }
            }
            answer = in_flight(&mut poll) => {
                let answer = answer?;
                if answer.status != StatusCode::OK {
                    return Err(answer.refused());
                }
                let page: StateAnswer = serde_json::from_slice(&answer.body)
                    .map_err(|_| ClientError::Protocol("undecodable state answer"))?;
                if let Some(reason) = page.closed {
                    return Err(ClientError::FeedClosed(reason));
                }
                if let Some(snapshot) = page.snapshot {
                    stats.messages(1);
                    state.snapshot(stats, &snapshot);
                }
                poll = Some(state_poll(ctx, &http, &session, &state));
            }
        }
    }
}

/// One POST with the queued inputs (the oldest [`MAX_INPUTS_PER_REQUEST`]).
fn send_inputs<'a>(
    ctx: &'a ClientCtx,
    http: &reqwest::Client,
    session: &str,
    queued: &mut Vec<Input>,
) -> InFlight<'a> {
    let mut batch: Vec<Input> = queued
        .drain(..queued.len().min(MAX_INPUTS_PER_REQUEST))
        .collect();
    let body = if batch.len() == 1 {
        InputBody::One(batch.remove(0))
    } else {
        InputBody::Many { inputs: batch }
    };
    let request = http
        .post(format!("{session}input"))
        .json(&body)
        .timeout(super::CONNECT_TIMEOUT);
    Box::pin(fetch(ctx, KIND, request))
}

/// The long poll for the next snapshot after the newest tick held.
fn state_poll<'a>(
    ctx: &'a ClientCtx,
    http: &reqwest::Client,
    session: &str,
    state: &PlayState,
) -> InFlight<'a> {
    let url = match state.ack() {
        Some(tick) => format!("{session}state?after={tick}&timeout={STATE_TIMEOUT_SECS}"),
        None => format!("{session}state?timeout={STATE_TIMEOUT_SECS}"),
    };
    let request = http
        .get(url)
        .timeout(Duration::from_secs(STATE_TIMEOUT_SECS) + SLACK);
    Box::pin(fetch(ctx, KIND, request))
}
