//! Async/await task bodies: [`script`] and its [`ScriptContext`].

use alloc::{boxed::Box, sync::Arc, vec::Vec};
use bevy_ecs::{
    component::{Component, Mutable},
    entity::Entity,
    error::BevyError,
    message::Message,
    resource::Resource,
    system::{In, IntoSystem},
    world::World,
};
use core::{
    any::Any,
    future::Future,
    marker::PhantomData,
    pin::Pin,
    sync::atomic::{AtomicBool, Ordering},
    task::{Context, Poll, Waker},
    time::Duration,
};
use std::sync::Mutex;
use std::task::Wake;

use crate::{
    error::lock,
    outcome::Failure,
    task::{
        CooperativeTask, lifecycle, progress,
        result::{Joined, move_result},
    },
    wait::{
        Wait,
        message::{Filter, Sink},
        registration::Registration,
        seam::Resolution,
    },
    work::{IntoWork, Progress, Step, StepContext, Work},
};

type WorldFn = Box<dyn FnOnce(&mut World) -> Box<dyn Any + Send> + Send>;

/// What the script asked of its `Work` when its future returned `Pending`.
#[derive(Default)]
enum Request {
    #[default]
    None,
    Yield,
    Wait(Wait),
    World(WorldFn),
}

#[derive(Default)]
struct Shared {
    task: Option<Entity>,
    request: Request,
    /// The result of the last world access.
    response: Option<Box<dyn Any + Send>>,
    /// The result of the last wait, once resolved.
    woke: Option<Result<(), Failure>>,
}

/// The handle an async [`script`] uses to reach the game: world access, waits, yields, child
/// tasks. Cheap to clone; every clone talks to the same task.
///
/// Awaiting these futures outside the script they were given to does nothing useful. Await
/// one crate future at a time (use [`Wait::all`] and [`Wait::race`] for concurrency).
#[derive(Clone)]
pub struct ScriptContext {
    shared: Arc<Mutex<Shared>>,
}

