//! Telling everyone a task finished: [`TaskFinished`] (observers, then the message), the tasks
//! waiting on it, and the report of a failure nobody handles ([`UnhandledFailures`]).

use alloc::{boxed::Box, vec::Vec};
use bevy_ecs::{
    entity::Entity,
    error::{BevyError, ErrorContext, Severity},
    message::Messages,
    observer::ObservedBy,
    resource::Resource,
    utils::prelude::DebugName,
    world::World,
};
use core::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::{
    error::{TaskPanicked, panic_text},
    outcome::{Failure, Outcome, TaskFinished},
    task::{RetainFinished, resolve::resolve},
    wait::seam::Ticket,
};

/// Fires [`TaskFinished`] (observers, then the message) and settles the waiting tasks in order.
pub(crate) fn announce(
    world: &mut World,
    entity: Entity,
    _cooperator: Entity,
    outcome: Outcome,
    waiters: Vec<(Entity, Ticket)>,
) {
    let event = TaskFinished {
        entity,
        outcome: outcome.clone(),
    };
    if let Some(mut messages) = world.get_resource_mut::<Messages<TaskFinished>>() {
        messages.write(event.clone());
    }
    let unhandled = match &outcome {
        Outcome::Failed(failure) if !is_handled(world, entity, waiters.len()) => {
            Some(failure.clone())
        }
        _ => None,
    };
    // A panicking observer must not leave the waiters hanging or unwind through the scheduler:
    // it is reported through the world's error handler, like a failing observer.
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| world.trigger(event))) {
        report_observer_panic(world, payload);
    }
    if let Some(failure) = unhandled {
        report(world, entity, failure);
    }
    if waiters.is_empty() {
        return;
    }
    let result = outcome.as_wait_result();
    for (waiter, ticket) in waiters {
        resolve(world, waiter, ticket, result.clone());
    }
}

fn report_observer_panic(world: &mut World, payload: Box<dyn core::any::Any + Send>) {
    let message = panic_text(payload.as_ref());
    let error = BevyError::new(Severity::Error, TaskPanicked(message));
    let context = ErrorContext::Observer {
        name: DebugName::borrowed("TaskFinished observer"),
        last_run: world.change_tick(),
    };
    (world.fallback_error_handler())(error, context);
}

/// How a task that ends [`Failed`](crate::Outcome::Failed) with nobody to handle it is reported.
///
/// A failure is handled when a task waits on the failed one, an observer watches the task's
/// entity (`.observe(..)` on it), or the entity holds [`RetainFinished`]. Otherwise it goes to the
/// world's error handler — the one Bevy reports failing systems through — as an
/// [`UnhandledFailure`] with this severity: logged as an error by default. `Severity::Ignore`
/// turns the reports off. Set it with
/// [`CooperatorPlugin::with_unhandled_failures`](crate::CooperatorPlugin::with_unhandled_failures)
/// or by changing the resource.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::{UnhandledFailures, prelude::*};
/// # use bevy_ecs::error::{BevyError, ErrorContext, FallbackErrorHandler, Severity};
/// # use bevy_ecs::prelude::*;
/// # use std::sync::Mutex;
/// static REPORTED: Mutex<Vec<Severity>> = Mutex::new(Vec::new());
/// fn record(error: BevyError, _: ErrorContext) {
///     REPORTED.lock().unwrap().push(error.severity());
/// }
///
/// let mut app = App::new();
/// app.add_plugins(
///     CooperatorPlugin::default()
///         .with_budget(Budget::Steps(4))
///         .with_unhandled_failures(Severity::Warning),
/// )
/// .insert_resource(FallbackErrorHandler(record));
/// assert_eq!(app.world().resource::<UnhandledFailures>().severity, Severity::Warning);
///
/// let world = app.world_mut();
/// world.cooperate([Err::<(), _>("no spawn point")].into_iter()); // nobody handles it
/// let watched = world.cooperate([Err::<(), _>("no spawn point")].into_iter());
/// world.entity_mut(watched).observe(|_: On<TaskFinished>| {}); // handled
/// app.update();
/// assert_eq!(*REPORTED.lock().unwrap(), [Severity::Warning]);
///
/// // Reports may be turned off at run time.
/// app.world_mut().resource_mut::<UnhandledFailures>().severity = Severity::Ignore;
/// app.world_mut().cooperate([Err::<(), _>("no spawn point")].into_iter());
/// app.update();
/// assert_eq!(REPORTED.lock().unwrap().len(), 1);
/// ```
#[derive(Resource, Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnhandledFailures {
    /// The severity of the reports.
    pub severity: Severity,
}

impl Default for UnhandledFailures {
    fn default() -> Self {
        UnhandledFailures {
            severity: Severity::Error,
        }
    }
}

/// The error an unhandled task failure is reported with: the task and why it failed.
///
/// A custom error handler finds it with `downcast_ref`:
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::{UnhandledFailure, prelude::*};
/// # use bevy_ecs::error::{BevyError, ErrorContext, FallbackErrorHandler};
/// # use std::sync::Mutex;
/// static FAILED: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// fn crash_report(error: BevyError, _: ErrorContext) {
///     if let Some(unhandled) = error.downcast_ref::<UnhandledFailure>() {
///         FAILED.lock().unwrap().push(unhandled.failure.to_string());
///     }
/// }
///
/// let mut app = App::new();
/// app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)))
///     .insert_resource(FallbackErrorHandler(crash_report));
/// app.world_mut().cooperate([Err::<(), _>("shader failed to compile")].into_iter());
/// app.update();
/// assert_eq!(*FAILED.lock().unwrap(), ["shader failed to compile"]);
/// ```
#[derive(Debug)]
pub struct UnhandledFailure {
    /// The task that failed.
    pub task: Entity,
    /// Its failure.
    pub failure: Failure,
}

impl fmt::Display for UnhandledFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task {} failed and nothing handles it (no waiter, no observer on it, not retained): {}",
            self.task,
            self.failure.error()
        )
    }
}

impl core::error::Error for UnhandledFailure {}

/// Whether anyone handles the end of `task`, besides `waiters` tasks waiting on it.
fn is_handled(world: &World, task: Entity, waiters: usize) -> bool {
    waiters > 0
        || world.get_entity(task).is_ok_and(|e| {
            e.contains::<RetainFinished>()
                || e.get::<ObservedBy>().is_some_and(|o| !o.get().is_empty())
        })
}

/// Reports the unhandled failure of `task` through the world's error handler.
fn report(world: &mut World, task: Entity, failure: Failure) {
    let severity = world
        .get_resource::<UnhandledFailures>()
        .copied()
        .unwrap_or_default()
        .severity;
    if severity == Severity::Ignore {
        return;
    }
    let error = BevyError::new(severity, UnhandledFailure { task, failure });
    let context = ErrorContext::Command {
        name: DebugName::borrowed("bevy_cooperator task"),
    };
    (world.fallback_error_handler())(error, context);
}
