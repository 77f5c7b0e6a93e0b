//! The one path of every wait: a wait begins ([`begin`]: registered with its source and kept in
//! the task's list of pending waits), and resolves ([`resolve`]: found at the top of the list or
//! inside a join, and applied once — the join's offer, a lost race's tasks, a joined task's
//! typed result, the race's winner; then the task resumes or fails, or a script hears of it).
//! Wait sources report here, directly or through the [`Resolve`] command.

use alloc::vec::Vec;
use bevy_ecs::{entity::Entity, system::Command, world::World};

use crate::{
    error::TaskError,
    outcome::{Failure, Outcome},
    task::{
        CooperativeTask, Lifecycle, cycle,
        follow::{follow, sync_paused},
        waiting,
        waits::{Deliver, Pending, Then},
    },
    wait::{
        Wait,
        join::{Inner, Offer},
        registration::{Registered, Registration},
        seam::{Resolution, Resolve, Ticket, new_ticket},
        signal::{self, Signal},
    },
};

/// Begins the task's own wait: one more pause until it resolves (see [`begin`]).
pub(crate) fn begin_wait(world: &mut World, entity: Entity, wait: Wait) {
    let _ = begin(world, entity, wait, Then::Resume);
}

/// Begins a wait of a live task, registered with its source; `then` says what its resolution
/// does. The task's own wait ([`Then::Resume`]) pauses the task until then; a wait a script
/// awaits ([`Then::Deliver`], any number at once) does not. Returns its ticket while it is
/// pending; `None` once resolved (at once) or if the task is not alive.
pub(crate) fn begin(world: &mut World, entity: Entity, wait: Wait, then: Then) -> Option<Ticket> {
    let mut task = world.get_mut::<CooperativeTask>(entity)?;
    if !task.is_alive() {
        return None;
    }
    let ticket = new_ticket();
    let deliver = match then {
        Then::Resume => {
            // Pending from now on: whatever finishes the task while it registers cancels it.
            task.begin_own(ticket);
            let queue = task.state.begin_wait();
            let place = task.place();
            follow(&mut world.into(), entity, place, queue);
            None
        }
        Then::Deliver(deliver) => Some(deliver),
    };
    let mut winner = None;
    let registered = waiting::register(wait, world, entity, ticket, &mut winner);
    // A race settled while registering names its winner.
    if winner.is_some()
        && let Some(mut task) = world.get_mut::<CooperativeTask>(entity)
    {
        task.set_winner(winner);
    }
    let result = match registered {
        Registered::Pending(registration) => {
            return keep(world, entity, ticket, registration, deliver);
        }
        Registered::Now(result) => result,
        Registered::Refused(failure) => Err(failure),
    };
    // Resolved as it began: the task's own wait goes the way every resolution goes; a script's
    // is delivered to its future, which is being polled (there is nothing to wake).
    match deliver {
        None => resolve(world, entity, ticket, result),
        Some(deliver) => deliver(world, result, winner),
    }
    None
}

/// Keeps what a pending wait left at its source in the task's list, or undoes it if the task
/// finished (or moved on) while registering. Its ticket, if it was kept.
fn keep(
    world: &mut World,
    entity: Entity,
    ticket: Ticket,
    registration: Registration,
    deliver: Option<Deliver>,
) -> Option<Ticket> {
    let sleeps = matches!(registration, Registration::Waker);
    let own = deliver.is_none();
    let left = match world.get_mut::<CooperativeTask>(entity) {
        Some(mut task) => match deliver {
            None => task.register_own(ticket, registration),
            Some(deliver) if task.is_alive() => {
                task.push_awaited(ticket, registration, Then::Deliver(deliver));
                None
            }
            Some(_) => Some(registration),
        },
        None => Some(registration),
    };
    let kept = left.is_none();
    if let Some(registration) = left {
        waiting::cancel(world, entity, ticket, registration, false);
    }
    if own {
        sync_paused(world, entity);
        if sleeps {
            fail_script_cycle(world, entity);
        }
    }
    kept.then_some(ticket)
}

/// A script that falls asleep with every wait it awaits caught in a cycle of tasks waiting on
/// each other (a `join!` of task waits, the rest of which resolved) would never wake: its first
/// awaited wait fails with the [`WaitCycle`](cycle::WaitCycle).
fn fail_script_cycle(world: &mut World, entity: Entity) {
    let Some(cycle) = cycle::script_cycle(world, entity) else {
        return;
    };
    let first = world
        .get::<CooperativeTask>(entity)
        .and_then(|task| task.awaited().first())
        .map(|awaited| awaited.ticket);
    if let Some(ticket) = first {
        resolve(world, entity, ticket, Err(Failure::new(cycle)));
    }
}

