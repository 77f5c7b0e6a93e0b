//! Condition waits poll their system once per frame while waiting, and resume the frame it
//! returns true.
use crate::common::*;

use bevy_cooperator::*;

#[test]
fn polled_once_per_frame_until_true() {
    let mut app = app();
    app.init_resource::<Gate>();
    let log = Log::new();
    app.world_mut()
        .cooperate(wait_then_log(Wait::until(gate_open), &log));
    frames(&mut app, 1); // polled once when the wait begins
    assert_eq!(app.world().resource::<Gate>().polls, 1);
    frames(&mut app, 3);
    assert_eq!(app.world().resource::<Gate>().polls, 4);
    assert!(log.get().is_empty());
    assert_eq!(PendingWaits::of(app.world()).conditions, 1);
    app.world_mut().resource_mut::<Gate>().open = true;
    frames(&mut app, 1);
    assert_eq!(log.len(), 1);
    assert_eq!(PendingWaits::of(app.world()).conditions, 0);
    frames(&mut app, 3);
    assert_eq!(
        app.world().resource::<Gate>().polls,
        5,
        "no polling once resolved"
    );
}

#[test]
fn already_true_resumes_at_once() {
    let mut app = app_with(Budget::Unlimited);
    app.insert_resource(Gate {
        open: true,
        polls: 0,
    });
    let log = Log::new();
    app.world_mut()
        .cooperate(wait_then_log(Wait::until(gate_open), &log));
    frames(&mut app, 1);
    assert_eq!(log.len(), 1);
}

#[test]
fn a_condition_that_cannot_run_fails_the_wait() {
    let mut app = app();
    let finished = record_finished(&mut app);
    app.world_mut()
        .cooperate(wait_then_log(Wait::until(gate_open), &Log::new()));
    frames(&mut app, 1);
    assert_eq!(kinds(&finished), vec!["failed"]);
}
