//! Pausing and resuming a task: pauses nest, a pending wait holds a pause, resume does no work
//! itself, and the `Paused` marker mirrors the count (Twisted `RunStateTests`).

use crate::common::*;
use bevy_cooperator::*;

// T16
#[test]
fn resume_does_no_work_itself_and_the_next_frame_continues() {
    let (mut app, worker, task) = run_state();
    app.update();
    assert_eq!(worker.numbers(), [1], "frame 1");
    app.update();
    assert_eq!(worker.numbers(), [1, 2], "frame 2");
    app.world_mut().pause_task(task).unwrap();
    app.update();
    assert_eq!(worker.numbers(), [1, 2], "frame 3: paused");
    app.world_mut().resume_task(task).unwrap();
    assert_eq!(worker.numbers(), [1, 2], "right after resume");
    app.update();
    assert_eq!(worker.numbers(), [1, 2, 3], "frame 4");
}

// T17
#[test]
fn resume_without_a_pause_is_not_paused() {
    let (mut app, _worker, task) = run_state();
    let world = app.world_mut();
    assert_eq!(world.resume_task(task), Err(TaskError::NotPaused));
    world.pause_task(task).unwrap();
    assert_eq!(world.resume_task(task), Ok(()));
    assert_eq!(world.resume_task(task), Err(TaskError::NotPaused));
}

// T18
#[test]
fn pauses_nest() {
    let (mut app, worker, task) = run_state();
    app.world_mut().pause_task(task).unwrap();
    app.update();
    app.world_mut().pause_task(task).unwrap();
    app.update();
    assert!(worker.numbers().is_empty(), "two pauses");
    app.world_mut().resume_task(task).unwrap();
    app.update();
    assert!(worker.numbers().is_empty(), "one pause left");
    app.world_mut().resume_task(task).unwrap();
    app.update();
    assert_eq!(worker.numbers(), [1]);
}

// T19
#[test]
fn a_waiting_task_needs_its_signal_and_balanced_pauses() {
    let (mut app, worker, task) = run_state();
    worker.set(|s| s.defer_next = true);
    app.update();
    let d = worker.last_signal();
    assert_eq!(worker.work(), [Item::D(d)], "frame 1 waits on D");
    app.update();
    assert_eq!(worker.work().len(), 1, "frame 2: still waiting");
    app.world_mut().pause_task(task).unwrap();
    app.update();
    app.world_mut().resume_task(task).unwrap();
    app.update();
    assert_eq!(
        worker.work().len(),
        1,
        "pause and resume do not end the wait"
    );
    app.world_mut().fire_signal(d).unwrap();
    app.update();
    assert_eq!(
        worker.work(),
        [Item::D(d), Item::N(2)],
        "the counter went on"
    );
}

// T19, the other order: the signal fires while a user pause is held.
#[test]
fn a_fired_signal_does_not_undo_a_user_pause() {
    let (mut app, worker, task) = run_state();
    worker.set(|s| s.defer_next = true);
    app.update();
    app.world_mut().pause_task(task).unwrap();
    let d = worker.last_signal();
    app.world_mut().fire_signal(d).unwrap();
    app.update();
    assert_eq!(worker.work().len(), 1, "still paused by the user");
    assert!(app.world().get::<Paused>(task).is_some());
    app.world_mut().resume_task(task).unwrap();
    app.update();
    assert_eq!(worker.numbers(), [2]);
}

// T24
#[test]
fn a_stopped_task_never_works_and_refuses_stop_and_pause() {
    let (mut app, worker, task) = run_state();
    app.world_mut().stop_task(task).unwrap();
    app.update();
    let stopped = TaskError::AlreadyFinished(FinishKind::Stopped);
    assert_eq!(app.world_mut().stop_task(task), Err(stopped));
    assert_eq!(app.world_mut().pause_task(task), Err(stopped));
    app.update();
    assert!(worker.work().is_empty());
}

// T25, EC6
#[test]
fn resume_after_pause_and_stop_does_not_raise() {
    let (mut app, worker, task) = run_state();
    app.world_mut().pause_task(task).unwrap();
    app.world_mut().stop_task(task).unwrap();
    assert_eq!(app.world_mut().resume_task(task), Ok(()));
    assert!(app.world().get::<Paused>(task).is_none());
    app.update();
    assert!(worker.work().is_empty());
}

