//! The run queue: a cooperator's member tasks in a slab, and the runnable ones in a dense array
//! kept in run order, which the step loop walks front to back as the bare loop walks a table.

use alloc::{boxed::Box, vec::Vec};
use bevy_ecs::entity::Entity;
use bevy_platform::cell::SyncCell;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::{budget::Mark, work::Work};

mod step_count;
pub(crate) use step_count::StepCount;

#[cfg(feature = "parallel")]
mod shares;
#[cfg(feature = "parallel")]
pub(crate) use shares::Share;

pub(crate) const NIL: u32 = u32::MAX;

/// A task's boxed work (`SyncCell`: the component holding the queue must be `Sync`).
pub(crate) type BoxedWork = SyncCell<Box<dyn Work>>;

/// A member of a drained queue: its task, its work (unless the step loop holds it) and its steps.
pub(crate) type Drained = (Entity, Option<BoxedWork>, u64);

/// Node generations, handed out once each across every queue: a node freed and reused (also in
/// a new queue of a replaced cooperator) is never taken for the old one. A queue reserves them
/// in blocks, so an insert costs no atomic operation.
static NEXT_GENERATIONS: AtomicU64 = AtomicU64::new(0);

/// How many generations a queue reserves at once.
const GENERATION_BLOCK: u64 = 1 << 16;

/// A runnable task's place in the run order. Everything a trivial step needs is here, so
/// stepping reads this array and nothing else; the task's entity is in its node, looked up only
/// by a step that asks for it (32 bytes an entry, where the bare loop streams 16).
pub(crate) struct Entry {
    /// The task's work; `None` while the step loop holds it, or for a hole.
    pub(crate) work: Option<BoxedWork>,
    /// Steps run so far.
    pub(crate) steps: StepCount,
    /// The task's member slot; [`NIL`] for a hole (the task left the run order).
    pub(crate) slot: u32,
    /// The low half of the node's generation: enough to tell whether the node was reused during
    /// one step, and it keeps the entry at 32 bytes. Generations are handed out once each (in
    /// blocks of 2^16 per queue), so a clash needs about 2^16 queues drained or replaced within
    /// one step.
    pub(crate) generation: u32,
}

/// The task [`RunQueue::next`] hands out.
pub(crate) struct Next {
    pub(crate) work: BoxedWork,
    pub(crate) slot: u32,
    /// The low half of its node's generation (see [`Entry::generation`]).
    pub(crate) generation: u32,
    /// Its steps are heavy: the clock is read after each.
    pub(crate) heavy: bool,
}

/// A member task.
struct Node {
    /// `Entity::PLACEHOLDER` for a free node.
    entity: Entity,
    /// The low half of its generation (see [`Entry::generation`]): the queue hands them out in
    /// the order members join, which [`drain`](RunQueue::drain) follows.
    generation: u32,
    /// While runnable, the index of its entry in the run order; while not, [`PARKED`] plus the
    /// index of its [`Parked`] record; [`NIL`] for a free node.
    at: u32,
}

/// Whether `slot` is marked in a bitset of timed slots.
#[inline]
fn timed_in(timed_slots: &[u64], slot: u32) -> bool {
    timed_slots
        .get(slot as usize / 64)
        .is_some_and(|w| w & (1 << (slot % 64)) != 0)
}

/// [`RunQueue::left_last`] when no entry of the run order is a hole.
const NOBODY_LEFT: (usize, Option<Entity>) = (usize::MAX, None);

/// Set in [`Node::at`] of a member that is not runnable.
const PARKED: u32 = 1 << 31;

/// The work and step count of a member that is not runnable (a runnable member's are in its
/// entry): kept apart, so that a node is small.
#[derive(Default)]
struct Parked {
    work: Option<BoxedWork>,
    steps: StepCount,
}

impl Node {
    /// In the run order.
    #[inline]
    fn runnable(&self) -> bool {
        self.at < PARKED
    }

    /// Still the node whose generation's low half is `generation` (not freed, not reused).
    fn is_current(&self, generation: u32) -> bool {
        self.generation == generation && self.entity != Entity::PLACEHOLDER
    }
}

