//! Message waits see only messages written after the wait began, optionally filtered, and cost
//! nothing once nobody waits.
use crate::common::*;

use bevy_cooperator::*;
use bevy_ecs::prelude::*;

#[derive(Message, Clone, Copy)]
struct Advance(u32);

#[test]
fn only_messages_written_after_the_wait_began_count() {
    let mut app = app();
    app.add_message::<Advance>();
    let log = Log::new();
    // Written in the same frame, before the wait begins.
    app.world_mut().write_message(Advance(1));
    let task = app
        .world_mut()
        .cooperate(wait_then_log(Wait::message::<Advance>(), &log));
    frames(&mut app, 3);
    assert!(
        log.get().is_empty(),
        "an older message does not resume the wait"
    );
    assert!(app.world().get::<Paused>(task).is_some());
    assert_eq!(PendingWaits::of(app.world()).messages, 1);
    app.world_mut().write_message(Advance(2));
    frames(&mut app, 1);
    assert_eq!(log.len(), 1);
    assert_eq!(PendingWaits::of(app.world()).messages, 0);
}

#[test]
fn a_filter_skips_messages_that_do_not_match() {
    let mut app = app();
    app.add_message::<Advance>();
    let log = Log::new();
    app.world_mut().cooperate(wait_then_log(
        Wait::message_where(|a: &Advance| a.0 == 7),
        &log,
    ));
    frames(&mut app, 1);
    app.world_mut().write_message(Advance(3));
    frames(&mut app, 2);
    assert!(log.get().is_empty());
    app.world_mut().write_message(Advance(7));
    frames(&mut app, 1);
    assert_eq!(log.len(), 1);
}

#[test]
fn one_message_resumes_every_waiter() {
    let mut app = app_with(Budget::Unlimited);
    app.add_message::<Advance>();
    let log = Log::new();
    for _ in 0..3 {
        app.world_mut()
            .cooperate(wait_then_log(Wait::message::<Advance>(), &log));
    }
    frames(&mut app, 1);
    app.world_mut().write_message(Advance(1));
    frames(&mut app, 1);
    assert_eq!(log.len(), 3);
}

#[test]
fn an_unregistered_message_type_fails_the_wait() {
    let mut app = app();
    let finished = record_finished(&mut app);
    app.world_mut()
        .cooperate(wait_then_log(Wait::message::<Advance>(), &Log::new()));
    frames(&mut app, 1);
    assert_eq!(kinds(&finished), vec!["failed"]);
}
