//! What a room tells those who only watch: after each tick it turns the
//! tick's game events into event-log entries (JSON), keeps the log's
//! snapshot (scoreboard, players, round clock) true as of the newest entry,
//! publishes a latest-wins state sample for minimaps at the spectator rate,
//! and feeds score changes to the server-wide ticker.
//!
//! Runs inside the room task, after the tick: it only formats and appends,
//! never waits on a reader.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use serde_json::json;
use skirmish_shared::rules::units;
use skirmish_shared::{EventKind, ShipId, Tick};
use tokio::sync::watch;

use super::event_ids::IdAllocator;
use super::event_log::{EventLog, unix_millis};
use super::snapshot::Frame;
use super::ticker::{ScoreChange, Ticker};
use crate::game::WorldState;

/// The positions of every ship at one tick, for minimaps. Not logged:
/// only the newest matters.
#[derive(Debug)]
pub struct StateSample {
    /// The tick sampled.
    pub tick: Tick,
    /// `event: state\ndata: ..\n\n`.
    pub sse: Bytes,
    /// The JSON object.
    pub json: Arc<str>,
}

/// One line of a room's scoreboard, for the ticker's top-N board.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScoreLine {
    /// Room id.
    pub room: Arc<str>,
    /// Ship id.
    pub player: u16,
    /// Display name.
    pub name: Arc<str>,
    /// Kills this round.
    pub score: u16,
    /// Server-side bot.
    pub bot: bool,
}

/// A room's scoreboard, best first.
pub type Scoreboard = Vec<ScoreLine>;

/// The room's publishing side: one per room task.
#[derive(Debug)]
pub struct Feed {
    room: Arc<str>,
    tick_hz: u16,
    log: Arc<EventLog>,
    ticker: Arc<Ticker>,
    samples: watch::Sender<Arc<StateSample>>,
    scores: watch::Sender<Arc<Scoreboard>>,
    /// Ticks between two state samples.
    sample_every: u32,
    /// Names of ships seen, so `leave` and `kill` can name ships that are
    /// already gone from the state.
    names: HashMap<ShipId, (Arc<str>, bool)>,
}

/// The receiving ends a room hands out.
#[derive(Clone, Debug)]
pub struct FeedReaders {
    /// The room's event log.
    pub log: Arc<EventLog>,
    /// Newest state sample.
    pub samples: watch::Receiver<Arc<StateSample>>,
    /// Newest scoreboard.
    pub scores: watch::Receiver<Arc<Scoreboard>>,
}

impl Feed {
    /// A feed for `room`, logging into a fresh log of `capacity` events
    /// whose ids come from `ids`.
    #[must_use]
    pub fn new(
        room: Arc<str>,
        tick_hz: u16,
        spectator_hz: u16,
        capacity: usize,
        ids: Arc<IdAllocator>,
        ticker: Arc<Ticker>,
    ) -> (Feed, FeedReaders) {
        let empty = WorldState {
            tick: Tick(0),
            round: skirmish_shared::RoundState {
                number: 0,
                started: Tick(0),
                ends: Tick(0),
            },
            ships: Vec::new(),
            shots: Vec::new(),
        };
        let log = EventLog::new(capacity, ids, snapshot_json(&room, tick_hz, &empty).into());
        let (samples, samples_rx) = watch::channel(Arc::new(sample(&empty)));
        let (scores, scores_rx) = watch::channel(Arc::new(Vec::new()));
        let sample_every = u32::from(tick_hz / spectator_hz.clamp(1, tick_hz.max(1))).max(1);
        let readers = FeedReaders {
            log: log.clone(),
            samples: samples_rx,
            scores: scores_rx,
        };
        let feed = Feed {
            room,
            tick_hz,
            log,
            ticker,
            samples,
            scores,
            sample_every,
            names: HashMap::new(),
        };
        (feed, readers)
    }

    fn name(&self, ship: ShipId) -> Arc<str> {
        self.names
            .get(&ship)
            .map_or_else(|| Arc::from("?"), |(n, _)| n.clone())
    }

