//! TAP version 13 (`--tap`): a test point per scenario, with a YAML block saying why for those
//! that did not pass. Sub-tests are given as indented TAP before their scenario's test point,
//! after a `# Subtest:` comment (the TAP 14 form, which TAP 13 consumers skip as non-TAP lines).

use std::fmt::Write;

use super::outcome::{Problem, ScenarioResult, Status, SubResult};
use super::schedule::fmt_seconds;

/// A test point's description: '#' would start a directive, so it is escaped.
fn description(text: &str) -> String {
    text.replace('\\', "\\\\").replace('#', "\\#").replace('\n', " ")
}

/// A YAML scalar: JSON strings are valid YAML double-quoted scalars.
fn scalar(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

fn yaml_block(out: &mut String, pad: &str, problem: &Problem, duration_ms: f64, severity: &str) {
    let _ = writeln!(out, "{pad}  ---");
    let _ = writeln!(out, "{pad}  message: {}", scalar(&problem.message));
    let _ = writeln!(out, "{pad}  severity: {severity}");
    if let Some(file) = &problem.file {
        let _ = writeln!(out, "{pad}  file: {}", scalar(file));
    }
    if let Some(line) = problem.line {
        let _ = writeln!(out, "{pad}  line: {line}");
    }
    let _ = writeln!(out, "{pad}  duration_ms: {:.1}", duration_ms);
    if !problem.report.trim().is_empty() {
        let _ = writeln!(out, "{pad}  report: |2-");
        for l in problem.report.trim_end().lines() {
            let _ = writeln!(out, "{pad}    {}", l.trim_end());
        }
    }
    let _ = writeln!(out, "{pad}  ...");
}

/// One test point: a scenario or a sub-test.
struct Point<'a> {
    n: usize,
    name: &'a str,
    status: Status,
    problem: Option<&'a Problem>,
    duration_ms: f64,
    /// The time limit, for TIMEOUT.
    limit: f64,
}

fn point(out: &mut String, pad: &str, p: &Point) {
    let (n, desc) = (p.n, description(p.name));
    match p.status {
        Status::Pass => {
            let _ = writeln!(out, "{pad}ok {n} - {desc}");
        }
        Status::Skip => {
            let why = p.problem.map(|p| description(&p.message)).unwrap_or_default();
            let _ = writeln!(out, "{pad}ok {n} - {desc} # SKIP {why}");
        }
        Status::Fail => {
            let _ = writeln!(out, "{pad}not ok {n} - {desc}");
            if let Some(problem) = p.problem {
                let severity = if problem.kind == "failure" { "fail" } else { "error" };
                yaml_block(out, pad, problem, p.duration_ms, severity);
            }
        }
        Status::Timeout => {
            let _ = writeln!(out, "{pad}not ok {n} - {desc} (TIMEOUT after {} s)", fmt_seconds(p.limit));
            if let Some(problem) = p.problem {
                yaml_block(out, pad, problem, p.duration_ms, "timeout");
            }
        }
    }
}

fn subtests(out: &mut String, r: &ScenarioResult) {
    if r.subtests.is_empty() {
        return;
    }
    let _ = writeln!(out, "# Subtest: {}", description(&r.file));
    let _ = writeln!(out, "    1..{}", r.subtests.len());
    for (i, s) in r.subtests.iter().enumerate() {
        let SubResult { name, status, duration_ms, problem } = s;
        let p = Point { n: i + 1, name, status: *status, problem: problem.as_ref(), duration_ms: *duration_ms, limit: 0.0 };
        point(out, "    ", &p);
    }
}

pub fn render(results: &[ScenarioResult]) -> String {
    let mut out = String::from("TAP version 13\n");
    let _ = writeln!(out, "1..{}", results.len());
    for (i, r) in results.iter().enumerate() {
        subtests(&mut out, r);
        // A scenario that failed only through its sub-tests has no problem of its own: say so.
        let own = r.problem.clone().or_else(|| {
            r.status.failed().then(|| {
                let failed: Vec<&str> = r.subtests.iter().filter(|s| s.status.failed()).map(|s| s.name.as_str()).collect();
                Problem::plain("failure", format!("sub-tests failed: {}", failed.join(", ")))
            })
        });
        let p = Point {
            n: i + 1,
            name: &r.file,
            status: r.status,
            problem: own.as_ref(),
            duration_ms: r.duration_ms,
            limit: r.timeout_s,
        };
        point(&mut out, "", &p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_escape_directives() {
        assert_eq!(description("a#b\\c"), "a\\#b\\\\c");
        assert_eq!(scalar("say \"hi\"\n"), "\"say \\\"hi\\\"\\n\"");
    }
}
