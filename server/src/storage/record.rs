//! A finished round as a room hands it to the writer: plain owned data,
//! built on the tick without I/O, written later in one transaction.

use super::identity::Identity;
use super::replay::ReplayData;

/// One finished round of one room.
#[derive(Clone, Debug)]
pub struct RoundRecord {
    pub room: String,
    /// The room's round number.
    pub round: u32,
    /// Unix milliseconds the round started and ended.
    pub started_ms: i64,
    pub ended_ms: i64,
    /// Every ship at the end, best first (the room's standings order).
    pub standings: Vec<StandingRecord>,
    /// The round's replay, stored with it; `None` when none was recorded
    /// (a private room, a round the room did not see start).
    pub replay: Option<ReplayData>,
}

/// One ship's line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StandingRecord {
    /// Whose record this adds to; `None` for bots and unidentified guests.
    pub player: Option<Identity>,
    pub name: String,
    pub bot: bool,
    pub score: u32,
    pub kills: u32,
    pub deaths: u32,
}

impl RoundRecord {
    /// Competition ranks of the standings (1, 1, 3...): equal scores share
    /// a rank. Standings are best first.
    #[must_use]
    pub fn ranks(&self) -> Vec<u32> {
        let mut ranks = Vec::with_capacity(self.standings.len());
        let mut previous: Option<(u32, u32)> = None;
        for (i, line) in self.standings.iter().enumerate() {
            let position = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let rank = match previous {
                Some((score, rank)) if score == line.score => rank,
                _ => position,
            };
            previous = Some((line.score, rank));
            ranks.push(rank);
        }
        ranks
    }

    /// The name of the best ship, when anyone scored.
    #[must_use]
    pub fn winner(&self) -> Option<&str> {
        self.standings
            .first()
            .filter(|line| line.score > 0)
            .map(|line| line.name.as_str())
    }
}

/// Whether a line of rank `rank` and `score` counts as a win: the top of
/// the standings, ties included, with at least one kill.
#[must_use]
pub fn is_win(rank: u32, score: u32) -> bool {
    rank == 1 && score > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(name: &str, score: u32) -> StandingRecord {
        StandingRecord {
            player: None,
            name: name.into(),
            bot: false,
            score,
            kills: score,
            deaths: 0,
        }
    }

    #[test]
    fn equal_scores_share_a_rank_and_a_scoreless_round_has_no_winner() {
        let round = RoundRecord {
            room: "main".into(),
            round: 1,
            started_ms: 0,
            ended_ms: 1,
            standings: vec![line("a", 5), line("b", 5), line("c", 2), line("d", 0)],
            replay: None,
        };
        assert_eq!(round.ranks(), [1, 1, 3, 4]);
        assert_eq!(round.winner(), Some("a"));
        assert!(is_win(1, 5) && !is_win(3, 2) && !is_win(1, 0));
        let empty = RoundRecord {
            standings: vec![line("a", 0), line("b", 0)],
            ..round
        };
        assert_eq!(empty.winner(), None);
    }
}
