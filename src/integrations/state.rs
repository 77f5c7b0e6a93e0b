//! States (feature `bevy_state`): [`Wait::state`], tasks scoped to a state
//! ([`CooperateStateExt`]) and budgets that follow the state ([`StateBudget`], kept by
//! [`CooperatorStatesPlugin`]).

use alloc::vec::Vec;
use bevy_app::{App, Plugin};
use bevy_ecs::{
    change_detection::DetectChanges,
    component::Component,
    entity::Entity,
    schedule::IntoScheduleConfigs,
    system::{Commands, EntityCommands, Query, Res},
    world::{Ref, World},
};
use bevy_state::{
    state::{State, StateTransition, StateTransitionSystems, States},
    state_scoped::DespawnOnExit,
};
use core::marker::PhantomData;

use crate::{
    budget::Budget,
    commands::{CooperateCommandsExt, CooperateWorldExt},
    cooperator::Cooperator,
    wait::Wait,
    work::IntoWork,
};

impl Wait {
    /// Until the state `S` is `state` — at once if it already is. Polled once per frame in
    /// [`Wake`](crate::CooperatorSystems::Wake), which runs after Bevy's `StateTransition`: a task
    /// waiting for `InGame` runs in the very frame the game enters it. The wait fails if `S` is
    /// not a state of the app (`init_state` was never called).
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # use bevy_state::{app::{AppExtStates, StatesPlugin}, state::{NextState, States}};
    /// #[derive(States, Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
    /// enum Game { #[default] Loading, Playing }
    ///
    /// # let mut app = App::new();
    /// # app.add_plugins((StatesPlugin, CooperatorPlugin::default())).init_state::<Game>();
    /// let task = app.world_mut().cooperate(std::iter::once(Wait::state(Game::Playing)));
    /// app.update();
    /// assert!(app.world().get::<Paused>(task).is_some());
    /// app.world_mut().resource_mut::<NextState<Game>>().set(Game::Playing);
    /// app.update();
    /// assert!(app.world().get_entity(task).is_err(), "resumed in the frame of the transition");
    /// ```
    pub fn state<S: States>(state: S) -> Self {
        Wait::until(move |current: Res<State<S>>| *current.get() == state)
    }
}

/// Starts tasks scoped to a state: stopped ([`Outcome::Stopped`](crate::Outcome::Stopped)) when
/// the state is exited, through Bevy's `DespawnOnExit`; finished earlier, they are cleaned up as
/// usual. A task started while the app is in another state runs until `state` is next exited.
pub trait CooperateStateExt {
    /// Starts `work` as a new task on the [`GlobalCooperator`](crate::GlobalCooperator), stopped
    /// when `state` is exited.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::{CooperateStateExt, prelude::*};
    /// # use bevy_ecs::prelude::*;
    /// # use bevy_state::{app::{AppExtStates, StatesPlugin}, state::{NextState, States}};
    /// #[derive(States, Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
    /// enum Game { #[default] Loading, Playing }
    ///
    /// # let mut app = App::new();
    /// # app.add_plugins((StatesPlugin, CooperatorPlugin::default())).init_state::<Game>();
    /// app.update();
    /// let loader = app.world_mut().cooperate_in_state(Game::Loading, std::iter::repeat(()));
    /// app.update();
    /// assert!(app.world().get_entity(loader).is_ok());
    /// app.world_mut().resource_mut::<NextState<Game>>().set(Game::Playing);
    /// app.update();
    /// assert!(app.world().get_entity(loader).is_err(), "stopped on leaving Loading");
    /// ```
    fn cooperate_in_state<S: States, M>(&mut self, state: S, work: impl IntoWork<M>) -> Entity;
}

impl CooperateStateExt for World {
    fn cooperate_in_state<S: States, M>(&mut self, state: S, work: impl IntoWork<M>) -> Entity {
        let task = self.cooperate(work);
        if let Ok(mut e) = self.get_entity_mut(task) {
            e.insert(DespawnOnExit(state));
        }
        task
    }
}

/// [`CooperateStateExt`] for commands: a system entering a state starts the work of that state.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::{CooperateStateCommandsExt, prelude::*};
/// # use bevy_ecs::prelude::*;
/// # use bevy_state::{app::{AppExtStates, StatesPlugin}, state::{NextState, OnEnter, States}};
/// #[derive(States, Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
/// enum Game { #[default] Menu, Loading, Playing }
///
/// #[derive(Component)]
/// struct Loader;
///
/// fn start_loading(mut commands: Commands) {
///     commands.cooperate_in_state(Game::Loading, std::iter::repeat(())).insert(Loader);
/// }
///
/// # let mut app = App::new();
/// # app.add_plugins((StatesPlugin, CooperatorPlugin::default())).init_state::<Game>();
/// app.add_systems(OnEnter(Game::Loading), start_loading);
/// app.world_mut().resource_mut::<NextState<Game>>().set(Game::Loading);
/// app.update();
/// let mut loaders = app.world_mut().query_filtered::<(), With<Loader>>();
/// assert_eq!(loaders.iter(app.world()).count(), 1);
/// app.world_mut().resource_mut::<NextState<Game>>().set(Game::Playing);
/// app.update();
/// assert_eq!(loaders.iter(app.world()).count(), 0, "stopped on leaving Loading");
/// ```
pub trait CooperateStateCommandsExt {
    /// Starts `work` as a new task on the [`GlobalCooperator`](crate::GlobalCooperator), stopped
    /// when `state` is exited; see [`CooperateStateExt`].
    fn cooperate_in_state<S: States, M>(
        &mut self,
        state: S,
        work: impl IntoWork<M>,
    ) -> EntityCommands<'_>;
}

