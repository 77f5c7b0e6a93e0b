//! A task waiting on a failed task fails with that very failure, unless it waits with
//! `Wait::finished` (or `.settled()`), which resumes whatever the outcome.
use crate::common::*;

use bevy_cooperator::*;
use bevy_ecs::error::BevyError;

#[test]
fn the_failure_passes_on_as_is() {
    let mut app = app_with(Budget::Unlimited);
    let finished = record_finished(&mut app);
    let failing = app
        .world_mut()
        .cooperate([Ok(Wait::next_frame()), Err(BevyError::from("boom"))].into_iter());
    app.world_mut()
        .cooperate(wait_then_log(Wait::task(failing), &Log::new()));
    frames(&mut app, 2);
    let ended = finished.get();
    assert_eq!(kinds(&finished), vec!["failed", "failed"]);
    assert_eq!(ended[0].1, ended[1].1, "the same Failure");
}

#[test]
fn finished_resumes_whatever_the_outcome() {
    let mut app = app_with(Budget::Unlimited);
    let log = Log::new();
    let failing = app
        .world_mut()
        .cooperate([Ok(Wait::next_frame()), Err(BevyError::from("boom"))].into_iter());
    let stopped = app
        .world_mut()
        .cooperate(std::iter::repeat_with(Wait::next_frame).take(10));
    app.world_mut()
        .cooperate(wait_then_log(Wait::finished(failing), &log));
    app.world_mut()
        .cooperate(wait_then_log(Wait::finished(stopped), &log));
    frames(&mut app, 1);
    app.world_mut().stop_task(stopped).unwrap();
    frames(&mut app, 2);
    assert_eq!(log.len(), 2);
}
