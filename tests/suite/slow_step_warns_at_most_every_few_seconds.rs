//! A step that alone takes longer than its cooperator's whole budget is logged, rate-limited.

use std::{sync::Mutex, time::Duration};

use crate::common::*;
use bevy_cooperator::*;

static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Warn
    }
    fn log(&self, record: &log::Record) {
        // Only this test's own warnings: the other tests of the suite run beside it.
        let ours = std::thread::current()
            .name()
            .is_some_and(|n| n.contains("over_budget_steps_are_counted"));
        if ours && record.level() <= log::Level::Warn {
            WARNINGS.lock().unwrap().push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

#[test]
fn over_budget_steps_are_counted_and_warned_about_rate_limited() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Warn);
    let mut app = app_with(Budget::Time(Duration::from_micros(100)));
    let manual = manual_clock(&mut app);
    let coop = global(&app);
    // Every step takes 200 µs: twice the whole budget.
    let m = manual.clone();
    let slow = app.world_mut().cooperate(std::iter::repeat_with(move || {
        m.advance(Duration::from_micros(200))
    }));
    let stats = |app: &bevy_app::App| {
        app.world()
            .get::<bevy_cooperator::Cooperator>(coop)
            .unwrap()
            .stats()
            .clone()
    };

    // Frame 1: one step, over budget: counted and warned about.
    app.update();
    assert_eq!(stats(&app).over_budget_steps, 1, "frame 1");
    assert_eq!(
        stats(&app).longest_step,
        Some((slow, Duration::from_micros(200)))
    );
    assert_eq!(WARNINGS.lock().unwrap().len(), 1, "frame 1");
    assert!(WARNINGS.lock().unwrap()[0].contains(&format!("task {slow}")));
    // Frames 2-3: counted, not warned again so soon.
    frames(&mut app, 2);
    assert_eq!(stats(&app).over_budget_steps, 3, "frame 3");
    assert_eq!(WARNINGS.lock().unwrap().len(), 1, "frame 3");
    // Five seconds later on the cooperator's clock: warned again.
    manual.advance(Duration::from_secs(5));
    app.update();
    assert_eq!(WARNINGS.lock().unwrap().len(), 2, "frame 4");
}
