//! Budgets: how much a cooperator does per frame (Twisted's termination predicate).

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicU32, Ordering},
};
use std::time::Duration;

use crate::common::*;
use bevy_cooperator::*;
use bevy_time::{Real, Time};

fn never_ending(log: &Log<u32>) -> impl Iterator<Item = ()> + Send + 'static {
    let log = log.clone();
    (0..).map(move |i| log.push(i))
}

// T08: a custom predicate is polled after each step; the tick ends as soon as it is true.
#[test]
fn a_custom_predicate_ends_the_tick_when_true() {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let mut app = app_with(Budget::custom(move || {
        let f = f.clone();
        move || f.load(Ordering::SeqCst)
    }));
    let log = Log::new();
    let f = flag.clone();
    let l = log.clone();
    app.world_mut().cooperate((0..100).map(move |i| {
        l.push(i);
        if i == 9 {
            f.store(true, Ordering::SeqCst);
        }
    }));
    app.update();
    assert!(flag.load(Ordering::SeqCst));
    assert_eq!(log.get(), (0..10).collect::<Vec<u32>>());
    let global = global(&app);
    assert_eq!(
        app.world()
            .get::<Cooperator>(global)
            .unwrap()
            .stats()
            .last_tick_steps,
        10
    );
}

// X09: the predicate factory is called once per tick (a frame with runnable tasks).
#[test]
fn the_predicate_factory_is_called_once_per_tick() {
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let mut app = app_with(Budget::custom(move || {
        c.fetch_add(1, Ordering::SeqCst);
        let mut n = 0;
        move || {
            n += 1;
            n == 3
        }
    }));
    let log = Log::new();
    app.world_mut().cooperate(never_ending(&log));
    frames(&mut app, 4);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert_eq!(log.len(), 12);
}

// X13 (not applicable: no external scheduler): an idle cooperator (no runnable task) does not
// tick at all, not even its factory runs, so it costs nothing.
#[test]
fn an_idle_cooperator_does_not_tick() {
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let mut app = app_with(Budget::custom(move || {
        c.fetch_add(1, Ordering::SeqCst);
        || true
    }));
    frames(&mut app, 3);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[test]
fn a_step_budget_runs_exactly_that_many_steps() {
    let mut app = app_with(Budget::Steps(7));
    let log = Log::new();
    app.world_mut().cooperate(never_ending(&log));
    app.world_mut().cooperate(never_ending(&log));
    app.update();
    assert_eq!(log.len(), 7, "frame 1");
    app.update();
    assert_eq!(log.len(), 14, "frame 2");
}

#[test]
fn a_step_budget_stops_early_when_the_work_runs_out() {
    let mut app = app_with(Budget::Steps(50));
    let log = Log::new();
    app.world_mut().cooperate(never_ending(&log).take(5));
    app.update();
    assert_eq!(log.len(), 5);
}

// X08: every tick with a runnable task runs at least one step, whatever the budget.
#[test]
fn a_zero_budget_still_makes_progress() {
    for budget in [
        Budget::Steps(0),
        Budget::Time(Duration::ZERO),
        Budget::custom(|| || true),
        Budget::FrameFraction {
            fraction: 0.0,
            min: Duration::ZERO,
            max: Duration::ZERO,
        },
    ] {
        let mut app = app_with(budget.clone());
        let _manual = manual_clock(&mut app);
        let log = Log::new();
        app.world_mut().cooperate(never_ending(&log));
        frames(&mut app, 3);
        assert_eq!(log.len(), 3, "{budget:?}: one step per frame");
    }
}

/// A task whose every step takes `cost` on the manual clock.
fn costly(
    manual: &ManualClock,
    cost: Duration,
    log: &Log<u32>,
) -> impl Iterator<Item = ()> + Send + 'static {
    let manual = manual.clone();
    let log = log.clone();
    (0..).map(move |i| {
        manual.advance(cost);
        log.push(i);
    })
}

#[test]
fn a_time_budget_stops_the_tick_once_the_clock_passes_it() {
    let mut app = app_with(Budget::Time(Duration::from_millis(5)));
    let manual = manual_clock(&mut app);
    let log = Log::new();
    app.world_mut()
        .cooperate(costly(&manual, Duration::from_millis(1), &log));
    app.update();
    assert_eq!(log.len(), 5, "frame 1: five 1 ms steps in 5 ms");
    app.update();
    assert_eq!(log.len(), 10, "frame 2");
    let global = global(&app);
    let stats = app
        .world()
        .get::<Cooperator>(global)
        .unwrap()
        .stats()
        .clone();
    assert_eq!(stats.last_tick_time, Some(Duration::from_millis(5)));
}

#[test]
fn a_time_budget_with_cheap_steps_reads_the_clock_in_batches_but_stays_close() {
    // Steps of 1 µs against a 1 ms budget: the overshoot stays within 1/32 of the budget.
    let mut app = app_with(Budget::Time(Duration::from_millis(1)));
    let manual = manual_clock(&mut app);
    let log = Log::new();
    app.world_mut()
        .cooperate(costly(&manual, Duration::from_micros(1), &log));
    app.update();
    let steps = log.len();
    assert!((1000..=1032).contains(&steps), "{steps} steps");
}

