//! Async/await task bodies: [`script`] and its [`ScriptContext`].

use alloc::{boxed::Box, sync::Arc, vec::Vec};
use bevy_ecs::{
    component::{Component, Mutable},
    entity::Entity,
    error::BevyError,
    message::Message,
    resource::Resource,
    system::{In, IntoSystem},
    world::World,
};
use core::{
    any::Any,
    future::Future,
    marker::PhantomData,
    pin::Pin,
    sync::atomic::Ordering,
    task::{Context, Poll, Waker},
    time::Duration,
};
use std::sync::Mutex;

use crate::{
    error::lock,
    outcome::Failure,
    task::{
        family, progress, resolve,
        result::{Joined, move_result},
        waits::{Deliver, Then},
    },
    wait::{
        Wait,
        future::{self, TaskWaker},
        message::{Filter, Sink},
        seam::Ticket,
    },
    work::{IntoWork, Progress, Step, StepContext, Work},
};

/// Which crate future of a script asked: its answer comes back under the same id.
type Id = u64;

type WorldFn = Box<dyn FnOnce(&mut World) -> Box<dyn Any + Send> + Send>;

/// What a crate future gets back: a world access's result, or what a resolved wait yields.
type Answer = Result<Box<dyn Any + Send>, Failure>;

/// Turns a resolved wait (its result, a race's winner) into its future's answer, with the world at
/// hand and the task's entity (a joined task's result is taken from it).
type Collect =
    Box<dyn FnOnce(&mut World, Entity, Result<(), Failure>, Option<u32>) -> Answer + Send + Sync>;

/// What a crate future asks of the script's [`Work`] when it returns `Pending`.
enum Request {
    World(Id, WorldFn),
    Wait(Id, Wait, Collect),
}

/// What a script's crate futures and its [`Work`] share. Any number of crate futures may be
/// pending at once (`join!`, `select!`, `FuturesUnordered`): each has an id, asks once, and finds
/// its answer here.
#[derive(Default)]
struct Shared {
    task: Option<Entity>,
    next_id: Id,
    /// Asked since the work last looked, in order.
    requests: Vec<Request>,
    /// A `yield_now` since the work last looked.
    yielded: bool,
    /// Answers not yet taken by their futures.
    answers: Vec<(Id, Answer)>,
    /// Waits begun and not yet resolved: the future's id and the wait's ticket.
    pending: Vec<(Id, Ticket)>,
    /// The waker of each future that waits for its answer.
    wakers: Vec<(Id, Waker)>,
    /// Futures dropped before their answer came (their waits are cancelled).
    dropped: Vec<Id>,
}

impl Shared {
    /// Stores `id`'s answer and wakes its future.
    fn answer(&mut self, id: Id, answer: Answer) {
        self.answers.push((id, answer));
        if let Some(i) = self.wakers.iter().position(|(w, _)| *w == id) {
            self.wakers.swap_remove(i).1.wake();
        }
    }
}

/// The handle an async [`script`] uses to reach the game: world access, waits, yields, child
/// tasks. Cheap to clone; every clone talks to the same task.
///
/// Any number of its futures may be pending at once: `futures::join!`, `select!`, `zip` and
/// `FuturesUnordered` work as in any async Rust. The task is paused exactly while nothing it
/// awaits is ready, and a dropped future (a `select!`'s loser) cancels its wait at the source.
/// Awaiting these futures outside the script they were given to does nothing useful.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # use bevy_ecs::prelude::*;
/// #[derive(Resource, Default)]
/// struct Subtitle(&'static str);
///
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
/// # app.init_resource::<Subtitle>();
/// let cutscene = app.world_mut().cooperate(script(|cx| async move {
///     for line in ["Halt!", "Who goes there?"] {
///         cx.with_resource(move |s: &mut Subtitle| s.0 = line).await?;
///         cx.frames(2).await?; // each line stays up two frames
///     }
///     cx.with_resource(|s: &mut Subtitle| s.0 = "").await
/// }));
/// app.update();
/// assert_eq!(app.world().resource::<Subtitle>().0, "Halt!");
/// app.update();
/// app.update();
/// assert_eq!(app.world().resource::<Subtitle>().0, "Who goes there?");
/// app.update();
/// app.update();
/// assert_eq!(app.world().resource::<Subtitle>().0, "");
/// assert!(app.world().get_entity(cutscene).is_err()); // done
/// ```
#[derive(Clone)]
pub struct ScriptContext {
    shared: Arc<Mutex<Shared>>,
}

