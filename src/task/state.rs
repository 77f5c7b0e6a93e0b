//! A task's state as pure transitions: pauses, its own pending wait, whether it ended. Each
//! transition changes the state alone and returns what the run queue must do about it ([`Queue`]);
//! the lifecycle applies that. The rule "the first pause takes the task off the queue, the last
//! puts a live task back" is written here once, and tested without a world.

use crate::error::TaskError;

/// What the run queue must do after a transition of a task's state.
#[must_use = "the run queue must follow the task's state"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Queue {
    /// The task is no longer runnable: off its cooperator's runnable list (it stays a member).
    TakeOff,
    /// The task is runnable again: back at the end of the runnable list.
    PutBack,
    /// Nothing changes for the queue.
    Stay,
    /// The task finished: it leaves its run queue for good.
    Leave,
}

/// Pauses (the user's, plus one while the task's own wait is pending), whether that wait is
/// pending, whether the task ended (how it ended is kept beside, in the task: few tasks carry an
/// outcome for long, and a live one need not carry room for it), and whether the task's entity
/// is its own: in 4 bytes, so that a task is 48.
#[derive(Debug, Default)]
pub(crate) struct State(u32);

/// A finished task cannot be paused (see [`State::add_pause`]).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Finished;

/// The pause count's bits; more pauses at once than this many count as this many.
const PAUSES: u32 = (1 << 29) - 1;
const WAITING: u32 = 1 << 29;
const FINISHED: u32 = 1 << 30;
const STANDALONE: u32 = 1 << 31;

impl State {
    /// A live task's state: not paused; `standalone` if its entity was spawned for it.
    pub(super) fn new(standalone: bool) -> Self {
        State(if standalone { STANDALONE } else { 0 })
    }

    /// User pauses plus one while waiting.
    pub(super) fn pause_count(&self) -> u32 {
        self.0 & PAUSES
    }

    fn set_pause_count(&mut self, count: u32) {
        self.0 = (self.0 & !PAUSES) | count.min(PAUSES);
    }

    /// Whether the task's own wait is pending.
    pub(super) fn is_waiting(&self) -> bool {
        self.0 & WAITING != 0
    }

    /// Ends the pending wait, if any: whether there was one.
    fn take_waiting(&mut self) -> bool {
        let waiting = self.is_waiting();
        self.0 &= !WAITING;
        waiting
    }

    pub(super) fn is_alive(&self) -> bool {
        self.0 & FINISHED == 0
    }

    /// Whether the task's entity was spawned for it (despawned when it ends).
    pub(super) fn is_standalone(&self) -> bool {
        self.0 & STANDALONE != 0
    }

    /// One pause more: the first takes the task off the queue.
    fn pause(&mut self) -> Queue {
        let count = self.pause_count();
        self.set_pause_count(count.saturating_add(1));
        if count == 0 {
            Queue::TakeOff
        } else {
            Queue::Stay
        }
    }

    /// One pause less: the last puts a live task back.
    fn unpause(&mut self) -> Queue {
        self.set_pause_count(self.pause_count().saturating_sub(1));
        self.back_if_free()
    }

    fn back_if_free(&self) -> Queue {
        if self.pause_count() == 0 && self.is_alive() {
            Queue::PutBack
        } else {
            Queue::Stay
        }
    }

    /// A user pause; a finished task cannot be paused.
    pub(super) fn add_pause(&mut self) -> Result<Queue, Finished> {
        if !self.is_alive() {
            return Err(Finished);
        }
        Ok(self.pause())
    }

    /// A user resume; a pending wait's pause is not the user's to resume.
    pub(super) fn remove_pause(&mut self) -> Result<Queue, TaskError> {
        if self.pause_count() == u32::from(self.is_waiting()) {
            return Err(TaskError::NotPaused);
        }
        Ok(self.unpause())
    }

    /// Every user pause goes (the [`Paused`](crate::Paused) marker was removed by hand); a
    /// pending wait's pause stays.
    pub(super) fn clear_pauses(&mut self) -> Queue {
        if self.pause_count() == 0 {
            return Queue::Stay;
        }
        self.set_pause_count(u32::from(self.is_waiting()));
        self.back_if_free()
    }

    /// The task's own wait begins: one pause until it ends. Only a live task that is not waiting
    /// begins a wait.
    pub(super) fn begin_wait(&mut self) -> Queue {
        debug_assert!(self.is_alive() && !self.is_waiting());
        self.0 |= WAITING;
        self.pause()
    }

