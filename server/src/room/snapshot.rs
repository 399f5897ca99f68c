//! Snapshot history and delta building.
//!
//! The room keeps the last [`History::capacity`] ticks of wire-ready state.
//! Each player's snapshot is the difference between the current tick and the
//! tick that player last acknowledged (a full snapshot when that tick has
//! left the history or none was acknowledged). Bodies are built and encoded
//! once per distinct baseline and shared by every player with that baseline:
//! WebSocket writers copy the encoding, long polling serializes the value.
//!
//! Nothing here touches the network or blocks.

use std::collections::VecDeque;
use std::sync::Arc;

use skirmish_shared::codec::{CodecError, EncodedBody};
use skirmish_shared::{GameEvent, ShipDelta, ShipSpawn, ShotSpawn, SnapshotBody, Tick};

use crate::game::{ShipEntry, ShotEntry, WorldState};

/// One tick's state and the events that happened on it.
#[derive(Debug)]
pub struct Frame {
    /// State after the tick.
    pub state: WorldState,
    /// Events of the tick.
    pub events: Vec<GameEvent>,
}

/// The recent frames of a room, oldest first, consecutive ticks.
#[derive(Debug)]
pub struct History {
    frames: VecDeque<Arc<Frame>>,
    capacity: usize,
}

impl History {
    /// Keeps up to `capacity` ticks (at least 1). A client whose ack is older
    /// gets a full snapshot.
    #[must_use]
    pub fn new(capacity: usize) -> History {
        History {
            frames: VecDeque::with_capacity(capacity.max(1)),
            capacity: capacity.max(1),
        }
    }

    /// Ticks kept.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Appends the newest frame, forgetting the oldest when full. A tick that
    /// does not follow the newest (never happens in a room) restarts history.
    pub fn push(&mut self, frame: Frame) {
        if self
            .frames
            .back()
            .is_some_and(|last| frame.state.tick != last.state.tick.next())
        {
            self.frames.clear();
        }
        if self.frames.len() == self.capacity {
            self.frames.pop_front();
        }
        self.frames.push_back(Arc::new(frame));
    }

    /// The newest frame.
    #[must_use]
    pub fn latest(&self) -> Option<&Arc<Frame>> {
        self.frames.back()
    }

    /// The frame of `tick`, if still kept.
    #[must_use]
    pub fn get(&self, tick: Tick) -> Option<&Arc<Frame>> {
        let first = self.frames.front()?.state.tick;
        if tick < first {
            return None;
        }
        let index = usize::try_from(tick.since(first)).ok()?;
        self.frames.get(index)
    }

    /// The body for a client holding `baseline` (`None`: full snapshot), at
    /// the newest tick. `None` when the history is empty.
    #[must_use]
    pub fn body(&self, baseline: Option<Tick>) -> Option<SnapshotBody> {
        let current = self.latest()?;
        let base = baseline
            .filter(|b| *b < current.state.tick)
            .and_then(|b| self.get(b));
        Some(match base {
            None => full(current),
            Some(base) => delta(base, current, self.events_after(base.state.tick)),
        })
    }

    /// The baseline a client acking `ack` gets: the ack itself while it is
    /// older than the newest tick and still kept, else `None` (full).
    #[must_use]
    pub fn baseline_for(&self, ack: Option<Tick>) -> Option<Tick> {
        let now = self.latest()?.state.tick;
        ack.filter(|t| *t < now && self.get(*t).is_some())
    }

    /// The full body of a kept tick (tests rebuild a client's baseline).
    #[cfg(test)]
    fn body_at(&self, tick: Tick) -> SnapshotBody {
        full(self.get(tick).expect("tick kept"))
    }

    fn events_after(&self, tick: Tick) -> impl Iterator<Item = &GameEvent> {
        self.frames
            .iter()
            .filter(move |f| f.state.tick > tick)
            .flat_map(|f| f.events.iter())
    }
}

fn spawn(entry: &ShipEntry) -> ShipSpawn {
    ShipSpawn {
        ship: entry.state,
        name: entry.name.to_string(),
        bot: entry.bot,
    }
}

fn shot(tick: Tick, entry: &ShotEntry) -> ShotSpawn {
    ShotSpawn {
        id: entry.id,
        owner: entry.owner,
        x: entry.x,
        y: entry.y,
        aim: entry.aim,
        age: u8::try_from(tick.since(entry.fired)).unwrap_or(u8::MAX),
    }
}

