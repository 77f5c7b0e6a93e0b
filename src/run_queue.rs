//! The run queue: every member task of a cooperator in a slab, runnable ones on a circular list.

use alloc::vec::Vec;
use bevy_ecs::entity::Entity;

pub(crate) const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Node {
    entity: Entity,
    prev: u32,
    next: u32,
    linked: bool,
}

/// O(1) membership, pause (unlink), resume (link at the back) and removal, with a round-robin cursor
/// that persists across ticks.
///
/// Fairness: the cursor moves to the next task *before* a task is stepped, so removing the task
/// being stepped (or any other) never makes its successor skip a turn. New and resumed tasks join
/// at the back, after every task already queued, and are reached in the current pass — also when
/// the pass has just stepped its last task (as Twisted's live list iterator does), unless a task
/// left the queue since.
#[derive(Debug, Default)]
pub(crate) struct RunQueue {
    nodes: Vec<Node>,
    free: Vec<u32>,
    /// First task of a pass; the back of the queue is `head.prev`.
    head: u32,
    /// The next task to step; `NIL` exactly when no task is runnable.
    cursor: u32,
    runnable: u32,
    members: u32,
    /// The last step was the back of the queue and nothing left since: a task joining now is
    /// still part of the current pass.
    at_pass_end: bool,
}

impl RunQueue {
    pub(crate) fn new() -> Self {
        RunQueue {
            head: NIL,
            cursor: NIL,
            ..Default::default()
        }
    }

    /// Adds a member (not yet runnable) and returns its slot.
    pub(crate) fn insert(&mut self, entity: Entity) -> u32 {
        self.members += 1;
        let node = Node {
            entity,
            prev: NIL,
            next: NIL,
            linked: false,
        };
        if let Some(slot) = self.free.pop() {
            self.nodes[slot as usize] = node;
            slot
        } else {
            self.nodes.push(node);
            (self.nodes.len() - 1) as u32
        }
    }

    /// Whether `slot` holds `entity` (guards against stale slots).
    #[inline]
    pub(crate) fn holds(&self, slot: u32, entity: Entity) -> bool {
        self.nodes
            .get(slot as usize)
            .is_some_and(|n| n.entity == entity)
    }

    /// Removes a member, unlinking it first.
    pub(crate) fn remove(&mut self, slot: u32) {
        self.unlink(slot);
        self.nodes[slot as usize].entity = Entity::PLACEHOLDER;
        self.free.push(slot);
        self.members -= 1;
        if self.members == 0 {
            // Reclaim memory once a big batch of tasks is gone.
            if self.nodes.capacity() > 1024 {
                self.nodes = Vec::new();
                self.free = Vec::new();
            } else {
                self.nodes.clear();
                self.free.clear();
            }
        }
    }

    /// Puts a member at the back of the runnable list.
    pub(crate) fn link_back(&mut self, slot: u32) {
        if self.nodes[slot as usize].linked {
            return;
        }
        self.runnable += 1;
        if self.head == NIL {
            let n = &mut self.nodes[slot as usize];
            n.prev = slot;
            n.next = slot;
            n.linked = true;
            self.head = slot;
            self.cursor = slot;
            return;
        }
        let head = self.head;
        let tail = self.nodes[head as usize].prev;
        {
            let n = &mut self.nodes[slot as usize];
            n.prev = tail;
            n.next = head;
            n.linked = true;
        }
        self.nodes[tail as usize].next = slot;
        self.nodes[head as usize].prev = slot;
        if self.at_pass_end && self.cursor == head {
            self.cursor = slot;
        }
    }

    /// Takes a member off the runnable list (it stays a member).
    pub(crate) fn unlink(&mut self, slot: u32) {
        let Node {
            prev, next, linked, ..
        } = self.nodes[slot as usize];
        if !linked {
            return;
        }
        self.runnable -= 1;
        self.at_pass_end = false;
        self.nodes[slot as usize].linked = false;
        if next == slot {
            self.head = NIL;
            self.cursor = NIL;
            return;
        }
        self.nodes[prev as usize].next = next;
        self.nodes[next as usize].prev = prev;
        if self.head == slot {
            self.head = next;
        }
        if self.cursor == slot {
            self.cursor = next;
        }
    }

    /// The task to step now; the cursor moves on to its successor.
    #[inline]
    pub(crate) fn advance(&mut self) -> Option<(u32, Entity)> {
        let slot = self.cursor;
        if slot == NIL {
            return None;
        }
        let node = self.nodes[slot as usize];
        self.cursor = node.next;
        self.at_pass_end = node.next == self.head;
        Some((slot, node.entity))
    }

