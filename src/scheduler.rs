//! The systems: wake, step (the budgeted round-robin loop) and cleanup.

use alloc::{boxed::Box, string::String, vec::Vec};
use bevy_ecs::{entity::Entity, query::QueryState, system::Local, world::World};
use bevy_time::{Real, Time};
use core::time::Duration;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::{
    Budget, CooperativeTask, Cooperator, CooperatorClock, Failure, FrameBudget, Lane, Outcome,
    RetainFinished, Step, StepContext, TaskStats,
    budget::TickBudget,
    lifecycle,
    lifecycle::FinishedTasks,
    run_queue::{Body, Claimed, RunQueue},
    wait,
};

/// [`CooperatorSystems::Wake`](crate::CooperatorSystems::Wake): resolves the waits that came due.
pub(crate) fn wake_system(world: &mut World) {
    wait::wake(world);
}

/// Buffers the step system keeps between frames, so that a frame allocates nothing.
#[derive(Default)]
pub(crate) struct StepScratch {
    /// Cooperators that run on their own budget this frame, in entity order.
    order: Vec<Entity>,
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
    for (entity, mut coop) in cooperators.iter_mut(world) {
        let (runnable, members) = (coop.queue.runnable(), coop.queue.members());
        if runnable > 0 && coop.running() {
            if scratch.lane_members.binary_search(&entity).is_err() {
                scratch.order.push(entity);
            }
        } else if !coop.stats.is_idle_frame(runnable, members - runnable) {
            coop.stats.set_idle_frame(runnable, members - runnable);
        }
    }
    if scratch.order.is_empty() && scratch.lanes.is_empty() {
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
    for &coop_entity in &scratch.order {
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
                    let share = Duration::from_nanos((left.as_nanos() * weight / weights) as u64);
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

/// What one turn of the loop did.
enum Ran {
    /// Nothing (a stale queue entry).
    Nothing,
    /// A step.
    Step,
    /// A step of a task with [`TaskStats`], timed.
    Timed(Duration),
}

/// How many run-queue entries a tick claims at once.
const CLAIM: usize = 32;

/// The run-queue entries a tick has claimed at once, with their tasks' bodies (work and step
/// counter) taken out of the queue nodes, so that stepping them needs no access to the
/// cooperator or the task entity. Each is stepped where it lies.
///
/// Everything is given back before anything else can see the queue or a task — the step's
/// first world access ([`GiveBack`]), a result other than `Continue`, the end of the tick: the
/// cursor returns to the first entry not stepped, as if each stepped entry had been taken with
/// one `advance`, and each body returns to its node (a body whose node is gone — its task stopped
/// or despawned meanwhile — is dropped right there).
struct Batch {
    coop: Entity,
    /// The distinct entries claimed: entry `i` is `claimed[i % period]`.
    claimed: [Claimed; CLAIM],
    period: usize,
    /// Entries claimed.
    len: usize,
    /// The next entry to step.
    next: usize,
    /// `next % period`.
    at: usize,
}

impl Batch {
    fn new(coop: Entity) -> Self {
        Batch {
            coop,
            claimed: core::array::from_fn(|_| Claimed::default()),
            period: 0,
            len: 0,
            next: 0,
            at: 0,
        }
    }

    /// The slot of the first entry not stepped, if any.
    #[inline]
    fn resume(&self) -> Option<u32> {
        (self.next < self.len).then(|| self.claimed[self.at].slot)
    }

    /// Returns the cursor and the bodies to `queue`; the batch is then empty.
    #[inline]
    fn return_to(&mut self, queue: &mut RunQueue) {
        if let Some(slot) = self.resume() {
            queue.set_cursor(slot);
        }
        let period = core::mem::take(&mut self.period);
        (self.len, self.next, self.at) = (0, 0, 0);
        return_bodies(queue, &mut self.claimed[..period]);
    }

    /// Gives everything back to the cooperator.
    fn give_back(&mut self, world: &mut World) {
        let period = self.period;
        GiveBack {
            coop: self.coop,
            resume: self.resume(),
            before: &mut self.claimed[..period],
            after: &mut [],
        }
        .give_back(world);
        (self.period, self.len, self.next, self.at) = (0, 0, 0, 0);
    }

    /// After a step of entry `at` that used the world (everything else was given back): holds
    /// only that entry, returned to its node with the next claim or at the end of the tick.
    #[inline]
    fn keep(&mut self, at: usize) {
        self.claimed.swap(0, at);
        (self.period, self.len, self.next, self.at) = (1, 0, 0, 0);
    }
}

/// Returns claimed bodies to their nodes; those whose node is gone are dropped.
#[inline]
fn return_bodies(queue: &mut RunQueue, claimed: &mut [Claimed]) {
    for claimed in claimed {
        if claimed.body.is_some() {
            queue.return_body(claimed.slot, claimed.generation, &mut claimed.body);
        }
    }
}

/// What a step's first world access gives back: the rest of its batch (every claimed entry but
/// the one being stepped) and the cursor.
pub(crate) struct GiveBack<'a> {
    coop: Entity,
    resume: Option<u32>,
    before: &'a mut [Claimed],
    after: &'a mut [Claimed],
}

impl GiveBack<'_> {
    /// Gives the cursor and the bodies back to the cooperator (a body whose cooperator is gone
    /// is dropped); nothing is left to give after.
    #[inline]
    pub(crate) fn give_back(&mut self, world: &mut World) {
        if self.resume.is_some() || !self.before.is_empty() || !self.after.is_empty() {
            self.give_back_all(world);
        }
    }

    #[cold]
    fn give_back_all(&mut self, world: &mut World) {
        let resume = self.resume.take();
        let before = core::mem::take(&mut self.before);
        let after = core::mem::take(&mut self.after);
        match world.get_mut::<Cooperator>(self.coop) {
            Some(mut coop) => {
                if let Some(slot) = resume {
                    coop.queue.set_cursor(slot);
                }
                return_bodies(&mut coop.queue, before);
                return_bodies(&mut coop.queue, after);
            }
            None => {
                for claimed in before.iter_mut().chain(after.iter_mut()) {
                    drop(claimed.body.take());
                }
            }
        }
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
    ///
    /// The run queue hands out a batch of entries at once (`RunQueue::claim`, the same as that
    /// many `advance` calls), so that steps which do not touch the world (most iterator steps)
    /// cost no access to the cooperator. Before anything else can see the queue — the step's
    /// first world access, a result other than `Continue`, the end of the tick — the cursor is put
    /// back where one `advance` per step would have left it, so the order is exactly the same.
    fn tick(&mut self, world: &mut World, coop_entity: Entity, budget: &mut TickBudget) -> u32 {
        let mut steps: u32 = 0;
        let mut timed_longest: Option<(Entity, Duration)> = None;
        let mut batch = Batch::new(coop_entity);
        // Batches grow while steps stay clean and shrink to one entry after a step that touched
        // the world, so world-using tasks pay nothing for batching.
        let mut want = 1;
        // The budget is asked once per batch (with the steps run since it was last asked): a batch
        // never claims more entries than the budget allows before it must look (`claim_limit`),
        // except for a custom predicate, which is asked after every step.
        let every_step = matches!(budget, TickBudget::Custom(_));
        let (mut unasked, mut last): (u32, Entity) = (0, Entity::PLACEHOLDER);
        loop {
            if batch.next == batch.len {
                let Ok(mut coop) = self.coop_query.get_mut(world, coop_entity) else {
                    break;
                };
                batch.return_to(&mut coop.queue);
                if !coop.running() {
                    break;
                }
                let limit = budget.claim_limit(steps).min(want);
                (batch.len, batch.period) = coop.queue.claim(limit, &mut batch.claimed);
                if batch.len == 0 {
                    break;
                }
            }
            let at = batch.at;
            batch.next += 1;
            batch.at = if at + 1 == batch.period { 0 } else { at + 1 };
            let task = batch.claimed[at].task;
            let (ran, clean) = self.step_task(world, &mut batch, at);
            if !clean {
                // Given back: claim afresh, one entry at a time for now.
                want = 1;
            } else if batch.next == batch.len {
                want = (want * 2).min(CLAIM);
            }
            match ran {
                Ran::Nothing => {}
                Ran::Step => {
                    (steps, unasked, last) = (steps + 1, unasked + 1, task);
                }
                Ran::Timed(took) => {
                    if timed_longest.is_none_or(|(_, d)| took > d) {
                        timed_longest = Some((task, took));
                    }
                    (steps, unasked, last) = (steps + 1, unasked + 1, task);
                }
            }
            if unasked > 0 && (every_step || batch.next == batch.len) {
                if budget.exhausted_after(last, steps, unasked) {
                    break;
                }
                unasked = 0;
            }
        }
        if batch.period > 0
            && let Ok(mut coop) = self.coop_query.get_mut(world, coop_entity)
        {
            batch.return_to(&mut coop.queue);
        }
        batch.give_back(world);
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

    /// Runs one work unit of the claimed entry `at` of `batch` and applies what it returned.
    /// Also says whether the step was clean (it did not touch the world and continued), so the
    /// batch is still valid.
    #[inline]
    fn step_task(&mut self, world: &mut World, batch: &mut Batch, at: usize) -> (Ran, bool) {
        let coop_entity = batch.coop;
        let resume = batch.resume();
        let (before, rest) = batch.claimed[..batch.period].split_at_mut(at);
        let (current, after) = rest.split_first_mut().expect("a claimed entry");
        let (slot, generation, task, timed) = (
            current.slot,
            current.generation,
            current.task,
            current.timed,
        );
        let Some(body) = current.body.as_mut() else {
            // A stale queue entry (cannot normally happen): forget it.
            batch.give_back(world);
            if let Ok(mut coop) = self.coop_query.get_mut(world, coop_entity)
                && coop.queue.is_current(slot, generation)
            {
                drop(coop.queue.remove(slot));
            }
            return (Ran::Nothing, false);
        };
        body.count_step();
        let start = timed.then(|| self.clock.now());
        let give_back = GiveBack {
            coop: coop_entity,
            resume,
            before,
            after,
        };
        let mut cx = StepContext::in_batch(world, task, coop_entity, give_back);
        // Only a result other than `Continue` is moved out of the step's return slot: looking at
        // its discriminant first is much cheaper than copying the whole `Step` every time.
        let mut other = None;
        let result = catch_unwind(AssertUnwindSafe(|| {
            let step = body.work.get().step(&mut cx);
            if matches!(step, Step::Continue) {
                // Holds nothing: no drop to run.
                core::mem::forget(step);
            } else {
                other = Some(step);
            }
        }));
        let touched = cx.touched();
        let took = start.map(|start| self.clock.now().saturating_sub(start));
        if touched {
            world.flush();
        }
        let clean = if result.is_ok() && other.is_none() {
            if touched {
                batch.keep(at);
            }
            // The common case: the work stays where it is and the batch goes on.
            !touched
        } else {
            let body = batch.claimed[at].body.take().expect("the stepped body");
            if touched {
                // Given back already; the queue may have changed since.
                (batch.period, batch.len, batch.next, batch.at) = (0, 0, 0, 0);
            } else {
                batch.give_back(world);
            }
            let step = match result {
                Ok(()) => other.unwrap_or(Step::Continue),
                Err(payload) => Step::Fail(panic_error(payload).into()),
            };
            self.apply(world, coop_entity, (slot, generation, task), body, step);
            false
        };
        let ran = match took {
            None => Ran::Step,
            Some(took) => {
                if let Some(mut stats) = world.get_mut::<TaskStats>(task) {
                    stats.record(took);
                }
                Ran::Timed(took)
            }
        };
        (ran, clean)
    }

    /// Applies a step's result other than a plain `Continue`, for the claimed entry
    /// `(slot, generation, task)`.
    #[cold]
    fn apply(
        &mut self,
        world: &mut World,
        coop_entity: Entity,
        (slot, generation, task): (u32, u64, Entity),
        body: Body,
        step: Step,
    ) {
        let current = self
            .coop_query
            .get_manual(world, coop_entity)
            .is_ok_and(|c| c.queue.is_current(slot, generation))
            && world
                .get::<CooperativeTask>(task)
                .is_some_and(CooperativeTask::is_alive);
        if !current {
            // Stopped, despawned or replaced during its own step: its outcome is already settled.
            drop(body);
            return;
        }
        match step {
            Step::Continue => self.put_back(world, coop_entity, slot, generation, body),
            Step::Wait(wait) => {
                self.put_back(world, coop_entity, slot, generation, body);
                lifecycle::begin_wait(world, task, wait);
                world.flush();
            }
            Step::Done => {
                drop(body);
                lifecycle::finish(world, task, Outcome::Done);
                world.flush();
            }
            Step::Fail(error) => {
                drop(body);
                lifecycle::finish(world, task, Outcome::Failed(Failure::new(error)));
                world.flush();
            }
        }
    }

    fn put_back(
        &mut self,
        world: &mut World,
        coop_entity: Entity,
        slot: u32,
        generation: u64,
        body: Body,
    ) {
        if let Ok(mut coop) = self.coop_query.get_mut(world, coop_entity) {
            drop(coop.queue.put_back(slot, generation, body));
        }
    }
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

fn panic_error(payload: Box<dyn core::any::Any + Send>) -> TaskPanicked {
    let message = if let Some(s) = payload.downcast_ref::<&str>() {
        String::from(*s)
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        String::from("<non-string panic payload>")
    };
    TaskPanicked(message)
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
