//! Issue 19's wait bugs: a failure a script passes on keeps its type; `finished` waits, a task
//! waiting on itself and a cycle through a script's joined waits fail with `WaitCycle`; time
//! waits of NaN, negative or infinite length do what their docs say.
use crate::common::*;

use bevy_cooperator::*;
use bevy_ecs::prelude::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The failure `task` finished with.
fn failure_of(log: &Log<(Entity, Outcome)>, task: Entity) -> Failure {
    let (_, outcome) = log
        .get()
        .into_iter()
        .find(|(e, _)| *e == task)
        .unwrap_or_else(|| panic!("{task} did not finish: {:?}", log.get()));
    outcome
        .failure()
        .cloned()
        .unwrap_or_else(|| panic!("{task} did not fail: {outcome:?}"))
}

/// A task body that, on its first step, waits on the task the cell then holds.
fn waits_on(
    wait: impl Fn(Entity) -> Wait + Send + 'static,
    other: &Arc<Mutex<Option<Entity>>>,
) -> impl Iterator<Item = Step> + Send + 'static {
    let other = other.clone();
    std::iter::once(()).map(move |()| Step::Wait(wait(other.lock().unwrap().expect("set"))))
}

#[test]
fn a_script_passing_a_wait_failure_on_fails_with_that_very_failure() {
    let mut app = app_with(Budget::Unlimited);
    let finished = record_finished(&mut app);
    let world = app.world_mut();
    let answer = world.spawn_signal();
    let alarm = world.spawn_signal();
    // `?` on a timed-out wait.
    let asked = world.cooperate(script(move |cx| async move {
        cx.wait(Wait::signal(answer).timeout(Duration::from_millis(20)))
            .await?;
        Ok::<_, Failure>(())
    }));
    // Returning the `Err` itself.
    let failure = Failure::msg("the alarm failed");
    let returned = world.cooperate(script(move |cx| async move {
        cx.wait(Wait::signal(alarm)).await
    }));
    frames(&mut app, 1); // frame 1: both wait
    app.world_mut().fail_signal(alarm, failure.clone()).unwrap();
    frames(&mut app, 4); // frames 2-5: the timeout (20 ms) runs out
    let timed_out = failure_of(&finished, asked);
    assert_eq!(
        timed_out.downcast_ref::<WaitTimedOut>(),
        Some(&WaitTimedOut(Duration::from_millis(20))),
        "frame 5: {timed_out:?}"
    );
    let passed_on = failure_of(&finished, returned);
    assert!(
        passed_on.ptr_eq(&failure),
        "the same failure: {passed_on:?}"
    );
}

#[test]
fn a_failure_wrapped_again_by_a_step_is_the_same_failure() {
    let mut app = app_with(Budget::Unlimited);
    let finished = record_finished(&mut app);
    let failure = Failure::new(TaskError::NotPaused);
    let f = failure.clone();
    let task = app
        .world_mut()
        .cooperate(std::iter::once(Step::Fail(f.into())));
    frames(&mut app, 1);
    let got = failure_of(&finished, task);
    assert!(got.ptr_eq(&failure), "frame 1: {got:?}");
    assert_eq!(got.downcast_ref::<TaskError>(), Some(&TaskError::NotPaused));
}

#[test]
fn a_task_waiting_for_itself_to_finish_fails_with_a_wait_cycle() {
    let mut app = app_with(Budget::Unlimited);
    let finished = record_finished(&mut app);
    let me = Arc::new(Mutex::new(None));
    let task = app.world_mut().cooperate(waits_on(Wait::finished, &me));
    *me.lock().unwrap() = Some(task);
    frames(&mut app, 1);
    let failure = failure_of(&finished, task);
    let cycle = failure.downcast_ref::<WaitCycle>();
    assert_eq!(
        cycle.map(|c| c.0.clone()),
        Some(vec![task, task]),
        "frame 1"
    );
}

#[test]
fn a_task_waiting_on_itself_fails_with_a_typed_wait_cycle() {
    let mut app = app_with(Budget::Unlimited);
    let finished = record_finished(&mut app);
    let me = Arc::new(Mutex::new(None));
    let task = app.world_mut().cooperate(waits_on(Wait::task, &me));
    *me.lock().unwrap() = Some(task);
    frames(&mut app, 1);
    let failure = failure_of(&finished, task);
    let cycle = failure.downcast_ref::<WaitCycle>();
    assert_eq!(
        cycle.map(|c| c.0.clone()),
        Some(vec![task, task]),
        "frame 1"
    );
    assert_eq!(failure.to_string(), "a task cannot wait for itself");
}

