//! The scheduler component, [`Cooperator`], and the default one, [`GlobalCooperator`].

use alloc::vec::Vec;
use bevy_ecs::{
    component::Component, entity::Entity, lifecycle::HookContext, resource::Resource,
    world::DeferredWorld,
};
use core::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use crate::{
    budget::Budget,
    run_queue::{Drained, RunQueue},
};

/// One scheduler: a [`Budget`], a run queue of tasks and a round-robin cursor that persists
/// across frames.
///
/// Any number may exist; each steps its own tasks within its own budget, unless it is a lane of a
/// [`FrameBudget`](crate::FrameBudget), which shares one budget among several cooperators.
/// For most uses the [`GlobalCooperator`] the plugin spawns is the right one. Spawn more for
/// separate budgets, for example one for background loading and one for cutscenes.
///
/// Start, stop and inspect it through [`CooperateWorldExt`](crate::CooperateWorldExt) and
/// [`CooperateCommandsExt`](crate::CooperateCommandsExt). **Despawning a cooperator, or stopping
/// it, finishes every one of its tasks — paused ones too — with
/// [`Outcome::SchedulerStopped`](crate::Outcome::SchedulerStopped)**: the runnable ones in run order, then the paused ones in the
/// order they joined.
///
/// Cooperators take their turns in [`CooperatorSystems::Step`](crate::CooperatorSystems::Step) in
/// the order they were inserted, the [`GlobalCooperator`] first. Each ticks if it has runnable
/// tasks when its turn comes, so work that an earlier cooperator's step gives it runs in the same
/// frame, and work given to one whose turn has passed runs in the next.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # use bevy_ecs::prelude::*;
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
/// // Background loading and cutscenes each get a budget of their own.
/// let world = app.world_mut();
/// let loading = world.spawn(Cooperator::new(Budget::Steps(8))).id();
/// let cutscene = world.spawn(Cooperator::new(Budget::Steps(2))).id();
/// let chunks = world.cooperate_on(loading, std::iter::repeat(())).unwrap();
/// let camera = world.cooperate_on(cutscene, std::iter::repeat(())).unwrap();
/// app.update();
/// assert_eq!(app.world().task_steps(chunks), Ok(8));
/// assert_eq!(app.world().task_steps(camera), Ok(2));
///
/// // Despawning a cooperator finishes its tasks.
/// app.world_mut().entity_mut(camera).insert(RetainFinished);
/// app.world_mut().despawn(cutscene);
/// app.world_mut().flush();
/// assert_eq!(app.world().task_outcome(camera), Some(Outcome::SchedulerStopped));
/// ```
#[derive(Component, Debug)]
#[component(on_insert = on_cooperator_insert, on_discard = on_cooperator_discard)]
pub struct Cooperator {
    /// How much work it may do per frame. May be changed at any time; read at the start of a tick.
    /// Ignored while the cooperator is a lane of a [`FrameBudget`](crate::FrameBudget).
    pub budget: Budget,
    started: bool,
    stopped: bool,
    pub(crate) queue: RunQueue,
    pub(crate) stats: CooperatorStats,
    /// Clock reading of the last "step over budget" warning (rate limit).
    pub(crate) warned_at: Option<Duration>,
    /// When it was inserted, as a count: cooperators tick in this order.
    pub(crate) created: u64,
    /// For a parallel cooperator, the most threads a tick may use (`usize::MAX`: all the
    /// compute pool has).
    #[cfg(feature = "parallel")]
    pub(crate) threads: Option<usize>,
}

/// Numbers cooperators in the order they are inserted.
static CREATED: AtomicU64 = AtomicU64::new(0);

impl Default for Cooperator {
    fn default() -> Self {
        Cooperator::new(Budget::default())
    }
}

impl Cooperator {
    /// A started cooperator with this budget. See the example on [`Cooperator`].
    #[must_use]
    pub fn new(budget: Budget) -> Self {
        Cooperator {
            budget,
            started: true,
            stopped: false,
            queue: RunQueue::new(),
            stats: CooperatorStats::default(),
            warned_at: None,
            created: 0,
            #[cfg(feature = "parallel")]
            threads: None,
        }
    }

