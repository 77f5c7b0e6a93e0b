//! Shared test support: a headless app with manual time and a step-count budget.
#![allow(
    dead_code,
    reason = "each test file uses a different part of the support code"
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bevy_app::App;
use bevy_cooperator::prelude::*;
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
    let mut app = App::new();
    app.add_plugins((TimePlugin, CooperatorPlugin::default().with_budget(budget)))
        .insert_resource(TimeUpdateStrategy::ManualDuration(FRAME));
    app.finish();
    app.cleanup();
    app
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
