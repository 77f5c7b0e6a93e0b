//! Message waits: per message type, a waiter list and one shared cursor, registered lazily.

use alloc::{sync::Arc, vec::Vec};
use bevy_ecs::{
    entity::Entity,
    message::{Message, MessageCursor, Messages},
    resource::Resource,
    world::World,
};

use crate::{
    outcome::Failure,
    wait::Wait,
    wait::{
        registration::{Registered, Registration},
        seam::{Resolution, Ticket},
    },
};

impl Wait {
    /// Until a message of type `M` written after the wait began is seen (in the next
    /// [`Wake`](crate::CooperatorSystems::Wake)). The message is not consumed: other readers still
    /// see it. `M` must be registered with `add_message`, or the wait fails.
    ///
    /// Costs nothing for message types no task waits on.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// #[derive(Message)]
    /// struct PlayerDied;
    ///
    /// app.add_message::<PlayerDied>();
    /// let game_over = app.world_mut().cooperate([Wait::message::<PlayerDied>()].into_iter());
    /// app.update();
    /// app.world_mut().write_message(PlayerDied);
    /// app.update();
    /// assert!(app.world().get_entity(game_over).is_err()); // resumed and done
    /// ```
    pub fn message<M: Message>() -> Self {
        Wait::custom("Message", |world, task, ticket| {
            register::<M>(world, task, ticket, None)
        })
    }

    /// Until a message of type `M`, written after the wait began, for which `filter` is true.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_cooperator::prelude::*;
    /// # use bevy_ecs::prelude::*;
    /// # let mut app = App::new();
    /// # app.add_plugins(CooperatorPlugin::default().with_budget(Budget::Steps(4)));
    /// #[derive(Message)]
    /// struct ScoreChanged(u32);
    ///
    /// app.add_message::<ScoreChanged>();
    /// let achievement = app
    ///     .world_mut()
    ///     .cooperate([Wait::message_where(|s: &ScoreChanged| s.0 >= 1000)].into_iter());
    /// app.update();
    /// app.world_mut().write_message(ScoreChanged(400));
    /// app.update();
    /// assert!(app.world().get::<Paused>(achievement).is_some());
    /// app.world_mut().write_message(ScoreChanged(1200));
    /// app.update();
    /// assert!(app.world().get_entity(achievement).is_err()); // unlocked
    /// ```
    pub fn message_where<M: Message>(filter: impl Fn(&M) -> bool + Send + Sync + 'static) -> Self {
        let filter: Filter<M> = Arc::new(filter);
        Wait::custom("MessageWhere", move |world, task, ticket| {
            register::<M>(world, task, ticket, Some(filter.clone()))
        })
    }

    /// A message wait that also hands the message that resolved it to `sink` (scripts).
    pub(crate) fn message_into<M: Message>(filter: Option<Filter<M>>, sink: Sink<M>) -> Self {
        Wait::custom("Message", move |world, task, ticket| {
            register_into::<M>(world, task, ticket, filter.clone(), Some(sink.clone()))
        })
    }
}

pub(crate) type Filter<M> = Arc<dyn Fn(&M) -> bool + Send + Sync>;

/// Receives the message that resolved a wait (a script keeps a clone of it).
pub(crate) type Sink<M> = Arc<dyn Fn(&M) + Send + Sync>;

struct Waiter<M> {
    task: Entity,
    ticket: Ticket,
    /// The count of messages written when the wait began: only later ones count.
    after: usize,
    filter: Option<Filter<M>>,
    sink: Option<Sink<M>>,
}

/// The waiters of one message type. Exists only once a task waited on the type.
#[derive(Resource)]
struct MessageWaits<M: Message> {
    cursor: MessageCursor<M>,
    waiters: Vec<Waiter<M>>,
    /// Whether its wake function is in [`ActiveMessageWaits`].
    active: bool,
}

/// One message type's wake: what resolved, and whether waiters remain.
type WakeFn = fn(&mut World) -> (bool, Vec<Resolution>);

/// Wake functions of the message types with waiters. Empty when no task waits on a message.
#[derive(Resource, Default)]
pub(crate) struct ActiveMessageWaits {
    wakes: Vec<WakeFn>,
    /// Pending message waits of every type.
    pub(crate) waiters: usize,
}

pub(crate) fn register<M: Message>(
    world: &mut World,
    task: Entity,
    ticket: Ticket,
    filter: Option<Filter<M>>,
) -> Registered {
    register_into(world, task, ticket, filter, None)
}

