//! Event waits resume on an `EntityEvent` triggered on the task after the wait began; the
//! temporary observer goes away when the wait ends.
use crate::common::*;

use bevy_cooperator::*;
use bevy_ecs::prelude::*;

#[derive(EntityEvent)]
struct Poke {
    entity: Entity,
}

#[test]
fn resumes_on_an_event_aimed_at_the_task() {
    let mut app = app();
    let log = Log::new();
    let observers_before = observer_count(app.world_mut());
    let task = app
        .world_mut()
        .cooperate(wait_then_log(Wait::event::<Poke>(), &log));
    // Before the wait began: ignored.
    app.world_mut().trigger(Poke { entity: task });
    frames(&mut app, 1);
    assert!(app.world().get::<Paused>(task).is_some());
    assert_eq!(observer_count(app.world_mut()), observers_before + 1);
    // Aimed elsewhere: ignored.
    let other = app.world_mut().spawn_empty().id();
    app.world_mut().trigger(Poke { entity: other });
    app.world_mut().flush();
    frames(&mut app, 1);
    assert!(log.get().is_empty());
    // Aimed at the task: resumes at the next flush, runs this frame.
    app.world_mut().trigger(Poke { entity: task });
    app.world_mut().flush();
    assert!(app.world().get::<Paused>(task).is_none());
    assert_eq!(observer_count(app.world_mut()), observers_before);
    frames(&mut app, 1);
    assert_eq!(log.len(), 1);
}

#[test]
fn event_on_watches_another_entity() {
    let mut app = app();
    let log = Log::new();
    let door = app.world_mut().spawn_empty().id();
    app.world_mut()
        .cooperate(wait_then_log(Wait::event_on::<Poke>(door), &log));
    frames(&mut app, 1);
    app.world_mut().trigger(Poke { entity: door });
    frames(&mut app, 1);
    assert_eq!(log.len(), 1);
}

#[test]
fn waiting_on_a_missing_entity_fails() {
    let mut app = app();
    let finished = record_finished(&mut app);
    let gone = app.world_mut().spawn_empty().id();
    app.world_mut().despawn(gone);
    app.world_mut()
        .cooperate(wait_then_log(Wait::event_on::<Poke>(gone), &Log::new()));
    frames(&mut app, 1);
    assert_eq!(kinds(&finished), vec!["failed"]);
}

#[test]
fn despawning_the_watched_entity_leaves_no_observer() {
    let mut app = app();
    let observers = observer_count(app.world_mut());
    let door = app.world_mut().spawn_empty().id();
    let task = app
        .world_mut()
        .cooperate(wait_then_log(Wait::event_on::<Poke>(door), &Log::new()));
    frames(&mut app, 1);
    app.world_mut().despawn(door);
    // The despawn flushed: the wait has failed its task already.
    assert_eq!(
        app.world_mut().stop_task(task),
        Err(TaskError::AlreadyFinished(FinishKind::Failed))
    );
    frames(&mut app, 1);
    assert_eq!(observer_count(app.world_mut()), observers);
}
