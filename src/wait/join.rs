//! Joins — [`Wait::all`](crate::Wait::all), [`race`](crate::Wait::race),
//! [`settled`](crate::Wait::settled), [`timeout`](crate::Wait::timeout) — as a state machine:
//! sub-waits are offered their resolutions and the join says when it settles. No world here,
//! and nothing of what the sub-waits left at their sources but whether it is a join itself.

use alloc::vec::Vec;
use bevy_ecs::entity::Entity;
use core::time::Duration;

use crate::{outcome::Failure, wait::seam::Ticket};

/// The error a [`Wait::timeout`](crate::Wait::timeout) fails with when its time runs out first.
///
/// A script handles it as any failure:
///
/// ```
/// # use std::time::Duration;
/// # use bevy_app::App;
/// # use bevy_cooperator::{WaitTimedOut, prelude::*};
/// # use bevy_ecs::prelude::*;
/// # use bevy_time::{TimePlugin, TimeUpdateStrategy};
/// # let mut app = App::new();
/// # app.add_plugins((TimePlugin, CooperatorPlugin::default().with_budget(Budget::Steps(4))))
/// #     .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(100)));
/// # app.finish();
/// # app.cleanup();
/// let world = app.world_mut();
/// let answer = world.spawn_signal();
/// let npc = world.cooperate(script(move |cx| async move {
///     let wait = Wait::signal(answer).timeout(Duration::from_millis(200));
///     match cx.wait(wait).await {
///         Ok(()) => Ok("thanks"),
///         Err(e) if e.downcast_ref::<WaitTimedOut>().is_some() => Ok("too slow!"),
///         Err(e) => Err(e),
///     }
/// }));
/// world.entity_mut(npc).insert(RetainFinished);
/// for _ in 0..4 {
///     app.update();
/// }
/// assert_eq!(app.world().get::<TaskResult<&str>>(npc).unwrap().0, "too slow!");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimedOut(pub Duration);

impl core::fmt::Display for WaitTimedOut {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "the wait timed out after {:?}", self.0)
    }
}

impl core::error::Error for WaitTimedOut {}

/// What a sub-wait left at its source, as a join sees it: possibly a join of its own.
pub(crate) trait Inner: Default {
    /// The inner join, if it is one.
    fn join(&mut self) -> Option<&mut Join<Self>>;
    /// Whether it is a race (whose losers stop when it ends).
    fn is_race(&self) -> bool;
}

/// How a join settles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JoinMode {
    /// When all succeed; fails at the first failure.
    All,
    /// At the first to succeed or fail.
    Race,
    /// When its single wait succeeds or fails; never fails.
    Settled,
}

/// A pending join: its sub-waits, each with its own ticket.
pub(crate) struct Join<R> {
    pub(crate) mode: JoinMode,
    pub(crate) subs: Vec<Sub<R>>,
    pub(crate) remaining: usize,
}

/// One sub-wait of a join.
pub(crate) struct Sub<R> {
    pub(crate) ticket: Ticket,
    pub(crate) registration: R,
    pub(crate) done: bool,
    /// The task a lost race stops.
    pub(crate) target: Option<Entity>,
    /// A timeout's timer: success means failure.
    pub(crate) timeout: Option<Duration>,
}

/// What a sub-wait's resolution did to a join.
pub(crate) enum Offer {
    /// The ticket is not one of this join's.
    NotMine,
    /// Taken into account; the join is still pending.
    Absorbed,
    /// The join is settled with this result (and for a race, this winner).
    Settled(Result<(), Failure>, Option<u32>),
}

impl<R: Inner> Join<R> {
    /// Offers the resolution of sub-ticket `ticket`. Registrations that ended (the resolved
    /// sub-wait, a settled inner join) go to `ended` with their tickets and whether their losers must stop.
    pub(crate) fn offer(
        &mut self,
        ticket: Ticket,
        result: &mut Option<Result<(), Failure>>,
        ended: &mut Vec<(Ticket, R, bool)>,
    ) -> Offer {
        for (index, sub) in self.subs.iter_mut().enumerate() {
            if sub.done {
                continue;
            }
            let sub_result = if sub.ticket == ticket {
                match result.take() {
                    Some(r) => r,
                    None => return Offer::Absorbed,
                }
            } else if let Some(inner) = sub.registration.join() {
                match inner.offer(ticket, result, ended) {
                    Offer::NotMine => continue,
                    Offer::Absorbed => return Offer::Absorbed,
                    Offer::Settled(r, _) => r,
                }
            } else {
                continue;
            };
            sub.done = true;
            let registration = core::mem::take(&mut sub.registration);
            let lost = registration.is_race();
            ended.push((sub.ticket, registration, lost));
            let sub_result = match (sub.timeout, sub_result) {
                (Some(d), Ok(())) => Err(Failure::new(WaitTimedOut(d))),
                (_, r) => r,
            };
            return self.apply(index, sub_result);
        }
        Offer::NotMine
    }

