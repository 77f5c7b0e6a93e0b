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
    wait::Wait,
    wait::{
        registration::{Registered, Registration},
        seam::{Resolution, Resolve, Ticket, resolve_later},
    },
};

impl Wait {
    /// Until the observer event `E` is triggered on the waiting task's own entity (for example
    /// `world.trigger(Advance { entity: task })`). Only triggers after the wait began count.
    ///
    /// An observer watching the task entity exists while the wait is pending and is despawned
    /// when it ends; the task resumes at the next command flush after the trigger.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// #[derive(EntityEvent)]
    /// struct Interact {
    ///     entity: Entity,
    /// }
    ///
    /// // An NPC's script waits until the player talks to it.
    /// let npc = app.world_mut().spawn_empty().id();
    /// app.world_mut().entity_mut(npc).cooperate([Wait::event::<Interact>()].into_iter());
    /// app.update();
    /// assert!(app.world().get::<Paused>(npc).is_some());
    /// app.world_mut().trigger(Interact { entity: npc });
    /// app.update();
    /// assert!(app.world().get::<CooperativeTask>(npc).is_none()); // done, the NPC stays
    /// ```
    pub fn event<E: EntityEvent>() -> Self {
        Wait::custom("Event", |world, task, ticket| {
            register::<E>(world, task, ticket, None)
        })
    }

    /// Until the observer event `E` is triggered on `entity`. Waiting on a missing entity fails,
    /// and so does the wait if `entity` is despawned while the task waits (at the next command
    /// flush after the despawn): the failure names the entity.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// #[derive(EntityEvent)]
    /// struct Pressed {
    ///     entity: Entity,
    /// }
    ///
    /// let world = app.world_mut();
    /// let [start, quit] = [world.spawn_empty().id(), world.spawn_empty().id()];
    /// let menu = world.cooperate([Wait::event_on::<Pressed>(start)].into_iter());
    /// let farewell = world.cooperate([Wait::event_on::<Pressed>(quit)].into_iter());
    /// world.entity_mut(farewell).insert(RetainFinished);
    /// app.update();
    /// app.world_mut().trigger(Pressed { entity: start });
    /// app.world_mut().despawn(quit); // the quit button goes away
    /// app.update();
    /// assert!(app.world().get_entity(menu).is_err()); // started the game
    /// assert!(app.world().task_outcome(farewell).unwrap().failure().is_some());
    /// ```
    pub fn event_on<E: EntityEvent>(entity: Entity) -> Self {
        Wait::custom("EventOn", move |world, task, ticket| {
            register::<E>(world, task, ticket, Some(entity))
        })
    }
}

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
