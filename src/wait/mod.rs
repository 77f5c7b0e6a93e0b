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
use bevy_ecs::{entity::Entity, world::World};
use core::{fmt, time::Duration};

pub use self::{future::FutureOutput, join::WaitTimedOut};
use self::{
    join::JoinMode,
    registration::{RegisterFn, Registered},
    seam::Ticket,
    signal::Signal,
    timers::Clock,
};

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
/// | [`message`](Wait::message), [`message_where`](Wait::message_where) | a [`Message`](bevy_ecs::message::Message) written after the wait began (and matching) |
/// | [`event`](Wait::event), [`event_on`](Wait::event_on) | an [`EntityEvent`](bevy_ecs::event::EntityEvent) is triggered on the task (or the entity; fails if it is despawned) |
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

    /// A wait that its source registers with code of its own (messages, events, conditions,
    /// futures), named `name` in its `Debug` form.
    pub(crate) fn custom(
        name: &'static str,
        register: impl Fn(&mut World, Entity, Ticket) -> Registered + Send + Sync + 'static,
    ) -> Self {
        Wait::new(WaitKind::Custom(name, Arc::new(register)))
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
