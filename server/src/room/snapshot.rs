//! Snapshot history and delta building.
//!
//! The room keeps the last [`History::capacity`] ticks of wire-ready state.
//! Each player's snapshot is the difference between the current tick and the
//! tick that player last acknowledged (a full snapshot when that tick has
//! left the history or none was acknowledged). Bodies are built and encoded
//! once per distinct baseline and shared by every player with that baseline:
//! WebSocket writers copy the encoding, long polling serializes the value.
//! Bodies are built in a room's reused buffers and encoded into one exact
//! allocation each, since the fan-out runs once per player per tick.
//!
//! In crowded rooms (at least [`Interest::from_ships`] ships in a tick) a
//! player is sent only the ships and shots in its area of interest
//! ([`skirmish_shared::interest`]). The area is a pure function of one
//! tick's state and the player's ship, so what a client holds at any kept
//! baseline is rebuilt from that baseline's frame: a ship that left the area
//! since the baseline is `removed`, one that entered is `spawned` whole, and
//! no per-player set is remembered. Such bodies are per player; bodies of
//! ticks below the threshold are shared per baseline as before.
//!
//! Nothing here touches the network or blocks.

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};

use skirmish_shared::codec::{CodecError, EncodedBody};
use skirmish_shared::interest::Camera;
use skirmish_shared::rules::{POS_SCALE, Rules};
use skirmish_shared::{GameEvent, ShipDelta, ShipId, ShipSpawn, ShotSpawn, SnapshotBody, Tick};

use super::area_grid::{AreaGrid, Marks};
use crate::game::{ShipEntry, ShotEntry, WorldState};

/// One tick's state and the events that happened on it.
#[derive(Debug)]
pub struct Frame {
    /// State after the tick.
    pub state: WorldState,
    /// Events of the tick.
    pub events: Vec<GameEvent>,
}

/// When and how a room sends players only their area of interest.
#[derive(Clone, Debug)]
pub struct Interest {
    /// The room's rules: the arena's size places the camera, the shots'
    /// speed places a projectile.
    pub rules: Rules,
    /// A tick with at least this many ships is filtered per player; below
    /// it every player gets everything (0: always filtered).
    pub from_ships: usize,
}

/// What one player is sent of one frame: everything, or its own ship (its
/// index in the frame) and what lies in an area (an empty area when the
/// player's ship is not in the frame, which only a client acking a tick
/// from before it joined can ask for).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Sight {
    All,
    Area(Option<usize>, Camera),
}

/// A kept frame's ships and shots by place (with interest management
/// only): the shots at their extrapolated positions at the frame's tick,
/// as the client draws them, computed once per tick, not once per player.
#[derive(Debug, Default)]
struct Placed {
    ships: AreaGrid,
    shots: AreaGrid,
}

/// The recent frames of a room, oldest first, consecutive ticks.
#[derive(Debug)]
pub struct History {
    frames: VecDeque<Arc<Frame>>,
    /// Each kept frame's ships and shots by place (empty without interest
    /// management).
    placed: VecDeque<Placed>,
    capacity: usize,
    interest: Option<Interest>,
}

impl History {
    /// Keeps up to `capacity` ticks (at least 1). A client whose ack is older
    /// gets a full snapshot. Every player is sent everything.
    #[must_use]
    pub fn new(capacity: usize) -> History {
        History {
            frames: VecDeque::with_capacity(capacity.max(1)),
            placed: VecDeque::with_capacity(capacity.max(1)),
            capacity: capacity.max(1),
            interest: None,
        }
    }

    /// As [`History::new`], sending each player only its area of interest
    /// in ticks crowded enough for `interest`.
    #[must_use]
    pub fn with_interest(capacity: usize, interest: Interest) -> History {
        History {
            interest: Some(interest),
            ..History::new(capacity)
        }
    }

    /// What `viewer` is sent of `frame`.
    fn sight(&self, frame: &Frame, viewer: Option<ShipId>) -> Sight {
        let (Some(interest), Some(viewer)) = (&self.interest, viewer) else {
            return Sight::All;
        };
        let ships = &frame.state.ships;
        if ships.len() < interest.from_ships {
            return Sight::All;
        }
        match ships.binary_search_by_key(&viewer, |s| s.state.id) {
            Ok(i) => Sight::Area(
                Some(i),
                Camera::interest(&interest.rules, ships[i].state.x, ships[i].state.y),
            ),
            Err(_) => Sight::Area(None, Camera::NOTHING),
        }
    }

