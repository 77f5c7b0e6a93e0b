//! Shared by the benches: the bare budgeted loop (the floor), app builders, and a record of the
//! figures measured in this run so each bench can print its ratios at the end.
#![allow(
    dead_code,
    reason = "each bench uses a different part of the support code"
)]

use std::{collections::BTreeMap, sync::Mutex, time::Duration};

use bevy_app::{App, Update};
use bevy_cooperator::prelude::*;
use bevy_ecs::prelude::*;
use bevy_platform::time::Instant;
use criterion::Criterion;

/// The frame budget every bench uses.
pub const BUDGET: Duration = Duration::from_millis(2);

/// Criterion settings that keep a run short.
pub fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .without_plots()
        .configure_from_args()
}

// ---------------------------------------------------------------------------------------------
// The floor: an exclusive system iterating a query of boxed iterators held in an `Option`
// (take / `next()` / put back), reading the clock every 64 steps, until a 2 ms budget is spent.

/// A floor task.
#[derive(Component)]
pub struct FloorTask(Option<Box<dyn Iterator<Item = ()> + Send + Sync>>);

/// Steps the floor loop has run.
#[derive(Resource, Default)]
pub struct FloorSteps(pub u64);

fn floor_system(world: &mut World, tasks: &mut QueryState<&mut FloorTask>) {
    floor_loop(world, tasks, || false);
}

/// The bare loop; `stop` is polled after every step, and the clock read every 64 steps.
#[inline(always)]
fn floor_loop(
    world: &mut World,
    tasks: &mut QueryState<&mut FloorTask>,
    mut stop: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + BUDGET;
    let mut steps: u64 = 0;
    'frame: loop {
        let mut any = false;
        for mut task in tasks.iter_mut(world) {
            let Some(mut work) = task.0.take() else {
                continue;
            };
            std::hint::black_box(work.next());
            task.0 = Some(work);
            any = true;
            steps += 1;
            if stop() || (steps.is_multiple_of(64) && Instant::now() >= deadline) {
                break 'frame;
            }
        }
        if !any {
            break;
        }
    }
    world.resource_mut::<FloorSteps>().0 += steps;
}

/// A deadline flag as a watcher thread raises it: the number of the watch that expired.
#[derive(Resource, Default)]
pub struct Flag(std::sync::Arc<std::sync::atomic::AtomicU64>);

/// The floor with the per-step check the crate's time budget makes: one atomic load of a
/// deadline flag (never raised here) after every step.
fn floor_flag_system(
    world: &mut World,
    tasks: &mut QueryState<&mut FloorTask>,
    mut watch: Local<u64>,
) {
    let flag = world.resource::<Flag>().0.clone();
    *watch += 1;
    let number = *watch;
    floor_loop(world, tasks, || {
        flag.load(std::sync::atomic::Ordering::Relaxed) == number
    });
}

/// An app running the floor loop over `tasks` never-ending tasks.
pub fn floor_app(tasks: usize) -> App {
    floor_app_with(tasks, false)
}

/// [`floor_app`], with the per-step flag check when `flag`.
pub fn floor_app_with(tasks: usize, flag: bool) -> App {
    let mut app = App::new();
    app.init_resource::<FloorSteps>().init_resource::<Flag>();
    if flag {
        app.add_systems(Update, floor_flag_system);
    } else {
        app.add_systems(Update, floor_system);
    }
    app.world_mut()
        .spawn_batch((0..tasks).map(|_| FloorTask(Some(Box::new(std::iter::repeat(()))))));
    app.finish();
    app.cleanup();
    app.update();
    app
}

pub fn floor_steps(app: &App) -> u64 {
    app.world().resource::<FloorSteps>().0
}

// ---------------------------------------------------------------------------------------------
// Ours.

/// An app whose global cooperator has `budget` and `tasks` never-ending trivial tasks.
pub fn coop_app(budget: Budget, tasks: usize) -> App {
    let mut app = App::new();
    app.add_plugins(CooperatorPlugin::default().with_budget(budget));
    app.finish();
    app.cleanup();
    let world = app.world_mut();
    for _ in 0..tasks {
        world.cooperate(std::iter::repeat(()));
    }
    app.update();
    app
}

