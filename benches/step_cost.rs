//! Per-step cost of a trivial step under a live 2 ms time budget, 1, 1,000, 100,000 and 1,000,000
//! tasks, against two floors measured in the same run: the bare budgeted loop (clock every 64
//! steps) and the same loop with the per-step check the crate's time budget makes (one atomic
//! load of a deadline flag).
//!
//! `cargo bench --bench step_cost`; the ratios are printed at the end, from criterion's samples
//! and from a frame-by-frame comparison (each floor and the cooperator in turn, five frames
//! each): the second is what a drifting machine disturbs least.

#[path = "support/mod.rs"]
mod support;

use std::hint::black_box;

use bevy_cooperator::prelude::*;
use bevy_ecs::prelude::*;
use criterion::BenchmarkId;

#[derive(Resource, Default)]
struct Counter(u64);
use support::*;

/// Runnable task counts.
const TASKS: [usize; 4] = [1, 1_000, 100_000, 1_000_000];

/// Rounds of the frame-by-frame comparison.
const PAIRED_ROUNDS: usize = 60;

fn main() {
    let mut c = criterion();
    let mut group = c.benchmark_group("step");
    for tasks in TASKS {
        let mut floor = floor_app(tasks);
        let mut flagged = floor_app_with(tasks, true);
        let mut ours = coop_app(Budget::Time(BUDGET), tasks);
        // Interleaved, so that a change in the machine's speed touches all three alike.
        for round in 0..3 {
            group.bench_function(BenchmarkId::new(format!("floor-r{round}"), tasks), |b| {
                b.iter_custom(|iters| {
                    time_steps(&mut floor, floor_steps, iters, &format!("floor/{tasks}"))
                })
            });
            group.bench_function(
                BenchmarkId::new(format!("floor-flag-r{round}"), tasks),
                |b| {
                    b.iter_custom(|iters| {
                        time_steps(&mut flagged, floor_steps, iters, &format!("flag/{tasks}"))
                    })
                },
            );
            group.bench_function(
                BenchmarkId::new(format!("cooperator-r{round}"), tasks),
                |b| {
                    b.iter_custom(|iters| {
                        time_steps(&mut ours, coop_steps, iters, &format!("cooperator/{tasks}"))
                    })
                },
            );
        }
        // Frame by frame: each floor and the cooperator in turn, five frames each.
        paired(
            &mut [
                (&mut floor, floor_steps, format!("paired/floor/{tasks}")),
                (&mut ours, coop_steps, format!("paired/cooperator/{tasks}")),
            ],
            PAIRED_ROUNDS,
            5,
        );
        paired(
            &mut [
                (&mut flagged, floor_steps, format!("paired/flag/{tasks}")),
                (
                    &mut ours,
                    coop_steps,
                    format!("paired/cooperator-flag/{tasks}"),
                ),
            ],
            PAIRED_ROUNDS,
            5,
        );
        drop(black_box((floor, flagged, ours)));
    }
    // A step that uses the world (reads a resource), 1,000 tasks: the batching must not cost it.
    let mut touching = coop_app(Budget::Time(BUDGET), 0);
    touching.init_resource::<Counter>();
    for _ in 0..1_000 {
        touching
            .world_mut()
            .cooperate(from_fn(|cx: &mut StepContext| {
                cx.world().resource_mut::<Counter>().0 += 1;
                Step::Continue
            }));
    }
    touching.update();
    group.bench_function("world_step/1000", |b| {
        b.iter_custom(|iters| time_steps(&mut touching, coop_steps, iters, "world_step/1000"))
    });
    // The same through `StepContext::get_resource_mut`, which keeps the run queue lent.
    let mut resource = coop_app(Budget::Time(BUDGET), 0);
    resource.init_resource::<Counter>();
    for _ in 0..1_000 {
        resource
            .world_mut()
            .cooperate(from_fn(|cx: &mut StepContext| {
                if let Some(mut counter) = cx.get_resource_mut::<Counter>() {
                    counter.0 += 1;
                }
                Step::Continue
            }));
    }
    resource.update();
    group.bench_function("resource_step/1000", |b| {
        b.iter_custom(|iters| time_steps(&mut resource, coop_steps, iters, "resource_step/1000"))
    });
    group.finish();
    c.final_summary();

    println!("\nper step, trivial step, 2 ms time budget (medians of this run):");
    for tasks in TASKS {
        print_ratio(
            &format!("{tasks} task(s), against the bare loop"),
            &format!("cooperator/{tasks}"),
            &format!("floor/{tasks}"),
            "ns",
        );
        print_ratio(
            &format!("{tasks} task(s), against the bare loop + per-step flag"),
            &format!("cooperator/{tasks}"),
            &format!("flag/{tasks}"),
            "ns",
        );
    }
    println!(
        "\nthe same, frame by frame: the cooperator and a floor in turn, 5 frames each (median of \
         the rounds' ratios):"
    );
    for tasks in TASKS {
        print_paired(
            &format!("{tasks} task(s), against the bare loop"),
            &format!("paired/cooperator/{tasks}"),
        );
        print_paired(
            &format!("{tasks} task(s), against the bare loop + per-step flag"),
            &format!("paired/cooperator-flag/{tasks}"),
        );
    }
    println!();
    print_ratio(
        "1000 tasks, each step using the world",
        "world_step/1000",
        "floor/1000",
        "ns",
    );
    print_ratio(
        "1000 tasks, each step changing a resource",
        "resource_step/1000",
        "floor/1000",
        "ns",
    );
    print_ratio(
        "a resource step against a world step",
        "resource_step/1000",
        "world_step/1000",
        "ns",
    );
}