impl ScriptContext {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        lock(&self.shared)
    }

    /// Asks the script's work for something; returns the id its answer will come under.
    fn ask(&self, request: impl FnOnce(Id) -> Request, waker: &Waker) -> Id {
        let mut shared = self.lock();
        let id = shared.next_id;
        shared.next_id += 1;
        shared.requests.push(request(id));
        shared.wakers.push((id, waker.clone()));
        id
    }

    /// `id`'s answer, if it came; else keeps `waker` to be woken when it does.
    fn answer(&self, id: Id, waker: &Waker) -> Option<Answer> {
        let mut shared = self.lock();
        if let Some(i) = shared.answers.iter().position(|(a, _)| *a == id) {
            return Some(shared.answers.swap_remove(i).1);
        }
        if let Some((_, kept)) = shared.wakers.iter_mut().find(|(w, _)| *w == id) {
            if !kept.will_wake(waker) {
                kept.clone_from(waker);
            }
        } else {
            shared.wakers.push((id, waker.clone()));
        }
        None
    }

    /// A future that asked is dropped before taking its answer.
    fn forget(&self, id: Id) {
        let mut shared = self.lock();
        shared.answers.retain(|(a, _)| *a != id);
        shared.wakers.retain(|(w, _)| *w != id);
        shared.dropped.push(id);
    }

    /// A future awaiting `wait`, whose answer `collect` makes.
    fn awaiting<T: 'static>(&self, wait: Wait, collect: Collect) -> Awaiting<T> {
        Awaiting {
            asked: Asked::new(self),
            wait: Some((wait, collect)),
            _output: PhantomData,
        }
    }

    /// The script's own task entity.
    ///
    /// # Panics
    /// If called before the script's first step (the future is built before the task exists).
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// #[derive(Component)]
    /// struct Health(u32);
    ///
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// // A script attached to an NPC: its task is the NPC itself.
    /// let npc = app.world_mut().spawn(Health(50)).id();
    /// app.world_mut().entity_mut(npc).cooperate(script(|cx| async move {
    ///     let me = cx.task(); // inside the future: known from the first step on
    ///     cx.with_component(me, |hp: &mut Health| hp.0 += 10).await
    /// }));
    /// app.update();
    /// assert_eq!(app.world().get::<Health>(npc).unwrap().0, 60);
    /// ```
    pub fn task(&self) -> Entity {
        self.lock()
            .task
            .expect("the script's task is known from its first step")
    }

    /// Ends the current work unit: the task goes to the back of the run queue and continues on
    /// its next turn (this frame if the budget allows, else a later one).
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// #[derive(Resource, Default)]
    /// struct Chunks(u32);
    ///
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(2)));
    /// # app.init_resource::<Chunks>();
    /// // One chunk per work unit: two per frame with this budget.
    /// app.world_mut().cooperate(script(|cx| async move {
    ///     for _ in 0..5 {
    ///         cx.with_resource(|c: &mut Chunks| c.0 += 1).await?;
    ///         cx.yield_now().await;
    ///     }
    ///     Ok::<(), Failure>(())
    /// }));
    /// app.update();
    /// assert_eq!(app.world().resource::<Chunks>().0, 2);
    /// app.update();
    /// assert_eq!(app.world().resource::<Chunks>().0, 4);
    /// ```
    pub fn yield_now(&self) -> YieldNow {
        YieldNow {
            cx: self.clone(),
            yielded: false,
        }
    }

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
        WithWorld {
            asked: Asked::new(self),
            f: Some(f),
            _result: PhantomData,
        }
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

    /// Pauses the task until `wait` is resolved, exactly as an iterator yielding it; returns the
    /// failure instead of failing the task when the wait fails (use `?` to pass it on).
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// #[derive(Resource, Default)]
    /// struct Said(Vec<&'static str>);
    ///
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// # app.init_resource::<Said>();
    /// let world = app.world_mut();
    /// let bridge_ready = world.spawn_signal();
    /// world.cooperate(script(move |cx| async move {
    ///     let line = match cx.wait(Wait::signal(bridge_ready)).await {
    ///         Ok(()) => "Cross the bridge!",
    ///         Err(_) => "The bridge is out: find another way.",
    ///     };
    ///     cx.with_resource(move |s: &mut Said| s.0.push(line)).await
    /// }));
    /// app.update();
    /// app.world_mut().fail_signal(bridge_ready, "collapsed").unwrap();
    /// app.update();
    /// assert_eq!(app.world().resource::<Said>().0, ["The bridge is out: find another way."]);
    /// ```
    pub fn wait(&self, wait: Wait) -> WaitFuture {
        WaitFuture(self.awaiting(
            wait,
            Box::new(|_, _, result, _| result.map(|()| Box::new(()) as Box<dyn Any + Send>)),
        ))
    }

    /// [`Wait::duration`]: sleeps on virtual `Time`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # use bevy_time::{TimePlugin, TimeUpdateStrategy};
    /// #[derive(Resource, Default)]
    /// struct Exploded(bool);
    ///
    /// let mut app = App::new();
    /// app.add_plugins((TimePlugin, CooperatorPlugin::default().with_budget(Budget::Steps(4))))
    ///     .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(100)))
    ///     .init_resource::<Exploded>();
    /// app.finish();
    /// app.cleanup();
    /// // A grenade with a 250 ms fuse; frames are 100 ms here.
    /// app.world_mut().cooperate(script(|cx| async move {
    ///     cx.sleep(Duration::from_millis(250)).await?;
    ///     cx.with_resource(|e: &mut Exploded| e.0 = true).await
    /// }));
    /// app.update(); // lit at 0 ms (the first frame's time)
    /// app.update(); // 100 ms
    /// app.update(); // 200 ms
    /// assert!(!app.world().resource::<Exploded>().0);
    /// app.update(); // 300 ms: the first frame past the fuse
    /// assert!(app.world().resource::<Exploded>().0);
    /// ```
    pub fn sleep(&self, duration: Duration) -> WaitFuture {
        self.wait(Wait::duration(duration))
    }

    /// [`Wait::frames`]. See the example on [`ScriptContext`].
    pub fn frames(&self, n: u32) -> WaitFuture {
        self.wait(Wait::frames(n))
    }

    /// [`Wait::message`]: until a message of type `M` written from now on, and returns (a clone
    /// of) that message. Fails as the wait does (for example if `M` is not registered).
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::{error::BevyError, prelude::*};
    /// /// The player picks a dialogue option.
    /// #[derive(Message, Clone)]
    /// struct Choice(u32);
    ///
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// app.add_message::<Choice>();
    /// let dialogue = app.world_mut().cooperate(script(|cx| async move {
    ///     let Choice(n) = cx.message::<Choice>().await?;
    ///     let big = cx.message_where(|c: &Choice| c.0 > 10).await?;
    ///     Ok::<_, BevyError>(n + big.0)
    /// }));
    /// app.world_mut().entity_mut(dialogue).insert(RetainFinished);
    /// app.update(); // the script starts waiting: only later messages count
    /// app.world_mut().write_message(Choice(2));
    /// app.update();
    /// app.world_mut().write_message(Choice(5)); // not > 10: ignored
    /// app.world_mut().write_message(Choice(20));
    /// app.update();
    /// assert_eq!(app.world().get::<TaskResult<u32>>(dialogue).unwrap().0, 22);
    /// ```
    pub async fn message<M: Message + Clone>(&self) -> Result<M, Failure> {
        self.receive::<M>(None).await
    }

    /// [`Wait::message_where`]: until a message of type `M` written from now on for which
    /// `filter` is true, and returns (a clone of) that message. See the example on
    /// [`message`](Self::message).
    pub async fn message_where<M: Message + Clone>(
        &self,
        filter: impl Fn(&M) -> bool + Send + Sync + 'static,
    ) -> Result<M, Failure> {
        self.receive(Some(Arc::new(filter))).await
    }

    async fn receive<M: Message + Clone>(&self, filter: Option<Filter<M>>) -> Result<M, Failure> {
        let slot: Arc<Mutex<Option<M>>> = Arc::new(Mutex::new(None));
        let into = slot.clone();
        let sink: Sink<M> = Arc::new(move |message: &M| {
            *lock(&into) = Some(message.clone());
        });
        self.wait(Wait::message_into(filter, sink)).await?;
        let message = lock(&slot).take();
        message.ok_or_else(|| {
            Failure::msg(alloc::format!(
                "the wait for message {} resumed without a message",
                core::any::type_name::<M>()
            ))
        })
    }

    /// [`Wait::until`]: until the condition system returns `true`.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// #[derive(Component)]
    /// struct Enemy;
    /// #[derive(Resource, Default)]
    /// struct Victory(bool);
    ///
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// # app.init_resource::<Victory>();
    /// let boss = app.world_mut().spawn(Enemy).id();
    /// app.world_mut().cooperate(script(|cx| async move {
    ///     cx.until(|enemies: Query<(), With<Enemy>>| enemies.is_empty()).await?;
    ///     cx.with_resource(|v: &mut Victory| v.0 = true).await
    /// }));
    /// app.update();
    /// assert!(!app.world().resource::<Victory>().0);
    /// app.world_mut().despawn(boss);
    /// app.update();
    /// assert!(app.world().resource::<Victory>().0);
    /// ```
    pub fn until<M>(&self, condition: impl IntoSystem<(), bool, M>) -> WaitFuture {
        self.wait(Wait::until(condition))
    }

    /// [`Wait::race`]: until the first of `waits` is resolved; returns its index. Losing task
    /// waits stop their tasks.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// let world = app.world_mut();
    /// let lever = world.spawn_signal();
    /// // Pull the lever within 3 frames, or the trap springs.
    /// let puzzle = world.cooperate(script(move |cx| async move {
    ///     let winner = cx.race([Wait::signal(lever), Wait::frames(3)]).await?;
    ///     Ok::<_, Failure>(if winner == 0 { "saved" } else { "trapped" })
    /// }));
    /// world.entity_mut(puzzle).insert(RetainFinished);
    /// app.update();
    /// app.world_mut().fire_signal(lever).unwrap();
    /// app.update();
    /// assert_eq!(app.world().get::<TaskResult<&str>>(puzzle).unwrap().0, "saved");
    /// ```
    pub async fn race(&self, waits: impl IntoIterator<Item = Wait>) -> Result<usize, Failure> {
        let winner: Option<u32> = self
            .awaiting(
                Wait::race(waits),
                Box::new(|_, _, result, winner| {
                    result.map(|()| Box::new(winner) as Box<dyn Any + Send>)
                }),
            )
            .await?;
        // A race of nothing resumes at once, with no winner.
        Ok(winner.map_or(0, |w| w as usize))
    }

    /// [`Wait::all`]: until every one of `waits` is resolved.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// #[derive(Resource, Default)]
    /// struct Boarded(bool);
    ///
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// # app.init_resource::<Boarded>();
    /// let world = app.world_mut();
    /// let [alice, bob] = [world.spawn_signal(), world.spawn_signal()];
    /// // The ship leaves once both players are aboard.
    /// world.cooperate(script(move |cx| async move {
    ///     cx.all([Wait::signal(alice), Wait::signal(bob)]).await?;
    ///     cx.with_resource(|b: &mut Boarded| b.0 = true).await
    /// }));
    /// app.update();
    /// app.world_mut().fire_signal(alice).unwrap();
    /// app.update();
    /// assert!(!app.world().resource::<Boarded>().0);
    /// app.world_mut().fire_signal(bob).unwrap();
    /// app.update();
    /// assert!(app.world().resource::<Boarded>().0);
    /// ```
    pub fn all(&self, waits: impl IntoIterator<Item = Wait>) -> WaitFuture {
        self.wait(Wait::all(waits))
    }

    /// Starts `work` as a child task this script owns (see [`StepContext::cooperate`]): stopping
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

    /// Waits for `task` to finish `Done` and takes its [`TaskResult<T>`](crate::TaskResult). Fails with the task's
    /// failure, or if it finished without a `TaskResult<T>` (or another joiner took it first).
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(8)));
    /// let world = app.world_mut();
    /// // A pathfinding task computes a route; the guard's script joins it and walks it.
    /// let route = world.cooperate(script(|cx| async move {
    ///     cx.frames(1).await?; // ..search..
    ///     Ok::<_, Failure>(vec![(0, 0), (0, 1), (1, 1)])
    /// }));
    /// let guard = world.cooperate(script(move |cx| async move {
    ///     let path: Vec<(i32, i32)> = cx.join(route).await?;
    ///     Ok::<_, Failure>(path.len())
    /// }));
    /// world.entity_mut(guard).insert(RetainFinished);
    /// app.update();
    /// app.update();
    /// assert_eq!(app.world().get::<TaskResult<usize>>(guard).unwrap().0, 3);
    /// ```
    pub async fn join<T: Send + Sync + 'static>(&self, task: Entity) -> Result<T, Failure> {
        // The result moves to this task the moment the wait resolves, and is taken from it
        // right then: several joins of one type may be pending at once.
        self.awaiting(
            Wait::take(task, move_result::<T>),
            Box::new(move |world, me, result, _| {
                result?;
                world
                    .get_entity_mut(me)
                    .ok()
                    .and_then(|mut e| e.take::<Joined<T>>())
                    .map(|j| Box::new(j.0) as Box<dyn Any + Send>)
                    .ok_or_else(|| {
                        Failure::msg(alloc::format!(
                            "task {task} finished without a result of type {}",
                            core::any::type_name::<T>()
                        ))
                    })
            }),
        )
        .await
    }
}

