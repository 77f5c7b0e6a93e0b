//! The `diagnostic` feature feeds the cooperators' figures to `bevy_diagnostic`.
#![cfg(feature = "diagnostic")]

use bevy_cooperator::{CooperatorDiagnosticsPlugin as Diag, *};
use bevy_diagnostic::DiagnosticsStore;

#[test]
fn steps_and_task_counts_are_measured_every_frame() {
    let mut app = bevy_app::App::new();
    app.add_plugins((
        CooperatorPlugin::default().with_budget(Budget::Steps(3)),
        Diag,
    ));
    app.world_mut().cooperate(std::iter::repeat(()));
    let paused = app.world_mut().cooperate(std::iter::repeat(()));
    app.world_mut().pause_task(paused).unwrap();
    app.update();
    let store = app.world().resource::<DiagnosticsStore>();
    let value = |path: &bevy_diagnostic::DiagnosticPath| store.get(path).and_then(|d| d.value());
    assert_eq!(value(&Diag::STEPS), Some(3.0));
    assert_eq!(value(&Diag::RUNNABLE), Some(1.0));
    assert_eq!(value(&Diag::PAUSED), Some(1.0));
    assert_eq!(value(&Diag::TIME), Some(0.0));
}

#[test]
fn a_frame_filling_budget_feeds_what_it_granted_and_the_frame_it_saw() {
    use std::time::Duration;
    let mut app = bevy_app::App::new();
    app.add_plugins((
        CooperatorPlugin::default().with_budget(Budget::fill_frame(Duration::from_millis(16))),
        Diag,
    ));
    let (clock, manual) = CooperatorClock::manual();
    app.insert_resource(clock);
    let game = manual.clone();
    app.add_systems(bevy_app::PreUpdate, move || {
        game.advance(Duration::from_millis(5))
    });
    app.world_mut()
        .cooperate(from_fn(move |_: &mut StepContext| {
            manual.advance(Duration::from_millis(1));
        }));
    app.update();
    app.update();
    let store = app.world().resource::<DiagnosticsStore>();
    let value = |path: &bevy_diagnostic::DiagnosticPath| store.get(path).and_then(|d| d.value());
    assert_eq!(value(&Diag::GRANTED), Some(10.0));
    assert_eq!(value(&Diag::TIME), Some(10.0));
    // The first frame: the game's 5 ms and one step.
    assert_eq!(value(&Diag::FRAME), Some(6.0));
}
