//! Generates the crate's own grid maps and their scenario files in the MovingAI format: a maze
//! and a cave, 512 × 512, from fixed seeds, with optimal lengths computed by an exact Dijkstra
//! search. The `pathfinding` example runs them.
//!
//! ```sh
//! cargo run --release --example gen_maps              # rewrites assets/maps/
//! cargo run --release --example gen_maps -- --out DIR # somewhere else
//! cargo run --example gen_maps -- --check             # assets/maps/ is what the seeds give
//! ```

#[path = "support/grid.rs"]
#[allow(dead_code, reason = "shared with other examples that use other parts")]
mod grid;

use std::collections::VecDeque;
use std::path::PathBuf;

use grid::{Grid, Rng, Scenario, dijkstra, scenarios_to_string};

const SIZE: usize = 512;
/// Searches run from this many starts per map...
const STARTS: usize = 10;
/// ...to this many goals each, spread from near to far.
const GOALS_PER_START: usize = 10;

fn main() -> Result<(), String> {
    let mut out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/maps");
    let mut check = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => out = args.next().ok_or("--out needs a directory")?.into(),
            "--check" => check = true,
            _ => return Err(format!("unknown argument {arg:?} (--out DIR, --check)")),
        }
    }
    if !check {
        std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    }
    for (name, grid, seed) in [
        ("maze512", maze(SIZE, 2, 0x6d61_7a65), 1),
        ("cave512", cave(SIZE, 0x6361_7665), 2),
    ] {
        let map = format!("{name}.map");
        let scenarios = scenarios(&grid, &map, seed);
        let files = [
            (out.join(&map), grid.to_map_string()),
            (
                out.join(format!("{map}.scen")),
                scenarios_to_string(&grid, &scenarios),
            ),
        ];
        for (path, text) in files {
            if check {
                let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
                if on_disk.replace("\r\n", "\n") != text {
                    return Err(format!(
                        "{} differs from what gen_maps makes",
                        path.display()
                    ));
                }
            } else {
                std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            }
        }
        println!(
            "{}{}: {} open cells, {} scenarios, longest {:.2}",
            if check { "up to date: " } else { "" },
            map,
            grid.open_cells(),
            scenarios.len(),
            scenarios.iter().map(|s| s.optimal).fold(0.0, f64::max)
        );
    }
    Ok(())
}

/// A maze with corridors `corridor` cells wide and one-cell walls (depth-first carving), with a
/// few walls knocked out so that some places can be reached by more than one way.
fn maze(size: usize, corridor: usize, seed: u64) -> Grid {
    let mut rng = Rng::new(seed);
    let pitch = corridor + 1;
    let cells = (size - 1) / pitch;
    let mut grid = Grid::blocked(size, size);
    let carve = |grid: &mut Grid, x0: usize, y0: usize, w: usize, h: usize| {
        for y in y0..y0 + h {
            for x in x0..x0 + w {
                grid.set(x, y, true);
            }
        }
    };
    let origin = |c: usize| 1 + c * pitch;
    let mut seen = vec![false; cells * cells];
    let mut stack = vec![(0usize, 0usize)];
    seen[0] = true;
    carve(&mut grid, origin(0), origin(0), corridor, corridor);
    while let Some(&(cx, cy)) = stack.last() {
        let mut next = Vec::with_capacity(4);
        for (dx, dy) in [(1isize, 0isize), (-1, 0), (0, 1), (0, -1)] {
            let (nx, ny) = (cx as isize + dx, cy as isize + dy);
            if nx >= 0 && ny >= 0 && (nx as usize) < cells && (ny as usize) < cells {
                let (nx, ny) = (nx as usize, ny as usize);
                if !seen[ny * cells + nx] {
                    next.push((nx, ny));
                }
            }
        }
        if next.is_empty() {
            stack.pop();
            continue;
        }
        let (nx, ny) = next[rng.below(next.len())];
        seen[ny * cells + nx] = true;
        carve(&mut grid, origin(nx), origin(ny), corridor, corridor);
        // Open the wall between the two cells.
        let (x0, y0) = (origin(cx.min(nx)), origin(cy.min(ny)));
        if nx != cx {
            carve(&mut grid, x0 + corridor, y0, 1, corridor);
        } else {
            carve(&mut grid, x0, y0 + corridor, corridor, 1);
        }
        stack.push((nx, ny));
    }
    // Knock out 3 % of the remaining inner walls between cells.
    for cy in 0..cells {
        for cx in 0..cells {
            if cx + 1 < cells && rng.chance(0.03) {
                carve(&mut grid, origin(cx) + corridor, origin(cy), 1, corridor);
            }
            if cy + 1 < cells && rng.chance(0.03) {
                carve(&mut grid, origin(cx), origin(cy) + corridor, corridor, 1);
            }
        }
    }
    grid
}

