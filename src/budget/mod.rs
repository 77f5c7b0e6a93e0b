//! How much work a cooperator does per frame: [`Budget`] (the value a game sets), its per-tick
//! form ([`TickBudget`]), the [`Deadline`] of a time budget and the predicate factory of a custom
//! one.

mod deadline;
pub(crate) mod fill;
mod predicate;

pub(crate) use deadline::Deadline;
pub use predicate::{Predicate, PredicateFactory};

use bevy_ecs::{entity::Entity, system::IntoSystem, world::World};
use core::time::Duration;

use crate::clock::CooperatorClock;

/// How much work a [`Cooperator`](crate::Cooperator) may do in one frame.
///
/// Whatever the budget, a tick that starts with a runnable task runs **at least one step**
/// (Twisted's rule): a zero budget makes slow progress, never none.
///
/// # The guarantee
/// With [`Budget::Time`], [`Budget::FrameFraction`] and [`Budget::FillFrame`], a tick ends at most
/// **one step** past its deadline for every mix of tasks whose own step costs are steady or change
/// gradually: a crowd of cheap tasks with heavy ones among them, a ramp, tasks turning heavy one
/// after another. It does not depend on a thread waking on time. The step loop reads the clock
/// after a batch of steps whose predicted cost stays within 1/32 of the budget and half of the time
/// left. A task whose step was seen taking a microsecond or more is marked heavy, and the clock is
/// read after each of its steps (a few percent of such a step). A batch that took more than twice
/// its allowance marks its tasks, which are then timed alone, and the rest of that tick reads the
/// clock after every step.
///
/// The one exception: a **single task whose step cost jumps inside one batch** (50 ns steps that
/// turn into 1 ms steps) may run on for the rest of that batch. A deadline watcher thread ends it:
/// it raises a flag the loop reads after every step (one atomic load). The bound is then one step
/// plus the watcher's lateness. On a 2-core Linux VM that lateness was 54 µs at the median, 160 µs
/// at p99 and 2.9 ms at most (`benches/adherence`, medians of 5 runs). When a task's step cost
/// jumps in a crowd, the bound is one step plus the rest of one batch of cheap steps, at most 1/32
/// of the budget.
///
/// Where no watcher thread can run, or the clock is a [`CooperatorClock::manual`] one, the clock
/// is read after every step instead. [`Watcher`](crate::Watcher) injects a late or absent watcher, to test
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
    /// Fill the frame up to `target` (a frame time, such as 1/60 s): each tick gets what the
    /// rest of the frame leaves, less `margin`, within `[min, max]`. The frame's work before
    /// the tick is measured (the frame begins in `First`); the work after it, to the end of
    /// `Last`, is learned from the frames before: taken at once when it grows, half the gap let
    /// go each frame when it shrinks; the first tick, which knows nothing of it yet, gets `min`.
    /// A steady frame gets a steady budget from its second frame on; one slow frame shrinks only its own tick, or, when the slow work came after the
    /// tick, the next few; its own work never counts against it. What happens outside the app's
    /// update (waiting for the display, a render thread's sync) is not seen: leave room for it
    /// in `target` or `margin`. Let one budget fill a frame: cooperators that share it belong in
    /// one [`FrameBudget`](crate::FrameBudget). Its figures: [`CooperatorStats`](crate::CooperatorStats)'
    /// `last_tick_budget` (granted), `last_tick_time` (used) and `last_frame_time`. See
    /// [`Budget::fill_frame`].
    FillFrame {
        /// The frame time to fill up to.
        target: Duration,
        /// Left free below `target`: one step of the tick, and the frame's changes from one frame
        /// to the next.
        margin: Duration,
        /// Lower bound: what a tick gets when the frame is already full.
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

    /// [`Budget::FillFrame`] up to `target`, 1 ms of margin, at least 0.1 ms and at most
    /// `target`. A loading screen at 60 Hz: `Budget::fill_frame(Duration::from_secs(1) / 60)`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use bevy_app::{App, PreUpdate};
    /// # use bevy_cooperator::{CooperatorClock, prelude::*};
    /// # use bevy_ecs::prelude::*;
    /// let mut app = App::new();
    /// app.add_plugins(CooperatorPlugin::default().with_budget(Budget::fill_frame(Duration::from_millis(16))));
    /// // A clock driven by hand: the game's own work takes 5 ms a frame, before the tick.
    /// let (clock, manual) = CooperatorClock::manual();
    /// let game = manual.clone();
    /// app.insert_resource(clock)
    ///     .add_systems(PreUpdate, move || game.advance(Duration::from_millis(5)));
    /// // Each step of this load takes 1 ms.
    /// let load = app.world_mut().cooperate(from_fn(move |_: &mut StepContext| {
    ///     manual.advance(Duration::from_millis(1));
    /// }));
    /// app.update(); // the first frame learns what comes after the tick (nothing): one step
    /// assert_eq!(app.world().task_steps(load), Ok(1));
    /// app.update(); // 16 ms, less the game's 5 and 1 of margin: 10 steps
    /// assert_eq!(app.world().task_steps(load), Ok(11));
    /// let global = app.world().resource::<GlobalCooperator>().0;
    /// let stats = app.world().get::<Cooperator>(global).unwrap().stats();
    /// assert_eq!(stats.last_tick_budget, Some(Duration::from_millis(10)));
    /// assert_eq!(stats.last_frame_time, Some(Duration::from_millis(6)));
    /// ```
    pub fn fill_frame(target: Duration) -> Self {
        Budget::FillFrame {
            target,
            margin: Duration::from_millis(1),
            min: Duration::from_micros(100),
            max: target,
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

    /// Whether it is a [`Budget::FillFrame`]: its owner's tick end is then marked.
    pub(crate) fn fills_frame(&self) -> bool {
        matches!(self, Budget::FillFrame { .. })
    }

    /// Starts a tick of `owner` (the cooperator or frame budget whose budget it is): the limit
    /// this tick runs under.
    pub(crate) fn begin(
        &self,
        owner: Entity,
        clock: &CooperatorClock,
        real_delta: Duration,
        world: &mut World,
    ) -> TickBudget {
        match self {
            Budget::Time(d) => TickBudget::deadline(clock, *d),
            &Budget::FillFrame {
                target,
                margin,
                min,
                max,
            } => TickBudget::deadline(
                clock,
                fill::grant(world, owner, clock, [target, margin, min, max]),
            ),
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
            TickBudget::Deadline(d) => d.after_step(|| task, heavy),
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
            TickBudget::Deadline(d) => Some(d.granted()),
            _ => None,
        }
    }

    /// Time spent since the tick began, for time budgets (one clock read).
    pub(crate) fn elapsed(&self) -> Option<Duration> {
        match self {
            TickBudget::Deadline(d) => Some(d.elapsed()),
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

#[cfg(test)]
mod tests {
    use super::*;

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
            Budget::fill_frame(Duration::MAX),
            Budget::fill_frame(Duration::ZERO),
            Budget::FillFrame {
                target: Duration::MAX,
                margin: Duration::MAX,
                min: Duration::MAX,
                max: Duration::ZERO,
            },
        ] {
            let mut world = World::new();
            // A despawned owner, too.
            let owner = world.spawn_empty().id();
            world.despawn(owner);
            let mut tick = budget.begin(owner, &clock, Duration::MAX, &mut world);
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
}
