//! Steps per frame of world-free tasks under a 2 ms time budget: an ordinary cooperator (one
//! thread, the floor's way), a parallel cooperator on one thread, and a parallel cooperator on
//! every thread of the compute pool; trivial steps and 10 µs steps, 1,000 and 100,000 tasks.
//! Printed at the end: the medians of steps per frame, the ratio of all threads to the ideal
//! (threads × the ordinary cooperator's steps per frame), and the worst tick overshoot seen.
//!
//! `cargo bench --features parallel --bench parallel` (the pool gets one thread per core; run it
//! on an otherwise idle machine).

#[path = "support/mod.rs"]
mod support;

use std::{hint::black_box, time::Duration};

use bevy_app::App;
use bevy_cooperator::{parallel, prelude::*};
use bevy_ecs::prelude::*;
use bevy_platform::time::Instant;
use bevy_tasks::{ComputeTaskPool, TaskPoolBuilder};
use cpu_time::ProcessTime;
use criterion::BenchmarkId;
use support::*;

/// Runnable task counts.
const TASKS: [usize; 2] = [1_000, 100_000];

#[derive(Clone, Copy)]
enum Cost {
    Trivial,
    /// A busy step of this many microseconds.
    Busy(u64),
}

impl Cost {
    fn name(self) -> String {
        match self {
            Cost::Trivial => "trivial".into(),
            Cost::Busy(us) => format!("{us}us"),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// An ordinary cooperator.
    Ordinary,
    /// A parallel cooperator limited to one thread.
    OneThread,
    /// A parallel cooperator on every thread of the pool.
    AllThreads,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Ordinary => "ordinary",
            Mode::OneThread => "parallel-1",
            Mode::AllThreads => "parallel-all",
        }
    }
}

/// An app with one cooperator of `mode` holding `tasks` never-ending world-free tasks.
fn bench_app(mode: Mode, cost: Cost, tasks: usize) -> (App, Entity) {
    let mut app = App::new();
    app.add_plugins(CooperatorPlugin::default());
    app.finish();
    app.cleanup();
    let coop = Cooperator::new(Budget::Time(BUDGET));
    let coop = match mode {
        Mode::Ordinary => coop,
        Mode::OneThread => coop.with_threads(1),
        Mode::AllThreads => coop.parallel(),
    };
    let coop = app.world_mut().spawn(coop).id();
    for _ in 0..tasks {
        let task = match cost {
            Cost::Trivial => app
                .world_mut()
                .cooperate_on(coop, parallel(std::iter::repeat(()))),
            Cost::Busy(us) => {
                let cost = Duration::from_micros(us);
                app.world_mut().cooperate_on(
                    coop,
                    parallel(std::iter::repeat_with(move || {
                        let start = Instant::now();
                        while start.elapsed() < cost {
                            std::hint::spin_loop();
                        }
                    })),
                )
            }
        };
        task.expect("the cooperator exists");
    }
    app.update();
    (app, coop)
}

/// Runs `frames` frames; records each tick's steps and overshoot; returns the time taken.
fn run(app: &mut App, coop: Entity, frames: u64, name: &str) -> Duration {
    let cpu = ProcessTime::now();
    let start = Instant::now();
    for _ in 0..frames {
        let (frame_cpu, frame_wall) = (ProcessTime::now(), Instant::now());
        app.update();
        let (frame_cpu, frame_wall) = (frame_cpu.elapsed(), frame_wall.elapsed());
        let stats = app.world().get::<Cooperator>(coop).unwrap().stats();
        record(&format!("steps/{name}"), f64::from(stats.last_tick_steps));
        let over = stats.last_tick_overshoot.unwrap_or_default();
        record(&format!("over/{name}"), over.as_secs_f64() * 1e6);
        // The cores the frame got (the process's CPU time over the frame's wall time) against
        // the threads its tick steps on: a frame whose stepping thread lost its core
        // (descheduled, or waiting for a thread the OS started late) got fewer.
        let cores = frame_cpu.as_secs_f64() / frame_wall.as_secs_f64().max(1e-9);
        record(&format!("frame-cores/{name}"), cores);
        if cores >= 0.9 * f64::from(stats.last_tick_threads.max(1)) {
            record(&format!("over-kept/{name}"), over.as_secs_f64() * 1e6);
        }
        let thread_over = stats
            .last_tick_thread_overshoot
            .or(stats.last_tick_overshoot)
            .unwrap_or_default();
        record(
            &format!("thread-over/{name}"),
            thread_over.as_secs_f64() * 1e6,
        );
        let longest = stats.longest_step.map(|(_, d)| d).unwrap_or_default();
        record(&format!("longest/{name}"), longest.as_secs_f64() * 1e6);
    }
    let wall = start.elapsed();
    // The cores the process got: below the thread count when other work holds the machine.
    record(
        &format!("cores/{name}"),
        cpu.elapsed().as_secs_f64() / wall.as_secs_f64(),
    );
    wall
}

