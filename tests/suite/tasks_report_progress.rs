//! Progress: reported by a task, or known from an iterator with an exact `size_hint`.

use crate::common::*;
use bevy_cooperator::*;

#[test]
fn iterator_with_exact_size_hint_reports_for_free() {
    let mut app = app_with(Budget::Steps(4));
    let task = app.world_mut().cooperate((0..10).map(|_| ()));
    app.world_mut().entity_mut(task).insert(RetainFinished);
    // Before any step.
    assert_eq!(
        app.world_mut().task_progress(task),
        Some(Progress::new(0, 10))
    );
    // Frame 1: 4 steps.
    app.update();
    assert_eq!(
        app.world_mut().task_progress(task),
        Some(Progress::new(4, 10)),
        "frame 1"
    );
    // Frames 2-3: done (10 items and the completion step).
    frames(&mut app, 2);
    let done = app.world_mut().task_progress(task).unwrap();
    assert_eq!(done.fraction(), Some(1.0), "frame 3");
}

#[test]
fn iterator_without_exact_size_hint_is_unknown() {
    let mut app = app_with(Budget::Steps(4));
    let task = app
        .world_mut()
        .cooperate((0..10).filter(|i| i % 2 == 0).map(|_| ()));
    app.update();
    assert_eq!(app.world_mut().task_progress(task), None);
}

#[test]
fn reported_progress_wins() {
    let mut app = app_with(Budget::Steps(1));
    let mut n = 0;
    let task = app
        .world_mut()
        .cooperate(from_fn(move |cx: &mut StepContext| {
            n += 1;
            cx.report_progress(n * 25, Some(100));
            if n == 4 { Step::Done } else { Step::Continue }
        }));
    app.update();
    assert_eq!(
        app.world_mut().task_progress(task),
        Some(Progress::new(25, 100)),
        "frame 1"
    );
    app.update();
    let p = app.world().get::<TaskProgress>(task).unwrap().0;
    assert_eq!(p.fraction(), Some(0.5), "frame 2");
}
