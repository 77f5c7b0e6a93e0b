//! States: a wait on entering a state, tasks scoped to a state, a budget that follows the state.
use crate::common::*;

use bevy_app::App;
use bevy_cooperator::*;
use bevy_ecs::prelude::*;
use bevy_state::{
    app::{AppExtStates, StatesPlugin},
    state::{NextState, States},
};

#[derive(States, Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
enum Game {
    #[default]
    Loading,
    Playing,
    Paused,
}

fn state_app() -> App {
    let mut app = unfinished_app(Budget::Steps(100));
    app.add_plugins((StatesPlugin, CooperatorStatesPlugin::<Game>::default()))
        .init_state::<Game>();
    app.finish();
    app.cleanup();
    app.update();
    app
}

fn go(app: &mut App, state: Game) {
    app.world_mut().resource_mut::<NextState<Game>>().set(state);
}

#[test]
fn a_wait_on_a_state_resumes_in_the_frame_it_is_entered_and_at_once_if_already_there() {
    let mut app = state_app();
    let log = Log::new();
    let l = log.clone();
    app.world_mut().cooperate(script(move |cx| async move {
        cx.wait(Wait::state(Game::Loading)).await.unwrap();
        l.push("in loading");
        cx.wait(Wait::state(Game::Playing)).await.unwrap();
        l.push("in playing");
    }));
    app.update();
    assert_eq!(log.get(), vec!["in loading"]);
    frames(&mut app, 3);
    assert_eq!(log.len(), 1);
    go(&mut app, Game::Playing);
    app.update();
    assert_eq!(log.get(), vec!["in loading", "in playing"]);
}

#[test]
fn a_wait_on_a_state_the_app_does_not_have_fails() {
    let mut app = app();
    let finished = record_finished(&mut app);
    app.world_mut()
        .cooperate(std::iter::once(Wait::state(Game::Playing)));
    frames(&mut app, 2);
    assert_eq!(kinds(&finished), vec!["failed"]);
}

#[test]
fn tasks_scoped_to_a_state_stop_when_it_exits_and_others_run_on() {
    let mut app = state_app();
    let finished = record_finished(&mut app);
    let scoped = app
        .world_mut()
        .cooperate_in_state(Game::Loading, std::iter::repeat(()));
    app.world_mut()
        .run_system_cached(move |mut commands: Commands| {
            commands.cooperate_in_state(Game::Loading, std::iter::repeat(()));
        })
        .unwrap();
    let other = app.world_mut().cooperate(std::iter::repeat(()));
    app.world_mut().flush();
    frames(&mut app, 2);
    assert_eq!(kinds(&finished), Vec::<&str>::new());
    go(&mut app, Game::Playing);
    app.update();
    let stopped: Vec<_> = finished
        .get()
        .into_iter()
        .filter(|(_, o)| *o == Outcome::Stopped)
        .collect();
    assert_eq!(stopped.len(), 2, "both scoped tasks stopped");
    assert!(stopped.iter().any(|(e, _)| *e == scoped));
    assert!(app.world().get_entity(other).is_ok());
    // A scoped task that finishes first is cleaned up as usual, and the exit touches nothing.
    let done = app
        .world_mut()
        .cooperate_in_state(Game::Playing, std::iter::once(()));
    app.update();
    assert!(app.world().get_entity(done).is_err());
    go(&mut app, Game::Paused);
    app.update();
    assert_eq!(kinds(&finished), vec!["stopped", "stopped", "done"]);
}

#[test]
fn a_cooperators_budget_follows_the_state_with_no_per_frame_code() {
    let mut app = state_app();
    let global = global(&app);
    app.world_mut()
        .entity_mut(global)
        .insert(StateBudget::new(Budget::Steps(2)).on(Game::Loading, Budget::Steps(10)));
    let steps = Log::new();
    let s = steps.clone();
    app.world_mut()
        .cooperate(std::iter::repeat_with(move || s.push(())));
    let per_frame = |app: &mut App| {
        let before = steps.len();
        app.update();
        steps.len() - before
    };
    assert_eq!(per_frame(&mut app), 10, "loading: the big budget");
    go(&mut app, Game::Playing);
    assert_eq!(
        per_frame(&mut app),
        2,
        "playing: the sliver, in the frame of the transition"
    );
    go(&mut app, Game::Loading);
    assert_eq!(per_frame(&mut app), 10);
    // Changing the StateBudget itself applies at the next transition check (the next frame).
    app.world_mut()
        .entity_mut(global)
        .insert(StateBudget::new(Budget::Steps(2)).on(Game::Loading, Budget::Steps(5)));
    assert_eq!(per_frame(&mut app), 5);
}
