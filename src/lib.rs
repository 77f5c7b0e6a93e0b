//! Spread work across frames without frame drops: Twisted's `Cooperator`, a cooperative task
//! scheduler, as a Bevy plugin.
//!
//! A **task** is an entity holding resumable [`Work`]. A [`Cooperator`] steps its runnable tasks
//! round-robin, one work unit at a time, until its per-frame [`Budget`] runs out, and carries on
//! next frame. A task that waits on a [`Wait`] carries [`Paused`] and costs nothing until the
//! wait resolves; when a task ends, [`TaskFinished`] fires once with its [`Outcome`].
//!
//! # A tour
//!
//! Add [`CooperatorPlugin`] and give the world work: an iterator (each item a step: `()`
//! continues, a [`Wait`] waits, an `Err` fails), a [`from_fn`] closure with the world at hand, a
//! [`Work`] of your own, or an async [`script`].
//!
//! ```
//! use bevy_app::App;
//! use bevy_cooperator::prelude::*;
//!
//! let mut app = App::new();
//! app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(2)));
//! let door = app.world_mut().spawn_signal();
//! // Two steps, then wait for the door, then one more.
//! let task = app.world_mut().cooperate(
//!     [Step::Continue, Step::Wait(Wait::signal(door)), Step::Continue].into_iter(),
//! );
//! app.update();
//! assert!(app.world().get::<Paused>(task).is_some(), "waiting for the door");
//! app.world_mut().fire_signal(door).unwrap();
//! app.update();
//! assert!(app.world().get_entity(task).is_err(), "done and cleaned up");
//! ```
//!
//! Scripts read like the rest of your async Rust: world access within the same work unit, any
//! number of waits at once.
//!
//! ```
//! use bevy_app::App;
//! use bevy_cooperator::prelude::*;
//! use bevy_ecs::prelude::*;
//!
//! #[derive(Resource, Default)]
//! struct Subtitle(&'static str);
//!
//! let mut app = App::new();
//! app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)))
//!     .init_resource::<Subtitle>();
//! let cutscene = app.world_mut().cooperate(script(|cx| async move {
//!     cx.with_resource(|s: &mut Subtitle| s.0 = "Who goes there?").await?;
//!     let (a, b) = futures::join!(cx.frames(2), cx.frames(3));
//!     a.and(b)?;
//!     cx.with_resource(|s: &mut Subtitle| s.0 = "").await
//! }));
//! app.update();
//! assert_eq!(app.world().resource::<Subtitle>().0, "Who goes there?");
//! for _ in 0..3 {
//!     app.update();
//! }
//! assert_eq!(app.world().resource::<Subtitle>().0, "");
//! assert!(app.world().get_entity(cutscene).is_err());
//! ```
//!
//! Where to go next:
//! - **Budgets:** [`Budget`] (time, steps, a share of the frame, a predicate or a Bevy system),
//!   and the guarantee it keeps; [`FrameBudget`] shares one among several cooperators.
//! - **Waits:** [`Wait`] lists every kind; [`Signal`]s are fired by game code.
//! - **Scripts:** [`ScriptContext`]: `with_world`, `run_system`, `wait`, `join`, `start`, progress.
//! - **Control:** [`CooperateWorldExt`] and [`CooperateCommandsExt`]: start, pause, resume,
//!   stop tasks and cooperators.
//! - **Results:** [`TaskFinished`], [`TaskResult`], [`TaskProgress`], [`CooperatorStats`];
//!   failures nobody handles are reported ([`UnhandledFailures`]).
//! - **In a game** (features): `bevy_state` (`Wait::state`, `StateBudget`), `bevy_asset`
//!   (`Wait::asset`), `bevy_world_serialization` (`spawn_dynamic_world`), `trace` (profiler
//!   spans), `diagnostic`, `bevy_reflect`. The README has the whole picture.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The parts, from the bottom up: each imports only parts listed above it.
//
// - `error`, `clock`, `watch`: errors, the clock, the deadline watcher thread.
// - `outcome`, `budget`, `frame_budget`: how a task ends; how much work a frame allows.
// - `wait/`: what a task waits for; its sources store waiters and report what resolved
//   (`seam.rs` is the seam with the tasks, `join.rs` the joins as a state machine).
// - `work`: what a task runs; `run_queue`: the run order.
// - `parallel/`: world-free work and the per-thread loop of a parallel tick (feature `parallel`).
// - `cooperator`: the scheduler component.
// - `task/`: the task component and every change of a task's state, from the bottom up:
//   `state.rs` the transitions as pure changes, `waits.rs` what a waiting task holds,
//   `follow.rs` the run queue following a transition, `cycle.rs` cycles of waiting tasks,
//   `waiting.rs` registering with sources, `resolve.rs` the one path of every wait,
//   `announce.rs` telling everyone a task finished, `family.rs` child tasks, and on top
//   `lifecycle.rs` attach, pause, stop and finish (the lower parts reach it through the
//   `Lifecycle` trait in `task/mod.rs`).
// - `script`, `commands`: async task bodies and the public verbs, built on `task/` and `wait/`.
// - `scheduler/`: the wake, step and cleanup systems (and the main-thread half of a parallel
//   tick); `plugin`: puts it together.
// - `integrations/`: optional features for other Bevy crates (states, assets, ...), on top.

