//! The sandbox's keeper: the process the caller started waits while a child of it runs the lab,
//! so that ending that process, even with `kill -9`, still ends the lab and all it started.
//!
//! `split` forks once, right after the sandbox is entered (before any thread). The child runs the
//! lab with SIGTERM as its parent-death signal: when the keeper dies for any reason, the lab is
//! told as if by `kill -TERM` and tears itself down as usual, the programs it spawned included.
//! The keeper passes on the signals sent to it, is the subreaper of whatever the lab leaves
//! orphaned, ends those once the lab has exited (a daemon that left its process group included),
//! and exits as the lab did.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, getpid, getppid, ForkResult, Pid};

use super::error::{EngineError, Result};
use super::orphans;

/// The lab process, for the signal handler.
static LAB: AtomicI32 = AtomicI32::new(0);

/// Returns in the lab process only; the keeper never returns.
pub fn split() -> Result<()> {
    let keeper = getpid();
    // SAFETY: called before any thread exists, so the child may run anything.
    match unsafe { fork() }.map_err(|e| EngineError::errno("start the sandbox's keeper", e))? {
        ForkResult::Child => {
            // SAFETY: sets this process's parent-death signal; no pointers involved.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) };
            if getppid() != keeper {
                // The keeper died before the line above: nothing was made yet.
                std::process::exit(128 + libc::SIGTERM);
            }
            Ok(())
        }
        ForkResult::Parent { child } => keep(child),
    }
}

fn keep(lab: Pid) -> ! {
    LAB.store(lab.as_raw(), Ordering::Relaxed);
    orphans::adopt();
    let pass_on = SigAction::new(SigHandler::SigAction(pass_on), SaFlags::SA_SIGINFO | SaFlags::SA_RESTART, SigSet::empty());
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT] {
        // SAFETY: the handler only loads an atomic and calls kill(), both async-signal-safe.
        let _ = unsafe { sigaction(sig, &pass_on) };
    }
    // Orphans that end while the lab runs are reaped on the way.
    let status = loop {
        match waitpid(None::<Pid>, None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == lab => break code,
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == lab => break 128 + sig as i32,
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => break 1, // ECHILD: the lab is gone without our seeing it
        }
    };
    orphans::end_adopted(&HashSet::new());
    // SAFETY: ends the keeper without running anything of the lab's (its buffers are the lab's).
    unsafe { libc::_exit(status) }
}

/// Passes a signal on to the lab, unless the terminal sent it (Ctrl-C, Ctrl-\, hangup): then the
/// lab, in the same foreground process group, has it already.
extern "C" fn pass_on(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let from_terminal = !info.is_null() && unsafe { (*info).si_code } == libc::SI_KERNEL;
    let lab = LAB.load(Ordering::Relaxed);
    if !from_terminal && lab > 0 {
        // SAFETY: kill() is async-signal-safe; `lab` is our own child.
        unsafe { libc::kill(lab, sig) };
    }
}
