//! What a room tells those who only watch: after each tick it turns the
//! tick's game events into event-log entries (JSON), keeps the log's
//! snapshot (scoreboard, players, round clock) true as of the newest entry,
//! publishes a latest-wins state sample for minimaps at the spectator rate,
//! and feeds score changes to the server-wide ticker (not a private room's).
//!
//! Spectator delay: with a delay of D ticks, what a tick publishes (log
//! entries, log snapshot, scoreboard, ticker scores, state sample) is
//! formatted at once and held until D ticks later, so every watcher sees
//! the room D ticks late and a player cannot watch its own room's feed to
//! find its opponents. Ids are given when entries reach the log, so ids and
//! resume rules are those of an undelayed log. Players' own snapshots never
//! pass through here and are never delayed.
//!
//! Runs inside the room task, after the tick: it only formats and appends,
//! never waits on a reader.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use skirmish_shared::feed::{
    self, Join, Kill, Leave, PlayerLine, RoomEvent, RoomSnapshot, RoundClock, ShipSample,
    StandingLine, Weapon, names,
};
use skirmish_shared::rules::units;
use skirmish_shared::{EventKind, ShipId, Tick};
use tokio::sync::watch;

use super::event_ids::IdAllocator;
use super::event_log::{EventLog, Json, sse_frame, to_json, unix_millis};
use super::replay::Recorder;
use super::snapshot::Frame;
use super::ticker::{ScoreChange, Ticker};
use crate::game::WorldState;
use crate::storage::replay::ReplayCapture;

/// The positions of every ship at one tick, for minimaps, as its SSE
/// frame. Not logged: only the newest matters.
#[derive(Debug)]
pub struct SampleFrame {
    /// The tick sampled.
    pub tick: Tick,
    /// `event: state\ndata: ..\n\n`.
    pub sse: Bytes,
}

/// One line of a room's scoreboard, for the ticker's top-N board. Names
/// are shared, not copied: a scoreboard is rebuilt on every tick with
/// events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScoreLine {
    pub room: Arc<str>,
    /// Ship id.
    pub player: u16,
    pub name: Arc<str>,
    /// Kills this round.
    pub score: u16,
    /// Server-side bot.
    pub bot: bool,
}

/// A room's scoreboard, best first.
pub type Scoreboard = Vec<ScoreLine>;

/// What one tick gives watchers, formatted when it happened and released
/// to them after the spectator delay.
#[derive(Debug, Default)]
struct Release {
    /// The tick it happened on.
    tick: Tick,
    /// Log entries, and the snapshot true as of them (when there are any).
    entries: Option<(Vec<RoomEvent>, Json, Scoreboard)>,
    /// Score changes for the ticker.
    scores: Vec<ScoreChange>,
    /// The minimap sample, on sampling ticks.
    sample: Option<SampleFrame>,
}

impl Release {
    fn is_empty(&self) -> bool {
        self.entries.is_none() && self.scores.is_empty() && self.sample.is_none()
    }
}

/// The room's publishing side: one per room task.
#[derive(Debug)]
pub struct Feed {
    room: Arc<str>,
    tick_hz: u16,
    log: Arc<EventLog>,
    /// `None` for a private room: its players' names and scores stay
    /// inside it.
    ticker: Option<Arc<Ticker>>,
    samples: watch::Sender<Arc<SampleFrame>>,
    scores: watch::Sender<Arc<Scoreboard>>,
    /// Ticks between two state samples.
    sample_every: u32,
    /// Names of ships seen, so `leave` and `kill` can name ships that are
    /// already gone from the state.
    names: HashMap<ShipId, (Arc<str>, bool)>,
    /// Ticks watchers are kept behind the room (0: none).
    delay_ticks: u32,
    /// Releases waiting out the delay, oldest first. At most one per tick
    /// of the delay (ticks with nothing to publish add none): bounded by
    /// the delay's cap (`--spectator-delay-secs`, at most 60 s).
    held: VecDeque<Release>,
    /// Records each round's replay from what is released, when the room's
    /// rounds are kept (a public room on a server with a database).
    recorder: Option<Recorder>,
}

/// How often a feed publishes, and how late.
#[derive(Clone, Copy, Debug)]
pub struct FeedRates {
    /// The room's tick rate.
    pub tick_hz: u16,
    /// State samples per second.
    pub spectator_hz: u16,
    /// Ticks watchers are kept behind the room (0: live).
    pub delay_ticks: u32,
}

