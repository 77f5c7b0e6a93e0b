//! Frame and time waits: ordered deadlines, reported to the wake system when due.

use alloc::{collections::BTreeMap, vec::Vec};
use bevy_ecs::{entity::Entity, resource::Resource, world::World};
use bevy_time::{Real, Time};
use core::time::Duration;

use crate::{
    outcome::Failure,
    wait::{
        registration::{Registered, Registration, TimerKey},
        seam::{Resolution, Ticket},
    },
};

/// Which clock a time wait runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Clock {
    /// `Time` in the plugin's schedule (`Time<Virtual>` in `Update`).
    Virtual,
    /// `Time<Real>`.
    Real,
}

type Entry = (Entity, Ticket);

/// Pending frame and time waits, each ordered by deadline (then by registration order).
#[derive(Resource, Default)]
pub(crate) struct WaitTimers {
    /// Frames counted by the wake system.
    pub(crate) frame: u64,
    seq: u64,
    frames: BTreeMap<(u64, u64), Entry>,
    virtual_time: BTreeMap<(Duration, u64), Entry>,
    real_time: BTreeMap<(Duration, u64), Entry>,
    /// Deadlines up to these were popped by the last wake: cancelling one is a no-op, so a
    /// resolved timer's cancellation skips the map search.
    popped_virtual: Duration,
    popped_real: Duration,
}

impl WaitTimers {
    /// Pending timers of every kind.
    pub(crate) fn len(&self) -> usize {
        self.frames.len() + self.virtual_time.len() + self.real_time.len()
    }
}

pub(crate) fn register_frames(
    world: &mut World,
    task: Entity,
    ticket: Ticket,
    n: u32,
) -> Registered {
    let mut timers = world.get_resource_or_init::<WaitTimers>();
    timers.seq += 1;
    let key = (timers.frame + u64::from(n), timers.seq);
    timers.frames.insert(key, (task, ticket));
    Registered::Pending(Registration::Timer(TimerKey::Frame(key.0, key.1)))
}

pub(crate) fn register_time(
    world: &mut World,
    task: Entity,
    ticket: Ticket,
    clock: Clock,
    duration: Duration,
) -> Registered {
    let now = match clock {
        Clock::Virtual => world.get_resource::<Time>().map(Time::elapsed),
        Clock::Real => world.get_resource::<Time<Real>>().map(Time::elapsed),
    };
    let Some(now) = now else {
        return Registered::Now(Err(Failure::msg(
            "time waits need a Time resource: add TimePlugin",
        )));
    };
    if duration.is_zero() {
        return Registered::Now(Ok(()));
    }
    let due = now.saturating_add(duration);
    let mut timers = world.get_resource_or_init::<WaitTimers>();
    timers.seq += 1;
    let seq = timers.seq;
    let key = match clock {
        Clock::Virtual => {
            timers.virtual_time.insert((due, seq), (task, ticket));
            TimerKey::Virtual(due, seq)
        }
        Clock::Real => {
            timers.real_time.insert((due, seq), (task, ticket));
            TimerKey::Real(due, seq)
        }
    };
    Registered::Pending(Registration::Timer(key))
}

pub(crate) fn cancel(world: &mut World, key: TimerKey) {
    let Some(mut timers) = world.get_resource_mut::<WaitTimers>() else {
        return;
    };
    // Every deadline is later than the last wake's clock when registered, so one at or before
    // it was popped already.
    match key {
        TimerKey::Frame(a, b) if a > timers.frame => timers.frames.remove(&(a, b)),
        TimerKey::Virtual(a, b) if a > timers.popped_virtual => timers.virtual_time.remove(&(a, b)),
        TimerKey::Real(a, b) if a > timers.popped_real => timers.real_time.remove(&(a, b)),
        _ => None,
    };
}

fn pop_due<K: Ord + Copy>(map: &mut BTreeMap<(K, u64), Entry>, now: K, due: &mut Vec<Entry>) {
    while let Some(entry) = map.first_entry() {
        if entry.key().0 > now {
            break;
        }
        due.push(entry.remove());
    }
}

/// Counts the frame and reports the frame and time waits now due, in deadline order (frames,
/// then virtual time, then real time).
pub(crate) fn wake_timers(world: &mut World) -> Vec<Resolution> {
    let virtual_now = world.get_resource::<Time>().map(Time::elapsed);
    let real_now = world.get_resource::<Time<Real>>().map(Time::elapsed);
    let mut timers = world.resource_mut::<WaitTimers>();
    timers.frame += 1;
    if timers.len() == 0 {
        return Vec::new();
    }
    let now = timers.frame;
    let mut due = Vec::new();
    pop_due(&mut timers.frames, now, &mut due);
    if let Some(now) = virtual_now {
        pop_due(&mut timers.virtual_time, now, &mut due);
        timers.popped_virtual = now;
    }
    if let Some(now) = real_now {
        pop_due(&mut timers.real_time, now, &mut due);
        timers.popped_real = now;
    }
    due.into_iter()
        .map(|(task, ticket)| Resolution::new(task, ticket, Ok(())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(i: u32) -> Entity {
        Entity::from_raw_u32(i).unwrap()
    }

    fn key(registered: Registered) -> TimerKey {
        match registered {
            Registered::Pending(Registration::Timer(key)) => key,
            _ => panic!("a pending timer"),
        }
    }

    fn reported(world: &mut World) -> Vec<(Entity, Ticket)> {
        wake_timers(world)
            .into_iter()
            .map(|r| (r.task, r.ticket))
            .collect()
    }

    #[test]
    fn frame_timers_are_reported_when_due_in_the_order_they_were_set_and_cancel_removes_them() {
        let mut world = World::new();
        world.init_resource::<WaitTimers>();
        register_frames(&mut world, e(1), 10, 2);
        let cancelled = key(register_frames(&mut world, e(2), 20, 1));
        register_frames(&mut world, e(3), 30, 1);
        cancel(&mut world, cancelled);
        assert_eq!(world.resource::<WaitTimers>().len(), 2);
        assert_eq!(reported(&mut world), [(e(3), 30)], "frame 1");
        assert_eq!(reported(&mut world), [(e(1), 10)], "frame 2");
        assert_eq!(reported(&mut world), []);
        assert_eq!(world.resource::<WaitTimers>().len(), 0);
    }

    #[test]
    fn time_timers_are_reported_in_deadline_order_and_saturate() {
        let mut world = World::new();
        world.init_resource::<WaitTimers>();
        world.insert_resource(Time::<()>::default());
        let ms = Duration::from_millis;
        register_time(&mut world, e(1), 1, Clock::Virtual, ms(30));
        register_time(&mut world, e(2), 2, Clock::Virtual, ms(10));
        register_time(&mut world, e(3), 3, Clock::Virtual, Duration::MAX);
        assert!(matches!(
            register_time(&mut world, e(4), 4, Clock::Virtual, Duration::ZERO),
            Registered::Now(Ok(()))
        ));
        assert!(
            matches!(
                register_time(&mut world, e(5), 5, Clock::Real, ms(1)),
                Registered::Now(Err(_))
            ),
            "no Time<Real>: a clear failure"
        );
        world.resource_mut::<Time>().advance_by(ms(40));
        assert_eq!(reported(&mut world), [(e(2), 2), (e(1), 1)]);
        world.resource_mut::<Time>().advance_by(ms(1_000_000));
        assert_eq!(reported(&mut world), [], "Duration::MAX is never due");
    }
}
