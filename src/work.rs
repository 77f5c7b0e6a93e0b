//! What a task runs: [`Work`], [`Step`], [`StepContext`], the conversions of [`IntoWork`], and
//! how far work has come, [`Progress`].

use alloc::boxed::Box;
use bevy_ecs::{entity::Entity, error::BevyError, system::Commands, world::World};

use crate::wait::Wait;

/// What one work unit asks of the scheduler next.
#[derive(Debug)]
pub enum Step {
    /// Run again on a later turn.
    Continue,
    /// Pause until the [`Wait`] is resolved, then continue at the back of the run queue.
    Wait(Wait),
    /// The work is over: the task finishes with [`Outcome::Done`](crate::Outcome::Done).
    Done,
    /// The work failed: the task finishes with [`Outcome::Failed`](crate::Outcome::Failed).
    Fail(BevyError),
}

impl From<()> for Step {
    /// `()` continues, as a Twisted iterator yielding any non-Deferred value.
    fn from((): ()) -> Self {
        Step::Continue
    }
}

impl From<Wait> for Step {
    fn from(wait: Wait) -> Self {
        Step::Wait(wait)
    }
}

impl<T: Into<Step>, E: Into<BevyError>> From<Result<T, E>> for Step {
    /// `Ok(x)` acts as `x`; `Err(e)` fails the task with `e`.
    fn from(result: Result<T, E>) -> Self {
        match result {
            Ok(step) => step.into(),
            Err(e) => Step::Fail(e.into()),
        }
    }
}

/// What a work unit may touch while it runs: the whole [`World`], and its own task and cooperator.
pub struct StepContext<'w> {
    world: &'w mut World,
    task: Entity,
    touched: bool,
    /// The cooperator's run queue, which the step loop holds while it steps: given back before
    /// anyone else can see the queue.
    lent: &'w mut dyn Lender,
}

/// What lends a cooperator's run queue to the step loop (the scheduler's side of the seam).
pub(crate) trait Lender {
    /// Puts the run queue back into its cooperator, if it is not there already.
    fn give_back(&mut self, world: &mut World);
    /// The cooperator whose queue it is.
    fn cooperator(&self) -> Entity;
}

impl<'w> StepContext<'w> {
    /// For a step of `task`: the run queue in `lent` is given back on the first world access.
    #[inline]
    pub(crate) fn new(world: &'w mut World, task: Entity, lent: &'w mut dyn Lender) -> Self {
        StepContext {
            world,
            task,
            touched: false,
            lent,
        }
    }

    /// Marks the world as used, and first gives the run queue the step loop holds back to the
    /// cooperator. **Every method that reaches the world must call this before it does** (a
    /// method that only sets `touched` would let the world see a cooperator without its queue).
    #[inline]
    fn touch(&mut self) {
        if !self.touched {
            self.touched = true;
            self.lent.give_back(self.world);
        }
    }

    /// The world, for any read or change. Commands queued on it are applied right after the step.
    pub fn world(&mut self) -> &mut World {
        self.touch();
        self.world
    }

    /// Commands applied right after this step (not at the end of the frame).
    pub fn commands(&mut self) -> Commands<'_, '_> {
        self.touch();
        self.world.commands()
    }

    /// The entity of the task being stepped.
    pub fn task(&self) -> Entity {
        self.task
    }

    /// The entity of the cooperator stepping it.
    pub fn cooperator(&self) -> Entity {
        self.lent.cooperator()
    }

    /// Whether the step used the world (then the scheduler flushes queued commands).
    pub(crate) fn touched(&self) -> bool {
        self.touched
    }
}

/// Resumable work: each call of [`Work::step`] is one work unit.
///
/// Implement it for a state machine, or build one from an iterator or a closure through
/// [`IntoWork`] and [`from_fn`].
pub trait Work: Send + 'static {
    /// Runs one unit of work and says what comes next.
    fn step(&mut self, cx: &mut StepContext) -> Step;

    /// How far the work has come, if it knows (see
    /// [`TaskProgressExt::task_progress`](crate::TaskProgressExt::task_progress)). Called only
    /// when someone asks, never by the scheduler's step loop. Default: unknown.
    fn progress(&self) -> Option<Progress> {
        None
    }

    /// [`progress`](Self::progress), for work that has run `steps` steps: iterator work counts
    /// its items this way instead of keeping a count of its own.
    #[doc(hidden)]
    fn progress_after(&self, steps: u64) -> Option<Progress> {
        let _ = steps;
        self.progress()
    }

    /// One work unit without the world, for work that needs none (world-free work, stepped by a
    /// parallel cooperator on its threads); `None` for work that needs the world. The seam with
    /// the parallel part, which implements it: this layer knows nothing of it.
    #[cfg(feature = "parallel")]
    #[doc(hidden)]
    fn step_world_free(&mut self, task: Entity, cooperator: Entity) -> Option<Step> {
        let _ = (task, cooperator);
        None
    }
}

