//! A lab's PID namespace: every program a lab starts runs in it, so that everything those
//! programs start (daemons, `setsid` children, `&` in a shell) is in it too, and ends when its
//! first process (its init) ends: the kernel kills every process of a PID namespace whose init
//! dies. The init dies with nslab, whatever kills nslab, by its parent-death signal.
//! See docs/processes.md for why, and for what happens on each kind of kill.
//!
//! The init is nslab itself, run again (`/proc/self/exe __pidns-init`) so that it holds none of
//! nslab's memory or files. It is started from a thread of its own that lives as long as the
//! namespace: a parent-death signal follows the *thread* that forked the child, and that thread
//! is also the one that may call `unshare(CLONE_NEWPID)`, after which it cannot start threads.
//! Programs are forked into the namespace by threads that `setns` into it first (see `spawn.rs`).

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::error::{EngineError, Result};
use super::nsmembers::{self, Kind};
use super::spawn::{process_start, stat_fields};

/// The hidden first argument that makes nslab the init of a PID namespace.
const INIT_ARG: &str = "__pidns-init";

/// Set once this process has called `serve_if_asked`: its executable, run again with
/// `INIT_ARG`, is then known to become an init rather than to do whatever its `main` does.
static HOOKED: AtomicBool = AtomicBool::new(false);

/// To be called first thing in `main` by any program that runs labs (nslab does; a program that
/// embeds nslab should too). In the init started by `PidNs::start` it never returns; elsewhere
/// it enables PID namespaces for the labs of this process. Without it, programs run without one
/// and only nslab's bookkeeping (process groups, the ledger) ends them.
pub fn serve_if_asked() {
    if std::env::args_os().nth(1).is_some_and(|a| a == INIT_ARG) {
        serve();
    }
    HOOKED.store(true, Ordering::Relaxed);
}

/// Whether labs of this process can give their programs a PID namespace.
pub fn available() -> bool {
    HOOKED.load(Ordering::Relaxed)
}

/// A running PID namespace and its init, a child of this process.
pub struct PidNs {
    /// The init's pid (as nslab sees it) and start time: its identity in the ledger.
    pub init: i32,
    /// The init's start time (clock ticks after boot, as in /proc/PID/stat).
    pub start: u64,
    /// `/proc/INIT/ns/pid`: what spawning threads `setns` into.
    ns: File,
    inode: u64,
    /// Signals the init without any risk of hitting a process that reused its pid.
    pidfd: OwnedFd,
    /// To the init's standard input and output: closing it ends an init that was not kept.
    control: UnixStream,
    /// Dropping the sender ends the thread that started the init (see the module comment).
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    kept: bool,
}

