//! What a task holds while it waits: its pending waits, each with what its resolution does.

use alloc::{
    boxed::Box,
    vec::{self, Vec},
};
use bevy_ecs::world::World;
use core::{iter::Chain, option};

use crate::{
    outcome::Failure,
    task::CooperativeTask,
    wait::{registration::Registration, seam::Ticket},
};

/// A task's pending waits, each with its ticket, what it left at its source and what its
/// resolution does: the task's own wait (at most one, always first) and the waits an async
/// script awaits, any number at once, in the order they began. The script's waits do not pause
/// the task: while nothing it awaits is ready, the script waits on its waker (its own wait), and
/// each resolution is delivered to the script and wakes it.
///
/// One list, whose first place is kept inline in the task: most tasks never await more than
/// their own wait, and theirs then costs no allocation, and no memory of its own to reach on
/// every wake. The rest (a script's waits, a race's winner, [`More`]) is in the task's box, made
/// on first use, so that a task that has none stays small.
impl CooperativeTask {
    /// The task's own wait, pending.
    pub(crate) fn own_wait(&self) -> Option<&Own> {
        self.own.as_ref()
    }

    /// The waits a script awaits, in the order they began.
    pub(crate) fn awaited(&self) -> &[Pending] {
        self.rest.as_ref().map_or(&[], |r| &r.more.awaited)
    }

    /// The index of the last race's winner.
    pub(crate) fn winner(&self) -> Option<u32> {
        self.rest.as_ref().and_then(|r| r.more.winner)
    }

    /// Sets the last race's winner.
    pub(crate) fn set_winner(&mut self, winner: Option<u32>) {
        if winner.is_some() || self.rest.is_some() {
            self.rest_mut().more.winner = winner;
        }
    }

    /// The task's own wait begins; what it leaves at its source is kept once it is registered.
    pub(crate) fn begin_own(&mut self, ticket: Ticket) {
        debug_assert!(self.own.is_none());
        self.own = Some(Own {
            ticket,
            registration: Registration::None,
        });
    }

    /// Keeps what the task's own wait `ticket` left at its source; gives it back if that wait is
    /// no longer pending.
    pub(crate) fn register_own(
        &mut self,
        ticket: Ticket,
        registration: Registration,
    ) -> Option<Registration> {
        match &mut self.own {
            Some(own) if own.ticket == ticket => {
                own.registration = registration;
                None
            }
            _ => Some(registration),
        }
    }

    /// A script's wait, pending.
    pub(crate) fn push_awaited(&mut self, ticket: Ticket, registration: Registration, then: Then) {
        self.rest_mut().more.awaited.push(Pending {
            ticket,
            registration,
            then,
        });
    }

    /// Takes the pending wait `ticket` out of the list.
    pub(crate) fn remove_wait(&mut self, ticket: Ticket) -> Option<Pending> {
        if self.own.as_ref().is_some_and(|own| own.ticket == ticket) {
            return self.own.take().map(Pending::from);
        }
        let awaited = &mut self.rest.as_mut()?.more.awaited;
        let index = awaited.iter().position(|p| p.ticket == ticket)?;
        Some(awaited.remove(index))
    }

    /// Every pending wait's ticket and registration, in order.
    pub(crate) fn waits_mut(&mut self) -> impl Iterator<Item = (Ticket, &mut Registration)> {
        let own = self.own.iter_mut().map(|o| (o.ticket, &mut o.registration));
        let awaited = self
            .rest
            .iter_mut()
            .flat_map(|r| r.more.awaited.iter_mut())
            .map(|p| (p.ticket, &mut p.registration));
        own.chain(awaited)
    }

    /// Every pending wait, the task's own first (the task finished).
    pub(crate) fn take_waits(&mut self) -> Taken {
        let own = self.own.take().map(Pending::from).into_iter();
        let awaited = self
            .rest
            .as_mut()
            .map(|r| core::mem::take(&mut r.more.awaited))
            .unwrap_or_default();
        own.chain(awaited)
    }
}

/// The task's own wait, pending: its resolution always resumes the task (or fails it), so it
/// needs no [`Then`] (16 bytes less in every task).
pub(crate) struct Own {
    pub(crate) ticket: Ticket,
    pub(crate) registration: Registration,
}

impl From<Own> for Pending {
    fn from(own: Own) -> Self {
        Pending {
            ticket: own.ticket,
            registration: own.registration,
            then: Then::Resume,
        }
    }
}

/// What few tasks' waits have, in the task's box: the waits a script awaits, and the last race's
/// winner.
#[derive(Default)]
pub(super) struct More {
    awaited: Vec<Pending>,
    /// The index of the last race's winner.
    winner: Option<u32>,
}

/// Every pending wait a finished task held, its own first (see [`CooperativeTask::take_waits`]).
pub(crate) type Taken = Chain<option::IntoIter<Pending>, vec::IntoIter<Pending>>;

/// One pending wait of a task.
pub(crate) struct Pending {
    pub(crate) ticket: Ticket,
    pub(crate) registration: Registration,
    pub(crate) then: Then,
}

/// What a pending wait's resolution does.
pub(crate) enum Then {
    /// The task's own wait: its pause goes, or its failure fails the task.
    Resume,
    /// A wait a script awaits: the result goes to the script's future.
    Deliver(Deliver),
}

/// Hands a resolved awaited wait's result (and a race's winner) to the script that awaits it.
pub(crate) type Deliver =
    Box<dyn FnOnce(&mut World, Result<(), Failure>, Option<u32>) + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;
    use bevy_ecs::entity::Entity;

    fn deliver() -> Then {
        Then::Deliver(Box::new(|_, _, _| {}))
    }

    fn tickets(waits: &[Pending]) -> Vec<Ticket> {
        waits.iter().map(|p| p.ticket).collect()
    }

    #[test]
    fn the_own_wait_stands_first_whenever_it_begins() {
        let mut waits = CooperativeTask::new(Entity::PLACEHOLDER, false);
        waits.push_awaited(1, Registration::None, deliver());
        waits.push_awaited(2, Registration::None, deliver());
        assert!(waits.own_wait().is_none());
        waits.begin_own(3);
        assert_eq!(waits.own_wait().map(|p| p.ticket), Some(3));
        assert_eq!(tickets(waits.awaited()), [1, 2]);
        assert!(
            waits.register_own(4, Registration::Waker).is_some(),
            "not its ticket"
        );
        assert!(waits.register_own(3, Registration::Waker).is_none());
        assert!(matches!(
            waits.own_wait().unwrap().registration,
            Registration::Waker
        ));
    }

    #[test]
    fn a_resolved_wait_leaves_the_list_and_the_rest_keep_their_order() {
        let mut waits = CooperativeTask::new(Entity::PLACEHOLDER, false);
        waits.begin_own(1);
        waits.push_awaited(2, Registration::None, deliver());
        waits.push_awaited(3, Registration::None, deliver());
        assert!(matches!(
            waits.remove_wait(2).map(|p| p.then),
            Some(Then::Deliver(_))
        ));
        assert!(
            waits.remove_wait(2).is_none(),
            "a stale ticket finds nothing"
        );
        assert!(matches!(
            waits.remove_wait(1).map(|p| p.then),
            Some(Then::Resume)
        ));
        assert!(waits.own_wait().is_none());
        assert_eq!(tickets(waits.awaited()), [3]);
        assert!(
            waits.register_own(1, Registration::None).is_some(),
            "no longer pending"
        );
        assert_eq!(
            waits.take_waits().map(|p| p.ticket).collect::<Vec<_>>(),
            [3]
        );
        assert!(waits.awaited().is_empty());
    }
}
