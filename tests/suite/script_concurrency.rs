//! Any number of a script's crate futures may be pending at once: `join!`, `select!`,
//! `FuturesUnordered`. The task is paused exactly while nothing it awaits is ready, is polled
//! again when any of them resolves, and a dropped future cancels its wait at the source.
use crate::common::*;

use bevy_cooperator::*;
use bevy_ecs::prelude::*;
use futures::{FutureExt, StreamExt, stream::FuturesUnordered};
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[derive(Message, Clone, Debug, PartialEq)]
struct Cue(u32);

/// `join!` of a signal and a sleep: the task resumes once both are there, whichever comes first,
/// and is paused (with the marker) exactly while something is missing.
fn join_in_order(signal_first: bool) {
    let mut app = app();
    let signal = app.world_mut().spawn_signal();
    let log = Log::new();
    let l = log.clone();
    let task = app.world_mut().cooperate(script(move |cx| async move {
        let (a, b) = futures::join!(cx.wait(Wait::signal(signal)), cx.sleep(ms(40)));
        a.unwrap();
        b.unwrap();
        let t = cx.with_world(|w| elapsed_ms(w)).await;
        l.push(t);
    }));
    frames(&mut app, 1);
    assert!(app.world().get::<Paused>(task).is_some());
    assert_eq!(
        app.world()
            .get::<CooperativeTask>(task)
            .unwrap()
            .pause_count(),
        1
    );
    if signal_first {
        app.world_mut().fire_signal(signal).unwrap();
        frames(&mut app, 1);
        // Polled once more (the signal is there), then paused again for the sleep.
        assert!(app.world().get::<Paused>(task).is_some());
        assert!(log.get().is_empty());
        frames(&mut app, 3);
        assert_eq!(log.get(), vec![40]);
    } else {
        frames(&mut app, 5);
        assert!(log.get().is_empty());
        assert!(app.world().get::<Paused>(task).is_some());
        assert_eq!(PendingWaits::of(app.world()).timers, 0);
        app.world_mut().fire_signal(signal).unwrap();
        frames(&mut app, 1);
        assert_eq!(log.get(), vec![60]);
    }
    assert_eq!(PendingWaits::of(app.world()), PendingWaits::default());
}

#[test]
fn join_waits_for_both_signal_first() {
    join_in_order(true);
}

#[test]
fn join_waits_for_both_sleep_first() {
    join_in_order(false);
}

/// `select!` of a signal and a sleep: the first to resolve wins, the other future is dropped and
/// its wait leaves nothing at its source.
fn select_in_order(signal_first: bool) {
    let mut app = app();
    app.add_message::<Cue>();
    let signal = app.world_mut().spawn_signal();
    let log = Log::new();
    let l = log.clone();
    let task = app.world_mut().cooperate(script(move |cx| async move {
        let won = futures::select! {
            r = cx.wait(Wait::signal(signal)).fuse() => { r.unwrap(); "signal" }
            r = cx.sleep(ms(40)).fuse() => { r.unwrap(); "sleep" }
            m = cx.message::<Cue>().fuse() => { m.unwrap(); "message" }
        };
        l.push(won);
        // The losers are gone: nothing pending while it waits on something else.
        cx.frames(1).await.unwrap();
        let left = cx.with_world(|w| PendingWaits::of(w)).await;
        assert_eq!(left.messages, 0);
        assert_eq!(left.timers, 0);
    }));
    let finished = record_finished(&mut app);
    frames(&mut app, 1);
    assert_eq!(PendingWaits::of(app.world()).messages, 1);
    assert_eq!(PendingWaits::of(app.world()).timers, 1);
    if signal_first {
        app.world_mut().fire_signal(signal).unwrap();
        frames(&mut app, 1);
        assert_eq!(log.get(), vec!["signal"]);
    } else {
        frames(&mut app, 4);
        assert_eq!(log.get(), vec!["sleep"]);
        // The signal no longer lists the script as a waiter: firing it resolves nothing.
        app.world_mut().fire_signal(signal).unwrap();
    }
    frames(&mut app, 3);
    assert_eq!(log.len(), 1);
    assert_eq!(finished.get(), vec![(task, Outcome::Done)]);
    assert_eq!(PendingWaits::of(app.world()), PendingWaits::default());
}

