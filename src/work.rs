//! What a task runs: [`Work`], [`Step`], [`StepContext`], the conversions of [`IntoWork`], and
//! how far work has come, [`Progress`].

use alloc::boxed::Box;
use bevy_ecs::{
    change_detection::Mut, component::Mutable, entity::Entity, error::BevyError,
    resource::Resource, system::Commands, world::World,
};

use crate::wait::Wait;

/// What one work unit asks of the scheduler next.
///
/// Iterator items and [`from_fn`] closures may return it directly (or `()`, a [`Wait`], a
/// `Result`: see [`IntoWork`]).
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(10)));
/// // Verifying a save file: two chunks are fine, the third is corrupt.
/// let checks = [
///     Step::Continue,
///     Step::Continue,
///     Step::Fail("chunk 3 is corrupt".into()),
///     Step::Done, // never reached
/// ];
/// let task = app.world_mut().cooperate(checks.into_iter());
/// app.world_mut().entity_mut(task).insert(RetainFinished);
/// app.update();
/// let task = app.world().get::<CooperativeTask>(task).unwrap();
/// let failure = task.outcome().unwrap().failure().unwrap();
/// assert_eq!(failure.to_string(), "chunk 3 is corrupt");
/// ```
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
///
/// A [`from_fn`] closure or a [`Work::step`] receives it once per step.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # use bevy_ecs::prelude::*;
/// #[derive(Component)]
/// struct Tree;
///
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(10)));
/// // Plant a forest, one tree per step, and say which task did it.
/// let mut left = 3;
/// let task = app.world_mut().cooperate(from_fn(move |cx: &mut StepContext| {
///     let planter = cx.task();
///     cx.commands().spawn((Tree, ChildOf(planter)));
///     left -= 1;
///     if left == 0 { Step::Done } else { Step::Continue }
/// }));
/// app.world_mut().entity_mut(task).insert(RetainFinished);
/// app.update();
/// let mut trees = app.world_mut().query_filtered::<&ChildOf, With<Tree>>();
/// assert!(trees.iter(app.world()).all(|parent| parent.parent() == task));
/// assert_eq!(trees.iter(app.world()).count(), 3);
/// ```
pub struct StepContext<'w> {
    world: &'w mut World,
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
    /// The task being stepped (the run order does not keep entities: looked up when asked).
    fn task(&self) -> Entity;
}

impl<'w> StepContext<'w> {
    /// For a step of the task `lent` names: the run queue in `lent` is given back on the first
    /// world access.
    #[inline]
    pub(crate) fn new(world: &'w mut World, lent: &'w mut dyn Lender) -> Self {
        StepContext {
            world,
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
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// #[derive(Resource, Default)]
    /// struct Gold(u32);
    ///
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(2)));
    /// # app.init_resource::<Gold>();
    /// // A mine yields 5 gold a step.
    /// app.world_mut().cooperate(from_fn(|cx: &mut StepContext| {
    ///     cx.world().resource_mut::<Gold>().0 += 5;
    /// }));
    /// app.update();
    /// assert_eq!(app.world().resource::<Gold>().0, 10);
    /// ```
    pub fn world(&mut self) -> &mut World {
        self.touch();
        self.world
    }

    /// Commands applied right after this step (not at the end of the frame).
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// #[derive(Component)]
    /// struct Crate;
    ///
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
    /// app.world_mut().cooperate(from_fn(|cx: &mut StepContext| {
    ///     cx.commands().spawn(Crate);
    ///     // Applied already: the next step would see it.
    ///     Step::Done
    /// }));
    /// app.update();
    /// let mut crates = app.world_mut().query_filtered::<(), With<Crate>>();
    /// assert_eq!(crates.iter(app.world()).count(), 1);
    /// ```
    pub fn commands(&mut self) -> Commands<'_, '_> {
        self.touch();
        self.world.commands()
    }

    /// A resource, `None` when the world has none. Cheaper than [`world`](Self::world): a
    /// resource is no cooperator's business, so the step loop keeps its run queue meanwhile.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// #[derive(Resource)]
    /// struct Difficulty(u32);
    ///
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
    /// app.insert_resource(Difficulty(3));
    /// let spawner = app.world_mut().cooperate(from_fn(|cx: &mut StepContext| {
    ///     let waves = cx.get_resource::<Difficulty>().map_or(1, |d| d.0);
    ///     cx.set_result(waves);
    ///     Step::Done
    /// }));
    /// app.world_mut().entity_mut(spawner).insert(RetainFinished);
    /// app.update();
    /// assert_eq!(app.world().get::<TaskResult<u32>>(spawner).unwrap().0, 3);
    /// ```
    pub fn get_resource<R: Resource>(&self) -> Option<&R> {
        self.world.get_resource::<R>()
    }

