//! The seam between wait sources and tasks: a wait's identity, its [`Ticket`], and what a source
//! reports when a wait resolves, a [`Resolution`]. Knows nothing of tasks.

use alloc::vec::Vec;
use bevy_ecs::{entity::Entity, system::Commands};
use core::sync::atomic::{AtomicU64, Ordering};

use crate::outcome::Failure;

/// Identifies one wait of one task; stale resolutions carry an older ticket and are ignored.
pub(crate) type Ticket = u64;

/// Wait tickets, handed out once each (64 bits: they never wrap around).
static NEXT_TICKET: AtomicU64 = AtomicU64::new(0);

/// A fresh wait ticket, unique across tasks: a registration left behind by an earlier task on the
/// same entity (a signal or task it waited on) must never resolve a later wait.
pub(crate) fn new_ticket() -> Ticket {
    NEXT_TICKET.fetch_add(1, Ordering::Relaxed)
}

/// What a source reports: the wait `ticket` of `task` resolved with `result`.
#[derive(Clone, Debug)]
pub(crate) struct Resolution {
    pub(crate) task: Entity,
    pub(crate) ticket: Ticket,
    pub(crate) result: Result<(), Failure>,
}

impl Resolution {
    pub(crate) fn new(task: Entity, ticket: Ticket, result: Result<(), Failure>) -> Self {
        Resolution {
            task,
            ticket,
            result,
        }
    }
}

/// The command that applies what sources reported to the tasks waiting: a source returns what
/// resolved to its caller; only from inside a hook or an observer, where it cannot return
/// anything, does it queue this (its `apply` is the task part's: `task/resolve.rs`).
pub(crate) struct Resolve(pub(crate) Vec<Resolution>);

/// Applies `resolutions` at the next command flush (from a hook or an observer).
pub(crate) fn resolve_later(commands: &mut Commands, resolutions: Vec<Resolution>) {
    commands.queue(Resolve(resolutions));
}