/// O(1) membership, pause (unlink), resume (link at the back) and removal, with a round-robin
/// cursor that persists across ticks.
///
/// The runnable tasks are a dense array in run order. The cursor is an index into it and moves
/// past a task *before* the task is stepped. A task that leaves the run order leaves a hole, so
/// nobody else moves and no successor ever skips a turn; a task that joins is appended at the
/// back, after every task already queued, so it is reached in the current pass (as Twisted's
/// live list iterator reaches an appended task). When the cursor reaches the end, the pass is
/// over: the holes are compacted away (once per pass, at most as many moves as steps in the
/// pass) and the cursor starts again at the front.
#[derive(Default)]
pub(crate) struct RunQueue {
    nodes: Vec<Node>,
    free: Vec<u32>,
    /// The members that are not runnable: their work and step count.
    parked: Vec<Parked>,
    /// Free places in `parked`.
    free_parked: Vec<u32>,
    /// Runnable tasks in run order, with holes.
    order: Vec<Entry>,
    /// Members whose steps are timed (most cooperators have none, and then the step loop never
    /// looks at a node).
    timed: u32,
    /// Which slots' steps are timed, a bit each: made when the first member is timed, so that a
    /// node stays at 16 bytes.
    timed_slots: Vec<u64>,
    /// The next index of `order` to step.
    cursor: usize,
    holes: usize,
    /// The index in the run order and the entity of the member that left it last (the order
    /// keeps no entities; [`link_back`](Self::link_back) asks whether the last entry is the
    /// hole of the task that rejoins).
    left_last: (usize, Option<Entity>),
    runnable: u32,
    members: u32,
    /// The next generation to hand out, and how many are left in the reserved block.
    next_generation: u64,
    generations_left: u64,
    /// A parallel tick's cursors, one per share: the index of `order` each share's thread steps
    /// next (see [`split_shares`](Self::split_shares)).
    #[cfg(feature = "parallel")]
    share_cursors: Vec<usize>,
    /// Where each share of the last parallel tick began: kept from tick to tick (and moved with
    /// their entries when holes are compacted), so that a task stays in its share.
    #[cfg(feature = "parallel")]
    share_starts: Vec<usize>,
}

impl core::fmt::Debug for RunQueue {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RunQueue")
            .field("runnable", &self.runnable)
            .field("members", &self.members)
            .finish_non_exhaustive()
    }
}

impl RunQueue {
    pub(crate) fn new() -> Self {
        RunQueue::default()
    }

    /// Adds a member (not yet runnable) running `work` and returns its slot.
    pub(crate) fn insert(&mut self, entity: Entity, work: Option<BoxedWork>, timed: bool) -> u32 {
        self.members += 1;
        let node = Node {
            entity,
            generation: self.new_generation(),
            at: self.park(work, StepCount::default()),
        };
        let slot = if let Some(slot) = self.free.pop() {
            self.nodes[slot as usize] = node;
            slot
        } else {
            self.nodes.push(node);
            (self.nodes.len() - 1) as u32
        };
        if timed {
            self.set_timed_bit(slot, true);
        }
        slot
    }

    /// Marks the steps of `slot` timed or not, keeping the count.
    fn set_timed_bit(&mut self, slot: u32, timed: bool) {
        let (word, bit) = (slot as usize / 64, 1u64 << (slot % 64));
        if self.timed_slots.len() <= word {
            if !timed {
                return;
            }
            self.timed_slots.resize(word + 1, 0);
        }
        let was = self.timed_slots[word] & bit != 0;
        if was != timed {
            self.timed_slots[word] ^= bit;
            if timed {
                self.timed += 1;
            } else {
                self.timed -= 1;
            }
        }
    }

    /// Keeps a member's work and step count while it is not runnable; returns its [`Node::at`].
    fn park(&mut self, work: Option<BoxedWork>, steps: StepCount) -> u32 {
        let parked = Parked { work, steps };
        let index = if let Some(index) = self.free_parked.pop() {
            self.parked[index as usize] = parked;
            index
        } else {
            self.parked.push(parked);
            (self.parked.len() - 1) as u32
        };
        PARKED | index
    }

