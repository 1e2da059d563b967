//! Processes a lab starts: background ones (`spawn`, a server for a test) and the foreground
//! ones `exec` runs to the end. All run in the lab's PID namespace (started with the first of
//! them, see `engine::pidns`), which ends, with everything in it, when the lab ends or nslab
//! dies. Each is also recorded in the ledger before its program runs (see `engine::spawn`'s
//! gate), so teardown and `nslab clean` end it, with everything it started, by process group,
//! also where no PID namespace can be had (an unprivileged run).
//!
//! An ended process is reaped (and struck from the ledger) only when nothing else is left in its
//! process group; otherwise it stays a zombie, which keeps its pid (the group's id) from being
//! reused, so teardown can still end what it left behind and be sure it is ours. Finding out
//! takes a pass over /proc, so ended processes are settled in batches (see `SETTLE_BATCH`),
//! not one `exec` at a time.

use std::collections::HashMap;
use std::fs::File;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use nix::errno::Errno;

use super::ledger::Object;
use super::{ExecOutput, Lab, LabError, Ns, Result};
use crate::engine::exec::Placement;
use crate::engine::output_cap::Trimmer;
use crate::engine::pidns::{self, PidNs};
use crate::engine::spawn::{self, SpawnError, Waited};

/// How long `kill` waits for a process group to go after SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(2);

/// How many ended, unsettled processes may wait (as zombies) before one pass over /proc settles
/// them all: a loop of `exec` calls stays cheap, and zombies stay few.
const SETTLE_BATCH: usize = 32;

/// The processes a lab started, by pid.
#[derive(Default)]
pub struct Procs {
    map: HashMap<i32, Entry>,
    /// Keeps the captured output bounded (see `engine::output_cap`).
    trimmer: Trimmer,
    /// Ended but not settled yet.
    unsettled: usize,
    /// The PID namespace the lab's programs run in, from the first program on.
    pidns: Option<PidNs>,
    /// The kernel refused a PID namespace (see `ensure_pidns`): programs run without one, ended
    /// by process group and the ledger only.
    no_pidns: bool,
}

struct Entry {
    start: u64,
    /// Its stdout and stderr; dropped once a foreground program's output has been read.
    output: Option<(Arc<File>, Arc<File>)>,
    /// Exit code (or 128 + signal) once it has ended.
    exit: Option<i32>,
    /// Reaped and struck from the ledger.
    settled: bool,
    /// Run by `exec`: forgotten once settled (nothing holds a handle to it).
    foreground: bool,
}

impl Lab {
    /// Starts `argv` in `ns` in the background (in its own process group, placed as `exec`
    /// places it) and returns its pid. Its output is kept for `proc_output`.
    pub fn spawn(&mut self, ns: &Ns, argv: &[String]) -> Result<i32> {
        self.trace(|| {
            format!("{}{} &", super::trace::inside(ns), argv.iter().map(|a| super::trace::word(a)).collect::<Vec<_>>().join(" "))
        });
        self.start(ns, argv, false)
    }

