//! Processes nslab starts and keeps track of: placed exactly as `exec` places them (the namespace,
//! a private mount namespace, their own process group), with stdout and stderr going to memory
//! files (the child never blocks on a full pipe, and the output can be read at any time).
//!
//! The child is held at a gate between fork and exec until the caller has recorded its pid and
//! start time (in the lab's ledger). If nslab dies before that, the child sees the gate close
//! and exits without running the program: at no moment does an unrecorded program run.

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::wait::{waitid, waitpid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::error::{EngineError, Result};
use super::exec::{self, Placement};

/// A started process: the leader of its own process group (pgid == pid).
pub struct Spawned {
    pub pid: i32,
    /// Start time in clock ticks since boot: with the pid, the process's identity.
    pub start: u64,
    pub stdout: File,
    pub stderr: File,
}

/// Why `spawn` did not start the program.
pub enum SpawnError<E> {
    /// The kernel refused (no such program, cannot enter the namespace, ...). When `record`
    /// had already run, its (pid, start) is given back: that process has exited and been reaped.
    Engine(EngineError, Option<(i32, u64)>),
    /// The caller's `record` failed; the child was told to exit without running the program.
    Refused(E),
}

/// Starts `argv` in `placement`. `record(pid, start)` runs while the child waits at the gate;
/// the program runs only if it returns Ok. If the program then fails to start (exec fails),
/// `Engine` is returned after `record` already ran: the caller forgets what it recorded.
pub fn spawn<E>(
    argv: &[String],
    placement: &Placement,
    record: impl FnOnce(i32, u64) -> std::result::Result<(), E>,
) -> std::result::Result<Spawned, SpawnError<E>> {
    let program = argv.first().cloned().unwrap_or_default();
    let op = format!("start {program}");
    let engine = |e: EngineError| SpawnError::Engine(e, None);
    let stdout = memfd("nslab-stdout").map_err(engine)?;
    let stderr = memfd("nslab-stderr").map_err(engine)?;
    let (pid_r, pid_w) = pipe().map_err(engine)?;
    let (gate_r, gate_w) = pipe().map_err(engine)?;

    let mut cmd = exec::command(argv, placement).map_err(engine)?;
    let io = |f: &File| f.try_clone().map(Stdio::from).map_err(|e| SpawnError::Engine(EngineError::io(&op, e), None));
    cmd.stdin(Stdio::null()).stdout(io(&stdout)?).stderr(io(&stderr)?);
    let (pw, gr, gw) = (pid_w.as_raw_fd(), gate_r.as_raw_fd(), gate_w.as_raw_fd());
    // Runs after the namespace setup `exec::command` installed: a child that cannot enter the
    // namespace never reaches the gate, and the caller sees the pipe close instead of a pid.
    // SAFETY: wait_at_gate makes only async-signal-safe system calls.
    unsafe {
        cmd.pre_exec(move || wait_at_gate(pw, gr, gw));
    }
    // After the gate, which reads the pid nslab sees through the inherited /proc.
    if placement.pidns.is_some() && placement.ns.is_some() {
        // SAFETY: mount_proc_in_child makes one async-signal-safe system call.
        unsafe {
            cmd.pre_exec(|| {
                exec::mount_proc_in_child();
                Ok(())
            });
        }
    }
    let pidns = placement.pidns;
    std::thread::scope(|scope| {
        // `Command::spawn` returns only once the child has exec'd (or failed), so it runs on a
        // helper thread while this one reads the pid, records it and opens the gate. That thread
        // enters the lab's PID namespace first (which makes its children start there) and ends
        // with the spawn: no other thread ever forks into the namespace by mistake.
        let starter = scope.spawn(move || {
            let child = match pidns {
                Some(ns) => enter_pidns(ns).and_then(|()| cmd.spawn()),
                None => cmd.spawn(),
            };
            drop(cmd);
            drop(pid_w);
            drop(gate_r);
            child
        });
        let mut pid_bytes = [0u8; 4];
        let got_pid = File::from(pid_r).read_exact(&mut pid_bytes).is_ok();
        let mut refused = None;
        let mut recorded = None;
        if got_pid {
            let pid = i32::from_ne_bytes(pid_bytes);
            let start = process_start(pid).unwrap_or(0);
            let go = match record(pid, start) {
                Ok(()) => {
                    recorded = Some((pid, start));
                    1u8
                }
                Err(e) => {
                    refused = Some(e);
                    0u8
                }
            };
            let _ = nix::unistd::write(&gate_w, &[go]);
        }
        drop(gate_w);
        let started = starter.join().unwrap_or_else(|_| Err(std::io::Error::other("the starting thread panicked")));
        if let Some(e) = refused {
            return Err(SpawnError::Refused(e));
        }
        match (started, recorded) {
            (Ok(child), Some((pid, start))) => {
                debug_assert_eq!(child.id() as i32, pid);
                Ok(Spawned { pid, start, stdout, stderr })
            }
            (Ok(child), None) => {
                // Cannot happen (the child passed the gate without a pid); do not leave it running.
                exec::kill_group(child.id() as i32);
                let _ = waitpid(Pid::from_raw(child.id() as i32), None);
                Err(SpawnError::Engine(EngineError::message(&op, "lost track of the process"), None))
            }
            (Err(e), recorded) => Err(SpawnError::Engine(EngineError::io(&op, e), recorded)),
        }
    })
}

/// Makes the calling thread's next children start in the PID namespace `ns`.
fn enter_pidns(ns: &File) -> std::io::Result<()> {
    // Affects this thread only.
    Ok(nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWPID)?)
}