fn main() {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pool = ComputeTaskPool::get_or_init(|| TaskPoolBuilder::new().num_threads(threads).build());
    let threads = pool.thread_num();
    let mut c = criterion();
    let mut group = c.benchmark_group("parallel");
    let costs = [Cost::Trivial, Cost::Busy(10)];
    let modes = [Mode::Ordinary, Mode::OneThread, Mode::AllThreads];
    for &cost in &costs {
        for tasks in TASKS {
            let mut apps: Vec<_> = modes
                .iter()
                .map(|&mode| (mode, bench_app(mode, cost, tasks)))
                .collect();
            // Interleaved, so that a change in the machine's load touches all three alike.
            for round in 0..3 {
                for (mode, (app, coop)) in &mut apps {
                    let name = format!("{}/{}/{tasks}", cost.name(), mode.name());
                    group.bench_function(
                        BenchmarkId::new(
                            format!("{}-{}-r{round}", cost.name(), mode.name()),
                            tasks,
                        ),
                        |b| b.iter_custom(|frames| run(app, *coop, frames, &name)),
                    );
                }
            }
            drop(black_box(apps));
        }
    }
    group.finish();
    c.final_summary();

    println!(
        "\nsteps per frame, 2 ms time budget, {threads} pool thread(s) (medians of this run):"
    );
    for &cost in &costs {
        for tasks in TASKS {
            let steps =
                |mode: Mode| median(&format!("steps/{}/{}/{tasks}", cost.name(), mode.name()));
            let (ordinary, one, all) = (
                steps(Mode::Ordinary),
                steps(Mode::OneThread),
                steps(Mode::AllThreads),
            );
            let ideal = ordinary * threads as f64;
            let q = |what: &str, mode: Mode, q: f64| {
                quantile(
                    &format!("{what}/{}/{}/{tasks}", cost.name(), mode.name()),
                    q,
                )
            };
            println!(
                "{:<8} {tasks:>7} tasks: ordinary {ordinary:>9.0}   parallel-1 {one:>9.0}   \
                 parallel-all {all:>9.0}   all/ordinary {:>5.2}x   all/ideal {:>5.2}   \
                 (cores the process got: {:.2} ordinary, {:.2} parallel-all)",
                cost.name(),
                all / ordinary,
                all / ideal,
                q("cores", Mode::Ordinary, 0.5),
                q("cores", Mode::AllThreads, 0.5),
            );
            for mode in modes {
                let count =
                    |what: &str| count(&format!("{what}/{}/{}/{tasks}", cost.name(), mode.name()));
                println!(
                    "{:>26} past the deadline, p50/p99/max: tick {:.1}/{:.1}/{:.1} µs, \
                     latest thread {:.1}/{:.1}/{:.1} µs (longest step timed alone, max {:.1} µs)",
                    mode.name(),
                    q("over", mode, 0.5),
                    q("over", mode, 0.99),
                    q("over", mode, 1.0),
                    q("thread-over", mode, 0.5),
                    q("thread-over", mode, 0.99),
                    q("thread-over", mode, 1.0),
                    q("longest", mode, 1.0),
                );
                println!(
                    "{:>26} cores per frame (CPU / wall) p1/p50 {:.2}/{:.2}; frames whose threads \
                     kept their cores ({} of {}): tick past the deadline p99/max {:.1}/{:.1} µs",
                    "",
                    q("frame-cores", mode, 0.01),
                    q("frame-cores", mode, 0.5),
                    count("over-kept"),
                    count("over"),
                    q("over-kept", mode, 0.99),
                    q("over-kept", mode, 1.0),
                );
            }
        }
    }
}
