//! Round-robin order: one step per task per pass, in insertion order, a cursor that persists
//! across frames, and no task skipping its turn when another leaves (Twisted `testCooperation`).

use crate::common::*;
use bevy_cooperator::*;

// T07
#[test]
fn tasks_interleave_one_step_each_in_insertion_order() {
    let mut app = app_with(Budget::Unlimited);
    let log = Log::new();
    for items in [
        ["a", "b", "c"],
        ["1", "2", "3"],
        ["d", "e", "f"],
        ["4", "5", "6"],
    ] {
        let l = log.clone();
        app.world_mut()
            .cooperate(items.into_iter().map(move |x| l.push(x)));
    }
    app.update();
    assert_eq!(
        log.get(),
        ["a", "1", "d", "4", "b", "2", "e", "5", "c", "3", "f", "6"]
    );
}

// T07 with one step per frame, and E6: the cursor carries over from frame to frame.
#[test]
fn the_cursor_continues_across_frames() {
    let mut app = app();
    let log = Log::new();
    for tag in ["A", "B", "C"] {
        app.world_mut().cooperate(logging(&log, tag, 3));
    }
    for frame in 1..=9 {
        app.update();
        assert_eq!(log.len(), frame, "frame {frame}: exactly one step");
    }
    assert_eq!(
        log.get(),
        ["A0", "B0", "C0", "A1", "B1", "C1", "A2", "B2", "C2"]
    );
}

// The cursor also persists when a frame's budget ends mid-pass.
#[test]
fn a_budget_ending_mid_pass_resumes_with_the_next_task() {
    let mut app = app_with(Budget::Steps(2));
    let log = Log::new();
    for tag in ["A", "B", "C"] {
        app.world_mut().cooperate(logging(&log, tag, 2));
    }
    app.update();
    assert_eq!(log.get(), ["A0", "B0"], "frame 1");
    app.update();
    assert_eq!(log.get(), ["A0", "B0", "C0", "A1"], "frame 2");
    app.update();
    assert_eq!(log.get(), ["A0", "B0", "C0", "A1", "B1", "C1"], "frame 3");
}

// X06 (fixed): a task leaving the queue never makes its successor skip a turn.
// Twisted gives A0 B0 C0 | C1 | B1 C2 | B2; we give A0 B0 C0 | B1 C1 | B2 C2.
#[test]
fn a_finishing_task_does_not_make_its_successor_skip() {
    let mut app = app_with(Budget::Unlimited);
    let log = Log::new();
    app.world_mut().cooperate(logging(&log, "A", 1));
    app.world_mut().cooperate(logging(&log, "B", 3));
    app.world_mut().cooperate(logging(&log, "C", 3));
    app.update();
    assert_eq!(log.get(), ["A0", "B0", "C0", "B1", "C1", "B2", "C2"]);
}

// X06 also holds when a step pauses or stops another task.
#[test]
fn stopping_the_next_task_from_a_step_moves_the_cursor_past_it() {
    let mut app = app_with(Budget::Steps(5));
    let log = Log::new();
    let victim = std::sync::Arc::new(std::sync::Mutex::new(None));
    let (l, v) = (log.clone(), victim.clone());
    let mut n = 0;
    app.world_mut()
        .cooperate(from_fn(move |cx: &mut StepContext| {
            l.push("A".to_string());
            n += 1;
            if n == 1 {
                let b = v.lock().unwrap().unwrap();
                cx.world().stop_task(b).unwrap();
            }
            Step::Continue
        }));
    let b = app.world_mut().cooperate(logging(&log, "B", 10));
    *victim.lock().unwrap() = Some(b);
    app.world_mut().cooperate(logging(&log, "C", 10));
    app.update();
    assert_eq!(log.get(), ["A", "C0", "A", "C1", "A"]);
}

