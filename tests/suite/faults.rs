//! Faults: steps and observers that panic, despawn or stop things under the scheduler's feet.
//! Each leaves the scheduler consistent: every task finishes exactly once, nothing hangs, nothing
//! leaks, the other tasks carry on.

use std::sync::Once;

use crate::common::*;
use bevy_app::App;
use bevy_cooperator::*;
use bevy_ecs::prelude::*;

/// Deliberate panics in this file start with this; the hook below keeps them out of the log.
const MARKER: &str = "faults: deliberate panic";

fn quiet_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let p = info.payload();
            let msg = p
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| p.downcast_ref::<String>().map(String::as_str));
            if !msg.is_some_and(|m| m.contains(MARKER)) {
                default(info);
            }
        }));
    });
}

/// A task that logs its tag on each of `n` steps.
fn counter(
    log: &Log<String>,
    tag: &'static str,
    n: usize,
) -> impl Iterator<Item = ()> + Send + 'static {
    logging(log, tag, n)
}

/// Every entity gone but the baseline, and no task component left.
fn assert_clean(app: &mut App, baseline: usize) {
    let world = app.world_mut();
    assert_eq!(plain_entity_count(world), baseline, "entities leaked");
    assert_eq!(world.query::<&CooperativeTask>().iter(world).count(), 0);
}

/// Each entity finished exactly once.
fn assert_once(log: &Log<(Entity, Outcome)>) {
    let mut seen = std::collections::HashSet::new();
    for (e, _) in log.get() {
        assert!(seen.insert(e), "{e} finished twice");
    }
}

#[test]
fn a_panicking_step_fails_only_its_task() {
    quiet_panics();
    let mut app = app_with(Budget::Steps(10));
    let baseline = plain_entity_count(app.world_mut());
    let finished = record_finished(&mut app);
    let log = Log::new();
    let world = app.world_mut();
    let a = world.cooperate(counter(&log, "a", 3));
    let mut n = 0;
    let bad = world.cooperate(from_fn(move |_: &mut StepContext| {
        n += 1;
        if n == 2 {
            panic!("{MARKER}");
        }
        Step::Continue
    }));
    let c = world.cooperate(counter(&log, "c", 3));
    frames(&mut app, 3);
    let got = finished.get();
    assert_eq!(got.len(), 3);
    let failure = got.iter().find(|(e, _)| *e == bad).unwrap().1.clone();
    assert!(failure.failure().unwrap().to_string().contains(MARKER));
    assert!(got.iter().any(|(e, o)| *e == a && o.is_done()));
    assert!(got.iter().any(|(e, o)| *e == c && o.is_done()));
    assert_eq!(log.len(), 6);
    assert_once(&finished);
    assert_clean(&mut app, baseline);
}

#[test]
fn a_step_that_despawns_its_own_entity_stops_it_once() {
    let mut app = app_with(Budget::Steps(10));
    let baseline = plain_entity_count(app.world_mut());
    let finished = record_finished(&mut app);
    let log = Log::new();
    let world = app.world_mut();
    let waiter_target = world.cooperate(from_fn(|cx: &mut StepContext| {
        let me = cx.task();
        cx.world().despawn(me);
        Step::Done // ignored: the task is already over
    }));
    let waiter = world.cooperate([Step::Wait(Wait::task(waiter_target))].into_iter());
    let other = world.cooperate(counter(&log, "o", 3));
    frames(&mut app, 2);
    let got = finished.get();
    assert_eq!(
        kind(&got.iter().find(|(e, _)| *e == waiter_target).unwrap().1),
        "stopped"
    );
    // Whoever waited on it learns it was stopped, and fails.
    assert_eq!(
        kind(&got.iter().find(|(e, _)| *e == waiter).unwrap().1),
        "failed"
    );
    assert_eq!(
        kind(&got.iter().find(|(e, _)| *e == other).unwrap().1),
        "done"
    );
    assert_eq!(got.len(), 3);
    assert_once(&finished);
    assert_clean(&mut app, baseline);
}

#[test]
fn a_step_that_despawns_its_cooperator_finishes_every_task_at_once() {
    let mut app = app_with(Budget::Steps(10));
    let baseline = plain_entity_count(app.world_mut());
    let finished = record_finished(&mut app);
    let log = Log::new();
    let world = app.world_mut();
    let coop = world.spawn(Cooperator::new(Budget::Steps(10))).id();
    let before = world.cooperate_on(coop, counter(&log, "b", 5)).unwrap();
    let killer = world
        .cooperate_on(
            coop,
            from_fn(move |cx: &mut StepContext| {
                cx.world().despawn(coop);
                Step::Continue
            }),
        )
        .unwrap();
    let after = world.cooperate_on(coop, counter(&log, "z", 5)).unwrap();
    let paused = world.cooperate_on(coop, counter(&log, "p", 5)).unwrap();
    world.pause_task(paused).unwrap();
    frames(&mut app, 3);
    // `before` ran once, then the killer despawned the cooperator: nothing else ever ran.
    assert_eq!(log.get(), vec!["b0"]);
    let got = finished.get();
    assert_eq!(got.len(), 4);
    for t in [before, killer, after, paused] {
        let o = &got.iter().find(|(e, _)| *e == t).unwrap().1;
        assert_eq!(kind(o), "scheduler-stopped", "{t}");
    }
    assert_once(&finished);
    assert_clean(&mut app, baseline);
}

