//! The area of interest: the part of the arena a player is sent ships and
//! shots of, and the camera both sides derive it from.
//!
//! The browser's camera shows [`VIEW_W`] x [`VIEW_H`] arena units centred on
//! the player's ship, slid inwards at the arena's edges so it never shows
//! beyond them. The server sends a player the ships and shots inside that
//! view widened by [`MARGIN`] on every side, computed from the player's ship
//! as it stands in the tick being sent. It is a pure function of one tick's
//! state, so the server can rebuild what a client holds at any baseline
//! without remembering per-player sets (see `docs/netcode.md`).
//!
//! `web-client/src/camera.js` mirrors [`Camera`]; the golden vector
//! `shared/vectors/interest.json` pins both. Nothing here does I/O.

use serde::{Deserialize, Serialize};

use crate::rules::{POS_SCALE, Rules};

/// Width of the camera's view, in arena units (16:10, about half the
/// 2000-unit arena: a shot's whole flight of 600 units fits across it).
pub const VIEW_W: u16 = 960;
/// Height of the camera's view, in arena units.
pub const VIEW_H: u16 = 600;
/// Arena units beyond the view on every side that a player is still sent.
/// The camera follows the predicted ship, which runs ahead of the server's
/// by a round trip, and other ships are drawn 100 ms in the past: 100 units
/// is half a second of ship flight, so a ship is known before it is seen.
pub const MARGIN: u16 = 100;

/// The rectangle a camera shows, in sub-units (`POS_SCALE` per unit),
/// edges included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Camera {
    /// Left edge.
    pub x0: i32,
    /// Top edge.
    pub y0: i32,
    /// Right edge.
    pub x1: i32,
    /// Bottom edge.
    pub y1: i32,
}

/// The centre of a view of `view` units on an axis of `arena` units
/// following `at` (sub-units): `at` itself, slid inwards so the view stays
/// inside the arena, or the arena's middle when the arena is the smaller.
fn centre(at: u16, view: u16, arena: u16) -> i32 {
    let half = i32::from(view) * POS_SCALE / 2;
    let size = i32::from(arena) * POS_SCALE;
    if size <= 2 * half {
        size / 2
    } else {
        i32::from(at).clamp(half, size - half)
    }
}

impl Camera {
    /// An area that holds no point.
    pub const NOTHING: Camera = Camera {
        x0: 0,
        y0: 0,
        x1: -1,
        y1: -1,
    };

    /// The view following a ship at `(x, y)` (sub-units).
    #[must_use]
    pub fn follow(rules: &Rules, x: u16, y: u16) -> Camera {
        let (cx, cy) = (
            centre(x, VIEW_W, rules.arena_w),
            centre(y, VIEW_H, rules.arena_h),
        );
        let (hw, hh) = (
            i32::from(VIEW_W) * POS_SCALE / 2,
            i32::from(VIEW_H) * POS_SCALE / 2,
        );
        Camera {
            x0: cx - hw,
            y0: cy - hh,
            x1: cx + hw,
            y1: cy + hh,
        }
    }

    /// The area of interest of a player whose ship is at `(x, y)`: the view
    /// widened by [`MARGIN`].
    #[must_use]
    pub fn interest(rules: &Rules, x: u16, y: u16) -> Camera {
        let view = Camera::follow(rules, x, y);
        let m = i32::from(MARGIN) * POS_SCALE;
        Camera {
            x0: view.x0 - m,
            y0: view.y0 - m,
            x1: view.x1 + m,
            y1: view.y1 + m,
        }
    }

    /// Whether a point in sub-units lies inside (edges included).
    #[must_use]
    pub fn contains(&self, x: u16, y: u16) -> bool {
        self.contains_point(i32::from(x), i32::from(y))
    }

    /// As [`Camera::contains`], for a point that may lie beyond the arena
    /// (a projectile's extrapolated position, rounded to sub-units).
    #[must_use]
    pub fn contains_point(&self, x: i32, y: i32) -> bool {
        (self.x0..=self.x1).contains(&x) && (self.y0..=self.y1).contains(&y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules::reference(30, 180, 0)
    }

    #[test]
    fn the_view_is_centred_on_the_ship_away_from_the_edges() {
        let c = Camera::follow(&rules(), 8000, 8000);
        assert_eq!((c.x0, c.y0, c.x1, c.y1), (4160, 5600, 11840, 10400));
    }

    #[test]
    fn the_view_slides_inwards_at_the_edges() {
        let c = Camera::follow(&rules(), 0, 16000);
        assert_eq!((c.x0, c.y0, c.x1, c.y1), (0, 11200, 7680, 16000));
        let i = Camera::interest(&rules(), 0, 16000);
        assert_eq!((i.x0, i.y0, i.x1, i.y1), (-800, 10400, 8480, 16800));
        assert!(i.contains(0, 16000), "the own ship is always inside");
    }

    #[test]
    fn an_arena_smaller_than_the_view_is_shown_whole() {
        let mut small = rules();
        small.arena_w = 500;
        small.arena_h = 400;
        let c = Camera::follow(&small, 0, 0);
        assert_eq!((c.x0, c.x1), (2000 - 3840, 2000 + 3840));
        assert_eq!((c.y0, c.y1), (1600 - 2400, 1600 + 2400));
    }

    #[test]
    fn edges_are_inside() {
        let i = Camera::interest(&rules(), 8000, 8000);
        assert!(i.contains(u16::try_from(i.x1).unwrap(), 8000));
        assert!(!i.contains(u16::try_from(i.x1 + 1).unwrap(), 8000));
        assert!(i.contains_point(i.x0, i.y1));
        assert!(!i.contains_point(i.x0 - 1, i.y1));
    }
}
