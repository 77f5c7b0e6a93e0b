//! The family: a task's children, started with [`StepContext::cooperate`] and owned by it, are
//! stopped when it finishes.

use alloc::{boxed::Box, vec::Vec};
use bevy_ecs::{entity::Entity, world::World};

use crate::{
    outcome::Outcome,
    task::{CooperativeTask, Lifecycle},
    work::{IntoWork, StepContext, Work},
};

/// A finished task leaves its parent's children and stops its own live children.
pub(crate) fn release_family(
    world: &mut World,
    entity: Entity,
    parent: Option<Entity>,
    children: Vec<Entity>,
) {
    if let Some(parent) = parent
        && let Some(mut p) = world.get_mut::<CooperativeTask>(parent)
        && let Some(family) = p.family_if_any()
        && let Some(i) = family.children.iter().position(|&c| c == entity)
    {
        family.children.swap_remove(i);
    }
    for child in children {
        if let Some(mut c) = world.get_mut::<CooperativeTask>(child) {
            if let Some(family) = c.family_if_any() {
                family.parent = None;
            }
            if c.is_alive() {
                world.finish_task(child, Outcome::Stopped);
            }
        }
    }
}

impl StepContext<'_> {
    /// Starts `work` as a **child** of this task, on the same cooperator, and returns its entity.
    ///
    /// The child is owned: if it is still running when this task finishes (done, failed, or
    /// stopped — a skipped cutscene), it is stopped too, and everything waiting on it is settled.
    /// Wait for it with [`Wait::task`](crate::Wait::task).
    pub fn cooperate<M>(&mut self, work: impl IntoWork<M>) -> Entity {
        let parent = self.task();
        spawn_child(self.world(), parent, work.into_boxed_work())
    }
}

/// Starts `work` as a child of `parent`, on the parent's cooperator: the parent owns it, and
/// stops it if it is still running when the parent finishes.
pub(crate) fn spawn_child(world: &mut World, parent: Entity, work: Box<dyn Work>) -> Entity {
    let cooperator = world
        .get::<CooperativeTask>(parent)
        .map_or(Entity::PLACEHOLDER, |t| t.cooperator);
    let child = world.spawn_empty().id();
    world.attach_task(child, cooperator, work, true);
    let alive = world
        .get::<CooperativeTask>(child)
        .is_some_and(CooperativeTask::is_alive);
    let parent_alive = world
        .get::<CooperativeTask>(parent)
        .is_some_and(CooperativeTask::is_alive);
    if alive && parent_alive {
        world
            .get_mut::<CooperativeTask>(child)
            .unwrap()
            .family_mut()
            .parent = Some(parent);
        world
            .get_mut::<CooperativeTask>(parent)
            .unwrap()
            .family_mut()
            .children
            .push(child);
    } else if alive {
        // The owner is already gone: the child goes with it.
        world.finish_task(child, Outcome::Stopped);
    }
    child
}