/// Marker for [`IntoWork`] on iterators.
#[doc(hidden)]
pub struct IteratorMarker;

/// Marker for [`IntoWork`] on [`Work`] types.
#[doc(hidden)]
pub struct WorkMarker;

/// Anything that can be turned into a task body.
///
/// - any `Iterator` whose items convert into a [`Step`]: `()` continues, a [`Wait`] waits, a
///   `Result` fails on `Err`, a [`Step`] does what it says; the end of the iterator is
///   [`Step::Done`] (Twisted's cooperative iterator);
/// - any [`Work`], including closures wrapped with [`from_fn`].
pub trait IntoWork<Marker>: Send + 'static {
    /// The work type.
    type Work: Work;
    /// Converts into work.
    fn into_work(self) -> Self::Work;

    /// The boxed form the task component stores.
    #[doc(hidden)]
    fn into_boxed_work(self) -> Box<dyn Work>
    where
        Self: Sized,
    {
        Box::new(self.into_work())
    }
}

/// Iterator work (see [`IntoWork`]). Knows its progress when the iterator's `size_hint` is exact.
///
/// It holds nothing but the iterator: the run queue counts the steps, and so the items taken.
pub struct IterWork<I> {
    iter: I,
}

impl<I> Work for IterWork<I>
where
    I: Iterator + Send + 'static,
    I::Item: Into<Step>,
{
    #[inline]
    fn step(&mut self, _cx: &mut StepContext) -> Step {
        match self.iter.next() {
            Some(item) => item.into(),
            None => Step::Done,
        }
    }

    fn progress_after(&self, steps: u64) -> Option<Progress> {
        match self.iter.size_hint() {
            (low, Some(high)) if low == high => {
                Some(Progress::new(steps, steps.saturating_add(low as u64)))
            }
            _ => None,
        }
    }
}

impl<I> IntoWork<IteratorMarker> for I
where
    I: Iterator + Send + 'static,
    I::Item: Into<Step>,
{
    type Work = IterWork<I>;
    fn into_work(self) -> IterWork<I> {
        IterWork { iter: self }
    }
}

impl<W: Work> IntoWork<WorkMarker> for W {
    type Work = W;
    fn into_work(self) -> W {
        self
    }
}

/// Closure work, made by [`from_fn`].
pub struct FnWork<F>(F);

impl<F, S> Work for FnWork<F>
where
    F: FnMut(&mut StepContext) -> S + Send + 'static,
    S: Into<Step>,
{
    #[inline]
    fn step(&mut self, cx: &mut StepContext) -> Step {
        (self.0)(cx).into()
    }
}

/// Work from a closure called once per step with a [`StepContext`] (and so `&mut World`).
///
/// The closure returns anything that converts into a [`Step`]: return [`Step::Done`] to finish.
///
/// ```
/// # use bevy_cooperator::prelude::*;
/// # use bevy_ecs::prelude::*;
/// #[derive(Resource, Default)]
/// struct Loaded(u32);
///
/// let mut chunks = 0;
/// let work = from_fn(move |cx: &mut StepContext| {
///     cx.world().resource_mut::<Loaded>().0 += 1;
///     chunks += 1;
///     if chunks == 3 { Step::Done } else { Step::Continue }
/// });
/// # let _ = work;
/// ```
pub fn from_fn<F, S>(f: F) -> FnWork<F>
where
    F: FnMut(&mut StepContext) -> S + Send + 'static,
    S: Into<Step>,
{
    FnWork(f)
}

/// How far a task has come: `done` units of work out of `total` (when known).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Progress {
    /// Units done.
    pub done: u64,
    /// Units in all, if known.
    pub total: Option<u64>,
}

impl Progress {
    /// `done` of `total`.
    #[must_use]
    pub fn new(done: u64, total: u64) -> Self {
        Progress {
            done,
            total: Some(total),
        }
    }

    /// The share done, `0.0..=1.0`, when the total is known (an empty total counts as done).
    pub fn fraction(&self) -> Option<f32> {
        let total = self.total?;
        Some(if total == 0 {
            1.0
        } else {
            (self.done as f64 / total as f64).min(1.0) as f32
        })
    }
}
