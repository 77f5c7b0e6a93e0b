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
//! # the loading-screen budgets compared, beside a render-like system:
//! cargo run --release --example game --features bevy_state,bevy_asset -- \
//!     --compare-budgets --plot budgets.svg
//! ```
//!
//! Options: `--short` (the demo level, 5 queries a map, the loop uncapped), `--level PATH` (a
//! level under `assets/`, default: a generated one, or `levels/demo.level` with `--short`),
//! `--generate N` (writes an N-entity level to the system's temporary directory and loads it
//! from there; default 50000, 1000000 in the comparison), `--queries N` (per map; default 25), `--hz N` (0: uncapped),
//! `--max-frames N` (fails after that many frames), `--plot FILE.svg`, `--budget
//! time|fraction|fill` (the loading budget: `Budget::Time(2 ms)`, `Budget::frame_fraction(0.8)`
//! or `Budget::fill_frame` up to the loop's period, 1/60 s when uncapped; default fill), `--compare-budgets`,
//! `--seed N` (the render-like costs; default 1), `--trace` (each loading frame's figures).
//!
//! `--compare-budgets` compares the loading-screen budgets where a player sees them: it runs the
//! loading phase once per budget (`--budget` picks one) at 60 Hz with the same level, beside a
//! render-like system in `PreUpdate` (before the cooperator's tick, as a game's frame work is)
//! that busy-waits 3 to 8 ms a frame, drawn from a seeded xorshift. Each run ends once the level
//! is in (no path queries), and runs in a process of its own: the program runs itself with
//! `--run-one`, which prints the frames (in one process a later app's load paid twice as much for
//! the world's storage growth). It prints, over the frames of the load (from
//! the first in which the loading task reports progress to the last before the game): the frames
//! to load; the spare time, each frame's target (the loop's period) less the frame's work other
//! than the loading ticks, and the share of it the loading work used; the ideal load, the
//! loading work over the mean spare time a frame, and frames / ideal (which is 1 / the share);
//! the frames over the target and over it + 0.5 ms; the p99 and longest frame. The main
//! thread's CPU time is measured beside each frame's wall time: a frame whose CPU time is below
//! 90 % of its wall time was slowed by the operating system taking the thread off its core, and
//! is counted apart (`descheduled`). With `--short`, a 10,000-entity level (the demo level loads
//! in one frame).
//!
//! How it fits together:
//! - The loader is an `AssetLoader` for the crate's level format (`support/level.rs`) producing a
//!   `Level` asset: the parsed records. It runs on an IO thread (the crate's dev-dependencies turn
//!   on `bevy_tasks`' `multi_threaded`, as Bevy's default features do); without that feature a
//!   task pool runs a load to its end when it starts, and the parse would land in the first frame.
//! - A script task scoped to `Loading` (`cooperate_in_state`) waits with `Wait::asset`, spawns the
//!   level's entities a chunk per work unit, reports progress, and sets `NextState(InGame)`. An
//!   ordinary system draws the bar from `Query<&TaskProgress>`. A chunk that would grow the
//!   world's entity index (Bevy doubles it in one spawn: 3–8 ms past 2^18 entities, more than a
//!   budget's margin) waits for a frame whose remaining time holds it (`LevelSpawner`): a budget
//!   bounds the steps it starts, and a step it cannot cut must be started where it fits.
//! - The global cooperator's budget follows the state (`StateBudget`, kept by
//!   `CooperatorStatesPlugin`): while loading, `Budget::fill_frame` up to the loop's period (each
//!   tick gets what the frame leaves, less 1 ms of margin; `--compare-budgets` measures why), 1 ms
//!   in game.
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
    App, AppExit, First, Last, MainScheduleOrder, PreUpdate, ScheduleRunnerPlugin, Startup,
    TaskPoolPlugin, Update,
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
use bevy_time::{Real, Time, TimePlugin};
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

/// The budgets: `loading` for the loading screen, a sliver in game.
fn budgets(loading: Budget) -> StateBudget<GameState> {
    StateBudget::new(Budget::millis(1)).on(GameState::Loading, loading)
}

/// The loading-screen budgets the example can run with (`--budget`), and compares
/// (`--compare-budgets`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum LoadingBudget {
    /// `Budget::Time(2 ms)`: a fixed slice.
    Time,
    /// `Budget::frame_fraction(0.8)`: 80 % of the last frame's delta, at most 8 ms.
    Fraction,
    /// `Budget::fill_frame(target)`: what the frame leaves up to the target frame time.
    Fill,
}

