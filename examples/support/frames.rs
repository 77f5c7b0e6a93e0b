//! Frame-time measurement for the examples: run an app frame by frame, time each
//! `app.update()`, summarise (frames, max, percentiles, total) and plot the runs as an SVG.

use std::time::Duration;

use bevy_app::App;
use bevy_ecs::world::World;
use bevy_platform::time::Instant;

/// The measured frame times of one run.
pub struct FrameTimes {
    /// What ran ("cooperative", "blocking").
    pub label: String,
    /// One entry per `app.update()`.
    pub times: Vec<Duration>,
    /// The number of the first frame (1 for a run of its own; a later phase of one run starts
    /// where the earlier ended, and is plotted there).
    pub first: usize,
}

impl FrameTimes {
    /// Frames run.
    pub fn frames(&self) -> usize {
        self.times.len()
    }

    /// The longest frame.
    pub fn max(&self) -> Duration {
        self.times.iter().copied().max().unwrap_or_default()
    }

    /// The 99th percentile frame (nearest rank).
    pub fn p99(&self) -> Duration {
        self.percentile(99)
    }

    /// The `p`th percentile frame, `p` in 1..=100 (nearest rank).
    pub fn percentile(&self, p: usize) -> Duration {
        let mut sorted = self.times.clone();
        sorted.sort_unstable();
        let rank = (sorted.len() * p).div_ceil(100).max(1);
        sorted.get(rank - 1).copied().unwrap_or_default()
    }

    /// All frames added up: the wall time of the run.
    pub fn total(&self) -> Duration {
        self.times.iter().sum()
    }

    /// One line: label, frames, max, p99, total.
    pub fn summary(&self) -> String {
        format!(
            "{:<12} {:>7} frames   max {:>9}   p99 {:>9}   total {:>9}",
            self.label,
            self.frames(),
            ms(self.max()),
            ms(self.p99()),
            ms(self.total())
        )
    }
}

/// A duration in milliseconds, two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Runs `app` frame by frame, timing each `app.update()`, until `done` says the work is over
/// (checked after each frame) or `max_frames` have run.
pub fn run_frames(
    app: &mut App,
    label: &str,
    max_frames: usize,
    mut done: impl FnMut(&World) -> bool,
) -> FrameTimes {
    let mut times = Vec::new();
    while times.len() < max_frames {
        let start = Instant::now();
        app.update();
        times.push(start.elapsed());
        if done(app.world()) {
            break;
        }
    }
    FrameTimes {
        label: label.to_string(),
        times,
        first: 1,
    }
}

/// Draws the per-frame times of `runs` (log scale) into an SVG file, with each named per-frame
/// budget in `budgets` as a dashed line.
pub fn plot(
    path: &str,
    title: &str,
    budgets: &[(&str, Duration)],
    runs: &[&FrameTimes],
) -> Result<(), String> {
    use plotters::prelude::*;

    let to_ms = |d: &Duration| d.as_secs_f64() * 1e3;
    let frames = runs
        .iter()
        .map(|r| r.first + r.frames() - 1)
        .max()
        .unwrap_or(1)
        .max(2);
    let slowest = runs
        .iter()
        .map(|r| to_ms(&r.max()))
        .chain(budgets.iter().map(|(_, b)| to_ms(b)))
        .fold(1.0, f64::max);
    let fastest = runs
        .iter()
        .flat_map(|r| r.times.iter().map(to_ms))
        .fold(f64::INFINITY, f64::min)
        .clamp(0.001, 1.0);
    let root = SVGBackend::new(path, (900, 480)).into_drawing_area();
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(1..frames, (fastest * 0.8..slowest * 1.5).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("frame")
        .y_desc("frame time (ms, log scale)")
        .y_label_formatter(&|v| format!("{v}"))
        .draw()
        .map_err(err)?;
    for &(name, budget) in budgets {
        let budget_ms = to_ms(&budget);
        chart
            .draw_series(DashedLineSeries::new(
                [(1, budget_ms), (frames, budget_ms)],
                6,
                4,
                BLACK.into(),
            ))
            .map_err(err)?
            .label(format!("{name}: {}", ms(budget)))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
    }
    let colors = [BLUE, RED, GREEN, MAGENTA];
    for (run, color) in runs.iter().zip(colors) {
        let points: Vec<(usize, f64)> = run
            .times
            .iter()
            .enumerate()
            .map(|(i, d)| (run.first + i, to_ms(d)))
            .collect();
        let label = format!(
            "{}: {} frames, max {}, p99 {}",
            run.label,
            run.frames(),
            ms(run.max()),
            ms(run.p99())
        );
        chart
            .draw_series(LineSeries::new(points.iter().copied(), color))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        // Dots too, so a run of a few frames shows.
        if points.len() <= 50 {
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(err)?;
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// The time slice of the plugin's default budget.
pub fn default_time_budget() -> Duration {
    match bevy_cooperator::Budget::default() {
        bevy_cooperator::Budget::Time(budget) => budget,
        _ => Duration::ZERO,
    }
}

/// "debug" or "release": frame times depend on it.
pub fn profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}
