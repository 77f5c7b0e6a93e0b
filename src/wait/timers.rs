//! Frame and time waits: ordered deadlines, reported to the wake system when due.

use alloc::{collections::BTreeMap, vec::Vec};
use bevy_ecs::{entity::Entity, resource::Resource, world::World};
use bevy_time::{Real, Time};
use core::time::Duration;

use crate::{
    outcome::Failure,
    wait::{Wait, WaitKind},
    wait::{
        registration::{Registered, Registration, TimerKey},
        seam::{Resolution, Ticket},
    },
};

impl Wait {
    /// For `n` frames: the task runs again `n` frames later. `frames(0)` only moves the task to the
    /// back of the run queue.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// // A torch flickers every 3 frames.
    /// let torch = app.world_mut().cooperate(std::iter::repeat_with(|| Wait::frames(3)));
    /// for _ in 0..7 {
    ///     app.update();
    /// }
    /// // It ran in frames 1, 4 and 7.
    /// assert_eq!(app.world().task_steps(torch), Ok(3));
    /// ```
    pub fn frames(n: u32) -> Self {
        Wait::new(WaitKind::Frames(n))
    }

    /// Until the next frame: [`Wait::frames(1)`](Wait::frames).
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// // One step a frame, whatever the budget.
    /// let crowd = app.world_mut().cooperate(std::iter::repeat_with(Wait::next_frame));
    /// for _ in 0..5 {
    ///     app.update();
    /// }
    /// assert_eq!(app.world().task_steps(crowd), Ok(5));
    /// ```
    pub fn next_frame() -> Self {
        Wait::frames(1)
    }

    /// For `duration` of `Time` in the plugin's schedule (`Time<Virtual>` in `Update`): pausing
    /// or slowing virtual time pauses or slows the wait, so a cutscene pauses with the game.
    ///
    /// The task resumes in the [`Wake`](crate::CooperatorSystems::Wake) of the first frame whose
    /// elapsed time reaches the deadline. Needs `TimePlugin`; without a `Time` resource the wait
    /// fails. `Duration::ZERO` is resolved at once (the task goes to the back of the run queue);
    /// a deadline past what `Duration` holds (`Duration::MAX`) is never reached: the task waits
    /// until it is stopped, or a [`race`](Wait::race) or [`timeout`](Wait::timeout) around the
    /// wait settles it.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # use bevy_time::{TimePlugin, TimeUpdateStrategy};
    /// # let mut app = App::new();
    /// # app.add_plugins((TimePlugin, CooperatorPlugin::default().with_budget(Budget::Steps(4))))
    /// #     .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(100)));
    /// # app.finish();
    /// # app.cleanup();
    /// use bevy_time::{Time, Virtual};
    ///
    /// // A trap re-arms 300 ms after springing; frames are 100 ms here.
    /// let trap = app.world_mut().cooperate(
    ///     [Step::Wait(Wait::duration(Duration::from_millis(300))), Step::Done].into_iter(),
    /// );
    /// app.update(); // springs at 0 ms (the first frame's time): re-arms at 300 ms of game time
    /// // The game is paused for a frame: virtual time stands still, and so does the wait.
    /// app.world_mut().resource_mut::<Time<Virtual>>().pause();
    /// app.update();
    /// app.world_mut().resource_mut::<Time<Virtual>>().unpause();
    /// app.update();
    /// app.update();
    /// assert!(app.world().get::<Paused>(trap).is_some()); // only 200 ms of game time
    /// app.update();
    /// assert!(app.world().get_entity(trap).is_err());
    /// ```
    pub fn duration(duration: Duration) -> Self {
        Wait::new(WaitKind::Time(Clock::Virtual, duration))
    }

    /// [`Wait::duration`] in seconds, rounded to the microsecond (so `0.05` is exactly 50 ms).
    ///
    /// Never panics. Zero, negative values (`-∞` included) and NaN are a zero wait, resolved at
    /// once: the task goes to the back of the run queue, as for `Duration::ZERO`. `+∞`, and
    /// values beyond `u64::MAX` microseconds (about 585,000 years), never resolve by time.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # use bevy_time::{TimePlugin, TimeUpdateStrategy};
    /// # let mut app = App::new();
    /// # app.add_plugins((TimePlugin, CooperatorPlugin::default().with_budget(Budget::Steps(4))))
    /// #     .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(100)));
    /// # app.finish();
    /// # app.cleanup();
    /// // A respawn timer of half a second; frames are 100 ms here.
    /// let respawn = app.world_mut().cooperate([Wait::seconds(0.5)].into_iter());
    /// for _ in 0..5 {
    ///     app.update(); // starts at 0 ms (the first frame's time), due at 500 ms
    /// }
    /// assert!(app.world().get::<Paused>(respawn).is_some());
    /// app.update();
    /// assert!(app.world().get_entity(respawn).is_err());
    /// ```
    pub fn seconds(seconds: f32) -> Self {
        let micros = (f64::from(seconds.max(0.0)) * 1e6).round();
        Wait::duration(Duration::from_micros(micros as u64))
    }

