//! Condition waits: systems returning `bool`, polled once per frame while any task waits on them.
//!
//! A [`Wait::until`](crate::Wait::until) and all its clones share one system (and its state).
//! Every task waiting on it is kept in one group: the system runs once per frame for the whole
//! group, and a `true` resumes every task in it.

use alloc::{boxed::Box, format, sync::Arc, vec::Vec};
use bevy_ecs::{
    entity::Entity,
    resource::Resource,
    system::{IntoSystem, System},
    world::{World, WorldId},
};
use std::sync::Mutex;

use crate::{
    error::lock,
    outcome::Failure,
    wait::Wait,
    wait::{
        registration::{Registered, Registration},
        seam::{Resolution, Ticket},
    },
};

impl Wait {
    /// Until `condition` (a read-only or ordinary system returning `bool`) returns `true`.
    ///
    /// It runs once when the wait begins (resuming at once if already true), then once per frame
    /// in [`Wake`](crate::CooperatorSystems::Wake) while any task waits on it. Clones of one
    /// `Wait::until` share one system (and its state, such as `Local`s): any number of tasks may
    /// wait on it at once, it runs once per frame for all of them, and a `true` resumes them all.
    /// Separate `Wait::until` calls make separate systems, each polled on its own. Conditions no
    /// task waits on cost nothing. A system that cannot run (missing resource) fails the wait.
    ///
    /// A condition's system belongs to the first world it runs in: waiting on it (or a clone) in
    /// another world fails.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// #[derive(Resource, Default)]
    /// struct Keys(u32);
    ///
    /// # app.init_resource::<Keys>();
    /// // The vault opens once three keys are found.
    /// let vault = app.world_mut().cooperate([Wait::until(|keys: Res<Keys>| keys.0 >= 3)].into_iter());
    /// app.update();
    /// app.world_mut().resource_mut::<Keys>().0 = 2;
    /// app.update();
    /// assert!(app.world().get::<Paused>(vault).is_some());
    /// app.world_mut().resource_mut::<Keys>().0 = 3;
    /// app.update();
    /// assert!(app.world().get_entity(vault).is_err());
    /// ```
    pub fn until<M>(condition: impl IntoSystem<(), bool, M>) -> Self {
        let home = home(Box::new(IntoSystem::into_system(condition)));
        Wait::custom("Until", move |world, task, ticket| {
            register(world, task, ticket, &home)
        })
    }
}

type Condition = Box<dyn System<In = (), Out = bool>>;

/// The system of a condition and the world it was initialized for. `system` is `None` only while
/// the system runs.
pub(crate) struct Slot {
    system: Option<Condition>,
    world: Option<WorldId>,
}

/// Where a condition's system lives: a [`Wait::until`](crate::Wait::until) and its clones share
/// one.
pub(crate) type Home = Arc<Mutex<Slot>>;

pub(crate) fn home(system: Condition) -> Home {
    Arc::new(Mutex::new(Slot {
        system: Some(system),
        world: None,
    }))
}

/// The tasks waiting on one condition, sorted by wait ticket (the order they began waiting).
/// A removed waiter leaves a hole (`None`) until holes outnumber the waiters, so that removing
/// many waiters (a mass stop) costs a binary search each, not a shift of the list.
struct Group {
    home: Home,
    waiters: Vec<(Option<Entity>, Ticket)>,
    live: usize,
}

impl Group {
    fn new(home: Home, task: Entity, ticket: Ticket) -> Self {
        Group {
            home,
            waiters: alloc::vec![(Some(task), ticket)],
            live: 1,
        }
    }

    /// The waiting tasks, in order.
    fn tasks(self) -> impl Iterator<Item = (Entity, Ticket)> {
        self.waiters
            .into_iter()
            .filter_map(|(task, ticket)| task.map(|t| (t, ticket)))
    }

    /// Adds `other`'s waiters, keeping the ticket order.
    fn absorb(&mut self, other: Group) {
        let in_order = match (self.waiters.last(), other.waiters.first()) {
            (Some(last), Some(first)) => last.1 < first.1,
            _ => true,
        };
        self.live += other.live;
        self.waiters.extend(other.waiters);
        if !in_order {
            self.waiters.sort_unstable_by_key(|w| w.1);
        }
    }

    /// Removes the waiter `(task, ticket)`; returns whether it was here.
    fn remove(&mut self, task: Entity, ticket: Ticket) -> bool {
        let Ok(i) = self.waiters.binary_search_by_key(&ticket, |w| w.1) else {
            return false;
        };
        if self.waiters[i].0 != Some(task) {
            return false;
        }
        self.waiters[i].0 = None;
        self.live -= 1;
        if self.live * 2 < self.waiters.len() {
            self.waiters.retain(|w| w.0.is_some());
        }
        true
    }
}

/// The pending condition waits, grouped by condition. Empty (and not polled) when no task waits
/// on a condition.
#[derive(Resource, Default)]
pub(crate) struct ConditionWaits {
    groups: Vec<Group>,
    /// Waiting tasks, all groups together.
    waiters: usize,
}

impl ConditionWaits {
    /// Pending condition waits (tasks).
    pub(crate) fn len(&self) -> usize {
        self.waiters
    }

    /// Distinct conditions polled each frame.
    pub(crate) fn systems(&self) -> usize {
        self.groups.len()
    }

