//! One lab's lifecycle, shared by `nslab run`, the REPL and the test child (`nslab
//! test-scenario`), in this order:
//! 1. `enter_sandbox` (with `--sandbox`), before any thread starts;
//! 2. `Session::open`: the lab (name checked), signal handling, the script session with its
//!    limits and `ARGS`, loopback up in the sandbox;
//! 3. the front end's own part, through `Session::run` (or `guarded`): a panic is caught so the
//!    lab can still go;
//! 4. `Session::close`: the script's values are freed (room to report, after a memory stop);
//! 5. `Standing::finish` with a `Keep`: torn down or left standing, the last line says which;
//! 6. `exit_status`: a signal, the front end's status, a lab left half standing.

use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};

use super::{report, LimitArg};
use crate::engine::sandbox;
use crate::lab::inventory::Inventory;
use crate::lab::machines::Machines;
use crate::lab::{Lab, LabOptions, Ns, TeardownReport};
use crate::script::Session as ScriptSession;

pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

/// The signals that stop a run and tear its lab down. SIGQUIT (Ctrl-\\) too: its default
/// action would end nslab on the spot, leaving the lab standing.
pub const STOP_SIGNALS: [i32; 4] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT];

/// Why a session could not start, for the front end to say (printed, or written to a report).
pub struct Refusal {
    pub message: String,
    pub hint: Option<String>,
    /// The exit status it calls for.
    pub status: i32,
}

impl Refusal {
    /// Prints it as an error report; the exit status.
    pub fn report(self) -> i32 {
        report::plain(self.message, self.hint);
        self.status
    }
}

/// Proof that this process is in the sandbox: only `enter_sandbox` makes one.
pub struct InSandbox(());

/// Enters the sandbox; must come before any thread starts (the kernel refuses a new user/mount
/// namespace once threads exist).
pub fn enter_sandbox() -> Result<InSandbox, Refusal> {
    // Where a kept sandbox is registered is outside it: opened now, while it can be seen.
    crate::engine::sandbox_hold::remember_registry();
    sandbox::enter().map(|()| InSandbox(())).map_err(|e| Refusal {
        message: format!("cannot start the sandbox: {e}"),
        hint: Some(
            "the sandbox needs user namespaces (kernel.unprivileged_userns_clone / user.max_user_namespaces) or root".into(),
        ),
        status: EXIT_FAILED,
    })
}

/// What Ctrl-C (SIGINT) does; SIGTERM, SIGHUP and SIGQUIT always end the session.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// Ends the session (run, test).
    EndsSession,
    /// Stops only the running statement (the REPL).
    StopsStatement,
}

/// What a front end asks of its session.
pub struct Plan<'a> {
    /// The lab's name; one that is not valid is a usage error.
    pub name: &'a str,
    /// Where the script's modules are found.
    pub dir: &'a Path,
    pub sandbox: Option<InSandbox>,
    pub limits: &'a [LimitArg],
    /// The script's `ARGS`.
    pub args: &'a [String],
    pub interrupt: Interrupt,
    /// The inventory of machines the lab may span (`--hosts`).
    pub hosts: Option<&'a Path>,
}

/// Whether the lab outlives nslab.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Keep {
    /// Torn down.
    No,
    /// Left standing, for `nslab down`.
    Yes,
}

impl Keep {
    /// What `--keep` (`keep`) asks for, in the sandbox or not.
    pub fn asked(keep: bool) -> Keep {
        if keep {
            Keep::Yes
        } else {
            Keep::No
        }
    }
}

/// A lab and the script session acting on it.
pub struct Session {
    pub script: ScriptSession,
    /// The signal that asked to stop (0: none).
    which: Arc<AtomicUsize>,
}

impl Session {
    /// A new lab as `plan` says, or why not.
    pub fn open(plan: Plan) -> Result<Session, Refusal> {
        Session::open_printing(plan, stdout_printer())
    }

