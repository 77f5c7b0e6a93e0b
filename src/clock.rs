//! The clock time budgets are measured on: [`CooperatorClock`], and the hand-driven
//! [`ManualClock`] tests use.

use alloc::sync::Arc;
use bevy_ecs::resource::Resource;
use bevy_platform::time::Instant;
use core::{
    fmt,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

/// The clock time budgets are measured on. A resource; replace it to drive budgets by hand.
///
/// The default reads the monotonic system clock ([`bevy_platform::time::Instant`]). Tests use
/// [`CooperatorClock::manual`] and advance it from inside steps to make time budgets
/// deterministic.
///
/// ```
/// # use std::time::Duration;
/// # use bevy_app::App;
/// # use bevy_cooperator::{CooperatorClock, CooperatorStats, prelude::*};
/// let mut app = App::new();
/// app.add_plugins(CooperatorPlugin::default().with_budget(Budget::millis(2)));
/// let (clock, manual) = CooperatorClock::manual();
/// app.insert_resource(clock);
/// // A step that takes 5 ms: far over the 2 ms budget.
/// app.world_mut().cooperate(from_fn(move |_: &mut StepContext| {
///     manual.advance(Duration::from_millis(5));
/// }));
/// app.update();
/// let global = app.world().resource::<GlobalCooperator>().0;
/// let stats: &CooperatorStats = app.world().get::<Cooperator>(global).unwrap().stats();
/// assert_eq!(stats.last_tick_steps, 1);
/// assert_eq!(stats.last_tick_time, Some(Duration::from_millis(5)));
/// assert_eq!(stats.last_tick_overshoot, Some(Duration::from_millis(3)));
/// assert_eq!(stats.over_budget_steps, 1);
/// ```
#[derive(Resource, Clone)]
pub struct CooperatorClock {
    source: ClockSource,
    watcher: Watcher,
}

/// How a time budget learns that its deadline passed between two of the step loop's own clock
/// reads: the deadline watcher (see [`Budget`](crate::Budget)'s guarantee). The default is the
/// real one; the others inject the faults the guarantee must survive, for tests and benchmarks
/// of the budget. Set with [`CooperatorClock::with_watcher`].
///
/// ```
/// # use std::time::Duration;
/// # use bevy_app::App;
/// # use bevy_cooperator::{CooperatorClock, Watcher, prelude::*};
/// let mut app = App::new();
/// app.add_plugins(CooperatorPlugin::default().with_budget(Budget::millis(1)));
/// // A hand-driven clock whose watcher raises its flag 1 ms after each deadline: the loop
/// // batches its clock reads as it does on the system clock.
/// let (clock, manual) = CooperatorClock::manual();
/// app.insert_resource(clock.with_watcher(Watcher::Late(Duration::from_millis(1))));
/// // 30 tasks of 1 µs steps, and one whose steps take 300 µs.
/// for _ in 0..30 {
///     let manual = manual.clone();
///     app.world_mut().cooperate(from_fn(move |_: &mut StepContext| {
///         manual.advance(Duration::from_micros(1));
///     }));
/// }
/// let heavy = manual.clone();
/// app.world_mut().cooperate(from_fn(move |_: &mut StepContext| {
///     heavy.advance(Duration::from_micros(300));
/// }));
/// for _ in 0..20 {
///     let start = manual.now();
///     app.update();
///     // The watcher is late, yet every tick ends within one step of its deadline.
///     assert!(manual.now() - start <= Duration::from_micros(1_300));
/// }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Watcher {
    /// The system clock's watcher thread, as punctual as the operating system wakes it. A
    /// manual clock has none, and its budgets read it after every step.
    #[default]
    Thread,
    /// A watcher that raises its flag this long after each deadline (the system clock's thread,
    /// slept longer; on a manual clock, a simulated one). The step loop batches its clock reads
    /// as it does with a real watcher.
    Late(Duration),
    /// A watcher that never raises its flag: only the step loop's own clock reads, batched as
    /// with a watcher, end a tick.
    Never,
}

#[derive(Clone)]
enum ClockSource {
    System(Instant),
    Manual(ManualClock),
}

impl Default for CooperatorClock {
    fn default() -> Self {
        CooperatorClock {
            source: ClockSource::System(Instant::now()),
            watcher: Watcher::Thread,
        }
    }
}

impl fmt::Debug for CooperatorClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            ClockSource::System(_) => write!(f, "CooperatorClock(System, {:?})", self.watcher),
            ClockSource::Manual(m) => {
                write!(
                    f,
                    "CooperatorClock(Manual({:?}), {:?})",
                    m.now(),
                    self.watcher
                )
            }
        }
    }
}

impl CooperatorClock {
    /// A clock that only moves when the returned [`ManualClock`] is advanced. See the example on
    /// [`CooperatorClock`].
    pub fn manual() -> (Self, ManualClock) {
        let manual = ManualClock::default();
        let clock = CooperatorClock {
            source: ClockSource::Manual(manual.clone()),
            watcher: Watcher::Thread,
        };
        (clock, manual)
    }

    /// This clock with another deadline watcher: a late or absent one, to test and measure the
    /// budget's guarantee. See [`Watcher`].
    pub fn with_watcher(mut self, watcher: Watcher) -> Self {
        self.watcher = watcher;
        self
    }

    /// The deadline watcher its time budgets use.
    pub fn watcher(&self) -> Watcher {
        self.watcher
    }

    /// Time since the clock's origin.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use bevy_cooperator::CooperatorClock;
    /// let (clock, manual) = CooperatorClock::manual();
    /// manual.advance(Duration::from_millis(16));
    /// assert_eq!(clock.now(), Duration::from_millis(16));
    /// ```
    #[inline]
    pub fn now(&self) -> Duration {
        match &self.source {
            ClockSource::System(origin) => origin.elapsed(),
            ClockSource::Manual(m) => m.now(),
        }
    }

    /// The hand-driven clock it reads, unless it is the system clock (the one a deadline watcher
    /// thread can follow).
    pub(crate) fn manual_source(&self) -> Option<&ManualClock> {
        match &self.source {
            ClockSource::System(_) => None,
            ClockSource::Manual(m) => Some(m),
        }
    }
}

/// A hand-driven clock shared between a test and its [`CooperatorClock`] (see its example).
#[derive(Clone, Default, Debug)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// Moves the clock forward (saturating).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use bevy_cooperator::CooperatorClock;
    /// let (clock, manual) = CooperatorClock::manual();
    /// let handle = manual.clone(); // clones share the clock
    /// handle.advance(Duration::from_millis(1));
    /// manual.advance(Duration::from_millis(2));
    /// assert_eq!(manual.now(), Duration::from_millis(3));
    /// assert_eq!(clock.now(), manual.now());
    /// ```
    pub fn advance(&self, by: Duration) {
        let by = nanos(by);
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |now| {
                Some(now.saturating_add(by))
            });
    }

    /// Its reading in nanoseconds, shared.
    pub(crate) fn nanos_cell(&self) -> Arc<AtomicU64> {
        self.0.clone()
    }

    /// The clock's current reading. See [`advance`](Self::advance).
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::Relaxed))
    }
}

/// `d` in nanoseconds, saturating.
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_saturates() {
        let (clock, manual) = CooperatorClock::manual();
        manual.advance(Duration::MAX);
        manual.advance(Duration::MAX);
        assert_eq!(clock.now(), Duration::from_nanos(u64::MAX));
    }
}
