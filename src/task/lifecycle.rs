//! The task's life: attach, pause and resume, stop and finish (in two halves, the first of which
//! the component's own hook runs too), a cooperator's stop and start, and the component hooks of
//! [`CooperativeTask`] and [`Paused`], which run these same transitions. Each change of the
//! task's state is a transition of [`State`](crate::task::state::State); here the run queue
//! [follows](follow) what it returns. Waits begin and resolve in `resolve.rs`.

use alloc::{boxed::Box, vec::Vec};
use bevy_ecs::{
    entity::Entity,
    lifecycle::HookContext,
    resource::Resource,
    system::Command,
    world::{DeferredWorld, World},
};
use bevy_platform::cell::SyncCell;

use crate::{
    cooperator::{Cooperator, FinishDrained},
    error::TaskError,
    outcome::Outcome,
    run_queue::{BoxedWork, Drained, NIL},
    task::{
        CooperativeTask, Lifecycle, Paused,
        announce::announce,
        family::release_family,
        follow::{follow, sync_paused},
        state::Queue,
        stats::TaskStats,
        waiting,
        waits::Taken,
    },
    wait::seam::Ticket,
    work::Work,
};

/// Tasks that finished since the last cleanup.
#[derive(Resource, Default)]
pub(crate) struct FinishedTasks(pub(crate) Vec<Entity>);

/// Makes `entity` a task of `cooperator`. A live task already there is stopped first.
/// On a stopped or missing cooperator the task is born finished with `SchedulerStopped`.
pub(crate) fn attach(
    world: &mut World,
    entity: Entity,
    cooperator: Entity,
    work: Box<dyn Work>,
    standalone: bool,
) {
    if world.get_entity(entity).is_err() {
        return;
    }
    if world
        .get::<CooperativeTask>(entity)
        .is_some_and(CooperativeTask::is_alive)
    {
        finish(world, entity, Outcome::Stopped);
    }
    let mut task = CooperativeTask::new(cooperator, standalone);
    let work = SyncCell::new(work);
    let timed = {
        let e = world.entity(entity);
        // An entity without components (a task's own, just spawned) cannot hold it.
        e.archetype().component_count() > 0 && e.contains::<TaskStats>()
    };
    let mut rejected = None;
    match world.get_mut::<Cooperator>(cooperator) {
        Some(mut coop) if !coop.is_stopped() => {
            let slot = coop.queue.insert(entity, Some(work), timed);
            coop.queue.link_back(slot);
            task.slot = slot;
        }
        _ => rejected = Some(work),
    }
    let open = rejected.is_none();
    world.entity_mut(entity).insert(task);
    // A user pause of the task it replaces must not leave `Paused` on the new one.
    sync_paused(world, entity);
    if !open {
        finish_with(
            world,
            entity,
            Outcome::SchedulerStopped,
            Some((rejected, 0)),
        );
    }
}

/// Adds one pause.
pub(crate) fn pause(world: &mut World, entity: Entity) -> Result<(), TaskError> {
    let mut task = world
        .get_mut::<CooperativeTask>(entity)
        .ok_or(TaskError::NoSuchTask(entity))?;
    let queue = task.add_pause()?;
    let place = task.place();
    follow(&mut world.into(), entity, place, queue);
    sync_paused(world, entity);
    Ok(())
}

/// Removes one pause; at zero a live task rejoins the back of the run queue.
pub(crate) fn resume(world: &mut World, entity: Entity) -> Result<(), TaskError> {
    let mut task = world
        .get_mut::<CooperativeTask>(entity)
        .ok_or(TaskError::NoSuchTask(entity))?;
    let queue = task.state.remove_pause()?;
    let place = task.place();
    follow(&mut world.into(), entity, place, queue);
    sync_paused(world, entity);
    Ok(())
}

/// Stops a live task.
pub(crate) fn stop(world: &mut World, entity: Entity) -> Result<(), TaskError> {
    let task = world
        .get::<CooperativeTask>(entity)
        .ok_or(TaskError::NoSuchTask(entity))?;
    if let Some(outcome) = task.outcome() {
        return Err(outcome.error());
    }
    finish(world, entity, Outcome::Stopped);
    Ok(())
}

impl Lifecycle for World {
    fn attach_task(
        &mut self,
        entity: Entity,
        cooperator: Entity,
        work: Box<dyn Work>,
        standalone: bool,
    ) {
        attach(self, entity, cooperator, work, standalone);
    }

    fn finish_task(&mut self, entity: Entity, outcome: Outcome) {
        finish(self, entity, outcome);
    }
}

/// Ends a live task: leaves the run queue, drops its work, cancels its wait, then tells everyone.
pub(crate) fn finish(world: &mut World, entity: Entity, outcome: Outcome) {
    finish_with(world, entity, outcome, None);
}

/// [`finish`], for a task that is no longer in its run queue: `left` holds its work and step
/// count (taken out by a drained queue, or the work never went in), so that the work is dropped
/// at the same point.
pub(crate) fn finish_with(
    world: &mut World,
    entity: Entity,
    outcome: Outcome,
    left: Option<(Option<BoxedWork>, u64)>,
) {
    let Some(ending) = end(&mut world.into(), entity, outcome, left) else {
        return;
    };
    sync_paused(world, entity);
    if let Some(mut finished) = world.get_resource_mut::<FinishedTasks>() {
        finished.0.push(entity);
    }
    settle_ending(world, entity, ending);
}

