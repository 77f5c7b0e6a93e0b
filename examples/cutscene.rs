//! A scripted cutscene written as an async script, run twice: once to the end, once skipped half
//! way. Headless and deterministic (fixed 50 ms frames): it prints a timeline with frame numbers.
//!
//! The script walks an actor over 2 seconds, shows dialogue lines that wait for the player to
//! press "advance" (simulated input), runs a camera pan and a sound cue in parallel with
//! `futures::join!`, then branches on a condition. The second run skips the cutscene (stops the script) in
//! the middle of the parallel part and shows that everything it held was released.
//!
//! ```sh
//! cargo run --example cutscene
//! ```

use std::time::Duration;

use bevy_app::{App, First};
use bevy_cooperator::{PendingWaits, prelude::*};
use bevy_ecs::error::BevyError;
use bevy_ecs::prelude::*;
use bevy_time::{Time, TimePlugin, TimeUpdateStrategy};

const FRAME: Duration = Duration::from_millis(50);

/// The frame number, counted in `First`.
#[derive(Resource, Default)]
struct Frame(u32);

#[derive(Component)]
struct Actor {
    x: f32,
}

#[derive(Resource, Default)]
struct Camera {
    x: f32,
}

/// The dialogue line on screen and the frame it appeared.
#[derive(Resource, Default)]
struct Dialogue {
    shown_at: Option<u32>,
}

/// The player pressed "advance".
#[derive(Message, Clone)]
struct Advance;

/// Whether the player holds the key to the gate (what the script branches on).
#[derive(Resource)]
struct HasKey(bool);

fn say(world: &World, text: impl AsRef<str>) {
    println!(
        "[frame {:3}] {}",
        world.resource::<Frame>().0,
        text.as_ref()
    );
}

fn count_frames(mut frame: ResMut<Frame>) {
    frame.0 += 1;
}

/// Simulated input: the player reads each line for 6 frames, then presses "advance".
fn simulated_player(
    frame: Res<Frame>,
    dialogue: Res<Dialogue>,
    mut advance: MessageWriter<Advance>,
) {
    if dialogue.shown_at.is_some_and(|at| frame.0 == at + 6) {
        advance.write(Advance);
    }
}

/// Walks the actor from 0 to 10 over `duration` of game time, one frame at a time.
async fn walk(cx: &ScriptContext, actor: Entity, duration: Duration) -> Result<(), Failure> {
    let start = cx.with_world(|w| w.resource::<Time>().elapsed()).await;
    loop {
        let done = cx
            .with_world(move |w| {
                let t = (w.resource::<Time>().elapsed() - start).as_secs_f32();
                let progress = (t / duration.as_secs_f32()).min(1.0);
                w.get_mut::<Actor>(actor).unwrap().x = 10.0 * progress;
                progress >= 1.0
            })
            .await;
        if done {
            return Ok(());
        }
        cx.frames(1).await?;
    }
}

/// Shows a line and waits until the player presses "advance".
async fn line(cx: &ScriptContext, text: &'static str) -> Result<(), Failure> {
    cx.with_world(move |w| {
        say(w, format!("  \"{text}\""));
        let frame = w.resource::<Frame>().0;
        w.resource_mut::<Dialogue>().shown_at = Some(frame);
    })
    .await;
    cx.message::<Advance>().await?;
    cx.with_world(|w| {
        w.resource_mut::<Dialogue>().shown_at = None;
        say(w, "  (advance)");
    })
    .await;
    Ok(())
}

/// The camera pans from 0 to 5 over 1.2 s.
async fn camera_pan(cx: ScriptContext) -> Result<(), Failure> {
    cx.with_world(|w| say(w, "camera pan starts")).await;
    for _ in 0..24 {
        cx.frames(1).await?;
        cx.with_world(|w| w.resource_mut::<Camera>().x += 5.0 / 24.0)
            .await;
    }
    cx.with_world(|w| {
        say(
            w,
            format!("camera pan ends at x = {:.1}", w.resource::<Camera>().x),
        )
    })
    .await;
    Ok(())
}

/// A sound cue: starts after 0.3 s, lasts 0.5 s.
async fn sound_cue(cx: ScriptContext) -> Result<(), Failure> {
    cx.sleep(Duration::from_millis(300)).await?;
    cx.with_world(|w| say(w, "sound cue: thunder")).await;
    cx.sleep(Duration::from_millis(500)).await?;
    cx.with_world(|w| say(w, "sound cue ends")).await;
    Ok(())
}

