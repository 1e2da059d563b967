//! `nslab run` and `nslab check`.

use std::path::Path;

use super::report;
use super::session::{self, exit_status, stdout_printer, Interrupt, Keep, Plan, EXIT_FAILED, EXIT_USAGE};
use super::{LimitArg, RunArgs};
use crate::script::harness::{Subtest, SubtestOutcome};
use crate::script::{ErrorKind, ScriptError, Session, Source};

/// Reads a script (a regular file of a bounded size, see `script::files`); says why not.
pub fn read_source(path: &Path) -> Result<Source, i32> {
    match crate::script::files::read_script(path) {
        Ok(text) => Ok(Source { name: path.display().to_string(), text }),
        Err(e) => {
            report::plain(e.to_string(), e.hint());
            Err(EXIT_USAGE)
        }
    }
}

fn print_errors(errors: Vec<ScriptError>) {
    for e in errors {
        report::print(e);
    }
}

pub fn check(files: &[std::path::PathBuf], limits: &[LimitArg]) -> i32 {
    let mut status = 0;
    for file in files {
        let source = match read_source(file) {
            Ok(s) => s,
            Err(code) => return code,
        };
        let mut session = Session::new(None, &crate::script::script_dir(&source.name), stdout_printer());
        session.set_limit_flags(LimitArg::all(limits));
        session.set_args(&[]);
        match session.compile(&source) {
            Ok(_) => {}
            Err(errors) => {
                print_errors(errors);
                status = EXIT_FAILED;
            }
        }
    }
    if status == 0 {
        note!("ok: {} checked, no problems found", plural(files.len(), "script"));
    }
    status
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

pub fn lab_name(args: &RunArgs) -> String {
    args.name
        .clone()
        .unwrap_or_else(|| args.file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "lab".into()))
}

pub fn run(args: RunArgs) -> i32 {
    let sandbox = match args.sandbox.then(session::enter_sandbox).transpose() {
        Ok(s) => s,
        Err(refusal) => return refusal.report(),
    };
    let source = match read_source(&args.file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let plan = Plan {
        name: &lab_name(&args),
        dir: &crate::script::script_dir(&source.name),
        sandbox,
        limits: &args.limits,
        args: &args.args,
        interrupt: Interrupt::EndsSession,
    };
    let mut session = match session::Session::open(plan) {
        Ok(s) => s,
        Err(refusal) => return refusal.report(),
    };
    let keep = Keep::asked(args.keep);
    if args.trace {
        // Each operation as its command line, on stderr, as it starts (like `set -x`).
        session.script.lab.borrow_mut().set_trace(Some(Box::new(|line: &str| note!("+ {line}"))));
    }
    let outcome = session.run(|s| s.run(&source));
    let panicked = outcome.is_err();
    let outcome = outcome.unwrap_or(Ok(()));
    if args.interactive && !panicked {
        return super::repl::after_script(session, &source, outcome, keep, args.sandbox);
    }
    let subtests = session.run(|s| s.take_subtests(&source)).unwrap_or_default();
    let standing = session.close();

    let interrupted = outcome.as_ref().err().is_some_and(|errs| errs.iter().any(|e| e.kind == ErrorKind::Interrupted));
    let subtests_failed = print_subtests(subtests);
    let status = match outcome {
        _ if panicked => EXIT_FAILED,
        Ok(()) if subtests_failed => EXIT_FAILED,
        Ok(()) => 0,
        Err(errors) if errors.iter().all(|e| e.kind == ErrorKind::Skipped) => {
            for e in errors {
                note!("skipped: {} (line {})", e.message, e.line);
            }
            if subtests_failed {
                EXIT_FAILED
            } else {
                0
            }
        }
        Err(errors) => {
            if !interrupted {
                print_errors(errors);
            }
            EXIT_FAILED
        }
    };
    // Read once: the status says the signal that the line names.
    let sig = standing.signal();
    if let Some(sig) = sig {
        note!("interrupted by {}", signal_name(sig));
    }
    let ending = standing.finish(keep);
    exit_status(sig, status, ending.complete())
}

/// Reports sub-tests that did not pass (`test("name", || ...)`); true if any failed.
fn print_subtests(subtests: Vec<Subtest>) -> bool {
    let mut failed = false;
    for t in subtests {
        match t.outcome {
            SubtestOutcome::Failed(e) => {
                note!("sub-test {:?} failed:", t.name);
                report::print(e);
                failed = true;
            }
            SubtestOutcome::Skipped(e) => note!("sub-test {:?} skipped: {}", t.name, e.message),
            SubtestOutcome::Passed | SubtestOutcome::Interrupted => {}
        }
    }
    failed
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        signal_hook::consts::SIGINT => "SIGINT (Ctrl-C)",
        signal_hook::consts::SIGTERM => "SIGTERM",
        signal_hook::consts::SIGHUP => "SIGHUP",
        signal_hook::consts::SIGQUIT => "SIGQUIT (Ctrl-\\)",
        _ => "a signal",
    }
}
