//! The systems: wake, step (the budgeted round-robin loop) and cleanup.

use alloc::{string::String, vec::Vec};
use bevy_ecs::{entity::Entity, query::QueryState, system::Local, world::World};
use bevy_time::{Real, Time};
use core::time::Duration;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::{
    Budget, CooperativeTask, Cooperator, CooperatorClock, Failure, FrameBudget, GlobalCooperator,
    Lane, Outcome, RetainFinished, Step, StepContext, TaskStats,
    budget::TickBudget,
    lifecycle,
    lifecycle::FinishedTasks,
    run_queue::{BoxedWork, NIL, Next, RunQueue},
    wait,
    work::Lender,
};

/// [`CooperatorSystems::Wake`](crate::CooperatorSystems::Wake): resolves the waits that came due.
pub(crate) fn wake_system(world: &mut World) {
    wait::wake(world);
}

/// Buffers the step system keeps between frames, so that a frame allocates nothing.
#[derive(Default)]
pub(crate) struct StepScratch {
    /// Cooperators that run on their own budget this frame, in tick order: `(order key, entity)`.
    order: Vec<((bool, u64), Entity)>,
    /// Frame budgets with lanes: (entity, budget).
    budgets: Vec<(Entity, Budget)>,
    /// Lanes: (frame budget entity, index into `budgets`, lane), sorted for running.
    lanes: Vec<(Entity, usize, Lane)>,
    /// Cooperators that are lanes, sorted.
    lane_members: Vec<Entity>,
}

/// [`CooperatorSystems::Step`](crate::CooperatorSystems::Step): each running cooperator steps its
/// runnable tasks round-robin until its budget for this frame is spent; then each
/// [`FrameBudget`] shares its budget among its lanes.
///
/// Cooperators take their turns in the order they were created, the [`GlobalCooperator`] first.
/// A cooperator ticks if it has runnable tasks when its turn comes, so work given to it by an
/// earlier cooperator's tick runs in the same frame.
pub(crate) fn step_system(
    world: &mut World,
    cooperators: &mut QueryState<(Entity, &mut Cooperator)>,
    frame_budgets: &mut QueryState<(Entity, &FrameBudget)>,
    coop_query: &mut QueryState<&'static mut Cooperator>,
    mut scratch: Local<StepScratch>,
) {
    let scratch = &mut *scratch;
    collect_lanes(world, frame_budgets, scratch);
    scratch.order.clear();
    let global = world.get_resource::<GlobalCooperator>().map(|g| g.0);
    let mut any_runnable = false;
    for (entity, mut coop) in cooperators.iter_mut(world) {
        let (runnable, members) = (coop.queue.runnable(), coop.queue.members());
        let lane = scratch.lane_members.binary_search(&entity).is_ok();
        if coop.running() && !lane {
            scratch
                .order
                .push(((Some(entity) != global, coop.created), entity));
        }
        if runnable > 0 && coop.running() {
            any_runnable = true;
        } else if !coop.stats.is_idle_frame(runnable, members - runnable) {
            coop.stats.set_idle_frame(runnable, members - runnable);
        }
    }
    if !any_runnable {
        return;
    }
    scratch.order.sort_unstable();
    let clock = world
        .get_resource::<CooperatorClock>()
        .cloned()
        .unwrap_or_default();
    let real_delta = world
        .get_resource::<Time<Real>>()
        .map_or(Duration::ZERO, Time::delta);
    let mut ticker = Ticker {
        coop_query,
        clock: &clock,
    };
    for &(_, coop_entity) in &scratch.order {
        if !ticker.has_work(world, coop_entity) {
            continue;
        }
        let Ok(coop) = ticker.coop_query.get(world, coop_entity) else {
            continue;
        };
        let mut budget = coop.budget.begin(&clock, real_delta);
        ticker.tick(world, coop_entity, &mut budget);
    }
    run_lanes(world, &mut ticker, scratch, real_delta);
}

