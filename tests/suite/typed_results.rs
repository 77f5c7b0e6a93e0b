//! A task's typed result reaches an awaiting script, an observer of `TaskFinished`, and a system
//! that takes it from a retained task.
use crate::common::*;

use bevy_cooperator::*;
use bevy_ecs::error::BevyError;
use bevy_ecs::prelude::*;

#[test]
fn an_awaiting_script_gets_the_value() {
    let mut app = app_with(Budget::Unlimited);
    let log = Log::new();
    let l = log.clone();
    app.world_mut().cooperate(script(move |cx| async move {
        let child = cx
            .start(script(|cx| async move {
                cx.frames(2).await?;
                Ok::<u32, BevyError>(7)
            }))
            .await;
        let value: u32 = cx.join(child).await.unwrap();
        l.push(value);
    }));
    frames(&mut app, 1);
    assert!(log.get().is_empty());
    frames(&mut app, 3);
    assert_eq!(log.get(), vec![7]);
}

#[test]
fn joining_a_task_already_finished_in_an_earlier_frame_still_gets_the_value() {
    let mut app = app_with(Budget::Unlimited);
    let log = Log::new();
    let l = log.clone();
    app.world_mut().cooperate(script(move |cx| async move {
        let child = cx
            .start(script(|_| async move { Ok::<&str, BevyError>("ready") }))
            .await;
        // The child finishes this frame; its entity would be despawned at cleanup.
        let v = cx.join::<&str>(child).await.unwrap();
        l.push(v);
    }));
    frames(&mut app, 2);
    assert_eq!(log.get(), vec!["ready"]);
}

#[test]
fn a_failed_task_fails_the_join() {
    let mut app = app_with(Budget::Unlimited);
    let log = Log::new();
    let l = log.clone();
    app.world_mut().cooperate(script(move |cx| async move {
        let child = cx
            .start(script(
                |_| async move { Err::<u32, _>(BevyError::from("no")) },
            ))
            .await;
        l.push(
            cx.join::<u32>(child)
                .await
                .unwrap_err()
                .to_string()
                .trim()
                .to_string(),
        );
    }));
    frames(&mut app, 2);
    assert_eq!(log.get(), vec!["no"]);
}

#[test]
fn an_observer_of_the_completion_reads_the_value() {
    let mut app = app();
    let log = Log::new();
    let l = log.clone();
    app.add_observer(
        move |ev: On<TaskFinished>, results: Query<&TaskResult<String>>| {
            if let Ok(r) = results.get(ev.entity) {
                l.push(r.0.clone());
            }
        },
    );
    app.world_mut().cooperate(script(|_| async move {
        Ok::<_, BevyError>(String::from("treasure"))
    }));
    frames(&mut app, 1);
    assert_eq!(log.get(), vec!["treasure"]);
}

#[test]
fn a_system_takes_it_from_a_retained_task() {
    let mut app = app();
    let task = app.world_mut().cooperate(from_fn(|cx: &mut StepContext| {
        cx.set_result(99_i64);
        Step::Done
    }));
    app.world_mut().entity_mut(task).insert(RetainFinished);
    frames(&mut app, 2);
    let value = app
        .world_mut()
        .entity_mut(task)
        .take::<TaskResult<i64>>()
        .unwrap();
    assert_eq!(value.0, 99);
    app.world_mut().despawn(task);
}