    /// Not started: tasks are accepted and queued but nothing runs until
    /// [`start_cooperator`](crate::CooperateWorldExt::start_cooperator) (Twisted's
    /// `started=False`).
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
    /// let loader = app.world_mut().spawn(Cooperator::new(Budget::Steps(3)).not_started()).id();
    /// let task = app.world_mut().cooperate_on(loader, std::iter::repeat(())).unwrap();
    /// app.update();
    /// let coop = app.world().get::<Cooperator>(loader).unwrap();
    /// assert!(!coop.running() && !coop.is_stopped());
    /// assert_eq!(coop.runnable_count(), 1); // queued, not run
    /// assert_eq!(app.world().task_steps(task), Ok(0));
    ///
    /// app.world_mut().start_cooperator(loader).unwrap();
    /// app.update();
    /// assert_eq!(app.world().task_steps(task), Ok(3));
    /// ```
    #[must_use]
    pub fn not_started(mut self) -> Self {
        self.started = false;
        self
    }

    /// A **parallel** cooperator (feature `parallel`): its tasks' world-free work
    /// ([`parallel`](crate::parallel), [`parallel_fn`](crate::parallel_fn)) is stepped on the
    /// threads of `bevy_tasks::ComputeTaskPool`, each thread its own share of the run order,
    /// all within the same budget; a time budget's deadline holds on every thread (at most one
    /// step past it). The tick never waits for a pool thread the operating system starts late:
    /// while the calling thread waits for the others, it runs what the pool has not started (as
    /// `ComputeTaskPool::scope` does, so it may also run another of the pool's tasks then), and a
    /// share first taken past the deadline steps nothing and keeps its place for the next tick.
    /// Work that needs the world fails on it with
    /// [`NotWorldFree`](crate::NotWorldFree). See [`ParallelWork`](crate::ParallelWork) for what
    /// is applied when, and how the budgets are shared.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::{prelude::*, parallel};
    /// let mut app = App::new();
    /// app.add_plugins(CooperatorPlugin::default());
    /// let crunch = app
    ///     .world_mut()
    ///     .spawn(Cooperator::new(Budget::Steps(6)).with_threads(2))
    ///     .id();
    /// let tasks: Vec<_> = (0..3)
    ///     .map(|_| app.world_mut().cooperate_on(crunch, parallel(std::iter::repeat(()))).unwrap())
    ///     .collect();
    /// app.update();
    /// // 6 steps in all, whatever the number of threads: 2 each.
    /// for task in tasks {
    ///     assert_eq!(app.world().task_steps(task), Ok(2));
    /// }
    /// ```
    #[cfg(feature = "parallel")]
    #[must_use]
    pub fn parallel(mut self) -> Self {
        self.threads = Some(usize::MAX);
        self
    }

    /// A [`parallel`](Self::parallel) cooperator whose ticks use at most `threads` threads (at
    /// least one; fewer when the pool has fewer). A fixed number makes the step trace of a
    /// `Budget::Steps` cooperator the same in every run.
    #[cfg(feature = "parallel")]
    #[must_use]
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads.max(1));
        self
    }

    /// For a parallel cooperator, the most threads a tick may use (`usize::MAX`: all the pool
    /// has); `None` for an ordinary one.
    #[cfg(feature = "parallel")]
    pub fn threads(&self) -> Option<usize> {
        self.threads
    }

    /// Twisted's `running`: started and not stopped.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
    /// let global = app.world().resource::<GlobalCooperator>().0;
    /// let task = app.world_mut().cooperate(std::iter::repeat(()));
    /// app.update();
    /// assert!(app.world().get::<Cooperator>(global).unwrap().running());
    ///
    /// app.world_mut().stop_cooperator(global).unwrap();
    /// let coop = app.world().get::<Cooperator>(global).unwrap();
    /// assert!(!coop.running() && coop.is_stopped());
    /// app.update();
    /// assert!(app.world().get_entity(task).is_err()); // finished, cleaned up
    ///
    /// app.world_mut().start_cooperator(global).unwrap();
    /// assert!(app.world().get::<Cooperator>(global).unwrap().running());
    /// ```
    pub fn running(&self) -> bool {
        self.started && !self.stopped
    }

    /// Whether it was stopped (and not started again since). See [`running`](Self::running).
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Tasks ready to run now.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// let world = app.world_mut();
    /// let global = world.resource::<GlobalCooperator>().0;
    /// let bell = world.spawn_signal();
    /// for _walker in 0..2 {
    ///     world.cooperate(std::iter::repeat(()));
    /// }
    /// let _monk = world.cooperate([Wait::signal(bell)].into_iter());
    /// app.update();
    /// let coop = app.world().get::<Cooperator>(global).unwrap();
    /// assert_eq!(coop.task_count(), 3);
    /// assert_eq!(coop.runnable_count(), 2);
    /// assert_eq!(coop.paused_count(), 1); // the monk waits for the bell
    /// ```
    pub fn runnable_count(&self) -> u32 {
        self.queue.runnable()
    }

    /// Live tasks, runnable or paused. See [`runnable_count`](Self::runnable_count).
    pub fn task_count(&self) -> u32 {
        self.queue.members()
    }

    /// Paused live tasks. See [`runnable_count`](Self::runnable_count).
    pub fn paused_count(&self) -> u32 {
        self.queue.members() - self.queue.runnable()
    }

    /// Runnable tasks in the order they will next run. The round-robin cursor persists across
    /// frames:
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
    /// let world = app.world_mut();
    /// let global = world.resource::<GlobalCooperator>().0;
    /// let [a, b, c] = [(); 3].map(|()| world.cooperate(std::iter::repeat(())));
    /// assert_eq!(world.get::<Cooperator>(global).unwrap().run_order(), [a, b, c]);
    /// app.update(); // `a` runs its one step
    /// assert_eq!(app.world().get::<Cooperator>(global).unwrap().run_order(), [b, c, a]);
    /// ```
    pub fn run_order(&self) -> Vec<Entity> {
        self.queue.runnable_in_order()
    }

    /// Figures about the last tick and since it was spawned (see [`CooperatorStats`]).
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