    /// Takes the work and step count kept at `at` (a [`Node::at`] of a member not runnable).
    fn unpark(&mut self, at: u32) -> Parked {
        let index = at & !PARKED;
        self.free_parked.push(index);
        core::mem::take(&mut self.parked[index as usize])
    }

    fn new_generation(&mut self) -> u32 {
        if self.generations_left == 0 {
            self.next_generation = NEXT_GENERATIONS.fetch_add(GENERATION_BLOCK, Ordering::Relaxed);
            self.generations_left = GENERATION_BLOCK;
        }
        self.generations_left -= 1;
        self.next_generation += 1;
        (self.next_generation - 1) as u32
    }

    /// Whether `slot` holds `entity` (guards against stale slots).
    #[inline]
    pub(crate) fn holds(&self, slot: u32, entity: Entity) -> bool {
        self.nodes
            .get(slot as usize)
            .is_some_and(|n| n.entity == entity)
    }

    /// Whether the node at `slot` is still the one with `generation` (not freed, not reused).
    #[inline]
    pub(crate) fn is_current(&self, slot: u32, generation: u32) -> bool {
        self.nodes
            .get(slot as usize)
            .is_some_and(|n| n.is_current(generation))
    }

    /// The entity of the member at `slot` (`Entity::PLACEHOLDER` for a free node).
    #[inline]
    pub(crate) fn entity(&self, slot: u32) -> Entity {
        self.nodes
            .get(slot as usize)
            .map_or(Entity::PLACEHOLDER, |n| n.entity)
    }

    fn node_of(&self, slot: u32, entity: Entity) -> Option<&Node> {
        self.nodes.get(slot as usize).filter(|n| n.entity == entity)
    }

    /// Sets whether the steps of the member `entity` at `slot` are timed.
    pub(crate) fn set_timed(&mut self, slot: u32, entity: Entity, timed: bool) {
        if self.holds(slot, entity) {
            self.set_timed_bit(slot, timed);
        }
    }

    /// Whether the steps of any member are timed.
    #[inline]
    pub(crate) fn any_timed(&self) -> bool {
        self.timed > 0
    }

    /// Whether the steps of the member at `slot` are timed.
    #[inline]
    pub(crate) fn is_timed(&self, slot: u32) -> bool {
        timed_in(&self.timed_slots, slot)
    }

    /// The work of the member `entity` at `slot` and the steps it has run, unless the step loop
    /// holds the work.
    pub(crate) fn work_mut(&mut self, slot: u32, entity: Entity) -> Option<(&mut dyn Work, u64)> {
        let node = self
            .nodes
            .get_mut(slot as usize)
            .filter(|n| n.entity == entity)?;
        let (work, steps) = if node.runnable() {
            let entry = &mut self.order[node.at as usize];
            (entry.work.as_mut(), entry.steps)
        } else {
            let parked = &mut self.parked[(node.at & !PARKED) as usize];
            (parked.work.as_mut(), parked.steps)
        };
        Some((&mut **work?.get(), steps.count()))
    }

    /// Steps run by the member `entity` at `slot`.
    pub(crate) fn steps(&self, slot: u32, entity: Entity) -> Option<u64> {
        let node = self.node_of(slot, entity)?;
        Some(
            if node.runnable() {
                self.order[node.at as usize].steps
            } else {
                self.parked[(node.at & !PARKED) as usize].steps
            }
            .count(),
        )
    }

    /// Gives work the step loop held back to its task, wherever the task is now (runnable or
    /// not); work whose node is gone, freed or reused since the step began is dropped.
    pub(crate) fn return_work(&mut self, slot: u32, generation: u32, work: BoxedWork) {
        // Most often it is still the entry just stepped.
        if let Some(entry) = self.last()
            && entry.slot == slot
            && entry.generation == generation
            && entry.work.is_none()
        {
            entry.work = Some(work);
            return;
        }
        let Some(node) = self
            .nodes
            .get_mut(slot as usize)
            .filter(|n| n.is_current(generation))
        else {
            return;
        };
        if node.runnable() {
            self.order[node.at as usize].work = Some(work);
        } else {
            self.parked[(node.at & !PARKED) as usize].work = Some(work);
        }
    }