#[test]
fn two_tasks_waiting_finished_on_each_other_is_a_wait_cycle() {
    let mut app = app_with(Budget::Unlimited);
    let finished = record_finished(&mut app);
    let (to_b, to_a) = (Arc::new(Mutex::new(None)), Arc::new(Mutex::new(None)));
    let world = app.world_mut();
    let a = world.cooperate(waits_on(Wait::finished, &to_b));
    let b = world.cooperate(waits_on(Wait::finished, &to_a));
    *to_b.lock().unwrap() = Some(b);
    *to_a.lock().unwrap() = Some(a);
    frames(&mut app, 1);
    // B closes the cycle and fails; A then waited for B to finish, which it did.
    let failure = failure_of(&finished, b);
    let cycle = failure.downcast_ref::<WaitCycle>();
    assert_eq!(cycle.map(|c| c.0.clone()), Some(vec![b, a, b]), "frame 1");
    let log = finished.get();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!((log[1].0, kind(&log[1].1)), (a, "done"));
}

#[test]
fn a_race_is_refused_as_a_cycle_only_when_every_branch_is_one() {
    let mut app = app_with(Budget::Unlimited);
    let finished = record_finished(&mut app);
    let me = Arc::new(Mutex::new(None));
    let world = app.world_mut();
    let door = world.spawn_signal();
    // Itself or the door: the door can still settle it.
    let one = world.cooperate(waits_on(
        move |me| Wait::race([Wait::task(me), Wait::signal(door)]),
        &me,
    ));
    *me.lock().unwrap() = Some(one);
    frames(&mut app, 1);
    assert!(finished.get().is_empty(), "frame 1: {:?}", finished.get());
    app.world_mut().fire_signal(door).unwrap();
    frames(&mut app, 1);
    assert_eq!(kinds(&finished), ["done"], "frame 2");
    // Itself or itself: never.
    let me = Arc::new(Mutex::new(None));
    let both = app.world_mut().cooperate(waits_on(
        |me| Wait::race([Wait::task(me), Wait::finished(me)]),
        &me,
    ));
    *me.lock().unwrap() = Some(both);
    frames(&mut app, 1);
    let failure = failure_of(&finished, both);
    assert!(
        failure.downcast_ref::<WaitCycle>().is_some(),
        "frame 3: {failure:?}"
    );
}

#[test]
fn a_cycle_through_a_scripts_joined_task_waits_is_caught() {
    let mut app = app_with(Budget::Unlimited);
    let finished = record_finished(&mut app);
    let world = app.world_mut();
    let go = world.spawn_signal();
    let slow = world.cooperate(std::iter::once(Step::Wait(Wait::signal(go))));
    let to_script = Arc::new(Mutex::new(None));
    // A waits on the script, which joins A and a slow task.
    let a = world.cooperate(waits_on(Wait::task, &to_script));
    let joined = world.cooperate(script(move |cx| async move {
        futures::try_join!(cx.wait(Wait::task(a)), cx.wait(Wait::task(slow)))?;
        Ok::<(), Failure>(())
    }));
    *to_script.lock().unwrap() = Some(joined);
    frames(&mut app, 2);
    // The script waits on A, which waits on it: the join can never settle.
    let failure = failure_of(&finished, joined);
    let cycle = failure.downcast_ref::<WaitCycle>();
    assert!(cycle.is_some(), "frame 2: {failure:?}");
    assert!(cycle.unwrap().0.contains(&a));
    let _ = go;
}

#[test]
fn a_cycle_closed_late_through_a_scripts_join_is_caught_once_the_rest_resolved() {
    let mut app = app_with(Budget::Unlimited);
    let finished = record_finished(&mut app);
    let world = app.world_mut();
    let go = world.spawn_signal();
    let slow = world.cooperate(std::iter::once(Step::Wait(Wait::signal(go))));
    let to_script = Arc::new(Mutex::new(None));
    // The script joins A and the slow task; A waits on the script afterwards.
    let to_a = Arc::new(Mutex::new(None));
    let s = world.cooperate(script({
        let to_a = to_a.clone();
        move |cx| async move {
            cx.frames(1).await?;
            let a = to_a.lock().unwrap().expect("set");
            let (x, y) = futures::join!(cx.wait(Wait::task(a)), cx.wait(Wait::task(slow)));
            x?;
            y
        }
    }));
    *to_script.lock().unwrap() = Some(s);
    let a = world.cooperate(script({
        let to_script = to_script.clone();
        move |cx| async move {
            cx.frames(2).await?;
            let s = to_script.lock().unwrap().expect("set");
            cx.wait(Wait::task(s)).await
        }
    }));
    *to_a.lock().unwrap() = Some(a);
    frames(&mut app, 4); // frame 2: S joins A and slow; frame 3: A waits on S (no cycle yet)
    assert!(
        finished.get().iter().all(|(e, _)| *e != s && *e != a),
        "frame 4: {:?}",
        finished.get()
    );
    app.world_mut().fire_signal(go).unwrap();
    frames(&mut app, 2); // the slow task ends: S now waits on A alone, which waits on S
    let failure = failure_of(&finished, s);
    assert!(
        failure.downcast_ref::<WaitCycle>().is_some(),
        "frame 6: {failure:?}"
    );
}

