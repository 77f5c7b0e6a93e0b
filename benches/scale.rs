//! Scale: per-step cost with up to 1M runnable tasks, frame time with up to 1M never-ending tasks,
//! churn (spawn + run + clean up) with up to 1M live tasks, the cost of 1M paused tasks, idle
//! cooperators, wakes, and the resident memory a runnable task costs (each case in a process of
//! its own). Each figure is printed with its ratio to its floor from the same run.
//!
//! `cargo bench --bench scale`; the table is printed at the end.

#[path = "support/mod.rs"]
mod support;

use std::{
    hint::black_box,
    sync::{Arc, Mutex},
    time::Duration,
};

use bevy_app::App;
use bevy_cooperator::prelude::*;
use bevy_ecs::prelude::*;
use bevy_platform::time::Instant;
use criterion::{BenchmarkId, Criterion};
use support::*;

const SIZES: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];

/// Adds never-ending trivial tasks to the global cooperator until it holds `n` tasks.
fn grow_runnable(app: &mut App, n: usize) {
    let coop = global(app);
    let world = app.world_mut();
    let have = world.get::<Cooperator>(coop).unwrap().task_count() as usize;
    for _ in have..n {
        world.cooperate(std::iter::repeat(()));
    }
}

/// Adds paused never-ending tasks until the global cooperator holds `n` paused tasks.
fn grow_paused(app: &mut App, n: usize) {
    let coop = global(app);
    let world = app.world_mut();
    let have = world.get::<Cooperator>(coop).unwrap().paused_count() as usize;
    for _ in have..n {
        let task = world.cooperate(std::iter::repeat(()));
        world.pause_task(task).unwrap();
    }
}

fn time_frames(app: &mut App, iters: u64, name: &str) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        app.update();
    }
    let elapsed = start.elapsed();
    record(name, elapsed.as_secs_f64() * 1e9 / iters as f64);
    elapsed
}

/// Per-step cost and frame time with many runnable tasks.
fn runnable(c: &mut Criterion) {
    let mut group = c.benchmark_group("runnable");
    let mut app = coop_app(Budget::Time(BUDGET), 0);
    for n in SIZES {
        grow_runnable(&mut app, n);
        app.update();
        group.bench_function(BenchmarkId::new("step", n), |b| {
            b.iter_custom(|iters| time_steps(&mut app, coop_steps, iters, &format!("step/{n}")))
        });
        group.bench_function(BenchmarkId::new("frame", n), |b| {
            b.iter_custom(|iters| time_frames(&mut app, iters, &format!("frame/{n}")))
        });
    }
    group.finish();
}