    /// Adds `group`'s waiters to the group of the same condition, or adds the group.
    fn merge(&mut self, group: Group) {
        self.waiters += group.live;
        match self
            .groups
            .iter_mut()
            .find(|g| Arc::ptr_eq(&g.home, &group.home))
        {
            Some(g) => g.absorb(group),
            None => self.groups.push(group),
        }
    }
}

/// Runs the condition once (initializing it for this world on first use).
fn poll(world: &mut World, home: &Home) -> Result<bool, Failure> {
    let mut system = {
        let mut slot = lock(home);
        if slot.world.is_some_and(|id| id != world.id()) {
            return Err(Failure::msg(
                "this condition belongs to another world: build one Wait::until per world",
            ));
        }
        let Some(system) = slot.system.take() else {
            return Err(Failure::msg(
                "this condition is unavailable: it is running (a condition cannot wait on itself) or panicked",
            ));
        };
        if slot.world.is_none() {
            slot.world = Some(world.id());
            drop(slot);
            let mut system = system;
            system.initialize(world);
            system
        } else {
            system
        }
    };
    let result = system
        .run((), world)
        .map_err(|e| Failure::msg(format!("condition {} cannot run: {e}", system.name())));
    lock(home).system = Some(system);
    result
}

/// Polls the condition once for the new waiter: true resumes it at once, false adds it to the
/// condition's group (the other waiters are left to the next wake).
pub(crate) fn register(world: &mut World, task: Entity, ticket: Ticket, home: &Home) -> Registered {
    match poll(world, home) {
        Ok(false) => {
            world
                .get_resource_or_init::<ConditionWaits>()
                .merge(Group::new(home.clone(), task, ticket));
            Registered::Pending(Registration::Remove(remove))
        }
        Ok(true) => Registered::Now(Ok(())),
        Err(f) => Registered::Now(Err(f)),
    }
}

fn remove(world: &mut World, task: Entity, ticket: Ticket) {
    let Some(mut waits) = world.get_resource_mut::<ConditionWaits>() else {
        return;
    };
    let Some(g) = waits.groups.iter_mut().position(|g| g.remove(task, ticket)) else {
        return;
    };
    waits.waiters -= 1;
    if waits.groups[g].live == 0 {
        waits.groups.remove(g);
    }
}

/// Polls every waited-on condition once, in the order they were first waited on, and reports
/// every task waiting on a true (or failing) one, in registration order.
pub(crate) fn wake_conditions(world: &mut World) -> Vec<Resolution> {
    let Some(mut waits) = world.get_resource_mut::<ConditionWaits>() else {
        return Vec::new();
    };
    if waits.groups.is_empty() {
        return Vec::new();
    }
    let groups = core::mem::take(&mut waits.groups);
    waits.waiters = 0;
    let mut kept = Vec::with_capacity(groups.len());
    let mut settled = Vec::new();
    for group in groups {
        match poll(world, &group.home) {
            Ok(false) => kept.push(group),
            Ok(true) => settled.push((group, Ok(()))),
            Err(f) => settled.push((group, Err(f))),
        }
    }
    // Waits registered while polling join their group after those already waiting.
    let mut waits = world.resource_mut::<ConditionWaits>();
    let added = core::mem::take(&mut waits.groups);
    waits.waiters = 0;
    for group in kept.into_iter().chain(added) {
        waits.merge(group);
    }
    let mut resolved = Vec::new();
    for (group, result) in settled {
        for (task, ticket) in group.tasks() {
            resolved.push(Resolution::new(task, ticket, result.clone()));
        }
    }
    resolved
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(i: u32) -> Entity {
        Entity::from_raw_u32(i).unwrap()
    }

    fn a_home() -> Home {
        home(Box::new(IntoSystem::into_system(|| true)))
    }

    #[test]
    fn waiters_of_one_condition_share_a_group_in_the_order_they_began_waiting() {
        let (first, second) = (a_home(), a_home());
        let mut waits = ConditionWaits::default();
        waits.merge(Group::new(first.clone(), e(1), 5));
        waits.merge(Group::new(second.clone(), e(2), 6));
        // A later merge of an earlier ticket (registered while polling) keeps ticket order.
        let mut late = Group::new(first.clone(), e(3), 7);
        late.absorb(Group::new(first.clone(), e(4), 2));
        waits.merge(late);
        assert_eq!((waits.len(), waits.systems()), (4, 2));
        let group = waits.groups.remove(0);
        assert_eq!(
            group.tasks().collect::<Vec<_>>(),
            [(e(4), 2), (e(1), 5), (e(3), 7)]
        );
    }

    #[test]
    fn removed_waiters_leave_holes_until_holes_outnumber_them() {
        let mut group = Group::new(a_home(), e(1), 1);
        for i in 2..=4 {
            group.absorb(Group::new(group.home.clone(), e(i), u64::from(i)));
        }
        assert!(group.remove(e(2), 2));
        assert!(!group.remove(e(2), 2), "already gone");
        assert!(!group.remove(e(3), 4), "the ticket belongs to another task");
        assert_eq!(group.waiters.len(), 4, "one hole is kept");
        assert!(group.remove(e(3), 3));
        assert!(group.remove(e(4), 4));
        assert_eq!(
            group.waiters.len(),
            1,
            "compacted once holes outnumber the waiters"
        );
        assert_eq!(group.tasks().collect::<Vec<_>>(), [(e(1), 1)]);
    }
}
