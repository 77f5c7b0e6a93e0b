//! How much work a cooperator does per frame: [`Budget`], and its per-tick form.

use alloc::{boxed::Box, sync::Arc};
use bevy_ecs::{
    entity::Entity,
    system::{BoxedSystem, IntoSystem},
    world::{World, WorldId},
};
use core::{
    fmt,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};
use std::sync::{LazyLock, Mutex};

use crate::{
    clock::{CooperatorClock, Watcher, nanos},
    error::lock,
    watch::Watch,
};

/// A predicate polled after every step; `true` ends the tick.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::{Predicate, PredicateFactory, prelude::*};
/// // A factory may pick a different predicate each tick, boxed to one type.
/// let budget = Budget::Custom(PredicateFactory::new(|| -> Predicate {
///     let mut left = 2;
///     Box::new(move || {
///         left -= 1;
///         left == 0
///     })
/// }));
/// let mut app = App::new();
/// app.add_plugins(CooperatorPlugin::default().with_budget(budget));
/// let task = app.world_mut().cooperate(std::iter::repeat(()));
/// app.update();
/// assert_eq!(app.world().task_steps(task), Ok(2));
/// ```
pub type Predicate = Box<dyn FnMut() -> bool + Send>;

/// Builds a fresh [`Predicate`] at the start of every tick (Twisted's `terminationPredicateFactory`):
/// a closure, or a Bevy system that reads the world. [`Budget::custom`] and [`Budget::system`]
/// build one for you; see their examples.
#[derive(Clone)]
pub struct PredicateFactory(Factory);

#[derive(Clone)]
enum Factory {
    Fn(Arc<dyn Fn() -> Predicate + Send + Sync>),
    System(Arc<Mutex<SystemSlot>>),
}

/// A system factory and the world it was initialized for.
struct SystemSlot {
    /// `None` while it runs (or after it panicked).
    system: Option<BoxedSystem<(), Predicate>>,
    world: Option<WorldId>,
}

impl PredicateFactory {
    /// Wraps a factory.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::{PredicateFactory, prelude::*};
    /// // Pathfinding expands at most 6 nodes a frame, each node a step.
    /// let factory = PredicateFactory::new(|| {
    ///     let mut nodes = 0;
    ///     move || {
    ///         nodes += 1;
    ///         nodes >= 6
    ///     }
    /// });
    /// let mut app = App::new();
    /// app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Custom(factory)));
    /// let search = app.world_mut().cooperate(std::iter::repeat(()));
    /// app.update();
    /// assert_eq!(app.world().task_steps(search), Ok(6));
    /// ```
    pub fn new<P>(factory: impl Fn() -> P + Send + Sync + 'static) -> Self
    where
        P: FnMut() -> bool + Send + 'static,
    {
        PredicateFactory(Factory::Fn(Arc::new(move || {
            Box::new(factory()) as Predicate
        })))
    }

    /// A factory that is a Bevy system: it may read `Res<Time>`, `Res<Time<Real>>`, settings,
    /// diagnostics — anything a system can — and returns the tick's predicate. See
    /// [`Budget::system`], which wraps it, for an example.
    pub fn system<P, M>(system: impl IntoSystem<(), P, M>) -> Self
    where
        P: FnMut() -> bool + Send + 'static,
    {
        let system = IntoSystem::into_system(system.map(|p: P| Box::new(p) as Predicate));
        PredicateFactory(Factory::System(Arc::new(Mutex::new(SystemSlot {
            system: Some(Box::new(system)),
            world: None,
        }))))
    }

    /// The predicate for this tick. A system factory that cannot run (it belongs to another
    /// world, its parameters are missing, it panicked before) gives a predicate that ends the
    /// tick after one step, and says why in the log.
    pub(crate) fn build(&self, world: &mut World) -> Predicate {
        match &self.0 {
            Factory::Fn(f) => f(),
            Factory::System(slot) => run_factory(slot, world).unwrap_or_else(|why| {
                log::warn!("bevy_cooperator: a budget's predicate system cannot run: {why}");
                Box::new(|| true)
            }),
        }
    }
}

fn run_factory(
    slot: &Mutex<SystemSlot>,
    world: &mut World,
) -> Result<Predicate, alloc::string::String> {
    let mut system = {
        let mut slot = lock(slot);
        if slot.world.is_some_and(|id| id != world.id()) {
            return Err("it belongs to another world: build one per world".into());
        }
        let mut system = slot
            .system
            .take()
            .ok_or_else(|| alloc::string::String::from("it panicked in an earlier tick"))?;
        if slot.world.is_none() {
            slot.world = Some(world.id());
            drop(slot);
            system.initialize(world);
        }
        system
    };
    let result = system.run((), world).map_err(|e| alloc::format!("{e}"));
    system.apply_deferred(world);
    lock(slot).system = Some(system);
    result
}

impl fmt::Debug for PredicateFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PredicateFactory(..)")
    }
}