/// A crate future's part in the protocol: the id it asked under, and forgetting it when dropped
/// before its answer came.
struct Asked {
    cx: ScriptContext,
    id: Option<Id>,
}

impl Asked {
    fn new(cx: &ScriptContext) -> Self {
        Asked {
            cx: cx.clone(),
            id: None,
        }
    }

    /// Asks once.
    fn ask(&mut self, request: impl FnOnce(Id) -> Request, waker: &Waker) {
        self.id = Some(self.cx.ask(request, waker));
    }

    /// The answer, once it came.
    fn answer(&mut self, waker: &Waker) -> Option<Answer> {
        let answer = self.cx.answer(self.id?, waker)?;
        self.id = None;
        Some(answer)
    }
}

impl Drop for Asked {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.cx.forget(id);
        }
    }
}

/// Future of [`ScriptContext::yield_now`] (see its example).
pub struct YieldNow {
    cx: ScriptContext,
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        self.cx.lock().yielded = true;
        // Polled again on the next turn (inside a `FuturesUnordered` too).
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Future of [`ScriptContext::with_world`] and the methods built on it (see their examples).
pub struct WithWorld<R, F> {
    asked: Asked,
    f: Option<F>,
    _result: PhantomData<fn() -> R>,
}

impl<R, F> Unpin for WithWorld<R, F> {}

impl<R, F> Future for WithWorld<R, F>
where
    F: FnOnce(&mut World) -> R + Send + 'static,
    R: Send + 'static,
{
    type Output = R;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<R> {
        if let Some(f) = self.f.take() {
            let f: WorldFn = Box::new(move |world: &mut World| Box::new(f(world)));
            self.asked.ask(|id| Request::World(id, f), cx.waker());
            return Poll::Pending;
        }
        match self.asked.answer(cx.waker()) {
            Some(Ok(r)) => Poll::Ready(*r.downcast::<R>().expect("world access result type")),
            Some(Err(_)) => unreachable!("a world access always answers"),
            None => Poll::Pending,
        }
    }
}

/// A crate future awaiting a [`Wait`], its answer downcast to `T`.
struct Awaiting<T> {
    asked: Asked,
    wait: Option<(Wait, Collect)>,
    _output: PhantomData<fn() -> T>,
}

impl<T> Unpin for Awaiting<T> {}

impl<T: 'static> Future for Awaiting<T> {
    type Output = Result<T, Failure>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some((wait, collect)) = self.wait.take() {
            self.asked
                .ask(|id| Request::Wait(id, wait, collect), cx.waker());
            return Poll::Pending;
        }
        match self.asked.answer(cx.waker()) {
            Some(answer) => {
                Poll::Ready(answer.map(|value| *value.downcast::<T>().expect("wait answer type")))
            }
            None => Poll::Pending,
        }
    }
}