#[test]
fn select_takes_the_signal_when_it_comes_first() {
    select_in_order(true);
}

#[test]
fn select_takes_the_sleep_when_it_comes_first() {
    select_in_order(false);
}

#[test]
fn a_message_wins_a_select_and_carries_its_value() {
    let mut app = app();
    app.add_message::<Cue>();
    let log = Log::new();
    let l = log.clone();
    app.world_mut().cooperate(script(move |cx| async move {
        futures::select! {
            m = cx.message::<Cue>().fuse() => l.push(m.unwrap().0),
            r = cx.sleep(ms(1000)).fuse() => { r.unwrap(); l.push(0) }
        }
    }));
    frames(&mut app, 2);
    app.world_mut().write_message(Cue(7));
    frames(&mut app, 2);
    assert_eq!(log.get(), vec![7]);
    assert_eq!(PendingWaits::of(app.world()), PendingWaits::default());
}

#[test]
fn stopping_a_task_mid_join_leaves_nothing_pending() {
    let mut app = app();
    app.add_message::<Cue>();
    let signal = app.world_mut().spawn_signal();
    let (future_wait, _output) = Wait::future(futures::future::pending::<()>());
    let task = app.world_mut().cooperate(script(move |cx| async move {
        let _ = futures::join!(
            cx.wait(Wait::signal(signal)),
            cx.sleep(ms(1000)),
            cx.message::<Cue>(),
            cx.until(|| false),
            cx.wait(future_wait),
            cx.frames(100),
        );
    }));
    frames(&mut app, 2);
    let pending = PendingWaits::of(app.world());
    assert_eq!(
        (
            pending.timers,
            pending.messages,
            pending.conditions,
            pending.futures
        ),
        (2, 1, 1, 1)
    );
    app.world_mut().stop_task(task).unwrap();
    assert_eq!(PendingWaits::of(app.world()), PendingWaits::default());
    // The signal has no waiter left: firing it touches nothing.
    app.world_mut().fire_signal(signal).unwrap();
    frames(&mut app, 2);
    assert!(app.world().get_entity(task).is_err());
}

#[test]
fn futures_unordered_yields_in_resolution_order() {
    let mut app = app();
    let log = Log::new();
    let l = log.clone();
    app.world_mut().cooperate(script(move |cx| async move {
        let mut sleeps: FuturesUnordered<_> = [30u64, 10, 20]
            .into_iter()
            .map(|n| {
                let cx = cx.clone();
                async move {
                    cx.sleep(ms(n)).await.unwrap();
                    n
                }
            })
            .collect();
        while let Some(n) = sleeps.next().await {
            let t = cx.with_world(|w| elapsed_ms(w)).await;
            l.push((n, t));
        }
    }));
    frames(&mut app, 6);
    assert_eq!(log.get(), vec![(10, 10), (20, 20), (30, 30)]);
}

#[test]
fn two_world_accesses_at_once_are_served_in_the_same_step() {
    let mut app = app();
    app.world_mut().insert_resource(Counter(0));
    let log = Log::new();
    let l = log.clone();
    let task = app.world_mut().cooperate(script(move |cx| async move {
        let (a, b) = futures::join!(
            cx.with_world(|w| {
                w.resource_mut::<Counter>().0 += 1;
                w.resource::<Counter>().0
            }),
            cx.with_world(|w| {
                w.resource_mut::<Counter>().0 += 10;
                w.resource::<Counter>().0
            }),
        );
        l.push((a, b));
    }));
    frames(&mut app, 1);
    assert_eq!(log.get(), vec![(1, 11)]);
    assert_eq!(app.world().get::<CooperativeTask>(task).map(|_| ()), None);
}

#[derive(Resource)]
struct Counter(u32);

#[test]
fn two_joins_of_the_same_type_each_get_their_own_result() {
    let mut app = app_with(Budget::Unlimited);
    let log = Log::new();
    let l = log.clone();
    app.world_mut().cooperate(script(move |cx| async move {
        let a = cx.start(script(|cx| async move {
            cx.frames(2).await?;
            Ok::<_, Failure>(1u32)
        }));
        let a = a.await;
        let b = cx
            .start(script(|cx| async move {
                cx.frames(1).await?;
                Ok::<_, Failure>(2u32)
            }))
            .await;
        let (ra, rb) = futures::join!(cx.join::<u32>(a), cx.join::<u32>(b));
        l.push((ra.unwrap(), rb.unwrap()));
    }));
    frames(&mut app, 5);
    assert_eq!(log.get(), vec![(1, 2)]);
}

