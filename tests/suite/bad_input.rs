//! Bad input gets a clear error and loses nothing.

use crate::common::*;
use bevy_cooperator::*;
use bevy_ecs::prelude::*;

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
    let narcissus = app.world_mut().cooperate(from_fn(|cx: &mut StepContext| {
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
    // Waiting on itself is the shortest cycle.
    assert_eq!(
        got[2].1.failure().unwrap().downcast_ref::<WaitCycle>(),
        Some(&WaitCycle(vec![narcissus, narcissus]))
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

// Regression: `Budget::Time(Duration::MAX)` overflowed ("overflow when adding durations") and a
// NaN frame fraction panicked ("cannot convert float seconds to Duration").
#[test]
fn every_budget_value_runs_its_frames() {
    use std::time::Duration;
    for budget in [
        Budget::Time(Duration::MAX),
        Budget::frame_fraction(f32::NAN),
        Budget::frame_fraction(-2.0),
        Budget::frame_fraction(f32::INFINITY),
        Budget::FrameFraction {
            fraction: 0.5,
            min: Duration::MAX,
            max: Duration::ZERO,
        },
        Budget::Steps(0),
        Budget::Steps(u32::MAX),
        Budget::fill_frame(Duration::MAX),
        Budget::fill_frame(Duration::ZERO),
        Budget::FillFrame {
            target: Duration::from_millis(16),
            margin: Duration::MAX,
            min: Duration::MAX,
            max: Duration::ZERO,
        },
    ] {
        let label = format!("{budget:?}");
        let mut app = app_with(budget);
        let task = app.world_mut().cooperate((0..10).map(|_| ()));
        app.world_mut().entity_mut(task).insert(RetainFinished);
        frames(&mut app, 12);
        assert!(
            app.world().task_outcome(task).unwrap().is_done(),
            "{label}: the task ran to its end"
        );
    }
}

// ---- An adversarial property test over the public API ----------------------------------------

mod hostile {
    use std::collections::HashMap;
    use std::time::Duration;

    use bevy_cooperator::*;
    use bevy_ecs::prelude::*;
    use proptest::prelude::*;

    use crate::common::*;

    /// What an entity of the pool was made as (it may have been despawned since).
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Kind {
        Task,
        Signal(Signal),
        Cooperator,
        Plain,
    }

    /// Durations a user can build, the hostile ones included.
    fn duration() -> impl Strategy<Value = Duration> {
        prop_oneof![
            Just(Duration::ZERO),
            Just(Duration::from_nanos(1)),
            Just(Duration::from_millis(5)),
            Just(Duration::MAX),
            Just(Duration::new(u64::MAX, 0)),
        ]
    }

    fn float() -> impl Strategy<Value = f32> {
        prop_oneof![
            Just(f32::NAN),
            Just(-1.0),
            Just(0.0),
            Just(0.5),
            Just(1.0),
            Just(f32::INFINITY),
            Just(f32::NEG_INFINITY),
            Just(f32::MAX),
        ]
    }

    fn count() -> impl Strategy<Value = u32> {
        prop_oneof![Just(0), Just(1), Just(3), Just(u32::MAX)]
    }

    /// Every kind of budget, with hostile values. (No `Unlimited`: with it a task that never
    /// waits would hang the frame, as documented; every task here ends or waits.)
    fn budget() -> impl Strategy<Value = Budget> {
        prop_oneof![
            duration().prop_map(Budget::Time),
            count().prop_map(Budget::Steps),
            float().prop_map(Budget::frame_fraction),
            (float(), duration(), duration())
                .prop_map(|(fraction, min, max)| Budget::FrameFraction { fraction, min, max }),
            Just(Budget::custom(|| || true)),
        ]
    }

    /// A task body: some steps, then one wait built from hostile values, then some steps.
    #[derive(Clone, Debug)]
    enum WaitOn {
        Time(Duration),
        Real(Duration),
        Seconds(f32),
        Frames(u32),
        Task(u8),
        Signal(u8),
        Timeout(u8, Duration),
        All(u8, u8),
        Race(u8, u8),
    }

    fn wait_on() -> impl Strategy<Value = WaitOn> {
        prop_oneof![
            duration().prop_map(WaitOn::Time),
            duration().prop_map(WaitOn::Real),
            float().prop_map(WaitOn::Seconds),
            count().prop_map(WaitOn::Frames),
            any::<u8>().prop_map(WaitOn::Task),
            any::<u8>().prop_map(WaitOn::Signal),
            (any::<u8>(), duration()).prop_map(|(e, d)| WaitOn::Timeout(e, d)),
            (any::<u8>(), any::<u8>()).prop_map(|(a, b)| WaitOn::All(a, b)),
            (any::<u8>(), any::<u8>()).prop_map(|(a, b)| WaitOn::Race(a, b)),
        ]
    }

    #[derive(Clone, Debug)]
    enum Call {
        Cooperate(u8, Option<WaitOn>),
        CooperateOn(u8, u8, Option<WaitOn>),
        Pause(u8),
        Resume(u8),
        Stop(u8),
        StopCooperator(u8),
        StartCooperator(u8),
        Fire(u8),
        Fail(u8),
        SignalFrom(u8),
        SpawnSignal,
        SpawnCooperator(Budget),
        SetBudget(u8, Budget),
        SpawnPlain,
        Despawn(u8),
        Frames(u8),
    }

    fn call() -> impl Strategy<Value = Call> {
        let body = || (0u8..4, prop::option::of(wait_on()));
        prop_oneof![
            4 => body().prop_map(|(n, w)| Call::Cooperate(n, w)),
            4 => (any::<u8>(), 0u8..4, prop::option::of(wait_on()))
                .prop_map(|(c, n, w)| Call::CooperateOn(c, n, w)),
            3 => any::<u8>().prop_map(Call::Pause),
            3 => any::<u8>().prop_map(Call::Resume),
            2 => any::<u8>().prop_map(Call::Stop),
            1 => any::<u8>().prop_map(Call::StopCooperator),
            1 => any::<u8>().prop_map(Call::StartCooperator),
            2 => any::<u8>().prop_map(Call::Fire),
            1 => any::<u8>().prop_map(Call::Fail),
            1 => any::<u8>().prop_map(Call::SignalFrom),
            2 => Just(Call::SpawnSignal),
            1 => budget().prop_map(Call::SpawnCooperator),
            2 => (any::<u8>(), budget()).prop_map(|(c, b)| Call::SetBudget(c, b)),
            1 => Just(Call::SpawnPlain),
            2 => any::<u8>().prop_map(Call::Despawn),
            5 => (0u8..3).prop_map(Call::Frames),
        ]
    }

    struct Run {
        app: bevy_app::App,
        pool: Vec<(Entity, Kind)>,
        tasks: Vec<Entity>,
    }

    fn pick(pool: &[(Entity, Kind)], i: u8) -> (Entity, Kind) {
        pool[usize::from(i) % pool.len()]
    }

    impl Run {
        fn wait(&self, on: &WaitOn) -> Wait {
            let task = |i: u8| pick(&self.pool, i).0;
            let signal = |i: u8| match pick(&self.pool, i) {
                (_, Kind::Signal(s)) => Wait::signal(s),
                (e, _) => Wait::task(e),
            };
            match on.clone() {
                WaitOn::Time(d) => Wait::duration(d),
                WaitOn::Real(d) => Wait::real(d),
                WaitOn::Seconds(s) => Wait::seconds(s),
                WaitOn::Frames(n) => Wait::frames(n),
                WaitOn::Task(i) => Wait::task(task(i)),
                WaitOn::Signal(i) => signal(i),
                WaitOn::Timeout(i, d) => signal(i).timeout(d),
                WaitOn::All(a, b) => Wait::all([signal(a), Wait::task(task(b))]),
                WaitOn::Race(a, b) => Wait::race([signal(a), Wait::task(task(b))]).settled(),
            }
        }

        fn body(&self, steps: u8, wait: Option<WaitOn>) -> impl Work + use<> {
            let mut wait = wait.map(|w| self.wait(&w));
            let mut left = steps;
            from_fn(move |_: &mut StepContext| {
                if let Some(w) = wait.take() {
                    return Step::Wait(w);
                }
                if left == 0 {
                    return Step::Done;
                }
                left -= 1;
                Step::Continue
            })
        }

        fn apply(&mut self, call: Call) {
            let global = global(&self.app);
            let world = self.app.world_mut();
            match call {
                Call::Cooperate(steps, wait) => {
                    let body = self.body(steps, wait);
                    let world = self.app.world_mut();
                    let e = world.cooperate(body);
                    self.tasks.push(e);
                    self.pool.push((e, Kind::Task));
                }
                Call::CooperateOn(c, steps, wait) => {
                    let (coop, kind) = pick(&self.pool, c);
                    let body = self.body(steps, wait);
                    let world = self.app.world_mut();
                    let alive = world.get::<Cooperator>(coop).is_some();
                    let before = world.entities().len();
                    match world.cooperate_on(coop, body) {
                        Ok(e) => {
                            assert!(alive && kind == Kind::Cooperator || coop == global);
                            self.tasks.push(e);
                            self.pool.push((e, Kind::Task));
                        }
                        Err(err) => {
                            assert!(!alive, "{err} for a live cooperator");
                            assert_eq!(err, TaskError::NoSuchCooperator(coop));
                            assert_eq!(world.entities().len(), before, "nothing spawned");
                        }
                    }
                }
                Call::Pause(i) | Call::Resume(i) | Call::Stop(i) => {
                    let (e, _) = pick(&self.pool, i);
                    let is_task = world.get::<CooperativeTask>(e).is_some();
                    let result = match call {
                        Call::Pause(_) => world.pause_task(e),
                        Call::Resume(_) => world.resume_task(e),
                        _ => world.stop_task(e),
                    };
                    if !is_task {
                        assert_eq!(result, Err(TaskError::NoSuchTask(e)));
                    }
                }
                Call::StopCooperator(i) | Call::StartCooperator(i) => {
                    let (e, _) = pick(&self.pool, i);
                    let is_coop = world.get::<Cooperator>(e).is_some();
                    let result = if matches!(call, Call::StopCooperator(_)) {
                        world.stop_cooperator(e)
                    } else {
                        world.start_cooperator(e)
                    };
                    assert_eq!(result.is_ok(), is_coop, "{result:?}");
                    if !is_coop {
                        assert_eq!(result, Err(TaskError::NoSuchCooperator(e)));
                    }
                }
                Call::Fire(i) | Call::Fail(i) => {
                    let (e, kind) = pick(&self.pool, i);
                    let Kind::Signal(signal) = kind else {
                        // Not a signal: no handle can be made for it.
                        assert!(Signal::from_entity(world, e).is_none());
                        return;
                    };
                    let alive = world.get_entity(e).is_ok();
                    let result = if matches!(call, Call::Fire(_)) {
                        world.fire_signal(signal)
                    } else {
                        world.fail_signal(signal, "hostile")
                    };
                    match result {
                        Ok(()) => assert!(alive),
                        Err(TaskError::SignalSettled(s)) => assert!(alive && s == e),
                        Err(err) => {
                            assert!(!alive);
                            assert_eq!(err, TaskError::NoSuchSignal(e));
                        }
                    }
                }
                Call::SignalFrom(i) => {
                    let (e, kind) = pick(&self.pool, i);
                    let found = Signal::from_entity(world, e);
                    let alive = world.get_entity(e).is_ok();
                    assert_eq!(found.is_some(), matches!(kind, Kind::Signal(_)) && alive);
                }
                Call::SpawnSignal => {
                    let s = world.spawn_signal();
                    self.pool.push((s.entity(), Kind::Signal(s)));
                }
                Call::SpawnCooperator(budget) => {
                    let e = world.spawn(Cooperator::new(budget)).id();
                    self.pool.push((e, Kind::Cooperator));
                }
                Call::SetBudget(i, budget) => {
                    let (e, _) = pick(&self.pool, i);
                    if let Some(mut coop) = world.get_mut::<Cooperator>(e) {
                        coop.budget = budget;
                    }
                }
                Call::SpawnPlain => {
                    let e = world.spawn_empty().id();
                    self.pool.push((e, Kind::Plain));
                }
                Call::Despawn(i) => {
                    let (e, _) = pick(&self.pool, i);
                    if e != global {
                        let _ = world.try_despawn(e);
                    }
                }
                Call::Frames(n) => {
                    for _ in 0..n {
                        self.app.update();
                    }
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

        /// Random calls with hostile values: nothing panics, a wrong entity gets its clear
        /// error, and every task ever started finishes exactly once.
        #[test]
        fn hostile_calls_panic_nothing_and_lose_nothing(calls in prop::collection::vec(call(), 1..60)) {
            let mut app = app();
            let finished = record_finished(&mut app);
            let global = global(&app);
            let mut run = Run { app, pool: vec![(global, Kind::Cooperator)], tasks: Vec::new() };
            for call in calls {
                run.apply(call);
            }
            run.app.update();
            // End everything: every cooperator goes, and with it every task still waiting.
            let world = run.app.world_mut();
            let coops: Vec<Entity> =
                world.query_filtered::<Entity, With<Cooperator>>().iter(world).collect();
            for coop in coops {
                world.despawn(coop);
            }
            run.app.update();
            let mut seen: HashMap<Entity, usize> = HashMap::new();
            for (e, _) in finished.get() {
                *seen.entry(e).or_default() += 1;
            }
            for task in &run.tasks {
                prop_assert_eq!(seen.get(task).copied(), Some(1), "task {} finished once", task);
            }
            prop_assert_eq!(seen.len(), run.tasks.len());
        }
    }
}
