//! Feature `trace`: a span per cooperator tick and, on cooperators marked `TraceSteps`, a span per
//! task step carrying the task entity and its `Name`.
use crate::common::*;

use bevy_cooperator::*;
use bevy_ecs::name::Name;
use std::sync::{
    Arc, Mutex,
    atomic::{AtomicU64, Ordering},
};
use tracing::{
    Event, Metadata, Subscriber,
    field::{Field, Visit},
    span::{Attributes, Id, Record},
};

/// A span's fields, rendered: `(name, value)`.
type SpanFields = Vec<(String, String)>;

/// Records every span opened: its name and its fields.
#[derive(Clone, Default)]
struct Recorder {
    spans: Arc<Mutex<Vec<(String, SpanFields)>>>,
    next: Arc<AtomicU64>,
}

struct Fields(SpanFields);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .push((field.name().to_string(), format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_string(), value.to_string()));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Fields(Vec::new());
        span.record(&mut fields);
        self.spans
            .lock()
            .unwrap()
            .push((span.metadata().name().to_string(), fields.0));
        Id::from_u64(self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

impl Recorder {
    fn named(&self, name: &str) -> Vec<SpanFields> {
        self.spans
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, f)| f.clone())
            .collect()
    }
}

/// A headless app whose `Update` runs on the calling thread, where the test's subscriber is (a
/// multi-threaded executor may run the step system on another thread).
fn traced_app(budget: Budget) -> bevy_app::App {
    let mut app = app_with(budget);
    app.edit_schedule(bevy_app::Update, |schedule| {
        schedule.set_executor(bevy_ecs::schedule::SingleThreadedExecutor::new());
    });
    app
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn each_tick_has_a_span_and_steps_have_none_unless_asked() {
    let mut app = traced_app(Budget::Steps(3));
    app.world_mut().cooperate(std::iter::repeat(()));
    let recorder = Recorder::default();
    tracing::subscriber::with_default(recorder.clone(), || frames(&mut app, 2));
    let ticks = recorder.named("cooperator tick");
    assert_eq!(ticks.len(), 2);
    assert_eq!(
        field(&ticks[0], "cooperator"),
        Some(global(&app).to_string().as_str())
    );
    assert!(recorder.named("task step").is_empty());
}

#[test]
fn trace_steps_gives_every_step_a_span_named_after_its_task() {
    let mut app = traced_app(Budget::Steps(4));
    let global = global(&app);
    app.world_mut().entity_mut(global).insert(TraceSteps);
    let named = app.world_mut().spawn(Name::new("pathfinder")).id();
    app.world_mut()
        .entity_mut(named)
        .cooperate(std::iter::repeat(()));
    let anonymous = app.world_mut().cooperate(std::iter::repeat(()));
    let recorder = Recorder::default();
    tracing::subscriber::with_default(recorder.clone(), || app.update());
    let steps = recorder.named("task step");
    assert_eq!(steps.len(), 4);
    let tasks: Vec<_> = steps
        .iter()
        .map(|f| field(f, "task").unwrap().to_string())
        .collect();
    assert_eq!(
        tasks,
        [named, anonymous, named, anonymous].map(|e| e.to_string())
    );
    assert_eq!(field(&steps[0], "name"), Some("pathfinder"));
    assert_eq!(
        field(&steps[1], "name"),
        None,
        "a task without a Name records none"
    );
}
