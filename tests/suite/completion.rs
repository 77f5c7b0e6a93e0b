//! Completion: `TaskFinished` fires exactly once per task, with the right `Outcome`, to every
//! observer; stop and the finished kinds (Twisted `whenDone` tests and `stop` on finished tasks).

use crate::common::*;
use bevy_app::App;
use bevy_cooperator::*;
use bevy_ecs::prelude::*;

// T20: every observer learns the outcome; observers are independent of each other.
#[test]
fn every_observer_of_a_task_learns_its_outcome() {
    let (mut app, worker, task) = run_state();
    let seen = Log::new();
    for n in [1, 2] {
        let s = seen.clone();
        app.world_mut()
            .entity_mut(task)
            .observe(move |ev: On<TaskFinished>| s.push((n, ev.outcome.is_done())));
    }
    worker.set(|s| s.stop_next = true);
    app.update();
    // Bevy decides the order among observers; each runs once.
    let mut got = seen.get();
    got.sort();
    assert_eq!(got, [(1, true), (2, true)]);
}

// T21: a failing step reaches the observers once, with its error.
#[test]
fn a_failure_reaches_the_observer_once() {
    let (mut app, worker, _task) = run_state();
    let finished = record_finished(&mut app);
    worker.set(|s| s.die_next = true);
    app.update();
    app.update();
    let got = finished.get();
    assert_eq!(got.len(), 1);
    let failure = got[0].1.failure().expect("failed").to_string();
    assert_eq!(failure, "UnhandledException");
}

// T22: stopping a task notifies its observers before `stop_task` returns.
#[test]
fn stop_notifies_synchronously() {
    let (mut app, _worker, task) = run_state();
    let finished = record_finished(&mut app);
    app.world_mut().stop_task(task).unwrap();
    assert_eq!(kinds(&finished), ["stopped"], "no frame ran");
}

// T23: a retained finished task still tells its outcome to whoever asks later.
#[test]
fn a_retained_task_tells_its_outcome_later() {
    let (mut app, worker, task) = run_state();
    worker.set(|s| s.stop_next = true);
    frames(&mut app, 3);
    assert!(matches!(
        app.world_mut().task_outcome(task),
        Some(Outcome::Done)
    ));
    let t = app.world().get::<CooperativeTask>(task).unwrap();
    assert!(t.is_finished());
}

// T27
#[test]
fn stopping_an_exhausted_task_is_already_finished_done() {
    let (mut app, worker, task) = run_state();
    worker.set(|s| s.stop_next = true);
    app.update();
    assert_eq!(
        app.world_mut().stop_task(task),
        Err(TaskError::AlreadyFinished(FinishKind::Done))
    );
}

// T28
#[test]
fn stopping_a_failed_task_is_already_finished_failed() {
    let (mut app, worker, task) = run_state();
    worker.set(|s| s.die_next = true);
    app.update();
    assert_eq!(
        app.world_mut().stop_task(task),
        Err(TaskError::AlreadyFinished(FinishKind::Failed))
    );
}

// T29: an observer may stop the cooperator from inside the completion; nothing breaks.
#[test]
fn an_observer_may_stop_the_cooperator() {
    let mut app = app_with(Budget::Unlimited);
    let global = global(&app);
    let log = Log::new();
    let l = log.clone();
    let other = app.world_mut().cooperate(std::iter::repeat(()));
    let first = app.world_mut().cooperate(std::iter::once(()));
    app.world_mut().entity_mut(first).observe(
        move |ev: On<TaskFinished>, mut commands: Commands| {
            l.push(format!("{:?}", ev.outcome));
            commands.stop_cooperator(global);
            l.push("done".to_string());
        },
    );
    let finished = record_finished(&mut app);
    app.update();
    assert_eq!(log.get(), ["Done", "done"]);
    assert_eq!(kinds(&finished), ["done", "scheduler-stopped"]);
    assert_eq!(finished.get()[1].0, other);
    app.update();
    assert!(!app.world().get::<Cooperator>(global).unwrap().running());
}

// T09: a task started from the completion of another runs and completes; each finishes once.
#[test]
fn a_task_started_from_a_completion_runs() {
    let mut app = app();
    let finished = record_finished(&mut app);
    app.world_mut()
        .commands()
        .cooperate(std::iter::empty::<()>())
        .observe(|_: On<TaskFinished>, mut commands: Commands| {
            commands.cooperate(std::iter::empty::<()>());
        });
    frames(&mut app, 3);
    assert_eq!(kinds(&finished), ["done", "done"]);
    frames(&mut app, 3);
    assert_eq!(finished.len(), 2);
}