    /// Settles sub-wait `index` with `result`.
    pub(crate) fn apply(&mut self, index: usize, result: Result<(), Failure>) -> Offer {
        match self.mode {
            JoinMode::All => match result {
                Ok(()) => {
                    self.remaining -= 1;
                    if self.remaining == 0 {
                        Offer::Settled(Ok(()), None)
                    } else {
                        Offer::Absorbed
                    }
                }
                Err(f) => Offer::Settled(Err(f), None),
            },
            JoinMode::Race => Offer::Settled(result, Some(index as u32)),
            JoinMode::Settled => Offer::Settled(Ok(()), None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sub-wait's registration for these tests: nothing, or an inner join.
    #[derive(Default)]
    enum Reg {
        #[default]
        None,
        Join(alloc::boxed::Box<Join<Reg>>),
    }

    impl Inner for Reg {
        fn join(&mut self) -> Option<&mut Join<Reg>> {
            match self {
                Reg::Join(j) => Some(j),
                Reg::None => None,
            }
        }
        fn is_race(&self) -> bool {
            matches!(self, Reg::Join(j) if j.mode == JoinMode::Race)
        }
    }

    fn join(mode: JoinMode, n: u64) -> Join<Reg> {
        Join {
            mode,
            remaining: n as usize,
            subs: (0..n)
                .map(|ticket| Sub {
                    ticket,
                    registration: Reg::None,
                    done: false,
                    target: None,
                    timeout: None,
                })
                .collect(),
        }
    }

    fn offer(join: &mut Join<Reg>, ticket: Ticket, result: Result<(), Failure>) -> Offer {
        join.offer(ticket, &mut Some(result), &mut Vec::new())
    }

    #[test]
    fn all_settles_when_every_sub_wait_succeeded_and_fails_at_the_first_failure() {
        let mut all = join(JoinMode::All, 3);
        assert!(matches!(offer(&mut all, 1, Ok(())), Offer::Absorbed));
        assert!(
            matches!(offer(&mut all, 1, Ok(())), Offer::NotMine),
            "done already"
        );
        assert!(matches!(offer(&mut all, 9, Ok(())), Offer::NotMine));
        assert!(matches!(offer(&mut all, 0, Ok(())), Offer::Absorbed));
        assert!(matches!(
            offer(&mut all, 2, Ok(())),
            Offer::Settled(Ok(()), None)
        ));
        let mut failing = join(JoinMode::All, 2);
        assert!(matches!(
            offer(&mut failing, 1, Err(Failure::msg("no"))),
            Offer::Settled(Err(_), None)
        ));
    }

    #[test]
    fn race_settles_with_the_first_resolution_and_names_the_winner() {
        let mut race = join(JoinMode::Race, 3);
        assert!(matches!(
            offer(&mut race, 2, Ok(())),
            Offer::Settled(Ok(()), Some(2))
        ));
        let mut race = join(JoinMode::Race, 2);
        assert!(matches!(
            offer(&mut race, 0, Err(Failure::msg("lost"))),
            Offer::Settled(Err(_), Some(0))
        ));
    }

    #[test]
    fn settled_never_fails_and_a_timeout_s_timer_is_a_failure() {
        let mut settled = join(JoinMode::Settled, 1);
        assert!(matches!(
            offer(&mut settled, 0, Err(Failure::msg("x"))),
            Offer::Settled(Ok(()), None)
        ));
        let mut timeout = join(JoinMode::Race, 2);
        timeout.subs[1].timeout = Some(Duration::from_secs(1));
        match offer(&mut timeout, 1, Ok(())) {
            Offer::Settled(Err(f), Some(1)) => assert!(f.to_string().contains("timed out")),
            _ => panic!("the timer's success fails the race"),
        }
    }

    #[test]
    fn an_inner_join_settles_the_outer_one_and_reports_what_ended() {
        let mut inner = join(JoinMode::Race, 2);
        for sub in &mut inner.subs {
            sub.ticket += 10;
        }
        let mut outer = join(JoinMode::All, 2);
        outer.subs[1].registration = Reg::Join(alloc::boxed::Box::new(inner));
        let mut ended = Vec::new();
        assert!(matches!(
            outer.offer(11, &mut Some(Ok(())), &mut ended),
            Offer::Absorbed
        ));
        // The inner race's sub-wait and then the inner race itself ended.
        assert_eq!(ended.len(), 2);
        assert!(ended[1].2, "a lost race's losers stop");
        assert!(matches!(
            offer(&mut outer, 0, Ok(())),
            Offer::Settled(Ok(()), None)
        ));
    }
}
