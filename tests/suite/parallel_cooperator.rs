//! Parallel cooperators: world-free tasks stepped on the compute pool's threads within one
//! budget, with Twisted's semantics where they can hold (fair turns, control calls between
//! ticks, completion exactly once, waits, failures), a deterministic trace under step budgets,
//! and the one-thread fallback.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
    mpsc,
};
use std::time::Duration;

use crate::common::*;
use bevy_app::App;
use bevy_cooperator::*;
use bevy_ecs::prelude::*;
use bevy_tasks::{ComputeTaskPool, TaskPoolBuilder};

/// The compute pool of this test binary (two threads, unless another test made it first).
fn pool_threads() -> usize {
    ComputeTaskPool::get_or_init(|| TaskPoolBuilder::new().num_threads(2).build()).thread_num()
}

/// A parallel cooperator with `budget` using at most `threads` threads.
fn parallel_coop(app: &mut App, budget: Budget, threads: usize) -> Entity {
    pool_threads();
    app.world_mut()
        .spawn(Cooperator::new(budget).with_threads(threads))
        .id()
}

/// A never-ending world-free task counting its steps.
fn counting(app: &mut App, coop: Entity) -> (Entity, Arc<AtomicU64>) {
    let count = Arc::new(AtomicU64::new(0));
    let c = count.clone();
    let task = app
        .world_mut()
        .cooperate_on(
            coop,
            parallel(std::iter::repeat_with(move || {
                c.fetch_add(1, Ordering::Relaxed);
            })),
        )
        .unwrap();
    (task, count)
}

fn counts(counters: &[(Entity, Arc<AtomicU64>)]) -> Vec<u64> {
    counters
        .iter()
        .map(|(_, c)| c.load(Ordering::Relaxed))
        .collect()
}

#[test]
fn every_task_gets_its_turn_across_threads() {
    let mut app = app();
    let coop = parallel_coop(&mut app, Budget::Steps(4), 2);
    let tasks: Vec<_> = (0..6).map(|_| counting(&mut app, coop)).collect();
    for frame in 1..=6 {
        app.update();
        let c = counts(&tasks);
        let (min, max) = (*c.iter().min().unwrap(), *c.iter().max().unwrap());
        assert!(max - min <= 1, "frame {frame}: {c:?}");
        assert_eq!(c.iter().sum::<u64>(), 4 * frame);
    }
    // 24 steps over 6 tasks: 4 each, on one thread or two.
    assert_eq!(counts(&tasks), [4; 6]);
    let stats = app.world().get::<Cooperator>(coop).unwrap().stats();
    assert_eq!((stats.last_tick_steps, stats.total_steps), (4, 24));
}

#[test]
fn a_step_budget_is_split_among_the_shares_and_zero_still_runs_one_step() {
    let mut app = app();
    let coop = parallel_coop(&mut app, Budget::Steps(5), 2);
    let tasks: Vec<_> = (0..4).map(|_| counting(&mut app, coop)).collect();
    app.update();
    assert_eq!(counts(&tasks).iter().sum::<u64>(), 5);
    app.world_mut().get_mut::<Cooperator>(coop).unwrap().budget = Budget::Steps(0);
    app.update();
    assert_eq!(counts(&tasks).iter().sum::<u64>(), 6);
}

