//! Awaiting a wait pauses a script exactly like an iterator yielding it; a failed wait comes back
//! as an `Err` the script may handle or pass on with `?`.
use crate::common::*;

use bevy_cooperator::*;
use bevy_ecs::error::BevyError;
use bevy_ecs::prelude::*;
use std::time::Duration;

#[test]
fn a_sleep_resumes_in_the_right_frame_and_pauses_meanwhile() {
    let mut app = app();
    let log = Log::new();
    let l = log.clone();
    let task = app.world_mut().cooperate(script(move |cx| async move {
        cx.sleep(Duration::from_millis(30)).await.unwrap();
        let t = cx.with_world(|w| elapsed_ms(w)).await;
        l.push(t);
    }));
    frames(&mut app, 1);
    assert!(app.world().get::<Paused>(task).is_some());
    frames(&mut app, 2);
    assert!(log.get().is_empty());
    frames(&mut app, 1);
    assert_eq!(log.get(), vec![30]);
}

#[test]
fn a_failed_wait_is_an_err_the_script_can_handle() {
    let mut app = app();
    let finished = record_finished(&mut app);
    let signal = app.world_mut().spawn_signal();
    let log = Log::new();
    let l = log.clone();
    app.world_mut().cooperate(script(move |cx| async move {
        let r = cx.wait(Wait::signal(signal)).await;
        l.push(r.unwrap_err().to_string().trim().to_string());
        cx.frames(1).await.unwrap();
        l.push("carried on".to_string());
    }));
    frames(&mut app, 1);
    app.world_mut()
        .fail_signal(signal, BevyError::from("door jammed"))
        .unwrap();
    frames(&mut app, 3);
    assert_eq!(log.get(), vec!["door jammed", "carried on"]);
    assert_eq!(kinds(&finished), vec!["done"]);
}

#[test]
fn question_mark_passes_the_failure_on() {
    let mut app = app();
    let finished = record_finished(&mut app);
    let signal = app.world_mut().spawn_signal();
    app.world_mut().cooperate(script(move |cx| async move {
        cx.wait(Wait::signal(signal)).await?;
        Ok::<(), BevyError>(())
    }));
    frames(&mut app, 1);
    app.world_mut()
        .fail_signal(signal, BevyError::from("door jammed"))
        .unwrap();
    frames(&mut app, 1);
    assert_eq!(kinds(&finished), vec!["failed"]);
    assert!(
        finished.get()[0]
            .1
            .failure()
            .unwrap()
            .to_string()
            .contains("door jammed")
    );
}

#[derive(Message, Clone)]
struct Advance;

#[test]
fn a_script_awaits_messages_and_races() {
    let mut app = app();
    app.add_message::<Advance>();
    let log = Log::new();
    let l = log.clone();
    let task = app.world_mut().cooperate(script(move |cx| async move {
        cx.message::<Advance>().await.unwrap();
        l.push("advanced".to_string());
        let winner = cx
            .race([Wait::message::<Advance>(), Wait::frames(2)])
            .await
            .unwrap();
        l.push(format!("winner {winner}"));
    }));
    frames(&mut app, 2);
    app.world_mut().write_message(Advance);
    frames(&mut app, 1);
    assert_eq!(log.get(), vec!["advanced"]);
    assert!(app.world().get::<Paused>(task).is_some());
    frames(&mut app, 2);
    assert_eq!(log.get(), vec!["advanced", "winner 1"]);
}