/// How much work a [`Cooperator`](crate::Cooperator) may do in one frame.
///
/// Whatever the budget, a tick that starts with a runnable task runs **at least one step**
/// (Twisted's rule): a zero budget makes slow progress, never none.
///
/// # The guarantee
/// With [`Budget::Time`] and [`Budget::FrameFraction`], a tick ends at most **one step** past its
/// deadline for every mix of tasks whose own step costs are steady or change gradually: a crowd
/// of cheap tasks with heavy ones among them, a ramp, tasks turning heavy one after another. It
/// does not depend on a thread waking on time. The step loop reads the clock after a batch of
/// steps whose predicted cost stays within 1/32 of the budget and half of the time left. A task
/// whose step was seen taking a microsecond or more is marked heavy, and the clock is read
/// after each of its steps (a few percent of such a step). A batch that took more than twice
/// its allowance marks its tasks, which are then timed alone, and the rest of that tick reads
/// the clock after every step.
///
/// The one exception: a **single task whose step cost jumps inside one batch** (50 ns steps that
/// turn into 1 ms steps) may run on for the rest of that batch. A deadline watcher thread ends
/// it: it raises a flag the loop reads after every step (one atomic load). The bound is then one
/// step plus the watcher's lateness. On a 2-core Linux VM that lateness was 34 µs at the
/// median, 182 µs at p99 and 1.8 ms at most (`benches/adherence`). When a task's step cost jumps
/// in a crowd, the bound is one step plus the rest of one batch of cheap steps, at most 1/32 of
/// the budget.
///
/// Where no watcher thread can run, or the clock is a [`CooperatorClock::manual`] one, the clock
/// is read after every step instead. [`Watcher`] injects a late or absent watcher, to test
/// these bounds.
///
/// Every value is accepted: a duration too large to add saturates (the tick is then unlimited in
/// practice), a NaN or negative [`FrameFraction`](Budget::FrameFraction) counts as 0, and a `min`
/// above `max` is taken as the bound.
///
/// ```
/// # use std::time::Duration;
/// # use bevy_app::App;
/// # use bevy_cooperator::{CooperatorClock, prelude::*};
/// let mut app = App::new();
/// app.add_plugins(CooperatorPlugin::default().with_budget(Budget::millis(1)));
/// // A clock driven by hand, so that this example does not depend on the machine.
/// let (clock, manual) = CooperatorClock::manual();
/// app.insert_resource(clock);
/// // Each step of this bake takes 300 µs.
/// let bake = app.world_mut().cooperate(from_fn(move |_: &mut StepContext| {
///     manual.advance(Duration::from_micros(300));
/// }));
/// app.update();
/// // 900 µs after 3 steps, 1.2 ms after the 4th: the tick ends one step past its deadline.
/// assert_eq!(app.world().task_steps(bake), Ok(4));
/// ```
#[derive(Clone, Debug)]
pub enum Budget {
    /// Step until this much time has passed on the [`CooperatorClock`].
    Time(Duration),
    /// Run exactly this many steps (or fewer, when the work runs out).
    Steps(u32),
    /// A share of the last real frame time (`Time<Real>` delta), clamped to `[min, max]`:
    /// `fraction: 0.25` gives a quarter of each frame.
    FrameFraction {
        /// Share of the frame delta, `0.0..=1.0`.
        fraction: f32,
        /// Lower bound (also used on the first frame, whose delta is zero).
        min: Duration,
        /// Upper bound.
        max: Duration,
    },
    /// No limit: every runnable task runs until it finishes or waits.
    /// **A task that never ends or waits hangs the frame.**
    Unlimited,
    /// Twisted's `terminationPredicateFactory`: the factory is called once per tick, and the
    /// predicate it returns is polled after every step; `true` ends the tick.
    Custom(PredicateFactory),
}

