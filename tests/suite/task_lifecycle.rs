//! Task entities: despawn and component removal stop a task, finished tasks are cleaned up (no
//! leak) unless retained, and tasks can live on existing entities.

use crate::common::*;
use bevy_cooperator::*;
use bevy_ecs::prelude::*;

#[test]
fn despawning_a_task_entity_stops_it_and_settles_its_waiters() {
    let mut app = app();
    let finished = record_finished(&mut app);
    let target = app.world_mut().cooperate(std::iter::repeat(()));
    let waiter = app
        .world_mut()
        .cooperate(std::iter::once(Wait::task(target)));
    frames(&mut app, 2);
    let global = global(&app);
    app.world_mut().despawn(target);
    app.world_mut().flush();
    let got = finished.get();
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].0, kind(&got[0].1)), (target, "stopped"));
    assert_eq!((got[1].0, kind(&got[1].1)), (waiter, "failed"));
    let coop = app.world().get::<Cooperator>(global).unwrap();
    assert_eq!(coop.task_count(), 0, "the run queue forgot both");
    frames(&mut app, 2);
}

#[test]
fn removing_the_task_component_stops_it() {
    let mut app = app();
    let finished = record_finished(&mut app);
    let actor = app.world_mut().spawn_empty().id();
    let log = Log::new();
    app.world_mut()
        .entity_mut(actor)
        .cooperate(logging(&log, "x", 100));
    app.update();
    app.world_mut()
        .entity_mut(actor)
        .remove::<CooperativeTask>();
    app.world_mut().flush();
    assert_eq!(kinds(&finished), ["stopped"]);
    frames(&mut app, 2);
    assert_eq!(log.len(), 1);
    assert!(app.world().get_entity(actor).is_ok(), "the entity stays");
}

#[test]
fn finished_standalone_tasks_leave_nothing_behind() {
    let mut app = app_with(Budget::Steps(100));
    app.update();
    let before = plain_entity_count(app.world_mut());
    for i in 0..50 {
        let t = app
            .world_mut()
            .commands()
            .cooperate((0..i % 5).map(|_| ()))
            .observe(|_: On<TaskFinished>| {})
            .id();
        if i % 7 == 0 {
            app.world_mut().commands().stop_task(t);
        }
    }
    let s = app.world_mut().spawn_signal();
    app.world_mut().cooperate(std::iter::once(Wait::signal(s)));
    app.world_mut().cooperate(std::iter::once(Wait::frames(3)));
    frames(&mut app, 2);
    app.world_mut().fire_signal(s).unwrap();
    app.world_mut().despawn(s.entity());
    frames(&mut app, 5);
    assert_eq!(
        plain_entity_count(app.world_mut()),
        before,
        "no task entity, observer or signal left"
    );
    let all = app
        .world_mut()
        .query::<&CooperativeTask>()
        .iter(app.world())
        .count();
    assert_eq!(all, 0);
}

#[test]
fn retained_tasks_stay_until_despawned() {
    let mut app = app();
    let task = app.world_mut().cooperate(std::iter::empty::<()>());
    app.world_mut().entity_mut(task).insert(RetainFinished);
    frames(&mut app, 3);
    assert!(matches!(
        app.world_mut().task_outcome(task),
        Some(Outcome::Done)
    ));
    app.world_mut().despawn(task);
    frames(&mut app, 1);
}

#[test]
fn a_task_on_an_existing_entity_leaves_the_entity_when_done() {
    #[derive(Component)]
    struct Actor;
    let mut app = app();
    let actor = app.world_mut().spawn(Actor).id();
    app.world_mut()
        .commands()
        .entity(actor)
        .cooperate((0..2).map(|_| ()));
    app.update();
    assert!(app.world().get::<CooperativeTask>(actor).is_some());
    assert!(
        !app.world()
            .get::<CooperativeTask>(actor)
            .unwrap()
            .is_standalone()
    );
    frames(&mut app, 3);
    assert!(app.world().get::<Actor>(actor).is_some());
    assert!(app.world().get::<CooperativeTask>(actor).is_none());
}

#[test]
fn attaching_new_work_stops_the_old_task() {
    let mut app = app();
    let finished = record_finished(&mut app);
    let actor = app.world_mut().spawn_empty().id();
    let log = Log::new();
    app.world_mut()
        .entity_mut(actor)
        .cooperate(logging(&log, "old", 10));
    app.update();
    app.world_mut()
        .entity_mut(actor)
        .cooperate(logging(&log, "new", 2));
    assert_eq!(kinds(&finished), ["stopped"]);
    frames(&mut app, 3);
    assert_eq!(log.get(), ["old0", "new0", "new1"]);
    assert_eq!(kinds(&finished), ["stopped", "done"]);
}

#[test]
fn a_step_may_despawn_its_own_entity() {
    let mut app = app_with(Budget::Steps(10));
    let finished = record_finished(&mut app);
    let log = Log::new();
    app.world_mut().cooperate(from_fn(|cx: &mut StepContext| {
        let me = cx.task();
        cx.world().despawn(me);
        Step::Done
    }));
    app.world_mut().cooperate(logging(&log, "other", 3));
    frames(&mut app, 2);
    assert_eq!(kinds(&finished), ["stopped", "done"]);
    assert_eq!(log.len(), 3);
}

#[test]
fn a_task_can_wait_a_number_of_frames() {
    let mut app = app();
    let log = Log::new();
    let l = log.clone();
    let mut frame = 0;
    app.add_systems(
        bevy_app::Update,
        (move || {
            frame += 1;
            l.push(format!("frame{frame}"));
        })
        .before(CooperatorSystems::Wake),
    );
    let l = log.clone();
    app.world_mut().cooperate(
        [Wait::frames(2), Wait::frames(0), Wait::next_frame()]
            .into_iter()
            .inspect(move |_| l.push("step".to_string())),
    );
    frames(&mut app, 6);
    assert_eq!(
        log.get(),
        [
            "frame1", "step",   // yields frames(2)
            "frame2", // waiting
            "frame3", "step", // due: yields frames(0), only a move to the back
            "frame4", "step",   // yields next_frame
            "frame5", // due: the iterator ends (no log)
            "frame6",
        ]
    );
}

#[test]
fn a_step_that_replaces_its_own_task_hands_the_entity_to_the_new_work() {
    // The old work's step attaches new work to its own entity (stopping itself), then returns:
    // whatever it returns belongs to the stopped task, not to the new one.
    for last in ["continue", "done", "wait"] {
        let mut app = app();
        let finished = record_finished(&mut app);
        let log = Log::new();
        let actor = app.world_mut().spawn_empty().id();
        let (l, new_log) = (log.clone(), log.clone());
        app.world_mut()
            .entity_mut(actor)
            .cooperate(from_fn(move |cx: &mut StepContext| {
                l.push("old");
                let me = cx.task();
                let new_log = new_log.clone();
                cx.world()
                    .entity_mut(me)
                    .cooperate((0..3).map(move |_| new_log.push("new")));
                match last {
                    "continue" => Step::Continue,
                    "done" => Step::Done,
                    _ => Step::Wait(Wait::frames(1)),
                }
            }));
        frames(&mut app, 6);
        assert_eq!(log.get(), ["old", "new", "new", "new"], "{last}");
        assert_eq!(kinds(&finished), ["stopped", "done"], "{last}");
        assert!(
            app.world().get::<CooperativeTask>(actor).is_none(),
            "{last}"
        );
    }
}
