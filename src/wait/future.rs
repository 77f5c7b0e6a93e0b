//! Future waits: a task waits until any `Send` future completes — a `bevy_tasks::Task<T>`
//! running on a task pool, an asset load, a channel — and finds its output in a
//! [`FutureOutput`].
//!
//! The future is polled once when the wait begins, then only when its waker fires: the waker
//! records the wait's ticket, and the wake system polls the woken futures. Cancelling the wait (the
//! task stopped, a race lost) drops the future, which cancels a `bevy_tasks::Task`'s work.

use alloc::{boxed::Box, collections::BTreeMap, sync::Arc, vec::Vec};
use bevy_ecs::{entity::Entity, resource::Resource, world::World};
use bevy_platform::cell::SyncCell;
use core::{
    future::Future,
    pin::Pin,
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    task::{Context, Poll, Waker},
};
use std::{sync::Mutex, task::Wake};

use crate::{
    error::lock,
    outcome::Failure,
    wait::{Wait, WaitKind},
    wait::{
        registration::{Registered, Registration},
        seam::{Resolution, Ticket},
    },
};

impl Wait {
    /// Until `future` completes — any `Send` future: a `bevy_tasks::Task<T>` spawned on a task
    /// pool, an asset load, a channel's receiver. Its output arrives in the returned
    /// [`FutureOutput`]; take it once the task has resumed. The task is paused (and costs
    /// nothing) meanwhile: the future is polled when the wait begins and then only when its
    /// waker fires. Stopping the task drops the future, which cancels a `bevy_tasks::Task`.
    ///
    /// Work meant for other threads goes to `AsyncComputeTaskPool::get().spawn(..)`; it runs on
    /// real threads only with `bevy_tasks`' `multi_threaded` feature (part of Bevy's default
    /// features), and otherwise on the thread that ticks the task pools.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default());
    /// let (wait, output) = Wait::future(async { 6 * 7 });
    /// let task = app.world_mut().cooperate(std::iter::once(wait));
    /// app.update();
    /// assert_eq!(output.take(), Some(42));
    /// ```
    pub fn future<F>(future: F) -> (Self, FutureOutput<F::Output>)
    where
        F: core::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (slot, output) = slot(future);
        let wait = Wait::custom("Future", move |world, task, ticket| {
            register(world, task, ticket, &slot)
        });
        (wait, output)
    }

    /// Until `waker` fires.
    pub(crate) fn waker(waker: Arc<TaskWaker>) -> Self {
        Wait::new(WaitKind::Waker(waker))
    }
}

/// A future a wait polls: `Ready` with the wait's result once it completes (a [`Wait::future`]'s
/// output is stored in its [`FutureOutput`] then).
///
/// [`Wait::future`]: crate::Wait::future
pub(crate) trait Pending: Send {
    /// Polls the future.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Failure>>;
}

struct Storing<F: Future> {
    future: Pin<Box<F>>,
    output: Arc<Mutex<Option<F::Output>>>,
}

