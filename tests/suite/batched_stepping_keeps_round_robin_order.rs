//! The step loop hands out run-queue entries in batches; steps that touch the world in the
//! middle of a batch (pausing, resuming, spawning, stopping tasks) must see exactly the order of
//! one-at-a-time round robin.

use crate::common::*;
use bevy_cooperator::*;
use bevy_ecs::prelude::*;

/// A task that logs its name each step and, on chosen steps, does something to the world.
fn task(
    log: &Log<String>,
    name: &'static str,
    mut on_step: impl FnMut(u32, &mut StepContext) + Send + 'static,
) -> impl Work {
    let log = log.clone();
    let mut n = 0;
    from_fn(move |cx: &mut StepContext| {
        n += 1;
        log.push(name.to_string());
        on_step(n, cx);
        Step::Continue
    })
}

fn quiet(log: &Log<String>, name: &'static str) -> impl Work {
    task(log, name, |_, _| {})
}

#[derive(Resource)]
struct Handles(Vec<Entity>);

#[test]
fn pause_spawn_and_resume_mid_batch() {
    let mut app = app_with(Budget::Steps(12));
    let log = Log::new();
    let l = log.clone();
    let world = app.world_mut();
    // A pauses C and spawns E on its first step; B resumes C on its second.
    let a = world.cooperate(task(&log, "A", move |n, cx| {
        if n == 1 {
            let c = cx.world().resource::<Handles>().0[0];
            cx.world().pause_task(c).unwrap();
            cx.world().cooperate(quiet(&l, "E"));
        }
    }));
    let b = world.cooperate(task(&log, "B", |n, cx| {
        if n == 2 {
            let c = cx.world().resource::<Handles>().0[0];
            cx.world().resume_task(c).unwrap();
        }
    }));
    let c = world.cooperate(quiet(&log, "C"));
    let d = world.cooperate(quiet(&log, "D"));
    world.insert_resource(Handles(vec![c]));
    let _ = (a, b, d);
    app.update();
    // One at a time: A(pauses C, E joins) B D E A B(resumes C, at the back) D E C A B D.
    assert_eq!(log.get().join(" "), "A B D E A B D E C A B D");
    // Frame 2 goes on from where frame 1 stopped.
    app.update();
    assert_eq!(log.get()[12..].join(" "), "E C A B D E C A B D E C");
}

#[test]
fn stopping_the_next_task_mid_batch_skips_nobody_else() {
    let mut app = app_with(Budget::Steps(9));
    let log = Log::new();
    let world = app.world_mut();
    // B stops C on its first step; D pauses itself through the world on its second step.
    let _a = world.cooperate(quiet(&log, "A"));
    let _b = world.cooperate(task(&log, "B", move |n, cx| {
        if n == 1 {
            let c = cx.world().resource::<Handles>().0[0];
            cx.world().stop_task(c).unwrap();
        }
    }));
    let c = world.cooperate(quiet(&log, "C"));
    let _d = world.cooperate(task(&log, "D", |n, cx| {
        if n == 2 {
            let me = cx.task();
            cx.world().pause_task(me).unwrap();
        }
    }));
    world.insert_resource(Handles(vec![c]));
    app.update();
    assert_eq!(log.get().join(" "), "A B D A B D A B A");
}

#[test]
fn clean_iterator_steps_end_a_frame_mid_batch_and_resume_next_frame() {
    let mut app = app_with(Budget::Steps(5));
    let log = Log::new();
    for name in ["A", "B", "C"] {
        let log = log.clone();
        app.world_mut()
            .cooperate(std::iter::repeat_with(move || log.push(name.to_string())));
    }
    app.update();
    assert_eq!(log.get().join(" "), "A B C A B", "frame 1");
    app.update();
    assert_eq!(log.get().join(" "), "A B C A B C A B C A", "frame 2");
}
