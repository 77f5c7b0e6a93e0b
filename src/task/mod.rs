//! The task component, [`CooperativeTask`], and its markers [`Paused`] and [`RetainFinished`].

pub(crate) mod lifecycle;
pub(crate) mod progress;
pub(crate) mod report;
pub(crate) mod result;
pub(crate) mod stats;
pub(crate) mod waiting;

use alloc::vec::Vec;
use bevy_app::App;
use bevy_ecs::{component::Component, entity::Entity};

use crate::{
    cooperator::FinishDrained,
    outcome::Outcome,
    run_queue::NIL,
    wait::seam::{Resolver, Ticket},
};

/// Registers what the task part keeps, and how wait sources reach the lifecycle.
pub(crate) fn build(app: &mut App) {
    app.init_resource::<lifecycle::FinishedTasks>()
        .init_resource::<report::UnhandledFailures>()
        .insert_resource(Resolver(lifecycle::resolve_all))
        .insert_resource(FinishDrained(lifecycle::finish_drained));
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
#[derive(Component)]
#[component(on_remove = lifecycle::on_task_remove)]
pub struct CooperativeTask {
    pub(crate) cooperator: Entity,
    pub(crate) slot: u32,
    pub(crate) pause_count: u32,
    pub(crate) outcome: Option<Outcome>,
    /// Ticket of the pending wait, if the task is waiting.
    pub(crate) wait: Option<Ticket>,
    /// Tasks waiting for this one to finish, with their wait tickets, in registration order.
    pub(crate) waiters: Vec<(Entity, Ticket)>,
    pub(crate) standalone: bool,
    /// Steps run, once it has finished (until then the run queue counts them; read them with
    /// [`CooperateWorldExt::task_steps`](crate::CooperateWorldExt::task_steps)).
    pub(crate) steps: u64,
    /// What the pending wait left at its source, and what its resolution delivered.
    pub(crate) waiting: waiting::WaitState,
    /// The task that started this one and owns it (see [`StepContext::cooperate`](crate::StepContext::cooperate)).
    pub(crate) parent: Option<Entity>,
    /// Live tasks this one started and owns: stopped when it finishes.
    pub(crate) children: Vec<Entity>,
}

impl core::fmt::Debug for CooperativeTask {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CooperativeTask")
            .field("cooperator", &self.cooperator)
            .field("pause_count", &self.pause_count)
            .field("waiting", &self.wait.is_some())
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

impl CooperativeTask {
    pub(crate) fn new(cooperator: Entity, standalone: bool) -> Self {
        CooperativeTask {
            cooperator,
            slot: NIL,
            pause_count: 0,
            outcome: None,
            wait: None,
            waiters: Vec::new(),
            standalone,
            steps: 0,
            waiting: waiting::WaitState::default(),
            parent: None,
            children: Vec::new(),
        }
    }

    /// The cooperator that owns it.
    pub fn cooperator(&self) -> Entity {
        self.cooperator
    }

    /// How it ended, once it has.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// Whether it has ended.
    pub fn is_finished(&self) -> bool {
        self.outcome.is_some()
    }

    /// User pauses plus one while waiting. [`Paused`] is present exactly while this is above zero.
    pub fn pause_count(&self) -> u32 {
        self.pause_count
    }

    /// Whether it waits for a [`Wait`](crate::Wait) to be resolved.
    pub fn is_waiting(&self) -> bool {
        self.wait.is_some()
    }

    /// Whether the task entity was spawned for it (and is despawned when it ends).
    pub fn is_standalone(&self) -> bool {
        self.standalone
    }

    /// The index (in the list given to [`Wait::race`](crate::Wait::race)) of the wait that won the
    /// last race this task waited on.
    pub fn race_winner(&self) -> Option<usize> {
        self.waiting.winner.map(|w| w as usize)
    }

    /// The task that started this one and owns it, if any.
    pub fn parent(&self) -> Option<Entity> {
        self.parent
    }

    /// The live tasks this one started and owns; they are stopped when it finishes.
    pub fn children(&self) -> &[Entity] {
        &self.children
    }

    pub(crate) fn is_alive(&self) -> bool {
        self.outcome.is_none()
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
#[derive(Component, Debug, Default, Clone, Copy)]
pub struct RetainFinished;
