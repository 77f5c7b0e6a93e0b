//! A dynamic world spawned across frames (`spawn_dynamic_world`) gives the world Bevy's own
//! `write_to_world` gives: the same entities, component values and relationships.

use std::sync::Arc;

use crate::common::*;
use bevy_app::App;
use bevy_cooperator::*;
use bevy_ecs::{
    entity::{EntityHashMap, MapEntities},
    error::Severity,
    prelude::*,
    reflect::{AppTypeRegistry, ReflectComponent, ReflectMapEntities, ReflectResource},
};
use bevy_reflect::{
    PartialReflect, Reflect, Typed, structs::DynamicStruct, tuple_struct::DynamicTupleStruct,
};
use bevy_world_serialization::{DynamicEntity, DynamicWorld, WorldInstanceSpawnError};

#[derive(Component, Reflect, Clone, PartialEq, Debug)]
#[reflect(Component)]
struct Health(u32);

/// A component pointing at another entity of the world.
#[derive(Component, Reflect, MapEntities, Clone, PartialEq, Debug)]
#[reflect(Component, MapEntities)]
struct Target {
    #[entities]
    entity: Entity,
    weight: f32,
}

/// A component pointing at several entities.
#[derive(Component, Reflect, MapEntities, Clone, PartialEq, Debug)]
#[reflect(Component, MapEntities)]
struct Squad {
    #[entities]
    members: Vec<Entity>,
}

/// A resource pointing at an entity.
#[derive(Resource, Reflect, MapEntities, Clone, PartialEq, Debug)]
#[reflect(Resource, MapEntities)]
struct Leader {
    #[entities]
    entity: Entity,
    score: i64,
}

/// Registered in the source world only.
#[derive(Component, Reflect, Clone, PartialEq, Debug)]
#[reflect(Component)]
struct Secret;

/// A component that does not clone: left out, as Bevy leaves it out.
#[derive(Component, Reflect, Clone, PartialEq, Debug)]
#[component(clone_behavior = Ignore)]
#[reflect(Component)]
struct Transient;

/// Reflected and registered, but not a component.
#[derive(Reflect, Clone, PartialEq, Debug)]
struct NotAComponent(u8);

const ENTITIES: usize = 300;

/// A headless app with the given budget and every test type registered (but `Secret`).
fn registered_app(budget: Budget) -> App {
    let mut app = app_with(budget);
    app.register_type::<ChildOf>()
        .register_type::<Children>()
        .register_type::<Health>()
        .register_type::<Target>()
        .register_type::<Squad>()
        .register_type::<Leader>()
        .register_type::<Transient>()
        .register_type::<NotAComponent>();
    app
}

/// The source world: `ENTITIES` entities in a three-way tree (six levels deep) under entity 0,
/// plus every 50th entity a root of its own; every entity has a `Health`, every third a `Target`,
/// every tenth a `Squad`; and a `Leader` resource.
fn source_world(registry: &AppTypeRegistry) -> (World, Vec<Entity>) {
    let mut world = World::new();
    world.insert_resource(registry.clone());
    let mut ids: Vec<Entity> = Vec::with_capacity(ENTITIES);
    for i in 0..ENTITIES {
        let mut e = world.spawn(Health(i as u32));
        if i > 0 && i % 50 != 0 {
            e.insert(ChildOf(ids[(i - 1) / 3]));
        }
        ids.push(e.id());
    }
    for i in 0..ENTITIES {
        if i % 3 == 0 {
            world.entity_mut(ids[i]).insert(Target {
                entity: ids[(i * 7 + 1) % ENTITIES],
                weight: i as f32 / 2.0,
            });
        }
        if i % 10 == 0 {
            let members = (1..4).map(|k| ids[(i + k * 37) % ENTITIES]).collect();
            world.entity_mut(ids[i]).insert(Squad { members });
        }
    }
    world.insert_resource(Leader {
        entity: ids[5],
        score: -42,
    });
    (world, ids)
}

/// The depth of `e` in its tree (a root is 0).
fn depth(world: &World, mut e: Entity) -> usize {
    let mut d = 0;
    while let Some(parent) = world.get::<ChildOf>(e) {
        e = parent.parent();
        d += 1;
    }
    d
}

