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
//! Over `--tls` / `--http-version 2` the requests go through
//! [`crate::h2`]: the state poll on the [`Lane::Wait`] lane and the
//! joins, inputs and leave on [`Lane::Send`] (two connections over
//! HTTP/1.1, two streams of one shared connection over HTTP/2).
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
    Answer, Call, ClientCtx, ClientError, ClientSpec, LEAVE_TIMEOUT, connected, in_flight, send,
};
#[cfg(doc)]
use crate::h2::Lane;
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
    // Through the target first (a path under its URL): a node that does
    // not own the room redirects the join (seat and all) to the owner.
    let mut join_url = format!("api/rooms/{}/join", spec.room);
    let mut resume = None;
    let mut _connected = None;
    loop {
        let joined = join(ctx, &http, &join_url, spec, seat.take(), resume.take()).await?;
        if _connected.is_none() {
            _connected = Some(connected(ctx, KIND, started, first));
        }
        // With --matchmake or after a move, as the browser: the rest of
        // the session goes to the node holding it (a whole URL); else under
        // the target's.
        let session = if ctx.matchmake || !joined_here(&join_url) {
            format!(
                "{}/api/sessions/{}/",
                joined.node_url.trim_end_matches('/'),
                joined.token
            )
        } else {
            format!("api/sessions/{}/", joined.token)
        };
        let at = Session {
            ctx,
            http: &http,
            index: spec.index,
            path: &session,
        };
        match play(at, spec, stats, &joined).await? {
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

/// Whether `join_url` is a path under the target's URL (not a whole URL
/// on a moved room's node).
fn joined_here(join_url: &str) -> bool {
    !join_url.contains("://")
}

/// `POST join_url` (a path under the target's URL, or a whole URL) as
/// this bot, with a seat or a resume token.
async fn join(
    ctx: &ClientCtx,
    http: &reqwest::Client,
    join_url: &str,
    spec: &ClientSpec,
    seat: Option<String>,
    resume: Option<String>,
) -> Result<JoinAnswer, ClientError> {
    let join = Call::post(
        KIND,
        spec.index,
        join_url.to_owned(),
        Some(&JoinBody {
            name: format!("poll-bot-{}", spec.index),
            // Load-test bots keep no identity: each join is a new guest.
            player: None,
            seat,
            invite: None,
            token: None,
            resume,
        }),
        super::CONNECT_TIMEOUT,
    )?;
    let answer = send(ctx, http, join).await?;
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

/// Plays `joined`'s ship through session `at` until the stop or a move.
async fn play(
    at: Session<'_>,
    spec: &ClientSpec,
    stats: &TransportStats,
    joined: &JoinAnswer,
) -> Result<Ended, ClientError> {
    let ctx = at.ctx;
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
    let mut poll: Option<InFlight<'_>> = Some(at.state_poll(&state));
    loop {
        tokio::select! {
            () = ctx.stop.cancelled() => {
                drop(poll);
                // The input in flight is answered first: an aborted
                // request ends its HTTP/1.1 connection, and the leave
                // would open another.
                if let Some(post) = post {
                    let _ = tokio::time::timeout(LEAVE_TIMEOUT, post).await;
                }
                let leave = Call::post::<()>(
                    KIND,
                    spec.index,
                    format!("{}leave", at.path),
                    None,
                    LEAVE_TIMEOUT,
                )?;
                let _ = send(ctx, at.http, leave).await;
                return Ok(Ended::Stopped);
            }
            _ = clock.tick(), if !gone => {
                queued.push(state.input(&mut policy));
                if post.is_none() {
                    post = Some(at.send_inputs(&mut queued)?);
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
                    post = Some(at.send_inputs(&mut queued)?);
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
                poll = Some(at.state_poll(&state));
            }
        }
    }
}

/// Where one session's requests go.
#[derive(Clone, Copy)]
struct Session<'a> {
    ctx: &'a ClientCtx,
    http: &'a reqwest::Client,
    /// The client's number (its TLS connection slot).
    index: u32,
    /// `api/sessions/{token}/`, or the whole URL on the session's node.
    path: &'a str,
}

impl<'a> Session<'a> {
    /// One POST with the queued inputs (the oldest
    /// [`MAX_INPUTS_PER_REQUEST`]).
    fn send_inputs(self, queued: &mut Vec<Input>) -> Result<InFlight<'a>, ClientError> {
        let mut batch: Vec<Input> = queued
            .drain(..queued.len().min(MAX_INPUTS_PER_REQUEST))
            .collect();
        let body = if batch.len() == 1 {
            InputBody::One(batch.remove(0))
        } else {
            InputBody::Many { inputs: batch }
        };
        let call = Call::post(
            KIND,
            self.index,
            format!("{}input", self.path),
            Some(&body),
            super::CONNECT_TIMEOUT,
        )?;
        Ok(Box::pin(send(self.ctx, self.http, call)))
    }

    /// The long poll for the next snapshot after the newest tick held.
    fn state_poll(self, state: &PlayState) -> InFlight<'a> {
        let path = self.path;
        let path = match state.ack() {
            Some(tick) => format!("{path}state?after={tick}&timeout={STATE_TIMEOUT_SECS}"),
            None => format!("{path}state?timeout={STATE_TIMEOUT_SECS}"),
        };
        let timeout = Duration::from_secs(STATE_TIMEOUT_SECS) + SLACK;
        Box::pin(send(
            self.ctx,
            self.http,
            Call::get(KIND, self.index, path, timeout),
        ))
    }
}
