//! An async script and an iterator task interleave round-robin: each `yield_now` ends one work
//! unit, exactly like one `next()`.
use crate::common::*;

use bevy_cooperator::*;

#[test]
fn async_and_iterator_tasks_take_turns() {
    let mut app = app_with(Budget::Steps(6));
    let log = Log::new();
    let l = log.clone();
    app.world_mut().cooperate(script(move |cx| async move {
        for i in 0..3 {
            l.push(format!("s{i}"));
            cx.yield_now().await;
        }
    }));
    app.world_mut().cooperate(logging(&log, "i", 3));
    frames(&mut app, 1);
    assert_eq!(log.get(), vec!["s0", "i0", "s1", "i1", "s2", "i2"]);
}

#[test]
fn one_step_per_frame_moves_one_unit() {
    let mut app = app();
    let log = Log::new();
    let l = log.clone();
    let task = app.world_mut().cooperate(script(move |cx| async move {
        l.push("a");
        cx.yield_now().await;
        l.push("b");
    }));
    frames(&mut app, 1);
    assert_eq!(log.get(), vec!["a"]);
    assert_eq!(app.world().task_steps(task), Ok(1));
    frames(&mut app, 1);
    assert_eq!(log.get(), vec!["a", "b"]);
}
