//! The deadline of a time budget: when the step loop reads the clock, what it learns of the step
//! costs (the heavy and suspect marks), and the flag a deadline watcher raises.

use alloc::sync::Arc;
use bevy_ecs::entity::Entity;
use core::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};
use std::sync::LazyLock;

use super::{Mark, Verdict, longer};
use crate::{
    clock::{CooperatorClock, Watcher, nanos},
    watch::Watch,
};

/// The most steps between two clock reads of a time budget.
const MAX_CHECK_INTERVAL: u32 = 256;

/// A step that takes this long (in nanoseconds) marks its task heavy: the clock is then read
/// after each of its steps, which costs a few percent of such a step at most (a read of the
/// system clock costs 20–40 ns on the machines measured).
const HEAVY_FROM: u64 = 1_000;

/// A heavy task's step shorter than this (in nanoseconds) makes it light again.
const LIGHT_BELOW: u64 = HEAVY_FROM / 2;

/// How a tick learns that its deadline passed between two clock reads: raised once `value`
/// reads at least `at`. This thread's watcher thread counts the watches that expired; a
/// simulated watcher of a manual clock is the clock itself (at the deadline plus its lateness);
/// a watcher that never fires ([`Watcher::Never`]) is a counter that never reaches `u64::MAX`.
struct Flag {
    value: Arc<AtomicU64>,
    at: u64,
}

impl Flag {
    /// A flag never raised: the tick's flag until one is armed, and [`Watcher::Never`]'s.
    fn lowered() -> Self {
        static NEVER: LazyLock<Arc<AtomicU64>> = LazyLock::new(|| Arc::new(AtomicU64::new(0)));
        Flag {
            value: NEVER.clone(),
            at: u64::MAX,
        }
    }

    #[inline]
    fn raised(&self) -> bool {
        self.value.load(Ordering::Relaxed) >= self.at
    }
}

pub(crate) struct Deadline {
    clock: CooperatorClock,
    start: Duration,
    pub(crate) end: Duration,
    budget: Duration,
    /// The deadline flag for this tick: lowered until armed (at the first clock read). Always
    /// there, so that the check after each step is one load and a compare.
    flag: Flag,
    /// A watcher was armed (its flag is `flag`).
    armed: bool,
    /// Whether to arm a flag (a system clock, or a manual one with a simulated watcher; not yet
    /// found impossible). Without one the clock is read after every step.
    watchable: bool,
    /// Steps left before the next clock read.
    countdown: u32,
    /// Size of the batch the countdown started from.
    batch: u32,
    /// The time the batch may take (nanoseconds): more than twice that is a step turned heavy.
    allowance: u64,
    /// What a light step costs, in nanoseconds, from the last batch without a heavy step.
    per_step: u64,
    /// The clock is read after every step for the rest of the tick (a batch ran far longer
    /// than predicted: a step cost jumped).
    every_step: bool,
    /// Clock at the last read.
    last_read: Duration,
    /// The task stepped last (the culprit when a one-step batch is slow).
    last_task: Entity,
    /// The longest step timed on its own this tick (a one-step batch), with its task.
    pub(crate) longest: Option<(Entity, Duration)>,
    /// A thread's part of a parallel tick: it reads the clock after every step instead of arming
    /// a watcher when its steps are heavy (see [`Deadline::share`]).
    #[cfg(feature = "parallel")]
    share: bool,
}

/// The step cost from which a share of a parallel tick reads the clock after every step rather
/// than arming a watcher: a read then costs at most a few percent of a step.
#[cfg(feature = "parallel")]
const SHARE_READS_EVERY_STEP_FROM: u64 = 1_000;

impl Deadline {
    /// The time the tick may take.
    pub(super) fn granted(&self) -> Duration {
        self.budget
    }

    /// Time spent since the tick began (one clock read).
    pub(super) fn elapsed(&self) -> Duration {
        self.clock.now().saturating_sub(self.start)
    }

    pub(super) fn new(clock: &CooperatorClock, start: Duration, budget: Duration) -> Self {
        Deadline {
            clock: clock.clone(),
            start,
            end: start.saturating_add(budget),
            budget,
            flag: Flag::lowered(),
            armed: false,
            watchable: clock.manual_source().is_none() || clock.watcher() != Watcher::Thread,
            countdown: 1,
            batch: 1,
            allowance: u64::MAX,
            per_step: 1,
            every_step: false,
            last_read: clock.now(),
            last_task: Entity::PLACEHOLDER,
            longest: None,
            #[cfg(feature = "parallel")]
            share: false,
        }
    }

    /// The same deadline for another thread of a parallel tick: the same end, and its own
    /// clock reads and watcher (armed, at its first clock read, on the thread that reads).
    ///
    /// When its first steps cost a microsecond or more, it reads the clock after every step and
    /// arms no watcher: with every core stepping, a watcher waking at the deadline must preempt
    /// a stepping thread, which then ends its loop some microseconds late (measured here: 16 µs
    /// past the deadline at the median with 10 µs steps, 5 µs with reads after every step).
    /// Cheaper steps need the watcher: reading after each would cost more than the step.
    #[cfg(feature = "parallel")]
    pub(crate) fn share(&self) -> Deadline {
        let mut share = Deadline::new(&self.clock, self.start, self.budget);
        share.end = self.end;
        share.share = true;
        share
    }

