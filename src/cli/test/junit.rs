//! JUnit XML (`--junit FILE`), in the shape GitLab's and GitHub's test reporters read: a
//! `<testsuite>` per scenario file, holding a `<testcase>` for the script itself and one per
//! sub-test; `<failure>` for a check that did not hold, `<error>` for a call that failed or a
//! timeout, `<skipped>`; the scenario's output (and call log, with --capture) in `<system-out>`.

use std::fmt::Write;

use super::human::call_log;
use super::outcome::{Problem, ScenarioResult, Status, Summary};

/// Text for XML 1.0: the five special characters escaped, characters XML cannot hold dropped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// An attribute value: as `escape`, with line breaks kept as character references.
fn attr(text: &str) -> String {
    escape(text).replace('\n', "&#10;").replace('\r', "&#13;").replace('\t', "&#9;")
}

fn secs(ms: f64) -> String {
    format!("{:.3}", ms / 1000.0)
}

/// "tests/failing/no_route.rhai" → "tests.failing.no_route": the class name reporters group by.
fn classname(file: &str) -> String {
    let stem = file.strip_suffix(".rhai").unwrap_or(file).trim_start_matches(['.', '/']);
    stem.replace(['/', '\\'], ".")
}

/// What a problem counts as: "failure", "error" or "skipped".
fn category(status: Status, p: Option<&Problem>) -> Option<&'static str> {
    match status {
        Status::Pass => None,
        Status::Skip => Some("skipped"),
        Status::Timeout => Some("error"),
        Status::Fail => match p.map(|p| p.kind.as_str()) {
            Some("failure") | None => Some("failure"),
            _ => Some("error"),
        },
    }
}

struct Case<'a> {
    name: String,
    line: Option<usize>,
    duration_ms: f64,
    status: Status,
    problem: Option<&'a Problem>,
}

fn cases(r: &ScenarioResult) -> Vec<Case<'_>> {
    let name = r.file.rsplit('/').next().unwrap_or(&r.file).to_string();
    // The script itself passed if it ran to its end, even when a sub-test failed.
    let own_status = match (r.status, &r.problem) {
        (Status::Fail, None) => Status::Pass,
        (s, _) => s,
    };
    let own_ms = if r.subtests.is_empty() {
        r.duration_ms
    } else {
        (r.duration_ms - r.subtests.iter().map(|s| s.duration_ms).sum::<f64>()).max(0.0)
    };
    let mut all = vec![Case {
        name,
        line: r.problem.as_ref().and_then(|p| p.line),
        duration_ms: own_ms,
        status: own_status,
        problem: r.problem.as_ref(),
    }];
    all.extend(r.subtests.iter().map(|s| Case {
        name: s.name.clone(),
        line: s.problem.as_ref().and_then(|p| p.line),
        duration_ms: s.duration_ms,
        status: s.status,
        problem: s.problem.as_ref(),
    }));
    all
}

fn testcase(out: &mut String, r: &ScenarioResult, c: &Case) {
    let mut open = format!(
        "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" time=\"{}\"",
        attr(&c.name),
        attr(&classname(&r.file)),
        attr(&r.file),
        secs(c.duration_ms)
    );
    if let Some(line) = c.line {
        let _ = write!(open, " line=\"{line}\"");
    }
    let Some(cat) = category(c.status, c.problem) else {
        let _ = writeln!(out, "{open}/>");
        return;
    };
    let _ = writeln!(out, "{open}>");
    let message = c.problem.map(|p| p.message.as_str()).unwrap_or("failed");
    let body = c.problem.map(|p| if p.report.trim().is_empty() { p.message.as_str() } else { p.report.as_str() }).unwrap_or("");
    match cat {
        "skipped" => {
            let _ = writeln!(out, "      <skipped message=\"{}\"/>", attr(message));
        }
        _ => {
            let kind =
                if c.status == Status::Timeout { "timeout" } else { c.problem.map(|p| p.kind.as_str()).unwrap_or("failure") };
            let _ = writeln!(out, "      <{cat} message=\"{}\" type=\"{}\">{}</{cat}>", attr(message), attr(kind), escape(body));
        }
    }
    let _ = writeln!(out, "    </testcase>");
}

pub fn render(results: &[ScenarioResult], summary: &Summary) -> String {
    let mut out = String::new();
    let mut totals = [0usize; 4]; // tests, failures, errors, skipped
    for r in results {
        let cs = cases(r);
        let count = |cat: &str| cs.iter().filter(|c| category(c.status, c.problem) == Some(cat)).count();
        let (f, e, s) = (count("failure"), count("error"), count("skipped"));
        for (t, n) in totals.iter_mut().zip([cs.len(), f, e, s]) {
            *t += n;
        }
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{f}\" errors=\"{e}\" skipped=\"{s}\" time=\"{}\">",
            attr(&r.file),
            cs.len(),
            secs(r.duration_ms)
        );
        for c in &cs {
            testcase(&mut out, r, c);
        }
        let mut sysout = r.output.clone();
        if let Some(calls) = &r.calls {
            let _ = write!(sysout, "\n--- calls\n{}", call_log(calls));
        }
        if !sysout.trim().is_empty() {
            let _ = writeln!(out, "    <system-out>{}</system-out>", escape(&sysout));
        }
        if !r.stderr.trim().is_empty() {
            let _ = writeln!(out, "    <system-err>{}</system-err>", escape(&r.stderr));
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"nslab test\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">\n{out}</testsuites>\n",
        totals[0],
        totals[1],
        totals[2],
        totals[3],
        secs(summary.duration_ms)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_invalid_characters_dropped() {
        assert_eq!(escape("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;");
        assert_eq!(escape("bell\u{7}\u{1b}[0m ok\n"), "bell[0m ok\n");
        assert_eq!(attr("two\nlines"), "two&#10;lines");
    }

    #[test]
    fn class_names_follow_the_path() {
        assert_eq!(classname("tests/failing/no_route.rhai"), "tests.failing.no_route");
        assert_eq!(classname("./a.rhai"), "a");
    }
}
