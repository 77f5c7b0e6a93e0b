//! The deadline watcher: a thread that raises a flag when a tick's deadline passes, so the step
//! loop learns of it with one atomic load per step instead of a clock read.
//!
//! Each thread that steps cooperators gets its own watcher thread, spawned the first time a tick
//! asks for one and ended with the stepping thread. A tick arms it with its deadline (one
//! `unpark`, a few microseconds); the watcher sleeps until the deadline, then stores the number of
//! the watch that expired. Arming again replaces the previous watch, so a tick that ends early
//! needs no cancelling: its number is never looked at again.
//!
//! Where no thread can be spawned, [`Watch::arm`] returns `None` and the budget reads the clock
//! after every step instead.
//!
//! How late it is depends on the operating system waking it. On a 2-core Linux VM, with the
//! stepping thread spinning, 5 runs of 400 deadlines of 2 ms woke it (medians of the runs) 54 µs
//! late at the median, 78 µs at p90, 160 µs at p99 and 2.9 ms at most; other sittings of the same
//! VM measured up to 71 µs, 1.2 ms and 3.2 ms (`benches/adherence` prints it for the machine it
//! runs on). The guarantee does not lean on it: the step loop's own clock reads, after every step
//! of a task seen heavy, end the tick in every case but a single task whose cost jumps inside one
//! batch (see [`Budget`](crate::Budget)).

use alloc::sync::Arc;
use bevy_platform::time::Instant;
use core::{
    cell::RefCell,
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    time::Duration,
};
use std::thread::{self, Thread};

/// What the stepping thread and its watcher share.
#[derive(Debug)]
struct Shared {
    origin: Instant,
    /// The armed watch's deadline, nanoseconds since `origin`.
    deadline: AtomicU64,
    /// The armed watch's number (0: none yet).
    armed: AtomicU64,
    /// The number of the last watch whose deadline passed.
    expired: Arc<AtomicU64>,
    shutdown: AtomicBool,
}

#[derive(Debug)]
struct Watcher {
    shared: Arc<Shared>,
    thread: Thread,
    next: u64,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

std::thread_local! {
    /// This thread's watcher: `None` before the first watch, `Err` where none can be spawned.
    static WATCHER: RefCell<Option<Result<Watcher, ()>>> = const { RefCell::new(None) };
}

/// One armed watch: [`expired`](Self::expired) turns true once its deadline has passed.
#[derive(Debug)]
pub(crate) struct Watch {
    shared: Arc<Shared>,
    number: u64,
}

impl Watch {
    /// Arms this thread's watcher for a deadline `after` from now; `None` where no watcher thread
    /// can run.
    pub(crate) fn arm(after: Duration) -> Option<Watch> {
        WATCHER.with(|cell| {
            let mut cell = cell.borrow_mut();
            let watcher = cell.get_or_insert_with(spawn).as_mut().ok()?;
            let shared = &watcher.shared;
            let deadline = shared.origin.elapsed().saturating_add(after);
            let deadline = u64::try_from(deadline.as_nanos()).unwrap_or(u64::MAX);
            watcher.next += 1;
            shared.deadline.store(deadline, Ordering::Release);
            shared.armed.store(watcher.next, Ordering::Release);
            watcher.thread.unpark();
            Some(Watch {
                shared: shared.clone(),
                number: watcher.next,
            })
        })
    }

    /// Whether the deadline has passed (one atomic load).
    #[cfg(test)]
    pub(crate) fn expired(&self) -> bool {
        self.shared.expired.load(Ordering::Relaxed) == self.number
    }

    /// The watch as a counter and a threshold: its deadline has passed once the counter reads
    /// at least the threshold (watch numbers only grow, and a thread arms its next watch only
    /// after its last tick is over).
    pub(crate) fn into_threshold(self) -> (Arc<AtomicU64>, u64) {
        (self.shared.expired.clone(), self.number)
    }
}

fn spawn() -> Result<Watcher, ()> {
    let shared = Arc::new(Shared {
        origin: Instant::now(),
        deadline: AtomicU64::new(u64::MAX),
        armed: AtomicU64::new(0),
        expired: Arc::new(AtomicU64::new(0)),
        shutdown: AtomicBool::new(false),
    });
    let theirs = shared.clone();
    let handle = thread::Builder::new()
        .name(alloc::string::String::from("cooperator deadline watcher"))
        .spawn(move || watch(&theirs))
        .map_err(|_| ())?;
    Ok(Watcher {
        shared,
        thread: handle.thread().clone(),
        next: 0,
    })
}

/// The watcher thread: sleeps until the armed deadline, then marks that watch expired.
fn watch(shared: &Shared) {
    // Linux lets a sleeping thread wake up to 50 µs late by default, to save power; a deadline
    // watcher wants the opposite (measured here: 69 µs late at the median, 17 µs with 1 ns).
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_timerslack(1);
    while !shared.shutdown.load(Ordering::Acquire) {
        let number = shared.armed.load(Ordering::Acquire);
        let deadline = shared.deadline.load(Ordering::Acquire);
        if number == 0 || shared.expired.load(Ordering::Relaxed) == number {
            thread::park();
            continue;
        }
        let now = u64::try_from(shared.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        if now >= deadline {
            shared.expired.store(number, Ordering::Release);
        } else {
            thread::park_timeout(Duration::from_nanos(deadline - now));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watch_expires_after_its_deadline_and_a_new_one_replaces_it() {
        let first = Watch::arm(Duration::from_millis(1)).unwrap();
        assert!(!first.expired());
        let start = Instant::now();
        while !first.expired() {
            assert!(start.elapsed() < Duration::from_secs(10), "never expired");
            thread::yield_now();
        }
        let second = Watch::arm(Duration::from_secs(3600)).unwrap();
        assert!(!second.expired());
        let never = Watch::arm(Duration::MAX).unwrap();
        assert!(!never.expired() && !second.expired());
    }
}
