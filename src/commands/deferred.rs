//! [`CooperateCommandsExt`]: task, cooperator and signal operations as [`Commands`].

use bevy_ecs::{
    entity::Entity,
    error::{BevyError, Severity},
    system::{Commands, EntityCommands},
    world::World,
};

use crate::{
    cooperator::Cooperator,
    error::TaskError,
    outcome::Failure,
    task::{lifecycle, resolve},
    wait::signal::{self, Signal},
    work::{IntoWork, Work},
};

#[cfg(doc)]
use crate::{commands::CooperateWorldExt, cooperator::GlobalCooperator, outcome::Outcome};

use super::{NO_PLUGIN, global};

/// Reports a refused operation through Bevy's error handling as a warning.
fn warn(result: Result<(), TaskError>) -> Result<(), BevyError> {
    result.map_err(|e| BevyError::new(Severity::Warning, e))
}

/// Task, cooperator and signal operations as [`Commands`], applied at the next command flush.
///
/// A refused operation (a stale handle, a finished task) is reported through Bevy's error handler
/// with [`Severity::Warning`]: it logs and does not crash the game.
///
/// ```
/// # use bevy_app::{App, Update};
/// # use bevy_cooperator::prelude::*;
/// # use bevy_ecs::prelude::*;
/// #[derive(Resource, Default)]
/// struct Level {
///     loader: Option<Entity>,
///     loaded: bool,
/// }
///
/// fn start_loading(mut commands: Commands, mut level: ResMut<Level>) {
///     if level.loader.is_none() {
///         let task = commands
///             .cooperate((0..5).map(|_chunk| ()))
///             .observe(|done: On<TaskFinished>, mut level: ResMut<Level>| {
///                 level.loaded = done.outcome.is_done();
///             })
///             .id();
///         level.loader = Some(task);
///     }
/// }
///
/// let mut app = App::new();
/// app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(2)))
///     .init_resource::<Level>()
///     .add_systems(Update, start_loading.before(CooperatorSystems::Wake));
/// app.update();
/// app.update();
/// assert!(!app.world().resource::<Level>().loaded);
/// app.update();
/// assert!(app.world().resource::<Level>().loaded);
/// ```
pub trait CooperateCommandsExt {
    /// Spawns a task running `work` on the [`GlobalCooperator`] (Twisted's `cooperate`). Chain
    /// `.observe(|ev: On<TaskFinished>| ..)` to learn when it ends (Twisted's `coiterate`). See
    /// the example on [`CooperateCommandsExt`].
    fn cooperate<M>(&mut self, work: impl IntoWork<M>) -> EntityCommands<'_>;
    /// Spawns a task running `work` on `cooperator`. A missing or stopped cooperator gives a task
    /// born finished with [`Outcome::SchedulerStopped`] (a missing one also logs a warning).
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
    /// let ai = app.world_mut().spawn(Cooperator::new(Budget::Steps(3))).id();
    /// let think = app.world_mut().commands().cooperate_on(ai, std::iter::repeat(())).id();
    /// app.world_mut().flush();
    /// app.update();
    /// assert_eq!(app.world().task_steps(think), Ok(3));
    /// ```
    fn cooperate_on<M>(&mut self, cooperator: Entity, work: impl IntoWork<M>)
    -> EntityCommands<'_>;
    /// See [`CooperateWorldExt::pause_task`]; applied at the next command flush.
    ///
    /// ```
    /// # use bevy_app::{App, Update};
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// #[derive(Resource)]
    /// struct Music(Entity);
    /// #[derive(Resource)]
    /// struct MenuOpen(bool);
    ///
    /// fn pause_with_menu(mut commands: Commands, music: Res<Music>, menu: Res<MenuOpen>) {
    ///     if menu.is_changed() {
    ///         if menu.0 {
    ///             commands.pause_task(music.0);
    ///         } else {
    ///             commands.resume_task(music.0);
    ///         }
    ///     }
    /// }
    ///
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
    /// let music = app.world_mut().cooperate(std::iter::repeat(()));
    /// app.insert_resource(Music(music))
    ///     .insert_resource(MenuOpen(true))
    ///     .add_systems(Update, pause_with_menu.before(CooperatorSystems::Wake));
    /// app.update();
    /// assert_eq!(app.world().task_steps(music), Ok(0));
    /// app.world_mut().resource_mut::<MenuOpen>().0 = false;
    /// app.update();
    /// assert_eq!(app.world().task_steps(music), Ok(1));
    /// ```
    fn pause_task(&mut self, task: Entity);
    /// See [`CooperateWorldExt::resume_task`], and the example on
    /// [`pause_task`](Self::pause_task).
    fn resume_task(&mut self, task: Entity);
    /// See [`CooperateWorldExt::stop_task`]; applied at the next command flush.
    ///
    /// ```
    /// # use bevy_app::{App, Update};
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// #[derive(Message)]
    /// struct SkipCutscene;
    /// #[derive(Resource)]
    /// struct Cutscene(Entity);
    ///
    /// fn skip(mut skips: MessageReader<SkipCutscene>, cutscene: Res<Cutscene>, mut commands: Commands) {
    ///     if skips.read().next().is_some() {
    ///         commands.stop_task(cutscene.0);
    ///     }
    /// }
    ///
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
    /// let cutscene = app.world_mut().cooperate(std::iter::repeat(()));
    /// app.world_mut().entity_mut(cutscene).insert(RetainFinished);
    /// app.insert_resource(Cutscene(cutscene))
    ///     .add_message::<SkipCutscene>()
    ///     .add_systems(Update, skip.before(CooperatorSystems::Wake));
    /// app.world_mut().write_message(SkipCutscene);
    /// app.update();
    /// assert_eq!(app.world().task_outcome(cutscene), Some(Outcome::Stopped));
    /// assert_eq!(app.world().task_steps(cutscene), Ok(0));
    /// ```
    fn stop_task(&mut self, task: Entity);
    /// See [`CooperateWorldExt::stop_cooperator`]; applied at the next command flush.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
    /// let streaming = app.world_mut().spawn(Cooperator::new(Budget::Steps(2))).id();
    /// let task = app.world_mut().cooperate_on(streaming, std::iter::repeat(())).unwrap();
    /// app.world_mut().entity_mut(task).insert(RetainFinished);
    /// app.world_mut().commands().stop_cooperator(streaming);
    /// app.world_mut().flush();
    /// assert_eq!(app.world().task_outcome(task), Some(Outcome::SchedulerStopped));
    ///
    /// app.world_mut().commands().start_cooperator(streaming);
    /// app.world_mut().flush();
    /// assert!(app.world().get::<Cooperator>(streaming).unwrap().running());
    /// ```
    fn stop_cooperator(&mut self, cooperator: Entity);
    /// See [`CooperateWorldExt::start_cooperator`], and the example on
    /// [`stop_cooperator`](Self::stop_cooperator).
    fn start_cooperator(&mut self, cooperator: Entity);
    /// Spawns a pending [`Signal`] (usable at once as a handle).
    ///
    /// ```
    /// # use bevy_app::{App, Update};
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// #[derive(Resource)]
    /// struct LeverPulled(Signal);
    ///
    /// fn setup(mut commands: Commands) {
    ///     let lever = commands.spawn_signal();
    ///     // The gate opens once the lever is pulled.
    ///     commands.cooperate([Step::Wait(Wait::signal(lever)), Step::Done].into_iter());
    ///     commands.insert_resource(LeverPulled(lever));
    /// }
    ///
    /// fn pull(mut commands: Commands, lever: Res<LeverPulled>) {
    ///     commands.fire_signal(lever.0);
    /// }
    ///
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(2)));
    /// app.world_mut().run_system_cached(setup).unwrap();
    /// app.update();
    /// let mut gates = app.world_mut().query::<&CooperativeTask>();
    /// assert_eq!(gates.iter(app.world()).count(), 1); // waiting
    /// app.world_mut().run_system_cached(pull).unwrap();
    /// app.update();
    /// assert_eq!(gates.iter(app.world()).count(), 0); // through the gate
    /// ```
    fn spawn_signal(&mut self) -> Signal;
    /// See [`CooperateWorldExt::fire_signal`], and the example on
    /// [`spawn_signal`](Self::spawn_signal).
    fn fire_signal(&mut self, signal: Signal);
    /// See [`CooperateWorldExt::fail_signal`]; applied at the next command flush.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(2)));
    /// let world = app.world_mut();
    /// let handshake = world.spawn_signal();
    /// let join = world.cooperate([Wait::signal(handshake)].into_iter());
    /// world.entity_mut(join).insert(RetainFinished);
    /// app.update();
    /// app.world_mut().commands().fail_signal(handshake, "server full");
    /// app.world_mut().flush();
    /// let outcome = app.world().task_outcome(join).unwrap();
    /// assert_eq!(outcome.failure().unwrap().to_string(), "server full");
    /// ```
    fn fail_signal(&mut self, signal: Signal, error: impl Into<BevyError>);
}

/// Attaches work to `entity` when applied. A plain [`Command`](bevy_ecs::system::Command) (not an
/// entity command) so the error keeps its severity.
pub(super) fn attach_command(
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
        self.queue(move |world: &mut World| warn(resolve::settle_signal(world, signal, Ok(()))));
    }

    fn fail_signal(&mut self, signal: Signal, error: impl Into<BevyError>) {
        let failure = Failure::new(error);
        self.queue(move |world: &mut World| {
            warn(resolve::settle_signal(world, signal, Err(failure)))
        });
    }
}