/// Gathers the lanes of every frame budget, highest priority first, each cooperator once.
fn collect_lanes(
    world: &mut World,
    frame_budgets: &mut QueryState<(Entity, &FrameBudget)>,
    scratch: &mut StepScratch,
) {
    scratch.budgets.clear();
    scratch.lanes.clear();
    scratch.lane_members.clear();
    for (entity, frame_budget) in frame_budgets.iter(world) {
        if frame_budget.lanes.is_empty() {
            continue;
        }
        let index = scratch.budgets.len();
        scratch.budgets.push((entity, frame_budget.budget.clone()));
        scratch
            .lanes
            .extend(frame_budget.lanes.iter().map(|lane| (entity, index, *lane)));
    }
    if scratch.lanes.is_empty() {
        return;
    }
    // Stable: lanes of equal priority keep their listed order.
    scratch
        .lanes
        .sort_by_key(|(owner, _, lane)| (*owner, core::cmp::Reverse(lane.priority)));
    let members = &mut scratch.lane_members;
    scratch.lanes.retain(
        |(_, _, lane)| match members.binary_search(&lane.cooperator) {
            Ok(_) => false,
            Err(at) => {
                members.insert(at, lane.cooperator);
                true
            }
        },
    );
}

/// Runs every frame budget: lanes by priority, equal priorities split by weight, leftovers passed on.
fn run_lanes(
    world: &mut World,
    ticker: &mut Ticker,
    scratch: &mut StepScratch,
    real_delta: Duration,
) {
    let lanes = &scratch.lanes;
    let mut i = 0;
    while i < lanes.len() {
        let (owner, index, _) = lanes[i];
        let group_end = lanes[i..]
            .iter()
            .position(|(o, ..)| *o != owner)
            .map_or(lanes.len(), |n| i + n);
        let mut total = scratch.budgets[index].1.begin(ticker.clock, real_delta);
        for j in i..group_end {
            let lane = lanes[j].2;
            if !ticker.has_work(world, lane.cooperator) {
                continue;
            }
            // Weights of this lane and the lanes after it with the same priority and work to do.
            let weight = u128::from(lane.weight.max(1));
            let weights: u128 = lanes[j..group_end]
                .iter()
                .take_while(|(.., l)| l.priority == lane.priority)
                .filter(|(.., l)| ticker.has_work(world, l.cooperator))
                .map(|(.., l)| u128::from(l.weight.max(1)))
                .sum();
            match &mut total {
                TickBudget::Deadline(deadline) => {
                    let left = deadline.end.saturating_sub(ticker.clock.now());
                    let share = Duration::from_nanos(
                        u64::try_from(left.as_nanos() * weight / weights).unwrap_or(u64::MAX),
                    );
                    let mut budget = TickBudget::deadline(ticker.clock, share);
                    ticker.tick(world, lane.cooperator, &mut budget);
                }
                TickBudget::Steps(left) => {
                    let share = (u128::from(*left) * weight / weights) as u32;
                    let mut budget = TickBudget::Steps(share);
                    let steps = ticker.tick(world, lane.cooperator, &mut budget);
                    *left = left.saturating_sub(steps);
                }
                TickBudget::Unlimited => {
                    ticker.tick(world, lane.cooperator, &mut TickBudget::Unlimited);
                }
                TickBudget::Custom(_) => {
                    ticker.tick(world, lane.cooperator, &mut total);
                }
            }
        }
        i = group_end;
    }
}

/// Steps cooperators: the hot loop.
struct Ticker<'a> {
    coop_query: &'a mut QueryState<&'static mut Cooperator>,
    clock: &'a CooperatorClock,
}

/// A cooperator's run queue, taken out of its component for the length of a tick, so that a step
/// that does not use the world costs nothing but the queue's own array. The first world access
/// of a step gives it back ([`StepContext`] calls [`give_back`](Lender::give_back)), so anything
/// that looks at the cooperator from the world sees the real queue; the loop takes it again after
/// that step.
struct Lent<'q> {
    coop: Entity,
    /// Reaches the cooperator faster than a world lookup.
    query: &'q mut QueryState<&'static mut Cooperator>,
    queue: RunQueue,
    /// The queue is here, not in the component.
    held: bool,
    /// The slot and generation of the entry being stepped (the queue's last), when the queue
    /// was given back during its step.
    given_back: (u32, u32),
}

