//! Extension traits: start and control tasks from [`World`], [`Commands`] and entities.

use bevy_ecs::{
    entity::Entity,
    error::{BevyError, ErrorContext, Severity},
    system::{Commands, EntityCommands},
    utils::prelude::DebugName,
    world::{EntityWorldMut, World},
};

use crate::{
    cooperator::{Cooperator, GlobalCooperator},
    error::TaskError,
    outcome::{Failure, Outcome},
    task::{CooperativeTask, lifecycle},
    wait::signal::{self, Signal},
    work::{IntoWork, Work},
};

fn global(world: &World) -> Option<Entity> {
    world.get_resource::<GlobalCooperator>().map(|g| g.0)
}

const NO_PLUGIN: &str =
    "no GlobalCooperator resource: add CooperatorPlugin to the app before cooperating";

/// Task, cooperator and signal operations on a [`World`], each returning at once.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::{FinishKind, prelude::*};
/// # use bevy_ecs::prelude::*;
/// let mut app = App::new();
/// app.add_plugins(CooperatorPlugin::default());
/// let world = app.world_mut();
/// let task = world.cooperate((0..3).map(|_| ()));
/// world.pause_task(task).unwrap();
/// assert_eq!(world.resume_task(task), Ok(()));
/// assert_eq!(world.resume_task(task), Err(TaskError::NotPaused));
/// world.stop_task(task).unwrap();
/// assert_eq!(
///     world.stop_task(task),
///     Err(TaskError::AlreadyFinished(FinishKind::Stopped))
/// );
/// ```
pub trait CooperateWorldExt {
    /// Spawns a task running `work` on the [`GlobalCooperator`] (Twisted's `cooperate`).
    ///
    /// If the global cooperator was despawned, the task is born finished with
    /// [`Outcome::SchedulerStopped`] and the mistake is reported through the world's error
    /// handler; [`try_cooperate`](Self::try_cooperate) returns it as an error instead.
    ///
    /// # Panics
    /// If [`CooperatorPlugin`](crate::CooperatorPlugin) was not added.
    fn cooperate<M>(&mut self, work: impl IntoWork<M>) -> Entity;
    /// [`cooperate`](Self::cooperate), or an error when there is no global cooperator (the
    /// plugin was not added, or the cooperator was despawned); nothing is spawned then.
    ///
    /// # Errors
    /// [`TaskError::NoSuchCooperator`] (with `Entity::PLACEHOLDER` when the plugin is missing).
    fn try_cooperate<M>(&mut self, work: impl IntoWork<M>) -> Result<Entity, TaskError>;
    /// Spawns a task running `work` on `cooperator`. A stopped cooperator gives a task born
    /// finished with [`Outcome::SchedulerStopped`].
    ///
    /// # Errors
    /// [`TaskError::NoSuchCooperator`], and nothing is spawned.
    fn cooperate_on<M>(
        &mut self,
        cooperator: Entity,
        work: impl IntoWork<M>,
    ) -> Result<Entity, TaskError>;
    /// Adds one pause. Pauses nest: each needs its own resume.
    ///
    /// # Errors
    /// [`TaskError::NoSuchTask`]; for a finished task the error for how it finished.
    fn pause_task(&mut self, task: Entity) -> Result<(), TaskError>;
    /// Removes one pause; at zero the task rejoins the back of the run queue. Does no work itself.
    ///
    /// # Errors
    /// [`TaskError::NotPaused`] without a matching pause (also for a finished task that is not
    /// paused); [`TaskError::NoSuchTask`].
    fn resume_task(&mut self, task: Entity) -> Result<(), TaskError>;
    /// Stops a task: its work is dropped at once (after its step, when a task stops itself) and
    /// [`TaskFinished`](crate::TaskFinished) fires with [`Outcome::Stopped`] before this returns.
    ///
    /// # Errors
    /// [`TaskError::NoSuchTask`]; for a finished task the error for how it finished.
    fn stop_task(&mut self, task: Entity) -> Result<(), TaskError>;
    /// Stops a cooperator: all its tasks, paused ones too, finish with
    /// [`Outcome::SchedulerStopped`]; new tasks are born finished until it is started again.
    /// Stopping twice is harmless.
    ///
    /// # Errors
    /// [`TaskError::NoSuchCooperator`].
    fn stop_cooperator(&mut self, cooperator: Entity) -> Result<(), TaskError>;
    /// Starts a cooperator made [`not_started`](Cooperator::not_started), or re-opens a
    /// stopped one. Idempotent.
    ///
    /// # Errors
    /// [`TaskError::NoSuchCooperator`].
    fn start_cooperator(&mut self, cooperator: Entity) -> Result<(), TaskError>;
    /// How a task ended, if it has and is still there to ask.
    fn task_outcome(&self, task: Entity) -> Option<Outcome>;
    /// Work units `task` has run so far (all of them, once it has finished and while it is
    /// retained).
    ///
    /// # Errors
    /// [`TaskError::NoSuchTask`].
    fn task_steps(&self, task: Entity) -> Result<u64, TaskError>;
    /// Spawns a pending [`Signal`].
    fn spawn_signal(&mut self) -> Signal;
    /// Fires a signal: every task waiting on it resumes.
    ///
    /// # Errors
    /// [`TaskError::NoSuchSignal`], [`TaskError::SignalSettled`].
    fn fire_signal(&mut self, signal: Signal) -> Result<(), TaskError>;
    /// Fails a signal: every task waiting on it fails with `error`.
    ///
    /// # Errors
    /// [`TaskError::NoSuchSignal`], [`TaskError::SignalSettled`].
    fn fail_signal(&mut self, signal: Signal, error: impl Into<BevyError>)
    -> Result<(), TaskError>;
}

