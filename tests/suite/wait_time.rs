//! Time waits resume in the first frame whose elapsed time reaches the deadline, not before;
//! pausing virtual time freezes them; real-time waits keep running.
use crate::common::*;

use bevy_cooperator::*;
use bevy_time::{Time, Virtual};
use std::time::Duration;

#[test]
fn resumes_in_the_frame_the_deadline_is_reached() {
    let mut app = app();
    let log = Log::new();
    let task = app.world_mut().cooperate(wait_then_log(
        Wait::duration(Duration::from_millis(30)),
        &log,
    ));
    frames(&mut app, 1); // elapsed 0: waits until 30 ms
    assert!(app.world().get::<Paused>(task).is_some());
    frames(&mut app, 2); // elapsed 10, 20
    assert!(log.get().is_empty(), "not before the deadline");
    assert_eq!(PendingWaits::of(app.world()).timers, 1);
    frames(&mut app, 1); // elapsed 30
    assert_eq!(log.get(), vec![30]);
    assert_eq!(PendingWaits::of(app.world()).timers, 0);
}

#[test]
fn seconds_is_duration() {
    let mut app = app();
    let log = Log::new();
    app.world_mut()
        .cooperate(wait_then_log(Wait::seconds(0.05), &log));
    frames(&mut app, 6);
    assert_eq!(log.get(), vec![50]);
}

#[test]
fn pausing_virtual_time_freezes_the_wait() {
    let mut app = app();
    let log = Log::new();
    app.world_mut().cooperate(wait_then_log(
        Wait::duration(Duration::from_millis(30)),
        &log,
    ));
    frames(&mut app, 2); // elapsed 10
    app.world_mut().resource_mut::<Time<Virtual>>().pause();
    frames(&mut app, 20);
    assert!(log.get().is_empty(), "frozen while virtual time is paused");
    app.world_mut().resource_mut::<Time<Virtual>>().unpause();
    frames(&mut app, 1); // elapsed 20
    assert!(log.get().is_empty());
    frames(&mut app, 1); // elapsed 30
    assert_eq!(log.get(), vec![30]);
}

#[test]
fn real_time_waits_ignore_the_virtual_pause() {
    let mut app = app();
    let log = Log::new();
    app.world_mut()
        .cooperate(wait_then_log(Wait::real(Duration::from_millis(30)), &log));
    frames(&mut app, 1); // real 0
    app.world_mut().resource_mut::<Time<Virtual>>().pause();
    frames(&mut app, 2); // real 10, 20
    assert!(log.get().is_empty());
    frames(&mut app, 1); // real 30: resumes though virtual time stands still at 0
    assert_eq!(log.get(), vec![0]);
}

#[test]
fn equal_deadlines_resume_in_registration_order() {
    let mut app = app_with(Budget::Unlimited);
    let order = Log::new();
    for name in ["a", "b", "c"] {
        let order = order.clone();
        let mut waited = false;
        app.world_mut()
            .cooperate(from_fn(move |_: &mut StepContext| {
                if !waited {
                    waited = true;
                    return Step::Wait(Wait::duration(Duration::from_millis(20)));
                }
                order.push(name);
                Step::Done
            }));
    }
    frames(&mut app, 3);
    assert_eq!(order.get(), vec!["a", "b", "c"]);
}
