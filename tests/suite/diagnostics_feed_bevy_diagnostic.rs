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
