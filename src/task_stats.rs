//! Opt-in per-task figures: [`TaskStats`].

use bevy_ecs::component::Component;
use core::time::Duration;

/// Per-task figures, opt-in: insert it on a task entity and the scheduler times each of the
/// task's steps on the [`CooperatorClock`](crate::CooperatorClock) (two clock reads per step,
/// about 50 ns) and adds them up here. Tasks without it cost nothing extra.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(10)));
/// let task = app.world_mut().cooperate((0..100).map(|_| ()));
/// app.world_mut().entity_mut(task).insert(TaskStats::default());
/// app.update();
/// assert_eq!(app.world().get::<TaskStats>(task).unwrap().steps, 10);
/// ```
#[derive(Component, Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TaskStats {
    /// Steps timed.
    pub steps: u64,
    /// Time spent in them.
    pub time: Duration,
    /// The longest of them.
    pub longest: Duration,
}

impl TaskStats {
    /// Mean time per step.
    pub fn mean(&self) -> Option<Duration> {
        (self.steps > 0)
            .then(|| Duration::from_nanos((self.time.as_nanos() / u128::from(self.steps)) as u64))
    }

    pub(crate) fn record(&mut self, step: Duration) {
        self.steps += 1;
        self.time += step;
        self.longest = self.longest.max(step);
    }
}
