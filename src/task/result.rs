//! Typed task results: [`TaskResult`].

use bevy_ecs::{component::Component, entity::Entity, world::World};

use crate::work::StepContext;

/// The value a task finished with, on the task entity.
///
/// Inserted when the work ends `Done` with a value — an async [`script`](crate::script) returning
/// `Ok(value)`, or [`StepContext::set_result`](crate::StepContext::set_result) — **before**
/// [`TaskFinished`](crate::TaskFinished) fires, so an observer of the completion can read it with
/// a `Query<&TaskResult<T>>`.
///
/// A script awaiting the task with [`ScriptContext::join`](crate::ScriptContext::join) takes the
/// value. Otherwise it stays on the entity until the entity goes: a standalone task entity is
/// despawned at the end of the frame it finished in, so a system that wants the value later puts
/// [`RetainFinished`](crate::RetainFinished) on the task, reads (or `take`s) the result, and
/// despawns the entity itself. On an attached task (an existing entity), the component stays
/// after the task is cleaned up.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # use bevy_ecs::prelude::*;
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default());
/// let world = app.world_mut();
/// let task = world.cooperate(from_fn(|cx: &mut StepContext| {
///     cx.set_result(42_u32);
///     Step::Done
/// }));
/// world.entity_mut(task).insert(RetainFinished);
/// app.update();
/// assert_eq!(app.world().get::<TaskResult<u32>>(task).unwrap().0, 42);
/// ```
#[derive(Component, Debug, Clone, PartialEq)]
pub struct TaskResult<T: Send + Sync + 'static>(pub T);

impl StepContext<'_> {
    /// Sets the value this task finishes with: a [`TaskResult<T>`] on the task entity, there
    /// before [`TaskFinished`](crate::TaskFinished) fires. Return
    /// [`Step::Done`](crate::Step::Done) to finish. See the example on [`TaskResult`].
    pub fn set_result<T: Send + Sync + 'static>(&mut self, value: T) {
        let task = self.task();
        if let Ok(mut e) = self.world().get_entity_mut(task) {
            e.insert(TaskResult(value));
        }
    }
}

/// A result taken from a joined task, waiting for the joining script to pick it up.
#[derive(Component)]
pub(crate) struct Joined<T: Send + Sync + 'static>(pub(crate) T);

/// Moves `TaskResult<T>` from the finished task `from` to the waiting task `to`.
pub(crate) fn move_result<T: Send + Sync + 'static>(world: &mut World, from: Entity, to: Entity) {
    let Some(value) = world
        .get_entity_mut(from)
        .ok()
        .and_then(|mut e| e.take::<TaskResult<T>>())
    else {
        return;
    };
    if let Ok(mut e) = world.get_entity_mut(to) {
        e.insert(Joined(value.0));
    }
}
