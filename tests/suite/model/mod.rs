//! A reference model of the scheduler: a plain, slow restatement of the lifecycle rules (run queue,
//! pause counts, waits, completion, cooperator stop/start, budgets) that the property test runs
//! side by side with the real plugin.
//!
//! Entities are the real ones (the harness passes in what the world allocated), so traces compare
//! directly. Everything else is recomputed here from the rules alone.
#![allow(
    dead_code,
    reason = "each test file uses a different part of the support code"
)]

pub mod harness;

use std::collections::{BTreeMap, VecDeque};

use bevy_platform::collections::{HashMap, HashSet};

use bevy_cooperator::{FinishKind, Signal, TaskError};
use bevy_ecs::entity::Entity;

/// The message a deliberately panicking step panics with (silenced by the test's panic hook).
pub const PANIC_MARKER: &str = "model: deliberate panic";

/// One action of a scripted task, run by one step. When the script runs out the task is done.
#[derive(Clone, Debug, PartialEq)]
pub enum Act {
    /// `Step::Continue`.
    Continue,
    /// `Step::Fail` with a message naming the task.
    Fail,
    /// A panic with [`PANIC_MARKER`].
    Panic,
    /// `Step::Wait(Wait::signal(..))`.
    WaitSignal(Signal),
    /// `Step::Wait(Wait::task(..))`.
    WaitTask(Entity),
    /// Despawns its own entity, then continues.
    DespawnSelf,
    /// Stops itself with `stop_task`, then returns `Done`.
    StopSelf,
    /// Stops its own cooperator, then continues.
    StopCooperator,
    /// Despawns its own cooperator, then continues.
    DespawnCooperator,
}

/// How a task ended, with failures compared by their message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Out {
    Done,
    Failed(String),
    Stopped,
    SchedulerStopped,
}

impl Out {
    pub fn error(&self) -> TaskError {
        match self {
            Out::Done => TaskError::AlreadyFinished(FinishKind::Done),
            Out::Failed(_) => TaskError::AlreadyFinished(FinishKind::Failed),
            Out::Stopped => TaskError::AlreadyFinished(FinishKind::Stopped),
            Out::SchedulerStopped => TaskError::SchedulerStopped,
        }
    }

    /// What a task waiting on a task that ended this way receives.
    fn wait_result(&self) -> Result<(), String> {
        match self {
            Out::Done => Ok(()),
            Out::Failed(m) => Err(m.clone()),
            other => Err(other.error().to_string()),
        }
    }
}

/// Something a user can observe, in the order it happened.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Ev {
    /// A task was stepped.
    Step(Entity),
    /// `TaskFinished` fired.
    Finished(Entity, Out),
    /// A rule was broken inside a step (only the real side records these).
    Violation(String),
}

/// The message `Act::Fail` fails with.
pub fn fail_message(task: Entity) -> String {
    format!("model: step of {task} failed")
}

/// The message a panicking step fails with.
pub fn panic_message() -> String {
    format!("task panicked: {PANIC_MARKER}")
}

/// A cooperator's run queue: member slots (reused last-freed first, as the real slab does) and the
/// run order, an array with holes where tasks left it, walked by a cursor that persists across
/// frames; at its end the holes are dropped and a new pass starts at the front.
#[derive(Debug, Default)]
pub struct Queue {
    slots: Vec<Option<Entity>>,
    /// When each slot's member joined (a stop finishes paused tasks in that order).
    joined: Vec<u64>,
    next_join: u64,
    free: Vec<usize>,
    members: usize,
    /// Runnable slots in run order; `None` where a task left.
    order: Vec<Option<usize>>,
    /// Index in `order` of the next entry to step.
    cursor: usize,
    /// The hole a task left most recently, with its index in `order`.
    last_hole: Option<(usize, Entity)>,
}

impl Queue {
    fn insert(&mut self, e: Entity) -> usize {
        self.members += 1;
        self.next_join += 1;
        if let Some(s) = self.free.pop() {
            self.slots[s] = Some(e);
            self.joined[s] = self.next_join;
            s
        } else {
            self.slots.push(Some(e));
            self.joined.push(self.next_join);
            self.slots.len() - 1
        }
    }

    fn holds(&self, slot: usize, e: Entity) -> bool {
        self.slots.get(slot).copied().flatten() == Some(e)
    }

    fn remove(&mut self, slot: usize) {
        self.unlink(slot);
        self.slots[slot] = None;
        self.free.push(slot);
        self.members -= 1;
        if self.members == 0 {
            self.slots.clear();
            self.joined.clear();
            self.free.clear();
            self.order.clear();
            self.cursor = 0;
            self.last_hole = None;
        }
    }