    /// `foreground`: a program `exec` waits for. When the ledger cannot be written for lack of
    /// permission (an unprivileged user without --sandbox), it still runs, unrecorded, as it did
    /// before labs kept ledgers: it is ended on Ctrl-C all the same, and such a user cannot have
    /// made anything for `clean` to remove. A background process needs the ledger.
    fn start(&mut self, ns: &Ns, argv: &[String], foreground: bool) -> Result<i32> {
        if argv.is_empty() {
            return Err(LabError::Invalid { what: "command", value: String::new(), reason: "it is empty".into() });
        }
        // A veth pair held back must exist before the program looks for it, and links just
        // brought up must be in service (the program may send packets at once).
        self.flush()?;
        self.settle()?;
        // What the program leaves behind outside its process group comes to nslab (teardown).
        crate::engine::orphans::adopt();
        let file = match ns {
            Ns::Root => None,
            Ns::Named(_) => Some(self.ns_file(ns)?),
        };
        let ns_name = ns.key();
        // The ledger must exist before fork: creating it inside the gate would be fine too, but
        // an error then is clearer here.
        match self.ledger_mut() {
            Ok(_) => {}
            Err(LabError::PermissionDenied { .. }) if foreground => {}
            Err(e) => return Err(e),
        }
        self.ensure_pidns()?;
        let placement =
            Placement { ns: file.as_deref(), ns_name: ns_name.as_deref(), pidns: self.procs.pidns.as_ref().map(PidNs::file) };
        let mut ledger = self.ledger.as_mut();
        let started = spawn::spawn(argv, &placement, |pid, start| match ledger.as_mut() {
            Some(l) => l.made(&Object::Process { pid, start }),
            None => Ok(()),
        });
        match started {
            Ok(s) => {
                let (stdout, stderr) = (Arc::new(s.stdout), Arc::new(s.stderr));
                self.procs.trimmer.watch(&stdout);
                self.procs.trimmer.watch(&stderr);
                let entry = Entry { start: s.start, output: Some((stdout, stderr)), exit: None, settled: false, foreground };
                self.procs.map.insert(s.pid, entry);
                Ok(s.pid)
            }
            Err(SpawnError::Refused(e)) => Err(e),
            Err(SpawnError::Engine(e, recorded)) => {
                // The program did not start; if it was recorded, the child has exited already.
                if let (Some((pid, start)), Some(l)) = (recorded, self.ledger.as_mut()) {
                    l.gone(&Object::Process { pid, start })?;
                }
                if let Some(p) = self.procs.pidns.as_ref().filter(|p| !p.alive()) {
                    return Err(LabError::Failed {
                        op: format!("run {:?} in {ns}", argv[0]),
                        detail: format!(
                            "the lab's process namespace is gone: its first process ({}) was ended from outside, \
                             and every program of the lab with it",
                            p.init
                        ),
                        errno: e.code(),
                    });
                }
                Err(match e.code() {
                    Some(Errno::ENOENT) => LabError::Failed {
                        op: format!("run {:?} in {ns}", argv[0]),
                        detail: "no such program (is it installed and on PATH?)".into(),
                        errno: Some(Errno::ENOENT),
                    },
                    // execve's EACCES: what is at that path cannot be run, whoever asks.
                    Some(code @ (Errno::EACCES | Errno::ENOEXEC | Errno::EISDIR)) => LabError::Failed {
                        op: format!("run {:?} in {ns}", argv[0]),
                        detail: if std::path::Path::new(&argv[0]).is_dir() {
                            "it is a directory, not a program".into()
                        } else {
                            "it is not a program this system can run (not executable, or on a file system mounted noexec)".into()
                        },
                        errno: Some(code),
                    },
                    _ => LabError::from_engine(format!("run {:?} in {ns}", argv[0]), e),
                })
            }
        }
    }

    /// Starts the lab's PID namespace before its first program, and records its init, unless
    /// this process cannot have one (see `engine::pidns::available`, and the errors below).
    fn ensure_pidns(&mut self) -> Result<()> {
        if self.procs.pidns.is_some() || self.procs.no_pidns || !pidns::available() {
            return Ok(());
        }
        let started = match PidNs::start() {
            Ok(p) => p,
            // EPERM: not privileged where nslab runs; EINVAL: a kernel without PID namespaces.
            Err(e) if matches!(e.code(), Some(Errno::EPERM | Errno::EINVAL)) => {
                self.procs.no_pidns = true;
                return Ok(());
            }
            Err(e) => return Err(LabError::from_engine("start the lab's process namespace", e)),
        };
        // Recorded after the fact: until its first program starts the namespace holds nothing,
        // and its init dies with nslab anyway. Without a ledger (an unprivileged run) there is
        // nothing for `clean` to do.
        if let Some(l) = self.ledger.as_mut() {
            l.made(&Object::Pidns { pid: started.init, start: started.start })?;
        }
        self.procs.pidns = Some(started);
        Ok(())
    }

    fn entry(&mut self, pid: i32) -> Result<&mut Entry> {
        self.procs.map.get_mut(&pid).ok_or_else(|| LabError::Invalid {
            what: "process",
            value: pid.to_string(),
            reason: "this lab did not start it".into(),
        })
    }

    /// Whether the process is still running (false once it has ended, even if not waited for).
    pub fn proc_running(&mut self, pid: i32) -> Result<bool> {
        Ok(self.poll_exit(pid)?.is_none())
    }

    fn poll_exit(&mut self, pid: i32) -> Result<Option<i32>> {
        if let Some(code) = self.entry(pid)?.exit {
            return Ok(Some(code));
        }
        let exit = spawn::exit_status(pid).map_err(|e| LabError::from_engine(format!("check process {pid}"), e))?;
        if let Some(code) = exit {
            self.ended(pid, code)?;
        }
        Ok(exit)
    }

    /// Notes that a process has ended; settles a batch when enough have.
    fn ended(&mut self, pid: i32, code: i32) -> Result<()> {
        let entry = self.entry(pid)?;
        if entry.exit.is_none() {
            entry.exit = Some(code);
            self.procs.unsettled += 1;
        }
        if self.procs.unsettled >= SETTLE_BATCH {
            self.settle_ended()?;
        }
        Ok(())
    }