impl<F> Pending for Storing<F>
where
    F: Future + Send + 'static,
    F::Output: Send,
{
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Failure>> {
        match self.future.as_mut().poll(cx) {
            Poll::Ready(value) => {
                *lock(&self.output) = Some(value);
                Poll::Ready(Ok(()))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Where a future wait's output arrives: [`take`](Self::take) it once the wait has resolved.
///
/// Cloning it shares the slot.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # use bevy_ecs::prelude::*;
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
/// #[derive(Resource, Default)]
/// struct Heightmap(Vec<u8>);
///
/// # app.init_resource::<Heightmap>();
/// // A heightmap computed off the step loop (a `bevy_tasks` pool task in a real game).
/// let (generated, heights) = Wait::future(async { vec![3, 1, 4, 1, 5] });
/// let mut waited = false;
/// app.world_mut().cooperate(from_fn(move |cx: &mut StepContext| {
///     if !std::mem::replace(&mut waited, true) {
///         return Step::Wait(generated.clone());
///     }
///     // Resumed: the output is there, once.
///     assert!(heights.is_ready());
///     cx.world().resource_mut::<Heightmap>().0 = heights.take().unwrap();
///     assert!(heights.take().is_none());
///     Step::Done
/// }));
/// app.update();
/// assert_eq!(app.world().resource::<Heightmap>().0, [3, 1, 4, 1, 5]);
/// ```
pub struct FutureOutput<T>(Arc<Mutex<Option<T>>>);

impl<T> Clone for FutureOutput<T> {
    fn clone(&self) -> Self {
        FutureOutput(self.0.clone())
    }
}

impl<T> FutureOutput<T> {
    /// The output, once the future has completed (and only the first time). See the example on
    /// [`FutureOutput`].
    pub fn take(&self) -> Option<T> {
        lock(&self.0).take()
    }

    /// Whether the output is there (the future completed and nobody took it yet). See the
    /// example on [`FutureOutput`].
    pub fn is_ready(&self) -> bool {
        lock(&self.0).is_some()
    }
}

impl<T> core::fmt::Debug for FutureOutput<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FutureOutput")
            .field("ready", &self.is_ready())
            .finish()
    }
}

/// The future a [`Wait::future`](crate::Wait::future) will poll: taken by the first task that
/// waits on it (a clone of the wait resumes at once after that: there is no future left).
pub(crate) type Slot = Arc<Mutex<Option<Box<dyn Pending>>>>;

/// Wraps `future` for a wait; returns the slot the wait registers and the output handle.
pub(crate) fn slot<F>(future: F) -> (Slot, FutureOutput<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let output = Arc::new(Mutex::new(None));
    let pending: Box<dyn Pending> = Box::new(Storing {
        future: Box::pin(future),
        output: output.clone(),
    });
    (Arc::new(Mutex::new(Some(pending))), FutureOutput(output))
}

/// The pending future waits, the tickets whose wakers fired since the last wake, and the task
/// wakers that fired outside their steps.
#[derive(Resource, Default)]
pub(crate) struct FutureWaits {
    pending: BTreeMap<Ticket, (Entity, SyncCell<Box<dyn Pending>>)>,
    woken: Arc<Mutex<Vec<Ticket>>>,
    /// Pending waits polled in every wake, woken or not.
    every_frame: Vec<Ticket>,
    tasks: Arc<Mutex<Vec<Arc<TaskWaker>>>>,
}

impl FutureWaits {
    /// Pending future waits.
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }
}

/// A future wait's waker: records its ticket for the next wake.
struct TicketWaker {
    ticket: Ticket,
    woken: Arc<Mutex<Vec<Ticket>>>,
}

impl Wake for TicketWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        lock(&self.woken).push(self.ticket);
    }
}

fn poll(
    pending: &mut dyn Pending,
    ticket: Ticket,
    woken: &Arc<Mutex<Vec<Ticket>>>,
) -> Poll<Result<(), Failure>> {
    let waker = Waker::from(Arc::new(TicketWaker {
        ticket,
        woken: woken.clone(),
    }));
    pending.poll(&mut Context::from_waker(&waker))
}

/// Registers `task` (wait `ticket`) on the future in `slot`, polling it once.
pub(crate) fn register(world: &mut World, task: Entity, ticket: Ticket, slot: &Slot) -> Registered {
    let Some(pending) = lock(slot).take() else {
        // Another wait took the future (and will see it through): nothing left to wait for.
        return Registered::Now(Ok(()));
    };
    register_pending(world, task, ticket, pending)
}

/// Registers `task` (wait `ticket`) on `pending`, which is polled once now and then in every
/// [`Wake`](crate::CooperatorSystems::Wake) until it is ready, whether or not its waker fired:
/// for sources whose wakers cannot be trusted to fire (an asset whose dependency fails).
#[cfg(feature = "bevy_asset")]
pub(crate) fn register_polled(
    world: &mut World,
    task: Entity,
    ticket: Ticket,
    pending: Box<dyn Pending>,
) -> Registered {
    let registered = register_pending(world, task, ticket, pending);
    if matches!(registered, Registered::Pending(_)) {
        world.resource_mut::<FutureWaits>().every_frame.push(ticket);
    }
    registered
}

fn register_pending(
    world: &mut World,
    task: Entity,
    ticket: Ticket,
    mut pending: Box<dyn Pending>,
) -> Registered {
    let mut waits = world.get_resource_or_init::<FutureWaits>();
    let woken = waits.woken.clone();
    if let Poll::Ready(result) = poll(&mut *pending, ticket, &woken) {
        return Registered::Now(result);
    }
    waits.pending.insert(ticket, (task, SyncCell::new(pending)));
    Registered::Pending(Registration::Remove(remove))
}

