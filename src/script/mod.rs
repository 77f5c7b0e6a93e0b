//! Async/await task bodies: [`script`] and its [`ScriptContext`].
//!
//! The parts: the context, [`ScriptContext`], and the ask/answer protocol between its futures and
//! the script's work (`ask.rs`); what the context offers, world access (`world.rs`) and waits
//! (`waits.rs`), each a crate future (`futures.rs`) that asks the work for what it needs and
//! finds its answer; the work, which polls the script's future and serves what it asked, in
//! its poll loop (`work.rs`).

pub(crate) mod ask;
pub(crate) mod futures;
pub(crate) mod waits;
pub(crate) mod work;
pub(crate) mod world;

use core::future::Future;

use crate::script::{
    ask::ScriptContext,
    work::{ScriptOutput, ScriptWork},
};

/// Makes an async task body: `commands.cooperate(script(|cx| async move { ... }))`.
///
/// The closure receives the script's [`ScriptContext`] and returns the future. Each step polls the
/// future once — one work unit under the cooperator's budget; a world access with
/// [`ScriptContext::with_world`] is served within the same unit; only
/// [`yield_now`](ScriptContext::yield_now) or a real wait ends it. Awaiting a [`Wait`](crate::Wait) pauses the
/// task exactly like an iterator yielding it (it costs nothing while paused). Foreign futures
/// work too: their waker resumes the task through the wake system.
///
/// The future may end with `()`, or `Result<T, E>`: `Ok(value)` finishes with a
/// [`TaskResult<T>`](crate::TaskResult), `Err` fails the task. Stopping the task drops the future at once (running
/// its destructors), cancels its pending wait and stops the child tasks it
/// [started](ScriptContext::start).
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # use bevy_ecs::prelude::*;
/// #[derive(Resource, Default)]
/// struct Gate {
///     open: bool,
/// }
///
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
/// # app.init_resource::<Gate>();
/// let world = app.world_mut();
/// let keycard = world.spawn_signal();
/// let task = world.cooperate(script(move |cx| async move {
///     cx.wait(Wait::signal(keycard)).await?;
///     cx.with_resource(|g: &mut Gate| g.open = true).await?;
///     Ok::<_, Failure>("welcome")
/// }));
/// world.entity_mut(task).insert(RetainFinished);
/// app.update();
/// assert!(app.world().get::<Paused>(task).is_some()); // costs nothing while it waits
/// app.world_mut().fire_signal(keycard).unwrap();
/// app.update();
/// assert!(app.world().resource::<Gate>().open);
/// assert_eq!(app.world().get::<TaskResult<&str>>(task).unwrap().0, "welcome");
/// ```
pub fn script<F, Fut>(f: F) -> ScriptWork<Fut>
where
    F: FnOnce(ScriptContext) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: ScriptOutput,
{
    let cx = ScriptContext::new();
    ScriptWork::new(f(cx.clone()), cx)
}
