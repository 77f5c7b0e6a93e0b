//! `Wait::asset`: resumes once the asset and its dependencies are loaded through the
//! `AssetServer`; a missing file or dependency fails the wait with the load error.
use crate::common::*;

use bevy_app::{App, TaskPoolPlugin};
use bevy_asset::{
    Asset, AssetApp, AssetLoader, AssetMetaCheck, AssetPlugin, AssetServer, Handle, LoadContext,
    io::Reader,
};
use bevy_cooperator::*;
use bevy_ecs::prelude::*;
use bevy_reflect::TypePath;

/// A text file; a first line `dep:PATH` loads another note it depends on.
#[derive(Asset, TypePath, Debug)]
struct Note {
    text: String,
    #[dependency]
    needs: Option<Handle<Note>>,
}

#[derive(TypePath, Default)]
struct NoteLoader;

impl AssetLoader for NoteLoader {
    type Asset = Note;
    type Settings = ();
    type Error = std::io::Error;

    async fn load(
        &self,
        reader: &mut dyn Reader,
        _: &(),
        cx: &mut LoadContext<'_>,
    ) -> Result<Note, std::io::Error> {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).await?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let needs = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("dep:"))
            .map(|path| cx.load::<Note>(path.to_string()));
        Ok(Note { text, needs })
    }

    fn extensions(&self) -> &[&str] {
        &["note"]
    }
}

/// Lets a `.gate` file load (and fail) only once a test opens the gate: a dependency that fails
/// after the waiting task has begun to wait.
static GATE_OPEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[derive(TypePath, Default)]
struct GateLoader;

impl AssetLoader for GateLoader {
    type Asset = Note;
    type Settings = ();
    type Error = std::io::Error;