// T26, X10
#[test]
fn stopping_a_waiting_task_is_graceful() {
    let (mut app, worker, task) = run_state();
    worker.set(|s| s.defer_next = true);
    app.update();
    let task_state = app.world().get::<CooperativeTask>(task).unwrap();
    assert_eq!(task_state.pause_count(), 1, "the wait holds one pause");
    assert!(task_state.is_waiting());
    app.update();
    app.world_mut().stop_task(task).unwrap();
    app.update();
    let d = worker.last_signal();
    // The signal settling later reaches nobody: no error, no work, the outcome stays Stopped.
    app.world_mut().fire_signal(d).unwrap();
    app.update();
    assert_eq!(worker.work().len(), 1);
    assert!(matches!(
        app.world_mut().task_outcome(task),
        Some(Outcome::Stopped)
    ));
}

// X10: a signal that fails after the task was stopped does not finish it a second time.
#[test]
fn a_signal_failing_after_stop_does_not_finish_twice() {
    let (mut app, worker, task) = run_state();
    let finished = record_finished(&mut app);
    worker.set(|s| s.defer_next = true);
    app.update();
    app.world_mut().stop_task(task).unwrap();
    app.world_mut()
        .fail_signal(worker.last_signal(), "late failure")
        .unwrap();
    app.update();
    assert_eq!(kinds(&finished), ["stopped"]);
}

#[test]
fn the_paused_marker_mirrors_the_pause_count() {
    let (mut app, worker, task) = run_state();
    let paused = |app: &bevy_app::App| app.world().get::<Paused>(task).is_some();
    assert!(!paused(&app));
    app.world_mut().pause_task(task).unwrap();
    app.world_mut().pause_task(task).unwrap();
    assert!(paused(&app));
    app.world_mut().resume_task(task).unwrap();
    assert!(paused(&app), "one pause left");
    app.world_mut().resume_task(task).unwrap();
    assert!(!paused(&app));
    worker.set(|s| s.defer_next = true);
    app.update();
    assert!(paused(&app), "waiting");
    app.world_mut().fire_signal(worker.last_signal()).unwrap();
    assert!(!paused(&app), "the signal removed the marker at once");
}

#[test]
fn inserting_paused_by_hand_counts_as_one_pause() {
    let (mut app, worker, task) = run_state();
    app.world_mut().entity_mut(task).insert(Paused);
    app.update();
    assert!(worker.work().is_empty());
    assert_eq!(
        app.world()
            .get::<CooperativeTask>(task)
            .unwrap()
            .pause_count(),
        1
    );
    assert_eq!(app.world_mut().resume_task(task), Ok(()));
    assert!(app.world().get::<Paused>(task).is_none());
    app.update();
    assert_eq!(worker.numbers(), [1]);
}

#[test]
fn removing_paused_by_hand_clears_user_pauses_but_not_a_wait() {
    let (mut app, worker, task) = run_state();
    app.world_mut().pause_task(task).unwrap();
    app.world_mut().pause_task(task).unwrap();
    app.world_mut().entity_mut(task).remove::<Paused>();
    assert_eq!(
        app.world()
            .get::<CooperativeTask>(task)
            .unwrap()
            .pause_count(),
        0
    );
    app.update();
    assert_eq!(worker.numbers(), [1], "running again");

    worker.set(|s| s.defer_next = true);
    app.update();
    app.world_mut().entity_mut(task).remove::<Paused>();
    app.update();
    assert!(
        app.world().get::<Paused>(task).is_some(),
        "the wait keeps it"
    );
    assert_eq!(worker.numbers(), [1], "still waiting");
    app.world_mut().fire_signal(worker.last_signal()).unwrap();
    app.update();
    assert_eq!(worker.numbers(), [1, 3]);
}

// Twisted X05 / E18: a resumed task goes to the back of the queue.
#[test]
fn a_resumed_task_rejoins_at_the_back() {
    let mut app = app_with(Budget::Steps(100));
    let global = global(&app);
    let log = Log::new();
    let a = app.world_mut().cooperate(logging(&log, "a", 100));
    let b = app.world_mut().cooperate(logging(&log, "b", 100));
    let c = app.world_mut().cooperate(logging(&log, "c", 100));
    app.world_mut().pause_task(a).unwrap();
    app.world_mut().resume_task(a).unwrap();
    let order = app.world().get::<Cooperator>(global).unwrap().run_order();
    assert_eq!(order, [b, c, a]);
}

// Paused by hand on a finished task that holds no pause is taken away again: the marker never
// claims a pause that does not exist.
#[test]
fn inserting_paused_on_a_finished_task_is_undone() {
    let (mut app, _worker, task) = run_state();
    app.world_mut().stop_task(task).unwrap();
    app.world_mut().entity_mut(task).insert(Paused);
    app.world_mut().flush();
    assert!(app.world().get::<Paused>(task).is_none());
    assert_eq!(
        app.world()
            .get::<CooperativeTask>(task)
            .unwrap()
            .pause_count(),
        0
    );
    assert_eq!(app.world_mut().resume_task(task), Err(TaskError::NotPaused));
}
