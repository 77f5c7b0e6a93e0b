//! Optional feed of the cooperators' figures into `bevy_diagnostic` (feature `diagnostic`).

use bevy_app::{App, Last, Plugin};
use bevy_diagnostic::{Diagnostic, DiagnosticPath, Diagnostics, RegisterDiagnostic};
use bevy_ecs::system::Query;

use crate::cooperator::Cooperator;

/// Feeds the figures of all [`Cooperator`]s, added up, to `bevy_diagnostic` every frame (in
/// `Last`): steps run, time used and granted, largest overshoot, runnable and paused tasks, and
/// the frame time a frame-filling budget saw. Add it after
/// [`CooperatorPlugin`](crate::CooperatorPlugin); Bevy's `DiagnosticsPlugin` (part of
/// `DefaultPlugins`) and a diagnostics consumer such as `LogDiagnosticsPlugin` show them.
///
/// Feature `diagnostic`.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// use bevy_cooperator::CooperatorDiagnosticsPlugin;
/// use bevy_diagnostic::DiagnosticsStore;
///
/// let mut app = App::new();
/// app.add_plugins((CooperatorPlugin::default().with_budget(Budget::Steps(5)), CooperatorDiagnosticsPlugin));
/// app.world_mut().cooperate(std::iter::repeat(()));
/// app.update();
/// let store = app.world().resource::<DiagnosticsStore>();
/// let steps = store.get(&CooperatorDiagnosticsPlugin::STEPS).unwrap();
/// assert_eq!(steps.value(), Some(5.0));
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct CooperatorDiagnosticsPlugin;

impl CooperatorDiagnosticsPlugin {
    /// Steps run this frame by all cooperators.
    pub const STEPS: DiagnosticPath = DiagnosticPath::const_new("cooperator/steps");
    /// Time used this frame by all cooperators with a time budget, in milliseconds.
    pub const TIME: DiagnosticPath = DiagnosticPath::const_new("cooperator/time");
    /// Time granted this frame to all cooperators with a time budget, in milliseconds.
    pub const GRANTED: DiagnosticPath = DiagnosticPath::const_new("cooperator/granted");
    /// The last whole frame a [`Budget::FillFrame`](crate::Budget::FillFrame) saw (the longest,
    /// when several cooperators have one), in milliseconds; no measurement without one.
    pub const FRAME: DiagnosticPath = DiagnosticPath::const_new("cooperator/frame");
    /// The largest overshoot past its budget of any cooperator this frame, in milliseconds.
    pub const OVERSHOOT: DiagnosticPath = DiagnosticPath::const_new("cooperator/overshoot");
    /// Runnable tasks at the end of the frame's ticks.
    pub const RUNNABLE: DiagnosticPath = DiagnosticPath::const_new("cooperator/runnable");
    /// Paused tasks at the end of the frame's ticks.
    pub const PAUSED: DiagnosticPath = DiagnosticPath::const_new("cooperator/paused");
}

impl Plugin for CooperatorDiagnosticsPlugin {
    fn build(&self, app: &mut App) {
        app.register_diagnostic(Diagnostic::new(Self::STEPS))
            .register_diagnostic(Diagnostic::new(Self::TIME).with_suffix("ms"))
            .register_diagnostic(Diagnostic::new(Self::GRANTED).with_suffix("ms"))
            .register_diagnostic(Diagnostic::new(Self::FRAME).with_suffix("ms"))
            .register_diagnostic(Diagnostic::new(Self::OVERSHOOT).with_suffix("ms"))
            .register_diagnostic(Diagnostic::new(Self::RUNNABLE))
            .register_diagnostic(Diagnostic::new(Self::PAUSED))
            .add_systems(Last, measure);
    }
}

fn measure(cooperators: Query<&Cooperator>, mut diagnostics: Diagnostics) {
    let (mut steps, mut time, mut granted, mut overshoot, mut runnable, mut paused) =
        (0u64, 0f64, 0f64, 0f64, 0u64, 0u64);
    let mut frame: Option<f64> = None;
    for coop in &cooperators {
        let stats = coop.stats();
        steps += u64::from(stats.last_tick_steps);
        time += stats.last_tick_time.map_or(0.0, |t| t.as_secs_f64() * 1e3);
        granted += stats
            .last_tick_budget
            .map_or(0.0, |t| t.as_secs_f64() * 1e3);
        if let Some(f) = stats.last_frame_time {
            frame = Some(frame.unwrap_or(0.0).max(f.as_secs_f64() * 1e3));
        }
        overshoot = stats
            .last_tick_overshoot
            .map_or(overshoot, |o| overshoot.max(o.as_secs_f64() * 1e3));
        runnable += u64::from(stats.runnable);
        paused += u64::from(stats.paused);
    }
    diagnostics.add_measurement(&CooperatorDiagnosticsPlugin::STEPS, || steps as f64);
    diagnostics.add_measurement(&CooperatorDiagnosticsPlugin::TIME, || time);
    diagnostics.add_measurement(&CooperatorDiagnosticsPlugin::GRANTED, || granted);
    if let Some(frame) = frame {
        diagnostics.add_measurement(&CooperatorDiagnosticsPlugin::FRAME, || frame);
    }
    diagnostics.add_measurement(&CooperatorDiagnosticsPlugin::OVERSHOOT, || overshoot);
    diagnostics.add_measurement(&CooperatorDiagnosticsPlugin::RUNNABLE, || runnable as f64);
    diagnostics.add_measurement(&CooperatorDiagnosticsPlugin::PAUSED, || paused as f64);
}
