//! One budget shared by several cooperators: [`FrameBudget`] and its [`Lane`]s.

use alloc::vec::Vec;
use bevy_ecs::{component::Component, entity::Entity};

use crate::budget::Budget;

/// One budget per frame shared by several [`Cooperator`](crate::Cooperator)s, its **lanes**.
///
/// Spawn it on an entity of its own. Each frame the lanes run in priority order, highest first;
/// lanes of equal priority split what is left by weight, in the order they are listed. A lane
/// that runs out of work hands its unused share to the lanes after it, this same frame. So a
/// high-priority lane (a cutscene) is never starved by a low one (background loading), and the
/// low one gets everything the high one leaves.
///
/// A lane's own [`Cooperator::budget`](crate::Cooperator::budget) is ignored while it is a lane;
/// everything else about it (start, stop, stats) is unchanged. As everywhere, a lane with a
/// runnable task runs at least one step per frame, even when its share is zero. A cooperator named
/// by several frame budgets belongs to the first one (in entity order).
///
/// Budgets are shared as follows: [`Budget::Time`], [`Budget::FrameFraction`] and
/// [`Budget::FillFrame`] (which fills the frame for all its lanes together) as time,
/// [`Budget::Steps`] as steps, [`Budget::Unlimited`] gives every lane no limit, and the predicate
/// of a [`Budget::Custom`] is built once per frame and polled by each lane in turn.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::{FrameBudget, prelude::*};
/// # use bevy_ecs::prelude::*;
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
/// let world = app.world_mut();
/// let cutscene = world.spawn(Cooperator::default()).id();
/// let loading = world.spawn(Cooperator::default()).id();
/// // 10 steps per frame (a real game shares time: `Budget::millis(2)`): the cutscene first,
/// // loading gets the rest.
/// world.spawn(
///     FrameBudget::new(Budget::Steps(10))
///         .with_lane(cutscene, 1, 1)
///         .with_lane(loading, 0, 1),
/// );
/// let camera = world.cooperate_on(cutscene, (0..3).map(|_| ())).unwrap(); // 4 steps
/// let chunks = world.cooperate_on(loading, std::iter::repeat(())).unwrap();
/// app.update();
/// assert!(app.world().get_entity(camera).is_err()); // done
/// assert_eq!(app.world().task_steps(chunks), Ok(6));
/// app.update();
/// assert_eq!(app.world().task_steps(chunks), Ok(16)); // all of it, once the cutscene is over
/// ```
///
/// # Scheduling
/// Frame budgets run in [`CooperatorSystems::Step`](crate::CooperatorSystems::Step), after the
/// cooperators that are no lane of any frame budget.
#[derive(Component, Debug, Clone)]
pub struct FrameBudget {
    /// The budget all lanes share each frame.
    pub budget: Budget,
    /// The cooperators sharing it.
    pub lanes: Vec<Lane>,
}

/// A cooperator's place in a [`FrameBudget`], made by [`FrameBudget::with_lane`] (see its
/// example) or written by hand:
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::{FrameBudget, Lane, prelude::*};
/// # use bevy_ecs::prelude::*;
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
/// let world = app.world_mut();
/// let ui = world.spawn(Cooperator::default()).id();
/// let lanes = world.spawn(FrameBudget::new(Budget::Steps(4))).id();
/// // Lanes may be added later, by changing the component.
/// world.get_mut::<FrameBudget>(lanes).unwrap().lanes.push(Lane {
///     cooperator: ui,
///     priority: 5,
///     weight: 1,
/// });
/// let menu = world.cooperate_on(ui, std::iter::repeat(())).unwrap();
/// app.update();
/// assert_eq!(app.world().task_steps(menu), Ok(4));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lane {
    /// The cooperator.
    pub cooperator: Entity,
    /// Higher runs first and is never starved by a lower one.
    pub priority: i32,
    /// Relative share among lanes of the same priority (zero counts as one).
    pub weight: u32,
}

impl FrameBudget {
    /// A frame budget with no lanes yet. See the example on [`FrameBudget`].
    #[must_use]
    pub fn new(budget: Budget) -> Self {
        FrameBudget {
            budget,
            lanes: Vec::new(),
        }
    }

    /// Adds a lane: `cooperator` runs at `priority` (higher first) with `weight` (its share
    /// among lanes of the same priority).
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::{FrameBudget, Lane, prelude::*};
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
    /// let world = app.world_mut();
    /// let ai = world.spawn(Cooperator::default()).id();
    /// let audio = world.spawn(Cooperator::default()).id();
    /// // Same priority: AI gets three parts of the 8 steps, audio one.
    /// let shared = FrameBudget::new(Budget::Steps(8))
    ///     .with_lane(ai, 0, 3)
    ///     .with_lane(audio, 0, 1);
    /// assert_eq!(shared.lanes[1], Lane { cooperator: audio, priority: 0, weight: 1 });
    /// world.spawn(shared);
    /// let think = world.cooperate_on(ai, std::iter::repeat(())).unwrap();
    /// let mix = world.cooperate_on(audio, std::iter::repeat(())).unwrap();
    /// app.update();
    /// assert_eq!(app.world().task_steps(think), Ok(6));
    /// assert_eq!(app.world().task_steps(mix), Ok(2));
    /// ```
    #[must_use]
    pub fn with_lane(mut self, cooperator: Entity, priority: i32, weight: u32) -> Self {
        self.lanes.push(Lane {
            cooperator,
            priority,
            weight,
        });
        self
    }
}
