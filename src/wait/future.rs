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
    task::{Context, Poll, Waker},
};
use std::{sync::Mutex, task::Wake};

use crate::{
    error::lock,
    wait::{
        registration::{Registered, Registration},
        seam::{Resolution, Ticket},
    },
};

/// A future whose output goes to a [`FutureOutput`] once it completes.
pub(crate) trait Pending: Send {
    /// Polls the future; `Ready` once its output is stored.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()>;
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
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self.future.as_mut().poll(cx) {
            Poll::Ready(value) => {
                *lock(&self.output) = Some(value);
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Where a future wait's output arrives: [`take`](Self::take) it once the wait has resolved.
///
/// Cloning it shares the slot.
pub struct FutureOutput<T>(Arc<Mutex<Option<T>>>);

impl<T> Clone for FutureOutput<T> {
    fn clone(&self) -> Self {
        FutureOutput(self.0.clone())
    }
}

impl<T> FutureOutput<T> {
    /// The output, once the future has completed (and only the first time).
    pub fn take(&self) -> Option<T> {
        lock(&self.0).take()
    }

    /// Whether the output is there (the future completed and nobody took it yet).
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

/// The pending future waits, and the tickets whose wakers fired since the last wake.
#[derive(Resource, Default)]
pub(crate) struct FutureWaits {
    pending: BTreeMap<Ticket, (Entity, SyncCell<Box<dyn Pending>>)>,
    woken: Arc<Mutex<Vec<Ticket>>>,
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

fn poll(pending: &mut dyn Pending, ticket: Ticket, woken: &Arc<Mutex<Vec<Ticket>>>) -> Poll<()> {
    let waker = Waker::from(Arc::new(TicketWaker {
        ticket,
        woken: woken.clone(),
    }));
    pending.poll(&mut Context::from_waker(&waker))
}

/// Registers `task` (wait `ticket`) on the future in `slot`, polling it once.
pub(crate) fn register(world: &mut World, task: Entity, ticket: Ticket, slot: &Slot) -> Registered {
    let Some(mut pending) = lock(slot).take() else {
        // Another wait took the future (and will see it through): nothing left to wait for.
        return Registered::Now(Ok(()));
    };
    let mut waits = world.get_resource_or_init::<FutureWaits>();
    let woken = waits.woken.clone();
    if poll(&mut *pending, ticket, &woken).is_ready() {
        return Registered::Now(Ok(()));
    }
    waits.pending.insert(ticket, (task, SyncCell::new(pending)));
    Registered::Pending(Registration::Remove(remove, ticket))
}

/// Cancels a future wait: the future is dropped.
fn remove(world: &mut World, _task: Entity, ticket: Ticket) {
    if let Some(mut waits) = world.get_resource_mut::<FutureWaits>() {
        waits.pending.remove(&ticket);
    }
}

/// Polls the futures whose wakers fired; reports the waits whose futures completed.
pub(crate) fn wake_futures(world: &mut World) -> Vec<Resolution> {
    let Some(mut waits) = world.get_resource_mut::<FutureWaits>() else {
        return Vec::new();
    };
    let woken = core::mem::take(&mut *lock(&waits.woken));
    if woken.is_empty() {
        return Vec::new();
    }
    let shared = waits.woken.clone();
    let mut resolved = Vec::new();
    for ticket in woken {
        let Some((task, pending)) = waits.pending.get_mut(&ticket) else {
            // Resolved or cancelled already (a waker may fire more than once).
            continue;
        };
        let task = *task;
        if poll(&mut **pending.get(), ticket, &shared).is_ready() {
            waits.pending.remove(&ticket);
            resolved.push(Resolution::new(task, ticket, Ok(())));
        }
    }
    resolved
}
