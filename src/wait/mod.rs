//! What a paused task waits for: [`Wait`], and the combinators that join and race waits.

pub(crate) mod condition;
pub(crate) mod event;
pub(crate) mod future;
pub(crate) mod join;
pub(crate) mod message;
pub(crate) mod registration;
pub(crate) mod seam;
pub(crate) mod signal;
pub(crate) mod timers;

use alloc::{boxed::Box, sync::Arc};
use bevy_app::App;
use bevy_ecs::{
    entity::Entity, event::EntityEvent, message::Message, system::IntoSystem, world::World,
};
use core::{fmt, time::Duration};

pub use self::{future::FutureOutput, join::WaitTimedOut};
use self::{join::JoinMode, registration::RegisterFn, seam::Ticket, signal::Signal, timers::Clock};

/// Registers what the wait sources keep.
pub(crate) fn build(app: &mut App) {
    app.init_resource::<timers::WaitTimers>();
}

/// Something a task waits for. Yield it from an iterator (or return [`Step::Wait`](crate::Step))
/// and the task pauses — carrying [`Paused`](crate::Paused), costing nothing — until the wait is
/// resolved, then rejoins the back of its cooperator's run queue.
///
/// A wait that fails (a failed signal, a failed or stopped task, a timeout) fails the waiting task
/// with the same error, unless it was made [`settled`](Wait::settled). A wait that is already
/// resolved when yielded resumes at once, at the back of the queue (Twisted's already-fired
/// Deferred). In an async [`script`](crate::script) an awaited wait returns the failure instead, as
/// an `Err` the script may handle.
///
/// # Kinds
/// | constructor | resumes when |
/// |---|---|
/// | [`signal`](Wait::signal) | the [`Signal`] fires (fails if it fails) |
/// | [`task`](Wait::task) / [`finished`](Wait::finished) | another task ends `Done` (any outcome for `finished`) |
/// | [`frames`](Wait::frames), [`next_frame`](Wait::next_frame) | that many frames passed |
/// | [`duration`](Wait::duration), [`seconds`](Wait::seconds) | that much `Time` passed (virtual: pausing `Time<Virtual>` freezes it) |
/// | [`real`](Wait::real) | that much `Time<Real>` passed |
/// | [`message`](Wait::message), [`message_where`](Wait::message_where) | a [`Message`] written after the wait began (and matching) |
/// | [`event`](Wait::event), [`event_on`](Wait::event_on) | an [`EntityEvent`] is triggered on the task (or the entity; fails if it is despawned) |
/// | [`until`](Wait::until) | a system returning `bool` returns `true` (polled once per frame, however many tasks wait on it) |
/// | [`all`](Wait::all) | every wait resolved (fails at the first failure) |
/// | [`race`](Wait::race) | the first wait resolved; losing tasks are stopped |
/// | [`timeout`](Wait::timeout) | the wait resolved, or fails with [`WaitTimedOut`] |
/// | [`settled`](Wait::settled) | the wait resolved or failed: never fails |
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # use bevy_ecs::prelude::*;
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
/// let world = app.world_mut();
/// let elevator_arrived = world.spawn_signal();
/// // Call the elevator, wait for it, ride it for 2 frames.
/// let ride = world.cooperate(
///     [
///         Step::Continue,
///         Step::Wait(Wait::signal(elevator_arrived)),
///         Step::Wait(Wait::frames(2)),
///     ]
///     .into_iter(),
/// );
/// app.update();
/// assert!(app.world().get::<Paused>(ride).is_some());
/// app.world_mut().fire_signal(elevator_arrived).unwrap();
/// app.update(); // boards, and waits 2 frames
/// app.update();
/// assert!(app.world().get_entity(ride).is_ok());
/// app.update(); // arrived: done
/// assert!(app.world().get_entity(ride).is_err());
/// ```
#[derive(Clone)]
pub struct Wait {
    pub(crate) kind: WaitKind,
}