/// Future of [`ScriptContext::wait`]: `Ok` when the wait is resolved, `Err` with its failure.
/// Dropping it before then cancels the wait (see the example on [`ScriptContext::wait`]).
pub struct WaitFuture(Awaiting<()>);

impl Future for WaitFuture {
    type Output = Result<(), Failure>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

/// What a script's future may end with: `()` finishes `Done`; `Ok(value)` finishes `Done` with
/// a [`TaskResult`](crate::TaskResult); `Err(e)` fails the task.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # use bevy_ecs::error::BevyError;
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(8)));
/// let world = app.world_mut();
/// let nothing = world.cooperate(script(|_cx| async {}));
/// let value = world.cooperate(script(|_cx| async { Ok::<_, BevyError>(7_u8) }));
/// let error = world.cooperate(script(|_cx| async { Err::<(), _>("out of mana") }));
/// for task in [nothing, value, error] {
///     world.entity_mut(task).insert(RetainFinished);
/// }
/// app.update();
/// let world = app.world();
/// assert_eq!(world.task_outcome(nothing), Some(Outcome::Done));
/// assert_eq!(world.get::<TaskResult<u8>>(value).unwrap().0, 7);
/// let failed = world.task_outcome(error).unwrap();
/// assert_eq!(failed.failure().unwrap().to_string(), "out of mana");
/// ```
pub trait ScriptOutput: Send + 'static {
    /// Applies the end of the script to its task (called by the script's work, not by you).
    fn finish(self, cx: &mut StepContext) -> Step;
}