    /// Starts a share's clock on the thread that steps it (its first batch must not count the
    /// time the thread took to start); `false` when the deadline has already passed: a thread
    /// the operating system started late steps nothing.
    #[cfg(feature = "parallel")]
    pub(crate) fn start_here(&mut self) -> bool {
        self.last_read = self.clock.now();
        self.last_read < self.end
    }

    /// How far past the deadline it is now (zero before it; one clock read).
    #[cfg(feature = "parallel")]
    pub(crate) fn overshoot(&self) -> Duration {
        self.clock.now().saturating_sub(self.end)
    }

    /// Called after each step of `task` (`heavy`: marked heavy in the run order, so the clock is
    /// read after each of its steps); says whether the tick goes on. `task` is asked only when
    /// the clock is read: the step loop looks the entity up then, not on every step.
    #[inline]
    pub(crate) fn after_step(&mut self, task: impl FnOnce() -> Entity, heavy: bool) -> Verdict {
        self.countdown -= 1;
        // One branch for the three tests (`&`, not `&&`): every one is cheap and all are true
        // but once a batch.
        if (self.countdown > 0) & !heavy & !self.flag.raised() {
            return Verdict::Go;
        }
        self.last_task = task();
        self.read(heavy)
    }

    /// Reads the clock: ends the tick once the deadline has passed (or the watcher says so);
    /// otherwise sets how many steps may run before the next read, and arms the watcher if not
    /// yet done. Learns what the steps since the last read cost: the step just run, when it ran
    /// alone or was heavy, marks its task heavy or light; a batch far slower than predicted
    /// marks its tasks as suspects and reads after every step for the rest of the tick.
    #[cold]
    #[inline(never)]
    fn read(&mut self, heavy: bool) -> Verdict {
        let now = self.clock.now();
        let spent = nanos(now.saturating_sub(self.last_read));
        // At least one: the countdown was counted down for the step just run.
        let steps = self.batch - self.countdown;
        let mut mark = None;
        if steps == 1 {
            // A step timed alone.
            self.longest = longer(
                self.longest,
                Some((self.last_task, Duration::from_nanos(spent))),
            );
            if !heavy && spent >= HEAVY_FROM {
                mark = Some(Mark::Heavy);
            }
        }
        if heavy {
            // The light steps before it cost what light steps cost.
            let alone = spent.saturating_sub(u64::from(steps - 1) * self.per_step);
            if alone < LIGHT_BELOW {
                mark = Some(Mark::Light);
            }
        } else if steps > 1 && spent > self.allowance.saturating_mul(2) {
            // A step turned heavy inside the batch, and which is unknown.
            mark = Some(Mark::Suspects(steps));
            self.every_step = true;
        } else {
            self.per_step = (spent / u64::from(steps.max(1))).max(1);
        }
        let end = now >= self.end || self.flag.raised();
        if !end {
            self.plan(now);
        }
        match mark {
            None => Verdict::end_if(end),
            Some(mark) => Verdict::Mark { end, mark },
        }
    }

    /// Plans the next batch, at `now`, before the deadline.
    fn plan(&mut self, now: Duration) {
        let left = self.end - now;
        #[cfg(feature = "parallel")]
        if self.share && !self.armed && self.per_step >= SHARE_READS_EVERY_STEP_FROM {
            self.watchable = false;
        }
        if self.watchable && !self.armed {
            match self.arm(left) {
                Some(flag) => {
                    self.flag = flag;
                    self.armed = true;
                }
                None => self.watchable = false,
            }
        }
        let allowance = nanos(self.budget / 32).min(nanos(left / 2)).max(1);
        self.countdown = if !self.armed || self.every_step {
            // No watcher, or a cost that just jumped: only a read after every step keeps the
            // guarantee.
            1
        } else {
            (allowance / self.per_step).clamp(1, u64::from(MAX_CHECK_INTERVAL)) as u32
        };
        self.allowance = allowance;
        self.batch = self.countdown;
        self.last_read = now;
    }