/// [`register`], handing the message that resolves the wait to `sink`.
pub(crate) fn register_into<M: Message>(
    world: &mut World,
    task: Entity,
    ticket: Ticket,
    filter: Option<Filter<M>>,
    sink: Option<Sink<M>>,
) -> Registered {
    let Some(messages) = world.get_resource::<Messages<M>>() else {
        return Registered::Now(Err(Failure::msg(alloc::format!(
            "cannot wait for message {}: it is not registered (add_message)",
            core::any::type_name::<M>()
        ))));
    };
    let count = messages.oldest_message_count() + messages.len();
    let current = messages.get_cursor_current();
    let activate = match world.get_resource_mut::<MessageWaits<M>>() {
        Some(mut waits) => {
            let activate = !waits.active;
            if activate {
                waits.cursor = current;
                waits.active = true;
            }
            waits.waiters.push(Waiter {
                task,
                ticket,
                after: count,
                filter,
                sink,
            });
            activate
        }
        None => {
            world.insert_resource(MessageWaits::<M> {
                cursor: current,
                waiters: alloc::vec![Waiter {
                    task,
                    ticket,
                    after: count,
                    filter,
                    sink,
                }],
                active: true,
            });
            true
        }
    };
    let mut active = world.get_resource_or_init::<ActiveMessageWaits>();
    active.waiters += 1;
    if activate {
        active.wakes.push(wake::<M>);
    }
    Registered::Pending(Registration::Remove(remove::<M>))
}

fn remove<M: Message>(world: &mut World, task: Entity, ticket: Ticket) {
    let Some(mut waits) = world.get_resource_mut::<MessageWaits<M>>() else {
        return;
    };
    let before = waits.waiters.len();
    waits
        .waiters
        .retain(|w| !(w.task == task && w.ticket == ticket));
    let removed = before - waits.waiters.len();
    if removed > 0 {
        world.resource_mut::<ActiveMessageWaits>().waiters -= removed;
    }
}

/// Reads the messages written since the last wake and reports the waiters they match; also
/// whether waiters remain.
fn wake<M: Message>(world: &mut World) -> (bool, Vec<Resolution>) {
    let mut hits: Vec<(Entity, Ticket)> = Vec::new();
    let remaining = world.resource_scope(
        |world, mut waits: bevy_ecs::change_detection::Mut<MessageWaits<M>>| {
            let Some(messages) = world.get_resource::<Messages<M>>() else {
                return !waits.waiters.is_empty();
            };
            let MessageWaits {
                cursor, waiters, ..
            } = &mut *waits;
            for (message, id) in cursor.read_with_id(messages) {
                if waiters.is_empty() {
                    break;
                }
                waiters.retain(|w| {
                    let hit = id.id >= w.after && w.filter.as_ref().is_none_or(|f| f(message));
                    if hit {
                        if let Some(sink) = &w.sink {
                            sink(message);
                        }
                        hits.push((w.task, w.ticket));
                    }
                    !hit
                });
            }
            // Skip what remains unread: nobody waits.
            if waiters.is_empty() {
                waits.active = false;
                false
            } else {
                true
            }
        },
    );
    if !hits.is_empty() {
        world.resource_mut::<ActiveMessageWaits>().waiters -= hits.len();
    }
    let resolved = hits
        .into_iter()
        .map(|(task, ticket)| Resolution::new(task, ticket, Ok(())))
        .collect();
    (remaining, resolved)
}

/// Message waits: runs the wake function of every message type with waiters, and hands what
/// each type resolved to `apply` before reading the next type (a waiter registered meanwhile
/// reactivates its type itself).
pub(crate) fn wake_messages(world: &mut World, apply: &mut dyn FnMut(&mut World, Vec<Resolution>)) {
    let Some(mut active) = world.get_resource_mut::<ActiveMessageWaits>() else {
        return;
    };
    if active.wakes.is_empty() {
        return;
    }
    let wakes = core::mem::take(&mut active.wakes);
    let mut kept = Vec::with_capacity(wakes.len());
    for wake in wakes {
        let (remaining, resolved) = wake(world);
        apply(world, resolved);
        if remaining {
            kept.push(wake);
        }
    }
    let mut active = world.resource_mut::<ActiveMessageWaits>();
    kept.append(&mut active.wakes);
    active.wakes = kept;
}