    /// `open`, with the script's `print` going to `printer` (`nslab graph` keeps stdout for
    /// the picture).
    pub fn open_printing(plan: Plan, printer: crate::script::Printer) -> Result<Session, Refusal> {
        if let Err(e) = crate::lab::validate::lab_name(plan.name) {
            return Err(Refusal {
                message: e.to_string(),
                hint: Some("name the lab with --name NAME".into()),
                status: EXIT_USAGE,
            });
        }
        let lab = Lab::new(LabOptions::new(plan.name)).map_err(|e| Refusal {
            message: e.to_string(),
            hint: crate::script::hints::hint(&e),
            status: EXIT_FAILED,
        })?;
        let mut lab = lab;
        let machines = match plan.hosts {
            None => None,
            Some(path) => match connect(path, &mut lab, plan.name, plan.sandbox.is_some()) {
                Ok(m) => Some(m),
                Err(refusal) => {
                    // Nothing was made anywhere: the ledger naming the machines goes too.
                    let _ = lab.teardown();
                    return Err(refusal);
                }
            },
        };
        let which = watch_signals(&lab, plan.interrupt);
        let mut script = ScriptSession::new(Some(lab), plan.dir, printer);
        if let Some(m) = machines {
            script.lab.set_machines(m);
        }
        if plan.sandbox.is_some() {
            // The sandbox stands in for a host, whose loopback is up.
            let _ = script.lab.borrow_mut().set_up(&Ns::Root, "lo", true);
        }
        script.set_limit_flags(LimitArg::all(plan.limits));
        script.set_args(plan.args);
        Ok(Session { script, which })
    }

    /// Runs the front end's part, catching a panic (a bug in nslab): Err says what it said.
    pub fn run<R>(&mut self, body: impl FnOnce(&mut ScriptSession) -> R) -> Result<R, String> {
        guarded(|| body(&mut self.script))
    }

    /// The signal that asked to stop, if one did.
    pub fn signal(&self) -> Option<i32> {
        signal(&self.which)
    }

    /// From now on, signals act as `interrupt` says (the REPL after `nslab run -i`); a signal
    /// that came before is forgotten.
    pub fn watch_signals(&mut self, interrupt: Interrupt) {
        self.which = watch_signals(&self.script.lab.borrow(), interrupt);
    }

    /// Frees the script's values (a script stopped for memory leaves room to report) and keeps
    /// the lab, to finish.
    pub fn close(self) -> Standing {
        let lab = self.script.lab.take().expect("the session owns the lab");
        let machines = self.script.lab.take_machines();
        drop(self.script);
        Standing { lab, machines, which: self.which }
    }

    /// `close`, then `finish`.
    pub fn finish(self, keep: Keep) -> Ending {
        self.close().finish(keep)
    }
}

/// The lab once its script has gone.
pub struct Standing {
    lab: Lab,
    /// The lab's parts on other machines, if it spans machines.
    machines: Option<Machines>,
    which: Arc<AtomicUsize>,
}

impl Standing {
    pub fn signal(&self) -> Option<i32> {
        signal(&self.which)
    }

