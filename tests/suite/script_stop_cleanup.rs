//! Stopping a script mid-await (a skipped cutscene) drops its state at once, settles its waiters,
//! stops the children it owns and leaves nothing behind: no task, no observer, no pending wait.
use crate::common::*;

use bevy_cooperator::*;
use bevy_ecs::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Message, Clone)]
struct Advance;

#[derive(EntityEvent)]
struct Poke {
    entity: Entity,
}

#[derive(Resource, Default)]
struct Never(bool);

struct DropFlag(Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn nothing_is_left_behind() {
    let mut app = app_with(Budget::Unlimited);
    app.add_message::<Advance>().init_resource::<Never>();
    let finished = record_finished(&mut app);
    frames(&mut app, 1);
    let entities_before = plain_entity_count(app.world_mut());
    let observers_before = observer_count(app.world_mut());

    let dropped = Arc::new(AtomicBool::new(false));
    let flag = DropFlag(dropped.clone());
    let children = Log::new();
    let c = children.clone();
    let script_task = app.world_mut().cooperate(script(move |cx| async move {
        let _state = flag;
        let a = cx
            .start(std::iter::repeat_with(Wait::next_frame).take(1000))
            .await;
        let b = cx
            .start(script(|cx| async move {
                cx.message::<Advance>().await.ok();
            }))
            .await;
        c.push(a);
        c.push(b);
        cx.wait(Wait::all([
            Wait::race([
                Wait::message::<Advance>(),
                Wait::event::<Poke>(),
                Wait::until(|n: Res<Never>| n.0),
            ]),
            Wait::seconds(100.0).timeout(std::time::Duration::from_secs(50)),
            Wait::task(a),
            Wait::task(b),
        ]))
        .await
        .ok();
    }));
    // Someone waits on the script.
    let watcher = app
        .world_mut()
        .cooperate(wait_then_log(Wait::finished(script_task), &Log::new()));
    frames(&mut app, 3);
    assert!(app.world().get::<Paused>(script_task).is_some());
    let pending = PendingWaits::of(app.world());
    assert!(pending.timers >= 3 && pending.messages >= 2 && pending.conditions == 1);
    assert!(observer_count(app.world_mut()) > observers_before);

    app.world_mut().stop_task(script_task).unwrap();
    assert!(
        dropped.load(Ordering::SeqCst),
        "the script's state is dropped at once"
    );
    let [a, b] = children.get()[..] else { panic!() };
    for child in [a, b] {
        assert_eq!(
            app.world().get::<CooperativeTask>(child).unwrap().outcome(),
            Some(&Outcome::Stopped)
        );
    }
    assert_eq!(PendingWaits::of(app.world()), PendingWaits::default());
    assert_eq!(observer_count(app.world_mut()), observers_before);

    frames(&mut app, 2);
    let ended: Vec<Entity> = finished.get().iter().map(|(e, _)| *e).collect();
    assert!(ended.contains(&watcher), "the waiter was settled");
    assert_eq!(plain_entity_count(app.world_mut()), entities_before);
    assert_eq!(PendingWaits::of(app.world()), PendingWaits::default());
}

#[test]
fn children_are_stopped_when_the_parent_finishes() {
    let mut app = app_with(Budget::Unlimited);
    let finished = record_finished(&mut app);
    let parent = app.world_mut().cooperate(script(|cx| async move {
        cx.start(std::iter::repeat_with(Wait::next_frame).take(1000))
            .await;
    }));
    frames(&mut app, 1);
    let ended = finished.get();
    assert_eq!(ended.len(), 2);
    assert_eq!(kind(&ended[0].1), "stopped");
    assert_eq!(ended[1], (parent, Outcome::Done));
}

#[test]
fn a_detached_despawn_of_the_script_cleans_up_too() {
    let mut app = app();
    app.add_message::<Advance>();
    frames(&mut app, 1);
    let before = plain_entity_count(app.world_mut());
    let task = app.world_mut().cooperate(script(|cx| async move {
        cx.wait(Wait::race([Wait::message::<Advance>(), Wait::seconds(5.0)]))
            .await
            .ok();
    }));
    frames(&mut app, 1);
    app.world_mut().despawn(task);
    frames(&mut app, 1);
    assert_eq!(PendingWaits::of(app.world()), PendingWaits::default());
    assert_eq!(plain_entity_count(app.world_mut()), before);
}