#[test]
fn a_slow_step_ends_the_tick_with_a_time_budget() {
    let mut app = app_with(Budget::Time(Duration::from_millis(2)));
    let manual = manual_clock(&mut app);
    let log = Log::new();
    app.world_mut()
        .cooperate(costly(&manual, Duration::from_millis(10), &log));
    app.update();
    assert_eq!(log.len(), 1, "one step, however slow");
}

#[test]
fn a_frame_fraction_follows_the_real_frame_time() {
    let budget = Budget::FrameFraction {
        fraction: 0.5,
        min: Duration::from_millis(1),
        max: Duration::from_millis(100),
    };
    let mut app = app_with(budget);
    let manual = manual_clock(&mut app);
    let log = Log::new();
    app.world_mut()
        .cooperate(costly(&manual, Duration::from_millis(1), &log));
    app.update();
    assert_eq!(
        app.world().resource::<Time<Real>>().delta(),
        Duration::ZERO,
        "the first frame has no delta"
    );
    assert_eq!(log.len(), 1, "frame 1: the minimum, 1 ms");
    app.update();
    // FRAME is 10 ms of real time: half of it is 5 ms.
    assert_eq!(app.world().resource::<Time<Real>>().delta(), FRAME);
    assert_eq!(log.len(), 1 + 5, "frame 2: half of 10 ms");
    app.insert_resource(bevy_time::TimeUpdateStrategy::ManualDuration(
        Duration::from_millis(40),
    ));
    app.update();
    assert_eq!(log.len(), 6 + 20, "frame 3: half of 40 ms");
}

#[test]
fn a_frame_fraction_is_clamped() {
    let budget = Budget::FrameFraction {
        fraction: 1.0,
        min: Duration::from_millis(2),
        max: Duration::from_millis(3),
    };
    let mut app = app_with(budget);
    let manual = manual_clock(&mut app);
    let log = Log::new();
    app.world_mut()
        .cooperate(costly(&manual, Duration::from_millis(1), &log));
    app.update();
    assert_eq!(log.len(), 2, "frame 1: the minimum");
    app.update();
    assert_eq!(log.len(), 2 + 3, "frame 2: the maximum, not 10 ms");
}

#[test]
fn an_unlimited_budget_runs_everything_in_one_frame() {
    let mut app = app_with(Budget::Unlimited);
    let log = Log::new();
    for _ in 0..3 {
        app.world_mut().cooperate(never_ending(&log).take(100));
    }
    app.update();
    assert_eq!(log.len(), 300);
}

#[test]
fn the_budget_can_change_at_run_time() {
    let mut app = app_with(Budget::Steps(1));
    let log = Log::new();
    app.world_mut().cooperate(never_ending(&log));
    app.update();
    let global = global(&app);
    app.world_mut()
        .get_mut::<Cooperator>(global)
        .unwrap()
        .budget = Budget::Steps(4);
    app.update();
    assert_eq!(log.len(), 5);
}

// A custom predicate that panics ends the tick and loses no task.
#[test]
fn a_panicking_budget_predicate_ends_the_tick_and_loses_nothing() {
    let mut app = app_with(Budget::custom(|| {
        let mut polls = 0;
        move || {
            polls += 1;
            assert!(polls < 3, "predicate panics on its third poll");
            false
        }
    }));
    let task = app.world_mut().cooperate((0..10).map(|_| ()));
    app.world_mut().entity_mut(task).insert(RetainFinished);
    app.update();
    assert_eq!(app.world().task_steps(task), Ok(3));
    app.world_mut().stop_task(task).unwrap();
    assert_eq!(
        app.world().task_outcome(task),
        Some(Outcome::Stopped),
        "the task was still there to be stopped"
    );
}

#[derive(bevy_ecs::resource::Resource)]
struct StepsAllowed(u32);

fn allowed(steps: bevy_ecs::system::Res<StepsAllowed>) -> impl FnMut() -> bool + Send + use<> {
    let mut left = steps.0;
    move || {
        left = left.saturating_sub(1);
        left == 0
    }
}

#[test]
fn a_system_budget_reads_the_world_once_per_tick() {
    let mut app = app_with(Budget::system(allowed));
    app.insert_resource(StepsAllowed(3));
    let task = app.world_mut().cooperate(std::iter::repeat(()));
    app.update();
    assert_eq!(app.world().task_steps(task), Ok(3));
    app.world_mut().resource_mut::<StepsAllowed>().0 = 10;
    app.update();
    assert_eq!(app.world().task_steps(task), Ok(13));
}

#[test]
fn a_system_budget_that_cannot_run_ends_each_tick_after_one_step() {
    // No `StepsAllowed` resource: the system cannot run; the game goes on, a step a tick.
    let mut app = app_with(Budget::system(allowed));
    let task = app.world_mut().cooperate(std::iter::repeat(()));
    frames(&mut app, 3);
    assert_eq!(app.world().task_steps(task), Ok(3));
}

#[test]
fn a_system_budget_belongs_to_the_first_world_it_runs_in() {
    let budget = Budget::system(allowed);
    let mut first = app_with(budget.clone());
    let mut second = app_with(budget);
    for app in [&mut first, &mut second] {
        app.insert_resource(StepsAllowed(4));
    }
    let a = first.world_mut().cooperate(std::iter::repeat(()));
    let b = second.world_mut().cooperate(std::iter::repeat(()));
    first.update();
    second.update();
    assert_eq!(first.world().task_steps(a), Ok(4));
    assert_eq!(
        second.world().task_steps(b),
        Ok(1),
        "another world: one step a tick"
    );
}
