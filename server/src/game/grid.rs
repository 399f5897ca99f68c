//! A uniform spatial grid over the arena, in wire sub-units. Rebuilt from
//! scratch every tick (clearing keeps each cell's capacity, so a steady room
//! allocates nothing) and queried by 3x3 cell neighbourhoods.
//!
//! Pure data structure: it knows positions and opaque items, never ships,
//! rules or the `World`. A neighbourhood query covers every point within one
//! cell size of the query point, so callers must pick a cell at least as
//! large as the radius they test.

/// One stored point and its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GridEntry<T> {
    /// x in sub-units.
    pub x: u16,
    /// y in sub-units.
    pub y: u16,
    /// The caller's payload.
    pub item: T,
}

/// Points bucketed into square cells.
#[derive(Clone, Debug)]
pub struct Grid<T> {
    /// Cell side in sub-units (at least 1).
    cell: u32,
    cols: u32,
    rows: u32,
    cells: Vec<Vec<GridEntry<T>>>,
    len: usize,
}

impl<T: Copy> Grid<T> {
    /// A grid covering `0..=max_x` by `0..=max_y` sub-units with square cells
    /// of `cell` sub-units.
    #[must_use]
    pub fn new(max_x: u16, max_y: u16, cell: u32) -> Grid<T> {
        let cell = cell.max(1);
        let cols = u32::from(max_x) / cell + 1;
        let rows = u32::from(max_y) / cell + 1;
        let count = (cols * rows) as usize;
        Grid {
            cell,
            cols,
            rows,
            cells: (0..count).map(|_| Vec::new()).collect(),
            len: 0,
        }
    }

    /// Empties every cell, keeping their allocations for the next rebuild.
    pub fn clear(&mut self) {
        if self.len == 0 {
            return;
        }
        for cell in &mut self.cells {
            cell.clear();
        }
        self.len = 0;
    }

    /// Number of stored points.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is stored.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Stores `item` at `(x, y)`; points beyond the covered area go to the
    /// nearest edge cell rather than being lost.
    pub fn insert(&mut self, x: u16, y: u16, item: T) {
        let (cx, cy) = self.cell_of(i64::from(x), i64::from(y));
        let index = self.index(cx, cy);
        self.cells[index].push(GridEntry { x, y, item });
        self.len += 1;
    }

    /// Every entry in the 3x3 cells around the cell holding `(x, y)`
    /// (sub-units; out-of-range points use the nearest edge cell). Order is
    /// by cell then insertion: callers that pick among entries must break
    /// ties themselves.
    pub fn near(&self, x: i64, y: i64) -> impl Iterator<Item = &GridEntry<T>> + '_ {
        let (cx, cy) = self.cell_of(x, y);
        let (x0, x1) = (cx.saturating_sub(1), (cx + 1).min(self.cols - 1));
        let (y0, y1) = (cy.saturating_sub(1), (cy + 1).min(self.rows - 1));
        (y0..=y1).flat_map(move |row| {
            (x0..=x1).flat_map(move |col| self.cells[self.index(col, row)].iter())
        })
    }

    fn cell_of(&self, x: i64, y: i64) -> (u32, u32) {
        let clamp = |v: i64, n: u32| -> u32 {
            let c = v.max(0) / i64::from(self.cell);
            // Clamped into 0..n, which came from a u32.
            c.min(i64::from(n) - 1) as u32
        };
        (clamp(x, self.cols), clamp(y, self.rows))
    }

    fn index(&self, col: u32, row: u32) -> usize {
        (row * self.cols + col) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted_near(grid: &Grid<u32>, x: i64, y: i64) -> Vec<u32> {
        let mut items: Vec<u32> = grid.near(x, y).map(|e| e.item).collect();
        items.sort_unstable();
        items
    }

    #[test]
    fn dimensions_cover_the_inclusive_arena() {
        let grid: Grid<u32> = Grid::new(16000, 16000, 800);
        assert_eq!((grid.cols, grid.rows), (21, 21), "16000 / 800 + 1 cells");
        let tiny: Grid<u32> = Grid::new(10, 10, 0);
        assert_eq!(tiny.cell, 1, "a zero cell size is raised to 1");
    }

    #[test]
    fn near_returns_exactly_the_three_by_three_cells() {
        let mut grid = Grid::new(16000, 16000, 800);
        // One point in the middle of each of the 5x5 cells around cell (10, 10).
        let mut n = 0;
        for row in 8..=12u16 {
            for col in 8..=12u16 {
                grid.insert(col * 800 + 400, row * 800 + 400, u32::from(row * 100 + col));
                n += 1;
            }
        }
        assert_eq!(grid.len(), n);
        let got = sorted_near(&grid, 10 * 800 + 10, 10 * 800 + 790);
        assert_eq!(got, vec![909, 910, 911, 1009, 1010, 1011, 1109, 1110, 1111]);
    }

    #[test]
    fn edges_clamp_instead_of_wrapping() {
        let mut grid = Grid::new(16000, 16000, 800);
        grid.insert(0, 0, 1);
        grid.insert(16000, 16000, 2);
        grid.insert(1700, 0, 3); // cell (2, 0): outside the corner's 3x3
        assert_eq!(sorted_near(&grid, 0, 0), vec![1]);
        assert_eq!(
            sorted_near(&grid, -500, -500),
            vec![1],
            "negative points use cell 0"
        );
        assert_eq!(sorted_near(&grid, 16000, 16000), vec![2]);
        assert_eq!(sorted_near(&grid, 99_999, 99_999), vec![2]);
        assert_eq!(sorted_near(&grid, 1599, 0), vec![1, 3]);
        assert_eq!(
            sorted_near(&grid, 1600, 0),
            vec![3],
            "cell 2 no longer sees cell 0"
        );
    }

    #[test]
    fn a_neighbourhood_covers_one_cell_size_around_the_point() {
        let mut grid = Grid::new(16000, 16000, 800);
        // Points exactly one cell size away on every side of a cell corner.
        let (x, y) = (4000i64, 4000i64);
        for (i, (dx, dy)) in [(-800, 0), (800, 0), (0, -800), (0, 800), (-799, -799)]
            .into_iter()
            .enumerate()
        {
            grid.insert((x + dx) as u16, (y + dy) as u16, i as u32);
        }
        assert_eq!(sorted_near(&grid, x, y), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn clear_empties_and_keeps_working() {
        let mut grid = Grid::new(16000, 16000, 800);
        grid.insert(100, 100, 7);
        grid.clear();
        assert!(grid.is_empty());
        assert_eq!(sorted_near(&grid, 100, 100), Vec::<u32>::new());
        grid.insert(100, 100, 8);
        assert_eq!(sorted_near(&grid, 100, 100), vec![8]);
    }
}
