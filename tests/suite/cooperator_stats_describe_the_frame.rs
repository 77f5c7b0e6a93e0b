//! `CooperatorStats` and `TaskStats`: steps, time, budget, overshoot, counts, longest step.

use std::time::Duration;

use crate::common::*;
use bevy_cooperator::*;

#[test]
fn time_budget_figures_on_a_manual_clock() {
    let mut app = app_with(Budget::Time(Duration::from_micros(100)));
    let manual = manual_clock(&mut app);
    let coop = global(&app);
    // Steps of 10 µs, and one slow step of 250 µs (the third).
    let m = manual.clone();
    let mut n = 0;
    let slow = app.world_mut().cooperate(std::iter::repeat_with(move || {
        n += 1;
        m.advance(Duration::from_micros(if n == 3 { 250 } else { 10 }));
    }));
    app.world_mut()
        .entity_mut(slow)
        .insert(TaskStats::default());
    let paused = app.world_mut().cooperate(std::iter::repeat(()));
    app.world_mut().pause_task(paused).unwrap();

    // Frame 1: 10 + 10 + 250 µs: over the budget after the third step.
    app.update();
    let stats = app.world().get::<Cooperator>(coop).unwrap().stats().clone();
    assert_eq!(stats.last_tick_steps, 3, "frame 1");
    assert_eq!(stats.last_tick_budget, Some(Duration::from_micros(100)));
    assert_eq!(stats.last_tick_time, Some(Duration::from_micros(270)));
    assert_eq!(stats.last_tick_overshoot, Some(Duration::from_micros(170)));
    assert_eq!(stats.longest_step, Some((slow, Duration::from_micros(250))));
    assert_eq!(stats.over_budget_steps, 1);
    assert_eq!((stats.runnable, stats.paused), (1, 1));
    let task = *app.world().get::<TaskStats>(slow).unwrap();
    assert_eq!(task.steps, 3);
    assert_eq!(task.time, Duration::from_micros(270));
    assert_eq!(task.longest, Duration::from_micros(250));
    assert_eq!(task.mean(), Some(Duration::from_micros(90)));

    // Frame 2: ten 10 µs steps fill the budget exactly.
    app.update();
    let stats = app.world().get::<Cooperator>(coop).unwrap().stats().clone();
    assert_eq!(stats.last_tick_steps, 10, "frame 2");
    assert_eq!(stats.last_tick_overshoot, Some(Duration::ZERO));
    assert_eq!(stats.last_tick_utilization(), Some(1.0));
    assert_eq!(stats.total_steps, 13);

    // Frame 3: nothing runnable; the frame figures say so.
    app.world_mut().pause_task(slow).unwrap();
    app.update();
    let stats = app.world().get::<Cooperator>(coop).unwrap().stats().clone();
    assert_eq!(stats.last_tick_steps, 0, "frame 3");
    assert_eq!(stats.last_tick_time, None);
    assert_eq!((stats.runnable, stats.paused), (0, 2));
    assert_eq!(stats.ticks, 2);
}

#[test]
fn step_budgets_count_steps_without_reading_the_clock() {
    let mut app = app_with(Budget::Steps(3));
    let coop = global(&app);
    app.world_mut().cooperate((0..10).map(|_| ()));
    app.update();
    let stats = app.world().get::<Cooperator>(coop).unwrap().stats().clone();
    assert_eq!(stats.last_tick_steps, 3);
    assert_eq!(stats.last_tick_time, None);
    assert_eq!(stats.longest_step, None);
}

// Regression: tasks ended by despawning their entity or removing their component were not
// counted.
#[test]
fn finished_counts_every_way_a_task_ends() {
    let mut app = app_with(Budget::Steps(10));
    let world = app.world_mut();
    let done = world.cooperate(std::iter::once(()));
    let stopped = world.cooperate(std::iter::repeat(()));
    let despawned = world.cooperate(std::iter::repeat(()));
    let removed = world.cooperate(std::iter::repeat(()));
    world.stop_task(stopped).unwrap();
    world.despawn(despawned);
    world.entity_mut(removed).remove::<CooperativeTask>();
    app.update();
    let _ = done;
    let stats = app
        .world()
        .get::<Cooperator>(global(&app))
        .unwrap()
        .stats()
        .clone();
    assert_eq!(stats.finished, 4);
}

#[test]
fn a_task_s_steps_are_counted_and_kept_once_it_finishes() {
    let mut app = app_with(Budget::Steps(3));
    let world = app.world_mut();
    let task = world.cooperate((0..5).map(|_| ()));
    world.entity_mut(task).insert(RetainFinished);
    assert_eq!(app.world().task_steps(task), Ok(0));
    app.update();
    assert_eq!(app.world().task_steps(task), Ok(3));
    app.world_mut().pause_task(task).unwrap();
    assert_eq!(
        app.world().task_steps(task),
        Ok(3),
        "paused, the count stays"
    );
    app.world_mut().resume_task(task).unwrap();
    frames(&mut app, 2);
    // Five items, and the step that found the iterator empty.
    assert_eq!(app.world().task_steps(task), Ok(6));
    assert!(app.world().task_outcome(task).unwrap().is_done());
    let nobody = app.world_mut().spawn_empty().id();
    assert_eq!(
        app.world().task_steps(nobody),
        Err(TaskError::NoSuchTask(nobody))
    );
}

#[test]
fn the_longest_step_names_its_task_when_that_step_ends_it() {
    // The run order keeps no entities: a step timed alone that finished its task must still be
    // named after it (its node is gone by the time the clock is read).
    let mut app = app_with(Budget::Time(Duration::from_micros(100)));
    let manual = manual_clock(&mut app);
    let coop = global(&app);
    let m = manual.clone();
    app.world_mut().cooperate(std::iter::repeat_with(move || {
        m.advance(Duration::from_micros(10));
    }));
    let m = manual.clone();
    let last = app
        .world_mut()
        .cooperate(from_fn(move |_: &mut StepContext| {
            m.advance(Duration::from_micros(250));
            Step::Done
        }));
    app.update();
    let stats = app.world().get::<Cooperator>(coop).unwrap().stats().clone();
    assert_eq!(stats.longest_step, Some((last, Duration::from_micros(250))));
    assert!(
        app.world().get_entity(last).is_err(),
        "it finished and was cleaned up"
    );
}
