//! `nslab run` and `nslab check`.

use std::path::Path;

use super::report;
use super::session::{self, exit_status, stdout_printer, Interrupt, Keep, Plan, EXIT_FAILED, EXIT_USAGE};
use super::{LimitArg, RunArgs};
use crate::script::harness::{Subtest, SubtestOutcome};
use crate::script::{ErrorKind, ScriptError, Session, Source};

/// The name a script read from standard input goes by in reports.
pub const STDIN_NAME: &str = "<stdin>";

/// Reads a script (a regular file of a bounded size, see `script::files`; `-`: standard input,
/// up to the same size); says why not.
pub fn read_source(path: &Path) -> Result<Source, i32> {
    if path == Path::new("-") {
        use std::io::Read;
        let mut text = Vec::new();
        let cap = crate::script::files::MAX_SCRIPT_BYTES;
        let read = std::io::stdin().lock().take(cap + 1).read_to_end(&mut text);
        return match (read, String::from_utf8(text)) {
            (Err(e), _) => {
                report::plain(format!("cannot read the script from standard input: {e}"), None);
                Err(EXIT_USAGE)
            }
            (Ok(n), _) if n as u64 > cap => {
                report::plain(format!("the script on standard input is larger than {cap} bytes"), None);
                Err(EXIT_USAGE)
            }
            (Ok(_), Err(_)) => {
                report::plain("the script on standard input is not UTF-8 text", None);
                Err(EXIT_USAGE)
            }
            (Ok(_), Ok(text)) => Ok(Source { name: STDIN_NAME.into(), text }),
        };
    }
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
        let compiled = session.compile(&source);
        print_warnings(&mut session);
        match compiled {
            Ok(_) => {}
            Err(errors) => {
                print_errors(errors);
                status = EXIT_FAILED;
            }
        }
    }
    if status == 0 {
        note!("ok: {} checked, no problems found", report::plural(files.len(), "script"));
    }
    status
}

/// A script diagnostic shown as a warning (⚠): it does not stop the script.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Warning(ScriptError);

impl miette::Diagnostic for Warning {
    fn severity(&self) -> Option<miette::Severity> {
        Some(miette::Severity::Warning)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0.help()
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.0.source_code()
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.0.labels()
    }
}

/// Prints what compiling found worth a word but not an error.
pub fn print_warnings(session: &mut Session) {
    for w in session.take_warnings() {
        report::print(Warning(w));
    }
}

pub fn lab_name(args: &RunArgs) -> String {
    if args.file == Path::new("-") {
        return args.name.clone().unwrap_or_else(|| "stdin".into());
    }
    args.name
        .clone()
        .unwrap_or_else(|| args.file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "lab".into()))
}

/// nslab's own options for `run`, which after the script's first argument would go to the
/// script. Given there without `--`, they are refused rather than passed on silently (`nslab
/// run FILE x --sandbox` would otherwise run on the host).
const RUN_OPTIONS: &[&str] =
    &["--sandbox", "--keep", "--name", "--interactive", "-i", "--trace", "--limit", "--color", "--quiet", "-q"];

/// Refuses an nslab option among the script's arguments (unless `--` says they are the
/// script's); the exit status when refused.
pub fn misplaced_option(args: &RunArgs) -> Option<i32> {
    if args.interactive && args.file == Path::new("-") {
        report::plain(
            "-i reads REPL entries from standard input, which `-` uses for the script",
            Some("give the script as a file: nslab run -i FILE".into()),
        );
        return Some(EXIT_USAGE);
    }
    let explicit = std::env::args().any(|a| a == "--");
    if explicit {
        return None;
    }
    let found = args.args.iter().find(|a| RUN_OPTIONS.iter().any(|o| a == o || a.starts_with(&format!("{o}="))))?;
    let option = found.split('=').next().unwrap_or(found);
    report::plain(
        format!("{option} comes after the script's arguments, where it would be passed to the script, not to nslab"),
        Some(format!(
            "for nslab, put it before the script's arguments: `nslab run {option} {} ...`; to pass it to the script, \
             end nslab's options with `--`: `nslab run {} -- {}`",
            args.file.display(),
            args.file.display(),
            args.args.join(" ")
        )),
    );
    Some(EXIT_USAGE)
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
        hosts: args.hosts.as_deref(),
    };
    let mut session = match session::Session::open(plan) {
        Ok(s) => s,
        Err(refusal) => return refusal.report(),
    };
    let keep = Keep::asked(args.keep);
    if args.trace {
        // Each operation as its command line, on stderr, as it starts (like `set -x`).
        session.script.lab.borrow_mut().set_trace(Some(Box::new(|line: &str| {
            super::progress::suspend(|| note!("+ {line}"));
        })));
    }
    let ticker = super::progress::Ticker::start(session.script.lab.borrow().progress(), None, "namespaces");
    let outcome = session.run(|s| {
        let ast = s.compile(&source)?;
        print_warnings(s);
        s.eval(&ast, &source).map(|_| ()).map_err(|e| vec![*e])
    });
    drop(ticker);
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
