//! Parallel cooperators (feature `parallel`): world-free work (`ParallelWork`) stepped on
//! `bevy_tasks::ComputeTaskPool` threads within one budget — the work types in `work.rs`, the
//! per-thread loop in `tick.rs`. The main-thread half of a parallel tick (splitting, running the
//! threads, applying what they report) is in `scheduler/parallel.rs`.
//!
//! The rules (shares, budgets, what is deterministic) are documented on `ParallelWork`.

pub(crate) mod tick;
pub(crate) mod work;
