//! Any task waits on a `Send` future with `Wait::future`: paused until the future completes,
//! polled only when its waker fires, its output handed over; stopping the task drops the future.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::common::*;
use bevy_cooperator::*;

/// A future that completes with `value` once the test opens it; counts its polls and drops.
#[derive(Clone, Default)]
struct Gate {
    state: Arc<Mutex<(bool, Option<Waker>)>>,
    polls: Arc<AtomicUsize>,
    dropped: Arc<AtomicBool>,
}

struct GateFuture(Gate, u32);

impl Future for GateFuture {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        self.0.polls.fetch_add(1, Ordering::Relaxed);
        let mut state = self.0.state.lock().unwrap();
        if state.0 {
            Poll::Ready(self.1)
        } else {
            state.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

impl Drop for GateFuture {
    fn drop(&mut self) {
        self.0.dropped.store(true, Ordering::Relaxed);
    }
}

impl Gate {
    fn open(&self) {
        let mut state = self.state.lock().unwrap();
        state.0 = true;
        if let Some(waker) = state.1.take() {
            waker.wake();
        }
    }
}

#[test]
fn an_iterator_task_waits_on_a_future_paused_and_gets_its_output() {
    let mut app = app();
    let gate = Gate::default();
    let (wait, output) = Wait::future(GateFuture(gate.clone(), 7));
    let log = Log::new();
    let l = log.clone();
    let task = app
        .world_mut()
        .cooperate(
            [Step::Wait(wait), Step::Continue]
                .into_iter()
                .chain(std::iter::once_with(move || {
                    l.push(output.take());
                    Step::Done
                })),
        );
    frames(&mut app, 3);
    assert!(app.world().get::<Paused>(task).is_some());
    assert_eq!(
        gate.polls.load(Ordering::Relaxed),
        1,
        "polled once, then only on its waker"
    );
    assert_eq!(PendingWaits::of(app.world()).futures, 1);
    gate.open();
    frames(&mut app, 3);
    assert_eq!(log.get(), [Some(7)]);
    assert_eq!(gate.polls.load(Ordering::Relaxed), 2);
    assert_eq!(PendingWaits::of(app.world()).futures, 0);
    assert!(
        app.world().get_entity(task).is_err(),
        "finished and cleaned up"
    );
}

#[test]
fn stopping_a_task_drops_the_future_it_waits_on() {
    let mut app = app();
    let gate = Gate::default();
    let (wait, output) = Wait::future(GateFuture(gate.clone(), 1));
    let task = app.world_mut().cooperate(std::iter::once(wait));
    app.update();
    assert!(!gate.dropped.load(Ordering::Relaxed));
    app.world_mut().stop_task(task).unwrap();
    assert!(
        gate.dropped.load(Ordering::Relaxed),
        "the future went with the wait"
    );
    assert_eq!(PendingWaits::of(app.world()).futures, 0);
    // A waker firing after the wait is gone changes nothing.
    gate.open();
    app.update();
    assert_eq!(output.take(), None);
}

#[test]
fn a_future_in_a_race_loses_to_a_signal_and_is_dropped() {
    let mut app = app();
    let gate = Gate::default();
    let (wait, _output) = Wait::future(GateFuture(gate.clone(), 1));
    let signal = app.world_mut().spawn_signal();
    let log = Log::new();
    let l = log.clone();
    app.world_mut().cooperate(
        std::iter::once(Step::Wait(Wait::race([wait, Wait::signal(signal)]))).chain(
            std::iter::once_with(move || {
                l.push("resumed");
                Step::Done
            }),
        ),
    );
    app.update();
    app.world_mut().fire_signal(signal).unwrap();
    frames(&mut app, 2);
    assert_eq!(log.get(), ["resumed"]);
    assert!(gate.dropped.load(Ordering::Relaxed));
    assert_eq!(PendingWaits::of(app.world()).futures, 0);
}

#[test]
fn a_task_waits_on_work_spawned_on_a_bevy_task_pool() {
    use bevy_tasks::{AsyncComputeTaskPool, ComputeTaskPool, IoTaskPool, TaskPool};
    let mut app = app();
    ComputeTaskPool::get_or_init(TaskPool::new);
    IoTaskPool::get_or_init(TaskPool::new);
    // Without `multi_threaded` the pool runs its tasks when the main thread ticks it; with it,
    // on the pool's own threads, so the task may need a few more frames.
    app.add_systems(bevy_app::Update, || {
        bevy_tasks::tick_global_task_pools_on_main_thread();
    });
    let pool = AsyncComputeTaskPool::get_or_init(TaskPool::new);
    let (wait, output) = Wait::future(pool.spawn(async { (1..=10).sum::<u32>() }));
    let task = app.world_mut().cooperate(std::iter::once(wait));
    app.world_mut().entity_mut(task).insert(RetainFinished);
    frames(&mut app, 4);
    for _ in 0..10_000 {
        if app.world().task_outcome(task).is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
        app.update();
    }
    assert!(app.world().task_outcome(task).unwrap().is_done());
    assert_eq!(output.take(), Some(55));
}
