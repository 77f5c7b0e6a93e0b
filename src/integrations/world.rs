//! Dynamic worlds spawned across frames (feature `bevy_world_serialization`): [`WorldSpawnWork`].

use alloc::{string::ToString, sync::Arc};

use bevy_ecs::{
    component::ComponentCloneBehavior,
    entity::{Entity, EntityHashMap, SceneEntityMapper},
    reflect::{AppTypeRegistry, ReflectComponent, ReflectResource},
    relationship::RelationshipHookMode,
    world::World,
};
use bevy_reflect::{PartialReflect, TypeRegistration, TypeRegistry};
use bevy_world_serialization::{DynamicWorld, WorldInstanceSpawnError};

use crate::work::{Progress, Step, StepContext, Work};

/// Work that spawns a [`DynamicWorld`] into the task's world, a few entities per step: made by
/// [`spawn_dynamic_world`].
///
/// It writes what [`DynamicWorld::write_to_world`] writes, the same way, only spread over steps:
///
/// 1. the first steps spawn an empty entity for every dynamic entity (the entity map), up to 32
///    times `entities_per_step` of them a step;
/// 2. each later step writes the components of at most `entities_per_step` entities, mapping the
///    entities they reference through the entity map, with relationship hooks skipped and
///    components that clone as [`ComponentCloneBehavior::Ignore`] left out;
/// 3. the last step writes the resources (mapped too, after every entity exists), stores the
///    entity map in the task's [`TaskResult<EntityHashMap<Entity>>`](crate::TaskResult)
///    (dynamic entity → spawned entity) and ends [`Step::Done`].
///
/// **Relationships** come out as Bevy's own spawn leaves them: with relationship hooks skipped,
/// both sides are scene data, so `ChildOf` and `Children` are written as the dynamic world holds
/// them (a dynamic world built from a world, with both types registered, holds both). Until the
/// task is done the entities are partly written: a parent may already list a child that has no
/// `ChildOf` yet. Wait for the task ([`TaskFinished`](crate::TaskFinished), a wait on the task,
/// [`ScriptContext::join`](crate::ScriptContext::join)) before relying on them.
///
/// **Types** are looked up in the world's [`AppTypeRegistry`] at each step (a world without one
/// has no types registered).
///
/// **Failures.** A type missing from the registry, or registered without `#[reflect(Component)]`
/// (`#[reflect(Resource)]` for a resource), fails the task with the [`WorldInstanceSpawnError`]
/// [`DynamicWorld::write_to_world`] would return, naming the type; read it with
/// [`Failure::downcast_ref`](crate::Failure::downcast_ref). What the task spawned so far stays:
/// the entities written before the failing one are complete, the failing one holds the
/// components before the failing type, the rest are empty entities. No result is stored: unlike
/// a caller of `write_to_world`, who holds the entity map, you cannot find these entities
/// afterwards, so register the types before spawning. The same holds when the task is stopped
/// part way. A spawned entity the game despawns before its turn is skipped. A value that Bevy's
/// reflection cannot build (no `FromReflect`, `Default` or `FromWorld`) panics inside Bevy, as it
/// does in `write_to_world`: the task fails with the panic (see the crate's rule on panicking
/// steps).
///
/// **Progress** ([`TaskProgressExt::task_progress`](crate::TaskProgressExt::task_progress),
/// [`TrackProgress`](crate::TrackProgress)): entities written out of all the dynamic world's
/// entities.
pub struct WorldSpawnWork {
    source: Arc<DynamicWorld>,
    per_step: usize,
    entity_map: EntityHashMap<Entity>,
    phase: Phase,
    /// The dynamic entities given an entity so far (the index of the next one).
    reserved: usize,
    /// The dynamic entities written so far (the index of the next one).
    written: usize,
}

/// How many empty entities a reserving step spawns per entity a writing step writes.
const RESERVE_PER_WRITE: usize = 32;

/// Where a [`WorldSpawnWork`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Next: spawn the empty entities of the entity map.
    Reserve,
    /// Next: write the components of the next entities.
    Entities,
    /// Next: write the resources and finish.
    Resources,
    /// Finished (done or failed): further steps do nothing.
    Over,
}

