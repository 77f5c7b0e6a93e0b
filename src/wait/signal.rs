//! [`Signal`]: the Deferred analogue, fired or failed by game code.

use alloc::vec::Vec;
use bevy_ecs::{
    component::Component, entity::Entity, lifecycle::HookContext, world::DeferredWorld,
    world::World,
};

use crate::{
    error::TaskError,
    outcome::Failure,
    wait::seam::{Resolution, Ticket, resolve_later},
    wait::{Wait, WaitKind},
};

impl Wait {
    /// Until the signal fires (or fails, failing the task).
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// let world = app.world_mut();
    /// let bridge_lowered = world.spawn_signal();
    /// let caravan = world.cooperate([Wait::signal(bridge_lowered)].into_iter());
    /// app.update();
    /// assert!(app.world().get::<Paused>(caravan).is_some());
    /// app.world_mut().fire_signal(bridge_lowered).unwrap();
    /// app.update();
    /// assert!(app.world().get_entity(caravan).is_err()); // across and done
    /// ```
    pub fn signal(signal: Signal) -> Self {
        Wait::new(WaitKind::Signal(signal))
    }
}

/// A handle to a one-shot event that tasks can wait for: Twisted's `Deferred`.
///
/// Game code [fires](crate::CooperateWorldExt::fire_signal) it, and every task waiting on it
/// resumes; or [fails](crate::CooperateWorldExt::fail_signal) it, and every task waiting on it
/// fails with that error. A signal settles once. Waiting on a signal that already fired resumes at
/// once (at the back of the run queue); on one that failed, fails at once.
///
/// A signal is an entity; despawning it while tasks wait fails them (nothing hangs).
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
/// let world = app.world_mut();
/// let boss_defeated = world.spawn_signal();
/// world.fire_signal(boss_defeated).unwrap();
/// // Waiting on a signal that already fired resumes at once.
/// let late = world.cooperate([Wait::signal(boss_defeated)].into_iter());
/// // Despawning a signal fails its waiters.
/// let lost = world.spawn_signal();
/// let waiter = world.cooperate([Wait::signal(lost)].into_iter());
/// world.entity_mut(waiter).insert(RetainFinished);
/// app.update();
/// assert!(app.world().get_entity(late).is_err()); // done
/// app.world_mut().despawn(lost.entity());
/// app.update();
/// let outcome = app.world().task_outcome(waiter).unwrap();
/// let why = outcome.failure().unwrap().downcast_ref::<TaskError>();
/// assert_eq!(why, Some(&TaskError::NoSuchSignal(lost.entity())));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(pub(crate) Entity);

impl Signal {
    /// The signal's entity (see [`from_entity`](Self::from_entity)).
    pub fn entity(self) -> Entity {
        self.0
    }

    /// The signal held by `entity`, if it holds one.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// #[derive(Component)]
    /// struct Lever;
    ///
    /// let world = app.world_mut();
    /// let pulled = world.spawn_signal();
    /// // Store the handle as an entity (say, in a save file), and find the signal again.
    /// world.entity_mut(pulled.entity()).insert(Lever);
    /// let gate = world.cooperate([Wait::signal(pulled)].into_iter());
    /// app.update();
    /// let world = app.world_mut();
    /// let lever = world.query_filtered::<Entity, With<Lever>>().single(world).unwrap();
    /// let signal = Signal::from_entity(world, lever).unwrap();
    /// assert_eq!(signal, pulled);
    /// world.fire_signal(signal).unwrap();
    /// app.update();
    /// assert!(app.world().get_entity(gate).is_err());
    /// let rock = app.world_mut().spawn_empty().id();
    /// assert_eq!(Signal::from_entity(app.world(), rock), None);
    /// ```
    pub fn from_entity(world: &World, entity: Entity) -> Option<Signal> {
        world.get::<SignalState>(entity).map(|_| Signal(entity))
    }
}

/// Where a [`Signal`] stands: read it from its [`SignalState`] (see its example).
#[derive(Clone, Debug)]
pub enum SignalStatus {
    /// Not fired yet.
    Pending,
    /// Fired: waiting on it succeeds.
    Fired,
    /// Failed: waiting on it fails with this.
    Failed(Failure),
}

