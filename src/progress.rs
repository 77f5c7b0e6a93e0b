//! How far a task has come: [`Progress`], reported by the task or known from its iterator.

use bevy_ecs::{component::Component, entity::Entity, world::World};

use crate::{CooperativeTask, Cooperator, Outcome, StepContext};

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

/// The progress a task reported with [`StepContext::report_progress`]. Read it with
/// [`TaskProgressExt::task_progress`], which also knows the progress of iterator tasks.
#[derive(Component, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskProgress(pub Progress);

impl StepContext<'_> {
    /// Reports the task's progress (stored in its [`TaskProgress`] component). Iterator tasks
    /// whose `size_hint` is exact need not call it: their progress is known.
    pub fn report_progress(&mut self, done: u64, total: Option<u64>) {
        let task = self.task();
        let progress = TaskProgress(Progress { done, total });
        let world = self.world();
        match world.get_mut::<TaskProgress>(task) {
            Some(mut p) => *p = progress,
            None => {
                if let Ok(mut e) = world.get_entity_mut(task) {
                    e.insert(progress);
                }
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
    /// # use bevy_cooperator::prelude::*;
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
