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
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags};

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
            watch_keeper(keeper);
            Ok(())
        }
        ForkResult::Parent { child } => keep(child),
    }
}

/// How long the lab may take to tear down once its keeper is gone, before it ends anyway.
const ORPHAN_GRACE: Duration = Duration::from_secs(10);

/// In the lab: once the keeper is gone (SIGTERM told the lab to tear down), a teardown stuck for
/// `ORPHAN_GRACE` does not keep the lab alive: nothing would ever end it. Ending the process
/// ends the sandbox and, with the lab's PID namespace, every program. A thread that waits on a
/// pidfd of the keeper, without waking up before.
fn watch_keeper(keeper: Pid) {
    // SAFETY: pidfd_open takes a pid and flags, no pointers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, keeper.as_raw(), 0) };
    if fd < 0 {
        return;
    }
    // SAFETY: a new descriptor that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let _ = std::thread::Builder::new().name("nslab-keeper-watch".into()).stack_size(64 * 1024).spawn(move || {
        let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        // Readable when the keeper has exited.
        while matches!(poll(&mut fds, nix::poll::PollTimeout::NONE), Err(Errno::EINTR)) {}
        std::thread::sleep(ORPHAN_GRACE);
        // SAFETY: ends the process at once; what it made ends with it (see above).
        unsafe { libc::_exit(128 + libc::SIGTERM) };
    });
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
    // A sandbox kept on purpose has a holder (see `sandbox_hold.rs`): it stays.
    let holder: HashSet<i32> =
        std::fs::read_to_string(super::sandbox_hold::HOLDER_MARK).ok().and_then(|t| t.trim().parse().ok()).into_iter().collect();
    orphans::end_adopted(&holder);
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