impl ScriptContext {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        lock(&self.shared)
    }

    fn request(&self, request: Request) {
        let mut shared = self.lock();
        assert!(
            matches!(shared.request, Request::None),
            "a script awaited two crate futures at once; await them one at a time"
        );
        shared.request = request;
    }

    /// The script's own task entity.
    ///
    /// # Panics
    /// If called before the script's first step (the future is built before the task exists).
    pub fn task(&self) -> Entity {
        self.lock()
            .task
            .expect("the script's task is known from its first step")
    }

    /// Ends the current work unit: the task goes to the back of the run queue and continues on
    /// its next turn (this frame if the budget allows, else a later one).
    pub fn yield_now(&self) -> YieldNow {
        YieldNow {
            cx: self.clone(),
            yielded: false,
        }
    }

    /// Runs `f` with the whole [`World`] **within the current work unit**: no frame passes and
    /// no turn is lost. Commands `f` queues are applied right after it.
    ///
    /// ```
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # #[derive(Resource, Default)] struct Score(u32);
    /// let work = script(|cx| async move {
    ///     let score = cx.with_world(|world| {
    ///         world.resource_mut::<Score>().0 += 10;
    ///         world.resource::<Score>().0
    ///     }).await;
    ///     assert!(score >= 10);
    /// });
    /// # let _ = work;
    /// ```
    pub fn with_world<R, F>(&self, f: F) -> WithWorld<R, F>
    where
        F: FnOnce(&mut World) -> R + Send + 'static,
        R: Send + 'static,
    {
        WithWorld {
            cx: self.clone(),
            f: Some(f),
            _result: PhantomData,
        }
    }

    /// Runs `system` — with any `Query`, `Res`, `ResMut` or `Commands` parameters — in the same
    /// work unit, and returns its output. The system is cached per world, as with
    /// [`World::run_system_cached`]; its commands are applied right after it. It must be a
    /// function or a closure that captures nothing — a capturing closure does not compile; pass
    /// data with [`run_system_with`](Self::run_system_with). A system that cannot run (its
    /// parameters are missing, say) is an `Err`.
    ///
    /// ```
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// #[derive(Component)]
    /// struct Enemy;
    ///
    /// fn count_enemies(enemies: Query<(), With<Enemy>>) -> usize {
    ///     enemies.iter().count()
    /// }
    ///
    /// let work = script(|cx| async move {
    ///     let enemies = cx.run_system(count_enemies).await?;
    ///     cx.with_world(move |world| world.insert_resource(Counted(enemies))).await;
    ///     Ok::<(), Failure>(())
    /// });
    /// # #[derive(Resource)] struct Counted(usize);
    /// # let _ = work;
    /// ```
    pub fn run_system<O, M, S>(
        &self,
        system: S,
    ) -> WithWorld<Result<O, Failure>, impl FnOnce(&mut World) -> Result<O, Failure> + Send + 'static>
    where
        S: IntoSystem<(), O, M> + Send + 'static,
        O: Send + 'static,
    {
        self.with_world(move |world: &mut World| {
            world.run_system_cached(system).map_err(Failure::new)
        })
    }

    /// [`run_system`](Self::run_system) for a system taking `In<T>`: runs it with `input`.
    pub fn run_system_with<T, O, M, S>(
        &self,
        system: S,
        input: T,
    ) -> WithWorld<Result<O, Failure>, impl FnOnce(&mut World) -> Result<O, Failure> + Send + 'static>
    where
        S: IntoSystem<In<T>, O, M> + Send + 'static,
        T: Send + 'static,
        O: Send + 'static,
    {
        self.with_world(move |world: &mut World| {
            world
                .run_system_cached_with(system, input)
                .map_err(Failure::new)
        })
    }

    /// Reads or changes the resource `R` in the same work unit; `Err` when there is none.
    pub fn with_resource<R, O>(
        &self,
        f: impl FnOnce(&mut R) -> O + Send + 'static,
    ) -> WithWorld<Result<O, Failure>, impl FnOnce(&mut World) -> Result<O, Failure> + Send + 'static>
    where
        R: Resource + Component<Mutability = Mutable>,
        O: Send + 'static,
    {
        self.with_world(
            move |world: &mut World| match world.get_resource_mut::<R>() {
                Some(mut resource) => Ok(f(&mut resource)),
                None => Err(Failure::msg(alloc::format!(
                    "there is no resource {}",
                    core::any::type_name::<R>()
                ))),
            },
        )
    }

    /// Reads or changes the component `C` of `entity` in the same work unit; `Err` when the
    /// entity does not exist or has no `C`.
    pub fn with_component<C, O>(
        &self,
        entity: Entity,
        f: impl FnOnce(&mut C) -> O + Send + 'static,
    ) -> WithWorld<Result<O, Failure>, impl FnOnce(&mut World) -> Result<O, Failure> + Send + 'static>
    where
        C: Component<Mutability = Mutable>,
        O: Send + 'static,
    {
        self.with_world(move |world: &mut World| match world.get_mut::<C>(entity) {
            Some(mut component) => Ok(f(&mut component)),
            None => Err(Failure::msg(alloc::format!(
                "entity {entity} has no component {}",
                core::any::type_name::<C>()
            ))),
        })
    }

    /// Reports the task's progress, in the same work unit: stored in its
    /// [`TaskProgress`](crate::TaskProgress) component, where an ordinary system reads it with a
    /// `Query<&TaskProgress>`.
    pub fn report_progress(
        &self,
        done: u64,
        total: Option<u64>,
    ) -> WithWorld<(), impl FnOnce(&mut World) + Send + 'static> {
        let task = self.task();
        self.with_world(move |world: &mut World| {
            progress::report(world, task, Progress { done, total });
        })
    }

    /// Pauses the task until `wait` is resolved, exactly as an iterator yielding it; returns the
    /// failure instead of failing the task when the wait fails (use `?` to pass it on).
    pub fn wait(&self, wait: Wait) -> WaitFuture {
        WaitFuture {
            cx: self.clone(),
            wait: Some(wait),
        }
    }

    /// [`Wait::duration`]: sleeps on virtual `Time`.
    pub fn sleep(&self, duration: Duration) -> WaitFuture {
        self.wait(Wait::duration(duration))
    }

    /// [`Wait::frames`].
    pub fn frames(&self, n: u32) -> WaitFuture {
        self.wait(Wait::frames(n))
    }

    /// [`Wait::message`]: until a message of type `M` written from now on, and returns (a clone
    /// of) that message. Fails as the wait does (for example if `M` is not registered).
    ///
    /// ```
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::{error::BevyError, prelude::*};
    /// # #[derive(Message, Clone)] struct Choice(u32);
    /// let work = script(|cx| async move {
    ///     let Choice(n) = cx.message::<Choice>().await?;
    ///     let big = cx.message_where(|c: &Choice| c.0 > 10).await?;
    ///     Ok::<_, BevyError>(n + big.0)
    /// });
    /// # let _ = work;
    /// ```
    pub async fn message<M: Message + Clone>(&self) -> Result<M, Failure> {
        self.receive::<M>(None).await
    }

    /// [`Wait::message_where`]: until a message of type `M` written from now on for which
    /// `filter` is true, and returns (a clone of) that message.
    pub async fn message_where<M: Message + Clone>(
        &self,
        filter: impl Fn(&M) -> bool + Send + Sync + 'static,
    ) -> Result<M, Failure> {
        self.receive(Some(Arc::new(filter))).await
    }

    async fn receive<M: Message + Clone>(&self, filter: Option<Filter<M>>) -> Result<M, Failure> {
        let slot: Arc<Mutex<Option<M>>> = Arc::new(Mutex::new(None));
        let into = slot.clone();
        let sink: Sink<M> = Arc::new(move |message: &M| {
            *lock(&into) = Some(message.clone());
        });
        self.wait(Wait::message_into(filter, sink)).await?;
        let message = lock(&slot).take();
        message.ok_or_else(|| {
            Failure::msg(alloc::format!(
                "the wait for message {} resumed without a message",
                core::any::type_name::<M>()
            ))
        })
    }

    /// [`Wait::until`]: until the condition system returns `true`.
    pub fn until<M>(&self, condition: impl IntoSystem<(), bool, M>) -> WaitFuture {
        self.wait(Wait::until(condition))
    }

    /// [`Wait::race`]: until the first of `waits` is resolved; returns its index. Losing task
    /// waits stop their tasks.
    pub async fn race(&self, waits: impl IntoIterator<Item = Wait>) -> Result<usize, Failure> {
        self.wait(Wait::race(waits)).await?;
        let me = self.task();
        let winner = self
            .with_world(move |world| {
                world
                    .get::<CooperativeTask>(me)
                    .and_then(CooperativeTask::race_winner)
            })
            .await;
        // A race of nothing resumes at once, with no winner.
        Ok(winner.unwrap_or(0))
    }

    /// [`Wait::all`]: until every one of `waits` is resolved.
    pub fn all(&self, waits: impl IntoIterator<Item = Wait>) -> WaitFuture {
        self.wait(Wait::all(waits))
    }

    /// Starts `work` as a child task this script owns (see [`StepContext::cooperate`]): stopping
    /// or finishing the script stops it.
    pub async fn start<M>(&self, work: impl IntoWork<M>) -> Entity {
        let work = work.into_boxed_work();
        let parent = self.task();
        self.with_world(move |world| lifecycle::spawn_child(world, parent, work))
            .await
    }

    /// Waits for `task` to finish `Done` and takes its [`TaskResult<T>`](crate::TaskResult). Fails with the task's
    /// failure, or if it finished without a `TaskResult<T>` (or another joiner took it first).
    pub async fn join<T: Send + Sync + 'static>(&self, task: Entity) -> Result<T, Failure> {
        self.wait(Wait::take(task, move_result::<T>)).await?;
        let me = self.task();
        self.with_world(move |world| {
            world
                .get_entity_mut(me)
                .ok()
                .and_then(|mut e| e.take::<Joined<T>>())
                .map(|j| j.0)
        })
        .await
        .ok_or_else(|| {
            Failure::msg(alloc::format!(
                "task {task} finished without a result of type {}",
                core::any::type_name::<T>()
            ))
        })
    }
}