impl ScriptOutput for () {
    fn finish(self, _: &mut StepContext) -> Step {
        Step::Done
    }
}

impl<T: Send + Sync + 'static, E: Into<BevyError> + Send + 'static> ScriptOutput for Result<T, E> {
    fn finish(self, cx: &mut StepContext) -> Step {
        match self {
            Ok(value) => {
                // `Ok(())` carries nothing: no component for it.
                if core::any::TypeId::of::<T>() != core::any::TypeId::of::<()>() {
                    cx.set_result(value);
                }
                Step::Done
            }
            Err(e) => Step::Fail(e.into()),
        }
    }
}

/// The [`Work`] of an async [`script`] (see its example).
pub struct ScriptWork<Fut> {
    future: Pin<Box<Fut>>,
    cx: ScriptContext,
    waker: Option<(Arc<TaskWaker>, Waker)>,
    /// Requests taken out of the shared state (kept for their capacity).
    requests: Vec<Request>,
    /// Dropped futures taken out of the shared state.
    dropped: Vec<Id>,
}

impl<Fut> Work for ScriptWork<Fut>
where
    Fut: Future + Send + 'static,
    Fut::Output: ScriptOutput,
{
    fn step(&mut self, cx: &mut StepContext) -> Step {
        let task = cx.task();
        if self.waker.is_none() {
            self.cx.lock().task = Some(task);
            let waker = future::task_waker(cx.world(), task);
            self.waker = Some((waker.clone(), Waker::from(waker)));
        }
        // Taken out for the step (the poll needs `self`), put back after it.
        let (flag, waker) = self.waker.take().expect("set above");
        flag.stepping.store(true, Ordering::SeqCst);
        let step = self.poll(cx, &flag, &waker);
        flag.stepping.store(false, Ordering::SeqCst);
        let step = match step {
            Some(step) => step,
            // Woken since its last poll began (by a foreign future, maybe on another thread):
            // poll again on its next turn instead of sleeping.
            None if flag.fired.load(Ordering::SeqCst) => Step::Continue,
            None => Step::Wait(Wait::waker(flag.clone())),
        };
        self.waker = Some((flag, waker));
        step
    }
}

