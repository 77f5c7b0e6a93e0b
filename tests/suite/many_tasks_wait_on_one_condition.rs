//! Clones of one `Wait::until` share one system: any number of tasks may wait on it at once, it
//! is polled once per frame for all of them, and a `true` resumes every one.
use crate::common::*;

use bevy_app::App;
use bevy_cooperator::*;
use bevy_ecs::prelude::*;

fn polls(app: &App) -> u32 {
    app.world().resource::<Gate>().polls
}

fn set_open(app: &mut App, open: bool) {
    app.world_mut().resource_mut::<Gate>().open = open;
}

#[test]
fn many_tasks_on_one_condition_poll_it_once_per_frame() {
    let mut app = app_with(Budget::Unlimited);
    app.init_resource::<Gate>();
    let finished = record_finished(&mut app);
    let wait = Wait::until(gate_open);
    let tasks: Vec<Entity> = (0..50)
        .map(|_| {
            app.world_mut()
                .cooperate(std::iter::repeat_n(wait.clone(), 2))
        })
        .collect();
    frames(&mut app, 1);
    // Each wait polls once when it begins.
    assert_eq!(polls(&app), 50);
    let pending = PendingWaits::of(app.world());
    assert_eq!((pending.conditions, pending.condition_systems), (50, 1));
    frames(&mut app, 4);
    assert_eq!(polls(&app), 54, "once per frame, not once per waiter");
    assert!(finished.get().is_empty());

    set_open(&mut app, true);
    frames(&mut app, 1);
    // One poll in Wake resumed all 50; their second waits began already true.
    assert_eq!(polls(&app), 55 + 50);
    assert_eq!(finished.len(), 50);
    let done: Vec<Entity> = finished.get().iter().map(|(e, _)| *e).collect();
    assert_eq!(done, tasks, "resumed in the order they began waiting");
    assert_eq!(PendingWaits::of(app.world()), PendingWaits::default());
    frames(&mut app, 3);
    assert_eq!(polls(&app), 105, "nobody waits: no polling");
}

#[test]
fn separate_conditions_are_polled_separately() {
    let mut app = app_with(Budget::Unlimited);
    app.init_resource::<Gate>();
    let a = Wait::until(gate_open);
    let b = Wait::until(gate_open);
    for wait in [a.clone(), a, b.clone(), b] {
        app.world_mut().cooperate([wait].into_iter());
    }
    frames(&mut app, 1);
    assert_eq!(polls(&app), 4);
    let pending = PendingWaits::of(app.world());
    assert_eq!((pending.conditions, pending.condition_systems), (4, 2));
    frames(&mut app, 1);
    assert_eq!(polls(&app), 6);
}

#[test]
fn stopping_some_waiters_leaves_the_others_waiting() {
    let mut app = app_with(Budget::Unlimited);
    app.init_resource::<Gate>();
    let finished = record_finished(&mut app);
    let wait = Wait::until(gate_open);
    let tasks: Vec<Entity> = (0..4)
        .map(|_| app.world_mut().cooperate([wait.clone()].into_iter()))
        .collect();
    frames(&mut app, 1);
    app.world_mut().stop_task(tasks[0]).unwrap();
    app.world_mut().stop_task(tasks[2]).unwrap();
    assert_eq!(PendingWaits::of(app.world()).conditions, 2);
    set_open(&mut app, true);
    frames(&mut app, 1);
    assert_eq!(kinds(&finished), vec!["stopped", "stopped", "done", "done"]);
    assert_eq!(finished.get()[2].0, tasks[1]);
    assert_eq!(finished.get()[3].0, tasks[3]);
    assert_eq!(PendingWaits::of(app.world()), PendingWaits::default());
}

#[test]
fn stopping_every_waiter_stops_the_polling() {
    let mut app = app_with(Budget::Unlimited);
    app.init_resource::<Gate>();
    let wait = Wait::until(gate_open);
    let tasks: Vec<Entity> = (0..3)
        .map(|_| app.world_mut().cooperate([wait.clone()].into_iter()))
        .collect();
    frames(&mut app, 2);
    assert_eq!(polls(&app), 4);
    for task in tasks {
        app.world_mut().stop_task(task).unwrap();
    }
    assert_eq!(PendingWaits::of(app.world()), PendingWaits::default());
    frames(&mut app, 3);
    assert_eq!(polls(&app), 4);
}

