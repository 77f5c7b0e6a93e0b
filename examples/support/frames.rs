//! Frame-time measurement for the examples: run an app frame by frame, time each
//! `app.update()` by the wall clock and by the main thread's CPU time, summarise (frames,
//! percentiles, max, total; frames over a bound) and plot the runs as an SVG.
//!
//! The CPU time beside the wall time tells a frame that did too much work from one whose thread
//! the operating system took off its core (wall time far above CPU time): a frame *kept its core*
//! when its CPU time is at least 90% of its wall time.

use std::time::Duration;

use bevy_app::App;
use bevy_ecs::world::World;
use bevy_platform::time::Instant;

/// The measured frame times of one run.
pub struct FrameTimes {
    /// What ran ("cooperative", "blocking").
    pub label: String,
    /// One entry per `app.update()`: its wall time.
    pub times: Vec<Duration>,
    /// The main thread's CPU time in each `app.update()`, beside `times`; empty when not
    /// measured.
    pub cpu: Vec<Duration>,
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
        nearest_rank(&self.times, p)
    }

    /// The `p`th percentile of the frames' CPU time, `p` in 1..=100 (nearest rank); zero when
    /// not measured.
    pub fn cpu_percentile(&self, p: usize) -> Duration {
        nearest_rank(&self.cpu, p)
    }

    /// The most CPU time a frame took; zero when not measured.
    pub fn cpu_max(&self) -> Duration {
        self.cpu.iter().copied().max().unwrap_or_default()
    }

    /// All frames added up: the wall time of the run.
    pub fn total(&self) -> Duration {
        self.times.iter().sum()
    }

    /// Whether frame `i` (from 0) kept its core: its thread's CPU time was at least 90% of its
    /// wall time. `false` when CPU time was not measured.
    pub fn kept_core(&self, i: usize) -> bool {
        match (self.times.get(i), self.cpu.get(i)) {
            (Some(wall), Some(cpu)) => cpu.as_secs_f64() >= 0.9 * wall.as_secs_f64(),
            _ => false,
        }
    }

    /// One line: label, frames, p50 / p99 / max of the wall time and (when measured) of the CPU
    /// time, total.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "{:<12} {:>7} frames   wall p50 {:>8}  p99 {:>8}  max {:>9}",
            self.label,
            self.frames(),
            ms(self.percentile(50)),
            ms(self.p99()),
            ms(self.max()),
        );
        if !self.cpu.is_empty() {
            line += &format!(
                "   cpu p50 {:>8}  p99 {:>8}  max {:>9}",
                ms(self.cpu_percentile(50)),
                ms(self.cpu_percentile(99)),
                ms(self.cpu_max()),
            );
        }
        line + &format!("   total {:>9}", ms(self.total()))
    }

    /// One line on the frames over `bound`: how many, how many of them kept their core (the
    /// others were slow because the thread was off its core, not for work done), and the
    /// longest frame that kept its core.
    pub fn over(&self, bound: Duration) -> String {
        let over = self.times.iter().filter(|t| **t > bound).count();
        if self.cpu.is_empty() {
            return format!("{:<12} {over} frame(s) over {}", self.label, ms(bound));
        }
        let kept: Vec<Duration> = (0..self.frames())
            .filter(|&i| self.kept_core(i))
            .map(|i| self.times[i])
            .collect();
        let kept_over = kept.iter().filter(|wall| **wall > bound).count();
        let kept_max = kept.iter().copied().max().unwrap_or_default();
        format!(
            "{:<12} {over} frame(s) over {} ({kept_over} of them kept their core); \
             max wall of the {} frame(s) that kept their core {}",
            self.label,
            ms(bound),
            kept.len(),
            ms(kept_max),
        )
    }
}

/// The `p`th percentile of `times`, `p` in 1..=100 (nearest rank); zero for none.
fn nearest_rank(times: &[Duration], p: usize) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted.get(rank - 1).copied().unwrap_or_default()
}

/// A duration in milliseconds, two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Runs `app` frame by frame, timing each `app.update()` (wall and the calling thread's CPU
/// time), until `done` says the work is over (checked after each frame) or `max_frames` have
/// run.
pub fn run_frames(
    app: &mut App,
    label: &str,
    max_frames: usize,
    mut done: impl FnMut(&World) -> bool,
) -> FrameTimes {
    let (mut times, mut cpu) = (Vec::new(), Vec::new());
    // Without a thread clock (an unsupported platform) only the wall time is kept.
    let mut measure_cpu = cpu_time::ThreadTime::try_now().is_ok();
    while times.len() < max_frames {
        let thread = if measure_cpu {
            cpu_time::ThreadTime::try_now().ok()
        } else {
            None
        };
        let start = Instant::now();
        app.update();
        times.push(start.elapsed());
        match thread.map(|t| t.try_elapsed()) {
            Some(Ok(used)) => cpu.push(used),
            _ if measure_cpu => (measure_cpu, cpu) = (false, Vec::new()),
            _ => {}
        }
        if done(app.world()) {
            break;
        }
    }
    FrameTimes {
        label: label.to_string(),
        times,
        cpu,
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
