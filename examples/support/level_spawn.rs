//! The components a level's records become, and spawning one record (shared by the examples that
//! load levels).

use bevy_ecs::prelude::*;

use super::level::{Kind, Record};

/// Every entity spawned from a level.
#[derive(Component)]
pub struct LevelEntity;

#[derive(Component)]
#[expect(dead_code, reason = "a game would read these")]
pub struct Position(pub [f32; 3]);

#[derive(Component)]
#[expect(dead_code, reason = "a game would read these")]
pub struct Prop(pub String);

#[derive(Component)]
#[expect(dead_code, reason = "a game would read these")]
pub struct Light {
    pub color: [f32; 3],
    pub intensity: f32,
}

#[derive(Component)]
#[expect(dead_code, reason = "a game would read these")]
pub struct SpawnPoint(pub u8);

#[derive(Component)]
pub struct Waypoint;

/// Spawns one record, a child of its parent; `parents` holds the latest entity at each nesting
/// level (the caller keeps it between records).
pub fn spawn_record(world: &mut World, record: &Record, parents: &mut Vec<Entity>) -> Entity {
    let parent = (record.depth > 0).then(|| ChildOf(parents[record.depth - 1]));
    let base = (LevelEntity, Position(record.position));
    // One spawn with every component: no archetype moves.
    let id = match &record.kind {
        Kind::Prop(mesh) => spawn(world, (base, Prop(mesh.clone())), parent),
        Kind::Light(color, intensity) => {
            let light = Light {
                color: *color,
                intensity: *intensity,
            };
            spawn(world, (base, light), parent)
        }
        Kind::Spawn(team) => spawn(world, (base, SpawnPoint(*team)), parent),
        Kind::Waypoint => spawn(world, (base, Waypoint), parent),
    };
    parents.truncate(record.depth);
    parents.push(id);
    id
}

fn spawn(world: &mut World, bundle: impl Bundle, parent: Option<ChildOf>) -> Entity {
    match parent {
        Some(parent) => world.spawn((bundle, parent)).id(),
        None => world.spawn(bundle).id(),
    }
}
