//! Starting, stopping and despawning cooperators (Twisted `CooperatorTests` T01–T03, T11–T14 and
//! the stop-related edge cases X01–X03, X12, X15).

use crate::common::*;
use bevy_app::App;
use bevy_cooperator::*;
use bevy_ecs::prelude::*;

fn running(app: &App, coop: Entity) -> bool {
    app.world().get::<Cooperator>(coop).unwrap().running()
}

// T01, X03, EC3: a stopped cooperator rejects new tasks: they are born finished.
#[test]
fn a_stopped_cooperator_gives_tasks_born_finished() {
    let mut app = app();
    let global = global(&app);
    let finished = record_finished(&mut app);
    app.world_mut().stop_cooperator(global).unwrap();
    // World API.
    let t1 = app.world_mut().cooperate(std::iter::empty::<()>());
    assert_eq!(kinds(&finished), ["scheduler-stopped"], "at once");
    // Commands API.
    let t2 = app
        .world_mut()
        .commands()
        .cooperate(std::iter::empty::<()>())
        .insert(RetainFinished)
        .id();
    app.world_mut().flush();
    assert_eq!(kinds(&finished), ["scheduler-stopped"; 2]);
    app.world_mut().entity_mut(t1).insert(RetainFinished);
    // X03 / EC4: pause and stop say SchedulerStopped; resume says NotPaused.
    for t in [t1, t2] {
        assert_eq!(
            app.world_mut().pause_task(t),
            Err(TaskError::SchedulerStopped)
        );
        assert_eq!(
            app.world_mut().stop_task(t),
            Err(TaskError::SchedulerStopped)
        );
        assert_eq!(app.world_mut().resume_task(t), Err(TaskError::NotPaused));
    }
    frames(&mut app, 2);
    assert_eq!(finished.len(), 2, "and never a success");
}

// T02: stopping before the first tick finishes the task with SchedulerStopped; no step runs.
#[test]
fn stopping_before_the_first_tick() {
    let mut app = app();
    let global = global(&app);
    let finished = record_finished(&mut app);
    let log = Log::new();
    app.world_mut().cooperate(logging(&log, "x", 3));
    app.world_mut().stop_cooperator(global).unwrap();
    frames(&mut app, 3);
    assert_eq!(kinds(&finished), ["scheduler-stopped"]);
    assert!(log.get().is_empty());
}

// T03, X02 (fixed): a task waiting when its cooperator stops is finished at once, not when its
// wait resolves; it is never stepped again.
#[test]
fn a_waiting_task_is_finished_at_stop() {
    let (mut app, worker, task) = run_state();
    let global = global(&app);
    let finished = record_finished(&mut app);
    worker.set(|s| s.defer_next = true);
    app.update();
    app.world_mut().stop_cooperator(global).unwrap();
    assert_eq!(kinds(&finished), ["scheduler-stopped"], "at once");
    assert!(
        app.world().get::<Paused>(task).is_none(),
        "its wait is gone"
    );
    app.world_mut().fire_signal(worker.last_signal()).unwrap();
    app.world_mut().start_cooperator(global).unwrap();
    frames(&mut app, 3);
    assert_eq!(worker.work().len(), 1, "never stepped again");
    assert_eq!(finished.len(), 1);
}

// X01 (fixed): stop reaches every task — Twisted skips every second one.
// X02 (fixed): paused tasks are notified at stop too.
#[test]
fn stop_finishes_every_task_runnable_or_paused() {
    let mut app = app();
    let global = global(&app);
    let finished = record_finished(&mut app);
    let tasks: Vec<Entity> = (0..5)
        .map(|_| app.world_mut().cooperate(std::iter::repeat(())))
        .collect();
    app.world_mut().pause_task(tasks[1]).unwrap();
    app.world_mut().pause_task(tasks[3]).unwrap();
    app.update();
    app.world_mut().stop_cooperator(global).unwrap();
    let mut got: Vec<Entity> = finished.get().iter().map(|(e, _)| *e).collect();
    got.sort();
    let mut want = tasks.clone();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(kinds(&finished), ["scheduler-stopped"; 5]);
    let coop = app.world().get::<Cooperator>(global).unwrap();
    assert_eq!(coop.task_count(), 0);
    // Stopping twice is harmless.
    assert_eq!(app.world_mut().stop_cooperator(global), Ok(()));
}

