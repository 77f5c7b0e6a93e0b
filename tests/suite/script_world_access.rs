//! World access from a script is served within the same work unit: no frame, no turn.
use crate::common::*;

use bevy_cooperator::*;
use bevy_ecs::prelude::*;

#[derive(Resource, Default)]
struct Counter(u32);

#[test]
fn many_world_accesses_cost_one_step() {
    let mut app = app();
    app.init_resource::<Counter>();
    let task = app.world_mut().cooperate(script(|cx| async move {
        for _ in 0..100 {
            cx.with_world(|w| w.resource_mut::<Counter>().0 += 1).await;
        }
        let total = cx.with_world(|w| w.resource::<Counter>().0).await;
        assert_eq!(total, 100);
    }));
    app.world_mut().entity_mut(task).insert(RetainFinished);
    frames(&mut app, 1);
    assert_eq!(app.world().resource::<Counter>().0, 100);
    let t = app.world().get::<CooperativeTask>(task).unwrap();
    assert_eq!(app.world().task_steps(task), Ok(1));
    assert!(t.outcome().unwrap().is_done());
}

#[test]
fn commands_queued_in_an_access_apply_before_the_next() {
    let mut app = app();
    app.world_mut().cooperate(script(|cx| async move {
        let e = cx.with_world(|w| w.commands().spawn(Name("x")).id()).await;
        let name = cx.with_world(move |w| w.get::<Name>(e).map(|n| n.0)).await;
        assert_eq!(name, Some("x"));
    }));
    let finished = record_finished(&mut app);
    frames(&mut app, 1);
    assert_eq!(kinds(&finished), vec!["done"]);
}

#[derive(Component)]
struct Name(&'static str);