#[test]
fn pause_resume_stop_and_despawn_between_ticks_take_effect_before_the_next_tick() {
    let mut app = app();
    let finished = record_finished(&mut app);
    let coop = parallel_coop(&mut app, Budget::Steps(8), 2);
    let tasks: Vec<_> = (0..4).map(|_| counting(&mut app, coop)).collect();
    let [a, b, c, d] = [0, 1, 2, 3].map(|i| tasks[i].0);
    app.update();
    assert_eq!(counts(&tasks), [2, 2, 2, 2]);
    app.world_mut().pause_task(a).unwrap();
    app.world_mut().stop_task(b).unwrap();
    app.world_mut().despawn(c);
    app.update();
    // Only d was runnable: it got the whole budget, whichever share it is in.
    let after = counts(&tasks);
    assert_eq!(after[..3], [2, 2, 2]);
    assert!(after[3] > 2);
    let mut ended: Vec<_> = finished.get().iter().map(|(e, o)| (*e, kind(o))).collect();
    ended.sort();
    let mut expected = vec![(b, "stopped"), (c, "stopped")];
    expected.sort();
    assert_eq!(ended, expected);
    app.world_mut().resume_task(a).unwrap();
    let before = counts(&tasks);
    app.update();
    let now = counts(&tasks);
    assert!(
        now[0] > before[0],
        "resumed task a runs again: {before:?} -> {now:?}"
    );
    assert!(now[3] > before[3]);
    assert_eq!(now[0] + now[3] - before[0] - before[3], 8);
    assert!(app.world().get::<CooperativeTask>(d).is_some());
}

/// Tasks of different lengths (`len` steps each), finishing at different frames.
fn finite_tasks(app: &mut App, coop: Entity, lens: &[u64]) -> Vec<Entity> {
    lens.iter()
        .map(|&len| {
            app.world_mut()
                .cooperate_on(coop, parallel((0..len).map(|_| ())))
                .unwrap()
        })
        .collect()
}

#[test]
fn every_task_finishes_exactly_once() {
    let mut app = app();
    let finished = record_finished(&mut app);
    let coop = parallel_coop(&mut app, Budget::Steps(3), 2);
    let lens = [1, 5, 2, 8, 3, 3, 7];
    let tasks = finite_tasks(&mut app, coop, &lens);
    frames(&mut app, 20);
    let log = finished.get();
    assert_eq!(log.len(), tasks.len());
    for task in &tasks {
        let mine: Vec<_> = log.iter().filter(|(e, _)| e == task).collect();
        assert_eq!(mine.len(), 1, "{task} finished {} times", mine.len());
        assert!(mine[0].1.is_done());
        assert!(app.world().get_entity(*task).is_err(), "cleaned up");
    }
    let stats = app.world().get::<Cooperator>(coop).unwrap().stats();
    assert_eq!(
        stats.total_steps,
        lens.iter().sum::<u64>() + lens.len() as u64
    );
    assert_eq!(stats.finished, lens.len() as u64);
}

#[test]
fn a_task_waits_and_resumes_at_the_back() {
    let mut app = app();
    let coop = parallel_coop(&mut app, Budget::Steps(4), 2);
    let signal = app.world_mut().spawn_signal();
    let steps = Arc::new(AtomicU64::new(0));
    let s = steps.clone();
    let waiter = app
        .world_mut()
        .cooperate_on(
            coop,
            parallel_fn(
                move |_: &mut ParallelContext| match s.fetch_add(1, Ordering::Relaxed) {
                    0 => Step::Wait(Wait::signal(signal)),
                    1 => Step::Wait(Wait::frames(1)),
                    2 => Step::Continue,
                    _ => Step::Done,
                },
            ),
        )
        .unwrap();
    app.world_mut().entity_mut(waiter).insert(RetainFinished);
    let others: Vec<_> = (0..3).map(|_| counting(&mut app, coop)).collect();
    app.update();
    assert_eq!(steps.load(Ordering::Relaxed), 1);
    assert!(app.world().get::<Paused>(waiter).is_some());
    assert!(
        app.world()
            .get::<CooperativeTask>(waiter)
            .unwrap()
            .is_waiting()
    );
    frames(&mut app, 2);
    assert_eq!(
        steps.load(Ordering::Relaxed),
        1,
        "still waiting for its signal"
    );
    app.world_mut().fire_signal(signal).unwrap();
    assert!(app.world().get::<Paused>(waiter).is_none());
    let run_order = app.world().get::<Cooperator>(coop).unwrap().run_order();
    assert_eq!(
        run_order.last(),
        Some(&waiter),
        "a resumed task joins the back"
    );
    app.update();
    assert_eq!(steps.load(Ordering::Relaxed), 2);
    frames(&mut app, 4);
    let outcome = app.world().task_outcome(waiter).unwrap();
    assert!(outcome.is_done());
    assert!(counts(&others).iter().all(|&c| c > 0));
}

