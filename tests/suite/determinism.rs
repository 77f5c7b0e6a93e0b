//! Determinism: with step-count budgets, the same seed gives a bit-identical trace (which task
//! stepped, in which order, which finished and how) in two runs and in two `App`s run side by side.

use std::sync::{Arc, Mutex};

use crate::common::*;
use bevy_app::App;
use bevy_cooperator::*;
use bevy_ecs::prelude::*;

/// xorshift64*: a tiny seeded generator, so the workload depends on the seed alone.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// FNV-1a over the trace, independent of the platform and of `Hash` implementations.
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn word(&mut self, w: u64) {
        for b in w.to_le_bytes() {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

type Trace = Arc<Mutex<Vec<u64>>>;

/// One app running a seeded workload frame by frame.
struct Run {
    app: App,
    rng: Rng,
    coops: Vec<Entity>,
    tasks: Vec<Entity>,
    signals: Vec<Signal>,
    trace: Trace,
    events: usize,
}

const STEP: u64 = 1 << 62;
const FINISHED: u64 = 2 << 62;
const FRAME: u64 = 3 << 62;

impl Run {
    fn new(seed: u64) -> Self {
        let mut app = app_with(Budget::Steps(3));
        let trace = Trace::default();
        let t = trace.clone();
        app.add_observer(move |ev: On<TaskFinished>| {
            let how = match &ev.outcome {
                Outcome::Done => 0,
                Outcome::Failed(_) => 1,
                Outcome::Stopped => 2,
                Outcome::SchedulerStopped => 3,
            };
            t.lock()
                .unwrap()
                .push(FINISHED | ev.entity.to_bits() << 2 | how);
        });
        let world = app.world_mut();
        let mut coops = vec![world.resource::<GlobalCooperator>().0];
        coops.push(world.spawn(Cooperator::new(Budget::Steps(2))).id());
        coops.push(world.spawn(Cooperator::new(Budget::Steps(5))).id());
        Run {
            app,
            rng: Rng(seed | 1),
            coops,
            tasks: Vec::new(),
            signals: Vec::new(),
            trace,
            events: 0,
        }
    }

    /// Random operations, then one frame.
    fn frame(&mut self, hash: &mut Fnv) {
        let world = self.app.world_mut();
        for _ in 0..self.rng.below(4) {
            let coop = self.coops[self.rng.below(3) as usize];
            let len = 1 + self.rng.below(8);
            let mut script: Vec<u64> = (0..len).map(|_| self.rng.below(20)).collect();
            script.reverse();
            let signals = self.signals.clone();
            let trace = self.trace.clone();
            let task = world
                .cooperate_on(
                    coop,
                    from_fn(move |cx: &mut StepContext| {
                        trace.lock().unwrap().push(STEP | cx.task().to_bits());
                        match script.pop() {
                            None => Step::Done,
                            Some(0) => Step::Fail("deterministic failure".into()),
                            Some(1 | 2) if !signals.is_empty() => {
                                Step::Wait(Wait::signal(signals[script.len() % signals.len()]))
                            }
                            Some(_) => Step::Continue,
                        }
                    }),
                )
                .unwrap();
            self.tasks.push(task);
        }
        if self.rng.below(3) == 0 {
            self.signals.push(world.spawn_signal());
        }
        if !self.signals.is_empty() && self.rng.below(3) == 0 {
            let s = self.signals[self.rng.below(self.signals.len() as u64) as usize];
            let _ = world.fire_signal(s);
        }
        if !self.tasks.is_empty() {
            for _ in 0..self.rng.below(3) {
                let t = self.tasks[self.rng.below(self.tasks.len() as u64) as usize];
                let _ = match self.rng.below(5) {
                    0 | 1 => world.pause_task(t),
                    2 | 3 => world.resume_task(t),
                    _ => world.stop_task(t),
                };
            }
        }
        if self.rng.below(50) == 0 {
            let c = self.coops[self.rng.below(3) as usize];
            world.stop_cooperator(c).unwrap();
            world.start_cooperator(c).unwrap();
        }
        self.app.update();
        let trace = std::mem::take(&mut *self.trace.lock().unwrap());
        self.events += trace.len();
        for w in trace {
            hash.word(w);
        }
        hash.word(FRAME);
    }
}

const SEED: u64 = 0x005e_ed0f_c00e_7a7e;
const FRAMES: usize = 2_000;

fn trace_hash(seed: u64) -> (u64, usize) {
    let mut run = Run::new(seed);
    let mut hash = Fnv::new();
    for _ in 0..FRAMES {
        run.frame(&mut hash);
    }
    (hash.0, run.events)
}

#[test]
fn same_seed_same_trace_in_two_runs() {
    let (a, events) = trace_hash(SEED);
    let (b, _) = trace_hash(SEED);
    println!("{events} events");
    assert!(
        events > 10_000,
        "the workload is too small to mean much: {events} events"
    );
    assert_eq!(a, b, "two runs of seed {SEED:#x} gave different traces");
    let (c, _) = trace_hash(SEED ^ 0xff00);
    assert_ne!(a, c, "the hash does not depend on the trace");
}

#[test]
fn same_seed_same_trace_in_two_apps_side_by_side() {
    let (mut a, mut b) = (Run::new(SEED), Run::new(SEED));
    let (mut ha, mut hb) = (Fnv::new(), Fnv::new());
    for frame in 0..FRAMES {
        a.frame(&mut ha);
        b.frame(&mut hb);
        assert_eq!(ha.0, hb.0, "the two apps diverged at frame {frame}");
    }
    assert_eq!(ha.0, trace_hash(SEED).0);
}
