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
    pub fn signal(signal: Signal) -> Self {
        Wait::new(WaitKind::Signal(signal))
    }

    /// Until another task finishes. `Done` resumes; any other outcome fails the waiting task
    /// (a failure is passed on as is; a stop becomes a [`TaskError`](crate::TaskError) failure). Use
    /// [`Wait::finished`] to resume whatever the outcome.
    ///
    /// This is how `yield coiterate(...)` sequencing is written: start a task, wait for it.
    /// Waiting on an entity that is no task (or a finished one already cleaned up) fails.
    pub fn task(task: Entity) -> Self {
        Wait::new(WaitKind::Task(task))
    }

    /// Until another task finishes, whatever its outcome: `Wait::task(task).settled()`.
    pub fn finished(task: Entity) -> Self {
        Wait::task(task).settled()
    }

    /// For `n` frames: the task runs again `n` frames later. `frames(0)` only moves the task to the
    /// back of the run queue.
    pub fn frames(n: u32) -> Self {
        Wait::new(WaitKind::Frames(n))
    }

    /// Until the next frame: [`Wait::frames(1)`](Wait::frames).
    pub fn next_frame() -> Self {
        Wait::frames(1)
    }

    /// For `duration` of `Time` in the plugin's schedule (`Time<Virtual>` in `Update`): pausing
    /// or slowing virtual time pauses or slows the wait, so a cutscene pauses with the game.
    ///
    /// The task resumes in the [`Wake`](crate::CooperatorSystems::Wake) of the first frame whose
    /// elapsed time reaches the deadline. Needs `TimePlugin`; without a `Time` resource the wait
    /// fails.
    pub fn duration(duration: Duration) -> Self {
        Wait::new(WaitKind::Time(Clock::Virtual, duration))
    }

    /// [`Wait::duration`] in seconds, rounded to the microsecond (so `0.05` is exactly 50 ms).
    pub fn seconds(seconds: f32) -> Self {
        let micros = (f64::from(seconds.max(0.0)) * 1e6).round();
        Wait::duration(Duration::from_micros(micros as u64))
    }

    /// For `duration` of `Time<Real>`: wall-clock time, not frozen by pausing virtual time.
    pub fn real(duration: Duration) -> Self {
        Wait::new(WaitKind::Time(Clock::Real, duration))
    }

    /// Until a message of type `M` written after the wait began is seen (in the next
    /// [`Wake`](crate::CooperatorSystems::Wake)). The message is not consumed: other readers still
    /// see it. `M` must be registered with `add_message`, or the wait fails.
    ///
    /// Costs nothing for message types no task waits on.
    pub fn message<M: Message>() -> Self {
        Wait::new(WaitKind::Custom(
            "Message",
            Arc::new(|world: &mut World, task: Entity, ticket: Ticket| {
                message::register::<M>(world, task, ticket, None)
            }),
        ))
    }

    /// Until a message of type `M`, written after the wait began, for which `filter` is true.
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
    pub fn all(waits: impl IntoIterator<Item = Wait>) -> Self {
        Wait::new(WaitKind::Join(JoinMode::All, waits.into_iter().collect()))
    }

    /// Until the first of `waits` is resolved (or fails: the race then fails with it). The
    /// losers are cancelled, and losing [`task`](Wait::task) waits **stop their task** (and so
    /// settle everything waiting on it), as UE5Coro's `Race`. The winner's index is then in
    /// [`CooperativeTask::race_winner`](crate::CooperativeTask::race_winner). `race` of nothing resumes at once.
    pub fn race(waits: impl IntoIterator<Item = Wait>) -> Self {
        Wait::new(WaitKind::Join(JoinMode::Race, waits.into_iter().collect()))
    }

    /// This wait, but one that never fails: a failure resumes the task like a success.
    #[must_use]
    pub fn settled(self) -> Self {
        Wait::new(WaitKind::Join(JoinMode::Settled, alloc::vec![self]))
    }

    /// This wait, or fail with [`WaitTimedOut`] after `duration` of `Time` (virtual). A timed-out
    /// [`task`](Wait::task) wait stops the task, as a lost [`race`](Wait::race).
    #[must_use]
    pub fn timeout(self, duration: Duration) -> Self {
        Wait::new(WaitKind::Timeout(Box::new(self), Clock::Virtual, duration))
    }

    /// [`Wait::timeout`] on `Time<Real>`.
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
    /// The pending waits of `world`.
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