/// A cave: random fill smoothed by a cellular automaton, then only the largest connected
/// region is kept open.
fn cave(size: usize, seed: u64) -> Grid {
    let mut rng = Rng::new(seed);
    let mut wall = vec![false; size * size];
    for y in 0..size {
        for x in 0..size {
            let border = x == 0 || y == 0 || x == size - 1 || y == size - 1;
            wall[y * size + x] = border || rng.chance(0.45);
        }
    }
    for _ in 0..5 {
        let mut next = wall.clone();
        for y in 1..size - 1 {
            for x in 1..size - 1 {
                let mut walls = 0;
                for ny in y - 1..=y + 1 {
                    for nx in x - 1..=x + 1 {
                        walls += usize::from(wall[ny * size + nx]);
                    }
                }
                next[y * size + x] = walls >= 5;
            }
        }
        wall = next;
    }
    // Largest 4-connected open region.
    let mut region = vec![u32::MAX; size * size];
    let mut best = (0, 0);
    let mut id = 0;
    for start in 0..size * size {
        if wall[start] || region[start] != u32::MAX {
            continue;
        }
        let mut count = 0;
        let mut queue = VecDeque::from([start]);
        region[start] = id;
        while let Some(i) = queue.pop_front() {
            count += 1;
            for n in [i - 1, i + 1, i - size, i + size] {
                if !wall[n] && region[n] == u32::MAX {
                    region[n] = id;
                    queue.push_back(n);
                }
            }
        }
        if count > best.1 {
            best = (id, count);
        }
        id += 1;
    }
    let mut grid = Grid::blocked(size, size);
    for y in 0..size {
        for x in 0..size {
            grid.set(x, y, region[y * size + x] == best.0);
        }
    }
    grid
}

/// Queries from random starts to goals spread over the distance range, sorted by bucket
/// (MovingAI: optimal length / 4), shortest first.
fn scenarios(grid: &Grid, map: &str, seed: u64) -> Vec<Scenario> {
    let mut rng = Rng::new(seed);
    let open: Vec<(usize, usize)> = (0..grid.height)
        .flat_map(|y| (0..grid.width).map(move |x| (x, y)))
        .filter(|&(x, y)| grid.passable(x, y))
        .collect();
    let mut out = Vec::new();
    for _ in 0..STARTS {
        let start = open[rng.below(open.len())];
        let dist = dijkstra(grid, start);
        let mut reachable: Vec<(f64, (usize, usize))> = open
            .iter()
            .map(|&(x, y)| (dist[y * grid.width + x], (x, y)))
            .filter(|(d, _)| d.is_finite() && *d > 0.0)
            .collect();
        reachable.sort_by(|a, b| a.0.total_cmp(&b.0));
        for k in 0..GOALS_PER_START {
            // One goal in each tenth of the distance-sorted cells.
            let lo = reachable.len() * k / GOALS_PER_START;
            let hi = reachable.len() * (k + 1) / GOALS_PER_START;
            let (optimal, goal) = reachable[lo + rng.below(hi - lo)];
            out.push(Scenario {
                bucket: (optimal / 4.0) as u32,
                map: map.to_string(),
                start,
                goal,
                optimal,
                tolerance: 1e-6 * optimal,
            });
        }
    }
    out.sort_by(|a, b| a.optimal.total_cmp(&b.optimal));
    out
}