/// In the child, between fork and exec: only raw system calls, no allocation.
fn wait_at_gate(pid_w: RawFd, gate_r: RawFd, gate_w: RawFd) -> std::io::Result<()> {
    // SAFETY: runs in the forked child before exec, where only async-signal-safe calls are
    // allowed: close, write, read and errno are raw system calls that do not allocate or lock;
    // the descriptors are the pipe ends the parent created and still holds open; the buffers are
    // locals that outlive each call and are as long as the lengths passed.
    unsafe {
        // Our copy of the parent's end: without closing it, the parent's death would go unseen.
        libc::close(gate_w);
        let pid = host_pid().to_ne_bytes();
        if libc::write(pid_w, pid.as_ptr().cast(), pid.len()) != pid.len() as isize {
            return Err(std::io::Error::last_os_error());
        }
        let mut go = 0u8;
        loop {
            let n = libc::read(gate_r, (&mut go as *mut u8).cast(), 1);
            if n < 0 && *libc::__errno_location() == libc::EINTR {
                continue;
            }
            if n == 1 && go == 1 {
                return Ok(());
            }
            // Refused, or nslab is gone: do not run the program.
            return Err(std::io::Error::from_raw_os_error(libc::ECANCELED));
        }
    }
}

/// In the child: its pid as nslab sees it. In a PID namespace `getpid` gives the namespace's
/// number; `/proc/self` in the /proc nslab uses names the process by nslab's numbering.
/// Raw system calls only (no allocation).
fn host_pid() -> i32 {
    let mut buf = [0u8; 16];
    // SAFETY: readlink writes at most buf.len() bytes into buf.
    let n = unsafe { libc::readlink(c"/proc/self".as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    let digits = if n > 0 { &buf[..n as usize] } else { &[][..] };
    let mut pid: i32 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            pid = 0;
            break;
        }
        pid = pid.saturating_mul(10).saturating_add(i32::from(d - b'0'));
    }
    if pid > 0 {
        pid
    } else {
        // No /proc: then there is no PID namespace either.
        nix::unistd::getpid().as_raw()
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| EngineError::errno("create a pipe", e))
}

/// An anonymous memory file in append mode: the child's writes always land at the end, and
/// nslab reads it with positioned reads that never move the shared offset.
fn memfd(name: &str) -> Result<File> {
    let op = "create an output buffer";
    let fd =
        nix::sys::memfd::memfd_create(name, nix::sys::memfd::MFdFlags::MFD_CLOEXEC).map_err(|e| EngineError::errno(op, e))?;
    fcntl(fd.as_fd(), FcntlArg::F_SETFL(OFlag::O_APPEND)).map_err(|e| EngineError::errno(op, e))?;
    Ok(File::from(fd))
}

/// What a program has written to an output file so far, bounded (see `output_cap::read`).
pub fn read_output(file: &File) -> Vec<u8> {
    super::output_cap::read(file)
}

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    /// The exit code, or 128 + the signal that ended it (as a shell reports it).
    Exited(i32),
    TimedOut,
    Cancelled,
}