/// Figures a [`Cooperator`] keeps about its work, read with [`Cooperator::stats`].
///
/// The `last_tick_*` fields describe the current frame once
/// [`CooperatorSystems::Step`](crate::CooperatorSystems::Step) has run: a cooperator with nothing
/// to run this frame reports zero steps and `None` times.
///
/// Times are read on the [`CooperatorClock`](crate::CooperatorClock) and are only known for time
/// budgets ([`Budget::Time`](crate::Budget::Time), `FrameFraction`, `FillFrame`, or a
/// time-based [`FrameBudget`](crate::FrameBudget)): the other budgets never read the clock.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
/// let world = app.world_mut();
/// let global = world.resource::<GlobalCooperator>().0;
/// world.cooperate((0..2).map(|_| ())); // 3 steps: 2 items and the end
/// world.cooperate(std::iter::repeat(()));
/// app.update();
/// app.update();
/// let stats = app.world().get::<Cooperator>(global).unwrap().stats();
/// assert_eq!(stats.ticks, 2);
/// assert_eq!(stats.last_tick_steps, 4);
/// assert_eq!(stats.total_steps, 8);
/// assert_eq!(stats.finished, 1);
/// assert_eq!((stats.runnable, stats.paused), (1, 0));
/// // A step budget never reads the clock.
/// assert_eq!(stats.last_tick_time, None);
/// assert_eq!(stats.last_tick_utilization(), None);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "bevy_reflect", derive(bevy_reflect::Reflect))]
pub struct CooperatorStats {
    /// Ticks run (frames in which it had a runnable task).
    pub ticks: u64,
    /// Steps run in the last tick.
    pub last_tick_steps: u32,
    /// Time the last tick took.
    pub last_tick_time: Option<Duration>,
    /// Time the last tick was allowed (its budget, or its share of a [`FrameBudget`](crate::FrameBudget)).
    pub last_tick_budget: Option<Duration>,
    /// How far the last tick ran past its budget (zero when it stayed within it).
    pub last_tick_overshoot: Option<Duration>,
    /// The longest step of the last tick that was timed on its own, with its task. The clock is
    /// read every few steps; a step is timed on its own when it is the first of a tick, when steps
    /// are heavy (the scheduler then reads the clock after each one), or when its task carries
    /// [`TaskStats`](crate::TaskStats).
    pub longest_step: Option<(Entity, Duration)>,
    /// Runnable tasks at the end of the last tick (or frame, when idle).
    pub runnable: u32,
    /// Paused tasks at the end of the last tick (or frame, when idle).
    pub paused: u32,
    /// Threads the last tick stepped on: 1 for an ordinary cooperator, the number of shares for
    /// a parallel one (0 when the frame had no tick).
    pub last_tick_threads: u32,
    /// For a parallel cooperator with a time budget: how far the last of its threads ran past
    /// the deadline, each thread timing its own loop (the tick's
    /// [`last_tick_overshoot`](Self::last_tick_overshoot) also counts applying the results).
    /// `None` otherwise.
    pub last_tick_thread_overshoot: Option<Duration>,
    /// For a cooperator with a [`Budget::FillFrame`](crate::Budget::FillFrame) of its own: the
    /// last whole frame the budget saw, from the start of `First` to the end of `Last`. `None`
    /// otherwise.
    pub last_frame_time: Option<Duration>,
    /// Steps run since it was spawned.
    pub total_steps: u64,
    /// Tasks finished since it was spawned.
    pub finished: u64,
    /// Steps that alone took longer than their tick's whole budget, since it was spawned.
    pub over_budget_steps: u64,
}