impl<Fut> ScriptWork<Fut>
where
    Fut: Future + Send + 'static,
    Fut::Output: ScriptOutput,
{
    /// Polls the future, serving its world accesses in the same work unit, and begins the waits
    /// it asks for. `None` when nothing it awaits is ready: it sleeps on its waker.
    fn poll(&mut self, cx: &mut StepContext, flag: &TaskWaker, waker: &Waker) -> Option<Step> {
        let task = cx.task();
        let mut context = Context::from_waker(waker);
        loop {
            flag.fired.store(false, Ordering::SeqCst);
            if let Poll::Ready(output) = self.future.as_mut().poll(&mut context) {
                return Some(output.finish(cx));
            }
            let yielded = {
                let mut shared = self.cx.lock();
                core::mem::swap(&mut shared.requests, &mut self.requests);
                core::mem::swap(&mut shared.dropped, &mut self.dropped);
                core::mem::take(&mut shared.yielded)
            };
            for id in self.dropped.drain(..) {
                let ticket = {
                    let mut shared = self.cx.lock();
                    let i = shared.pending.iter().position(|(p, _)| *p == id);
                    i.map(|i| shared.pending.swap_remove(i).1)
                };
                match ticket {
                    Some(ticket) => resolve::cancel_awaited(cx.world(), task, ticket),
                    // Dropped before it was served: never served.
                    None => self.requests.retain(|r| r.id() != id),
                }
            }
            let mut served = false;
            let mut resolved = false;
            for request in self.requests.drain(..) {
                match request {
                    Request::World(id, f) => {
                        let world = cx.world();
                        let answer = f(world);
                        world.flush();
                        self.cx.lock().answer(id, Ok(answer));
                        served = true;
                    }
                    Request::Wait(id, wait, collect) => {
                        let shared = self.cx.shared.clone();
                        let deliver: Deliver = Box::new(move |world, result, winner| {
                            let answer = collect(world, task, result, winner);
                            let mut shared = lock(&shared);
                            shared.pending.retain(|(p, _)| *p != id);
                            shared.answer(id, answer);
                        });
                        match resolve::begin(cx.world(), task, wait, Then::Deliver(deliver)) {
                            Some(ticket) => self.cx.lock().pending.push((id, ticket)),
                            None => resolved = true,
                        }
                    }
                }
            }
            if served {
                continue;
            }
            if yielded {
                return Some(Step::Continue);
            }
            if resolved {
                // A wait already resolved when it begins resumes at the back of the queue.
                return Some(Step::Wait(Wait::frames(0)));
            }
            return None;
        }
    }
}