/// Spawn + run to completion + clean up, with `n` paused tasks alive; and idle frames with `n`
/// paused tasks and one runnable task.
fn churn_and_idle(c: &mut Criterion) {
    let mut group = c.benchmark_group("paused");
    let mut app = coop_app(Budget::Unlimited, 0);
    // The floor of churn: spawning and despawning a plain entity with one component.
    group.bench_function("spawn_despawn_floor", |b| {
        #[derive(Component)]
        struct Plain(#[allow(dead_code, reason = "payload")] Box<u8>);
        b.iter_custom(|iters| {
            let world = app.world_mut();
            let start = Instant::now();
            for _ in 0..iters {
                let e = world.spawn(Plain(Box::new(1))).id();
                world.despawn(e);
            }
            let elapsed = start.elapsed();
            record("churn/floor", elapsed.as_secs_f64() * 1e9 / iters as f64);
            elapsed
        })
    });
    // One task that steps once a frame and then waits for the next frame.
    app.world_mut()
        .cooperate(std::iter::repeat_with(Wait::next_frame));
    app.update();
    group.bench_function(BenchmarkId::new("idle_frame", 0), |b| {
        b.iter_custom(|iters| time_frames(&mut app, iters, "idle/0"))
    });
    for n in SIZES {
        grow_paused(&mut app, n);
        app.update();
        group.bench_function(BenchmarkId::new("churn", n), |b| {
            b.iter_custom(|iters| {
                let mut left = iters;
                let mut elapsed = Duration::ZERO;
                while left > 0 {
                    let batch = left.min(10_000);
                    left -= batch;
                    let start = Instant::now();
                    let world = app.world_mut();
                    for _ in 0..batch {
                        world.cooperate(std::iter::empty::<()>());
                    }
                    app.update();
                    elapsed += start.elapsed();
                }
                record(
                    &format!("churn/{n}"),
                    elapsed.as_secs_f64() * 1e9 / iters as f64,
                );
                elapsed
            })
        });
        group.bench_function(BenchmarkId::new("idle_frame", n), |b| {
            b.iter_custom(|iters| time_frames(&mut app, iters, &format!("idle/{n}")))
        });
    }
    group.finish();
}

/// What idle cooperators cost per frame.
fn idle_cooperators(c: &mut Criterion) {
    let mut group = c.benchmark_group("idle_cooperators");
    let mut bare = App::new();
    bare.finish();
    bare.cleanup();
    bare.update();
    group.bench_function("no_plugin", |b| {
        b.iter_custom(|iters| time_frames(&mut bare, iters, "idle_coop/none"))
    });
    let mut one = coop_app(Budget::Time(BUDGET), 0);
    group.bench_function("1", |b| {
        b.iter_custom(|iters| time_frames(&mut one, iters, "idle_coop/1"))
    });
    let mut many = coop_app(Budget::Time(BUDGET), 0);
    for _ in 0..99 {
        many.world_mut().spawn(Cooperator::default());
    }
    group.bench_function("100", |b| {
        b.iter_custom(|iters| time_frames(&mut many, iters, "idle_coop/100"))
    });
    group.finish();
}

/// Time spent in the wake set.
#[derive(Resource, Default)]
struct WakeTime(Option<Instant>, Duration);

/// Wakes: firing a signal that many tasks wait on, and frame waits.
fn wakes(c: &mut Criterion) {
    let mut group = c.benchmark_group("wakes");
    const TASKS: usize = 100_000;
    // The floor: removing a marker component from an entity (the structural change of a wake).
    group.bench_function("remove_marker_floor", |b| {
        #[derive(Component)]
        struct Marker;
        let mut world = World::new();
        let entities: Vec<Entity> = world.spawn_batch((0..TASKS).map(|_| Marker)).collect();
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let batch = (left as usize).min(TASKS);
                left -= batch as u64;
                let start = Instant::now();
                for &e in &entities[..batch] {
                    world.entity_mut(e).remove::<Marker>();
                }
                elapsed += start.elapsed();
                for &e in &entities[..batch] {
                    world.entity_mut(e).insert(Marker);
                }
            }
            record("wake/floor", elapsed.as_secs_f64() * 1e9 / iters as f64);
            elapsed
        })
    });
    // Signals: every task waits on the current signal; firing it wakes them all.
    let mut app = coop_app(Budget::Unlimited, 0);
    let signal = app.world_mut().spawn_signal();
    let current = Arc::new(Mutex::new(signal));
    for _ in 0..TASKS {
        let current = current.clone();
        let world = app.world_mut();
        world.cooperate(std::iter::repeat_with(move || {
            Wait::signal(*current.lock().unwrap())
        }));
    }
    app.update();
    let mut signal = signal;
    group.bench_function("signal", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            let mut woken = 0;
            while woken < iters {
                let start = Instant::now();
                app.world_mut().fire_signal(signal).unwrap();
                elapsed += start.elapsed();
                woken += TASKS as u64;
                app.world_mut().despawn(signal.entity());
                signal = app.world_mut().spawn_signal();
                *current.lock().unwrap() = signal;
                app.update(); // every task steps once and waits on the new signal
            }
            record("wake/signal", elapsed.as_secs_f64() * 1e9 / woken as f64);
            elapsed.mul_f64(iters as f64 / woken as f64)
        })
    });
    drop(app);
    // Frame waits: every task waits one frame after each step (wake + step + wait again). The
    // time spent in `CooperatorSystems::Wake` alone is the cost of the wakes.
    let mut app = coop_app(Budget::Unlimited, 0);
    app.init_resource::<WakeTime>().add_systems(
        bevy_app::Update,
        (
            (|mut t: ResMut<WakeTime>| t.0 = Some(Instant::now())).before(CooperatorSystems::Wake),
            (|mut t: ResMut<WakeTime>| {
                if let Some(start) = t.0.take() {
                    t.1 += start.elapsed();
                }
            })
            .after(CooperatorSystems::Wake)
            .before(CooperatorSystems::Step),
        ),
    );
    for _ in 0..TASKS {
        app.world_mut()
            .cooperate(std::iter::repeat_with(Wait::next_frame));
    }
    app.update();
    group.bench_function("frame_wait_cycle", |b| {
        b.iter_custom(|iters| {
            let frames = iters.div_ceil(TASKS as u64);
            app.world_mut().resource_mut::<WakeTime>().1 = Duration::ZERO;
            let start = Instant::now();
            for _ in 0..frames {
                app.update();
            }
            let elapsed = start.elapsed();
            let waking = app.world().resource::<WakeTime>().1;
            record(
                "wake/frame",
                waking.as_secs_f64() * 1e9 / (frames * TASKS as u64) as f64,
            );
            let per = elapsed.as_secs_f64() / (frames * TASKS as u64) as f64;
            record("wake/frame_cycle", per * 1e9);
            Duration::from_secs_f64(per * iters as f64)
        })
    });
    group.finish();
    drop(black_box(app));
}