impl<'q> Lent<'q> {
    fn new(coop: Entity, query: &'q mut QueryState<&'static mut Cooperator>) -> Self {
        Lent {
            coop,
            query,
            queue: RunQueue::default(),
            held: false,
            given_back: (NIL, u32::MAX),
        }
    }

    /// The slot and generation of the entry being stepped, as they were before the step.
    fn stepped(&mut self) -> (u32, u32) {
        if self.held {
            self.queue
                .last()
                .map_or((NIL, u32::MAX), |e| (e.slot, e.generation))
        } else {
            self.given_back
        }
    }

    /// Takes the queue out of a running cooperator; `false` when it is gone or not running.
    fn take(&mut self, world: &mut World) -> bool {
        if !self.held {
            match self.query.get_mut(world, self.coop) {
                Ok(mut coop) if coop.running() => {
                    core::mem::swap(&mut coop.queue, &mut self.queue);
                    self.held = true;
                }
                _ => return false,
            }
        }
        true
    }
}

impl Lender for Lent<'_> {
    #[inline]
    fn give_back(&mut self, world: &mut World) {
        if self.held {
            self.given_back = self.stepped();
            self.held = false;
            if let Ok(mut coop) = self.query.get_mut(world, self.coop) {
                core::mem::swap(&mut coop.queue, &mut self.queue);
            }
        }
    }

    fn cooperator(&self) -> Entity {
        self.coop
    }
}

/// How long between two "step over budget" warnings of one cooperator.
const WARN_INTERVAL: Duration = Duration::from_secs(5);

impl Ticker<'_> {
    fn has_work(&mut self, world: &World, coop: Entity) -> bool {
        self.coop_query
            .get_manual(world, coop)
            .is_ok_and(|c| c.running() && c.queue.runnable() > 0)
    }

    /// One tick of one cooperator: steps round-robin until the budget is spent or no task is
    /// runnable, then records the figures. Returns the steps run.
    fn tick(&mut self, world: &mut World, coop_entity: Entity, budget: &mut TickBudget) -> u32 {
        let mut lent = Lent::new(coop_entity, self.coop_query);
        // One loop per kind of budget, so that asking it after each step is a plain call.
        let (steps, timed_longest) = match budget {
            TickBudget::Steps(n) => run(self.clock, world, &mut lent, |_, steps| steps >= *n),
            TickBudget::Unlimited => run(self.clock, world, &mut lent, |_, _| false),
            TickBudget::Custom(predicate) => run(self.clock, world, &mut lent, |_, _| {
                // A panicking predicate ends the tick; it must not unwind while the loop holds
                // the queue.
                catch_unwind(AssertUnwindSafe(&mut *predicate)).unwrap_or_else(|payload| {
                    log::error!(
                        "bevy_cooperator: the budget predicate of cooperator {coop_entity} \
                         panicked ({}); the tick ends",
                        panic_text(payload.as_ref())
                    );
                    true
                })
            }),
            TickBudget::Deadline(deadline) => run(self.clock, world, &mut lent, |task, _| {
                deadline.exhausted(task)
            }),
        };
        lent.give_back(world);
        self.record(world, coop_entity, budget, steps, timed_longest);
        steps
    }

    #[cold]
    fn record(
        &mut self,
        world: &mut World,
        coop_entity: Entity,
        budget: &TickBudget,
        steps: u32,
        timed_longest: Option<(Entity, Duration)>,
    ) {
        let elapsed = budget.elapsed();
        let granted = budget.granted();
        let longest = match (budget.longest_step(), timed_longest) {
            (Some(a), Some(b)) => Some(if b.1 > a.1 { b } else { a }),
            (a, b) => a.or(b),
        };
        let Ok(mut coop) = self.coop_query.get_mut(world, coop_entity) else {
            return;
        };
        let coop = &mut *coop;
        let (runnable, members) = (coop.queue.runnable(), coop.queue.members());
        let stats = &mut coop.stats;
        stats.ticks += 1;
        stats.last_tick_steps = steps;
        stats.last_tick_time = elapsed;
        stats.last_tick_budget = granted;
        stats.last_tick_overshoot = elapsed.zip(granted).map(|(e, g)| e.saturating_sub(g));
        stats.longest_step = longest;
        stats.runnable = runnable;
        stats.paused = members - runnable;
        stats.total_steps += u64::from(steps);
        let (Some((task, took)), Some(granted)) = (longest, granted) else {
            return;
        };
        if took <= granted || steps == 0 {
            return;
        }
        stats.over_budget_steps += 1;
        let now = self.clock.now();
        if coop
            .warned_at
            .is_none_or(|at| now.saturating_sub(at) >= WARN_INTERVAL)
        {
            coop.warned_at = Some(now);
            log::warn!(
                "bevy_cooperator: one step of task {task} took {took:?}, more than the whole \
                 budget of its cooperator {coop_entity} ({granted:?}); split its work into \
                 smaller steps (this warning is shown at most every {WARN_INTERVAL:?})"
            );
        }
    }
}

