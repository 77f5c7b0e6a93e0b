//! A `SystemState` kept across awaits compiles when wrapped in a struct of the script's own
//! (written without it, rustc rejects the script's future: "implementation of `QueryData` is not
//! general enough"), and it sees what changed between its runs.
use crate::common::*;

use bevy_cooperator::*;
use bevy_ecs::{prelude::*, system::SystemState};

#[derive(Component)]
struct Enemy;

/// The workaround the docs show.
struct Enemies(SystemState<Query<'static, 'static, Entity, Added<Enemy>>>);

#[test]
fn a_wrapped_system_state_lives_across_awaits_and_keeps_its_change_ticks() {
    let mut app = app();
    let log = Log::new();
    let l = log.clone();
    app.world_mut().spawn(Enemy);
    app.world_mut().cooperate(script(move |cx| async move {
        let mut enemies = cx.with_world(|w| Enemies(SystemState::new(w))).await;
        for _ in 0..3 {
            let (added, back) = cx
                .with_world(move |w| {
                    let added = enemies.0.get(w).unwrap().iter().count();
                    (added, enemies)
                })
                .await;
            enemies = back;
            l.push(added);
            cx.frames(1).await.unwrap();
        }
    }));
    frames(&mut app, 2);
    app.world_mut().spawn(Enemy);
    app.world_mut().spawn(Enemy);
    frames(&mut app, 3);
    // Only enemies added since the state last ran count.
    assert_eq!(log.get(), vec![1, 0, 2]);
}
