//! A `Wait` is a value that can be cloned and yielded again: `repeat(wait)` works for every kind,
//! a condition's system (and its state) is shared by the clones, one waiting task at a time.
mod common;
use common::*;

use bevy_cooperator::prelude::*;
use bevy_ecs::prelude::*;

#[derive(Resource, Default)]
struct Ticks(u32);

#[test]
fn repeated_frame_waits() {
    let mut app = app();
    let finished = record_finished(&mut app);
    app.world_mut()
        .cooperate(std::iter::repeat_n(Wait::next_frame(), 3));
    frames(&mut app, 3);
    assert!(finished.get().is_empty());
    frames(&mut app, 1);
    assert_eq!(kinds(&finished), vec!["done"]);
}

#[test]
fn a_repeated_condition_reuses_its_system() {
    let mut app = app();
    app.init_resource::<Ticks>();
    let finished = record_finished(&mut app);
    // True every third poll; the Local counter lives in the one shared system.
    let every_third = |mut n: Local<u32>, mut ticks: ResMut<Ticks>| {
        *n += 1;
        ticks.0 = *n;
        n.is_multiple_of(3)
    };
    app.world_mut()
        .cooperate(std::iter::repeat_n(Wait::until(every_third), 2));
    frames(&mut app, 10);
    assert_eq!(kinds(&finished), vec!["done"]);
    assert_eq!(app.world().resource::<Ticks>().0, 6);
}

#[test]
fn one_condition_wait_in_two_tasks_at_once_fails_the_second() {
    let mut app = app_with(Budget::Unlimited);
    let finished = record_finished(&mut app);
    let never = Wait::until(|| false);
    let first = app.world_mut().cooperate([never.clone()].into_iter());
    let second = app.world_mut().cooperate([never].into_iter());
    frames(&mut app, 1);
    assert_eq!(finished.get().len(), 1);
    assert_eq!(finished.get()[0].0, second);
    assert!(app.world().get::<Paused>(first).is_some());
}
