//! Grid maps and scenarios in the MovingAI benchmark format, and two searches on them: an A*
//! that runs a bounded number of node expansions at a time, and a Dijkstra for exact reference
//! lengths.
//!
//! The format (<https://movingai.com/benchmarks/formats.html>): a map is a header `type octile`,
//! `height H`, `width W`, `map`, then H rows of W cells; `.` and `G` are passable, everything else
//! (`@`, `O`, `T`, `S`, `W`) is blocked. A scenario file starts with `version 1`, then one query a
//! line, tab-separated: bucket, map, width, height, start x, start y, goal x, goal y, optimal
//! length. Moves are 8-connected, straight cost 1, diagonal cost √2, and a diagonal move may not
//! cut a blocked corner: both orthogonal neighbours must be passable.
//!
//! Shared by the `pathfinding`, `game` and `gen_maps` examples and the pathfinding test.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

const SQRT_2: f64 = std::f64::consts::SQRT_2;

/// The eight moves: (dx, dy, cost).
const MOVES: [(isize, isize, f64); 8] = [
    (1, 0, 1.0),
    (-1, 0, 1.0),
    (0, 1, 1.0),
    (0, -1, 1.0),
    (1, 1, SQRT_2),
    (1, -1, SQRT_2),
    (-1, 1, SQRT_2),
    (-1, -1, SQRT_2),
];

/// A grid map: which cells can be walked on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grid {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    passable: Vec<bool>,
}

impl Grid {
    /// A map of `width` × `height` cells, all blocked.
    pub fn blocked(width: usize, height: usize) -> Self {
        Grid {
            width,
            height,
            passable: vec![false; width * height],
        }
    }

    /// Parses a MovingAI `.map` file.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut lines = text.lines().map(str::trim_end);
        let mut width = None;
        let mut height = None;
        for line in lines.by_ref() {
            let mut words = line.split_whitespace();
            match (words.next(), words.next()) {
                (Some("type"), _) => {}
                (Some("height"), Some(h)) => height = h.parse().ok(),
                (Some("width"), Some(w)) => width = w.parse().ok(),
                (Some("map"), None) => break,
                (None, _) => {}
                _ => return Err(format!("unexpected header line {line:?}")),
            }
        }
        let (Some(width), Some(height)) = (width, height) else {
            return Err("the header lacks a width or a height".into());
        };
        let mut grid = Grid::blocked(width, height);
        for y in 0..height {
            let row = lines
                .next()
                .ok_or_else(|| format!("the map has {y} rows, the header says {height}"))?;
            if row.len() != width {
                return Err(format!("row {y} has {} cells, expected {width}", row.len()));
            }
            for (x, cell) in row.bytes().enumerate() {
                grid.passable[y * width + x] = matches!(cell, b'.' | b'G');
            }
        }
        Ok(grid)
    }

    /// The map in the MovingAI format (`.` passable, `@` blocked).
    pub fn to_map_string(&self) -> String {
        let mut out = format!(
            "type octile\nheight {}\nwidth {}\nmap\n",
            self.height, self.width
        );
        for y in 0..self.height {
            for x in 0..self.width {
                out.push(if self.passable(x, y) { '.' } else { '@' });
            }
            out.push('\n');
        }
        out
    }

    /// Whether (x, y) is inside the map and passable.
    pub fn passable(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.height && self.passable[y * self.width + x]
    }

    /// Makes (x, y) passable or blocked.
    pub fn set(&mut self, x: usize, y: usize, passable: bool) {
        self.passable[y * self.width + x] = passable;
    }

    /// Number of passable cells.
    pub fn open_cells(&self) -> usize {
        self.passable.iter().filter(|p| **p).count()
    }

    /// Calls `f(neighbour index, cost)` for every legal move from cell `index`.
    #[inline]
    fn for_each_move(&self, index: usize, mut f: impl FnMut(usize, f64)) {
        let (x, y) = ((index % self.width) as isize, (index / self.width) as isize);
        let open = |x: isize, y: isize| x >= 0 && y >= 0 && self.passable(x as usize, y as usize);
        for (dx, dy, cost) in MOVES {
            let (nx, ny) = (x + dx, y + dy);
            // A diagonal move needs both orthogonal neighbours free: no corner cutting.
            if open(nx, ny) && (dx == 0 || dy == 0 || (open(nx, y) && open(x, ny))) {
                f(ny as usize * self.width + nx as usize, cost);
            }
        }
    }
}