/// The exit status of a child that has ended, without reaping it (it stays a zombie, holding
/// its pid, until `reap`). None while it runs.
pub fn exit_status(pid: i32) -> Result<Option<i32>> {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    match waitid(Id::Pid(Pid::from_raw(pid)), flags) {
        Ok(WaitStatus::Exited(_, code)) => Ok(Some(code)),
        Ok(WaitStatus::Signaled(_, sig, _)) => Ok(Some(128 + sig as i32)),
        Ok(_) => Ok(None),
        Err(e) => Err(EngineError::errno(format!("wait for process {pid}"), e)),
    }
}

/// Waits for a child to end (without reaping it), up to `timeout`, checking `cancelled` often.
pub fn wait(pid: i32, timeout: Option<Duration>, cancelled: &dyn Fn() -> bool) -> Result<Waited> {
    let deadline = timeout.map(|t| Instant::now() + t);
    // A pidfd becomes readable when the process ends: no busy polling.
    // SAFETY: pidfd_open takes a pid and flags, no pointers (nix has no wrapper for it).
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a non-negative result is a new descriptor that nothing else owns.
    let pidfd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) });
    let step = Duration::from_millis(50);
    loop {
        if let Some(code) = exit_status(pid)? {
            return Ok(Waited::Exited(code));
        }
        if cancelled() {
            return Ok(Waited::Cancelled);
        }
        let mut pause = step;
        if let Some(d) = deadline {
            let left = d.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Waited::TimedOut);
            }
            pause = pause.min(left);
        }
        match &pidfd {
            Some(fd) => {
                let mut fds = [nix::poll::PollFd::new(fd.as_fd(), nix::poll::PollFlags::POLLIN)];
                let ms = u16::try_from(pause.as_millis()).unwrap_or(u16::MAX);
                match nix::poll::poll(&mut fds, ms.max(1)) {
                    Ok(_) | Err(Errno::EINTR) => {}
                    Err(e) => return Err(EngineError::errno(format!("wait for process {pid}"), e)),
                }
            }
            None => std::thread::sleep(pause.min(Duration::from_millis(5))),
        }
    }
}

/// Collects an ended child (frees its pid).
pub fn reap(pid: i32) {
    let _ = waitpid(Pid::from_raw(pid), None);
}

/// The process groups that have a running (not zombie) member, from one pass over /proc.
/// A zombie has ended: it only waits for its parent (which may never come: the init of some
/// containers does not collect orphans).
pub fn live_groups() -> HashSet<i32> {
    let mut groups = HashSet::new();
    let Ok(dir) = std::fs::read_dir("/proc") else { return groups };
    let mut buf = [0u8; 1024];
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        if let Some((state, pgrp)) = state_and_group(pid, &mut buf) {
            if state != b'Z' {
                groups.insert(pgrp);
            }
        }
    }
    groups
}

/// State and process group from /proc/PID/stat, read with one system call into `buf`.
fn state_and_group(pid: i32, buf: &mut [u8]) -> Option<(u8, i32)> {
    let n = File::open(format!("/proc/{pid}/stat")).ok()?.read(buf).ok()?;
    let text = &buf[..n];
    // After the command name (which may contain anything) come: state, ppid, pgrp.
    let rest = &text[text.iter().rposition(|&b| b == b')')? + 2..];
    let mut fields = rest.split(|&b| b == b' ');
    let state = *fields.next()?.first()?;
    fields.next()?;
    let pgrp = std::str::from_utf8(fields.next()?).ok()?.parse().ok()?;
    Some((state, pgrp))
}

/// The fields of /proc/PID/stat after the command name (state first, then the parent's pid).
pub(super) fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    Some(stat[stat.rfind(')')? + 2..].split(' ').map(str::to_string).collect())
}

/// Whether a process exists and has not ended (a zombie has ended).
pub fn running(pid: i32) -> bool {
    stat_fields(pid).is_some_and(|f| f[0] != "Z")
}

/// A process's start time in clock ticks since boot (field 22 of /proc/PID/stat).
pub fn process_start(pid: i32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// Ends a process group (SIGKILL) and waits, up to `limit`, until none of it is left running;
/// reaps the leader if it is our child. Returns true when the group is gone.
pub fn end_group(pgid: i32, limit: Duration) -> bool {
    exec::kill_group(pgid);
    let deadline = Instant::now() + limit;
    loop {
        let _ = waitpid(Pid::from_raw(pgid), Some(WaitPidFlag::WNOHANG));
        if !live_groups().contains(&pgid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
