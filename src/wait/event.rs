//! Observer event waits: a temporary observer per pending wait.

use bevy_ecs::{
    component::Component,
    entity::Entity,
    event::EntityEvent,
    lifecycle::HookContext,
    observer::{Observer, On},
    system::{Command, Commands},
    world::{DeferredWorld, World},
};

use crate::{
    outcome::Failure,
    wait::{
        registration::{Registered, Registration},
        seam::{Resolution, Resolve, Ticket, resolve_later},
    },
};

/// Rides on a wait's observer entity. Bevy despawns an observer whose watched entity is
/// despawned; this guard's hook then fails the wait, which could otherwise never resolve.
#[derive(Component, Clone, Copy)]
#[component(on_remove = target_gone)]
struct EventWaitGuard {
    task: Entity,
    ticket: Ticket,
    target: Entity,
}

/// The observer is going: if its target went first, fail the wait (at the next flush). When the
/// wait ended any other way, the target still exists (or the ticket is stale) and this does
/// nothing.
fn target_gone(mut world: DeferredWorld, context: HookContext) {
    let Some(&guard) = world.get::<EventWaitGuard>(context.entity) else {
        return;
    };
    world.commands().queue(move |world: &mut World| {
        if world.get_entity(guard.target).is_ok() {
            return;
        }
        let failure = Failure::msg(alloc::format!(
            "entity {} was despawned while a task waited for an event on it",
            guard.target
        ));
        Resolve(alloc::vec![Resolution::new(
            guard.task,
            guard.ticket,
            Err(failure)
        )])
        .apply(world);
    });
}

/// Spawns an observer of `E` watching `target` (the task itself by default) that resolves the wait
/// at the next command flush. The observer is despawned when the wait ends, however it ends; if
/// `target` is despawned first, the wait fails.
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
        resolve_later(
            &mut commands,
            alloc::vec![Resolution::new(task, ticket, Ok(()))],
        );
    })
    .with_entity(target);
    let guard = EventWaitGuard {
        task,
        ticket,
        target,
    };
    let observer = world.spawn((observer, guard)).id();
    Registered::Pending(Registration::Observer(observer))
}