#[derive(Clone)]
pub(crate) enum WaitKind {
    Signal(Signal),
    Task(Entity),
    /// A task whose typed result moves to the waiter when it ends `Done`.
    Take(Entity, fn(&mut World, Entity, Entity)),
    Frames(u32),
    Time(Clock, Duration),
    /// Registration done by type-specific code (messages, events, conditions).
    Custom(&'static str, RegisterFn),
    /// A task's own waker (a script sleeping until something it awaits is ready).
    Waker(Arc<future::TaskWaker>),
    Join(JoinMode, Vec<Wait>),
    Timeout(Box<Wait>, Clock, Duration),
}

impl fmt::Debug for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            WaitKind::Signal(s) => f.debug_tuple("Signal").field(s).finish(),
            WaitKind::Task(e) | WaitKind::Take(e, _) => f.debug_tuple("Task").field(e).finish(),
            WaitKind::Frames(n) => f.debug_tuple("Frames").field(n).finish(),
            WaitKind::Time(c, d) => f.debug_tuple("Time").field(c).field(d).finish(),
            WaitKind::Custom(name, _) => f.write_str(name),
            WaitKind::Waker(_) => f.write_str("Waker"),
            WaitKind::Join(mode, waits) => f.debug_tuple("Join").field(mode).field(waits).finish(),
            WaitKind::Timeout(w, c, d) => {
                f.debug_tuple("Timeout").field(w).field(c).field(d).finish()
            }
        }
    }
}

impl Wait {
    pub(crate) fn new(kind: WaitKind) -> Self {
        Wait { kind }
    }

    /// Until the signal fires (or fails, failing the task).
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// let world = app.world_mut();
    /// let bridge_lowered = world.spawn_signal();
    /// let caravan = world.cooperate([Wait::signal(bridge_lowered)].into_iter());
    /// app.update();
    /// assert!(app.world().get::<Paused>(caravan).is_some());
    /// app.world_mut().fire_signal(bridge_lowered).unwrap();
    /// app.update();
    /// assert!(app.world().get_entity(caravan).is_err()); // across and done
    /// ```
    pub fn signal(signal: Signal) -> Self {
        Wait::new(WaitKind::Signal(signal))
    }

    /// Until another task finishes. `Done` resumes; any other outcome fails the waiting task
    /// (a failure is passed on as is; a stop becomes a [`TaskError`](crate::TaskError) failure). Use
    /// [`Wait::finished`] to resume whatever the outcome.
    ///
    /// This is how `yield coiterate(...)` sequencing is written: start a task, wait for it.
    /// Waiting on an entity that is no task (or a finished one already cleaned up) fails.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// #[derive(Resource, Default)]
    /// struct Order(Vec<&'static str>);
    /// # app.init_resource::<Order>();
    ///
    /// // Load the level, then spawn the player: a task waits for the other.
    /// let world = app.world_mut();
    /// let level = world.cooperate((0..6).map(|_chunk| ()));
    /// let mut waited = false;
    /// world.cooperate(from_fn(move |cx: &mut StepContext| {
    ///     if !std::mem::replace(&mut waited, true) {
    ///         return Step::Wait(Wait::task(level));
    ///     }
    ///     cx.world().resource_mut::<Order>().0.push("player");
    ///     Step::Done
    /// }));
    /// app.update();
    /// app.update();
    /// assert!(app.world().resource::<Order>().0.is_empty()); // 7 steps of loading first
    /// app.update();
    /// assert_eq!(app.world().resource::<Order>().0, ["player"]);
    /// ```
    pub fn task(task: Entity) -> Self {
        Wait::new(WaitKind::Task(task))
    }

