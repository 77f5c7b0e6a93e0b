//! What a script does with the world: [`ScriptContext::with_world`] and what is built on it
//! (systems, resources, components, progress, child tasks), each served within the current work
//! unit.

use bevy_ecs::{
    component::{Component, Mutable},
    entity::Entity,
    resource::Resource,
    system::{In, IntoSystem},
    world::World,
};

use crate::{
    outcome::Failure,
    script::{ask::ScriptContext, futures::WithWorld},
    task::{family, progress},
    work::{IntoWork, Progress},
};

impl ScriptContext {
    /// Runs `f` with the whole [`World`] **within the current work unit**: no frame passes and
    /// no turn is lost. Commands `f` queues are applied right after it.
    ///
    /// To query, [`run_system`](Self::run_system) is often nicer. A [`SystemState`] kept across
    /// awaits (to see only what changed since it last ran) must be wrapped in a struct of your
    /// own, with `'static` lifetimes spelled out: held as a bare `SystemState<Query<&T>>`, rustc
    /// rejects the script's future ("implementation of `QueryData` is not general enough").
    ///
    /// [`SystemState`]: bevy_ecs::system::SystemState
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::{prelude::*, system::SystemState};
    /// #[derive(Component)]
    /// struct Enemy;
    /// #[derive(Resource, Default)]
    /// struct Spotted(usize);
    ///
    /// struct NewEnemies(SystemState<Query<'static, 'static, (), Added<Enemy>>>);
    ///
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default()).init_resource::<Spotted>();
    /// app.world_mut().cooperate(script(|cx| async move {
    ///     let mut watch = cx.with_world(|world| NewEnemies(SystemState::new(world))).await;
    ///     loop {
    ///         watch = cx
    ///             .with_world(move |world| {
    ///                 let new = watch.0.get(world).unwrap().iter().count();
    ///                 world.resource_mut::<Spotted>().0 += new;
    ///                 watch
    ///             })
    ///             .await;
    ///         cx.frames(1).await?;
    ///     }
    ///     # #[allow(unreachable_code)]
    ///     # Ok::<(), Failure>(())
    /// }));
    /// app.world_mut().spawn(Enemy);
    /// app.update();
    /// app.world_mut().spawn_batch([Enemy, Enemy]);
    /// app.update();
    /// app.update();
    /// assert_eq!(app.world().resource::<Spotted>().0, 3);
    /// ```
    pub fn with_world<R, F>(&self, f: F) -> WithWorld<R, F>
    where
        F: FnOnce(&mut World) -> R + Send + 'static,
        R: Send + 'static,
    {
        WithWorld::new(self, f)
    }

    /// Runs `system` — with any `Query`, `Res`, `ResMut` or `Commands` parameters — in the same
    /// work unit, and returns its output. The system is cached per world, as with
    /// [`World::run_system_cached`]; its commands are applied right after it. It must be a
    /// function or a closure that captures nothing — a capturing closure does not compile; pass
    /// data with [`run_system_with`](Self::run_system_with). A system that cannot run (its
    /// parameters are missing, say) is an `Err`.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// #[derive(Component)]
    /// struct Enemy;
    /// #[derive(Resource)]
    /// struct Counted(usize);
    ///
    /// fn count_enemies(enemies: Query<(), With<Enemy>>) -> usize {
    ///     enemies.iter().count()
    /// }
    ///
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// app.world_mut().spawn_batch([Enemy, Enemy, Enemy]);
    /// app.world_mut().cooperate(script(|cx| async move {
    ///     let enemies = cx.run_system(count_enemies).await?;
    ///     cx.with_world(move |world| world.insert_resource(Counted(enemies))).await;
    ///     Ok::<(), Failure>(())
    /// }));
    /// app.update();
    /// assert_eq!(app.world().resource::<Counted>().0, 3);
    /// ```
    pub fn run_system<O, M, S>(
        &self,
        system: S,
    ) -> WithWorld<Result<O, Failure>, impl FnOnce(&mut World) -> Result<O, Failure> + Send + 'static>
    where
        S: IntoSystem<(), O, M> + Send + 'static,
        O: Send + 'static,
    {
        self.with_world(move |world: &mut World| {
            world.run_system_cached(system).map_err(Failure::new)
        })
    }

    /// [`run_system`](Self::run_system) for a system taking `In<T>`: runs it with `input`.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// #[derive(Component)]
    /// struct Health(u32);
    ///
    /// /// An explosion: damages everyone, returns how many fell.
    /// fn explode(In(damage): In<u32>, mut health: Query<&mut Health>) -> usize {
    ///     health.iter_mut().filter(|hp| hp.0 <= damage).map(|mut hp| hp.0 = 0).count()
    /// }
    ///
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// app.world_mut().spawn_batch([Health(10), Health(30), Health(80)]);
    /// let trap = app.world_mut().cooperate(script(|cx| async move {
    ///     cx.run_system_with(explode, 40).await
    /// }));
    /// app.world_mut().entity_mut(trap).insert(RetainFinished);
    /// app.update();
    /// assert_eq!(app.world().get::<TaskResult<usize>>(trap).unwrap().0, 2);
    /// ```
    pub fn run_system_with<T, O, M, S>(
        &self,
        system: S,
        input: T,
    ) -> WithWorld<Result<O, Failure>, impl FnOnce(&mut World) -> Result<O, Failure> + Send + 'static>
    where
        S: IntoSystem<In<T>, O, M> + Send + 'static,
        T: Send + 'static,
        O: Send + 'static,
    {
        self.with_world(move |world: &mut World| {
            world
                .run_system_cached_with(system, input)
                .map_err(Failure::new)
        })
    }

    /// Reads or changes the resource `R` in the same work unit; `Err` when there is none.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// #[derive(Resource)]
    /// struct Score(u32);
    /// #[derive(Resource)]
    /// struct Leaderboard;
    ///
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// app.insert_resource(Score(90));
    /// let bonus = app.world_mut().cooperate(script(|cx| async move {
    ///     let total = cx.with_resource(|s: &mut Score| { s.0 += 10; s.0 }).await?;
    ///     // No leaderboard in this build: an `Err`, not a panic.
    ///     let posted = cx.with_resource(|_: &mut Leaderboard| ()).await.is_ok();
    ///     Ok::<_, Failure>((total, posted))
    /// }));
    /// app.world_mut().entity_mut(bonus).insert(RetainFinished);
    /// app.update();
    /// assert_eq!(app.world().get::<TaskResult<(u32, bool)>>(bonus).unwrap().0, (100, false));
    /// ```
    pub fn with_resource<R, O>(
        &self,
        f: impl FnOnce(&mut R) -> O + Send + 'static,
    ) -> WithWorld<Result<O, Failure>, impl FnOnce(&mut World) -> Result<O, Failure> + Send + 'static>
    where
        R: Resource + Component<Mutability = Mutable>,
        O: Send + 'static,
    {
        self.with_world(
            move |world: &mut World| match world.get_resource_mut::<R>() {
                Some(mut resource) => Ok(f(&mut resource)),
                None => Err(Failure::msg(alloc::format!(
                    "there is no resource {}",
                    core::any::type_name::<R>()
                ))),
            },
        )
    }

    /// Reads or changes the component `C` of `entity` in the same work unit; `Err` when the
    /// entity does not exist or has no `C`.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// #[derive(Component)]
    /// struct Door {
    ///     open: bool,
    /// }
    ///
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// let door = app.world_mut().spawn(Door { open: false }).id();
    /// app.world_mut().cooperate(script(move |cx| async move {
    ///     cx.frames(1).await?;
    ///     cx.with_component(door, |d: &mut Door| d.open = true).await
    /// }));
    /// app.update();
    /// assert!(!app.world().get::<Door>(door).unwrap().open);
    /// app.update();
    /// assert!(app.world().get::<Door>(door).unwrap().open);
    /// ```
    pub fn with_component<C, O>(
        &self,
        entity: Entity,
        f: impl FnOnce(&mut C) -> O + Send + 'static,
    ) -> WithWorld<Result<O, Failure>, impl FnOnce(&mut World) -> Result<O, Failure> + Send + 'static>
    where
        C: Component<Mutability = Mutable>,
        O: Send + 'static,
    {
        self.with_world(move |world: &mut World| match world.get_mut::<C>(entity) {
            Some(mut component) => Ok(f(&mut component)),
            None => Err(Failure::msg(alloc::format!(
                "entity {entity} has no component {}",
                core::any::type_name::<C>()
            ))),
        })
    }

    /// Reports the task's progress, in the same work unit: stored in its
    /// [`TaskProgress`](crate::TaskProgress) component, where an ordinary system reads it with a
    /// `Query<&TaskProgress>`.
    ///
    /// ```
    /// # use bevy_app::{App, Update};
    /// # use bevy_cooperator::{Progress, TaskProgress, prelude::*};
    /// # use bevy_ecs::prelude::*;
    /// #[derive(Resource, Default)]
    /// struct LoadingBar(f32);
    ///
    /// fn draw_bar(tasks: Query<&TaskProgress>, mut bar: ResMut<LoadingBar>) {
    ///     for progress in &tasks {
    ///         bar.0 = progress.0.fraction().unwrap_or(0.0);
    ///     }
    /// }
    ///
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
    /// app.init_resource::<LoadingBar>()
    ///     .add_systems(Update, draw_bar.after(CooperatorSystems::Step));
    /// app.world_mut().cooperate(script(|cx| async move {
    ///     for asset in 1..=4 {
    ///         // ..load one asset..
    ///         cx.report_progress(asset, Some(4)).await;
    ///         cx.yield_now().await;
    ///     }
    /// }));
    /// app.update();
    /// assert_eq!(app.world().resource::<LoadingBar>().0, 0.25);
    /// app.update();
    /// assert_eq!(app.world().resource::<LoadingBar>().0, 0.5);
    /// ```
    pub fn report_progress(
        &self,
        done: u64,
        total: Option<u64>,
    ) -> WithWorld<(), impl FnOnce(&mut World) + Send + 'static> {
        let task = self.task();
        self.with_world(move |world: &mut World| {
            progress::report(world, task, Progress { done, total });
        })
    }

    /// Starts `work` as a child task this script owns (see [`StepContext::cooperate`](crate::StepContext::cooperate)): stopping
    /// or finishing the script stops it.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(8)));
    /// // A cutscene starts ambient music it owns, then waits on a camera move.
    /// let cutscene = app.world_mut().cooperate(script(|cx| async move {
    ///     let music = cx.start(std::iter::repeat(())).await;
    ///     let camera = cx.start((0..3).map(|_| ())).await;
    ///     cx.wait(Wait::task(camera)).await?;
    ///     Ok::<_, Failure>(music)
    /// }));
    /// app.world_mut().entity_mut(cutscene).insert(RetainFinished);
    /// app.update();
    /// app.update();
    /// let music = app.world().get::<TaskResult<Entity>>(cutscene).unwrap().0;
    /// // The cutscene is over, and so is its music.
    /// assert!(app.world().get_entity(music).is_err());
    /// ```
    pub async fn start<M>(&self, work: impl IntoWork<M>) -> Entity {
        let work = work.into_boxed_work();
        let parent = self.task();
        self.with_world(move |world| family::spawn_child(world, parent, work))
            .await
    }
}
