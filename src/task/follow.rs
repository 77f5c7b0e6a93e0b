//! The world follows a transition of a task's state (see `state.rs`): the run queue
//! ([`follow`]) and the [`Paused`] marker ([`sync_paused`]).

use bevy_ecs::{
    entity::Entity,
    world::{DeferredWorld, World},
};

use crate::{
    cooperator::Cooperator,
    task::{CooperativeTask, Paused, state::Queue},
};

/// Inserts or removes [`Paused`] to match the pause count.
pub(crate) fn sync_paused(world: &mut World, entity: Entity) {
    let Ok(mut e) = world.get_entity_mut(entity) else {
        return;
    };
    let Some(count) = e.get::<CooperativeTask>().map(CooperativeTask::pause_count) else {
        return;
    };
    let has = e.contains::<Paused>();
    if count > 0 && !has {
        e.insert(Paused);
    } else if count == 0 && has {
        e.remove::<Paused>();
    }
}

/// Does to the run queue what a transition of the task's state asks (`place`: its cooperator and
/// its node there): takes the task off its runnable list (it stays a member) or puts it back at
/// the end. A task that left its queue is left alone.
pub(crate) fn follow(
    world: &mut DeferredWorld,
    entity: Entity,
    (cooperator, slot): (Entity, u32),
    queue: Queue,
) {
    let link = match queue {
        Queue::TakeOff => false,
        Queue::PutBack => true,
        Queue::Stay | Queue::Leave => return,
    };
    if let Some(mut c) = world.get_mut::<Cooperator>(cooperator)
        && c.queue.holds(slot, entity)
    {
        if link {
            c.queue.link_back(slot);
        } else {
            c.queue.unlink(slot);
        }
    }
}
