//! How a task ended: [`Outcome`], its [`Failure`], and the [`TaskFinished`] event.

use alloc::sync::Arc;
use bevy_ecs::{entity::Entity, error::BevyError, event::EntityEvent, message::Message};
use core::fmt;

use crate::error::{FinishKind, TaskError};

/// A task's error, shared by everyone who learns of it.
///
/// Twisted hands every waiter the same `Failure` object; here every observer, message reader and
/// waiting task receives a clone of the same `Arc`.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
/// let world = app.world_mut();
/// let server = world.spawn_signal();
/// // Two tasks wait on the same server answer.
/// let [a, b] = [(); 2].map(|()| world.cooperate([Wait::signal(server)].into_iter()));
/// world.entity_mut(a).insert(RetainFinished);
/// world.entity_mut(b).insert(RetainFinished);
/// app.update();
/// app.world_mut().fail_signal(server, Failure::msg("timed out")).unwrap();
/// let fa = app.world().task_outcome(a).unwrap().failure().cloned().unwrap();
/// let fb = app.world().task_outcome(b).unwrap().failure().cloned().unwrap();
/// assert!(fa.ptr_eq(&fb)); // the very same failure
/// assert_eq!(fa.to_string(), "timed out");
/// ```
#[derive(Clone)]
pub struct Failure(Arc<BevyError>);

impl Failure {
    /// Wraps any error. A `Failure` passed on (a script's `wait(..).await?`, a step returning
    /// [`Step::Fail`](crate::Step::Fail) with it) is not wrapped again: it is the same failure,
    /// and [`downcast_ref`](Self::downcast_ref) still finds the error inside.
    ///
    /// ```
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::error::BevyError;
    /// let failure = Failure::new(std::io::Error::other("disk full"));
    /// assert!(failure.downcast_ref::<std::io::Error>().is_some());
    /// assert_eq!(failure.to_string(), "disk full");
    /// // Through a `BevyError` and back: the very same failure.
    /// let again = Failure::new(BevyError::from(failure.clone()));
    /// assert!(again.ptr_eq(&failure));
    /// assert!(again.downcast_ref::<std::io::Error>().is_some());
    /// ```
    pub fn new(error: impl Into<BevyError>) -> Self {
        let error = error.into();
        match error.downcast_ref::<Failure>() {
            Some(failure) => failure.clone(),
            None => Failure(Arc::new(error)),
        }
    }

    /// A failure carrying only a message (see the example on [`Failure`]).
    pub fn msg(message: impl Into<alloc::string::String>) -> Self {
        Failure::new(MessageError(message.into()))
    }

    /// The underlying error.
    ///
    /// ```
    /// # use bevy_cooperator::prelude::*;
    /// let failure = Failure::new(std::io::Error::other("save slot corrupt"));
    /// let error = failure.error(); // a `BevyError`, as systems return
    /// assert!(error.downcast_ref::<std::io::Error>().is_some());
    /// assert!(error.to_string().starts_with("save slot corrupt"));
    /// ```
    pub fn error(&self) -> &BevyError {
        &self.0
    }

    /// Looks for an error of type `E` in the failure (for example a [`TaskError`]).
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// let world = app.world_mut();
    /// let music = world.cooperate(std::iter::repeat(()));
    /// // The credits wait for the music, which is stopped.
    /// let credits = world.cooperate([Wait::task(music)].into_iter());
    /// world.entity_mut(credits).insert(RetainFinished);
    /// app.update();
    /// app.world_mut().stop_task(music).unwrap();
    /// let outcome = app.world().task_outcome(credits).unwrap();
    /// let why = outcome.failure().unwrap().downcast_ref::<TaskError>();
    /// assert!(matches!(why, Some(TaskError::AlreadyFinished(_))));
    /// ```
    pub fn downcast_ref<E: core::error::Error + 'static>(&self) -> Option<&E> {
        self.0.downcast_ref::<E>()
    }

    /// Whether both are the very same failure (not merely equal text).
    ///
    /// ```
    /// # use bevy_cooperator::prelude::*;
    /// let failure = Failure::msg("lost");
    /// assert!(failure.ptr_eq(&failure.clone()));
    /// assert!(!failure.ptr_eq(&Failure::msg("lost")));
    /// ```
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
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
/// let world = app.world_mut();
/// let done = world.cooperate((0..1).map(|_| ()));
/// let failed = world.cooperate([Err::<(), _>("no ammo")].into_iter());
/// let stopped = world.cooperate(std::iter::repeat(()));
/// for task in [done, failed, stopped] {
///     world.entity_mut(task).insert(RetainFinished);
/// }
/// app.update();
/// app.world_mut().stop_task(stopped).unwrap();
/// let world = app.world();
/// assert!(world.task_outcome(done).unwrap().is_done());
/// assert!(matches!(world.task_outcome(failed), Some(Outcome::Failed(_))));
/// assert_eq!(world.task_outcome(stopped), Some(Outcome::Stopped));
/// ```
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
    /// `true` for [`Outcome::Done`] (see the example on [`Outcome`]).
    pub fn is_done(&self) -> bool {
        matches!(self, Outcome::Done)
    }

    /// The failure, for [`Outcome::Failed`].
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// let world = app.world_mut();
    /// let reload = world.cooperate([Err::<(), _>("no ammo")].into_iter());
    /// world.entity_mut(reload).insert(RetainFinished);
    /// app.update();
    /// let outcome = app.world().task_outcome(reload).unwrap();
    /// assert_eq!(outcome.failure().unwrap().to_string(), "no ammo");
    /// assert!(Outcome::Done.failure().is_none());
    /// ```
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Outcome::Failed(f) => Some(f),
            _ => None,
        }
    }

    /// The error that control operations report for a task that ended this way.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::{FinishKind, prelude::*};
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// let world = app.world_mut();
    /// let task = world.cooperate((0..1).map(|_| ()));
    /// world.entity_mut(task).insert(RetainFinished);
    /// app.update();
    /// let outcome = app.world().task_outcome(task).unwrap();
    /// assert_eq!(outcome.error(), TaskError::AlreadyFinished(FinishKind::Done));
    /// assert_eq!(app.world_mut().stop_task(task), Err(outcome.error()));
    /// ```
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
///
/// ```
/// # use bevy_app::{App, Update};
/// # use bevy_cooperator::prelude::*;
/// # use bevy_ecs::prelude::*;
/// #[derive(Resource, Default)]
/// struct Log(Vec<&'static str>);
///
/// // A system polls the message; an observer on the task learns at once.
/// fn count_finished(mut finished: MessageReader<TaskFinished>, mut log: ResMut<Log>) {
///     for _ in finished.read() {
///         log.0.push("message");
///     }
/// }
///
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
/// app.init_resource::<Log>()
///     .add_systems(Update, count_finished.after(CooperatorSystems::Step));
/// let task = app.world_mut().cooperate((0..2).map(|_| ()));
/// app.world_mut()
///     .entity_mut(task)
///     .observe(|done: On<TaskFinished>, mut log: ResMut<Log>| {
///         assert!(done.outcome.is_done());
///         log.0.push("observer");
///     });
/// app.update();
/// assert_eq!(app.world().resource::<Log>().0, ["observer", "message"]);
/// ```
#[derive(EntityEvent, Message, Clone, Debug)]
pub struct TaskFinished {
    /// The task entity.
    pub entity: Entity,
    /// How it ended.
    pub outcome: Outcome,
}