#[test]
fn a_race_in_a_join_reports_its_own_winner() {
    let mut app = app();
    let (first, second) = (
        app.world_mut().spawn_signal(),
        app.world_mut().spawn_signal(),
    );
    let log = Log::new();
    let l = log.clone();
    app.world_mut().cooperate(script(move |cx| async move {
        let (a, b) = futures::join!(
            cx.race([Wait::frames(50), Wait::signal(first)]),
            cx.race([Wait::signal(second), Wait::frames(50)]),
        );
        l.push((a.unwrap(), b.unwrap()));
    }));
    frames(&mut app, 1);
    app.world_mut().fire_signal(second).unwrap();
    frames(&mut app, 1);
    app.world_mut().fire_signal(first).unwrap();
    frames(&mut app, 2);
    assert_eq!(log.get(), vec![(1, 0)]);
    assert_eq!(PendingWaits::of(app.world()), PendingWaits::default());
}

#[test]
fn a_foreign_future_can_race_a_crate_wait() {
    let mut app = app();
    let (sender, receiver) = futures::channel::oneshot::channel::<u32>();
    let log = Log::new();
    let l = log.clone();
    let task = app.world_mut().cooperate(script(move |cx| async move {
        futures::select! {
            v = receiver.fuse() => l.push(v.unwrap()),
            r = cx.sleep(ms(1000)).fuse() => { r.unwrap(); l.push(0) }
        }
    }));
    frames(&mut app, 2);
    assert!(app.world().get::<Paused>(task).is_some());
    // Sent from another thread, as a background job would.
    std::thread::spawn(move || sender.send(5).unwrap())
        .join()
        .unwrap();
    frames(&mut app, 2);
    assert_eq!(log.get(), vec![5]);
    assert_eq!(PendingWaits::of(app.world()), PendingWaits::default());
}

#[test]
fn a_single_awaited_wait_keeps_its_place_in_the_round_robin() {
    // A wait already resolved when it begins sends the script to the back of the queue, as it
    // does an iterator yielding it.
    let mut app = app_with(Budget::Steps(4));
    let log = Log::new();
    let l = log.clone();
    app.world_mut().cooperate(script(move |cx| async move {
        l.push("s0".to_string());
        cx.frames(0).await.unwrap();
        l.push("s1".to_string());
    }));
    app.world_mut().cooperate(logging(&log, "b", 3));
    frames(&mut app, 1);
    assert_eq!(log.get(), vec!["s0", "b0", "s1", "b1"]);
}

#[test]
fn a_cycle_through_a_script_awaiting_one_task_is_refused() {
    let mut app = app();
    let log = Log::new();
    let l = log.clone();
    let b_slot = std::sync::Arc::new(std::sync::Mutex::new(None::<Entity>));
    let slot = b_slot.clone();
    // B waits one frame, then on the script A (found through the slot).
    let b = app
        .world_mut()
        .cooperate(
            [Step::Wait(Wait::next_frame())]
                .into_iter()
                .chain(std::iter::once_with(move || {
                    Step::Wait(Wait::task(slot.lock().unwrap().unwrap()))
                })),
        );
    let finished = record_finished(&mut app);
    let a = app.world_mut().cooperate(script(move |cx| async move {
        l.push(cx.join::<()>(b).await.is_err());
    }));
    *b_slot.lock().unwrap() = Some(a);
    frames(&mut app, 4);
    let outcome = finished
        .get()
        .into_iter()
        .find(|(e, _)| *e == b)
        .map(|(_, o)| o);
    match outcome {
        Some(Outcome::Failed(f)) => assert!(f.to_string().contains("cycle"), "{f}"),
        other => panic!("B should fail with the cycle, got {other:?}"),
    }
    // A hears of B's failure.
    assert_eq!(log.get(), vec![true]);
}
