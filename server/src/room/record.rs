//! The round being played, as its record will say: each ship's kills and
//! deaths this round and when the round started, folded from each tick's
//! events on the tick. When a round ends it becomes a
//! [`RoundRecord`] for the storage writer. Pure bookkeeping: no I/O, no
//! waiting (the room hands the record on with a `try_send`).

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use skirmish_shared::{EventKind, ShipId};

use super::snapshot::Frame;
use crate::storage::identity::Identity;
use crate::storage::record::{RoundRecord, StandingRecord};

/// Kills and deaths of one ship this round.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Line {
    kills: u32,
    deaths: u32,
}

/// One room's current round.
#[derive(Debug)]
pub struct RoundTally {
    /// Unix ms the round started (when the room saw `RoundStarted`).
    started_ms: i64,
    /// Ships with a kill or a death this round; a ship absent has neither.
    lines: HashMap<ShipId, Line>,
}

impl Default for RoundTally {
    fn default() -> Self {
        RoundTally {
            started_ms: unix_ms(),
            lines: HashMap::new(),
        }
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
#[must_use]
pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl RoundTally {
    /// A ship left: its id may come back as another ship.
    pub fn forget(&mut self, ship: ShipId) {
        self.lines.remove(&ship);
    }

    /// Folds one tick's events. Returns the record of the round this tick
    /// ended, when it had a human player in its standings (rounds of bots
    /// alone, as the default room plays all day, are not kept).
    pub fn observe(
        &mut self,
        frame: &Frame,
        room: &str,
        identity: impl Fn(ShipId) -> Option<Identity>,
    ) -> Option<RoundRecord> {
        let mut finished = None;
        let present = |ship: ShipId| {
            frame
                .state
                .ships
                .binary_search_by_key(&ship, |s| s.state.id)
                .ok()
                .map(|i| &frame.state.ships[i])
        };
        for event in &frame.events {
            match &event.kind {
                EventKind::Killed { killer, victim } => {
                    // A killer who left since firing is not credited (as
                    // its score is not).
                    if present(*killer).is_some() {
                        let line = self.lines.entry(*killer).or_default();
                        line.kills = line.kills.saturating_add(1);
                    }
                    let line = self.lines.entry(*victim).or_default();
                    line.deaths = line.deaths.saturating_add(1);
                }
                EventKind::RoundEnded { round, standings } => {
                    let ended_ms = unix_ms();
                    let lines: Vec<StandingRecord> = standings
                        .iter()
                        .filter_map(|standing| {
                            let ship = present(standing.ship)?;
                            let line = self.lines.get(&standing.ship).copied().unwrap_or_default();
                            Some(StandingRecord {
                                player: if ship.bot {
                                    None
                                } else {
                                    identity(standing.ship)
                                },
                                name: ship.name.to_string(),
                                bot: ship.bot,
                                score: u32::from(standing.score),
                                kills: line.kills,
                                deaths: line.deaths,
                            })
                        })
                        .collect();
                    self.lines.clear();
                    if lines.iter().any(|line| !line.bot) {
                        finished = Some(RoundRecord {
                            room: room.to_owned(),
                            round: *round,
                            started_ms: self.started_ms,
                            ended_ms,
                            standings: lines,
                            replay: None,
                        });
                    }
                }
                EventKind::RoundStarted { .. } => {
                    self.started_ms = unix_ms();
                    self.lines.clear();
                }
                EventKind::Joined { .. } | EventKind::Left { .. } => {}
            }
        }
        finished
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use skirmish_shared::{GameEvent, RoundState, ShipState, Standing, Tick};

    use super::*;
    use crate::game::output::{ShipEntry, WorldState};
    use crate::storage::identity::mint;

    fn frame(ships: &[(u16, &str, bool)], events: Vec<EventKind>) -> Frame {
        Frame {
            state: WorldState {
                tick: Tick(10),
                round: RoundState {
                    number: 1,
                    started: Tick(0),
                    ends: Tick(10),
                },
                ships: ships
                    .iter()
                    .map(|&(id, name, bot)| ShipEntry {
                        state: ShipState {
                            id: ShipId(id),
                            x: 0,
                            y: 0,
                            aim: 0,
                            hp: 3,
                            score: 0,
                        },
                        name: Arc::from(name),
                        bot,
                        last_input: 0,
                    })
                    .collect(),
                shots: Vec::new(),
            },
            events: events
                .into_iter()
                .map(|kind| GameEvent {
                    tick: Tick(10),
                    kind,
                })
                .collect(),
        }
    }

    fn kill(killer: u16, victim: u16) -> EventKind {
        EventKind::Killed {
            killer: ShipId(killer),
            victim: ShipId(victim),
        }
    }

    fn ended(round: u32, scores: &[(u16, u16)]) -> EventKind {
        EventKind::RoundEnded {
            round,
            standings: scores
                .iter()
                .map(|&(ship, score)| Standing {
                    ship: ShipId(ship),
                    score,
                })
                .collect(),
        }
    }

    #[test]
    fn a_round_is_recorded_with_each_ships_kills_deaths_and_identity() {
        let ships = [(1, "Bot 1", true), (2, "Ada", false), (3, "Bob", false)];
        let (ada, _) = mint();
        let identity = |ship: ShipId| (ship == ShipId(2)).then(|| ada.clone());
        let mut tally = RoundTally::default();
        let tick = frame(&ships, vec![kill(2, 3), kill(2, 1), kill(1, 2)]);
        assert!(tally.observe(&tick, "main", identity).is_none());
        let end = frame(
            &ships,
            vec![
                kill(2, 3),
                ended(4, &[(2, 3), (1, 1), (3, 0)]),
                EventKind::RoundStarted {
                    round: 5,
                    ends: Tick(20),
                },
            ],
        );
        let record = tally.observe(&end, "main", identity).expect("recorded");
        assert_eq!((record.room.as_str(), record.round), ("main", 4));
        let lines: Vec<_> = record
            .standings
            .iter()
            .map(|l| (l.name.as_str(), l.bot, l.score, l.kills, l.deaths))
            .collect();
        assert_eq!(
            lines,
            [
                ("Ada", false, 3, 3, 1),
                ("Bot 1", true, 1, 1, 1),
                ("Bob", false, 0, 0, 2)
            ]
        );
        assert_eq!(record.standings[0].player.as_ref(), Some(&ada));
        assert_eq!(record.standings[1].player, None, "bots have no record");
        assert_eq!(record.standings[2].player, None, "Bob plays unrecorded");
        // The next round starts from nothing.
        let next = frame(&ships, vec![ended(5, &[(2, 0), (1, 0), (3, 0)])]);
        let record = tally.observe(&next, "main", identity).expect("recorded");
        assert!(
            record
                .standings
                .iter()
                .all(|l| l.kills == 0 && l.deaths == 0)
        );
    }

    #[test]
    fn rounds_of_bots_alone_are_not_kept_and_a_leaver_takes_its_tally() {
        let mut tally = RoundTally::default();
        let bots = [(1, "Bot 1", true), (2, "Bot 2", true)];
        let tick = frame(&bots, vec![kill(1, 2), ended(1, &[(1, 1), (2, 0)])]);
        assert!(tally.observe(&tick, "main", |_| None).is_none());

        let ships = [(1, "Bot 1", true), (2, "Ada", false)];
        tally.observe(&frame(&ships, vec![kill(2, 1)]), "main", |_| None);
        // Ada leaves; a new ship gets her id before the round ends.
        tally.forget(ShipId(2));
        let ships = [(1, "Bot 1", true), (2, "Zoe", false)];
        let end = frame(&ships, vec![ended(2, &[(1, 0), (2, 0)])]);
        let record = tally.observe(&end, "main", |_| None).expect("recorded");
        assert_eq!(record.standings[1].name, "Zoe");
        assert_eq!(record.standings[1].kills, 0, "not Ada's kill");
        assert_eq!(record.standings[0].deaths, 1, "the bot's death stays");
    }
}
