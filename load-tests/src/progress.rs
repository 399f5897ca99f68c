//! The live progress bar: time through the run, connected clients per
//! kind, updates per second and errors, redrawn four times a second on
//! stderr. Hidden with `--quiet` or when stderr is not a terminal, so logs
//! and CI output stay clean.

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

use crate::stats::{Recorder, Transport};

/// Redraw period.
const REFRESH: Duration = Duration::from_millis(250);

/// Redraws the message rate is averaged over (one second).
const WINDOW: usize = 4;

/// A running progress bar; [`Progress::finish`] clears it.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    refresher: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts drawing when `visible` and stderr is a terminal.
    #[must_use]
    pub fn start(stats: Arc<Recorder>, duration: Duration, visible: bool) -> Progress {
        if !visible || !std::io::stderr().is_terminal() {
            return Progress {
                bar: None,
                refresher: None,
            };
        }
        let bar = ProgressBar::with_draw_target(
            Some(duration.as_secs().max(1)),
            ProgressDrawTarget::stderr_with_hz(4),
        );
        if let Ok(style) =
            ProgressStyle::with_template("{elapsed_precise} [{bar:24}] {pos}/{len}s {msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        let refresher = tokio::spawn(refresh(bar.clone(), stats));
        Progress {
            bar: Some(bar),
            refresher: Some(refresher),
        }
    }

    /// Stops and clears the bar.
    pub fn finish(self) {
        if let Some(task) = self.refresher {
            task.abort();
        }
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

async fn refresh(bar: ProgressBar, stats: Arc<Recorder>) {
    let started = Instant::now();
    let mut clock = tokio::time::interval(REFRESH);
    // The rate is over the last second, so it does not flicker with the
    // tick phase.
    let mut window: VecDeque<(Instant, u64)> = VecDeque::from([(Instant::now(), 0)]);
    loop {
        clock.tick().await;
        let now = (Instant::now(), stats.total(|c| &c.messages));
        let oldest = window.front().copied().unwrap_or(now);
        let rate =
            (now.1 - oldest.1) as f64 / now.0.duration_since(oldest.0).as_secs_f64().max(1e-3);
        window.push_back(now);
        if window.len() > WINDOW {
            window.pop_front();
        }
        let connected: Vec<String> = Transport::ALL
            .iter()
            .filter_map(|&t| {
                let c = &stats.get(t).counters;
                let started = c.started.load(Ordering::Relaxed);
                (started > 0).then(|| {
                    format!(
                        "{} {}/{}",
                        short(t),
                        c.connected.load(Ordering::Relaxed),
                        started
                    )
                })
            })
            .collect();
        bar.set_position(started.elapsed().as_secs());
        bar.set_message(format!(
            "{} | {:.0} msg/s | {} errors",
            connected.join(" "),
            rate,
            stats.total(|c| &c.errors)
        ));
    }
}

fn short(t: Transport) -> &'static str {
    match t {
        Transport::WsPlayer => "ws",
        Transport::SseSpectator => "sse",
        Transport::PollWatcher => "poll",
        Transport::PollPlayer => "legacy",
    }
}
