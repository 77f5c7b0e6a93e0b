//! Waiting, on the task's side: the task's list of pending waits ([`Waits`]), registering a
//! [`Wait`] with its source, cancelling what a pending wait left there, and waiting on another
//! task (a waiter list kept in the task it waits on).

use alloc::{boxed::Box, vec::Vec};
use bevy_ecs::{entity::Entity, world::World};
use bevy_platform::collections::HashMap;

use crate::{
    error::TaskError,
    outcome::Failure,
    task::{CooperativeTask, lifecycle},
    wait::{
        Wait, WaitKind, future,
        join::{Join, JoinMode, Offer, Sub, WaitTimedOut},
        registration::{Registered, Registration},
        seam::{Ticket, new_ticket},
        signal, timers,
    },
};

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
        WaitKind::Join(mode, waits) => register_join_with(world, task, mode, waits, None, winner),
        WaitKind::Timeout(wait, clock, duration) => {
            let timer = Wait::new(WaitKind::Time(clock, duration));
            register_join_with(world, task, JoinMode::Race, [*wait, timer], Some(1), winner)
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
            target.waiters.push((task, ticket));
            Registered::Pending(Registration::Task(other))
        }
    }
}

/// What a pending wait needs from other tasks before its task can go on.
#[derive(Default)]
struct Needs {
    /// Tasks each of which must end: task waits, and those inside all-of joins.
    all: Vec<Entity>,
    /// Groups of which any one may let the task go on: a race's branches, or the waits a script
    /// awaits at once (a `join!` and a `select!` look the same from here).
    any: Vec<Vec<Needs>>,
}

impl Needs {
    /// What `task`'s pending waits need.
    fn of_task(task: &CooperativeTask) -> Self {
        let mut needs = Needs::default();
        if let Some(own) = task.waits.own() {
            needs.add(&own.registration);
        }
        match task.waits.awaited() {
            [] => {}
            [only] => needs.add(&only.registration),
            several => needs.any.push(
                several
                    .iter()
                    .map(|awaited| Needs::of(&awaited.registration))
                    .collect(),
            ),
        }
        needs
    }

    fn of(registration: &Registration) -> Self {
        let mut needs = Needs::default();
        needs.add(registration);
        needs
    }

    fn add(&mut self, registration: &Registration) {
        match registration {
            Registration::Task(other) | Registration::Take(other, _) => self.all.push(*other),
            Registration::Join(join) if join.mode == JoinMode::Race => {
                let branches = join.subs.iter().filter(|sub| !sub.done);
                self.any
                    .push(branches.map(|sub| Needs::of(&sub.registration)).collect());
            }
            Registration::Join(join) => {
                for sub in join.subs.iter().filter(|sub| !sub.done) {
                    self.add(&sub.registration);
                }
            }
            _ => {}
        }
    }

    fn is_empty(&self) -> bool {
        self.all.is_empty() && self.any.is_empty()
    }
}

/// The chain of pending task waits from `from` to `to` (`from`, …, `to`), if there is one. Only
/// waits that must resolve for the waiter to go on count: a race (a timeout among them, or the
/// several waits a script awaits at once) only when every one of its branches leads to `to`.
fn path_to(world: &World, from: Entity, to: Entity) -> Option<Vec<Entity>> {
    Walk::new(world, to).search(from)
}

/// The cycle walk toward `to`: `seen` marks the tasks it reached, with the path found from those
/// a race's branch was searched from (`None` while searching, or when there is none).
struct Walk<'w> {
    world: &'w World,
    to: Entity,
    seen: HashMap<Entity, Option<Vec<Entity>>>,
}

impl<'w> Walk<'w> {
    fn new(world: &'w World, to: Entity) -> Self {
        Walk {
            world,
            to,
            seen: HashMap::default(),
        }
    }

