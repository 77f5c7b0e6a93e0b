//! Errors: what the control API refuses ([`TaskError`]), and what a panicking step fails its
//! task with ([`TaskPanicked`]).

use alloc::string::String;
use bevy_ecs::entity::Entity;
use core::fmt;

/// How a task that is already over finished, as reported by [`TaskError::AlreadyFinished`].
///
/// These are Twisted's `TaskDone`, `TaskFailed` and `TaskStopped`. A task finished because its
/// cooperator stopped reports [`TaskError::SchedulerStopped`] instead, exactly as Twisted raises
/// `SchedulerStopped`, which is not a `TaskFinished`.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::{FinishKind, prelude::*};
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
/// let world = app.world_mut();
/// let intro = world.cooperate((0..2).map(|_| ()));
/// world.entity_mut(intro).insert(RetainFinished);
/// app.update();
/// // Too late to pause the intro: it is over.
/// assert_eq!(
///     app.world_mut().pause_task(intro),
///     Err(TaskError::AlreadyFinished(FinishKind::Done))
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "bevy_reflect", derive(bevy_reflect::Reflect))]
pub enum FinishKind {
    /// The work ran to its end ([`Outcome::Done`](crate::Outcome::Done)).
    Done,
    /// The work, or something it waited for, failed ([`Outcome::Failed`](crate::Outcome::Failed)).
    Failed,
    /// The task was stopped ([`Outcome::Stopped`](crate::Outcome::Stopped)).
    Stopped,
}

/// Why a task, cooperator or signal operation was refused.
///
/// Every refusal leaves the world as it was: nothing is lost or half-done.
/// The [`World`](bevy_ecs::world::World) methods of [`CooperateWorldExt`](crate::CooperateWorldExt)
/// return it directly; the [`Commands`](bevy_ecs::system::Commands) methods report it through
/// Bevy's error handling with [`Severity::Warning`](bevy_ecs::error::Severity::Warning), so a stale
/// handle logs a warning instead of crashing a game.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # use bevy_ecs::prelude::*;
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
/// let world = app.world_mut();
/// let global = world.resource::<GlobalCooperator>().0;
/// let quest = world.cooperate(std::iter::repeat(()));
/// world.entity_mut(quest).insert(RetainFinished);
/// app.update();
/// app.world_mut().stop_cooperator(global).unwrap();
/// // The quest was finished by its cooperator's stop.
/// let world = app.world_mut();
/// assert_eq!(world.stop_task(quest), Err(TaskError::SchedulerStopped));
/// // A stale handle: the entity is no task.
/// let rock = world.spawn_empty().id();
/// let refused = world.pause_task(rock).unwrap_err();
/// assert_eq!(refused, TaskError::NoSuchTask(rock));
/// assert_eq!(refused.to_string(), format!("entity {rock} is not a cooperative task"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskError {
    /// `resume` was called on a task whose pause count is already zero (Twisted's `NotPaused`).
    NotPaused,
    /// The task is already over; the kind says how it ended.
    AlreadyFinished(FinishKind),
    /// The task was finished because its cooperator stopped or was despawned.
    SchedulerStopped,
    /// The entity does not exist or holds no [`CooperativeTask`](crate::CooperativeTask).
    NoSuchTask(Entity),
    /// The entity does not exist or holds no [`Cooperator`](crate::Cooperator).
    NoSuchCooperator(Entity),
    /// The entity does not exist or is not a [`Signal`](crate::Signal).
    NoSuchSignal(Entity),
    /// The signal was already fired or failed; a signal settles once.
    SignalSettled(Entity),
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::NotPaused => f.write_str("the task is not paused"),
            TaskError::AlreadyFinished(FinishKind::Done) => {
                f.write_str("the task already finished")
            }
            TaskError::AlreadyFinished(FinishKind::Failed) => {
                f.write_str("the task already failed")
            }
            TaskError::AlreadyFinished(FinishKind::Stopped) => {
                f.write_str("the task was already stopped")
            }
            TaskError::SchedulerStopped => f.write_str("the task's cooperator was stopped"),
            TaskError::NoSuchTask(e) => write!(f, "entity {e} is not a cooperative task"),
            TaskError::NoSuchCooperator(e) => write!(f, "entity {e} is not a cooperator"),
            TaskError::NoSuchSignal(e) => write!(f, "entity {e} is not a signal"),
            TaskError::SignalSettled(e) => write!(f, "signal {e} was already fired or failed"),
        }
    }
}

impl core::error::Error for TaskError {}

/// The error a panicking step fails its task with.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::{TaskPanicked, prelude::*};
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
/// let world = app.world_mut();
/// let buggy = world.cooperate(from_fn(|_: &mut StepContext| -> Step {
///     panic!("navmesh missing")
/// }));
/// world.entity_mut(buggy).insert(RetainFinished);
/// app.update(); // the panic fails only this task
/// let outcome = app.world().task_outcome(buggy).unwrap();
/// let panicked = outcome.failure().unwrap().downcast_ref::<TaskPanicked>().unwrap();
/// assert_eq!(panicked.0, "navmesh missing");
/// ```
#[derive(Debug)]
pub struct TaskPanicked(pub String);

impl core::fmt::Display for TaskPanicked {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "task panicked: {}", self.0)
    }
}

impl core::error::Error for TaskPanicked {}

/// The text of a panic's payload.
pub(crate) fn panic_text(payload: &(dyn core::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        String::from(*s)
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        String::from("<non-string panic payload>")
    }
}

/// Locks `mutex`, also when a panic poisoned it: what it guards (waiter lists, a script's shared
/// state, a system) stays usable after the panicking step has failed its own task.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
