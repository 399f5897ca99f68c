//! Where one tick's ships or shots are, bucketed by arena cell, so an area
//! of interest reads only the cells it overlaps instead of testing every
//! ship and shot of the room for every player.
//!
//! A room of 512 ships has about 2,300 shots in flight; testing all of them
//! against each player's area, at its baseline and now, was most of the
//! per-player snapshot cost. Here a grid is built once per tick (a counting
//! sort, linear in the items) and an area query marks the items of the
//! cells it covers whole without testing them, testing only those in the
//! cells on its border. The result is a set of item indexes, which reads
//! back in index order: the id order the snapshot's merge needs.
//!
//! Pure data: nothing here does I/O or knows the protocol.

use skirmish_shared::interest::Camera;

/// Cell side in sub-units (128 arena units): an area of interest (1,160 x
/// 800 units) covers about 10 x 8 cells, half of them whole. Finer cells
/// test fewer items but cost more per cell visited: 64-unit cells measured
/// slower than these (`fan_out/512_players_interest`).
const CELL_SHIFT: u32 = 10;

/// The items of one tick (by their index in the tick's list), by cell.
#[derive(Debug)]
pub struct AreaGrid {
    cols: i32,
    rows: i32,
    /// `starts[c]..starts[c + 1]` is cell `c`'s slice of `items`.
    starts: Vec<u32>,
    /// Item indexes, ascending within each cell.
    items: Vec<u32>,
    /// Every item's point, by index, for the border cells' tests.
    points: Vec<(i32, i32)>,
}

impl AreaGrid {
    /// A grid of no item.
    pub const EMPTY: AreaGrid = AreaGrid {
        cols: 1,
        rows: 1,
        starts: Vec::new(),
        items: Vec::new(),
        points: Vec::new(),
    };

    /// Buckets `points` (sub-units, one per item, in the items' order) over
    /// an arena of `width` x `height` sub-units. Points beyond the arena
    /// (a projectile extrapolated past a wall) go to the nearest edge cell,
    /// which is therefore always tested.
    #[must_use]
    pub fn new(width: i32, height: i32, points: Vec<(i32, i32)>) -> AreaGrid {
        let cols = (width.max(0) >> CELL_SHIFT) + 1;
        let rows = (height.max(0) >> CELL_SHIFT) + 1;
        let cells: Vec<usize> = points
            .iter()
            .map(|&(x, y)| cell_of(cols, rows, x, y))
            .collect();
        let mut starts = vec![0u32; cell_count(cols, rows) + 1];
        for &c in &cells {
            starts[c + 1] += 1;
        }
        for c in 1..starts.len() {
            starts[c] += starts[c - 1];
        }
        let mut next = starts.clone();
        let mut items = vec![0; points.len()];
        for (i, &c) in cells.iter().enumerate() {
            items[next[c] as usize] = i as u32;
            next[c] += 1;
        }
        AreaGrid {
            cols,
            rows,
            starts,
            items,
            points,
        }
    }

    /// Items in the grid.
    #[must_use]
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether it holds no item.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The indexes of the items inside `area` (edges included), as a set.
    #[must_use]
    pub fn query(&self, area: Camera) -> Marks {
        let mut marks = Marks::default();
        self.query_into(area, &mut marks);
        marks
    }

    /// As [`AreaGrid::query`], into `marks` (emptied and sized for this
    /// grid's items first): the fan-out asks four times per player per
    /// tick and keeps one set for all of them.
    pub fn query_into(&self, area: Camera, marks: &mut Marks) {
        marks.reset(self.points.len());
        if area.x1 < area.x0 || area.y1 < area.y0 || self.points.is_empty() {
            return;
        }
        let (c0, c1) = (self.col(area.x0), self.col(area.x1));
        let (r0, r1) = (self.row(area.y0), self.row(area.y1));
        for row in r0..=r1 {
            let row_whole = row > 0
                && row < self.rows - 1
                && area.y0 <= row << CELL_SHIFT
                && ((row + 1) << CELL_SHIFT) - 1 <= area.y1;
            for col in c0..=c1 {
                let whole = row_whole
                    && col > 0
                    && col < self.cols - 1
                    && area.x0 <= col << CELL_SHIFT
                    && ((col + 1) << CELL_SHIFT) - 1 <= area.x1;
                let c = (row * self.cols + col) as usize;
                let cell = &self.items[self.starts[c] as usize..self.starts[c + 1] as usize];
                for &i in cell {
                    let (x, y) = self.points[i as usize];
                    if whole || area.contains_point(x, y) {
                        marks.set(i as usize);
                    }
                }
            }
        }
    }