    async fn load(
        &self,
        _: &mut dyn Reader,
        _: &(),
        _: &mut LoadContext<'_>,
    ) -> Result<Note, std::io::Error> {
        // On an IO thread: wait for the test (at most 10 s), then fail.
        for _ in 0..10_000 {
            if GATE_OPEN.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        Err(std::io::Error::other("the gate failed, late"))
    }

    fn extensions(&self) -> &[&str] {
        &["gate"]
    }
}

fn asset_app() -> App {
    let mut app = unfinished_app(Budget::Steps(1));
    app.add_plugins((
        TaskPoolPlugin::default(),
        AssetPlugin {
            file_path: "tests/assets".into(),
            meta_check: AssetMetaCheck::Never,
            ..Default::default()
        },
    ))
    .init_asset::<Note>()
    .init_asset_loader::<NoteLoader>()
    .init_asset_loader::<GateLoader>();
    app.finish();
    app.cleanup();
    app
}

/// Runs frames until `task` finished (at most `limit`); returns its outcome.
fn run_until_finished(app: &mut App, task: Entity, limit: usize) -> Outcome {
    app.world_mut().entity_mut(task).insert(RetainFinished);
    for _ in 0..limit {
        app.update();
        if let Some(outcome) = app
            .world()
            .get::<CooperativeTask>(task)
            .and_then(|t| t.outcome())
        {
            return outcome.clone();
        }
        // Real file reads finish on the task pools' threads: give them a moment.
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    panic!("the task did not finish within {limit} frames");
}

#[test]
fn a_task_resumes_once_the_asset_and_its_dependency_are_loaded() {
    let mut app = asset_app();
    let handle: Handle<Note> = app
        .world()
        .resource::<AssetServer>()
        .load("needs_greeting.note");
    let log = Log::new();
    let l = log.clone();
    let h = handle.clone();
    let task = app.world_mut().cooperate(script(move |cx| async move {
        cx.wait(Wait::asset(&h)).await?;
        let texts = cx
            .with_world(move |w| {
                let notes = w.resource::<bevy_asset::Assets<Note>>();
                let note = notes.get(&h).unwrap();
                let dep = notes.get(note.needs.as_ref().unwrap()).unwrap();
                (note.text.clone(), dep.text.clone())
            })
            .await;
        l.push(texts);
        Ok::<(), Failure>(())
    }));
    assert_eq!(run_until_finished(&mut app, task, 2000), Outcome::Done);
    let (note, dep) = log.get().pop().unwrap();
    assert!(note.contains("I depend on the greeting"));
    assert_eq!(dep, "hello from a file\n");
    assert_eq!(PendingWaits::of(app.world()).futures, 0);
}

#[test]
fn a_missing_file_fails_the_wait_and_the_script_sees_the_error() {
    let mut app = asset_app();
    let handle: Handle<Note> = app.world().resource::<AssetServer>().load("no_such.note");
    let log = Log::new();
    let l = log.clone();
    let task = app.world_mut().cooperate(script(move |cx| async move {
        let result = cx.wait(Wait::asset(&handle)).await;
        l.push(result.map_err(|e| e.to_string()));
    }));
    assert_eq!(run_until_finished(&mut app, task, 2000), Outcome::Done);
    let err = log.get().pop().unwrap().unwrap_err();
    assert!(err.contains("no_such.note"), "{err}");
}

#[test]
fn a_missing_dependency_fails_an_iterator_task() {
    let mut app = asset_app();
    let handle: Handle<Note> = app
        .world()
        .resource::<AssetServer>()
        .load("needs_missing.note");
    let task = app
        .world_mut()
        .cooperate(std::iter::once(Wait::asset(&handle)));
    match run_until_finished(&mut app, task, 2000) {
        Outcome::Failed(failure) => {
            assert!(failure.to_string().contains("missing.note"), "{failure}")
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn an_asset_added_by_hand_resumes_at_once_and_an_unknown_handle_fails() {
    let mut app = asset_app();
    let added = app
        .world_mut()
        .resource_mut::<bevy_asset::Assets<Note>>()
        .add(Note {
            text: "inline".into(),
            needs: None,
        });
    let task = app
        .world_mut()
        .cooperate(std::iter::once(Wait::asset(&added)));
    assert_eq!(run_until_finished(&mut app, task, 3), Outcome::Done);
    let unknown: Handle<Note> = Handle::default();
    let task = app
        .world_mut()
        .cooperate(std::iter::once(Wait::asset(&unknown)));
    assert!(matches!(
        run_until_finished(&mut app, task, 3),
        Outcome::Failed(_)
    ));
}

#[test]
fn without_an_asset_server_the_wait_fails() {
    let mut app = app();
    let handle: Handle<Note> = Handle::default();
    let task = app
        .world_mut()
        .cooperate(std::iter::once(Wait::asset(&handle)));
    match run_until_finished(&mut app, task, 3) {
        Outcome::Failed(f) => assert!(f.to_string().contains("AssetServer"), "{f}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_dependency_that_fails_after_the_wait_began_fails_the_wait() {
    // Bevy's own `wait_for_asset` is not woken by a dependency failing later: a wait built on it
    // hung here.
    let mut app = asset_app();
    let handle: Handle<Note> = app
        .world()
        .resource::<AssetServer>()
        .load("needs_late_failure.note");
    let task = app
        .world_mut()
        .cooperate(std::iter::once(Wait::asset(&handle)));
    app.world_mut().entity_mut(task).insert(RetainFinished);
    // Until the note itself is loaded and only its dependency is outstanding.
    for _ in 0..2000 {
        app.update();
        let server = app.world().resource::<AssetServer>();
        if matches!(
            server.get_load_state(&handle),
            Some(bevy_asset::LoadState::Loaded)
        ) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(
        app.world().get::<Paused>(task).is_some(),
        "waiting on the dependency"
    );
    GATE_OPEN.store(true, std::sync::atomic::Ordering::SeqCst);
    match run_until_finished(&mut app, task, 2000) {
        Outcome::Failed(failure) => {
            assert!(failure.to_string().contains("late"), "{failure}")
        }
        other => panic!("expected the dependency's failure, got {other:?}"),
    }
}