    /// Depth first over the waits that must resolve, without recursion (chains of waiting tasks
    /// can be long); races are looked into afterwards, one search per branch.
    fn search(&mut self, from: Entity) -> Option<Vec<Entity>> {
        let mut came_from: HashMap<Entity, Entity> = HashMap::default();
        came_from.insert(from, from);
        self.seen.entry(from).or_insert(None);
        let path = |came_from: &HashMap<Entity, Entity>, at: Entity| {
            let mut path = alloc::vec![at];
            let mut step = at;
            while step != from {
                step = came_from[&step];
                path.push(step);
            }
            path.reverse();
            path
        };
        let mut stack = alloc::vec![from];
        let mut races = Vec::new();
        while let Some(at) = stack.pop() {
            let Some(task) = self.world.get::<CooperativeTask>(at) else {
                continue;
            };
            let needs = Needs::of_task(task);
            for &other in &needs.all {
                if other == self.to {
                    let mut found = path(&came_from, at);
                    found.push(other);
                    return Some(found);
                }
                if self.seen.contains_key(&other) {
                    continue;
                }
                self.seen.insert(other, None);
                came_from.insert(other, at);
                stack.push(other);
            }
            races.extend(needs.any.into_iter().map(|group| (at, group)));
        }
        for (at, group) in races {
            if let Some(rest) = self.every_branch(&group) {
                let mut found = path(&came_from, at);
                found.extend(rest);
                return Some(found);
            }
        }
        None
    }

    /// A path to `to` through the first branch, if every branch of a race leads there.
    fn every_branch(&mut self, group: &[Needs]) -> Option<Vec<Entity>> {
        let mut first = None;
        for branch in group {
            let path = self.branch(branch)?;
            first.get_or_insert(path);
        }
        first
    }

    /// A path to `to` from one of the tasks a branch needs, if there is one.
    fn branch(&mut self, needs: &Needs) -> Option<Vec<Entity>> {
        for &task in &needs.all {
            if task == self.to {
                return Some(alloc::vec![task]);
            }
            let found = match self.seen.get(&task) {
                // Searched before, or being searched: then it counts as no path, which can only
                // miss a cycle, never make one up.
                Some(found) => found.clone(),
                None => {
                    let found = self.search(task);
                    self.seen.insert(task, found.clone());
                    found
                }
            };
            if found.is_some() {
                return found;
            }
        }
        let groups = &needs.any;
        groups.iter().find_map(|group| self.every_branch(group))
    }
}

/// The cycle a script sleeping on its waker is caught in, if every wait it has in flight needs a
/// task that waits, through other tasks, on it: then nothing it awaits can ever wake it.
pub(crate) fn script_cycle(world: &World, task: Entity) -> Option<WaitCycle> {
    let awaited = world.get::<CooperativeTask>(task)?.waits.awaited();
    let group: Vec<Needs> = awaited
        .iter()
        .map(|awaited| Needs::of(&awaited.registration))
        .collect();
    if group.is_empty() || group.iter().all(Needs::is_empty) {
        return None;
    }
    let mut walk = Walk::new(world, task);
    walk.seen.insert(task, None);
    let path = walk.every_branch(&group)?;
    let mut cycle = alloc::vec![task];
    cycle.extend(path);
    Some(WaitCycle(cycle))
}

/// The error a task wait fails with at once when it would close a cycle of tasks waiting on
/// each other (which could never resolve): the tasks in the cycle, starting and ending with the
/// task that would have waited (`[task, task]` for a task waiting on itself).
///
/// Only waits that must resolve count: a task wait, an [`all`](crate::Wait::all) or
/// [`settled`](crate::Wait::settled) wait holding one (a settled wait fails with it too), a
/// [`race`](crate::Wait::race) only when every branch is in a cycle. A script's waits in flight
/// at once (`join!`, `select!`) count as one race; a script falling asleep with every one of them
/// in a cycle has the first of them fail with it.
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
        if let [a, b] = self.0.as_slice()
            && a == b
        {
            return f.write_str("a task cannot wait for itself");
        }
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
        let ticket = new_ticket();
        let registered = register(wait, world, task, ticket, noted);
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
        cancel(world, task, Registration::Join(join), false);
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
    cancel(world, task, Registration::Join(join), race);
    for loser in losers {
        lifecycle::stop_loser(world, loser);
    }
    Registered::Now(result)
}