/// The sorted names of the components of `e`.
fn component_names(world: &World, e: Entity) -> Vec<String> {
    let mut names: Vec<String> = world
        .entity(e)
        .archetype()
        .iter_components()
        .map(|id| world.components().get_info(id).unwrap().name().to_string())
        .collect();
    names.sort();
    names
}

/// Every component of `a` in world `wa`, its entities mapped through `a_to_b`, equals (by
/// reflection) the same component of `b` in world `wb`.
fn assert_reflected_equal(
    registry: &AppTypeRegistry,
    (wa, a): (&World, Entity),
    (wb, b): (&World, Entity),
    a_to_b: &mut EntityHashMap<Entity>,
) {
    let registry = registry.read();
    for id in wa.entity(a).archetype().iter_components() {
        let info = wa.components().get_info(id).unwrap();
        let registration = registry
            .get(info.type_id().unwrap())
            .unwrap_or_else(|| panic!("{} is not registered", info.name()));
        let reflect = registration.data::<ReflectComponent>().unwrap();
        let mut value = reflect
            .reflect(wa.entity(a))
            .unwrap()
            .reflect_clone()
            .unwrap();
        reflect.map_entities(&mut *value, a_to_b);
        let other = reflect
            .reflect(wb.entity(b))
            .unwrap_or_else(|| panic!("{} is missing on the spawned entity", info.name()));
        assert_eq!(
            value.reflect_partial_eq(other.as_partial_reflect()),
            Some(true),
            "{}: {value:?} against {other:?}",
            info.name()
        );
    }
}

/// Checks `world` against the source through `map` (source entity → spawned entity): the
/// component values, with their entities mapped; every `ChildOf` and `Children` list.
fn assert_matches_source(
    world: &World,
    map: &EntityHashMap<Entity>,
    source: &World,
    ids: &[Entity],
) {
    for &s in ids {
        let e = map[&s];
        assert_eq!(world.get::<Health>(e), source.get::<Health>(s));
        assert_eq!(
            world.get::<Target>(e).cloned(),
            source.get::<Target>(s).map(|t| Target {
                entity: map[&t.entity],
                weight: t.weight,
            })
        );
        assert_eq!(
            world.get::<Squad>(e).map(|q| q.members.clone()),
            source
                .get::<Squad>(s)
                .map(|q| q.members.iter().map(|m| map[m]).collect::<Vec<_>>())
        );
        assert_eq!(
            world.get::<ChildOf>(e).map(ChildOf::parent),
            source.get::<ChildOf>(s).map(|c| map[&c.parent()]),
            "ChildOf of {s}"
        );
        assert_eq!(
            world
                .get::<Children>(e)
                .map(|c| c.iter().collect::<Vec<_>>()),
            source
                .get::<Children>(s)
                .map(|c| c.iter().map(|k| map[&k]).collect::<Vec<_>>()),
            "Children of {s}"
        );
    }
    let leader = world.resource::<Leader>();
    let source_leader = source.resource::<Leader>();
    assert_eq!(leader.entity, map[&source_leader.entity]);
    assert_eq!(leader.score, source_leader.score);
}

/// Every `ChildOf` is listed in its parent's `Children`, and every child listed points back.
fn assert_hierarchy_consistent(world: &World, entities: impl Iterator<Item = Entity>) {
    for e in entities {
        if let Some(child_of) = world.get::<ChildOf>(e) {
            let siblings = world.get::<Children>(child_of.parent()).unwrap();
            assert!(
                siblings.contains(&e),
                "{e} missing from its parent's Children"
            );
        }
        if let Some(children) = world.get::<Children>(e) {
            for child in children.iter() {
                assert_eq!(world.get::<ChildOf>(child).unwrap().parent(), e);
            }
        }
    }
}

