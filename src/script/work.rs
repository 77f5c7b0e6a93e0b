//! The script's [`Work`]: each step polls its future, serves the world accesses it asks for in
//! the same work unit, and begins the waits it asks for; and what the future may end with
//! ([`ScriptOutput`]).

use alloc::{boxed::Box, sync::Arc, vec::Vec};
use bevy_ecs::error::BevyError;
use core::{
    future::Future,
    pin::Pin,
    sync::atomic::Ordering,
    task::{Context, Poll, Waker},
};

use crate::{
    error::lock,
    script::ask::{Id, Request, ScriptContext},
    task::{
        resolve,
        waits::{Deliver, Then},
    },
    wait::{
        Wait,
        future::{self, TaskWaker},
    },
    work::{Step, StepContext, Work},
};

/// What a script's future may end with: `()` finishes `Done`; `Ok(value)` finishes `Done` with
/// a [`TaskResult`](crate::TaskResult); `Err(e)` fails the task.
///
/// ```
/// # use bevy_app::App;
/// # use bevy_cooperator::prelude::*;
/// # use bevy_ecs::error::BevyError;
/// # let mut app = App::new();
/// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(8)));
/// let world = app.world_mut();
/// let nothing = world.cooperate(script(|_cx| async {}));
/// let value = world.cooperate(script(|_cx| async { Ok::<_, BevyError>(7_u8) }));
/// let error = world.cooperate(script(|_cx| async { Err::<(), _>("out of mana") }));
/// for task in [nothing, value, error] {
///     world.entity_mut(task).insert(RetainFinished);
/// }
/// app.update();
/// let world = app.world();
/// assert_eq!(world.task_outcome(nothing), Some(Outcome::Done));
/// assert_eq!(world.get::<TaskResult<u8>>(value).unwrap().0, 7);
/// let failed = world.task_outcome(error).unwrap();
/// assert_eq!(failed.failure().unwrap().to_string(), "out of mana");
/// ```
pub trait ScriptOutput: Send + 'static {
    /// Applies the end of the script to its task (called by the script's work, not by you).
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

/// The [`Work`] of an async [`script`](crate::script) (see its example).
pub struct ScriptWork<Fut> {
    future: Pin<Box<Fut>>,
    cx: ScriptContext,
    waker: Option<(Arc<TaskWaker>, Waker)>,
    /// Requests taken out of the shared state (kept for their capacity).
    requests: Vec<Request>,
    /// Dropped futures taken out of the shared state.
    dropped: Vec<Id>,
}

impl<Fut> ScriptWork<Fut> {
    pub(super) fn new(future: Fut, cx: ScriptContext) -> Self {
        ScriptWork {
            future: Box::pin(future),
            cx,
            waker: None,
            requests: Vec::new(),
            dropped: Vec::new(),
        }
    }
}

impl<Fut> Work for ScriptWork<Fut>
where
    Fut: Future + Send + 'static,
    Fut::Output: ScriptOutput,
{
    fn step(&mut self, cx: &mut StepContext) -> Step {
        let task = cx.task();
        if self.waker.is_none() {
            self.cx.lock().task = Some(task);
            let waker = future::task_waker(cx.world(), task);
            self.waker = Some((waker.clone(), Waker::from(waker)));
        }
        // Taken out for the step (the poll needs `self`), put back after it.
        let (flag, waker) = self.waker.take().expect("set above");
        flag.stepping.store(true, Ordering::SeqCst);
        let step = self.poll(cx, &flag, &waker);
        flag.stepping.store(false, Ordering::SeqCst);
        let step = match step {
            Some(step) => step,
            // Woken since its last poll began (by a foreign future, maybe on another thread):
            // poll again on its next turn instead of sleeping.
            None if flag.fired.load(Ordering::SeqCst) => Step::Continue,
            None => Step::Wait(Wait::waker(flag.clone())),
        };
        self.waker = Some((flag, waker));
        step
    }
}

impl<Fut> ScriptWork<Fut>
where
    Fut: Future + Send + 'static,
    Fut::Output: ScriptOutput,
{
    /// Polls the future, serving its world accesses in the same work unit, and begins the waits
    /// it asks for. `None` when nothing it awaits is ready: it sleeps on its waker.
    fn poll(&mut self, cx: &mut StepContext, flag: &TaskWaker, waker: &Waker) -> Option<Step> {
        let task = cx.task();
        let mut context = Context::from_waker(waker);
        loop {
            flag.fired.store(false, Ordering::SeqCst);
            if let Poll::Ready(output) = self.future.as_mut().poll(&mut context) {
                return Some(output.finish(cx));
            }
            let yielded = {
                let mut shared = self.cx.lock();
                core::mem::swap(&mut shared.requests, &mut self.requests);
                core::mem::swap(&mut shared.dropped, &mut self.dropped);
                core::mem::take(&mut shared.yielded)
            };
            for id in self.dropped.drain(..) {
                let ticket = {
                    let mut shared = self.cx.lock();
                    let i = shared.pending.iter().position(|(p, _)| *p == id);
                    i.map(|i| shared.pending.swap_remove(i).1)
                };
                match ticket {
                    Some(ticket) => resolve::cancel_awaited(cx.world(), task, ticket),
                    // Dropped before it was served: never served.
                    None => self.requests.retain(|r| r.id() != id),
                }
            }
            let mut served = false;
            let mut resolved = false;
            for request in self.requests.drain(..) {
                match request {
                    Request::World(id, f) => {
                        let world = cx.world();
                        let answer = f(world);
                        world.flush();
                        self.cx.lock().answer(id, Ok(answer));
                        served = true;
                    }
                    Request::Wait(id, wait, collect) => {
                        let shared = self.cx.shared.clone();
                        let deliver: Deliver = Box::new(move |world, result, winner| {
                            let answer = collect(world, task, result, winner);
                            let mut shared = lock(&shared);
                            shared.pending.retain(|(p, _)| *p != id);
                            shared.answer(id, answer);
                        });
                        match resolve::begin(cx.world(), task, wait, Then::Deliver(deliver)) {
                            Some(ticket) => self.cx.lock().pending.push((id, ticket)),
                            None => resolved = true,
                        }
                    }
                }
            }
            if served {
                continue;
            }
            if yielded {
                return Some(Step::Continue);
            }
            if resolved {
                // A wait already resolved when it begins resumes at the back of the queue.
                return Some(Step::Wait(Wait::frames(0)));
            }
            return None;
        }
    }
}
