//! The server-wide ticker: rooms log their score changes into one shared
//! event log as they happen (see [`super::feed`]), and a task adds a top-N
//! `board` across all rooms every few seconds when it changed.
//!
//! The log's snapshot, which new and reset readers start from, is the board
//! true as of the log's newest id: the last `board` with every later
//! `score` applied, so a reader starting from it holds what a reader who
//! followed every event holds. The board lock keeps it exact: a room folds
//! its scores into the board and logs them in one step, and the board task
//! reads every room's scoreboard and logs the result in one step, so a
//! score change is always either in the board or logged after it.
//!
//! In cluster mode a [`ScoreSink`] (the Redis ticker writer) takes the
//! place of the log: the ticker still folds this node's scores into its
//! board (which then holds this node's rooms only), and hands each change
//! and each re-derived board to the sink, which only queues them. The
//! cluster-wide log is written in Redis and read through a follower.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;
use skirmish_shared::feed::{self, Board, BoardLine, TickerEvent};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::event_ids::IdAllocator;
use super::event_log::{EventLog, to_json, unix_millis};
use super::feed::ScoreLine;
use super::registry::Registry;

/// Events the ticker log keeps for resuming readers (and the cluster
/// ticker's stream and mirrors).
pub const TICKER_LOG_CAPACITY: usize = 4096;

/// One score change a room reports: the player's line as it is now, and
/// the `score` event (with the kills that made the change), as the room's
/// own log carries it.
#[derive(Debug)]
pub struct ScoreChange {
    pub line: ScoreLine,
    pub event: feed::Score,
}

/// The ticker: its log and the board that log's snapshot shows.
#[derive(Debug)]
pub struct Ticker {
    log: Arc<EventLog>,
    /// The board as of the log's head, best first, at most `top` lines.
    /// Held to fold and log a room's scores (rooms wait only for one
    /// another and for the board task), and by the board task while it
    /// reads every room's scoreboard, so that no score slips between that
    /// read and the board it logs. Never held across an await or I/O.
    board: Mutex<Vec<ScoreLine>>,
    /// Lines on the board.
    top: usize,
    /// Where scores and boards go instead of the log, once set (cluster
    /// mode).
    sink: OnceLock<Arc<dyn ScoreSink>>,
}

/// Where a clustered ticker sends this node's scores and board (the Redis
/// ticker writer). Called under the board lock, in fold order, so it must
/// only hand the data over (a `try_send`), never wait.
pub trait ScoreSink: Send + Sync + std::fmt::Debug {
    /// A room's score changes of one tick, and this node's board after
    /// them.
    fn scored(&self, changes: &[ScoreChange], board: &[ScoreLine]);
    /// This node's board, re-derived from its rooms' scoreboards.
    fn refreshed(&self, board: &[ScoreLine]);
}

/// The board of `top`, stamped now.
#[must_use]
pub fn board(top: &[ScoreLine]) -> Board {
    Board {
        time: unix_millis(),
        top: top
            .iter()
            .map(|line| BoardLine {
                bot: line.bot,
                name: line.name.to_string(),
                player: line.player,
                room: line.room.to_string(),
                score: line.score,
            })
            .collect(),
    }
}

/// Best score first; ties by room, then player.
fn sort_lines(lines: &mut [ScoreLine]) {
    lines.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then_with(|| a.room.cmp(&b.room))
            .then(a.player.cmp(&b.player))
    });
}

/// The best `n` lines across every room's scoreboard.
#[must_use]
pub fn top_lines(registry: &Registry, n: usize) -> Vec<ScoreLine> {
    // A room's scoreboard is sorted best first (ties by player), so only
    // its first `n` lines can make the board.
    let mut lines: Vec<ScoreLine> = registry
        .handles()
        .iter()
        .filter(|h| h.invite.is_none())
        .flat_map(|h| {
            h.feed
                .scores
                .borrow()
                .iter()
                .take(n)
                .cloned()
                .collect::<Vec<_>>()
        })
        .collect();
    sort_lines(&mut lines);
    lines.truncate(n);
    lines
}

/// `board` after one score event, as a client that follows the ticker
/// applies it (`TickerBoard.scored` in `web-client/src/standings.js`):
/// the player's line moves to its new score. Scores only grow within a
/// round, so a line already above the new one's starting point means the
/// room began a new round, and its other lines are at 0 now.
fn fold(board: &mut Vec<ScoreLine>, change: &ScoreChange, top: usize) {
    let line = &change.line;
    let same = |l: &ScoreLine| l.room == line.room && l.player == line.player;
    let new_round = board
        .iter()
        .find(|l| same(l))
        .is_some_and(|known| known.score > line.score.saturating_sub(change.event.delta));
    board.retain(|l| !same(l));
    if new_round {
        for other in board.iter_mut().filter(|l| l.room == line.room) {
            other.score = 0;
        }
    }
    board.push(line.clone());
    sort_lines(board);
    board.truncate(top);
}

impl Ticker {
    /// An empty ticker keeping `capacity` events for resuming readers, with
    /// a board of `top` lines, its ids from `ids`.
    #[must_use]
    pub fn new(capacity: usize, top: usize, ids: Arc<IdAllocator>) -> Arc<Ticker> {
        Arc::new(Ticker {
            log: EventLog::new(capacity, ids, to_json(&board(&[])).into()),
            board: Mutex::new(Vec::new()),
            top: top.max(1),
            sink: OnceLock::new(),
        })
    }

    /// Sends every later score and board to `sink` instead of the log.
    /// Set once; a second sink is refused (returns false).
    pub fn send_to(&self, sink: Arc<dyn ScoreSink>) -> bool {
        self.sink.set(sink).is_ok()
    }