#[test]
fn spawning_across_frames_gives_the_world_write_to_world_gives() {
    const PER_STEP: usize = 16;
    let mut app = registered_app(Budget::Steps(3));
    let registry = app.world().resource::<AppTypeRegistry>().clone();
    let (source, ids) = source_world(&registry);
    assert_eq!(ids.iter().map(|&e| depth(&source, e)).max(), Some(5));
    let dynamic = Arc::new(DynamicWorld::from_world(&source));
    assert_eq!(dynamic.entities.len(), ENTITIES);
    assert_eq!(dynamic.resources.len(), 1, "Leader only");

    // (a) Bevy, at once.
    let mut bevy_world = World::new();
    bevy_world.insert_resource(registry.clone());
    let mut bevy_map = EntityHashMap::default();
    dynamic
        .write_to_world(&mut bevy_world, &mut bevy_map)
        .unwrap();

    // (b) The cooperator: 16 entities per step, 3 steps per frame.
    let finished = record_finished(&mut app);
    let task = app
        .world_mut()
        .cooperate(spawn_dynamic_world(dynamic.clone(), PER_STEP));
    app.world_mut().entity_mut(task).insert(RetainFinished);
    // One step for the entity map, ceil(300 / 16) = 19 for the entities, one for the resources.
    let steps = 1 + ENTITIES.div_ceil(PER_STEP) + 1;
    let expected_frames = steps.div_ceil(3);
    assert_eq!(expected_frames, 7);
    for frame in 1..expected_frames {
        app.update();
        assert!(finished.get().is_empty(), "finished early, frame {frame}");
        assert!(app.world().get_resource::<Leader>().is_none());
    }
    app.update();
    assert_eq!(kinds(&finished), vec!["done"]);
    let our_map = app
        .world()
        .get::<TaskResult<EntityHashMap<Entity>>>(task)
        .unwrap()
        .0
        .clone();

    // The same entities: one fresh entity per source entity, on both sides.
    assert_eq!(our_map.len(), ENTITIES);
    assert_eq!(bevy_map.len(), ENTITIES);
    let mut spawned: Vec<Entity> = our_map.values().copied().collect();
    spawned.sort();
    spawned.dedup();
    assert_eq!(spawned.len(), ENTITIES);

    // Each against the source, values and relationships mapped.
    assert_matches_source(&bevy_world, &bevy_map, &source, &ids);
    assert_matches_source(app.world(), &our_map, &source, &ids);

    // Against each other: the same components, equal by reflection after mapping Bevy's
    // entities to ours.
    let mut bevy_to_ours: EntityHashMap<Entity> =
        ids.iter().map(|s| (bevy_map[s], our_map[s])).collect();
    for s in &ids {
        let (b, o) = (bevy_map[s], our_map[s]);
        assert_eq!(
            component_names(&bevy_world, b),
            component_names(app.world(), o),
            "components of {s}"
        );
        assert_reflected_equal(
            &registry,
            (&bevy_world, b),
            (app.world(), o),
            &mut bevy_to_ours,
        );
    }
    assert_eq!(
        app.world().resource::<Leader>().entity,
        bevy_to_ours[&bevy_world.resource::<Leader>().entity]
    );

    // Relationships consistent both ways, and as deep as the source.
    assert_hierarchy_consistent(app.world(), our_map.values().copied());
    assert_hierarchy_consistent(&bevy_world, bevy_map.values().copied());
    assert_eq!(
        our_map.values().map(|&e| depth(app.world(), e)).max(),
        Some(5)
    );
}

#[test]
fn the_relationship_targets_are_scene_data() {
    // With relationship hooks skipped, `Children` comes from the dynamic world, not from the
    // `ChildOf` hook: a dynamic world without `Children` spawns parents without children, as
    // Bevy's `write_to_world` does.
    let mut app = registered_app(Budget::Unlimited);
    let registry = app.world().resource::<AppTypeRegistry>().clone();
    let mut source = World::new();
    let parent = source.spawn(Health(0)).id();
    let child = source.spawn((Health(1), ChildOf(parent))).id();
    let without_children = DynamicWorld {
        resources: vec![],
        entities: [parent, child]
            .into_iter()
            .map(|e| DynamicEntity {
                entity: e,
                components: {
                    let registry = registry.read();
                    source
                        .entity(e)
                        .archetype()
                        .iter_components()
                        .filter_map(|id| {
                            let type_id = source.components().get_info(id)?.type_id()?;
                            if type_id == std::any::TypeId::of::<Children>() {
                                return None;
                            }
                            let reflect = registry.get_type_data::<ReflectComponent>(type_id)?;
                            let value = reflect.reflect(source.entity(e))?;
                            Some(value.reflect_clone().unwrap().into_partial_reflect())
                        })
                        .collect()
                },
            })
            .collect(),
    };

    let mut bevy_world = World::new();
    bevy_world.insert_resource(registry);
    let mut bevy_map = EntityHashMap::default();
    without_children
        .write_to_world(&mut bevy_world, &mut bevy_map)
        .unwrap();

    let task = app
        .world_mut()
        .cooperate(spawn_dynamic_world(without_children, 1));
    app.world_mut().entity_mut(task).insert(RetainFinished);
    app.update();
    let ours = &app
        .world()
        .get::<TaskResult<EntityHashMap<Entity>>>(task)
        .unwrap()
        .0;

    for (world, map) in [(&bevy_world, &bevy_map), (app.world(), ours)] {
        assert_eq!(
            world.get::<ChildOf>(map[&child]).map(ChildOf::parent),
            Some(map[&parent])
        );
        assert!(world.get::<Children>(map[&parent]).is_none());
    }
}

