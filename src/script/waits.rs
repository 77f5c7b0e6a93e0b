//! What a script waits for: [`ScriptContext::wait`] and its shorthands, a message, a race, all
//! of several waits, a joined task's typed result.

use alloc::{boxed::Box, sync::Arc};
use bevy_ecs::{entity::Entity, message::Message, system::IntoSystem};
use core::{any::Any, time::Duration};
use std::sync::Mutex;

use crate::{
    error::lock,
    outcome::Failure,
    script::{
        ask::ScriptContext,
        futures::{Awaiting, WaitFuture},
    },
    task::result::{Joined, move_result},
    wait::{
        Wait,
        message::{Filter, Sink},
    },
};

impl ScriptContext {
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
        WaitFuture(Awaiting::new(
            self,
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
        let winner: Option<u32> = Awaiting::new(
            self,
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
        Awaiting::new(
            self,
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
