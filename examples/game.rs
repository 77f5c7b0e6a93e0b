//! A real game loop: `App::run()` at 60 Hz (headless), a `Loading` → `InGame` state flow, a level
//! loaded through `bevy_asset` and spawned across frames under a loading-screen budget with a
//! progress bar, then background pathfinding under a small gameplay budget while the game runs.
//! Frame times are measured in the loop and summarised per phase; the example exits on its own
//! when every path query is answered, and fails if the level does not load, the world does not
//! hold exactly the entities the file describes, or a path is not the optimal length.
//!
//! ```sh
//! cargo run --example game --features bevy_state,bevy_asset              # the full run
//! cargo run --example game --features bevy_state,bevy_asset -- --short   # CI: a few seconds
//! cargo run --release --example game --features bevy_state,bevy_asset -- --plot game.svg
//! ```
//!
//! Options: `--short` (the demo level, 5 queries a map, the loop uncapped), `--level PATH` (a
//! level under `assets/`, default: a generated one, or `levels/demo.level` with `--short`),
//! `--generate N` (writes an N-entity level to the system's temporary directory and loads it
//! from there; default 50000), `--queries N` (per map; default 25), `--hz N` (0: uncapped),
//! `--max-frames N` (fails after that many frames), `--plot FILE.svg`.
//!
//! How it fits together:
//! - The loader is an `AssetLoader` for the crate's level format (`support/level.rs`) producing a
//!   `Level` asset: the parsed records. It runs on an IO thread (the crate's dev-dependencies turn
//!   on `bevy_tasks`' `multi_threaded`, as Bevy's default features do); without that feature a
//!   task pool runs a load to its end when it starts, and the parse would land in the first frame.
//! - A script task scoped to `Loading` (`cooperate_in_state`) waits with `Wait::asset`, spawns the
//!   level's entities a chunk per work unit, reports progress, and sets `NextState(InGame)`. An
//!   ordinary system draws the bar from `Query<&TaskProgress>`.
//! - The global cooperator's budget follows the state (`StateBudget`, kept by
//!   `CooperatorStatesPlugin`): 80 % of the frame while loading (at most 8 ms), 1 ms in game.
//! - Frame time is the time from the start of the frame (before `First`; in the first frame,
//!   before the startup schedules) to the end of `Last`, measured by two schedules of this
//!   example's own around Bevy's: the work of a frame, not the runner's sleep.

#[path = "support/frames.rs"]
#[allow(dead_code, reason = "shared with other examples that use other parts")]
mod frames;
#[path = "support/grid.rs"]
#[allow(dead_code, reason = "shared with other examples that use other parts")]
mod grid;
#[path = "support/level.rs"]
mod level;
#[path = "support/level_spawn.rs"]
mod level_spawn;
#[path = "support/paths.rs"]
mod paths;

use std::fmt;
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bevy_app::{
    App, AppExit, First, Last, MainScheduleOrder, ScheduleRunnerPlugin, Startup, TaskPoolPlugin,
    Update,
};
use bevy_asset::io::{AssetSourceBuilder, Reader};
use bevy_asset::{
    Asset, AssetApp, AssetLoader, AssetMetaCheck, AssetPlugin, AssetServer, Assets, Handle,
    LoadContext,
};
use bevy_cooperator::prelude::*;
use bevy_cooperator::{
    CooperateStateCommandsExt, CooperatorStatesPlugin, StateBudget, TaskProgress, WorkMarker,
};
use bevy_ecs::prelude::*;
use bevy_ecs::schedule::ScheduleLabel;
use bevy_reflect::TypePath;
use bevy_state::app::StatesPlugin;
use bevy_state::prelude::*;
use bevy_time::TimePlugin;
use frames::{FrameTimes, ms};
use indicatif::{ProgressBar, ProgressStyle};
use level::{Header, LevelReader, Record};
use level_spawn::{LevelEntity, Light, Prop, SpawnPoint, Waypoint, spawn_record};
use paths::{Paths, Units, default_maps, load_queries, move_units, request_paths, verify};

/// Entities the loading task spawns per work unit.
const SPAWN_CHUNK: usize = 64;
/// Searches running at once, and nodes each expands per step.
const IN_FLIGHT: usize = 4;
const EXPANSIONS: usize = 64;

#[derive(States, Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
enum GameState {
    #[default]
    Loading,
    InGame,
}

/// The budgets: most of the frame for the loading screen, a sliver in game.
fn budgets() -> StateBudget<GameState> {
    StateBudget::new(Budget::millis(1)).on(GameState::Loading, Budget::frame_fraction(0.8))
}