/// A dynamic world of three entities, the middle one holding `bad` after a `Health`.
fn with_bad_component(bad: Box<dyn PartialReflect>) -> DynamicWorld {
    let e = |n| Entity::from_raw_u32(n).unwrap();
    DynamicWorld {
        resources: vec![],
        entities: vec![
            DynamicEntity {
                entity: e(1),
                components: vec![Box::new(Health(1))],
            },
            DynamicEntity {
                entity: e(2),
                components: vec![Box::new(Health(2)), bad, Box::new(Health(3))],
            },
            DynamicEntity {
                entity: e(3),
                components: vec![Box::new(Health(4))],
            },
        ],
    }
}

/// Spawns `dynamic` one entity per step, runs until it finishes, and returns its failure.
fn spawn_failure(dynamic: DynamicWorld) -> (App, WorldInstanceSpawnError) {
    let mut app = registered_app(Budget::Unlimited);
    app.world_mut().resource_mut::<UnhandledFailures>().severity = Severity::Ignore;
    let finished = record_finished(&mut app);
    app.world_mut().cooperate(spawn_dynamic_world(dynamic, 1));
    app.update();
    let log = finished.get();
    assert_eq!(log.len(), 1);
    let failure = log[0].1.failure().expect("the task failed").clone();
    assert!(
        failure.downcast_ref::<TaskPanicked>().is_none(),
        "{failure}"
    );
    let error = failure
        .downcast_ref::<WorldInstanceSpawnError>()
        .unwrap_or_else(|| panic!("not a spawn error: {failure}"));
    let error = match error {
        WorldInstanceSpawnError::UnregisteredButReflectedType { type_path } => {
            WorldInstanceSpawnError::UnregisteredButReflectedType {
                type_path: type_path.clone(),
            }
        }
        WorldInstanceSpawnError::UnregisteredComponent { type_path } => {
            WorldInstanceSpawnError::UnregisteredComponent {
                type_path: type_path.clone(),
            }
        }
        WorldInstanceSpawnError::NoRepresentedType { type_path } => {
            WorldInstanceSpawnError::NoRepresentedType {
                type_path: type_path.clone(),
            }
        }
        other => panic!("unexpected error {other}"),
    };
    (app, error)
}

/// The `Health` values in `app`'s world, sorted.
fn healths(app: &mut App) -> Vec<u32> {
    let mut h: Vec<u32> = app
        .world_mut()
        .query::<&Health>()
        .iter(app.world())
        .map(|h| h.0)
        .collect();
    h.sort();
    h
}

#[test]
fn an_unregistered_component_fails_the_task_naming_the_type() {
    // `Secret` is registered where the dynamic world was made, not where it is spawned.
    let (mut app, error) = spawn_failure(with_bad_component(Box::new(Secret)));
    match &error {
        WorldInstanceSpawnError::UnregisteredButReflectedType { type_path } => {
            assert!(type_path.ends_with("Secret"), "{type_path}");
        }
        other => panic!("unexpected error {other}"),
    }
    // What was written stays: the first entity, the failing one up to the failing type.
    assert_eq!(healths(&mut app), vec![1, 2]);
}

#[test]
fn a_type_that_is_not_a_component_fails_the_task() {
    let (mut app, error) = spawn_failure(with_bad_component(Box::new(NotAComponent(7))));
    match &error {
        WorldInstanceSpawnError::UnregisteredComponent { type_path } => {
            assert!(type_path.ends_with("NotAComponent"), "{type_path}");
        }
        other => panic!("unexpected error {other}"),
    }
    assert_eq!(healths(&mut app), vec![1, 2]);
}

