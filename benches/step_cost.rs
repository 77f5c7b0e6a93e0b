//! Per-step cost of a trivial step under a live 2 ms time budget, 1 and 1,000 tasks, against the
//! bare budgeted loop measured in the same run (the floor).
//!
//! `cargo bench --bench step_cost`; the ratios are printed at the end.

#[path = "support/mod.rs"]
mod support;

use std::hint::black_box;

use bevy_cooperator::prelude::*;
use criterion::BenchmarkId;
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
}
