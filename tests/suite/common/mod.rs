//! Shared test support: a headless app with manual time and a step-count budget.
#![allow(
    dead_code,
    reason = "each test file uses a different part of the support code"
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bevy_app::App;
use bevy_cooperator::*;
use bevy_ecs::prelude::*;
use bevy_time::{TimePlugin, TimeUpdateStrategy};

/// One frame of virtual time in these tests.
pub const FRAME: Duration = Duration::from_millis(10);

/// A headless app whose global cooperator runs one step per frame (Twisted's one-step-per-tick
/// predicate), with 10 ms manual frames.
pub fn app() -> App {
    app_with(Budget::Steps(1))
}

/// A headless app with the given budget for the global cooperator.
pub fn app_with(budget: Budget) -> App {
    let mut app = unfinished_app(budget);
    app.finish();
    app.cleanup();
    app
}

/// [`app_with`] before `finish` and `cleanup`: add more plugins, then call them.
pub fn unfinished_app(budget: Budget) -> App {
    let mut app = App::new();
    app.add_plugins((TimePlugin, CooperatorPlugin::default().with_budget(budget)))
        .insert_resource(TimeUpdateStrategy::ManualDuration(FRAME));
    app
}

/// Drives the app's time budgets by hand: installs a manual `CooperatorClock` and returns its
/// handle (advance it from inside steps to make steps take time).
pub fn manual_clock(app: &mut App) -> bevy_cooperator::ManualClock {
    let (clock, manual) = CooperatorClock::manual();
    app.insert_resource(clock);
    manual
}

/// The global cooperator's entity.
pub fn global(app: &App) -> Entity {
    app.world().resource::<GlobalCooperator>().0
}

/// A shared, clonable log that iterator task bodies (which have no world access) can write to.
#[derive(Clone, Default)]
pub struct Log<T>(Arc<Mutex<Vec<T>>>);

impl<T: Clone> Log<T> {
    pub fn new() -> Self {
        Log(Arc::new(Mutex::new(Vec::new())))
    }
    pub fn push(&self, item: T) {
        self.0.lock().unwrap().push(item);
    }
    pub fn get(&self) -> Vec<T> {
        self.0.lock().unwrap().clone()
    }
    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// Records every `TaskFinished` seen by a global observer, as (task, outcome).
pub fn record_finished(app: &mut App) -> Log<(Entity, Outcome)> {
    let log = Log::new();
    let l = log.clone();
    app.add_observer(move |ev: On<TaskFinished>| l.push((ev.entity, ev.outcome.clone())));
    log
}

/// Outcome kinds, for easy comparison.
pub fn kinds(log: &Log<(Entity, Outcome)>) -> Vec<&'static str> {
    log.get().iter().map(|(_, o)| kind(o)).collect()
}

pub fn kind(o: &Outcome) -> &'static str {
    match o {
        Outcome::Done => "done",
        Outcome::Failed(_) => "failed",
        Outcome::Stopped => "stopped",
        Outcome::SchedulerStopped => "scheduler-stopped",
    }
}

/// Runs `n` frames.
pub fn frames(app: &mut App, n: usize) {
    for _ in 0..n {
        app.update();
    }
}

/// An iterator that logs `tag{i}` for each i in 0..n, one per step.
pub fn logging(
    log: &Log<String>,
    tag: &'static str,
    n: usize,
) -> impl Iterator<Item = ()> + Send + 'static {
    let log = log.clone();
    (0..n).map(move |i| log.push(format!("{tag}{i}")))
}

/// Entities that are neither resources nor observers, for leak checks.
pub fn plain_entity_count(world: &mut World) -> usize {
    world
        .query_filtered::<Entity, (
            Without<bevy_ecs::resource::IsResource>,
            Without<bevy_ecs::observer::Observer>,
        )>()
        .iter(world)
        .count()
}

/// Virtual elapsed time in whole milliseconds.
pub fn elapsed_ms(world: &World) -> u128 {
    world.resource::<bevy_time::Time>().elapsed().as_millis()
}

/// A task body that first yields `wait`, then logs the virtual elapsed milliseconds at which it
/// resumed and finishes.
pub fn wait_then_log(wait: Wait, log: &Log<u128>) -> impl Work {
    let log = log.clone();
    let mut wait = Some(wait);
    from_fn(move |cx: &mut StepContext| match wait.take() {
        Some(w) => Step::Wait(w),
        None => {
            log.push(elapsed_ms(cx.world()));
            Step::Done
        }
    })
}

/// Observer entities, for leak checks.
pub fn observer_count(world: &mut World) -> usize {
    world
        .query_filtered::<Entity, With<bevy_ecs::observer::Observer>>()
        .iter(world)
        .count()
}

/// What Twisted's `RunStateTests` worker recorded: a number, or a signal it waited on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    N(u32),
    D(Signal),
}

/// The controls and record of the Twisted `RunStateTests` worker.
#[derive(Default)]
pub struct WorkerState {
    pub defer_next: bool,
    pub stop_next: bool,
    pub die_next: bool,
    pub i: u32,
    pub work: Vec<Item>,
}

#[derive(Clone, Default)]
pub struct Worker(pub Arc<Mutex<WorkerState>>);

impl Worker {
    pub fn set(&self, f: impl FnOnce(&mut WorkerState)) {
        f(&mut self.0.lock().unwrap());
    }
    pub fn work(&self) -> Vec<Item> {
        self.0.lock().unwrap().work.clone()
    }
    pub fn numbers(&self) -> Vec<u32> {
        self.work()
            .into_iter()
            .filter_map(|i| match i {
                Item::N(n) => Some(n),
                Item::D(_) => None,
            })
            .collect()
    }
    pub fn last_signal(&self) -> Signal {
        self.work()
            .into_iter()
            .rev()
            .find_map(|i| match i {
                Item::D(s) => Some(s),
                Item::N(_) => None,
            })
            .expect("the worker waited on no signal")
    }

    /// The task body: each step counts, then waits on a fresh signal ("defer next"), ends
    /// ("stop next"), fails ("die next"), or records the count.
    pub fn body(&self) -> impl Work {
        let state = self.0.clone();
        from_fn(move |cx: &mut StepContext| {
            let mut s = state.lock().unwrap();
            s.i += 1;
            if std::mem::take(&mut s.defer_next) {
                let signal = cx.world().spawn_signal();
                s.work.push(Item::D(signal));
                return Step::Wait(Wait::signal(signal));
            }
            if s.stop_next {
                return Step::Done;
            }
            if s.die_next {
                return Step::Fail("UnhandledException".into());
            }
            let i = s.i;
            s.work.push(Item::N(i));
            Step::Continue
        })
    }
}

/// The Twisted `RunStateTests` fixture: one worker task on a one-step-per-frame global cooperator,
/// retained after it finishes so its outcome can still be asked for.
pub fn run_state() -> (App, Worker, Entity) {
    let mut app = app();
    let worker = Worker::default();
    let task = app.world_mut().cooperate(worker.body());
    app.world_mut().entity_mut(task).insert(RetainFinished);
    (app, worker, task)
}

/// A gate a condition wait can poll: `gate_open` counts its polls and says whether it is open.
#[derive(Resource, Default)]
pub struct Gate {
    pub open: bool,
    pub polls: u32,
}

/// The condition system for [`Gate`].
pub fn gate_open(mut gate: ResMut<Gate>) -> bool {
    gate.polls += 1;
    gate.open
}
