//! Waiting, on the task's side: registering a [`Wait`] with its source, cancelling what a pending
//! wait left there, and waiting on another task (a waiter list kept in the task it waits on).
//!
//! A lost race stops its losing tasks; how to stop a task is the lifecycle's business, so the
//! caller passes it in ([`StopLoser`]).

use alloc::{boxed::Box, vec::Vec};
use bevy_ecs::{entity::Entity, world::World};
use bevy_platform::collections::HashMap;

use crate::{
    error::TaskError,
    outcome::Failure,
    task::CooperativeTask,
    wait::{
        Wait, WaitKind, future,
        join::{Join, JoinMode, Offer, Sub, WaitTimedOut},
        registration::{Registered, Registration},
        seam::{Ticket, new_ticket},
        signal, timers,
    },
};

/// Stops the losing task of a race (the lifecycle's `stop`).
pub(crate) type StopLoser<'a> = &'a mut dyn FnMut(&mut World, Entity);

/// Registers `task` (wait `ticket`) with the wait's source.
pub(crate) fn register(
    wait: Wait,
    world: &mut World,
    task: Entity,
    ticket: Ticket,
    stop: StopLoser,
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
            Registered::Pending(_) => Registered::Pending(Registration::Take(other, take)),
            now => now,
        },
        WaitKind::Frames(0) => Registered::Now(Ok(())),
        WaitKind::Frames(n) => timers::register_frames(world, task, ticket, n),
        WaitKind::Time(clock, duration) => {
            timers::register_time(world, task, ticket, clock, duration)
        }
        WaitKind::Custom(_, register) => register(world, task, ticket),
        WaitKind::Waker(waker) => future::register_waker(&waker, ticket),
        WaitKind::Join(mode, waits) => register_join_with(world, task, mode, waits, None, stop),
        WaitKind::Timeout(wait, clock, duration) => {
            let timer = Wait::new(WaitKind::Time(clock, duration));
            register_join_with(world, task, JoinMode::Race, [*wait, timer], Some(1), stop)
        }
    }
}

fn register_task(world: &mut World, task: Entity, ticket: Ticket, other: Entity) -> Registered {
    if other == task {
        return Registered::Now(Err(Failure::msg("a task cannot wait for itself")));
    }
    if world.get::<CooperativeTask>(other).is_none() {
        return Registered::Now(Err(Failure::new(TaskError::NoSuchTask(other))));
    }
    if let Some(path) = path_to(world, other, task) {
        // `other` waits, through a chain of task waits, on `task`: this wait would close it.
        let mut cycle = alloc::vec![task];
        cycle.extend(path);
        return Registered::Now(Err(Failure::new(WaitCycle(cycle))));
    }
    let Some(mut target) = world.get_mut::<CooperativeTask>(other) else {
        return Registered::Now(Err(Failure::new(TaskError::NoSuchTask(other))));
    };
    match &target.outcome {
        Some(outcome) => Registered::Now(outcome.as_wait_result()),
        None => {
            target.waiters.push((task, ticket));
            Registered::Pending(Registration::Task(other))
        }
    }
}

/// The chain of pending task waits from `from` to `to` (`from`, …, `to`), if there is one. Only
/// waits that must resolve for the waiter to go on count: a race (a timeout among them) can be
/// settled by another of its waits.
fn path_to(world: &World, from: Entity, to: Entity) -> Option<Vec<Entity>> {
    // Depth first, without recursion (chains of waiting tasks can be long); `came_from` also
    // marks the tasks seen.
    let mut came_from: HashMap<Entity, Entity> = HashMap::default();
    came_from.insert(from, from);
    let mut stack = alloc::vec![from];
    let mut next = Vec::new();
    while let Some(at) = stack.pop() {
        let Some(task) = world.get::<CooperativeTask>(at) else {
            continue;
        };
        next.clear();
        waited_tasks(&task.waiting.registration, &mut next);
        // A script awaiting a single wait needs it; of several at once (a `select!`, maybe) it
        // may need any one, so none of them counts.
        if let [only] = task.waiting.awaited.as_slice() {
            waited_tasks(&only.registration, &mut next);
        }
        for &other in &next {
            if came_from.contains_key(&other) {
                continue;
            }
            came_from.insert(other, at);
            if other == to {
                let mut path = alloc::vec![to];
                let mut step = to;
                while step != from {
                    step = came_from[&step];
                    path.push(step);
                }
                path.reverse();
                return Some(path);
            }
            stack.push(other);
        }
    }
    None
}

/// The tasks a pending wait cannot go on without: its task waits, those inside joins that need
/// all of their waits included, not those inside races.
fn waited_tasks(registration: &Registration, out: &mut Vec<Entity>) {
    match registration {
        Registration::Task(other) | Registration::Take(other, _) => out.push(*other),
        Registration::Join(join) if join.mode != JoinMode::Race => {
            for sub in join.subs.iter().filter(|sub| !sub.done) {
                waited_tasks(&sub.registration, out);
            }
        }
        _ => {}
    }
}