    /// The log readers follow.
    #[must_use]
    pub fn log(&self) -> &Arc<EventLog> {
        &self.log
    }

    /// Logs a room's score changes of one tick and folds them into the
    /// board, as one step.
    pub fn scored(&self, changes: Vec<ScoreChange>) {
        if changes.is_empty() {
            return;
        }
        let mut board = self.board.lock();
        for change in &changes {
            fold(&mut board, change, self.top);
        }
        if let Some(sink) = self.sink.get() {
            sink.scored(&changes, &board);
            return;
        }
        let snapshot = to_json(&self::board(&board)).into();
        let events: Vec<TickerEvent> = changes
            .into_iter()
            .map(|c| TickerEvent::Score(c.event))
            .collect();
        self.log.append(&events, Some(snapshot));
    }

    /// Logs a `board` when the top lines across `registry`'s rooms differ
    /// from the board readers hold. Returns whether it did. With a sink,
    /// hands it the re-derived board every time (it decides what the
    /// cluster logs) and returns whether this node's board changed.
    pub fn refresh(&self, registry: &Registry) -> bool {
        let mut board = self.board.lock();
        let top = top_lines(registry, self.top);
        if let Some(sink) = self.sink.get() {
            sink.refreshed(&top);
            let changed = *board != top;
            *board = top;
            return changed;
        }
        if *board == top {
            return false;
        }
        let event = self::board(&top);
        let snapshot = to_json(&event).into();
        self.log
            .append(&[TickerEvent::Board(event)], Some(snapshot));
        *board = top;
        true
    }

    /// Ends the log: readers get `closed`.
    pub fn close(&self, reason: &'static str) {
        self.log.close(reason);
    }
}

/// Refreshes the board every `every` until shutdown, then closes the
/// ticker log.
pub async fn run_board(
    registry: Arc<Registry>,
    ticker: Arc<Ticker>,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut clock = tokio::time::interval(every);
    clock.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = clock.tick() => {}
        }
        ticker.refresh(&registry);
    }
    ticker.close("server shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(room: &str, player: u16, score: u16) -> ScoreLine {
        ScoreLine {
            room: room.into(),
            player,
            name: format!("P{player}").into(),
            score,
            bot: false,
        }
    }

    fn change(room: &str, player: u16, score: u16, delta: u16) -> ScoreChange {
        let line = line(room, player, score);
        let event = feed::Score {
            delta,
            name: line.name.to_string(),
            player,
            room: room.into(),
            score,
            tick: 1,
            time: 0,
        };
        ScoreChange { line, event }
    }

    fn scores(board: &[ScoreLine]) -> Vec<(&str, u16, u16)> {
        board
            .iter()
            .map(|l| (&*l.room, l.player, l.score))
            .collect()
    }

    #[test]
    fn scores_fold_into_the_board_as_clients_apply_them() {
        let mut board = vec![line("a", 1, 3), line("b", 2, 2), line("a", 3, 1)];
        // A line moves up; a newcomer enters and the board keeps `top`.
        fold(&mut board, &change("a", 3, 4, 3), 3);
        assert_eq!(scores(&board), [("a", 3, 4), ("a", 1, 3), ("b", 2, 2)]);
        fold(&mut board, &change("c", 9, 3, 3), 3);
        assert_eq!(scores(&board), [("a", 3, 4), ("a", 1, 3), ("c", 9, 3)]);
        // Room a's player 1 starting again from 0 means a new round there.
        fold(&mut board, &change("a", 1, 1, 1), 3);
        assert_eq!(scores(&board), [("c", 9, 3), ("a", 1, 1), ("a", 3, 0)]);
    }

    /// What a sink was handed: per call, the changed players and the
    /// board's scores.
    #[derive(Debug, Default)]
    struct Recorder(Mutex<Vec<(Vec<u16>, Vec<u16>)>>);

    impl ScoreSink for Recorder {
        fn scored(&self, changes: &[ScoreChange], board: &[ScoreLine]) {
            let players = changes.iter().map(|c| c.line.player).collect();
            self.0
                .lock()
                .push((players, board.iter().map(|l| l.score).collect()));
        }
        fn refreshed(&self, board: &[ScoreLine]) {
            self.0
                .lock()
                .push((Vec::new(), board.iter().map(|l| l.score).collect()));
        }
    }

    #[test]
    fn with_a_sink_scores_are_folded_and_handed_over_not_logged() {
        let ticker = Ticker::new(16, 2, Arc::new(IdAllocator::starting_at(1000)));
        let sink = Arc::new(Recorder::default());
        assert!(ticker.send_to(sink.clone()));
        assert!(!ticker.send_to(sink.clone()), "one sink");
        ticker.scored(vec![change("a", 1, 1, 1), change("b", 2, 2, 2)]);
        ticker.scored(vec![change("a", 3, 3, 3)]);
        assert_eq!(
            *sink.0.lock(),
            [(vec![1, 2], vec![2, 1]), (vec![3], vec![3, 2])],
            "each tick's changes with the board after them, of `top` lines"
        );
        assert_eq!(ticker.log().head(), 1000, "the node's own log stays empty");
    }

    #[test]
    fn the_snapshot_is_the_board_as_of_the_head() {
        let ticker = Ticker::new(16, 10, Arc::new(IdAllocator::starting_at(1000)));
        ticker.scored(vec![change("a", 1, 1, 1), change("b", 2, 2, 2)]);
        let (snapshot, head) = ticker.log().snapshot();
        assert_eq!(head, 1002);
        let board: Board = serde_json::from_str(snapshot.get()).expect("a board");
        let top: Vec<(&str, u16)> = board
            .top
            .iter()
            .map(|l| (l.room.as_str(), l.score))
            .collect();
        assert_eq!(top, [("b", 2), ("a", 1)]);
    }
}