    /// A resource to change, `None` when the world has none. Cheaper than
    /// [`world`](Self::world), as [`get_resource`](Self::get_resource) is: the step loop keeps
    /// its run queue meanwhile.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// #[derive(Resource, Default)]
    /// struct Gold(u32);
    ///
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(3)));
    /// app.init_resource::<Gold>();
    /// app.world_mut().cooperate(from_fn(|cx: &mut StepContext| {
    ///     if let Some(mut gold) = cx.get_resource_mut::<Gold>() {
    ///         gold.0 += 5;
    ///     }
    /// }));
    /// app.update();
    /// assert_eq!(app.world().resource::<Gold>().0, 15);
    /// ```
    pub fn get_resource_mut<R: Resource<Mutability = Mutable>>(&mut self) -> Option<Mut<'_, R>> {
        self.world.get_resource_mut::<R>()
    }

    /// The entity of the task being stepped. See the example on [`StepContext`].
    pub fn task(&self) -> Entity {
        self.lent.task()
    }

    /// The entity of the cooperator stepping it.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
    /// // A task that stops the whole loading cooperator it runs on (a cancelled load).
    /// let loader = app.world_mut().spawn(Cooperator::new(Budget::Steps(4))).id();
    /// let other = app.world_mut().cooperate_on(loader, std::iter::repeat(())).unwrap();
    /// app.world_mut()
    ///     .cooperate_on(loader, from_fn(|cx: &mut StepContext| {
    ///         let cooperator = cx.cooperator();
    ///         cx.world().stop_cooperator(cooperator).unwrap();
    ///     }))
    ///     .unwrap();
    /// app.update();
    /// assert!(app.world().get::<Cooperator>(loader).unwrap().is_stopped());
    /// assert!(app.world().get_entity(other).is_err()); // finished and cleaned up
    /// ```
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
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::{Progress, TaskProgressExt, prelude::*};
/// # use bevy_ecs::prelude::*;
/// #[derive(Resource, Default)]
/// struct Terrain(Vec<u8>);
///
/// /// Generates terrain one row per step.
/// struct GenerateTerrain {
///     row: u64,
///     rows: u64,
/// }
///
/// impl Work for GenerateTerrain {
///     fn step(&mut self, cx: &mut StepContext) -> Step {
///         cx.world().resource_mut::<Terrain>().0.push(self.row as u8);
///         self.row += 1;
///         if self.row == self.rows { Step::Done } else { Step::Continue }
///     }
///
///     fn progress(&self) -> Option<Progress> {
///         Some(Progress::new(self.row, self.rows))
///     }
/// }
///
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
/// # app.init_resource::<Terrain>();
/// let task = app.world_mut().cooperate(GenerateTerrain { row: 0, rows: 10 });
/// app.update();
/// assert_eq!(app.world().resource::<Terrain>().0, [0, 1, 2, 3]);
/// assert_eq!(app.world_mut().task_progress(task), Some(Progress::new(4, 10)));
/// ```
pub trait Work: Send + 'static {
    /// Runs one unit of work and says what comes next (see the example on [`Work`]).
    fn step(&mut self, cx: &mut StepContext) -> Step;

    /// How far the work has come, if it knows (see
    /// [`TaskProgressExt::task_progress`](crate::TaskProgressExt::task_progress)). Called only
    /// when someone asks, never by the scheduler's step loop. Default: unknown. See the example
    /// on [`Work`].
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
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(10)));
/// // Results: a missing prefab fails the task at its item.
/// let prefabs = ["tree", "rock", "", "bush"];
/// let world = app.world_mut();
/// let task = world.cooperate(prefabs.into_iter().map(|name| {
///     if name.is_empty() {
///         return Err("a prefab without a name");
///     }
///     Ok(Wait::frames(0)) // yield to other tasks after each prefab
/// }));
/// world.entity_mut(task).insert(RetainFinished);
/// app.update();
/// let outcome = app.world().get::<CooperativeTask>(task).unwrap().outcome().cloned();
/// assert_eq!(outcome.unwrap().failure().unwrap().to_string(), "a prefab without a name");
/// ```
pub trait IntoWork<Marker>: Send + 'static {
    /// The work type.
    type Work: Work;
    /// Converts into work (the `cooperate` methods call it for you).
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

