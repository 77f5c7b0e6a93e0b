//! How far a task has come: reported by the task ([`TaskProgress`]) or known from its iterator,
//! read with [`TaskProgressExt`].

use bevy_ecs::{component::Component, entity::Entity, world::World};

use crate::{
    cooperator::Cooperator,
    outcome::Outcome,
    task::CooperativeTask,
    work::{Progress, StepContext},
};

/// The progress a task reported with [`StepContext::report_progress`]. Read it with
/// [`TaskProgressExt::task_progress`], which also knows the progress of iterator tasks.
#[derive(Component, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskProgress(pub Progress);

impl StepContext<'_> {
    /// Reports the task's progress (stored in its [`TaskProgress`] component). Iterator tasks
    /// whose `size_hint` is exact need not call it: their progress is known.
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

/// Reads a task's progress.
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
        if let Some(outcome) = &t.outcome {
            return matches!(outcome, Outcome::Done).then(|| Progress::new(1, 1));
        }
        let (cooperator, slot) = (t.cooperator, t.slot);
        let mut coop = self.get_mut::<Cooperator>(cooperator)?;
        let (work, steps) = coop.queue.work_mut(slot, task)?;
        work.progress_after(steps)
    }
}
