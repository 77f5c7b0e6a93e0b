//! The context a script's futures share, [`ScriptContext`], and the ask/answer protocol between
//! them and the script's work: a future that needs the world, or a wait, asks once under an id
//! ([`Request`]); the work serves it and leaves the answer in what they share ([`Shared`]),
//! waking the future, which takes it.

use alloc::{boxed::Box, sync::Arc, vec::Vec};
use bevy_ecs::{entity::Entity, world::World};
use core::{any::Any, task::Waker};
use std::sync::Mutex;

use crate::{
    error::lock,
    outcome::Failure,
    wait::{Wait, seam::Ticket},
};

/// Which crate future of a script asked: its answer comes back under the same id.
pub(super) type Id = u64;

pub(super) type WorldFn = Box<dyn FnOnce(&mut World) -> Box<dyn Any + Send> + Send>;

/// What a crate future gets back: a world access's result, or what a resolved wait yields.
pub(super) type Answer = Result<Box<dyn Any + Send>, Failure>;

/// Turns a resolved wait (its result, a race's winner) into its future's answer, with the world at
/// hand and the task's entity (a joined task's result is taken from it).
pub(super) type Collect =
    Box<dyn FnOnce(&mut World, Entity, Result<(), Failure>, Option<u32>) -> Answer + Send + Sync>;

/// What a crate future asks of the script's [`Work`] when it returns `Pending`.
pub(super) enum Request {
    World(Id, WorldFn),
    Wait(Id, Wait, Collect),
}

/// What a script's crate futures and its [`Work`] share. Any number of crate futures may be
/// pending at once (`join!`, `select!`, `FuturesUnordered`): each has an id, asks once, and finds
/// its answer here.
#[derive(Default)]
pub(super) struct Shared {
    pub(super) task: Option<Entity>,
    pub(super) next_id: Id,
    /// Asked since the work last looked, in order.
    pub(super) requests: Vec<Request>,
    /// A `yield_now` since the work last looked.
    pub(super) yielded: bool,
    /// Answers not yet taken by their futures.
    pub(super) answers: Vec<(Id, Answer)>,
    /// Waits begun and not yet resolved: the future's id and the wait's ticket.
    pub(super) pending: Vec<(Id, Ticket)>,
    /// The waker of each future that waits for its answer.
    pub(super) wakers: Vec<(Id, Waker)>,
    /// Futures dropped before their answer came (their waits are cancelled).
    pub(super) dropped: Vec<Id>,
}

impl Shared {
    /// Stores `id`'s answer and wakes its future.
    pub(super) fn answer(&mut self, id: Id, answer: Answer) {
        self.answers.push((id, answer));
        if let Some(i) = self.wakers.iter().position(|(w, _)| *w == id) {
            self.wakers.swap_remove(i).1.wake();
        }
    }
}

impl Request {
    pub(super) fn id(&self) -> Id {
        match self {
            Request::World(id, _) | Request::Wait(id, ..) => *id,
        }
    }
}

/// The handle an async [`script`](crate::script) uses to reach the game: world access, waits, yields, child
/// tasks. Cheap to clone; every clone talks to the same task.
///
/// Any number of its futures may be pending at once: `futures::join!`, `select!`, `zip` and
/// `FuturesUnordered` work as in any async Rust. The task is paused exactly while nothing it
/// awaits is ready, and a dropped future (a `select!`'s loser) cancels its wait at the source.
/// Awaiting these futures outside the script they were given to does nothing useful.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # use bevy_ecs::prelude::*;
/// #[derive(Resource, Default)]
/// struct Subtitle(&'static str);
///
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
/// # app.init_resource::<Subtitle>();
/// let cutscene = app.world_mut().cooperate(script(|cx| async move {
///     for line in ["Halt!", "Who goes there?"] {
///         cx.with_resource(move |s: &mut Subtitle| s.0 = line).await?;
///         cx.frames(2).await?; // each line stays up two frames
///     }
///     cx.with_resource(|s: &mut Subtitle| s.0 = "").await
/// }));
/// app.update();
/// assert_eq!(app.world().resource::<Subtitle>().0, "Halt!");
/// app.update();
/// app.update();
/// assert_eq!(app.world().resource::<Subtitle>().0, "Who goes there?");
/// app.update();
/// app.update();
/// assert_eq!(app.world().resource::<Subtitle>().0, "");
/// assert!(app.world().get_entity(cutscene).is_err()); // done
/// ```
#[derive(Clone)]
pub struct ScriptContext {
    pub(super) shared: Arc<Mutex<Shared>>,
}

