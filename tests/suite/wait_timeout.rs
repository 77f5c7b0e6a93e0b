//! A wait with a timeout fails with `WaitTimedOut` when time runs out first, resumes normally
//! otherwise, and leaves no timer behind either way.
use crate::common::*;

use bevy_cooperator::SignalState;
use bevy_cooperator::*;
use std::time::Duration;

const T: Duration = Duration::from_millis(30);

#[test]
fn the_timeout_fires() {
    let mut app = app();
    let finished = record_finished(&mut app);
    let signal = app.world_mut().spawn_signal();
    app.world_mut()
        .cooperate(wait_then_log(Wait::signal(signal).timeout(T), &Log::new()));
    frames(&mut app, 3); // elapsed 0..20
    assert!(finished.get().is_empty());
    frames(&mut app, 1); // elapsed 30
    let (_, outcome) = finished.get()[0].clone();
    let failure = outcome.failure().expect("failed");
    assert_eq!(
        failure.downcast_ref::<WaitTimedOut>(),
        Some(&WaitTimedOut(T))
    );
    assert_eq!(
        app.world()
            .get::<SignalState>(signal.entity())
            .unwrap()
            .waiting(),
        0
    );
    assert_eq!(PendingWaits::of(app.world()), PendingWaits::default());
}

#[test]
fn settled_resumes_after_a_timeout() {
    let mut app = app();
    let log = Log::new();
    let signal = app.world_mut().spawn_signal();
    app.world_mut().cooperate(wait_then_log(
        Wait::signal(signal).timeout(T).settled(),
        &log,
    ));
    frames(&mut app, 4);
    assert_eq!(log.get(), vec![30]);
}

#[test]
fn resolving_first_cancels_the_timer() {
    let mut app = app();
    let log = Log::new();
    let signal = app.world_mut().spawn_signal();
    app.world_mut()
        .cooperate(wait_then_log(Wait::signal(signal).timeout(T), &log));
    frames(&mut app, 2);
    assert_eq!(PendingWaits::of(app.world()).timers, 1);
    app.world_mut().fire_signal(signal).unwrap();
    assert_eq!(PendingWaits::of(app.world()).timers, 0);
    frames(&mut app, 1);
    assert_eq!(log.get(), vec![20]);
}

#[test]
fn a_timed_out_task_wait_stops_the_task() {
    let mut app = app_with(Budget::Unlimited);
    let finished = record_finished(&mut app);
    let slow = app
        .world_mut()
        .cooperate(std::iter::repeat_with(Wait::next_frame).take(100));
    app.world_mut().cooperate(wait_then_log(
        Wait::task(slow).timeout(T).settled(),
        &Log::new(),
    ));
    frames(&mut app, 4);
    assert_eq!(kinds(&finished), vec!["stopped", "done"]);
    assert_eq!(finished.get()[0].0, slow);
}