/// The receiving ends a room hands out.
#[derive(Clone, Debug)]
pub struct FeedReaders {
    /// The room's event log.
    pub log: Arc<EventLog>,
    /// Newest state sample.
    pub samples: watch::Receiver<Arc<SampleFrame>>,
    /// Newest scoreboard.
    pub scores: watch::Receiver<Arc<Scoreboard>>,
}

impl Feed {
    /// A feed for `room`, logging into a fresh log of `capacity` events
    /// whose ids come from `ids` (above `after`, the last id of the log it
    /// continues, for a room handed over), scoring on `ticker` unless the room is
    /// private, showing watchers the room `delay_ticks` ticks late.
    #[must_use]
    pub fn new(
        room: Arc<str>,
        rates: FeedRates,
        capacity: usize,
        ids: Arc<IdAllocator>,
        ticker: Option<Arc<Ticker>>,
        after: Option<u64>,
    ) -> (Feed, FeedReaders) {
        let FeedRates {
            tick_hz,
            spectator_hz,
            delay_ticks,
        } = rates;
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
        let snapshot = snapshot_json(&room, tick_hz, &empty);
        let log = match after {
            Some(last) => EventLog::continuing(capacity, ids, last, snapshot),
            None => EventLog::new(capacity, ids, snapshot),
        };
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
            delay_ticks,
            held: VecDeque::new(),
            recorder: None,
        };
        (feed, readers)
    }

    fn name(&self, ship: ShipId) -> Arc<str> {
        self.names
            .get(&ship)
            .map_or_else(|| Arc::from("?"), |(n, _)| n.clone())
    }

    /// Publishes one tick: formats it now, and gives watchers every tick
    /// whose delay is up.
    pub fn publish(&mut self, frame: &Frame) {
        let release = self.format(frame);
        let now = frame.state.tick;
        if !release.is_empty() {
            self.held.push_back(release);
        }
        while let Some(next) = self.held.front()
            && now.since(next.tick) >= self.delay_ticks
        {
            let release = self.held.pop_front().unwrap_or_default();
            self.release(release);
        }
    }

    /// Records every round's replay from now on (see [`super::replay`]).
    pub fn record_replays(&mut self) {
        self.recorder = Some(Recorder::new(self.room.clone(), self.tick_hz));
    }

    /// The replays of rounds whose end was released since the last call.
    pub fn take_replays(&mut self) -> Vec<ReplayCapture> {
        self.recorder
            .as_mut()
            .map(Recorder::take_finished)
            .unwrap_or_default()
    }

    /// The ticks watchers are kept behind the room.
    #[must_use]
    pub fn delay_ticks(&self) -> u32 {
        self.delay_ticks
    }

    /// Gives watchers one tick's entries, scores and sample.
    fn release(&mut self, release: Release) {
        if let Some((events, snapshot, scoreboard)) = release.entries {
            let keep = self.recorder.is_some();
            let entries = self.log.append_kept(&events, Some(snapshot.clone()), keep);
            if let Some(recorder) = self.recorder.as_mut() {
                recorder.logged(&events, &entries, &snapshot);
            }
            self.scores.send_replace(Arc::new(scoreboard));
        }
        if let Some(ticker) = &self.ticker {
            ticker.scored(release.scores);
        }
        if let Some(sample) = release.sample {
            let sample = Arc::new(sample);
            if let Some(recorder) = self.recorder.as_mut() {
                recorder.sampled(&sample);
            }
            self.samples.send_replace(sample);
        }
    }

    /// What `frame` tells watchers, formatted as of its tick.
    fn format(&mut self, frame: &Frame) -> Release {
        let state = &frame.state;
        let (tick, time) = (state.tick.0, unix_millis());
        let room = || self.room.to_string();
        let mut events = Vec::new();
        let mut kills: BTreeMap<ShipId, u16> = BTreeMap::new();
        let mut round_over = false;
        for event in &frame.events {
            match &event.kind {
                EventKind::Joined { ship } => {
                    if let Ok(i) = state.ships.binary_search_by_key(ship, |s| s.state.id) {
                        let entry = &state.ships[i];
                        self.names.insert(*ship, (entry.name.clone(), entry.bot));
                        events.push(RoomEvent::Join(Join {
                            bot: entry.bot,
                            name: entry.name.to_string(),
                            player: ship.0,
                            room: room(),
                            tick,
                            time,
                        }));
                    }
                }
                EventKind::Left { ship } => events.push(RoomEvent::Leave(Leave {
                    name: self.name(*ship).to_string(),
                    player: ship.0,
                    room: room(),
                    tick,
                    time,
                })),
                EventKind::Killed { killer, victim } => {
                    events.push(RoomEvent::Kill(Kill {
                        killer: killer.0,
                        killer_name: self.name(*killer).to_string(),
                        room: room(),
                        tick,
                        time,
                        victim: victim.0,
                        victim_name: self.name(*victim).to_string(),
                        weapon: Weapon::Blaster,
                    }));
                    *kills.entry(*killer).or_default() += 1;
                }
                EventKind::RoundStarted { round, ends } => {
                    events.push(RoomEvent::Round(feed::Round::Started {
                        ends_tick: ends.0,
                        room: room(),
                        round: *round,
                        secs_left: f64::from(ends.since(state.tick)) / f64::from(self.tick_hz),
                        tick,
                        time,
                    }));
                }
                EventKind::RoundEnded { round, standings } => {
                    round_over = true;
                    let standings = standings
                        .iter()
                        .map(|s| StandingLine {
                            name: self.name(s.ship).to_string(),
                            player: s.ship.0,
                            score: s.score,
                        })
                        .collect();
                    events.push(RoomEvent::Round(feed::Round::Ended {
                        room: room(),
                        round: *round,
                        standings,
                        tick,
                        time,
                    }));
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
                let score = feed::Score {
                    delta,
                    name: entry.name.to_string(),
                    player: killer.0,
                    room: room(),
                    score: entry.state.score,
                    tick,
                    time,
                };
                score_changes.push(ScoreChange {
                    line: ScoreLine {
                        room: self.room.clone(),
                        player: killer.0,
                        name: entry.name.clone(),
                        score: entry.state.score,
                        bot: entry.bot,
                    },
                    event: score.clone(),
                });
                events.push(RoomEvent::Score(score));
            }
        }
        for event in &frame.events {
            if let EventKind::Left { ship } = event.kind {
                self.names.remove(&ship);
            }
        }
        let entries = (!events.is_empty()).then(|| {
            let snapshot = snapshot_json(&self.room, self.tick_hz, state);
            (events, snapshot, scoreboard(&self.room, state))
        });
        Release {
            tick: state.tick,
            entries,
            scores: score_changes,
            sample: (tick % self.sample_every == 0).then(|| sample(state)),
        }
    }

    /// Logs an operator's message at once: it is no game state, so the
    /// spectator delay has nothing to hide in it.
    pub fn notice(&self, text: &str) {
        let event = RoomEvent::Notice(feed::NoticeEvent {
            text: text.to_owned(),
            room: self.room.to_string(),
            time: unix_millis(),
        });
        self.log.append(&[event], None);
    }

    /// Releases what the delay still held (the room stops here; no one is
    /// left to ghost) and returns the id of the newest event logged: what
    /// the log of a room handed over continues from.
    pub fn settle(&mut self) -> u64 {
        while let Some(release) = self.held.pop_front() {
            self.release(release);
        }
        self.log.head()
    }

    /// The room's log, for a handed-over room's task to end with the
    /// adopter's `moved` ([`EventLog::close_with`]) once the room is gone.
    #[must_use]
    pub fn log(&self) -> &Arc<EventLog> {
        &self.log
    }

    /// Ends the log: readers get what the delay still held (the room is
    /// over, there is no one left to ghost), then a final `closed` event.
    pub fn close(&mut self, reason: &'static str) {
        self.settle();
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
/// Its strings are borrowed from the state: this runs on every tick with
/// events, for every ship of the room.
fn snapshot_json(room: &str, tick_hz: u16, state: &WorldState) -> Json {
    let round = state.round;
    let snapshot = RoomSnapshot {
        players: state
            .ships
            .iter()
            .map(|s| PlayerLine {
                bot: s.bot,
                hp: s.state.hp,
                name: &*s.name,
                player: s.state.id.0,
                score: s.state.score,
            })
            .collect(),
        room,
        round: RoundClock {
            ends_tick: round.ends.0,
            number: round.number,
            secs_left: f64::from(round.ends.since(state.tick)) / f64::from(tick_hz.max(1)),
            started_tick: round.started.0,
        },
        tick: state.tick.0,
        tick_hz,
        time: unix_millis(),
    };
    to_json(&snapshot).into()
}

/// Every ship as `[id, x, y, aim, hp]`, positions in arena units.
fn sample(state: &WorldState) -> SampleFrame {
    let sample = feed::StateSample {
        round_ends_tick: state.round.ends.0,
        ships: state
            .ships
            .iter()
            .map(|s| {
                let st = s.state;
                ShipSample(st.id.0, units(st.x), units(st.y), st.aim, st.hp)
            })
            .collect(),
        tick: state.tick.0,
        time: unix_millis(),
    };
    SampleFrame {
        tick: state.tick,
        sse: sse_frame(None, names::STATE, to_json(&sample).get()),
    }
}
