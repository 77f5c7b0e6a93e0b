//! Waiting, on the task's side: registering a [`Wait`] with its source, cancelling what a
//! pending wait left there (a lost race's tasks stop), and waiting on another task (a waiter list
//! kept in the task it waits on).

use alloc::{boxed::Box, vec::Vec};
use bevy_ecs::{entity::Entity, world::World};

use crate::{
    error::TaskError,
    outcome::{Failure, Outcome},
    task::{
        CooperativeTask, Lifecycle,
        cycle::{WaitCycle, path_to},
    },
    wait::{
        Wait, WaitKind, future,
        join::{Join, JoinMode, Offer, Sub, WaitTimedOut},
        registration::{Registered, Registration, Take},
        seam::{Ticket, new_ticket},
        signal, timers,
    },
};

/// Waits on another task, whose waiter list the task keeps (see `register_task`).
impl Wait {
    /// Until another task finishes. `Done` resumes; any other outcome fails the waiting task
    /// (a failure is passed on as is; a stop becomes a [`TaskError`](crate::TaskError) failure). Use
    /// [`Wait::finished`] to resume whatever the outcome.
    ///
    /// This is how `yield coiterate(...)` sequencing is written: start a task, wait for it.
    /// Waiting on an entity that is no task (or a finished one already cleaned up) fails.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// #[derive(Resource, Default)]
    /// struct Order(Vec<&'static str>);
    /// # app.init_resource::<Order>();
    ///
    /// // Load the level, then spawn the player: a task waits for the other.
    /// let world = app.world_mut();
    /// let level = world.cooperate((0..6).map(|_chunk| ()));
    /// let mut waited = false;
    /// world.cooperate(from_fn(move |cx: &mut StepContext| {
    ///     if !std::mem::replace(&mut waited, true) {
    ///         return Step::Wait(Wait::task(level));
    ///     }
    ///     cx.world().resource_mut::<Order>().0.push("player");
    ///     Step::Done
    /// }));
    /// app.update();
    /// app.update();
    /// assert!(app.world().resource::<Order>().0.is_empty()); // 7 steps of loading first
    /// app.update();
    /// assert_eq!(app.world().resource::<Order>().0, ["player"]);
    /// ```
    pub fn task(task: Entity) -> Self {
        Wait::new(WaitKind::Task(task))
    }

    /// Until another task finishes, whatever its outcome: `Wait::task(task).settled()`.
    ///
    /// Waiting on itself, or on a task that waits (through others) on this one, would never
    /// end: such a wait fails at once with a [`WaitCycle`](crate::WaitCycle), settled or not.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// let world = app.world_mut();
    /// let download = world.cooperate(std::iter::repeat(()));
    /// // Clean up the temporary files whether the download finishes or not.
    /// let cleanup = world.cooperate([Wait::finished(download)].into_iter());
    /// world.entity_mut(cleanup).insert(RetainFinished);
    /// app.update();
    /// app.world_mut().stop_task(download).unwrap(); // cancelled
    /// app.update();
    /// assert_eq!(app.world().task_outcome(cleanup), Some(Outcome::Done));
    /// ```
    pub fn finished(task: Entity) -> Self {
        Wait::task(task).settled()
    }

    /// For `task`, whose typed result `take` moves to the waiter when it ends `Done`.
    pub(crate) fn take(task: Entity, take: fn(&mut World, Entity, Entity)) -> Self {
        Wait::new(WaitKind::Take(task, take))
    }
}

/// Registers `task` (wait `ticket`) with the wait's source. A race that settles while it
/// registers names its `winner`.
pub(crate) fn register(
    wait: Wait,
    world: &mut World,
    task: Entity,
    ticket: Ticket,
    winner: &mut Option<u32>,
) -> Registered {
    match wait.kind {
        WaitKind::Signal(s) => match signal::register(world, s, task, ticket) {
            Some(result) => Registered::Now(result),
            None => Registered::Pending(Registration::Signal(s)),
        },
        WaitKind::Task(other) => register_task(world, task, ticket, other),
        WaitKind::Take(other, take) => match register_task(world, task, ticket, other) {
            Registered::Now(Ok(())) => {
                take(world, other, task);
                Registered::Now(Ok(()))
            }
            Registered::Pending(_) => {
                Registered::Pending(Registration::Take(Box::new(Take { from: other, take })))
            }
            now => now,
        },
        WaitKind::Frames(0) => Registered::Now(Ok(())),
        WaitKind::Frames(n) => timers::register_frames(world, task, ticket, n),
        WaitKind::Time(clock, duration) => {
            timers::register_time(world, task, ticket, clock, duration)
        }
        WaitKind::Custom(_, register) => register(world, task, ticket),
        WaitKind::Waker(waker) => future::register_waker(&waker, ticket),
        WaitKind::Join(mode, waits) => {
            register_join_with(world, task, ticket, mode, waits, None, winner)
        }
        WaitKind::Timeout(wait, clock, duration) => {
            let timer = Wait::new(WaitKind::Time(clock, duration));
            register_join_with(
                world,
                task,
                ticket,
                JoinMode::Race,
                [*wait, timer],
                Some(1),
                winner,
            )
        }
    }
}

