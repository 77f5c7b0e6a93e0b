#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;

mod budget;
mod commands;
mod condition;
mod cooperator;
#[cfg(feature = "diagnostic")]
mod diagnostic;
mod error;
mod event_wait;
mod frame_budget;
mod lifecycle;
mod message_wait;
mod outcome;
mod progress;
mod run_queue;
mod scheduler;
mod script;
mod signal;
mod task;
mod task_result;
mod task_stats;
mod timers;
mod wait;
mod watch;
mod work;

pub use budget::*;
pub use commands::*;
pub use cooperator::*;
#[cfg(feature = "diagnostic")]
pub use diagnostic::*;
pub use error::*;
pub use frame_budget::*;
pub use outcome::*;
pub use progress::*;
pub use scheduler::TaskPanicked;
pub use script::*;
pub use signal::*;
pub use task::*;
pub use task_result::TaskResult;
pub use task_stats::*;
pub use wait::*;
pub use work::*;

use bevy_app::{App, Plugin, Update};
use bevy_ecs::{
    intern::Interned,
    schedule::{IntoScheduleConfigs, ScheduleLabel, SystemSet},
};

/// The bevy_cooperator prelude.
///
/// This includes the most common types in this crate, re-exported for your convenience.
pub mod prelude {
    #[doc(hidden)]
    pub use crate::{
        Budget, CooperateCommandsExt, CooperateEntityCommandsExt, CooperateEntityWorldExt,
        CooperateWorldExt, CooperativeTask, Cooperator, CooperatorClock, CooperatorPlugin,
        CooperatorStats, CooperatorSystems, Failure, FinishKind, FrameBudget, GlobalCooperator,
        IntoWork, Outcome, Paused, PendingWaits, Progress, RetainFinished, ScriptContext, Signal,
        Step, StepContext, TaskError, TaskFinished, TaskProgress, TaskProgressExt, TaskResult,
        TaskStats, Wait, WaitTimedOut, Work, from_fn, script,
    };
}

/// Adds cooperative task scheduling: the [`CooperatorSystems`] sets and their systems, the
/// [`GlobalCooperator`], the [`CooperatorClock`] and the [`TaskFinished`] message.
///
/// Fields are read once, when the plugin is built. Change a cooperator's budget at run time
/// through its [`Cooperator::budget`] field.
///
/// # Scheduling
/// The three [`CooperatorSystems`] sets run chained, in the plugin's schedule (`Update` by
/// default). Order your systems against them: a system that fires signals or pauses tasks before
/// [`CooperatorSystems::Wake`] takes effect the same frame.
///
/// Budgets of type [`Budget::FrameFraction`] read `Time<Real>`; add `TimePlugin` (part of
/// Bevy's `DefaultPlugins`/`MinimalPlugins`) for them. Everything else works without it.
#[derive(Debug, Clone)]
pub struct CooperatorPlugin {
    /// The [`GlobalCooperator`]'s budget. Default: [`Budget::Time`] of 2 ms per frame.
    pub budget: Budget,
    /// The schedule the systems run in. Default: `Update`.
    pub schedule: Interned<dyn ScheduleLabel>,
}

impl Default for CooperatorPlugin {
    fn default() -> Self {
        CooperatorPlugin {
            budget: Budget::default(),
            schedule: Update.intern(),
        }
    }
}

impl CooperatorPlugin {
    /// Sets the [`GlobalCooperator`]'s budget.
    #[must_use]
    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.budget = budget;
        self
    }

    /// Sets the schedule the systems run in.
    #[must_use]
    pub fn with_schedule(mut self, schedule: impl ScheduleLabel) -> Self {
        self.schedule = schedule.intern();
        self
    }
}

impl Plugin for CooperatorPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<CooperatorClock>()
            .init_resource::<lifecycle::FinishedTasks>()
            .init_resource::<timers::WaitTimers>()
            .add_message::<TaskFinished>()
            .configure_sets(
                self.schedule,
                (
                    CooperatorSystems::Wake,
                    CooperatorSystems::Step,
                    CooperatorSystems::Cleanup,
                )
                    .chain(),
            )
            .add_systems(
                self.schedule,
                (
                    scheduler::wake_system.in_set(CooperatorSystems::Wake),
                    scheduler::step_system.in_set(CooperatorSystems::Step),
                    scheduler::cleanup_system.in_set(CooperatorSystems::Cleanup),
                ),
            );
        #[cfg(feature = "bevy_reflect")]
        app.register_type::<FinishKind>()
            .register_type::<CooperatorStats>();
        let global = app
            .world_mut()
            .spawn(Cooperator::new(self.budget.clone()))
            .id();
        app.insert_resource(GlobalCooperator(global));
    }
}

/// The public ordering API, in run order (chained), all in the [`CooperatorPlugin`]'s schedule
/// (`Update` by default).
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CooperatorSystems {
    /// Resolves waits whose event happened — fired script wakers, frame counts, `Time` and
    /// `Time<Real>` deadlines, messages written since the wait began, conditions now true (polled
    /// here once per frame) — and counts the frame. Resolved tasks rejoin the back of their run
    /// queue. Signals, task completions and control calls take effect at once, wherever they
    /// happen; observer events at the next command flush after the trigger.
    Wake,
    /// Every running cooperator steps its runnable tasks round-robin within its budget
    /// (one exclusive system), then every [`FrameBudget`] shares its budget among its lanes.
    /// Commands queued by a step are applied right after it. [`CooperatorStats`] describe the
    /// frame once this set has run.
    Step,
    /// Finished standalone task entities are despawned and finished attached tasks lose their
    /// [`CooperativeTask`], unless they hold [`RetainFinished`].
    Cleanup,
}
