//! Twisted's cooperator clients, restated: a body producer that writes a file in chunks
//! (`FileBodyProducerTests`, R01–R09) and a pull producer driven by a task (`_PullToPush`,
//! R10–R16). Pause, resume and stop map to the task's controls; the completion to `TaskFinished`.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use crate::common::*;
use bevy_app::App;
use bevy_cooperator::*;
use bevy_ecs::prelude::*;

/// Reads `read_size` bytes per step from `input` and writes them to `output`; at EOF closes the
/// input and finishes. Dropping it (a stop) closes the input too.
struct BodyProducer {
    input: Vec<u8>,
    pos: usize,
    read_size: usize,
    output: Log<u8>,
    closed: Arc<AtomicBool>,
    fail_first_read: bool,
}

impl Work for BodyProducer {
    fn step(&mut self, _cx: &mut StepContext) -> Step {
        if std::mem::take(&mut self.fail_first_read) {
            return Step::Fail("OSError: read failed".into());
        }
        let end = (self.pos + self.read_size).min(self.input.len());
        if self.pos == end {
            self.closed.store(true, Ordering::SeqCst);
            return Step::Done;
        }
        for &b in &self.input[self.pos..end] {
            self.output.push(b);
        }
        self.pos = end;
        Step::Continue
    }
}

impl Drop for BodyProducer {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::SeqCst);
    }
}

struct Producing {
    task: Entity,
    output: Log<u8>,
    closed: Arc<AtomicBool>,
    result: Log<Outcome>,
}

fn produce(app: &mut App, data: &[u8], read_size: usize, fail_first_read: bool) -> Producing {
    let output = Log::new();
    let closed = Arc::new(AtomicBool::new(false));
    let result = Log::new();
    let r = result.clone();
    let task = app.world_mut().cooperate(BodyProducer {
        input: data.to_vec(),
        pos: 0,
        read_size,
        output: output.clone(),
        closed: closed.clone(),
        fail_first_read,
    });
    app.world_mut()
        .entity_mut(task)
        .insert(RetainFinished)
        .observe(move |ev: On<TaskFinished>| r.push(ev.outcome.clone()));
    Producing {
        task,
        output,
        closed,
        result,
    }
}

fn runnable(app: &App) -> u32 {
    let global = global(app);
    app.world()
        .get::<Cooperator>(global)
        .unwrap()
        .runnable_count()
}

// R01: without an explicit cooperator the global one is used.
#[test]
fn a_producer_uses_the_global_cooperator_by_default() {
    let mut app = app();
    let p = produce(&mut app, b"abc", 3, false);
    let task = app.world().get::<CooperativeTask>(p.task).unwrap();
    assert_eq!(task.cooperator(), global(&app));
}

// R02
#[test]
fn twelve_bytes_in_threes_take_five_frames_and_leave_nothing_scheduled() {
    let mut app = app();
    let p = produce(&mut app, b"hello, world", 3, false);
    frames(&mut app, 4);
    assert_eq!(p.output.get(), b"hello, world");
    assert!(p.result.get().is_empty(), "the EOF step is still to come");
    app.update();
    assert_eq!(p.result.len(), 1);
    assert!(p.result.get()[0].is_done());
    assert_eq!(runnable(&app), 0, "no tick pending");
}

// R03
#[test]
fn the_input_is_closed_at_eof() {
    let mut app = app();
    let p = produce(&mut app, b"some data, 19 bytes", 4, false);
    frames(&mut app, 5);
    assert!(!p.closed.load(Ordering::SeqCst));
    app.update();
    assert!(p.closed.load(Ordering::SeqCst));
}

// R04
#[test]
fn a_failed_read_fails_the_completion() {
    let mut app = app();
    let p = produce(&mut app, b"data", 4, true);
    app.update();
    let got = p.result.get();
    assert_eq!(got.len(), 1);
    assert!(
        got[0]
            .failure()
            .unwrap()
            .to_string()
            .contains("read failed")
    );
}

// R05: cancelling stops the task, which drops the producer at once: the file is closed and the
// next frame does no work.
#[test]
fn cancelling_closes_the_input_and_does_no_more_work() {
    let mut app = app();
    let p = produce(&mut app, b"hello, world", 5, false);
    app.world_mut().stop_task(p.task).unwrap();
    assert!(p.closed.load(Ordering::SeqCst), "closed at once");
    app.update();
    assert!(p.output.get().is_empty());
}

// R06, R09: stop, and a second stop that the producer swallows.
#[test]
fn stop_producing_twice_is_harmless() {
    let mut app = app();
    let p = produce(&mut app, b"hello, world", 5, false);
    app.update();
    app.world_mut().stop_task(p.task).unwrap();
    let again = app.world_mut().stop_task(p.task);
    assert_eq!(again, Err(TaskError::AlreadyFinished(FinishKind::Stopped)));
    app.update();
    assert_eq!(p.output.len(), 5);
    assert!(matches!(p.result.get()[..], [Outcome::Stopped]));
}

// R07
#[test]
fn pausing_leaves_no_tick_and_no_work() {
    let mut app = app();
    let p = produce(&mut app, b"hello, world", 5, false);
    app.update();
    app.world_mut().pause_task(p.task).unwrap();
    assert_eq!(runnable(&app), 0);
    frames(&mut app, 3);
    assert_eq!(p.output.len(), 5);
    assert!(p.result.get().is_empty());
}