/// Work that spawns `world` — a [`DynamicWorld`] or an `Arc` of one — across frames, writing the
/// components of at most `entities_per_step` entities per step (0 counts as 1): see
/// [`WorldSpawnWork`] for the steps, the failures and the result.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::{spawn_dynamic_world, prelude::*};
/// use bevy_ecs::{entity::EntityHashMap, prelude::*};
/// use bevy_reflect::Reflect;
/// use bevy_world_serialization::DynamicWorld;
///
/// #[derive(Component, Reflect, PartialEq, Debug)]
/// #[reflect(Component)]
/// struct Crate(u32);
///
/// let mut app = App::new();
/// app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(2)))
///     .register_type::<Crate>();
///
/// // A level of five crates, built in a world of its own.
/// let mut level = World::new();
/// level.insert_resource(app.world().resource::<AppTypeRegistry>().clone());
/// for i in 0..5 {
///     level.spawn(Crate(i));
/// }
/// let dynamic = DynamicWorld::from_world(&level);
///
/// // Two crates per step, two steps per frame.
/// let task = app
///     .world_mut()
///     .commands()
///     .cooperate(spawn_dynamic_world(dynamic, 2))
///     .insert(RetainFinished)
///     .id();
/// let mut crates = app.world_mut().query::<&Crate>();
/// app.update(); // the entity map, crates 0 and 1
/// assert_eq!(crates.iter(app.world()).count(), 2);
/// app.update(); // crates 2 and 3, then 4
/// app.update(); // the resources: done
/// assert_eq!(crates.iter(app.world()).count(), 5);
///
/// let map = &app.world().get::<TaskResult<EntityHashMap<Entity>>>(task).unwrap().0;
/// assert_eq!(map.len(), 5);
/// for (source, spawned) in map {
///     assert_eq!(app.world().get::<Crate>(*spawned), level.get::<Crate>(*source));
/// }
/// ```
pub fn spawn_dynamic_world(
    world: impl Into<Arc<DynamicWorld>>,
    entities_per_step: usize,
) -> WorldSpawnWork {
    WorldSpawnWork {
        source: world.into(),
        per_step: entities_per_step.max(1),
        entity_map: EntityHashMap::default(),
        phase: Phase::Reserve,
        reserved: 0,
        written: 0,
    }
}

impl WorldSpawnWork {
    /// Spawns an empty entity for the next dynamic entities not in the map yet, at most
    /// [`RESERVE_PER_WRITE`] times `per_step` of them (an empty spawn costs far less than writing
    /// an entity); `true` once every dynamic entity has one.
    fn reserve(&mut self, world: &mut World) -> bool {
        let end = self
            .reserved
            .saturating_add(self.per_step.saturating_mul(RESERVE_PER_WRITE))
            .min(self.source.entities.len());
        for dynamic_entity in &self.source.entities[self.reserved..end] {
            self.entity_map
                .entry(dynamic_entity.entity)
                .or_insert_with(|| world.spawn_empty().id());
        }
        self.reserved = end;
        end == self.source.entities.len()
    }

    /// Writes the components of the next entities, at most `per_step` of them.
    fn write_entities(
        &mut self,
        world: &mut World,
        registry: &TypeRegistry,
    ) -> Result<(), WorldInstanceSpawnError> {
        let end = self
            .written
            .saturating_add(self.per_step)
            .min(self.source.entities.len());
        while self.written < end {
            let dynamic_entity = &self.source.entities[self.written];
            if let Some(&entity) = self.entity_map.get(&dynamic_entity.entity) {
                for component in &dynamic_entity.components {
                    write_component(world, &mut self.entity_map, entity, &**component, registry)?;
                }
            }
            self.written += 1;
        }
        Ok(())
    }

    /// Writes the resources, replacing those the world has.
    fn write_resources(
        &mut self,
        world: &mut World,
        registry: &TypeRegistry,
    ) -> Result<(), WorldInstanceSpawnError> {
        for resource in &self.source.resources {
            write_resource(world, &mut self.entity_map, &**resource, registry)?;
        }
        Ok(())
    }
}

/// The registration of `value`'s type, as `write_to_world_with` looks it up.
fn registration<'r>(
    value: &dyn PartialReflect,
    registry: &'r TypeRegistry,
) -> Result<&'r TypeRegistration, WorldInstanceSpawnError> {
    let type_info = value.get_represented_type_info().ok_or_else(|| {
        WorldInstanceSpawnError::NoRepresentedType {
            type_path: value.reflect_type_path().to_string(),
        }
    })?;
    registry.get(type_info.type_id()).ok_or_else(|| {
        WorldInstanceSpawnError::UnregisteredButReflectedType {
            type_path: type_info.type_path().to_string(),
        }
    })
}

