//! [`CooperateEntityCommandsExt`] and [`CooperateEntityWorldExt`]: work attached to an
//! existing entity.

use bevy_ecs::{entity::Entity, system::EntityCommands, world::EntityWorldMut};

use crate::{task::lifecycle, work::IntoWork};

#[cfg(doc)]
use crate::{cooperator::GlobalCooperator, outcome::Outcome, task::CooperativeTask};

use super::{NO_PLUGIN, deferred::attach_command, global};

/// Attach a task to an existing entity (for example an actor running its script) with
/// [`EntityCommands`]. When the task ends its [`CooperativeTask`] is removed; the entity stays.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # use bevy_ecs::prelude::*;
/// #[derive(Component)]
/// struct Guard {
///     steps: u32,
/// }
///
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(10)));
/// // A guard patrols four steps, then stands still.
/// let mut commands = app.world_mut().commands();
/// let guard = commands.spawn(Guard { steps: 0 }).id();
/// commands.entity(guard).cooperate(from_fn(move |cx: &mut StepContext| {
///     let mut g = cx.world().get_mut::<Guard>(guard).unwrap();
///     g.steps += 1;
///     if g.steps == 4 { Step::Done } else { Step::Continue }
/// }));
/// app.world_mut().flush();
/// assert!(app.world().get::<CooperativeTask>(guard).is_some());
/// app.update();
/// assert_eq!(app.world().get::<Guard>(guard).unwrap().steps, 4);
/// // The task is gone, the guard stays.
/// assert!(app.world().get::<CooperativeTask>(guard).is_none());
/// ```
pub trait CooperateEntityCommandsExt {
    /// Attaches `work` as a task on the [`GlobalCooperator`]. A live task already on the entity is
    /// stopped first. See the example on [`CooperateEntityCommandsExt`].
    fn cooperate<M>(&mut self, work: impl IntoWork<M>) -> &mut Self;
    /// Attaches `work` as a task on `cooperator`.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
    /// let crowd = app.world_mut().spawn(Cooperator::new(Budget::Steps(2))).id();
    /// let npc = app.world_mut().commands().spawn_empty().cooperate_on(crowd, std::iter::repeat(())).id();
    /// app.world_mut().flush();
    /// app.update();
    /// assert_eq!(app.world().get::<CooperativeTask>(npc).unwrap().cooperator(), crowd);
    /// assert_eq!(app.world().task_steps(npc), Ok(2));
    /// ```
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
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # use bevy_ecs::prelude::*;
/// #[derive(Component)]
/// struct Torch {
///     flicker: u32,
/// }
///
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(3)));
/// let torch = app.world_mut().spawn(Torch { flicker: 0 }).id();
/// app.world_mut().entity_mut(torch).cooperate(from_fn(move |cx: &mut StepContext| {
///     cx.world().get_mut::<Torch>(torch).unwrap().flicker += 1;
/// }));
/// app.update();
/// assert_eq!(app.world().get::<Torch>(torch).unwrap().flicker, 3);
/// // Attaching new work stops the old task first.
/// app.world_mut().entity_mut(torch).cooperate((0..1).map(|_| ()));
/// app.update();
/// assert_eq!(app.world().get::<Torch>(torch).unwrap().flicker, 3);
/// assert!(app.world().get::<CooperativeTask>(torch).is_none()); // done, torch stays
/// ```
pub trait CooperateEntityWorldExt {
    /// Attaches `work` as a task on the [`GlobalCooperator`]. A live task already on the entity is
    /// stopped first. See the example on [`CooperateEntityWorldExt`].
    ///
    /// # Panics
    /// If [`CooperatorPlugin`](crate::CooperatorPlugin) was not added.
    fn cooperate<M>(&mut self, work: impl IntoWork<M>) -> &mut Self;
    /// Attaches `work` as a task on `cooperator`. A missing or stopped cooperator gives a task born
    /// finished with [`Outcome::SchedulerStopped`].
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
    /// let effects = app.world_mut().spawn(Cooperator::new(Budget::Steps(2))).id();
    /// let spark = app.world_mut().spawn_empty().cooperate_on(effects, std::iter::repeat(())).id();
    /// app.update();
    /// assert_eq!(app.world().task_steps(spark), Ok(2));
    /// ```
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
