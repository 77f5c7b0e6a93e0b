//! A script awaiting a foreign future sleeps (paused, costing nothing) until the future's waker
//! fires, then resumes through the wake system.
use crate::common::*;

use bevy_cooperator::*;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

#[derive(Clone, Default)]
struct Gate(Arc<Mutex<(bool, Option<Waker>)>>);

impl Gate {
    fn open(&self) {
        let mut g = self.0.lock().unwrap();
        g.0 = true;
        if let Some(w) = g.1.take() {
            w.wake();
        }
    }
}

impl Future for Gate {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut g = self.0.lock().unwrap();
        if g.0 {
            Poll::Ready(())
        } else {
            g.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

#[test]
fn the_waker_resumes_the_script() {
    let mut app = app();
    let gate = Gate::default();
    let log = Log::new();
    let (g, l) = (gate.clone(), log.clone());
    let task = app.world_mut().cooperate(script(move |_cx| async move {
        g.await;
        l.push("through");
    }));
    frames(&mut app, 3);
    assert!(app.world().get::<Paused>(task).is_some());
    assert_eq!(app.world().task_steps(task), Ok(1));
    // Opened from another thread.
    let opener = gate.clone();
    std::thread::spawn(move || opener.open()).join().unwrap();
    assert!(log.get().is_empty());
    frames(&mut app, 1);
    assert_eq!(log.get(), vec!["through"]);
}

#[test]
fn a_wake_during_the_poll_does_not_lose_the_turn() {
    struct WakeSelfOnce(bool);
    impl Future for WakeSelfOnce {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
    let mut app = app();
    let finished = record_finished(&mut app);
    app.world_mut().cooperate(script(|_cx| async move {
        WakeSelfOnce(false).await;
    }));
    frames(&mut app, 2);
    assert_eq!(kinds(&finished), vec!["done"]);
}