impl PidNs {
    /// Starts a new PID namespace with its init. EPERM means this process may not make one
    /// (no CAP_SYS_ADMIN where it runs).
    pub fn start() -> Result<PidNs> {
        let op = "start the lab's process namespace";
        let (control, theirs) = UnixStream::pair().map_err(|e| EngineError::io(op, e))?;
        let (started_tx, started_rx) = mpsc::channel();
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("nslab-pidns".into())
            .spawn(move || {
                let started = start_init(theirs);
                let ok = started.is_ok();
                let _ = started_tx.send(started);
                if ok {
                    // Lives as long as the namespace: the init's parent-death signal is tied to
                    // this thread (Err: the sender was dropped, the namespace is being ended).
                    let _ = stopped.recv();
                }
            })
            .map_err(|e| EngineError::io(op, e))?;
        let init = match started_rx.recv() {
            Ok(Ok(pid)) => pid,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(EngineError::io(op, e));
            }
            Err(_) => {
                let _ = thread.join();
                return Err(EngineError::message(op, "the starting thread ended without a word"));
            }
        };
        let opened = (|| {
            let pidfd = pidfd_open(init).map_err(|e| EngineError::errno(op, e))?;
            let ns = File::open(format!("/proc/{init}/ns/pid")).map_err(|e| EngineError::io(op, e))?;
            let inode = ns.metadata().map_err(|e| EngineError::io(op, e))?.ino();
            Ok((pidfd, ns, inode))
        })();
        let (pidfd, ns, inode) = match opened {
            Ok(v) => v,
            Err(e) => {
                // `init` is our child, not reaped yet: the pid is still its.
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(init), nix::sys::signal::Signal::SIGKILL);
                drop(stop);
                let _ = thread.join();
                let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(init), None);
                return Err(e);
            }
        };
        let start = process_start(init).unwrap_or(0);
        Ok(PidNs { init, start, ns, inode, pidfd, control, stop: Some(stop), thread: Some(thread), kept: false })
    }

    /// The namespace, for `setns` by the threads that start programs.
    pub fn file(&self) -> &File {
        &self.ns
    }

    /// Whether the init still runs (if not, no program can start in the namespace any more).
    pub fn alive(&self) -> bool {
        let mut info: libc::siginfo_t = unsafe_zeroed();
        // SAFETY: waitid with P_PIDFD on our pidfd writes only into `info`; WNOWAIT leaves the
        // status for the reaping later.
        let rc = unsafe {
            libc::waitid(
                libc::P_PIDFD,
                self.pidfd.as_raw_fd() as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        // SAFETY: si_pid is valid to read after waitid succeeded (0: nothing has ended).
        if rc != 0 || unsafe { info.si_pid() } != 0 {
            return false;
        }
        // Not collectable yet, and so still ours: but a killed init stays in the kernel, exiting,
        // until the namespace is empty (PF_EXITING in the flags of /proc/PID/stat).
        const PF_EXITING: u64 = 0x4;
        stat_fields(self.init).is_some_and(|f| {
            f[0] != "Z" && f.get(6).and_then(|flags| flags.parse::<u64>().ok()).is_some_and(|flags| flags & PF_EXITING == 0)
        })
    }

    /// Leaves the namespace standing after this process ends (a kept lab): the init stops
    /// dying with nslab. `nslab down` ends it later through the ledger.
    pub fn keep(&mut self) -> Result<()> {
        if super::sandbox::entered() {
            // The sandbox ends with this process: nothing may run on, unseen, inside it.
            return Ok(());
        }
        let op = "keep the lab's process namespace";
        self.control.write_all(b"k").map_err(|e| EngineError::io(op, e))?;
        self.control.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| EngineError::io(op, e))?;
        let mut ack = [0u8; 1];
        self.control.read_exact(&mut ack).map_err(|e| EngineError::io(op, e))?;
        self.kept = true;
        Ok(())
    }

    /// Ends the namespace (SIGKILL to its init: the kernel ends everything else in it) and
    /// collects what of it was this process's child, giving up after `limit`.
    fn kill_and_reap(&self, limit: Duration) {
        self.kill();
        let deadline = Instant::now() + limit;
        while !self.reap() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn kill(&self) {
        // SAFETY: pidfd_send_signal with our pidfd, no siginfo, no flags.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.pidfd.as_raw_fd(),
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
    }

    /// Collects the init if it has ended; if not, first this process's children that ended in
    /// the namespace (the init cannot finish dying before they are collected). True once the
    /// init is collected (or was, by teardown: see `end_namespace`).
    fn reap(&self) -> bool {
        if self.collect_init() {
            return true;
        }
        let me = std::process::id() as i32;
        for m in nsmembers::members(Kind::Pid, &HashSet::from([self.inode])) {
            if m.zombie && m.ppid == me && m.pid != self.init {
                let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(m.pid), Some(nix::sys::wait::WaitPidFlag::WNOHANG));
            }
        }
        self.collect_init()
    }

    fn collect_init(&self) -> bool {
        let mut info: libc::siginfo_t = unsafe_zeroed();
        // SAFETY: as in `alive`, without WNOWAIT: collects the init if it has ended.
        let rc = unsafe {
            libc::waitid(libc::P_PIDFD, self.pidfd.as_raw_fd() as libc::id_t, &mut info, libc::WEXITED | libc::WNOHANG)
        };
        // SAFETY: si_pid is valid to read after waitid succeeded.
        (rc == 0 && unsafe { info.si_pid() } != 0) || (rc != 0 && Errno::last() == Errno::ECHILD)
    }
}

impl Drop for PidNs {
    fn drop(&mut self) {
        if !self.kept {
            self.kill_and_reap(Duration::from_secs(2));
        }
        self.stop = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn unsafe_zeroed() -> libc::siginfo_t {
    // SAFETY: siginfo_t is plain data; all zeroes is a valid value.
    unsafe { std::mem::zeroed() }
}

pub(super) fn pidfd_open(pid: i32) -> std::result::Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open takes a pid and flags, no pointers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// On the namespace's own thread: makes its next child the first process of a new PID
/// namespace, and starts the init as that child.
fn start_init(theirs: UnixStream) -> std::io::Result<i32> {
    // Affects this thread only.
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWPID)?;
    let input = OwnedFd::from(theirs.try_clone()?);
    let mut cmd = Command::new("/proc/self/exe");
    cmd.arg0("nslab").arg(INIT_ARG).stdin(Stdio::from(input)).stdout(Stdio::from(OwnedFd::from(theirs)));
    cmd.stderr(Stdio::null()).current_dir("/");
    // SAFETY: only async-signal-safe system calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            // Dies with this thread, whatever ends it. (A death before this line is seen as the
            // end of its standard input: see `serve`.)
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            // A session of its own: no terminal's signals, and its pid names its group.
            libc::setsid();
            // Whatever nslab opened without close-on-exec stays out of the init.
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC);
            Ok(())
        });
    }
    Ok(cmd.spawn()?.id() as i32)
}

