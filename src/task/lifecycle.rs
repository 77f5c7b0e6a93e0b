//! Every change of a task's state: attach, pause, resume, stop, wait, resolve, finish, the family
//! (owned children), announce, a cooperator's stop and start — and the component hooks of
//! [`CooperativeTask`] and [`Paused`], which run these same transitions.
//!
//! Every wait kind, every control call and every despawn ends here, so the rules of the task
//! lifecycle live in one place.

use alloc::{boxed::Box, vec::Vec};
use bevy_ecs::{
    entity::Entity,
    error::{BevyError, ErrorContext, Severity},
    lifecycle::HookContext,
    message::Messages,
    resource::Resource,
    system::Command,
    utils::prelude::DebugName,
    world::{DeferredWorld, World},
};
use bevy_platform::cell::SyncCell;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::{
    cooperator::{Cooperator, FinishDrained},
    error::{TaskError, TaskPanicked, panic_text},
    outcome::{Failure, Outcome, TaskFinished},
    run_queue::{BoxedWork, Drained, NIL},
    task::{
        CooperativeTask, Paused, report,
        state::Queue,
        stats::TaskStats,
        waiting::{self, Deliver, Pending, Then},
    },
    wait::{
        Wait,
        join::{Inner, Offer},
        registration::{Registered, Registration},
        seam::{Resolution, Resolve, Ticket, new_ticket},
        signal::{self, Signal},
    },
    work::{IntoWork, StepContext, Work},
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
fn follow(
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

/// Adds one pause.
pub(crate) fn pause(world: &mut World, entity: Entity) -> Result<(), TaskError> {
    let mut task = world
        .get_mut::<CooperativeTask>(entity)
        .ok_or(TaskError::NoSuchTask(entity))?;
    let queue = task.state.add_pause()?;
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

/// A race's losing task stops.
pub(crate) fn stop_loser(world: &mut World, loser: Entity) {
    let _ = stop(world, loser);
}

/// Begins the task's own wait: one more pause until it resolves (see [`begin`]).
pub(crate) fn begin_wait(world: &mut World, entity: Entity, wait: Wait) {
    let _ = begin(world, entity, wait, Then::Resume);
}

/// Begins a wait of a live task, registered with its source; `then` says what its resolution
/// does. The task's own wait ([`Then::Resume`]) pauses the task until then; a wait a script
/// awaits ([`Then::Deliver`], any number at once) does not. Returns its ticket while it is
/// pending; `None` once resolved (at once) or if the task is not alive.
pub(crate) fn begin(world: &mut World, entity: Entity, wait: Wait, then: Then) -> Option<Ticket> {
    let mut task = world.get_mut::<CooperativeTask>(entity)?;
    if !task.is_alive() {
        return None;
    }
    let ticket = new_ticket();
    let deliver = match then {
        Then::Resume => {
            // Pending from now on: whatever finishes the task while it registers cancels it.
            task.waits.begin_own(ticket);
            let queue = task.state.begin_wait();
            let place = task.place();
            follow(&mut world.into(), entity, place, queue);
            None
        }
        Then::Deliver(deliver) => Some(deliver),
    };
    let mut winner = None;
    let registered = waiting::register(wait, world, entity, ticket, &mut winner);
    // A race settled while registering names its winner.
    if winner.is_some()
        && let Some(mut task) = world.get_mut::<CooperativeTask>(entity)
    {
        task.waits.winner = winner;
    }
    let result = match registered {
        Registered::Pending(registration) => {
            return keep(world, entity, ticket, registration, deliver);
        }
        Registered::Now(result) => result,
        Registered::Refused(failure) => Err(failure),
    };
    // Resolved as it began: the task's own wait goes the way every resolution goes; a script's
    // is delivered to its future, which is being polled (there is nothing to wake).
    match deliver {
        None => resolve(world, entity, ticket, result),
        Some(deliver) => deliver(world, result, winner),
    }
    None
}

/// Keeps what a pending wait left at its source in the task's list, or undoes it if the task
/// finished (or moved on) while registering. Its ticket, if it was kept.
fn keep(
    world: &mut World,
    entity: Entity,
    ticket: Ticket,
    registration: Registration,
    deliver: Option<Deliver>,
) -> Option<Ticket> {
    let sleeps = matches!(registration, Registration::Waker);
    let own = deliver.is_none();
    let left = match world.get_mut::<CooperativeTask>(entity) {
        Some(mut task) => match deliver {
            None => task.waits.register_own(ticket, registration),
            Some(deliver) if task.is_alive() => {
                task.waits
                    .push(ticket, registration, Then::Deliver(deliver));
                None
            }
            Some(_) => Some(registration),
        },
        None => Some(registration),
    };
    let kept = left.is_none();
    if let Some(registration) = left {
        waiting::cancel(world, entity, registration, false);
    }
    if own {
        sync_paused(world, entity);
        if sleeps {
            fail_script_cycle(world, entity);
        }
    }
    kept.then_some(ticket)
}

/// A script that falls asleep with every wait it awaits caught in a cycle of tasks waiting on
/// each other (a `join!` of task waits, the rest of which resolved) would never wake: its first
/// awaited wait fails with the [`WaitCycle`](waiting::WaitCycle).
fn fail_script_cycle(world: &mut World, entity: Entity) {
    let Some(cycle) = waiting::script_cycle(world, entity) else {
        return;
    };
    let first = world
        .get::<CooperativeTask>(entity)
        .and_then(|task| task.waits.awaited().first())
        .map(|awaited| awaited.ticket);
    if let Some(ticket) = first {
        resolve(world, entity, ticket, Err(Failure::new(cycle)));
    }
}

/// Settles a signal and resolves its waiters in registration order.
pub(crate) fn settle_signal(
    world: &mut World,
    signal: Signal,
    result: Result<(), Failure>,
) -> Result<(), TaskError> {
    let resolved = signal::settle(world, signal, result)?;
    resolve_all(world, resolved);
    Ok(())
}

/// What a hook or an observer of a wait source reported, applied at the next command flush.
impl Command for Resolve {
    type Out = ();
    fn apply(self, world: &mut World) {
        resolve_all(world, self.0);
    }
}

/// Applies what wait sources reported, in order.
pub(crate) fn resolve_all(world: &mut World, resolutions: Vec<Resolution>) {
    for Resolution {
        task,
        ticket,
        result,
    } in resolutions
    {
        resolve(world, task, ticket, result);
    }
}

/// Resolves the wait `ticket` of `entity` with `result`: the one path of every resolution. A
/// stale ticket (the task moved on, finished or is gone) is ignored.
pub(crate) fn resolve(
    world: &mut World,
    entity: Entity,
    ticket: Ticket,
    result: Result<(), Failure>,
) {
    settle(world, entity, ticket, result, None);
}

/// Finds the wait `ticket` among the task's pending waits, at the top or inside a join, and
/// applies its resolution once. A join is offered the resolution of one of its sub-waits, and
/// once it settles, it resolves (with its race's `winner`) through this same function.
fn settle(
    world: &mut World,
    entity: Entity,
    ticket: Ticket,
    result: Result<(), Failure>,
    winner: Option<u32>,
) {
    let Some(mut task) = world.get_mut::<CooperativeTask>(entity) else {
        return;
    };
    if let Some(pending) = task.waits.remove(ticket) {
        if winner.is_some() {
            task.waits.winner = winner;
        }
        apply(world, entity, pending, result, winner);
        return;
    }
    let mut result = Some(result);
    let mut ended = Vec::new();
    let mut settled = None;
    for pending in task.waits.iter_mut() {
        let Registration::Join(join) = &mut pending.registration else {
            continue;
        };
        match join.offer(ticket, &mut result, &mut ended) {
            Offer::NotMine => continue,
            Offer::Absorbed => {}
            Offer::Settled(result, winner) => settled = Some((pending.ticket, result, winner)),
        }
        break;
    }
    for (registration, stop_losers) in ended {
        waiting::cancel(world, entity, registration, stop_losers);
    }
    if let Some((ticket, result, winner)) = settled {
        settle(world, entity, ticket, result, winner);
    }
}

/// Applies a resolved wait. What it left at its source goes first (a lost race's tasks stop),
/// unless it is a joined task's typed result, which moves to the waiter before it hears of it.
/// Then the task's own wait gives back its pause (or fails the task), and a script's wait is
/// delivered to its future, and the script, if it sleeps on its waker, wakes.
fn apply(
    world: &mut World,
    entity: Entity,
    pending: Pending,
    result: Result<(), Failure>,
    winner: Option<u32>,
) {
    let left = match pending.registration {
        Registration::Take(from, take) if result.is_ok() => {
            take(world, from, entity);
            None
        }
        registration => Some(registration),
    };
    let release = |world: &mut World, left: Option<Registration>| {
        if let Some(registration) = left {
            let race = registration.is_race();
            waiting::cancel(world, entity, registration, race);
        }
    };
    match (pending.then, result) {
        (Then::Resume, Ok(())) => {
            end_wait(world, entity);
            release(world, left);
        }
        (Then::Resume, Err(failure)) => {
            release(world, left);
            finish(world, entity, Outcome::Failed(failure));
        }
        (Then::Deliver(deliver), result) => {
            release(world, left);
            deliver(world, result, winner);
            // A script sleeping on its waker has an answer to look at.
            let waker = world
                .get::<CooperativeTask>(entity)
                .and_then(|task| task.waits.own())
                .filter(|own| matches!(own.registration, Registration::Waker))
                .map(|own| own.ticket);
            if let Some(waker) = waker {
                settle(world, entity, waker, Ok(()), None);
            }
        }
    }
}

/// The task's own wait ended well: its pause goes.
fn end_wait(world: &mut World, entity: Entity) {
    if let Some(mut task) = world.get_mut::<CooperativeTask>(entity) {
        let queue = task.state.end_wait();
        let place = task.place();
        follow(&mut world.into(), entity, place, queue);
    }
    sync_paused(world, entity);
}

/// Cancels a wait a script awaits whose future was dropped (a `select!`'s loser): nothing of it
/// is left at its source.
pub(crate) fn cancel_awaited(world: &mut World, entity: Entity, ticket: Ticket) {
    let Some(mut task) = world.get_mut::<CooperativeTask>(entity) else {
        return;
    };
    if let Some(pending) = task.waits.remove(ticket) {
        waiting::cancel(world, entity, pending.registration, false);
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
    waits: Vec<Pending>,
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
    if task.state.finish(outcome.clone()) != Queue::Leave {
        return None;
    }
    let waits = task.waits.take();
    let children = core::mem::take(&mut task.children);
    let parent = task.parent;
    let slot = core::mem::replace(&mut task.slot, NIL);
    let cooperator = task.cooperator;
    let waiters = core::mem::take(&mut task.waiters);
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
        task.steps = steps;
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
        waiting::cancel(world, entity, pending.registration, false);
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
    let Ok(queue) = task.state.add_pause() else {
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

/// A finished task leaves its parent's children and stops its own live children.
pub(crate) fn release_family(
    world: &mut World,
    entity: Entity,
    parent: Option<Entity>,
    children: Vec<Entity>,
) {
    if let Some(parent) = parent
        && let Some(mut p) = world.get_mut::<CooperativeTask>(parent)
        && let Some(i) = p.children.iter().position(|&c| c == entity)
    {
        p.children.swap_remove(i);
    }
    for child in children {
        if let Some(mut c) = world.get_mut::<CooperativeTask>(child) {
            c.parent = None;
            if c.is_alive() {
                finish(world, child, Outcome::Stopped);
            }
        }
    }
}

impl StepContext<'_> {
    /// Starts `work` as a **child** of this task, on the same cooperator, and returns its entity.
    ///
    /// The child is owned: if it is still running when this task finishes (done, failed, or
    /// stopped — a skipped cutscene), it is stopped too, and everything waiting on it is settled.
    /// Wait for it with [`Wait::task`].
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
    attach(world, child, cooperator, work, true);
    let alive = world
        .get::<CooperativeTask>(child)
        .is_some_and(CooperativeTask::is_alive);
    let parent_alive = world
        .get::<CooperativeTask>(parent)
        .is_some_and(CooperativeTask::is_alive);
    if alive && parent_alive {
        world.get_mut::<CooperativeTask>(child).unwrap().parent = Some(parent);
        world
            .get_mut::<CooperativeTask>(parent)
            .unwrap()
            .children
            .push(child);
    } else if alive {
        // The owner is already gone: the child goes with it.
        finish(world, child, Outcome::Stopped);
    }
    child
}

/// Fires [`TaskFinished`] (observers, then the message) and settles the waiting tasks in order.
pub(crate) fn announce(
    world: &mut World,
    entity: Entity,
    _cooperator: Entity,
    outcome: Outcome,
    waiters: Vec<(Entity, Ticket)>,
) {
    let event = TaskFinished {
        entity,
        outcome: outcome.clone(),
    };
    if let Some(mut messages) = world.get_resource_mut::<Messages<TaskFinished>>() {
        messages.write(event.clone());
    }
    let unhandled = match &outcome {
        Outcome::Failed(failure) if !report::is_handled(world, entity, waiters.len()) => {
            Some(failure.clone())
        }
        _ => None,
    };
    // A panicking observer must not leave the waiters hanging or unwind through the scheduler:
    // it is reported through the world's error handler, like a failing observer.
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| world.trigger(event))) {
        report_observer_panic(world, payload);
    }
    if let Some(failure) = unhandled {
        report::report(world, entity, failure);
    }
    if waiters.is_empty() {
        return;
    }
    let result = outcome.as_wait_result();
    for (waiter, ticket) in waiters {
        resolve(world, waiter, ticket, result.clone());
    }
}

fn report_observer_panic(world: &mut World, payload: Box<dyn core::any::Any + Send>) {
    let message = panic_text(payload.as_ref());
    let error = BevyError::new(Severity::Error, TaskPanicked(message));
    let context = ErrorContext::Observer {
        name: DebugName::borrowed("TaskFinished observer"),
        last_run: world.change_tick(),
    };
    (world.fallback_error_handler())(error, context);
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
