//! The pathfinding example's search finds the published optimal lengths: on the crate's own maps
//! always, and on the MovingAI `arena` benchmark map when it is present beside the crate.

#[path = "../../examples/support/grid.rs"]
#[allow(dead_code, reason = "the examples use other parts of the support code")]
mod grid;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bevy_cooperator::*;
use grid::{AStar, Grid, Scenario, dijkstra, parse_scenarios};

fn crate_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load(map: &Path) -> (Arc<Grid>, Vec<Scenario>) {
    let text = std::fs::read_to_string(map).unwrap_or_else(|e| panic!("{}: {e}", map.display()));
    let grid = Grid::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", map.display()));
    let mut scen = map.as_os_str().to_owned();
    scen.push(".scen");
    let text = std::fs::read_to_string(&scen).unwrap();
    let scenarios = parse_scenarios(&text).unwrap();
    assert!(!scenarios.is_empty(), "{} has no scenarios", map.display());
    (Arc::new(grid), scenarios)
}

/// Runs A* on every `stride`-th scenario and returns how many were checked.
fn check(map: &Path, stride: usize) -> usize {
    let (grid, scenarios) = load(map);
    let mut checked = 0;
    for (n, s) in scenarios.iter().enumerate().step_by(stride) {
        let found = AStar::new(grid.clone(), s.start, s.goal).run();
        let found = found.unwrap_or_else(|| panic!("{}: query {n} found no path", map.display()));
        assert!(
            s.matches(found),
            "{}: query {n} {:?} -> {:?}: found {found}, optimal {}",
            map.display(),
            s.start,
            s.goal,
            s.optimal
        );
        checked += 1;
    }
    checked
}

#[test]
fn own_maps_optimal_lengths_are_found() {
    for name in ["maze512", "cave512"] {
        let map = crate_root().join(format!("assets/maps/{name}.map"));
        let (grid, _) = load(&map);
        assert!(
            grid.width >= 512 && grid.height >= 512,
            "{name} is too small"
        );
        assert_eq!(check(&map, 1), 100, "{name}: every query is checked");
    }
}

#[test]
fn own_maps_scenarios_hold_exact_lengths() {
    // The scenario files' lengths are what an exact search computes (first query of each map).
    for name in ["maze512", "cave512"] {
        let (grid, scenarios) = load(&crate_root().join(format!("assets/maps/{name}.map")));
        let s = &scenarios[scenarios.len() / 2];
        let dist = dijkstra(&grid, s.start);
        let exact = dist[s.goal.1 * grid.width + s.goal.0];
        assert!(
            s.matches(exact),
            "{name}: file says {}, exact {exact}",
            s.optimal
        );
    }
}

#[test]
fn arena_benchmark_optimal_lengths_are_found_when_present() {
    let map = crate_root().join("../shared/data/movingai/arena.map");
    if !map.exists() {
        eprintln!(
            "{} not present; the crate's own maps are checked",
            map.display()
        );
        own_maps_optimal_lengths_are_found();
        return;
    }
    let (_, scenarios) = load(&map);
    assert_eq!(check(&map, 1), scenarios.len());
}

#[test]
fn queries_run_as_cooperative_tasks_with_bounded_steps() {
    // Each query is a task expanding at most 16 nodes a step; 8 steps a frame.
    let map = crate_root().join("assets/maps/cave512.map");
    let (grid, scenarios) = load(&map);
    let mut app = crate::common::app_with(Budget::Steps(8));
    let found = Arc::new(Mutex::new(Vec::new()));
    for (n, s) in scenarios.iter().take(5).enumerate() {
        let mut search = AStar::new(grid.clone(), s.start, s.goal);
        let found = found.clone();
        app.world_mut()
            .cooperate(from_fn(move |_: &mut StepContext| {
                match search.expand(16) {
                    None => Step::Continue,
                    Some(length) => {
                        found.lock().unwrap().push((n, length));
                        Step::Done
                    }
                }
            }));
    }
    let mut frames = 0;
    while found.lock().unwrap().len() < 5 {
        app.update();
        frames += 1;
        assert!(frames < 100_000, "queries never finished");
    }
    assert!(frames > 1, "the work was spread over frames");
    for (n, length) in found.lock().unwrap().iter() {
        let s = &scenarios[*n];
        assert!(
            s.matches(length.unwrap()),
            "query {n}: {length:?} vs {}",
            s.optimal
        );
    }
}
