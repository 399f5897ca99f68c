//! What a player (WebSocket or long-poll) tracks between snapshots, and
//! what it measures from them: what it holds and acks from, the inputs
//! waiting for their acknowledgement, and snapshot arrival times.
//!
//! By default a bot applies every snapshot with
//! [`skirmish_shared::view::ViewHistory`], exactly as a real client does
//! ([`ViewMode::Full`]). That clones the whole room per snapshot, which for
//! hundreds of bots in a crowded room costs more CPU than the server
//! spends. [`ViewMode::Ticks`] keeps only the ticks held, under the same
//! rules ([`TickHistory`]), so the acks, the stale and missing-baseline
//! checks and the measurements stay the same while the bots stay light.
//! [`ViewMode::Interest`] is `Full` plus the interest rule: every ship the
//! bot holds at a tick lies in the area of interest around its own ship
//! at that tick ([`skirmish_shared::interest`]), and its own ship is always
//! held; each breach is an error ("ship outside the area of interest",
//! "own ship missing"). It is only true of ticks the server filters, so it
//! wants a server run with `--interest-from-ships 0` (a spawned server gets
//! it).

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use skirmish_shared::bot::BotPolicy;
use skirmish_shared::interest::Camera;
use skirmish_shared::rules::Rules;
use skirmish_shared::view::{MAX_KEPT_STATES, ViewError, ViewHistory, WorldView};
use skirmish_shared::{Input, ShipId, Snapshot, SnapshotBody, Tick};

use crate::stats::{Metric, TransportStats};

/// Inputs remembered for the ack round trip. At 30 Hz this is 8.5 s of
/// unacknowledged inputs; older ones are forgotten (and never measured).
const MAX_PENDING: usize = 256;

/// How players keep what they receive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ViewMode {
    /// Rebuild the room from every snapshot with `ViewHistory`, like a
    /// real client.
    #[default]
    Full,
    /// Track only which ticks are held (same rules, no world): for runs
    /// where the bots' CPU would otherwise crowd out the server's.
    Ticks,
    /// As `Full`, and check that every ship held lies in the area of
    /// interest around the bot's own ship, which is always held.
    Interest,
}

/// The bookkeeping of `ViewHistory` without the world: which ticks are
/// held, and the newest baseline the server has used (older ticks are
/// dropped, because acks only move forward).
#[derive(Clone, Debug, Default)]
pub struct TickHistory {
    ticks: VecDeque<Tick>,
    floor: Tick,
}

impl TickHistory {
    /// Takes a snapshot body under `ViewHistory::apply`'s rules.
    ///
    /// # Errors
    /// The same as `ViewHistory::apply`: stale bodies, missing baselines.
    pub fn apply(&mut self, body: &SnapshotBody) -> Result<Tick, ViewError> {
        if self.latest().is_some_and(|latest| body.tick <= latest) {
            return Err(ViewError::Stale(body.tick));
        }
        if let Some(base) = body.baseline {
            if !self.ticks.contains(&base) {
                return Err(ViewError::MissingBaseline(base));
            }
            self.floor = self.floor.max(base);
        }
        let floor = self.floor;
        self.ticks.retain(|t| *t >= floor);
        self.ticks.push_back(body.tick);
        while self.ticks.len() > MAX_KEPT_STATES {
            self.ticks.pop_front();
        }
        Ok(body.tick)
    }

    /// The newest tick held.
    #[must_use]
    pub fn latest(&self) -> Option<Tick> {
        self.ticks.back().copied()
    }
}

enum Held {
    Full(Box<ViewHistory>),
    Ticks(TickHistory),
}

impl Held {
    fn apply(&mut self, body: &SnapshotBody) -> Result<Option<&WorldView>, ViewError> {
        match self {
            Held::Full(view) => view.apply(body).map(Some),
            Held::Ticks(ticks) => ticks.apply(body).map(|_| None),
        }
    }

    fn latest(&self) -> Option<Tick> {
        match self {
            Held::Full(view) => view.latest().map(|v| v.tick),
            Held::Ticks(ticks) => ticks.latest(),
        }
    }
}

/// The interest rule a bot checks its state against.
struct InterestCheck {
    rules: Rules,
    own: ShipId,
}

impl InterestCheck {
    /// Why `world` breaks the rule, if it does.
    fn breach(&self, world: &WorldView) -> Option<&'static str> {
        let Some(me) = world.ships.get(&self.own) else {
            return Some("own ship missing");
        };
        let area = Camera::interest(&self.rules, me.state.x, me.state.y);
        world
            .ships
            .values()
            .any(|s| !area.contains(s.state.x, s.state.y))
            .then_some("ship outside the area of interest")
    }
}

