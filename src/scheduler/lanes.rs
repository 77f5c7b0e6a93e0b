//! Frame budgets: several cooperators share one budget, lanes by priority, equal priorities split
//! by weight, leftovers passed on.

use alloc::vec::Vec;
use bevy_ecs::{entity::Entity, query::QueryState, world::World};
use core::time::Duration;

use super::step::Ticker;
use crate::{
    budget::{Budget, TickBudget, fill},
    frame_budget::{FrameBudget, Lane},
};

/// The lanes of every frame budget, gathered once per frame (kept between frames, so that a frame
/// allocates nothing).
#[derive(Default)]
pub(super) struct Lanes {
    /// Frame budgets with lanes: (entity, budget).
    budgets: Vec<(Entity, Budget)>,
    /// Lanes: (frame budget entity, index into `budgets`, lane), sorted for running.
    lanes: Vec<(Entity, usize, Lane)>,
    /// Cooperators that are lanes, sorted.
    pub(super) members: Vec<Entity>,
}

/// Gathers the lanes of every frame budget, highest priority first, each cooperator once.
pub(super) fn collect_lanes(
    world: &mut World,
    frame_budgets: &mut QueryState<(Entity, &FrameBudget)>,
    scratch: &mut Lanes,
) {
    scratch.budgets.clear();
    scratch.lanes.clear();
    scratch.members.clear();
    for (entity, frame_budget) in frame_budgets.iter(world) {
        if frame_budget.lanes.is_empty() {
            continue;
        }
        let index = scratch.budgets.len();
        scratch.budgets.push((entity, frame_budget.budget.clone()));
        scratch
            .lanes
            .extend(frame_budget.lanes.iter().map(|lane| (entity, index, *lane)));
    }
    if scratch.lanes.is_empty() {
        return;
    }
    // Stable: lanes of equal priority keep their listed order.
    scratch
        .lanes
        .sort_by_key(|(owner, _, lane)| (*owner, core::cmp::Reverse(lane.priority)));
    let members = &mut scratch.members;
    scratch.lanes.retain(
        |(_, _, lane)| match members.binary_search(&lane.cooperator) {
            Ok(_) => false,
            Err(at) => {
                members.insert(at, lane.cooperator);
                true
            }
        },
    );
}

/// Runs every frame budget: lanes by priority, equal priorities split by weight, leftovers passed on.
pub(super) fn run_lanes(
    world: &mut World,
    ticker: &mut Ticker,
    scratch: &mut Lanes,
    real_delta: Duration,
) {
    let lanes = &scratch.lanes;
    let mut i = 0;
    while i < lanes.len() {
        let (owner, index, _) = lanes[i];
        let group_end = lanes[i..]
            .iter()
            .position(|(o, ..)| *o != owner)
            .map_or(lanes.len(), |n| i + n);
        let budget = &scratch.budgets[index].1;
        let mut total = budget.begin(owner, ticker.clock, real_delta, world);
        for j in i..group_end {
            let lane = lanes[j].2;
            if !ticker.has_work(world, lane.cooperator) {
                continue;
            }
            // Weights of this lane and the lanes after it with the same priority and work to do.
            let weight = u128::from(lane.weight.max(1));
            let weights: u128 = lanes[j..group_end]
                .iter()
                .take_while(|(.., l)| l.priority == lane.priority)
                .filter(|(.., l)| ticker.has_work(world, l.cooperator))
                .map(|(.., l)| u128::from(l.weight.max(1)))
                .sum();
            match &mut total {
                TickBudget::Deadline(deadline) => {
                    let left = deadline.end.saturating_sub(ticker.clock.now());
                    let share = Duration::from_nanos(
                        u64::try_from(left.as_nanos() * weight / weights).unwrap_or(u64::MAX),
                    );
                    let mut budget = TickBudget::deadline(ticker.clock, share);
                    ticker.tick(world, lane.cooperator, &mut budget);
                }
                TickBudget::Steps(left) => {
                    let share = (u128::from(*left) * weight / weights) as u32;
                    let mut budget = TickBudget::Steps(share);
                    let steps = ticker.tick(world, lane.cooperator, &mut budget);
                    *left = left.saturating_sub(steps);
                }
                TickBudget::Unlimited => {
                    ticker.tick(world, lane.cooperator, &mut TickBudget::Unlimited);
                }
                TickBudget::Custom(_) => {
                    ticker.tick(world, lane.cooperator, &mut total);
                }
            }
        }
        if budget.fills_frame() {
            fill::tick_ended(world, owner, ticker.clock);
        }
        i = group_end;
    }
}