/// The whole cutscene. Its result says which ending played.
async fn cutscene(cx: ScriptContext, actor: Entity) -> Result<&'static str, BevyError> {
    cx.with_world(|w| say(w, "cutscene starts: the hero walks to the gate"))
        .await;
    walk(&cx, actor, Duration::from_secs(2)).await?;
    cx.with_world(move |w| {
        say(
            w,
            format!(
                "hero arrives at x = {:.1}",
                w.get::<Actor>(actor).unwrap().x
            ),
        )
    })
    .await;

    line(&cx, "The gate... it's sealed.").await?;
    line(&cx, "Something is coming.").await?;

    // Camera pan and sound cue in parallel, inside this one script: the task sleeps while
    // neither has anything to do, and skipping the cutscene cancels both.
    let (pan, sound) = futures::join!(camera_pan(cx.clone()), sound_cue(cx.clone()));
    pan?;
    sound?;
    cx.with_world(|w| say(w, "pan and sound both done")).await;

    // Branch on a condition.
    let ending = if cx.with_world(|w| w.resource::<HasKey>().0).await {
        line(&cx, "I have the key!").await?;
        "gate opened"
    } else {
        line(&cx, "Locked. Back we go.").await?;
        "turned back"
    };
    cx.with_world(move |w| say(w, format!("cutscene ends: {ending}")))
        .await;
    Ok(ending)
}

fn tasks_alive(world: &mut World) -> usize {
    world
        .query::<&CooperativeTask>()
        .iter(world)
        .filter(|t| !t.is_finished())
        .count()
}

fn observers(world: &mut World) -> usize {
    world
        .query_filtered::<(), With<bevy_ecs::observer::Observer>>()
        .iter(world)
        .count()
}

fn entities(world: &mut World) -> usize {
    world
        .query_filtered::<(), (
            Without<bevy_ecs::resource::IsResource>,
            Without<bevy_ecs::observer::Observer>,
        )>()
        .iter(world)
        .count()
}

fn run(title: &str, skip_at: Option<u32>) {
    println!("== {title}");
    let mut app = App::new();
    // A step-count budget (instead of the default time slice) keeps the timeline identical on
    // every machine; a game would keep the default.
    app.add_plugins((
        TimePlugin,
        CooperatorPlugin::default().with_budget(Budget::Steps(16)),
    ))
    .insert_resource(TimeUpdateStrategy::ManualDuration(FRAME))
    .init_resource::<Frame>()
    .init_resource::<Camera>()
    .init_resource::<Dialogue>()
    .insert_resource(HasKey(true))
    .add_message::<Advance>()
    .add_systems(First, count_frames)
    .add_systems(
        bevy_app::Update,
        simulated_player.before(CooperatorSystems::Wake),
    );
    let actor = app.world_mut().spawn(Actor { x: 0.0 }).id();
    app.update();
    let before = (entities(app.world_mut()), observers(app.world_mut()));

    let task = app
        .world_mut()
        .commands()
        .cooperate(script(move |cx| cutscene(cx, actor)))
        .observe(
            |done: On<TaskFinished>, ending: Query<&TaskResult<&'static str>>| match ending
                .get(done.entity)
            {
                Ok(ending) => println!("   -> finished with ending \"{}\"", ending.0),
                Err(_) => println!("   -> finished: {:?}", done.outcome),
            },
        )
        .id();
    app.world_mut().flush();

    for _ in 0..400 {
        app.update();
        let frame = app.world().resource::<Frame>().0;
        if skip_at == Some(frame) {
            say(app.world(), "player skips the cutscene");
            let pending = PendingWaits::of(app.world());
            println!(
                "   before skip: {} tasks alive, {} extra observers, {pending:?}",
                tasks_alive(app.world_mut()),
                observers(app.world_mut()) - before.1
            );
            app.world_mut().stop_task(task).unwrap();
        }
        if app.world().get_entity(task).is_err() {
            break;
        }
    }
    app.update();
    let after = (entities(app.world_mut()), observers(app.world_mut()));
    println!(
        "   after: {} tasks alive, {:?}, entities {} -> {}, observers {} -> {}",
        tasks_alive(app.world_mut()),
        PendingWaits::of(app.world()),
        before.0,
        after.0,
        before.1,
        after.1
    );
    assert_eq!(tasks_alive(app.world_mut()), 0);
    assert_eq!(PendingWaits::of(app.world()), PendingWaits::default());
    assert_eq!(before, after, "everything the cutscene held is released");
}

fn main() {
    run("run 1: the whole cutscene", None);
    run("run 2: skipped during the camera pan", Some(65));
}