/// What a player tracks between snapshots.
pub struct PlayState {
    held: Held,
    /// With [`ViewMode::Interest`]: the rule every state applied must keep.
    interest: Option<InterestCheck>,
    /// Ask for a full snapshot until one arrives (after a missing baseline).
    ack_none: bool,
    /// Inputs sent and not yet acknowledged: (seq, sent at).
    pending: VecDeque<(u32, Instant)>,
    last_arrival: Option<Instant>,
    period: Duration,
}

impl PlayState {
    /// Nothing held yet, for the player of ship `own` in a room of `rules`.
    #[must_use]
    pub fn new(rules: &Rules, own: ShipId, mode: ViewMode) -> PlayState {
        let tick_hz = rules.tick_hz;
        PlayState {
            held: match mode {
                ViewMode::Full | ViewMode::Interest => Held::Full(Box::default()),
                ViewMode::Ticks => Held::Ticks(TickHistory::default()),
            },
            interest: (mode == ViewMode::Interest).then(|| InterestCheck {
                rules: rules.clone(),
                own,
            }),
            ack_none: false,
            pending: VecDeque::new(),
            last_arrival: None,
            period: Duration::from_secs_f64(1.0 / f64::from(tick_hz.max(1))),
        }
    }

    /// The tick to acknowledge: the newest held, or `None` to ask for a
    /// full snapshot (none held yet, or a baseline was missing and no full
    /// snapshot has arrived since).
    #[must_use]
    pub fn ack(&self) -> Option<Tick> {
        if self.ack_none {
            None
        } else {
            self.held.latest()
        }
    }

    /// The snapshot period of the room.
    #[must_use]
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The input to send this tick, remembered for the round trip.
    pub fn input(&mut self, policy: &mut BotPolicy) -> Input {
        let next = policy.next_input();
        let ack = self.ack();
        if self.pending.len() == MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back((next.seq, Instant::now()));
        Input {
            seq: next.seq,
            ack,
            buttons: next.buttons,
            aim: next.aim,
            view: None,
        }
    }

    /// Measures and applies one snapshot (its arrival is now).
    pub fn snapshot(&mut self, stats: &TransportStats, snapshot: &Snapshot) {
        let now = Instant::now();
        if let Some(prev) = self.last_arrival.replace(now) {
            let interval = now.duration_since(prev);
            stats.record(Metric::Jitter, interval.abs_diff(self.period));
        }
        while let Some(&(seq, sent)) = self.pending.front() {
            if seq > snapshot.last_input {
                break;
            }
            stats.record(Metric::AckRtt, now.duration_since(sent));
            self.pending.pop_front();
        }
        match self.held.apply(&snapshot.body) {
            Ok(world) => {
                if let Some(breach) = world
                    .zip(self.interest.as_ref())
                    .and_then(|(w, c)| c.breach(w))
                {
                    stats.error(breach);
                }
                if snapshot.body.baseline.is_none() {
                    self.ack_none = false;
                }
            }
            Err(ViewError::Stale(_)) => {
                stats.counters.stale.fetch_add(1, Ordering::Relaxed);
            }
            Err(ViewError::MissingBaseline(_)) => {
                stats.error("missing baseline");
                self.ack_none = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skirmish_shared::rng::XorShift;

    /// Bodies with arbitrary ticks and baselines: stale ones, missing
    /// baselines, resyncs and long runs of deltas.
    fn bodies(seed: u64, n: usize) -> Vec<SnapshotBody> {
        let mut rng = XorShift::new(seed);
        let mut tick = 1u32;
        (0..n)
            .map(|_| {
                tick = match rng.below(10) {
                    0 => tick.saturating_sub(rng.below(3)),
                    _ => tick + 1 + rng.below(2),
                };
                let baseline = match rng.below(8) {
                    0 => None,
                    _ => Some(Tick(tick.saturating_sub(1 + rng.below(6)))),
                };
                SnapshotBody {
                    tick: Tick(tick),
                    baseline,
                    ..SnapshotBody::default()
                }
            })
            .collect()
    }

    #[test]
    fn tick_history_follows_view_history_exactly() {
        let mut outcomes = [0; 3];
        for seed in 1..50 {
            let mut view = ViewHistory::new();
            let mut ticks = TickHistory::default();
            for body in bodies(seed, 400) {
                let expected = view.apply(&body).map(|v| v.tick);
                outcomes[match expected {
                    Ok(_) => 0,
                    Err(ViewError::Stale(_)) => 1,
                    Err(ViewError::MissingBaseline(_)) => 2,
                }] += 1;
                assert_eq!(ticks.apply(&body), expected, "seed {seed}, {body:?}");
                assert_eq!(ticks.latest(), view.latest().map(|v| v.tick));
            }
        }
        assert!(outcomes.iter().all(|n| *n > 100), "{outcomes:?}");
    }
}