/// The hot loop: takes the next runnable task, runs one work unit of it, puts its work back,
/// and asks the budget (`exhausted(task, steps)`) after every step.
#[inline(always)]
fn run(
    clock: &CooperatorClock,
    world: &mut World,
    lent: &mut Lent<'_>,
    mut exhausted: impl FnMut(Entity, u32) -> bool,
) -> (u32, Option<(Entity, Duration)>) {
    let mut steps: u32 = 0;
    let mut timed_longest = None;
    if !lent.take(world) {
        return (0, None);
    }
    // Whether any task of the cooperator is timed (read again after a step that gave the
    // queue back, the only time it can change).
    let mut any_timed = lent.queue.any_timed();
    while let Some(Next { work, task, slot }) = lent.queue.next() {
        let clean = if any_timed && lent.queue.is_timed(slot) {
            step_timed(clock, world, lent, task, work, &mut timed_longest)
        } else {
            step(world, lent, task, work)
        };
        steps += 1;
        // A step that used the world or did not just continue gave the queue back.
        if !clean {
            if !lent.take(world) {
                break;
            }
            any_timed = lent.queue.any_timed();
        }
        if exhausted(task, steps) {
            break;
        }
    }
    (steps, timed_longest)
}

/// Runs one work unit of `task`, whose work the loop took out of its entry, and puts the work
/// back. Returns `true` for a clean step: it did not use the world and continues, so the
/// loop still holds the queue.
#[inline(always)]
fn step(world: &mut World, lent: &mut Lent<'_>, task: Entity, mut work: BoxedWork) -> bool {
    let mut cx = StepContext::new(world, task, lent);
    // Only a result other than `Continue` is moved out of the step's return slot: looking at
    // its discriminant there is much cheaper than copying the whole `Step` each time.
    let mut other = None;
    let result = catch_unwind(AssertUnwindSafe(|| {
        let step = work.get().step(&mut cx);
        if matches!(step, Step::Continue) {
            // Holds nothing: no drop to run.
            core::mem::forget(step);
        } else {
            other = Some(step);
        }
    }));
    let touched = cx.touched();
    if result.is_ok() && other.is_none() && !touched {
        // The common case: the work goes back where it was (empty while stepped, so there is
        // nothing to drop).
        if let Some(entry) = lent.queue.last() {
            core::mem::forget(entry.work.replace(work));
        }
        return true;
    }
    let result = result.map(|()| other.unwrap_or(Step::Continue));
    apply(world, lent, task, work, result, touched);
    false
}