    /// Twisted's rule: the task that left the last place of a pass and rejoins before the next
    /// step (a wait already resolved, a pause and resume in its own step) ends the pass.
    fn link_back(&mut self, slot: usize) {
        if !self.order.contains(&Some(slot)) {
            let len = self.order.len();
            if self.cursor == len
                && len > 0
                && self.last_hole == Some((len - 1, self.slots[slot].unwrap()))
            {
                self.new_pass();
            }
            self.order.push(Some(slot));
        }
    }

    fn unlink(&mut self, slot: usize) {
        if let Some(i) = self.order.iter().position(|&s| s == Some(slot)) {
            self.order[i] = None;
            self.last_hole = Some((i, self.slots[slot].unwrap()));
        }
    }

    fn new_pass(&mut self) {
        self.order.retain(Option::is_some);
        self.cursor = 0;
        self.last_hole = None;
    }

    fn is_empty(&self) -> bool {
        self.order.iter().all(Option::is_none)
    }

    fn advance(&mut self) -> Option<(usize, Entity)> {
        loop {
            if self.cursor == self.order.len() {
                if self.is_empty() {
                    return None;
                }
                self.new_pass();
            }
            self.cursor += 1;
            if let Some(slot) = self.order[self.cursor - 1] {
                return Some((slot, self.slots[slot].unwrap()));
            }
        }
    }

    fn runnable_slots(&self) -> Vec<usize> {
        let (earlier, later) = self.order.split_at(self.cursor);
        later.iter().chain(earlier).flatten().copied().collect()
    }

    /// Runnable members in run order, then the others in the order they joined.
    fn drain(&mut self) -> Vec<Entity> {
        let mut slots = self.runnable_slots();
        let mut others: Vec<usize> = (0..self.slots.len())
            .filter(|&s| self.slots[s].is_some() && !slots.contains(&s))
            .collect();
        others.sort_by_key(|&s| self.joined[s]);
        slots.extend(others);
        let out = slots.iter().map(|&s| self.slots[s].unwrap()).collect();
        *self = Queue::default();
        out
    }

    pub fn run_order(&self) -> Vec<Entity> {
        self.runnable_slots()
            .into_iter()
            .map(|s| self.slots[s].unwrap())
            .collect()
    }

    pub fn members(&self) -> usize {
        self.members
    }
}

#[derive(Debug, Default)]
pub struct MCoop {
    /// Cooperators tick in the order they were created.
    pub created: u64,
    pub started: bool,
    pub stopped: bool,
    pub queue: Queue,
}

impl MCoop {
    pub fn running(&self) -> bool {
        self.started && !self.stopped
    }
}

/// What a waiting task waits for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WaitOn {
    Signal(Entity),
    Task(Entity),
}

#[derive(Debug)]
pub struct MTask {
    pub coop: Entity,
    slot: Option<usize>,
    /// User pauses plus one while waiting.
    pub pause: u32,
    pub wait: Option<(u64, WaitOn)>,
    pub outcome: Option<Out>,
    script: VecDeque<Act>,
    waiters: Vec<(Entity, u64)>,
    pub standalone: bool,
}

impl MTask {
    pub fn alive(&self) -> bool {
        self.outcome.is_none()
    }
}

#[derive(Clone, Debug)]
pub enum MSignal {
    Pending(Vec<(Entity, u64)>),
    Fired,
    Failed(String),
}

/// The whole model world.
#[derive(Debug, Default)]
pub struct Model {
    /// Every entity that should exist.
    pub entities: HashSet<Entity>,
    /// Live cooperators.
    pub coops: BTreeMap<Entity, MCoop>,
    next_coop: u64,
    /// Entities holding a task component.
    pub tasks: HashMap<Entity, MTask>,
    pub signals: HashMap<Entity, MSignal>,
    /// Tasks finished since the last cleanup.
    finished: Vec<Entity>,
    /// Wait tickets are unique: a stale registration never matches a later wait.
    next_ticket: u64,
    pub trace: Vec<Ev>,
}

impl Model {
    pub fn new(global: Entity) -> Self {
        let mut m = Model::default();
        m.add_coop(global, true);
        m
    }

    pub fn add_coop(&mut self, e: Entity, started: bool) {
        self.entities.insert(e);
        self.next_coop += 1;
        self.coops.insert(
            e,
            MCoop {
                created: self.next_coop,
                started,
                ..MCoop::default()
            },
        );
    }

