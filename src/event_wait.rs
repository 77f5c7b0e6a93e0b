//! Observer event waits: a temporary observer per pending wait.

use bevy_ecs::{
    entity::Entity,
    event::EntityEvent,
    observer::{Observer, On},
    system::Commands,
    world::World,
};

use crate::{
    Failure, lifecycle,
    lifecycle::Ticket,
    wait::{Registered, Registration},
};

/// Spawns an observer of `E` watching `target` (the task itself by default) that resolves the wait
/// at the next command flush. The observer is despawned when the wait ends, however it ends.
pub(crate) fn register<E: EntityEvent>(
    world: &mut World,
    task: Entity,
    ticket: Ticket,
    target: Option<Entity>,
) -> Registered {
    let target = target.unwrap_or(task);
    if world.get_entity(target).is_err() {
        return Registered::Now(Err(Failure::msg(alloc::format!(
            "cannot wait for an event on entity {target}: it does not exist"
        ))));
    }
    let observer = Observer::new(move |_: On<E>, mut commands: Commands| {
        commands.queue(move |world: &mut World| {
            lifecycle::resolve(world, task, ticket, Ok(()));
        });
    })
    .with_entity(target);
    let observer = world.spawn(observer).id();
    Registered::Pending(Registration::Observer(observer))
}
