#![doc = include_str!("../README.md")]
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
// - `task/`: the task component and every change of a task's state (`task/lifecycle.rs`).
// - `script`, `commands`: async task bodies and the public verbs, built on `task/` and `wait/`.
// - `scheduler/`: the wake, step and cleanup systems (and the main-thread half of a parallel
//   tick); `plugin`: puts it together.
// - `integrations/`: optional features for other Bevy crates (states, assets, ...), on top.

extern crate alloc;

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
pub use clock::{CooperatorClock, ManualClock};
pub use commands::{
    CooperateCommandsExt, CooperateEntityCommandsExt, CooperateEntityWorldExt, CooperateWorldExt,
};
pub use cooperator::{Cooperator, CooperatorStats, GlobalCooperator};
#[cfg(feature = "diagnostic")]
pub use diagnostic::CooperatorDiagnosticsPlugin;
pub use error::{FinishKind, TaskError, TaskPanicked};
pub use frame_budget::{FrameBudget, Lane};
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
    ScriptContext, ScriptOutput, ScriptWork, WaitFuture, WithWorld, YieldNow, script,
};
pub use task::{
    CooperativeTask, Paused, RetainFinished,
    progress::{TaskProgress, TaskProgressExt, TrackProgress},
    report::{UnhandledFailure, UnhandledFailures},
    result::TaskResult,
    stats::TaskStats,
    waiting::WaitCycle,
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
}
