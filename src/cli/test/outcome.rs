//! What a scenario run produces: the report a child process writes about its script, and the
//! result the runner makes of it (adding the file, the time taken, timeouts and output).
//! Both are JSON (serde): the report crosses a process boundary, the result is `--json`'s.

use serde::{Deserialize, Serialize};

use crate::script::{ErrorKind, ScriptError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Skip,
    Timeout,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
            Status::Timeout => "TIMEOUT",
        }
    }

    pub fn failed(self) -> bool {
        matches!(self, Status::Fail | Status::Timeout)
    }
}

/// Why something did not pass.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// "failure" (a check did not hold), "error" (a call failed, bad syntax, an unknown function),
    /// "skip", "timeout", "interrupted" or "crash".
    pub kind: String,
    /// One line.
    pub message: String,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The full diagnostic as printed: the script line with the failing call underlined, and help.
    pub report: String,
}

impl Problem {
    pub fn plain(kind: &str, message: impl Into<String>) -> Problem {
        Problem { kind: kind.into(), message: message.into(), ..Default::default() }
    }

    pub fn from_script(e: &ScriptError) -> Problem {
        let kind = match e.kind {
            ErrorKind::Assertion => "failure",
            ErrorKind::Skipped => "skip",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::Syntax | ErrorKind::Check | ErrorKind::Runtime => "error",
        };
        Problem {
            kind: kind.into(),
            message: e.message.clone(),
            file: Some(e.src.name().to_string()),
            line: (e.line > 0).then_some(e.line),
            column: (e.column > 0).then_some(e.column),
            report: super::render(e),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubResult {
    pub name: String,
    pub status: Status,
    pub duration_ms: f64,
    pub problem: Option<Problem>,
}

/// One logged call (with `--capture`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// Milliseconds from the scenario's first call.
    pub at_ms: f64,
    pub duration_ms: f64,
    pub depth: usize,
    pub line: Option<usize>,
    /// `name(arg, ...)`, arguments as the script would write them.
    pub call: String,
    pub ok: bool,
    /// The value returned, or the error.
    pub result: String,
}

/// What the child process running one scenario writes for the runner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildReport {
    /// Pass, Fail or Skip: the child does not know about timeouts (an interrupted run is Fail
    /// with an "interrupted" problem).
    pub status: Status,
    /// Why the script itself (outside sub-tests) did not run to its end.
    pub problem: Option<Problem>,
    pub subtests: Vec<SubResult>,
    pub calls: Option<Vec<Call>>,
    /// The teardown's last line ("torn down: 3 namespaces").
    pub teardown: String,
}

/// The result of one scenario, as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub file: String,
    pub status: Status,
    pub duration_ms: f64,
    /// The time limit it ran under, and where it came from ("--timeout" or "header").
    pub timeout_s: f64,
    pub problem: Option<Problem>,
    pub subtests: Vec<SubResult>,
    pub calls: Option<Vec<Call>>,
    /// What the script printed (standard output of its process).
    pub output: String,
    /// Standard error of its process (teardown summary, warnings).
    pub stderr: String,
}

impl ScenarioResult {
    pub fn seconds(&self) -> f64 {
        self.duration_ms / 1000.0
    }

    /// The problems to show: the script's own, then each sub-test's.
    pub fn problems(&self) -> impl Iterator<Item = (Option<&str>, &Problem)> {
        self.problem.iter().map(|p| (None, p)).chain(
            self.subtests
                .iter()
                .filter_map(|s| s.problem.as_ref().filter(|_| s.status.failed()).map(|p| (Some(s.name.as_str()), p))),
        )
    }
}

/// The whole run, as `--json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub version: u32,
    pub summary: Summary,
    pub scenarios: Vec<ScenarioResult>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub timed_out: usize,
    pub duration_ms: f64,
    pub jobs: usize,
    /// Stopped by Ctrl-C or SIGTERM before every scenario ran.
    pub interrupted: bool,
}

impl Summary {
    pub fn of(results: &[ScenarioResult], duration_ms: f64, jobs: usize, interrupted: bool) -> Summary {
        let count = |s: Status| results.iter().filter(|r| r.status == s).count();
        Summary {
            total: results.len(),
            passed: count(Status::Pass),
            failed: count(Status::Fail),
            skipped: count(Status::Skip),
            timed_out: count(Status::Timeout),
            duration_ms,
            jobs,
            interrupted,
        }
    }

    pub fn ok(&self) -> bool {
        self.failed == 0 && self.timed_out == 0 && !self.interrupted
    }
}