/// What finishing a task leaves to do once its own state has changed.
pub(crate) struct Ending {
    cooperator: Entity,
    outcome: Outcome,
    waits: Taken,
    parent: Option<Entity>,
    children: Vec<Entity>,
    waiters: Vec<(Entity, Ticket)>,
    work: Option<BoxedWork>,
}

/// The first half of finishing a live task, which touches only its component and its run queue
/// (so the component's own hook runs it too): the outcome is set, a pending wait's pause goes,
/// the task leaves its run queue and is counted as finished. `None` for a task that has already
/// finished.
fn end(
    world: &mut DeferredWorld,
    entity: Entity,
    outcome: Outcome,
    left: Option<(Option<BoxedWork>, u64)>,
) -> Option<Ending> {
    let mut task = world.get_mut::<CooperativeTask>(entity)?;
    if task.finish(outcome.clone()) != Queue::Leave {
        return None;
    }
    let waits = task.take_waits();
    let family = task
        .family_if_any()
        .map(core::mem::take)
        .unwrap_or_default();
    let (parent, children, waiters) = (family.parent, family.children, family.waiters);
    let slot = core::mem::replace(&mut task.slot, NIL);
    let cooperator = task.cooperator;
    let (mut work, mut steps) = left.unwrap_or((None, 0));
    if let Some(mut c) = world.get_mut::<Cooperator>(cooperator) {
        if slot != NIL && c.queue.holds(slot, entity) {
            // `None` while the step loop holds it: the loop drops it on finding the node gone.
            let (queued, counted) = c.queue.remove(slot);
            (work, steps) = (queued.or(work.take()), counted);
        }
        c.stats.finished += 1;
    }
    if let Some(mut task) = world.get_mut::<CooperativeTask>(entity) {
        task.rest_mut().steps = steps;
    }
    Some(Ending {
        cooperator,
        outcome,
        waits,
        parent,
        children,
        waiters,
        work,
    })
}

/// The second half of finishing, which needs the whole world. Cleanup first: the work goes (a
/// script's state with it), the pending wait is cancelled at its source, the tasks it owns are
/// stopped; then everyone waiting on it is told.
fn settle_ending(world: &mut World, entity: Entity, ending: Ending) {
    drop(ending.work);
    for pending in ending.waits {
        waiting::cancel(world, entity, pending.ticket, pending.registration, false);
    }
    release_family(world, entity, ending.parent, ending.children);
    announce(
        world,
        entity,
        ending.cooperator,
        ending.outcome,
        ending.waiters,
    );
}

/// Removing the component or despawning the entity stops a live task: its work goes at once,
/// the rest at the next command flush.
pub(crate) fn on_task_remove(mut world: DeferredWorld, ctx: HookContext) {
    let entity = ctx.entity;
    if let Some(ending) = end(&mut world, entity, Outcome::Stopped, None) {
        world
            .commands()
            .queue(move |world: &mut World| settle_ending(world, entity, ending));
    }
}

/// A hand-inserted [`Paused`] counts as one pause; on a finished task it is undone.
pub(crate) fn on_paused_insert(mut world: DeferredWorld, ctx: HookContext) {
    let entity = ctx.entity;
    let Some(mut task) = world.get_mut::<CooperativeTask>(entity) else {
        return;
    };
    if task.pause_count() > 0 {
        return;
    }
    let Ok(queue) = task.add_pause() else {
        // A finished task cannot be paused: the marker would claim a pause that does not exist.
        world.commands().entity(entity).try_remove::<Paused>();
        return;
    };
    let place = task.place();
    follow(&mut world, entity, place, queue);
}

/// A hand-removed [`Paused`] clears the user pauses (a pending wait's pause stays, and so does
/// the marker).
pub(crate) fn on_paused_remove(mut world: DeferredWorld, ctx: HookContext) {
    let entity = ctx.entity;
    let Some(mut task) = world.get_mut::<CooperativeTask>(entity) else {
        return;
    };
    if task.pause_count() == 0 {
        return;
    }
    let queue = task.state.clear_pauses();
    let place = task.place();
    if task.is_waiting() {
        // Still waiting: the marker must come back.
        world.commands().entity(entity).try_insert(Paused);
    }
    follow(&mut world, entity, place, queue);
}

/// Stops a cooperator: every task it holds, paused or not, finishes with `SchedulerStopped`.
pub(crate) fn stop_cooperator(world: &mut World, cooperator: Entity) -> Result<(), TaskError> {
    let mut coop = world
        .get_mut::<Cooperator>(cooperator)
        .ok_or(TaskError::NoSuchCooperator(cooperator))?;
    coop.set_stopped();
    // In run order, then the paused tasks in the order they joined.
    let tasks = coop.queue.drain();
    finish_drained(world, tasks);
    Ok(())
}

/// A despawned cooperator's tasks finish.
impl Command for FinishDrained {
    type Out = ();
    fn apply(self, world: &mut World) {
        finish_drained(world, self.0);
    }
}

/// Finishes the tasks of a drained queue (a stopped or despawned cooperator), in order, with
/// `SchedulerStopped`.
fn finish_drained(world: &mut World, tasks: Vec<Drained>) {
    for (task, work, steps) in tasks {
        finish_with(world, task, Outcome::SchedulerStopped, Some((work, steps)));
    }
}

/// Starts (or re-opens) a cooperator.
pub(crate) fn start_cooperator(world: &mut World, cooperator: Entity) -> Result<(), TaskError> {
    let mut coop = world
        .get_mut::<Cooperator>(cooperator)
        .ok_or(TaskError::NoSuchCooperator(cooperator))?;
    coop.set_started();
    Ok(())
}
