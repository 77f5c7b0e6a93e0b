//! Runs operations on a real headless `App` and on the [`Model`] side by side and compares
//! everything a user can observe after each one; checks the invariants after every frame.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Once};

use bevy_app::App;
use bevy_cooperator::*;
use bevy_ecs::{observer::Observer, prelude::*, resource::IsResource};
use bevy_platform::collections::{HashMap, HashSet};

use super::{Act, Ev, MSignal, Model, Out, PANIC_MARKER, WaitOn, fail_message};

/// One operation, with indices resolved modulo the lists of entities made so far (so any sequence
/// is valid and shrinks well).
#[derive(Clone, Debug)]
pub enum Op {
    /// `cooperate_on(cooperators[coop], script)`.
    Spawn {
        coop: u8,
        script: Vec<ActGen>,
    },
    /// Attach a task to an existing actor or task entity (`EntityWorldMut::cooperate_on`).
    Attach {
        target: u8,
        coop: u8,
        script: Vec<ActGen>,
    },
    Pause(u8),
    Resume(u8),
    Stop(u8),
    /// `Paused` inserted by hand on a live task.
    InsertPaused(u8),
    /// `Paused` removed by hand from a task entity.
    RemovePaused(u8),
    /// `World::despawn` of a task entity.
    DespawnTask(u8),
    SpawnSignal,
    FireSignal(u8),
    FailSignal(u8),
    DespawnSignal(u8),
    SpawnCooperator {
        started: bool,
    },
    StopCooperator(u8),
    StartCooperator(u8),
    DespawnCooperator(u8),
    /// A plain entity, for attaching tasks to.
    SpawnActor,
    /// One `App::update` with every cooperator's budget set to `Budget::Steps(n)`.
    Frame(u8),
}

/// A script action before its indices are resolved.
#[derive(Clone, Debug)]
pub enum ActGen {
    Continue,
    Fail,
    Panic,
    WaitSignal(u8),
    WaitTask(u8),
    DespawnSelf,
    StopSelf,
    StopCooperator,
    DespawnCooperator,
}

std::thread_local! {
    /// Set while a property test shrinks: its many failing runs stay quiet (the runner reports the
    /// minimal one with its message).
    pub static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Installs (once per process) a panic hook that silences the deliberate panics of test tasks.
pub fn silence_marker_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(std::cell::Cell::get) {
                return;
            }
            let payload = info.payload();
            let msg = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            if msg.is_some_and(|m| m.starts_with("model: ")) {
                return;
            }
            default(info);
        }));
    });
}

type Log = Arc<Mutex<Vec<Ev>>>;

/// The real outcome in the model's terms.
pub fn out_of(o: &Outcome) -> Out {
    match o {
        Outcome::Done => Out::Done,
        Outcome::Failed(f) => Out::Failed(f.to_string().trim().to_string()),
        Outcome::Stopped => Out::Stopped,
        Outcome::SchedulerStopped => Out::SchedulerStopped,
    }
}

/// The real task body for a script: logs its step (and any broken rule), then does the action.
fn work(log: Log, script: Vec<Act>) -> impl Work {
    let mut script: VecDeque<Act> = script.into();
    from_fn(move |cx: &mut StepContext| {
        let (me, coop) = (cx.task(), cx.cooperator());
        let world = cx.world();
        let task = world.get::<CooperativeTask>(me);
        let ok = task
            .is_some_and(|t| !t.is_finished() && t.pause_count() == 0 && t.cooperator() == coop)
            && world.get::<Paused>(me).is_none()
            && world
                .get::<Cooperator>(coop)
                .is_some_and(Cooperator::running);
        let mut log = log.lock().unwrap();
        if !ok {
            log.push(Ev::Violation(format!(
                "{me} stepped while paused, finished or stopped"
            )));
        }
        log.push(Ev::Step(me));
        drop(log);
        match script.pop_front() {
            None => Step::Done,
            Some(Act::Continue) => Step::Continue,
            Some(Act::Fail) => Step::Fail(fail_message(me).into()),
            Some(Act::Panic) => panic!("{}", PANIC_MARKER),
            Some(Act::WaitSignal(s)) => Step::Wait(Wait::signal(s)),
            Some(Act::WaitTask(t)) => Step::Wait(Wait::task(t)),
            Some(Act::DespawnSelf) => {
                cx.world().despawn(me);
                Step::Continue
            }
            Some(Act::StopSelf) => {
                let _ = cx.world().stop_task(me);
                Step::Done
            }
            Some(Act::StopCooperator) => {
                let _ = cx.world().stop_cooperator(coop);
                Step::Continue
            }
            Some(Act::DespawnCooperator) => {
                cx.world().despawn(coop);
                Step::Continue
            }
        }
    })
}

