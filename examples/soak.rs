//! Soak test: a large population of live tasks under continuous churn — spawned, paused, resumed,
//! stopped, finishing on their own — for many frames. Prints resident memory at the start, the
//! middle and the end, and fails if it grew more than 5 % between the middle and the end.
//!
//! ```sh
//! cargo run --release --example soak                       # 100,000 tasks, 10,000 frames
//! cargo run --example soak -- --frames 200 --tasks 10000   # short mode
//! ```

use bevy_app::{App, AppExit};
use bevy_cooperator::prelude::*;
use bevy_ecs::prelude::*;
use bevy_platform::time::Instant;

/// Allowed growth of resident memory between the middle and the end.
const MAX_GROWTH: f64 = 0.05;

struct Args {
    frames: u32,
    tasks: u32,
}

fn args() -> Args {
    let mut args = Args {
        frames: 10_000,
        tasks: 100_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().and_then(|v| v.parse().ok());
        match (flag.as_str(), value) {
            ("--frames", Some(v)) => args.frames = v,
            ("--tasks", Some(v)) => args.tasks = v,
            _ => {
                eprintln!("usage: soak [--frames N] [--tasks N]");
                std::process::exit(2);
            }
        }
    }
    args
}

/// Resident memory in KiB (Linux), from `/proc/self/statm`.
fn resident_kib() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4)
}

/// A tiny seeded generator: the run is the same every time.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Finished tasks, counted by an observer.
#[derive(Resource, Default)]
struct Finished(u64);

fn main() -> AppExit {
    let Args { frames, tasks } = args();
    let mut app = App::new();
    // A tenth of the population steps each frame.
    app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps((tasks / 10).max(1))))
        .init_resource::<Finished>()
        .add_observer(|_: On<TaskFinished>, mut finished: ResMut<Finished>| finished.0 += 1);
    app.finish();
    app.cleanup();
    let global = app.world().resource::<GlobalCooperator>().0;

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Tasks that may still be alive (dead ones are dropped when met), and paused ones.
    let mut known: Vec<Entity> = Vec::new();
    let mut paused: Vec<Entity> = Vec::new();
    let churn = (tasks as usize / 200).max(1);
    let spawn = |world: &mut World, rng: &mut Rng, known: &mut Vec<Entity>| {
        let len = 1 + rng.below(64);
        known.push(world.cooperate((0..len).map(|_| ())));
    };

    for _ in 0..tasks {
        spawn(app.world_mut(), &mut rng, &mut known);
    }
    app.update();
    let start = resident_kib();
    let started = Instant::now();
    let mut middle = None;
    println!("soak: {tasks} live tasks, {frames} frames");
    println!("rss at start:  {}", show(start));

    for frame in 1..=frames {
        let world = app.world_mut();
        // Keep the population: replace what finished or was stopped.
        let live = world.get::<Cooperator>(global).unwrap().task_count();
        for _ in live..tasks {
            spawn(world, &mut rng, &mut known);
        }
        for _ in 0..churn {
            // Pause a random live task (again, sometimes: pauses nest).
            if let Some(t) = pick_live(world, &mut rng, &mut known) {
                world.pause_task(t).unwrap();
                paused.push(t);
            }
            // Resume a random paused one, keeping about a tenth of the population paused.
            if paused.len() > tasks as usize / 10 {
                let t = paused.swap_remove(rng.below(paused.len()));
                match world.resume_task(t) {
                    Ok(()) | Err(TaskError::NoSuchTask(_)) => {}
                    Err(e) => panic!("resume of {t}: {e}"),
                }
            }
        }
        for _ in 0..churn / 5 {
            if let Some(t) = pick_live(world, &mut rng, &mut known) {
                world.stop_task(t).unwrap();
            }
        }
        if frame % 100 == 0 {
            known.retain(|&t| alive(world, t));
            paused.retain(|&t| world.get::<CooperativeTask>(t).is_some());
        }
        app.update();
        if frame == frames / 2 {
            middle = resident_kib();
            println!("rss at middle: {} (frame {frame})", show(middle));
        }
    }

    let end = resident_kib();
    let elapsed = started.elapsed();
    let world = app.world();
    let coop = world.get::<Cooperator>(global).unwrap();
    println!("rss at end:    {}", show(end));
    println!(
        "{} steps, {} tasks finished, {} live ({} paused) in {:.2?} ({:.1} us/frame)",
        coop.stats().total_steps,
        world.resource::<Finished>().0,
        coop.task_count(),
        coop.paused_count(),
        elapsed,
        elapsed.as_secs_f64() * 1e6 / f64::from(frames.max(1)),
    );
    match (middle, end) {
        (Some(m), Some(e)) if e as f64 > m as f64 * (1.0 + MAX_GROWTH) => {
            println!(
                "FAIL: resident memory grew {:.1} % between the middle and the end",
                (e as f64 / m as f64 - 1.0) * 100.0
            );
            AppExit::error()
        }
        (Some(m), Some(e)) => {
            println!(
                "ok: resident memory changed {:+.1} % between the middle and the end",
                (e as f64 / m as f64 - 1.0) * 100.0
            );
            AppExit::Success
        }
        _ => {
            println!("resident memory is not available on this platform");
            AppExit::Success
        }
    }
}

fn alive(world: &World, t: Entity) -> bool {
    world
        .get::<CooperativeTask>(t)
        .is_some_and(|task| !task.is_finished())
}

/// A random live task, dropping the dead ones met on the way.
fn pick_live(world: &World, rng: &mut Rng, known: &mut Vec<Entity>) -> Option<Entity> {
    while !known.is_empty() {
        let i = rng.below(known.len());
        if alive(world, known[i]) {
            return Some(known[i]);
        }
        known.swap_remove(i);
    }
    None
}

fn show(kib: Option<u64>) -> String {
    kib.map_or_else(|| "n/a".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}
