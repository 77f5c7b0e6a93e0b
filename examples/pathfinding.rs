//! Pathfinding without frame drops: many A* path queries on MovingAI grid maps, each one a
//! cooperative task that expands a bounded number of nodes per step, stepped within the
//! cooperator's default per-frame time budget while the "game" keeps running. Every found length
//! is checked against the scenario file's optimal length. With the `parallel` feature the same
//! queries run again as world-free tasks on a parallel cooperator, with the same 2 ms budget on
//! every thread of the compute pool. The same queries are then run the usual way, all at once in
//! one frame, and every run's frame times are printed.
//!
//! All of a query's work is inside its own steps: starting one only spawns its task, its search
//! buffers come from a pool (stamped by generation, so a reused one needs no clearing), a new
//! buffer is filled a bounded piece per step in the search's first steps, and a finished search
//! gives its buffers back instead of freeing them. So the systems that run every frame outside
//! the cooperator take microseconds, and a frame is the budget, plus at most one step past it,
//! plus the game's own work.
//!
//! For each run it prints p50 / p99 / max of the frames' wall time and of the main thread's CPU
//! time, then how many frames took longer than budget + one step (the longest step the
//! cooperator timed) + the game's own work (the longest of 30 idle frames before the queries),
//! how many of those kept their core (CPU time ≥ 90% of wall time; the others were slow because
//! the operating system took the thread off its core, not for work done) and the longest frame
//! that kept its core. The parallel run's main thread waits on the pool threads, whose CPU time
//! it does not count: few of its frames pass as having kept their core.
//!
//! ```sh
//! cargo run --example pathfinding                          # the crate's maze and cave maps
//! cargo run --example pathfinding -- --queries 20          # the 20 shortest queries of each
//! cargo run --example pathfinding -- --map arena.map       # any MovingAI map (and arena.map.scen)
//! cargo run --example pathfinding -- --plot paths.svg      # plot the runs' frame times
//! cargo run --release --features parallel --example pathfinding  # and the parallel run
//! ```
//!
//! Options: `--map PATH` (repeatable), `--scen PATH` (default: the map path plus `.scen`),
//! `--queries N` (the first N queries of each scenario file), `--expansions N` (nodes a step,
//! default 64), `--in-flight N` (queries searched at once, default 4), `--plot FILE.svg`,
//! `--threads N` (compute pool threads for the parallel run; default: one per core).

#[path = "support/frames.rs"]
mod frames;
#[path = "support/grid.rs"]
#[allow(dead_code, reason = "shared with other examples that use other parts")]
mod grid;
#[path = "support/paths.rs"]
mod paths;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bevy_app::{App, Update};
use bevy_cooperator::prelude::*;
use bevy_ecs::prelude::*;
use frames::{FrameTimes, run_frames};
use grid::AStar;
use paths::{Paths, Query, Units, default_maps, load_queries, move_units, request_paths, verify};

/// The parallel way: a path query as world-free work, searched on any thread of the parallel
/// cooperator. It cannot reach `Paths`; it leaves its answer in `Answers`, which the game reads
/// on the main thread.
#[cfg(feature = "parallel")]
struct ParallelPathQuery {
    number: usize,
    search: AStar,
    expansions: usize,
    answers: Answers,
}

/// One answer: (query number, length found or `None` for no path, nodes expanded).
#[cfg(feature = "parallel")]
type Answer = (usize, Option<f64>, u64);

/// Answers of world-free searches, waiting for the game to read them.
#[cfg(feature = "parallel")]
#[derive(Resource, Clone, Default)]
struct Answers(std::sync::Arc<std::sync::Mutex<Vec<Answer>>>);

/// The parallel cooperator's entity.
#[cfg(feature = "parallel")]
#[derive(Resource)]
struct PathCooperator(Entity);

#[cfg(feature = "parallel")]
impl bevy_cooperator::ParallelWork for ParallelPathQuery {
    fn step(&mut self, _cx: &mut bevy_cooperator::ParallelContext) -> Step {
        let Some(length) = self.search.expand(self.expansions) else {
            return Step::Continue;
        };
        let answer = (self.number, length, self.search.expanded());
        self.answers.0.lock().unwrap().push(answer);
        Step::Done
    }
}

