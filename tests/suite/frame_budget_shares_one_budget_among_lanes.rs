//! Several cooperators sharing one per-frame budget through a `FrameBudget`.

use std::time::Duration;

use crate::common::*;
use bevy_app::App;
use bevy_cooperator::*;
use bevy_ecs::prelude::*;

/// Steps run by each cooperator in the last frame.
fn last_steps(app: &App, coop: Entity) -> u32 {
    app.world()
        .get::<Cooperator>(coop)
        .unwrap()
        .stats()
        .last_tick_steps
}

fn endless() -> impl Iterator<Item = ()> + Send + 'static {
    std::iter::repeat(())
}

fn lanes(app: &mut App) -> (Entity, Entity) {
    let world = app.world_mut();
    let high = world.spawn(Cooperator::new(Budget::Unlimited)).id();
    let low = world.spawn(Cooperator::new(Budget::Unlimited)).id();
    (high, low)
}

#[test]
fn high_priority_lane_runs_first_and_is_never_starved() {
    let mut app = app();
    let (cutscene, loading) = lanes(&mut app);
    app.world_mut().spawn(
        FrameBudget::new(Budget::Steps(10))
            .with_lane(loading, 0, 1)
            .with_lane(cutscene, 5, 1),
    );
    // Lots of background work, a little cutscene work.
    for _ in 0..50 {
        app.world_mut().cooperate_on(loading, endless()).unwrap();
    }
    app.world_mut()
        .cooperate_on(cutscene, (0..25).map(|_| ()))
        .unwrap();

    // Frames 1-2: the cutscene takes the whole budget, however much loading waits.
    for frame in 1..=2 {
        app.update();
        assert_eq!(last_steps(&app, cutscene), 10, "frame {frame}");
        // At least one step per tick for a lane with work (Twisted's rule).
        assert_eq!(last_steps(&app, loading), 1, "frame {frame}");
    }
    // Frame 3: the cutscene has 5 steps left, plus its completion step; loading gets the rest.
    app.update();
    assert_eq!(last_steps(&app, cutscene), 6, "frame 3");
    assert_eq!(last_steps(&app, loading), 4, "frame 3");
    // Frame 4: the cutscene is done; loading has the whole budget.
    app.update();
    assert_eq!(last_steps(&app, cutscene), 0, "frame 4");
    assert_eq!(last_steps(&app, loading), 10, "frame 4");
}

#[test]
fn equal_priorities_split_by_weight_and_pass_on_leftovers() {
    let mut app = app();
    let (a, b) = lanes(&mut app);
    let c = app
        .world_mut()
        .spawn(Cooperator::new(Budget::Unlimited))
        .id();
    app.world_mut().spawn(
        FrameBudget::new(Budget::Steps(12))
            .with_lane(a, 0, 1)
            .with_lane(b, 0, 3)
            .with_lane(c, 0, 2),
    );
    for coop in [a, b] {
        app.world_mut().cooperate_on(coop, endless()).unwrap();
    }
    // `c` has only 2 steps of work (plus the completion step) this frame.
    app.world_mut()
        .cooperate_on(c, [Step::Continue, Step::Continue, Step::Done].into_iter())
        .unwrap();

    // Frame 1: a gets 12 * 1/6 = 2, b gets 10 * 3/5 = 6, c gets what is left, 4, and uses 3.
    app.update();
    assert_eq!(
        [
            last_steps(&app, a),
            last_steps(&app, b),
            last_steps(&app, c)
        ],
        [2, 6, 3],
        "frame 1"
    );
    // Frame 2: c is done; a gets 12 * 1/4 = 3, b the other 9.
    app.update();
    assert_eq!(
        [
            last_steps(&app, a),
            last_steps(&app, b),
            last_steps(&app, c)
        ],
        [3, 9, 0],
        "frame 2"
    );
}

#[test]
fn lane_that_runs_out_of_work_hands_its_share_to_lower_lanes() {
    let mut app = app();
    let (high, low) = lanes(&mut app);
    app.world_mut().spawn(
        FrameBudget::new(Budget::Steps(8))
            .with_lane(high, 1, 1)
            .with_lane(low, 0, 1),
    );
    app.world_mut().cooperate_on(low, endless()).unwrap();
    // Frame 1: nothing for the high lane, all 8 steps go to the low one.
    app.update();
    assert_eq!(last_steps(&app, low), 8, "frame 1");
    // A high task that waits every other step.
    app.world_mut()
        .cooperate_on(
            high,
            [
                Step::Continue,
                Step::Wait(Wait::next_frame()),
                Step::Continue,
            ]
            .into_iter(),
        )
        .unwrap();
    // Frame 2: the high lane runs 2 steps and waits; the low lane gets the 6 left.
    app.update();
    assert_eq!(
        [last_steps(&app, high), last_steps(&app, low)],
        [2, 6],
        "frame 2"
    );
}

#[test]
fn time_budget_is_shared_on_the_cooperator_clock() {
    let mut app = app();
    let manual = manual_clock(&mut app);
    let (high, low) = lanes(&mut app);
    app.world_mut().spawn(
        FrameBudget::new(Budget::Time(Duration::from_micros(100)))
            .with_lane(high, 1, 1)
            .with_lane(low, 0, 1),
    );
    // Every step takes 10 µs on the manual clock.
    for coop in [high, low] {
        let m = manual.clone();
        app.world_mut()
            .cooperate_on(
                coop,
                std::iter::repeat_with(move || m.advance(Duration::from_micros(10))),
            )
            .unwrap();
    }
    app.update();
    let stats = |coop| app.world().get::<Cooperator>(coop).unwrap().stats().clone();
    let (h, l) = (stats(high), stats(low));
    // The high lane has the whole 100 µs; the low lane its one guaranteed step.
    assert_eq!(h.last_tick_budget, Some(Duration::from_micros(100)));
    assert_eq!(h.last_tick_steps, 10);
    assert_eq!(h.last_tick_overshoot, Some(Duration::ZERO));
    assert_eq!(l.last_tick_budget, Some(Duration::ZERO));
    assert_eq!(l.last_tick_steps, 1);
}

#[test]
fn lanes_keep_their_own_start_and_stop() {
    let mut app = app();
    let (a, b) = lanes(&mut app);
    app.world_mut().spawn(
        FrameBudget::new(Budget::Steps(4))
            .with_lane(a, 0, 1)
            .with_lane(b, 0, 1),
    );
    for coop in [a, b] {
        app.world_mut().cooperate_on(coop, endless()).unwrap();
    }
    app.world_mut().stop_cooperator(a).unwrap();
    app.world_mut().cooperate_on(a, endless()).unwrap(); // born finished
    app.update();
    assert_eq!(
        [last_steps(&app, a), last_steps(&app, b)],
        [0, 4],
        "frame 1"
    );
}
