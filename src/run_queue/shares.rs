//! The run order split into contiguous shares for the threads of a parallel tick, each share
//! starting where its thread stopped in the last tick.

use alloc::vec::Vec;
use bevy_ecs::entity::Entity;

use super::{Entry, NIL, Node, RunQueue, timed_in};

/// A contiguous part of the run order that a parallel tick gives one thread.
pub(crate) struct Share<'q> {
    /// The index of its first entry in the run order.
    pub(crate) base: usize,
    /// Its entries, holes included.
    pub(crate) entries: &'q mut [Entry],
    /// The offset its thread starts at: where it stopped in the last tick.
    pub(crate) start: usize,
    /// Its tasks' entities, and which have timed steps.
    pub(crate) members: Members<'q>,
}

/// A queue's members as a parallel tick's threads see them: each task's entity (the run order
/// does not keep it), and whether its steps are timed.
#[derive(Clone, Copy)]
pub(crate) struct Members<'q> {
    nodes: &'q [Node],
    /// Which slots' steps are timed (empty when none are, as for most cooperators).
    timed: &'q [u64],
}

impl Members<'_> {
    /// The entity of the member at `slot`.
    #[inline]
    pub(crate) fn entity(self, slot: u32) -> Entity {
        self.nodes
            .get(slot as usize)
            .map_or(Entity::PLACEHOLDER, |n| n.entity)
    }

    /// Whether the steps of the member at `slot` are timed.
    #[inline]
    pub(crate) fn timed(self, slot: u32) -> bool {
        timed_in(self.timed, slot)
    }
}

impl RunQueue {
    /// Splits the run order into at most `threads` contiguous shares of about equal length (no
    /// more than there are runnable tasks, at least one), for a parallel tick. Each share starts
    /// where its thread stopped in the last tick ([`end_shares`](Self::end_shares)), so that
    /// every share is stepped round-robin across ticks.
    ///
    /// The shares keep their bounds from tick to tick while their lengths stay within a quarter
    /// of the mean (tasks that join go to the last), so that a task does not move to another
    /// share, where it could come behind that share's cursor and wait a pass longer. When more
    /// than an eighth of the order is holes they are compacted away first, each cursor and
    /// bound keeping its place among the live entries.
    pub(crate) fn split_shares(&mut self, threads: usize) -> Vec<Share<'_>> {
        if self.holes > 0 && (self.holes * 8 > self.order.len() || self.runnable == 0) {
            let order = &self.order;
            let live_before = |at: usize| {
                order[..at.min(order.len())]
                    .iter()
                    .filter(|e| e.slot != NIL)
                    .count()
            };
            for at in self.share_cursors.iter_mut().chain(&mut self.share_starts) {
                *at = live_before(*at);
            }
            // The ordinary loop's cursor starts a new pass (a parallel tick does not use it).
            self.new_pass();
        }
        let len = self.order.len();
        let count = threads.clamp(1, (self.runnable as usize).max(1));
        let mean = len / count;
        let kept = self.share_starts.len() == count
            && self.share_starts.first() == Some(&0)
            && (0..count).all(|j| {
                let start = self.share_starts[j];
                let end = self.share_starts.get(j + 1).copied().unwrap_or(len);
                start <= end && (end - start).abs_diff(mean) <= mean / 4 + 1
            });
        if !kept {
            self.share_starts.clear();
            self.share_starts
                .extend((0..count).map(|j| j * len / count));
        }
        let mut shares = Vec::with_capacity(count);
        let members = Members {
            nodes: &self.nodes,
            timed: &self.timed_slots,
        };
        let mut rest = &mut self.order[..];
        let mut base = 0;
        for j in 0..count {
            let end = self.share_starts.get(j + 1).copied().unwrap_or(len);
            let (entries, tail) = core::mem::take(&mut rest).split_at_mut(end - base);
            let start = self
                .share_cursors
                .get(j)
                .filter(|&&c| (base..end).contains(&c))
                .map_or(0, |&c| c - base);
            shares.push(Share {
                base,
                entries,
                start,
                members,
            });
            rest = tail;
            base = end;
        }
        shares
    }

    /// Ends a parallel tick: `next` holds, share by share, the index of the run order each
    /// share's thread would have stepped next.
    pub(crate) fn end_shares(&mut self, next: impl IntoIterator<Item = usize>) {
        self.share_cursors.clear();
        self.share_cursors.extend(next);
    }
}