// T11–T14 and the restart row of Twisted's `running` table.
#[test]
fn running_reflects_started_and_stopped() {
    let mut app = app();
    let global = global(&app);
    assert!(running(&app, global), "T11: started by default");
    let lazy = app
        .world_mut()
        .spawn(Cooperator::new(Budget::Steps(1)).not_started())
        .id();
    assert!(!running(&app, lazy), "T12: not started");
    app.world_mut().start_cooperator(lazy).unwrap();
    assert!(running(&app, lazy), "T13: started");
    app.world_mut().stop_cooperator(lazy).unwrap();
    assert!(!running(&app, lazy), "T14: stopped");
    app.world_mut().start_cooperator(lazy).unwrap();
    assert!(running(&app, lazy), "restarted");
}

// EC18: a cooperator that is not started queues tasks and runs nothing until started.
#[test]
fn a_not_started_cooperator_queues_until_started() {
    let mut app = app();
    let lazy = app
        .world_mut()
        .spawn(Cooperator::new(Budget::Steps(1)).not_started())
        .id();
    let log = Log::new();
    app.world_mut()
        .cooperate_on(lazy, logging(&log, "x", 2))
        .unwrap();
    frames(&mut app, 3);
    assert!(log.get().is_empty());
    app.world_mut().start_cooperator(lazy).unwrap();
    frames(&mut app, 3);
    assert_eq!(log.get(), ["x0", "x1"]);
}

// X12: not started, stopped, then started: queued tasks were finished, the cooperator re-opens.
#[test]
fn stop_before_start_then_start_reopens() {
    let mut app = app();
    let finished = record_finished(&mut app);
    let lazy = app
        .world_mut()
        .spawn(Cooperator::new(Budget::Steps(1)).not_started())
        .id();
    app.world_mut()
        .cooperate_on(lazy, std::iter::repeat(()))
        .unwrap();
    app.world_mut().stop_cooperator(lazy).unwrap();
    assert_eq!(kinds(&finished), ["scheduler-stopped"]);
    app.world_mut().start_cooperator(lazy).unwrap();
    let log = Log::new();
    app.world_mut()
        .cooperate_on(lazy, logging(&log, "new", 1))
        .unwrap();
    frames(&mut app, 3);
    assert_eq!(log.get(), ["new0"]);
}

// X15 (fixed), EC24: after stop and start no task from before the stop is ever stepped again.
#[test]
fn nothing_from_before_a_stop_runs_after_a_restart() {
    let mut app = app_with(Budget::Steps(2));
    let global = global(&app);
    let log = Log::new();
    for tag in ["a", "b", "c"] {
        app.world_mut().cooperate(logging(&log, tag, 100));
    }
    app.update();
    app.world_mut().stop_cooperator(global).unwrap();
    app.world_mut().start_cooperator(global).unwrap();
    app.world_mut().cooperate(logging(&log, "new", 3));
    frames(&mut app, 3);
    assert_eq!(log.get(), ["a0", "b0", "new0", "new1", "new2"]);
}

// Lifecycle rule: despawning a cooperator finishes all its tasks, paused ones too.
#[test]
fn despawning_a_cooperator_finishes_all_its_tasks() {
    let mut app = app();
    let finished = record_finished(&mut app);
    let coop = app
        .world_mut()
        .spawn(Cooperator::new(Budget::Steps(1)))
        .id();
    let runnable = app
        .world_mut()
        .cooperate_on(coop, std::iter::repeat(()))
        .unwrap();
    let paused = app
        .world_mut()
        .cooperate_on(coop, std::iter::repeat(()))
        .unwrap();
    app.world_mut().pause_task(paused).unwrap();
    let signal = app.world_mut().spawn_signal();
    let waiting = app
        .world_mut()
        .cooperate_on(coop, std::iter::once(Wait::signal(signal)))
        .unwrap();
    app.update();
    app.world_mut().despawn(coop);
    app.world_mut().flush();
    let mut got: Vec<Entity> = finished.get().iter().map(|(e, _)| *e).collect();
    got.sort();
    let mut want = vec![runnable, paused, waiting];
    want.sort();
    assert_eq!(got, want);
    assert_eq!(kinds(&finished), ["scheduler-stopped"; 3]);
    // A task added to the despawned cooperator is refused (World) or born finished (Commands).
    assert_eq!(
        app.world_mut().cooperate_on(coop, std::iter::empty::<()>()),
        Err(TaskError::NoSuchCooperator(coop))
    );
    frames(&mut app, 2);
    assert_eq!(finished.len(), 3);
}