pub fn global(app: &App) -> Entity {
    app.world().resource::<GlobalCooperator>().0
}

pub fn coop_steps(app: &App) -> u64 {
    let global = global(app);
    app.world()
        .get::<Cooperator>(global)
        .unwrap()
        .stats()
        .total_steps
}

/// Runs frames until at least `iters` steps ran; returns the time scaled to exactly `iters`
/// steps, and records the per-step time under `name`.
pub fn time_steps(app: &mut App, steps_of: fn(&App) -> u64, iters: u64, name: &str) -> Duration {
    let before = steps_of(app);
    let start = Instant::now();
    let mut done = 0;
    while done < iters {
        app.update();
        done = steps_of(app) - before;
    }
    let elapsed = start.elapsed();
    let per_step = elapsed.as_secs_f64() / done as f64;
    record(name, per_step * 1e9);
    Duration::from_secs_f64(per_step * iters as f64)
}

/// One side of a paired run: the app, how to read its step count, the figure's name.
pub type Side<'a> = (&'a mut App, fn(&App) -> u64, String);

/// Steps `apps` in turn, `frames` frames each, for `rounds` rounds (the order rotating each
/// round), and records each app's time per step in every round under its name and, for every app
/// after the first, its ratio to the first of the same round under `name/ratio`: a change in the
/// machine's speed lasting longer than a round touches both sides of a ratio alike.
pub fn paired(apps: &mut [Side<'_>], rounds: usize, frames: usize) {
    let n = apps.len();
    for round in 0..rounds {
        let mut per_step = vec![0.0; n];
        for k in 0..n {
            let i = (round + k) % n;
            let (app, steps_of, _) = &mut apps[i];
            let before = steps_of(app);
            let start = Instant::now();
            for _ in 0..frames {
                app.update();
            }
            let steps = (steps_of(app) - before).max(1);
            per_step[i] = start.elapsed().as_secs_f64() * 1e9 / steps as f64;
        }
        for (i, (_, _, name)) in apps.iter().enumerate() {
            record(name, per_step[i]);
            if i > 0 {
                record(&format!("{name}/ratio"), per_step[i] / per_step[0]);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Figures of this run.

static FIGURES: Mutex<BTreeMap<String, Vec<f64>>> = Mutex::new(BTreeMap::new());

/// Records one sample of a figure.
pub fn record(name: &str, value: f64) {
    FIGURES
        .lock()
        .unwrap()
        .entry(name.to_string())
        .or_default()
        .push(value);
}

/// The median of a figure's samples.
pub fn median(name: &str) -> f64 {
    let figures = FIGURES.lock().unwrap();
    let Some(samples) = figures.get(name) else {
        return f64::NAN;
    };
    let mut samples = samples.clone();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// How many samples a figure has.
pub fn count(name: &str) -> usize {
    FIGURES.lock().unwrap().get(name).map_or(0, Vec::len)
}

/// The `q` quantile (0 to 1, nearest rank) of a figure's samples.
pub fn quantile(name: &str, q: f64) -> f64 {
    let figures = FIGURES.lock().unwrap();
    let Some(samples) = figures.get(name) else {
        return f64::NAN;
    };
    let mut samples = samples.clone();
    samples.sort_by(f64::total_cmp);
    let rank = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len());
    samples[rank - 1]
}

/// Prints a ratio [`paired`] recorded: its median and quartiles over the rounds.
pub fn print_paired(label: &str, name: &str) {
    let ratio = format!("{name}/ratio");
    println!(
        "{label:<58} {:>10.2} ns   ratio {:>5.2}x (quartiles {:.2}-{:.2}, {} rounds)",
        median(name),
        median(&ratio),
        quantile(&ratio, 0.25),
        quantile(&ratio, 0.75),
        count(&ratio)
    );
}

/// Prints a figure and its ratio to another one.
pub fn print_ratio(label: &str, name: &str, floor: &str, unit: &str) {
    let (value, base) = (median(name), median(floor));
    println!(
        "{label:<58} {value:>10.2} {unit}   floor {base:>10.2} {unit}   ratio {:>5.2}x",
        value / base
    );
}