/// The component of a [`Signal`] entity.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::{SignalState, SignalStatus, prelude::*};
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
/// let world = app.world_mut();
/// let dawn = world.spawn_signal();
/// // Three villagers wait for dawn.
/// for _ in 0..3 {
///     world.cooperate([Wait::signal(dawn)].into_iter());
/// }
/// app.update();
/// let state = app.world().get::<SignalState>(dawn.entity()).unwrap();
/// assert!(matches!(state.status(), SignalStatus::Pending));
/// assert_eq!(state.waiting(), 3);
/// app.world_mut().fire_signal(dawn).unwrap();
/// let state = app.world().get::<SignalState>(dawn.entity()).unwrap();
/// assert!(matches!(state.status(), SignalStatus::Fired));
/// assert_eq!(state.waiting(), 0);
///
/// let storm = app.world_mut().spawn_signal();
/// app.world_mut().fail_signal(storm, "flooded").unwrap();
/// let status = app.world().get::<SignalState>(storm.entity()).unwrap().status();
/// assert!(matches!(status, SignalStatus::Failed(f) if f.to_string() == "flooded"));
/// ```
#[derive(Component, Debug)]
#[component(on_remove = on_signal_remove)]
pub struct SignalState {
    status: SignalStatus,
    waiters: Vec<(Entity, Ticket)>,
}

impl SignalState {
    /// Where it stands. See the example on [`SignalState`].
    pub fn status(&self) -> &SignalStatus {
        &self.status
    }

    /// How many tasks wait on it. See the example on [`SignalState`].
    pub fn waiting(&self) -> usize {
        self.waiters.len()
    }
}

pub(crate) fn spawn(world: &mut World) -> Signal {
    Signal(world.spawn(new_state()).id())
}

pub(crate) fn new_state() -> SignalState {
    SignalState {
        status: SignalStatus::Pending,
        waiters: Vec::new(),
    }
}

/// Settles a signal; returns its waiters' resolutions, in registration order.
pub(crate) fn settle(
    world: &mut World,
    signal: Signal,
    result: Result<(), Failure>,
) -> Result<Vec<Resolution>, TaskError> {
    let mut state = world
        .get_mut::<SignalState>(signal.0)
        .ok_or(TaskError::NoSuchSignal(signal.0))?;
    if !matches!(state.status, SignalStatus::Pending) {
        return Err(TaskError::SignalSettled(signal.0));
    }
    state.status = match &result {
        Ok(()) => SignalStatus::Fired,
        Err(f) => SignalStatus::Failed(f.clone()),
    };
    let waiters = core::mem::take(&mut state.waiters);
    Ok(waiters
        .into_iter()
        .map(|(task, ticket)| Resolution::new(task, ticket, result.clone()))
        .collect())
}

/// Registers a waiting task; returns the result at once when the signal already settled.
pub(crate) fn register(
    world: &mut World,
    signal: Signal,
    task: Entity,
    ticket: Ticket,
) -> Option<Result<(), Failure>> {
    let Some(mut state) = world.get_mut::<SignalState>(signal.0) else {
        return Some(Err(Failure::new(TaskError::NoSuchSignal(signal.0))));
    };
    match &state.status {
        SignalStatus::Pending => {
            state.waiters.push((task, ticket));
            None
        }
        SignalStatus::Fired => Some(Ok(())),
        SignalStatus::Failed(f) => Some(Err(f.clone())),
    }
}

/// Removes a task's pending wait from a signal.
pub(crate) fn unregister(world: &mut World, signal: Signal, task: Entity) {
    if let Some(mut state) = world.get_mut::<SignalState>(signal.0) {
        state.waiters.retain(|&(t, _)| t != task);
    }
}

/// A signal despawned before it settled fails its waiters.
fn on_signal_remove(mut world: DeferredWorld, ctx: HookContext) {
    let entity = ctx.entity;
    let Some(mut state) = world.get_mut::<SignalState>(entity) else {
        return;
    };
    let waiters = core::mem::take(&mut state.waiters);
    if waiters.is_empty() {
        return;
    }
    let failure = Failure::new(TaskError::NoSuchSignal(entity));
    let resolved = waiters
        .into_iter()
        .map(|(task, ticket)| Resolution::new(task, ticket, Err(failure.clone())))
        .collect();
    resolve_later(&mut world.commands(), resolved);
}
