//! Condition waits: systems returning `bool`, polled once per frame while a task waits on them.

use alloc::{boxed::Box, format, vec::Vec};
use bevy_ecs::{entity::Entity, resource::Resource, system::System, world::World};

use crate::{
    Failure, lifecycle,
    wait::{Registered, Registration},
};

type Condition = Box<dyn System<In = (), Out = bool>>;

struct Entry {
    task: Entity,
    ticket: u32,
    system: Condition,
}

/// The pending condition waits. Empty (and not polled) when no task waits on a condition.
#[derive(Resource, Default)]
pub(crate) struct ConditionWaits(Vec<Entry>);

impl ConditionWaits {
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

fn poll(world: &mut World, system: &mut Condition) -> Result<bool, Failure> {
    system
        .run((), world)
        .map_err(|e| Failure::msg(format!("condition {} cannot run: {e}", system.name())))
}

pub(crate) fn register(
    world: &mut World,
    task: Entity,
    ticket: u32,
    mut system: Condition,
) -> Registered {
    system.initialize(world);
    match poll(world, &mut system) {
        Ok(true) => Registered::Now(Ok(())),
        Err(f) => Registered::Now(Err(f)),
        Ok(false) => {
            world
                .get_resource_or_init::<ConditionWaits>()
                .0
                .push(Entry {
                    task,
                    ticket,
                    system,
                });
            Registered::Pending(Registration::Remove(remove, ticket))
        }
    }
}

fn remove(world: &mut World, task: Entity, ticket: u32) {
    if let Some(mut waits) = world.get_resource_mut::<ConditionWaits>() {
        waits.0.retain(|e| !(e.task == task && e.ticket == ticket));
    }
}

/// Polls every pending condition once, in registration order, and resolves the true ones.
pub(crate) fn wake_conditions(world: &mut World) {
    let Some(mut waits) = world.get_resource_mut::<ConditionWaits>() else {
        return;
    };
    if waits.0.is_empty() {
        return;
    }
    let entries = core::mem::take(&mut waits.0);
    let mut kept = Vec::with_capacity(entries.len());
    let mut settled = Vec::new();
    for mut entry in entries {
        match poll(world, &mut entry.system) {
            Ok(false) => kept.push(entry),
            Ok(true) => settled.push((entry.task, entry.ticket, Ok(()))),
            Err(f) => settled.push((entry.task, entry.ticket, Err(f))),
        }
    }
    let mut waits = world.resource_mut::<ConditionWaits>();
    kept.append(&mut waits.0);
    waits.0 = kept;
    for (task, ticket, result) in settled {
        lifecycle::resolve(world, task, ticket, result);
    }
}