#[test]
fn one_task_may_wait_on_two_clones_at_once() {
    let mut app = app_with(Budget::Unlimited);
    app.init_resource::<Gate>();
    let finished = record_finished(&mut app);
    let wait = Wait::until(gate_open);
    app.world_mut().cooperate(
        [
            Wait::all([wait.clone(), wait.clone()]),
            Wait::race([wait.clone(), wait]),
        ]
        .into_iter(),
    );
    frames(&mut app, 2);
    let pending = PendingWaits::of(app.world());
    assert_eq!((pending.conditions, pending.condition_systems), (2, 1));
    set_open(&mut app, true);
    frames(&mut app, 2);
    assert_eq!(kinds(&finished), vec!["done"]);
    assert_eq!(PendingWaits::of(app.world()), PendingWaits::default());
}

#[test]
fn a_condition_that_stops_running_fails_every_waiter() {
    let mut app = app_with(Budget::Unlimited);
    app.init_resource::<Gate>();
    let finished = record_finished(&mut app);
    let wait = Wait::until(gate_open);
    for _ in 0..3 {
        app.world_mut().cooperate([wait.clone()].into_iter());
    }
    frames(&mut app, 1);
    app.world_mut().remove_resource::<Gate>();
    frames(&mut app, 1);
    assert_eq!(kinds(&finished), vec!["failed"; 3]);
    let (_, Outcome::Failed(failure)) = &finished.get()[0] else {
        unreachable!()
    };
    assert!(failure.to_string().contains("cannot run"), "{failure}");
    assert_eq!(PendingWaits::of(app.world()), PendingWaits::default());
}

#[test]
fn a_shared_local_counts_once_per_frame() {
    // The Local lives in the one system: it advances once per frame, however many wait.
    let mut app = app_with(Budget::Unlimited);
    let finished = record_finished(&mut app);
    let third = Wait::until(|mut n: Local<u32>| {
        *n += 1;
        *n == 3
    });
    let tasks: Vec<Entity> = (0..10)
        .map(|_| app.world_mut().cooperate([third.clone()].into_iter()))
        .collect();
    // Frame 1: ten registration polls (counts 1..=10: the third one resumes at once).
    frames(&mut app, 1);
    assert_eq!(
        finished.len(),
        1,
        "the third task saw `true` when it began waiting"
    );
    assert_eq!(finished.get()[0].0, tasks[2]);
    // The other nine wait for a count of 3 that has passed: still waiting, polled once a frame.
    frames(&mut app, 5);
    assert_eq!(finished.len(), 1);
    let pending = PendingWaits::of(app.world());
    assert_eq!((pending.conditions, pending.condition_systems), (9, 1));
}

#[test]
fn a_condition_of_another_world_fails_instead_of_panicking() {
    let mut first = app_with(Budget::Unlimited);
    let mut second = app_with(Budget::Unlimited);
    first.init_resource::<Gate>();
    second.init_resource::<Gate>();
    let finished = record_finished(&mut second);
    let wait = Wait::until(gate_open);
    first.world_mut().cooperate([wait.clone()].into_iter());
    second.world_mut().cooperate([wait].into_iter());
    frames(&mut first, 1);
    frames(&mut second, 1);
    assert_eq!(kinds(&finished), vec!["failed"]);
    let (_, Outcome::Failed(failure)) = &finished.get()[0] else {
        unreachable!()
    };
    assert!(failure.to_string().contains("another world"), "{failure}");
}

#[test]
fn thousands_of_waiters_come_and_go_in_any_order() {
    let mut app = app_with(Budget::Unlimited);
    app.init_resource::<Gate>();
    let finished = record_finished(&mut app);
    let wait = Wait::until(gate_open);
    let tasks: Vec<Entity> = (0..20_000)
        .map(|_| app.world_mut().cooperate([wait.clone()].into_iter()))
        .collect();
    frames(&mut app, 1);
    assert_eq!(PendingWaits::of(app.world()).conditions, 20_000);
    // Stop every third from the back, then the first half of the rest from the front.
    for task in tasks.iter().rev().step_by(3) {
        app.world_mut().stop_task(*task).unwrap();
    }
    let stopped: std::collections::HashSet<Entity> =
        tasks.iter().rev().step_by(3).copied().collect();
    let rest: Vec<Entity> = tasks
        .iter()
        .filter(|t| !stopped.contains(t))
        .copied()
        .collect();
    for task in &rest[..rest.len() / 2] {
        app.world_mut().stop_task(*task).unwrap();
    }
    let left = &rest[rest.len() / 2..];
    assert_eq!(PendingWaits::of(app.world()).conditions, left.len());
    let before = finished.len();
    set_open(&mut app, true);
    frames(&mut app, 1);
    let done: Vec<Entity> = finished.get()[before..].iter().map(|(e, _)| *e).collect();
    assert_eq!(done, left, "the rest resume, in order");
    assert_eq!(PendingWaits::of(app.world()), PendingWaits::default());
}
