//! A script receives the message that resumed it: `cx.message::<M>()` and `cx.message_where(f)`
//! return (a clone of) it; the iterator form only resumes.
use crate::common::*;

use bevy_cooperator::*;
use bevy_ecs::{error::BevyError, prelude::*};

#[derive(Message, Clone, Debug, PartialEq)]
struct Choice(u32);

#[derive(Message, Clone)]
struct Unregistered;

#[test]
fn message_returns_the_message_that_resumed_the_script() {
    let mut app = app();
    app.add_message::<Choice>();
    let got = Log::new();
    let g = got.clone();
    let task = app.world_mut().cooperate(script(|cx| async move {
        let first = cx.message::<Choice>().await?;
        g.push(first);
        let big = cx.message_where(|c: &Choice| c.0 > 10).await?;
        g.push(big);
        Ok::<_, BevyError>(())
    }));
    // Older than the wait: not received.
    app.world_mut().write_message(Choice(99));
    frames(&mut app, 2);
    assert!(got.get().is_empty());
    app.world_mut().write_message(Choice(1));
    frames(&mut app, 2);
    assert_eq!(got.get(), vec![Choice(1)]);
    // The filter skips non-matching messages and returns the first match of the frame.
    app.world_mut().write_message(Choice(5));
    app.world_mut().write_message(Choice(12));
    app.world_mut().write_message(Choice(13));
    frames(&mut app, 2);
    assert_eq!(got.get(), vec![Choice(1), Choice(12)]);
    assert!(app.world().get::<CooperativeTask>(task).is_none());
    assert_eq!(PendingWaits::of(app.world()), PendingWaits::default());
}

#[test]
fn every_waiting_script_gets_its_own_copy() {
    let mut app = app_with(Budget::Unlimited);
    app.add_message::<Choice>();
    let got = Log::new();
    for _ in 0..3 {
        let g = got.clone();
        app.world_mut().cooperate(script(|cx| async move {
            let c = cx.message::<Choice>().await?;
            g.push(c.0);
            Ok::<_, BevyError>(())
        }));
    }
    frames(&mut app, 1);
    app.world_mut().write_message(Choice(7));
    frames(&mut app, 1);
    assert_eq!(got.get(), vec![7, 7, 7]);
}

#[test]
fn an_unregistered_message_type_is_an_err() {
    let mut app = app();
    let finished = record_finished(&mut app);
    let errors = Log::new();
    let e = errors.clone();
    app.world_mut().cooperate(script(|cx| async move {
        if let Err(failure) = cx.message::<Unregistered>().await {
            e.push(failure.to_string());
        }
    }));
    frames(&mut app, 2);
    assert_eq!(kinds(&finished), vec!["done"]);
    assert_eq!(errors.len(), 1);
    assert!(
        errors.get()[0].contains("not registered"),
        "{:?}",
        errors.get()
    );
}

#[test]
fn a_stopped_script_leaves_no_message_waiter() {
    let mut app = app();
    app.add_message::<Choice>();
    let task = app.world_mut().cooperate(script(|cx| async move {
        let _ = cx.message_where(|c: &Choice| c.0 == 3).await;
    }));
    frames(&mut app, 1);
    assert_eq!(PendingWaits::of(app.world()).messages, 1);
    app.world_mut().stop_task(task).unwrap();
    assert_eq!(PendingWaits::of(app.world()).messages, 0);
    app.world_mut().write_message(Choice(3));
    frames(&mut app, 2);
}