impl LoadingBudget {
    const ALL: [LoadingBudget; 3] = [
        LoadingBudget::Time,
        LoadingBudget::Fraction,
        LoadingBudget::Fill,
    ];

    fn parse(name: &str) -> Result<Self, String> {
        match name {
            "time" => Ok(LoadingBudget::Time),
            "fraction" => Ok(LoadingBudget::Fraction),
            "fill" => Ok(LoadingBudget::Fill),
            _ => Err(format!(
                "--budget {name:?}: expected time, fraction or fill"
            )),
        }
    }

    /// The budget, for frames of `target` (the loop's period).
    fn budget(self, target: Duration) -> Budget {
        match self {
            LoadingBudget::Time => Budget::millis(2),
            LoadingBudget::Fraction => Budget::frame_fraction(0.8),
            LoadingBudget::Fill => Budget::fill_frame(target),
        }
    }

    /// Its `--budget` value.
    fn cli_name(self) -> &'static str {
        match self {
            LoadingBudget::Time => "time",
            LoadingBudget::Fraction => "fraction",
            LoadingBudget::Fill => "fill",
        }
    }

    fn name(self, target: Duration) -> String {
        match self {
            LoadingBudget::Time => "Time(2 ms)".into(),
            LoadingBudget::Fraction => "frame_fraction(0.8)".into(),
            LoadingBudget::Fill => format!("fill_frame({})", ms(target)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A render-like system (the budget comparison): the game's own frame work, before the loading
// work, costing 3 to 8 ms a frame.

/// The least and the most a render-like frame costs.
const RENDER_COST: [Duration; 2] = [Duration::from_millis(3), Duration::from_millis(8)];

/// The render-like system's random costs: xorshift64*, seeded.
#[derive(Resource)]
struct RenderLike {
    state: u64,
}

impl RenderLike {
    fn new(seed: u64) -> Self {
        // xorshift must not start at zero; mix the seed so that nearby seeds differ at once.
        let state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        RenderLike { state }
    }

    fn next(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// This frame's cost, uniform in `RENDER_COST` to the microsecond.
    fn cost(&mut self) -> Duration {
        let [least, most] = RENDER_COST;
        let span = (most - least).as_micros() as u64 + 1;
        least + Duration::from_micros((self.next() >> 11) % span)
    }
}

/// Busy-waits for this frame's cost, as rendering would keep the main thread: in `PreUpdate`,
/// before the cooperator's tick.
fn render_like(mut render: ResMut<RenderLike>, log: Res<FrameLog>) {
    let cost = render.cost();
    let start = Instant::now();
    while start.elapsed() < cost {
        std::hint::spin_loop();
    }
    log.0.lock().unwrap().current.render = start.elapsed();
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

/// The loading task's spawning state, handed to each chunk's work unit and back.
///
/// Bevy keeps a slot per entity index and, on a spawn past the last slot, doubles them and writes
/// every new one, all in that spawn: fresh pages, about 5 ms at 2^19 entities. A budget cannot cut
/// that step short, so the chunk that would grow the index waits for a later frame while what is
/// left of this one cannot hold it, as timed from the last growth (the next one writes twice the
/// slots), for at most [`MAX_DEFERRALS`] frames in a row.
#[derive(Default)]
struct LevelSpawner {
    /// The latest entity at each nesting level (see `spawn_record`).
    parents: Vec<Entity>,
    /// How long the chunk that last grew the entity index took.
    growth: Duration,
    /// Frames in a row the current chunk has waited.
    deferred: u32,
}

/// What the frame keeps free after a growth of the entity index: `Budget::fill_frame`'s margin.
const GROWTH_MARGIN: Duration = Duration::from_millis(1);
/// Frames in a row a chunk that grows the entity index waits for one that holds it.
const MAX_DEFERRALS: u32 = 8;

impl LevelSpawner {
    /// Spawns `records` unless they would grow the entity index past what is left of this frame
    /// of `target`; returns whether it spawned them.
    fn spawn_chunk(&mut self, world: &mut World, records: &[Record], target: Duration) -> bool {
        let slots = world.entities().len();
        if self.deferred < MAX_DEFERRALS && self.growth_overruns(world, records.len(), target) {
            self.deferred += 1;
            return false;
        }
        self.deferred = 0;
        let started = Instant::now();
        for record in records {
            spawn_record(world, record, &mut self.parents);
        }
        if world.entities().len() != slots {
            self.growth = started.elapsed();
        }
        true
    }

    /// Whether spawning `count` entities grows the entity index, and the growth would not end
    /// [`GROWTH_MARGIN`] before this frame's `target`.
    fn growth_overruns(&self, world: &World, count: usize, target: Duration) -> bool {
        let Some(&last) = self.parents.last() else {
            return false;
        };
        if last.index_u32() + (count as u32) < world.entities().len() {
            return false;
        }
        let into_frame = world
            .get_resource::<Time<Real>>()
            .and_then(|time| time.last_update())
            .map_or(Duration::ZERO, |began| began.elapsed());
        into_frame + 2 * self.growth + GROWTH_MARGIN > target
    }
}

/// The loading task: waits for the asset, spawns its entities a chunk per work unit (in frames
/// of `target`), enters the game.
fn load_level(handle: Handle<Level>, target: Duration) -> impl IntoWork<WorkMarker> {
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
        let mut spawner = LevelSpawner::default();
        let mut spawned = 0;
        while spawned < records.len() {
            let end = (spawned + SPAWN_CHUNK).min(records.len());
            let chunk = records.clone();
            let spawned_chunk;
            (spawner, spawned_chunk) = cx
                .with_world(move |world| {
                    let spawned_chunk = spawner.spawn_chunk(world, &chunk[spawned..end], target);
                    (spawner, spawned_chunk)
                })
                .await;
            if !spawned_chunk {
                cx.frames(1).await?;
                continue;
            }
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
        .cooperate_in_state(GameState::Loading, load_level(handle, settings.target))
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

/// How progress is shown: a bar on a terminal, a few plain lines otherwise; not at all in the
/// budget comparison.
#[derive(Resource)]
enum ProgressDisplay {
    Bar(ProgressBar),
    Plain { printed: u64, started: bool },
    Off,
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
        ProgressDisplay::Off => {}
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
        ProgressDisplay::Off => {}
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

/// The budget comparison ends each run once the level is in.
fn exit_when_loaded(mut exit: MessageWriter<AppExit>) {
    exit.write(AppExit::Success);
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

/// One frame's figures, for the budget comparison.
#[derive(Default, Clone, Copy, Debug)]
struct FrameRecord {
    /// From before `First` to the end of `Last`.
    wall: Duration,
    /// The main thread's CPU time in that span (`None` without a thread clock).
    cpu: Option<Duration>,
    /// What the render-like system took.
    render: Duration,
    /// The frame's work before the cooperator's tick (from the frame's start to just before
    /// `CooperatorSystems::Step`).
    before_tick: Option<Duration>,
    /// The global cooperator's tick: the time it took and the time it was granted (`None` when it
    /// had no runnable task this frame).
    tick: Option<Duration>,
    granted: Option<Duration>,
    /// The tick's longest step that was timed on its own (`CooperatorStats::longest_step`).
    longest_step: Option<Duration>,
    /// The loading task's progress at the frame's end: entities spawned.
    spawned: Option<u64>,
    /// The frame's work after the tick (from just after `CooperatorSystems::Step` to the end of
    /// `Last`).
    after_tick: Option<Duration>,
}

/// The measurements, shared with `main`, which reads them after `App::run` returns.
#[derive(Default)]
struct Log {
    frame_began: Option<Instant>,
    /// The main thread's CPU clock at the frame's start (a `ThreadTime` may not leave its
    /// thread; its reading may).
    cpu_began: Option<Duration>,
    after_tick_began: Option<Instant>,
    /// The frame being measured.
    current: FrameRecord,
    loading: Phase,
    in_game: Phase,
    /// Each `Loading` frame's figures.
    loading_frames: Vec<FrameRecord>,
}

#[derive(Resource, Clone, Default)]
struct FrameLog(Arc<Mutex<Log>>);

/// Runs first in each frame, and in the first frame also before the startup schedules (which
/// start the level's load): the first run counts.
fn frame_start(log: Res<FrameLog>) {
    let mut log = log.0.lock().unwrap();
    if log.frame_began.is_none() {
        log.cpu_began = thread_time();
        log.frame_began = Some(Instant::now());
    }
}

/// The calling thread's CPU time so far; `None` without a thread clock. The frame's systems run
/// on the main thread (the examples' `bevy_ecs` has no multi-threaded executor).
fn thread_time() -> Option<Duration> {
    cpu_time::ThreadTime::try_now()
        .ok()
        .map(|t| t.as_duration())
}

/// Just before the cooperator's tick.
fn before_step(log: Res<FrameLog>) {
    let mut log = log.0.lock().unwrap();
    log.current.before_tick = log.frame_began.map(|began| began.elapsed());
}

/// Just after the cooperator's tick.
fn after_step(log: Res<FrameLog>) {
    log.0.lock().unwrap().after_tick_began = Some(Instant::now());
}

/// A frame counts for the state it ends in: the frame of the transition is the game's first.
fn frame_end(
    log: Res<FrameLog>,
    state: Res<State<GameState>>,
    global: Res<GlobalCooperator>,
    cooperators: Query<&Cooperator>,
    loading: Query<&TaskProgress, With<LoadingTask>>,
    mut ticks: Local<u64>,
) {
    let end = Instant::now();
    let mut log = log.0.lock().unwrap();
    let Some(began) = log.frame_began.take() else {
        return;
    };
    let cpu = log
        .cpu_began
        .take()
        .zip(thread_time())
        .map(|(began, now)| now.saturating_sub(began));
    let after_tick = log.after_tick_began.take().map(|t| end - t);
    let mut record = std::mem::take(&mut log.current);
    record.wall = end - began;
    record.cpu = cpu;
    record.after_tick = after_tick;
    record.spawned = loading.iter().next().map(|TaskProgress(p)| p.done);
    if let Ok(coop) = cooperators.get(global.0) {
        let stats = coop.stats();
        if stats.ticks != *ticks {
            *ticks = stats.ticks;
            record.tick = stats.last_tick_time;
            record.granted = stats.last_tick_budget;
            record.longest_step = stats.longest_step.map(|(_, took)| took);
        }
    }
    let phase = match state.get() {
        GameState::Loading => {
            log.loading_frames.push(record);
            &mut log.loading
        }
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
    /// The target frame time: the loop's period (1/60 s when uncapped).
    target: Duration,
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
    /// The loading budget (`--budget`); in the comparison, the one budget to run.
    budget: Option<LoadingBudget>,
    compare: bool,
    /// The comparison's run of one budget in a process of its own: prints its frames.
    run_one: bool,
    seed: u64,
    trace: bool,
}

fn options() -> Result<Options, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flags = ["--short", "--compare-budgets", "--trace", "--run-one"];
    let short = args.iter().any(|a| a == "--short");
    let compare = args.iter().any(|a| a == "--compare-budgets");
    let mut o = Options {
        short,
        level: None,
        generate: match (compare, short) {
            (true, true) => 10_000,
            (true, false) => 1_000_000,
            (false, _) => 50_000,
        },
        queries: if short { 5 } else { 25 },
        hz: 60.0,
        max_frames: if short { 5_000 } else { 10_000 },
        plot: None,
        budget: None,
        compare,
        run_one: args.iter().any(|a| a == "--run-one"),
        seed: 1,
        trace: args.iter().any(|a| a == "--trace"),
    };
    let (mut level, mut hz) = (None, None);
    let mut args = args.into_iter().filter(|a| !flags.contains(&a.as_str()));
    while let Some(arg) = args.next() {
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        let number = |v: &str| v.parse::<usize>().map_err(|e| format!("{arg} {v}: {e}"));
        match arg.as_str() {
            "--level" => level = Some(Some(value)),
            "--generate" => {
                o.generate = number(&value)?;
                level = Some(None);
            }
            "--queries" => o.queries = number(&value)?,
            "--hz" => {
                let rate: f64 = value.parse().map_err(|e| format!("--hz {value}: {e}"))?;
                if !(rate >= 0.0 && rate.is_finite()) {
                    return Err(format!("--hz {value}: expected a rate >= 0"));
                }
                hz = Some(rate);
            }
            "--max-frames" => o.max_frames = number(&value)?.max(1),
            "--plot" => o.plot = Some(value),
            "--budget" => o.budget = Some(LoadingBudget::parse(&value)?),
            "--seed" => o.seed = value.parse().map_err(|e| format!("--seed {value}: {e}"))?,
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    // Short mode: the demo level and an uncapped loop; the comparison keeps a generated level
    // (the demo's six entities load in one frame) and 60 Hz (its budgets are about the frame).
    let short_game = short && !compare;
    o.level = level.unwrap_or_else(|| short_game.then(|| "levels/demo.level".to_string()));
    o.hz = hz.unwrap_or(if short_game { 0.0 } else { 60.0 });
    if o.run_one && !compare {
        return Err("--run-one is part of --compare-budgets".into());
    }
    if compare && o.hz == 0.0 {
        return Err("--compare-budgets needs a frame rate: --hz above 0".into());
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

/// Where the level comes from: its asset path, and the directory of the asset source a
/// generated level is read from.
struct LevelSource {
    path: String,
    generated: Option<String>,
}

impl LevelSource {
    fn new(o: &Options) -> Result<Self, String> {
        Ok(match &o.level {
            Some(level) => LevelSource {
                path: level.clone(),
                generated: None,
            },
            None => {
                let (dir, file) = generate(o.generate)?;
                let dir = dir
                    .to_str()
                    .ok_or("the temporary directory's path is not UTF-8")?;
                LevelSource {
                    path: format!("generated://{file}"),
                    generated: Some(dir.to_string()),
                }
            }
        })
    }
}

/// What one app runs: the loading budget, the render-like system (its seed) in the budget
/// comparison, and the path queries of the game (none in the comparison, which ends once the
/// level is in).
struct Run {
    loading: Budget,
    render_seed: Option<u64>,
    queries: Option<Vec<paths::Query>>,
    display: ProgressDisplay,
}

/// The time between frames: `1 / hz`, zero for an uncapped loop.
fn period(hz: f64) -> Result<Duration, String> {
    if hz > 0.0 {
        Duration::try_from_secs_f64(1.0 / hz).map_err(|e| format!("--hz {hz}: {e}"))
    } else {
        Ok(Duration::ZERO)
    }
}

/// The target frame time of a frame-filling budget: the loop's period, 1/60 s when uncapped.
fn target(hz: f64) -> Result<Duration, String> {
    Ok(match period(hz)? {
        Duration::ZERO => Duration::from_secs(1) / 60,
        period => period,
    })
}

fn build_app(o: &Options, level: &LevelSource, run: Run) -> Result<(App, FrameLog), String> {
    let mut app = App::new();
    if let Some(dir) = &level.generated {
        // A second asset source for the generated level, registered before `AssetPlugin`.
        app.register_asset_source("generated", AssetSourceBuilder::platform_default(dir, None));
    }
    let log = FrameLog::default();
    app.add_plugins((
        TaskPoolPlugin::default(),
        TimePlugin,
        ScheduleRunnerPlugin::run_loop(period(o.hz)?),
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
        level: level.path.clone(),
        target: target(o.hz)?,
        max_frames: o.max_frames,
    })
    .insert_resource(run.display)
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
            before_step
                .after(CooperatorSystems::Wake)
                .before(CooperatorSystems::Step),
            after_step.after(CooperatorSystems::Step),
            guard,
        ),
    )
    .add_systems(OnExit(GameState::Loading), finish_progress);
    if let Some(seed) = run.render_seed {
        app.insert_resource(RenderLike::new(seed))
            .add_systems(PreUpdate, render_like.run_if(in_state(GameState::Loading)));
    }
    match run.queries {
        Some(queries) => {
            app.insert_resource(Queries(queries))
                .insert_resource(Units(vec![[0.0, 0.0]; 2_000]))
                .add_systems(
                    Update,
                    (
                        move_units,
                        request_paths.before(CooperatorSystems::Wake),
                        finish_when_answered.after(CooperatorSystems::Step),
                    )
                        .run_if(in_state(GameState::InGame)),
                )
                .add_systems(
                    OnEnter(GameState::InGame),
                    (check_level, start_gameplay).chain(),
                );
        }
        None => {
            app.add_systems(
                OnEnter(GameState::InGame),
                (check_level, exit_when_loaded).chain(),
            );
        }
    }
    let mut order = app.world_mut().resource_mut::<MainScheduleOrder>();
    order.insert_before(First, FrameStart);
    order.startup_labels.insert(0, FrameStart.intern());
    order.insert_after(Last, FrameEnd);
    let global = app.world().resource::<GlobalCooperator>().0;
    app.world_mut()
        .entity_mut(global)
        .insert(budgets(run.loading));
    Ok((app, log))
}

/// The exit code of an app's run.
fn exit_code(exit: AppExit) -> ExitCode {
    match exit {
        AppExit::Success => ExitCode::SUCCESS,
        AppExit::Error(code) => {
            eprintln!("game: exited with an error");
            ExitCode::from(code.get())
        }
    }
}

/// The game: load the level, then answer the path queries.
fn play(o: &Options) -> Result<ExitCode, String> {
    let queries = load_queries(&default_maps(), Some(o.queries))?;
    let level = LevelSource::new(o)?;
    println!("level {}, {} path queries", level.path, queries.len());
    let loading = o.budget.unwrap_or(LoadingBudget::Fill);
    let target = target(o.hz)?;
    let (mut app, log) = build_app(
        o,
        &level,
        Run {
            loading: loading.budget(target),
            render_seed: None,
            queries: Some(queries),
            display: ProgressDisplay::new(),
        },
    )?;

    let exit = app.run();

    let log = log.0.lock().unwrap();
    let loading_times = FrameTimes {
        label: "Loading".into(),
        times: log.loading.times.clone(),
        cpu: Vec::new(),
        first: 1,
    };
    let in_game = FrameTimes {
        label: "InGame".into(),
        times: log.in_game.times.clone(),
        cpu: Vec::new(),
        first: loading_times.frames() + 1,
    };
    let rate = if o.hz > 0.0 {
        format!("{} Hz", o.hz)
    } else {
        "uncapped".into()
    };
    println!(
        "\nframe times ({} build, {rate} loop{}, loading budget {}; the work of each frame, not \
         the sleep between):",
        frames::profile(),
        if o.short { ", short" } else { "" },
        loading.name(target)
    );
    println!("{}", summary(&loading_times, log.loading.wall()));
    println!("{}", summary(&in_game, log.in_game.wall()));
    if let Some(plot) = &o.plot {
        let title = format!(
            "A game's frames ({} build): loading, then in game",
            frames::profile()
        );
        let loading_line = match loading {
            LoadingBudget::Time => ("loading budget", Duration::from_millis(2)),
            LoadingBudget::Fraction => ("loading budget, at most", Duration::from_millis(8)),
            LoadingBudget::Fill => ("loading: frames filled up to", target),
        };
        let budgets = [("in-game budget", Duration::from_millis(1)), loading_line];
        match frames::plot(plot, &title, &budgets, &[&loading_times, &in_game]) {
            Ok(()) => println!("plot written to {plot}"),
            Err(e) => eprintln!("game: plot: {e}"),
        }
    }
    Ok(exit_code(exit))
}

// ---------------------------------------------------------------------------------------------
// The budget comparison.

/// One budget's loading frames, summed up.
struct Comparison {
    name: String,
    /// The loading frames: from the first in which the loading task reports progress to the
    /// last before the game.
    frames: Vec<FrameRecord>,
    times: FrameTimes,
    /// The loading work: the cooperator's ticks.
    work: Duration,
    /// Each frame's spare time summed: the target less the frame's other work, not below zero.
    spare: Duration,
}

impl Comparison {
    fn new(name: String, loading_frames: Vec<FrameRecord>, target: Duration) -> Self {
        let frames: Vec<FrameRecord> = loading_frames
            .into_iter()
            .filter(|f| f.spawned.is_some())
            .collect();
        let cpu: Option<Vec<Duration>> = frames.iter().map(|f| f.cpu).collect();
        let times = FrameTimes {
            label: name.clone(),
            times: frames.iter().map(|f| f.wall).collect(),
            cpu: cpu.unwrap_or_default(),
            first: 1,
        };
        let tick = |f: &FrameRecord| f.tick.unwrap_or_default();
        let work = frames.iter().map(tick).sum();
        let spare = frames
            .iter()
            .map(|f| target.saturating_sub(f.wall.saturating_sub(tick(f))))
            .sum();
        Comparison {
            name,
            frames,
            times,
            work,
            spare,
        }
    }

    /// Frames of the ideal load: the work over the mean spare time a frame.
    fn ideal(&self) -> f64 {
        let mean_spare = self.spare.as_secs_f64() / self.frames.len().max(1) as f64;
        if mean_spare > 0.0 {
            self.work.as_secs_f64() / mean_spare
        } else {
            f64::INFINITY
        }
    }

    /// The share of the spare time the load used.
    fn share(&self) -> f64 {
        self.work.as_secs_f64() / self.spare.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// Frames over `bound`, and how many of them kept their core.
    fn over(&self, bound: Duration) -> (usize, usize) {
        let over: Vec<usize> = (0..self.times.frames())
            .filter(|&i| self.times.times[i] > bound)
            .collect();
        let kept = over.iter().filter(|&&i| self.times.kept_core(i)).count();
        (over.len(), kept)
    }

    /// Frames whose thread was off its core for a tenth of the frame or more.
    fn descheduled(&self) -> Option<usize> {
        (!self.times.cpu.is_empty()).then(|| {
            (0..self.times.frames())
                .filter(|&i| !self.times.kept_core(i))
                .count()
        })
    }

    /// The longest frame that kept its core.
    fn max_kept(&self) -> Option<Duration> {
        (!self.times.cpu.is_empty()).then(|| {
            (0..self.times.frames())
                .filter(|&i| self.times.kept_core(i))
                .map(|i| self.times.times[i])
                .max()
                .unwrap_or_default()
        })
    }

    fn mean(&self, of: impl Fn(&FrameRecord) -> Option<Duration>) -> String {
        let values: Vec<Duration> = self.frames.iter().filter_map(of).collect();
        match values.len() {
            0 => "-".into(),
            n => ms(values.iter().sum::<Duration>() / n as u32),
        }
    }
}

/// Runs the loading phase once per budget (a fresh app each, the same level and the same
/// render-like costs) and prints the table.
fn compare(o: &Options) -> Result<ExitCode, String> {
    let target = target(o.hz)?;
    if o.run_one {
        let choice = o.budget.ok_or("--run-one needs --budget")?;
        for frame in load_once(o, choice, target)? {
            println!("{}", frame.to_line());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let choices = match o.budget {
        Some(one) => vec![one],
        None => LoadingBudget::ALL.to_vec(),
    };
    let level = match &o.level {
        Some(level) => level.clone(),
        None => format!("a generated {}-entity level", o.generate),
    };
    println!(
        "loading {level} at {} Hz beside a render-like system of {} to {} a frame (seed {}), \
         once per budget, each in a process of its own",
        o.hz,
        ms(RENDER_COST[0]),
        ms(RENDER_COST[1]),
        o.seed
    );
    let mut runs = Vec::new();
    for choice in choices {
        let run = Comparison::new(choice.name(target), run_alone(o, choice)?, target);
        if o.trace {
            trace(&run);
        }
        runs.push(run);
    }
    let half = Duration::from_micros(500);
    println!(
        "\nloading frames ({} build, {} Hz, target {}; a frame is its work from before `First` \
         to the end of `Last`):",
        frames::profile(),
        o.hz,
        ms(target)
    );
    println!(
        "{:<20} {:>6} {:>7} {:>6} {:>6} {:>11} {:>11} {:>9} {:>9} {:>9} {:>13}",
        "budget",
        "frames",
        "ideal",
        "ratio",
        "spare",
        format!(">{:.2}", target.as_secs_f64() * 1e3),
        format!(">{:.2}", (target + half).as_secs_f64() * 1e3),
        "p99",
        "max",
        "max kept",
        "descheduled"
    );
    for run in &runs {
        let ideal = run.ideal();
        let (over, over_kept) = run.over(target);
        let (over_half, over_half_kept) = run.over(target + half);
        println!(
            "{:<20} {:>6} {:>7.1} {:>6.2} {:>5.0}% {:>11} {:>11} {:>9} {:>9} {:>9} {:>13}",
            run.name,
            run.frames.len(),
            ideal,
            run.frames.len() as f64 / ideal,
            run.share() * 100.0,
            format!("{over} ({over_kept})"),
            format!("{over_half} ({over_half_kept})"),
            ms(run.times.p99()),
            ms(run.times.max()),
            run.max_kept().map_or("-".into(), ms),
            run.descheduled()
                .map_or("-".into(), |n| format!("{n} of {}", run.frames.len())),
        );
    }
    println!(
        "\nideal: the loading work over the mean spare time a frame (the target less the frame's \
         other work); ratio: frames / ideal; spare: the share of the spare time the loading \
         work used. Frames over the target (and over it + 0.5 ms): all, (those that kept their \
         core: CPU time at least 90 % of the wall time). max kept: the longest frame that kept \
         its core; descheduled: the frames that did not."
    );
    println!(
        "\n{:<20} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12}",
        "means a frame", "render", "before tick", "granted", "tick", "after tick", "work total"
    );
    for run in &runs {
        println!(
            "{:<20} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12}",
            run.name,
            run.mean(|f| Some(f.render)),
            run.mean(|f| f.before_tick),
            run.mean(|f| f.granted),
            run.mean(|f| f.tick),
            run.mean(|f| f.after_tick),
            ms(run.work),
        );
    }
    if let Some(plot) = &o.plot {
        let title = format!(
            "Loading beside a 3-8 ms render-like system ({} build, {} Hz)",
            frames::profile(),
            o.hz
        );
        let lines = [("target", target), ("target + 0.5 ms", target + half)];
        let times: Vec<&FrameTimes> = runs.iter().map(|r| &r.times).collect();
        match frames::plot(plot, &title, &lines, &times) {
            Ok(()) => println!("plot written to {plot}"),
            Err(e) => eprintln!("game: plot: {e}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the loading phase once with `choice` in this process (`--run-one`): the `Loading`
/// frames' figures.
fn load_once(
    o: &Options,
    choice: LoadingBudget,
    target: Duration,
) -> Result<Vec<FrameRecord>, String> {
    let level = LevelSource::new(o)?;
    let (mut app, log) = build_app(
        o,
        &level,
        Run {
            loading: choice.budget(target),
            render_seed: Some(o.seed),
            queries: None,
            display: ProgressDisplay::Off,
        },
    )?;
    let exit = app.run();
    drop(app);
    if exit != AppExit::Success {
        return Err(format!("the run with {} failed", choice.name(target)));
    }
    let log = log.0.lock().unwrap();
    Ok(log.loading_frames.clone())
}

/// Runs the loading phase with `choice` in a process of its own (this program again, with
/// `--run-one`) and reads its frames from its output. One process for each budget: a process's
/// allocator keeps the memory an earlier app freed, and a later app's load in the same process
/// then paid about twice as much for the world's storage growth (the step spawning entity 2^19
/// took 12-14 ms instead of 5-7 ms).
fn run_alone(o: &Options, choice: LoadingBudget) -> Result<Vec<FrameRecord>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("this program's path: {e}"))?;
    let mut args = vec![
        "--compare-budgets".to_string(),
        "--run-one".into(),
        "--budget".into(),
        choice.cli_name().into(),
        "--hz".into(),
        o.hz.to_string(),
        "--seed".into(),
        o.seed.to_string(),
        "--max-frames".into(),
        o.max_frames.to_string(),
    ];
    match &o.level {
        Some(level) => args.extend(["--level".into(), level.clone()]),
        None => args.extend(["--generate".into(), o.generate.to_string()]),
    }
    let output = std::process::Command::new(&exe)
        .args(&args)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    if !output.status.success() {
        return Err(format!(
            "the run with --budget {} failed ({})",
            choice.cli_name(),
            output.status
        ));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(FrameRecord::from_line)
        .collect()
}

impl FrameRecord {
    /// The line `--run-one` prints for a frame: a tag and each figure in nanoseconds (`-` for
    /// none; entities spawned as a count).
    fn to_line(self) -> String {
        let nanos = |d: Option<Duration>| d.map_or("-".into(), |d| d.as_nanos().to_string());
        format!(
            "frame-record {} {} {} {} {} {} {} {} {}",
            nanos(Some(self.wall)),
            nanos(self.cpu),
            nanos(Some(self.render)),
            nanos(self.before_tick),
            nanos(self.tick),
            nanos(self.granted),
            nanos(self.longest_step),
            nanos(self.after_tick),
            self.spawned.map_or("-".into(), |n| n.to_string()),
        )
    }

    /// A frame read back from [`FrameRecord::to_line`]; `None` for other lines, an error for a
    /// malformed one.
    fn from_line(line: &str) -> Option<Result<Self, String>> {
        let fields = line.strip_prefix("frame-record ")?;
        let bad = || format!("a malformed frame record: {line:?}");
        let values: Vec<Option<u64>> = match fields
            .split(' ')
            .map(|f| (f != "-").then(|| f.parse::<u64>()).transpose())
            .collect::<Result<_, _>>()
        {
            Ok(values) => values,
            Err(_) => return Some(Err(bad())),
        };
        let [
            wall,
            cpu,
            render,
            before,
            tick,
            granted,
            longest,
            after,
            spawned,
        ] = values[..]
        else {
            return Some(Err(bad()));
        };
        let d = |v: Option<u64>| v.map(Duration::from_nanos);
        Some(Ok(FrameRecord {
            wall: d(wall).unwrap_or_default(),
            cpu: d(cpu),
            render: d(render).unwrap_or_default(),
            before_tick: d(before),
            tick: d(tick),
            granted: d(granted),
            longest_step: d(longest),
            after_tick: d(after),
            spawned,
        }))
    }
}

/// Prints each loading frame of a run (`--trace`).
fn trace(run: &Comparison) {
    let opt = |d: Option<Duration>| d.map_or("-".into(), ms);
    println!("\n{} (per loading frame):", run.name);
    println!(
        "{:>5} {:>9} {:>11} {:>9} {:>9} {:>12} {:>10} {:>9} {:>9} {:>9}",
        "frame",
        "render",
        "before tick",
        "granted",
        "tick",
        "longest step",
        "after tick",
        "wall",
        "cpu",
        "spawned"
    );
    for (i, f) in run.frames.iter().enumerate() {
        println!(
            "{:>5} {:>9} {:>11} {:>9} {:>9} {:>12} {:>10} {:>9} {:>9} {:>9}",
            i + 1,
            ms(f.render),
            opt(f.before_tick),
            opt(f.granted),
            opt(f.tick),
            opt(f.longest_step),
            opt(f.after_tick),
            ms(f.wall),
            opt(f.cpu),
            f.spawned.unwrap_or(0),
        );
    }
}

fn run() -> Result<ExitCode, String> {
    let o = options()?;
    if o.compare { compare(&o) } else { play(&o) }
}

fn main() -> ExitCode {
    run().unwrap_or_else(|e| {
        eprintln!("game: {e}");
        ExitCode::FAILURE
    })
}
