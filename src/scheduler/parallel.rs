//! The main-thread half of a parallel tick: split the run order into shares, step them on the
//! compute pool's threads (`parallel/tick.rs`), then apply what they report, share by share, in
//! the order their steps ran, through the same transitions as the ordinary loop.

use alloc::vec::Vec;
use bevy_ecs::{entity::Entity, world::World};
use bevy_tasks::ComputeTaskPool;

use super::step::{Ticker, settle};
use crate::{
    budget::{TickBudget, longer},
    parallel::tick::{Limit, Recording, ShareReport, SharedPredicate, run_share},
    task::stats::TaskStats,
};

impl Ticker<'_> {
    /// One tick of a parallel cooperator using at most `threads` threads. Returns the steps run.
    pub(super) fn tick_parallel(
        &mut self,
        world: &mut World,
        coop_entity: Entity,
        budget: &mut TickBudget,
        threads: usize,
    ) -> u32 {
        let pool = ComputeTaskPool::try_get();
        let threads = threads.min(pool.map_or(1, |p| p.thread_num().max(1)));
        let recording = Recording {
            clock: self.clock,
            #[cfg(feature = "trace")]
            traced: world
                .get::<crate::cooperator::TraceSteps>(coop_entity)
                .is_some(),
        };
        let reports = {
            let Ok(mut coop) = self.coop_query.get_mut(world, coop_entity) else {
                return 0;
            };
            if !coop.running() {
                return 0;
            }
            let ticks = coop.stats.ticks;
            let shares = coop.queue.split_shares(threads);
            let count = shares.len() as u32;
            let (mut total, mut deadline, mut custom) = (None, None, None);
            match budget {
                TickBudget::Steps(n) => total = Some((*n).max(1)),
                TickBudget::Unlimited => {}
                TickBudget::Deadline(d) => deadline = Some(&*d),
                TickBudget::Custom(predicate) => custom = Some(SharedPredicate::new(predicate)),
            }
            // A step budget is split in proportion to the shares' lengths (the first shares
            // get what the rounding leaves), so that a short share's tasks get no more turns.
            let length: u64 = shares.iter().map(|s| s.entries.len() as u64).sum();
            let quotas: Vec<u32> = match total {
                Some(n) if length > 0 => {
                    let mut quotas: Vec<u32> = shares
                        .iter()
                        .map(|s| (u64::from(n) * s.entries.len() as u64 / length) as u32)
                        .collect();
                    let mut left = n - quotas.iter().sum::<u32>();
                    for quota in quotas.iter_mut() {
                        if left == 0 {
                            break;
                        }
                        *quota += 1;
                        left -= 1;
                    }
                    quotas
                }
                Some(n) => (0..count)
                    .map(|j| n / count + u32::from(j < n % count))
                    .collect(),
                None => Vec::new(),
            };
            let runs: Vec<_> = shares
                .into_iter()
                .enumerate()
                .map(|(j, share)| {
                    let limit = if let Some(&quota) = quotas.get(j) {
                        Limit::Steps(quota)
                    } else if let Some(d) = deadline {
                        Limit::Deadline(d.share())
                    } else if let Some(shared) = &custom {
                        Limit::Custom(shared)
                    } else {
                        Limit::Unlimited
                    };
                    (share, limit)
                })
                .collect();
            let reports: Vec<ShareReport> = match pool {
                Some(pool) if runs.len() > 1 => {
                    // One share runs right here, the others on the pool's threads. While it
                    // waits for them, the calling thread runs what the pool has not started (the
                    // way the pool's own `scope` waits): a share whose thread the operating
                    // system starts late is then stepped here, or, past the deadline, left for
                    // the next tick, and the tick ends within the ordinary bound. The share run
                    // here goes round tick by tick, so that none is left out tick after tick
                    // while the pool's threads are late.
                    let mut runs = runs;
                    let here = (ticks % runs.len() as u64) as usize;
                    let (share, limit) = runs.remove(here);
                    let mut mine = None;
                    let mut reports = pool.scope_with_executor(true, None, |scope| {
                        for (share, limit) in runs {
                            scope.spawn(
                                async move { run_share(share, coop_entity, limit, recording) },
                            );
                        }
                        mine = Some(run_share(share, coop_entity, limit, recording));
                    });
                    // The pool's reports come in the order their shares were spawned.
                    reports.insert(here, mine.expect("the scope ran its closure"));
                    reports
                }
                // One share (or no pool): stepped right here.
                _ => runs
                    .into_iter()
                    .map(|(share, limit)| run_share(share, coop_entity, limit, recording))
                    .collect(),
            };
            coop.queue.end_shares(reports.iter().map(|r| r.next));
            reports
        };
        let mut steps: u32 = 0;
        let mut longest = None;
        let shares = reports.iter().filter(|r| r.steps > 0).count() as u32;
        let overshoot = reports.iter().filter_map(|r| r.overshoot).max();
        for report in reports {
            steps = steps.saturating_add(report.steps);
            longest = longer(longest, report.longest);
            // Before the steps' results: the figures of a task's last step land while it is
            // still there to hold them.
            for (task, took) in report.timed {
                if let Some(mut stats) = world.get_mut::<TaskStats>(task) {
                    stats.record(took);
                }
            }
            for s in report.settled {
                settle(
                    world,
                    self.coop_query,
                    coop_entity,
                    s.task,
                    s.slot,
                    s.generation,
                    s.work,
                    s.step,
                );
            }
        }
        self.record(world, coop_entity, budget, steps, longest);
        if let Ok(mut coop) = self.coop_query.get_mut(world, coop_entity) {
            coop.stats.last_tick_threads = shares;
            coop.stats.last_tick_thread_overshoot = overshoot;
        }
        steps
    }
}
