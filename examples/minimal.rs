//! The smallest useful program: a task spread across frames by a step budget, printed frame by
//! frame, with its completion observed. Exits on its own.
//!
//! ```sh
//! cargo run --example minimal
//! ```

use bevy_app::{App, AppExit, Update};
use bevy_cooperator::prelude::*;
use bevy_ecs::prelude::*;

#[derive(Resource, Default)]
struct Frame(u32);

fn main() -> AppExit {
    let mut app = App::new();
    app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(3)))
        .init_resource::<Frame>()
        .add_systems(Update, count_frames.before(CooperatorSystems::Wake));

    // Ten "chunks" of work; the budget lets three run per frame.
    let mut chunk = 0;
    app.world_mut()
        .commands()
        .cooperate(from_fn(move |cx: &mut StepContext| {
            let frame = cx.world().resource::<Frame>().0;
            chunk += 1;
            println!("frame {frame}: chunk {chunk}");
            if chunk == 10 {
                Step::Done
            } else {
                Step::Continue
            }
        }))
        .observe(|done: On<TaskFinished>, mut exit: MessageWriter<AppExit>| {
            println!("task {} finished: {:?}", done.entity, done.outcome);
            exit.write(AppExit::Success);
        });

    // Run frame by frame until the task's observer asks to exit.
    for _ in 0..100 {
        app.update();
        if let Some(exit) = app.should_exit() {
            return exit;
        }
    }
    AppExit::error()
}

fn count_frames(mut frame: ResMut<Frame>) {
    frame.0 += 1;
}