#[test]
fn a_value_without_a_type_fails_the_task() {
    let (_, error) = spawn_failure(with_bad_component(Box::new(DynamicStruct::default())));
    assert!(
        matches!(error, WorldInstanceSpawnError::NoRepresentedType { .. }),
        "{error}"
    );
}

#[test]
fn a_value_reflection_cannot_build_fails_the_task_through_its_panic() {
    // A `Health` holding a string: Bevy's reflection panics building it (as `write_to_world`
    // would); the panic fails the task and nothing else.
    let mut bad = DynamicTupleStruct::default();
    bad.insert(String::from("full"));
    bad.set_represented_type(Some(Health::type_info()));
    let mut app = registered_app(Budget::Unlimited);
    app.world_mut().resource_mut::<UnhandledFailures>().severity = Severity::Ignore;
    let finished = record_finished(&mut app);
    app.world_mut()
        .cooperate(spawn_dynamic_world(with_bad_component(Box::new(bad)), 3));
    app.update();
    let log = finished.get();
    let failure = log[0].1.failure().expect("the task failed");
    assert!(
        failure.downcast_ref::<TaskPanicked>().is_some(),
        "{failure}"
    );
    // The app runs on.
    app.world_mut().cooperate(spawn_dynamic_world(
        with_bad_component(Box::new(Health(5))),
        3,
    ));
    app.update();
    assert_eq!(kinds(&finished), vec!["failed", "done"]);
}

#[test]
fn components_that_do_not_clone_are_left_out() {
    let mut app = registered_app(Budget::Unlimited);
    let task = app.world_mut().cooperate(spawn_dynamic_world(
        with_bad_component(Box::new(Transient)),
        2,
    ));
    app.world_mut().entity_mut(task).insert(RetainFinished);
    app.update();
    assert!(
        app.world()
            .get::<CooperativeTask>(task)
            .unwrap()
            .outcome()
            .unwrap()
            .is_done()
    );
    assert_eq!(healths(&mut app), vec![1, 3, 4]);
    let mut transient = app.world_mut().query::<&Transient>();
    assert_eq!(transient.iter(app.world()).count(), 0);
}

#[test]
fn progress_counts_the_entities_written() {
    let mut app = registered_app(Budget::Steps(1));
    let registry = app.world().resource::<AppTypeRegistry>().clone();
    let mut source = World::new();
    source.insert_resource(registry);
    for i in 0..100 {
        source.spawn(Health(i));
    }
    let dynamic = DynamicWorld::from_world(&source);
    let task = app
        .world_mut()
        .spawn((TrackProgress, RetainFinished))
        .cooperate(spawn_dynamic_world(dynamic, 10))
        .id();

    app.update(); // the entity map
    assert_eq!(
        app.world().get::<TaskProgress>(task).unwrap().0,
        Progress::new(0, 100)
    );
    frames(&mut app, 3); // 30 entities
    assert_eq!(
        app.world().get::<TaskProgress>(task).unwrap().0,
        Progress::new(30, 100)
    );
    assert_eq!(
        app.world_mut().task_progress(task).unwrap().fraction(),
        Some(0.3)
    );
    frames(&mut app, 7); // all 100, resources not yet
    assert_eq!(
        app.world_mut().task_progress(task),
        Some(Progress::new(100, 100))
    );
    assert!(
        app.world()
            .get::<CooperativeTask>(task)
            .unwrap()
            .outcome()
            .is_none()
    );
    app.update(); // the resources: done
    assert!(
        app.world()
            .get::<CooperativeTask>(task)
            .unwrap()
            .outcome()
            .unwrap()
            .is_done()
    );
    assert_eq!(healths(&mut app).len(), 100);
}