/// Writes one component of a dynamic entity to `entity`, as `write_to_world_with` does.
fn write_component(
    world: &mut World,
    entity_map: &mut EntityHashMap<Entity>,
    entity: Entity,
    component: &dyn PartialReflect,
    registry: &TypeRegistry,
) -> Result<(), WorldInstanceSpawnError> {
    let registration = registration(component, registry)?;
    let reflect_component = registration.data::<ReflectComponent>().ok_or_else(|| {
        WorldInstanceSpawnError::UnregisteredComponent {
            type_path: registration.type_info().type_path().to_string(),
        }
    })?;
    let component_id = reflect_component.register_component(world);
    if world
        .components()
        .get_info(component_id)
        .is_some_and(|info| matches!(info.clone_behavior(), ComponentCloneBehavior::Ignore))
    {
        return Ok(());
    }
    SceneEntityMapper::world_scope(entity_map, world, |world, mapper| {
        // An entity the game despawned since the entity map was made has nothing to write to.
        if let Ok(mut target) = world.get_entity_mut(entity) {
            reflect_component.apply_or_insert_mapped(
                &mut target,
                component,
                registry,
                mapper,
                RelationshipHookMode::Skip,
            );
        }
    });
    Ok(())
}

/// Writes one resource of the dynamic world, as `write_to_world_with` does: into the world's
/// resource entity for its type, or a new one.
fn write_resource(
    world: &mut World,
    entity_map: &mut EntityHashMap<Entity>,
    resource: &dyn PartialReflect,
    registry: &TypeRegistry,
) -> Result<(), WorldInstanceSpawnError> {
    let registration = registration(resource, registry)?;
    // A resource reflects `Component` too; a registration with `ReflectResource` alone (made by
    // hand) is refused as not a resource rather than panicking.
    let reflect_component = registration
        .data::<ReflectResource>()
        .and(registration.data::<ReflectComponent>())
        .ok_or_else(|| WorldInstanceSpawnError::UnregisteredResource {
            type_path: registration.type_info().type_path().to_string(),
        })?;
    let resource_id = reflect_component.register_component(world);
    let entity = match world.resource_entities().get(resource_id) {
        Some(entity) => entity,
        None => world.spawn_empty().id(),
    };
    SceneEntityMapper::world_scope(entity_map, world, |world, mapper| {
        if let Ok(mut target) = world.get_entity_mut(entity) {
            reflect_component.apply_or_insert_mapped(
                &mut target,
                resource,
                registry,
                mapper,
                RelationshipHookMode::Skip,
            );
        }
    });
    Ok(())
}

impl Work for WorldSpawnWork {
    fn step(&mut self, cx: &mut StepContext) -> Step {
        if self.phase == Phase::Over {
            return Step::Done;
        }
        let world = cx.world();
        let registry = world
            .get_resource::<AppTypeRegistry>()
            .cloned()
            .unwrap_or_default();
        let registry = registry.read();
        let written = match self.phase {
            Phase::Reserve => {
                if !self.reserve(world) {
                    // More empty entities to spawn first.
                    return Step::Continue;
                }
                Ok(())
            }
            Phase::Entities => self.write_entities(world, &registry),
            Phase::Resources | Phase::Over => self.write_resources(world, &registry),
        };
        drop(registry);
        if let Err(error) = written {
            self.phase = Phase::Over;
            return Step::Fail(error.into());
        }
        self.phase = match self.phase {
            Phase::Reserve | Phase::Entities if self.written < self.source.entities.len() => {
                Phase::Entities
            }
            Phase::Reserve | Phase::Entities => Phase::Resources,
            Phase::Resources | Phase::Over => Phase::Over,
        };
        if self.phase == Phase::Over {
            cx.set_result(core::mem::take(&mut self.entity_map));
            return Step::Done;
        }
        Step::Continue
    }

    fn progress(&self) -> Option<Progress> {
        Some(Progress::new(
            self.written as u64,
            self.source.entities.len() as u64,
        ))
    }
}
