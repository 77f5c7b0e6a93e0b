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

#[derive(Component)]
struct Enemy(u32);

#[derive(Resource, Default, Debug, PartialEq)]
struct Seen(Vec<u32>);

fn strongest(enemies: Query<&Enemy>, mut commands: Commands) -> Option<u32> {
    commands.insert_resource(Seen(enemies.iter().map(|e| e.0).collect()));
    enemies.iter().map(|e| e.0).max()
}

fn scaled(In(by): In<u32>, counter: Res<Counter>) -> u32 {
    counter.0 * by
}

#[test]
fn a_script_runs_systems_with_queries_and_commands_in_one_step() {
    let mut app = app();
    app.insert_resource(Counter(7));
    app.world_mut().spawn(Enemy(3));
    app.world_mut().spawn(Enemy(9));
    let task = app.world_mut().cooperate(script(|cx| async move {
        let strongest = cx.run_system(strongest).await?;
        // The system's commands were applied right after it.
        let seen = cx.with_world(|w| w.resource::<Seen>().0.len()).await;
        let scaled = cx.run_system_with(scaled, 3).await?;
        Ok::<_, Failure>((strongest, seen, scaled))
    }));
    app.world_mut().entity_mut(task).insert(RetainFinished);
    app.update();
    assert_eq!(app.world().task_steps(task), Ok(1), "one work unit");
    let result = &app
        .world()
        .get::<TaskResult<(Option<u32>, usize, u32)>>(task)
        .unwrap()
        .0;
    assert_eq!(*result, (Some(9), 2, 21));
}

#[test]
fn a_failing_system_a_missing_resource_or_component_is_an_err_not_a_panic() {
    let mut app = app();
    let gone = app.world_mut().spawn(Enemy(1)).id();
    app.world_mut().despawn(gone);
    let task = app.world_mut().cooperate(script(move |cx| async move {
        // `Res<Counter>` without a `Counter`: the system cannot run.
        let failing = cx.run_system_with(scaled, 2).await;
        let resource = cx.with_resource(|c: &mut Counter| c.0).await;
        let component = cx.with_component(gone, |e: &mut Enemy| e.0).await;
        let texts = [
            failing.unwrap_err().to_string(),
            resource.unwrap_err().to_string(),
            component.unwrap_err().to_string(),
        ];
        Ok::<_, Failure>(texts)
    }));
    app.world_mut().entity_mut(task).insert(RetainFinished);
    app.update();
    let texts = &app.world().get::<TaskResult<[String; 3]>>(task).unwrap().0;
    assert!(texts[0].contains("Resource does not exist"), "{}", texts[0]);
    assert!(texts[1].contains("Counter"), "{}", texts[1]);
    assert!(texts[2].contains("Enemy"), "{}", texts[2]);
}

#[test]
fn resources_and_components_are_changed_in_place_and_progress_is_readable_by_a_query() {
    let mut app = app();
    app.init_resource::<Counter>();
    let enemy = app.world_mut().spawn(Enemy(1)).id();
    let task = app.world_mut().cooperate(script(move |cx| async move {
        cx.with_resource(|c: &mut Counter| c.0 += 2).await?;
        cx.with_component(enemy, |e: &mut Enemy| e.0 = 40).await?;
        cx.report_progress(1, Some(4)).await;
        cx.yield_now().await;
        Ok::<(), Failure>(())
    }));
    app.update();
    assert_eq!(app.world().resource::<Counter>().0, 2);
    assert_eq!(app.world().get::<Enemy>(enemy).unwrap().0, 40);
    let mut progress = app.world_mut().query::<(Entity, &TaskProgress)>();
    let read: Vec<(Entity, Progress)> = progress.iter(app.world()).map(|(e, p)| (e, p.0)).collect();
    assert_eq!(read, [(task, Progress::new(1, 4))]);
}
