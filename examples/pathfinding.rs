//! Pathfinding without frame drops: many A* path queries on MovingAI grid maps, each one a
//! cooperative task that expands a bounded number of nodes per step, stepped within the
//! cooperator's default per-frame time budget while the "game" keeps running. Every found length
//! is checked against the scenario file's optimal length. The same queries are then run the
//! usual way, all at once in one frame, and both runs' frame times are printed.
//!
//! ```sh
//! cargo run --example pathfinding                          # the crate's maze and cave maps
//! cargo run --example pathfinding -- --queries 20          # the 20 shortest queries of each
//! cargo run --example pathfinding -- --map arena.map       # any MovingAI map (and arena.map.scen)
//! cargo run --example pathfinding -- --plot paths.svg      # plot both runs' frame times
//! ```
//!
//! Options: `--map PATH` (repeatable), `--scen PATH` (default: the map path plus `.scen`),
//! `--queries N` (the first N queries of each scenario file), `--expansions N` (nodes a step,
//! default 64), `--in-flight N` (queries searched at once, default 4), `--plot FILE.svg`.

#[path = "support/frames.rs"]
mod frames;
#[path = "support/grid.rs"]
#[allow(dead_code, reason = "shared with other examples that use other parts")]
mod grid;
#[path = "support/paths.rs"]
mod paths;

use std::path::PathBuf;
use std::process::ExitCode;

use bevy_app::{App, Update};
use bevy_cooperator::prelude::*;
use bevy_ecs::prelude::*;
use frames::{FrameTimes, run_frames};
use grid::AStar;
use paths::{Paths, Query, Units, default_maps, load_queries, move_units, request_paths, verify};

/// The blocking way: every query searched to its end, in this one frame.
fn find_all_paths_now(mut paths: ResMut<Paths>) {
    while let Some((number, query)) = paths.pending.pop_front() {
        let s = &query.scenario;
        let mut search = AStar::new(query.grid.clone(), s.start, s.goal);
        let length = search.run();
        paths.found.push((number, length, search.expanded()));
    }
}

struct Options {
    maps: Vec<(PathBuf, Option<PathBuf>)>,
    queries: Option<usize>,
    expansions: usize,
    in_flight: usize,
    plot: Option<String>,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        maps: Vec::new(),
        queries: None,
        expansions: 64,
        in_flight: 4,
        plot: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        let number = |v: String| v.parse::<usize>().map_err(|e| format!("{v}: {e}"));
        match arg.as_str() {
            "--map" => o.maps.push((value()?.into(), None)),
            "--scen" => match o.maps.last_mut() {
                Some((_, scen)) => *scen = Some(value()?.into()),
                None => return Err("--scen goes after the --map it is for".into()),
            },
            "--queries" => o.queries = Some(number(value()?)?),
            "--expansions" => o.expansions = number(value()?)?.max(1),
            "--in-flight" => o.in_flight = number(value()?)?.max(1),
            "--plot" => o.plot = Some(value()?),
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    if o.maps.is_empty() {
        o.maps = default_maps();
    }
    Ok(o)
}

/// Builds the game: the plugin with its default budget, the units, the path requests.
fn game(queries: &[Query], o: &Options) -> App {
    let mut app = App::new();
    app.add_plugins(CooperatorPlugin::default())
        .insert_resource(Units(vec![[0.0, 0.0]; 2_000]))
        .insert_resource(Paths::new(queries, o.in_flight, o.expansions))
        .add_systems(Update, move_units);
    app.finish();
    app.cleanup();
    app
}

/// Runs one frame before anything is asked: the game was already running (and the first
/// update builds the schedule).
fn warm_up(app: &mut App) {
    let pending = std::mem::take(&mut app.world_mut().resource_mut::<Paths>().pending);
    app.update();
    app.world_mut().resource_mut::<Paths>().pending = pending;
}

fn main() -> ExitCode {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("pathfinding: {e}");
            return ExitCode::FAILURE;
        }
    };
    let queries = match load_queries(&o.maps, o.queries) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("pathfinding: {e}");
            return ExitCode::FAILURE;
        }
    };
    let total = queries.len();

    // Cooperative: the game requests paths; each search is a task stepped within 2 ms a frame.
    let mut app = game(&queries, &o);
    app.add_systems(Update, request_paths.before(CooperatorSystems::Wake));
    warm_up(&mut app);
    let cooperative = run_frames(&mut app, "cooperative", usize::MAX, |world| {
        world.resource::<Paths>().found.len() == total
    });
    let cooperative_matched = verify("cooperative", &queries, app.world().resource::<Paths>());

    // Blocking: the same queries, all searched in one frame.
    let mut app = game(&queries, &o);
    app.add_systems(Update, find_all_paths_now);
    warm_up(&mut app);
    let blocking = run_frames(&mut app, "blocking", usize::MAX, |world| {
        world.resource::<Paths>().found.len() == total
    });
    let blocking_matched = verify("blocking", &queries, app.world().resource::<Paths>());

    report(&cooperative, &blocking);
    if let Some(path) = &o.plot {
        let title = format!(
            "{total} path queries ({} build): per-frame time",
            frames::profile()
        );
        match frames::plot(
            path,
            &title,
            &[("budget", frames::default_time_budget())],
            &[&cooperative, &blocking],
        ) {
            Ok(()) => println!("plot written to {path}"),
            Err(e) => eprintln!("pathfinding: plot: {e}"),
        }
    }
    if cooperative_matched == total && blocking_matched == total {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn report(cooperative: &FrameTimes, blocking: &FrameTimes) {
    println!("\nframe times ({} build):", frames::profile());
    println!("{}", cooperative.summary());
    println!("{}", blocking.summary());
}