    /// The ships and shots of `frame` that `sight` takes in, as indexes
    /// into the frame's lists, ascending (id order), written into `seen`
    /// (`marks` is scratch). A shot is judged at its extrapolated position
    /// at the frame's tick, as the client draws it.
    fn seen_into(&self, frame: &Frame, sight: Sight, seen: &mut Seen, marks: &mut Marks) {
        let state = &frame.state;
        seen.ships.clear();
        seen.shots.clear();
        let Sight::Area(own, area) = sight else {
            seen.ships.extend(0..state.ships.len());
            seen.shots.extend(0..state.shots.len());
            return;
        };
        let placed = self.placed(state.tick);
        placed.ships.query_into(area, marks);
        if let Some(own) = own {
            marks.set(own);
        }
        seen.ships.extend(marks.iter());
        placed.shots.query_into(area, marks);
        seen.shots.extend(marks.iter());
    }

    /// Where the ships and shots of kept `tick` are.
    fn placed(&self, tick: Tick) -> &Placed {
        static NOWHERE: Placed = Placed {
            ships: AreaGrid::EMPTY,
            shots: AreaGrid::EMPTY,
        };
        self.index(tick)
            .and_then(|i| self.placed.get(i))
            .unwrap_or(&NOWHERE)
    }

    /// Buckets `frame`'s ships and shots by place, the shots at their
    /// extrapolated positions at the frame's tick in sub-units.
    fn place(&self, frame: &Frame) -> Placed {
        let Some(interest) = &self.interest else {
            return Placed::default();
        };
        let rules = &interest.rules;
        let (width, height) = (
            i32::from(rules.arena_w) * POS_SCALE,
            i32::from(rules.arena_h) * POS_SCALE,
        );
        let state = &frame.state;
        let ships = state
            .ships
            .iter()
            .map(|s| (i32::from(s.state.x), i32::from(s.state.y)))
            .collect();
        let scale = POS_SCALE as f32;
        let shots = state
            .shots
            .iter()
            .map(|s| {
                let (x, y) = rules.shot_position((s.x, s.y), s.aim, state.tick.since(s.fired));
                ((x * scale).round() as i32, (y * scale).round() as i32)
            })
            .collect();
        Placed {
            ships: AreaGrid::new(width, height, ships),
            shots: AreaGrid::new(width, height, shots),
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
            self.placed.clear();
        }
        if self.frames.len() == self.capacity {
            self.frames.pop_front();
            self.placed.pop_front();
        }
        self.placed.push_back(self.place(&frame));
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
        self.frames.get(self.index(tick)?)
    }

    /// Where `tick` would be in the ring.
    fn index(&self, tick: Tick) -> Option<usize> {
        let first = self.frames.front()?.state.tick;
        if tick < first {
            return None;
        }
        usize::try_from(tick.since(first)).ok()
    }

    /// The body for a client holding `baseline` (`None`: full snapshot), at
    /// the newest tick, with everything in it. `None` when the history is
    /// empty.
    #[must_use]
    pub fn body(&self, baseline: Option<Tick>) -> Option<SnapshotBody> {
        self.body_for(baseline, None)
    }

    /// The body for the player of ship `viewer` (`None`: a viewer sent
    /// everything) holding `baseline`: in crowded ticks, only what is in
    /// its area of interest at the baseline and now. `None` when the
    /// history is empty.
    #[must_use]
    pub fn body_for(&self, baseline: Option<Tick>, viewer: Option<ShipId>) -> Option<SnapshotBody> {
        let mut scratch = Scratch::default();
        self.fill(baseline, viewer, &mut scratch)
            .then(|| std::mem::take(&mut scratch.body))
    }

    /// As [`History::body_for`], into `scratch.body`, reusing its
    /// buffers; false (and the body untouched) when the history is empty.
    fn fill(&self, baseline: Option<Tick>, viewer: Option<ShipId>, scratch: &mut Scratch) -> bool {
        let Some(current) = self.latest() else {
            return false;
        };
        let Scratch {
            marks,
            now,
            was,
            body,
            ..
        } = scratch;
        self.seen_into(current, self.sight(current, viewer), now, marks);
        let base = baseline
            .filter(|b| *b < current.state.tick)
            .and_then(|b| self.get(b));
        match base {
            None => full(body, current, now),
            Some(base) => {
                self.seen_into(base, self.sight(base, viewer), was, marks);
                delta(
                    body,
                    (base, was),
                    (current, now),
                    self.events_after(base.state.tick),
                );
            }
        }
        true
    }