/// The game reads the parallel searches' answers and asks for more paths, on the parallel
/// cooperator.
#[cfg(feature = "parallel")]
fn request_paths_in_parallel(
    mut commands: Commands,
    mut paths: ResMut<Paths>,
    answers: Res<Answers>,
    coop: Res<PathCooperator>,
) {
    for answer in answers.0.lock().unwrap().drain(..) {
        paths.in_flight -= 1;
        paths.found.push(answer);
    }
    while paths.in_flight < paths.max_in_flight {
        let Some((number, query)) = paths.pending.pop_front() else {
            break;
        };
        paths.in_flight += 1;
        let s = &query.scenario;
        commands.cooperate_on(
            coop.0,
            bevy_cooperator::parallel(ParallelPathQuery {
                number,
                search: AStar::with_pool(query.grid.clone(), s.start, s.goal, &paths.pool),
                expansions: paths.expansions,
                answers: answers.clone(),
            }),
        );
    }
}

/// The blocking way: every query searched to its end, in this one frame.
fn find_all_paths_now(mut paths: ResMut<Paths>) {
    while let Some((number, query)) = paths.pending.pop_front() {
        let s = &query.scenario;
        let mut search = AStar::with_pool(query.grid.clone(), s.start, s.goal, &paths.pool);
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
    #[cfg_attr(not(feature = "parallel"), allow(dead_code))]
    threads: Option<usize>,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        maps: Vec::new(),
        queries: None,
        expansions: 64,
        in_flight: 4,
        plot: None,
        threads: None,
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
            "--threads" => o.threads = Some(number(value()?)?.max(1)),
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

/// Frames the game runs before anything is asked: the game was already running (and the first
/// update builds the schedule). They also measure the game's own work, a frame with no search.
const IDLE_FRAMES: usize = 30;

/// Runs the idle frames; returns the game's own work: the longest of them that kept its core
/// (or the median, when CPU time is not measured), leaving out the first, which builds the
/// schedule.
fn warm_up(app: &mut App) -> Duration {
    let pending = std::mem::take(&mut app.world_mut().resource_mut::<Paths>().pending);
    let idle = run_frames(app, "idle", IDLE_FRAMES, |_| false);
    app.world_mut().resource_mut::<Paths>().pending = pending;
    (1..idle.frames())
        .filter(|&i| idle.kept_core(i))
        .map(|i| idle.times[i])
        .max()
        .unwrap_or_else(|| idle.percentile(50))
}

/// The longest step the cooperator `coop` timed on its own in its last tick (zero when none).
fn longest_step(world: &World, coop: Entity) -> Duration {
    world
        .get::<Cooperator>(coop)
        .and_then(|c| c.stats().longest_step)
        .map_or(Duration::ZERO, |(_, d)| d)
}

/// What a run's frames are held to: the budget, plus one step (the longest the cooperator timed
/// in a frame that kept its core), plus the game's own work.
struct Bound {
    step: Duration,
    game: Duration,
    /// Printed under the figures.
    note: &'static str,
}

impl Bound {
    /// From the longest step of each frame of `run`.
    fn new(run: &FrameTimes, steps: &[Duration], game: Duration) -> Self {
        let step = (0..run.frames().min(steps.len()))
            .filter(|&i| run.kept_core(i))
            .map(|i| steps[i])
            .max()
            .unwrap_or_default();
        Bound {
            step,
            game,
            note: "",
        }
    }

    fn total(&self) -> Duration {
        frames::default_time_budget() + self.step + self.game
    }

    /// The bound and how the run's frames kept it.
    fn report(&self, run: &FrameTimes) -> String {
        let mut report = format!(
            "{}\n{:<12} (bound = budget {} + one step {} + the game's own work {})",
            run.over(self.total()),
            "",
            frames::ms(frames::default_time_budget()),
            frames::ms(self.step),
            frames::ms(self.game),
        );
        if !self.note.is_empty() {
            report += &format!("\n{:<12} ({})", "", self.note);
        }
        report
    }
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
    let game_work = warm_up(&mut app);
    let global = app.world().resource::<GlobalCooperator>().0;
    let mut steps = Vec::new();
    let cooperative = run_frames(&mut app, "cooperative", usize::MAX, |world| {
        steps.push(longest_step(world, global));
        world.resource::<Paths>().found.len() == total
    });
    #[cfg_attr(not(feature = "parallel"), allow(unused_mut))]
    let mut bounds = vec![Bound::new(&cooperative, &steps, game_work)];
    let cooperative_matched = verify("cooperative", &queries, app.world().resource::<Paths>());

    // Parallel: the same queries as world-free tasks on a parallel cooperator, 2 ms a frame on
    // every thread of the compute pool.
    #[cfg(feature = "parallel")]
    let parallel = {
        use bevy_tasks::{ComputeTaskPool, TaskPoolBuilder};
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = o.threads.unwrap_or(cores);
        let pool =
            ComputeTaskPool::get_or_init(|| TaskPoolBuilder::new().num_threads(threads).build());
        println!("parallel: {} compute pool thread(s)", pool.thread_num());
        let mut app = game(&queries, &o);
        let coop = app
            .world_mut()
            .spawn(Cooperator::new(Budget::default()).parallel())
            .id();
        app.insert_resource(PathCooperator(coop))
            .init_resource::<Answers>()
            .add_systems(
                Update,
                request_paths_in_parallel.before(CooperatorSystems::Wake),
            );
        let game_work = warm_up(&mut app);
        let (mut ticks, mut late, mut steps) = (Vec::new(), Duration::ZERO, Vec::new());
        let run = run_frames(&mut app, "parallel", usize::MAX, |world| {
            steps.push(longest_step(world, coop));
            if let Some(stats) = world.get::<Cooperator>(coop).map(Cooperator::stats) {
                ticks.extend(stats.last_tick_time);
                late = late.max(stats.last_tick_thread_overshoot.unwrap_or_default());
            }
            world.resource::<Paths>().found.len() == total
        });
        bounds.push(Bound {
            note: "the main thread waits on the pool threads and counts none of their CPU time",
            ..Bound::new(&run, &steps, game_work)
        });
        let matched = verify("parallel", &queries, app.world().resource::<Paths>());
        let stats = app.world().get::<Cooperator>(coop).unwrap().stats();
        ticks.sort_unstable();
        println!(
            "parallel: {} steps in {} ticks; longest tick {} (budget {}); the latest thread \
             ended {} past its deadline",
            stats.total_steps,
            stats.ticks,
            frames::ms(ticks.last().copied().unwrap_or_default()),
            frames::ms(frames::default_time_budget()),
            frames::ms(late),
        );
        (run, matched)
    };
    #[cfg(not(feature = "parallel"))]
    println!("(build with `--features parallel` for the parallel run)");

    // Blocking: the same queries, all searched in one frame.
    let mut app = game(&queries, &o);
    app.add_systems(Update, find_all_paths_now);
    warm_up(&mut app);
    let blocking = run_frames(&mut app, "blocking", usize::MAX, |world| {
        world.resource::<Paths>().found.len() == total
    });
    let blocking_matched = verify("blocking", &queries, app.world().resource::<Paths>());

    let mut runs = vec![&cooperative];
    #[cfg(feature = "parallel")]
    runs.push(&parallel.0);
    runs.push(&blocking);
    report(&runs, &bounds);
    if let Some(path) = &o.plot {
        let title = format!(
            "{total} path queries ({} build): per-frame time",
            frames::profile()
        );
        match frames::plot(
            path,
            &title,
            &[("budget", frames::default_time_budget())],
            &runs,
        ) {
            Ok(()) => println!("plot written to {path}"),
            Err(e) => eprintln!("pathfinding: plot: {e}"),
        }
    }
    #[cfg(feature = "parallel")]
    let parallel_matched = parallel.1;
    #[cfg(not(feature = "parallel"))]
    let parallel_matched = total;
    if cooperative_matched == total && blocking_matched == total && parallel_matched == total {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Prints each run's frame times, and how the budgeted runs kept their bound.
fn report(runs: &[&FrameTimes], bounds: &[Bound]) {
    println!("\nframe times ({} build):", frames::profile());
    for run in runs {
        println!("{}", run.summary());
    }
    println!("\nframes over budget + one step + the game's own work:");
    for (run, bound) in runs.iter().zip(bounds) {
        println!("{}", bound.report(run));
    }
}