// ---------------------------------------------------------------------------------------------
// The level asset.

/// A level file, parsed: its header and every entity line.
#[derive(Asset, TypePath)]
struct Level {
    header: Header,
    records: Arc<[Record]>,
}

#[derive(TypePath, Default)]
struct LevelLoader;

/// Why a level file could not be read.
#[derive(Debug)]
struct LevelError(String);

impl fmt::Display for LevelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LevelError {}

impl AssetLoader for LevelLoader {
    type Asset = Level;
    type Settings = ();
    type Error = LevelError;

    async fn load(
        &self,
        reader: &mut dyn Reader,
        _: &(),
        _: &mut LoadContext<'_>,
    ) -> Result<Level, LevelError> {
        let mut bytes = Vec::new();
        reader
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| LevelError(e.to_string()))?;
        let (mut lines, header) = LevelReader::new(bytes.as_slice()).map_err(LevelError)?;
        let mut records = Vec::with_capacity(header.entities);
        while lines.read_chunk(4096, &mut records).map_err(LevelError)? > 0 {}
        Ok(Level {
            header,
            records: records.into(),
        })
    }

    fn extensions(&self) -> &[&str] {
        &["level"]
    }
}

// ---------------------------------------------------------------------------------------------
// The level's entities.

/// What the loading task spawned, for the check on entering the game.
#[derive(Resource)]
struct Loaded {
    name: String,
    expected: usize,
    spawned: usize,
}

/// Marks the loading task, whose progress the loading screen shows.
#[derive(Component)]
struct LoadingTask;

/// The loading task: waits for the asset, spawns its entities a chunk per work unit, enters the
/// game.
fn load_level(handle: Handle<Level>) -> impl IntoWork<WorkMarker> {
    script(move |cx| async move {
        // A missing or malformed file fails the wait, and so the task, with the load error.
        cx.wait(Wait::asset(&handle)).await?;
        let id = handle.id();
        let (header, records) = cx
            .with_world(move |world| {
                let level = world.resource::<Assets<Level>>().get(id)?;
                Some((level.header.clone(), level.records.clone()))
            })
            .await
            .ok_or_else(|| Failure::msg("the level is loaded but not in Assets<Level>"))?;
        let total = header.entities as u64;
        cx.report_progress(0, Some(total)).await;
        let mut parents = Vec::new();
        let mut spawned = 0;
        while spawned < records.len() {
            let end = (spawned + SPAWN_CHUNK).min(records.len());
            let chunk = records.clone();
            parents = cx
                .with_world(move |world| {
                    for record in &chunk[spawned..end] {
                        spawn_record(world, record, &mut parents);
                    }
                    parents
                })
                .await;
            spawned = end;
            cx.report_progress(spawned as u64, Some(total)).await;
            cx.yield_now().await;
        }
        cx.with_world(move |world| {
            world.insert_resource(Loaded {
                name: header.name,
                expected: header.entities,
                spawned,
            });
            world
                .resource_mut::<NextState<GameState>>()
                .set(GameState::InGame);
        })
        .await;
        Ok::<(), Failure>(())
    })
}

fn start_loading(mut commands: Commands, server: Res<AssetServer>, settings: Res<Settings>) {
    let handle: Handle<Level> = server.load(settings.level.clone());
    commands
        .cooperate_in_state(GameState::Loading, load_level(handle))
        .insert(LoadingTask)
        .observe(loading_finished);
}

/// A loading task that did not finish `Done` ends the game with an error.
fn loading_finished(finished: On<TaskFinished>, mut exit: MessageWriter<AppExit>) {
    match &finished.outcome {
        Outcome::Done => {}
        Outcome::Failed(failure) => {
            eprintln!(
                "game: loading the level failed: {}",
                failure.to_string().trim_end()
            );
            exit.write(AppExit::error());
        }
        other => {
            eprintln!("game: the loading task ended early: {other:?}");
            exit.write(AppExit::error());
        }
    }
}

/// Which kind a level entity is, and whether it is nested.
type EntityKinds = (
    Has<Prop>,
    Has<Light>,
    Has<SpawnPoint>,
    Has<Waypoint>,
    Has<ChildOf>,
);

