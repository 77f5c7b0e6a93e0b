//! `Wait::event_on(entity)` fails the waiting task, naming the entity, when the entity is
//! despawned during the wait: no wait on a vanished entity hangs, and no observer is left.
use crate::common::*;

use bevy_cooperator::*;
use bevy_ecs::prelude::*;

#[derive(EntityEvent)]
struct Poke {
    entity: Entity,
}

#[test]
fn despawning_the_watched_entity_fails_the_waiting_task() {
    let mut app = app();
    let finished = record_finished(&mut app);
    let observers = observer_count(app.world_mut());
    let door = app.world_mut().spawn_empty().id();
    let task = app
        .world_mut()
        .cooperate(wait_then_log(Wait::event_on::<Poke>(door), &Log::new()));
    frames(&mut app, 2);
    assert!(app.world().get::<Paused>(task).is_some());
    app.world_mut().despawn(door);
    frames(&mut app, 1);
    assert_eq!(kinds(&finished), vec!["failed"]);
    let (who, Outcome::Failed(failure)) = &finished.get()[0] else {
        unreachable!()
    };
    assert_eq!(*who, task);
    assert!(
        failure.to_string().contains(&door.to_string()),
        "names the entity: {failure}"
    );
    assert!(failure.to_string().contains("despawned"), "{failure}");
    assert_eq!(observer_count(app.world_mut()), observers);
}

#[test]
fn a_despawn_after_the_event_in_the_same_flush_still_resumes() {
    let mut app = app();
    let finished = record_finished(&mut app);
    let log = Log::new();
    let door = app.world_mut().spawn_empty().id();
    app.world_mut()
        .cooperate(wait_then_log(Wait::event_on::<Poke>(door), &log));
    frames(&mut app, 1);
    app.world_mut().trigger(Poke { entity: door });
    app.world_mut().despawn(door);
    frames(&mut app, 1);
    assert_eq!(log.len(), 1);
    assert_eq!(kinds(&finished), vec!["done"]);
}

#[test]
fn a_settled_or_raced_event_wait_on_a_despawned_entity_does_not_hang() {
    let mut app = app_with(Budget::Unlimited);
    let finished = record_finished(&mut app);
    let observers = observer_count(app.world_mut());
    let door = app.world_mut().spawn_empty().id();
    let log = Log::new();
    let settled = app
        .world_mut()
        .cooperate(wait_then_log(Wait::event_on::<Poke>(door).settled(), &log));
    let raced = app.world_mut().cooperate(wait_then_log(
        Wait::race([Wait::event_on::<Poke>(door), Wait::frames(100)]),
        &log,
    ));
    let many: Vec<Entity> = (0..3)
        .map(|_| {
            app.world_mut()
                .cooperate(wait_then_log(Wait::event_on::<Poke>(door), &log))
        })
        .collect();
    frames(&mut app, 1);
    app.world_mut().despawn(door);
    frames(&mut app, 1);
    assert_eq!(log.len(), 1, "the settled wait resumed");
    let outcome = |e: Entity| {
        finished
            .get()
            .iter()
            .find(|(t, _)| *t == e)
            .map(|(_, o)| kind(o))
    };
    assert_eq!(outcome(settled), Some("done"));
    assert_eq!(outcome(raced), Some("failed"));
    for task in many {
        assert_eq!(outcome(task), Some("failed"));
    }
    assert_eq!(observer_count(app.world_mut()), observers);
    assert_eq!(PendingWaits::of(app.world()), PendingWaits::default());
}

#[test]
fn a_script_gets_the_despawn_as_an_err() {
    let mut app = app();
    let door = app.world_mut().spawn_empty().id();
    let errors = Log::new();
    let e = errors.clone();
    app.world_mut().cooperate(script(move |cx| async move {
        if let Err(failure) = cx.wait(Wait::event_on::<Poke>(door)).await {
            e.push(failure.to_string());
        }
    }));
    frames(&mut app, 1);
    app.world_mut().despawn(door);
    frames(&mut app, 1);
    assert_eq!(errors.len(), 1);
    assert!(errors.get()[0].contains("despawned"));
}

#[derive(Resource)]
struct Doomed(Entity);

#[test]
fn a_despawn_by_a_system_s_commands_fails_the_wait_in_that_frame() {
    let mut app = app();
    let finished = record_finished(&mut app);
    let door = app.world_mut().spawn_empty().id();
    let task = app
        .world_mut()
        .cooperate(wait_then_log(Wait::event_on::<Poke>(door), &Log::new()));
    frames(&mut app, 1);
    app.insert_resource(Doomed(door));
    app.add_systems(
        bevy_app::PostUpdate,
        |doomed: Option<Res<Doomed>>, mut commands: Commands| {
            if let Some(d) = doomed {
                commands.entity(d.0).despawn();
                commands.remove_resource::<Doomed>();
            }
        },
    );
    frames(&mut app, 1);
    assert_eq!(finished.get().len(), 1);
    assert_eq!(finished.get()[0].0, task);
    assert_eq!(kinds(&finished), vec!["failed"]);
}