/// The error a task wait fails with at once when it would close a cycle of tasks waiting on
/// each other (which could never resolve): the tasks in the cycle, starting and ending with the
/// task that would have waited.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::{WaitCycle, prelude::*};
/// # use bevy_ecs::prelude::*;
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
/// let world = app.world_mut();
/// // The quest giver waits on the hero, and the hero on the quest giver.
/// let hero = world.spawn_empty().id();
/// let giver = world.cooperate([Wait::task(hero)].into_iter());
/// world.entity_mut(hero).insert(RetainFinished).cooperate([Wait::task(giver)].into_iter());
/// app.update();
/// let outcome = app.world().task_outcome(hero).unwrap();
/// let cycle = outcome.failure().unwrap().downcast_ref::<WaitCycle>().unwrap();
/// assert_eq!(cycle.0, [hero, giver, hero]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitCycle(pub Vec<Entity>);

impl core::fmt::Display for WaitCycle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("this wait would close a cycle of tasks waiting on each other: ")?;
        for (i, task) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" waits on ")?;
            }
            write!(f, "{task}")?;
        }
        Ok(())
    }
}

impl core::error::Error for WaitCycle {}

/// Registers the sub-waits of a join one by one; `timer` is the index of a timeout's timer.
fn register_join_with(
    world: &mut World,
    task: Entity,
    mode: JoinMode,
    waits: impl IntoIterator<Item = Wait>,
    timer: Option<usize>,
    stop: StopLoser,
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
    let mut settled = None;
    for (index, wait) in waits.into_iter().enumerate() {
        let ticket = new_ticket();
        let registered = register(wait, world, task, ticket, stop);
        join.subs.push(Sub {
            ticket,
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
        }
    }
    let Some((result, winner, last)) = settled else {
        return Registered::Pending(Registration::Join(join));
    };
    // Settled while registering: cancel what was registered; a race also stops the losers
    // that were never registered.
    if let Some(winner) = winner
        && let Some(mut t) = world.get_mut::<CooperativeTask>(task)
    {
        t.waiting.winner = Some(winner);
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
    cancel(
        world,
        task,
        Registration::Join(join),
        race.then_some(&mut *stop),
    );
    for loser in losers {
        stop(world, loser);
    }
    Registered::Now(result)
}

/// Removes what a pending wait left at its source. With `stop_losers`, a race's pending task
/// waits stop their tasks.
pub(crate) fn cancel(
    world: &mut World,
    task: Entity,
    registration: Registration,
    stop_losers: Option<StopLoser>,
) {
    match registration {
        Registration::None | Registration::Waker => {}
        Registration::Signal(s) => signal::unregister(world, s, task),
        Registration::Task(other) | Registration::Take(other, ..) => {
            if let Some(mut target) = world.get_mut::<CooperativeTask>(other) {
                target.waiters.retain(|&(t, _)| t != task);
            }
        }
        Registration::Timer(key) => timers::cancel(world, key),
        Registration::Remove(remove, ticket) => remove(world, task, ticket),
        Registration::Observer(observer) => {
            if let Ok(e) = world.get_entity_mut(observer) {
                e.despawn();
            }
        }
        Registration::Join(join) => {
            let stop = stop_losers.filter(|_| join.mode == JoinMode::Race);
            let mut losers = Vec::new();
            for sub in join.subs {
                if sub.done {
                    continue;
                }
                if stop.is_some()
                    && let Some(t) = sub.target
                {
                    losers.push(t);
                }
                cancel(world, task, sub.registration, None);
            }
            if let Some(stop) = stop {
                for loser in losers {
                    stop(world, loser);
                }
            }
        }
    }
}

/// Per-task wait bookkeeping kept in [`CooperativeTask`].
#[derive(Default)]
pub(crate) struct WaitState {
    /// What the pending wait left at its source.
    pub(crate) registration: Registration,
    /// The index of the last race's winner.
    pub(crate) winner: Option<u32>,
    /// The waits an async script awaits, any number at once, in the order they began. They do
    /// not pause the task: while nothing it awaits is ready, the script waits on its waker, and
    /// each resolution is delivered to the script and wakes it.
    pub(crate) awaited: Vec<Awaited>,
}

/// Hands a resolved awaited wait's result (and a race's winner) to the script that awaits it.
pub(crate) type Deliver =
    Box<dyn FnOnce(&mut World, Result<(), Failure>, Option<u32>) + Send + Sync>;

/// One wait a script awaits (see [`WaitState::awaited`]).
pub(crate) struct Awaited {
    pub(crate) ticket: Ticket,
    pub(crate) registration: Registration,
    pub(crate) deliver: Deliver,
}