/// On entering the game: the world must hold exactly the entities the file describes.
fn check_level(
    loaded: Option<Res<Loaded>>,
    entities: Query<(), With<LevelEntity>>,
    kinds: Query<EntityKinds, With<LevelEntity>>,
    mut exit: MessageWriter<AppExit>,
) {
    let Some(loaded) = loaded else {
        eprintln!("game: entered the game with no level loaded");
        exit.write(AppExit::error());
        return;
    };
    let count = entities.iter().count();
    let mut tally = [0; 5];
    for (prop, light, spawn, waypoint, nested) in &kinds {
        for (n, set) in tally.iter_mut().zip([prop, light, spawn, waypoint, nested]) {
            *n += usize::from(set);
        }
    }
    let [props, lights, spawns, waypoints, nested] = tally;
    let ok = count == loaded.expected && loaded.spawned == loaded.expected;
    println!(
        "level {}: the world holds {count} level entities, the file describes {} \
         ({props} props, {lights} lights, {spawns} spawn points, {waypoints} waypoints; \
         {nested} nested) {}",
        loaded.name,
        loaded.expected,
        if ok { "- match" } else { "- MISMATCH" }
    );
    if !ok {
        exit.write(AppExit::error());
    }
}

// ---------------------------------------------------------------------------------------------
// The loading screen.

/// How progress is shown: a bar on a terminal, a few plain lines otherwise.
#[derive(Resource)]
enum ProgressDisplay {
    Bar(ProgressBar),
    Plain { printed: u64, started: bool },
}

impl ProgressDisplay {
    fn new() -> Self {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(0);
            if let Ok(style) =
                ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} entities ({elapsed})")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message("loading: waiting for the level file");
            ProgressDisplay::Bar(bar)
        } else {
            ProgressDisplay::Plain {
                printed: 0,
                started: false,
            }
        }
    }
}

/// The loading screen: reads the loading task's progress with an ordinary query.
fn show_progress(
    tasks: Query<&TaskProgress, With<LoadingTask>>,
    mut display: ResMut<ProgressDisplay>,
) {
    let Some(TaskProgress(progress)) = tasks.iter().next() else {
        return; // still waiting for the asset
    };
    let total = progress.total.unwrap_or(0);
    match &mut *display {
        ProgressDisplay::Bar(bar) => {
            if bar.length() != Some(total) {
                bar.set_length(total);
                bar.set_message("loading: spawning");
            }
            bar.set_position(progress.done);
        }
        ProgressDisplay::Plain { printed, started } => {
            if !*started {
                *started = true;
                eprintln!("loading: spawning {total} entities: 0%");
            }
            let quarter = progress.done * 4 / total.max(1);
            if quarter > *printed && quarter < 4 {
                *printed = quarter;
                eprintln!("  {}%", quarter * 25);
            }
        }
    }
}

fn finish_progress(display: Res<ProgressDisplay>) {
    match &*display {
        ProgressDisplay::Bar(bar) => {
            let elapsed = bar.elapsed();
            bar.finish_and_clear();
            eprintln!("loading: {} entities in {elapsed:.2?}", bar.position());
        }
        ProgressDisplay::Plain { .. } => eprintln!("  100%"),
    }
}

/// Stand-in for the loading screen's animation.
#[derive(Resource, Default)]
struct Spinner(f32);

fn spin(mut spinner: ResMut<Spinner>) {
    spinner.0 = (spinner.0 + 0.1) % std::f32::consts::TAU;
}

// ---------------------------------------------------------------------------------------------
// Gameplay.

/// The path queries the game will ask once in game.
#[derive(Resource)]
struct Queries(Vec<paths::Query>);

fn start_gameplay(mut commands: Commands, queries: Res<Queries>) {
    commands.insert_resource(Paths::new(&queries.0, IN_FLIGHT, EXPANSIONS));
}

/// Ends the game when every query is answered: a success if every length is optimal.
fn finish_when_answered(
    paths: Res<Paths>,
    queries: Res<Queries>,
    mut exit: MessageWriter<AppExit>,
) {
    if paths.found.len() < queries.0.len() {
        return;
    }
    let matched = verify("game", &queries.0, &paths);
    exit.write(if matched == queries.0.len() {
        AppExit::Success
    } else {
        AppExit::error()
    });
}

/// Fails the game after `max_frames` frames: nothing may hang.
fn guard(settings: Res<Settings>, mut frames: Local<usize>, mut exit: MessageWriter<AppExit>) {
    *frames += 1;
    if *frames == settings.max_frames {
        eprintln!(
            "game: not done after {} frames: giving up",
            settings.max_frames
        );
        exit.write(AppExit::error());
    }
}

// ---------------------------------------------------------------------------------------------
// Frame times.

