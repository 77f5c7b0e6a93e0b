//! How much work a cooperator does per frame: [`Budget`] and the clock it reads, [`CooperatorClock`].

use alloc::{boxed::Box, sync::Arc};
use bevy_ecs::{entity::Entity, resource::Resource};
use bevy_platform::time::Instant;
use core::{
    fmt,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

/// A predicate polled after every step; `true` ends the tick.
pub type Predicate = Box<dyn FnMut() -> bool + Send>;

/// Builds a fresh [`Predicate`] at the start of every tick (Twisted's `terminationPredicateFactory`).
#[derive(Clone)]
pub struct PredicateFactory(Arc<dyn Fn() -> Predicate + Send + Sync>);

impl PredicateFactory {
    /// Wraps a factory.
    pub fn new<P>(factory: impl Fn() -> P + Send + Sync + 'static) -> Self
    where
        P: FnMut() -> bool + Send + 'static,
    {
        PredicateFactory(Arc::new(move || Box::new(factory()) as Predicate))
    }

    pub(crate) fn build(&self) -> Predicate {
        (self.0)()
    }
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
#[derive(Clone, Debug)]
pub enum Budget {
    /// Step until this much time has passed on the [`CooperatorClock`]. The clock is read every
    /// few steps, the interval adapted to the measured step cost so that the overshoot stays a small
    /// fraction of the budget; one slow step resets the interval to one.
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
    /// [`Budget::Time`] in milliseconds.
    pub fn millis(ms: u64) -> Self {
        Budget::Time(Duration::from_millis(ms))
    }

    /// [`Budget::FrameFraction`] with bounds of 0.1 ms and 8 ms.
    pub fn frame_fraction(fraction: f32) -> Self {
        Budget::FrameFraction {
            fraction,
            min: Duration::from_micros(100),
            max: Duration::from_millis(8),
        }
    }

    /// [`Budget::Custom`] from a predicate factory.
    pub fn custom<P>(factory: impl Fn() -> P + Send + Sync + 'static) -> Self
    where
        P: FnMut() -> bool + Send + 'static,
    {
        Budget::Custom(PredicateFactory::new(factory))
    }

    /// Starts a tick: the limit this tick runs under.
    pub(crate) fn begin(&self, clock: &CooperatorClock, real_delta: Duration) -> TickBudget {
        match self {
            Budget::Time(d) => TickBudget::deadline(clock, *d),
            Budget::FrameFraction { fraction, min, max } => {
                let share = real_delta.mul_f64(f64::from(fraction.clamp(0.0, 1.0)));
                TickBudget::deadline(clock, share.clamp(*min, (*max).max(*min)))
            }
            Budget::Steps(n) => TickBudget::Steps(*n),
            Budget::Unlimited => TickBudget::Unlimited,
            Budget::Custom(factory) => TickBudget::Custom(factory.build()),
        }
    }
}

/// The most steps between two clock reads of a time budget.
const MAX_CHECK_INTERVAL: u32 = 256;

/// One tick's limit.
pub(crate) enum TickBudget {
    Steps(u32),
    Unlimited,
    Custom(Predicate),
    Deadline(Deadline),
}

pub(crate) struct Deadline {
    clock: CooperatorClock,
    start: Duration,
    pub(crate) end: Duration,
    budget: Duration,
    /// Steps left before the next clock read.
    countdown: u32,
    /// Size of the batch the countdown started from.
    batch: u32,
    /// Clock at the last read.
    last_read: Duration,
    /// The task stepped last (the culprit when a one-step batch is slow).
    last_task: Entity,
    /// The longest step timed on its own this tick (a one-step batch), with its task.
    pub(crate) longest: Option<(Entity, Duration)>,
}

impl TickBudget {
    pub(crate) fn deadline(clock: &CooperatorClock, budget: Duration) -> Self {
        let now = clock.now();
        TickBudget::Deadline(Deadline {
            clock: clock.clone(),
            start: now,
            end: now + budget,
            budget,
            countdown: 1,
            batch: 1,
            last_read: now,
            last_task: Entity::PLACEHOLDER,
            longest: None,
        })
    }

    /// Called after each step of `task` with the number of steps done this tick; `true` ends the
    /// tick.
    #[cfg(test)]
    pub(crate) fn exhausted(&mut self, task: Entity, steps: u32) -> bool {
        self.exhausted_after(task, steps, 1)
    }

    /// Whether the tick must end after `run` more steps at once, the last of `task`, none of
    /// which could have ended it (at most [`claim_limit`](Self::claim_limit) of them, and never
    /// more than one for a [`TickBudget::Custom`], which is asked after every step); `steps`:
    /// the steps done this tick.
    #[inline]
    pub(crate) fn exhausted_after(&mut self, task: Entity, steps: u32, run: u32) -> bool {
        match self {
            TickBudget::Steps(n) => steps >= *n,
            TickBudget::Unlimited => false,
            TickBudget::Custom(p) => p(),
            TickBudget::Deadline(d) => {
                d.countdown = d.countdown.saturating_sub(run);
                if d.countdown > 0 {
                    return false;
                }
                d.last_task = task;
                d.read()
            }
        }
    }

    /// How many queue entries are worth claiming at once after `steps` steps.
    #[inline]
    pub(crate) fn claim_limit(&self, steps: u32) -> usize {
        match self {
            TickBudget::Steps(n) => n.saturating_sub(steps).max(1) as usize,
            TickBudget::Deadline(d) => d.countdown as usize,
            _ => usize::MAX,
        }
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
    #[cold]
    #[inline(never)]
    fn read(&mut self) -> bool {
        let now = self.clock.now();
        let spent = now.saturating_sub(self.last_read);
        if self.batch == 1 && self.longest.is_none_or(|(_, d)| spent > d) {
            self.longest = Some((self.last_task, spent));
        }
        if now >= self.end {
            return true;
        }
        // Allow a batch of steps whose predicted cost stays within 1/32 of the budget and half of
        // what is left, so the overshoot stays bounded by about one step.
        let allowance =
            (self.budget.as_nanos() as u64 / 32).min((self.end - now).as_nanos() as u64 / 2);
        let spent = spent.as_nanos() as u64;
        let batch = if spent > allowance.max(1) * 2 && self.batch > 1 {
            // Much slower than predicted: a heavy step. Time the next steps one by one.
            1
        } else {
            let per_step = (spent / u64::from(self.batch)).max(1);
            (allowance / per_step).clamp(1, u64::from(MAX_CHECK_INTERVAL)) as u32
        };
        self.countdown = batch;
        self.batch = batch;
        self.last_read = now;
        false
    }
}

/// The clock time budgets are measured on. A resource; replace it to drive budgets by hand.
///
/// The default reads the monotonic system clock ([`bevy_platform::time::Instant`]). Tests use
/// [`CooperatorClock::manual`] and advance it from inside steps to make time budgets
/// deterministic.
#[derive(Resource, Clone)]
pub struct CooperatorClock(ClockSource);

#[derive(Clone)]
enum ClockSource {
    System(Instant),
    Manual(ManualClock),
}

impl Default for CooperatorClock {
    fn default() -> Self {
        CooperatorClock(ClockSource::System(Instant::now()))
    }
}

impl fmt::Debug for CooperatorClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            ClockSource::System(_) => f.write_str("CooperatorClock(System)"),
            ClockSource::Manual(m) => write!(f, "CooperatorClock(Manual({:?}))", m.now()),
        }
    }
}

impl CooperatorClock {
    /// A clock that only moves when the returned [`ManualClock`] is advanced.
    pub fn manual() -> (Self, ManualClock) {
        let manual = ManualClock::default();
        (CooperatorClock(ClockSource::Manual(manual.clone())), manual)
    }

    /// Time since the clock's origin.
    #[inline]
    pub fn now(&self) -> Duration {
        match &self.0 {
            ClockSource::System(origin) => origin.elapsed(),
            ClockSource::Manual(m) => m.now(),
        }
    }
}

/// A hand-driven clock shared between a test and its [`CooperatorClock`].
#[derive(Clone, Default, Debug)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_nanos() as u64, Ordering::Relaxed);
    }

    /// The clock's current reading.
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs steps of `cost(n)` on a manual clock until the budget says stop; returns the steps,
    /// the time spent and the batch sizes seen at each clock read.
    fn run(budget: Duration, cost: impl Fn(u32) -> Duration) -> (u32, Duration, Vec<(u32, u32)>) {
        let (clock, manual) = CooperatorClock::manual();
        let mut tick = TickBudget::deadline(&clock, budget);
        let mut steps = 0;
        let mut batches = Vec::new();
        loop {
            manual.advance(cost(steps));
            steps += 1;
            let stop = tick.exhausted(Entity::PLACEHOLDER, steps);
            if let TickBudget::Deadline(d) = &tick
                && d.countdown == d.batch
            {
                batches.push((steps, d.batch));
            }
            if stop {
                break;
            }
        }
        (steps, manual.now(), batches)
    }

    #[test]
    fn light_steps_read_the_clock_rarely_and_overshoot_by_at_most_one_step() {
        let step = Duration::from_nanos(100);
        let budget = Duration::from_millis(2);
        let (steps, spent, batches) = run(budget, |_| step);
        assert!(spent >= budget);
        assert!(spent - budget <= step, "overshoot {:?}", spent - budget);
        assert_eq!(steps as u128, spent.as_nanos() / 100);
        // Batches grow to the cap; a few hundred clock reads for 20,000 steps.
        assert_eq!(batches.iter().map(|b| b.1).max(), Some(MAX_CHECK_INTERVAL));
        assert!(batches.len() < 200, "{} clock reads", batches.len());
    }

    #[test]
    fn steps_of_a_fortieth_of_the_budget_are_checked_one_by_one() {
        let budget = Duration::from_millis(2);
        let step = Duration::from_micros(50);
        let (steps, spent, batches) = run(budget, |_| step);
        assert_eq!(steps, 40);
        assert_eq!(spent, budget);
        assert!(batches.iter().all(|b| b.1 == 1));
    }

    #[test]
    fn a_heavy_step_resets_the_interval_and_the_overshoot_stays_within_one_step() {
        let budget = Duration::from_millis(2);
        let light = Duration::from_nanos(100);
        let heavy = Duration::from_micros(500);
        // Light steps, then a heavy one (the 1,001st, inside a large batch).
        let (_, spent, batches) = run(budget, |n| if n == 1_000 { heavy } else { light });
        assert!(spent - budget <= heavy);
        let before = batches.iter().rev().find(|b| b.0 <= 1_000).unwrap();
        assert!(before.1 > 1, "{batches:?}");
        // The clock read that follows the heavy step times the next step alone.
        let after = batches.iter().find(|b| b.0 > 1_000).unwrap();
        assert_eq!(after.1, 1, "{batches:?}");
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