    /// Until another task finishes, whatever its outcome: `Wait::task(task).settled()`.
    ///
    /// Waiting on itself, or on a task that waits (through others) on this one, would never
    /// end: such a wait fails at once with a [`WaitCycle`](crate::WaitCycle), settled or not.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// let world = app.world_mut();
    /// let download = world.cooperate(std::iter::repeat(()));
    /// // Clean up the temporary files whether the download finishes or not.
    /// let cleanup = world.cooperate([Wait::finished(download)].into_iter());
    /// world.entity_mut(cleanup).insert(RetainFinished);
    /// app.update();
    /// app.world_mut().stop_task(download).unwrap(); // cancelled
    /// app.update();
    /// assert_eq!(app.world().task_outcome(cleanup), Some(Outcome::Done));
    /// ```
    pub fn finished(task: Entity) -> Self {
        Wait::task(task).settled()
    }

    /// For `n` frames: the task runs again `n` frames later. `frames(0)` only moves the task to the
    /// back of the run queue.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// // A torch flickers every 3 frames.
    /// let torch = app.world_mut().cooperate(std::iter::repeat_with(|| Wait::frames(3)));
    /// for _ in 0..7 {
    ///     app.update();
    /// }
    /// // It ran in frames 1, 4 and 7.
    /// assert_eq!(app.world().task_steps(torch), Ok(3));
    /// ```
    pub fn frames(n: u32) -> Self {
        Wait::new(WaitKind::Frames(n))
    }

    /// Until the next frame: [`Wait::frames(1)`](Wait::frames).
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// // One step a frame, whatever the budget.
    /// let crowd = app.world_mut().cooperate(std::iter::repeat_with(Wait::next_frame));
    /// for _ in 0..5 {
    ///     app.update();
    /// }
    /// assert_eq!(app.world().task_steps(crowd), Ok(5));
    /// ```
    pub fn next_frame() -> Self {
        Wait::frames(1)
    }

    /// For `duration` of `Time` in the plugin's schedule (`Time<Virtual>` in `Update`): pausing
    /// or slowing virtual time pauses or slows the wait, so a cutscene pauses with the game.
    ///
    /// The task resumes in the [`Wake`](crate::CooperatorSystems::Wake) of the first frame whose
    /// elapsed time reaches the deadline. Needs `TimePlugin`; without a `Time` resource the wait
    /// fails. `Duration::ZERO` is resolved at once (the task goes to the back of the run queue);
    /// a deadline past what `Duration` holds (`Duration::MAX`) is never reached: the task waits
    /// until it is stopped, or a [`race`](Wait::race) or [`timeout`](Wait::timeout) around the
    /// wait settles it.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # use bevy_time::{TimePlugin, TimeUpdateStrategy};
    /// # let mut app = App::new();
    /// # app.add_plugins((TimePlugin, CooperatorPlugin::default().with_budget(Budget::Steps(4))))
    /// #     .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(100)));
    /// # app.finish();
    /// # app.cleanup();
    /// use bevy_time::{Time, Virtual};
    ///
    /// // A trap re-arms 300 ms after springing; frames are 100 ms here.
    /// let trap = app.world_mut().cooperate(
    ///     [Step::Wait(Wait::duration(Duration::from_millis(300))), Step::Done].into_iter(),
    /// );
    /// app.update(); // springs at 0 ms (the first frame's time): re-arms at 300 ms of game time
    /// // The game is paused for a frame: virtual time stands still, and so does the wait.
    /// app.world_mut().resource_mut::<Time<Virtual>>().pause();
    /// app.update();
    /// app.world_mut().resource_mut::<Time<Virtual>>().unpause();
    /// app.update();
    /// app.update();
    /// assert!(app.world().get::<Paused>(trap).is_some()); // only 200 ms of game time
    /// app.update();
    /// assert!(app.world().get_entity(trap).is_err());
    /// ```
    pub fn duration(duration: Duration) -> Self {
        Wait::new(WaitKind::Time(Clock::Virtual, duration))
    }