/// Runs before `First` (and before the startup schedules).
#[derive(ScheduleLabel, Clone, Debug, PartialEq, Eq, Hash)]
struct FrameStart;

/// Runs after `Last`.
#[derive(ScheduleLabel, Clone, Debug, PartialEq, Eq, Hash)]
struct FrameEnd;

/// One phase's frames: their times, and when the phase began and ended.
#[derive(Default)]
struct Phase {
    times: Vec<Duration>,
    began: Option<Instant>,
    ended: Option<Instant>,
}

impl Phase {
    fn wall(&self) -> Duration {
        match (self.began, self.ended) {
            (Some(began), Some(ended)) => ended - began,
            _ => Duration::ZERO,
        }
    }
}

/// The measurements, shared with `main`, which reads them after `App::run` returns.
#[derive(Default)]
struct Log {
    frame_began: Option<Instant>,
    loading: Phase,
    in_game: Phase,
}

#[derive(Resource, Clone, Default)]
struct FrameLog(Arc<Mutex<Log>>);

/// Runs first in each frame, and in the first frame also before the startup schedules (which
/// start the level's load): the first run counts.
fn frame_start(log: Res<FrameLog>) {
    log.0
        .lock()
        .unwrap()
        .frame_began
        .get_or_insert_with(Instant::now);
}

/// A frame counts for the state it ends in: the frame of the transition is the game's first.
fn frame_end(log: Res<FrameLog>, state: Res<State<GameState>>) {
    let end = Instant::now();
    let mut log = log.0.lock().unwrap();
    let Some(began) = log.frame_began.take() else {
        return;
    };
    let phase = match state.get() {
        GameState::Loading => &mut log.loading,
        GameState::InGame => &mut log.in_game,
    };
    phase.times.push(end - began);
    phase.began.get_or_insert(began);
    phase.ended = Some(end);
}

fn summary(times: &FrameTimes, wall: Duration) -> String {
    if times.frames() == 0 {
        return format!("{:<8}      - not reached", times.label);
    }
    format!(
        "{:<8} {:>6} frames   p50 {:>8}   p90 {:>8}   p99 {:>8}   max {:>8}   work {:>9}   phase {:>9}",
        times.label,
        times.frames(),
        ms(times.percentile(50)),
        ms(times.percentile(90)),
        ms(times.percentile(99)),
        ms(times.max()),
        ms(times.total()),
        ms(wall)
    )
}

// ---------------------------------------------------------------------------------------------
// Putting it together.

#[derive(Resource, Clone)]
struct Settings {
    /// The level's asset path.
    level: String,
    max_frames: usize,
}

struct Options {
    short: bool,
    level: Option<String>,
    generate: usize,
    queries: usize,
    hz: f64,
    max_frames: usize,
    plot: Option<String>,
}

