//! `nslab run` and `nslab check`.

use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::report;
use super::{LimitArg, RunArgs};
use crate::engine::sandbox;
use crate::lab::{Lab, LabOptions, Ns};
use crate::script::harness::{Subtest, SubtestOutcome};
use crate::script::{ErrorKind, ScriptError, Session, Source};

pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

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

/// Runs `f`, catching a panic (a bug in nslab) so the lab can still be torn down; Err says
/// what the panic said.
pub fn guarded<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        let what = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        note!("nslab: internal error (a bug in nslab): {what}; tearing the lab down");
        what
    })
}

fn print_errors(errors: Vec<ScriptError>) {
    for e in errors {
        report::print(e);
    }
}

pub fn stdout_printer() -> Rc<dyn Fn(&str)> {
    // A closed stdout must not panic inside a script: the lab still has to be torn down.
    Rc::new(|s: &str| {
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), "{s}");
    })
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

/// The signals that stop a run and tear its lab down. SIGQUIT (Ctrl-\\) too: its default
/// action would end nslab on the spot, leaving the lab standing.
pub const STOP_SIGNALS: [i32; 4] =
    [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP, signal_hook::consts::SIGQUIT];

/// Which signal asked us to stop (0: none).
pub fn watch_signals(lab: &Lab) -> Arc<AtomicUsize> {
    let which = Arc::new(AtomicUsize::new(0));
    for sig in STOP_SIGNALS {
        let _ = signal_hook::flag::register(sig, lab.cancel_flag());
        let _ = signal_hook::flag::register_usize(sig, which.clone(), sig as usize);
    }
    which
}

pub fn lab_name(args: &RunArgs) -> String {
    args.name
        .clone()
        .unwrap_or_else(|| args.file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "lab".into()))
}

/// Enters the sandbox; must come before any thread starts. Says why when it cannot.
pub fn enter_sandbox() -> Result<(), i32> {
    sandbox::enter().map_err(|e| {
        report::plain(
            format!("cannot start the sandbox: {e}"),
            Some(
                "the sandbox needs user namespaces (kernel.unprivileged_userns_clone / user.max_user_namespaces) or root".into(),
            ),
        );
        EXIT_FAILED
    })
}

/// A new lab named `name`, or the exit status after saying why not.
pub fn open_lab(name: &str) -> Result<Lab, i32> {
    if let Err(e) = crate::lab::validate::lab_name(name) {
        report::plain(e.to_string(), Some("name the lab with --name NAME".into()));
        return Err(EXIT_USAGE);
    }
    Lab::new(LabOptions::new(name)).map_err(|e| {
        report::plain(e.to_string(), e.hint());
        EXIT_FAILED
    })
}

pub fn run(args: RunArgs) -> i32 {
    // Before anything else: the kernel refuses a new user/mount namespace once threads exist.
    if args.sandbox {
        if let Err(code) = enter_sandbox() {
            return code;
        }
    }
    let source = match read_source(&args.file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let lab = match open_lab(&lab_name(&args)) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let signal = watch_signals(&lab);
    let mut session = Session::new(Some(lab), &crate::script::script_dir(&source.name), stdout_printer());
    if args.sandbox {
        // The sandbox stands in for a host, whose loopback is up.
        let _ = session.lab.borrow_mut().set_up(&Ns::Root, "lo", true);
    }
    session.set_limit_flags(LimitArg::all(&args.limits));
    session.set_args(&args.args);
    let outcome = guarded(|| session.run(&source));
    let panicked = outcome.is_err();
    let outcome = outcome.unwrap_or(Ok(()));
    if args.interactive && !panicked {
        return super::repl::after_script(session, &source, outcome, &args, signal.load(Ordering::Relaxed));
    }
    let subtests = guarded(|| session.take_subtests(&source)).unwrap_or_default();
    let lab = session.lab.take().expect("the session owns the lab");
    drop(session);

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
    let sig = signal.load(Ordering::Relaxed);
    if sig != 0 {
        note!("interrupted by {}", signal_name(sig as i32));
    }
    let complete = finish(lab, args.keep && !args.sandbox, args.sandbox && args.keep);
    if sig != 0 {
        return 128 + sig as i32;
    }
    // A lab left half standing is a failure even when the script succeeded.
    if status == 0 && !complete {
        return EXIT_FAILED;
    }
    status
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

/// Tears the lab down (or keeps it) and says so on the last line. False when something could
/// not be removed (the ledger stays, for `nslab clean`).
pub fn finish(lab: Lab, keep: bool, keep_in_sandbox: bool) -> bool {
    if keep_in_sandbox {
        note!("note: --keep has no effect with --sandbox: the sandbox ends with nslab");
    }
    if keep {
        let name = lab.name().to_string();
        match lab.keep() {
            Some(id) => note!("kept: lab {name} (id {id}); remove it with `nslab down {id}`"),
            None => note!("kept: lab {name} created nothing"),
        }
        return true;
    }
    // A bug in teardown leaves the ledger, for `nslab clean`.
    let Ok(report) = guarded(|| lab.teardown()) else { return false };
    note!("{report}");
    !report.failed()
}