/// Everything in `frame`, for a client that holds nothing.
fn full(frame: &Frame) -> SnapshotBody {
    let state = &frame.state;
    SnapshotBody {
        tick: state.tick,
        baseline: None,
        round: Some(state.round),
        spawned: state.ships.iter().map(spawn).collect(),
        shots: state.shots.iter().map(|s| shot(state.tick, s)).collect(),
        events: frame.events.clone(),
        ..SnapshotBody::default()
    }
}

/// What changed from `base` to `current`, plus the events in between. Both
/// ship and shot lists are sorted by id, so this is one merge pass each.
fn delta<'a>(
    base: &Frame,
    current: &Frame,
    events: impl Iterator<Item = &'a GameEvent>,
) -> SnapshotBody {
    let (old, new) = (&base.state, &current.state);
    let mut body = SnapshotBody {
        tick: new.tick,
        baseline: Some(old.tick),
        round: (old.round != new.round).then_some(new.round),
        events: events.cloned().collect(),
        ..SnapshotBody::default()
    };
    merge(
        &old.ships,
        &new.ships,
        |s| s.state.id,
        |gone| body.removed.push(gone.state.id),
        |added| body.spawned.push(spawn(added)),
        |was, now| {
            if let Some(d) = ship_delta(was, now) {
                body.changed.push(d);
            }
        },
    );
    merge(
        &old.shots,
        &new.shots,
        |s| s.id,
        |gone| body.shots_gone.push(gone.id),
        |added| body.shots.push(shot(new.tick, added)),
        |_, _| {},
    );
    body
}

fn ship_delta(was: &ShipEntry, now: &ShipEntry) -> Option<ShipDelta> {
    let (a, b) = (was.state, now.state);
    if a == b {
        return None;
    }
    if a.hp == b.hp && a.score == b.score {
        // Sub-unit positions are u16, so the difference fits i32; it fits i16
        // for any arena up to 4095 units, else the ship is sent whole.
        let dx = i16::try_from(i32::from(b.x) - i32::from(a.x));
        let dy = i16::try_from(i32::from(b.y) - i32::from(a.y));
        if let (Ok(dx), Ok(dy)) = (dx, dy) {
            return Some(ShipDelta::Moved {
                id: b.id,
                dx,
                dy,
                aim: b.aim,
            });
        }
    }
    Some(ShipDelta::Full(b))
}

