//! Per-step cost of a trivial step under a live 2 ms time budget, 1 and 1,000 tasks, against the
//! bare budgeted loop measured in the same run (the floor).
//!
//! `cargo bench --bench step_cost`; the ratios are printed at the end.

#[path = "support/mod.rs"]
mod support;

use std::hint::black_box;

use bevy_cooperator::prelude::*;
use bevy_ecs::prelude::*;
use criterion::BenchmarkId;

#[derive(Resource, Default)]
struct Counter(u64);
use support::*;

fn main() {
    let mut c = criterion();
    let mut group = c.benchmark_group("step");
    for tasks in [1usize, 1_000] {
        let mut floor = floor_app(tasks);
        group.bench_function(BenchmarkId::new("floor", tasks), |b| {
            b.iter_custom(|iters| {
                time_steps(&mut floor, floor_steps, iters, &format!("floor/{tasks}"))
            })
        });
        let mut ours = coop_app(Budget::Time(BUDGET), tasks);
        group.bench_function(BenchmarkId::new("cooperator", tasks), |b| {
            b.iter_custom(|iters| {
                time_steps(&mut ours, coop_steps, iters, &format!("cooperator/{tasks}"))
            })
        });
        drop(black_box((floor, ours)));
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
    group.finish();
    c.final_summary();

    println!("\nper step, trivial step, 2 ms time budget (medians of this run):");
    for tasks in [1, 1_000] {
        print_ratio(
            &format!("{tasks} task(s)"),
            &format!("cooperator/{tasks}"),
            &format!("floor/{tasks}"),
            "ns",
        );
    }
    print_ratio(
        "1000 tasks, each step using the world",
        "world_step/1000",
        "floor/1000",
        "ns",
    );
}