#[test]
fn a_step_that_stops_its_cooperator_and_then_finishes_ends_once() {
    let mut app = app_with(Budget::Steps(10));
    let finished = record_finished(&mut app);
    let log = Log::new();
    let world = app.world_mut();
    let coop = world.spawn(Cooperator::new(Budget::Steps(10))).id();
    let stopper = world
        .cooperate_on(
            coop,
            from_fn(move |cx: &mut StepContext| {
                cx.world().stop_cooperator(coop).unwrap();
                Step::Done // too late: it finished with the cooperator
            }),
        )
        .unwrap();
    let other = world.cooperate_on(coop, counter(&log, "o", 5)).unwrap();
    frames(&mut app, 2);
    assert!(log.get().is_empty());
    assert_eq!(
        kinds(&finished),
        vec!["scheduler-stopped", "scheduler-stopped"]
    );
    // In run order: the stopper had its turn, so the other task comes first.
    assert_eq!(finished.get()[0].0, other);
    assert_eq!(finished.get()[1].0, stopper);
    // Restarted, it runs new tasks only (X15).
    let world = app.world_mut();
    world.start_cooperator(coop).unwrap();
    let fresh = world.cooperate_on(coop, counter(&log, "f", 1)).unwrap();
    frames(&mut app, 2);
    assert_eq!(log.get(), vec!["f0"]);
    assert_eq!(finished.get()[2].0, fresh);
    assert_once(&finished);
}

#[test]
fn an_observer_that_stops_the_cooperator_is_safe() {
    // Twisted T29: a completion callback stops the cooperator; no error, the callback runs to its
    // end, the other tasks finish with SchedulerStopped.
    let mut app = app_with(Budget::Steps(10));
    let finished = record_finished(&mut app);
    let log: Log<String> = Log::new();
    let world = app.world_mut();
    let coop = world.spawn(Cooperator::new(Budget::Steps(10))).id();
    let first = world.cooperate_on(coop, counter(&log, "a", 1)).unwrap();
    let l = log.clone();
    world
        .entity_mut(first)
        .observe(move |ev: On<TaskFinished>, mut commands: Commands| {
            l.push(format!("observer {}", kind(&ev.outcome)));
            commands.stop_cooperator(coop);
            l.push("observer done".into());
        });
    let second = world.cooperate_on(coop, counter(&log, "b", 5)).unwrap();
    frames(&mut app, 3);
    let got = log.get();
    assert_eq!(got[0], "a0");
    assert!(got.contains(&"observer done".to_string()));
    assert_eq!(kinds(&finished), vec!["done", "scheduler-stopped"]);
    assert_eq!(finished.get()[1].0, second);
    assert!(!app.world().get::<Cooperator>(coop).unwrap().running());
    assert_once(&finished);
}

#[test]
fn an_observer_that_panics_does_not_break_the_scheduler() {
    quiet_panics();
    let mut app = app_with(Budget::Steps(10));
    let baseline = plain_entity_count(app.world_mut());
    let finished = record_finished(&mut app);
    let log = Log::new();
    let world = app.world_mut();
    let first = world.cooperate(counter(&log, "a", 1));
    world
        .entity_mut(first)
        .observe(|_: On<TaskFinished>| panic!("{MARKER} in an observer"));
    // Waits on the task whose observer panics: it must still be resumed.
    let waiter = world.cooperate([Step::Wait(Wait::task(first)), Step::Continue].into_iter());
    let other = world.cooperate(counter(&log, "c", 4));
    frames(&mut app, 6);
    let got = finished.get();
    assert_eq!(got.len(), 3);
    for t in [first, waiter, other] {
        assert!(
            got.iter().any(|(e, o)| *e == t && o.is_done()),
            "{t} did not finish Done"
        );
    }
    assert_eq!(log.len(), 5);
    assert_once(&finished);
    // The scheduler still works afterwards.
    let late = app.world_mut().cooperate(counter(&log, "l", 1));
    frames(&mut app, 2);
    assert!(
        finished
            .get()
            .iter()
            .any(|(e, o)| *e == late && o.is_done())
    );
    assert_clean(&mut app, baseline);
}

#[test]
fn a_step_that_spawns_ten_thousand_tasks() {
    let mut app = app_with(Budget::Steps(4_000));
    let baseline = plain_entity_count(app.world_mut());
    let finished = record_finished(&mut app);
    let world = app.world_mut();
    let spawner = world.cooperate(from_fn(|cx: &mut StepContext| {
        let world = cx.world();
        for i in 0..10_000u32 {
            world.cooperate((0..i % 3).map(|_| ()));
        }
        Step::Done
    }));
    app.update();
    {
        let world = app.world();
        let global = global(&app);
        let coop = world.get::<Cooperator>(global).unwrap();
        // The spawner plus 3,999 steps of the new tasks ran this frame (X07: they may run in the
        // tick that added them).
        assert_eq!(coop.stats().last_tick_steps, 4_000);
        assert!(coop.task_count() > 0);
        assert_eq!(coop.task_count(), coop.runnable_count());
    }
    frames(&mut app, 10);
    let got = finished.get();
    assert_eq!(got.len(), 10_001);
    assert_eq!(got[0].0, spawner);
    assert!(got.iter().all(|(_, o)| o.is_done()));
    assert_once(&finished);
    assert_eq!(
        app.world()
            .get::<Cooperator>(global(&app))
            .unwrap()
            .task_count(),
        0
    );
    assert_clean(&mut app, baseline);
}
