//! The hot loop: one tick of one cooperator steps its runnable tasks round-robin until the budget
//! is spent, holding the cooperator's run queue while steps do not use the world.

use alloc::boxed::Box;
#[cfg(feature = "trace")]
use bevy_ecs::name::Name;
use bevy_ecs::{entity::Entity, query::QueryState, world::World};
use core::time::Duration;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::{
    budget::{TickBudget, Verdict, longer},
    clock::CooperatorClock,
    cooperator::Cooperator,
    error::{TaskPanicked, panic_text},
    outcome::{Failure, Outcome},
    run_queue::{BoxedWork, NIL, Next, RunQueue},
    task::{CooperativeTask, lifecycle, resolve, stats::TaskStats},
    work::{Lender, Step, StepContext},
};

/// Steps cooperators: the hot loop.
pub(super) struct Ticker<'a> {
    pub(super) coop_query: &'a mut QueryState<&'static mut Cooperator>,
    pub(super) clock: &'a CooperatorClock,
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
    /// The clock timed steps are read on.
    clock: &'q CooperatorClock,
    /// The longest timed step this tick, with its task.
    longest: Option<(Entity, Duration)>,
    queue: RunQueue,
    /// The queue is here, not in the component.
    held: bool,
    /// The slot, generation and entity of the entry being stepped (the queue's last), when the
    /// queue was given back during its step.
    given_back: (u32, u32, Entity),
}

impl<'q> Lent<'q> {
    fn new(
        coop: Entity,
        query: &'q mut QueryState<&'static mut Cooperator>,
        clock: &'q CooperatorClock,
    ) -> Self {
        Lent {
            coop,
            query,
            clock,
            longest: None,
            queue: RunQueue::default(),
            held: false,
            given_back: (NIL, u32::MAX, Entity::PLACEHOLDER),
        }
    }

    /// The slot, generation and entity of the entry being stepped, as they were before the step.
    fn stepped(&self) -> (u32, u32, Entity) {
        if self.held {
            self.queue
                .last_ref()
                .map_or((NIL, u32::MAX, Entity::PLACEHOLDER), |e| {
                    (e.slot, e.generation, self.queue.entity(e.slot))
                })
        } else {
            self.given_back
        }
    }

    /// The entity of the task stepped last, at `slot` with `generation`, after its step: as
    /// recorded when the step gave the queue back (its node may be gone since), or else from its
    /// node, which a step that kept the queue away from the world cannot have changed. (A
    /// record of an earlier step with the same slot and generation names the same task.)
    #[cold]
    fn task_of(&self, slot: u32, generation: u32) -> Entity {
        let (s, g, entity) = self.given_back;
        if (s, g) == (slot, generation) {
            entity
        } else {
            self.queue.entity(slot)
        }
    }

    /// Takes the queue out of a running cooperator; `false` when it is gone or not running.
    #[inline(never)]
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

    fn task(&self) -> Entity {
        self.stepped().2
    }
}

/// How long between two "step over budget" warnings of one cooperator.
const WARN_INTERVAL: Duration = Duration::from_secs(5);

