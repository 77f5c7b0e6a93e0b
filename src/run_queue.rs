//! The run queue: every member task of a cooperator in a slab, runnable ones on a circular list.

use alloc::{boxed::Box, sync::Arc, vec::Vec};
use bevy_ecs::entity::Entity;
use bevy_platform::cell::SyncCell;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::Work;

pub(crate) const NIL: u32 = u32::MAX;

/// Node generations, handed out once each across every queue: a node freed and reused (also in
/// a new queue of a replaced cooperator) is never taken for the old one. A queue reserves them
/// in blocks, so an insert costs no atomic operation.
static NEXT_GENERATIONS: AtomicU64 = AtomicU64::new(0);

/// How many generations a queue reserves at once.
const GENERATION_BLOCK: u64 = 1 << 16;

/// What a task runs, kept in its queue node so that the step loop reaches it without looking the
/// task entity up: its boxed work and its step counter (shared with
/// [`CooperativeTask`](crate::CooperativeTask), which reads it).
pub(crate) struct Body {
    pub(crate) work: SyncCell<Box<dyn Work>>,
    pub(crate) steps: Arc<AtomicU64>,
}

impl Body {
    /// Counts one step (only the step loop writes the counter).
    #[inline]
    pub(crate) fn count_step(&self) {
        let steps = self.steps.load(Ordering::Relaxed);
        self.steps.store(steps + 1, Ordering::Relaxed);
    }
}

impl core::fmt::Debug for Body {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Body").finish_non_exhaustive()
    }
}

/// The runnable list's links of a node, kept apart from the node so that walking the list (a
/// chain of dependent loads) stays within a few cache lines.
#[derive(Clone, Copy, Debug)]
struct Link {
    prev: u32,
    next: u32,
}

#[derive(Debug)]
struct Node {
    entity: Entity,
    linked: bool,
    /// The task carries [`TaskStats`](crate::TaskStats): its steps are timed.
    timed: bool,
    generation: u64,
    /// `None` while the step loop holds it (or for a free node).
    body: Option<Body>,
}

impl Node {
    /// Still the node claimed with `generation` (not freed, not reused).
    #[inline]
    fn is_current(&self, generation: u64) -> bool {
        self.generation == generation && self.entity != Entity::PLACEHOLDER
    }
}

/// A run-queue entry claimed by the step loop, with its task's body taken out of the node.
#[derive(Debug)]
pub(crate) struct Claimed {
    pub(crate) slot: u32,
    pub(crate) generation: u64,
    pub(crate) task: Entity,
    pub(crate) timed: bool,
    pub(crate) body: Option<Body>,
}

impl Default for Claimed {
    fn default() -> Self {
        Claimed {
            slot: NIL,
            generation: u64::MAX,
            task: Entity::PLACEHOLDER,
            timed: false,
            body: None,
        }
    }
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
    /// `links[slot]` belongs to `nodes[slot]`.
    links: Vec<Link>,
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
    /// The next generation to hand out, and how many are left in the reserved block.
    next_generation: u64,
    generations_left: u64,
}

impl RunQueue {
    pub(crate) fn new() -> Self {
        RunQueue {
            head: NIL,
            cursor: NIL,
            ..Default::default()
        }
    }

    /// Adds a member (not yet runnable) running `body` and returns its slot.
    pub(crate) fn insert(&mut self, entity: Entity, body: Option<Body>, timed: bool) -> u32 {
        self.members += 1;
        let link = Link {
            prev: NIL,
            next: NIL,
        };
        let node = Node {
            entity,
            linked: false,
            timed,
            generation: self.new_generation(),
            body,
        };
        if let Some(slot) = self.free.pop() {
            self.nodes[slot as usize] = node;
            self.links[slot as usize] = link;
            slot
        } else {
            self.nodes.push(node);
            self.links.push(link);
            (self.nodes.len() - 1) as u32
        }
    }

    fn new_generation(&mut self) -> u64 {
        if self.generations_left == 0 {
            self.next_generation = NEXT_GENERATIONS.fetch_add(GENERATION_BLOCK, Ordering::Relaxed);
            self.generations_left = GENERATION_BLOCK;
        }
        self.generations_left -= 1;
        self.next_generation += 1;
        self.next_generation - 1
    }