/// Settles a signal and resolves its waiters in registration order.
pub(crate) fn settle_signal(
    world: &mut World,
    signal: Signal,
    result: Result<(), Failure>,
) -> Result<(), TaskError> {
    let resolved = signal::settle(world, signal, result)?;
    resolve_all(world, resolved);
    Ok(())
}

/// What a hook or an observer of a wait source reported, applied at the next command flush.
impl Command for Resolve {
    type Out = ();
    fn apply(self, world: &mut World) {
        resolve_all(world, self.0);
    }
}

/// Applies what wait sources reported, in order.
pub(crate) fn resolve_all(world: &mut World, resolutions: Vec<Resolution>) {
    for Resolution {
        task,
        ticket,
        result,
    } in resolutions
    {
        resolve(world, task, ticket, result);
    }
}

/// Resolves the wait `ticket` of `entity` with `result`: the one path of every resolution. A
/// stale ticket (the task moved on, finished or is gone) is ignored.
pub(crate) fn resolve(
    world: &mut World,
    entity: Entity,
    ticket: Ticket,
    result: Result<(), Failure>,
) {
    settle(world, entity, ticket, result, None);
}

/// Finds the wait `ticket` among the task's pending waits, at the top or inside a join, and
/// applies its resolution once. A join is offered the resolution of one of its sub-waits, and
/// once it settles, it resolves (with its race's `winner`) through this same function.
fn settle(
    world: &mut World,
    entity: Entity,
    ticket: Ticket,
    result: Result<(), Failure>,
    winner: Option<u32>,
) {
    let Some(mut task) = world.get_mut::<CooperativeTask>(entity) else {
        return;
    };
    if let Some(pending) = task.remove_wait(ticket) {
        if winner.is_some() {
            task.set_winner(winner);
        }
        if matches!(pending.then, Then::Resume) && result.is_ok() {
            // The task's own wait ended well: its pause goes, while the task is at hand.
            let queue = task.state.end_wait();
            let place = task.place();
            follow(&mut world.into(), entity, place, queue);
        }
        apply(world, entity, pending, result, winner);
        return;
    }
    let mut result = Some(result);
    let mut ended = Vec::new();
    let mut settled = None;
    for (pending, registration) in task.waits_mut() {
        let Registration::Join(join) = registration else {
            continue;
        };
        match join.offer(ticket, &mut result, &mut ended) {
            Offer::NotMine => continue,
            Offer::Absorbed => {}
            Offer::Settled(result, winner) => settled = Some((pending, result, winner)),
        }
        break;
    }
    for (ticket, registration, stop_losers) in ended {
        waiting::cancel(world, entity, ticket, registration, stop_losers);
    }
    if let Some((ticket, result, winner)) = settled {
        settle(world, entity, ticket, result, winner);
    }
}

/// Applies a resolved wait (the task's own, ended well, has given back its pause already). A
/// joined task's typed result moves to the waiter before it hears of it; anything else the wait
/// left at its source goes (a lost race's tasks stop). Then the task's own wait that failed
/// fails the task, and a script's wait is delivered to its future, and the script, if it sleeps
/// on its waker, wakes.
fn apply(
    world: &mut World,
    entity: Entity,
    pending: Pending,
    result: Result<(), Failure>,
    winner: Option<u32>,
) {
    let left = match pending.registration {
        Registration::Take(take) if result.is_ok() => {
            (take.take)(world, take.from, entity);
            None
        }
        registration => Some(registration),
    };
    let release = |world: &mut World, left: Option<Registration>| {
        if let Some(registration) = left {
            let race = registration.is_race();
            waiting::cancel(world, entity, pending.ticket, registration, race);
        }
    };
    match (pending.then, result) {
        (Then::Resume, Ok(())) => {
            sync_paused(world, entity);
            release(world, left);
        }
        (Then::Resume, Err(failure)) => {
            release(world, left);
            world.finish_task(entity, Outcome::Failed(failure));
        }
        (Then::Deliver(deliver), result) => {
            release(world, left);
            deliver(world, result, winner);
            // A script sleeping on its waker has an answer to look at.
            let waker = world
                .get::<CooperativeTask>(entity)
                .and_then(|task| task.own_wait())
                .filter(|own| matches!(own.registration, Registration::Waker))
                .map(|own| own.ticket);
            if let Some(waker) = waker {
                settle(world, entity, waker, Ok(()), None);
            }
        }
    }
}

/// Cancels a wait a script awaits whose future was dropped (a `select!`'s loser): nothing of it
/// is left at its source.
pub(crate) fn cancel_awaited(world: &mut World, entity: Entity, ticket: Ticket) {
    let Some(mut task) = world.get_mut::<CooperativeTask>(entity) else {
        return;
    };
    if let Some(pending) = task.remove_wait(ticket) {
        waiting::cancel(world, entity, ticket, pending.registration, false);
    }
}