impl ScriptContext {
    /// A context of its own for a new script.
    pub(super) fn new() -> Self {
        ScriptContext {
            shared: Arc::new(Mutex::new(Shared::default())),
        }
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        lock(&self.shared)
    }

    /// The script's own task entity.
    ///
    /// # Panics
    /// If called before the script's first step (the future is built before the task exists).
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// #[derive(Component)]
    /// struct Health(u32);
    ///
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// // A script attached to an NPC: its task is the NPC itself.
    /// let npc = app.world_mut().spawn(Health(50)).id();
    /// app.world_mut().entity_mut(npc).cooperate(script(|cx| async move {
    ///     let me = cx.task(); // inside the future: known from the first step on
    ///     cx.with_component(me, |hp: &mut Health| hp.0 += 10).await
    /// }));
    /// app.update();
    /// assert_eq!(app.world().get::<Health>(npc).unwrap().0, 60);
    /// ```
    pub fn task(&self) -> Entity {
        self.lock()
            .task
            .expect("the script's task is known from its first step")
    }

    /// Asks the script's work for something; returns the id its answer will come under.
    pub(super) fn ask(&self, request: impl FnOnce(Id) -> Request, waker: &Waker) -> Id {
        let mut shared = self.lock();
        let id = shared.next_id;
        shared.next_id += 1;
        shared.requests.push(request(id));
        shared.wakers.push((id, waker.clone()));
        id
    }

    /// `id`'s answer, if it came; else keeps `waker` to be woken when it does.
    pub(super) fn answer(&self, id: Id, waker: &Waker) -> Option<Answer> {
        let mut shared = self.lock();
        if let Some(i) = shared.answers.iter().position(|(a, _)| *a == id) {
            return Some(shared.answers.swap_remove(i).1);
        }
        if let Some((_, kept)) = shared.wakers.iter_mut().find(|(w, _)| *w == id) {
            if !kept.will_wake(waker) {
                kept.clone_from(waker);
            }
        } else {
            shared.wakers.push((id, waker.clone()));
        }
        None
    }

    /// A future that asked is dropped before taking its answer.
    pub(super) fn forget(&self, id: Id) {
        let mut shared = self.lock();
        shared.answers.retain(|(a, _)| *a != id);
        shared.wakers.retain(|(w, _)| *w != id);
        shared.dropped.push(id);
    }
}

/// A crate future's part in the protocol: the id it asked under, and forgetting it when dropped
/// before its answer came.
pub(super) struct Asked {
    cx: ScriptContext,
    id: Option<Id>,
}

impl Asked {
    pub(super) fn new(cx: &ScriptContext) -> Self {
        Asked {
            cx: cx.clone(),
            id: None,
        }
    }

    /// Asks once.
    pub(super) fn ask(&mut self, request: impl FnOnce(Id) -> Request, waker: &Waker) {
        self.id = Some(self.cx.ask(request, waker));
    }

    /// The answer, once it came.
    pub(super) fn answer(&mut self, waker: &Waker) -> Option<Answer> {
        let answer = self.cx.answer(self.id?, waker)?;
        self.id = None;
        Some(answer)
    }
}

impl Drop for Asked {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.cx.forget(id);
        }
    }
}