/// The octile distance: the exact length of a path on an empty map.
#[inline]
pub fn octile(ax: usize, ay: usize, bx: usize, by: usize) -> f64 {
    let dx = ax.abs_diff(bx) as f64;
    let dy = ay.abs_diff(by) as f64;
    dx.max(dy) + (SQRT_2 - 1.0) * dx.min(dy)
}

/// One path query of a scenario file.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// The difficulty bucket (MovingAI: optimal length / 4).
    pub bucket: u32,
    /// The map file the query is for, as written in the scenario file.
    pub map: String,
    /// Start cell.
    pub start: (usize, usize),
    /// Goal cell.
    pub goal: (usize, usize),
    /// The optimal length as published.
    pub optimal: f64,
    /// How far a found length may be from `optimal`: the published rounding, at least 1e-6
    /// relative.
    pub tolerance: f64,
}

impl Scenario {
    /// Whether `length` is this query's optimal length.
    pub fn matches(&self, length: f64) -> bool {
        (length - self.optimal).abs() <= self.tolerance
    }
}

/// Parses a MovingAI `.scen` file.
pub fn parse_scenarios(text: &str) -> Result<Vec<Scenario>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with("version") {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != 9 {
            return Err(format!("line {}: expected 9 tab-separated fields", n + 1));
        }
        let num = |i: usize| -> Result<usize, String> {
            fields[i]
                .parse()
                .map_err(|e| format!("line {}, field {}: {e}", n + 1, i + 1))
        };
        let optimal: f64 = fields[8]
            .parse()
            .map_err(|e| format!("line {}: optimal length: {e}", n + 1))?;
        // A length printed with d decimals is within half a unit of its last digit.
        let decimals = fields[8].split_once('.').map_or(0, |(_, f)| f.len()) as i32;
        let rounding = 0.5 * 10f64.powi(-decimals) + 1e-9;
        out.push(Scenario {
            bucket: num(0)? as u32,
            map: fields[1].to_string(),
            start: (num(4)?, num(5)?),
            goal: (num(6)?, num(7)?),
            optimal,
            tolerance: rounding.max(1e-6 * optimal),
        });
    }
    Ok(out)
}

/// Writes a scenario file for `grid` (map name `map`), lengths with 8 decimals.
pub fn scenarios_to_string(grid: &Grid, scenarios: &[Scenario]) -> String {
    let mut out = String::from("version 1\n");
    for s in scenarios {
        let _ = writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:.8}",
            s.bucket,
            s.map,
            grid.width,
            grid.height,
            s.start.0,
            s.start.1,
            s.goal.0,
            s.goal.1,
            s.optimal
        );
    }
    out
}

/// An open-list entry, ordered for a min-heap on `f`, ties to the larger `g`.
#[derive(Clone, Copy, Debug)]
struct Open {
    f: f64,
    g: f64,
    index: u32,
}