    pub fn add_signal(&mut self, e: Entity) {
        self.entities.insert(e);
        self.signals.insert(e, MSignal::Pending(Vec::new()));
    }

    pub fn add_entity(&mut self, e: Entity) {
        self.entities.insert(e);
    }

    pub fn paused(&self, e: Entity) -> bool {
        self.tasks.get(&e).is_some_and(|t| t.pause > 0)
    }

    // ---- control API ---------------------------------------------------------------------------

    /// `cooperate_on`: the harness passes the entity the world spawned.
    pub fn cooperate_on(
        &mut self,
        coop: Entity,
        e: Option<Entity>,
        script: Vec<Act>,
    ) -> Result<(), TaskError> {
        if !self.coops.contains_key(&coop) {
            return Err(TaskError::NoSuchCooperator(coop));
        }
        let e = e.expect("the real world spawned a task");
        self.entities.insert(e);
        self.attach(e, coop, script, true);
        Ok(())
    }

    /// Makes `e` a task of `coop`; a live task there is stopped first; a stopped or missing
    /// cooperator gives a task born finished.
    pub fn attach(&mut self, e: Entity, coop: Entity, script: Vec<Act>, standalone: bool) {
        if self.tasks.get(&e).is_some_and(MTask::alive) {
            self.finish(e, Out::Stopped);
        }
        let mut task = MTask {
            coop,
            slot: None,
            pause: 0,
            wait: None,
            outcome: None,
            script: script.into(),
            waiters: Vec::new(),
            standalone,
        };
        let open = match self.coops.get_mut(&coop) {
            Some(c) if !c.stopped => {
                let slot = c.queue.insert(e);
                c.queue.link_back(slot);
                task.slot = Some(slot);
                true
            }
            _ => false,
        };
        self.tasks.insert(e, task);
        if !open {
            self.finish(e, Out::SchedulerStopped);
        }
    }

    fn with_queue(&mut self, coop: Entity, f: impl FnOnce(&mut Queue)) {
        if let Some(c) = self.coops.get_mut(&coop) {
            f(&mut c.queue);
        }
    }

    fn unlink(&mut self, e: Entity) {
        let t = &self.tasks[&e];
        let (coop, slot) = (t.coop, t.slot);
        self.with_queue(coop, |q| {
            if let Some(s) = slot.filter(|&s| q.holds(s, e)) {
                q.unlink(s);
            }
        });
    }

    fn link_back(&mut self, e: Entity) {
        let t = &self.tasks[&e];
        let (coop, slot) = (t.coop, t.slot);
        self.with_queue(coop, |q| {
            if let Some(s) = slot.filter(|&s| q.holds(s, e)) {
                q.link_back(s);
            }
        });
    }

    pub fn pause(&mut self, e: Entity) -> Result<(), TaskError> {
        let t = self.tasks.get_mut(&e).ok_or(TaskError::NoSuchTask(e))?;
        if let Some(o) = &t.outcome {
            return Err(o.error());
        }
        t.pause += 1;
        if t.pause == 1 {
            self.unlink(e);
        }
        Ok(())
    }

    pub fn resume(&mut self, e: Entity) -> Result<(), TaskError> {
        let t = self.tasks.get_mut(&e).ok_or(TaskError::NoSuchTask(e))?;
        // The pending wait's pause is not the user's.
        if t.pause == u32::from(t.wait.is_some()) {
            return Err(TaskError::NotPaused);
        }
        t.pause -= 1;
        if t.pause == 0 && t.alive() {
            self.link_back(e);
        }
        Ok(())
    }

    /// `Paused` inserted by hand on a live task: one pause, unless it is paused already.
    pub fn insert_paused(&mut self, e: Entity) {
        let Some(t) = self.tasks.get_mut(&e) else {
            return;
        };
        if t.pause == 0 && t.alive() {
            t.pause = 1;
            self.unlink(e);
        }
    }

    /// `Paused` removed by hand: every user pause goes; a pending wait keeps its own.
    pub fn remove_paused(&mut self, e: Entity) {
        let Some(t) = self.tasks.get_mut(&e).filter(|t| t.pause > 0) else {
            return;
        };
        t.pause = u32::from(t.wait.is_some());
        if t.pause == 0 && t.alive() {
            self.link_back(e);
        }
    }

    pub fn stop(&mut self, e: Entity) -> Result<(), TaskError> {
        let t = self.tasks.get(&e).ok_or(TaskError::NoSuchTask(e))?;
        if let Some(o) = &t.outcome {
            return Err(o.error());
        }
        self.finish(e, Out::Stopped);
        Ok(())
    }

