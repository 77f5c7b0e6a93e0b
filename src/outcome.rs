//! How a task ended: [`Outcome`], its [`Failure`], and the [`TaskFinished`] event.

use alloc::sync::Arc;
use bevy_ecs::{entity::Entity, error::BevyError, event::EntityEvent, message::Message};
use core::fmt;

use crate::error::{FinishKind, TaskError};

/// A task's error, shared by everyone who learns of it.
///
/// Twisted hands every waiter the same `Failure` object; here every observer, message reader and
/// waiting task receives a clone of the same `Arc`.
#[derive(Clone)]
pub struct Failure(Arc<BevyError>);

impl Failure {
    /// Wraps any error.
    pub fn new(error: impl Into<BevyError>) -> Self {
        Failure(Arc::new(error.into()))
    }

    /// A failure carrying only a message.
    pub fn msg(message: impl Into<alloc::string::String>) -> Self {
        Failure::new(MessageError(message.into()))
    }

    /// The underlying error.
    pub fn error(&self) -> &BevyError {
        &self.0
    }

    /// Looks for an error of type `E` in the failure (for example a [`TaskError`]).
    pub fn downcast_ref<E: core::error::Error + 'static>(&self) -> Option<&E> {
        self.0.downcast_ref::<E>()
    }

    /// Whether both are the very same failure (not merely equal text).
    pub fn ptr_eq(&self, other: &Failure) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Failure({self})")
    }
}

impl fmt::Display for Failure {
    /// The error's message (its first line: Bevy appends backtrace details after it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = alloc::format!("{}", self.0);
        f.write_str(text.lines().next().unwrap_or_default())
    }
}

impl core::error::Error for Failure {}

/// A plain error message, used for panics and [`Failure::msg`].
#[derive(Debug)]
struct MessageError(alloc::string::String);

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl core::error::Error for MessageError {}

/// How a task ended. Every task ends exactly once.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// The work ran to its end.
    Done,
    /// The work failed, panicked, or something it waited for failed.
    Failed(Failure),
    /// The task was stopped, or its entity or [`CooperativeTask`](crate::CooperativeTask) was removed.
    Stopped,
    /// Its cooperator was stopped or despawned, or it was added to a stopped one.
    SchedulerStopped,
}

impl Outcome {
    /// `true` for [`Outcome::Done`].
    pub fn is_done(&self) -> bool {
        matches!(self, Outcome::Done)
    }

    /// The failure, for [`Outcome::Failed`].
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Outcome::Failed(f) => Some(f),
            _ => None,
        }
    }

    /// The error that control operations report for a task that ended this way.
    pub fn error(&self) -> TaskError {
        match self {
            Outcome::Done => TaskError::AlreadyFinished(FinishKind::Done),
            Outcome::Failed(_) => TaskError::AlreadyFinished(FinishKind::Failed),
            Outcome::Stopped => TaskError::AlreadyFinished(FinishKind::Stopped),
            Outcome::SchedulerStopped => TaskError::SchedulerStopped,
        }
    }

    /// What a task that waited on a task ending this way receives: `Ok` for `Done`, otherwise
    /// the failure (a stop becomes a [`TaskError`] failure).
    pub(crate) fn as_wait_result(&self) -> Result<(), Failure> {
        match self {
            Outcome::Done => Ok(()),
            Outcome::Failed(f) => Err(f.clone()),
            other => Err(Failure::new(other.error())),
        }
    }
}

impl PartialEq for Outcome {
    /// Failures compare by identity ([`Failure::ptr_eq`]); the other kinds by kind.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Outcome::Failed(a), Outcome::Failed(b)) => a.ptr_eq(b),
            (a, b) => core::mem::discriminant(a) == core::mem::discriminant(b),
        }
    }
}

/// Fired exactly once per task when it ends, with its [`Outcome`].
///
/// It is both an [`EntityEvent`] aimed at the task entity (observe it on the task with
/// `.observe(..)`, or globally with `add_observer`) and a buffered [`Message`] for systems that
/// poll with `MessageReader<TaskFinished>`.
///
/// Observers run at the moment the task ends (inside a step, or inside the call that stopped it),
/// after the task has left its cooperator's run queue, so an observer may stop the cooperator or
/// start new tasks safely. An observer added after the task ended does not run; to learn the
/// outcome later, keep the task with [`RetainFinished`](crate::RetainFinished) and read
/// [`CooperativeTask::outcome`](crate::CooperativeTask::outcome), or read the message.
///
/// An observer that panics is reported through the world's fallback error handler (logged as an
/// error by default); the scheduler and whoever waits for the task carry on.
///
/// When the task entity itself was despawned the event still fires (global observers see it)
/// with [`Outcome::Stopped`].
#[derive(EntityEvent, Message, Clone, Debug)]
pub struct TaskFinished {
    /// The task entity.
    pub entity: Entity,
    /// How it ended.
    pub outcome: Outcome,
}