    /// [`Wait::duration`] in seconds, rounded to the microsecond (so `0.05` is exactly 50 ms).
    ///
    /// Never panics. Zero, negative values (`-∞` included) and NaN are a zero wait, resolved at
    /// once: the task goes to the back of the run queue, as for `Duration::ZERO`. `+∞`, and
    /// values beyond `u64::MAX` microseconds (about 585,000 years), never resolve by time.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # use bevy_time::{TimePlugin, TimeUpdateStrategy};
    /// # let mut app = App::new();
    /// # app.add_plugins((TimePlugin, CooperatorPlugin::default().with_budget(Budget::Steps(4))))
    /// #     .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(100)));
    /// # app.finish();
    /// # app.cleanup();
    /// // A respawn timer of half a second; frames are 100 ms here.
    /// let respawn = app.world_mut().cooperate([Wait::seconds(0.5)].into_iter());
    /// for _ in 0..5 {
    ///     app.update(); // starts at 0 ms (the first frame's time), due at 500 ms
    /// }
    /// assert!(app.world().get::<Paused>(respawn).is_some());
    /// app.update();
    /// assert!(app.world().get_entity(respawn).is_err());
    /// ```
    pub fn seconds(seconds: f32) -> Self {
        let micros = (f64::from(seconds.max(0.0)) * 1e6).round();
        Wait::duration(Duration::from_micros(micros as u64))
    }

    /// For `duration` of `Time<Real>`: wall-clock time, not frozen by pausing virtual time.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # use bevy_time::{TimePlugin, TimeUpdateStrategy};
    /// # let mut app = App::new();
    /// # app.add_plugins((TimePlugin, CooperatorPlugin::default().with_budget(Budget::Steps(4))))
    /// #     .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(100)));
    /// # app.finish();
    /// # app.cleanup();
    /// use bevy_time::{Time, Virtual};
    ///
    /// // The pause menu's "are you still there?" prompt runs on real time.
    /// app.world_mut().resource_mut::<Time<Virtual>>().pause();
    /// let prompt = app.world_mut().cooperate([Wait::real(Duration::from_millis(200))].into_iter());
    /// app.update(); // 0 ms (the first frame's time): due at 200 ms
    /// app.update();
    /// assert!(app.world().get::<Paused>(prompt).is_some());
    /// app.update();
    /// assert!(app.world().get_entity(prompt).is_err()); // though the game is paused
    /// ```
    pub fn real(duration: Duration) -> Self {
        Wait::new(WaitKind::Time(Clock::Real, duration))
    }

    /// Until a message of type `M` written after the wait began is seen (in the next
    /// [`Wake`](crate::CooperatorSystems::Wake)). The message is not consumed: other readers still
    /// see it. `M` must be registered with `add_message`, or the wait fails.
    ///
    /// Costs nothing for message types no task waits on.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// #[derive(Message)]
    /// struct PlayerDied;
    ///
    /// app.add_message::<PlayerDied>();
    /// let game_over = app.world_mut().cooperate([Wait::message::<PlayerDied>()].into_iter());
    /// app.update();
    /// app.world_mut().write_message(PlayerDied);
    /// app.update();
    /// assert!(app.world().get_entity(game_over).is_err()); // resumed and done
    /// ```
    pub fn message<M: Message>() -> Self {
        Wait::new(WaitKind::Custom(
            "Message",
            Arc::new(|world: &mut World, task: Entity, ticket: Ticket| {
                message::register::<M>(world, task, ticket, None)
            }),
        ))
    }

    /// Until a message of type `M`, written after the wait began, for which `filter` is true.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// #[derive(Message)]
    /// struct ScoreChanged(u32);
    ///
    /// app.add_message::<ScoreChanged>();
    /// let achievement = app
    ///     .world_mut()
    ///     .cooperate([Wait::message_where(|s: &ScoreChanged| s.0 >= 1000)].into_iter());
    /// app.update();
    /// app.world_mut().write_message(ScoreChanged(400));
    /// app.update();
    /// assert!(app.world().get::<Paused>(achievement).is_some());
    /// app.world_mut().write_message(ScoreChanged(1200));
    /// app.update();
    /// assert!(app.world().get_entity(achievement).is_err()); // unlocked
    /// ```
    pub fn message_where<M: Message>(filter: impl Fn(&M) -> bool + Send + Sync + 'static) -> Self {
        let filter: message::Filter<M> = Arc::new(filter);
        Wait::new(WaitKind::Custom(
            "MessageWhere",
            Arc::new(move |world: &mut World, task: Entity, ticket: Ticket| {
                message::register::<M>(world, task, ticket, Some(filter.clone()))
            }),
        ))
    }