/// Cancels a future wait: the future is dropped.
fn remove(world: &mut World, _task: Entity, ticket: Ticket) {
    if let Some(mut waits) = world.get_resource_mut::<FutureWaits>() {
        waits.pending.remove(&ticket);
        waits.every_frame.retain(|&t| t != ticket);
    }
}

/// Reports the waker waits of woken tasks, then polls the futures whose wakers fired and reports
/// the waits whose futures completed.
pub(crate) fn wake_futures(world: &mut World) -> Vec<Resolution> {
    let Some(waits) = world.get_resource::<FutureWaits>() else {
        return Vec::new();
    };
    let tasks = core::mem::take(&mut *lock(&waits.tasks));
    let mut woken = core::mem::take(&mut *lock(&waits.woken));
    let mut resolved = Vec::new();
    if !tasks.is_empty() {
        wake_tasks(tasks, &mut resolved);
    }
    if !waits.every_frame.is_empty() {
        woken.extend_from_slice(&waits.every_frame);
        woken.sort_unstable();
        woken.dedup();
    }
    if woken.is_empty() {
        return resolved;
    }
    let mut waits = world.resource_mut::<FutureWaits>();
    let shared = waits.woken.clone();
    for ticket in woken {
        let Some((task, pending)) = waits.pending.get_mut(&ticket) else {
            // Resolved or cancelled already (a waker may fire more than once).
            continue;
        };
        let task = *task;
        if let Poll::Ready(result) = poll(&mut **pending.get(), ticket, &shared) {
            waits.pending.remove(&ticket);
            waits.every_frame.retain(|&t| t != ticket);
            resolved.push(Resolution::new(task, ticket, result));
        }
    }
    resolved
}

/// A task's own waker: a script gives it to everything its future polls, and sleeps on it (a
/// [`Waker`](Registration::Waker) wait) while nothing it awaits is ready. Woken while the task
/// is being stepped, it only notes that the task wants another poll; woken at any other time (a
/// foreign future ready, on whatever thread), it also queues the task for the wake system, which
/// resolves its waker wait here, beside the future waits.
pub(crate) struct TaskWaker {
    task: Entity,
    /// Woken since the last poll began.
    pub(crate) fired: AtomicBool,
    /// The task is being stepped (and polls again if woken).
    pub(crate) stepping: AtomicBool,
    /// The ticket of the task's latest waker wait.
    ticket: AtomicU64,
    queue: Arc<Mutex<Vec<Arc<TaskWaker>>>>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        // Sequentially consistent with the step's own end: either the step sees `fired`, or
        // this sees that the step is over and queues the task.
        self.fired.store(true, Ordering::SeqCst);
        if !self.stepping.load(Ordering::SeqCst) {
            lock(&self.queue).push(self.clone());
        }
    }
}

/// A waker for `task`, whose wakes reach this world's wake system.
pub(crate) fn task_waker(world: &mut World, task: Entity) -> Arc<TaskWaker> {
    let queue = world.get_resource_or_init::<FutureWaits>().tasks.clone();
    Arc::new(TaskWaker {
        task,
        fired: AtomicBool::new(false),
        stepping: AtomicBool::new(false),
        ticket: AtomicU64::new(0),
        queue,
    })
}

/// Registers `ticket` as the task's waker wait: the waker resolves it when it fires.
pub(crate) fn register_waker(waker: &TaskWaker, ticket: Ticket) -> Registered {
    waker.ticket.store(ticket, Ordering::SeqCst);
    Registered::Pending(Registration::Waker)
}

/// Reports the waker waits of tasks whose waker fired (and that were not polled since); a
/// wait that ended otherwise meanwhile has a stale ticket, which the tasks ignore.
fn wake_tasks(woken: Vec<Arc<TaskWaker>>, resolved: &mut Vec<Resolution>) {
    for waker in woken {
        if waker.fired.load(Ordering::SeqCst) {
            let ticket = waker.ticket.load(Ordering::SeqCst);
            resolved.push(Resolution::new(waker.task, ticket, Ok(())));
        }
    }
}