/// [`step`] for a task with [`TaskStats`]: timed.
#[cold]
#[inline(never)]
fn step_timed(
    clock: &CooperatorClock,
    world: &mut World,
    lent: &mut Lent<'_>,
    task: Entity,
    work: BoxedWork,
    longest: &mut Option<(Entity, Duration)>,
) -> bool {
    let start = clock.now();
    let clean = step(world, lent, task, work);
    let took = clock.now().saturating_sub(start);
    if let Some(mut stats) = world.get_mut::<TaskStats>(task) {
        stats.record(took);
    }
    if longest.is_none_or(|(_, d)| took > d) {
        *longest = Some((task, took));
    }
    clean
}

/// After a step that used the world or did not just continue: applies what it returned.
#[cold]
#[inline(never)]
fn apply(
    world: &mut World,
    lent: &mut Lent<'_>,
    task: Entity,
    work: BoxedWork,
    result: Result<Step, Box<dyn core::any::Any + Send>>,
    touched: bool,
) {
    let (slot, generation) = lent.stepped();
    if touched {
        // The step gave the queue back; what it queued takes effect now.
        world.flush();
    }
    let step = match result {
        Ok(Step::Continue) => {
            // A step that used the world and continues: its work goes home, unless its task
            // was stopped, despawned or replaced meanwhile (the node is gone).
            if lent.take(world) {
                lent.queue.return_work(slot, generation, work);
            }
            return;
        }
        Ok(step) => step,
        Err(payload) => Step::Fail(TaskPanicked(panic_text(payload.as_ref())).into()),
    };
    lent.give_back(world);
    let current = lent
        .query
        .get_manual(world, lent.coop)
        .is_ok_and(|c| c.queue.is_current(slot, generation))
        && world
            .get::<CooperativeTask>(task)
            .is_some_and(CooperativeTask::is_alive);
    if !current {
        // Stopped, despawned or replaced during its own step: its outcome is already settled.
        drop(work);
        return;
    }
    match step {
        Step::Continue => unreachable!("handled above"),
        Step::Wait(wait) => {
            if let Ok(mut coop) = lent.query.get_mut(world, lent.coop) {
                coop.queue.return_work(slot, generation, work);
            }
            lifecycle::begin_wait(world, task, wait);
        }
        Step::Done => {
            drop(work);
            lifecycle::finish(world, task, Outcome::Done);
        }
        Step::Fail(error) => {
            drop(work);
            lifecycle::finish(world, task, Outcome::Failed(Failure::new(error)));
        }
    }
    world.flush();
}

/// The error a panicking step fails its task with.
#[derive(Debug)]
pub struct TaskPanicked(pub String);

impl core::fmt::Display for TaskPanicked {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "task panicked: {}", self.0)
    }
}

impl core::error::Error for TaskPanicked {}

/// The text of a panic's payload.
pub(crate) fn panic_text(payload: &(dyn core::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        String::from(*s)
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        String::from("<non-string panic payload>")
    }
}

/// [`CooperatorSystems::Cleanup`](crate::CooperatorSystems::Cleanup): despawns finished standalone
/// tasks and removes finished attached ones, unless retained.
pub(crate) fn cleanup_system(world: &mut World) {
    let finished = core::mem::take(&mut world.resource_mut::<FinishedTasks>().0);
    if finished.is_empty() {
        return;
    }
    for &entity in &finished {
        let Ok(mut e) = world.get_entity_mut(entity) else {
            continue;
        };
        if e.contains::<RetainFinished>() {
            continue;
        }
        let Some(task) = e.get::<CooperativeTask>() else {
            continue;
        };
        if task.is_alive() {
            continue;
        }
        if task.standalone {
            e.despawn();
        } else {
            e.remove::<(CooperativeTask, crate::Paused)>();
        }
    }
    // Keep the allocation for the next frame.
    let mut finished = finished;
    finished.clear();
    let mut slot = world.resource_mut::<FinishedTasks>();
    if slot.0.is_empty() {
        slot.0 = finished;
    }
}