impl CooperatorStats {
    /// Share of the budget used by the last tick (`time / budget`), for time budgets.
    ///
    /// ```
    /// # use bevy_cooperator::CooperatorStats;
    /// # use std::time::Duration;
    /// let stats = CooperatorStats {
    ///     last_tick_time: Some(Duration::from_millis(1)),
    ///     last_tick_budget: Some(Duration::from_millis(2)),
    ///     ..Default::default()
    /// };
    /// assert_eq!(stats.last_tick_utilization(), Some(0.5));
    /// ```
    pub fn last_tick_utilization(&self) -> Option<f64> {
        let (time, budget) = (self.last_tick_time?, self.last_tick_budget?);
        (!budget.is_zero()).then(|| time.as_secs_f64() / budget.as_secs_f64())
    }

    /// Whether the figures already describe a frame without a tick.
    pub(crate) fn is_idle_frame(&self, runnable: u32, paused: u32) -> bool {
        self.last_tick_steps == 0
            && self.last_tick_threads == 0
            && self.last_tick_thread_overshoot.is_none()
            && self.last_tick_time.is_none()
            && self.longest_step.is_none()
            && self.runnable == runnable
            && self.paused == paused
    }

    /// Resets the per-tick figures for a frame without a tick.
    pub(crate) fn set_idle_frame(&mut self, runnable: u32, paused: u32) {
        self.last_tick_steps = 0;
        self.last_tick_threads = 0;
        self.last_tick_thread_overshoot = None;
        self.last_tick_time = None;
        self.last_tick_budget = None;
        self.last_tick_overshoot = None;
        self.longest_step = None;
        self.runnable = runnable;
        self.paused = paused;
    }
}

/// The entity of the default cooperator, spawned by [`CooperatorPlugin`](crate::CooperatorPlugin)
/// with the plugin's budget. `cooperate(work)` uses it.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # let mut app = App::new();
/// app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(2)));
/// let global = app.world().resource::<GlobalCooperator>().0;
/// let task = app.world_mut().cooperate(std::iter::repeat(()));
/// assert_eq!(app.world().get::<CooperativeTask>(task).unwrap().cooperator(), global);
/// // Its budget may be changed at any time: read at the start of each tick.
/// app.world_mut().get_mut::<Cooperator>(global).unwrap().budget = Budget::Steps(5);
/// app.update();
/// assert_eq!(app.world().task_steps(task), Ok(5));
/// ```
#[derive(Resource, Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalCooperator(pub Entity);

/// A despawned, removed or replaced cooperator finishes all its tasks at once.
fn on_cooperator_insert(mut world: DeferredWorld, ctx: HookContext) {
    if let Some(mut coop) = world.get_mut::<Cooperator>(ctx.entity) {
        coop.created = CREATED.fetch_add(1, Ordering::Relaxed);
    }
}

fn on_cooperator_discard(mut world: DeferredWorld, ctx: HookContext) {
    let Some(mut coop) = world.get_mut::<Cooperator>(ctx.entity) else {
        return;
    };
    let tasks = coop.queue.drain();
    if tasks.is_empty() {
        return;
    }
    world.commands().queue(FinishDrained(tasks));
}

/// The command that finishes the tasks of a despawned cooperator, in order, with
/// `SchedulerStopped` (the same transition as `stop_cooperator`). Its `apply` is the task
/// part's, which owns every task transition: `task/lifecycle.rs`.
pub(crate) struct FinishDrained(pub(crate) Vec<Drained>);

/// Put on a cooperator's entity (feature `trace`): each step of its tasks gets a profiler span,
/// `task step`, with the task entity and its `Name` (on a parallel cooperator, the entity only:
/// the span opens on the thread that runs the step). Each tick has its own span
/// (`cooperator tick`) whether or not this is present. A span per step costs far more than a
/// trivial step: turn it on to find where a frame went, not for good.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::{TraceSteps, prelude::*};
/// # use bevy_ecs::{name::Name, prelude::*};
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(2)));
/// let global = app.world().resource::<GlobalCooperator>().0;
/// app.world_mut().entity_mut(global).insert(TraceSteps);
/// // With a tracing subscriber installed (tracy, chrome traces), each step of this task shows
/// // as a `task step` span with `name = "pathfinder"`.
/// let task = app.world_mut().spawn(Name::new("pathfinder")).id();
/// app.world_mut().entity_mut(task).cooperate((0..3).map(|_| ()));
/// app.update();
/// assert_eq!(app.world().task_steps(task), Ok(2));
/// ```
#[cfg(feature = "trace")]
#[derive(Component, Debug, Default, Clone, Copy)]
pub struct TraceSteps;