// T10 (in our terms): once the last runnable task leaves, the cooperator is idle; a new task
// makes it tick again.
#[test]
fn the_cooperator_idles_when_the_last_task_leaves() {
    let mut app = app();
    let global = global(&app);
    let t1 = app.world_mut().cooperate([(), ()].into_iter());
    let t2 = app.world_mut().cooperate([(), ()].into_iter());
    let coop = |app: &App| {
        app.world()
            .get::<Cooperator>(global)
            .unwrap()
            .runnable_count()
    };
    assert_eq!(coop(&app), 2);
    app.world_mut().stop_task(t1).unwrap();
    assert_eq!(coop(&app), 1);
    app.world_mut().stop_task(t2).unwrap();
    assert_eq!(coop(&app), 0);
    let ticks = app.world().get::<Cooperator>(global).unwrap().stats().ticks;
    app.update();
    assert_eq!(
        app.world().get::<Cooperator>(global).unwrap().stats().ticks,
        ticks,
        "no tick without work"
    );
    app.world_mut().cooperate([()].into_iter());
    assert_eq!(coop(&app), 1);
    app.update();
    assert_eq!(
        app.world().get::<Cooperator>(global).unwrap().stats().ticks,
        ticks + 1
    );
}

// X11: a task that stops itself and then ends in the same step finishes once, as Stopped.
#[test]
fn a_task_stopping_itself_then_ending_finishes_once() {
    let mut app = app();
    let finished = record_finished(&mut app);
    app.world_mut().cooperate(from_fn(|cx: &mut StepContext| {
        let me = cx.task();
        cx.world().stop_task(me).unwrap();
        Step::Done
    }));
    let survivor = Log::new();
    app.world_mut().cooperate(logging(&survivor, "s", 2));
    frames(&mut app, 4);
    assert_eq!(kinds(&finished), ["stopped", "done"]);
    assert_eq!(survivor.len(), 2, "the rest of the tick went on");
}

// The message twin: systems can poll TaskFinished as a buffered message.
#[test]
fn the_outcome_is_also_a_message() {
    #[derive(Resource, Default)]
    struct Seen(Vec<Entity>);
    let mut app = app();
    app.init_resource::<Seen>().add_systems(
        bevy_app::Update,
        (|mut reader: MessageReader<TaskFinished>, mut seen: ResMut<Seen>| {
            seen.0.extend(reader.read().map(|m| m.entity));
        })
        .after(CooperatorSystems::Cleanup),
    );
    let task = app.world_mut().cooperate(std::iter::empty::<()>());
    app.update();
    assert_eq!(app.world().resource::<Seen>().0, [task]);
}

// X14: a failure nobody observes is silent: no panic, nothing left behind.
#[test]
fn an_unobserved_failure_is_silent() {
    let mut app = app();
    let before = plain_entity_count(app.world_mut());
    app.world_mut()
        .cooperate(std::iter::once(Err::<(), _>("nobody listens")));
    frames(&mut app, 2);
    assert_eq!(plain_entity_count(app.world_mut()), before);
}

// Waiting on another task: the Twisted `yield coiterate(...)` sequencing pattern.
#[test]
fn a_task_can_wait_for_another_to_finish() {
    let mut app = app_with(Budget::Steps(10));
    let log = Log::new();
    let inner = app.world_mut().cooperate(logging(&log, "inner", 3));
    let l = log.clone();
    app.world_mut().cooperate(
        [Step::Wait(Wait::task(inner)), Step::Continue]
            .into_iter()
            .inspect(move |s| {
                if matches!(s, Step::Continue) {
                    l.push("outer".into());
                }
            }),
    );
    app.update();
    assert_eq!(log.get(), ["inner0", "inner1", "inner2", "outer"]);
}

#[test]
fn waiting_on_a_failed_or_stopped_task_fails_the_waiter() {
    let mut app = app();
    let finished = record_finished(&mut app);
    let failing = app.world_mut().cooperate([Ok(()), Err("boom")].into_iter());
    let stopped = app.world_mut().cooperate(std::iter::repeat(()));
    let w1 = app
        .world_mut()
        .cooperate(std::iter::once(Wait::task(failing)));
    let w2 = app
        .world_mut()
        .cooperate(std::iter::once(Wait::task(stopped)));
    frames(&mut app, 4);
    app.world_mut().stop_task(stopped).unwrap();
    frames(&mut app, 2);
    let got = finished.get();
    let of = |e: Entity| got.iter().find(|(t, _)| *t == e).unwrap().1.clone();
    let f1 = of(w1);
    let f0 = of(failing);
    assert!(
        f1.failure().unwrap().ptr_eq(f0.failure().unwrap()),
        "the same failure"
    );
    let f2 = of(w2);
    assert_eq!(
        f2.failure().unwrap().downcast_ref::<TaskError>(),
        Some(&TaskError::AlreadyFinished(FinishKind::Stopped))
    );
}

#[test]
fn waiters_of_a_task_resume_in_registration_order() {
    let mut app = app_with(Budget::Steps(20));
    let log = Log::new();
    let gate = app.world_mut().spawn_signal();
    let target = app
        .world_mut()
        .cooperate(std::iter::once(Wait::signal(gate)));
    for tag in ["w1", "w2", "w3"] {
        let l = log.clone();
        app.world_mut().cooperate(
            [Step::Wait(Wait::task(target)), Step::Continue]
                .into_iter()
                .enumerate()
                .map(move |(i, s)| {
                    if i == 1 {
                        l.push(tag.to_string());
                    }
                    s
                }),
        );
    }
    app.update();
    app.world_mut().fire_signal(gate).unwrap();
    app.update();
    assert_eq!(log.get(), ["w1", "w2", "w3"]);
}