    /// A message wait that also hands the message that resolved it to `sink` (scripts).
    pub(crate) fn message_into<M: Message>(
        filter: Option<message::Filter<M>>,
        sink: message::Sink<M>,
    ) -> Self {
        Wait::new(WaitKind::Custom(
            "Message",
            Arc::new(move |world: &mut World, task: Entity, ticket: Ticket| {
                message::register_into::<M>(world, task, ticket, filter.clone(), Some(sink.clone()))
            }),
        ))
    }

    /// Until the observer event `E` is triggered on the waiting task's own entity (for example
    /// `world.trigger(Advance { entity: task })`). Only triggers after the wait began count.
    ///
    /// An observer watching the task entity exists while the wait is pending and is despawned
    /// when it ends; the task resumes at the next command flush after the trigger.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// #[derive(EntityEvent)]
    /// struct Interact {
    ///     entity: Entity,
    /// }
    ///
    /// // An NPC's script waits until the player talks to it.
    /// let npc = app.world_mut().spawn_empty().id();
    /// app.world_mut().entity_mut(npc).cooperate([Wait::event::<Interact>()].into_iter());
    /// app.update();
    /// assert!(app.world().get::<Paused>(npc).is_some());
    /// app.world_mut().trigger(Interact { entity: npc });
    /// app.update();
    /// assert!(app.world().get::<CooperativeTask>(npc).is_none()); // done, the NPC stays
    /// ```
    pub fn event<E: EntityEvent>() -> Self {
        Wait::new(WaitKind::Custom(
            "Event",
            Arc::new(|world: &mut World, task: Entity, ticket: Ticket| {
                event::register::<E>(world, task, ticket, None)
            }),
        ))
    }

    /// Until the observer event `E` is triggered on `entity`. Waiting on a missing entity fails,
    /// and so does the wait if `entity` is despawned while the task waits (at the next command
    /// flush after the despawn): the failure names the entity.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// #[derive(EntityEvent)]
    /// struct Pressed {
    ///     entity: Entity,
    /// }
    ///
    /// let world = app.world_mut();
    /// let [start, quit] = [world.spawn_empty().id(), world.spawn_empty().id()];
    /// let menu = world.cooperate([Wait::event_on::<Pressed>(start)].into_iter());
    /// let farewell = world.cooperate([Wait::event_on::<Pressed>(quit)].into_iter());
    /// world.entity_mut(farewell).insert(RetainFinished);
    /// app.update();
    /// app.world_mut().trigger(Pressed { entity: start });
    /// app.world_mut().despawn(quit); // the quit button goes away
    /// app.update();
    /// assert!(app.world().get_entity(menu).is_err()); // started the game
    /// assert!(app.world().task_outcome(farewell).unwrap().failure().is_some());
    /// ```
    pub fn event_on<E: EntityEvent>(entity: Entity) -> Self {
        Wait::new(WaitKind::Custom(
            "EventOn",
            Arc::new(move |world: &mut World, task: Entity, ticket: Ticket| {
                event::register::<E>(world, task, ticket, Some(entity))
            }),
        ))
    }