// A step that stops its own cooperator: the tick ends, every task is finished once.
#[test]
fn a_step_may_stop_its_own_cooperator() {
    let mut app = app_with(Budget::Unlimited);
    let finished = record_finished(&mut app);
    let other = app.world_mut().cooperate(std::iter::repeat(()));
    let stopper = app.world_mut().cooperate(from_fn(|cx: &mut StepContext| {
        let coop = cx.cooperator();
        cx.world().stop_cooperator(coop).unwrap();
        Step::Done
    }));
    app.update();
    let got = finished.get();
    assert_eq!(got.len(), 2);
    assert!(
        got.iter()
            .all(|(_, o)| matches!(o, Outcome::SchedulerStopped))
    );
    assert!(got.iter().any(|(e, _)| *e == other));
    assert!(got.iter().any(|(e, _)| *e == stopper));
}

// A step that despawns its own cooperator: the same, and the frame completes.
#[test]
fn a_step_may_despawn_its_own_cooperator() {
    let mut app = app_with(Budget::Unlimited);
    let finished = record_finished(&mut app);
    let coop = app
        .world_mut()
        .spawn(Cooperator::new(Budget::Unlimited))
        .id();
    app.world_mut()
        .cooperate_on(coop, std::iter::repeat(()))
        .unwrap();
    app.world_mut()
        .cooperate_on(
            coop,
            from_fn(|cx: &mut StepContext| {
                let coop = cx.cooperator();
                cx.world().despawn(coop);
                Step::Continue
            }),
        )
        .unwrap();
    frames(&mut app, 2);
    assert_eq!(kinds(&finished), ["scheduler-stopped"; 2]);
}

// Replacing a cooperator component is like despawning it: its tasks do not hang.
#[test]
fn replacing_a_cooperator_component_finishes_its_tasks() {
    let mut app = app();
    let finished = record_finished(&mut app);
    let coop = app
        .world_mut()
        .spawn(Cooperator::new(Budget::Steps(1)))
        .id();
    app.world_mut()
        .cooperate_on(coop, std::iter::repeat(()))
        .unwrap();
    app.update();
    app.world_mut()
        .entity_mut(coop)
        .insert(Cooperator::new(Budget::Steps(5)));
    app.world_mut().flush();
    assert_eq!(kinds(&finished), ["scheduler-stopped"]);
    let log = Log::new();
    app.world_mut()
        .cooperate_on(coop, logging(&log, "new", 3))
        .unwrap();
    app.update();
    assert_eq!(log.len(), 3, "the new cooperator works");
}

// Regression: cooperators ticked in reverse spawn order, the global one last.
#[test]
fn cooperators_tick_in_the_order_they_were_created_the_global_one_first() {
    let mut app = app_with(Budget::Steps(1));
    let log = Log::new();
    let world = app.world_mut();
    let first = world.spawn(Cooperator::new(Budget::Steps(1))).id();
    let second = world.spawn(Cooperator::new(Budget::Steps(1))).id();
    // Tasks added in the opposite order, so that nothing but creation order can explain the log.
    world
        .cooperate_on(second, logging(&log, "second", 1))
        .unwrap();
    world
        .cooperate_on(first, logging(&log, "first", 1))
        .unwrap();
    world.cooperate(logging(&log, "global", 1));
    app.update();
    assert_eq!(log.get(), ["global0", "first0", "second0"]);
}

// A cooperator whose turn has not come yet runs work given to it earlier in the same frame; one
// whose turn has passed runs it next frame.
#[test]
fn work_given_to_a_later_cooperator_during_a_tick_runs_in_the_same_frame() {
    let mut app = app_with(Budget::Steps(1));
    let log = Log::new();
    let later = app
        .world_mut()
        .spawn(Cooperator::new(Budget::Steps(1)))
        .id();
    let (l, l2) = (log.clone(), log.clone());
    let mut handed = false;
    app.world_mut()
        .cooperate(from_fn(move |cx: &mut StepContext| {
            l.push("global".to_string());
            if !handed {
                handed = true;
                let (l3, l4) = (l2.clone(), l2.clone());
                let global = cx.cooperator();
                let world = cx.world();
                world
                    .cooperate_on(
                        later,
                        std::iter::once(()).map(move |()| l4.push("later".into())),
                    )
                    .unwrap();
                // And the global cooperator, whose turn is now: that waits for the next frame.
                world
                    .cooperate_on(
                        global,
                        std::iter::once(()).map(move |()| l3.push("again".into())),
                    )
                    .unwrap();
            }
            Step::Continue
        }));
    app.update();
    assert_eq!(log.get(), ["global", "later"]);
    app.update();
    assert_eq!(log.get(), ["global", "later", "again"]);
}

