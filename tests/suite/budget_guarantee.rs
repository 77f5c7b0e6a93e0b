//! The time budget's guarantee on a controlled clock, with the deadline watcher on time, late by
//! 1 ms and absent (fault injection with [`Watcher`]): each step advances a manual clock by its
//! cost, and the tests count how far past its deadline each tick ended.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use bevy_app::{App, Update};
use bevy_cooperator::*;
use bevy_ecs::prelude::*;

const BUDGET: Duration = Duration::from_millis(2);
const US: fn(u64) -> Duration = Duration::from_micros;
const NS: fn(u64) -> Duration = Duration::from_nanos;

/// Per tick: when it began, when it ended.
#[derive(Resource, Default, Clone)]
struct Ticks(Arc<Mutex<Vec<(Duration, Duration)>>>);

fn app(watcher: Watcher) -> (App, ManualClock) {
    let mut app = app_with(Budget::Time(BUDGET));
    let (clock, manual) = CooperatorClock::manual();
    app.insert_resource(clock.with_watcher(watcher));
    let ticks = Ticks::default();
    let (before, after) = (manual.clone(), manual.clone());
    app.insert_resource(ticks.clone()).add_systems(
        Update,
        (
            (move |t: Res<Ticks>| t.0.lock().unwrap().push((before.now(), Duration::ZERO)))
                .before(CooperatorSystems::Step),
            (move |t: Res<Ticks>| t.0.lock().unwrap().last_mut().unwrap().1 = after.now())
                .after(CooperatorSystems::Step),
        ),
    );
    (app, manual)
}

/// A never-ending task whose `n`th step costs `cost(n)` on `manual`.
fn task(
    app: &mut App,
    manual: &ManualClock,
    cost: impl Fn(u64) -> Duration + Send + Sync + 'static,
) {
    let manual = manual.clone();
    let mut n = 0;
    app.world_mut()
        .cooperate(from_fn(move |_: &mut StepContext| {
            manual.advance(cost(n));
            n += 1;
        }));
}

/// Runs `frames` frames; returns the largest time past the deadline a tick ended.
fn worst_overshoot(app: &mut App, frames: usize) -> Duration {
    for _ in 0..frames {
        app.update();
    }
    let ticks = app.world().resource::<Ticks>().0.lock().unwrap().clone();
    assert_eq!(ticks.len(), frames);
    ticks
        .iter()
        .map(|&(start, end)| (end - start).saturating_sub(BUDGET))
        .max()
        .unwrap()
}

const WATCHERS: [Watcher; 3] = [
    Watcher::Late(Duration::ZERO),
    Watcher::Late(Duration::from_millis(1)),
    Watcher::Never,
];

// A crowd of cheap tasks with heavy ones among them (heavy from their first step): every tick
// ends within one heavy step of its deadline, however late the watcher.
#[test]
fn a_crowd_of_cheap_tasks_with_heavy_ones_ends_within_one_step() {
    for watcher in WATCHERS {
        let (mut app, manual) = app(watcher);
        for i in 0..2_000 {
            task(&mut app, &manual, |_| NS(100));
            if i % 250 == 0 {
                task(&mut app, &manual, |_| US(300));
            }
        }
        let worst = worst_overshoot(&mut app, 60);
        assert!(worst <= US(300), "{watcher:?}: {worst:?}");
    }
}

// Tasks that turn heavy one after another, each in a later frame: once a task's first heavy
// step is seen, it is read after each of its steps.
#[test]
fn tasks_turning_heavy_one_after_another_end_within_one_step_plus_a_batch() {
    for watcher in WATCHERS {
        let (mut app, manual) = app(watcher);
        for i in 0..2_000u64 {
            if i % 250 == 0 {
                let from = 200 + i;
                task(
                    &mut app,
                    &manual,
                    move |n| if n >= from { US(300) } else { NS(100) },
                );
            } else {
                task(&mut app, &manual, |_| NS(100));
            }
        }
        let worst = worst_overshoot(&mut app, 200);
        // One heavy step, and at most the rest of one batch of cheap steps (1/32 of the
        // budget) when a cost jumps inside it.
        assert!(worst <= US(300) + BUDGET / 32, "{watcher:?}: {worst:?}");
    }
}

// One task whose step cost doubles every 2,000 steps, from 20 ns to 640 µs.
#[test]
fn a_ramp_ends_within_one_step() {
    for watcher in WATCHERS {
        let (mut app, manual) = app(watcher);
        let cost = |n: u64| NS((20u64 << (n / 2_000).min(15)).min(640_000));
        task(&mut app, &manual, cost);
        let frames = 400;
        for _ in 0..frames {
            app.update();
        }
        let ticks = app.world().resource::<Ticks>().0.lock().unwrap().clone();
        for (start, end) in ticks {
            let over = (end - start).saturating_sub(BUDGET);
            // The most a step costs is what the last one cost, at most twice the one before.
            assert!(over <= US(640), "{watcher:?}: {over:?}");
        }
    }
}

// A single task whose cost jumps from 50 ns to 1 ms inside one batch: the rest of the batch is
// heavy too, and only the watcher can end it: one step plus the watcher's lateness.
#[test]
fn a_cost_jumping_inside_a_batch_ends_within_one_step_plus_the_watchers_lateness() {
    for late in [Duration::ZERO, Duration::from_millis(1)] {
        let watcher = Watcher::Late(late);
        let (mut app, manual) = app(watcher);
        // 20,000 steps of 50 ns, then 1 ms steps.
        task(&mut app, &manual, |n| {
            if n % 20_010 < 20_000 {
                NS(50)
            } else {
                US(1_000)
            }
        });
        let worst = worst_overshoot(&mut app, 100);
        assert!(worst <= US(1_000) + late, "{watcher:?}: {worst:?}");
        // Once its steps were seen heavy, the clock is read after each: one step.
        let ticks = app.world().resource::<Ticks>().0.lock().unwrap().clone();
        let jumps = ticks
            .iter()
            .filter(|&&(start, end)| end - start > BUDGET + US(1_000))
            .count();
        assert!(jumps <= 5, "{watcher:?}: {jumps} ticks past one step");
    }
}
