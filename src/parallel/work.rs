//! World-free work: [`ParallelWork`], its [`ParallelContext`] (which has no world to lend), the
//! conversions of [`IntoParallelWork`], and [`Parallel`], which makes it task work.

use bevy_ecs::entity::Entity;

use crate::work::{Progress, Step, StepContext, Work, iterator_progress};

/// What a world-free work unit may touch: its own task and cooperator entities, and nothing of
/// the world. A [`ParallelWork`] step cannot reach the world, so a parallel cooperator may run it
/// on any thread; what it needs from the game it owns (an `Arc` of shared read-only data, say)
/// and what it produces it returns (its [`Step`]) or keeps until the main thread asks.
///
/// ```compile_fail
/// # use bevy_cooperator::{ParallelContext, Step};
/// fn step(cx: &mut ParallelContext) -> Step {
///     cx.world(); // no such method: a world-free step has no world
///     Step::Done
/// }
/// ```
#[derive(Debug)]
pub struct ParallelContext {
    task: Entity,
    cooperator: Entity,
}

impl ParallelContext {
    pub(crate) fn new(task: Entity, cooperator: Entity) -> Self {
        ParallelContext { task, cooperator }
    }

    /// The entity of the task being stepped.
    pub fn task(&self) -> Entity {
        self.task
    }

    /// The entity of the cooperator stepping it.
    pub fn cooperator(&self) -> Entity {
        self.cooperator
    }
}

