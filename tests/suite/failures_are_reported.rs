//! No failure is silent: a task that fails with nobody to handle it is reported through the
//! world's error handler, quietly where someone handles it; a wait that would close a cycle of
//! tasks fails at once, naming the cycle.

use std::cell::RefCell;

use crate::common::*;
use bevy_cooperator::*;
use bevy_ecs::error::{BevyError, ErrorContext, FallbackErrorHandler, Severity};
use bevy_ecs::prelude::*;

std::thread_local! {
    /// What the error handler received on this test's thread: (severity, text).
    static REPORTS: RefCell<Vec<(Severity, String)>> = const { RefCell::new(Vec::new()) };
}

fn capture(error: BevyError, _: ErrorContext) {
    REPORTS.with(|r| r.borrow_mut().push((error.severity(), error.to_string())));
}

fn reports() -> Vec<(Severity, String)> {
    REPORTS.with(|r| core::mem::take(&mut *r.borrow_mut()))
}

fn reporting_app() -> bevy_app::App {
    let mut app = app();
    app.world_mut()
        .insert_resource(FallbackErrorHandler(capture));
    reports();
    app
}

fn failing() -> impl Iterator<Item = Result<(), &'static str>> + Send + 'static {
    std::iter::once(Err("the level file is missing"))
}

#[test]
fn a_failure_nobody_handles_is_reported_with_the_task_and_the_error() {
    let mut app = reporting_app();
    let task = app.world_mut().cooperate(failing());
    app.update();
    let reports = reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].0, Severity::Error);
    assert!(reports[0].1.contains(&task.to_string()), "{}", reports[0].1);
    assert!(reports[0].1.contains("the level file is missing"));
}

#[test]
fn a_panicking_step_nobody_handles_is_reported() {
    let mut app = reporting_app();
    app.world_mut()
        .cooperate(from_fn(|_: &mut StepContext| -> Step {
            panic!("boom in a step")
        }));
    app.update();
    let reports = reports();
    assert!(
        reports
            .iter()
            .any(|(_, text)| text.contains("boom in a step")),
        "{reports:?}"
    );
}

#[test]
fn a_failure_someone_handles_is_not_reported() {
    let mut app = reporting_app();
    let coop = global(&app);
    app.world_mut().get_mut::<Cooperator>(coop).unwrap().budget = Budget::Unlimited;
    let world = app.world_mut();
    // A waiter (the failing task fails on its second step, once the waiter waits).
    let waited = world.cooperate([Ok(()), Err("the level file is missing")].into_iter());
    world.cooperate(std::iter::once(Step::Wait(Wait::task(waited).settled())));
    // An observer on the task.
    world
        .commands()
        .cooperate(failing())
        .observe(|_: On<TaskFinished>| {});
    world.flush();
    // Retained, to be read later.
    let retained = world.cooperate(failing());
    world.entity_mut(retained).insert(RetainFinished);
    frames(&mut app, 3);
    assert_eq!(reports(), []);
    assert!(
        app.world()
            .task_outcome(retained)
            .unwrap()
            .failure()
            .is_some()
    );
}

#[test]
fn reports_follow_the_configured_severity_and_ignore_turns_them_off() {
    let mut app = reporting_app();
    app.world_mut().resource_mut::<UnhandledFailures>().severity = Severity::Warning;
    app.world_mut().cooperate(failing());
    app.update();
    assert_eq!(
        reports().iter().map(|r| r.0).collect::<Vec<_>>(),
        [Severity::Warning]
    );
    app.world_mut().resource_mut::<UnhandledFailures>().severity = Severity::Ignore;
    app.world_mut().cooperate(failing());
    app.update();
    assert_eq!(reports(), []);
}

/// A task that waits on `other` (looked up when it first steps), then finishes.
fn waits_on(other: &std::sync::Arc<std::sync::Mutex<Option<Entity>>>) -> impl Work + use<> {
    let other = other.clone();
    let mut waited = false;
    from_fn(move |_: &mut StepContext| {
        if waited {
            return Step::Done;
        }
        waited = true;
        Step::Wait(Wait::task(
            other.lock().unwrap().expect("set before the first step"),
        ))
    })
}

#[test]
fn a_wait_that_would_close_a_cycle_fails_at_once_naming_it() {
    use std::sync::{Arc, Mutex};
    let mut app = app_with(Budget::Unlimited);
    let finished = record_finished(&mut app);
    let (to_b, to_c, to_a) = (
        Arc::new(Mutex::new(None)),
        Arc::new(Mutex::new(None)),
        Arc::new(Mutex::new(None)),
    );
    let world = app.world_mut();
    // A waits on B, B on C, and C would wait on A.
    let a = world.cooperate(waits_on(&to_b));
    let b = world.cooperate(waits_on(&to_c));
    let c = world.cooperate(waits_on(&to_a));
    *to_b.lock().unwrap() = Some(b);
    *to_c.lock().unwrap() = Some(c);
    *to_a.lock().unwrap() = Some(a);
    app.update();
    let log = finished.get();
    // C fails; then B, which waited on it, and A, which waited on B.
    assert_eq!(log[0].0, c);
    let failure = log[0].1.failure().unwrap();
    let cycle = failure.downcast_ref::<WaitCycle>().expect("a WaitCycle");
    assert_eq!(cycle.0, [c, a, b, c]);
    assert!(failure.to_string().contains("cycle"));
    assert_eq!(kinds(&finished), ["failed", "failed", "failed"]);
}

