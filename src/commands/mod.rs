//! Extension traits: start and control tasks from [`World`](bevy_ecs::world::World),
//! [`Commands`](bevy_ecs::system::Commands) and entities.

mod deferred;
mod entity;
mod world;

pub use deferred::CooperateCommandsExt;
pub use entity::{CooperateEntityCommandsExt, CooperateEntityWorldExt};
pub use world::CooperateWorldExt;

use bevy_ecs::{entity::Entity, world::World};

use crate::cooperator::GlobalCooperator;

pub(crate) fn global(world: &World) -> Option<Entity> {
    world.get_resource::<GlobalCooperator>().map(|g| g.0)
}

pub(crate) const NO_PLUGIN: &str =
    "no GlobalCooperator resource: add CooperatorPlugin to the app before cooperating";
