//! The crate futures a script awaits: [`YieldNow`], [`WithWorld`] and [`WaitFuture`] (with
//! the awaiting of a wait they share).

use alloc::boxed::Box;
use bevy_ecs::world::World;
use core::{
    future::Future,
    marker::PhantomData,
    pin::Pin,
    task::{Context, Poll},
};

use crate::{
    outcome::Failure,
    script::ask::{Asked, Collect, Request, ScriptContext, WorldFn},
    wait::Wait,
};

/// Future of [`ScriptContext::yield_now`] (see its example).
pub struct YieldNow {
    cx: ScriptContext,
    yielded: bool,
}

impl YieldNow {
    pub(super) fn new(cx: &ScriptContext) -> Self {
        YieldNow {
            cx: cx.clone(),
            yielded: false,
        }
    }
}

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        self.cx.lock().yielded = true;
        // Polled again on the next turn (inside a `FuturesUnordered` too).
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl ScriptContext {
    /// Ends the current work unit: the task goes to the back of the run queue and continues on
    /// its next turn (this frame if the budget allows, else a later one).
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// #[derive(Resource, Default)]
    /// struct Chunks(u32);
    ///
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(2)));
    /// # app.init_resource::<Chunks>();
    /// // One chunk per work unit: two per frame with this budget.
    /// app.world_mut().cooperate(script(|cx| async move {
    ///     for _ in 0..5 {
    ///         cx.with_resource(|c: &mut Chunks| c.0 += 1).await?;
    ///         cx.yield_now().await;
    ///     }
    ///     Ok::<(), Failure>(())
    /// }));
    /// app.update();
    /// assert_eq!(app.world().resource::<Chunks>().0, 2);
    /// app.update();
    /// assert_eq!(app.world().resource::<Chunks>().0, 4);
    /// ```
    pub fn yield_now(&self) -> YieldNow {
        YieldNow::new(self)
    }
}

/// Future of [`ScriptContext::with_world`] and the methods built on it (see their examples).
pub struct WithWorld<R, F> {
    asked: Asked,
    f: Option<F>,
    _result: PhantomData<fn() -> R>,
}

impl<R, F> WithWorld<R, F> {
    pub(super) fn new(cx: &ScriptContext, f: F) -> Self {
        WithWorld {
            asked: Asked::new(cx),
            f: Some(f),
            _result: PhantomData,
        }
    }
}

impl<R, F> Unpin for WithWorld<R, F> {}

impl<R, F> Future for WithWorld<R, F>
where
    F: FnOnce(&mut World) -> R + Send + 'static,
    R: Send + 'static,
{
    type Output = R;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<R> {
        if let Some(f) = self.f.take() {
            let f: WorldFn = Box::new(move |world: &mut World| Box::new(f(world)));
            self.asked.ask(|id| Request::World(id, f), cx.waker());
            return Poll::Pending;
        }
        match self.asked.answer(cx.waker()) {
            Some(Ok(r)) => Poll::Ready(*r.downcast::<R>().expect("world access result type")),
            Some(Err(_)) => unreachable!("a world access always answers"),
            None => Poll::Pending,
        }
    }
}

/// A crate future awaiting a [`Wait`], its answer downcast to `T`.
pub(super) struct Awaiting<T> {
    asked: Asked,
    wait: Option<(Wait, Collect)>,
    _output: PhantomData<fn() -> T>,
}

impl<T> Awaiting<T> {
    /// A future awaiting `wait`, whose answer `collect` makes.
    pub(super) fn new(cx: &ScriptContext, wait: Wait, collect: Collect) -> Self {
        Awaiting {
            asked: Asked::new(cx),
            wait: Some((wait, collect)),
            _output: PhantomData,
        }
    }
}

impl<T> Unpin for Awaiting<T> {}

impl<T: 'static> Future for Awaiting<T> {
    type Output = Result<T, Failure>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some((wait, collect)) = self.wait.take() {
            self.asked
                .ask(|id| Request::Wait(id, wait, collect), cx.waker());
            return Poll::Pending;
        }
        match self.asked.answer(cx.waker()) {
            Some(answer) => {
                Poll::Ready(answer.map(|value| *value.downcast::<T>().expect("wait answer type")))
            }
            None => Poll::Pending,
        }
    }
}

/// Future of [`ScriptContext::wait`]: `Ok` when the wait is resolved, `Err` with its failure.
/// Dropping it before then cancels the wait (see the example on [`ScriptContext::wait`]).
pub struct WaitFuture(pub(super) Awaiting<()>);

impl Future for WaitFuture {
    type Output = Result<(), Failure>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}
