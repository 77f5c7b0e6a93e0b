//! `Wait::race` resumes at the first wait resolved; losing tasks are stopped and their waiters
//! settled; a failure that comes first fails the race.
use crate::common::*;

use bevy_cooperator::*;
use bevy_ecs::error::BevyError;
use bevy_ecs::prelude::*;

fn long(app: &mut bevy_app::App, frames: usize) -> Entity {
    app.world_mut()
        .cooperate(std::iter::repeat_with(Wait::next_frame).take(frames))
}

#[test]
fn the_first_wins_and_the_losers_are_stopped() {
    let mut app = app_with(Budget::Unlimited);
    let finished = record_finished(&mut app);
    let log = Log::new();
    let slow = long(&mut app, 10);
    let fast = long(&mut app, 2);
    // Someone else waits on the loser: they must be settled.
    let bystander = app
        .world_mut()
        .cooperate(wait_then_log(Wait::finished(slow), &log));
    let racer = app.world_mut().cooperate(wait_then_log(
        Wait::race([Wait::task(slow), Wait::task(fast)]),
        &log,
    ));
    app.world_mut().entity_mut(racer).insert(RetainFinished);
    frames(&mut app, 3);
    let ended: Vec<(Entity, &str)> = finished.get().iter().map(|(e, o)| (*e, kind(o))).collect();
    assert_eq!(ended[0], (fast, "done"));
    assert_eq!(ended[1], (slow, "stopped"));
    assert!(ended.contains(&(racer, "done")));
    assert!(ended.contains(&(bystander, "done")));
    assert_eq!(
        app.world()
            .get::<CooperativeTask>(racer)
            .unwrap()
            .race_winner(),
        Some(1)
    );
}

#[test]
fn a_failure_that_comes_first_fails_the_race() {
    let mut app = app_with(Budget::Unlimited);
    let finished = record_finished(&mut app);
    let slow = long(&mut app, 10);
    let failing = app
        .world_mut()
        .cooperate([Err::<(), _>(BevyError::from("boom"))].into_iter());
    let racer = app.world_mut().cooperate(wait_then_log(
        Wait::race([Wait::task(slow), Wait::task(failing)]),
        &Log::new(),
    ));
    frames(&mut app, 2);
    let ended = finished.get();
    let racer_outcome = &ended.iter().find(|(e, _)| *e == racer).unwrap().1;
    let failing_outcome = &ended.iter().find(|(e, _)| *e == failing).unwrap().1;
    assert_eq!(racer_outcome, failing_outcome);
    let slow_outcome = &ended.iter().find(|(e, _)| *e == slow).unwrap().1;
    assert_eq!(kind(slow_outcome), "stopped");
}

#[test]
fn a_race_already_won_when_it_begins_stops_the_others() {
    let mut app = app_with(Budget::Unlimited);
    let finished = record_finished(&mut app);
    let slow = long(&mut app, 10);
    let fired = app.world_mut().spawn_signal();
    app.world_mut().fire_signal(fired).unwrap();
    let log = Log::new();
    app.world_mut().cooperate(wait_then_log(
        Wait::race([Wait::signal(fired), Wait::task(slow)]),
        &log,
    ));
    frames(&mut app, 1);
    assert_eq!(log.len(), 1);
    assert_eq!(finished.get()[0], (slow, Outcome::Stopped));
}

#[test]
fn a_race_of_non_task_waits_cancels_the_losers() {
    let mut app = app();
    let log = Log::new();
    let signal = app.world_mut().spawn_signal();
    app.world_mut().cooperate(wait_then_log(
        Wait::race([Wait::signal(signal), Wait::frames(50), Wait::seconds(1.0)]),
        &log,
    ));
    frames(&mut app, 1);
    assert_eq!(PendingWaits::of(app.world()).timers, 2);
    app.world_mut().fire_signal(signal).unwrap();
    assert_eq!(PendingWaits::of(app.world()).timers, 0);
    frames(&mut app, 1);
    assert_eq!(log.len(), 1);
}