/// Future of [`ScriptContext::yield_now`].
pub struct YieldNow {
    cx: ScriptContext,
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        self.cx.request(Request::Yield);
        Poll::Pending
    }
}

/// Future of [`ScriptContext::with_world`].
pub struct WithWorld<R, F> {
    cx: ScriptContext,
    f: Option<F>,
    _result: PhantomData<fn() -> R>,
}

impl<R, F> Unpin for WithWorld<R, F> {}

impl<R, F> Future for WithWorld<R, F>
where
    F: FnOnce(&mut World) -> R + Send + 'static,
    R: Send + 'static,
{
    type Output = R;
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<R> {
        if let Some(f) = self.f.take() {
            self.cx
                .request(Request::World(Box::new(move |world: &mut World| {
                    Box::new(f(world)) as Box<dyn Any + Send>
                })));
            return Poll::Pending;
        }
        match self.cx.lock().response.take() {
            Some(r) => Poll::Ready(*r.downcast::<R>().expect("world access result type")),
            None => Poll::Pending,
        }
    }
}

/// Future of [`ScriptContext::wait`]: `Ok` when the wait is resolved, `Err` with its failure.
pub struct WaitFuture {
    cx: ScriptContext,
    wait: Option<Wait>,
}

impl Future for WaitFuture {
    type Output = Result<(), Failure>;
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(wait) = self.wait.take() {
            self.cx.request(Request::Wait(wait));
            return Poll::Pending;
        }
        match self.cx.lock().woke.take() {
            Some(r) => Poll::Ready(r),
            None => Poll::Pending,
        }
    }
}

