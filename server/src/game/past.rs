//! Where the living ships were on each of the last few ticks, for lag
//! compensation: a shot is judged against the ships as its shooter's
//! screen showed them, up to the room's cap in the past.
//!
//! Owns the ring of past frames and the rewind rule (clamping a claimed
//! view time to the cap and to the frames held). Pure data and arithmetic:
//! it never decides a hit (that is `systems::hits`) and never trusts a
//! client's claim beyond the cap.

use bevy_ecs::prelude::*;
use skirmish_shared::rules::{POS_SCALE, Rules, units};
use skirmish_shared::{ShipId, Tick, ViewTime};

use super::grid::Grid;
use super::resources::{GRID_CELL_UNITS, ShipMark};

/// Steps of a rewind per tick: the `frac` of [`ViewTime`].
pub const REWIND_STEPS: u32 = ViewTime::FRAC_STEPS;

/// How far back a room may judge shots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LagCompensation {
    /// Longest rewind in 256ths of a tick; 0 turns compensation off.
    pub max_rewind: u32,
}

impl LagCompensation {
    /// The cap `max_ms` milliseconds at `rules`' tick rate, rounded down to
    /// a 256th of a tick so the cap is never exceeded.
    #[must_use]
    pub fn from_ms(rules: &Rules, max_ms: u32) -> LagCompensation {
        let steps = u64::from(max_ms) * u64::from(rules.tick_hz) * u64::from(REWIND_STEPS) / 1000;
        LagCompensation {
            max_rewind: u32::try_from(steps).unwrap_or(u32::MAX),
        }
    }

    /// Past frames a room keeps: every whole tick the cap reaches back to,
    /// plus the current one. None when compensation is off.
    #[must_use]
    pub fn frames(self) -> usize {
        if self.max_rewind == 0 {
            return 0;
        }
        self.max_rewind.div_ceil(REWIND_STEPS) as usize + 1
    }
}

/// What a claimed view time comes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rewind {
    /// How far back the shot is judged, in 256ths of a tick.
    pub steps: u32,
    /// The claim was impossible (later than now) or older than the cap,
    /// and was clamped. Not set for the start-of-room limit of the frames
    /// held, which no client can help.
    pub clamped: bool,
}

/// The rewind for a shot fired on tick `now` by a client that was showing
/// `view`, within `cap` and the `held` whole ticks of history behind `now`.
/// With compensation off, every claim is ignored and none is counted.
#[must_use]
pub fn rewind_for(now: Tick, view: Option<ViewTime>, cap: LagCompensation, held: u32) -> Rewind {
    let Some(view) = view.filter(|_| cap.max_rewind > 0) else {
        return Rewind {
            steps: 0,
            clamped: false,
        };
    };
    let now_fixed = u64::from(now.0) * u64::from(REWIND_STEPS);
    let claimed = now_fixed.checked_sub(view.fixed());
    let (steps, clamped) = match claimed {
        None => (0, true),
        Some(back) if back > u64::from(cap.max_rewind) => (cap.max_rewind, true),
        Some(back) => (back as u32, false),
    };
    Rewind {
        steps: steps.min(held.saturating_mul(REWIND_STEPS)),
        clamped,
    }
}

/// The living ships of one tick.
#[derive(Clone, Debug)]
pub struct PastFrame {
    /// The tick these positions are from (after its movement).
    pub tick: Tick,
    /// The ships by position, for the hit test's 3x3 lookup.
    pub grid: Grid<ShipMark>,
    /// The same positions by ship id (sub-units), to interpolate a ship
    /// between two ticks.
    by_id: Vec<Option<(u16, u16)>>,
}

impl PastFrame {
    /// Where ship `id` was on this tick, if it was alive.
    #[must_use]
    pub fn position(&self, id: ShipId) -> Option<(u16, u16)> {
        self.by_id.get(usize::from(id.0)).copied().flatten()
    }
}

