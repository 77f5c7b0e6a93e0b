//! What a pending wait left at its source — a waiter entry, a timer, an observer, a join of
//! sub-waits — so that it can be cancelled when the wait ends any other way.

use alloc::{boxed::Box, sync::Arc};
use bevy_ecs::{entity::Entity, world::World};

use crate::{
    outcome::Failure,
    wait::{
        join::{Inner, Join, JoinMode},
        seam::Ticket,
        signal::Signal,
    },
};

/// Type-specific registration of a wait (messages, events, conditions).
pub(crate) type RegisterFn = Arc<dyn Fn(&mut World, Entity, Ticket) -> Registered + Send + Sync>;

/// The result of registering a wait.
pub(crate) enum Registered {
    /// Already resolved.
    Now(Result<(), Failure>),
    /// Pending; the registration says how to cancel it.
    Pending(Registration),
    /// It can never resolve (it would close a cycle of tasks waiting on each other): it fails
    /// whatever wraps it, even a [`settled`](crate::Wait::settled) wait, and a race only when
    /// every branch is refused.
    Refused(Failure),
}

/// What a pending wait left behind at its source, to be cancelled when the wait ends any other
/// way (the task finished, a race was lost, a timeout fired). The wait's ticket, kept beside it,
/// completes it: 16 bytes, as every task keeps one inline for its own wait.
#[derive(Default)]
pub(crate) enum Registration {
    /// Nothing to cancel.
    #[default]
    None,
    /// A waiter entry in a signal.
    Signal(Signal),
    /// A waiter entry in another task.
    Task(Entity),
    /// A task wait whose typed result moves to the waiter on success (in a box: few waits are,
    /// and inline it would make every registration 24 bytes).
    Take(Box<Take>),
    /// A frame or time timer.
    Timer(TimerKey),
    /// Removes `(task, ticket)` from a waiter list (messages, conditions).
    Remove(fn(&mut World, Entity, Ticket)),
    /// An observer entity to despawn.
    Observer(Entity),
    /// A script's foreign waker.
    Waker,
    /// A join of several waits.
    Join(Box<Join<Registration>>),
}

/// The task whose typed result a [`Registration::Take`] moves, and what moves it.
pub(crate) struct Take {
    pub(crate) from: Entity,
    pub(crate) take: fn(&mut World, Entity, Entity),
}

/// Where a timer sits, to cancel it: its deadline (a frame, or nanoseconds on its clock); the
/// wait's ticket completes the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimerKey {
    Frame(u64),
    Virtual(u64),
    Real(u64),
}

impl Inner for Registration {
    fn join(&mut self) -> Option<&mut Join<Registration>> {
        match self {
            Registration::Join(join) => Some(join),
            _ => None,
        }
    }

    fn is_race(&self) -> bool {
        matches!(self, Registration::Join(j) if j.mode == JoinMode::Race)
    }
}
