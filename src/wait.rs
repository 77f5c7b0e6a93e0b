//! What a paused task waits for: [`Wait`].

use alloc::collections::BinaryHeap;
use bevy_ecs::{entity::Entity, resource::Resource, world::World};
use core::cmp::Reverse;

use crate::{CooperativeTask, Failure, Signal, TaskError, lifecycle, signal};

/// Something a task waits for. Yield it from an iterator (or return [`Step::Wait`](crate::Step))
/// and the task pauses — carrying [`Paused`](crate::Paused), costing nothing — until the wait is
/// resolved, then rejoins the back of its cooperator's run queue.
///
/// A wait that fails (a failed signal, a failed or stopped task) fails the waiting task with the
/// same error. A wait that is already resolved when yielded resumes at once, at the back of the
/// queue (Twisted's already-fired Deferred).
#[derive(Debug, Clone)]
pub struct Wait(pub(crate) WaitKind);

#[derive(Debug, Clone)]
pub(crate) enum WaitKind {
    Signal(Signal),
    Task(Entity),
    Frames(u32),
}

impl Wait {
    /// Until the signal fires (or fails, failing the task).
    pub fn signal(signal: Signal) -> Self {
        Wait(WaitKind::Signal(signal))
    }

    /// Until another task finishes. `Done` resumes; any other outcome fails the waiting task
    /// (a failure is passed on as is; a stop becomes a [`TaskError`] failure).
    ///
    /// This is how `yield coiterate(...)` sequencing is written: start a task, wait for it.
    /// Waiting on an entity that is no task (or a finished one already cleaned up) fails.
    pub fn task(task: Entity) -> Self {
        Wait(WaitKind::Task(task))
    }

    /// For `n` frames: the task runs again `n` frames later. `frames(0)` only moves the task to the
    /// back of the run queue.
    pub fn frames(n: u32) -> Self {
        Wait(WaitKind::Frames(n))
    }

    /// Until the next frame: [`Wait::frames(1)`](Wait::frames).
    pub fn next_frame() -> Self {
        Wait::frames(1)
    }

    /// Registers `task` (wait `ticket`) with the wait's source. `Some` when already resolved.
    pub(crate) fn register(
        self,
        world: &mut World,
        task: Entity,
        ticket: u32,
    ) -> Option<Result<(), Failure>> {
        match self.0 {
            WaitKind::Signal(s) => signal::register(world, s, task, ticket),
            WaitKind::Task(other) => {
                if other == task {
                    return Some(Err(Failure::msg("a task cannot wait for itself")));
                }
                let Some(mut target) = world.get_mut::<CooperativeTask>(other) else {
                    return Some(Err(Failure::new(TaskError::NoSuchTask(other))));
                };
                match &target.outcome {
                    Some(outcome) => Some(outcome.as_wait_result()),
                    None => {
                        target.waiters.push((task, ticket));
                        None
                    }
                }
            }
            WaitKind::Frames(0) => Some(Ok(())),
            WaitKind::Frames(n) => {
                let mut timers = world.get_resource_or_init::<WaitTimers>();
                let due = timers.frame + u64::from(n);
                timers.frames.push(Reverse((due, task, ticket)));
                None
            }
        }
    }
}

/// Pending frame waits, by due frame.
#[derive(Resource, Default)]
pub(crate) struct WaitTimers {
    /// Frames counted by the wake system.
    pub(crate) frame: u64,
    frames: BinaryHeap<Reverse<(u64, Entity, u32)>>,
}

/// Counts the frame and resolves the frame waits now due.
pub(crate) fn wake_frames(world: &mut World) {
    let mut timers = world.resource_mut::<WaitTimers>();
    timers.frame += 1;
    let now = timers.frame;
    if timers
        .frames
        .peek()
        .is_none_or(|Reverse((due, ..))| *due > now)
    {
        return;
    }
    let mut due = alloc::vec::Vec::new();
    while let Some(Reverse((at, task, ticket))) = timers.frames.peek().copied() {
        if at > now {
            break;
        }
        timers.frames.pop();
        due.push((task, ticket));
    }
    for (task, ticket) in due {
        lifecycle::resolve(world, task, ticket, Ok(()));
    }
}