// R08
#[test]
fn pause_then_resume_keeps_producing() {
    let mut app = app();
    let p = produce(&mut app, b"hello, world", 5, false);
    app.update();
    app.world_mut().pause_task(p.task).unwrap();
    app.world_mut().resume_task(p.task).unwrap();
    app.update();
    assert_eq!(p.output.len(), 10);
}

/// `_PullToPush`: a task calls the pull producer once per step until it is unregistered.
#[derive(Clone, Default)]
struct PullToPush {
    written: Log<char>,
    calls: Arc<AtomicUsize>,
    raise_on_call: Option<usize>,
    unregister_raises: bool,
    errors: Log<String>,
    finished: Arc<AtomicBool>,
    stop_streaming_calls: Arc<AtomicUsize>,
    task: Arc<Mutex<Option<Entity>>>,
}

impl PullToPush {
    fn start(self, app: &mut App) -> Entity {
        let me = self.clone();
        let task = app
            .world_mut()
            .cooperate(from_fn(move |cx: &mut StepContext| {
                let n = me.calls.fetch_add(1, Ordering::SeqCst) + 1;
                if me.raise_on_call == Some(n) {
                    me.errors.push("producer raised".into());
                    // unregisterProducer → stopStreaming → task.stop(), unless it raises too.
                    if me.unregister_raises {
                        me.errors.push("unregister raised".into());
                        return Step::Done;
                    }
                    me.stop_streaming(cx.world());
                    return Step::Continue;
                }
                me.written.push(char::from(b'0' + (n as u8 - 1)));
                if n == 10 {
                    me.stop_streaming(cx.world());
                }
                Step::Continue
            }));
        app.world_mut().entity_mut(task).insert(RetainFinished);
        *self.task.lock().unwrap() = Some(task);
        task
    }

    /// Stops the task once; a wrapper flag keeps a second call from stopping it again (R16).
    fn stop_streaming(&self, world: &mut World) {
        self.stop_streaming_calls.fetch_add(1, Ordering::SeqCst);
        if self.finished.swap(true, Ordering::SeqCst) {
            return;
        }
        let task = self.task.lock().unwrap().unwrap();
        world.stop_task(task).unwrap();
    }

    fn text(&self) -> String {
        self.written.get().into_iter().collect()
    }
}

// R10
#[test]
fn the_pull_producer_writes_until_done() {
    let mut app = app_with(Budget::Unlimited);
    let p = PullToPush::default();
    let task = p.clone().start(&mut app);
    app.update();
    assert_eq!(p.text(), "0123456789");
    assert!(matches!(
        app.world_mut().task_outcome(task),
        Some(Outcome::Stopped)
    ));
    assert!(p.finished.load(Ordering::SeqCst));
}

// R11
#[test]
fn a_paused_pull_producer_never_finishes() {
    let mut app = app();
    let p = PullToPush::default();
    let task = p.clone().start(&mut app);
    frames(&mut app, 3);
    app.world_mut().pause_task(task).unwrap();
    frames(&mut app, 20);
    assert_eq!(p.text(), "012");
    let t = app.world().get::<CooperativeTask>(task).unwrap();
    assert_eq!(t.pause_count(), 1);
    assert!(!t.is_finished());
}

// R12
#[test]
fn pause_and_immediate_resume_completes() {
    let mut app = app();
    let p = PullToPush::default();
    let task = p.clone().start(&mut app);
    frames(&mut app, 3);
    app.world_mut().pause_task(task).unwrap();
    app.world_mut().resume_task(task).unwrap();
    frames(&mut app, 10);
    assert_eq!(p.text(), "0123456789");
}

// R13
#[test]
fn stopping_the_pull_producer() {
    let mut app = app();
    let p = PullToPush::default();
    let task = p.clone().start(&mut app);
    frames(&mut app, 3);
    p.stop_streaming(app.world_mut());
    frames(&mut app, 3);
    assert_eq!(p.text(), "012");
    assert!(matches!(
        app.world_mut().task_outcome(task),
        Some(Outcome::Stopped)
    ));
}

// R14
#[test]
fn a_raising_producer_is_logged_and_its_task_stopped() {
    let mut app = app();
    let p = PullToPush {
        raise_on_call: Some(3),
        ..Default::default()
    };
    let task = p.clone().start(&mut app);
    frames(&mut app, 5);
    assert_eq!(p.text(), "01");
    assert_eq!(p.errors.get(), ["producer raised"]);
    assert!(matches!(
        app.world_mut().task_outcome(task),
        Some(Outcome::Stopped)
    ));
}

// R15
#[test]
fn when_unregister_raises_too_the_task_ends_on_its_own() {
    let mut app = app();
    let p = PullToPush {
        raise_on_call: Some(3),
        unregister_raises: true,
        ..Default::default()
    };
    let task = p.clone().start(&mut app);
    frames(&mut app, 5);
    assert_eq!(p.errors.get(), ["producer raised", "unregister raised"]);
    assert!(matches!(
        app.world_mut().task_outcome(task),
        Some(Outcome::Done)
    ));
}

// R16
#[test]
fn stop_streaming_twice_does_not_raise() {
    let mut app = app();
    let p = PullToPush::default();
    p.clone().start(&mut app);
    app.update();
    p.stop_streaming(app.world_mut());
    p.stop_streaming(app.world_mut());
    assert_eq!(p.stop_streaming_calls.load(Ordering::SeqCst), 2);
}
