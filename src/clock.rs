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
    /// A clock that only moves when the returned [`ManualClock`] is advanced. See the example on
    /// [`CooperatorClock`].
    pub fn manual() -> (Self, ManualClock) {
        let manual = ManualClock::default();
        (CooperatorClock(ClockSource::Manual(manual.clone())), manual)
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
        match &self.0 {
            ClockSource::System(origin) => origin.elapsed(),
            ClockSource::Manual(m) => m.now(),
        }
    }

    /// Whether it is the system clock (the one a deadline watcher thread can follow).
    pub(crate) fn is_system(&self) -> bool {
        matches!(self.0, ClockSource::System(_))
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