impl Ticker<'_> {
    pub(super) fn has_work(&mut self, world: &World, coop: Entity) -> bool {
        self.coop_query
            .get(world, coop)
            .is_ok_and(|c| c.running() && c.queue.runnable() > 0)
    }

    /// One tick of one cooperator: steps round-robin until the budget is spent or no task is
    /// runnable, then records the figures. Returns the steps run.
    pub(super) fn tick(
        &mut self,
        world: &mut World,
        coop_entity: Entity,
        budget: &mut TickBudget,
    ) -> u32 {
        #[cfg(feature = "trace")]
        let _span = tracing::info_span!(
            "cooperator tick",
            cooperator = %coop_entity,
            name = world.get::<Name>(coop_entity).map(Name::as_str),
        )
        .entered();
        #[cfg(feature = "parallel")]
        if let Some(threads) = self
            .coop_query
            .get(world, coop_entity)
            .ok()
            .and_then(|c| c.threads)
        {
            return self.tick_parallel(world, coop_entity, budget, threads);
        }
        #[cfg(feature = "trace")]
        let traced = world
            .get::<crate::cooperator::TraceSteps>(coop_entity)
            .is_some();
        #[cfg(not(feature = "trace"))]
        let traced = false;
        let mut lent = Lent::new(coop_entity, self.coop_query, self.clock);
        // Whatever unwinds out of the loop (a panicking `Drop` of a stopped task's work, say),
        // the queue goes back to its cooperator first.
        let ran = catch_unwind(AssertUnwindSafe(|| {
            if traced {
                Self::run_budget::<true>(world, &mut lent, budget)
            } else {
                Self::run_budget::<false>(world, &mut lent, budget)
            }
        }));
        lent.give_back(world);
        let steps = ran.unwrap_or_else(|payload| std::panic::resume_unwind(payload));
        let timed_longest = lent.longest;
        self.record(world, coop_entity, budget, steps, timed_longest);
        steps
    }

    /// The loop for this kind of budget: asking it after each step is then a plain call.
    /// `TRACED`: a span per step (feature `trace`).
    fn run_budget<const TRACED: bool>(
        world: &mut World,
        lent: &mut Lent<'_>,
        budget: &mut TickBudget,
    ) -> u32 {
        let coop_entity = lent.coop;
        match budget {
            TickBudget::Steps(n) => {
                run::<TRACED>(world, lent, |_, steps, _| Verdict::end_if(steps >= *n))
            }
            TickBudget::Unlimited => run::<TRACED>(world, lent, |_, _, _| Verdict::Go),
            TickBudget::Custom(predicate) => run::<TRACED>(world, lent, |_, _, _| {
                // A panicking predicate ends the tick; it must not unwind while the loop holds
                // the queue.
                Verdict::end_if(
                    catch_unwind(AssertUnwindSafe(&mut *predicate)).unwrap_or_else(|payload| {
                        log::error!(
                            "bevy_cooperator: the budget predicate of cooperator {coop_entity} \
                             panicked ({}); the tick ends",
                            panic_text(payload.as_ref())
                        );
                        true
                    }),
                )
            }),
            TickBudget::Deadline(deadline) => run::<TRACED>(world, lent, |task, _, heavy| {
                deadline.after_step(task, heavy)
            }),
        }
    }

    #[cold]
    pub(super) fn record(
        &mut self,
        world: &mut World,
        coop_entity: Entity,
        budget: &TickBudget,
        steps: u32,
        timed_longest: Option<(Entity, Duration)>,
    ) {
        let elapsed = budget.elapsed();
        let granted = budget.granted();
        let longest = longer(budget.longest_step(), timed_longest);
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
        stats.last_tick_threads = 1;
        stats.last_tick_thread_overshoot = None;
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
/// and asks the budget (`after_step(task, steps, heavy)`) after every step; `task` looks the
/// stepped task's entity up, for a budget that needs it.
// Its own function per kind of budget: only what the loop needs is live in it.
#[inline(never)]
fn run<const TRACED: bool>(
    world: &mut World,
    lent: &mut Lent<'_>,
    mut after_step: impl FnMut(&dyn Fn() -> Entity, u32, bool) -> Verdict,
) -> u32 {
    let mut steps: u32 = 0;
    if !lent.take(world) {
        return 0;
    }
    // Whether any task of the cooperator is timed (read again after a step that gave the
    // queue back, the only time it can change): most have none, and then no node is looked at.
    let mut any_timed = lent.queue.any_timed();
    while let Some(Next {
        work,
        slot,
        generation,
        heavy,
    }) = lent.queue.next()
    {
        let clean = if TRACED {
            step_traced(world, lent, work, any_timed && lent.queue.is_timed(slot))
        } else if any_timed && lent.queue.is_timed(slot) {
            step_timed(world, lent, work)
        } else {
            step(world, lent, work)
        };
        steps = steps.saturating_add(1);
        // A step that used the world or did not just continue gave the queue back.
        if !clean {
            if !lent.take(world) {
                break;
            }
            any_timed = lent.queue.any_timed();
        }
        match after_step(&|| lent.task_of(slot, generation), steps, heavy) {
            Verdict::Go => {}
            Verdict::End => break,
            Verdict::Mark { end, mark } => {
                lent.queue.mark(slot, generation, mark);
                if end {
                    break;
                }
            }
        }
    }
    steps
}

/// Runs one work unit of the task stepped last, whose work the loop took out of its entry, and
/// puts the work back. Returns `true` for a clean step: it did not use the world and continues,
/// so the loop still holds the queue.
#[inline(always)]
fn step(world: &mut World, lent: &mut Lent<'_>, mut work: BoxedWork) -> bool {
    let mut cx = StepContext::new(world, lent);
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
    apply(world, lent, work, result, touched);
    false
}

/// [`step`] for a task with [`TaskStats`]: timed.
#[cold]
#[inline(never)]
fn step_timed(world: &mut World, lent: &mut Lent<'_>, work: BoxedWork) -> bool {
    let clock = lent.clock;
    let task = lent.stepped().2;
    let start = clock.now();
    let clean = step(world, lent, work);
    let took = clock.now().saturating_sub(start);
    if let Some(mut stats) = world.get_mut::<TaskStats>(task) {
        stats.record(took);
    }
    lent.longest = longer(lent.longest, Some((task, took)));
    clean
}

/// [`step`] (or [`step_timed`]) inside a profiler span named after the task.
#[cold]
#[inline(never)]
fn step_traced(world: &mut World, lent: &mut Lent<'_>, work: BoxedWork, timed: bool) -> bool {
    #[cfg(feature = "trace")]
    let _span = {
        let task = lent.stepped().2;
        tracing::info_span!(
            "task step",
            task = %task,
            name = world.get::<Name>(task).map(Name::as_str),
        )
        .entered()
    };
    if timed {
        step_timed(world, lent, work)
    } else {
        step(world, lent, work)
    }
}

/// After a step that used the world or did not just continue: applies what it returned.
#[cold]
#[inline(never)]
fn apply(
    world: &mut World,
    lent: &mut Lent<'_>,
    work: BoxedWork,
    result: Result<Step, Box<dyn core::any::Any + Send>>,
    touched: bool,
) {
    let (slot, generation, task) = lent.stepped();
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
    settle(
        world, lent.query, lent.coop, task, slot, generation, work, step,
    );
}

/// Applies what a step of `task` (at `slot` with `generation` in the run queue of `coop`) asked
/// for, other than continuing: begins its wait, or finishes it. Nothing happens to a task that
/// was stopped, despawned or replaced since the step began (its outcome is already settled).
/// The queue must be in its cooperator.
#[allow(
    clippy::too_many_arguments,
    reason = "what identifies a stepped task, passed as the loop holds it"
)]
#[cold]
#[inline(never)]
pub(super) fn settle(
    world: &mut World,
    query: &mut QueryState<&'static mut Cooperator>,
    coop: Entity,
    task: Entity,
    slot: u32,
    generation: u32,
    work: BoxedWork,
    step: Step,
) {
    let current = query
        .get(world, coop)
        .is_ok_and(|c| c.queue.is_current(slot, generation))
        && world
            .get::<CooperativeTask>(task)
            .is_some_and(CooperativeTask::is_alive);
    if !current {
        drop(work);
        return;
    }
    match step {
        Step::Continue | Step::Wait(_) => {
            if let Ok(mut c) = query.get_mut(world, coop) {
                c.queue.return_work(slot, generation, work);
            }
            if let Step::Wait(wait) = step {
                resolve::begin_wait(world, task, wait);
            }
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
