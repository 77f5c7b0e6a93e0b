//! Path queries as cooperative tasks: the maps and scenario files they come from, the game's
//! requests (a few searches at a time, each a task expanding a bounded number of nodes a step),
//! and the answers checked against the scenario files' optimal lengths. Stand-in gameplay too:
//! units moving every frame.
//!
//! Shared by the `pathfinding` and `game` examples; both include `support/grid.rs` as `mod grid`.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bevy_cooperator::prelude::*;
use bevy_ecs::prelude::*;

use crate::grid::{AStar, Grid, Scenario, SearchPool, parse_scenarios};

/// One path request: a scenario on its map.
#[derive(Clone)]
pub struct Query {
    /// The map.
    pub grid: Arc<Grid>,
    /// Start, goal and optimal length.
    pub scenario: Scenario,
}

/// The game's path requests: those not asked yet, how many are being searched, the answers.
#[derive(Resource)]
pub struct Paths {
    /// Requests not asked yet, with their query numbers.
    pub pending: VecDeque<(usize, Query)>,
    /// Searches running as tasks.
    pub in_flight: usize,
    /// At most this many searches at a time.
    pub max_in_flight: usize,
    /// Nodes a search expands per step.
    pub expansions: usize,
    /// (query number, length found or `None` for no path, nodes expanded).
    pub found: Vec<(usize, Option<f64>, u64)>,
    /// The searches' buffers, reused: starting or ending a search allocates and frees nothing.
    pub pool: SearchPool,
}

impl Paths {
    /// All of `queries` pending, numbered in order.
    pub fn new(queries: &[Query], max_in_flight: usize, expansions: usize) -> Self {
        Paths {
            pending: queries.iter().cloned().enumerate().collect(),
            in_flight: 0,
            max_in_flight,
            expansions,
            found: Vec::new(),
            pool: SearchPool::default(),
        }
    }
}

/// A path query as task work: each step expands at most `expansions` nodes.
pub struct PathQuery {
    number: usize,
    search: AStar,
    expansions: usize,
}

impl Work for PathQuery {
    fn step(&mut self, cx: &mut StepContext) -> Step {
        let Some(length) = self.search.expand(self.expansions) else {
            return Step::Continue;
        };
        let mut paths = cx.world().resource_mut::<Paths>();
        paths.in_flight -= 1;
        paths
            .found
            .push((self.number, length, self.search.expanded()));
        Step::Done
    }
}

/// The game asks for paths as searches finish, at most `max_in_flight` at a time. Cheap: a
/// search prepares its buffers in its own first steps.
pub fn request_paths(mut commands: Commands, mut paths: ResMut<Paths>) {
    while paths.in_flight < paths.max_in_flight {
        let Some((number, query)) = paths.pending.pop_front() else {
            break;
        };
        paths.in_flight += 1;
        let s = &query.scenario;
        commands.cooperate(PathQuery {
            number,
            search: AStar::with_pool(query.grid.clone(), s.start, s.goal, &paths.pool),
            expansions: paths.expansions,
        });
    }
}

/// Stand-in for the rest of the game: some units moving every frame.
#[derive(Resource)]
pub struct Units(pub Vec<[f32; 2]>);

/// Moves the units a little.
pub fn move_units(mut units: ResMut<Units>) {
    for (i, unit) in units.0.iter_mut().enumerate() {
        unit[0] = (unit[0] + 0.5 + (i % 7) as f32 * 0.1) % 512.0;
        unit[1] = (unit[1] + 0.25) % 512.0;
    }
}

/// The crate's maze and cave maps, each with its scenario file next to it.
pub fn default_maps() -> Vec<(PathBuf, Option<PathBuf>)> {
    let maps = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/maps");
    ["maze512.map", "cave512.map"]
        .map(|m| (maps.join(m), None))
        .into()
}

/// Reads each map and its scenario file (default: the map's path plus `.scen`), keeping the
/// first `queries` queries of each; prints what each map holds.
pub fn load_queries(
    maps: &[(PathBuf, Option<PathBuf>)],
    queries: Option<usize>,
) -> Result<Vec<Query>, String> {
    let mut out = Vec::new();
    for (map, scen) in maps {
        let read =
            |p: &PathBuf| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
        let grid =
            Arc::new(Grid::parse(&read(map)?).map_err(|e| format!("{}: {e}", map.display()))?);
        let scen = scen.clone().unwrap_or_else(|| {
            let mut s = map.clone().into_os_string();
            s.push(".scen");
            s.into()
        });
        let mut scenarios =
            parse_scenarios(&read(&scen)?).map_err(|e| format!("{}: {e}", scen.display()))?;
        scenarios.truncate(queries.unwrap_or(usize::MAX));
        println!(
            "{}: {}x{}, {} open cells, {} queries",
            map.display(),
            grid.width,
            grid.height,
            grid.open_cells(),
            scenarios.len()
        );
        out.extend(scenarios.into_iter().map(|scenario| Query {
            grid: grid.clone(),
            scenario,
        }));
    }
    Ok(out)
}

/// Checks the answers against the scenarios; prints and returns how many matched.
pub fn verify(label: &str, queries: &[Query], paths: &Paths) -> usize {
    let mut matched = 0;
    let mut expanded = 0;
    for &(n, length, nodes) in &paths.found {
        let s = &queries[n].scenario;
        expanded += nodes;
        match length {
            Some(l) if s.matches(l) => matched += 1,
            _ => eprintln!(
                "{label}: query {n} {:?} -> {:?} on {}: found {length:?}, optimal {}",
                s.start, s.goal, s.map, s.optimal
            ),
        }
    }
    println!(
        "{label}: {matched}/{} paths match the optimal length ({expanded} nodes expanded)",
        queries.len()
    );
    matched
}