    /// Whether `slot` holds `entity` (guards against stale slots).
    #[inline]
    pub(crate) fn holds(&self, slot: u32, entity: Entity) -> bool {
        self.nodes
            .get(slot as usize)
            .is_some_and(|n| n.entity == entity)
    }

    /// Sets whether the steps of the member `entity` at `slot` are timed.
    pub(crate) fn set_timed(&mut self, slot: u32, entity: Entity, timed: bool) {
        if let Some(n) = self.nodes.get_mut(slot as usize)
            && n.entity == entity
        {
            n.timed = timed;
        }
    }

    /// The body of the member `entity` at `slot`, unless the step loop holds it.
    pub(crate) fn body_mut(&mut self, slot: u32, entity: Entity) -> Option<&mut Body> {
        self.nodes
            .get_mut(slot as usize)
            .filter(|n| n.entity == entity)?
            .body
            .as_mut()
    }

    /// Whether the node at `slot` is still the one claimed with `generation`.
    #[inline]
    pub(crate) fn is_current(&self, slot: u32, generation: u64) -> bool {
        self.nodes
            .get(slot as usize)
            .is_some_and(|n| n.is_current(generation))
    }

    /// The node at `slot` if it is still the one claimed with `generation`.
    #[inline]
    fn current_mut(&mut self, slot: u32, generation: u64) -> Option<&mut Node> {
        self.nodes
            .get_mut(slot as usize)
            .filter(|n| n.is_current(generation))
    }

    /// Gives the claimed body in `body` back to its node (`body` is then `None`); a body whose node
    /// is gone, freed or reused since the claim is dropped.
    #[inline]
    pub(crate) fn return_body(&mut self, slot: u32, generation: u64, body: &mut Option<Body>) {
        if let Some(n) = self.current_mut(slot, generation) {
            // Swapped in place (the node's is `None`): no temporary to copy.
            core::mem::swap(&mut n.body, body);
        }
        drop(body.take());
    }

    /// Gives a claimed body back to its node; `Err` (the body) when that node is gone, freed or
    /// reused since the claim: the caller drops it.
    #[inline]
    pub(crate) fn put_back(&mut self, slot: u32, generation: u64, body: Body) -> Result<(), Body> {
        match self.current_mut(slot, generation) {
            Some(n) => {
                n.body = Some(body);
                Ok(())
            }
            None => Err(body),
        }
    }

    /// Removes a member, unlinking it first; returns its body (unless the step loop holds it).
    pub(crate) fn remove(&mut self, slot: u32) -> Option<Body> {
        self.unlink(slot);
        let node = &mut self.nodes[slot as usize];
        node.entity = Entity::PLACEHOLDER;
        node.generation = u64::MAX;
        let body = node.body.take();
        self.free.push(slot);
        self.members -= 1;
        if self.members == 0 {
            // Reclaim memory once a big batch of tasks is gone.
            if self.nodes.capacity() > 1024 {
                self.nodes = Vec::new();
                self.links = Vec::new();
                self.free = Vec::new();
            } else {
                self.nodes.clear();
                self.links.clear();
                self.free.clear();
            }
        }
        body
    }

    /// Puts a member at the back of the runnable list.
    pub(crate) fn link_back(&mut self, slot: u32) {
        if self.nodes[slot as usize].linked {
            return;
        }
        self.runnable += 1;
        self.nodes[slot as usize].linked = true;
        if self.head == NIL {
            self.links[slot as usize] = Link {
                prev: slot,
                next: slot,
            };
            self.head = slot;
            self.cursor = slot;
            return;
        }
        let head = self.head;
        let tail = self.links[head as usize].prev;
        self.links[slot as usize] = Link {
            prev: tail,
            next: head,
        };
        self.links[tail as usize].next = slot;
        self.links[head as usize].prev = slot;
        if self.at_pass_end && self.cursor == head {
            self.cursor = slot;
        }
    }

    /// Takes a member off the runnable list (it stays a member).
    pub(crate) fn unlink(&mut self, slot: u32) {
        if !self.nodes[slot as usize].linked {
            return;
        }
        let Link { prev, next } = self.links[slot as usize];
        self.runnable -= 1;
        self.at_pass_end = false;
        self.nodes[slot as usize].linked = false;
        if next == slot {
            self.head = NIL;
            self.cursor = NIL;
            return;
        }
        self.links[prev as usize].next = next;
        self.links[next as usize].prev = prev;
        if self.head == slot {
            self.head = next;
        }
        if self.cursor == slot {
            self.cursor = next;
        }
    }

