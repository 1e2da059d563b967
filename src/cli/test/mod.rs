//! `nslab test`: finds scenario scripts, runs each in its own sandbox (several at once, each under
//! a time limit), and reports PASS / FAIL / SKIP / TIMEOUT per scenario, as text and optionally as
//! TAP, JUnit XML or JSON.

pub(crate) mod child;
pub(crate) mod discover;
pub(crate) mod human;
pub(crate) mod json;
pub(crate) mod junit;
pub(crate) mod merge;
pub(crate) mod outcome;
pub(crate) mod partition;
pub(crate) mod schedule;
pub(crate) mod tap;

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use miette::{GraphicalReportHandler, GraphicalTheme};

use super::report;
use super::session::{EXIT_FAILED, EXIT_USAGE};
use outcome::Summary;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Scenarios are *.rhai scripts; directories are searched recursively, skipping names that start with \
'.' or '_' (helpers to import). Without PATH: tests/scenarios if it exists, else tests, else the \
current directory.

A scenario fails when it stops with an error or a failed check, or when one of its sub-tests \
(test(\"name\", || ...)) fails; skip(reason) and an unmet require(feature) make it SKIP. A scenario \
sets its own time limit with a line among its first comment lines:
    // timeout: 30
and its own limits on what it may build (see --limit) with one like:
    // limits: strings=128M, arrays=20M
A failing scenario's own output (what it printed) is shown under its report, as `cargo test` does.

Across machines: `--partition K/N` runs the K-th of N shards (by a hash of each scenario's path; \
shards are disjoint and together are the whole suite), `--junit FILE` writes each shard's report, \
and `nslab test --merge-junit OUT IN...` joins them.

Exit status:
  0        nothing failed or timed out (also: an empty shard; reports merged)
  1        a scenario failed or timed out
  2        bad usage: no scenarios found, an unreadable path, a bad --partition, a report that cannot be written or merged
  130      interrupted (Ctrl-C); scenarios still running were stopped and their labs torn down")]
pub struct TestArgs {
    /// Scenario files, or directories to search for them (with --merge-junit: the JUnit reports to merge).
    #[arg(value_name = "PATHS", value_hint = clap::ValueHint::AnyPath)]
    pub paths: Vec<PathBuf>,
    /// How many scenarios run at once [default: the number of CPUs].
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
    /// Seconds a scenario may take before it is stopped and reported as TIMEOUT.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub timeout: f64,
    /// Print TAP version 13 on standard output (the usual report goes to standard error).
    #[arg(long, conflicts_with = "json")]
    pub tap: bool,
    /// Print one JSON document with every result on standard output (the usual report goes to
    /// standard error).
    #[arg(long)]
    pub json: bool,
    /// Also write the results as JUnit XML to FILE (for GitLab / GitHub test reports).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Log every call each scenario makes (arguments, result, duration) and attach the log to
    /// its report (a failing scenario's output is shown either way).
    #[arg(long)]
    pub capture: bool,
    /// Set a limit on what each scenario may build (strings=128M, arrays=20M, ...); repeatable.
    #[arg(long = "limit", value_name = "KEY=VALUE", value_parser = super::LimitArg::parse, long_help = super::LIMIT_HELP)]
    pub limits: Vec<super::LimitArg>,
    /// Run only the K-th of N shards of the scenarios (by a hash of each path, as cargo-nextest's
    /// hash:K/N), for a CI matrix of N machines.
    #[arg(long, value_name = "K/N", value_parser = partition::Partition::parse)]
    pub partition: Option<partition::Partition>,
    /// Merge the JUnit reports given as PATHS (the shards' --junit files) into OUT, and run nothing.
    #[arg(long, value_name = "OUT", conflicts_with_all = ["junit", "tap", "json", "partition"])]
    pub merge_junit: Option<PathBuf>,
    /// Spread each scenario's lab over the machines of this inventory (see `nslab run
    /// --hosts`); the scenarios then run on the machines themselves, not in sandboxes.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub hosts: Option<PathBuf>,
}

/// A script diagnostic as text, without colour or line wrapping (tables in help stay whole).
pub fn render(diag: &dyn miette::Diagnostic) -> String {
    let mut out = String::new();
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(200)
        .with_wrap_lines(false)
        .with_links(false);
    let _ = handler.render_report(&mut out, diag);
    out
}

pub fn run(args: TestArgs) -> i32 {
    if let Some(out) = &args.merge_junit {
        return merge::run(out, &args.paths);
    }
    if !(args.timeout > 0.0 && args.timeout < 1e6) {
        report::plain(format!("--timeout must be a positive number of seconds, not {}", args.timeout), None);
        return EXIT_USAGE;
    }
    if args.jobs == Some(0) {
        report::plain("-j needs at least 1", None);
        return EXIT_USAGE;
    }
    let paths = if args.paths.is_empty() { discover::default_paths() } else { args.paths.clone() };
    let files = match discover::find(&paths) {
        Ok(f) => f,
        Err(e) => {
            report::plain(format!("cannot read {e}"), None);
            return EXIT_USAGE;
        }
    };
    let found = files.len();
    let files: Vec<PathBuf> = match args.partition {
        Some(p) => files.into_iter().filter(|f| p.holds(f)).collect(),
        None => files,
    };
    if let Some(p) = args.partition {
        note!("partition {}/{}: {} of the {found} found", p.k, p.n, report::plural(files.len(), "scenario"));
        if files.is_empty() && found > 0 {
            // A small suite on many machines leaves some with nothing: that is not a failure.
            let summary = Summary::of(&[], 0.0, 0, false);
            if args.json {
                let _ = std::io::stdout().write_all(format!("{}\n", json::render(&[], &summary)).as_bytes());
            }
            if let Some(path) = &args.junit {
                if let Err(e) = std::fs::write(path, junit::render(&[], &summary)) {
                    report::plain(format!("cannot write the JUnit report to {}: {e}", path.display()), None);
                    return EXIT_USAGE;
                }
            }
            return 0;
        }
    }
    if files.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        report::plain(
            format!("no scenarios found in {}", shown.join(", ")),
            Some("scenarios are *.rhai files; names starting with '.' or '_' are skipped".into()),
        );
        return EXIT_USAGE;
    }
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let scenarios = discover::scenarios(files, Duration::from_secs_f64(args.timeout));
    // With --tap or --json standard output is the machine's: people read standard error.
    let to_stderr = args.tap || args.json;
    // A reader that went away (`| head`) is no reason to stop running scenarios.
    let show = |text: &str| {
        let _ = if to_stderr {
            std::io::stderr().write_all(text.as_bytes())
        } else {
            let mut out = std::io::stdout();
            out.write_all(text.as_bytes()).and_then(|_| out.flush())
        };
    };
    let started = Instant::now();
    let finished = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let ticker = super::progress::Ticker::start(finished.clone(), Some(scenarios.len()), "scenarios");
    // Reports come out in the suite's order whatever order scenarios finish in, so that two runs
    // of the same suite read the same: each is shown once those before it have been.
    let order: std::collections::HashMap<&str, usize> = scenarios.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
    let mut waiting: std::collections::BTreeMap<usize, String> = std::collections::BTreeMap::new();
    let mut next = 0;
    let (results, interrupted) = schedule::run(&scenarios, jobs, args.capture, &args.limits, args.hosts.as_deref(), |r| {
        finished.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        waiting.insert(order.get(r.file.as_str()).copied().unwrap_or(usize::MAX), human::scenario(r, args.capture));
        while let Some(text) = waiting.remove(&next) {
            super::progress::suspend(|| show(&text));
            next += 1;
        }
    });
    drop(ticker);
    // After an interruption, those that finished after a scenario that never started.
    for text in waiting.into_values() {
        show(&text);
    }
    let summary = Summary::of(&results, started.elapsed().as_secs_f64() * 1000.0, jobs, interrupted);
    show(&human::summary(&summary));
    if args.tap {
        let _ = std::io::stdout().write_all(tap::render(&results).as_bytes());
    }
    if args.json {
        let _ = std::io::stdout().write_all(format!("{}\n", json::render(&results, &summary)).as_bytes());
    }
    let mut status = if interrupted {
        130
    } else if summary.ok() {
        0
    } else {
        EXIT_FAILED
    };
    if let Some(path) = &args.junit {
        if let Err(e) = std::fs::write(path, junit::render(&results, &summary)) {
            report::plain(format!("cannot write the JUnit report to {}: {e}", path.display()), None);
            status = status.max(EXIT_USAGE);
        }
    }
    status
}