    /// Advances up to `out.len()` times, writing each task to step; returns how many.
    /// Equivalent to calling [`advance`](Self::advance) that many times.
    #[inline]
    pub(crate) fn claim(&mut self, out: &mut [(u32, Entity)]) -> usize {
        let mut n = 0;
        for entry in out.iter_mut() {
            let Some(next) = self.advance() else {
                break;
            };
            *entry = next;
            n += 1;
        }
        n
    }

    /// Gives back claimed entries: the cursor returns to `slot`, the first one not stepped, as if
    /// each stepped entry had been taken with one `advance`. Valid only while the queue has not
    /// changed since the claim. Any other per-cursor state `advance` keeps must be restored here
    /// too.
    #[inline]
    pub(crate) fn set_cursor(&mut self, slot: u32) {
        if self.nodes.get(slot as usize).is_some_and(|n| n.linked) {
            self.cursor = slot;
            self.at_pass_end = slot == self.head;
        }
    }

    pub(crate) fn runnable(&self) -> u32 {
        self.runnable
    }

    pub(crate) fn members(&self) -> u32 {
        self.members
    }

    /// Empties the queue, returning every member in slot order.
    pub(crate) fn drain(&mut self) -> Vec<Entity> {
        let out = self
            .nodes
            .iter()
            .filter(|n| n.entity != Entity::PLACEHOLDER)
            .map(|n| n.entity)
            .collect();
        *self = RunQueue::new();
        out
    }

    /// Runnable members in the order they will next run (for tests and diagnostics).
    pub(crate) fn runnable_in_order(&self) -> Vec<Entity> {
        let mut out = Vec::with_capacity(self.runnable as usize);
        let mut slot = self.cursor;
        for _ in 0..self.runnable {
            let n = self.nodes[slot as usize];
            out.push(n.entity);
            slot = n.next;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(i: u32) -> Entity {
        Entity::from_raw_u32(i).unwrap()
    }

    #[test]
    fn round_robin_with_removal_of_current_skips_nobody() {
        let mut q = RunQueue::new();
        let slots: Vec<u32> = (1..=3).map(|i| q.insert(e(i))).collect();
        for &s in &slots {
            q.link_back(s);
        }
        let (s, first) = q.advance().unwrap();
        assert_eq!(first, e(1));
        q.remove(s);
        assert_eq!(q.advance().unwrap().1, e(2));
        assert_eq!(q.advance().unwrap().1, e(3));
        assert_eq!(q.advance().unwrap().1, e(2));
        assert_eq!(q.runnable(), 2);
    }

    #[test]
    fn resumed_task_goes_to_the_back() {
        let mut q = RunQueue::new();
        let a = q.insert(e(1));
        let b = q.insert(e(2));
        let c = q.insert(e(3));
        for s in [a, b, c] {
            q.link_back(s);
        }
        q.unlink(a);
        q.link_back(a);
        assert_eq!(q.runnable_in_order(), vec![e(2), e(3), e(1)]);
        q.unlink(b);
        q.unlink(c);
        q.unlink(a);
        assert!(q.advance().is_none());
        assert_eq!(q.members(), 3);
        assert_eq!(q.drain(), vec![e(1), e(2), e(3)]);
    }

    #[test]
    fn a_task_joining_right_after_the_last_one_ran_is_in_the_same_pass() {
        let mut q = RunQueue::new();
        let a = q.insert(e(1));
        let b = q.insert(e(2));
        q.link_back(a);
        q.link_back(b);
        assert_eq!(q.advance().unwrap().1, e(1));
        assert_eq!(q.advance().unwrap().1, e(2));
        let c = q.insert(e(3));
        q.link_back(c);
        assert_eq!(q.advance().unwrap().1, e(3));
        assert_eq!(q.advance().unwrap().1, e(1));
    }

    #[test]
    fn after_a_removal_at_the_end_of_a_pass_a_new_pass_starts_at_the_front() {
        let mut q = RunQueue::new();
        let a = q.insert(e(1));
        let b = q.insert(e(2));
        q.link_back(a);
        q.link_back(b);
        q.advance();
        q.advance();
        q.unlink(a);
        q.link_back(a);
        assert_eq!(q.advance().unwrap().1, e(2));
        assert_eq!(q.advance().unwrap().1, e(1));
    }
}