#[test]
fn a_script_joins_the_entity_map() {
    let mut app = registered_app(Budget::Steps(2));
    let registry = app.world().resource::<AppTypeRegistry>().clone();
    let mut source = World::new();
    source.insert_resource(registry);
    let ids: Vec<Entity> = (0..20).map(|i| source.spawn(Health(i)).id()).collect();
    let dynamic = Arc::new(DynamicWorld::from_world(&source));
    let log = Log::new();
    let l = log.clone();
    app.world_mut().cooperate(script(move |cx| async move {
        let spawn = cx.start(spawn_dynamic_world(dynamic, 4)).await;
        let map = cx.join::<EntityHashMap<Entity>>(spawn).await.unwrap();
        let healths = cx
            .with_world(move |world| {
                ids.iter()
                    .map(|s| world.get::<Health>(map[s]).unwrap().0)
                    .collect::<Vec<_>>()
            })
            .await;
        l.push(healths);
    }));
    // The spawn alone takes 7 steps (the map, 5 chunks, the resources), at most 2 a frame.
    frames(&mut app, 3);
    assert!(log.get().is_empty(), "too early");
    frames(&mut app, 7);
    assert_eq!(log.get(), vec![(0..20).collect::<Vec<u32>>()]);
}

#[test]
fn no_entities_per_step_counts_as_one() {
    let mut app = registered_app(Budget::Steps(1));
    let mut dynamic = with_bad_component(Box::new(Health(9)));
    dynamic.entities.truncate(2);
    app.world_mut().cooperate(spawn_dynamic_world(dynamic, 0));
    frames(&mut app, 2); // the map, one entity
    assert_eq!(healths(&mut app), vec![1]);
    frames(&mut app, 1);
    // The second entity's components: `Health(2)`, then `Health(9)` and `Health(3)` applied over it.
    assert_eq!(healths(&mut app), vec![1, 3]);
}

/// The entities of `app`'s world without a component: the ones the entity map reserved and
/// that are not written yet.
fn empty_entities(app: &mut App) -> Vec<Entity> {
    app.world_mut()
        .query::<EntityRef>()
        .iter(app.world())
        .filter(|e| e.archetype().component_count() == 0)
        .map(|e| e.id())
        .collect()
}

#[test]
fn an_entity_despawned_before_its_turn_is_skipped() {
    let mut app = registered_app(Budget::Steps(1));
    let finished = record_finished(&mut app);
    let task = app.world_mut().cooperate(spawn_dynamic_world(
        with_bad_component(Box::new(Health(5))),
        1,
    ));
    app.world_mut().entity_mut(task).insert(RetainFinished);
    assert!(empty_entities(&mut app).is_empty());
    app.update(); // the entity map
    assert_eq!(empty_entities(&mut app).len(), 3);
    frames(&mut app, 2); // the first two entities
    let [last] = empty_entities(&mut app)[..] else {
        panic!("one entity left to write")
    };
    app.world_mut().despawn(last);
    frames(&mut app, 2); // the last entity, skipped; the resources
    assert_eq!(kinds(&finished), vec!["done"]);
    // The second entity: `Health(2)`, then `Health(5)` and `Health(3)` applied over it.
    assert_eq!(healths(&mut app), vec![1, 3]);
    let map = &app
        .world()
        .get::<TaskResult<EntityHashMap<Entity>>>(task)
        .unwrap()
        .0;
    assert_eq!(map[&Entity::from_raw_u32(3).unwrap()], last);
}

#[test]
fn a_large_world_reserves_its_entities_over_several_steps_too() {
    // 300 entities, 2 a step: the entity map takes 64 a step (32 times the chunk), so no single
    // step spawns the whole world's entities.
    let mut app = registered_app(Budget::Steps(1));
    let (source, _) = source_world(app.world().resource::<AppTypeRegistry>());
    let dynamic = DynamicWorld::from_world(&source);
    assert_eq!(dynamic.entities.len(), ENTITIES);
    let task = app.world_mut().cooperate(spawn_dynamic_world(dynamic, 2));
    app.world_mut().entity_mut(task).insert(RetainFinished);
    app.update();
    assert_eq!(empty_entities(&mut app).len(), 64);
    frames(&mut app, 4); // 64 more each frame; the last 44 in the fifth
    assert_eq!(empty_entities(&mut app).len(), ENTITIES);
    app.update(); // the first two written
    assert_eq!(empty_entities(&mut app).len(), ENTITIES - 2);
    frames(&mut app, ENTITIES / 2 + 1);
    assert_eq!(
        app.world()
            .get::<CooperativeTask>(task)
            .and_then(|t| t.outcome().cloned()),
        Some(Outcome::Done)
    );
}