    /// Until `condition` (a read-only or ordinary system returning `bool`) returns `true`.
    ///
    /// It runs once when the wait begins (resuming at once if already true), then once per frame
    /// in [`Wake`](crate::CooperatorSystems::Wake) while any task waits on it. Clones of one
    /// `Wait::until` share one system (and its state, such as `Local`s): any number of tasks may
    /// wait on it at once, it runs once per frame for all of them, and a `true` resumes them all.
    /// Separate `Wait::until` calls make separate systems, each polled on its own. Conditions no
    /// task waits on cost nothing. A system that cannot run (missing resource) fails the wait.
    ///
    /// A condition's system belongs to the first world it runs in: waiting on it (or a clone) in
    /// another world fails.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// #[derive(Resource, Default)]
    /// struct Keys(u32);
    ///
    /// # app.init_resource::<Keys>();
    /// // The vault opens once three keys are found.
    /// let vault = app.world_mut().cooperate([Wait::until(|keys: Res<Keys>| keys.0 >= 3)].into_iter());
    /// app.update();
    /// app.world_mut().resource_mut::<Keys>().0 = 2;
    /// app.update();
    /// assert!(app.world().get::<Paused>(vault).is_some());
    /// app.world_mut().resource_mut::<Keys>().0 = 3;
    /// app.update();
    /// assert!(app.world().get_entity(vault).is_err());
    /// ```
    pub fn until<M>(condition: impl IntoSystem<(), bool, M>) -> Self {
        let home = condition::home(Box::new(IntoSystem::into_system(condition)));
        Wait::new(WaitKind::Custom(
            "Until",
            Arc::new(move |world: &mut World, task: Entity, ticket: Ticket| {
                condition::register(world, task, ticket, &home)
            }),
        ))
    }

