//! The per-thread loop of a parallel tick: one thread steps its share of the run order
//! round-robin, under its own limit, and reports what it cannot settle itself (waits, ends,
//! failures) for the main thread to apply.

use alloc::vec::Vec;
use bevy_ecs::{entity::Entity, error::BevyError};
use core::{
    fmt,
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};
use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    sync::Mutex,
};

use crate::{
    budget::{Deadline, Mark, Predicate, Verdict, longer},
    clock::CooperatorClock,
    error::{TaskPanicked, lock, panic_text},
    run_queue::{BoxedWork, Entry, Share},
    work::Step,
};

/// The failure of a task whose work needs the world, given to a parallel cooperator: its work is
/// not [`ParallelWork`](crate::ParallelWork), so no thread may step it. Make the work world-free
/// and wrap it with [`parallel`](crate::parallel), or give it to an ordinary cooperator.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::{NotWorldFree, prelude::*};
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default());
/// let crunch = app.world_mut().spawn(Cooperator::new(Budget::Steps(4)).parallel()).id();
/// // A closure with the world at hand is no world-free work.
/// let task = app
///     .world_mut()
///     .cooperate_on(crunch, from_fn(|_: &mut StepContext| Step::Continue))
///     .unwrap();
/// app.world_mut().entity_mut(task).insert(RetainFinished);
/// app.update();
/// let outcome = app.world().get::<CooperativeTask>(task).unwrap().outcome().unwrap();
/// let failure = outcome.failure().unwrap();
/// assert_eq!(failure.downcast_ref::<NotWorldFree>(), Some(&NotWorldFree));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotWorldFree;

impl fmt::Display for NotWorldFree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a parallel cooperator steps only world-free work (`parallel(..)`, `parallel_fn(..)`); \
             this task's work needs the world",
        )
    }
}

impl core::error::Error for NotWorldFree {}

/// A Custom budget's predicate shared by every thread of a tick: polled under a lock after each
/// step of any thread; once it says stop, every thread stops after its current step.
pub(crate) struct SharedPredicate<'p> {
    predicate: Mutex<&'p mut Predicate>,
    stop: AtomicBool,
}

impl<'p> SharedPredicate<'p> {
    pub(crate) fn new(predicate: &'p mut Predicate) -> Self {
        SharedPredicate {
            predicate: Mutex::new(predicate),
            stop: AtomicBool::new(false),
        }
    }

    fn poll(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return true;
        }
        let mut predicate = lock(&self.predicate);
        // A panicking predicate ends the tick.
        let stop = catch_unwind(AssertUnwindSafe(|| (*predicate)())).unwrap_or_else(|payload| {
            log::error!(
                "bevy_cooperator: the budget predicate of a parallel cooperator panicked ({}); \
                 the tick ends",
                panic_text(payload.as_ref())
            );
            true
        });
        if stop {
            self.stop.store(true, Ordering::Relaxed);
        }
        stop
    }
}

/// How much one share may do this tick.
pub(crate) enum Limit<'s, 'p> {
    /// This many steps (the share's part of a [`Budget::Steps`](crate::Budget::Steps)).
    Steps(u32),
    /// Until its tasks all wait or end.
    Unlimited,
    /// Until the tick's deadline, checked by this thread's own watcher and clock reads.
    Deadline(Deadline),
    /// Until the shared predicate says stop.
    Custom(&'s SharedPredicate<'p>),
}

/// A task the share stepped whose step did not just continue: its work (taken out of the run
/// order, so the share steps it no more this tick) and what the step asked.
pub(crate) struct Settled {
    pub(crate) task: Entity,
    pub(crate) slot: u32,
    pub(crate) generation: u32,
    pub(crate) work: BoxedWork,
    pub(crate) step: Step,
}

/// What a share's thread records besides stepping.
#[derive(Clone, Copy)]
pub(crate) struct Recording<'c> {
    /// The clock the steps of tasks with [`TaskStats`](crate::TaskStats) are timed on.
    pub(crate) clock: &'c CooperatorClock,
    /// A profiler span per step (a cooperator with `TraceSteps`).
    #[cfg(feature = "trace")]
    pub(crate) traced: bool,
}

/// What a share's thread did.
pub(crate) struct ShareReport {
    pub(crate) steps: u32,
    /// The index of the run order it would have stepped next.
    pub(crate) next: usize,
    /// In the order its steps ran.
    pub(crate) settled: Vec<Settled>,
    /// How long each step of a task with [`TaskStats`](crate::TaskStats) took, in the order
    /// they ran.
    pub(crate) timed: Vec<(Entity, Duration)>,
    /// The longest step timed on its own, for time limits.
    pub(crate) longest: Option<(Entity, Duration)>,
    /// How far past the deadline its loop ended, for time limits.
    pub(crate) overshoot: Option<Duration>,
}