// Regression: stop_cooperator finished its tasks in run-queue slot order.
#[test]
fn stop_finishes_runnable_tasks_in_run_order_then_paused_ones_in_the_order_they_joined() {
    let mut app = app_with(Budget::Steps(2));
    let finished = record_finished(&mut app);
    let world = app.world_mut();
    let coop = world.spawn(Cooperator::new(Budget::Steps(2))).id();
    let tasks: Vec<Entity> = (0..5)
        .map(|_| world.cooperate_on(coop, std::iter::repeat(())).unwrap())
        .collect();
    world.pause_task(tasks[3]).unwrap();
    world.pause_task(tasks[1]).unwrap();
    // Runnable: 0, 2, 4; two steps run 0 and 2, so 4 runs next.
    app.update();
    let world = app.world_mut();
    assert_eq!(
        world.get::<Cooperator>(coop).unwrap().run_order(),
        [tasks[4], tasks[0], tasks[2]]
    );
    world.stop_cooperator(coop).unwrap();
    let order: Vec<Entity> = finished.get().iter().map(|(e, _)| *e).collect();
    assert_eq!(order, [tasks[4], tasks[0], tasks[2], tasks[1], tasks[3]]);
}

#[derive(Component)]
struct Tag;

// Regression: a step that moved its cooperator into a new archetype and then finished hung the
// frame (the cooperator was looked up through a stale query cache).
#[test]
fn a_step_that_changes_its_cooperators_components_and_finishes_does_not_hang() {
    let mut app = app_with(Budget::Steps(10));
    let finished = record_finished(&mut app);
    let task = app.world_mut().cooperate(from_fn(|cx: &mut StepContext| {
        let coop = cx.cooperator();
        cx.world().entity_mut(coop).insert(Tag);
        Step::Done
    }));
    let other = app.world_mut().cooperate((0..3).map(|_| ()));
    frames(&mut app, 2);
    let ended: Vec<Entity> = finished.get().iter().map(|(e, _)| *e).collect();
    assert_eq!(ended, [task, other]);
}

// Regression: a cooperator in an archetype created after the first frame was skipped while the
// earlier ones were idle.
#[test]
fn a_cooperator_spawned_later_in_a_new_archetype_ticks() {
    let mut app = app_with(Budget::Steps(10));
    app.update();
    let log = Log::new();
    let coop = app
        .world_mut()
        .spawn((Cooperator::new(Budget::Steps(10)), Tag))
        .id();
    app.world_mut()
        .cooperate_on(coop, logging(&log, "late", 2))
        .unwrap();
    frames(&mut app, 2);
    assert_eq!(log.get(), ["late0", "late1"]);
}

/// Work whose drop panics.
struct PanicsOnDrop;

impl Work for PanicsOnDrop {
    fn step(&mut self, cx: &mut StepContext) -> Step {
        // Stops itself, then continues: its work is dropped after the step.
        let me = cx.task();
        cx.world().stop_task(me).unwrap();
        Step::Continue
    }
}

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("faults: deliberate panic in a drop");
        }
    }
}

// Regression: a panic unwinding out of the step loop left the cooperator without its queue.
#[test]
fn a_panic_out_of_the_step_loop_gives_the_queue_back_first() {
    let mut app = app_with(Budget::Steps(10));
    let coop = global(&app);
    app.world_mut().cooperate(PanicsOnDrop);
    let other = app.world_mut().cooperate(std::iter::repeat(()));
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| app.update()));
    assert!(
        unwound.is_err(),
        "the panic goes on, as any panic in a system does"
    );
    let cooperator = app.world().get::<Cooperator>(coop).unwrap();
    assert_eq!(
        cooperator.run_order(),
        [other],
        "the queue is back in its cooperator"
    );
}

// Regression: a cooperator that an earlier cooperator's step starts ticks in that same frame,
// as work given mid-frame does.
#[test]
fn a_cooperator_started_by_an_earlier_cooperators_step_ticks_in_that_frame() {
    let mut app = app_with(Budget::Steps(1));
    let later = app
        .world_mut()
        .spawn(Cooperator::new(Budget::Steps(1)).not_started())
        .id();
    let ran = Log::new();
    let r = ran.clone();
    app.world_mut()
        .cooperate_on(later, std::iter::repeat_with(move || r.push("later")))
        .unwrap();
    app.world_mut()
        .cooperate(from_fn(move |cx: &mut StepContext| {
            cx.world().start_cooperator(later).unwrap();
            Step::Done
        }));
    app.update();
    assert_eq!(ran.get(), ["later"]);
}