extern crate alloc;

/// The README's examples, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

mod budget;
mod clock;
mod commands;
mod cooperator;
#[cfg(feature = "diagnostic")]
mod diagnostic;
mod error;
mod frame_budget;
mod integrations;
mod outcome;
#[cfg(feature = "parallel")]
mod parallel;
mod plugin;
mod run_queue;
mod scheduler;
mod script;
mod task;
mod wait;
mod watch;
mod work;

pub use budget::{Budget, Predicate, PredicateFactory};
pub use clock::{CooperatorClock, ManualClock, Watcher};
pub use commands::{
    CooperateCommandsExt, CooperateEntityCommandsExt, CooperateEntityWorldExt, CooperateWorldExt,
};
#[cfg(feature = "trace")]
pub use cooperator::TraceSteps;
pub use cooperator::{Cooperator, CooperatorStats, GlobalCooperator};
#[cfg(feature = "diagnostic")]
pub use diagnostic::CooperatorDiagnosticsPlugin;
pub use error::{FinishKind, TaskError, TaskPanicked};
pub use frame_budget::{FrameBudget, Lane};
#[cfg(feature = "bevy_state")]
pub use integrations::state::{
    CooperateStateCommandsExt, CooperateStateExt, CooperatorStatesPlugin, StateBudget,
};
#[cfg(feature = "bevy_world_serialization")]
pub use integrations::world::{WorldSpawnWork, spawn_dynamic_world};
pub use outcome::{Failure, Outcome, TaskFinished};
#[cfg(feature = "parallel")]
pub use parallel::{
    tick::NotWorldFree,
    work::{
        IntoParallelWork, Parallel, ParallelContext, ParallelFn, ParallelIter,
        ParallelIteratorMarker, ParallelWork, ParallelWorkMarker, parallel, parallel_fn,
    },
};
pub use plugin::CooperatorPlugin;
pub use scheduler::CooperatorSystems;
pub use script::{
    ask::ScriptContext,
    futures::{WaitFuture, WithWorld, YieldNow},
    script,
    work::{ScriptOutput, ScriptWork},
};
pub use task::{
    CooperativeTask, Paused, RetainFinished,
    announce::{UnhandledFailure, UnhandledFailures},
    cycle::WaitCycle,
    progress::{TaskProgress, TaskProgressExt, TrackProgress},
    result::TaskResult,
    stats::TaskStats,
};
pub use wait::{
    FutureOutput, PendingWaits, Wait, WaitTimedOut,
    signal::{Signal, SignalState, SignalStatus},
};
pub use work::{
    FnWork, IntoWork, IterWork, IteratorMarker, Progress, Step, StepContext, Work, WorkMarker,
    from_fn,
};

/// The bevy_cooperator prelude: what a game types most.
///
/// Everything else (stats, progress, clocks, errors' details, lanes) is at the crate root.
pub mod prelude {
    #[doc(hidden)]
    pub use crate::{
        Budget, CooperateCommandsExt, CooperateEntityCommandsExt, CooperateEntityWorldExt,
        CooperateWorldExt, CooperativeTask, Cooperator, CooperatorPlugin, CooperatorSystems,
        Failure, GlobalCooperator, IntoWork, Outcome, Paused, RetainFinished, ScriptContext,
        Signal, Step, StepContext, TaskError, TaskFinished, TaskResult, Wait, Work, from_fn,
        script,
    };
    /// With `bevy_state`: `cooperate_in_state` on `World` and `Commands`.
    #[cfg(feature = "bevy_state")]
    #[doc(hidden)]
    pub use crate::{CooperateStateCommandsExt, CooperateStateExt};
}