/// Steps `share` round-robin from where it stopped last tick until `limit` says stop or none of
/// its tasks is runnable. Runs at least one step when any is, unless its limit is no steps.
pub(crate) fn run_share(
    share: Share<'_>,
    cooperator: Entity,
    limit: Limit<'_, '_>,
    recording: Recording<'_>,
) -> ShareReport {
    match limit {
        // No part of a step budget: it keeps its place.
        Limit::Steps(0) => ShareReport::new(share.base + share.start),
        Limit::Steps(n) => run(share, cooperator, recording, |_, steps, _| {
            Verdict::end_if(steps >= n)
        }),
        Limit::Unlimited => run(share, cooperator, recording, |_, _, _| Verdict::Go),
        Limit::Custom(shared) => run(share, cooperator, recording, |_, _, _| {
            Verdict::end_if(shared.poll())
        }),
        Limit::Deadline(mut deadline) => {
            if !deadline.start_here() {
                // Its thread started after the deadline: the share waits for the next tick.
                let mut report = ShareReport::new(share.base + share.start);
                report.overshoot = Some(deadline.overshoot());
                return report;
            }
            let mut report = run(share, cooperator, recording, |task, _, heavy| {
                deadline.after_step(|| task, heavy)
            });
            report.longest = longer(report.longest, deadline.longest);
            report.overshoot = Some(deadline.overshoot());
            report
        }
    }
}

impl ShareReport {
    fn new(next: usize) -> Self {
        ShareReport {
            steps: 0,
            next,
            settled: Vec::new(),
            timed: Vec::new(),
            longest: None,
            overshoot: None,
        }
    }
}

#[inline(never)]
fn run(
    share: Share<'_>,
    cooperator: Entity,
    recording: Recording<'_>,
    mut after_step: impl FnMut(Entity, u32, bool) -> Verdict,
) -> ShareReport {
    let Share {
        base,
        entries,
        start,
        members,
    } = share;
    let len = entries.len();
    let mut report = ShareReport::new(base + start);
    let mut at = start;
    // Entries looked at since the last step: a whole round of them without one means nothing in
    // the share is runnable.
    let mut idle = 0;
    while idle < len {
        if at >= len {
            at = 0;
        }
        let entry = &mut entries[at];
        at += 1;
        // A hole, or a task settled earlier this tick.
        let Some(work) = entry.work.as_mut() else {
            idle += 1;
            continue;
        };
        idle = 0;
        entry.steps.bump();
        let heavy = entry.steps.heavy();
        let task = members.entity(entry.slot);
        #[cfg(feature = "trace")]
        let _span = recording
            .traced
            .then(|| tracing::info_span!("task step", task = %task).entered());
        let step = if members.timed(entry.slot) {
            let clock = recording.clock;
            let started = clock.now();
            let step = step_one(work, task, cooperator);
            let took = clock.now().saturating_sub(started);
            report.timed.push((task, took));
            report.longest = longer(report.longest, Some((task, took)));
            step
        } else {
            step_one(work, task, cooperator)
        };
        report.steps = report.steps.saturating_add(1);
        if let Some(step) = step
            && let Some(work) = entry.work.take()
        {
            report.settled.push(Settled {
                task,
                slot: entry.slot,
                generation: entry.generation,
                work,
                step,
            });
        }
        match after_step(task, report.steps, heavy) {
            Verdict::Go => {}
            Verdict::End => break,
            Verdict::Mark { end, mark } => {
                mark_in_share(entries, at, mark);
                if end {
                    break;
                }
            }
        }
    }
    report.next = base + if at >= len { 0 } else { at };
    report
}

/// Remembers what the deadline learned of the steps just run in a share: the task stepped last
/// (at `at - 1`) or, for suspects, the last `n` stepped (wrapping round the share).
#[cold]
fn mark_in_share(entries: &mut [Entry], at: usize, mark: Mark) {
    let len = entries.len();
    let n = match mark {
        Mark::Suspects(n) => (n as usize).min(len),
        Mark::Heavy | Mark::Light => 1,
    };
    for back in 1..=n {
        entries[(at + len - back) % len].steps.apply(mark);
    }
}

/// One step of a share's task: what it asked, unless it just continues (as in the ordinary loop,
/// only a result other than `Continue` is moved out of the step's return slot).
#[inline(always)]
fn step_one(work: &mut BoxedWork, task: Entity, cooperator: Entity) -> Option<Step> {
    let mut other = None;
    let stepped = catch_unwind(AssertUnwindSafe(|| {
        match work.get().step_world_free(task, cooperator) {
            Some(Step::Continue) => {}
            Some(step) => other = Some(step),
            None => other = Some(Step::Fail(BevyError::from(NotWorldFree))),
        }
    }));
    match stepped {
        Ok(()) => other,
        Err(payload) => Some(Step::Fail(
            TaskPanicked(panic_text(payload.as_ref())).into(),
        )),
    }
}