fn plain_entity_count(world: &mut World) -> usize {
    world
        .query_filtered::<Entity, (Without<IsResource>, Without<Observer>)>()
        .iter(world)
        .count()
}

/// The real app and the model, fed the same operations.
pub struct Harness {
    pub app: App,
    pub model: Model,
    log: Log,
    /// Everything ever made, including what is gone since (stale handles are part of the test).
    pub coops: Vec<Entity>,
    pub tasks: Vec<Entity>,
    pub signals: Vec<Signal>,
    pub actors: Vec<Entity>,
    /// Task instances started and `TaskFinished` events seen, per entity.
    created: HashMap<Entity, u32>,
    finished: HashMap<Entity, u32>,
    /// Plain entities that are not the model's (none today; measured, not assumed).
    base_entities: usize,
    /// Operations run (for the total the property test reports).
    pub ops: u64,
    /// The model's entities at the last comparison.
    live: HashSet<Entity>,
    entities: QueryState<Entity, (Without<IsResource>, Without<Observer>)>,
    task_query: QueryState<&'static CooperativeTask>,
    state: QueryState<State>,
    coop_query: QueryState<&'static mut Cooperator>,
}

/// Everything the comparison reads of one entity.
type State = (
    Option<&'static CooperativeTask>,
    Has<Paused>,
    Option<&'static Cooperator>,
    Option<&'static SignalState>,
);