    pub fn stop_cooperator(&mut self, c: Entity) -> Result<(), TaskError> {
        let coop = self
            .coops
            .get_mut(&c)
            .ok_or(TaskError::NoSuchCooperator(c))?;
        coop.stopped = true;
        for t in coop.queue.drain() {
            self.finish(t, Out::SchedulerStopped);
        }
        Ok(())
    }

    pub fn start_cooperator(&mut self, c: Entity) -> Result<(), TaskError> {
        let coop = self
            .coops
            .get_mut(&c)
            .ok_or(TaskError::NoSuchCooperator(c))?;
        coop.started = true;
        coop.stopped = false;
        Ok(())
    }

    pub fn settle(&mut self, s: Entity, result: Result<(), String>) -> Result<(), TaskError> {
        let state = self.signals.get_mut(&s).ok_or(TaskError::NoSuchSignal(s))?;
        let MSignal::Pending(waiters) = state else {
            return Err(TaskError::SignalSettled(s));
        };
        let waiters = std::mem::take(waiters);
        *state = match &result {
            Ok(()) => MSignal::Fired,
            Err(m) => MSignal::Failed(m.clone()),
        };
        for (w, ticket) in waiters {
            self.resolve(w, ticket, result.clone());
        }
        Ok(())
    }

    /// `World::despawn`: whatever the entity is (task, cooperator, signal) goes with it.
    pub fn despawn(&mut self, e: Entity) {
        if !self.entities.remove(&e) {
            return;
        }
        if let Some(coop) = self.coops.remove(&e) {
            let mut coop = coop;
            for t in coop.queue.drain() {
                self.finish(t, Out::SchedulerStopped);
            }
        }
        if let Some(MSignal::Pending(waiters)) = self.signals.remove(&e) {
            let failure = TaskError::NoSuchSignal(e).to_string();
            for (w, ticket) in waiters {
                self.resolve(w, ticket, Err(failure.clone()));
            }
        }
        if let Some(mut t) = self.tasks.remove(&e)
            && t.alive()
        {
            // Despawning a live task stops it; it is gone, so there is nothing to clean up.
            if let Some(s) = t.slot.take() {
                self.with_queue(t.coop, |q| {
                    if q.holds(s, e) {
                        q.remove(s);
                    }
                });
            }
            let wait = t.wait.take();
            self.cancel_at_source(e, wait);
            self.announce(e, Out::Stopped, std::mem::take(&mut t.waiters));
        }
    }

    // ---- lifecycle -------------------------------------------------------------------------------

    fn begin_wait(&mut self, e: Entity, on: WaitOn) {
        let Some(t) = self.tasks.get_mut(&e).filter(|t| t.alive()) else {
            return;
        };
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        t.wait = Some((ticket, on));
        t.pause += 1;
        if t.pause == 1 {
            self.unlink(e);
        }
        let now = match on {
            WaitOn::Signal(s) => match self.signals.get_mut(&s) {
                None => Some(Err(TaskError::NoSuchSignal(s).to_string())),
                Some(MSignal::Pending(w)) => {
                    w.push((e, ticket));
                    None
                }
                Some(MSignal::Fired) => Some(Ok(())),
                Some(MSignal::Failed(m)) => Some(Err(m.clone())),
            },
            WaitOn::Task(o) if o == e => Some(Err("a task cannot wait for itself".into())),
            WaitOn::Task(o) => match self.tasks.get_mut(&o) {
                None => Some(Err(TaskError::NoSuchTask(o).to_string())),
                Some(target) => match &target.outcome {
                    Some(out) => Some(out.wait_result()),
                    None => {
                        target.waiters.push((e, ticket));
                        None
                    }
                },
            },
        };
        if let Some(result) = now {
            self.resolve(e, ticket, result);
        }
    }

    fn resolve(&mut self, e: Entity, ticket: u64, result: Result<(), String>) {
        let Some(t) = self.tasks.get_mut(&e) else {
            return;
        };
        if t.wait.map(|w| w.0) != Some(ticket) {
            return;
        }
        t.wait = None;
        t.pause -= 1;
        match result {
            Ok(()) => {
                if t.pause == 0 {
                    self.link_back(e);
                }
            }
            Err(m) => self.finish(e, Out::Failed(m)),
        }
    }

