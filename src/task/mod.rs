//! The task component, [`CooperativeTask`], and its markers [`Paused`] and [`RetainFinished`].

pub(crate) mod announce;
pub(crate) mod cycle;
pub(crate) mod family;
pub(crate) mod follow;
pub(crate) mod lifecycle;
pub(crate) mod progress;
pub(crate) mod resolve;
pub(crate) mod result;
pub(crate) mod state;
pub(crate) mod stats;
pub(crate) mod waiting;
pub(crate) mod waits;

use alloc::{boxed::Box, vec::Vec};
use bevy_app::App;
use bevy_ecs::{component::Component, entity::Entity};

use crate::{
    error::TaskError, outcome::Outcome, run_queue::NIL, task::state::State, wait::seam::Ticket,
    work::Work,
};

/// The lifecycle's verbs that the parts of `task/` below it use: a failed wait fails its task, a
/// race's losing tasks stop, a parent starts its children and they stop with it. `lifecycle.rs`
/// implements it for the world; it is declared here so that the imports inside `task/` run one
/// way (resolving a wait may finish a task, and finishing a task resolves the waits on it).
pub(crate) trait Lifecycle {
    /// Makes `entity` a task of `cooperator` (see `lifecycle::attach`).
    fn attach_task(
        &mut self,
        entity: Entity,
        cooperator: Entity,
        work: Box<dyn Work>,
        standalone: bool,
    );

    /// Ends a live task with `outcome`; nothing for a finished or missing one (see
    /// `lifecycle::finish`).
    fn finish_task(&mut self, entity: Entity, outcome: Outcome);
}

/// Registers what the task part keeps.
pub(crate) fn build(app: &mut App) {
    app.init_resource::<lifecycle::FinishedTasks>()
        .init_resource::<announce::UnhandledFailures>();
}

/// A task: resumable work owned by a [`Cooperator`](crate::Cooperator).
///
/// Made by `cooperate(work)` / `cooperate_on(cooperator, work)` (a new entity) or by attaching work
/// to an existing entity (see [`CooperateEntityCommandsExt`](crate::CooperateEntityCommandsExt)).
/// The component cannot be built by hand.
///
/// # Lifecycle
/// runnable → (paused ↔ runnable)* → finished. A finished task fires [`TaskFinished`](crate::TaskFinished)
/// once, then at the end of the frame ([`CooperatorSystems::Cleanup`](crate::CooperatorSystems))
/// a standalone task entity is despawned and an attached task's component is removed, unless the
/// entity holds [`RetainFinished`]. Despawning the entity, or removing this component, stops the
/// task ([`Outcome::Stopped`]) and settles everything waiting for it.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # use bevy_ecs::prelude::*;
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
/// let world = app.world_mut();
/// let global = world.resource::<GlobalCooperator>().0;
/// let alarm = world.spawn_signal();
/// let patrol = world.cooperate([Wait::signal(alarm)].into_iter());
/// world.entity_mut(patrol).insert(RetainFinished);
/// app.update();
///
/// let task = app.world().get::<CooperativeTask>(patrol).unwrap();
/// assert_eq!(task.cooperator(), global);
/// assert!(task.is_standalone()); // spawned for the task: despawned when it ends
/// assert!(task.is_waiting());
/// assert_eq!(task.pause_count(), 1); // the wait's pause
/// assert!(!task.is_finished());
///
/// app.world_mut().fire_signal(alarm).unwrap();
/// app.update();
/// let task = app.world().get::<CooperativeTask>(patrol).unwrap();
/// assert!(task.is_finished());
/// assert_eq!(task.outcome(), Some(&Outcome::Done));
/// ```
#[derive(Component)]
#[component(on_remove = lifecycle::on_task_remove)]
pub struct CooperativeTask {
    cooperator: Entity,
    slot: u32,
    /// Pauses, whether its own wait is pending, whether it ended, whether its entity is its own.
    state: State,
    /// Its own wait, pending (see [`waits`]).
    own: Option<waits::Own>,
    /// What few tasks have, or have only once they ended, in a box made on first use, so that a
    /// live task is small (48 bytes): who waits for it, whom it owns, how it ended, the waits its
    /// script awaits.
    rest: Option<Box<Rest>>,
}

/// What a task has in its box (see [`CooperativeTask`]).
#[derive(Default)]
struct Rest {
    family: Family,
    /// How it ended.
    outcome: Option<Outcome>,
    /// Steps run, once it has finished (until then the run queue counts them; read them with
    /// [`CooperateWorldExt::task_steps`](crate::CooperateWorldExt::task_steps)).
    steps: u64,
    /// The waits its script awaits, and the last race's winner.
    more: waits::More,
}

/// The tasks a task is tied to: those waiting for it to finish, the one that owns it and those
/// it owns.
#[derive(Default)]
struct Family {
    /// Tasks waiting for this one to finish, with their wait tickets, in registration order.
    waiters: Vec<(Entity, Ticket)>,
    /// The task that started this one and owns it (see [`StepContext::cooperate`](crate::StepContext::cooperate)).
    parent: Option<Entity>,
    /// Live tasks this one started and owns: stopped when it finishes.
    children: Vec<Entity>,
}