    /// Reaps every ended process whose group has nothing left running and strikes it from the
    /// ledger; the others stay zombies until teardown ends what they left behind.
    fn settle_ended(&mut self) -> Result<()> {
        let live = spawn::live_groups();
        let ready: Vec<(i32, u64)> = self
            .procs
            .map
            .iter()
            .filter(|(pid, e)| e.exit.is_some() && !e.settled && !live.contains(pid))
            .map(|(pid, e)| (*pid, e.start))
            .collect();
        for (pid, start) in ready {
            spawn::reap(pid);
            self.procs.unsettled -= 1;
            let entry = self.procs.map.get_mut(&pid).expect("listed above");
            entry.settled = true;
            if entry.foreground && entry.output.is_none() {
                self.procs.map.remove(&pid);
            }
            if let Some(l) = self.ledger.as_mut() {
                l.gone(&Object::Process { pid, start })?;
            }
        }
        Ok(())
    }

    /// Waits for the process to end, up to `timeout` (None: as long as it takes); Ctrl-C stops
    /// the wait. Returns the exit code (128 + signal when a signal ended it), or None on timeout.
    pub fn proc_wait(&mut self, pid: i32, timeout: Option<Duration>) -> Result<Option<i32>> {
        if let Some(code) = self.poll_exit(pid)? {
            return Ok(Some(code));
        }
        let cancel = self.cancel.clone();
        let waited = spawn::wait(pid, timeout, &|| cancel.load(Ordering::Relaxed))
            .map_err(|e| LabError::from_engine(format!("wait for process {pid}"), e))?;
        match waited {
            Waited::Exited(code) => {
                self.ended(pid, code)?;
                Ok(Some(code))
            }
            Waited::TimedOut => Ok(None),
            Waited::Cancelled => Err(LabError::Interrupted),
        }
    }

    /// Ends the process and everything in its process group (SIGKILL), and waits until they are
    /// gone. Returns its exit code (137 when the kill ended it).
    pub fn proc_kill(&mut self, pid: i32) -> Result<i32> {
        let entry = self.entry(pid)?;
        if entry.settled {
            return Ok(entry.exit.unwrap_or(128 + libc::SIGKILL));
        }
        // The pid cannot have been reused: it is our child, not reaped yet.
        if !spawn::end_group(pid, KILL_WAIT) {
            return Err(LabError::Failed {
                op: format!("end process {pid}"),
                detail: format!("its process group is still there {} s after SIGKILL", KILL_WAIT.as_secs()),
                errno: None,
            });
        }
        // end_group reaped it: its status was read before, or the kill ended it.
        let entry = self.entry(pid)?;
        let ended_before = entry.exit.is_some();
        let code = *entry.exit.get_or_insert(128 + libc::SIGKILL);
        entry.settled = true;
        let start = entry.start;
        if ended_before {
            self.procs.unsettled -= 1;
        }
        if let Some(l) = self.ledger.as_mut() {
            l.gone(&Object::Process { pid, start })?;
        }
        Ok(code)
    }

    /// What the process has written so far to stdout and stderr.
    pub fn proc_output_so_far(&mut self, pid: i32) -> Result<(String, String)> {
        let entry = self.entry(pid)?;
        let text = |f: &File| String::from_utf8_lossy(&spawn::read_output(f)).into_owned();
        Ok(entry.output.as_ref().map(|(out, err)| (text(out), text(err))).unwrap_or_default())
    }

    /// Waits for the process to end and returns its exit code and all its output.
    pub fn proc_output(&mut self, pid: i32) -> Result<ExecOutput> {
        let code = self.proc_wait(pid, None)?.expect("no timeout was given");
        let (stdout, stderr) = self.proc_output_so_far(pid)?;
        Ok(ExecOutput { code, stdout, stderr })
    }

    /// Runs a program to the end (what `exec` does); Ctrl-C ends it and everything it started.
    pub(super) fn run_to_end(&mut self, ns: &Ns, argv: &[String]) -> Result<ExecOutput> {
        let pid = self.start(ns, argv, true)?;
        let out = match self.proc_output(pid) {
            Err(LabError::Interrupted) => {
                let _ = self.proc_kill(pid);
                Err(LabError::Interrupted)
            }
            other => other,
        };
        // Nothing holds a handle to it: its output is not needed any more.
        if let Some(entry) = self.procs.map.get_mut(&pid) {
            entry.output = None;
            if entry.settled {
                self.procs.map.remove(&pid);
            }
        }
        out
    }
}

impl Procs {
    /// A kept lab: its programs outlive nslab (`nslab down` ends them through the ledger).
    pub(super) fn keep(&mut self) -> Result<()> {
        match self.pidns.as_mut() {
            Some(p) => p.keep().map_err(|e| LabError::from_engine("keep the lab's programs running", e)),
            None => Ok(()),
        }
    }
}