/// The progress of an iterator that has yielded `steps` items: known when its `size_hint` is
/// exact (iterator work, ordinary or world-free).
pub(crate) fn iterator_progress(iter: &impl Iterator, steps: u64) -> Option<Progress> {
    match iter.size_hint() {
        (low, Some(high)) if low == high => {
            Some(Progress::new(steps, steps.saturating_add(low as u64)))
        }
        _ => None,
    }
}

/// Iterator work (see [`IntoWork`]). Knows its progress when the iterator's `size_hint` is exact.
///
/// It holds nothing but the iterator: the run queue counts the steps, and so the items taken.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::{IterWork, Progress, TaskProgressExt, prelude::*};
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(16)));
/// // 64 chunks, 16 a frame: a range's `map` knows how many are left.
/// let chunks: IterWork<_> = (0..64).map(|_chunk| ()).into_work();
/// let task = app.world_mut().cooperate(chunks);
/// app.update();
/// app.update();
/// let progress = app.world_mut().task_progress(task).unwrap();
/// assert_eq!(progress, Progress::new(32, 64));
/// ```
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
        iterator_progress(&self.iter, steps)
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

/// Closure work, made by [`from_fn`] (see its example).
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
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # use bevy_ecs::prelude::*;
/// #[derive(Resource, Default)]
/// struct Loaded(u32);
///
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(2)));
/// # app.init_resource::<Loaded>();
/// let mut chunks = 0;
/// let work = from_fn(move |cx: &mut StepContext| {
///     cx.world().resource_mut::<Loaded>().0 += 1;
///     chunks += 1;
///     if chunks == 3 { Step::Done } else { Step::Continue }
/// });
/// let task = app.world_mut().cooperate(work);
/// app.update(); // 2 chunks
/// app.update(); // the third, and the task is done and cleaned up
/// assert_eq!(app.world().resource::<Loaded>().0, 3);
/// assert!(app.world().get_entity(task).is_err());
/// ```
pub fn from_fn<F, S>(f: F) -> FnWork<F>
where
    F: FnMut(&mut StepContext) -> S + Send + 'static,
    S: Into<Step>,
{
    FnWork(f)
}

/// How far a task has come: `done` units of work out of `total` (when known).
///
/// Read with [`TaskProgressExt::task_progress`](crate::TaskProgressExt::task_progress) or from
/// the [`TaskProgress`](crate::TaskProgress) component.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::{Progress, TaskProgressExt, prelude::*};
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
/// // A download of unknown size reports what it has so far.
/// let mut bytes = 0;
/// let task = app.world_mut().cooperate(from_fn(move |cx: &mut StepContext| {
///     bytes += 512;
///     cx.report_progress(bytes, None);
/// }));
/// app.update();
/// app.update();
/// let progress = app.world_mut().task_progress(task).unwrap();
/// assert_eq!(progress, Progress { done: 1024, total: None });
/// assert_eq!(progress.fraction(), None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Progress {
    /// Units done.
    pub done: u64,
    /// Units in all, if known.
    pub total: Option<u64>,
}

impl Progress {
    /// `done` of `total`.
    ///
    /// ```
    /// # use bevy_cooperator::Progress;
    /// let progress = Progress::new(3, 12);
    /// assert_eq!(progress.total, Some(12));
    /// assert_eq!(progress.fraction(), Some(0.25));
    /// ```
    #[must_use]
    pub fn new(done: u64, total: u64) -> Self {
        Progress {
            done,
            total: Some(total),
        }
    }

    /// The share done, `0.0..=1.0`, when the total is known (an empty total counts as done).
    ///
    /// ```
    /// # use bevy_cooperator::Progress;
    /// assert_eq!(Progress::new(5, 10).fraction(), Some(0.5));
    /// assert_eq!(Progress::new(0, 0).fraction(), Some(1.0));
    /// assert_eq!(Progress { done: 5, total: None }.fraction(), None);
    /// ```
    pub fn fraction(&self) -> Option<f32> {
        let total = self.total?;
        Some(if total == 0 {
            1.0
        } else {
            (self.done as f64 / total as f64).min(1.0) as f32
        })
    }
}