impl Harness {
    pub fn new() -> Self {
        silence_marker_panics();
        let mut app = App::new();
        app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(1)));
        app.finish();
        app.cleanup();
        let log: Log = Log::default();
        let l = log.clone();
        app.add_observer(move |ev: On<TaskFinished>| {
            l.lock()
                .unwrap()
                .push(Ev::Finished(ev.entity, out_of(&ev.outcome)));
        });
        let global = app.world().resource::<GlobalCooperator>().0;
        let model = Model::new(global);
        let model_entities = model.entities.clone();
        let base_entities = plain_entity_count(app.world_mut()) - model.entities.len();
        let entities = app.world_mut().query_filtered();
        let task_query = app.world_mut().query();
        let state = app.world_mut().query();
        let coop_query = app.world_mut().query();
        Harness {
            app,
            model,
            log,
            coops: vec![global],
            tasks: Vec::new(),
            signals: Vec::new(),
            actors: Vec::new(),
            created: HashMap::default(),
            finished: HashMap::default(),
            base_entities,
            ops: 0,
            live: model_entities,
            entities,
            task_query,
            state,
            coop_query,
        }
    }

    fn pick<T: Copy>(list: &[T], i: u8) -> Option<T> {
        (!list.is_empty()).then(|| list[usize::from(i) % list.len()])
    }

    fn resolve_script(&self, script: &[ActGen]) -> Vec<Act> {
        script
            .iter()
            .map(|a| match *a {
                ActGen::Continue => Act::Continue,
                ActGen::Fail => Act::Fail,
                ActGen::Panic => Act::Panic,
                ActGen::WaitSignal(i) => {
                    Self::pick(&self.signals, i).map_or(Act::Continue, Act::WaitSignal)
                }
                ActGen::WaitTask(i) => {
                    Self::pick(&self.tasks, i).map_or(Act::Continue, Act::WaitTask)
                }
                ActGen::DespawnSelf => Act::DespawnSelf,
                ActGen::StopSelf => Act::StopSelf,
                ActGen::StopCooperator => Act::StopCooperator,
                ActGen::DespawnCooperator => Act::DespawnCooperator,
            })
            .collect()
    }

    /// Runs one operation on both sides and compares.
    pub fn apply(&mut self, op: &Op) {
        self.ops += 1;
        let world = self.app.world_mut();
        match op {
            Op::Spawn { coop, script } => {
                let coop = Self::pick(&self.coops, *coop).unwrap();
                let script = self.resolve_script(script);
                let world = self.app.world_mut();
                let real = world.cooperate_on(coop, work(self.log.clone(), script.clone()));
                if let Ok(e) = real {
                    self.tasks.push(e);
                    *self.created.entry(e).or_default() += 1;
                }
                let model = self.model.cooperate_on(coop, real.ok(), script);
                assert_eq!(real.map(|_| ()), model, "{op:?}");
            }
            Op::Attach {
                target,
                coop,
                script,
            } => {
                let targets: Vec<Entity> = self
                    .actors
                    .iter()
                    .chain(&self.tasks)
                    .copied()
                    .filter(|e| self.model.entities.contains(e))
                    .collect();
                let Some(e) = Self::pick(&targets, *target) else {
                    return;
                };
                let coop = Self::pick(&self.coops, *coop).unwrap();
                let script = self.resolve_script(script);
                *self.created.entry(e).or_default() += 1;
                self.app
                    .world_mut()
                    .entity_mut(e)
                    .cooperate_on(coop, work(self.log.clone(), script.clone()));
                self.model.attach(e, coop, script, false);
                if !self.tasks.contains(&e) {
                    self.tasks.push(e);
                }
            }
            Op::Pause(i) => {
                let Some(e) = Self::pick(&self.tasks, *i) else {
                    return;
                };
                assert_eq!(world.pause_task(e), self.model.pause(e), "{op:?} on {e}");
            }
            Op::Resume(i) => {
                let Some(e) = Self::pick(&self.tasks, *i) else {
                    return;
                };
                assert_eq!(world.resume_task(e), self.model.resume(e), "{op:?} on {e}");
            }
            Op::Stop(i) => {
                let Some(e) = Self::pick(&self.tasks, *i) else {
                    return;
                };
                assert_eq!(world.stop_task(e), self.model.stop(e), "{op:?} on {e}");
            }
            Op::InsertPaused(i) => {
                let Some(e) = Self::pick(&self.tasks, *i) else {
                    return;
                };
                // Only on live tasks: on anything else the marker is the user's own business.
                if !self.model.tasks.get(&e).is_some_and(|t| t.alive()) {
                    return;
                }
                world.entity_mut(e).insert(Paused);
                self.model.insert_paused(e);
            }
            Op::RemovePaused(i) => {
                let Some(e) = Self::pick(&self.tasks, *i) else {
                    return;
                };
                if !self.model.entities.contains(&e) {
                    return;
                }
                world.entity_mut(e).remove::<Paused>();
                self.model.remove_paused(e);
            }
            Op::DespawnTask(i) => {
                let Some(e) = Self::pick(&self.tasks, *i) else {
                    return;
                };
                let expected = self.model.entities.contains(&e);
                assert_eq!(world.despawn(e), expected, "{op:?} on {e}");
                self.model.despawn(e);
            }
            Op::SpawnSignal => {
                let s = world.spawn_signal();
                self.signals.push(s);
                self.model.add_signal(s.entity());
            }
            Op::FireSignal(i) => {
                let Some(s) = Self::pick(&self.signals, *i) else {
                    return;
                };
                assert_eq!(
                    world.fire_signal(s),
                    self.model.settle(s.entity(), Ok(())),
                    "{op:?}"
                );
            }
            Op::FailSignal(i) => {
                let Some(s) = Self::pick(&self.signals, *i) else {
                    return;
                };
                let msg = format!("model: signal {} failed", s.entity());
                assert_eq!(
                    world.fail_signal(s, msg.clone()),
                    self.model.settle(s.entity(), Err(msg)),
                    "{op:?}"
                );
            }
            Op::DespawnSignal(i) => {
                let Some(s) = Self::pick(&self.signals, *i) else {
                    return;
                };
                let expected = self.model.entities.contains(&s.entity());
                assert_eq!(world.despawn(s.entity()), expected, "{op:?}");
                self.model.despawn(s.entity());
            }
            Op::SpawnCooperator { started } => {
                let c = Cooperator::new(Budget::Steps(1));
                let c = if *started { c } else { c.not_started() };
                let e = world.spawn(c).id();
                self.coops.push(e);
                self.model.add_coop(e, *started);
            }
            Op::StopCooperator(i) => {
                let c = Self::pick(&self.coops, *i).unwrap();
                assert_eq!(
                    world.stop_cooperator(c),
                    self.model.stop_cooperator(c),
                    "{op:?}"
                );
            }
            Op::StartCooperator(i) => {
                let c = Self::pick(&self.coops, *i).unwrap();
                assert_eq!(
                    world.start_cooperator(c),
                    self.model.start_cooperator(c),
                    "{op:?}"
                );
            }
            Op::DespawnCooperator(i) => {
                let c = Self::pick(&self.coops, *i).unwrap();
                let expected = self.model.entities.contains(&c);
                assert_eq!(world.despawn(c), expected, "{op:?}");
                self.model.despawn(c);
            }
            Op::SpawnActor => {
                let e = world.spawn_empty().id();
                self.actors.push(e);
                self.model.add_entity(e);
            }
            Op::Frame(n) => {
                self.frame(u32::from(*n));
                return;
            }
        }
        self.compare(op);
    }

    /// One frame on both sides, then the comparison and the per-frame invariants.
    pub fn frame(&mut self, budget: u32) {
        let world = self.app.world_mut();
        for mut c in self.coop_query.iter_mut(world) {
            c.budget = Budget::Steps(budget);
        }
        self.app.update();
        self.model.frame(budget);
        self.compare(&Op::Frame(budget as u8));
        self.check_frame_invariants();
    }

    /// Compares the event traces and every observable piece of state.
    fn compare(&mut self, op: &Op) {
        let real = std::mem::take(&mut *self.log.lock().unwrap());
        let model = std::mem::take(&mut self.model.trace);
        assert_eq!(real, model, "trace after {op:?}");
        for ev in &real {
            if let Ev::Finished(e, _) = ev {
                let n = self.finished.entry(*e).or_default();
                *n += 1;
                assert!(
                    *n <= self.created.get(e).copied().unwrap_or(0),
                    "{e} finished more often than it was started"
                );
            }
        }
        // Every live entity, and those that died since the last comparison (a dead entity stays
        // dead: entity ids carry a generation); the count catches any entity the model lacks.
        let mut all: Vec<Entity> = self.model.entities.iter().copied().collect();
        all.extend(self.live.difference(&self.model.entities));
        self.live.clone_from(&self.model.entities);
        let count = self.entities.iter(self.app.world()).count();
        assert_eq!(
            count,
            self.base_entities + self.model.entities.len(),
            "entity count, after {op:?}"
        );
        let world = self.app.world();
        for e in all {
            let m = &self.model;
            let real = self.state.get(world, e).ok();
            assert_eq!(
                real.is_some(),
                m.entities.contains(&e),
                "{e} exists, after {op:?}"
            );
            let (task, paused, coop, sig) = real.unwrap_or_default();
            let mtask = m.tasks.get(&e);
            assert_eq!(
                task.is_some(),
                mtask.is_some(),
                "{e} holds a task, after {op:?}"
            );
            if let (Some(t), Some(mt)) = (task, mtask) {
                let got = (
                    t.outcome().map(out_of),
                    t.pause_count(),
                    t.is_waiting(),
                    t.cooperator(),
                    t.is_standalone(),
                );
                let want = (
                    mt.outcome.clone(),
                    mt.pause,
                    mt.wait.is_some(),
                    mt.coop,
                    mt.standalone,
                );
                assert_eq!(
                    got, want,
                    "task {e} (outcome, pauses, waiting, cooperator, standalone), after {op:?}"
                );
            }
            assert_eq!(paused, m.paused(e), "Paused on {e}, after {op:?}");
            assert_eq!(
                coop.is_some(),
                m.coops.contains_key(&e),
                "{e} is a cooperator, after {op:?}"
            );
            if let (Some(c), Some(mc)) = (coop, m.coops.get(&e)) {
                assert_eq!(
                    c.run_order(),
                    mc.queue.run_order(),
                    "run order of {e}, after {op:?}"
                );
                assert_eq!(
                    c.task_count() as usize,
                    mc.queue.members(),
                    "members of {e}, after {op:?}"
                );
                assert_eq!(
                    (c.running(), c.is_stopped()),
                    (mc.running(), mc.stopped),
                    "{e} running/stopped"
                );
            }
            assert_eq!(
                sig.is_some(),
                m.signals.contains_key(&e),
                "{e} is a signal, after {op:?}"
            );
            if let (Some(s), Some(ms)) = (sig, m.signals.get(&e)) {
                let same = match (s.status(), ms) {
                    (SignalStatus::Pending, MSignal::Pending(w)) => s.waiting() == w.len(),
                    (SignalStatus::Fired, MSignal::Fired) => true,
                    (SignalStatus::Failed(f), MSignal::Failed(m)) => f.to_string().trim() == m,
                    _ => false,
                };
                assert!(same, "signal {e}: {:?} vs {ms:?}, after {op:?}", s.status());
            }
        }
    }

    /// No waiter hangs on something that is gone or settled; nothing leaks.
    fn check_frame_invariants(&mut self) {
        let world = self.app.world_mut();
        for (e, t) in &self.model.tasks {
            let Some((_, on)) = t.wait else { continue };
            let pending = match on {
                WaitOn::Signal(s) => world
                    .get::<SignalState>(s)
                    .is_some_and(|s| matches!(s.status(), SignalStatus::Pending)),
                WaitOn::Task(o) => world
                    .get::<CooperativeTask>(o)
                    .is_some_and(|t| !t.is_finished()),
            };
            assert!(pending, "{e} waits on {on:?}, which is settled or gone");
        }
        let tasks = self.task_query.iter(world).count();
        assert_eq!(tasks, self.model.tasks.len(), "task components");
    }

    /// Ends every task (despawning every cooperator), runs a frame, despawns what is left and
    /// checks that every task finished exactly once and nothing leaked.
    pub fn teardown(&mut self) {
        let coops: Vec<Entity> = self.model.coops.keys().copied().collect();
        for c in coops {
            self.app.world_mut().despawn(c);
            self.model.despawn(c);
            self.compare(&Op::DespawnCooperator(0));
        }
        self.frame(1);
        assert!(
            self.model.tasks.is_empty(),
            "the model keeps tasks after teardown"
        );
        let rest: Vec<Entity> = self.model.entities.iter().copied().collect();
        for e in rest {
            self.app.world_mut().despawn(e);
            self.model.despawn(e);
        }
        self.compare(&Op::Frame(0));
        let world = self.app.world_mut();
        assert_eq!(
            plain_entity_count(world),
            self.base_entities,
            "entities leaked"
        );
        assert_eq!(world.query::<&CooperativeTask>().iter(world).count(), 0);
        assert_eq!(world.query::<&Paused>().iter(world).count(), 0);
        assert_eq!(world.query::<&SignalState>().iter(world).count(), 0);
        for (e, n) in &self.created {
            assert_eq!(
                self.finished.get(e),
                Some(n),
                "{e}: tasks started vs finished"
            );
        }
    }

    /// Runs a whole sequence, then tears down.
    pub fn run(ops: &[Op]) -> u64 {
        let mut h = Harness::new();
        for op in ops {
            h.apply(op);
        }
        h.teardown();
        h.ops
    }
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}