    /// For `duration` of `Time<Real>`: wall-clock time, not frozen by pausing virtual time.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # use bevy_time::{TimePlugin, TimeUpdateStrategy};
    /// # let mut app = App::new();
    /// # app.add_plugins((TimePlugin, CooperatorPlugin::default().with_budget(Budget::Steps(4))))
    /// #     .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(100)));
    /// # app.finish();
    /// # app.cleanup();
    /// use bevy_time::{Time, Virtual};
    ///
    /// // The pause menu's "are you still there?" prompt runs on real time.
    /// app.world_mut().resource_mut::<Time<Virtual>>().pause();
    /// let prompt = app.world_mut().cooperate([Wait::real(Duration::from_millis(200))].into_iter());
    /// app.update(); // 0 ms (the first frame's time): due at 200 ms
    /// app.update();
    /// assert!(app.world().get::<Paused>(prompt).is_some());
    /// app.update();
    /// assert!(app.world().get_entity(prompt).is_err()); // though the game is paused
    /// ```
    pub fn real(duration: Duration) -> Self {
        Wait::new(WaitKind::Time(Clock::Real, duration))
    }
}

/// Which clock a time wait runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Clock {
    /// `Time` in the plugin's schedule (`Time<Virtual>` in `Update`).
    Virtual,
    /// `Time<Real>`.
    Real,
}

/// Deadlines in registration order: a deadline (a frame, or nanoseconds on its clock), then the
/// wait's ticket (tickets are handed out in the order waits register), to the task waiting.
type Deadlines = BTreeMap<(u64, Ticket), Entity>;

/// Pending frame and time waits, each ordered by deadline (then by registration order).
#[derive(Resource, Default)]
pub(crate) struct WaitTimers {
    /// Frames counted by the wake system.
    pub(crate) frame: u64,
    frames: Deadlines,
    virtual_time: Deadlines,
    real_time: Deadlines,
    /// Deadlines up to these (nanoseconds) were popped by the last wake: cancelling one is a
    /// no-op, so a resolved timer's cancellation skips the map search.
    popped_virtual: u64,
    popped_real: u64,
}

impl WaitTimers {
    /// Pending timers of every kind.
    pub(crate) fn len(&self) -> usize {
        self.frames.len() + self.virtual_time.len() + self.real_time.len()
    }
}

/// A deadline 584 years of its clock away or more ([`Duration::MAX`], +∞ seconds): it never
/// comes, even once the clock has run that far.
const NEVER: u64 = u64::MAX;

/// Nanoseconds on a clock, at most [`NEVER`].
fn nanos(time: Duration) -> u64 {
    u64::try_from(time.as_nanos()).unwrap_or(u64::MAX)
}

pub(crate) fn register_frames(
    world: &mut World,
    task: Entity,
    ticket: Ticket,
    n: u32,
) -> Registered {
    let mut timers = world.get_resource_or_init::<WaitTimers>();
    let due = timers.frame + u64::from(n);
    timers.frames.insert((due, ticket), task);
    Registered::Pending(Registration::Timer(TimerKey::Frame(due)))
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
    let due = nanos(now.saturating_add(duration));
    let mut timers = world.get_resource_or_init::<WaitTimers>();
    let key = match clock {
        Clock::Virtual => {
            timers.virtual_time.insert((due, ticket), task);
            TimerKey::Virtual(due)
        }
        Clock::Real => {
            timers.real_time.insert((due, ticket), task);
            TimerKey::Real(due)
        }
    };
    Registered::Pending(Registration::Timer(key))
}

/// Cancels the timer of the wait `ticket`.
pub(crate) fn cancel(world: &mut World, key: TimerKey, ticket: Ticket) {
    let Some(mut timers) = world.get_resource_mut::<WaitTimers>() else {
        return;
    };
    // Every deadline is later than the last wake's clock when registered, so one at or before
    // it was popped already.
    match key {
        TimerKey::Frame(due) if due > timers.frame => timers.frames.remove(&(due, ticket)),
        TimerKey::Virtual(due) if due > timers.popped_virtual => {
            timers.virtual_time.remove(&(due, ticket))
        }
        TimerKey::Real(due) if due > timers.popped_real => timers.real_time.remove(&(due, ticket)),
        _ => None,
    };
}

fn pop_due(map: &mut Deadlines, now: u64, due: &mut Vec<(Entity, Ticket)>) {
    while let Some(entry) = map.first_entry() {
        if entry.key().0 > now || entry.key().0 == NEVER {
            break;
        }
        let ticket = entry.key().1;
        due.push((entry.remove(), ticket));
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
    if let Some(now) = virtual_now.map(nanos) {
        pop_due(&mut timers.virtual_time, now, &mut due);
        timers.popped_virtual = now;
    }
    if let Some(now) = real_now.map(nanos) {
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
        cancel(&mut world, cancelled, 20);
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

    #[test]
    fn a_deadline_that_never_comes_stays_even_when_the_clock_is_as_far() {
        let mut map = Deadlines::new();
        map.insert((5, 1), e(1));
        map.insert((NEVER, 2), e(2));
        let mut due = Vec::new();
        pop_due(&mut map, nanos(Duration::MAX), &mut due);
        assert_eq!(due, [(e(1), 1)]);
        assert_eq!(map.len(), 1);
    }
}