impl core::fmt::Debug for CooperativeTask {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CooperativeTask")
            .field("cooperator", &self.cooperator)
            .field("pause_count", &self.state.pause_count())
            .field("waiting", &self.state.is_waiting())
            .field("outcome", &self.outcome())
            .finish_non_exhaustive()
    }
}

impl CooperativeTask {
    pub(crate) fn new(cooperator: Entity, standalone: bool) -> Self {
        CooperativeTask {
            cooperator,
            slot: NIL,
            state: State::new(standalone),
            own: None,
            rest: None,
        }
    }

    /// Its box, made on first use.
    fn rest_mut(&mut self) -> &mut Rest {
        self.rest.get_or_insert_with(Box::default)
    }

    /// Its family, made on first use.
    fn family_mut(&mut self) -> &mut Family {
        &mut self.rest_mut().family
    }

    /// Its family, if it has one.
    fn family(&self) -> Option<&Family> {
        self.rest.as_ref().map(|r| &r.family)
    }

    /// Its family to change, if it has one.
    fn family_if_any(&mut self) -> Option<&mut Family> {
        self.rest.as_mut().map(|r| &mut r.family)
    }

    /// A user pause; a finished task cannot be paused.
    fn add_pause(&mut self) -> Result<state::Queue, TaskError> {
        self.state
            .add_pause()
            // A finished task always has its outcome (see `finish`).
            .map_err(|state::Finished| self.outcome().map_or(TaskError::NotPaused, Outcome::error))
    }

    /// The task ends with `outcome` (nothing, for one that has already ended: its first outcome
    /// stands).
    fn finish(&mut self, outcome: Outcome) -> state::Queue {
        let queue = self.state.finish();
        if queue == state::Queue::Leave {
            self.rest_mut().outcome = Some(outcome);
        }
        queue
    }

    /// The cooperator that owns it. See the example on [`CooperativeTask`].
    pub fn cooperator(&self) -> Entity {
        self.cooperator
    }

    /// How it ended, once it has. See the example on [`CooperativeTask`].
    pub fn outcome(&self) -> Option<&Outcome> {
        self.rest.as_ref()?.outcome.as_ref()
    }

    /// Whether it has ended. See the example on [`CooperativeTask`].
    pub fn is_finished(&self) -> bool {
        !self.state.is_alive()
    }

    /// User pauses plus one while waiting. [`Paused`] is present exactly while this is above zero.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// let world = app.world_mut();
    /// let door = world.spawn_signal();
    /// let guard = world.cooperate([Wait::signal(door)].into_iter());
    /// app.update(); // waits for the door: one pause
    /// app.world_mut().pause_task(guard).unwrap(); // and one by the game
    /// let count = |app: &App| app.world().get::<CooperativeTask>(guard).unwrap().pause_count();
    /// assert_eq!(count(&app), 2);
    /// app.world_mut().fire_signal(door).unwrap();
    /// assert_eq!(count(&app), 1);
    /// assert!(app.world().get::<Paused>(guard).is_some());
    /// ```
    pub fn pause_count(&self) -> u32 {
        self.state.pause_count()
    }

    /// Whether it waits for a [`Wait`](crate::Wait) to be resolved. See the example on
    /// [`CooperativeTask`].
    pub fn is_waiting(&self) -> bool {
        self.state.is_waiting()
    }

    /// Whether the task entity was spawned for it (and is despawned when it ends).
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// let world = app.world_mut();
    /// let npc = world.spawn_empty().cooperate(std::iter::repeat(())).id();
    /// let job = world.cooperate(std::iter::repeat(()));
    /// app.update();
    /// assert!(!app.world().get::<CooperativeTask>(npc).unwrap().is_standalone());
    /// assert!(app.world().get::<CooperativeTask>(job).unwrap().is_standalone());
    /// app.world_mut().stop_task(npc).unwrap();
    /// app.update();
    /// assert!(app.world().get_entity(npc).is_ok()); // the NPC stays, its task is gone
    /// assert!(app.world().get::<CooperativeTask>(npc).is_none());
    /// ```
    pub fn is_standalone(&self) -> bool {
        self.state.is_standalone()
    }

    /// The index (in the list given to [`Wait::race`](crate::Wait::race)) of the wait that won the
    /// last race this task waited on.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// let world = app.world_mut();
    /// let [red, blue] = [world.spawn_signal(), world.spawn_signal()];
    /// // Which team captures the flag first?
    /// let referee = world.cooperate(
    ///     [Step::Wait(Wait::race([Wait::signal(red), Wait::signal(blue)])), Step::Continue]
    ///         .into_iter(),
    /// );
    /// app.update();
    /// app.world_mut().fire_signal(blue).unwrap();
    /// let task = app.world().get::<CooperativeTask>(referee).unwrap();
    /// assert_eq!(task.race_winner(), Some(1));
    /// ```
    pub fn race_winner(&self) -> Option<usize> {
        self.winner().map(|w| w as usize)
    }