impl PartialEq for Open {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Open {}
impl PartialOrd for Open {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Open {
    fn cmp(&self, other: &Self) -> Ordering {
        other.f.total_cmp(&self.f).then(self.g.total_cmp(&other.g))
    }
}

/// Cells a search prepares (makes its per-cell arrays cover) per node expansion it is allowed:
/// a step of 64 expansions prepares 4,096 cells (48 KB), so no step pays for a whole map.
const PREPARE_CELLS_PER_EXPANSION: usize = 64;

/// The per-cell arrays of a search and its open list, kept in a [`SearchPool`] between searches
/// so that a search starts without allocating, zeroing or page-faulting a map's worth of memory,
/// and ends without freeing it.
///
/// A cell's marks are stamped with the search's generation, so a reused buffer needs no
/// clearing: a mark from an older search reads as "not reached".
#[derive(Default)]
pub struct SearchBuffers {
    /// Best known cost to reach each cell; valid where the cell's mark is of this generation.
    g: Vec<f64>,
    /// `2 × generation` when reached (on the open list), `2 × generation + 1` when closed;
    /// anything smaller: not reached by this search.
    mark: Vec<u32>,
    /// The search's generation (1 and up).
    generation: u32,
    open: BinaryHeap<Open>,
}

impl SearchBuffers {
    /// Begins a new search: a new generation, an empty open list (both O(1)). `cells` is the new
    /// map's size: arrays too small for it are replaced by empty ones with room for it (the
    /// per-cell ones filled a bounded piece at a time by [`SearchBuffers::prepare`]).
    fn begin(&mut self, cells: usize) {
        self.open.clear();
        if self.open.capacity() < cells {
            // Room for a map's worth of open nodes up front (memory only touched as it is
            // used), so a growing open list is not copied inside a step; it rarely holds more.
            self.open = BinaryHeap::with_capacity(cells);
        }
        if self.mark.capacity() < cells {
            (self.g, self.mark) = (Vec::with_capacity(cells), Vec::with_capacity(cells));
            self.generation = 0;
        }
        self.generation += 1;
        if self.generation > u32::MAX / 2 - 1 {
            // Every mark could be mistaken for this generation's: start over from zero marks.
            self.mark.clear();
            self.g.clear();
            self.generation = 1;
        }
    }

    /// Makes the arrays cover at least `cells` cells, filling at most `most` more. `true` once
    /// they do.
    fn prepare(&mut self, cells: usize, most: usize) -> bool {
        let len = self.mark.len();
        if len < cells {
            let to = len + (cells - len).min(most.max(1));
            self.mark.resize(to, 0);
            self.g.resize(to, 0.0);
        }
        self.mark.len() >= cells
    }
}

/// Search buffers for reuse, shared by the searches of a game (on any thread).
#[derive(Clone, Default)]
pub struct SearchPool(Arc<Mutex<Vec<SearchBuffers>>>);

impl SearchPool {
    /// A buffer to search with: a kept one, or a new empty one.
    fn take(&self) -> SearchBuffers {
        self.lock().pop().unwrap_or_default()
    }

    /// Keeps `buffers` for the next search.
    fn give(&self, buffers: SearchBuffers) {
        self.lock().push(buffers);
    }

    /// The kept buffers (a search that panicked while holding the lock poisons nothing kept).
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<SearchBuffers>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Where a search is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Created: holds no buffers yet.
    New,
    /// Filling its buffers to cover the map, a bounded piece per [`AStar::expand`].
    Preparing,
    /// Searching.
    Searching,
    /// Over: the answer is in `result` (and the buffers are back in the pool, if it has one).
    Over,
}

/// A* with the octile heuristic, resumable: [`AStar::expand`] runs a bounded number of node
/// expansions and returns the answer once the search is over.
///
/// Creating one is cheap (no allocation): its per-cell arrays are taken from a [`SearchPool`]
/// (or allocated) and made to cover the map inside its first calls to `expand`, a bounded piece
/// each, and given back to the pool when the search ends.
pub struct AStar {
    grid: Arc<Grid>,
    start: (usize, usize),
    goal: (usize, usize),
    buffers: SearchBuffers,
    pool: Option<SearchPool>,
    phase: Phase,
    expanded: u64,
    result: Option<Option<f64>>,
}

impl AStar {
    /// A search from `start` to `goal` on `grid`, with buffers of its own.
    pub fn new(grid: Arc<Grid>, start: (usize, usize), goal: (usize, usize)) -> Self {
        let mut search = AStar {
            grid,
            start,
            goal,
            buffers: SearchBuffers::default(),
            pool: None,
            phase: Phase::New,
            expanded: 0,
            result: None,
        };
        if !search.grid.passable(start.0, start.1) || !search.grid.passable(goal.0, goal.1) {
            search.result = Some(None);
            search.phase = Phase::Over;
        }
        search
    }

    /// A search from `start` to `goal` on `grid` whose buffers come from `pool` and go back to
    /// it when the search ends.
    pub fn with_pool(
        grid: Arc<Grid>,
        start: (usize, usize),
        goal: (usize, usize),
        pool: &SearchPool,
    ) -> Self {
        AStar {
            pool: Some(pool.clone()),
            ..AStar::new(grid, start, goal)
        }
    }

