//! Bad input gets a clear error and loses nothing.

mod common;
use bevy_cooperator::prelude::*;
use bevy_ecs::prelude::*;
use common::*;

#[test]
fn operations_on_a_despawned_or_unknown_entity_are_no_such_task() {
    let mut app = app();
    let task = app.world_mut().cooperate(std::iter::repeat(()));
    app.world_mut().despawn(task);
    let plain = app.world_mut().spawn_empty().id();
    for e in [task, plain] {
        let world = app.world_mut();
        assert_eq!(world.pause_task(e), Err(TaskError::NoSuchTask(e)));
        assert_eq!(world.resume_task(e), Err(TaskError::NoSuchTask(e)));
        assert_eq!(world.stop_task(e), Err(TaskError::NoSuchTask(e)));
        assert!(world.task_outcome(e).is_none());
    }
    assert!(app.world().get_entity(plain).is_ok(), "nothing touched");
}

#[test]
fn operations_on_an_unknown_cooperator_are_no_such_cooperator() {
    let mut app = app();
    let nobody = app.world_mut().spawn_empty().id();
    let world = app.world_mut();
    assert_eq!(
        world.stop_cooperator(nobody),
        Err(TaskError::NoSuchCooperator(nobody))
    );
    assert_eq!(
        world.start_cooperator(nobody),
        Err(TaskError::NoSuchCooperator(nobody))
    );
    let before = plain_entity_count(world);
    assert_eq!(
        world.cooperate_on(nobody, std::iter::empty::<()>()),
        Err(TaskError::NoSuchCooperator(nobody))
    );
    assert_eq!(plain_entity_count(world), before, "nothing spawned");
}

#[test]
fn stale_handles_through_commands_only_warn() {
    let mut app = app();
    let finished = record_finished(&mut app);
    let task = app.world_mut().cooperate(std::iter::repeat(()));
    app.world_mut().despawn(task);
    let nobody = app.world_mut().spawn_empty().id();
    let signal = app.world_mut().spawn_signal();
    app.world_mut().fire_signal(signal).unwrap();
    {
        let mut commands = app.world_mut().commands();
        commands.pause_task(task);
        commands.resume_task(task);
        commands.stop_task(task);
        commands.stop_cooperator(nobody);
        commands.start_cooperator(nobody);
        commands.fire_signal(signal);
        commands.fail_signal(signal, "x");
    }
    app.world_mut().flush();
    // A task on a cooperator that does not exist: born finished, not lost silently.
    let orphan = app
        .world_mut()
        .commands()
        .cooperate_on(nobody, std::iter::repeat(()))
        .id();
    app.world_mut().flush();
    frames(&mut app, 2);
    let got = finished.get();
    assert!(
        got.iter()
            .any(|(e, o)| *e == orphan && matches!(o, Outcome::SchedulerStopped))
    );
}

#[test]
fn resuming_an_unpaused_task_is_not_paused() {
    let mut app = app();
    let task = app.world_mut().cooperate(std::iter::repeat(()));
    assert_eq!(app.world_mut().resume_task(task), Err(TaskError::NotPaused));
    // X04: a finished, unpaused task too.
    app.world_mut().entity_mut(task).insert(RetainFinished);
    app.world_mut().stop_task(task).unwrap();
    assert_eq!(app.world_mut().resume_task(task), Err(TaskError::NotPaused));
}

#[test]
fn resuming_a_wait_by_hand_is_refused() {
    let mut app = app();
    let s = app.world_mut().spawn_signal();
    let task = app.world_mut().cooperate(std::iter::once(Wait::signal(s)));
    app.update();
    assert_eq!(app.world_mut().resume_task(task), Err(TaskError::NotPaused));
    assert!(
        app.world()
            .get::<CooperativeTask>(task)
            .unwrap()
            .is_waiting()
    );
}

#[test]
fn stopping_a_finished_task_says_how_it_finished() {
    let mut app = app_with(Budget::Unlimited);
    let done = app.world_mut().cooperate(std::iter::empty::<()>());
    let failed = app
        .world_mut()
        .cooperate(std::iter::once(Err::<(), _>("x")));
    let stopped = app.world_mut().cooperate(std::iter::repeat(()));
    for t in [done, failed, stopped] {
        app.world_mut().entity_mut(t).insert(RetainFinished);
    }
    app.world_mut().stop_task(stopped).unwrap();
    app.update();
    let world = app.world_mut();
    assert_eq!(
        world.stop_task(done),
        Err(TaskError::AlreadyFinished(FinishKind::Done))
    );
    assert_eq!(
        world.stop_task(failed),
        Err(TaskError::AlreadyFinished(FinishKind::Failed))
    );
    assert_eq!(
        world.stop_task(stopped),
        Err(TaskError::AlreadyFinished(FinishKind::Stopped))
    );
    assert_eq!(
        world.pause_task(done),
        Err(TaskError::AlreadyFinished(FinishKind::Done))
    );
}

#[test]
fn signals_settle_once() {
    let mut app = app();
    let s = app.world_mut().spawn_signal();
    let world = app.world_mut();
    assert_eq!(world.fire_signal(s), Ok(()));
    assert_eq!(
        world.fire_signal(s),
        Err(TaskError::SignalSettled(s.entity()))
    );
    assert_eq!(
        world.fail_signal(s, "late"),
        Err(TaskError::SignalSettled(s.entity()))
    );
    let gone = world.spawn_signal();
    world.despawn(gone.entity());
    assert_eq!(
        world.fire_signal(gone),
        Err(TaskError::NoSuchSignal(gone.entity()))
    );
}

#[test]
fn waiting_on_nothing_fails_the_task_clearly() {
    let mut app = app_with(Budget::Steps(10));
    let finished = record_finished(&mut app);
    let nobody = app.world_mut().spawn_empty().id();
    let gone = app.world_mut().spawn_signal();
    app.world_mut().despawn(gone.entity());
    app.world_mut()
        .cooperate(std::iter::once(Wait::task(nobody)));
    app.world_mut()
        .cooperate(std::iter::once(Wait::signal(gone)));
    app.world_mut().cooperate(from_fn(|cx: &mut StepContext| {
        Step::Wait(Wait::task(cx.task()))
    }));
    app.update();
    let got = finished.get();
    assert_eq!(kinds(&finished), ["failed"; 3]);
    assert_eq!(
        got[0].1.failure().unwrap().downcast_ref::<TaskError>(),
        Some(&TaskError::NoSuchTask(nobody))
    );
    assert_eq!(
        got[1].1.failure().unwrap().downcast_ref::<TaskError>(),
        Some(&TaskError::NoSuchSignal(gone.entity()))
    );
    assert_eq!(
        got[2].1.failure().unwrap().to_string(),
        "a task cannot wait for itself"
    );
}

#[test]
fn despawning_a_pending_signal_fails_its_waiters() {
    let mut app = app();
    let finished = record_finished(&mut app);
    let s = app.world_mut().spawn_signal();
    app.world_mut().cooperate(std::iter::once(Wait::signal(s)));
    app.update();
    app.world_mut().despawn(s.entity());
    app.world_mut().flush();
    assert_eq!(kinds(&finished), ["failed"]);
}

#[test]
#[should_panic(expected = "add CooperatorPlugin")]
fn cooperating_without_the_plugin_says_what_to_add() {
    let mut world = World::new();
    world.cooperate(std::iter::empty::<()>());
}
