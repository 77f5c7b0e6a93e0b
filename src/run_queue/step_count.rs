//! A run-order entry's step count, with the bit that says whether its task's steps are heavy.

use crate::budget::Mark;

/// A task's step count, and one bit more: whether its steps are heavy, so that the clock is read
/// after each of them (see [`Mark`]). It travels with the count wherever the count goes.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct StepCount(u64);

impl StepCount {
    const HEAVY: u64 = 1 << 63;

    /// The steps run.
    #[inline]
    pub(crate) fn count(self) -> u64 {
        self.0 & !Self::HEAVY
    }

    /// Whether the clock is read after each of its steps.
    #[inline]
    pub(crate) fn heavy(self) -> bool {
        self.0 & Self::HEAVY != 0
    }

    /// Counts one more step (2^63 steps are out of reach).
    #[inline]
    pub(crate) fn bump(&mut self) {
        self.0 += 1;
    }

    pub(crate) fn set_heavy(&mut self, heavy: bool) {
        if heavy {
            self.0 |= Self::HEAVY;
        } else {
            self.0 &= !Self::HEAVY;
        }
    }

    /// Applies a mark: [`Mark::Light`] clears the bit; [`Mark::Heavy`] and [`Mark::Suspects`]
    /// (a suspect is read after its next step, as a heavy task is) set it.
    pub(crate) fn apply(&mut self, mark: Mark) {
        match mark {
            Mark::Heavy | Mark::Suspects(_) => self.set_heavy(true),
            Mark::Light => self.set_heavy(false),
        }
    }
}