/// The ring of past frames, newest last. Its length is fixed at creation
/// ([`LagCompensation::frames`]: 7 at the default 200 ms and 30 Hz) so a
/// steady room allocates nothing.
#[derive(Resource, Debug)]
pub struct PastPositions {
    /// How far back shots may be judged.
    pub cap: LagCompensation,
    /// The furthest a ship moves in one tick, in units (a diagonal step
    /// is never longer than the axis step times the square root of two).
    pub tick_move: f32,
    frames: Vec<PastFrame>,
    /// Index of the newest frame in `frames` (a ring).
    newest: usize,
    /// Frames filled so far (at most `frames.len()`).
    filled: usize,
}

impl PastPositions {
    /// An empty ring for `rules`' arena. Its grid cells also cover a tick's
    /// move, because a ship interpolated between two frames is found in the
    /// earlier one's grid.
    #[must_use]
    pub fn new(rules: &Rules, cap: LagCompensation) -> PastPositions {
        let step_units = u16::try_from(
            rules
                .step_axis()
                .max(0)
                .unsigned_abs()
                .div_ceil(POS_SCALE as u32),
        )
        .unwrap_or(u16::MAX);
        let cell_units = GRID_CELL_UNITS.max(rules.hit_radius.saturating_add(step_units));
        let cell = u32::from(cell_units) * POS_SCALE as u32;
        let frame = PastFrame {
            tick: Tick(0),
            grid: Grid::new(rules.max_x(), rules.max_y(), cell),
            by_id: Vec::new(),
        };
        PastPositions {
            cap,
            tick_move: units(u16::try_from(rules.step_axis().max(0)).unwrap_or(u16::MAX))
                * std::f32::consts::SQRT_2,
            frames: vec![frame; cap.frames()],
            newest: 0,
            filled: 0,
        }
    }

    /// Whole ticks of history behind the newest frame.
    #[must_use]
    pub fn held(&self) -> u32 {
        u32::try_from(self.filled.saturating_sub(1)).unwrap_or(u32::MAX)
    }

    /// Starts the frame of `tick`, replacing the oldest; the caller adds
    /// every living ship with [`PastPositions::record`]. Does nothing when
    /// compensation is off.
    pub fn begin(&mut self, tick: Tick) {
        if self.frames.is_empty() {
            return;
        }
        self.newest = (self.newest + 1) % self.frames.len();
        self.filled = (self.filled + 1).min(self.frames.len());
        let frame = &mut self.frames[self.newest];
        frame.tick = tick;
        frame.grid.clear();
        frame.by_id.fill(None);
    }

    /// Adds a living ship to the frame begun last.
    pub fn record(&mut self, mark: ShipMark, x: u16, y: u16) {
        let Some(frame) = self.frames.get_mut(self.newest) else {
            return;
        };
        frame.grid.insert(x, y, mark);
        let index = usize::from(mark.id.0);
        if frame.by_id.len() <= index {
            frame.by_id.resize(index + 1, None);
        }
        frame.by_id[index] = Some((x, y));
    }

    /// The frame of `tick`, if it is still held.
    #[must_use]
    pub fn frame(&self, tick: Tick) -> Option<&PastFrame> {
        let newest = self.frames.get(self.newest)?;
        let back = newest.tick.0.checked_sub(tick.0)? as usize;
        if back >= self.filled {
            return None;
        }
        let len = self.frames.len();
        let frame = &self.frames[(self.newest + len - back) % len];
        (frame.tick == tick).then_some(frame)
    }
}

/// A moment in the past, `steps` 256ths of a tick before `now`: the whole
/// tick at or before it and how far past that tick (0..256).
#[must_use]
pub fn rewound(now: Tick, steps: u32) -> (Tick, u32) {
    let fixed = (u64::from(now.0) * u64::from(REWIND_STEPS)).saturating_sub(u64::from(steps));
    let tick = u32::try_from(fixed / u64::from(REWIND_STEPS)).unwrap_or(0);
    (Tick(tick), (fixed % u64::from(REWIND_STEPS)) as u32)
}