    /// Removes a member, unlinking it first; returns its work (unless the step loop holds it)
    /// and its step count.
    pub(crate) fn remove(&mut self, slot: u32) -> (Option<BoxedWork>, u64) {
        self.unlink(slot);
        let node = &mut self.nodes[slot as usize];
        node.entity = Entity::PLACEHOLDER;
        node.generation = u32::MAX;
        let at = core::mem::replace(&mut node.at, NIL);
        let parked = self.unpark(at);
        let removed = (parked.work, parked.steps.count());
        self.set_timed_bit(slot, false);
        self.free.push(slot);
        self.members -= 1;
        if self.members == 0 {
            self.reclaim();
        }
        removed
    }

    /// Forgets every node and entry once the last member is gone, and gives back the memory of a
    /// big batch of tasks.
    fn reclaim(&mut self) {
        if self.nodes.capacity() > 1024 {
            (self.nodes, self.free, self.order) = (Vec::new(), Vec::new(), Vec::new());
            (self.parked, self.free_parked) = (Vec::new(), Vec::new());
        } else {
            self.nodes.clear();
            self.free.clear();
            self.order.clear();
            self.parked.clear();
            self.free_parked.clear();
        }
        (self.cursor, self.holes, self.timed) = (0, 0, 0);
        self.timed_slots.clear();
        self.left_last = NOBODY_LEFT;
        #[cfg(feature = "parallel")]
        {
            self.share_cursors.clear();
            self.share_starts.clear();
        }
    }

    /// Remembers what the budget learned of the steps just run: marks the member at `slot` with
    /// `generation` (the task just stepped, wherever it is now) heavy or light, or the last `n`
    /// tasks stepped ([`Mark::Suspects`]) heavy, until each is timed on its own.
    #[cold]
    pub(crate) fn mark(&mut self, slot: u32, generation: u32, mark: Mark) {
        if let Mark::Suspects(n) = mark {
            // The entries behind the cursor; when a pass began inside the batch, also the last
            // ones of the order (where the previous pass ended, give or take what rejoined).
            let n = n as usize;
            let len = self.order.len();
            let behind = self.cursor.min(n);
            let wrapped = (n - behind).min(len - self.cursor);
            let (before, after) = self.order.split_at_mut(self.cursor);
            let entries = before[self.cursor - behind..]
                .iter_mut()
                .chain(after.iter_mut().rev().take(wrapped));
            for entry in entries.filter(|e| e.slot != NIL) {
                entry.steps.set_heavy(true);
            }
            return;
        }
        let Some(node) = self
            .nodes
            .get_mut(slot as usize)
            .filter(|n| n.is_current(generation))
        else {
            return;
        };
        if node.runnable() {
            self.order[node.at as usize].steps.apply(mark);
        } else {
            self.parked[(node.at & !PARKED) as usize].steps.apply(mark);
        }
    }

    /// Puts a member at the back of the run order. When it is the task stepped last, which left
    /// and rejoins in the same breath (a wait already resolved, a pause and resume in its own
    /// step), and every task of the pass has had its turn, the pass is over: the next begins at
    /// the front (Twisted's rule; the rejoined task does not run twice in a row).
    pub(crate) fn link_back(&mut self, slot: u32) {
        let node = &self.nodes[slot as usize];
        if node.runnable() || node.entity == Entity::PLACEHOLDER {
            return;
        }
        if self.cursor == self.order.len()
            && self.left_last == (self.order.len().wrapping_sub(1), Some(node.entity))
        {
            self.new_pass();
        }
        let parked = self.unpark(self.nodes[slot as usize].at);
        let node = &mut self.nodes[slot as usize];
        node.at = self.order.len() as u32;
        self.order.push(Entry {
            work: parked.work,
            steps: parked.steps,
            slot,
            generation: node.generation,
        });
        self.runnable += 1;
    }

    /// Takes a member out of the run order (it stays a member); its entry becomes a hole.
    pub(crate) fn unlink(&mut self, slot: u32) {
        let node = &self.nodes[slot as usize];
        if !node.runnable() {
            return;
        }
        self.left_last = (node.at as usize, Some(node.entity));
        let entry = &mut self.order[node.at as usize];
        let (work, steps) = (entry.work.take(), entry.steps);
        entry.slot = NIL;
        self.nodes[slot as usize].at = self.park(work, steps);
        self.runnable -= 1;
        self.holes += 1;
    }