/// What a script's future may end with: `()` finishes `Done`; `Ok(value)` finishes `Done` with
/// a [`TaskResult`](crate::TaskResult); `Err(e)` fails the task.
pub trait ScriptOutput: Send + 'static {
    /// Applies the end of the script to its task.
    fn finish(self, cx: &mut StepContext) -> Step;
}

impl ScriptOutput for () {
    fn finish(self, _: &mut StepContext) -> Step {
        Step::Done
    }
}

impl<T: Send + Sync + 'static, E: Into<BevyError> + Send + 'static> ScriptOutput for Result<T, E> {
    fn finish(self, cx: &mut StepContext) -> Step {
        match self {
            Ok(value) => {
                // `Ok(())` carries nothing: no component for it.
                if core::any::TypeId::of::<T>() != core::any::TypeId::of::<()>() {
                    cx.set_result(value);
                }
                Step::Done
            }
            Err(e) => Step::Fail(e.into()),
        }
    }
}

/// A foreign future's waker: sets the flag and queues the task for the wake system.
struct ScriptWaker {
    task: Entity,
    fired: AtomicBool,
    queue: Arc<Mutex<Vec<Entity>>>,
}

impl Wake for ScriptWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.fired.store(true, Ordering::Release);
        lock(&self.queue).push(self.task);
    }
}

/// Tasks whose foreign wakers fired since the last wake.
#[derive(Resource, Default, Clone)]
pub(crate) struct WakerQueue(Arc<Mutex<Vec<Entity>>>);

