//! The systems: wake (the wait sources report, the lifecycle applies), step (each cooperator's
//! budgeted round-robin loop, in `step.rs`; shared frame budgets in `lanes.rs`) and cleanup.

mod lanes;
#[cfg(feature = "parallel")]
mod parallel;
mod step;

use alloc::vec::Vec;
use bevy_app::App;
use bevy_ecs::{
    entity::Entity,
    intern::Interned,
    query::QueryState,
    schedule::{IntoScheduleConfigs, ScheduleLabel, SystemSet},
    system::Local,
    world::World,
};
use bevy_time::{Real, Time};
use core::time::Duration;

use self::step::Ticker;
use crate::{
    budget::fill,
    clock::CooperatorClock,
    cooperator::{Cooperator, GlobalCooperator},
    frame_budget::FrameBudget,
    task::{CooperativeTask, Paused, RetainFinished, lifecycle::FinishedTasks, progress, resolve},
    wait::{condition, future, message, timers},
};

/// The public ordering API, in run order (chained), all in the [`CooperatorPlugin`](crate::CooperatorPlugin)'s schedule
/// (`Update` by default).
///
/// A system that fires signals, pauses tasks or starts work **before [`Wake`](Self::Wake)** takes
/// effect the same frame; one that reads results **after [`Step`](Self::Step)** sees this
/// frame's work.
///
/// ```
/// # use bevy_app::{App, Update};
/// # use bevy_cooperator::prelude::*;
/// # use bevy_ecs::prelude::*;
/// #[derive(Resource)]
/// struct Door(Signal);
/// #[derive(Resource, Default)]
/// struct Input {
///     open_pressed: bool,
/// }
///
/// fn open_door(input: Res<Input>, door: Res<Door>, mut commands: Commands) {
///     if input.open_pressed && input.is_changed() {
///         commands.fire_signal(door.0);
///     }
/// }
///
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
/// let door = app.world_mut().spawn_signal();
/// let walk_through = app
///     .world_mut()
///     .cooperate([Step::Wait(Wait::signal(door)), Step::Continue].into_iter());
/// app.insert_resource(Door(door))
///     .init_resource::<Input>()
///     .add_systems(Update, open_door.before(CooperatorSystems::Wake));
/// app.update();
/// assert_eq!(app.world().task_steps(walk_through), Ok(1)); // waiting at the door
/// app.world_mut().resource_mut::<Input>().open_pressed = true;
/// app.update(); // fired before `Wake`: the task walks through in this very frame
/// assert!(app.world().get_entity(walk_through).is_err());
/// ```
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CooperatorSystems {
    /// Resolves waits whose event happened — fired script wakers, frame counts, `Time` and
    /// `Time<Real>` deadlines, messages written since the wait began, conditions now true (polled
    /// here once per frame) — and counts the frame. Resolved tasks rejoin the back of their run
    /// queue. Signals, task completions and control calls take effect at once, wherever they
    /// happen; observer events at the next command flush after the trigger.
    Wake,
    /// Every running cooperator steps its runnable tasks round-robin within its budget
    /// (one exclusive system), then every [`FrameBudget`] shares its budget among its lanes.
    /// Commands queued by a step are applied right after it. [`CooperatorStats`](crate::CooperatorStats) describe the
    /// frame once this set has run.
    Step,
    /// Finished standalone task entities are despawned and finished attached tasks lose their
    /// [`CooperativeTask`], unless they hold [`RetainFinished`].
    Cleanup,
}

/// Adds the three systems to `schedule`, each in its set.
pub(crate) fn build(app: &mut App, schedule: Interned<dyn ScheduleLabel>) {
    fill::build(app);
    app.add_systems(
        schedule,
        (
            wake_system.in_set(CooperatorSystems::Wake),
            (step_system, progress::refresh_tracked)
                .chain()
                .in_set(CooperatorSystems::Step),
            cleanup_system.in_set(CooperatorSystems::Cleanup),
        ),
    );
}

/// [`CooperatorSystems::Wake`]: every source whose event happened reports what resolved — fired
/// script wakers, timers, messages, conditions — and the lifecycle applies it, one source after
/// the other (a source's resolutions are applied before the next source is polled). Each source
/// costs nothing when no task waits on it.
fn wake_system(world: &mut World) {
    let completed = future::wake_futures(world);
    resolve::resolve_all(world, completed);
    let due = timers::wake_timers(world);
    resolve::resolve_all(world, due);
    message::wake_messages(world, &mut resolve::resolve_all);
    let met = condition::wake_conditions(world);
    resolve::resolve_all(world, met);
}

