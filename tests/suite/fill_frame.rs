//! `Budget::FillFrame` on a controlled clock: the tick gets what the frame leaves up to the target,
//! a steady frame a steady budget, the work after the tick is taken at once when it grows and let
//! go of over a few frames, one slow frame does not spiral, and the clamps hold.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use bevy_app::{App, PostUpdate, PreUpdate};
use bevy_cooperator::{CooperatorClock, FrameBudget, ManualClock, prelude::*};

const MS: fn(u64) -> Duration = Duration::from_millis;
const US: fn(u64) -> Duration = Duration::from_micros;

/// The game's own work each frame, before and after the tick, on the manual clock.
#[derive(Clone, Default)]
struct GameWork(Arc<Mutex<(Duration, Duration)>>);

impl GameWork {
    fn set(&self, before: Duration, after: Duration) {
        *self.0.lock().unwrap() = (before, after);
    }
}

/// An app whose global cooperator fills the frame with `budget`, a game doing `work` around the
/// tick, and one never-ending task of 250 µs steps.
fn filling(budget: Budget) -> (App, ManualClock, GameWork) {
    let mut app = App::new();
    app.add_plugins(CooperatorPlugin::default().with_budget(budget));
    let (clock, manual) = CooperatorClock::manual();
    app.insert_resource(clock);
    let work = GameWork::default();
    let (m, w) = (manual.clone(), work.clone());
    app.add_systems(PreUpdate, move || m.advance(w.0.lock().unwrap().0));
    let (m, w) = (manual.clone(), work.clone());
    app.add_systems(PostUpdate, move || m.advance(w.0.lock().unwrap().1));
    let m = manual.clone();
    app.world_mut()
        .cooperate(std::iter::repeat_with(move || m.advance(US(250))));
    app.finish();
    app.cleanup();
    (app, manual, work)
}

/// Runs a frame: (what the tick was granted, how long the whole frame took).
fn frame(app: &mut App, manual: &ManualClock) -> (Duration, Duration) {
    let start = manual.now();
    app.update();
    let global = global(app);
    let stats = app.world().get::<Cooperator>(global).unwrap().stats();
    (stats.last_tick_budget.unwrap(), manual.now() - start)
}

fn target_16ms() -> Budget {
    Budget::FillFrame {
        target: MS(16),
        margin: MS(1),
        min: US(100),
        max: MS(16),
    }
}

#[test]
fn a_steady_frame_gets_a_steady_budget_from_its_second_frame_and_stays_under_the_target() {
    let (mut app, manual, work) = filling(target_16ms());
    work.set(MS(5), MS(3));
    // The first tick knows nothing of the work after it: the least.
    assert_eq!(frame(&mut app, &manual).0, US(100));
    for _ in 0..10 {
        let (granted, took) = frame(&mut app, &manual);
        // 16 ms less 5 before, 3 after and 1 of margin.
        assert_eq!(granted, MS(7));
        assert!(took <= MS(16), "{took:?}");
    }
    let global = global(&app);
    let stats = app.world().get::<Cooperator>(global).unwrap().stats();
    assert_eq!(stats.last_tick_time, Some(MS(7)));
    assert_eq!(stats.last_frame_time, Some(MS(15)));
}

#[test]
fn work_after_the_tick_that_grows_is_taken_at_once_and_let_go_of_in_halves() {
    let (mut app, manual, work) = filling(target_16ms());
    work.set(MS(5), MS(3));
    for _ in 0..3 {
        frame(&mut app, &manual);
    }
    work.set(MS(5), MS(6));
    // This frame could not know: it runs over.
    assert_eq!(frame(&mut app, &manual), (MS(7), MS(18)));
    // The next backs off by all of it.
    assert_eq!(frame(&mut app, &manual), (MS(4), MS(15)));
    work.set(MS(5), MS(3));
    assert_eq!(frame(&mut app, &manual).0, MS(4));
    // 6 → 4.5 → 3.75 → 3.375 ms learned after the tick.
    assert_eq!(frame(&mut app, &manual).0, US(5_500));
    assert_eq!(frame(&mut app, &manual).0, US(6_250));
    assert_eq!(frame(&mut app, &manual).0, US(6_625));
}

#[test]
fn one_slow_frame_before_the_tick_shrinks_only_its_own_tick() {
    let (mut app, manual, work) = filling(target_16ms());
    work.set(MS(5), MS(3));
    for _ in 0..3 {
        frame(&mut app, &manual);
    }
    work.set(MS(30), MS(3));
    // Already past the target: the least (and, as always, one step).
    assert_eq!(frame(&mut app, &manual).0, US(100));
    work.set(MS(5), MS(3));
    assert_eq!(frame(&mut app, &manual).0, MS(7));
}

#[test]
fn the_budget_is_clamped_to_its_bounds() {
    let (mut app, manual, work) = filling(Budget::FillFrame {
        target: MS(16),
        margin: MS(1),
        min: MS(1),
        max: MS(4),
    });
    work.set(MS(1), MS(1));
    frame(&mut app, &manual);
    assert_eq!(frame(&mut app, &manual).0, MS(4));
    work.set(MS(15), MS(1));
    assert_eq!(frame(&mut app, &manual).0, MS(1));
}

#[test]
fn a_frame_budget_fills_the_frame_for_its_lanes_together() {
    let (mut app, manual, work) = filling(Budget::Steps(0));
    work.set(MS(5), MS(3));
    let world = app.world_mut();
    let a = world.spawn(Cooperator::default()).id();
    let b = world.spawn(Cooperator::default()).id();
    world.spawn(
        FrameBudget::new(target_16ms())
            .with_lane(a, 0, 1)
            .with_lane(b, 0, 1),
    );
    for coop in [a, b] {
        let m = manual.clone();
        world
            .cooperate_on(coop, std::iter::repeat_with(move || m.advance(US(250))))
            .unwrap();
    }
    app.update();
    let start = manual.now();
    app.update();
    let took = manual.now() - start;
    let budget = |app: &App, coop| {
        app.world()
            .get::<Cooperator>(coop)
            .unwrap()
            .stats()
            .last_tick_budget
    };
    // The global cooperator's one step (0 steps still run one) is part of the frame's work
    // before the lanes: 16 − 5.25 − 3 − 1 = 6.75 ms, split in halves.
    assert_eq!(budget(&app, a), Some(US(3_375)));
    assert!(took <= MS(16), "{took:?}");
}