impl CooperateWorldExt for World {
    fn cooperate<M>(&mut self, work: impl IntoWork<M>) -> Entity {
        let coop = global(self).expect(NO_PLUGIN);
        if self.get::<Cooperator>(coop).is_none() {
            let error = BevyError::new(Severity::Error, TaskError::NoSuchCooperator(coop));
            let context = ErrorContext::Command {
                name: DebugName::borrowed("cooperate: the GlobalCooperator was despawned"),
            };
            (self.fallback_error_handler())(error, context);
        }
        let entity = self.spawn_empty().id();
        lifecycle::attach(self, entity, coop, work.into_boxed_work(), true);
        entity
    }

    fn try_cooperate<M>(&mut self, work: impl IntoWork<M>) -> Result<Entity, TaskError> {
        let coop = global(self).ok_or(TaskError::NoSuchCooperator(Entity::PLACEHOLDER))?;
        self.cooperate_on(coop, work)
    }

    fn cooperate_on<M>(
        &mut self,
        cooperator: Entity,
        work: impl IntoWork<M>,
    ) -> Result<Entity, TaskError> {
        if self.get::<Cooperator>(cooperator).is_none() {
            return Err(TaskError::NoSuchCooperator(cooperator));
        }
        let entity = self.spawn_empty().id();
        lifecycle::attach(self, entity, cooperator, work.into_boxed_work(), true);
        Ok(entity)
    }

    fn pause_task(&mut self, task: Entity) -> Result<(), TaskError> {
        lifecycle::pause(self, task)
    }

    fn resume_task(&mut self, task: Entity) -> Result<(), TaskError> {
        lifecycle::resume(self, task)
    }

    fn stop_task(&mut self, task: Entity) -> Result<(), TaskError> {
        lifecycle::stop(self, task)
    }

    fn stop_cooperator(&mut self, cooperator: Entity) -> Result<(), TaskError> {
        lifecycle::stop_cooperator(self, cooperator)
    }

    fn start_cooperator(&mut self, cooperator: Entity) -> Result<(), TaskError> {
        lifecycle::start_cooperator(self, cooperator)
    }

    fn task_outcome(&self, task: Entity) -> Option<Outcome> {
        self.get::<CooperativeTask>(task)?.outcome().cloned()
    }

    fn task_steps(&self, task: Entity) -> Result<u64, TaskError> {
        let t = self
            .get::<CooperativeTask>(task)
            .ok_or(TaskError::NoSuchTask(task))?;
        if !t.is_alive() {
            return Ok(t.steps);
        }
        Ok(self
            .get::<Cooperator>(t.cooperator)
            .and_then(|c| c.queue.steps(t.slot, task))
            .unwrap_or(t.steps))
    }