    /// The task that started this one and owns it, if any.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
    /// let mut started = None;
    /// let boss = app.world_mut().cooperate(from_fn(move |cx: &mut StepContext| {
    ///     // The boss fight spawns its minion wave once, as a child it owns.
    ///     started.get_or_insert_with(|| cx.cooperate(std::iter::repeat(())));
    /// }));
    /// app.update();
    /// let children = app.world().get::<CooperativeTask>(boss).unwrap().children().to_vec();
    /// assert_eq!(children.len(), 1);
    /// let wave = app.world().get::<CooperativeTask>(children[0]).unwrap();
    /// assert_eq!(wave.parent(), Some(boss));
    /// // The boss is defeated: its minions go with it.
    /// app.world_mut().stop_task(boss).unwrap();
    /// app.update();
    /// assert!(app.world().get_entity(children[0]).is_err());
    /// ```
    pub fn parent(&self) -> Option<Entity> {
        self.family().and_then(|f| f.parent)
    }

    /// The live tasks this one started and owns; they are stopped when it finishes. See the
    /// example on [`parent`](Self::parent).
    pub fn children(&self) -> &[Entity] {
        self.family().map_or(&[], |f| &f.children)
    }

    pub(crate) fn is_alive(&self) -> bool {
        self.state.is_alive()
    }

    /// Its node in its cooperator's run queue (`NIL` once it has finished).
    pub(crate) fn slot(&self) -> u32 {
        self.slot
    }

    /// The steps it ran, once it has finished (until then the run queue counts them).
    pub(crate) fn finished_steps(&self) -> u64 {
        self.rest.as_ref().map_or(0, |r| r.steps)
    }

    /// Its cooperator and its node there.
    fn place(&self) -> (Entity, u32) {
        (self.cooperator, self.slot)
    }
}

/// Present on a task exactly while its pause count is above zero (user pauses and pending waits).
/// A paused task costs nothing per frame.
///
/// Prefer [`pause_task`](crate::CooperateWorldExt::pause_task) and
/// [`resume_task`](crate::CooperateWorldExt::resume_task). Inserting the marker by hand counts as
/// one pause; removing it by hand clears every user pause (a pending wait stays pending and the
/// marker comes back); inserting it on a finished, unpaused task is undone at the next command
/// flush. The count is never corrupted either way.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # use bevy_ecs::prelude::*;
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
/// let weather = app.world_mut().cooperate(std::iter::repeat(()));
/// app.world_mut().pause_task(weather).unwrap();
/// // A system can find paused tasks with a query.
/// let mut paused = app.world_mut().query_filtered::<Entity, With<Paused>>();
/// assert_eq!(paused.iter(app.world()).collect::<Vec<_>>(), [weather]);
/// app.update();
/// assert_eq!(app.world().task_steps(weather), Ok(0));
/// // Removing the marker by hand clears the pauses.
/// app.world_mut().entity_mut(weather).remove::<Paused>();
/// app.update();
/// assert_eq!(app.world().task_steps(weather), Ok(1));
/// ```
#[derive(Component, Debug, Default, Clone, Copy)]
#[component(
    storage = "SparseSet",
    on_insert = lifecycle::on_paused_insert,
    on_remove = lifecycle::on_paused_remove
)]
pub struct Paused;

/// Keeps a finished task (its entity and [`CooperativeTask`]) instead of cleaning it up at the end
/// of the frame, so its outcome can be read later with [`CooperativeTask::outcome`].
/// Despawn it yourself when done.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # use bevy_ecs::prelude::*;
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
/// let world = app.world_mut();
/// let autosave = world.cooperate((0..2).map(|_| ()));
/// world.entity_mut(autosave).insert(RetainFinished);
/// let forgotten = world.cooperate((0..2).map(|_| ()));
/// app.update();
/// app.update();
/// assert!(app.world().get_entity(forgotten).is_err());
/// let task = app.world().get::<CooperativeTask>(autosave).unwrap();
/// assert_eq!(task.outcome(), Some(&Outcome::Done));
/// app.world_mut().despawn(autosave);
/// ```
#[derive(Component, Debug, Default, Clone, Copy)]
pub struct RetainFinished;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_is_48_bytes() {
        // What a live task carries in its table row: its own wait is inline (a box made at each
        // wait cost a frame-wait wake 40-50 % more here); what few tasks have is boxed.
        assert_eq!(size_of::<CooperativeTask>(), 48);
        assert_eq!(size_of::<crate::wait::registration::Registration>(), 16);
        assert_eq!(size_of::<waits::Own>(), 24);
        assert_eq!(size_of::<Option<waits::Own>>(), 24);
        assert_eq!(size_of::<State>(), 4);
    }
}
