//! `StepContext::get_resource` / `get_resource_mut`: a step reads and changes resources while the
//! step loop keeps its run queue, and a missing resource is `None`, not a failure.

use crate::common::*;
use bevy_app::App;
use bevy_cooperator::prelude::*;
use bevy_ecs::prelude::*;

#[derive(Resource, Default)]
struct Tally(u32);

#[test]
fn steps_change_a_resource_and_see_each_others_changes() {
    let mut app = App::new();
    app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(6)))
        .init_resource::<Tally>();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    for _ in 0..2 {
        let seen = seen.clone();
        app.world_mut()
            .cooperate(from_fn(move |cx: &mut StepContext| {
                let before = cx.get_resource::<Tally>().unwrap().0;
                cx.get_resource_mut::<Tally>().unwrap().0 += 1;
                seen.lock().unwrap().push(before);
                // A world access in the same step still works (it gives the queue back).
                if before == 2 {
                    let task = cx.task();
                    cx.world().pause_task(task).unwrap();
                }
            }));
    }
    app.update();
    assert_eq!(app.world().resource::<Tally>().0, 6);
    assert_eq!(*seen.lock().unwrap(), [0, 1, 2, 3, 4, 5]);
    // The task that paused itself at 2 is paused: the other ran the rest.
    let global = global(&app);
    let stats = app.world().get::<Cooperator>(global).unwrap().stats();
    assert_eq!((stats.runnable, stats.paused), (1, 1));
}

#[test]
fn a_missing_resource_is_none_and_the_task_goes_on() {
    let mut app = App::new();
    app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(3)));
    let task = app.world_mut().cooperate(from_fn(|cx: &mut StepContext| {
        assert!(cx.get_resource::<Tally>().is_none());
        assert!(cx.get_resource_mut::<Tally>().is_none());
    }));
    app.update();
    assert_eq!(app.world().task_steps(task), Ok(3));
}

/// Which task each step says it is, before and after it used the world.
#[derive(Resource, Default)]
struct Names(Vec<(Entity, Entity)>);

#[test]
fn a_step_knows_its_task_before_and_after_it_uses_the_world() {
    // The run order keeps no entities: the step's task is looked up in the queue while the loop
    // holds it, and recorded when the first world access gives the queue back.
    let mut app = App::new();
    app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)))
        .init_resource::<Names>();
    app.finish();
    app.cleanup();
    let tasks: Vec<Entity> = (0..2)
        .map(|_| {
            app.world_mut().cooperate(from_fn(|cx: &mut StepContext| {
                let before = cx.task();
                cx.world()
                    .resource_mut::<Names>()
                    .0
                    .push((before, Entity::PLACEHOLDER));
                let after = cx.task();
                cx.world().resource_mut::<Names>().0.last_mut().unwrap().1 = after;
            }))
        })
        .collect();
    app.update();
    let names = &app.world().resource::<Names>().0;
    let expected: Vec<(Entity, Entity)> =
        [0, 1, 0, 1].iter().map(|&i| (tasks[i], tasks[i])).collect();
    assert_eq!(*names, expected);
}
