//! Feature `trace`: a span per cooperator tick and, on cooperators marked `TraceSteps`, a span per
//! task step carrying the task entity and its `Name`.
use crate::common::*;

use bevy_cooperator::*;
use bevy_ecs::name::Name;
use std::cell::RefCell;
use std::sync::{
    Once,
    atomic::{AtomicU64, Ordering},
};
use tracing::{
    Event, Metadata, Subscriber,
    field::{Field, Visit},
    span::{Attributes, Id, Record},
    subscriber::Interest,
};

/// A span's fields, rendered: `(name, value)`.
type SpanFields = Vec<(String, String)>;

thread_local! {
    /// The spans opened on this thread while a [`capture`] runs here.
    static CAPTURED: RefCell<Option<Vec<(String, SpanFields)>>> = const { RefCell::new(None) };
}

/// The test binary's one global subscriber: it keeps the spans opened on a thread inside
/// [`capture`] and ignores the rest.
///
/// A scoped subscriber (`with_default`) is not enough while other tests run on other threads:
/// `tracing` caches each span site's interest once for the whole process, and with a single scoped
/// subscriber alive it computes that interest from whichever thread reaches the site first, which
/// may have no subscriber and disable the site for everyone. A global subscriber that is always
/// interested leaves nothing to race.
struct Router {
    next: AtomicU64,
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

impl Subscriber for Router {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::always()
    }
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        CAPTURED.with_borrow_mut(|captured| {
            if let Some(captured) = captured {
                let mut fields = Fields(Vec::new());
                span.record(&mut fields);
                captured.push((span.metadata().name().to_string(), fields.0));
            }
        });
        Id::from_u64(self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// Runs `f`, returning the spans it opened on this thread.
fn capture(f: impl FnOnce()) -> Spans {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        tracing::subscriber::set_global_default(Router {
            next: AtomicU64::new(0),
        })
        .expect("no other test sets a global subscriber");
    });
    // A site another thread was registering while the subscriber was installed may have cached
    // "never"; recompute every site's interest now that the subscriber is in place.
    tracing::callsite::rebuild_interest_cache();
    CAPTURED.set(Some(Vec::new()));
    f();
    Spans(CAPTURED.take().unwrap_or_default())
}

/// The spans a [`capture`] saw.
struct Spans(Vec<(String, SpanFields)>);

impl Spans {
    fn named(&self, name: &str) -> Vec<SpanFields> {
        self.0
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
    let spans = capture(|| frames(&mut app, 2));
    let ticks = spans.named("cooperator tick");
    assert_eq!(ticks.len(), 2);
    assert_eq!(
        field(&ticks[0], "cooperator"),
        Some(global(&app).to_string().as_str())
    );
    assert!(spans.named("task step").is_empty());
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
    let spans = capture(|| app.update());
    let steps = spans.named("task step");
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

#[cfg(feature = "parallel")]
#[test]
fn a_parallel_cooperator_gives_its_steps_spans_naming_the_task() {
    let mut app = traced_app(Budget::Steps(1));
    // One thread: the share is stepped on the calling thread, where `capture` listens.
    let coop = app
        .world_mut()
        .spawn((
            Cooperator::new(Budget::Steps(3)).with_threads(1),
            TraceSteps,
        ))
        .id();
    let task = app
        .world_mut()
        .cooperate_on(coop, parallel(std::iter::repeat(())))
        .unwrap();
    let spans = capture(|| app.update());
    let steps = spans.named("task step");
    assert_eq!(steps.len(), 3);
    assert!(
        steps
            .iter()
            .all(|f| field(f, "task") == Some(task.to_string().as_str()))
    );
}
