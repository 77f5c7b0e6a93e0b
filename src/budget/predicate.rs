//! Twisted's `terminationPredicateFactory`: a predicate polled after every step, and the factory
//! that makes one per tick (a closure, or a Bevy system run with the world at hand).

use alloc::{boxed::Box, sync::Arc};
use bevy_ecs::{
    system::{BoxedSystem, IntoSystem},
    world::{World, WorldId},
};
use core::fmt;
use std::sync::Mutex;

use crate::error::lock;

/// A predicate polled after every step; `true` ends the tick.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::{Predicate, PredicateFactory, prelude::*};
/// // A factory may pick a different predicate each tick, boxed to one type.
/// let budget = Budget::Custom(PredicateFactory::new(|| -> Predicate {
///     let mut left = 2;
///     Box::new(move || {
///         left -= 1;
///         left == 0
///     })
/// }));
/// let mut app = App::new();
/// app.add_plugins(CooperatorPlugin::default().with_budget(budget));
/// let task = app.world_mut().cooperate(std::iter::repeat(()));
/// app.update();
/// assert_eq!(app.world().task_steps(task), Ok(2));
/// ```
pub type Predicate = Box<dyn FnMut() -> bool + Send>;

/// Builds a fresh [`Predicate`] at the start of every tick (Twisted's `terminationPredicateFactory`):
/// a closure, or a Bevy system that reads the world. [`Budget::custom`](super::Budget::custom) and [`Budget::system`](super::Budget::system)
/// build one for you; see their examples.
#[derive(Clone)]
pub struct PredicateFactory(Factory);

#[derive(Clone)]
enum Factory {
    Fn(Arc<dyn Fn() -> Predicate + Send + Sync>),
    System(Arc<Mutex<SystemSlot>>),
}

/// A system factory and the world it was initialized for.
struct SystemSlot {
    /// `None` while it runs (or after it panicked).
    system: Option<BoxedSystem<(), Predicate>>,
    world: Option<WorldId>,
}

impl PredicateFactory {
    /// Wraps a factory.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::{PredicateFactory, prelude::*};
    /// // Pathfinding expands at most 6 nodes a frame, each node a step.
    /// let factory = PredicateFactory::new(|| {
    ///     let mut nodes = 0;
    ///     move || {
    ///         nodes += 1;
    ///         nodes >= 6
    ///     }
    /// });
    /// let mut app = App::new();
    /// app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Custom(factory)));
    /// let search = app.world_mut().cooperate(std::iter::repeat(()));
    /// app.update();
    /// assert_eq!(app.world().task_steps(search), Ok(6));
    /// ```
    pub fn new<P>(factory: impl Fn() -> P + Send + Sync + 'static) -> Self
    where
        P: FnMut() -> bool + Send + 'static,
    {
        PredicateFactory(Factory::Fn(Arc::new(move || {
            Box::new(factory()) as Predicate
        })))
    }

    /// A factory that is a Bevy system: it may read `Res<Time>`, `Res<Time<Real>>`, settings,
    /// diagnostics — anything a system can — and returns the tick's predicate. See
    /// [`Budget::system`](super::Budget::system), which wraps it, for an example.
    pub fn system<P, M>(system: impl IntoSystem<(), P, M>) -> Self
    where
        P: FnMut() -> bool + Send + 'static,
    {
        let system = IntoSystem::into_system(system.map(|p: P| Box::new(p) as Predicate));
        PredicateFactory(Factory::System(Arc::new(Mutex::new(SystemSlot {
            system: Some(Box::new(system)),
            world: None,
        }))))
    }

    /// The predicate for this tick. A system factory that cannot run (it belongs to another
    /// world, its parameters are missing, it panicked before) gives a predicate that ends the
    /// tick after one step, and says why in the log.
    pub(crate) fn build(&self, world: &mut World) -> Predicate {
        match &self.0 {
            Factory::Fn(f) => f(),
            Factory::System(slot) => run_factory(slot, world).unwrap_or_else(|why| {
                log::warn!("bevy_cooperator: a budget's predicate system cannot run: {why}");
                Box::new(|| true)
            }),
        }
    }
}

fn run_factory(
    slot: &Mutex<SystemSlot>,
    world: &mut World,
) -> Result<Predicate, alloc::string::String> {
    let mut system = {
        let mut slot = lock(slot);
        if slot.world.is_some_and(|id| id != world.id()) {
            return Err("it belongs to another world: build one per world".into());
        }
        let mut system = slot
            .system
            .take()
            .ok_or_else(|| alloc::string::String::from("it panicked in an earlier tick"))?;
        if slot.world.is_none() {
            slot.world = Some(world.id());
            drop(slot);
            system.initialize(world);
        }
        system
    };
    let result = system.run((), world).map_err(|e| alloc::format!("{e}"));
    system.apply_deferred(world);
    lock(slot).system = Some(system);
    result
}

impl fmt::Debug for PredicateFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PredicateFactory(..)")
    }
}