impl Default for Budget {
    /// Two milliseconds per frame.
    fn default() -> Self {
        Budget::Time(Duration::from_millis(2))
    }
}

impl Budget {
    /// [`Budget::Time`] in milliseconds. See the example on [`Budget`].
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use bevy_cooperator::prelude::*;
    /// assert!(matches!(Budget::millis(2), Budget::Time(d) if d == Duration::from_millis(2)));
    /// assert!(matches!(Budget::default(), Budget::Time(d) if d == Duration::from_millis(2)));
    /// ```
    pub fn millis(ms: u64) -> Self {
        Budget::Time(Duration::from_millis(ms))
    }

    /// [`Budget::FrameFraction`] with bounds of 0.1 ms and 8 ms.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use bevy_app::App;
    /// # use bevy_cooperator::{CooperatorClock, prelude::*};
    /// # use bevy_time::{TimePlugin, TimeUpdateStrategy};
    /// let mut app = App::new();
    /// // Half of each frame; frames are 10 ms here.
    /// app.add_plugins((TimePlugin, CooperatorPlugin::default().with_budget(Budget::frame_fraction(0.5))))
    ///     .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(10)));
    /// app.finish();
    /// app.cleanup();
    /// let (clock, manual) = CooperatorClock::manual();
    /// app.insert_resource(clock);
    /// // Each step of this job takes 1 ms.
    /// let job = app.world_mut().cooperate(from_fn(move |_: &mut StepContext| {
    ///     manual.advance(Duration::from_millis(1));
    /// }));
    /// app.update(); // the first frame has no delta: the 0.1 ms minimum, one step
    /// assert_eq!(app.world().task_steps(job), Ok(1));
    /// app.update(); // half of 10 ms: 5 steps
    /// assert_eq!(app.world().task_steps(job), Ok(6));
    /// ```
    pub fn frame_fraction(fraction: f32) -> Self {
        Budget::FrameFraction {
            fraction,
            min: Duration::from_micros(100),
            max: Duration::from_millis(8),
        }
    }

