//! A player over long polling, playing the GAME.md bot policy:
//! `POST /api/rooms/{id}/join`, then at once
//! - a clock at the room's tick rate queues one input per tick, and one
//!   `POST /api/sessions/{token}/input` at a time carries what is queued
//!   (one input, or a batch of up to 32 when a request was slow);
//! - one `GET /api/sessions/{token}/state?after=TICK` at a time waits for
//!   the next snapshot after the newest tick held, which is applied with
//!   `ViewHistory` like a WebSocket player's.
//!
//! A room handed over to another node (a rolling deploy) is followed: the
//! bot joins the adopter with its resume token and plays on in its ship.
//!
//! Measured: connect (the join answer), input-to-ack round trip (from when
//! the input was due, so time spent queued behind a slow POST counts),
//! snapshot jitter, requests, and received bytes.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use skirmish_shared::Input;
use skirmish_shared::bot::BotPolicy;
use skirmish_shared::http::{
    ApiErrorCode, ErrorBody, InputBody, JoinAnswer, JoinBody, MAX_INPUTS_PER_REQUEST, StateAnswer,
};
use tokio::time::MissedTickBehavior;

use super::matchmake::{self, Placement};
use super::play_state::PlayState;
use super::{
    Answer, ClientCtx, ClientError, ClientSpec, LEAVE_TIMEOUT, connected, fetch, in_flight,
};
use crate::stats::{Transport, TransportStats};

/// Wait of each state poll, in seconds: a snapshot comes every tick, so
/// this only matters when the room stalls.
const STATE_TIMEOUT_SECS: u64 = 5;

/// Extra time an answer may take beyond its wait.
const SLACK: Duration = Duration::from_secs(10);

const KIND: Transport = Transport::PollPlayer;

/// The word of a state poll's 410 `room_closed` when the room moved (the
/// server's `room::MOVED`).
const MOVED: &str = "moved";

type InFlight<'a> = Pin<Box<dyn Future<Output = Result<Answer, ClientError>> + Send + 'a>>;

/// One session, from the join to the stop (`Ok`) or a failure. When the
/// room moves (a rolling deploy's handover: the state poll is answered
/// 410 `room_closed` `moved` with the adopter's `node_url`), the bot joins
/// there with its resume token, takes its ship back and plays on (counted
/// in `moves`), as the browser does.
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
    let mut seat = match placed {
        Placement::Seat(answer) => answer.seat,
        Placement::Open => None,
    };
    // Through the target first: a node that does not own the room
    // redirects the join (seat and all) to the owner.
    let mut join_url = ctx.url(&format!("api/rooms/{}/join", spec.room));
    let mut resume = None;
    let mut _connected = None;
    loop {
        let joined = join(ctx, &http, &join_url, spec, seat.take(), resume.take()).await?;
        if _connected.is_none() {
            _connected = Some(connected(ctx, KIND, started, first));
        }
        // With --matchmake or after a move, as the browser: the rest of
        // the session goes to the node holding it.
        let session = if ctx.matchmake || !joined_here(&join_url, ctx) {
            format!(
                "{}/api/sessions/{}/",
                joined.node_url.trim_end_matches('/'),
                joined.token
            )
        } else {
            ctx.url(&format!("api/sessions/{}/", joined.token))
        };
        match play(ctx, spec, stats, &http, &joined, &session).await? {
            Ended::Stopped => return Ok(()),
            Ended::Moved(node_url) => {
                stats.counters.moves.fetch_add(1, Ordering::Relaxed);
                join_url = format!(
                    "{}/api/rooms/{}/join",
                    node_url.trim_end_matches('/'),
                    joined.room
                );
                resume = Some(joined.resume);
            }
        }
    }
}

/// Whether `join_url` is the target's own (not a moved room's node).
fn joined_here(join_url: &str, ctx: &ClientCtx) -> bool {
    join_url.starts_with(ctx.base.as_str())
}

/// `POST join_url` as this bot, with a seat or a resume token.
async fn join(
    ctx: &ClientCtx,
    http: &reqwest::Client,
    join_url: &str,
    spec: &ClientSpec,
    seat: Option<String>,
    resume: Option<String>,
) -> Result<JoinAnswer, ClientError> {
    let join = http
        .post(join_url)
        .json(&JoinBody {
            name: format!("poll-bot-{}", spec.index),
            // Load-test bots keep no identity: each join is a new guest.
            player: None,
            seat,
            invite: None,
            token: None,
            resume,
        })
        .timeout(super::CONNECT_TIMEOUT);
    let answer = fetch(ctx, KIND, join).await?;
    if answer.status != StatusCode::OK {
        return Err(answer.refused());
    }
    serde_json::from_slice(&answer.body)
        .map_err(|_| ClientError::Protocol("undecodable join answer"))
}

/// How a session's play ended.
enum Ended {
    /// The run stopped.
    Stopped,
    /// The room moved to the node at this base URL.
    Moved(String),
}

/// The base URL a refused state poll names when its room moved (410
/// `room_closed` `moved` with `node_url`).
fn moved_to(answer: &Answer) -> Option<String> {
    if answer.code() != Some(ApiErrorCode::RoomClosed) {
        return None;
    }
    let body: ErrorBody = serde_json::from_slice(&answer.body).ok()?;
    (body.error == MOVED).then_some(body.node_url).flatten()
}

/// Plays `joined`'s ship through `session` until the stop or a move.
async fn play(
    ctx: &ClientCtx,
    spec: &ClientSpec,
    stats: &TransportStats,
    http: &reqwest::Client,
    joined: &JoinAnswer,
    session: &str,
) -> Result<Ended, ClientError> {
    let tick_hz = joined.rules.tick_hz;
    let mut policy = BotPolicy::new(spec.seed, tick_hz);
    let mut state = PlayState::new(&joined.rules, joined.ship, ctx.view);
    let mut clock = tokio::time::interval(state.period());
    clock.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut queued: Vec<Input> = Vec::new();
    let mut post: Option<InFlight<'_>> = None;
    // Inputs stop once the session is gone (the room moved): the state
    // poll says where it went.
    let mut gone = false;
    let mut poll: Option<InFlight<'_>> = Some(state_poll(ctx, http, session, &state));
    loop {
        tokio::select! {
            () = ctx.stop.cancelled() => {
                drop((post, poll));
                let leave = http.post(format!("{session}leave")).timeout(LEAVE_TIMEOUT);
                let _ = fetch(ctx, KIND, leave).await;
                return Ok(Ended::Stopped);
            }
            _ = clock.tick(), if !gone => {
                queued.push(state.input(&mut policy));
                if post.is_none() {
                    post = Some(send_inputs(ctx, http, session, &mut queued));
                }
            }
            answer = in_flight(&mut post) => {
                post = None;
                let answer = answer?;
                if answer.code() == Some(ApiErrorCode::RoomClosed) {
                    gone = true;
                    queued.clear();
                    continue;
                }
                if answer.status != StatusCode::ACCEPTED {
                    return Err(answer.refused());
                }
                if !queued.is_empty() {
                    post = Some(send_inputs(ctx, http, session, &mut queued));
                }
            }
            answer = in_flight(&mut poll) => {
                let answer = answer?;
                if let Some(node_url) = moved_to(&answer) {
                    return Ok(Ended::Moved(node_url));
                }
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
                poll = Some(state_poll(ctx, http, session, &state));
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