#[test]
fn a_cycle_through_a_join_is_caught_and_tasks_waiting_on_one_task_are_no_cycle() {
    use std::sync::{Arc, Mutex};
    let mut app = app_with(Budget::Unlimited);
    let finished = record_finished(&mut app);
    let world = app.world_mut();
    let signal = world.spawn_signal();
    let to_a = Arc::new(Mutex::new(None));
    // B waits on a signal and on A (a join); A then waits on B: a cycle through the join.
    let b = world.cooperate(std::iter::once(()).map({
        let to_a = to_a.clone();
        move |()| {
            Step::Wait(Wait::all([
                Wait::signal(signal),
                Wait::task(to_a.lock().unwrap().unwrap()),
            ]))
        }
    }));
    let a = world.cooperate(waits_on(&Arc::new(Mutex::new(Some(b)))));
    *to_a.lock().unwrap() = Some(a);
    // C and D both wait on B: no cycle.
    let c = world.cooperate(std::iter::once(Step::Wait(Wait::task(b).settled())));
    let d = world.cooperate(std::iter::once(Step::Wait(Wait::task(b).settled())));
    app.update();
    let log = finished.get();
    assert_eq!(log[0].0, a);
    assert_eq!(
        log[0]
            .1
            .failure()
            .unwrap()
            .downcast_ref::<WaitCycle>()
            .unwrap()
            .0,
        [a, b, a]
    );
    // B's join then fails with A; C and D, which only waited on B, were no cycle and resume.
    assert_eq!(log[1].0, b);
    assert!(
        log[1]
            .1
            .failure()
            .unwrap()
            .downcast_ref::<WaitCycle>()
            .is_some()
    );
    assert_eq!(log[2..].iter().map(|(e, _)| *e).collect::<Vec<_>>(), [c, d]);
    assert_eq!(kinds(&finished)[2..], ["done", "done"]);
}

#[test]
fn cooperating_after_the_global_cooperator_is_gone_is_reported_and_try_cooperate_refuses() {
    let mut app = reporting_app();
    let coop = global(&app);
    app.world_mut().despawn(coop);
    let task = app.world_mut().cooperate(std::iter::once(()));
    assert_eq!(
        app.world().task_outcome(task),
        Some(Outcome::SchedulerStopped)
    );
    let reports = reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(reports[0].1.contains(&coop.to_string()));
    let before = app.world().entities().len();
    assert_eq!(
        app.world_mut().try_cooperate(std::iter::once(())),
        Err(TaskError::NoSuchCooperator(coop))
    );
    assert_eq!(app.world().entities().len(), before, "nothing spawned");
    // Without the plugin there is no global cooperator at all.
    let mut bare = bevy_app::App::new();
    assert_eq!(
        bare.world_mut().try_cooperate(std::iter::once(())),
        Err(TaskError::NoSuchCooperator(Entity::PLACEHOLDER))
    );
}

#[test]
fn try_cooperate_starts_a_task_on_the_global_cooperator() {
    let mut app = app();
    let task = app.world_mut().try_cooperate((0..2).map(|_| ())).unwrap();
    assert_eq!(
        app.world()
            .get::<CooperativeTask>(task)
            .unwrap()
            .cooperator(),
        global(&app)
    );
}

#[test]
fn a_wait_through_a_race_is_no_cycle_since_the_race_can_settle() {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    let mut app = app_with(Budget::Unlimited);
    let finished = record_finished(&mut app);
    let world = app.world_mut();
    let to_b = Arc::new(Mutex::new(None));
    // A waits on B, or on a timeout; B then waits on A: the timeout can still settle A.
    let a = world.cooperate(std::iter::once(()).map({
        let to_b = to_b.clone();
        move |()| {
            Step::Wait(Wait::task(to_b.lock().unwrap().unwrap()).timeout(Duration::from_millis(20)))
        }
    }));
    let b = world.cooperate(waits_on(&Arc::new(Mutex::new(Some(a)))));
    *to_b.lock().unwrap() = Some(b);
    frames(&mut app, 5);
    let log = finished.get();
    // The timeout wins the race: A fails with it, and B, the race's losing task, is stopped.
    let a_outcome = &log.iter().find(|(e, _)| *e == a).expect("A ended").1;
    assert!(
        a_outcome
            .failure()
            .unwrap()
            .downcast_ref::<WaitTimedOut>()
            .is_some()
    );
    assert!(
        log.iter().any(|(e, o)| *e == b && *o == Outcome::Stopped),
        "{log:?}"
    );
    assert!(log.iter().all(|(_, o)| {
        o.failure()
            .is_none_or(|f| f.downcast_ref::<WaitCycle>().is_none())
    }));
}

#[test]
fn a_long_chain_of_waiting_tasks_is_walked_without_recursion() {
    use std::sync::{Arc, Mutex};
    let mut app = app_with(Budget::Unlimited);
    let finished = record_finished(&mut app);
    let world = app.world_mut();
    let first = world.cooperate(std::iter::once(Step::Wait(Wait::next_frame())));
    let mut last = first;
    for _ in 0..2_000 {
        last = world.cooperate(waits_on(&Arc::new(Mutex::new(Some(last)))));
    }
    frames(&mut app, 3);
    assert_eq!(finished.get().len(), 2_001);
    assert!(kinds(&finished).iter().all(|k| *k == "done"));
    let _ = last;
}
