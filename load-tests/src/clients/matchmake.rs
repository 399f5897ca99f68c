//! Matchmaking as the browser does it (`--matchmake`): a player asks
//! `POST /api/matchmake {"room": R}` on the target (any node, or a
//! balancer in front of them) and plays where the answer says, on the
//! room's owner. Without it, players name their room on whichever node the
//! target reaches, which in a cluster is refused unless that node owns it.
//!
//! Rooms are made by their first player: while no node has the room
//! (`no_room`), the player that opens it ([`ClientSpec::opens_room`]) joins
//! by name on the target, which creates it there; every other player asks
//! again until the room exists, for up to [`super::ROOM_WAIT`]. So one
//! room is opened per name, never one per node.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use skirmish_shared::http::{ApiErrorCode, MatchAnswer, MatchBody};

use super::{ClientCtx, ClientError, ClientSpec, ROOM_WAIT, fetch};

/// Pause between asks while the room does not exist yet.
const RETRY: Duration = Duration::from_millis(200);

/// Where a player goes.
#[derive(Debug)]
pub enum Placement {
    /// A seat on the room's owner.
    Seat(MatchAnswer),
    /// No node has the room and this player opens it: join by name on the
    /// target.
    Open,
}

/// Asks matchmaking for a seat in `spec.room`.
///
/// # Errors
/// A refusal other than `no_room`, `no_room` past [`ROOM_WAIT`], transport
/// failures, an undecodable answer.
pub async fn place(
    ctx: &ClientCtx,
    spec: &ClientSpec,
    http: &reqwest::Client,
) -> Result<Placement, ClientError> {
    let deadline = Instant::now() + ROOM_WAIT;
    let body = MatchBody {
        room: Some(spec.room.clone()),
        resume: None,
    };
    loop {
        let request = http
            .post(ctx.url("api/matchmake"))
            .json(&body)
            .timeout(super::CONNECT_TIMEOUT);
        let answer = fetch(ctx, spec.kind, request).await?;
        if answer.status == StatusCode::OK {
            return serde_json::from_slice(&answer.body)
                .map(Placement::Seat)
                .map_err(|_| ClientError::Protocol("undecodable matchmake answer"));
        }
        if answer.code() != Some(ApiErrorCode::NoRoom) {
            return Err(answer.refused());
        }
        if spec.opens_room {
            return Ok(Placement::Open);
        }
        if Instant::now() >= deadline || ctx.stop.is_cancelled() {
            return Err(answer.refused());
        }
        tokio::time::sleep(RETRY).await;
    }
}