impl Request {
    fn id(&self) -> Id {
        match self {
            Request::World(id, _) | Request::Wait(id, ..) => *id,
        }
    }
}

/// Makes an async task body: `commands.cooperate(script(|cx| async move { ... }))`.
///
/// The closure receives the script's [`ScriptContext`] and returns the future. Each step polls the
/// future once — one work unit under the cooperator's budget; a world access with
/// [`ScriptContext::with_world`] is served within the same unit; only
/// [`yield_now`](ScriptContext::yield_now) or a real wait ends it. Awaiting a [`Wait`] pauses the
/// task exactly like an iterator yielding it (it costs nothing while paused). Foreign futures
/// work too: their waker resumes the task through the wake system.
///
/// The future may end with `()`, or `Result<T, E>`: `Ok(value)` finishes with a
/// [`TaskResult<T>`](crate::TaskResult), `Err` fails the task. Stopping the task drops the future at once (running
/// its destructors), cancels its pending wait and stops the child tasks it
/// [started](ScriptContext::start).
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # use bevy_ecs::prelude::*;
/// #[derive(Resource, Default)]
/// struct Gate {
///     open: bool,
/// }
///
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
/// # app.init_resource::<Gate>();
/// let world = app.world_mut();
/// let keycard = world.spawn_signal();
/// let task = world.cooperate(script(move |cx| async move {
///     cx.wait(Wait::signal(keycard)).await?;
///     cx.with_resource(|g: &mut Gate| g.open = true).await?;
///     Ok::<_, Failure>("welcome")
/// }));
/// world.entity_mut(task).insert(RetainFinished);
/// app.update();
/// assert!(app.world().get::<Paused>(task).is_some()); // costs nothing while it waits
/// app.world_mut().fire_signal(keycard).unwrap();
/// app.update();
/// assert!(app.world().resource::<Gate>().open);
/// assert_eq!(app.world().get::<TaskResult<&str>>(task).unwrap().0, "welcome");
/// ```
pub fn script<F, Fut>(f: F) -> ScriptWork<Fut>
where
    F: FnOnce(ScriptContext) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: ScriptOutput,
{
    let cx = ScriptContext {
        shared: Arc::new(Mutex::new(Shared::default())),
    };
    ScriptWork {
        future: Box::pin(f(cx.clone())),
        cx,
        waker: None,
        requests: Vec::new(),
        dropped: Vec::new(),
    }
}