    /// The task's own wait ended: its pause goes. Nothing, if it is not waiting (it finished
    /// meanwhile).
    pub(super) fn end_wait(&mut self) -> Queue {
        if !self.take_waiting() {
            return Queue::Stay;
        }
        self.unpause()
    }

    /// The task ends: a pending wait's pause goes, and the task leaves its queue. Nothing, for a
    /// task that has already finished (its first outcome stands).
    pub(super) fn finish(&mut self) -> Queue {
        if !self.is_alive() {
            return Queue::Stay;
        }
        self.0 |= FINISHED;
        if self.take_waiting() {
            self.set_pause_count(self.pause_count() - 1);
        }
        Queue::Leave
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_pause_takes_the_task_off_and_the_last_puts_it_back() {
        let mut s = State::default();
        assert_eq!(s.add_pause(), Ok(Queue::TakeOff));
        assert_eq!(s.add_pause(), Ok(Queue::Stay));
        assert_eq!(s.remove_pause(), Ok(Queue::Stay));
        assert_eq!(s.remove_pause(), Ok(Queue::PutBack));
        assert_eq!(s.remove_pause(), Err(TaskError::NotPaused));
        assert_eq!(s.pause_count(), 0);
    }

    #[test]
    fn a_wait_is_a_pause_the_user_cannot_resume() {
        let mut s = State::default();
        assert_eq!(s.begin_wait(), Queue::TakeOff);
        assert!(s.is_waiting());
        assert_eq!(s.remove_pause(), Err(TaskError::NotPaused));
        assert_eq!(s.add_pause(), Ok(Queue::Stay));
        assert_eq!(s.end_wait(), Queue::Stay, "still paused by the user");
        assert_eq!(s.end_wait(), Queue::Stay, "a second end is nothing");
        assert_eq!(s.remove_pause(), Ok(Queue::PutBack));
    }

    #[test]
    fn a_wait_on_a_paused_task_changes_nothing_for_the_queue() {
        let mut s = State::default();
        assert_eq!(s.add_pause(), Ok(Queue::TakeOff));
        assert_eq!(s.begin_wait(), Queue::Stay);
        assert_eq!(s.remove_pause(), Ok(Queue::Stay));
        assert_eq!(s.end_wait(), Queue::PutBack);
    }

    #[test]
    fn clearing_pauses_keeps_the_wait() {
        let mut s = State::default();
        assert_eq!(s.clear_pauses(), Queue::Stay);
        let _ = s.add_pause();
        let _ = s.add_pause();
        assert_eq!(s.clear_pauses(), Queue::PutBack);
        assert_eq!(s.pause_count(), 0);
        let _ = s.begin_wait();
        let _ = s.add_pause();
        assert_eq!(s.clear_pauses(), Queue::Stay);
        assert_eq!(s.pause_count(), 1);
        assert!(s.is_waiting());
    }

    #[test]
    fn finishing_drops_the_wait_pause_once() {
        let mut s = State::default();
        let _ = s.add_pause();
        let _ = s.begin_wait();
        assert_eq!(s.finish(), Queue::Leave);
        assert_eq!(s.pause_count(), 1, "the user's pause stays");
        assert!(!s.is_waiting());
        assert_eq!(s.finish(), Queue::Stay);
        assert!(!s.is_alive());
        assert_eq!(s.end_wait(), Queue::Stay);
    }

    #[test]
    fn the_flags_keep_out_of_the_pause_count_and_it_saturates() {
        let mut s = State::new(true);
        assert!(s.is_standalone() && s.is_alive() && !s.is_waiting());
        s.set_pause_count(u32::MAX);
        assert_eq!(s.pause_count(), PAUSES);
        assert_eq!(s.add_pause(), Ok(Queue::Stay));
        assert_eq!(s.pause_count(), PAUSES);
        assert!(s.is_standalone() && s.is_alive() && !s.is_waiting());
        assert_eq!(s.begin_wait(), Queue::Stay);
        assert_eq!(s.finish(), Queue::Leave);
        assert_eq!(s.pause_count(), PAUSES - 1);
        assert!(s.is_standalone() && !s.is_alive() && !s.is_waiting());
        assert!(!State::new(false).is_standalone());
    }

    #[test]
    fn a_finished_task_takes_no_pause_and_is_never_put_back() {
        let mut s = State::default();
        let _ = s.add_pause();
        let _ = s.finish();
        assert!(s.add_pause().is_err());
        assert_eq!(s.remove_pause(), Ok(Queue::Stay));
        assert_eq!(s.clear_pauses(), Queue::Stay);
    }
}