    /// The next task to step: its work is taken out of its entry, its step counted, and the
    /// cursor moved past it; `None` when nothing is runnable. At the end of the run order a new
    /// pass begins at the front.
    #[inline]
    pub(crate) fn next(&mut self) -> Option<Next> {
        // A pass that finds no work ends the search (a live entry always holds its work but while
        // it is stepped; this keeps a broken entry from spinning the loop).
        let mut passes = 0;
        loop {
            if self.cursor == self.order.len() {
                // Compact even when nothing is runnable, so waits cannot grow the array.
                self.new_pass();
                passes += 1;
                if self.runnable == 0 || passes > 2 {
                    return None;
                }
            }
            let entry = &mut self.order[self.cursor];
            self.cursor += 1;
            // A hole holds no work (nor does the entry being stepped, which is behind the cursor).
            if let Some(work) = entry.work.take() {
                entry.steps.bump();
                return Some(Next {
                    work,
                    slot: entry.slot,
                    generation: entry.generation,
                    heavy: entry.steps.heavy(),
                });
            }
        }
    }

    /// Ends a pass: compacts the holes away and puts the cursor at the front.
    #[cold]
    fn new_pass(&mut self) {
        self.cursor = 0;
        if self.holes == 0 {
            return;
        }
        self.order.retain(|e| e.slot != NIL);
        self.left_last = NOBODY_LEFT;
        for (at, entry) in self.order.iter().enumerate() {
            self.nodes[entry.slot as usize].at = at as u32;
        }
        self.holes = 0;
    }

    /// The entry [`next`](Self::next) returned last (the cursor is just past it), if any.
    #[inline]
    pub(crate) fn last(&mut self) -> Option<&mut Entry> {
        let at = self.cursor.checked_sub(1)?;
        self.order.get_mut(at)
    }

    /// [`last`](Self::last), to read.
    #[inline]
    pub(crate) fn last_ref(&self) -> Option<&Entry> {
        self.order.get(self.cursor.checked_sub(1)?)
    }

    pub(crate) fn runnable(&self) -> u32 {
        self.runnable
    }

    pub(crate) fn members(&self) -> u32 {
        self.members
    }

    /// Runnable members in the order they will next run.
    fn runnable_slots(&self) -> impl Iterator<Item = u32> + '_ {
        let (later, earlier) = self.order.split_at(self.cursor.min(self.order.len()));
        earlier
            .iter()
            .chain(later)
            .map(|e| e.slot)
            .filter(|&s| s != NIL)
    }

    /// Empties the queue, returning every member with its work and step count: the runnable
    /// ones in run order, then the others in the order they joined the queue.
    pub(crate) fn drain(&mut self) -> Vec<Drained> {
        let mut slots: Vec<u32> = self.runnable_slots().collect();
        let mut others: Vec<u32> = (0..self.nodes.len() as u32)
            .filter(|&s| {
                let n = &self.nodes[s as usize];
                n.entity != Entity::PLACEHOLDER && !n.runnable()
            })
            .collect();
        // Oldest first: generations are handed out in joining order, and a member's age (how
        // many were handed out since) stays exact through the low half's wrap-around while
        // fewer than 2^32 joined after it.
        let newest = self.next_generation as u32;
        others.sort_by_key(|&s| {
            core::cmp::Reverse(newest.wrapping_sub(self.nodes[s as usize].generation))
        });
        slots.extend(others);
        let out = slots
            .into_iter()
            .map(|slot| {
                self.unlink(slot);
                let node = &mut self.nodes[slot as usize];
                let (entity, at) = (node.entity, core::mem::replace(&mut node.at, NIL));
                let parked = self.unpark(at);
                (entity, parked.work, parked.steps.count())
            })
            .collect();
        *self = RunQueue::new();
        out
    }

    /// Runnable members in the order they will next run (for tests and diagnostics).
    pub(crate) fn runnable_in_order(&self) -> Vec<Entity> {
        self.runnable_slots()
            .map(|s| self.nodes[s as usize].entity)
            .collect()
    }
}

#[cfg(test)]
mod tests;