/// Resident memory in bytes (Linux), from `/proc/self/statm`.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// The environment variable a child process of this bench reads: the memory case it measures.
const MEMORY_CASE: &str = "BEVY_COOPERATOR_SCALE_MEMORY";

/// In a child process: the resident memory `n` of a case's items add, per item, printed for the
/// parent to read. `tasks`: runnable iterator tasks in the global cooperator, after a frame;
/// `entities`: bare empty entities.
fn memory_case(case: &str) {
    let (kind, n) = case.split_once(':').expect("case:count");
    let n: usize = n.parse().expect("a count");
    let mut app = coop_app(Budget::Steps(1), 0);
    let before = resident_bytes().unwrap_or(0);
    match kind {
        "tasks" => {
            let world = app.world_mut();
            for _ in 0..n {
                world.cooperate(std::iter::repeat(()));
            }
            app.update();
        }
        _ => {
            app.world_mut().spawn_batch((0..n).map(|_| ()));
        }
    }
    let after = resident_bytes().unwrap_or(0);
    println!("{}", after.saturating_sub(before) as f64 / n as f64);
    drop(black_box(app));
}

/// Measures each memory case in a fresh process of this bench, so that no memory freed by
/// another case is reused; `None` where resident memory cannot be read.
fn memory() -> Vec<(String, Option<f64>)> {
    ["entities:1000000", "tasks:100000", "tasks:1000000"]
        .iter()
        .map(|case| {
            let bytes = std::process::Command::new(std::env::current_exe().unwrap())
                .env(MEMORY_CASE, case)
                .output()
                .ok()
                .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
                .filter(|_| resident_bytes().is_some());
            (case.to_string(), bytes)
        })
        .collect()
}

fn main() {
    if let Ok(case) = std::env::var(MEMORY_CASE) {
        memory_case(&case);
        return;
    }
    let memory = memory();
    let mut c = criterion();
    runnable(&mut c);
    churn_and_idle(&mut c);
    idle_cooperators(&mut c);
    wakes(&mut c);
    c.final_summary();

    println!("\nscale (medians of this run):");
    let bytes = |case: &str| memory.iter().find(|(c, _)| c == case).and_then(|(_, b)| *b);
    if let Some(entity) = bytes("entities:1000000") {
        for n in ["100000", "1000000"] {
            if let Some(task) = bytes(&format!("tasks:{n}")) {
                println!(
                    "{:<58} {task:>10.1} B    bare entity {entity:>8.1} B    ratio {:>5.2}x",
                    format!("memory per runnable iterator task, {n} tasks (resident)"),
                    task / entity,
                );
            }
        }
    } else {
        println!("memory per task: resident memory is not readable on this platform");
    }
    for n in SIZES {
        print_ratio(
            &format!("per step, {n} runnable tasks"),
            &format!("step/{n}"),
            "step/1000",
            "ns",
        );
    }
    for n in SIZES {
        let frame = median(&format!("frame/{n}"));
        println!(
            "{:<58} {:>10.1} us   budget {:>8.1} us   ratio {:>5.2}x",
            format!("frame time, {n} never-ending tasks"),
            frame / 1e3,
            BUDGET.as_secs_f64() * 1e6,
            frame / (BUDGET.as_secs_f64() * 1e9)
        );
    }
    for n in SIZES {
        print_ratio(
            &format!("churn per task (spawn, run, clean up), {n} paused alive"),
            &format!("churn/{n}"),
            "churn/floor",
            "ns",
        );
    }
    for n in SIZES {
        print_ratio(
            &format!("frame, {n} paused + 1 runnable"),
            &format!("idle/{n}"),
            "idle/0",
            "ns",
        );
    }
    print_ratio(
        "frame, plugin with 1 idle cooperator",
        "idle_coop/1",
        "idle_coop/none",
        "ns",
    );
    let per = (median("idle_coop/100") - median("idle_coop/1")) / 99.0;
    println!(
        "{:<58} {per:>10.2} ns",
        "each further idle cooperator, per frame"
    );
    print_ratio(
        "wake by signal, per task",
        "wake/signal",
        "wake/floor",
        "ns",
    );
    println!(
        "{:<58} {:>10.2} M/s",
        "wakes by signal per second",
        1e3 / median("wake/signal")
    );
    print_ratio(
        "wake by frame wait, per task",
        "wake/frame",
        "wake/floor",
        "ns",
    );
    println!(
        "{:<58} {:>10.2} M/s",
        "wakes by frame wait per second",
        1e3 / median("wake/frame")
    );
    print_ratio(
        "frame wait cycle (wake + step + wait), per task",
        "wake/frame_cycle",
        "wake/floor",
        "ns",
    );
}
