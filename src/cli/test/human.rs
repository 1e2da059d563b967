//! The report people read: a line per scenario as it finishes (status, time, file), its
//! sub-tests under it, the diagnostics of what failed, and a summary.

use std::fmt::Write;

use super::outcome::{Call, ScenarioResult, Status, Summary};
use super::schedule::fmt_seconds;

fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.trim_end().lines().map(|l| if l.is_empty() { String::new() } else { format!("{pad}{l}") }).collect::<Vec<_>>().join("\n")
}

/// The block printed when a scenario finishes. `capture`: attach its output and call log.
pub fn scenario(r: &ScenarioResult, capture: bool) -> String {
    let mut out = String::new();
    let reason = match (r.status, &r.problem) {
        (Status::Skip | Status::Timeout, Some(p)) => format!(": {}", p.message),
        _ => String::new(),
    };
    let _ = writeln!(out, "{:<8}{:>7.2} s  {}{reason}", r.status.word(), r.seconds(), r.file);
    for s in &r.subtests {
        let why = match (&s.problem, s.status) {
            (Some(p), Status::Skip) => format!(": {}", p.message),
            _ => String::new(),
        };
        let _ = writeln!(out, "    {:<8}{:>7.2} s  {}{why}", s.status.word(), s.duration_ms / 1000.0, s.name);
    }
    if r.status.failed() {
        for (sub, p) in r.problems() {
            let _ = match sub {
                Some(name) => writeln!(out, "\n    in sub-test {name:?}:"),
                None => writeln!(out),
            };
            let body = if p.report.trim().is_empty() { &p.message } else { &p.report };
            let _ = writeln!(out, "{}", indent(body, 4));
        }
        // Its own output, as `cargo test` shows a failing test's.
        if !r.output.trim().is_empty() {
            let _ = writeln!(out, "\n    output:\n{}", indent(&r.output, 6));
        }
        if capture {
            if let Some(calls) = &r.calls {
                let _ = writeln!(out, "\n    calls:\n{}", indent(&call_log(calls), 6));
            }
        }
        out.push('\n');
    }
    out
}

/// The call log: when (ms from the first call), how long, the line, the call and what it gave.
pub fn call_log(calls: &[Call]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:>9} {:>9}  {:<5} call", "at ms", "took ms", "line");
    for c in calls {
        let line = c.line.map(|l| l.to_string()).unwrap_or_default();
        let arrow = if c.ok { "->" } else { "!!" };
        let _ = writeln!(
            out,
            "{:>9.1} {:>9.1}  {:<5} {}{} {arrow} {}",
            c.at_ms,
            c.duration_ms,
            line,
            "  ".repeat(c.depth),
            c.call,
            c.result
        );
    }
    out
}

/// The closing lines. The first has the form CI log readers count: "scenarios: N passed, N failed, N skipped".
pub fn summary(s: &Summary) -> String {
    let mut out = format!("scenarios: {} passed, {} failed, {} skipped\n", s.passed, s.failed + s.timed_out, s.skipped);
    let mut notes = Vec::new();
    if s.timed_out > 0 {
        notes.push(format!("{} of the failed timed out", s.timed_out));
    }
    if s.interrupted {
        notes.push("interrupted before the end".into());
    }
    notes.push(format!(
        "{} in {} s with -j {}",
        super::super::report::plural(s.total, "scenario"),
        fmt_seconds((s.duration_ms / 10.0).round() / 100.0),
        s.jobs
    ));
    out += &notes.join("; ");
    out.push('\n');
    out
}