    /// [`Budget::Custom`] from a predicate factory.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// // Spawn at most 3 particles emitters a frame.
    /// let budget = Budget::custom(|| {
    ///     let mut spawned = 0;
    ///     move || {
    ///         spawned += 1;
    ///         spawned == 3
    ///     }
    /// });
    /// let mut app = App::new();
    /// app.add_plugins(CooperatorPlugin::default().with_budget(budget));
    /// let emitters = app.world_mut().cooperate((0..10).map(|_| ()));
    /// app.update();
    /// app.update();
    /// assert_eq!(app.world().task_steps(emitters), Ok(6));
    /// ```
    pub fn custom<P>(factory: impl Fn() -> P + Send + Sync + 'static) -> Self
    where
        P: FnMut() -> bool + Send + 'static,
    {
        Budget::Custom(PredicateFactory::new(factory))
    }

    /// [`Budget::Custom`] whose factory is a Bevy system, run once per tick with the world at
    /// hand: Twisted's `terminationPredicateFactory` reading `Res<Time>`, settings or diagnostics.
    /// A named function returns `impl FnMut() -> bool + Send + use<>` (the predicate must not
    /// borrow the system's parameters). The system belongs to the first world it runs in; one
    /// that cannot run ends each tick after one step and says why in the log.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// #[derive(Resource)]
    /// struct Loading(bool);
    ///
    /// // A loading screen gets 50 steps a frame, gameplay 5.
    /// let budget = Budget::system(|loading: Res<Loading>| {
    ///     let mut left = if loading.0 { 50 } else { 5 };
    ///     move || {
    ///         left -= 1;
    ///         left == 0
    ///     }
    /// });
    /// let mut app = App::new();
    /// app.add_plugins(CooperatorPlugin::default().with_budget(budget))
    ///     .insert_resource(Loading(true));
    /// let task = app.world_mut().cooperate(std::iter::repeat(()));
    /// app.update();
    /// assert_eq!(app.world().task_steps(task), Ok(50));
    /// ```
    ///
    /// A budget that shrinks after a slow frame, from `Res<Time<Real>>`: 4 ms of work a frame,
    /// 1 ms when the last frame took more than 20 ms. (A predicate that reads the clock itself
    /// has no deadline watcher: it ends the tick at the first step it sees past the end.)
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// use std::time::{Duration, Instant};
    /// use bevy_time::{Real, Time, TimePlugin, TimeUpdateStrategy};
    ///
    /// #[derive(Resource, Default)]
    /// struct Slice(Duration);
    ///
    /// fn adaptive(
    ///     real: Res<Time<Real>>,
    ///     mut slice: ResMut<Slice>,
    /// ) -> impl FnMut() -> bool + Send + use<> {
    ///     let slow = real.delta() > Duration::from_millis(20);
    ///     slice.0 = Duration::from_millis(if slow { 1 } else { 4 });
    ///     let end = Instant::now() + slice.0;
    ///     move || Instant::now() >= end
    /// }
    ///
    /// let mut app = App::new();
    /// app.add_plugins((TimePlugin, CooperatorPlugin::default().with_budget(Budget::system(adaptive))))
    ///     .init_resource::<Slice>()
    ///     .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(16)));
    /// app.world_mut().cooperate(std::iter::repeat(()));
    /// app.update();
    /// app.update();
    /// assert_eq!(app.world().resource::<Slice>().0, Duration::from_millis(4));
    /// // A 50 ms frame: the next tick gets the small slice.
    /// app.insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(50)));
    /// app.update();
    /// assert_eq!(app.world().resource::<Slice>().0, Duration::from_millis(1));
    /// ```
    pub fn system<P, M>(system: impl IntoSystem<(), P, M>) -> Self
    where
        P: FnMut() -> bool + Send + 'static,
    {
        Budget::Custom(PredicateFactory::system(system))
    }

    /// Starts a tick: the limit this tick runs under.
    pub(crate) fn begin(
        &self,
        clock: &CooperatorClock,
        real_delta: Duration,
        world: &mut World,
    ) -> TickBudget {
        match self {
            Budget::Time(d) => TickBudget::deadline(clock, *d),
            Budget::FrameFraction { fraction, min, max } => {
                TickBudget::deadline(clock, frame_share(real_delta, *fraction, *min, *max))
            }
            Budget::Steps(n) => TickBudget::Steps(*n),
            Budget::Unlimited => TickBudget::Unlimited,
            Budget::Custom(factory) => TickBudget::Custom(factory.build(world)),
        }
    }
}

/// `fraction` of `delta` within `[min, max]`; a NaN or negative fraction counts as 0, one above 1
/// as 1, and a `min` above `max` wins.
fn frame_share(delta: Duration, fraction: f32, min: Duration, max: Duration) -> Duration {
    let fraction = if fraction > 0.0 {
        f64::from(fraction.min(1.0))
    } else {
        0.0
    };
    Duration::try_from_secs_f64(delta.as_secs_f64() * fraction)
        .unwrap_or(Duration::MAX)
        .clamp(min, max.max(min))
}

/// The most steps between two clock reads of a time budget.
const MAX_CHECK_INTERVAL: u32 = 256;

/// A step that takes this long (in nanoseconds) marks its task heavy: the clock is then read
/// after each of its steps, which costs a few percent of such a step at most (a read of the
/// system clock costs 20–40 ns on the machines measured).
const HEAVY_FROM: u64 = 1_000;

/// A heavy task's step shorter than this (in nanoseconds) makes it light again.
const LIGHT_BELOW: u64 = HEAVY_FROM / 2;

/// One tick's limit.
pub(crate) enum TickBudget {
    Steps(u32),
    Unlimited,
    Custom(Predicate),
    Deadline(Deadline),
}

/// What a budget says after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Step on.
    Go,
    /// The tick ends.
    End,
    /// Step on, or end (`end`), and mark tasks in the run order.
    Mark { end: bool, mark: Mark },
}

impl Verdict {
    /// `End` when `end`, else `Go`.
    #[inline]
    pub(crate) fn end_if(end: bool) -> Self {
        if end { Verdict::End } else { Verdict::Go }
    }
}

/// What the run order must remember of the tasks just stepped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mark {
    /// The task just stepped is heavy: read the clock after each of its steps.
    Heavy,
    /// The task just stepped is light again.
    Light,
    /// A batch of this many steps took far longer than predicted and its culprit is unknown:
    /// its tasks are read after their next step, each on its own.
    Suspects(u32),
}