    /// Until `future` completes — any `Send` future: a `bevy_tasks::Task<T>` spawned on a task
    /// pool, an asset load, a channel's receiver. Its output arrives in the returned
    /// [`FutureOutput`]; take it once the task has resumed. The task is paused (and costs
    /// nothing) meanwhile: the future is polled when the wait begins and then only when its
    /// waker fires. Stopping the task drops the future, which cancels a `bevy_tasks::Task`.
    ///
    /// Work meant for other threads goes to `AsyncComputeTaskPool::get().spawn(..)`; it runs on
    /// real threads only with `bevy_tasks`' `multi_threaded` feature (part of Bevy's default
    /// features), and otherwise on the thread that ticks the task pools.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default());
    /// let (wait, output) = Wait::future(async { 6 * 7 });
    /// let task = app.world_mut().cooperate(std::iter::once(wait));
    /// app.update();
    /// assert_eq!(output.take(), Some(42));
    /// ```
    pub fn future<F>(future: F) -> (Self, FutureOutput<F::Output>)
    where
        F: core::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (slot, output) = future::slot(future);
        let wait = Wait::new(WaitKind::Custom(
            "Future",
            Arc::new(move |world: &mut World, task: Entity, ticket: Ticket| {
                future::register(world, task, ticket, &slot)
            }),
        ));
        (wait, output)
    }

    /// Until every one of `waits` is resolved; fails with the first failure (the others are then
    /// cancelled, not stopped). `all` of nothing resumes at once.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// let world = app.world_mut();
    /// let [terrain, props] = [world.spawn_signal(), world.spawn_signal()];
    /// // The level opens when everything is loaded, and not before 2 frames of fade-in.
    /// let open = world.cooperate(
    ///     [Wait::all([Wait::signal(terrain), Wait::signal(props), Wait::frames(2)])].into_iter(),
    /// );
    /// app.update();
    /// app.world_mut().fire_signal(terrain).unwrap();
    /// app.update();
    /// app.update();
    /// assert!(app.world().get::<Paused>(open).is_some()); // props still loading
    /// app.world_mut().fire_signal(props).unwrap();
    /// app.update();
    /// assert!(app.world().get_entity(open).is_err());
    /// ```
    pub fn all(waits: impl IntoIterator<Item = Wait>) -> Self {
        Wait::new(WaitKind::Join(JoinMode::All, waits.into_iter().collect()))
    }

    /// Until the first of `waits` is resolved (or fails: the race then fails with it). The
    /// losers are cancelled, and losing [`task`](Wait::task) waits **stop their task** (and so
    /// settle everything waiting on it), as UE5Coro's `Race`. The winner's index is then in
    /// [`CooperativeTask::race_winner`](crate::CooperativeTask::race_winner). `race` of nothing resumes at once.
    /// A branch that would close a cycle of tasks waiting on each other can never win; the race
    /// fails with the [`WaitCycle`](crate::WaitCycle) only when every branch would.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// let world = app.world_mut();
    /// // Two search parties look for the lost cat; the first to find it wins.
    /// let north = world.cooperate((0..3).map(|_| ()));
    /// let south = world.cooperate(std::iter::repeat(()));
    /// let owner = world.cooperate([Wait::race([Wait::task(north), Wait::task(south)])].into_iter());
    /// for task in [south, owner] {
    ///     world.entity_mut(task).insert(RetainFinished);
    /// }
    /// app.update();
    /// app.update(); // north finds it; south is stopped
    /// app.update(); // the owner resumes
    /// assert_eq!(app.world().get::<CooperativeTask>(owner).unwrap().race_winner(), Some(0));
    /// assert_eq!(app.world().task_outcome(owner), Some(Outcome::Done));
    /// // The other party is called back.
    /// assert_eq!(app.world().task_outcome(south), Some(Outcome::Stopped));
    /// ```
    pub fn race(waits: impl IntoIterator<Item = Wait>) -> Self {
        Wait::new(WaitKind::Join(JoinMode::Race, waits.into_iter().collect()))
    }

    /// This wait, but one that never fails: a failure resumes the task like a success. A wait
    /// that can never resolve, because it would close a cycle of tasks waiting on each other,
    /// still fails with the [`WaitCycle`](crate::WaitCycle): resuming would claim an end that
    /// never came.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// let world = app.world_mut();
    /// let achievement_sync = world.spawn_signal();
    /// // The credits roll whether or not the achievement server answered.
    /// let credits = world.cooperate([Wait::signal(achievement_sync).settled()].into_iter());
    /// world.entity_mut(credits).insert(RetainFinished);
    /// app.update();
    /// app.world_mut().fail_signal(achievement_sync, "offline").unwrap();
    /// app.update();
    /// assert_eq!(app.world().task_outcome(credits), Some(Outcome::Done));
    /// ```
    #[must_use]
    pub fn settled(self) -> Self {
        Wait::new(WaitKind::Join(JoinMode::Settled, alloc::vec![self]))
    }

    /// This wait, or fail with [`WaitTimedOut`] after `duration` of `Time` (virtual). A timed-out
    /// [`task`](Wait::task) wait stops the task, as a lost [`race`](Wait::race).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # use bevy_time::{TimePlugin, TimeUpdateStrategy};
    /// # let mut app = App::new();
    /// # app.add_plugins((TimePlugin, CooperatorPlugin::default().with_budget(Budget::Steps(4))))
    /// #     .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(100)));
    /// # app.finish();
    /// # app.cleanup();
    /// use bevy_cooperator::WaitTimedOut;
    ///
    /// // A player has 300 ms to answer the trade request (frames are 100 ms here).
    /// let world = app.world_mut();
    /// let accepted = world.spawn_signal();
    /// let trade = world.cooperate(
    ///     [Wait::signal(accepted).timeout(Duration::from_millis(300))].into_iter(),
    /// );
    /// world.entity_mut(trade).insert(RetainFinished);
    /// for _ in 0..4 {
    ///     app.update();
    /// }
    /// let outcome = app.world().task_outcome(trade).unwrap();
    /// let timed_out = outcome.failure().unwrap().downcast_ref::<WaitTimedOut>();
    /// assert_eq!(timed_out, Some(&WaitTimedOut(Duration::from_millis(300))));
    /// ```
    #[must_use]
    pub fn timeout(self, duration: Duration) -> Self {
        Wait::new(WaitKind::Timeout(Box::new(self), Clock::Virtual, duration))
    }

    /// [`Wait::timeout`] on `Time<Real>`: runs out while the game is paused too.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # use bevy_time::{TimePlugin, TimeUpdateStrategy};
    /// # let mut app = App::new();
    /// # app.add_plugins((TimePlugin, CooperatorPlugin::default().with_budget(Budget::Steps(4))))
    /// #     .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(100)));
    /// # app.finish();
    /// # app.cleanup();
    /// use bevy_time::{Time, Virtual};
    ///
    /// app.world_mut().resource_mut::<Time<Virtual>>().pause();
    /// let world = app.world_mut();
    /// let reconnected = world.spawn_signal();
    /// let session = world.cooperate(
    ///     [Wait::signal(reconnected).timeout_real(Duration::from_millis(200))].into_iter(),
    /// );
    /// world.entity_mut(session).insert(RetainFinished);
    /// for _ in 0..3 {
    ///     app.update();
    /// }
    /// assert!(app.world().task_outcome(session).unwrap().failure().is_some());
    /// ```
    #[must_use]
    pub fn timeout_real(self, duration: Duration) -> Self {
        Wait::new(WaitKind::Timeout(Box::new(self), Clock::Real, duration))
    }

    /// Until `waker` fires.
    pub(crate) fn waker(waker: Arc<future::TaskWaker>) -> Self {
        Wait::new(WaitKind::Waker(waker))
    }

    /// For `task`, whose typed result `take` moves to the waiter when it ends `Done`.
    pub(crate) fn take(task: Entity, take: fn(&mut World, Entity, Entity)) -> Self {
        Wait::new(WaitKind::Take(task, take))
    }

    /// The task a race loser would stop.
    pub(crate) fn target(&self) -> Option<Entity> {
        match &self.kind {
            WaitKind::Task(e) | WaitKind::Take(e, _) => Some(*e),
            WaitKind::Join(JoinMode::Settled, w) => w.first().and_then(Wait::target),
            WaitKind::Timeout(w, ..) => w.target(),
            _ => None,
        }
    }
}

