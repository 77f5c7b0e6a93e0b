//! What a task holds while it waits: its pending waits, each with what its resolution does.

use alloc::{
    boxed::Box,
    vec::{self, Vec},
};
use bevy_ecs::world::World;
use core::{iter::Chain, option};

use crate::{
    outcome::Failure,
    wait::{registration::Registration, seam::Ticket},
};

/// A task's pending waits, each with its ticket, what it left at its source and what its
/// resolution does: the task's own wait (at most one, always first) and the waits an async
/// script awaits, any number at once, in the order they began. The script's waits do not pause
/// the task: while nothing it awaits is ready, the script waits on its waker (its own wait), and
/// each resolution is delivered to the script and wakes it.
///
/// One list, whose first place is kept inline: most tasks never await more than their own wait,
/// and theirs then costs no allocation, and no memory of its own to reach on every wake. The
/// rest (a script's waits, a race's winner) is boxed on first use, so that a task that has none
/// stays small.
#[derive(Default)]
pub(crate) struct Waits {
    own: Option<Own>,
    more: Option<Box<More>>,
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

/// What few tasks' waits have: the waits a script awaits, and the last race's winner.
#[derive(Default)]
struct More {
    awaited: Vec<Pending>,
    /// The index of the last race's winner.
    winner: Option<u32>,
}

/// Every pending wait a finished task held, its own first (see [`Waits::take`]).
pub(crate) type Taken = Chain<option::IntoIter<Pending>, vec::IntoIter<Pending>>;

/// One pending wait of a task (see [`Waits`]).
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

impl Waits {
    /// The task's own wait, pending.
    pub(crate) fn own(&self) -> Option<&Own> {
        self.own.as_ref()
    }

    /// The waits a script awaits, in the order they began.
    pub(crate) fn awaited(&self) -> &[Pending] {
        self.more.as_ref().map_or(&[], |m| &m.awaited)
    }

    /// The index of the last race's winner.
    pub(crate) fn winner(&self) -> Option<u32> {
        self.more.as_ref().and_then(|m| m.winner)
    }

    /// Sets the last race's winner.
    pub(crate) fn set_winner(&mut self, winner: Option<u32>) {
        if winner.is_some() || self.more.is_some() {
            self.more.get_or_insert_with(Box::default).winner = winner;
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
    pub(crate) fn push(&mut self, ticket: Ticket, registration: Registration, then: Then) {
        self.more
            .get_or_insert_with(Box::default)
            .awaited
            .push(Pending {
                ticket,
                registration,
                then,
            });
    }

    /// Takes the pending wait `ticket` out of the list.
    pub(crate) fn remove(&mut self, ticket: Ticket) -> Option<Pending> {
        if self.own.as_ref().is_some_and(|own| own.ticket == ticket) {
            return self.own.take().map(Pending::from);
        }
        let awaited = &mut self.more.as_mut()?.awaited;
        let index = awaited.iter().position(|p| p.ticket == ticket)?;
        Some(awaited.remove(index))
    }

    /// Every pending wait's ticket and registration, in order.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (Ticket, &mut Registration)> {
        let own = self.own.iter_mut().map(|o| (o.ticket, &mut o.registration));
        let awaited = self
            .more
            .iter_mut()
            .flat_map(|m| m.awaited.iter_mut())
            .map(|p| (p.ticket, &mut p.registration));
        own.chain(awaited)
    }

    /// Every pending wait, the task's own first (the task finished).
    pub(crate) fn take(&mut self) -> Taken {
        let own = self.own.take().map(Pending::from).into_iter();
        let awaited = self
            .more
            .as_mut()
            .map(|m| core::mem::take(&mut m.awaited))
            .unwrap_or_default();
        own.chain(awaited)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deliver() -> Then {
        Then::Deliver(Box::new(|_, _, _| {}))
    }

    fn tickets(waits: &[Pending]) -> Vec<Ticket> {
        waits.iter().map(|p| p.ticket).collect()
    }

    #[test]
    fn the_own_wait_stands_first_whenever_it_begins() {
        let mut waits = Waits::default();
        waits.push(1, Registration::None, deliver());
        waits.push(2, Registration::None, deliver());
        assert!(waits.own().is_none());
        waits.begin_own(3);
        assert_eq!(waits.own().map(|p| p.ticket), Some(3));
        assert_eq!(tickets(waits.awaited()), [1, 2]);
        assert!(
            waits.register_own(4, Registration::Waker).is_some(),
            "not its ticket"
        );
        assert!(waits.register_own(3, Registration::Waker).is_none());
        assert!(matches!(
            waits.own().unwrap().registration,
            Registration::Waker
        ));
    }

    #[test]
    fn a_resolved_wait_leaves_the_list_and_the_rest_keep_their_order() {
        let mut waits = Waits::default();
        waits.begin_own(1);
        waits.push(2, Registration::None, deliver());
        waits.push(3, Registration::None, deliver());
        assert!(matches!(
            waits.remove(2).map(|p| p.then),
            Some(Then::Deliver(_))
        ));
        assert!(waits.remove(2).is_none(), "a stale ticket finds nothing");
        assert!(matches!(
            waits.remove(1).map(|p| p.then),
            Some(Then::Resume)
        ));
        assert!(waits.own().is_none());
        assert_eq!(tickets(waits.awaited()), [3]);
        assert!(
            waits.register_own(1, Registration::None).is_some(),
            "no longer pending"
        );
        assert_eq!(waits.take().map(|p| p.ticket).collect::<Vec<_>>(), [3]);
        assert!(waits.awaited().is_empty());
    }
}