    /// Publishes one tick.
    pub fn publish(&mut self, frame: &Frame) {
        let state = &frame.state;
        let (tick, time, room) = (state.tick.0, unix_millis(), &*self.room);
        let mut events = Vec::new();
        let mut kills: BTreeMap<ShipId, u16> = BTreeMap::new();
        let mut round_over = false;
        for event in &frame.events {
            match &event.kind {
                EventKind::Joined { ship } => {
                    if let Ok(i) = state.ships.binary_search_by_key(ship, |s| s.state.id) {
                        let entry = &state.ships[i];
                        self.names.insert(*ship, (entry.name.clone(), entry.bot));
                        let data = json!({"room": room, "player": ship.0, "name": &*entry.name,
                            "bot": entry.bot, "tick": tick, "time": time});
                        events.push(("join", data.to_string()));
                    }
                }
                EventKind::Left { ship } => {
                    let name = self.name(*ship);
                    let data = json!({"room": room, "player": ship.0, "name": &*name,
                        "tick": tick, "time": time});
                    events.push(("leave", data.to_string()));
                }
                EventKind::Killed { killer, victim } => {
                    let data = json!({"room": room, "killer": killer.0,
                        "killer_name": &*self.name(*killer), "victim": victim.0,
                        "victim_name": &*self.name(*victim), "weapon": "blaster",
                        "tick": tick, "time": time});
                    events.push(("kill", data.to_string()));
                    *kills.entry(*killer).or_default() += 1;
                }
                EventKind::RoundStarted { round, ends } => {
                    let data = json!({"room": room, "phase": "started", "round": round,
                        "ends_tick": ends.0,
                        "secs_left": f64::from(ends.since(state.tick)) / f64::from(self.tick_hz),
                        "tick": tick, "time": time});
                    events.push(("round", data.to_string()));
                }
                EventKind::RoundEnded { round, standings } => {
                    round_over = true;
                    let standings: Vec<_> = standings
                        .iter()
                        .map(|s| json!({"player": s.ship.0, "name": &*self.name(s.ship), "score": s.score}))
                        .collect();
                    let data = json!({"room": room, "phase": "ended", "round": round,
                        "standings": standings, "tick": tick, "time": time});
                    events.push(("round", data.to_string()));
                }
            }
        }
        // Scores reset with the round; the `round` event says so, and a
        // score line per player would only be noise.
        let mut score_changes = Vec::new();
        if !round_over {
            for (killer, delta) in kills {
                let Ok(i) = state.ships.binary_search_by_key(&killer, |s| s.state.id) else {
                    continue; // a shot from a ship that left scores nothing
                };
                let entry = &state.ships[i];
                let data = json!({"room": room, "player": killer.0, "name": &*entry.name,
                    "score": entry.state.score, "delta": delta, "tick": tick, "time": time})
                .to_string();
                events.push(("score", data.clone()));
                score_changes.push(ScoreChange {
                    line: ScoreLine {
                        room: self.room.clone(),
                        player: killer.0,
                        name: entry.name.clone(),
                        score: entry.state.score,
                        bot: entry.bot,
                    },
                    delta,
                    data,
                });
            }
        }
        for event in &frame.events {
            if let EventKind::Left { ship } = event.kind {
                self.names.remove(&ship);
            }
        }
        if !events.is_empty() {
            let snapshot = snapshot_json(room, self.tick_hz, state);
            self.log.append(events, Some(snapshot.into()));
            self.scores
                .send_replace(Arc::new(scoreboard(&self.room, state)));
        }
        self.ticker.scored(score_changes);
        if tick % self.sample_every == 0 {
            self.samples.send_replace(Arc::new(sample(state)));
        }
    }

    /// Ends the log: readers get a final `closed` event.
    pub fn close(&self, reason: &'static str) {
        self.log.close(reason);
    }
}

fn scoreboard(room: &Arc<str>, state: &WorldState) -> Scoreboard {
    let mut lines: Scoreboard = state
        .ships
        .iter()
        .map(|s| ScoreLine {
            room: room.clone(),
            player: s.state.id.0,
            name: s.name.clone(),
            score: s.state.score,
            bot: s.bot,
        })
        .collect();
    lines.sort_by(|a, b| b.score.cmp(&a.score).then(a.player.cmp(&b.player)));
    lines
}

/// The snapshot spectators start from: room, round clock and scoreboard.
fn snapshot_json(room: &str, tick_hz: u16, state: &WorldState) -> String {
    // Typed structs, not `json!` trees: this runs on every tick with
    // events, for every ship of the room. Fields stay in alphabetical order,
    // as `json!` wrote them.
    #[derive(Serialize)]
    struct Player<'a> {
        bot: bool,
        hp: u8,
        name: &'a str,
        player: u16,
        score: u16,
    }
    #[derive(Serialize)]
    struct Round {
        ends_tick: u32,
        number: u32,
        secs_left: f64,
        started_tick: u32,
    }
    #[derive(Serialize)]
    struct Snapshot<'a> {
        players: Vec<Player<'a>>,
        room: &'a str,
        round: Round,
        tick: u32,
        tick_hz: u16,
        time: u64,
    }
    let round = state.round;
    let snapshot = Snapshot {
        players: state
            .ships
            .iter()
            .map(|s| Player {
                bot: s.bot,
                hp: s.state.hp,
                name: &s.name,
                player: s.state.id.0,
                score: s.state.score,
            })
            .collect(),
        room,
        round: Round {
            ends_tick: round.ends.0,
            number: round.number,
            secs_left: f64::from(round.ends.since(state.tick)) / f64::from(tick_hz.max(1)),
            started_tick: round.started.0,
        },
        tick: state.tick.0,
        tick_hz,
        time: unix_millis(),
    };
    serde_json::to_string(&snapshot).unwrap_or_default()
}

/// Every ship as `[id, x, y, aim, hp]`, positions in arena units.
fn sample(state: &WorldState) -> StateSample {
    #[derive(Serialize)]
    struct Sample {
        round_ends_tick: u32,
        ships: Vec<(u16, f32, f32, u8, u8)>,
        tick: u32,
        time: u64,
    }
    let sample = Sample {
        round_ends_tick: state.round.ends.0,
        ships: state
            .ships
            .iter()
            .map(|s| {
                let st = s.state;
                (st.id.0, units(st.x), units(st.y), st.aim, st.hp)
            })
            .collect(),
        tick: state.tick.0,
        time: unix_millis(),
    };
    let json = serde_json::to_string(&sample).unwrap_or_default();
    StateSample {
        tick: state.tick,
        sse: Bytes::from(format!("event: state\ndata: {json}\n\n")),
        json: json.into(),
    }
}