/// Walks two id-sorted lists once, calling back for items only in `old`,
/// only in `new`, and in both.
fn merge<T, K: Ord>(
    old: &[T],
    new: &[T],
    key: impl Fn(&T) -> K,
    mut gone: impl FnMut(&T),
    mut added: impl FnMut(&T),
    mut both: impl FnMut(&T, &T),
) {
    let (mut i, mut j) = (0, 0);
    while i < old.len() && j < new.len() {
        match key(&old[i]).cmp(&key(&new[j])) {
            std::cmp::Ordering::Less => {
                gone(&old[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                added(&new[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                both(&old[i], &new[j]);
                i += 1;
                j += 1;
            }
        }
    }
    old[i..].iter().for_each(&mut gone);
    new[j..].iter().for_each(&mut added);
}

/// One tick's body for one baseline, as every transport needs it. The
/// value was built for the encoding anyway; keeping it costs nothing, and
/// spares long polling decoding the bytes back to write JSON.
#[derive(Debug)]
pub struct SharedBody {
    /// The body, for transports that speak JSON.
    pub value: SnapshotBody,
    /// Its encoding, for the WebSocket's frames.
    pub encoded: EncodedBody,
}

/// The bodies of one tick, one per distinct baseline, so players who acked
/// the same tick share one. Cleared when the tick moves.
#[derive(Debug, Default)]
pub struct BodyCache {
    tick: Tick,
    bodies: Vec<(Option<Tick>, Arc<SharedBody>)>,
}

impl BodyCache {
    /// The body of `history`'s newest tick for a client acking `ack`;
    /// built and encoded on first use this tick. `None` when the history is
    /// empty.
    ///
    /// # Errors
    /// Encoding failed (a bug: every protocol value encodes).
    pub fn body(
        &mut self,
        history: &History,
        ack: Option<Tick>,
    ) -> Result<Option<Arc<SharedBody>>, CodecError> {
        let Some(now) = history.latest().map(|f| f.state.tick) else {
            return Ok(None);
        };
        if self.tick != now {
            self.tick = now;
            self.bodies.clear();
        }
        let baseline = history.baseline_for(ack);
        // Few distinct baselines per tick (acks are 1-3 ticks old): a scan
        // beats hashing.
        if let Some((_, body)) = self.bodies.iter().find(|(b, _)| *b == baseline) {
            return Ok(Some(body.clone()));
        }
        let Some(body) = history.body(baseline) else {
            return Ok(None);
        };
        let shared = Arc::new(SharedBody {
            encoded: EncodedBody::new(&body)?,
            value: body,
        });
        self.bodies.push((baseline, shared.clone()));
        Ok(Some(shared))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::{Sim, SimConfig};
    use skirmish_shared::bot::BotPolicy;
    use skirmish_shared::rules::Rules;
    use skirmish_shared::view::{WorldView, apply_body};
    use skirmish_shared::{Input, ShipId};

    /// A room of `n` ships playing the GAME.md bot policy, recorded.
    fn play(n: usize, ticks: usize, history: &mut History) {
        let mut sim = Sim::new(SimConfig {
            rules: Rules::reference(30, 180, 300),
            seed: 3,
            bots: 2,
            max_inputs_per_tick: 4,
            lag_comp: Default::default(),
        });
        let mut ships: Vec<(ShipId, BotPolicy)> = (0..n)
            .map(|i| {
                (
                    sim.spawn_player(&format!("p{i}")),
                    BotPolicy::new(i as u64, 30),
                )
            })
            .collect();
        for _ in 0..ticks {
            let inputs: Vec<(ShipId, Input)> = ships
                .iter_mut()
                .map(|(id, p)| {
                    let b = p.next_input();
                    let input = Input {
                        seq: b.seq,
                        ack: None,
                        buttons: b.buttons,
                        aim: b.aim,
                        view: None,
                    };
                    (*id, input)
                })
                .collect();
            let out = sim.step(&inputs);
            history.push(Frame {
                state: out.state,
                events: out.events,
            });
        }
    }

    fn view_of(body: &SnapshotBody) -> WorldView {
        let mut v = WorldView::default();
        apply_body(&mut v, body);
        v
    }

    #[test]
    fn every_kept_baseline_reconstructs_the_newest_state() {
        let mut history = History::new(8);
        let mut checked = 0;
        for _ in 0..40 {
            play(12, 5, &mut history);
            let now = history.latest().expect("frames").state.tick;
            let truth = view_of(&history.body(None).expect("body"));
            for back in 1..8 {
                let base = Tick(now.0.saturating_sub(back));
                let Some(base_frame) = history.get(base) else {
                    continue;
                };
                assert_eq!(base_frame.state.tick, base);
                let delta = history.body(Some(base)).expect("body");
                assert_eq!(delta.baseline, Some(base));
                let mut view = view_of(&history.body_at(base));
                apply_body(&mut view, &delta);
                assert_eq!(
                    view.ships, truth.ships,
                    "ships from baseline {base} to {now}"
                );
                assert_eq!(
                    view.shots, truth.shots,
                    "shots from baseline {base} to {now}"
                );
                assert_eq!(view.round, truth.round);
                checked += 1;
            }
            // Each `play` starts a new sim, so ticks restart: history resets.
        }
        assert!(checked > 100, "checked {checked}");
    }

    #[test]
    fn acks_outside_the_history_get_full_snapshots() {
        let mut history = History::new(4);
        play(4, 10, &mut history);
        let now = history.latest().expect("frames").state.tick;
        assert_eq!(
            history.baseline_for(Some(Tick(now.0 - 1))),
            Some(Tick(now.0 - 1))
        );
        assert_eq!(history.baseline_for(Some(Tick(now.0 - 4))), None, "evicted");
        assert_eq!(
            history.baseline_for(Some(now)),
            None,
            "no delta against itself"
        );
        assert_eq!(history.baseline_for(None), None);
        let mut cache = BodyCache::default();
        let a = cache
            .body(&history, Some(Tick(now.0 - 1)))
            .expect("ok")
            .expect("body");
        let b = cache
            .body(&history, Some(Tick(now.0 - 1)))
            .expect("ok")
            .expect("body");
        assert!(Arc::ptr_eq(&a, &b), "one encoding per baseline per tick");
    }

    /// The target is 5 KB; protocol 2 measures about 2.5 and 3.1 KB here,
    /// so 4 KB keeps the margin from eroding unnoticed.
    #[test]
    fn a_512_ship_delta_stays_under_4_kb() {
        let mut history = History::new(32);
        play(512, 60, &mut history);
        let now = history.latest().expect("frames").state.tick;
        for back in [1, 2] {
            let body = history.body(Some(Tick(now.0 - back))).expect("body");
            let len = EncodedBody::new(&body).expect("encodes").len();
            assert!(len < 4_000, "delta against tick-{back}: {len} bytes");
        }
    }
}
