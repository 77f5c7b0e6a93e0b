//! The run queue's unit tests.

use super::*;

fn e(i: u32) -> Entity {
    Entity::from_raw_u32(i).unwrap()
}

/// Steps the next task: its entity.
fn advance(q: &mut RunQueue) -> Option<Entity> {
    let next = q.next()?;
    q.last().unwrap().work = Some(next.work);
    Some(q.entity(next.slot))
}

fn work() -> Option<BoxedWork> {
    let work = crate::work::from_fn(|_: &mut crate::work::StepContext| ());
    Some(SyncCell::new(Box::new(work) as Box<dyn Work>))
}

fn queue(n: u32) -> (RunQueue, Vec<u32>) {
    let mut q = RunQueue::new();
    let slots: Vec<u32> = (1..=n).map(|i| q.insert(e(i), work(), false)).collect();
    for &s in &slots {
        q.link_back(s);
    }
    (q, slots)
}

#[test]
fn round_robin_with_removal_of_current_skips_nobody() {
    let (mut q, slots) = queue(3);
    assert_eq!(advance(&mut q), Some(e(1)));
    q.remove(slots[0]);
    assert_eq!(advance(&mut q), Some(e(2)));
    assert_eq!(advance(&mut q), Some(e(3)));
    assert_eq!(advance(&mut q), Some(e(2)));
    assert_eq!(q.runnable(), 2);
}

#[test]
fn resumed_task_goes_to_the_back() {
    let (mut q, s) = queue(3);
    q.unlink(s[0]);
    q.link_back(s[0]);
    assert_eq!(q.runnable_in_order(), vec![e(2), e(3), e(1)]);
    q.unlink(s[1]);
    q.unlink(s[2]);
    q.unlink(s[0]);
    assert!(q.next().is_none());
    assert_eq!(q.members(), 3);
    let drained: Vec<Entity> = q.drain().into_iter().map(|(e, ..)| e).collect();
    assert_eq!(drained, vec![e(1), e(2), e(3)]);
}

#[test]
fn a_task_joining_right_after_the_last_one_ran_is_in_the_same_pass() {
    let (mut q, _) = queue(2);
    assert_eq!(advance(&mut q), Some(e(1)));
    assert_eq!(advance(&mut q), Some(e(2)));
    let c = q.insert(e(3), work(), false);
    q.link_back(c);
    assert_eq!(advance(&mut q), Some(e(3)));
    assert_eq!(advance(&mut q), Some(e(1)));
}

#[test]
fn a_task_leaving_at_the_end_of_a_pass_does_not_end_the_pass_early() {
    // A steps; B joins and leaves; C joins: the pass goes on with C, not A again.
    let (mut q, _) = queue(1);
    assert_eq!(advance(&mut q), Some(e(1)));
    let b = q.insert(e(2), work(), false);
    q.link_back(b);
    q.remove(b);
    let c = q.insert(e(3), work(), false);
    q.link_back(c);
    assert_eq!(advance(&mut q), Some(e(3)));
    assert_eq!(advance(&mut q), Some(e(1)));
}

// Regression: with every task waiting, the pass ended without compacting and each wait grew
// the array by one entry.
#[test]
fn holes_are_compacted_when_every_task_left_the_pass() {
    let (mut q, s) = queue(3);
    for _ in 0..100 {
        for &slot in &s {
            assert!(advance(&mut q).is_some());
            q.unlink(slot);
        }
        assert!(q.next().is_none());
        for &slot in &s {
            q.link_back(slot);
        }
    }
    assert_eq!(q.order.len(), 3);
}

// Regression: a live entry without its work (never expected) made `next` spin forever.
#[test]
fn an_entry_without_work_does_not_spin_the_search() {
    let (mut q, _) = queue(2);
    for entry in &mut q.order {
        entry.work = None;
    }
    assert!(q.next().is_none());
}

#[test]
fn holes_are_compacted_once_a_pass_ends() {
    let (mut q, s) = queue(4);
    q.unlink(s[1]);
    q.unlink(s[2]);
    assert_eq!(advance(&mut q), Some(e(1)));
    assert_eq!(advance(&mut q), Some(e(4)));
    assert_eq!(advance(&mut q), Some(e(1)));
    assert_eq!(q.order.len(), 2);
    q.link_back(s[2]);
    assert_eq!(q.runnable_in_order(), vec![e(4), e(3), e(1)]);
    assert_eq!(q.steps(s[2], e(3)), Some(0));
}

#[test]
fn stepped_work_returns_to_its_task_wherever_it_went() {
    let mut q = RunQueue::new();
    let a = q.insert(e(1), work(), false);
    q.link_back(a);
    let held = q.next().unwrap().work;
    let generation = q.last().unwrap().generation;
    // Paused during its own step: the work goes to the node.
    q.unlink(a);
    q.return_work(a, generation, held);
    assert!(q.work_mut(a, e(1)).is_some());
    // Removed and the slot reused by another task: old work is dropped, not given to it.
    q.link_back(a);
    let held = q.next().unwrap().work;
    q.remove(a);
    let b = q.insert(e(2), None, false);
    assert_eq!(a, b);
    q.return_work(b, generation, held);
    assert!(q.work_mut(b, e(2)).is_none());
}

#[test]
fn drain_gives_runnable_tasks_in_run_order_then_the_paused_in_join_order() {
    let (mut q, s) = queue(4);
    advance(&mut q);
    q.unlink(s[3]);
    q.unlink(s[0]);
    let drained: Vec<Entity> = q.drain().into_iter().map(|(e, ..)| e).collect();
    assert_eq!(drained, vec![e(2), e(3), e(1), e(4)]);
}

#[test]
fn an_entry_is_32_bytes_and_a_node_16() {
    // The step loop streams the entries: their size is the loop's memory traffic per step.
    assert_eq!(size_of::<Entry>(), 32);
    assert_eq!(size_of::<Node>(), 16);
}

#[test]
fn drain_keeps_the_joining_order_across_the_wrap_of_generations() {
    let mut q = RunQueue::new();
    // The low halves of the generations wrap round between the first two members.
    (q.next_generation, q.generations_left) = (u64::from(u32::MAX), 16);
    let first = q.insert(e(0), work(), false);
    q.insert(e(1), work(), false);
    q.insert(e(2), work(), false);
    let _ = q.remove(first);
    // Takes the first member's slot: slot order is no longer joining order.
    q.insert(e(3), work(), false);
    let drained: Vec<Entity> = q.drain().into_iter().map(|(entity, ..)| entity).collect();
    assert_eq!(drained, [e(1), e(2), e(3)]);
}

#[test]
fn a_reused_slot_is_not_timed_unless_asked() {
    let mut q = RunQueue::new();
    let timed = q.insert(e(0), work(), true);
    q.insert(e(1), work(), false);
    assert!(q.any_timed() && q.is_timed(timed));
    let _ = q.remove(timed);
    assert!(!q.any_timed());
    let reused = q.insert(e(2), work(), false);
    assert_eq!(reused, timed);
    assert!(!q.is_timed(reused));
    q.set_timed(reused, e(2), true);
    assert!(q.any_timed() && q.is_timed(reused));
    q.set_timed(reused, e(9), false); // not its entity: nothing changes
    assert!(q.is_timed(reused));
}
