//! The server-wide ticker: rooms append score changes to one shared event
//! log as they happen (see [`super::feed`]), and this task adds a top-N
//! `board` across all rooms every few seconds when it changed. The board is
//! also the ticker log's snapshot, which new and reset readers start from.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::event_log::{EventLog, unix_millis};
use super::feed::ScoreLine;
use super::registry::Registry;

/// The board's JSON: `{"top": [...], "time": ms}`.
#[must_use]
pub fn board_json(top: &[ScoreLine]) -> String {
    json!({"top": top, "time": unix_millis()}).to_string()
}

/// The best `n` lines across every room's scoreboard.
#[must_use]
pub fn top_lines(registry: &Registry, n: usize) -> Vec<ScoreLine> {
    let mut lines: Vec<ScoreLine> = registry
        .handles()
        .iter()
        .flat_map(|h| h.feed.scores.borrow().iter().cloned().collect::<Vec<_>>())
        .collect();
    lines.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then_with(|| a.room.cmp(&b.room))
            .then(a.player.cmp(&b.player))
    });
    lines.truncate(n);
    lines
}

/// Appends a `board` event every `every` while the top `n` changed, until
/// shutdown; then closes the ticker log.
pub async fn run_board(
    registry: Arc<Registry>,
    ticker: Arc<EventLog>,
    every: Duration,
    n: usize,
    shutdown: CancellationToken,
) {
    let mut clock = tokio::time::interval(every);
    clock.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last: Option<Vec<ScoreLine>> = None;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = clock.tick() => {}
        }
        let top = top_lines(&registry, n);
        if last.as_ref() != Some(&top) {
            let board = board_json(&top);
            ticker.append(vec![("board", board.clone())], Some(board.into()));
            last = Some(top);
        }
    }
    ticker.close("server shutting down");
}