/// Removes what a pending wait left at its source. With `stop_losers`, a race's pending task
/// waits stop their tasks.
pub(crate) fn cancel(
    world: &mut World,
    task: Entity,
    registration: Registration,
    stop_losers: bool,
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
            let stop = stop_losers && join.mode == JoinMode::Race;
            let mut losers = Vec::new();
            for sub in join.subs {
                if sub.done {
                    continue;
                }
                if stop && let Some(t) = sub.target {
                    losers.push(t);
                }
                cancel(world, task, sub.registration, false);
            }
            for loser in losers {
                lifecycle::stop_loser(world, loser);
            }
        }
    }
}

/// A task's pending waits, each with its ticket, what it left at its source and what its
/// resolution does: the task's own wait (at most one, always first) and the waits an async
/// script awaits, any number at once, in the order they began. The script's waits do not pause
/// the task: while nothing it awaits is ready, the script waits on its waker (its own wait), and
/// each resolution is delivered to the script and wakes it.
#[derive(Default)]
pub(crate) struct Waits {
    pending: Vec<Pending>,
    /// The index of the last race's winner.
    pub(crate) winner: Option<u32>,
}

/// One pending wait of a task (see [`Waits`]).
pub(crate) struct Pending {
    pub(crate) ticket: Ticket,
    pub(crate) registration: Registration,
    pub(crate) then: Then,
}

/// What a pending wait's resolution does.
pub(crate) enum Then {
    /// The task's own wait: its pause goes, or its failure fails the task.
    Resume,
    /// A wait a script awaits: the result goes to the script's future.
    Deliver(Deliver),
}

/// Hands a resolved awaited wait's result (and a race's winner) to the script that awaits it.
pub(crate) type Deliver =
    Box<dyn FnOnce(&mut World, Result<(), Failure>, Option<u32>) + Send + Sync>;

impl Waits {
    /// The task's own wait, pending.
    pub(crate) fn own(&self) -> Option<&Pending> {
        self.pending
            .first()
            .filter(|pending| matches!(pending.then, Then::Resume))
    }

    /// The waits a script awaits, in the order they began.
    pub(crate) fn awaited(&self) -> &[Pending] {
        let own = usize::from(self.own().is_some());
        &self.pending[own..]
    }

    /// The task's own wait begins; what it leaves at its source is kept once it is registered.
    pub(crate) fn begin_own(&mut self, ticket: Ticket) {
        debug_assert!(self.own().is_none());
        let own = Pending {
            ticket,
            registration: Registration::None,
            then: Then::Resume,
        };
        self.pending.insert(0, own);
    }

    /// Keeps what the task's own wait `ticket` left at its source; gives it back if that wait is
    /// no longer pending.
    pub(crate) fn register_own(
        &mut self,
        ticket: Ticket,
        registration: Registration,
    ) -> Option<Registration> {
        match self.pending.first_mut() {
            Some(own) if own.ticket == ticket && matches!(own.then, Then::Resume) => {
                own.registration = registration;
                None
            }
            _ => Some(registration),
        }
    }

    /// A script's wait, pending.
    pub(crate) fn push(&mut self, ticket: Ticket, registration: Registration, then: Then) {
        self.pending.push(Pending {
            ticket,
            registration,
            then,
        });
    }

    /// Takes the pending wait `ticket` out of the list.
    pub(crate) fn remove(&mut self, ticket: Ticket) -> Option<Pending> {
        let index = self.pending.iter().position(|p| p.ticket == ticket)?;
        Some(self.pending.remove(index))
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Pending> {
        self.pending.iter_mut()
    }

    /// Every pending wait, the task's own first (the task finished).
    pub(crate) fn take(&mut self) -> Vec<Pending> {
        core::mem::take(&mut self.pending)
    }
}