    fn col(&self, x: i32) -> i32 {
        (x >> CELL_SHIFT).clamp(0, self.cols - 1)
    }

    fn row(&self, y: i32) -> i32 {
        (y >> CELL_SHIFT).clamp(0, self.rows - 1)
    }
}

impl Default for AreaGrid {
    fn default() -> AreaGrid {
        AreaGrid::EMPTY
    }
}

/// The cell of a point, beyond-the-arena points in the nearest edge cell.
fn cell_of(cols: i32, rows: i32, x: i32, y: i32) -> usize {
    let col = (x >> CELL_SHIFT).clamp(0, cols - 1);
    let row = (y >> CELL_SHIFT).clamp(0, rows - 1);
    (row * cols + col) as usize
}

fn cell_count(cols: i32, rows: i32) -> usize {
    usize::try_from(cols * rows).unwrap_or(0)
}

/// A set of item indexes below a fixed length.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Marks(Vec<u64>);

impl Marks {
    /// Empties the set and sizes it for indexes below `len`, keeping its
    /// allocation.
    pub fn reset(&mut self, len: usize) {
        self.0.clear();
        self.0.resize(len.div_ceil(64), 0);
    }

    /// Adds index `i` (below the set's length).
    pub fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }

    /// The indexes, ascending.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &word)| {
            let mut bits = word;
            std::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let i = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    w * 64 + i
                })
            })
        })
    }

    /// How many indexes it holds.
    #[must_use]
    pub fn count(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every query answers exactly what testing each point would, for
    /// points inside and beyond the arena and areas anywhere, empty ones
    /// included.
    fn check(width: i32, height: i32, points: Vec<(i32, i32)>, area: Camera) {
        let expected: Vec<usize> = points
            .iter()
            .enumerate()
            .filter(|(_, (x, y))| area.contains_point(*x, *y))
            .map(|(i, _)| i)
            .collect();
        let grid = AreaGrid::new(width, height, points);
        let got: Vec<usize> = grid.query(area).iter().collect();
        assert_eq!(got, expected, "{area:?}");
    }

    proptest! {
        #[test]
        fn a_query_is_the_brute_force_filter(
            width in 0i32..20_000,
            height in 0i32..20_000,
            points in prop::collection::vec((-3_000i32..23_000, -3_000i32..23_000), 0..300),
            x0 in -5_000i32..22_000,
            y0 in -5_000i32..22_000,
            w in -100i32..12_000,
            h in -100i32..12_000,
        ) {
            check(width, height, points, Camera { x0, y0, x1: x0 + w, y1: y0 + h });
        }
    }

    #[test]
    fn cell_edges_are_exact() {
        // Points on both sides of every edge of a cell-aligned area.
        let mut points = Vec::new();
        for x in [511, 512, 1023, 1024, 1535, 1536] {
            for y in [511, 512, 1023, 1024] {
                points.push((x, y));
            }
        }
        let area = Camera {
            x0: 512,
            y0: 512,
            x1: 1535,
            y1: 1023,
        };
        check(16_000, 16_000, points.clone(), area);
        check(16_000, 16_000, points, Camera::NOTHING);
    }

    #[test]
    fn marks_read_back_ascending() {
        let mut marks = Marks::default();
        marks.reset(200);
        for i in [199, 0, 64, 63, 130] {
            marks.set(i);
        }
        assert_eq!(marks.iter().collect::<Vec<_>>(), vec![0, 63, 64, 130, 199]);
        assert_eq!(marks.count(), 5);
    }
}
