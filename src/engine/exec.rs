//! Running programs inside a namespace the way `ip netns exec` does: the network namespace, a
//! private mount namespace with a fresh `/sys`, and `/etc/netns/NAME/*` bound over `/etc/*`;
//! in the lab's PID namespace, a fresh `/proc` too (see `spawn.rs`, which starts them).

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use super::error::{EngineError, Result};

/// Where and how a program runs.
pub struct Placement<'a> {
    /// The namespace to enter (None: stay where nslab is).
    pub ns: Option<&'a File>,
    /// The namespace's name, for the sysfs mount and `/etc/netns/NAME`.
    pub ns_name: Option<&'a str>,
    /// The PID namespace to start in (None: nslab's own). The thread that spawns enters it;
    /// `command` only prepares what the child needs there.
    pub pidns: Option<&'a File>,
}

/// Everything the child needs, prepared before fork: after fork only raw syscalls are allowed.
struct ChildSetup {
    ns_fd: RawFd,
    sysfs_source: CString,
    etc_binds: Vec<(CString, CString)>,
}

fn cstr(s: &str) -> CString {
    CString::new(s).expect("paths have no NUL bytes")
}

impl ChildSetup {
    fn new(placement: &Placement) -> Option<ChildSetup> {
        let ns = placement.ns?;
        let name = placement.ns_name.unwrap_or("none");
        let mut etc_binds = Vec::new();
        if let Ok(dir) = std::fs::read_dir(format!("/etc/netns/{name}")) {
            for entry in dir.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                etc_binds.push((cstr(&format!("/etc/netns/{name}/{file}")), cstr(&format!("/etc/{file}"))));
            }
        }
        Some(ChildSetup { ns_fd: ns.as_raw_fd(), sysfs_source: cstr(name), etc_binds })
    }

    /// Runs in the child between fork and exec.
    fn apply(&self) -> std::io::Result<()> {
        let check = |rc: libc::c_int| if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) };
        // SAFETY: raw system calls with C strings prepared before fork.
        unsafe {
            check(libc::setns(self.ns_fd, libc::CLONE_NEWNET))?;
            check(libc::unshare(libc::CLONE_NEWNS))?;
            let root = c"/";
            check(libc::mount(c"".as_ptr(), root.as_ptr(), std::ptr::null(), libc::MS_SLAVE | libc::MS_REC, std::ptr::null()))?;
            // A fresh sysfs shows this namespace's links under /sys/class/net; without it the child
            // would see the parent's. In a user namespace (the sandbox) the inherited /sys is locked
            // and cannot be unmounted, so the new one is mounted over it instead. Failure is
            // tolerated, as iproute2 does.
            let sys = c"/sys";
            libc::umount2(sys.as_ptr(), libc::MNT_DETACH);
            libc::mount(self.sysfs_source.as_ptr(), sys.as_ptr(), c"sysfs".as_ptr(), 0, std::ptr::null());
            for (src, dst) in &self.etc_binds {
                libc::mount(src.as_ptr(), dst.as_ptr(), c"none".as_ptr(), libc::MS_BIND, std::ptr::null());
            }
        }
        Ok(())
    }
}

/// Builds the command for `argv`, placed in the namespace and in its own process group
/// (so that it, and everything it starts, can be ended together).
pub fn command(argv: &[String], placement: &Placement) -> Result<Command> {
    let Some((program, args)) = argv.split_first() else {
        return Err(EngineError::message("run a command", "the command is empty"));
    };
    let mut cmd = Command::new(program);
    cmd.args(args).process_group(0);
    // SAFETY: restore_in_child makes only async-signal-safe system calls.
    unsafe {
        cmd.pre_exec(|| {
            super::limits::restore_in_child();
            Ok(())
        });
    }
    if let Some(setup) = ChildSetup::new(placement) {
        // SAFETY: apply makes only async-signal-safe system calls, on data prepared before fork.
        unsafe {
            cmd.pre_exec(move || setup.apply());
        }
    }
    Ok(cmd)
}

/// Builds the command for an interactive program (a shell) placed like `command`'s, but in
/// nslab's process group, so that it can read the terminal.
pub fn interactive_command(argv: &[String], placement: &Placement) -> Result<Command> {
    let Some((program, args)) = argv.split_first() else {
        return Err(EngineError::message("run a command", "the command is empty"));
    };
    let mut cmd = Command::new(program);
    cmd.args(args);
    // SAFETY: restore_in_child makes only async-signal-safe system calls.
    unsafe {
        cmd.pre_exec(|| {
            super::limits::restore_in_child();
            Ok(())
        });
    }
    if let Some(setup) = ChildSetup::new(placement) {
        // SAFETY: apply makes only async-signal-safe system calls, on data prepared before fork.
        unsafe {
            cmd.pre_exec(move || setup.apply());
        }
    }
    Ok(cmd)
}

/// In a child between fork and exec, in the lab's PID namespace and a named namespace's private
/// mount namespace (never nslab's own: a program in the root namespace shares nslab's mounts,
/// so it keeps the inherited `/proc`): mounts a `/proc` that shows the PID namespace, so that `ps`, `pgrep`, `kill $(pidof ...)` and
/// `/proc/$$` agree with the pids the program sees. Failure (a kernel that refuses, as in some
/// containers) leaves the inherited `/proc`, as a failed sysfs mount leaves `/sys`.
pub fn mount_proc_in_child() {
    let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    // SAFETY: mount with static C strings; async-signal-safe.
    unsafe { libc::mount(c"proc".as_ptr(), c"/proc".as_ptr(), c"proc".as_ptr(), flags, std::ptr::null()) };
}

/// Ends a process group nslab started. Only ever called with groups of our own children.
pub fn kill_group(pgid: i32) {
    // SAFETY: kill() takes no pointers.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}