#[test]
fn failures_and_panics_fail_only_their_own_task() {
    let mut app = app();
    let finished = record_finished(&mut app);
    let coop = parallel_coop(&mut app, Budget::Steps(8), 2);
    let others: Vec<_> = (0..2).map(|_| counting(&mut app, coop)).collect();
    let failing = app
        .world_mut()
        .cooperate_on(
            coop,
            parallel(std::iter::once(Err::<(), _>("no path to the goal"))),
        )
        .unwrap();
    let panicking = app
        .world_mut()
        .cooperate_on(
            coop,
            parallel_fn(|_: &mut ParallelContext| -> Step { panic!("search blew up") }),
        )
        .unwrap();
    let more: Vec<_> = (0..2).map(|_| counting(&mut app, coop)).collect();
    frames(&mut app, 3);
    let log = finished.get();
    assert_eq!(log.len(), 2);
    let failure = |task| {
        log.iter()
            .find(|(e, _)| *e == task)
            .and_then(|(_, o)| o.failure())
            .map(|f| f.to_string())
            .expect("failed")
    };
    assert_eq!(failure(failing), "no path to the goal");
    assert!(failure(panicking).contains("search blew up"));
    let c = counts(&others.into_iter().chain(more).collect::<Vec<_>>());
    assert!(c.iter().all(|&n| n >= 4), "the others go on: {c:?}");
}

#[test]
fn work_that_needs_the_world_fails_with_not_world_free() {
    let mut app = app();
    let finished = record_finished(&mut app);
    let coop = parallel_coop(&mut app, Budget::Steps(4), 2);
    let (_, count) = counting(&mut app, coop);
    let worldly = app
        .world_mut()
        .cooperate_on(
            coop,
            from_fn(|cx: &mut StepContext| {
                cx.world().spawn_empty();
                Step::Continue
            }),
        )
        .unwrap();
    app.update();
    let log = finished.get();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].0, worldly);
    let failure = log[0].1.failure().unwrap();
    assert!(failure.downcast_ref::<NotWorldFree>().is_some());
    assert!(count.load(Ordering::Relaxed) > 0);
}

#[test]
fn world_free_work_runs_on_an_ordinary_cooperator_too() {
    let mut app = app_with(Budget::Steps(3));
    let task = app.world_mut().cooperate(parallel((0..5).map(|_| ())));
    app.world_mut().entity_mut(task).insert(RetainFinished);
    app.update();
    assert_eq!(app.world().task_steps(task), Ok(3));
    app.update();
    assert!(app.world().task_outcome(task).unwrap().is_done());
}

#[test]
fn unlimited_runs_every_share_to_its_end_and_custom_polls_after_every_step() {
    let mut app = app();
    let coop = parallel_coop(&mut app, Budget::Unlimited, 2);
    let tasks = finite_tasks(&mut app, coop, &[10, 20, 30, 40]);
    app.update();
    for task in tasks {
        assert!(
            app.world().get_entity(task).is_err(),
            "all finished in one frame"
        );
    }
    let threads = pool_threads().min(2) as u32;
    let polls = Arc::new(AtomicU32::new(0));
    let p = polls.clone();
    app.world_mut().get_mut::<Cooperator>(coop).unwrap().budget = Budget::custom(move || {
        p.store(0, Ordering::Relaxed);
        let p = p.clone();
        move || p.fetch_add(1, Ordering::Relaxed) + 1 >= 5
    });
    let tasks: Vec<_> = (0..4).map(|_| counting(&mut app, coop)).collect();
    app.update();
    let steps = counts(&tasks).iter().sum::<u64>() as u32;
    // Each thread stops after the step it is in once the predicate said stop.
    assert!((5..5 + threads).contains(&steps), "{steps} steps");
}