    /// Whether a viewer's body from `baseline` may differ from the shared
    /// one (everything): the baseline's or the newest tick is crowded.
    fn filtered(&self, baseline: Option<Tick>) -> bool {
        let Some(interest) = &self.interest else {
            return false;
        };
        let crowded = |f: &Arc<Frame>| f.state.ships.len() >= interest.from_ships;
        self.latest().is_some_and(crowded)
            || baseline.and_then(|b| self.get(b)).is_some_and(crowded)
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
    fn body_at(&self, tick: Tick, viewer: Option<ShipId>) -> SnapshotBody {
        let frame = self.get(tick).expect("tick kept");
        let (mut seen, mut body) = (Seen::default(), SnapshotBody::default());
        self.seen_into(
            frame,
            self.sight(frame, viewer),
            &mut seen,
            &mut Marks::default(),
        );
        full(&mut body, frame, &seen);
        body
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

/// The ships and shots of one frame a player is sent: indexes into the
/// frame's lists, ascending, so in id order.
#[derive(Debug, Default)]
struct Seen {
    ships: Vec<usize>,
    shots: Vec<usize>,
}

/// Everything `seen` of `frame`, for a client that holds nothing, written
/// over `body`.
fn full(body: &mut SnapshotBody, frame: &Frame, seen: &Seen) {
    let state = &frame.state;
    body.tick = state.tick;
    body.baseline = None;
    body.round = Some(state.round);
    body.spawned.clear();
    body.spawned
        .extend(seen.ships.iter().map(|&i| spawn(&state.ships[i])));
    body.changed.clear();
    body.removed.clear();
    body.shots.clear();
    body.shots.extend(
        seen.shots
            .iter()
            .map(|&i| shot(state.tick, &state.shots[i])),
    );
    body.shots_gone.clear();
    body.events.clone_from(&frame.events);
}

/// What changed from what was seen of `base` to what is seen of `current`,
/// plus the events in between, written over `body`. A ship that left the
/// sight is removed like one that left the room; one that entered is
/// spawned whole. Both ship and shot lists are sorted by id, so this is one
/// merge pass each.
fn delta<'a>(
    body: &mut SnapshotBody,
    (base, was): (&Frame, &Seen),
    (current, now): (&Frame, &Seen),
    events: impl Iterator<Item = &'a GameEvent>,
) {
    let (old, new) = (&base.state, &current.state);
    body.tick = new.tick;
    body.baseline = Some(old.tick);
    body.round = (old.round != new.round).then_some(new.round);
    body.events.clear();
    body.events.extend(events.cloned());
    body.spawned.clear();
    body.changed.clear();
    body.removed.clear();
    body.shots.clear();
    body.shots_gone.clear();
    merge(
        &was.ships,
        &now.ships,
        |&i| old.ships[i].state.id,
        |&i| new.ships[i].state.id,
        |&gone| body.removed.push(old.ships[gone].state.id),
        |&added| body.spawned.push(spawn(&new.ships[added])),
        |&was, &now| {
            if let Some(d) = ship_delta(&old.ships[was], &new.ships[now]) {
                body.changed.push(d);
            }
        },
    );
    merge(
        &was.shots,
        &now.shots,
        |&i| old.shots[i].id,
        |&i| new.shots[i].id,
        |&gone| body.shots_gone.push(old.shots[gone].id),
        |&added| body.shots.push(shot(new.tick, &new.shots[added])),
        |_, _| {},
    );
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

/// Walks two id-sorted lists once (each item's id by its own list's `key`),
/// calling back for items only in `old`, only in `new`, and in both.
fn merge<T, K: Ord>(
    old: &[T],
    new: &[T],
    old_key: impl Fn(&T) -> K,
    new_key: impl Fn(&T) -> K,
    mut gone: impl FnMut(&T),
    mut added: impl FnMut(&T),
    mut both: impl FnMut(&T, &T),
) {
    let (mut i, mut j) = (0, 0);
    while i < old.len() && j < new.len() {
        match old_key(&old[i]).cmp(&new_key(&new[j])) {
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

/// One tick's body for one baseline or one player, as every transport
/// needs it: the encoding for WebSocket frames, the value for the
/// transports that speak JSON.
#[derive(Debug)]
pub struct SharedBody {
    /// Its encoding, for the WebSocket's frames.
    pub encoded: EncodedBody,
    /// The value: kept when it was built for a shared body anyway, decoded
    /// from the bytes on first use for a player's own body (built for
    /// every player each tick, read only by long-poll players).
    value: OnceLock<SnapshotBody>,
}

impl SharedBody {
    /// A body and its encoding.
    #[must_use]
    pub fn new(value: SnapshotBody, encoded: EncodedBody) -> SharedBody {
        SharedBody {
            encoded,
            value: OnceLock::from(value),
        }
    }

    /// A body kept only as its encoding.
    #[must_use]
    pub fn encoded(encoded: EncodedBody) -> SharedBody {
        SharedBody {
            encoded,
            value: OnceLock::new(),
        }
    }

    /// The body as a value.
    ///
    /// # Errors
    /// The encoding does not decode (a bug: it was encoded from a body).
    pub fn value(&self) -> Result<&SnapshotBody, CodecError> {
        if let Some(value) = self.value.get() {
            return Ok(value);
        }
        let value = self.encoded.decode()?;
        Ok(self.value.get_or_init(|| value))
    }
}

/// A room's reused buffers for building bodies: the fan-out builds one per
/// player per tick, and building each in fresh vectors (and growing a
/// fresh encoding) made the allocator most of its cost.
#[derive(Debug, Default)]
struct Scratch {
    marks: Marks,
    now: Seen,
    was: Seen,
    body: SnapshotBody,
    bytes: Vec<u8>,
}

/// The bodies of one tick, one per distinct baseline, so players who acked
/// the same tick share one. Cleared when the tick moves.
#[derive(Debug, Default)]
pub struct BodyCache {
    tick: Tick,
    bodies: Vec<(Option<Tick>, Arc<SharedBody>)>,
    scratch: Scratch,
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
        self.body_for(history, ack, None)
    }

    /// The body of `history`'s newest tick for the player of ship `viewer`
    /// acking `ack`. When its area of interest applies (a crowded baseline
    /// or tick) the body is its own, built now and kept only encoded;
    /// otherwise it is the baseline's shared body, built and encoded on
    /// first use this tick. `None` when the history is empty.
    ///
    /// # Errors
    /// Encoding failed (a bug: every protocol value encodes).
    pub fn body_for(
        &mut self,
        history: &History,
        ack: Option<Tick>,
        viewer: Option<ShipId>,
    ) -> Result<Option<Arc<SharedBody>>, CodecError> {
        let Some(now) = history.latest().map(|f| f.state.tick) else {
            return Ok(None);
        };
        if self.tick != now {
            self.tick = now;
            self.bodies.clear();
        }
        let baseline = history.baseline_for(ack);
        let scratch = &mut self.scratch;
        if let Some(viewer) = viewer.filter(|_| history.filtered(baseline)) {
            if !history.fill(baseline, Some(viewer), scratch) {
                return Ok(None);
            }
            let encoded = EncodedBody::new_in(&scratch.body, &mut scratch.bytes)?;
            return Ok(Some(Arc::new(SharedBody::encoded(encoded))));
        }
        // Few distinct baselines per tick (acks are 1-3 ticks old): a scan
        // beats hashing.
        if let Some((_, body)) = self.bodies.iter().find(|(b, _)| *b == baseline) {
            return Ok(Some(body.clone()));
        }
        let Some(body) = history.body(baseline) else {
            return Ok(None);
        };
        let encoded = EncodedBody::new_in(&body, &mut scratch.bytes)?;
        let shared = Arc::new(SharedBody::new(body, encoded));
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
                let mut view = view_of(&history.body_at(base, None));
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

    /// A room of 200 ships, every tick filtered: for several players and
    /// every kept baseline, the delta applied on what the player held at the
    /// baseline gives exactly the ships and shots inside its area now (its
    /// own ship always among them), so a ship that left the area is never
    /// left behind, and one that came back arrives whole.
    #[test]
    fn every_kept_baseline_reconstructs_each_players_area() {
        let rules = Rules::reference(30, 180, 300);
        let interest = Interest {
            rules: rules.clone(),
            from_ships: 0,
        };
        let mut history = History::with_interest(8, interest);
        let (mut checked, mut left_and_back) = (0, 0);
        for _ in 0..6 {
            play(200, 12, &mut history);
            let frame = history.latest().expect("frames").clone();
            let now = frame.state.tick;
            for me in frame.state.ships.iter().step_by(23).map(|s| s.state) {
                let viewer = me.id;
                let area = Camera::interest(&rules, me.x, me.y);
                let truth = view_of(&history.body_for(None, Some(viewer)).expect("body"));
                let inside: Vec<ShipId> = frame
                    .state
                    .ships
                    .iter()
                    .filter(|s| area.contains(s.state.x, s.state.y))
                    .map(|s| s.state.id)
                    .collect();
                assert!(inside.contains(&viewer), "own ship inside");
                assert_eq!(truth.ships.keys().copied().collect::<Vec<_>>(), inside);
                assert!(inside.len() < 150, "{} of 200 ships sent", inside.len());
                for back in 1..8 {
                    let base = Tick(now.0 - back);
                    let delta = history.body_for(Some(base), Some(viewer)).expect("body");
                    let mut view = view_of(&history.body_at(base, Some(viewer)));
                    let held_before: Vec<ShipId> = view.ships.keys().copied().collect();
                    apply_body(&mut view, &delta);
                    assert_eq!(view.ships, truth.ships, "{viewer:?} from {base} to {now}");
                    assert_eq!(view.shots, truth.shots, "{viewer:?} from {base} to {now}");
                    left_and_back += delta
                        .spawned
                        .iter()
                        .filter(|s| !held_before.contains(&s.ship.id))
                        .count()
                        .min(1);
                    checked += 1;
                }
            }
        }
        assert!(checked > 200, "checked {checked}");
        assert!(
            left_and_back > 10,
            "ships entering an area: {left_and_back}"
        );
    }

    /// Below the threshold every player shares the baseline's body, byte
    /// for byte what it was before interest management.
    /// The fan-out builds every player's body in one reused set of
    /// buffers: nothing of one player's body may leak into the next. Each
    /// body the cache hands out is byte for byte the one built from
    /// scratch, and its value decodes back for long polling.
    #[test]
    fn bodies_built_in_reused_buffers_equal_fresh_ones() {
        let rules = Rules::reference(30, 180, 300);
        let interest = Interest {
            rules,
            from_ships: 0,
        };
        let mut history = History::with_interest(8, interest);
        let mut cache = BodyCache::default();
        let mut checked = 0;
        for round in 0..4 {
            play(150, 9, &mut history);
            let frame = history.latest().expect("frames").clone();
            let now = frame.state.tick;
            // Alternate full and delta bodies and far-apart viewers, so
            // each body differs from the one built before it in the buffers.
            for (i, ship) in frame.state.ships.iter().enumerate().step_by(7) {
                let ack = (i % 3 != 0).then(|| Tick(now.0 - 1 - (i as u32 + round) % 7));
                let viewer = ship.state.id;
                let got = cache
                    .body_for(&history, ack, Some(viewer))
                    .expect("encodes")
                    .expect("body");
                let fresh = history
                    .body_for(history.baseline_for(ack), Some(viewer))
                    .expect("body");
                assert_eq!(got.encoded, EncodedBody::new(&fresh).expect("encodes"));
                assert_eq!(got.value().expect("decodes"), &fresh);
                checked += 1;
            }
        }
        assert!(checked > 60, "checked {checked}");
    }

    #[test]
    fn rooms_below_the_threshold_share_one_body_per_baseline() {
        let interest = Interest {
            rules: Rules::reference(30, 180, 300),
            from_ships: 64,
        };
        let mut history = History::with_interest(4, interest);
        play(12, 10, &mut history);
        let now = history.latest().expect("frames").state.tick;
        let mut cache = BodyCache::default();
        let ack = Some(Tick(now.0 - 1));
        let a = cache.body_for(&history, ack, Some(ShipId(1))).expect("ok");
        let b = cache.body_for(&history, ack, Some(ShipId(5))).expect("ok");
        assert!(Arc::ptr_eq(&a.expect("body"), &b.expect("body")));
        let mut crowded = History::with_interest(
            4,
            Interest {
                rules: Rules::reference(30, 180, 300),
                from_ships: 12,
            },
        );
        play(12, 10, &mut crowded);
        let a = cache.body_for(&crowded, ack, Some(ShipId(1))).expect("ok");
        let b = cache.body_for(&crowded, ack, Some(ShipId(5))).expect("ok");
        assert!(!Arc::ptr_eq(&a.expect("body"), &b.expect("body")));
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