/// The longer of two timed steps (each with its task); the first on a tie.
pub(crate) fn longer(
    a: Option<(Entity, Duration)>,
    b: Option<(Entity, Duration)>,
) -> Option<(Entity, Duration)> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.1 > a.1 { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// How a tick learns that its deadline passed between two clock reads: raised once `value`
/// reads at least `at`. This thread's watcher thread counts the watches that expired; a
/// simulated watcher of a manual clock is the clock itself (at the deadline plus its lateness);
/// a watcher that never fires ([`Watcher::Never`]) is a counter that never reaches `u64::MAX`.
struct Flag {
    value: Arc<AtomicU64>,
    at: u64,
}

impl Flag {
    /// A flag never raised: the tick's flag until one is armed, and [`Watcher::Never`]'s.
    fn lowered() -> Self {
        static NEVER: LazyLock<Arc<AtomicU64>> = LazyLock::new(|| Arc::new(AtomicU64::new(0)));
        Flag {
            value: NEVER.clone(),
            at: u64::MAX,
        }
    }

    #[inline]
    fn raised(&self) -> bool {
        self.value.load(Ordering::Relaxed) >= self.at
    }
}

pub(crate) struct Deadline {
    clock: CooperatorClock,
    start: Duration,
    pub(crate) end: Duration,
    budget: Duration,
    /// The deadline flag for this tick: lowered until armed (at the first clock read). Always
    /// there, so that the check after each step is one load and a compare.
    flag: Flag,
    /// A watcher was armed (its flag is `flag`).
    armed: bool,
    /// Whether to arm a flag (a system clock, or a manual one with a simulated watcher; not yet
    /// found impossible). Without one the clock is read after every step.
    watchable: bool,
    /// Steps left before the next clock read.
    countdown: u32,
    /// Size of the batch the countdown started from.
    batch: u32,
    /// The time the batch may take (nanoseconds): more than twice that is a step turned heavy.
    allowance: u64,
    /// What a light step costs, in nanoseconds, from the last batch without a heavy step.
    per_step: u64,
    /// The clock is read after every step for the rest of the tick (a batch ran far longer
    /// than predicted: a step cost jumped).
    every_step: bool,
    /// Clock at the last read.
    last_read: Duration,
    /// The task stepped last (the culprit when a one-step batch is slow).
    last_task: Entity,
    /// The longest step timed on its own this tick (a one-step batch), with its task.
    pub(crate) longest: Option<(Entity, Duration)>,
    /// A thread's part of a parallel tick: it reads the clock after every step instead of arming
    /// a watcher when its steps are heavy (see [`Deadline::share`]).
    #[cfg(feature = "parallel")]
    share: bool,
}

/// The step cost from which a share of a parallel tick reads the clock after every step rather
/// than arming a watcher: a read then costs at most a few percent of a step.
#[cfg(feature = "parallel")]
const SHARE_READS_EVERY_STEP_FROM: u64 = 1_000;

impl TickBudget {
    pub(crate) fn deadline(clock: &CooperatorClock, budget: Duration) -> Self {
        TickBudget::Deadline(Deadline::new(clock, clock.now(), budget))
    }

    /// Called after each step, the `steps`-th of this tick, of `task` (`heavy`: marked heavy in
    /// the run order); says whether the tick goes on. (The step loop asks each kind directly.)
    #[cfg(test)]
    pub(crate) fn after_step(&mut self, task: Entity, steps: u32, heavy: bool) -> Verdict {
        match self {
            TickBudget::Steps(n) => Verdict::end_if(steps >= *n),
            TickBudget::Unlimited => Verdict::Go,
            TickBudget::Custom(p) => Verdict::end_if(p()),
            TickBudget::Deadline(d) => d.after_step(task, heavy),
        }
    }

    /// [`after_step`](Self::after_step) of a light task: whether the tick ends.
    #[cfg(test)]
    pub(crate) fn exhausted(&mut self, task: Entity, steps: u32) -> bool {
        !matches!(
            self.after_step(task, steps, false),
            Verdict::Go | Verdict::Mark { end: false, .. }
        )
    }

    /// The time this tick may take, for time budgets.
    pub(crate) fn granted(&self) -> Option<Duration> {
        match self {
            TickBudget::Deadline(d) => Some(d.budget),
            _ => None,
        }
    }

    /// Time spent since the tick began, for time budgets (one clock read).
    pub(crate) fn elapsed(&self) -> Option<Duration> {
        match self {
            TickBudget::Deadline(d) => Some(d.clock.now().saturating_sub(d.start)),
            _ => None,
        }
    }

    /// The longest step timed on its own this tick, for time budgets.
    pub(crate) fn longest_step(&self) -> Option<(Entity, Duration)> {
        match self {
            TickBudget::Deadline(d) => d.longest,
            _ => None,
        }
    }
}

impl Deadline {
    fn new(clock: &CooperatorClock, start: Duration, budget: Duration) -> Self {
        Deadline {
            clock: clock.clone(),
            start,
            end: start.saturating_add(budget),
            budget,
            flag: Flag::lowered(),
            armed: false,
            watchable: clock.manual_source().is_none() || clock.watcher() != Watcher::Thread,
            countdown: 1,
            batch: 1,
            allowance: u64::MAX,
            per_step: 1,
            every_step: false,
            last_read: clock.now(),
            last_task: Entity::PLACEHOLDER,
            longest: None,
            #[cfg(feature = "parallel")]
            share: false,
        }
    }

    /// The same deadline for another thread of a parallel tick: the same end, and its own
    /// clock reads and watcher (armed, at its first clock read, on the thread that reads).
    ///
    /// When its first steps cost a microsecond or more, it reads the clock after every step and
    /// arms no watcher: with every core stepping, a watcher waking at the deadline must preempt
    /// a stepping thread, which then ends its loop some microseconds late (measured here: 16 µs
    /// past the deadline at the median with 10 µs steps, 5 µs with reads after every step).
    /// Cheaper steps need the watcher: reading after each would cost more than the step.
    #[cfg(feature = "parallel")]
    pub(crate) fn share(&self) -> Deadline {
        let mut share = Deadline::new(&self.clock, self.start, self.budget);
        share.end = self.end;
        share.share = true;
        share
    }

    /// Starts a share's clock on the thread that steps it (its first batch must not count the
    /// time the thread took to start); `false` when the deadline has already passed: a thread
    /// the operating system started late steps nothing.
    #[cfg(feature = "parallel")]
    pub(crate) fn start_here(&mut self) -> bool {
        self.last_read = self.clock.now();
        self.last_read < self.end
    }

    /// How far past the deadline it is now (zero before it; one clock read).
    #[cfg(feature = "parallel")]
    pub(crate) fn overshoot(&self) -> Duration {
        self.clock.now().saturating_sub(self.end)
    }

    /// Called after each step of `task` (`heavy`: marked heavy in the run order, so the clock is
    /// read after each of its steps); says whether the tick goes on.
    #[inline]
    pub(crate) fn after_step(&mut self, task: Entity, heavy: bool) -> Verdict {
        self.countdown -= 1;
        // One branch for the three tests (`&`, not `&&`): every one is cheap and all are true
        // but once a batch.
        if (self.countdown > 0) & !heavy & !self.flag.raised() {
            return Verdict::Go;
        }
        self.last_task = task;
        self.read(heavy)
    }

    /// Reads the clock: ends the tick once the deadline has passed (or the watcher says so);
    /// otherwise sets how many steps may run before the next read, and arms the watcher if not
    /// yet done. Learns what the steps since the last read cost: the step just run, when it ran
    /// alone or was heavy, marks its task heavy or light; a batch far slower than predicted
    /// marks its tasks as suspects and reads after every step for the rest of the tick.
    #[cold]
    #[inline(never)]
    fn read(&mut self, heavy: bool) -> Verdict {
        let now = self.clock.now();
        let spent = nanos(now.saturating_sub(self.last_read));
        // At least one: the countdown was counted down for the step just run.
        let steps = self.batch - self.countdown;
        let mut mark = None;
        if steps == 1 {
            // A step timed alone.
            self.longest = longer(
                self.longest,
                Some((self.last_task, Duration::from_nanos(spent))),
            );
            if !heavy && spent >= HEAVY_FROM {
                mark = Some(Mark::Heavy);
            }
        }
        if heavy {
            // The light steps before it cost what light steps cost.
            let alone = spent.saturating_sub(u64::from(steps - 1) * self.per_step);
            if alone < LIGHT_BELOW {
                mark = Some(Mark::Light);
            }
        } else if steps > 1 && spent > self.allowance.saturating_mul(2) {
            // A step turned heavy inside the batch, and which is unknown.
            mark = Some(Mark::Suspects(steps));
            self.every_step = true;
        } else {
            self.per_step = (spent / u64::from(steps.max(1))).max(1);
        }
        let end = now >= self.end || self.flag.raised();
        if !end {
            self.plan(now);
        }
        match mark {
            None => Verdict::end_if(end),
            Some(mark) => Verdict::Mark { end, mark },
        }
    }

    /// Plans the next batch, at `now`, before the deadline.
    fn plan(&mut self, now: Duration) {
        let left = self.end - now;
        #[cfg(feature = "parallel")]
        if self.share && !self.armed && self.per_step >= SHARE_READS_EVERY_STEP_FROM {
            self.watchable = false;
        }
        if self.watchable && !self.armed {
            match self.arm(left) {
                Some(flag) => {
                    self.flag = flag;
                    self.armed = true;
                }
                None => self.watchable = false,
            }
        }
        let allowance = nanos(self.budget / 32).min(nanos(left / 2)).max(1);
        self.countdown = if !self.armed || self.every_step {
            // No watcher, or a cost that just jumped: only a read after every step keeps the
            // guarantee.
            1
        } else {
            (allowance / self.per_step).clamp(1, u64::from(MAX_CHECK_INTERVAL)) as u32
        };
        self.allowance = allowance;
        self.batch = self.countdown;
        self.last_read = now;
    }

    /// The flag for a deadline `left` from now, as the clock's [`Watcher`] says.
    fn arm(&self, left: Duration) -> Option<Flag> {
        let late = match self.clock.watcher() {
            Watcher::Never => return Some(Flag::lowered()),
            Watcher::Thread => Duration::ZERO,
            Watcher::Late(late) => late,
        };
        let (value, at) = match self.clock.manual_source() {
            Some(manual) => (manual.nanos_cell(), nanos(self.end.saturating_add(late))),
            None => Watch::arm(left.saturating_add(late))?.into_threshold(),
        };
        Some(Flag { value, at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    /// Runs steps of `cost(n)` on a manual clock until the budget says stop; returns the steps
    /// and the time spent.
    fn run(budget: Duration, cost: impl Fn(u32) -> Duration) -> (u32, Duration) {
        let (clock, manual) = CooperatorClock::manual();
        let mut tick = TickBudget::deadline(&clock, budget);
        let mut steps = 0;
        loop {
            manual.advance(cost(steps));
            steps += 1;
            if tick.exhausted(Entity::PLACEHOLDER, steps) {
                return (steps, manual.now());
            }
        }
    }

    #[test]
    fn a_manual_clock_is_read_after_every_step_so_the_tick_ends_right_after_the_deadline() {
        let budget = Duration::from_millis(2);
        let (steps, spent) = run(budget, |_| Duration::from_nanos(100));
        assert_eq!((steps, spent), (20_000, budget));
        // 1 µs steps, then 1 ms steps: the tick ends with the first step that crosses.
        let (steps, spent) = run(budget, |n| {
            Duration::from_micros(if n < 1_500 { 1 } else { 1_000 })
        });
        assert_eq!(steps, 1_501);
        assert_eq!(spent, Duration::from_micros(2_500));
    }

    /// A tick on a manual clock whose watcher never fires: the clock reads are batched as on
    /// the system clock.
    fn batched(budget: Duration) -> (Deadline, ManualClock) {
        let (clock, manual) = CooperatorClock::manual();
        let clock = clock.with_watcher(Watcher::Never);
        (Deadline::new(&clock, clock.now(), budget), manual)
    }

    #[test]
    fn clock_reads_are_spaced_by_the_step_cost_and_shrink_near_the_deadline() {
        let (mut tick, manual) = batched(Duration::from_millis(2));
        let task = Entity::PLACEHOLDER;
        manual.advance(Duration::from_nanos(100));
        assert_eq!(tick.after_step(task, false), Verdict::Go);
        // 100 ns steps: the cap.
        assert_eq!(tick.countdown, 256);
        for _ in 0..256 {
            manual.advance(Duration::from_nanos(100));
            assert_eq!(tick.after_step(task, false), Verdict::Go);
        }
        assert_eq!(tick.countdown, 256);
        // 2 µs before the deadline the batches hold half of what is left.
        manual.advance(Duration::from_millis(2) - manual.now() - Duration::from_micros(2));
        tick.countdown = 1;
        tick.batch = 1;
        tick.last_read = manual.now() - Duration::from_nanos(100);
        assert_eq!(tick.after_step(task, false), Verdict::Go);
        assert_eq!(tick.countdown, 10);
    }

    #[test]
    fn a_batch_far_slower_than_predicted_marks_its_tasks_and_reads_after_every_step() {
        let (mut tick, manual) = batched(Duration::from_millis(4));
        let task = Entity::PLACEHOLDER;
        manual.advance(Duration::from_nanos(100));
        assert_eq!(tick.after_step(task, false), Verdict::Go);
        // One step of the batch took 1 ms.
        manual.advance(Duration::from_millis(1));
        for _ in 0..255 {
            assert_eq!(tick.after_step(task, false), Verdict::Go);
        }
        assert_eq!(
            tick.after_step(task, false),
            Verdict::Mark {
                end: false,
                mark: Mark::Suspects(256)
            }
        );
        for _ in 0..10 {
            manual.advance(Duration::from_nanos(100));
            assert_eq!(tick.after_step(task, false), Verdict::Go);
            assert_eq!(tick.countdown, 1, "a read after every step");
        }
    }

    #[test]
    fn a_step_timed_alone_marks_its_task_heavy_and_a_cheap_heavy_step_light() {
        let (mut tick, manual) = batched(Duration::from_millis(2));
        let task = Entity::PLACEHOLDER;
        manual.advance(Duration::from_micros(5));
        let heavy = Verdict::Mark {
            end: false,
            mark: Mark::Heavy,
        };
        assert_eq!(tick.after_step(task, false), heavy);
        // A heavy task ends its batch: the clock is read after it, whatever the countdown.
        manual.advance(Duration::from_micros(5));
        assert!(tick.countdown > 1);
        assert_eq!(tick.after_step(task, true), Verdict::Go);
        manual.advance(Duration::from_nanos(100));
        let light = Verdict::Mark {
            end: false,
            mark: Mark::Light,
        };
        assert_eq!(tick.after_step(task, true), light);
        // A heavy step that crosses the deadline ends the tick right after it.
        manual.advance(Duration::from_millis(3));
        assert_eq!(tick.after_step(task, true), Verdict::End);
    }

    #[test]
    fn any_budget_value_starts_a_tick() {
        let clock = CooperatorClock::default();
        for budget in [
            Budget::Time(Duration::MAX),
            Budget::Time(Duration::ZERO),
            Budget::frame_fraction(f32::NAN),
            Budget::frame_fraction(-1.0),
            Budget::frame_fraction(f32::INFINITY),
            Budget::FrameFraction {
                fraction: 0.5,
                min: Duration::MAX,
                max: Duration::ZERO,
            },
            Budget::Steps(u32::MAX),
        ] {
            let mut tick = budget.begin(&clock, Duration::MAX, &mut World::new());
            let _ = tick.exhausted(Entity::PLACEHOLDER, 1);
            let _ = tick.elapsed();
        }
    }

    #[test]
    fn frame_shares_are_clamped_and_nan_counts_as_zero() {
        let (ms, min, max) = (
            Duration::from_millis,
            Duration::from_micros(100),
            Duration::from_millis(8),
        );
        assert_eq!(frame_share(ms(16), 0.25, min, max), ms(4));
        assert_eq!(frame_share(ms(16), f32::NAN, min, max), min);
        assert_eq!(frame_share(ms(16), -3.0, min, max), min);
        assert_eq!(frame_share(ms(100), 2.0, min, max), max);
        assert_eq!(frame_share(ms(16), 0.5, ms(9), ms(1)), ms(9));
    }

    #[test]
    fn the_longest_step_timed_alone_is_recorded() {
        let (clock, manual) = CooperatorClock::manual();
        let mut tick = TickBudget::deadline(&clock, Duration::from_micros(100));
        let task = Entity::from_raw_u32(7).unwrap();
        manual.advance(Duration::from_micros(30));
        assert!(!tick.exhausted(task, 1));
        manual.advance(Duration::from_micros(80));
        assert!(tick.exhausted(task, 2));
        assert_eq!(tick.longest_step(), Some((task, Duration::from_micros(80))));
        assert_eq!(tick.granted(), Some(Duration::from_micros(100)));
    }
}