#[test]
fn with_a_time_budget_no_thread_starts_more_than_one_step_after_the_deadline() {
    let mut app = app();
    let manual = manual_clock(&mut app);
    let coop = parallel_coop(&mut app, Budget::Time(Duration::from_micros(2_500)), 2);
    // Each step takes 1 ms of the manual clock; steps record their thread and start time.
    let starts: Arc<Mutex<Vec<(std::thread::ThreadId, Duration)>>> = Arc::default();
    for _ in 0..6 {
        let (m, s) = (manual.clone(), starts.clone());
        app.world_mut()
            .cooperate_on(
                coop,
                parallel(std::iter::repeat_with(move || {
                    s.lock()
                        .unwrap()
                        .push((std::thread::current().id(), m.now()));
                    m.advance(Duration::from_millis(1));
                })),
            )
            .unwrap();
    }
    for _ in 0..20 {
        let tick_start = manual.now();
        starts.lock().unwrap().clear();
        app.update();
        let deadline = tick_start + Duration::from_micros(2_500);
        let starts = starts.lock().unwrap().clone();
        assert!(!starts.is_empty());
        let mut late = std::collections::HashMap::new();
        for (thread, at) in starts {
            if at >= deadline {
                *late.entry(thread).or_insert(0) += 1;
            }
        }
        assert!(late.values().all(|&n| n <= 1), "{late:?}");
    }
}