    fn finish(&mut self, e: Entity, out: Out) {
        let Some(t) = self.tasks.get_mut(&e).filter(|t| t.alive()) else {
            return;
        };
        t.outcome = Some(out.clone());
        t.script.clear();
        let wait = t.wait.take();
        if wait.is_some() {
            t.pause -= 1;
        }
        let slot = t.slot.take();
        let coop = t.coop;
        let waiters = std::mem::take(&mut t.waiters);
        self.with_queue(coop, |q| {
            if let Some(s) = slot.filter(|&s| q.holds(s, e)) {
                q.remove(s);
            }
        });
        self.finished.push(e);
        self.cancel_at_source(e, wait);
        self.announce(e, out, waiters);
    }

    /// A finished task's pending wait leaves the waiter list it was registered in.
    fn cancel_at_source(&mut self, e: Entity, wait: Option<(u64, WaitOn)>) {
        let Some((ticket, on)) = wait else { return };
        let list = match on {
            WaitOn::Signal(s) => match self.signals.get_mut(&s) {
                Some(MSignal::Pending(w)) => w,
                _ => return,
            },
            WaitOn::Task(o) => match self.tasks.get_mut(&o) {
                Some(target) => &mut target.waiters,
                None => return,
            },
        };
        list.retain(|&(w, t)| (w, t) != (e, ticket));
    }

    /// `TaskFinished` first, then the waiters in registration order.
    fn announce(&mut self, e: Entity, out: Out, waiters: Vec<(Entity, u64)>) {
        self.trace.push(Ev::Finished(e, out.clone()));
        let result = out.wait_result();
        for (w, ticket) in waiters {
            self.resolve(w, ticket, result.clone());
        }
    }

    // ---- one frame -------------------------------------------------------------------------------

    /// One frame: every cooperator, in the order they were created, steps round-robin from its
    /// cursor with a budget of `budget` steps (at least one) if it is running and has a runnable
    /// task when its turn comes (an earlier one's step may have started it), then finished tasks
    /// are cleaned up.
    pub fn frame(&mut self, budget: u32) {
        let mut order: Vec<(u64, Entity)> =
            self.coops.iter().map(|(&e, c)| (c.created, e)).collect();
        order.sort_unstable();
        for (_, c) in order {
            let mut steps = 0;
            while let Some(coop) = self.coops.get_mut(&c) {
                if !coop.running() {
                    break;
                }
                let Some((slot, e)) = coop.queue.advance() else {
                    break;
                };
                if !self.step(c, slot, e) {
                    continue;
                }
                steps += 1;
                if steps >= budget {
                    break;
                }
            }
        }
        self.cleanup();
    }

    fn step(&mut self, c: Entity, slot: usize, e: Entity) -> bool {
        let act = match self.tasks.get_mut(&e) {
            Some(t) if t.slot == Some(slot) && t.alive() => t.script.pop_front(),
            _ => {
                self.with_queue(c, |q| {
                    if q.holds(slot, e) {
                        q.remove(slot);
                    }
                });
                return false;
            }
        };
        self.trace.push(Ev::Step(e));
        enum Next {
            Continue,
            Wait(WaitOn),
            Done,
            Fail(String),
        }
        let next = match act {
            None => Next::Done,
            Some(Act::Continue) => Next::Continue,
            Some(Act::Fail) => Next::Fail(fail_message(e)),
            Some(Act::Panic) => Next::Fail(panic_message()),
            Some(Act::WaitSignal(s)) => Next::Wait(WaitOn::Signal(s.entity())),
            Some(Act::WaitTask(t)) => Next::Wait(WaitOn::Task(t)),
            Some(Act::DespawnSelf) => {
                self.despawn(e);
                Next::Continue
            }
            Some(Act::StopSelf) => {
                let _ = self.stop(e);
                Next::Done
            }
            Some(Act::StopCooperator) => {
                let _ = self.stop_cooperator(c);
                Next::Continue
            }
            Some(Act::DespawnCooperator) => {
                self.despawn(c);
                Next::Continue
            }
        };
        if self.tasks.get(&e).is_some_and(MTask::alive) {
            match next {
                Next::Continue => {}
                Next::Wait(on) => self.begin_wait(e, on),
                Next::Done => self.finish(e, Out::Done),
                Next::Fail(m) => self.finish(e, Out::Failed(m)),
            }
        }
        true
    }

    fn cleanup(&mut self) {
        for e in std::mem::take(&mut self.finished) {
            if !self.entities.contains(&e) || self.tasks.get(&e).is_none_or(MTask::alive) {
                continue;
            }
            if self.tasks[&e].standalone {
                self.despawn(e);
            } else {
                self.tasks.remove(&e);
            }
        }
    }
}