#[test]
fn a_select_over_a_cycle_is_no_cycle_while_another_branch_can_win() {
    let mut app = app_with(Budget::Unlimited);
    let finished = record_finished(&mut app);
    let world = app.world_mut();
    let door = world.spawn_signal();
    let to_script = Arc::new(Mutex::new(None));
    // The script races A and the door; then A waits on the script.
    let a = world.cooperate(script({
        let to_script = to_script.clone();
        move |cx| async move {
            cx.frames(1).await?;
            let s = to_script.lock().unwrap().expect("set");
            cx.wait(Wait::task(s)).await
        }
    }));
    let s = world.cooperate(script(move |cx| async move {
        use futures::FutureExt;
        futures::select! {
            r = cx.wait(Wait::task(a)).fuse() => r.map(|()| "a"),
            r = cx.wait(Wait::signal(door)).fuse() => r.map(|()| "door"),
        }
    }));
    world.entity_mut(s).insert(RetainFinished);
    *to_script.lock().unwrap() = Some(s);
    frames(&mut app, 3);
    assert!(finished.get().is_empty(), "frame 3: {:?}", finished.get());
    app.world_mut().fire_signal(door).unwrap();
    frames(&mut app, 1);
    assert_eq!(
        app.world().get::<TaskResult<&str>>(s).map(|r| r.0),
        Some("door"),
        "frame 4: {:?}",
        finished.get()
    );
}

#[test]
fn a_cycle_through_a_scripts_wait_all_is_caught() {
    let mut app = app_with(Budget::Unlimited);
    let finished = record_finished(&mut app);
    let world = app.world_mut();
    let door = world.spawn_signal();
    let to_script = Arc::new(Mutex::new(None));
    let s = world.cooperate(script(move |cx| async move {
        cx.frames(1).await?;
        let a: Entity = cx
            .with_world(|w| {
                w.query_filtered::<Entity, With<Marker>>()
                    .single(w)
                    .expect("one")
            })
            .await;
        cx.wait(Wait::all([Wait::signal(door), Wait::task(a)]))
            .await
    }));
    *to_script.lock().unwrap() = Some(s);
    let a = world.cooperate(waits_on(Wait::task, &to_script));
    world.entity_mut(a).insert(Marker);
    frames(&mut app, 3);
    // A waits on S first; S's all-of wait on A closes the cycle.
    let failure = failure_of(&finished, s);
    assert!(
        failure.downcast_ref::<WaitCycle>().is_some(),
        "frame 3: {failure:?}"
    );
}

#[derive(Component)]
struct Marker;

#[test]
fn time_waits_of_nan_negative_or_zero_seconds_resume_at_once_and_infinite_ones_never() {
    let mut app = app();
    let log = Log::new();
    let world = app.world_mut();
    for wait in [
        Wait::seconds(f32::NAN),
        Wait::seconds(-1.0),
        Wait::seconds(f32::NEG_INFINITY),
        Wait::seconds(0.0),
        Wait::duration(Duration::ZERO),
    ] {
        world.cooperate(wait_then_log(wait, &log));
    }
    let forever = [
        world.cooperate(wait_then_log(Wait::seconds(f32::INFINITY), &log)),
        world.cooperate(wait_then_log(Wait::seconds(f32::MAX), &log)),
        world.cooperate(wait_then_log(Wait::duration(Duration::MAX), &log)),
    ];
    // One step per frame: each waits in its first step, and, resolved at once, resumes at the
    // back of the queue.
    frames(&mut app, 16);
    assert_eq!(log.len(), 5, "frame 16: {:?}", log.get());
    for task in forever {
        assert!(app.world().get::<Paused>(task).is_some(), "frame 16");
    }
    // The game's clock running far ahead does not wake them either. (A fixed timestep of the
    // same hour: Bevy's fixed loop would otherwise catch up 64 times for each second of it.)
    let virt = Duration::from_secs(3600);
    app.world_mut()
        .resource_mut::<bevy_time::Time<bevy_time::Fixed>>()
        .set_timestep(virt);
    app.world_mut()
        .resource_mut::<bevy_time::Time<bevy_time::Virtual>>()
        .set_max_delta(virt);
    app.insert_resource(bevy_time::TimeUpdateStrategy::ManualDuration(virt));
    frames(&mut app, 3);
    assert_eq!(log.len(), 5, "an hour later");
    assert_eq!(PendingWaits::of(app.world()).timers, 3);
}
