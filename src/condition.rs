//! Condition waits: systems returning `bool`, polled once per frame while a task waits on them.

use alloc::{boxed::Box, format, sync::Arc, vec::Vec};
use bevy_ecs::{entity::Entity, resource::Resource, system::System, world::World};
use std::sync::Mutex;

use crate::{
    Failure, lifecycle,
    lifecycle::Ticket,
    wait::{Registered, Registration},
};

type Condition = Box<dyn System<In = (), Out = bool>>;

/// Where a condition's system lives while no task waits on it: a [`Wait::until`](crate::Wait::until)
/// and its clones share one system (and its state), lent to one waiting task at a time.
pub(crate) type Home = Arc<Mutex<Option<(Condition, bool)>>>;

pub(crate) fn home(system: Condition) -> Home {
    Arc::new(Mutex::new(Some((system, false))))
}

struct Entry {
    task: Entity,
    ticket: Ticket,
    system: Condition,
    home: Home,
}

impl Entry {
    /// Returns the system to its home, initialized.
    fn release(self) {
        *lock(&self.home) = Some((self.system, true));
    }
}

fn lock(home: &Home) -> std::sync::MutexGuard<'_, Option<(Condition, bool)>> {
    home.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The pending condition waits. Empty (and not polled) when no task waits on a condition.
#[derive(Resource, Default)]
pub(crate) struct ConditionWaits(Vec<Entry>);

impl ConditionWaits {
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

fn poll(world: &mut World, system: &mut Condition) -> Result<bool, Failure> {
    system
        .run((), world)
        .map_err(|e| Failure::msg(format!("condition {} cannot run: {e}", system.name())))
}

pub(crate) fn register(world: &mut World, task: Entity, ticket: Ticket, home: &Home) -> Registered {
    let Some((mut system, initialized)) = lock(home).take() else {
        return Registered::Now(Err(Failure::msg(
            "this condition wait is in use by another task: build one Wait::until per task",
        )));
    };
    if !initialized {
        system.initialize(world);
    }
    let entry = Entry {
        task,
        ticket,
        system,
        home: home.clone(),
    };
    poll_entry(world, entry)
}

fn poll_entry(world: &mut World, mut entry: Entry) -> Registered {
    match poll(world, &mut entry.system) {
        Ok(false) => {
            let ticket = entry.ticket;
            world.get_resource_or_init::<ConditionWaits>().0.push(entry);
            Registered::Pending(Registration::Remove(remove, ticket))
        }
        Ok(true) => {
            entry.release();
            Registered::Now(Ok(()))
        }
        Err(f) => {
            entry.release();
            Registered::Now(Err(f))
        }
    }
}

fn remove(world: &mut World, task: Entity, ticket: Ticket) {
    let Some(mut waits) = world.get_resource_mut::<ConditionWaits>() else {
        return;
    };
    if let Some(i) = waits
        .0
        .iter()
        .position(|e| e.task == task && e.ticket == ticket)
    {
        waits.0.remove(i).release();
    }
}

/// Polls every pending condition once, in registration order, and resolves the true ones.
pub(crate) fn wake_conditions(world: &mut World) {
    let Some(mut waits) = world.get_resource_mut::<ConditionWaits>() else {
        return;
    };
    if waits.0.is_empty() {
        return;
    }
    let entries = core::mem::take(&mut waits.0);
    let mut kept = Vec::with_capacity(entries.len());
    let mut settled = Vec::new();
    for mut entry in entries {
        let result = match poll(world, &mut entry.system) {
            Ok(false) => {
                kept.push(entry);
                continue;
            }
            Ok(true) => Ok(()),
            Err(f) => Err(f),
        };
        settled.push((entry.task, entry.ticket, result));
        entry.release();
    }
    let mut waits = world.resource_mut::<ConditionWaits>();
    kept.append(&mut waits.0);
    waits.0 = kept;
    for (task, ticket, result) in settled {
        lifecycle::resolve(world, task, ticket, result);
    }
}