/// Resumable work that needs no world: each call of [`ParallelWork::step`] is one work unit, and
/// may run on any thread of a parallel cooperator (see [`Cooperator::parallel`](crate::Cooperator::parallel)).
///
/// Make it task work with [`parallel`]; on an ordinary cooperator it runs like any other work,
/// on the main thread.
///
/// # How a parallel tick runs
/// A cooperator made with [`Cooperator::parallel`](crate::Cooperator::parallel) splits its run
/// order into **shares**: as many contiguous parts of about equal length as the compute pool has
/// threads (at most [`Cooperator::with_threads`](crate::Cooperator::with_threads), at most one
/// per runnable task); the calling thread steps the first, the pool's threads the others. Each
/// share runs on its own thread, round-robin from where that thread stopped in the last tick, so
/// every runnable task gets its steps in turn across ticks. Shares keep their bounds while their
/// lengths stay within a quarter of the mean (tasks that join go to the last share); when they
/// are rebalanced, a task that moves to a neighbouring share may wait up to one pass of it
/// longer for its next turn (never indefinitely). A step
/// that continues stays on its thread; a step that waits, ends, fails or panics takes its task
/// out of the share for the rest of the tick. When every thread has stopped, the main thread
/// applies those results — waits begun, tasks finished, [`TaskFinished`](crate::TaskFinished)
/// fired once each — share by share, and within a share in the order its steps ran, through the
/// same transitions the ordinary step loop uses. Pauses, resumes, stops and despawns made
/// between ticks take effect before the next tick; tasks resumed or added during the apply run
/// from the next tick on (at the back of the run order).
///
/// # Budgets
/// - [`Budget::Time`](crate::Budget::Time), `FrameFraction` and `FillFrame`: every thread steps until the
///   same deadline, with its own deadline watcher and clock reads, so **no thread runs more than
///   one step past the deadline** (the guarantee of [`Budget`](crate::Budget), per thread). The
///   main thread then applies the results, which costs what finishing and waiting cost anywhere.
/// - [`Budget::Steps(n)`](crate::Budget::Steps): `n` steps **in total**, split among the shares
///   in proportion to their lengths (the first shares get what the rounding leaves); a share
///   whose tasks all wait or end leaves the rest of its part unused. `Steps(0)` runs one step,
///   in the first share.
/// - `Unlimited`: every share until its tasks all wait or end.
/// - `Custom`: the predicate is polled after every step of any thread, under a lock; once it
///   says stop, every thread stops after its current step.
///
/// # What is deterministic
/// With `Budget::Steps` (or `Unlimited`) and a fixed number of threads (set by
/// [`Cooperator::with_threads`](crate::Cooperator::with_threads), with a pool of at least that
/// many), which task runs which steps in which tick, the order of the steps within each share,
/// and the order in which results are applied (and so every [`TaskFinished`](crate::TaskFinished))
/// are the same in every run. The interleaving of steps of *different* shares in real time is
/// not: shared state written by steps of two shares sees them in any order. With a time budget,
/// how many steps each thread runs depends on the machine, and so does everything after.
///
/// # One thread
/// Without `bevy_tasks`' `multi_threaded` feature (and on wasm) the pool has one thread: the
/// tick has one share, stepped on the calling thread, which then behaves like an ordinary
/// cooperator whose steps do not touch the world — except that a step's result is applied
/// after the tick rather than right after the step. Without a `ComputeTaskPool` (no
/// `TaskPoolPlugin`, which `DefaultPlugins` and `MinimalPlugins` add) the same happens.
///
/// Work that needs the world given to a parallel cooperator fails at its first turn with
/// [`NotWorldFree`](crate::NotWorldFree). [`TaskStats`](crate::TaskStats) times the steps on
/// whichever thread runs them and adds them up after the tick; with
/// [`TraceSteps`](crate::TraceSteps) (feature `trace`) each step's span is opened on its thread
/// and carries the task entity but not its `Name` (no thread but the main one reads the world).
///
/// ```
/// use std::sync::Arc;
/// use bevy_app::App;
/// use bevy_cooperator::{ParallelContext, ParallelWork, parallel, prelude::*};
///
/// /// Sums a shared read-only grid, a row a step.
/// struct RowSum { grid: Arc<Vec<Vec<u32>>>, row: usize, sum: u64 }
///
/// impl ParallelWork for RowSum {
///     fn step(&mut self, _cx: &mut ParallelContext) -> Step {
///         let Some(row) = self.grid.get(self.row) else { return Step::Done };
///         self.sum += row.iter().map(|&c| u64::from(c)).sum::<u64>();
///         self.row += 1;
///         Step::Continue
///     }
/// }
///
/// let mut app = App::new();
/// app.add_plugins(CooperatorPlugin::default());
/// let crunch = app.world_mut().spawn(Cooperator::new(Budget::Steps(8)).with_threads(2)).id();
/// let grid = Arc::new(vec![vec![1; 100]; 10]);
/// let tasks: Vec<_> = (0..4)
///     .map(|_| {
///         let work = parallel(RowSum { grid: grid.clone(), row: 0, sum: 0 });
///         app.world_mut().cooperate_on(crunch, work).unwrap()
///     })
///     .collect();
/// app.update(); // 8 steps in all: 2 rows of each grid sum, on up to 2 threads
/// assert!(tasks.iter().all(|&t| app.world().task_steps(t) == Ok(2)));
/// ```
pub trait ParallelWork: Send + 'static {
    /// Runs one unit of work and says what comes next. A [`Step::Wait`] or the end of the work is
    /// applied on the main thread once the tick's threads have stopped.
    fn step(&mut self, cx: &mut ParallelContext) -> Step;

    /// How far the work has come, if it knows (see [`Work::progress`]). Default: unknown.
    fn progress(&self) -> Option<Progress> {
        None
    }

    /// [`progress`](Self::progress), for work that has run `steps` steps.
    #[doc(hidden)]
    fn progress_after(&self, steps: u64) -> Option<Progress> {
        let _ = steps;
        self.progress()
    }
}

/// Marker for [`IntoParallelWork`] on iterators.
#[doc(hidden)]
pub struct ParallelIteratorMarker;

/// Marker for [`IntoParallelWork`] on [`ParallelWork`] types.
#[doc(hidden)]
pub struct ParallelWorkMarker;

/// Anything that can be turned into world-free work: any `Iterator` whose items convert into a
/// [`Step`] (as for [`IntoWork`](crate::IntoWork): `()` continues, the end is
/// [`Step::Done`]), and any [`ParallelWork`], closures made with [`parallel_fn`] included.
pub trait IntoParallelWork<Marker>: Send + 'static {
    /// The work type.
    type Work: ParallelWork;
    /// Converts into world-free work.
    fn into_parallel_work(self) -> Self::Work;
}

