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

/// What a progress-bar system saw each frame.
#[derive(bevy_ecs::prelude::Resource, Default)]
struct Bars(Vec<Vec<Progress>>);

fn progress_bar(
    tasks: bevy_ecs::prelude::Query<&TaskProgress>,
    mut bars: bevy_ecs::prelude::ResMut<Bars>,
) {
    let mut seen: Vec<Progress> = tasks.iter().map(|p| p.0).collect();
    seen.sort_by_key(|p| (p.total, p.done));
    bars.0.push(seen);
}

#[test]
fn an_ordinary_system_reads_tracked_iterator_and_script_progress_with_a_query() {
    use bevy_app::Update;
    use bevy_ecs::prelude::*;
    let mut app = app_with(Budget::Steps(4));
    app.init_resource::<Bars>()
        .add_systems(Update, progress_bar.after(CooperatorSystems::Step));
    let iter = app.world_mut().spawn((TrackProgress, RetainFinished)).id();
    app.world_mut()
        .entity_mut(iter)
        .cooperate((0..6).map(|_| ()));
    app.world_mut().cooperate(script(|cx| async move {
        for done in 1..=3 {
            cx.report_progress(done, Some(3)).await;
            cx.yield_now().await;
        }
    }));
    frames(&mut app, 3);
    let bars = &app.world().resource::<Bars>().0;
    // Steps(4) a frame, shared round-robin: the iterator gets 2 of them, the script 2 (each
    // reports, then yields).
    assert_eq!(bars[0], vec![Progress::new(2, 3), Progress::new(2, 6)]);
    assert_eq!(bars[1], vec![Progress::new(3, 3), Progress::new(4, 6)]);
    // The script is gone; the iterator finished `Done` (retained): complete.
    assert_eq!(bars[2], vec![Progress::new(6, 6)]);
}