// X05 / E18: a task yielding an already-fired signal goes to the back of the queue.
#[test]
fn waiting_on_a_fired_signal_moves_the_task_to_the_back() {
    let mut app = app_with(Budget::Steps(5));
    let log = Log::new();
    let fired = app.world_mut().spawn_signal();
    app.world_mut().fire_signal(fired).unwrap();
    let l = log.clone();
    app.world_mut().cooperate(
        [
            Step::Wait(Wait::signal(fired)),
            Step::Continue,
            Step::Continue,
        ]
        .into_iter()
        .enumerate()
        .map(move |(i, s)| {
            l.push(format!("A{i}"));
            s
        }),
    );
    app.world_mut().cooperate(logging(&log, "B", 3));
    app.world_mut().cooperate(logging(&log, "C", 3));
    app.update();
    // A moved behind C after its first step, so it runs again only after B and C.
    assert_eq!(log.get(), ["A0", "B0", "C0", "A1", "B1"]);
}

// X07 (kept) / E21: a task added during a tick joins the queue and runs in the same pass.
#[test]
fn a_task_added_during_a_tick_runs_in_the_same_pass() {
    let mut app = app_with(Budget::Steps(4));
    let log = Log::new();
    let l = log.clone();
    let mut spawned = false;
    app.world_mut()
        .cooperate(from_fn(move |cx: &mut StepContext| {
            l.push("spawner".to_string());
            if !spawned {
                spawned = true;
                let l2 = l.clone();
                cx.commands()
                    .cooperate((0..3).map(move |i| l2.push(format!("child{i}"))));
            }
            Step::Continue
        }));
    app.update();
    assert_eq!(log.get(), ["spawner", "child0", "spawner", "child1"]);
}

// T15: `cooperate` puts the task in the global cooperator's run queue at once, and it runs there.
#[test]
fn cooperate_uses_the_global_cooperator() {
    let mut app = app_with(Budget::Unlimited);
    let global = global(&app);
    let log = Log::new();
    let task = app.world_mut().cooperate(logging(&log, "x", 4));
    let coop = app.world().get::<Cooperator>(global).unwrap();
    assert_eq!(coop.run_order(), [task]);
    assert_eq!(
        app.world()
            .get::<CooperativeTask>(task)
            .unwrap()
            .cooperator(),
        global
    );
    app.update();
    assert_eq!(log.get(), ["x0", "x1", "x2", "x3"]);
}

// Several cooperators each step their own tasks within their own budgets.
#[test]
fn each_cooperator_has_its_own_queue_and_budget() {
    let mut app = app_with(Budget::Steps(1));
    let log = Log::new();
    let other = app
        .world_mut()
        .spawn(Cooperator::new(Budget::Steps(3)))
        .id();
    app.world_mut().cooperate(logging(&log, "g", 10));
    app.world_mut()
        .cooperate_on(other, logging(&log, "o", 10))
        .unwrap();
    app.update();
    let got = log.get();
    assert_eq!(got.iter().filter(|s| s.starts_with('g')).count(), 1);
    assert_eq!(got.iter().filter(|s| s.starts_with('o')).count(), 3);
}

// Batched stepping must not cost anyone a turn when a step starts a child task mid-batch.
#[test]
fn a_child_started_mid_pass_keeps_everyone_s_turn() {
    let mut app = app_with(Budget::Steps(12));
    let log = Log::new();
    app.world_mut().cooperate(logging(&log, "a", 10));
    let l = log.clone();
    let mut started = false;
    app.world_mut()
        .cooperate(from_fn(move |cx: &mut StepContext| {
            l.push("b".to_string());
            if !started {
                started = true;
                let l2 = l.clone();
                cx.cooperate((0..10).map(move |i| l2.push(format!("child{i}"))));
            }
            Step::Continue
        }));
    app.world_mut().cooperate(logging(&log, "c", 10));
    app.world_mut().cooperate(logging(&log, "d", 10));
    app.update();
    assert_eq!(
        log.get(),
        [
            "a0", "b", "c0", "d0", "child0", "a1", "b", "c1", "d1", "child1", "a2", "b"
        ]
    );
}