/// World-free iterator work (see [`IntoParallelWork`]); knows its progress when the iterator's
/// `size_hint` is exact.
pub struct ParallelIter<I> {
    iter: I,
}

impl<I> ParallelWork for ParallelIter<I>
where
    I: Iterator + Send + 'static,
    I::Item: Into<Step>,
{
    #[inline]
    fn step(&mut self, _cx: &mut ParallelContext) -> Step {
        match self.iter.next() {
            Some(item) => item.into(),
            None => Step::Done,
        }
    }

    fn progress_after(&self, steps: u64) -> Option<Progress> {
        iterator_progress(&self.iter, steps)
    }
}

impl<I> IntoParallelWork<ParallelIteratorMarker> for I
where
    I: Iterator + Send + 'static,
    I::Item: Into<Step>,
{
    type Work = ParallelIter<I>;
    fn into_parallel_work(self) -> ParallelIter<I> {
        ParallelIter { iter: self }
    }
}

impl<W: ParallelWork> IntoParallelWork<ParallelWorkMarker> for W {
    type Work = W;
    fn into_parallel_work(self) -> W {
        self
    }
}

/// World-free closure work, made by [`parallel_fn`].
pub struct ParallelFn<F>(F);

impl<F, S> ParallelWork for ParallelFn<F>
where
    F: FnMut(&mut ParallelContext) -> S + Send + 'static,
    S: Into<Step>,
{
    #[inline]
    fn step(&mut self, cx: &mut ParallelContext) -> Step {
        (self.0)(cx).into()
    }
}

/// World-free task work from a closure called once per step with a [`ParallelContext`]; it
/// returns anything that converts into a [`Step`].
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::{prelude::*, parallel_fn};
/// let mut app = App::new();
/// // Three steps a frame: exact on any machine (a time budget could end the tick sooner).
/// app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(3)));
/// let mut left = 3;
/// let task = app.world_mut().cooperate(parallel_fn(move |_: &mut _| {
///     left -= 1;
///     if left == 0 { Step::Done } else { Step::Continue }
/// }));
/// app.world_mut().entity_mut(task).insert(RetainFinished);
/// app.update();
/// let outcome = app.world().get::<CooperativeTask>(task).unwrap().outcome();
/// assert!(outcome.is_some_and(Outcome::is_done));
/// ```
pub fn parallel_fn<F, S>(f: F) -> Parallel<ParallelFn<F>>
where
    F: FnMut(&mut ParallelContext) -> S + Send + 'static,
    S: Into<Step>,
{
    Parallel(ParallelFn(f))
}

/// World-free work as task work: give it to `cooperate` / `cooperate_on` like any work. A
/// parallel cooperator steps it on its threads; any other cooperator steps it on the main thread.
/// Made by [`parallel`] and [`parallel_fn`].
pub struct Parallel<W>(W);

/// Makes world-free work (a [`ParallelWork`] or an iterator) task work for any cooperator.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::{prelude::*, parallel};
/// let mut app = App::new();
/// app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(2)));
/// let crunch = app.world_mut().spawn(Cooperator::new(Budget::Steps(4)).parallel()).id();
/// let task = app.world_mut().cooperate_on(crunch, parallel((0..10).map(|_| ()))).unwrap();
/// app.update();
/// assert_eq!(app.world().task_steps(task), Ok(4));
/// ```
pub fn parallel<M, W: IntoParallelWork<M>>(work: W) -> Parallel<W::Work> {
    Parallel(work.into_parallel_work())
}

impl<W> Parallel<W> {
    /// The world-free work inside.
    pub fn into_inner(self) -> W {
        self.0
    }
}

impl<W: ParallelWork> Work for Parallel<W> {
    #[inline]
    fn step(&mut self, cx: &mut StepContext) -> Step {
        self.0
            .step(&mut ParallelContext::new(cx.task(), cx.cooperator()))
    }

    fn progress(&self) -> Option<Progress> {
        self.0.progress()
    }

    fn progress_after(&self, steps: u64) -> Option<Progress> {
        self.0.progress_after(steps)
    }

    #[inline]
    fn step_world_free(&mut self, task: Entity, cooperator: Entity) -> Option<Step> {
        Some(self.0.step(&mut ParallelContext::new(task, cooperator)))
    }
}
