//! [`CooperateWorldExt`]: task, cooperator and signal operations on a [`World`], at once.

use bevy_ecs::{
    entity::Entity,
    error::{BevyError, ErrorContext, Severity},
    utils::prelude::DebugName,
    world::World,
};

use crate::{
    cooperator::Cooperator,
    error::TaskError,
    outcome::{Failure, Outcome},
    task::{CooperativeTask, lifecycle, resolve},
    wait::signal::{self, Signal},
    work::IntoWork,
};

#[cfg(doc)]
use crate::cooperator::GlobalCooperator;

use super::{NO_PLUGIN, global};

/// Task, cooperator and signal operations on a [`World`], each returning at once.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::{FinishKind, prelude::*};
/// # use bevy_ecs::prelude::*;
/// let mut app = App::new();
/// app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
/// let task = app.world_mut().cooperate((0..10).map(|_| ()));
/// app.world_mut().entity_mut(task).insert(RetainFinished);
/// app.update();
/// assert_eq!(app.world().task_steps(task), Ok(1));
///
/// // The pause menu opens: the task does no work until it is resumed.
/// let world = app.world_mut();
/// world.pause_task(task).unwrap();
/// app.update();
/// assert_eq!(app.world().task_steps(task), Ok(1));
/// let world = app.world_mut();
/// assert_eq!(world.resume_task(task), Ok(()));
/// assert_eq!(world.resume_task(task), Err(TaskError::NotPaused));
/// app.update();
/// assert_eq!(app.world().task_steps(task), Ok(2));
///
/// let world = app.world_mut();
/// world.stop_task(task).unwrap();
/// assert_eq!(world.task_outcome(task), Some(Outcome::Stopped));
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
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// #[derive(Resource, Default)]
    /// struct Baked(u32);
    ///
    /// let mut app = App::new();
    /// app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(5)))
    ///     .init_resource::<Baked>();
    /// // Bake 12 light probes, 5 a frame.
    /// let bake = app.world_mut().cooperate((0..12).map(|_probe| ()));
    /// app.world_mut().entity_mut(bake).observe(|_: On<TaskFinished>, mut baked: ResMut<Baked>| {
    ///     baked.0 += 1;
    /// });
    /// for _ in 0..3 {
    ///     app.update();
    /// }
    /// assert_eq!(app.world().resource::<Baked>().0, 1);
    /// ```
    fn cooperate<M>(&mut self, work: impl IntoWork<M>) -> Entity;
    /// [`cooperate`](Self::cooperate), or an error when there is no global cooperator (the
    /// plugin was not added, or the cooperator was despawned); nothing is spawned then.
    ///
    /// # Errors
    /// [`TaskError::NoSuchCooperator`] (with `Entity::PLACEHOLDER` when the plugin is missing).
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// // A tool that runs with or without the plugin.
    /// let mut world = World::new();
    /// assert_eq!(
    ///     world.try_cooperate((0..3).map(|_| ())),
    ///     Err(TaskError::NoSuchCooperator(Entity::PLACEHOLDER))
    /// );
    ///
    /// let mut app = App::new();
    /// app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// // 3 items, and the step that finds the end.
    /// let task = app.world_mut().try_cooperate((0..3).map(|_| ())).unwrap();
    /// app.update();
    /// assert!(app.world().get_entity(task).is_err()); // done and cleaned up
    /// ```
    fn try_cooperate<M>(&mut self, work: impl IntoWork<M>) -> Result<Entity, TaskError>;
    /// Spawns a task running `work` on `cooperator`. A stopped cooperator gives a task born
    /// finished with [`Outcome::SchedulerStopped`].
    ///
    /// # Errors
    /// [`TaskError::NoSuchCooperator`], and nothing is spawned.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
    /// // Pathfinding gets a cooperator of its own, with a bigger budget.
    /// let pathfinding = app.world_mut().spawn(Cooperator::new(Budget::Steps(8))).id();
    /// let search = app.world_mut().cooperate_on(pathfinding, std::iter::repeat(())).unwrap();
    /// app.update();
    /// assert_eq!(app.world().task_steps(search), Ok(8));
    ///
    /// let nobody = app.world_mut().spawn_empty().id();
    /// assert_eq!(
    ///     app.world_mut().cooperate_on(nobody, std::iter::repeat(())),
    ///     Err(TaskError::NoSuchCooperator(nobody))
    /// );
    /// ```
    fn cooperate_on<M>(
        &mut self,
        cooperator: Entity,
        work: impl IntoWork<M>,
    ) -> Result<Entity, TaskError>;
    /// Adds one pause. Pauses nest: each needs its own resume.
    ///
    /// # Errors
    /// [`TaskError::NoSuchTask`]; for a finished task the error for how it finished.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
    /// let music = app.world_mut().cooperate(std::iter::repeat(()));
    /// // The pause menu and a dialog both pause it: both must let go.
    /// app.world_mut().pause_task(music).unwrap();
    /// app.world_mut().pause_task(music).unwrap();
    /// app.world_mut().resume_task(music).unwrap();
    /// app.update();
    /// assert_eq!(app.world().task_steps(music), Ok(0));
    /// app.world_mut().resume_task(music).unwrap();
    /// app.update();
    /// assert_eq!(app.world().task_steps(music), Ok(1));
    /// ```
    fn pause_task(&mut self, task: Entity) -> Result<(), TaskError>;
    /// Removes one pause; at zero the task rejoins the back of the run queue. Does no work itself.
    ///
    /// # Errors
    /// [`TaskError::NotPaused`] without a matching pause (also for a finished task that is not
    /// paused); [`TaskError::NoSuchTask`].
    ///
    /// See [`pause_task`](Self::pause_task) for an example, and this for the refusal:
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
    /// let world = app.world_mut();
    /// let door = world.spawn_signal();
    /// let task = world.cooperate([Wait::signal(door)].into_iter());
    /// app.update();
    /// // A pending wait holds its own pause: `resume_task` cannot take it away.
    /// assert_eq!(app.world_mut().resume_task(task), Err(TaskError::NotPaused));
    /// assert!(app.world().get::<Paused>(task).is_some());
    /// ```
    fn resume_task(&mut self, task: Entity) -> Result<(), TaskError>;
    /// Stops a task: its work is dropped at once (after its step, when a task stops itself) and
    /// [`TaskFinished`](crate::TaskFinished) fires with [`Outcome::Stopped`] before this returns.
    ///
    /// # Errors
    /// [`TaskError::NoSuchTask`]; for a finished task the error for how it finished.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// #[derive(Resource, Default)]
    /// struct Skipped(bool);
    ///
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
    /// # app.init_resource::<Skipped>();
    /// let cutscene = app.world_mut().cooperate(std::iter::repeat(()));
    /// app.world_mut().entity_mut(cutscene).observe(
    ///     |done: On<TaskFinished>, mut skipped: ResMut<Skipped>| {
    ///         skipped.0 = done.outcome == Outcome::Stopped;
    ///     },
    /// );
    /// app.update();
    /// // The player skips the cutscene.
    /// app.world_mut().stop_task(cutscene).unwrap();
    /// assert!(app.world().resource::<Skipped>().0);
    /// app.update();
    /// assert!(app.world().get_entity(cutscene).is_err());
    /// ```
    fn stop_task(&mut self, task: Entity) -> Result<(), TaskError>;
    /// Stops a cooperator: all its tasks, paused ones too, finish with
    /// [`Outcome::SchedulerStopped`]; new tasks are born finished until it is started again.
    /// Stopping twice is harmless.
    ///
    /// # Errors
    /// [`TaskError::NoSuchCooperator`].
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
    /// let world = app.world_mut();
    /// let loading = world.spawn(Cooperator::new(Budget::Steps(4))).id();
    /// let chunks = world.cooperate_on(loading, std::iter::repeat(())).unwrap();
    /// world.entity_mut(chunks).insert(RetainFinished);
    /// app.update();
    /// // Back to the main menu: drop every load.
    /// app.world_mut().stop_cooperator(loading).unwrap();
    /// assert_eq!(app.world().task_outcome(chunks), Some(Outcome::SchedulerStopped));
    /// // New tasks are born finished until it is started again.
    /// let late = app.world_mut().cooperate_on(loading, std::iter::repeat(())).unwrap();
    /// app.world_mut().entity_mut(late).insert(RetainFinished);
    /// assert_eq!(app.world().task_outcome(late), Some(Outcome::SchedulerStopped));
    /// ```
    fn stop_cooperator(&mut self, cooperator: Entity) -> Result<(), TaskError>;
    /// Starts a cooperator made [`not_started`](Cooperator::not_started), or re-opens a
    /// stopped one. Idempotent.
    ///
    /// # Errors
    /// [`TaskError::NoSuchCooperator`].
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
    /// // Queue the level's tasks while the loading screen fades in; start them after.
    /// let world = app.world_mut();
    /// let level = world.spawn(Cooperator::new(Budget::Steps(2)).not_started()).id();
    /// let task = world.cooperate_on(level, std::iter::repeat(())).unwrap();
    /// app.update();
    /// assert_eq!(app.world().task_steps(task), Ok(0));
    /// app.world_mut().start_cooperator(level).unwrap();
    /// app.update();
    /// assert_eq!(app.world().task_steps(task), Ok(2));
    /// ```
    fn start_cooperator(&mut self, cooperator: Entity) -> Result<(), TaskError>;
    /// How a task ended, if it has and is still there to ask.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// let world = app.world_mut();
    /// let save = world.cooperate((0..3).map(|_| ()));
    /// world.entity_mut(save).insert(RetainFinished); // keep it to ask later
    /// assert_eq!(world.task_outcome(save), None);
    /// app.update();
    /// assert_eq!(app.world().task_outcome(save), Some(Outcome::Done));
    /// ```
    fn task_outcome(&self, task: Entity) -> Option<Outcome>;
    /// Work units `task` has run so far (all of them, once it has finished and while it is
    /// retained).
    ///
    /// # Errors
    /// [`TaskError::NoSuchTask`].
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(3)));
    /// let task = app.world_mut().cooperate((0..5).map(|_| ()));
    /// app.world_mut().entity_mut(task).insert(RetainFinished);
    /// app.update();
    /// assert_eq!(app.world().task_steps(task), Ok(3));
    /// app.update();
    /// // 5 items, and the step that found the end.
    /// assert_eq!(app.world().task_steps(task), Ok(6));
    /// ```
    fn task_steps(&self, task: Entity) -> Result<u64, TaskError>;
    /// Spawns a pending [`Signal`].
    ///
    /// See [`fire_signal`](Self::fire_signal) and [`fail_signal`](Self::fail_signal).
    fn spawn_signal(&mut self) -> Signal;
    /// Fires a signal: every task waiting on it resumes.
    ///
    /// # Errors
    /// [`TaskError::NoSuchSignal`], [`TaskError::SignalSettled`].
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// let world = app.world_mut();
    /// let door_opened = world.spawn_signal();
    /// // Two guards wait for the door, then walk through it.
    /// let guards = [(); 2].map(|()| {
    ///     world.cooperate([Step::Wait(Wait::signal(door_opened)), Step::Continue].into_iter())
    /// });
    /// app.update();
    /// assert!(guards.iter().all(|&g| app.world().get::<Paused>(g).is_some()));
    /// app.world_mut().fire_signal(door_opened).unwrap();
    /// assert!(guards.iter().all(|&g| app.world().get::<Paused>(g).is_none()));
    /// assert_eq!(
    ///     app.world_mut().fire_signal(door_opened),
    ///     Err(TaskError::SignalSettled(door_opened.entity()))
    /// );
    /// app.update();
    /// assert!(guards.iter().all(|&g| app.world().get_entity(g).is_err())); // done
    /// ```
    fn fire_signal(&mut self, signal: Signal) -> Result<(), TaskError>;
    /// Fails a signal: every task waiting on it fails with `error`.
    ///
    /// # Errors
    /// [`TaskError::NoSuchSignal`], [`TaskError::SignalSettled`].
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// let world = app.world_mut();
    /// let download = world.spawn_signal();
    /// let install = world.cooperate([Wait::signal(download)].into_iter());
    /// world.entity_mut(install).insert(RetainFinished);
    /// app.update();
    /// app.world_mut().fail_signal(download, "connection lost").unwrap();
    /// let outcome = app.world().task_outcome(install).unwrap();
    /// assert_eq!(outcome.failure().unwrap().to_string(), "connection lost");
    /// ```
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
            return Ok(t.finished_steps());
        }
        Ok(self
            .get::<Cooperator>(t.cooperator())
            .and_then(|c| c.queue.steps(t.slot(), task))
            .unwrap_or(t.finished_steps()))
    }

    fn spawn_signal(&mut self) -> Signal {
        signal::spawn(self)
    }

    fn fire_signal(&mut self, signal: Signal) -> Result<(), TaskError> {
        resolve::settle_signal(self, signal, Ok(()))
    }

    fn fail_signal(
        &mut self,
        signal: Signal,
        error: impl Into<BevyError>,
    ) -> Result<(), TaskError> {
        resolve::settle_signal(self, signal, Err(Failure::new(error)))
    }
}