    fn spawn_signal(&mut self) -> Signal {
        signal::spawn(self)
    }

    fn fire_signal(&mut self, signal: Signal) -> Result<(), TaskError> {
        lifecycle::settle_signal(self, signal, Ok(()))
    }

    fn fail_signal(
        &mut self,
        signal: Signal,
        error: impl Into<BevyError>,
    ) -> Result<(), TaskError> {
        lifecycle::settle_signal(self, signal, Err(Failure::new(error)))
    }
}

/// Reports a refused operation through Bevy's error handling as a warning.
fn warn(result: Result<(), TaskError>) -> Result<(), BevyError> {
    result.map_err(|e| BevyError::new(Severity::Warning, e))
}

/// Task, cooperator and signal operations as [`Commands`], applied at the next command flush.
///
/// A refused operation (a stale handle, a finished task) is reported through Bevy's error handler
/// with [`Severity::Warning`]: it logs and does not crash the game.
pub trait CooperateCommandsExt {
    /// Spawns a task running `work` on the [`GlobalCooperator`] (Twisted's `cooperate`). Chain
    /// `.observe(|ev: On<TaskFinished>| ..)` to learn when it ends (Twisted's `coiterate`).
    fn cooperate<M>(&mut self, work: impl IntoWork<M>) -> EntityCommands<'_>;
    /// Spawns a task running `work` on `cooperator`. A missing or stopped cooperator gives a task
    /// born finished with [`Outcome::SchedulerStopped`] (a missing one also logs a warning).
    fn cooperate_on<M>(&mut self, cooperator: Entity, work: impl IntoWork<M>)
    -> EntityCommands<'_>;
    /// See [`CooperateWorldExt::pause_task`].
    fn pause_task(&mut self, task: Entity);
    /// See [`CooperateWorldExt::resume_task`].
    fn resume_task(&mut self, task: Entity);
    /// See [`CooperateWorldExt::stop_task`].
    fn stop_task(&mut self, task: Entity);
    /// See [`CooperateWorldExt::stop_cooperator`].
    fn stop_cooperator(&mut self, cooperator: Entity);
    /// See [`CooperateWorldExt::start_cooperator`].
    fn start_cooperator(&mut self, cooperator: Entity);
    /// Spawns a pending [`Signal`] (usable at once as a handle).
    fn spawn_signal(&mut self) -> Signal;
    /// See [`CooperateWorldExt::fire_signal`].
    fn fire_signal(&mut self, signal: Signal);
    /// See [`CooperateWorldExt::fail_signal`].
    fn fail_signal(&mut self, signal: Signal, error: impl Into<BevyError>);
}

/// Attaches work to `entity` when applied. A plain [`Command`](bevy_ecs::system::Command) (not an
/// entity command) so the error keeps its severity.
fn attach_command(
    entity: Entity,
    cooperator: Option<Entity>,
    work: alloc::boxed::Box<dyn Work>,
    standalone: bool,
) -> impl FnOnce(&mut World) -> Result<(), BevyError> + Send + 'static {
    move |world: &mut World| {
        if world.get_entity(entity).is_err() {
            return Err(BevyError::new(
                Severity::Warning,
                TaskError::NoSuchTask(entity),
            ));
        }
        let coop = cooperator.or_else(|| global(world));
        let exists = coop.is_some_and(|c| world.get::<Cooperator>(c).is_some());
        lifecycle::attach(
            world,
            entity,
            coop.unwrap_or(Entity::PLACEHOLDER),
            work,
            standalone,
        );
        match (coop, exists) {
            (_, true) => Ok(()),
            (None, _) => Err(BevyError::new(Severity::Error, Failure::msg(NO_PLUGIN))),
            (Some(c), false) => Err(BevyError::new(
                Severity::Warning,
                TaskError::NoSuchCooperator(c),
            )),
        }
    }
}

