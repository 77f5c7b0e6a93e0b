//! Two cooperators sharing one frame budget: a cutscene lane that must never be starved, and
//! background loading that gets whatever the cutscene leaves. Prints each lane's figures per
//! frame, and the progress of the loading task. Exits on its own.
//!
//! ```sh
//! cargo run --example shared_budget
//! ```

use bevy_app::{App, AppExit};
use bevy_cooperator::{FrameBudget, TaskProgressExt, prelude::*};

fn main() -> AppExit {
    let mut app = App::new();
    app.add_plugins(CooperatorPlugin::default());
    let world = app.world_mut();
    let cutscene = world.spawn(Cooperator::default()).id();
    let loading = world.spawn(Cooperator::default()).id();
    // Ten steps per frame in all: the cutscene first, loading gets the rest.
    world.spawn(
        FrameBudget::new(Budget::Steps(10))
            .with_lane(cutscene, 1, 1)
            .with_lane(loading, 0, 1),
    );
    // Loading: 60 chunks (a range, so its progress is known for free).
    let load = world
        .cooperate_on(loading, (0..60).map(|_chunk| ()))
        .expect("the loading cooperator exists");
    world.entity_mut(load).insert(RetainFinished);
    // The cutscene: a few busy frames (8 steps each), then it waits, then a short burst.
    let script = [8, 8, 0, 0, 4].into_iter().flat_map(|n| {
        (0..n)
            .map(|_| Step::Continue)
            .chain([Step::Wait(Wait::next_frame())])
    });
    world
        .cooperate_on(cutscene, script)
        .expect("the cutscene cooperator exists");

    for frame in 1..=20 {
        app.update();
        let world = app.world_mut();
        let steps = |coop| {
            world
                .get::<Cooperator>(coop)
                .map_or(0, |c| c.stats().last_tick_steps)
        };
        let (c, l) = (steps(cutscene), steps(loading));
        let progress = world
            .task_progress(load)
            .and_then(|p| p.fraction())
            .unwrap_or(0.0);
        println!(
            "frame {frame:>2}: cutscene {c:>2} steps, loading {l:>2} steps, loaded {:>3.0} %",
            progress * 100.0
        );
        if world.task_outcome(load).is_some() {
            println!("loading finished: {:?}", world.task_outcome(load).unwrap());
            return AppExit::Success;
        }
    }
    AppExit::error()
}
