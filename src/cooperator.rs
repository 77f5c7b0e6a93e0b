//! The scheduler component, [`Cooperator`], and the default one, [`GlobalCooperator`].

use alloc::vec::Vec;
use bevy_ecs::{
    component::Component, entity::Entity, lifecycle::HookContext, resource::Resource,
    world::DeferredWorld,
};
use core::time::Duration;

use crate::{Budget, Outcome, run_queue::RunQueue};

/// One scheduler: a [`Budget`], a run queue of tasks and a round-robin cursor that persists
/// across frames.
///
/// Any number may exist; each steps its own tasks within its own budget (they do not share one).
/// For most uses the [`GlobalCooperator`] the plugin spawns is the right one. Spawn more for
/// separate budgets, for example one for background loading and one for cutscenes.
///
/// Start, stop and inspect it through [`CooperateWorldExt`](crate::CooperateWorldExt) and
/// [`CooperateCommandsExt`](crate::CooperateCommandsExt). **Despawning a cooperator, or stopping
/// it, finishes every one of its tasks — paused ones too — with
/// [`Outcome::SchedulerStopped`].**
///
/// ```
/// # use bevy_cooperator::prelude::*;
/// # use bevy_ecs::prelude::*;
/// # let mut world = World::new();
/// // A cooperator that waits for `start_cooperator` (Twisted's `started=False`).
/// let loader = world.spawn(Cooperator::new(Budget::millis(1)).not_started()).id();
/// assert!(!world.get::<Cooperator>(loader).unwrap().running());
/// ```
#[derive(Component, Debug)]
#[component(on_discard = on_cooperator_discard)]
pub struct Cooperator {
    /// How much work it may do per frame. May be changed at any time; read at the start of a tick.
    pub budget: Budget,
    started: bool,
    stopped: bool,
    pub(crate) queue: RunQueue,
    pub(crate) stats: CooperatorStats,
}

impl Default for Cooperator {
    fn default() -> Self {
        Cooperator::new(Budget::default())
    }
}

impl Cooperator {
    /// A started cooperator with this budget.
    #[must_use]
    pub fn new(budget: Budget) -> Self {
        Cooperator {
            budget,
            started: true,
            stopped: false,
            queue: RunQueue::new(),
            stats: CooperatorStats::default(),
        }
    }

    /// Not started: tasks are accepted and queued but nothing runs until
    /// [`start_cooperator`](crate::CooperateWorldExt::start_cooperator).
    #[must_use]
    pub fn not_started(mut self) -> Self {
        self.started = false;
        self
    }

    /// Twisted's `running`: started and not stopped.
    pub fn running(&self) -> bool {
        self.started && !self.stopped
    }

    /// Whether it was stopped (and not started again since).
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Tasks ready to run now.
    pub fn runnable_count(&self) -> u32 {
        self.queue.runnable()
    }

    /// Live tasks, runnable or paused.
    pub fn task_count(&self) -> u32 {
        self.queue.members()
    }

    /// Paused live tasks.
    pub fn paused_count(&self) -> u32 {
        self.queue.members() - self.queue.runnable()
    }

    /// Runnable tasks in the order they will next run.
    pub fn run_order(&self) -> Vec<Entity> {
        self.queue.runnable_in_order()
    }

    /// Figures about the last tick.
    pub fn stats(&self) -> &CooperatorStats {
        &self.stats
    }

    pub(crate) fn set_started(&mut self) {
        self.started = true;
        self.stopped = false;
    }

    pub(crate) fn set_stopped(&mut self) {
        self.stopped = true;
    }
}

/// Figures a [`Cooperator`] keeps about its work.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "bevy_reflect", derive(bevy_reflect::Reflect))]
pub struct CooperatorStats {
    /// Ticks run (frames in which it had a runnable task).
    pub ticks: u64,
    /// Steps run in the last tick.
    pub last_tick_steps: u32,
    /// Time the last tick took on the [`CooperatorClock`](crate::CooperatorClock) (time budgets only).
    pub last_tick_time: Option<Duration>,
    /// Steps run since it was spawned.
    pub total_steps: u64,
    /// Tasks finished since it was spawned.
    pub finished: u64,
}

/// The entity of the default cooperator, spawned by [`CooperatorPlugin`](crate::CooperatorPlugin)
/// with the plugin's budget. `cooperate(work)` uses it.
#[derive(Resource, Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalCooperator(pub Entity);

/// A despawned, removed or replaced cooperator finishes all its tasks at once.
fn on_cooperator_discard(mut world: DeferredWorld, ctx: HookContext) {
    let Some(mut coop) = world.get_mut::<Cooperator>(ctx.entity) else {
        return;
    };
    let tasks = coop.queue.drain();
    if tasks.is_empty() {
        return;
    }
    world
        .commands()
        .queue(move |world: &mut bevy_ecs::world::World| {
            for task in tasks {
                crate::lifecycle::finish(world, task, Outcome::SchedulerStopped);
            }
        });
}