/// Runs a mixed scenario (never-ending, finite and waiting tasks on a 2-thread step-budget
/// cooperator) and returns each task's steps frame by frame, and the finish order.
fn trace() -> (Vec<Vec<u32>>, Vec<(usize, &'static str)>) {
    let mut app = app();
    let finished = record_finished(&mut app);
    let coop = parallel_coop(&mut app, Budget::Steps(7), 2);
    let frame = Arc::new(AtomicU32::new(0));
    let logs: Vec<Arc<Mutex<Vec<u32>>>> = (0..9).map(|_| Arc::default()).collect();
    let mut tasks = Vec::new();
    for (i, log) in logs.iter().enumerate() {
        let (log, frame) = (log.clone(), frame.clone());
        let mut n = 0u32;
        tasks.push(
            app.world_mut()
                .cooperate_on(
                    coop,
                    parallel_fn(move |_: &mut ParallelContext| {
                        log.lock().unwrap().push(frame.load(Ordering::Relaxed));
                        n += 1;
                        match (i % 3, n) {
                            (0, _) => Step::Continue,
                            (1, n) if n as usize == 3 + i => Step::Done,
                            (2, 2) => Step::Wait(Wait::frames(2)),
                            (2, n) if n as usize == 4 + i => Step::Fail("gave up".into()),
                            _ => Step::Continue,
                        }
                    }),
                )
                .unwrap(),
        );
    }
    for f in 0..25 {
        frame.store(f, Ordering::Relaxed);
        app.update();
    }
    let order = finished
        .get()
        .iter()
        .map(|(e, o)| (tasks.iter().position(|t| t == e).unwrap(), kind(o)))
        .collect();
    (
        logs.iter().map(|l| l.lock().unwrap().clone()).collect(),
        order,
    )
}

#[test]
fn with_a_step_budget_and_fixed_threads_the_step_trace_is_the_same_in_every_run() {
    let first = trace();
    assert_eq!(first.1.len(), 6, "finite tasks all finished: {:?}", first.1);
    for _ in 0..5 {
        assert_eq!(trace(), first);
    }
}

#[test]
fn on_one_thread_it_steps_as_an_ordinary_cooperator_does() {
    // The same tasks, logging to one log, on an ordinary and on a one-thread parallel
    // cooperator: the same steps in the same order, and the same finish order.
    let run = |parallel_coop: bool| {
        let mut app = app();
        let finished = record_finished(&mut app);
        let coop = if parallel_coop {
            pool_threads();
            Cooperator::new(Budget::Steps(4)).with_threads(1)
        } else {
            Cooperator::new(Budget::Steps(4))
        };
        let coop = app.world_mut().spawn(coop).id();
        let log = Log::<String>::new();
        let mut tasks = Vec::new();
        for (i, len) in [3usize, 6, 1, 4].into_iter().enumerate() {
            let log = log.clone();
            let mut n = 0;
            tasks.push(
                app.world_mut()
                    .cooperate_on(
                        coop,
                        parallel_fn(move |_: &mut ParallelContext| {
                            log.push(format!("{i}.{n}"));
                            n += 1;
                            match n {
                                2 if i == 1 => Step::Wait(Wait::frames(1)),
                                n if n == len => Step::Done,
                                _ => Step::Continue,
                            }
                        }),
                    )
                    .unwrap(),
            );
        }
        frames(&mut app, 6);
        let order: Vec<usize> = finished
            .get()
            .iter()
            .map(|(e, _)| tasks.iter().position(|t| t == e).unwrap())
            .collect();
        (log.get(), order)
    };
    let ordinary = run(false);
    assert_eq!(ordinary.1.len(), 4);
    assert_eq!(run(true), ordinary);
}

#[test]
fn despawning_a_parallel_cooperator_stops_every_task() {
    let mut app = app();
    let finished = record_finished(&mut app);
    let coop = parallel_coop(&mut app, Budget::Steps(4), 2);
    let tasks: Vec<_> = (0..5).map(|_| counting(&mut app, coop)).collect();
    app.update();
    app.world_mut().pause_task(tasks[4].0).unwrap();
    app.world_mut().despawn(coop);
    app.update();
    assert_eq!(kinds(&finished), ["scheduler-stopped"; 5]);
}

/// The most frames in a row any of ten long tasks went without a step, on a cooperator of 4 steps
/// a frame that one short task (one or two steps) joins every frame: about 16 runnable tasks, so
/// a pass takes about 4 frames.
fn longest_wait_of_long_tasks(coop: Cooperator) -> u32 {
    let mut app = app();
    pool_threads();
    let coop = app.world_mut().spawn(coop).id();
    let long: Vec<_> = (0..10).map(|_| counting(&mut app, coop)).collect();
    let mut last = counts(&long);
    let (mut idle, mut worst) = ([0u32; 10], 0);
    for frame in 0..400u64 {
        app.world_mut()
            .cooperate_on(coop, parallel((0..frame % 2).map(|_| ())))
            .unwrap();
        app.update();
        let now = counts(&long);
        for k in 0..10 {
            idle[k] = if now[k] == last[k] { idle[k] + 1 } else { 0 };
            worst = worst.max(idle[k]);
        }
        last = now;
    }
    assert!(
        counts(&long).iter().all(|&c| c >= 40),
        "{:?}",
        counts(&long)
    );
    worst
}

#[test]
fn long_tasks_keep_their_turns_while_short_ones_come_and_go() {
    // The holes, compactions and joins at the back must not starve anybody. A task can move to
    // the neighbouring share when the shares are rebalanced, and then wait up to a pass of it
    // longer: the long tasks wait at most about twice as long between turns as on an ordinary
    // cooperator (measured: 6 frames against 3).
    let ordinary = longest_wait_of_long_tasks(Cooperator::new(Budget::Steps(4)));
    let parallel = longest_wait_of_long_tasks(Cooperator::new(Budget::Steps(4)).with_threads(2));
    assert!(ordinary <= 8, "ordinary: {ordinary}");
    assert!(
        parallel <= 2 * ordinary + 2,
        "parallel {parallel}, ordinary {ordinary}"
    );
}

#[test]
fn task_stats_time_the_steps_of_every_share() {
    alone("held_task_stats_time_the_steps_of_every_share");
}

#[test]
#[ignore = "holds the compute pool: run alone, by the test of the same name"]
fn held_task_stats_time_the_steps_of_every_share() {
    let mut app = app();
    let manual = manual_clock(&mut app);
    let coop = parallel_coop(&mut app, Budget::Steps(8), 2);
    // Two timed tasks (one in each share when the pool has two threads) whose steps take 1 ms
    // and 3 ms of the manual clock; the untimed ones between them leave the clock alone. The
    // pool's threads are held, so that the calling thread runs both shares one after the other
    // (on two threads at once, each step would also time the other's).
    let timed = |app: &mut App, millis: u64, steps: usize| {
        let m = manual.clone();
        let task = app
            .world_mut()
            .cooperate_on(
                coop,
                parallel((0..steps).map(move |_| m.advance(Duration::from_millis(millis)))),
            )
            .unwrap();
        app.world_mut()
            .entity_mut(task)
            .insert((TaskStats::default(), RetainFinished));
        task
    };
    let fast = timed(&mut app, 1, 100);
    let plain = counting(&mut app, coop);
    // Its fourth step is its last: the figures of a finishing step are kept too.
    let slow = timed(&mut app, 3, 3);
    let other = counting(&mut app, coop);
    with_every_pool_thread_held(|| app.update());
    assert_eq!(counts(&[plain, other]), [2, 2]);
    let stats = |app: &App, task| *app.world().get::<TaskStats>(task).unwrap();
    assert_eq!(
        stats(&app, fast),
        TaskStats {
            steps: 2,
            time: Duration::from_millis(2),
            longest: Duration::from_millis(1),
        }
    );
    assert_eq!(
        stats(&app, slow),
        TaskStats {
            steps: 2,
            time: Duration::from_millis(6),
            longest: Duration::from_millis(3),
        }
    );
    with_every_pool_thread_held(|| app.update());
    assert_eq!(
        stats(&app, slow).steps,
        4,
        "the step that found it exhausted"
    );
    assert!(
        app.world()
            .get::<CooperativeTask>(slow)
            .unwrap()
            .outcome()
            .is_some()
    );
    // The longest timed step of the tick is the cooperator's too.
    let longest = app
        .world()
        .get::<Cooperator>(coop)
        .unwrap()
        .stats()
        .longest_step;
    assert_eq!(longest, Some((slow, Duration::from_millis(3))));
}

#[test]
fn a_parallel_cooperator_as_a_lane_steps_its_share_of_the_frame_budget_on_its_threads() {
    let mut app = app();
    let threads = pool_threads();
    let cutscene = app.world_mut().spawn(Cooperator::default()).id();
    let crunch = parallel_coop(&mut app, Budget::Unlimited, 2);
    app.world_mut().spawn(
        FrameBudget::new(Budget::Steps(10))
            .with_lane(cutscene, 1, 1)
            .with_lane(crunch, 0, 1),
    );
    let camera = app
        .world_mut()
        .cooperate_on(cutscene, (0..3).map(|_| ()))
        .unwrap(); // 4 steps
    let tasks: Vec<_> = (0..4).map(|_| counting(&mut app, crunch)).collect();
    app.update();
    // The cutscene first; the parallel lane gets the 6 steps left, split between its shares.
    assert!(app.world().get_entity(camera).is_err());
    let c = counts(&tasks);
    assert_eq!(c.iter().sum::<u64>(), 6);
    assert!(
        c.iter().max().unwrap() - c.iter().min().unwrap() <= 1,
        "{c:?}"
    );
    app.update();
    // All 10 once the cutscene is over, on one thread or two.
    assert_eq!(counts(&tasks), [4, 4, 4, 4]);
    let stats = app.world().get::<Cooperator>(crunch).unwrap().stats();
    assert_eq!(stats.last_tick_steps, 10);
    // Two shares (which threads ran them is not fixed: the calling thread steps a share no
    // pool thread has taken by then).
    assert_eq!(stats.last_tick_threads, 2.min(threads) as u32);
}

/// Runs the ignored test `name` of this file in a process of its own, where nothing else uses
/// the compute pool: it holds every thread of the pool, which the other tests share.
fn alone(name: &str) {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &format!("parallel_cooperator::{name}")])
        .args(["--ignored", "--test-threads=1"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{name}, run alone, failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs `f` while every thread of the compute pool is held by a task that waits to be let go
/// (at most 10 s): as when the operating system starts or resumes the pool's threads late.
/// Returns what `f` returned, and whether a holder gave up waiting before `f` was done (the
/// tick waited for a pool thread). Only in a test run [`alone`].
fn with_every_pool_thread_held<T>(f: impl FnOnce() -> T) -> (T, bool) {
    let threads = pool_threads();
    let gate = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
    let gave_up = Arc::new(AtomicBool::new(false));
    let (started, holders) = mpsc::channel();
    for _ in 0..threads {
        let (gate, gave_up, started) = (gate.clone(), gave_up.clone(), started.clone());
        ComputeTaskPool::get()
            .spawn(async move {
                started.send(()).unwrap();
                let (open, opened) = &*gate;
                let (open, timeout) = opened
                    .wait_timeout_while(open.lock().unwrap(), Duration::from_secs(10), |o| !*o)
                    .unwrap();
                if timeout.timed_out() && !*open {
                    gave_up.store(true, Ordering::SeqCst);
                }
            })
            .detach();
    }
    for _ in 0..threads {
        holders
            .recv_timeout(Duration::from_secs(10))
            .expect("every pool thread holds a task");
    }
    let result = f();
    let waited = gave_up.load(Ordering::SeqCst);
    *gate.0.lock().unwrap() = true;
    gate.1.notify_all();
    (result, waited)
}

#[test]
fn a_tick_does_not_wait_for_a_pool_thread_that_starts_late() {
    alone("held_a_tick_does_not_wait_for_a_pool_thread_that_starts_late");
}

#[test]
#[ignore = "holds the compute pool: run alone, by the test of the same name"]
fn held_a_tick_does_not_wait_for_a_pool_thread_that_starts_late() {
    // Regression: the calling thread waited for the pool's threads to take their shares.
    let mut app = app();
    let coop = parallel_coop(&mut app, Budget::Steps(8), 2);
    let tasks: Vec<_> = (0..4).map(|_| counting(&mut app, coop)).collect();
    let (_, waited) = with_every_pool_thread_held(|| app.update());
    assert!(!waited, "the tick waited for a pool thread");
    // The share no pool thread took was stepped by the calling thread.
    assert_eq!(counts(&tasks), [2, 2, 2, 2]);
}

#[test]
fn past_the_deadline_a_share_no_thread_started_is_left_for_the_next_tick() {
    alone("held_past_the_deadline_a_share_no_thread_started_is_left_for_the_next_tick");
}

#[test]
#[ignore = "holds the compute pool: run alone, by the test of the same name"]
fn held_past_the_deadline_a_share_no_thread_started_is_left_for_the_next_tick() {
    let mut app = app();
    let manual = manual_clock(&mut app);
    let coop = parallel_coop(&mut app, Budget::Time(Duration::from_micros(2_500)), 2);
    // Each step takes 1 ms of the manual clock: the calling thread's share spends the budget.
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let count = Arc::new(AtomicU64::new(0));
            let (m, c) = (manual.clone(), count.clone());
            let task = app
                .world_mut()
                .cooperate_on(
                    coop,
                    parallel(std::iter::repeat_with(move || {
                        c.fetch_add(1, Ordering::Relaxed);
                        m.advance(Duration::from_millis(1));
                    })),
                )
                .unwrap();
            (task, count)
        })
        .collect();
    let (steps, waited) = with_every_pool_thread_held(|| {
        app.update();
        let first = counts(&tasks);
        app.update();
        (first, counts(&tasks))
    });
    assert!(!waited, "the tick waited for a pool thread");
    // The share run by the calling thread (tasks 0 and 1) ran to the deadline, the other not
    // at all: left for the next tick, where the calling thread runs it.
    let (first, second) = steps;
    assert_eq!(first, [2, 1, 0, 0]);
    assert_eq!(second, [2, 1, 2, 1]);
}