fn register_task(world: &mut World, task: Entity, ticket: Ticket, other: Entity) -> Registered {
    if other == task {
        // Waiting on itself is the shortest cycle.
        return Registered::Refused(Failure::new(WaitCycle(alloc::vec![task, task])));
    }
    if world.get::<CooperativeTask>(other).is_none() {
        return Registered::Now(Err(Failure::new(TaskError::NoSuchTask(other))));
    }
    if let Some(path) = path_to(world, other, task) {
        // `other` waits, through a chain of task waits, on `task`: this wait would close it.
        let mut cycle = alloc::vec![task];
        cycle.extend(path);
        return Registered::Refused(Failure::new(WaitCycle(cycle)));
    }
    let Some(mut target) = world.get_mut::<CooperativeTask>(other) else {
        return Registered::Now(Err(Failure::new(TaskError::NoSuchTask(other))));
    };
    match target.outcome() {
        Some(outcome) => Registered::Now(outcome.as_wait_result()),
        None => {
            target.family_mut().waiters.push((task, ticket));
            Registered::Pending(Registration::Task(other))
        }
    }
}

/// Registers the sub-waits of a join one by one; `timer` is the index of a timeout's timer.
fn register_join_with(
    world: &mut World,
    task: Entity,
    ticket: Ticket,
    mode: JoinMode,
    waits: impl IntoIterator<Item = Wait>,
    timer: Option<usize>,
    noted: &mut Option<u32>,
) -> Registered {
    let waits: Vec<Wait> = waits.into_iter().collect();
    if waits.is_empty() {
        return Registered::Now(Ok(()));
    }
    let timeout = match (&timer, waits.last().map(|w| &w.kind)) {
        (Some(_), Some(WaitKind::Time(_, d))) => Some(*d),
        _ => None,
    };
    let mut join = Box::new(Join {
        mode,
        subs: Vec::with_capacity(waits.len()),
        remaining: waits.len(),
    });
    let targets: Vec<Option<Entity>> = waits.iter().map(Wait::target).collect();
    let count = waits.len();
    let mut settled = None;
    // A refused wait fails an all-of join (or a settled one) at once; a race only when every
    // branch is refused (any other may still win it).
    let (mut refused, mut refusal) = (0, None);
    for (index, wait) in waits.into_iter().enumerate() {
        let sub_ticket = new_ticket();
        let registered = register(wait, world, task, sub_ticket, noted);
        join.subs.push(Sub {
            ticket: sub_ticket,
            registration: Registration::None,
            done: false,
            target: targets[index],
            timeout: if timer == Some(index) { timeout } else { None },
        });
        match registered {
            Registered::Pending(registration) => {
                join.subs[index].registration = registration;
            }
            Registered::Now(result) => {
                join.subs[index].done = true;
                let result = match (join.subs[index].timeout, result) {
                    (Some(d), Ok(())) => Err(Failure::new(WaitTimedOut(d))),
                    (_, r) => r,
                };
                if let Offer::Settled(r, winner) = join.apply(index, result) {
                    settled = Some((r, winner, index));
                    break;
                }
            }
            Registered::Refused(failure) => {
                join.subs[index].done = true;
                refused += 1;
                refusal.get_or_insert(failure);
                if mode != JoinMode::Race {
                    break;
                }
            }
        }
    }
    if settled.is_none()
        && let Some(failure) = refusal.filter(|_| mode != JoinMode::Race || refused == count)
    {
        cancel(world, task, ticket, Registration::Join(join), false);
        return Registered::Refused(failure);
    }
    let Some((result, winner, last)) = settled else {
        return Registered::Pending(Registration::Join(join));
    };
    // Settled while registering: cancel what was registered; a race also stops the losers
    // that were never registered.
    if winner.is_some() {
        *noted = winner;
    }
    let race = mode == JoinMode::Race;
    let losers: Vec<Entity> = if race {
        targets
            .iter()
            .enumerate()
            .filter(|(i, _)| *i > last)
            .filter_map(|(_, t)| *t)
            .collect()
    } else {
        Vec::new()
    };
    cancel(world, task, ticket, Registration::Join(join), race);
    for loser in losers {
        stop_loser(world, loser);
    }
    Registered::Now(result)
}

/// Removes what a pending wait left at its source. With `stop_losers`, a race's pending task
/// waits stop their tasks.
pub(crate) fn cancel(
    world: &mut World,
    task: Entity,
    ticket: Ticket,
    registration: Registration,
    stop_losers: bool,
) {
    match registration {
        Registration::None | Registration::Waker => {}
        Registration::Signal(s) => signal::unregister(world, s, task),
        Registration::Task(other) => leave_waiters(world, other, task),
        Registration::Take(take) => leave_waiters(world, take.from, task),
        Registration::Timer(key) => timers::cancel(world, key, ticket),
        Registration::Remove(remove) => remove(world, task, ticket),
        Registration::Observer(observer) => {
            if let Ok(e) = world.get_entity_mut(observer) {
                e.despawn();
            }
        }
        Registration::Join(join) => {
            let stop = stop_losers && join.mode == JoinMode::Race;
            let mut losers = Vec::new();
            for sub in join.subs {
                if sub.done {
                    continue;
                }
                if stop && let Some(t) = sub.target {
                    losers.push(t);
                }
                cancel(world, task, sub.ticket, sub.registration, false);
            }
            for loser in losers {
                stop_loser(world, loser);
            }
        }
    }
}

/// `task` no longer waits for `other` to finish.
fn leave_waiters(world: &mut World, other: Entity, task: Entity) {
    if let Some(mut target) = world.get_mut::<CooperativeTask>(other)
        && let Some(family) = target.family_if_any()
    {
        family.waiters.retain(|&(t, _)| t != task);
    }
}

/// A race's losing task stops.
fn stop_loser(world: &mut World, loser: Entity) {
    world.finish_task(loser, Outcome::Stopped);
}