/// How many waits are pending at their sources: a snapshot for diagnostics and leak checks.
///
/// Signal and task waits are not counted: they live in the signal or task they wait on. Event
/// waits are observer entities (one per pending wait).
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::{PendingWaits, prelude::*};
/// # use bevy_ecs::prelude::*;
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
/// #[derive(Message)]
/// struct Alarm;
///
/// app.add_message::<Alarm>();
/// let world = app.world_mut();
/// world.cooperate([Wait::frames(10)].into_iter());
/// let guards = [(); 2].map(|()| world.cooperate([Wait::message::<Alarm>()].into_iter()));
/// app.update();
/// let pending = PendingWaits::of(app.world());
/// assert_eq!((pending.timers, pending.messages), (1, 2));
///
/// // Leak check: nothing is left once the tasks are gone.
/// for guard in guards {
///     app.world_mut().stop_task(guard).unwrap();
/// }
/// assert_eq!(PendingWaits::of(app.world()).messages, 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PendingWaits {
    /// Frame and time timers.
    pub timers: usize,
    /// Message waits, all types together.
    pub messages: usize,
    /// Condition waits (tasks).
    pub conditions: usize,
    /// Distinct conditions polled each frame: one per [`Wait::until`] (and its clones) that any
    /// task waits on, however many tasks wait on it.
    pub condition_systems: usize,
    /// Future waits ([`Wait::future`]).
    pub futures: usize,
}

impl PendingWaits {
    /// The pending waits of `world`. See the example on [`PendingWaits`].
    pub fn of(world: &World) -> Self {
        PendingWaits {
            timers: world
                .get_resource::<timers::WaitTimers>()
                .map_or(0, timers::WaitTimers::len),
            messages: world
                .get_resource::<message::ActiveMessageWaits>()
                .map_or(0, |a| a.waiters),
            conditions: world
                .get_resource::<condition::ConditionWaits>()
                .map_or(0, condition::ConditionWaits::len),
            condition_systems: world
                .get_resource::<condition::ConditionWaits>()
                .map_or(0, condition::ConditionWaits::systems),
            futures: world
                .get_resource::<future::FutureWaits>()
                .map_or(0, future::FutureWaits::len),
        }
    }
}
