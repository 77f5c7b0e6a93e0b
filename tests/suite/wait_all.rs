//! `Wait::all` resumes when every wait is resolved and fails at the first failure.
use crate::common::*;

use bevy_cooperator::*;
use bevy_ecs::error::BevyError;

#[test]
fn resumes_when_all_are_resolved() {
    let mut app = app_with(Budget::Unlimited);
    let log = Log::new();
    let a = app
        .world_mut()
        .cooperate(std::iter::repeat_with(Wait::next_frame).take(2));
    let b = app
        .world_mut()
        .cooperate(std::iter::repeat_with(Wait::next_frame).take(5));
    let signal = app.world_mut().spawn_signal();
    app.world_mut().cooperate(wait_then_log(
        Wait::all([
            Wait::task(a),
            Wait::task(b),
            Wait::signal(signal),
            Wait::frames(3),
        ]),
        &log,
    ));
    frames(&mut app, 8);
    assert!(log.get().is_empty(), "the signal has not fired");
    app.world_mut().fire_signal(signal).unwrap();
    frames(&mut app, 1);
    assert_eq!(log.len(), 1);
}

#[test]
fn all_of_nothing_resumes_at_once() {
    let mut app = app_with(Budget::Unlimited);
    let log = Log::new();
    app.world_mut()
        .cooperate(wait_then_log(Wait::all([]), &log));
    frames(&mut app, 1);
    assert_eq!(log.len(), 1);
}

#[test]
fn the_first_failure_fails_the_waiter_and_the_others_run_on() {
    let mut app = app_with(Budget::Unlimited);
    let finished = record_finished(&mut app);
    let failing = app
        .world_mut()
        .cooperate([Ok(Wait::next_frame()), Err(BevyError::from("boom"))].into_iter());
    let long = app
        .world_mut()
        .cooperate(std::iter::repeat_with(Wait::next_frame).take(4));
    let waiter = app.world_mut().cooperate(wait_then_log(
        Wait::all([Wait::task(long), Wait::task(failing)]),
        &Log::new(),
    ));
    frames(&mut app, 2);
    let log = finished.get();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].0, failing);
    assert_eq!(log[1].0, waiter);
    assert_eq!(log[0].1, log[1].1, "the very same failure");
    frames(&mut app, 4);
    assert_eq!(finished.get()[2].0, long);
    assert_eq!(kind(&finished.get()[2].1), "done");
}
