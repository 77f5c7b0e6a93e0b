//! How far a task has come: reported by the task ([`TaskProgress`]) or known from its iterator,
//! read with [`TaskProgressExt`].

use bevy_ecs::{component::Component, entity::Entity, query::With, system::Query, world::World};

use crate::{
    cooperator::Cooperator,
    outcome::Outcome,
    task::CooperativeTask,
    work::{Progress, StepContext},
};

/// The progress a task reported ([`StepContext::report_progress`],
/// [`ScriptContext::report_progress`](crate::ScriptContext::report_progress)), or that its work
/// knows, for a task marked [`TrackProgress`]. An ordinary system reads it with
/// `Query<&TaskProgress>`; [`TaskProgressExt::task_progress`] also knows the progress of unmarked
/// iterator tasks.
///
/// ```
/// # use bevy_app::{App, Update};
/// # use bevy_cooperator::{Progress, TaskProgress, prelude::*};
/// # use bevy_ecs::prelude::*;
/// #[derive(Resource, Default)]
/// struct Bars(Vec<f32>);
///
/// fn loading_screen(tasks: Query<&TaskProgress>, mut bars: ResMut<Bars>) {
///     bars.0 = tasks.iter().filter_map(|p| p.0.fraction()).collect();
/// }
///
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
/// app.init_resource::<Bars>()
///     .add_systems(Update, loading_screen.after(CooperatorSystems::Step));
/// let mut done = 0;
/// app.world_mut().cooperate(from_fn(move |cx: &mut StepContext| {
///     done += 1;
///     cx.report_progress(done, Some(8));
/// }));
/// app.update();
/// app.update();
/// assert_eq!(app.world().resource::<Bars>().0, [0.25]);
/// ```
#[derive(Component, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskProgress(pub Progress);

/// Keeps the task's [`TaskProgress`] current from its work — an iterator whose `size_hint` is
/// exact — once per frame, at the end of [`CooperatorSystems::Step`](crate::CooperatorSystems):
/// a progress bar then reads it with an ordinary `Query<&TaskProgress>`. Insert it with the work
/// (`commands.spawn(TrackProgress).cooperate(..)`, or on the task entity later). A task that
/// reports its own progress needs no marker; a task finished `Done` shows as complete.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::{Progress, TaskProgress, TrackProgress, prelude::*};
/// # use bevy_ecs::prelude::*;
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(3)));
/// let task = app.world_mut().cooperate((0..10).map(|_| ()));
/// app.world_mut().entity_mut(task).insert(TrackProgress);
/// app.update();
/// let mut bars = app.world_mut().query::<&TaskProgress>();
/// assert_eq!(bars.single(app.world()).unwrap().0, Progress::new(3, 10));
/// ```
#[derive(Component, Clone, Copy, Debug, Default)]
#[require(TaskProgress)]
pub struct TrackProgress;

/// Refreshes the [`TaskProgress`] of every task marked [`TrackProgress`].
pub(crate) fn refresh_tracked(
    mut tracked: Query<(Entity, &CooperativeTask, &mut TaskProgress), With<TrackProgress>>,
    mut cooperators: Query<&mut Cooperator>,
) {
    for (entity, task, mut progress) in &mut tracked {
        let now = match task.outcome() {
            Some(Outcome::Done) => {
                let total = progress.0.total.unwrap_or(progress.0.done.max(1));
                Some(Progress::new(total, total))
            }
            Some(_) => None,
            None => cooperators.get_mut(task.cooperator).ok().and_then(|mut c| {
                let (work, steps) = c.queue.work_mut(task.slot, entity)?;
                work.progress_after(steps)
            }),
        };
        if let Some(now) = now
            && progress.0 != now
        {
            progress.0 = now;
        }
    }
}

impl StepContext<'_> {
    /// Reports the task's progress (stored in its [`TaskProgress`] component). Iterator tasks
    /// whose `size_hint` is exact need not call it: their progress is known. See the examples
    /// on [`TaskProgress`] and [`Progress`].
    pub fn report_progress(&mut self, done: u64, total: Option<u64>) {
        let task = self.task();
        report(self.world(), task, Progress { done, total });
    }
}

/// Stores `progress` in `task`'s [`TaskProgress`] (the steps and the scripts report through it).
pub(crate) fn report(world: &mut World, task: Entity, progress: Progress) {
    match world.get_mut::<TaskProgress>(task) {
        Some(mut p) => p.0 = progress,
        None => {
            if let Ok(mut e) = world.get_entity_mut(task) {
                e.insert(TaskProgress(progress));
            }
        }
    }
}

/// Reads a task's progress: see [`task_progress`](Self::task_progress) for an example.
pub trait TaskProgressExt {
    /// The task's progress: what it last reported with [`StepContext::report_progress`];
    /// otherwise, for work that knows its length (an iterator with an exact `size_hint`, such as a
    /// range, a `Vec`'s iterator or their `map`), the steps done and to come. A task that finished
    /// with [`Outcome::Done`] is complete. `None` when unknown, and while the task is being
    /// stepped (from inside its own step, report or track progress yourself).
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::{Progress, TaskProgressExt, prelude::*};
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(3)));
    /// let task = app.world_mut().cooperate((0..10).map(|_| ()));
    /// app.update();
    /// let progress = app.world_mut().task_progress(task).unwrap();
    /// assert_eq!(progress, Progress::new(3, 10));
    /// assert_eq!(progress.fraction(), Some(0.3));
    /// ```
    fn task_progress(&mut self, task: Entity) -> Option<Progress>;
}

impl TaskProgressExt for World {
    fn task_progress(&mut self, task: Entity) -> Option<Progress> {
        if let Some(reported) = self.get::<TaskProgress>(task) {
            return Some(reported.0);
        }
        let t = self.get::<CooperativeTask>(task)?;
        if let Some(outcome) = t.outcome() {
            return matches!(outcome, Outcome::Done).then(|| Progress::new(1, 1));
        }
        let (cooperator, slot) = (t.cooperator, t.slot);
        let mut coop = self.get_mut::<Cooperator>(cooperator)?;
        let (work, steps) = coop.queue.work_mut(slot, task)?;
        work.progress_after(steps)
    }
}
