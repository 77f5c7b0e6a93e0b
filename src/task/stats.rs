//! Opt-in per-task figures: [`TaskStats`].

use bevy_ecs::{
    component::Component, entity::Entity, lifecycle::HookContext, world::DeferredWorld,
};
use core::time::Duration;

use crate::{cooperator::Cooperator, task::CooperativeTask};

/// Per-task figures, opt-in: insert it on a task entity and the scheduler times each of the
/// task's steps on the [`CooperatorClock`](crate::CooperatorClock) (two clock reads per step,
/// about 50 ns) and adds them up here. Tasks without it cost nothing extra.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::{TaskStats, prelude::*};
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(10)));
/// let task = app.world_mut().cooperate((0..100).map(|_| ()));
/// app.world_mut().entity_mut(task).insert(TaskStats::default());
/// app.update();
/// assert_eq!(app.world().get::<TaskStats>(task).unwrap().steps, 10);
/// ```
#[derive(Component, Debug, Default, Clone, Copy, PartialEq, Eq)]
#[component(on_add = on_stats_add, on_remove = on_stats_remove)]
pub struct TaskStats {
    /// Steps timed.
    pub steps: u64,
    /// Time spent in them.
    pub time: Duration,
    /// The longest of them.
    pub longest: Duration,
}

impl TaskStats {
    /// Mean time per step; `None` before the first.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::{TaskStats, prelude::*};
    /// # use std::time::Duration;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// let task = app.world_mut().cooperate(std::iter::repeat(()));
    /// app.world_mut().entity_mut(task).insert(TaskStats::default());
    /// assert_eq!(app.world().get::<TaskStats>(task).unwrap().mean(), None);
    /// app.update();
    /// let stats = app.world().get::<TaskStats>(task).unwrap();
    /// assert!(stats.mean().is_some_and(|mean| mean <= stats.longest));
    ///
    /// let made_up = TaskStats {
    ///     steps: 4,
    ///     time: Duration::from_micros(100),
    ///     longest: Duration::from_micros(40),
    /// };
    /// assert_eq!(made_up.mean(), Some(Duration::from_micros(25)));
    /// ```
    pub fn mean(&self) -> Option<Duration> {
        (self.steps > 0)
            .then(|| Duration::from_nanos((self.time.as_nanos() / u128::from(self.steps)) as u64))
    }

    pub(crate) fn record(&mut self, step: Duration) {
        self.steps = self.steps.saturating_add(1);
        self.time = self.time.saturating_add(step);
        self.longest = self.longest.max(step);
    }
}

/// The step loop learns from the task's run-queue node whether to time its steps.
fn set_timed(world: &mut DeferredWorld, entity: Entity, timed: bool) {
    let Some((coop, slot)) = world
        .get::<CooperativeTask>(entity)
        .map(|t| (t.cooperator, t.slot))
    else {
        return;
    };
    if let Some(mut c) = world.get_mut::<Cooperator>(coop) {
        c.queue.set_timed(slot, entity, timed);
    }
}

fn on_stats_add(mut world: DeferredWorld, ctx: HookContext) {
    set_timed(&mut world, ctx.entity, true);
}

fn on_stats_remove(mut world: DeferredWorld, ctx: HookContext) {
    set_timed(&mut world, ctx.entity, false);
}