/// The init: collects every process that ends in the namespace (the kernel does it at once for
/// a parent that ignores SIGCHLD, orphans handed to the init included) and waits on its
/// standard input: `k` keeps it past nslab's end (a kept lab), the end of input without that
/// ends it, and with it the namespace.
fn serve() -> ! {
    // SAFETY: setting a signal disposition; no handler code runs.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    let mut kept = false;
    let mut byte = [0u8; 1];
    loop {
        // SAFETY: reads into a one-byte buffer we own.
        let n = unsafe { libc::read(0, byte.as_mut_ptr().cast(), 1) };
        if n == 1 && byte[0] == b'k' {
            // SAFETY: clears this process's parent-death signal, no pointers.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0) };
            kept = true;
            // SAFETY: writes one byte from a static buffer.
            unsafe { libc::write(1, b"k".as_ptr().cast(), 1) };
        } else if n < 0 && Errno::last() == Errno::EINTR {
            continue;
        } else if n <= 0 {
            if !kept {
                std::process::exit(0);
            }
            loop {
                // SAFETY: waits for a signal; as the init of a namespace only SIGKILL ends it.
                unsafe { libc::pause() };
            }
        }
    }
}

/// Ends a PID namespace recorded in a ledger, given its init's pid and start time: nothing
/// happens unless that pid still names that process and it is the init of a PID namespace
/// (the kernel says so in /proc/PID/status). Returns how many other processes ran in it.
pub fn end_namespace(pid: i32, start: u64, limit: Duration) -> std::result::Result<usize, String> {
    if process_start(pid) != Some(start) || !is_init(pid) {
        return Ok(0);
    }
    let Some(inode) = nsmembers::ns_inode(pid, Kind::Pid) else { return Ok(0) };
    let pidfd = match pidfd_open(pid) {
        Ok(fd) => fd,
        Err(Errno::ESRCH) => return Ok(0),
        Err(e) => return Err(format!("cannot open process {pid}: {}", e.desc())),
    };
    // Checked again through the pidfd's process: the pid may have been reused in between.
    if process_start(pid) != Some(start) {
        return Ok(0);
    }
    let inodes = HashSet::from([inode]);
    let running = nsmembers::members(Kind::Pid, &inodes).iter().filter(|m| !m.zombie && m.pid != pid).count();
    // SAFETY: pidfd_send_signal with the pidfd just opened, no siginfo, no flags.
    unsafe {
        libc::syscall(libc::SYS_pidfd_send_signal, pidfd.as_raw_fd(), libc::SIGKILL, std::ptr::null::<libc::siginfo_t>(), 0)
    };
    // The kernel ends the rest; this process collects those that were its children (the init
    // cannot finish before they are collected).
    let me = std::process::id() as i32;
    let deadline = Instant::now() + limit;
    loop {
        let members = nsmembers::members(Kind::Pid, &inodes);
        for m in members.iter().filter(|m| m.zombie && m.ppid == me) {
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(m.pid), Some(nix::sys::wait::WaitPidFlag::WNOHANG));
        }
        if members.iter().all(|m| m.zombie || m.pid == pid) {
            return Ok(running);
        }
        if Instant::now() >= deadline {
            let left: Vec<String> = members.iter().filter(|m| !m.zombie && m.pid != pid).map(|m| m.pid.to_string()).collect();
            return Err(format!(
                "processes {} still run in its PID namespace {} s after SIGKILL",
                left.join(", "),
                limit.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Whether `pid` is the first process of a PID namespace below ours: its last pid in
/// /proc/PID/status's NSpid line (the innermost namespace's) is 1.
fn is_init(pid: i32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { return false };
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .map(|ids| ids.split_whitespace().collect::<Vec<_>>())
        .is_some_and(|ids| ids.len() >= 2 && ids.last() == Some(&"1"))
}