    /// Nodes expanded so far.
    pub fn expanded(&self) -> u64 {
        self.expanded
    }

    /// Expands at most `max` nodes (while the search is still preparing its buffers: fills at
    /// most `max` × 64 cells of them instead). `Some(Some(length))` when the goal was reached,
    /// `Some(None)` when it cannot be, `None` while the search goes on.
    pub fn expand(&mut self, max: usize) -> Option<Option<f64>> {
        let cells = self.grid.width * self.grid.height;
        if self.phase == Phase::New {
            if let Some(pool) = &self.pool {
                self.buffers = pool.take();
            }
            self.buffers.begin(cells);
            self.phase = Phase::Preparing;
        }
        if self.phase == Phase::Preparing {
            let most = max.saturating_mul(PREPARE_CELLS_PER_EXPANSION);
            if !self.buffers.prepare(cells, most) {
                return None;
            }
            let index = self.start.1 * self.grid.width + self.start.0;
            let b = &mut self.buffers;
            b.mark[index] = 2 * b.generation;
            b.g[index] = 0.0;
            b.open.push(Open {
                f: octile(self.start.0, self.start.1, self.goal.0, self.goal.1),
                g: 0.0,
                index: index as u32,
            });
            self.phase = Phase::Searching;
            // The preparing call did its share of work: the search starts with the next.
            return None;
        }
        if self.phase == Phase::Over {
            return self.result;
        }
        let result = self.search(max)?;
        self.result = Some(result);
        self.phase = Phase::Over;
        if let Some(pool) = &self.pool {
            pool.give(std::mem::take(&mut self.buffers));
        }
        self.result
    }

    /// The search proper: at most `max` expansions.
    fn search(&mut self, max: usize) -> Option<Option<f64>> {
        let width = self.grid.width;
        let goal = self.goal.1 * width + self.goal.0;
        let (reached, closed) = (2 * self.buffers.generation, 2 * self.buffers.generation + 1);
        let SearchBuffers { g, mark, open, .. } = &mut self.buffers;
        for _ in 0..max {
            let Some(node) = open.pop() else {
                return Some(None);
            };
            let index = node.index as usize;
            if mark[index] == closed {
                continue;
            }
            if index == goal {
                return Some(Some(node.g));
            }
            mark[index] = closed;
            self.expanded += 1;
            let (gx, gy) = self.goal;
            self.grid.for_each_move(index, |next, cost| {
                let m = mark[next];
                if m == closed {
                    return;
                }
                let cost = node.g + cost;
                if m != reached || cost < g[next] {
                    mark[next] = reached;
                    g[next] = cost;
                    let f = cost + octile(next % width, next / width, gx, gy);
                    open.push(Open {
                        f,
                        g: cost,
                        index: next as u32,
                    });
                }
            });
        }
        None
    }

    /// Runs the search to its end.
    pub fn run(&mut self) -> Option<f64> {
        loop {
            if let Some(result) = self.expand(usize::MAX) {
                return result;
            }
        }
    }
}

/// Exact shortest-path lengths from `start` to every cell (Dijkstra; `INFINITY` where
/// unreachable). The reference the scenario files' optimal lengths come from.
pub fn dijkstra(grid: &Grid, start: (usize, usize)) -> Vec<f64> {
    let mut dist = vec![f64::INFINITY; grid.width * grid.height];
    if !grid.passable(start.0, start.1) {
        return dist;
    }
    let mut open = BinaryHeap::new();
    let index = start.1 * grid.width + start.0;
    dist[index] = 0.0;
    open.push(Open {
        f: 0.0,
        g: 0.0,
        index: index as u32,
    });
    while let Some(node) = open.pop() {
        let index = node.index as usize;
        if node.g > dist[index] {
            continue;
        }
        grid.for_each_move(index, |next, cost| {
            let g = node.g + cost;
            if g < dist[next] {
                dist[next] = g;
                open.push(Open {
                    f: g,
                    g,
                    index: next as u32,
                });
            }
        });
    }
    dist
}

/// A small deterministic random number generator (SplitMix64), so generated assets are the
/// same on every machine.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}
