//! Level loading spread across frames: a level file is read, parsed and spawned in chunks by one
//! cooperative task within the cooperator's default per-frame time budget, with a progress bar,
//! and the world is checked to hold exactly the entities the file describes. The same level is
//! then loaded blocking, in one frame, and both runs' frame times are printed.
//!
//! ```sh
//! cargo run --example level_loading                        # assets/levels/demo.level
//! cargo run --example level_loading -- --generate 100000   # generate a 100k-entity level first
//! cargo run --example level_loading -- --level my.level --plot frames.svg
//! ```
//!
//! Options: `--level PATH`, `--generate N` (writes an N-entity level to the system's temporary
//! directory and loads it), `--plot FILE.svg` (per-frame times of both runs), `--seed N`.
//! The level format is described in `examples/support/level.rs`.

#[path = "support/frames.rs"]
#[allow(dead_code, reason = "shared with other examples that use other parts")]
mod frames;
#[path = "support/level.rs"]
mod level;
#[path = "support/level_spawn.rs"]
mod level_spawn;

use std::fs::File;
use std::io::{BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bevy_app::{App, Update};
use bevy_cooperator::prelude::*;
use bevy_ecs::prelude::*;
use frames::{FrameTimes, run_frames};
use indicatif::{ProgressBar, ProgressStyle};
use level::{Header, LevelReader, Record};
use level_spawn::{LevelEntity, Light, Prop, SpawnPoint, Waypoint, spawn_record};

/// Entity lines read and parsed per step.
const PARSE_CHUNK: usize = 256;
/// Entities spawned per step.
const SPAWN_CHUNK: usize = 64;

/// What the loader reports when it is done.
#[derive(Resource, Default)]
struct Loaded {
    done: bool,
    /// Why the loader failed, if it did.
    failure: Option<String>,
    expected: usize,
    spawned: usize,
}

/// Stand-in for the loading screen: an icon spinning every frame.
#[derive(Resource, Default)]
struct Spinner(f32);

fn spin(mut spinner: ResMut<Spinner>) {
    spinner.0 = (spinner.0 + 0.1) % std::f32::consts::TAU;
}

/// How progress is shown: a bar on a terminal, a few plain lines otherwise, nothing at all.
enum Progress {
    Bar(ProgressBar),
    Plain { printed: u64 },
    Quiet,
}

impl Progress {
    fn new(show: bool) -> Self {
        match (show, std::io::stderr().is_terminal()) {
            (false, _) => Progress::Quiet,
            (true, true) => {
                let bar = ProgressBar::new(0);
                if let Ok(style) = ProgressStyle::with_template(
                    "{msg} [{bar:40}] {pos}/{len} entities ({elapsed})",
                ) {
                    bar.set_style(style.progress_chars("=> "));
                }
                Progress::Bar(bar)
            }
            (true, false) => Progress::Plain { printed: 0 },
        }
    }

    fn start(&mut self, header: &Header) {
        match self {
            Progress::Bar(bar) => {
                bar.set_length(header.entities as u64);
                bar.set_message(format!("loading {}", header.name));
            }
            Progress::Plain { .. } => eprintln!("loading {}: 0%", header.name),
            Progress::Quiet => {}
        }
    }

    fn set(&mut self, spawned: usize, total: usize) {
        match self {
            Progress::Bar(bar) => bar.set_position(spawned as u64),
            Progress::Plain { printed } => {
                let quarter = (spawned * 4 / total.max(1)) as u64;
                if quarter > *printed && quarter < 4 {
                    *printed = quarter;
                    eprintln!("  {}%", quarter * 25);
                }
            }
            Progress::Quiet => {}
        }
    }

    fn finish(&mut self) {
        match self {
            Progress::Bar(bar) => {
                let elapsed = bar.elapsed();
                bar.finish_and_clear();
                eprintln!(
                    "{}: {} entities in {elapsed:.2?}",
                    bar.message(),
                    bar.position()
                );
            }
            Progress::Plain { .. } => eprintln!("  100%"),
            Progress::Quiet => {}
        }
    }
}

/// The loader: a state machine stepped by the cooperator. A step opens the file and reads the
/// header, or parses the next chunk of lines, or spawns the next chunk of parsed entities.
struct LevelLoader {
    path: PathBuf,
    reader: Option<LevelReader<BufReader<File>>>,
    expected: usize,
    parsed: Vec<Record>,
    next: usize,
    /// The latest entity at each nesting level: the parent of the next deeper line.
    parents: Vec<Entity>,
    spawned: usize,
    progress: Progress,
}

impl LevelLoader {
    fn new(path: PathBuf, progress: Progress) -> Self {
        LevelLoader {
            path,
            reader: None,
            expected: 0,
            parsed: Vec::with_capacity(PARSE_CHUNK),
            next: 0,
            parents: Vec::new(),
            spawned: 0,
            progress,
        }
    }

    fn spawn(&mut self, world: &mut World, record: &Record) {
        spawn_record(world, record, &mut self.parents);
        self.spawned += 1;
    }
}

impl Work for LevelLoader {
    fn step(&mut self, cx: &mut StepContext) -> Step {
        // Open the file and read the header.
        let Some(reader) = self.reader.as_mut() else {
            let opened = File::open(&self.path)
                .map_err(|e| format!("{}: {e}", self.path.display()))
                .and_then(|file| LevelReader::new(BufReader::new(file)));
            return match opened {
                Ok((reader, header)) => {
                    self.expected = header.entities;
                    self.progress.start(&header);
                    self.reader = Some(reader);
                    Step::Continue
                }
                Err(e) => Step::Fail(e.into()),
            };
        };
        // Spawn the next chunk of what was parsed.
        if self.next < self.parsed.len() {
            let end = (self.next + SPAWN_CHUNK).min(self.parsed.len());
            let records = std::mem::take(&mut self.parsed);
            let world = cx.world();
            for record in &records[self.next..end] {
                self.spawn(world, record);
            }
            self.parsed = records;
            self.next = end;
            self.progress.set(self.spawned, self.expected);
            return Step::Continue;
        }
        // Parse the next chunk of lines.
        self.parsed.clear();
        self.next = 0;
        match reader.read_chunk(PARSE_CHUNK, &mut self.parsed) {
            Ok(0) => {
                self.progress.finish();
                let mut loaded = cx.world().resource_mut::<Loaded>();
                loaded.done = true;
                loaded.expected = self.expected;
                loaded.spawned = self.spawned;
                Step::Done
            }
            Ok(_) => Step::Continue,
            Err(e) => Step::Fail(format!("{}: {e}", self.path.display()).into()),
        }
    }
}

/// Loads the level in an app whose global cooperator has `budget`; returns the frame times.
fn load(path: &Path, budget: Budget, label: &str, progress: bool) -> (FrameTimes, App) {
    let mut app = App::new();
    app.add_plugins(CooperatorPlugin::default().with_budget(budget))
        .init_resource::<Loaded>()
        .init_resource::<Spinner>()
        .add_systems(Update, spin);
    app.finish();
    app.cleanup();
    // The game was running before the load began (and the first update builds the schedule).
    app.update();
    app.world_mut()
        .commands()
        .cooperate(LevelLoader::new(
            path.to_path_buf(),
            Progress::new(progress),
        ))
        .observe(|finished: On<TaskFinished>, mut loaded: ResMut<Loaded>| {
            if let Outcome::Failed(failure) = &finished.outcome {
                loaded.failure = Some(failure.to_string());
            }
        });
    let times = run_frames(&mut app, label, usize::MAX, |world| {
        let loaded = world.resource::<Loaded>();
        loaded.done || loaded.failure.is_some()
    });
    (times, app)
}

/// Checks the world against the file; prints what it holds. `true` when all is there.
fn check(label: &str, app: &mut App) -> bool {
    let world = app.world_mut();
    let loaded = world.resource::<Loaded>();
    if let Some(failure) = &loaded.failure {
        eprintln!(
            "level_loading: {label}: the loader failed: {}",
            failure.trim_end()
        );
        return false;
    }
    let (expected, spawned) = (loaded.expected, loaded.spawned);
    let entities = count::<LevelEntity>(world);
    let props = count::<Prop>(world);
    let lights = count::<Light>(world);
    let spawns = count::<SpawnPoint>(world);
    let waypoints = count::<Waypoint>(world);
    let children = count::<ChildOf>(world);
    let ok = entities == expected && spawned == expected;
    println!(
        "{label}: the world holds {entities} level entities, the file describes {expected} \
         ({props} props, {lights} lights, {spawns} spawn points, {waypoints} waypoints; \
         {children} nested) {}",
        if ok { "- match" } else { "- MISMATCH" }
    );
    ok
}

fn count<C: Component>(world: &mut World) -> usize {
    world.query_filtered::<(), With<C>>().iter(world).count()
}

struct Options {
    level: PathBuf,
    generate: Option<usize>,
    seed: u64,
    plot: Option<String>,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        level: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/levels/demo.level"),
        generate: None,
        seed: 7,
        plot: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        let number = |v: &str| v.parse::<u64>().map_err(|e| format!("{v}: {e}"));
        match arg.as_str() {
            "--level" => o.level = value.into(),
            "--generate" => o.generate = Some(number(&value)? as usize),
            "--seed" => o.seed = number(&value)?,
            "--plot" => o.plot = Some(value),
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    Ok(o)
}

fn generate(entities: usize, seed: u64) -> Result<PathBuf, String> {
    let name = format!("generated-{entities}");
    let path = std::env::temp_dir().join(format!("bevy_cooperator-{name}.level"));
    let file = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut writer = BufWriter::new(file);
    level::generate(&name, entities, seed, &mut writer)
        .and_then(|()| writer.flush())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    println!("generated {} ({entities} entities)", path.display());
    Ok(path)
}

fn main() -> ExitCode {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("level_loading: {e}");
            return ExitCode::FAILURE;
        }
    };
    let path = match o.generate {
        Some(n) => match generate(n, o.seed) {
            Ok(path) => path,
            Err(e) => {
                eprintln!("level_loading: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => o.level.clone(),
    };
    let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
    println!("level {} ({bytes} bytes)", path.display());

    // Cooperative: the default budget, 2 ms of loading a frame.
    let (cooperative, mut app) = load(&path, Budget::default(), "cooperative", true);
    let mut ok = check("cooperative", &mut app);
    let entities = app.world().resource::<Loaded>().expected;
    drop(app);

    // Blocking: the same loader with no budget, so all of it runs in the first frame.
    let (blocking, mut app) = load(&path, Budget::Unlimited, "blocking", false);
    ok &= check("blocking", &mut app);

    println!("\nframe times ({} build):", frames::profile());
    println!("{}", cooperative.summary());
    println!("{}", blocking.summary());
    if let Some(plot) = &o.plot {
        let title = format!(
            "Loading {entities} entities ({bytes} bytes, {} build): per-frame time",
            frames::profile()
        );
        match frames::plot(
            plot,
            &title,
            &[("budget", frames::default_time_budget())],
            &[&cooperative, &blocking],
        ) {
            Ok(()) => println!("plot written to {plot}"),
            Err(e) => eprintln!("level_loading: plot: {e}"),
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