    /// Tears the lab down (or keeps it) and says so on the last line; a failure to remove
    /// something leaves the ledger, for `nslab clean`.
    pub fn finish(self, keep: Keep) -> Ending {
        let Standing { lab, mut machines, which } = self;
        // The other machines' parts go (or stay) while this one's does.
        if let Some(m) = machines.as_mut() {
            m.begin_end(keep == Keep::Yes);
        }
        let vias: Vec<(String, String)> = machines.as_ref().map(|m| m.remote()).unwrap_or_default();
        let mut remote = || machines.as_mut().map(|m| m.finish_end()).unwrap_or_default();
        let teardown = if keep == Keep::Yes {
            let mut kept_on = Vec::new();
            for (machine, result) in remote() {
                match result {
                    Ok(_) => kept_on.push(machine),
                    Err(e) => note!("machine {machine}: {e}"),
                }
            }
            if !kept_on.is_empty() {
                note!("kept: its parts on {} too (`nslab down` here removes them as well)", kept_on.join(", "));
            }
            let name = lab.name().to_string();
            let namespaces = lab.lab_namespaces();
            match lab.keep() {
                Some(id) if sandbox::entered() => {
                    match crate::engine::sandbox_hold::hold(&name, &id, namespaces) {
                        Ok(_) => note!(
                            "kept: lab {name} (id {id}) in its sandbox; enter it with `nslab shell {id} NS`, remove it with `nslab down {id}`"
                        ),
                        Err(e) => note!("could not keep lab {name}: {e}; the sandbox ends with nslab"),
                    }
                }
                Some(id) => note!("kept: lab {name} (id {id}); remove it with `nslab down {id}`"),
                None => note!("kept: lab {name} created nothing"),
            }
            Teardown::Kept
        } else {
            let name = lab.name().to_string();
            let part = crate::lab::machines::part_name(&name, lab.id().unwrap_or_default());
            let ticker = super::progress::Ticker::countdown(lab.progress(), "namespaces torn down");
            // A bug in teardown leaves the ledger, for `nslab clean`.
            let torn = guarded(|| lab.teardown());
            drop(ticker);
            let torn = torn.map(|mut report| {
                let mut unsure = Vec::new();
                for (machine, result) in remote() {
                    match result {
                        Ok(part) => report.merge(part.on_machine(&machine)),
                        Err(e) => {
                            report.failures.push(format!("machine {machine}: {e}"));
                            unsure.extend(vias.iter().filter(|(m, _)| *m == machine).cloned());
                        }
                    }
                }
                if !unsure.is_empty() {
                    leave_for_clean(&name, &part, &unsure, &mut report);
                }
                report
            });
            match torn {
                Ok(report) => {
                    note!("{report}");
                    Teardown::Done(report)
                }
                Err(what) => Teardown::Crashed(what),
            }
        };
        Ending { teardown, which }
    }
}

/// Machines whose part of lab `name` may still stand (their agent was lost): a ledger naming
/// them is left, so that `nslab clean` (or `down`) asks them again.
fn leave_for_clean(name: &str, part: &str, machines: &[(String, String)], report: &mut crate::lab::TeardownReport) {
    let left = Lab::new(LabOptions::new(name)).and_then(|mut lab| {
        for (machine, via) in machines {
            lab.record_machine(machine, via, Some(part))?;
        }
        // Not torn down: the ledger stays, the lab's process ends, `clean` finds it dead.
        Ok(lab.keep_for_clean())
    });
    match left {
        Ok(Some(id)) => report.left.push(format!(
            "the parts on {} (asked again when nslab has exited, and by `nslab clean`; id {id})",
            machines.iter().map(|(m, _)| m.as_str()).collect::<Vec<_>>().join(", ")
        )),
        Ok(None) => {}
        Err(e) => report.failures.push(format!("cannot record the machines still to clean: {e}")),
    }
}