/// Reports the waker waits of tasks whose waker fired.
pub(crate) fn wake_wakers(world: &mut World) -> Vec<Resolution> {
    let Some(queue) = world.get_resource::<WakerQueue>() else {
        return Vec::new();
    };
    let woken = {
        let mut q = lock(&queue.0);
        if q.is_empty() {
            return Vec::new();
        }
        core::mem::take(&mut *q)
    };
    woken
        .into_iter()
        .filter_map(|task| {
            match world.get::<CooperativeTask>(task) {
                Some(t) if matches!(t.waiting.registration, Registration::Waker) => t.wait,
                _ => None,
            }
            .map(|ticket| Resolution::new(task, ticket, Ok(())))
        })
        .collect()
}

/// The [`Work`] of an async [`script`].
pub struct ScriptWork<Fut> {
    future: Pin<Box<Fut>>,
    cx: ScriptContext,
    waker: Option<(Arc<ScriptWaker>, Waker)>,
    /// Resumed from a crate wait: fetch its result before polling.
    waiting: bool,
}

impl<Fut> Work for ScriptWork<Fut>
where
    Fut: Future + Send + 'static,
    Fut::Output: ScriptOutput,
{
    fn step(&mut self, cx: &mut StepContext) -> Step {
        let task = cx.task();
        if self.waiting {
            self.waiting = false;
            let caught = cx
                .world()
                .get_mut::<CooperativeTask>(task)
                .and_then(|mut t| t.waiting.caught.take());
            self.cx.lock().woke = Some(caught.map_or(Ok(()), Err));
        }
        if self.waker.is_none() {
            self.cx.lock().task = Some(task);
            let queue = cx.world().get_resource_or_init::<WakerQueue>().0.clone();
            let waker = Arc::new(ScriptWaker {
                task,
                fired: AtomicBool::new(false),
                queue,
            });
            self.waker = Some((waker.clone(), Waker::from(waker)));
        }
        let (flag, waker) = self.waker.as_ref().expect("set above");
        let mut context = Context::from_waker(waker);
        loop {
            flag.fired.store(false, Ordering::Release);
            if let Poll::Ready(output) = self.future.as_mut().poll(&mut context) {
                return output.finish(cx);
            }
            let request = core::mem::take(&mut self.cx.lock().request);
            match request {
                Request::World(f) => {
                    let world = cx.world();
                    let response = f(world);
                    world.flush();
                    self.cx.lock().response = Some(response);
                }
                Request::Yield => return Step::Continue,
                Request::Wait(wait) => {
                    self.waiting = true;
                    return Step::Wait(wait.delivering());
                }
                Request::None => {
                    // A foreign future: sleep until its waker fires (unless it already did).
                    if flag.fired.load(Ordering::Acquire) {
                        return Step::Continue;
                    }
                    return Step::Wait(Wait::waker());
                }
            }
        }
    }
}

/// Makes an async task body: `commands.cooperate(script(|cx| async move { ... }))`.
///
/// The closure receives the script's [`ScriptContext`] and returns the future. Each step polls the
/// future once — one work unit under the cooperator's budget; a world access with
/// [`ScriptContext::with_world`] is served within the same unit; only
/// [`yield_now`](ScriptContext::yield_now) or a real wait ends it. Awaiting a [`Wait`] pauses the
/// task exactly like an iterator yielding it (it costs nothing while paused). Foreign futures
/// work too: their waker resumes the task through the wake system.
///
/// The future may end with `()`, or `Result<T, E>`: `Ok(value)` finishes with a
/// [`TaskResult<T>`](crate::TaskResult), `Err` fails the task. Stopping the task drops the future at once (running
/// its destructors), cancels its pending wait and stops the child tasks it
/// [started](ScriptContext::start).
pub fn script<F, Fut>(f: F) -> ScriptWork<Fut>
where
    F: FnOnce(ScriptContext) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: ScriptOutput,
{
    let cx = ScriptContext {
        shared: Arc::new(Mutex::new(Shared::default())),
    };
    ScriptWork {
        future: Box::pin(f(cx.clone())),
        cx,
        waker: None,
        waiting: false,
    }
}
