//! Failing work: errors from a step, from a failed signal, and panics (Twisted T04–T06, EC11).

use crate::common::*;
use bevy_cooperator::*;

fn failure_of(log: &Log<(bevy_ecs::entity::Entity, Outcome)>, i: usize) -> String {
    log.get()[i].1.failure().expect("a failure").to_string()
}

// T04
#[test]
fn an_error_from_the_first_step_fails_the_task_with_it() {
    let mut app = app();
    let finished = record_finished(&mut app);
    app.world_mut()
        .cooperate(std::iter::once(Err::<(), _>("RuntimeError")));
    app.update();
    assert_eq!(kinds(&finished), ["failed"]);
    assert_eq!(failure_of(&finished, 0), "RuntimeError");
}

// T05
#[test]
fn a_signal_failing_later_fails_the_waiting_task() {
    let mut app = app();
    let finished = record_finished(&mut app);
    let d = app.world_mut().spawn_signal();
    app.world_mut()
        .cooperate([Step::Wait(Wait::signal(d)), Step::Continue].into_iter());
    frames(&mut app, 3);
    assert!(finished.get().is_empty());
    app.world_mut().fail_signal(d, "RuntimeError").unwrap();
    assert_eq!(kinds(&finished), ["failed"]);
    assert_eq!(failure_of(&finished, 0), "RuntimeError");
}

// T06
#[test]
fn waiting_on_an_already_failed_signal_fails_the_task() {
    let mut app = app();
    let finished = record_finished(&mut app);
    let d = app.world_mut().spawn_signal();
    app.world_mut().fail_signal(d, "RuntimeError").unwrap();
    app.world_mut()
        .cooperate([Step::Wait(Wait::signal(d)), Step::Continue].into_iter());
    app.update();
    assert_eq!(kinds(&finished), ["failed"]);
    assert_eq!(failure_of(&finished, 0), "RuntimeError");
}

// Every task waiting on a failed signal gets the very same failure (EC16).
#[test]
fn all_waiters_of_a_failed_signal_share_the_failure() {
    let mut app = app_with(Budget::Steps(10));
    let finished = record_finished(&mut app);
    let d = app.world_mut().spawn_signal();
    for _ in 0..3 {
        app.world_mut().cooperate(
            std::iter::once(Wait::signal(d)).chain(std::iter::repeat_with(|| Wait::frames(0))),
        );
    }
    app.update();
    app.world_mut().fail_signal(d, "shared").unwrap();
    let got = finished.get();
    assert_eq!(got.len(), 3);
    let first = got[0].1.failure().unwrap().clone();
    assert!(got.iter().all(|(_, o)| o.failure().unwrap().ptr_eq(&first)));
}

// A step that panics fails only its task, with the panic message; the others go on (EC11).
#[test]
fn a_panicking_step_fails_only_its_task() {
    let mut app = app_with(Budget::Steps(10));
    let finished = record_finished(&mut app);
    let log = Log::new();
    app.world_mut().cooperate(logging(&log, "a", 3));
    let bad = app.world_mut().cooperate((0..3).map(|i| {
        if i == 1 {
            panic!("deliberate test panic");
        }
    }));
    app.world_mut().cooperate(logging(&log, "c", 3));
    frames(&mut app, 2);
    assert_eq!(log.get(), ["a0", "c0", "a1", "c1", "a2", "c2"]);
    let got = finished.get();
    let (task, outcome) = got.iter().find(|(_, o)| o.failure().is_some()).unwrap();
    assert_eq!(*task, bad);
    let failure = outcome.failure().unwrap();
    assert_eq!(
        failure.downcast_ref::<TaskPanicked>().map(|p| p.0.as_str()),
        Some("deliberate test panic")
    );
    assert_eq!(kinds(&finished), ["failed", "done", "done"]);
}

// `Step::Fail` and `Result` items with any error type.
#[test]
fn fail_steps_carry_their_error() {
    #[derive(Debug)]
    struct LoadError;
    impl std::fmt::Display for LoadError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("chunk 7 is corrupt")
        }
    }
    impl std::error::Error for LoadError {}
    let mut app = app();
    let finished = record_finished(&mut app);
    app.world_mut()
        .cooperate([Ok(()), Err(LoadError)].into_iter());
    app.world_mut()
        .cooperate(std::iter::once(Step::Fail("explicit".into())));
    frames(&mut app, 3);
    let got = finished.get();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].1.failure().unwrap().to_string(), "explicit");
    let f = got[1].1.failure().unwrap();
    assert!(f.downcast_ref::<LoadError>().is_some());
    assert_eq!(f.to_string(), "chunk 7 is corrupt");
}