fn options() -> Result<Options, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let short = args.iter().any(|a| a == "--short");
    let mut o = Options {
        short,
        level: short.then(|| "levels/demo.level".to_string()),
        generate: 50_000,
        queries: if short { 5 } else { 25 },
        hz: if short { 0.0 } else { 60.0 },
        max_frames: if short { 5_000 } else { 10_000 },
        plot: None,
    };
    let mut args = args.into_iter().filter(|a| a != "--short");
    while let Some(arg) = args.next() {
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        let number = |v: &str| v.parse::<usize>().map_err(|e| format!("{v}: {e}"));
        match arg.as_str() {
            "--level" => o.level = Some(value),
            "--generate" => {
                o.generate = number(&value)?;
                o.level = None;
            }
            "--queries" => o.queries = number(&value)?,
            "--hz" => o.hz = value.parse().map_err(|e| format!("{value}: {e}"))?,
            "--max-frames" => o.max_frames = number(&value)?.max(1),
            "--plot" => o.plot = Some(value),
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    Ok(o)
}

/// Writes an `entities`-entity level into a directory of its own; returns the directory and
/// the file name.
fn generate(entities: usize) -> Result<(PathBuf, String), String> {
    let dir = std::env::temp_dir().join("bevy_cooperator-game");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let name = format!("generated-{entities}");
    let file_name = format!("{name}.level");
    let path = dir.join(&file_name);
    let file = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut writer = BufWriter::new(file);
    level::generate(&name, entities, 7, &mut writer)
        .and_then(|()| writer.flush())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    println!("generated {} ({entities} entities)", path.display());
    Ok((dir, file_name))
}

fn run() -> Result<ExitCode, String> {
    let o = options()?;
    let queries = load_queries(&default_maps(), Some(o.queries))?;

    let mut app = App::new();
    let level = match &o.level {
        Some(level) => level.clone(),
        None => {
            let (dir, file) = generate(o.generate)?;
            let dir = dir
                .to_str()
                .ok_or("the temporary directory's path is not UTF-8")?;
            // A second asset source for the generated level, registered before `AssetPlugin`.
            app.register_asset_source("generated", AssetSourceBuilder::platform_default(dir, None));
            format!("generated://{file}")
        }
    };
    println!("level {level}, {} path queries", queries.len());

    let wait = if o.hz > 0.0 {
        Duration::try_from_secs_f64(1.0 / o.hz).map_err(|e| format!("--hz {}: {e}", o.hz))?
    } else {
        Duration::ZERO
    };
    let log = FrameLog::default();
    app.add_plugins((
        TaskPoolPlugin::default(),
        TimePlugin,
        ScheduleRunnerPlugin::run_loop(wait),
        StatesPlugin,
        AssetPlugin {
            file_path: concat!(env!("CARGO_MANIFEST_DIR"), "/assets").into(),
            meta_check: AssetMetaCheck::Never,
            ..Default::default()
        },
        CooperatorPlugin::default(),
        CooperatorStatesPlugin::<GameState>::default(),
    ))
    .init_state::<GameState>()
    .init_asset::<Level>()
    .init_asset_loader::<LevelLoader>()
    .insert_resource(Settings {
        level,
        max_frames: o.max_frames,
    })
    .insert_resource(Queries(queries))
    .insert_resource(Units(vec![[0.0, 0.0]; 2_000]))
    .insert_resource(ProgressDisplay::new())
    .insert_resource(log.clone())
    .init_resource::<Spinner>()
    .add_systems(FrameStart, frame_start)
    .add_systems(FrameEnd, frame_end)
    .add_systems(Startup, start_loading)
    .add_systems(
        Update,
        (
            (spin, show_progress.after(CooperatorSystems::Step))
                .run_if(in_state(GameState::Loading)),
            (
                move_units,
                request_paths.before(CooperatorSystems::Wake),
                finish_when_answered.after(CooperatorSystems::Step),
            )
                .run_if(in_state(GameState::InGame)),
            guard,
        ),
    )
    .add_systems(OnExit(GameState::Loading), finish_progress)
    .add_systems(
        OnEnter(GameState::InGame),
        (check_level, start_gameplay).chain(),
    );
    let mut order = app.world_mut().resource_mut::<MainScheduleOrder>();
    order.insert_before(First, FrameStart);
    order.startup_labels.insert(0, FrameStart.intern());
    order.insert_after(Last, FrameEnd);
    let global = app.world().resource::<GlobalCooperator>().0;
    app.world_mut().entity_mut(global).insert(budgets());

    let exit = app.run();

    let log = log.0.lock().unwrap();
    let loading = FrameTimes {
        label: "Loading".into(),
        times: log.loading.times.clone(),
        cpu: Vec::new(),
        first: 1,
    };
    let in_game = FrameTimes {
        label: "InGame".into(),
        times: log.in_game.times.clone(),
        cpu: Vec::new(),
        first: loading.frames() + 1,
    };
    let rate = if o.hz > 0.0 {
        format!("{} Hz", o.hz)
    } else {
        "uncapped".into()
    };
    println!(
        "\nframe times ({} build, {rate} loop{}; the work of each frame, not the sleep between):",
        frames::profile(),
        if o.short { ", short" } else { "" }
    );
    println!("{}", summary(&loading, log.loading.wall()));
    println!("{}", summary(&in_game, log.in_game.wall()));
    if let Some(plot) = &o.plot {
        let title = format!(
            "A game's frames ({} build): loading, then in game",
            frames::profile()
        );
        let budgets = [
            ("in-game budget", Duration::from_millis(1)),
            ("loading budget, at most", Duration::from_millis(8)),
        ];
        match frames::plot(plot, &title, &budgets, &[&loading, &in_game]) {
            Ok(()) => println!("plot written to {plot}"),
            Err(e) => eprintln!("game: plot: {e}"),
        }
    }
    Ok(match exit {
        AppExit::Success => ExitCode::SUCCESS,
        AppExit::Error(code) => {
            eprintln!("game: exited with an error");
            ExitCode::from(code.get())
        }
    })
}

fn main() -> ExitCode {
    run().unwrap_or_else(|e| {
        eprintln!("game: {e}");
        ExitCode::FAILURE
    })
}
