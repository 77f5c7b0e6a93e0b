//! The integration tests: one crate (one link of Bevy), a module per behaviour. `tests/README.md`
//! maps the Twisted behaviours to the modules.

mod common;
mod model;

#[cfg(feature = "bevy_asset")]
mod assets;
mod bad_input;
mod batched_stepping_keeps_round_robin_order;
mod budget_guarantee;
mod budgets;
mod completion;
mod cooperator_lifecycle;
mod cooperator_stats_describe_the_frame;
mod determinism;
mod diagnostics_feed_bevy_diagnostic;
mod event_on_fails_when_its_entity_is_despawned;
mod failures;
mod failures_are_reported;
mod faults;
mod fill_frame;
mod frame_budget_shares_one_budget_among_lanes;
mod level_files_describe_their_entities;
mod many_tasks_wait_on_one_condition;
mod model_ops;
#[cfg(feature = "parallel")]
mod parallel_cooperator;
mod pathfinding_finds_optimal_lengths;
mod pause_and_resume;
mod producers;
mod round_robin;
mod script_concurrency;
mod script_foreign_future;
mod script_interleave;
mod script_stop_cleanup;
mod script_waits;
mod script_world_access;
mod scripts_receive_the_messages_they_wait_for;
mod slow_step_warns_at_most_every_few_seconds;
#[cfg(feature = "bevy_state")]
mod states;
mod step_context_resources;
mod system_state_across_await;
mod task_lifecycle;
mod tasks_report_progress;
#[cfg(feature = "trace")]
mod trace_spans;
mod typed_results;
mod wait_all;
mod wait_condition;
mod wait_event;
mod wait_failures_keep_their_type_regression_19;
mod wait_future;
mod wait_message;
mod wait_race;
mod wait_reuse;
mod wait_task_failure;
mod wait_time;
mod wait_timeout;
#[cfg(feature = "bevy_world_serialization")]
mod world_across_frames;