    /// The flag for a deadline `left` from now, as the clock's [`Watcher`] says.
    fn arm(&self, left: Duration) -> Option<Flag> {
        let late = match self.clock.watcher() {
            Watcher::Never => return Some(Flag::lowered()),
            Watcher::Thread => Duration::ZERO,
            Watcher::Late(late) => late,
        };
        let (value, at) = match self.clock.manual_source() {
            Some(manual) => (manual.nanos_cell(), nanos(self.end.saturating_add(late))),
            None => Watch::arm(left.saturating_add(late))?.into_threshold(),
        };
        Some(Flag { value, at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{budget::TickBudget, clock::ManualClock};

    /// Runs steps of `cost(n)` on a manual clock until the budget says stop; returns the steps
    /// and the time spent.
    fn run(budget: Duration, cost: impl Fn(u32) -> Duration) -> (u32, Duration) {
        let (clock, manual) = CooperatorClock::manual();
        let mut tick = TickBudget::deadline(&clock, budget);
        let mut steps = 0;
        loop {
            manual.advance(cost(steps));
            steps += 1;
            if tick.exhausted(Entity::PLACEHOLDER, steps) {
                return (steps, manual.now());
            }
        }
    }

    #[test]
    fn a_manual_clock_is_read_after_every_step_so_the_tick_ends_right_after_the_deadline() {
        let budget = Duration::from_millis(2);
        let (steps, spent) = run(budget, |_| Duration::from_nanos(100));
        assert_eq!((steps, spent), (20_000, budget));
        // 1 µs steps, then 1 ms steps: the tick ends with the first step that crosses.
        let (steps, spent) = run(budget, |n| {
            Duration::from_micros(if n < 1_500 { 1 } else { 1_000 })
        });
        assert_eq!(steps, 1_501);
        assert_eq!(spent, Duration::from_micros(2_500));
    }

    /// A tick on a manual clock whose watcher never fires: the clock reads are batched as on
    /// the system clock.
    fn batched(budget: Duration) -> (Deadline, ManualClock) {
        let (clock, manual) = CooperatorClock::manual();
        let clock = clock.with_watcher(Watcher::Never);
        (Deadline::new(&clock, clock.now(), budget), manual)
    }

    #[test]
    fn clock_reads_are_spaced_by_the_step_cost_and_shrink_near_the_deadline() {
        let (mut tick, manual) = batched(Duration::from_millis(2));
        let task = Entity::PLACEHOLDER;
        manual.advance(Duration::from_nanos(100));
        assert_eq!(tick.after_step(|| task, false), Verdict::Go);
        // 100 ns steps: the cap.
        assert_eq!(tick.countdown, 256);
        for _ in 0..256 {
            manual.advance(Duration::from_nanos(100));
            assert_eq!(tick.after_step(|| task, false), Verdict::Go);
        }
        assert_eq!(tick.countdown, 256);
        // 2 µs before the deadline the batches hold half of what is left.
        manual.advance(Duration::from_millis(2) - manual.now() - Duration::from_micros(2));
        tick.countdown = 1;
        tick.batch = 1;
        tick.last_read = manual.now() - Duration::from_nanos(100);
        assert_eq!(tick.after_step(|| task, false), Verdict::Go);
        assert_eq!(tick.countdown, 10);
    }

    #[test]
    fn a_batch_far_slower_than_predicted_marks_its_tasks_and_reads_after_every_step() {
        let (mut tick, manual) = batched(Duration::from_millis(4));
        let task = Entity::PLACEHOLDER;
        manual.advance(Duration::from_nanos(100));
        assert_eq!(tick.after_step(|| task, false), Verdict::Go);
        // One step of the batch took 1 ms.
        manual.advance(Duration::from_millis(1));
        for _ in 0..255 {
            assert_eq!(tick.after_step(|| task, false), Verdict::Go);
        }
        assert_eq!(
            tick.after_step(|| task, false),
            Verdict::Mark {
                end: false,
                mark: Mark::Suspects(256)
            }
        );
        for _ in 0..10 {
            manual.advance(Duration::from_nanos(100));
            assert_eq!(tick.after_step(|| task, false), Verdict::Go);
            assert_eq!(tick.countdown, 1, "a read after every step");
        }
    }

    #[test]
    fn a_step_timed_alone_marks_its_task_heavy_and_a_cheap_heavy_step_light() {
        let (mut tick, manual) = batched(Duration::from_millis(2));
        let task = Entity::PLACEHOLDER;
        manual.advance(Duration::from_micros(5));
        let heavy = Verdict::Mark {
            end: false,
            mark: Mark::Heavy,
        };
        assert_eq!(tick.after_step(|| task, false), heavy);
        // A heavy task ends its batch: the clock is read after it, whatever the countdown.
        manual.advance(Duration::from_micros(5));
        assert!(tick.countdown > 1);
        assert_eq!(tick.after_step(|| task, true), Verdict::Go);
        manual.advance(Duration::from_nanos(100));
        let light = Verdict::Mark {
            end: false,
            mark: Mark::Light,
        };
        assert_eq!(tick.after_step(|| task, true), light);
        // A heavy step that crosses the deadline ends the tick right after it.
        manual.advance(Duration::from_millis(3));
        assert_eq!(tick.after_step(|| task, true), Verdict::End);
    }

    #[test]
    fn the_longest_step_timed_alone_is_recorded() {
        let (clock, manual) = CooperatorClock::manual();
        let mut tick = TickBudget::deadline(&clock, Duration::from_micros(100));
        let task = Entity::from_raw_u32(7).unwrap();
        manual.advance(Duration::from_micros(30));
        assert!(!tick.exhausted(task, 1));
        manual.advance(Duration::from_micros(80));
        assert!(tick.exhausted(task, 2));
        assert_eq!(tick.longest_step(), Some((task, Duration::from_micros(80))));
        assert_eq!(tick.granted(), Some(Duration::from_micros(100)));
    }
}