impl CooperateStateCommandsExt for Commands<'_, '_> {
    fn cooperate_in_state<S: States, M>(
        &mut self,
        state: S,
        work: impl IntoWork<M>,
    ) -> EntityCommands<'_> {
        let mut task = self.cooperate(work);
        task.insert(DespawnOnExit(state));
        task
    }
}

/// A cooperator's budget per state of `S`: put it on the cooperator's entity (the
/// [`GlobalCooperator`](crate::GlobalCooperator)'s too) and add [`CooperatorStatesPlugin::<S>`];
/// the budget then changes with the state, in the frame of each transition, with no per-frame
/// code of yours. A loading screen gets most of the frame, gameplay a sliver.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::{CooperatorStatesPlugin, StateBudget, prelude::*};
/// # use bevy_ecs::prelude::*;
/// # use bevy_state::{app::{AppExtStates, StatesPlugin}, state::{NextState, States}};
/// #[derive(States, Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
/// enum Game { #[default] Loading, Playing }
///
/// # let mut app = App::new();
/// app.add_plugins((StatesPlugin, CooperatorPlugin::default(), CooperatorStatesPlugin::<Game>::default()))
///     .init_state::<Game>();
/// let global = app.world().resource::<GlobalCooperator>().0;
/// app.world_mut()
///     .entity_mut(global)
///     .insert(StateBudget::new(Budget::millis(1)).on(Game::Loading, Budget::frame_fraction(0.8)));
/// let budget = |app: &App| app.world().get::<Cooperator>(global).unwrap().budget.clone();
/// app.update();
/// assert!(matches!(budget(&app), Budget::FrameFraction { fraction: 0.8, .. }));
/// app.world_mut().resource_mut::<NextState<Game>>().set(Game::Playing);
/// app.update();
/// assert!(matches!(budget(&app), Budget::Time(t) if t.as_millis() == 1));
/// ```
#[derive(Component, Clone, Debug)]
pub struct StateBudget<S: States> {
    budgets: Vec<(S, Budget)>,
    otherwise: Budget,
}

impl<S: States> StateBudget<S> {
    /// `otherwise` in every state not given its own budget with [`on`](Self::on) (and while `S`
    /// does not exist).
    pub fn new(otherwise: Budget) -> Self {
        StateBudget {
            budgets: Vec::new(),
            otherwise,
        }
    }

    /// `budget` while the state is `state` (replacing an earlier `on` for it).
    #[must_use]
    pub fn on(mut self, state: S, budget: Budget) -> Self {
        self.budgets.retain(|(s, _)| *s != state);
        self.budgets.push((state, budget));
        self
    }

    /// The budget for `state` (`None`: `S` does not exist).
    pub fn budget(&self, state: Option<&S>) -> &Budget {
        state
            .and_then(|state| self.budgets.iter().find(|(s, _)| s == state))
            .map_or(&self.otherwise, |(_, budget)| budget)
    }
}

/// Keeps every cooperator's budget in step with its [`StateBudget<S>`]: set in the frame of each
/// transition of `S` (at the end of Bevy's `StateTransition` schedule, before `Update`) and
/// when a `StateBudget` is inserted or changed. Needs Bevy's `StatesPlugin`. The example is on
/// [`StateBudget`].
pub struct CooperatorStatesPlugin<S: States>(PhantomData<fn() -> S>);

impl<S: States> Default for CooperatorStatesPlugin<S> {
    fn default() -> Self {
        CooperatorStatesPlugin(PhantomData)
    }
}

impl<S: States> Plugin for CooperatorStatesPlugin<S> {
    fn build(&self, app: &mut App) {
        app.add_systems(
            StateTransition,
            follow_state::<S>.after(StateTransitionSystems::EnterSchedules),
        );
    }
}

/// Sets each cooperator's budget from its [`StateBudget<S>`] when the state or the budget changed.
fn follow_state<S: States>(
    state: Option<Res<State<S>>>,
    mut cooperators: Query<(Ref<StateBudget<S>>, &mut Cooperator)>,
) {
    let state_changed = state.as_ref().is_none_or(DetectChanges::is_changed);
    let current = state.as_ref().map(|s| s.get());
    for (budgets, mut cooperator) in &mut cooperators {
        if !(state_changed || budgets.is_changed()) {
            continue;
        }
        cooperator.budget = budgets.budget(current).clone();
    }
}