/// Starts the agents of the machines in the inventory at `path` for lab `name`.
fn connect(path: &Path, lab: &mut Lab, name: &str, sandboxed: bool) -> Result<Machines, Refusal> {
    if sandboxed {
        return Err(Refusal {
            message: "--hosts spreads a lab over real machines: it cannot run in --sandbox".into(),
            hint: Some("leave out --sandbox, or --hosts".into()),
            status: EXIT_USAGE,
        });
    }
    let inventory = Inventory::load(path).map_err(|e| Refusal { message: e.to_string(), hint: None, status: EXIT_USAGE })?;
    // In the ledger before any agent starts, so that `ls`, `down` and `clean` know the other
    // machines whatever happens next.
    for m in inventory.remote.values() {
        lab.record_machine(&m.name, m.via.as_deref().unwrap_or_default(), None).map_err(|e| Refusal {
            message: e.to_string(),
            hint: crate::script::hints::hint(&e),
            status: EXIT_FAILED,
        })?;
    }
    let part = crate::lab::machines::part_name(name, lab.id().unwrap_or_default());
    let mut machines = Machines::connect(inventory, &part, lab.cancel_flag()).map_err(|message| Refusal {
        message,
        hint: Some("check the machine's via command by hand: it must start `nslab agent` there".into()),
        status: EXIT_FAILED,
    })?;
    machines.set_notices(Box::new(|text: &str| super::progress::suspend(|| note!("note: {text}"))));
    // This machine's part outlives a `kill -9` of this process only until its guard sees it go
    // (the other machines' agents see their channels close).
    let exe = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_else(|_| "nslab".into());
    let program = format!("exec {} agent", shlex::try_quote(&exe).map(|q| q.into_owned()).unwrap_or(exe));
    if let Err(message) = machines.guard(&program) {
        machines.end(false);
        return Err(Refusal { message, hint: None, status: EXIT_FAILED });
    }
    Ok(machines)
}

/// What became of the lab.
pub enum Teardown {
    Kept,
    /// Torn down; the report says what could not be removed, if anything.
    Done(TeardownReport),
    /// Teardown panicked (a bug in nslab), with what it said.
    Crashed(String),
}

pub struct Ending {
    pub teardown: Teardown,
    which: Arc<AtomicUsize>,
}

impl Ending {
    /// False when something could not be removed.
    pub fn complete(&self) -> bool {
        match &self.teardown {
            Teardown::Kept => true,
            Teardown::Done(report) => !report.failed(),
            Teardown::Crashed(_) => false,
        }
    }

    /// The signal that asked to stop, if one did (also during teardown).
    pub fn signal(&self) -> Option<i32> {
        signal(&self.which)
    }
}

/// The exit status: 128 + the signal that stopped the session, else the front end's `status`,
/// made a failure when the lab was left half standing (even when the script succeeded).
pub fn exit_status(signal: Option<i32>, status: i32, complete: bool) -> i32 {
    match signal {
        Some(sig) => 128 + sig,
        None if status == 0 && !complete => EXIT_FAILED,
        None => status,
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

pub fn stdout_printer() -> Rc<dyn Fn(&str)> {
    // A closed stdout must not panic inside a script: the lab still has to be torn down.
    Rc::new(|s: &str| {
        use std::io::Write;
        super::progress::suspend(|| {
            let _ = writeln!(std::io::stdout(), "{s}");
        });
    })
}

/// Each stop signal sets the lab's cancel flag (Rhai code stops between steps, blocking calls
/// return); the one that ends the session is remembered (0: none).
fn watch_signals(lab: &Lab, interrupt: Interrupt) -> Arc<AtomicUsize> {
    let which = Arc::new(AtomicUsize::new(0));
    for sig in STOP_SIGNALS {
        let _ = signal_hook::flag::register(sig, lab.cancel_flag());
        if sig == SIGINT && interrupt == Interrupt::StopsStatement {
            continue;
        }
        let _ = signal_hook::flag::register_usize(sig, which.clone(), sig as usize);
    }
    which
}

fn signal(which: &AtomicUsize) -> Option<i32> {
    match which.load(Ordering::Relaxed) {
        0 => None,
        sig => Some(sig as i32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_is_asked_with_the_flag() {
        assert_eq!(Keep::asked(false), Keep::No);
        assert_eq!(Keep::asked(true), Keep::Yes);
    }

    #[test]
    fn a_signal_wins_and_a_half_torn_lab_fails() {
        assert_eq!(exit_status(Some(SIGTERM), 0, true), 128 + SIGTERM);
        assert_eq!(exit_status(Some(SIGINT), 1, false), 130);
        assert_eq!(exit_status(None, 0, false), EXIT_FAILED);
        assert_eq!(exit_status(None, EXIT_USAGE, false), EXIT_USAGE);
        assert_eq!(exit_status(None, 0, true), 0);
    }
}