/// Buffers the step system keeps between frames, so that a frame allocates nothing.
#[derive(Default)]
struct StepScratch {
    /// Cooperators that run on their own budget this frame, in tick order: `(order key, entity)`.
    order: Vec<((bool, u64), Entity)>,
    /// The frame budgets' lanes.
    lanes: lanes::Lanes,
}

/// [`CooperatorSystems::Step`]: each running cooperator steps its
/// runnable tasks round-robin until its budget for this frame is spent; then each
/// [`FrameBudget`] shares its budget among its lanes.
///
/// Cooperators take their turns in the order they were created, the [`GlobalCooperator`] first.
/// A cooperator ticks if it has runnable tasks when its turn comes, so work given to it by an
/// earlier cooperator's tick runs in the same frame.
fn step_system(
    world: &mut World,
    cooperators: &mut QueryState<(Entity, &mut Cooperator)>,
    frame_budgets: &mut QueryState<(Entity, &FrameBudget)>,
    coop_query: &mut QueryState<&'static mut Cooperator>,
    mut scratch: Local<StepScratch>,
) {
    let scratch = &mut *scratch;
    lanes::collect_lanes(world, frame_budgets, &mut scratch.lanes);
    scratch.order.clear();
    let global = world.get_resource::<GlobalCooperator>().map(|g| g.0);
    let mut any_runnable = false;
    for (entity, mut coop) in cooperators.iter_mut(world) {
        let (runnable, members) = (coop.queue.runnable(), coop.queue.members());
        let lane = scratch.lanes.members.binary_search(&entity).is_ok();
        // Stopped ones too: an earlier cooperator's step may start one, which then ticks in
        // this frame.
        if !lane {
            scratch
                .order
                .push(((Some(entity) != global, coop.created), entity));
        }
        if runnable > 0 && coop.running() {
            any_runnable = true;
        } else if !coop.stats.is_idle_frame(runnable, members - runnable) {
            coop.stats.set_idle_frame(runnable, members - runnable);
        }
    }
    if !any_runnable {
        return;
    }
    scratch.order.sort_unstable();
    let clock = world
        .get_resource::<CooperatorClock>()
        .cloned()
        .unwrap_or_default();
    let real_delta = world
        .get_resource::<Time<Real>>()
        .map_or(Duration::ZERO, Time::delta);
    let mut ticker = Ticker {
        coop_query,
        clock: &clock,
    };
    for &(_, coop_entity) in &scratch.order {
        if !ticker.has_work(world, coop_entity) {
            continue;
        }
        let Ok(coop) = ticker.coop_query.get(world, coop_entity) else {
            continue;
        };
        let budget = coop.budget.clone();
        let mut tick = budget.begin(coop_entity, &clock, real_delta, world);
        ticker.tick(world, coop_entity, &mut tick);
        if budget.fills_frame() {
            fill::tick_ended(world, coop_entity, &clock);
            let last_frame = fill::last_frame(world);
            if let Ok(mut coop) = ticker.coop_query.get_mut(world, coop_entity) {
                coop.stats.last_frame_time = last_frame;
            }
        }
    }
    lanes::run_lanes(world, &mut ticker, &mut scratch.lanes, real_delta);
}

/// [`CooperatorSystems::Cleanup`]: despawns finished standalone
/// tasks and removes finished attached ones, unless retained.
fn cleanup_system(world: &mut World) {
    let finished = core::mem::take(&mut world.resource_mut::<FinishedTasks>().0);
    if finished.is_empty() {
        return;
    }
    for &entity in &finished {
        let Ok(mut e) = world.get_entity_mut(entity) else {
            continue;
        };
        if e.contains::<RetainFinished>() {
            continue;
        }
        let Some(task) = e.get::<CooperativeTask>() else {
            continue;
        };
        if task.is_alive() {
            continue;
        }
        if task.is_standalone() {
            e.despawn();
        } else {
            e.remove::<(CooperativeTask, Paused)>();
        }
    }
    // Keep the allocation for the next frame.
    let mut finished = finished;
    finished.clear();
    let mut slot = world.resource_mut::<FinishedTasks>();
    if slot.0.is_empty() {
        slot.0 = finished;
    }
}
