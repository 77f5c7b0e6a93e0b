//! Cycles of tasks waiting on each other, which could never resolve: the walk over what pending
//! waits need from other tasks, and the error such a wait fails with, [`WaitCycle`].

use alloc::vec::Vec;
use bevy_ecs::{entity::Entity, world::World};
use bevy_platform::collections::HashMap;

use crate::{
    task::CooperativeTask,
    wait::{join::JoinMode, registration::Registration},
};

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
        if let Some(own) = task.own_wait() {
            needs.add(&own.registration);
        }
        match task.awaited() {
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
            Registration::Task(other) => self.all.push(*other),
            Registration::Take(take) => self.all.push(take.from),
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
pub(super) fn path_to(world: &World, from: Entity, to: Entity) -> Option<Vec<Entity>> {
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
    let awaited = world.get::<CooperativeTask>(task)?.awaited();
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
