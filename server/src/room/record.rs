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
