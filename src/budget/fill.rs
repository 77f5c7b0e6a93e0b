//! A budget that fills the frame ([`Budget::FillFrame`](super::Budget::FillFrame)): each tick gets
//! what the rest of the frame leaves up to a target frame time. The work of the frame before the
//! tick is measured as it happened (the frame's start is read in `First`); the work after it,
//! up to the end of `Last`, is learned from the frames before: it is taken at once when it
//! grows, and lets go of half the gap each frame when it shrinks.

use bevy_app::{App, First, Last};
use bevy_ecs::{
    component::Component,
    entity::Entity,
    resource::Resource,
    schedule::IntoScheduleConfigs,
    system::{Query, Res, ResMut},
    world::World,
};
use core::time::Duration;

use crate::clock::CooperatorClock;

/// When the app's frames begin and end, on the [`CooperatorClock`].
#[derive(Resource, Default, Debug)]
pub(crate) struct FrameClock {
    /// When this frame began (the start of `First`).
    started: Option<Duration>,
    /// The last whole frame, from the start of `First` to the end of `Last`.
    last_frame: Option<Duration>,
}

/// What a frame-filling budget learned, kept on the entity whose budget it is (a cooperator, or
/// a [`FrameBudget`](crate::FrameBudget)'s entity).
#[derive(Component, Default, Debug, Clone, Copy)]
pub(crate) struct FrameFill {
    /// The frame's work after this budget's ticks, learned.
    after: Option<Duration>,
    /// When its tick ended this frame.
    tick_ended: Option<Duration>,
}

/// The frame clock's systems: the frame's start in `First` (before Bevy's time systems), its end
/// in `Last`. Without a [`CooperatorClock`] (a game removed it) they do nothing, and a
/// frame-filling tick counts the frame's work from its own start.
pub(crate) fn build(app: &mut App) {
    app.init_resource::<FrameClock>()
        .add_systems(First, frame_started.before(bevy_time::TimeSystems))
        .add_systems(Last, frame_ended);
}

fn frame_started(clock: Option<Res<CooperatorClock>>, mut frame: ResMut<FrameClock>) {
    frame.started = clock.map(|c| c.now());
}

fn frame_ended(
    clock: Option<Res<CooperatorClock>>,
    mut frame: ResMut<FrameClock>,
    mut fills: Query<&mut FrameFill>,
) {
    let Some(now) = clock.map(|c| c.now()) else {
        return;
    };
    frame.last_frame = frame.started.map(|s| now.saturating_sub(s));
    for mut fill in &mut fills {
        if let Some(ended) = fill.tick_ended.take() {
            fill.after = Some(learn(fill.after, now.saturating_sub(ended)));
        }
    }
}

/// The work after the tick, learned from this frame's `sample`: taken at once when it grew,
/// half the gap let go when it shrank (a frame of unusual work outside the budget does not
/// hold the budget down for long, nor does a steady one make it swing).
fn learn(after: Option<Duration>, sample: Duration) -> Duration {
    match after {
        Some(after) if sample < after => sample + (after - sample) / 2,
        _ => sample,
    }
}

/// What a frame-filling tick may take now: what is left of `target` after the frame's work so
/// far and the work learned to come after the tick, less `margin`, within `[min, max]` (a `min`
/// above `max` wins).
pub(crate) fn grant(
    world: &mut World,
    owner: Entity,
    clock: &CooperatorClock,
    [target, margin, min, max]: [Duration; 4],
) -> Duration {
    let now = clock.now();
    let started = world.get_resource::<FrameClock>().and_then(|f| f.started);
    let so_far = started.map_or(Duration::ZERO, |s| now.saturating_sub(s));
    let learned = match world.get_entity_mut(owner) {
        Ok(mut entity) => match entity.get::<FrameFill>() {
            Some(fill) => fill.after,
            None => {
                entity.insert(FrameFill::default());
                None
            }
        },
        Err(_) => None,
    };
    // The first tick knows nothing of the work after it: it takes the least, so as not to
    // drop the frame it learns from.
    let Some(after) = learned else {
        return min;
    };
    let left = target
        .saturating_sub(so_far)
        .saturating_sub(after)
        .saturating_sub(margin);
    left.clamp(min, max.max(min))
}

/// Marks the end of `owner`'s frame-filling tick: the time from here to the end of the frame is
/// the work after it.
pub(crate) fn tick_ended(world: &mut World, owner: Entity, clock: &CooperatorClock) {
    let now = clock.now();
    if let Some(mut fill) = world.get_mut::<FrameFill>(owner) {
        fill.tick_ended = Some(now);
    }
}

/// The last whole frame, from the start of `First` to the end of `Last`, once one was seen.
pub(crate) fn last_frame(world: &World) -> Option<Duration> {
    world
        .get_resource::<FrameClock>()
        .and_then(|f| f.last_frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn the_work_after_the_tick_is_taken_at_once_when_it_grows_and_halved_away_when_it_shrinks() {
        assert_eq!(learn(None, MS(3)), MS(3));
        assert_eq!(learn(Some(MS(3)), MS(6)), MS(6));
        assert_eq!(learn(Some(MS(6)), MS(2)), MS(4));
        assert_eq!(learn(Some(MS(4)), MS(2)), MS(3));
        assert_eq!(learn(Some(MS(2)), MS(2)), MS(2));
    }
}
