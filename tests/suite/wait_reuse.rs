//! A `Wait` is a value that can be cloned and yielded again: `repeat(wait)` works for every kind,
//! a condition's system (and its state) is shared by the clones and by every task waiting on them.
use crate::common::*;

use bevy_cooperator::*;
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
fn one_condition_wait_in_two_tasks_at_once_resumes_both() {
    let mut app = app_with(Budget::Unlimited);
    app.init_resource::<Ticks>();
    let finished = record_finished(&mut app);
    let open = Wait::until(|ticks: Res<Ticks>| ticks.0 > 0);
    let first = app.world_mut().cooperate([open.clone()].into_iter());
    let second = app.world_mut().cooperate([open].into_iter());
    frames(&mut app, 2);
    assert!(finished.get().is_empty());
    assert!(app.world().get::<Paused>(first).is_some());
    assert!(app.world().get::<Paused>(second).is_some());
    app.world_mut().resource_mut::<Ticks>().0 = 1;
    frames(&mut app, 1);
    let done: Vec<Entity> = finished.get().iter().map(|(e, _)| *e).collect();
    assert_eq!(done, vec![first, second]);
    assert_eq!(kinds(&finished), vec!["done", "done"]);
}
