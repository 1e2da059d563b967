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

use super::run::{self, finish, stdout_printer, EXIT_FAILED};
use super::{ReplArgs, RunArgs};
use crate::lab::Ns;
use crate::script::{ErrorKind, ScriptError, Session, Source};
use shell::Shell;

/// `nslab repl` (and `nslab` alone).
pub fn repl(args: ReplArgs) -> i32 {
    if args.sandbox {
        if let Err(code) = run::enter_sandbox() {
            return code;
        }
    }
    let lab = match run::open_lab(args.name.as_deref().unwrap_or("repl")) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let mut session = Session::new(Some(lab), Path::new("."), stdout_printer());
    session.set_limit_flags(super::LimitArg::all(&args.limits));
    if args.sandbox {
        // The sandbox stands in for a host, whose loopback is up.
        let _ = session.lab.borrow_mut().set_up(&Ns::Root, "lo", true);
    }
    session.set_args(&[]);
    start(session, None, args.sandbox, args.keep)
}

/// `nslab run -i`: the script has run (or failed); go on in the REPL on the lab it built.
pub fn after_script(
    session: Session,
    source: &Source,
    outcome: Result<(), Vec<ScriptError>>,
    args: &RunArgs,
    signal: usize,
) -> i32 {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    if let Err(errors) = &outcome {
        for e in errors {
            if e.kind == ErrorKind::Interrupted {
                note!("{}: interrupted", source.name);
            } else {
                note!("{}", super::report::render(e, color).trim_end());
            }
        }
    }
    if signal != 0 && signal != signal_hook::consts::SIGINT as usize {
        let lab = session.lab.take().expect("the session owns the lab");
        finish(lab, args.keep && !args.sandbox, args.sandbox && args.keep);
        return 128 + signal as i32;
    }
    let recorded = match &outcome {
        Ok(()) => Some(source.body()),
        Err(_) => {
            note!("note: {} failed; :save will not include it", source.name);
            None
        }
    };
    start(session, recorded, args.sandbox, args.keep)
}

fn start(session: Session, recorded: Option<&str>, sandbox: bool, keep_flag: bool) -> i32 {
    let cancel = session.lab.borrow().cancel_flag();
    let stop = signals::watch(&cancel);
    let terminal = std::io::stdin().is_terminal();
    let color = terminal && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut shell = Shell::new(session, cancel, stop.flag.clone(), sandbox, keep_flag, color);
    if let Some(text) = recorded {
        shell.eval.record(text);
    }
    // A panic (a bug in nslab) ends the session; the lab is still torn down below.
    let panicked = run::guarded(|| {
        if terminal {
            let name = shell.session.lab.borrow().name().to_string();
            let place = if sandbox { " in a sandbox" } else { "" };
            let end = if keep_flag { "leaves it standing" } else { "tears it down" };
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
    let lab = shell.session.lab.take().expect("the session owns the lab");
    let (keep, failures) = (shell.keep, shell.failures);
    drop(shell);
    // `:keep` in the sandbox said already that it cannot keep anything.
    let complete = finish(lab, keep && !sandbox, sandbox && keep_flag);
    let sig = stop.which.load(Ordering::Relaxed);
    if sig != 0 {
        return 128 + sig as i32;
    }
    // A lab left half standing fails the session, as it fails `run` and `test`; so does a panic.
    if panicked || !complete || (!terminal && failures > 0) {
        return EXIT_FAILED;
    }
    0
}
