//! The REPL: `nslab`, `nslab repl`, `nslab run -i FILE`. Entries run against a live lab with the
//! same language as scripts; the lab lives as long as the session (torn down at the end unless
//! `:keep`), like a `nslab run`.

mod commands;
mod complete;
mod cursor;
mod eval;
mod help;
mod helper;
mod hint;
mod history;
mod input;
mod lex;
mod net;
mod piped;
mod save;
mod shell;
mod show;
mod signals;
mod terminal;

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::Ordering;

use super::session::{self, exit_status, guarded, Interrupt, Keep, Plan, Session, EXIT_FAILED};
use super::ReplArgs;
use crate::script::{ErrorKind, ScriptError, Source};
use shell::Shell;

/// `nslab repl` (and `nslab` alone).
pub fn repl(args: ReplArgs) -> i32 {
    let sandbox = match args.sandbox.then(session::enter_sandbox).transpose() {
        Ok(s) => s,
        Err(refusal) => return refusal.report(),
    };
    let plan = Plan {
        name: args.name.as_deref().unwrap_or("repl"),
        dir: Path::new("."),
        sandbox,
        limits: &args.limits,
        args: &[],
        interrupt: Interrupt::StopsStatement,
        hosts: args.hosts.as_deref(),
    };
    match Session::open(plan) {
        Ok(session) => start(session, None, args.sandbox, Keep::asked(args.keep)),
        Err(refusal) => refusal.report(),
    }
}

/// `nslab run -i`: the script has run (or failed); go on in the REPL on the lab it built.
pub fn after_script(
    mut session: Session,
    source: &Source,
    outcome: Result<(), Vec<ScriptError>>,
    keep: Keep,
    sandbox: bool,
) -> i32 {
    let color = super::report::stderr_color();
    if let Err(errors) = &outcome {
        for e in errors {
            if e.kind == ErrorKind::Interrupted {
                note!("{}: interrupted", source.name);
            } else {
                note!("{}", super::report::render(e, color).trim_end());
            }
        }
    }
    // Ctrl-C stopped only the script; any other signal ends the session.
    if let Some(sig) = session.signal().filter(|s| *s != signal_hook::consts::SIGINT) {
        session.finish(keep);
        return 128 + sig;
    }
    session.watch_signals(Interrupt::StopsStatement);
    let recorded = match &outcome {
        Ok(()) => Some(source.body()),
        Err(_) => {
            note!("note: {} failed; :save will not include it", source.name);
            None
        }
    };
    start(session, recorded, sandbox, keep)
}

fn start(mut session: Session, recorded: Option<&str>, sandbox: bool, keep: Keep) -> i32 {
    let cancel = session.script.lab.borrow().cancel_flag();
    let stop = signals::watch();
    let terminal = std::io::stdin().is_terminal();
    let color = super::report::color_for(terminal && std::io::stdout().is_terminal());
    let mut shell = Shell::new(&mut session.script, cancel, stop.flag.clone(), sandbox, keep, color);
    if let Some(text) = recorded {
        shell.eval.record(text);
    }
    // A panic (a bug in nslab) ends the session; the lab is still torn down below.
    let panicked = guarded(|| {
        if terminal {
            let name = shell.session.lab.borrow().name().to_string();
            let place = if sandbox { " in a sandbox" } else { "" };
            let end = if keep == Keep::No { "tears it down" } else { "leaves it standing" };
            out!(
                "nslab {} · lab {name}{place} · :help lists the functions, Tab completes, Ctrl-D {end}",
                env!("CARGO_PKG_VERSION")
            );
            terminal::run(&mut shell, history::path().as_deref());
        } else {
            piped::run(&mut shell);
        }
    })
    .is_err();
    stop.done.store(true, Ordering::Relaxed);
    let (keep, failures) = (shell.keep, shell.failures);
    drop(shell);
    let ending = session.finish(keep);
    // A lab left half standing fails the session, as it fails `run` and `test`; so does a panic.
    let status = if panicked || (!terminal && failures > 0) { EXIT_FAILED } else { 0 };
    exit_status(ending.signal(), status, ending.complete())
}