// Regression: when the task due next was the last of its pass and left the queue, the pass
// ended early, so a task joining right after missed it and a task that had had its turn ran
// again first.
#[test]
fn a_task_that_leaves_at_the_end_of_a_pass_does_not_end_the_pass_early() {
    let mut app = app();
    let log = Log::new();
    app.world_mut().cooperate(logging(&log, "A", 2));
    app.update();
    assert_eq!(log.get(), ["A0"]);
    let world = app.world_mut();
    let b = world.cooperate(logging(&log, "B", 2));
    world.stop_task(b).unwrap();
    world.cooperate(logging(&log, "C", 2));
    app.update();
    assert_eq!(log.get(), ["A0", "C0"], "C joined the pass A's turn ended");
    app.update();
    assert_eq!(log.get(), ["A0", "C0", "A1"]);
}

// A resumed task joins the back of the current pass, even right after the pass's last step.
#[test]
fn a_task_resumed_after_the_last_step_of_a_pass_runs_in_that_pass() {
    let mut app = app();
    let log = Log::new();
    let a = app.world_mut().cooperate(logging(&log, "A", 3));
    app.world_mut().cooperate(logging(&log, "B", 3));
    frames(&mut app, 2);
    assert_eq!(log.get(), ["A0", "B0"]);
    let coop = global(&app);
    let world = app.world_mut();
    world.pause_task(a).unwrap();
    world.resume_task(a).unwrap();
    assert_eq!(world.get::<Cooperator>(coop).unwrap().run_order()[0], a);
    app.update();
    assert_eq!(log.get(), ["A0", "B0", "A1"]);
}

// Regression (the Twisted differential): a task that leaves and rejoins in its own step when
// it is the last of the pass (here a wait on a signal fired before the frame) does not run
// again first: the pass is over, and the next begins at the front. Twisted steps A, B, A.
#[test]
fn a_task_rejoining_in_its_own_step_at_the_end_of_a_pass_lets_the_next_pass_begin() {
    let mut app = app_with(Budget::Steps(3));
    let log = Log::new();
    let door = app.world_mut().spawn_signal();
    let a = log.clone();
    app.world_mut()
        .cooperate((0..2).map(move |i| a.push(format!("A{i}"))));
    let b = log.clone();
    let mut b_steps = 0;
    app.world_mut()
        .cooperate(from_fn(move |_: &mut StepContext| {
            b.push(format!("B{b_steps}"));
            b_steps += 1;
            match b_steps {
                1 => Step::Wait(Wait::signal(door)),
                2 => Step::Continue,
                _ => Step::Done,
            }
        }));
    app.world_mut().fire_signal(door).unwrap();
    app.update();
    assert_eq!(log.get(), ["A0", "B0", "A1"]);
    app.update();
    assert_eq!(log.get(), ["A0", "B0", "A1", "B1", "B2"]);
}

// The same with a pause and resume inside its own step.
#[test]
fn a_task_pausing_and_resuming_itself_at_the_end_of_a_pass_lets_the_next_pass_begin() {
    let mut app = app_with(Budget::Steps(4));
    let log = Log::new();
    let a = log.clone();
    app.world_mut()
        .cooperate((0..3).map(move |i| a.push(format!("A{i}"))));
    let b = log.clone();
    let mut b_steps = 0;
    app.world_mut()
        .cooperate(from_fn(move |cx: &mut StepContext| {
            b.push(format!("B{b_steps}"));
            b_steps += 1;
            let me = cx.task();
            cx.world().pause_task(me).unwrap();
            cx.world().resume_task(me).unwrap();
            if b_steps == 3 {
                Step::Done
            } else {
                Step::Continue
            }
        }));
    app.update();
    assert_eq!(log.get(), ["A0", "B0", "A1", "B1"]);
}