impl CooperateCommandsExt for Commands<'_, '_> {
    fn cooperate<M>(&mut self, work: impl IntoWork<M>) -> EntityCommands<'_> {
        let entity = self.spawn_empty().id();
        self.queue(attach_command(entity, None, work.into_boxed_work(), true));
        self.entity(entity)
    }

    fn cooperate_on<M>(
        &mut self,
        cooperator: Entity,
        work: impl IntoWork<M>,
    ) -> EntityCommands<'_> {
        let entity = self.spawn_empty().id();
        self.queue(attach_command(
            entity,
            Some(cooperator),
            work.into_boxed_work(),
            true,
        ));
        self.entity(entity)
    }

    fn pause_task(&mut self, task: Entity) {
        self.queue(move |world: &mut World| warn(lifecycle::pause(world, task)));
    }

    fn resume_task(&mut self, task: Entity) {
        self.queue(move |world: &mut World| warn(lifecycle::resume(world, task)));
    }

    fn stop_task(&mut self, task: Entity) {
        self.queue(move |world: &mut World| warn(lifecycle::stop(world, task)));
    }

    fn stop_cooperator(&mut self, cooperator: Entity) {
        self.queue(move |world: &mut World| warn(lifecycle::stop_cooperator(world, cooperator)));
    }

    fn start_cooperator(&mut self, cooperator: Entity) {
        self.queue(move |world: &mut World| warn(lifecycle::start_cooperator(world, cooperator)));
    }

    fn spawn_signal(&mut self) -> Signal {
        Signal(self.spawn(signal::new_state()).id())
    }

    fn fire_signal(&mut self, signal: Signal) {
        self.queue(move |world: &mut World| warn(lifecycle::settle_signal(world, signal, Ok(()))));
    }

    fn fail_signal(&mut self, signal: Signal, error: impl Into<BevyError>) {
        let failure = Failure::new(error);
        self.queue(move |world: &mut World| {
            warn(lifecycle::settle_signal(world, signal, Err(failure)))
        });
    }
}

/// Attach a task to an existing entity (for example an actor running its script) with
/// [`EntityCommands`]. When the task ends its [`CooperativeTask`] is removed; the entity stays.
pub trait CooperateEntityCommandsExt {
    /// Attaches `work` as a task on the [`GlobalCooperator`]. A live task already on the entity is
    /// stopped first.
    fn cooperate<M>(&mut self, work: impl IntoWork<M>) -> &mut Self;
    /// Attaches `work` as a task on `cooperator`.
    fn cooperate_on<M>(&mut self, cooperator: Entity, work: impl IntoWork<M>) -> &mut Self;
}

impl CooperateEntityCommandsExt for EntityCommands<'_> {
    fn cooperate<M>(&mut self, work: impl IntoWork<M>) -> &mut Self {
        let entity = self.id();
        self.commands()
            .queue(attach_command(entity, None, work.into_boxed_work(), false));
        self
    }

    fn cooperate_on<M>(&mut self, cooperator: Entity, work: impl IntoWork<M>) -> &mut Self {
        let entity = self.id();
        self.commands().queue(attach_command(
            entity,
            Some(cooperator),
            work.into_boxed_work(),
            false,
        ));
        self
    }
}

/// Attach a task to an existing entity with [`EntityWorldMut`], at once.
pub trait CooperateEntityWorldExt {
    /// Attaches `work` as a task on the [`GlobalCooperator`]. A live task already on the entity is
    /// stopped first.
    ///
    /// # Panics
    /// If [`CooperatorPlugin`](crate::CooperatorPlugin) was not added.
    fn cooperate<M>(&mut self, work: impl IntoWork<M>) -> &mut Self;
    /// Attaches `work` as a task on `cooperator`. A missing or stopped cooperator gives a task born
    /// finished with [`Outcome::SchedulerStopped`].
    fn cooperate_on<M>(&mut self, cooperator: Entity, work: impl IntoWork<M>) -> &mut Self;
}

impl CooperateEntityWorldExt for EntityWorldMut<'_> {
    fn cooperate<M>(&mut self, work: impl IntoWork<M>) -> &mut Self {
        let coop = self.world_scope(|world| global(world)).expect(NO_PLUGIN);
        self.cooperate_on(coop, work)
    }

    fn cooperate_on<M>(&mut self, cooperator: Entity, work: impl IntoWork<M>) -> &mut Self {
        let id = self.id();
        let work = work.into_boxed_work();
        self.world_scope(|world| lifecycle::attach(world, id, cooperator, work, false));
        self
    }
}