/// A ship between its positions on two ticks, `frac` 256ths of the way, in
/// arena units: the interpolation the client drew it with.
#[must_use]
pub fn between(a: (u16, u16), b: (u16, u16), frac: u32) -> (f32, f32) {
    let t = frac as f32 / REWIND_STEPS as f32;
    let lerp = |p: u16, q: u16| units(p) + (units(q) - units(p)) * t;
    (lerp(a.0, b.0), lerp(a.1, b.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(tick: u32, frac: u8) -> Option<ViewTime> {
        Some(ViewTime {
            tick: Tick(tick),
            frac,
        })
    }

    #[test]
    fn the_cap_is_in_256ths_of_a_tick_and_sizes_the_ring() {
        let rules = Rules::default();
        let cap = LagCompensation::from_ms(&rules, 200);
        assert_eq!(cap.max_rewind, 6 * 256, "200 ms at 30 Hz is 6 ticks");
        assert_eq!(cap.frames(), 7);
        assert_eq!(LagCompensation::from_ms(&rules, 250).max_rewind, 1920);
        assert_eq!(LagCompensation::from_ms(&rules, 250).frames(), 9);
        assert_eq!(LagCompensation::from_ms(&rules, 0).frames(), 0);
    }

    #[test]
    fn claims_are_clamped_to_now_the_cap_and_the_history() {
        let cap = LagCompensation {
            max_rewind: 6 * 256,
        };
        let at = |view, held| rewind_for(Tick(100), view, cap, held);
        let ok = |steps| Rewind {
            steps,
            clamped: false,
        };
        assert_eq!(at(None, 6), ok(0), "no claim: no rewind, nothing counted");
        assert_eq!(at(view(97, 128), 6), ok(640), "2.5 ticks back");
        assert_eq!(at(view(100, 0), 6), ok(0));
        assert_eq!(at(view(94, 0), 6), ok(1536), "exactly the cap");
        let clamped = |steps| Rewind {
            steps,
            clamped: true,
        };
        assert_eq!(at(view(100, 1), 6), clamped(0), "the future");
        assert_eq!(at(view(u32::MAX, 255), 6), clamped(0));
        assert_eq!(at(view(93, 255), 6), clamped(1536), "past the cap");
        assert_eq!(at(view(0, 0), 6), clamped(1536));
        assert_eq!(
            at(view(97, 0), 2),
            ok(512),
            "a young room holds two ticks: not the client's fault"
        );
        let off = LagCompensation::default();
        assert_eq!(
            rewind_for(Tick(100), view(0, 0), off, 0),
            ok(0),
            "compensation off: claims are ignored, not counted"
        );
    }

    #[test]
    fn the_ring_keeps_the_last_frames_by_tick() {
        let rules = Rules::default();
        let mut past = PastPositions::new(&rules, LagCompensation { max_rewind: 512 });
        let mark = ShipMark {
            id: ShipId(2),
            entity: Entity::from_raw_u32(2).expect("non-max index"),
        };
        for t in 1..=5u16 {
            past.begin(Tick(u32::from(t)));
            past.record(mark, 100 * t, 50);
        }
        assert_eq!(past.held(), 2, "three frames: 3, 4, 5");
        assert!(past.frame(Tick(2)).is_none());
        assert!(past.frame(Tick(6)).is_none());
        let frame = past.frame(Tick(4)).expect("held");
        assert_eq!(frame.position(ShipId(2)), Some((400, 50)));
        assert_eq!(frame.position(ShipId(1)), None);
        assert_eq!(frame.grid.near(400, 50).count(), 1);
        assert_eq!(rewound(Tick(10), 640), (Tick(7), 128));
        assert_eq!(rewound(Tick(10), 0), (Tick(10), 0));
        assert_eq!(between((0, 80), (16, 80), 128), (1.0, 10.0));
    }
}
