//! The plugin, [`CooperatorPlugin`]: it puts the parts together.

use bevy_app::{App, Plugin, Update};
use bevy_ecs::{
    error::Severity,
    intern::Interned,
    schedule::{IntoScheduleConfigs, ScheduleLabel},
};

use crate::{
    budget::Budget,
    clock::CooperatorClock,
    cooperator::{Cooperator, GlobalCooperator},
    outcome::TaskFinished,
    scheduler::{self, CooperatorSystems},
    task::{self, announce::UnhandledFailures},
    wait,
};
#[cfg(feature = "bevy_reflect")]
use crate::{cooperator::CooperatorStats, error::FinishKind};
#[cfg(doc)]
use crate::{
    frame_budget::FrameBudget,
    task::{CooperativeTask, RetainFinished},
};

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
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # use bevy_ecs::prelude::*;
/// #[derive(Resource, Default)]
/// struct Spawned(u32);
///
/// let mut app = App::new();
/// // A real game adds `DefaultPlugins` and keeps the default budget of 2 ms a frame.
/// app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(100)))
///     .init_resource::<Spawned>();
/// app.world_mut().cooperate((0..250).map(|_| {
///     // ..spawn one prop of the level..
/// }));
/// app.world_mut().cooperate(from_fn(|cx: &mut StepContext| {
///     cx.world().resource_mut::<Spawned>().0 += 1;
/// }));
/// app.update();
/// // The two tasks share the 100 steps, round-robin.
/// assert_eq!(app.world().resource::<Spawned>().0, 50);
/// ```
#[derive(Debug, Clone)]
pub struct CooperatorPlugin {
    /// The [`GlobalCooperator`]'s budget. Default: [`Budget::Time`] of 2 ms per frame.
    pub budget: Budget,
    /// The schedule the systems run in. Default: `Update`.
    pub schedule: Interned<dyn ScheduleLabel>,
    /// How a task failure nobody handles is reported (see [`UnhandledFailures`]). Default:
    /// `Severity::Error`.
    pub unhandled_failures: Severity,
}

impl Default for CooperatorPlugin {
    fn default() -> Self {
        CooperatorPlugin {
            budget: Budget::default(),
            schedule: Update.intern(),
            unhandled_failures: UnhandledFailures::default().severity,
        }
    }
}

impl CooperatorPlugin {
    /// Sets the [`GlobalCooperator`]'s budget.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// let mut app = App::new();
    /// app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(3)));
    /// let task = app.world_mut().cooperate(std::iter::repeat(()));
    /// app.update();
    /// assert_eq!(app.world().task_steps(task), Ok(3));
    /// ```
    #[must_use]
    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.budget = budget;
        self
    }

    /// Sets the schedule the systems run in.
    ///
    /// ```
    /// # use bevy_app::{App, FixedUpdate};
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// // Simulation tasks that advance only with the simulation: stepped by hand here.
    /// let mut app = App::new();
    /// app.add_plugins(
    ///     CooperatorPlugin::default()
    ///         .with_budget(Budget::Steps(2))
    ///         .with_schedule(FixedUpdate),
    /// );
    /// let task = app.world_mut().cooperate(std::iter::repeat(()));
    /// app.update(); // no `FixedUpdate` without `TimePlugin`: nothing runs
    /// assert_eq!(app.world().task_steps(task), Ok(0));
    /// app.world_mut().run_schedule(FixedUpdate);
    /// assert_eq!(app.world().task_steps(task), Ok(2));
    /// ```
    #[must_use]
    pub fn with_schedule(mut self, schedule: impl ScheduleLabel) -> Self {
        self.schedule = schedule.intern();
        self
    }

    /// Sets how a task failure nobody handles is reported (see [`UnhandledFailures`]);
    /// `Severity::Ignore` turns the reports off.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::error::{BevyError, ErrorContext, FallbackErrorHandler, Severity};
    /// # use std::sync::atomic::{AtomicU32, Ordering};
    /// static REPORTS: AtomicU32 = AtomicU32::new(0);
    /// fn count(_: BevyError, _: ErrorContext) {
    ///     REPORTS.fetch_add(1, Ordering::Relaxed);
    /// }
    ///
    /// let mut app = App::new();
    /// // Failures are expected here (bots giving up): don't report them.
    /// app.add_plugins(
    ///     CooperatorPlugin::default()
    ///         .with_budget(Budget::Steps(4))
    ///         .with_unhandled_failures(Severity::Ignore),
    /// )
    /// .insert_resource(FallbackErrorHandler(count));
    /// app.world_mut().cooperate([Err::<(), _>("no path")].into_iter());
    /// app.update();
    /// assert_eq!(REPORTS.load(Ordering::Relaxed), 0);
    /// ```
    #[must_use]
    pub fn with_unhandled_failures(mut self, severity: Severity) -> Self {
        self.unhandled_failures = severity;
        self
    }
}

impl Plugin for CooperatorPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<CooperatorClock>()
            .add_message::<TaskFinished>()
            .configure_sets(
                self.schedule,
                (
                    CooperatorSystems::Wake,
                    CooperatorSystems::Step,
                    CooperatorSystems::Cleanup,
                )
                    .chain(),
            );
        // Each part registers what it keeps.
        task::build(app);
        wait::build(app);
        scheduler::build(app, self.schedule);
        app.insert_resource(UnhandledFailures {
            severity: self.unhandled_failures,
        });
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
