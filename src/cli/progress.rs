//! Progress on a terminal for long work (`[120/500 namespaces] 0.3 s`): drawn on standard error,
//! only when it is a terminal and without `--quiet`. Only the command line draws; the lab
//! exposes counters that a drawing thread reads (`Lab::progress`).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

static QUIET: AtomicBool = AtomicBool::new(false);

/// The line being drawn, if any: other output goes through `suspend` so it does not land on it.
static SHOWN: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Runs `f` (which prints) with the progress line out of the way, redrawn after.
pub fn suspend<R>(f: impl FnOnce() -> R) -> R {
    let bar = SHOWN.lock().ok().and_then(|b| b.clone());
    match bar {
        Some(bar) => bar.suspend(f),
        None => f(),
    }
}

/// `--quiet`: no progress at all.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether progress is drawn: standard error is a terminal and `--quiet` was not given.
pub fn wanted() -> bool {
    !QUIET.load(Ordering::Relaxed) && std::io::stderr().is_terminal()
}

/// How long work runs before progress appears: short work stays silent.
const QUIET_START: Duration = Duration::from_millis(300);

/// "[120/500 namespaces] 0.3 s" (`total` known) or "[120 namespaces] 0.3 s".
pub fn line(done: usize, total: Option<usize>, what: &str, elapsed: Duration) -> String {
    let count = match total {
        Some(t) => format!("{done}/{t}"),
        None => done.to_string(),
    };
    format!("[{count} {what}] {:.1} s", elapsed.as_secs_f64())
}

/// A progress line redrawn from a counter by a thread of its own, until dropped.
pub struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ticker {
    /// Draws `counter` (out of `total`, if known) as `what`; None when progress is not wanted.
    pub fn start(counter: Arc<AtomicUsize>, total: Option<usize>, what: &'static str) -> Option<Ticker> {
        Ticker::drawing(move || counter.load(Ordering::Relaxed), total, what)
    }

    /// Draws how far a counter of what is left has come down from `total` (a teardown).
    pub fn countdown(left: Arc<AtomicUsize>, what: &'static str) -> Option<Ticker> {
        let total = left.load(Ordering::Relaxed);
        Ticker::drawing(move || total.saturating_sub(left.load(Ordering::Relaxed)), Some(total), what)
    }

    fn drawing(done: impl Fn() -> usize + Send + 'static, total: Option<usize>, what: &'static str) -> Option<Ticker> {
        if !wanted() {
            return None;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let halt = stop.clone();
        let thread = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                let started = Instant::now();
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                bar.set_style(ProgressStyle::with_template("{msg}").expect("a valid template"));
                if let Ok(mut shown) = SHOWN.lock() {
                    *shown = Some(bar.clone());
                }
                while !halt.load(Ordering::Relaxed) {
                    if started.elapsed() >= QUIET_START {
                        bar.set_message(line(done(), total, what, started.elapsed()));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                if let Ok(mut shown) = SHOWN.lock() {
                    *shown = None;
                }
                bar.finish_and_clear();
            })
            .ok()?;
        Some(Ticker { stop, thread: Some(thread) })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines_read_as_the_issue_shows() {
        let t = std::time::Duration::from_millis(300);
        assert_eq!(super::line(120, Some(500), "namespaces", t), "[120/500 namespaces] 0.3 s");
        assert_eq!(super::line(7, None, "namespaces", t), "[7 namespaces] 0.3 s");
    }
}
