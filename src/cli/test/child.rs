//! The hidden `nslab test-scenario` command: runs one scenario in its own sandbox, the way
//! `nslab run --sandbox` would (teardown included), and writes a JSON `ChildReport` to the file
//! the runner names. The script's output goes to standard output as usual.

use std::io::Write;
use std::path::PathBuf;

use super::outcome::{Call, ChildReport, Problem, Status, SubResult};
use crate::cli::session::{self, exit_status, Interrupt, Keep, Plan, Session, Teardown};
use crate::lab::validate;
use crate::script::harness::{CallRecord, SubtestOutcome};
use crate::script::{ErrorKind, Source};

#[derive(clap::Args, Debug)]
pub struct ChildArgs {
    /// Where to write the JSON report.
    #[arg(long)]
    pub result: PathBuf,
    /// Log every call.
    #[arg(long)]
    pub capture: bool,
    #[arg(long = "limit", value_parser = crate::cli::LimitArg::parse)]
    pub limits: Vec<crate::cli::LimitArg>,
    /// The inventory of machines (then no sandbox: the lab spans real machines).
    #[arg(long)]
    pub hosts: Option<PathBuf>,
    pub file: PathBuf,
}

fn write(out: &mut std::fs::File, report: &ChildReport) {
    let text = serde_json::to_string(report).expect("a report serializes");
    // Nothing better can be done if this fails: the runner reports the missing result.
    let _ = out.write_all(text.as_bytes());
}

fn failed(problem: Problem) -> ChildReport {
    ChildReport { status: Status::Fail, problem: Some(problem), subtests: vec![], calls: None, teardown: String::new() }
}

fn call(c: CallRecord) -> Call {
    let (ok, result) = match c.result {
        Ok(v) => (true, v),
        Err(e) => (false, e),
    };
    Call {
        at_ms: c.start.as_secs_f64() * 1000.0,
        duration_ms: c.duration.as_secs_f64() * 1000.0,
        depth: c.depth,
        line: c.line,
        call: format!("{}({})", c.name, c.args.join(", ")),
        ok,
        result,
    }
}

pub fn run(args: ChildArgs) -> i32 {
    // Opened before the sandbox, which mounts a private /run over the runner's.
    let mut out = match std::fs::File::create(&args.result) {
        Ok(f) => f,
        Err(e) => {
            note!("cannot write the result to {}: {e}", args.result.display());
            return 2;
        }
    };
    let sandbox = match args.hosts.is_none().then(session::enter_sandbox).transpose() {
        Ok(s) => s,
        Err(refusal) => {
            write(&mut out, &failed(Problem::plain("error", refusal.message)));
            return 1;
        }
    };
    let source = match crate::script::files::read_script(&args.file) {
        Ok(text) => Source { name: args.file.display().to_string(), text },
        Err(e) => {
            write(&mut out, &failed(Problem::plain("error", e.to_string())));
            return 1;
        }
    };
    let stem = args.file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = if validate::lab_name(&stem).is_ok() { stem } else { "scenario".into() };
    let plan = Plan {
        name: &name,
        dir: &crate::script::script_dir(&source.name),
        sandbox,
        limits: &args.limits,
        args: &[],
        interrupt: Interrupt::EndsSession,
        hosts: args.hosts.as_deref(),
    };
    let mut session = match Session::open(plan) {
        Ok(s) => s,
        Err(refusal) => {
            write(&mut out, &failed(Problem::plain("error", refusal.message)));
            return 1;
        }
    };
    session.script.harness.capture_calls(args.capture);
    // A panic (a bug in nslab) fails the scenario; the lab is still torn down.
    let (outcome, crash) = match session.run(|s| s.run(&source)) {
        Ok(o) => (o, None),
        Err(what) => (Ok(()), Some(what)),
    };
    let subtests = session.run(|s| s.take_subtests(&source)).unwrap_or_default();
    let calls = args.capture.then(|| {
        let (calls, dropped) = session.script.harness.take_calls();
        let note = (dropped > 0).then(|| Call {
            call: format!("[nslab: {dropped} earlier calls were not kept, only the latest {}]", calls.len()),
            ok: true,
            ..Call::default()
        });
        note.into_iter().chain(calls.into_iter().map(call)).collect()
    });
    // The sandbox ends with this process: nothing can be kept.
    let ending = session.finish(Keep::No);
    // A bug in teardown leaves the ledger (for `nslab clean`) and fails the scenario.
    let (teardown_line, teardown_failed) = match &ending.teardown {
        Teardown::Done(t) => (t.to_string(), t.failed().then(|| t.failures.join("; "))),
        Teardown::Crashed(what) => {
            let line = format!("teardown failed: internal error (a bug in nslab): {what}");
            note!("{line}");
            (line.clone(), Some(line))
        }
        Teardown::Kept => (String::new(), None),
    };

    let subtests: Vec<SubResult> = subtests
        .into_iter()
        .map(|t| {
            let (status, problem) = match &t.outcome {
                SubtestOutcome::Passed => (Status::Pass, None),
                SubtestOutcome::Failed(e) => (Status::Fail, Some(Problem::from_script(e))),
                SubtestOutcome::Skipped(e) => (Status::Skip, Some(Problem::from_script(e))),
                SubtestOutcome::Interrupted => (Status::Fail, Some(Problem::plain("interrupted", "interrupted"))),
            };
            SubResult { name: t.name, status, duration_ms: t.duration.as_secs_f64() * 1000.0, problem }
        })
        .collect();
    let sub_failed = subtests.iter().any(|s| s.status.failed());
    let (status, problem) = match outcome {
        _ if crash.is_some() => {
            let what = crash.unwrap_or_default();
            (Status::Fail, Some(Problem::plain("crash", format!("internal error (a bug in nslab): {what}"))))
        }
        Ok(()) if sub_failed => (Status::Fail, None),
        Ok(()) => (Status::Pass, None),
        Err(errors) => {
            // A script stops at its first error; the pre-flight check may find several.
            let e = &errors[0];
            let status = match e.kind {
                ErrorKind::Skipped if !sub_failed => Status::Skip,
                _ => Status::Fail,
            };
            let mut problem = Problem::from_script(e);
            if errors.len() > 1 {
                problem.message += &format!(" (and {} more problems)", errors.len() - 1);
                for more in &errors[1..] {
                    problem.report += &format!("\n{}", Problem::from_script(more).report);
                }
            }
            (status, Some(problem))
        }
    };
    // A lab left half standing fails the scenario, as it fails `nslab run` (`finish`).
    let (status, problem) = match (teardown_failed, status) {
        (Some(why), Status::Pass | Status::Skip) => {
            (Status::Fail, Some(Problem::plain("error", format!("teardown could not remove everything: {why}"))))
        }
        _ => (status, problem),
    };
    write(&mut out, &ChildReport { status, problem, subtests, calls, teardown: teardown_line });
    exit_status(ending.signal(), i32::from(status == Status::Fail), ending.complete())
}