    /// The task to step now; the cursor moves on to its successor.
    #[cfg(test)]
    pub(crate) fn advance(&mut self) -> Option<(u32, Entity)> {
        let slot = self.cursor;
        if slot == NIL {
            return None;
        }
        let (next, entity) = (
            self.links[slot as usize].next,
            self.nodes[slot as usize].entity,
        );
        self.cursor = next;
        self.at_pass_end = next == self.head;
        Some((slot, entity))
    }

    /// Advances `want` times (at least once), the same as that many [`advance`](Self::advance)
    /// calls, and takes the bodies of the distinct entries out into `out`. Returns `(n, period)`:
    /// `n` entries were claimed (0 when nothing is runnable), and entry `i` is `out[i % period]`
    /// (when fewer tasks are runnable than claimed, the entries go round the queue again).
    #[inline]
    pub(crate) fn claim(&mut self, want: usize, out: &mut [Claimed]) -> (usize, usize) {
        if self.cursor == NIL {
            return (0, 0);
        }
        let want = want.clamp(1, out.len());
        let period = want.min(self.runnable as usize).min(out.len());
        for entry in &mut out[..period] {
            let slot = self.cursor;
            let node = &mut self.nodes[slot as usize];
            // Field by field, straight from the node (no temporary to copy).
            entry.slot = slot;
            entry.generation = node.generation;
            entry.task = node.entity;
            entry.timed = node.timed;
            core::mem::swap(&mut entry.body, &mut node.body);
            let next = self.links[slot as usize].next;
            self.cursor = next;
            self.at_pass_end = next == self.head;
        }
        if want > period {
            // Fewer runnable tasks than entries wanted: every runnable one was claimed, and the
            // rest goes round the queue again; `want` advances leave the cursor on entry
            // `want % period`.
            debug_assert_eq!(period, self.runnable as usize);
            self.cursor = out[want % period].slot;
            self.at_pass_end = self.cursor == self.head;
        }
        (want, period)
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

    /// Empties the queue, returning every member in slot order, with its body.
    pub(crate) fn drain(&mut self) -> Vec<(Entity, Option<Body>)> {
        let out = core::mem::take(&mut self.nodes)
            .into_iter()
            .filter(|n| n.entity != Entity::PLACEHOLDER)
            .map(|n| (n.entity, n.body))
            .collect();
        *self = RunQueue::new();
        out
    }

    /// Runnable members in the order they will next run (for tests and diagnostics).
    pub(crate) fn runnable_in_order(&self) -> Vec<Entity> {
        let mut out = Vec::with_capacity(self.runnable as usize);
        let mut slot = self.cursor;
        for _ in 0..self.runnable {
            out.push(self.nodes[slot as usize].entity);
            slot = self.links[slot as usize].next;
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
        let slots: Vec<u32> = (1..=3).map(|i| q.insert(e(i), None, false)).collect();
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
        let a = q.insert(e(1), None, false);
        let b = q.insert(e(2), None, false);
        let c = q.insert(e(3), None, false);
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
        let drained: Vec<Entity> = q.drain().into_iter().map(|(e, _)| e).collect();
        assert_eq!(drained, vec![e(1), e(2), e(3)]);
    }

    #[test]
    fn a_task_joining_right_after_the_last_one_ran_is_in_the_same_pass() {
        let mut q = RunQueue::new();
        let a = q.insert(e(1), None, false);
        let b = q.insert(e(2), None, false);
        q.link_back(a);
        q.link_back(b);
        assert_eq!(q.advance().unwrap().1, e(1));
        assert_eq!(q.advance().unwrap().1, e(2));
        let c = q.insert(e(3), None, false);
        q.link_back(c);
        assert_eq!(q.advance().unwrap().1, e(3));
        assert_eq!(q.advance().unwrap().1, e(1));
    }

    #[test]
    fn after_a_removal_at_the_end_of_a_pass_a_new_pass_starts_at_the_front() {
        let mut q = RunQueue::new();
        let a = q.insert(e(1), None, false);
        let b = q.insert(e(2), None, false);
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
