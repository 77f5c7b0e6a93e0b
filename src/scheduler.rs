//! The systems: wake, step (the budgeted round-robin loop) and cleanup.

use alloc::{boxed::Box, string::String, vec::Vec};
use bevy_ecs::{entity::Entity, query::QueryState, system::Local, world::World};
use bevy_time::{Real, Time};
use core::time::Duration;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::{
    CooperativeTask, Cooperator, CooperatorClock, Failure, Outcome, RetainFinished, Step,
    StepContext, lifecycle, lifecycle::FinishedTasks, wait,
};

/// [`CooperatorSystems::Wake`](crate::CooperatorSystems::Wake): resolves the waits that came due.
pub(crate) fn wake_system(world: &mut World) {
    wait::wake(world);
}

/// [`CooperatorSystems::Step`](crate::CooperatorSystems::Step): each running cooperator steps its
/// runnable tasks round-robin until its budget for this frame is spent.
pub(crate) fn step_system(
    world: &mut World,
    cooperators: &mut QueryState<(Entity, &Cooperator)>,
    coop_query: &mut QueryState<&mut Cooperator>,
    task_query: &mut QueryState<&mut CooperativeTask>,
    mut order: Local<Vec<Entity>>,
) {
    order.clear();
    order.extend(
        cooperators
            .iter(world)
            .filter(|(_, c)| c.running() && c.runnable_count() > 0)
            .map(|(e, _)| e),
    );
    if order.is_empty() {
        return;
    }
    order.sort_unstable();
    let clock = world
        .get_resource::<CooperatorClock>()
        .cloned()
        .unwrap_or_default();
    let real_delta = world
        .get_resource::<Time<Real>>()
        .map_or(Duration::ZERO, Time::delta);
    for &coop_entity in order.iter() {
        let Ok(coop) = coop_query.get(world, coop_entity) else {
            continue;
        };
        let mut budget = coop.budget.begin(&clock, real_delta);
        let mut steps: u32 = 0;
        while let Ok(mut coop) = coop_query.get_mut(world, coop_entity) {
            if !coop.running() {
                break;
            }
            let Some((slot, task)) = coop.queue.advance() else {
                break;
            };
            if !step_task(world, coop_query, task_query, coop_entity, slot, task) {
                continue;
            }
            steps += 1;
            if budget.exhausted(steps) {
                break;
            }
        }
        let elapsed = budget.elapsed();
        if let Ok(mut coop) = coop_query.get_mut(world, coop_entity) {
            let stats = &mut coop.stats;
            stats.ticks += 1;
            stats.last_tick_steps = steps;
            stats.last_tick_time = elapsed;
            stats.total_steps += u64::from(steps);
        }
    }
}

/// Runs one work unit of `task` and applies what it returned. `false` if nothing ran.
#[inline]
fn step_task(
    world: &mut World,
    coop_query: &mut QueryState<&mut Cooperator>,
    task_query: &mut QueryState<&mut CooperativeTask>,
    coop_entity: Entity,
    slot: u32,
    task: Entity,
) -> bool {
    let work = match task_query.get_mut(world, task) {
        Ok(mut t) if t.slot == slot && t.is_alive() => {
            t.steps += 1;
            t.work.take()
        }
        _ => None,
    };
    let Some(mut work) = work else {
        // A stale queue entry (cannot normally happen): forget it.
        if let Ok(mut coop) = coop_query.get_mut(world, coop_entity)
            && coop.queue.holds(slot, task)
        {
            coop.queue.remove(slot);
        }
        return false;
    };
    let mut cx = StepContext::new(world, task, coop_entity);
    let result = catch_unwind(AssertUnwindSafe(|| work.get().step(&mut cx)));
    if cx.touched() {
        world.flush();
    }
    let step = result.unwrap_or_else(|payload| Step::Fail(panic_error(payload).into()));
    match task_query.get_mut(world, task) {
        Ok(mut t) if t.is_alive() => match step {
            Step::Continue => t.work = Some(work),
            Step::Wait(wait) => {
                t.work = Some(work);
                lifecycle::begin_wait(world, task, wait);
                world.flush();
            }
            Step::Done => {
                drop(work);
                lifecycle::finish(world, task, Outcome::Done);
                world.flush();
            }
            Step::Fail(error) => {
                drop(work);
                lifecycle::finish(world, task, Outcome::Failed(Failure::new(error)));
                world.flush();
            }
        },
        // Stopped, despawned or replaced during its own step: its outcome is already settled.
        _ => drop(work),
    }
    true
}

/// The error a panicking step fails its task with.
#[derive(Debug)]
pub struct TaskPanicked(pub String);

impl core::fmt::Display for TaskPanicked {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "task panicked: {}", self.0)
    }
}

impl core::error::Error for TaskPanicked {}

fn panic_error(payload: Box<dyn core::any::Any + Send>) -> TaskPanicked {
    let message = if let Some(s) = payload.downcast_ref::<&str>() {
        String::from(*s)
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        String::from("<non-string panic payload>")
    };
    TaskPanicked(message)
}

/// [`CooperatorSystems::Cleanup`](crate::CooperatorSystems::Cleanup): despawns finished standalone
/// tasks and removes finished attached ones, unless retained.
pub(crate) fn cleanup_system(world: &mut World) {
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
        if task.standalone {
            e.despawn();
        } else {
            e.remove::<(CooperativeTask, crate::Paused)>();
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
