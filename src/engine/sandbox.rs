//! The sandbox: a private user, mount and network namespace for the whole process, with its own
//! `/run` (so `/run/netns` and `/run/nslab` are private) and its own `/sys` (so programs in its
//! network namespace see its links, not the machine's). Everything made inside vanishes with
//! the process; a keeper lets the lab tear down even when the caller's process is killed
//! (`keeper.rs`), and the lab's programs end with the lab's PID namespace (`pidns.rs`). It must be
//! entered before any thread starts: the kernel refuses `unshare(CLONE_NEWUSER | CLONE_NEWNS)` to
//! multithreaded processes.

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::unistd::{getegid, geteuid};

use std::sync::atomic::{AtomicBool, Ordering};

use super::error::{EngineError, Result};

static ENTERED: AtomicBool = AtomicBool::new(false);

/// Whether this process is in a sandbox of its own: then its home namespace, and everything in
/// it, ends with the process, and nothing outside can see what the kernel has yet to clean up.
pub fn entered() -> bool {
    ENTERED.load(Ordering::Relaxed)
}

/// Moves this process into a sandbox of its own: new user, mount and network namespaces (root
/// on a kernel without user namespaces: mount and network only) and a private /run, so nothing
/// it builds is visible on, or left on, the host. Call it before any thread starts (unshare
/// refuses a multi-threaded process). The caller's process stays behind as the sandbox's keeper;
/// this returns in the process that builds the lab.
pub fn enter() -> Result<()> {
    let op = "enter the sandbox";
    let (uid, gid) = (geteuid(), getegid());
    let base = CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET;
    match unshare(base | CloneFlags::CLONE_NEWUSER) {
        Ok(()) => map_ids(uid.as_raw(), gid.as_raw()).map_err(|e| EngineError::io(op, e))?,
        // Root without user namespaces (some hardened kernels) can still have the rest.
        Err(_) if uid.is_root() => unshare(base).map_err(|e| EngineError::errno(op, e))?,
        Err(e) => return Err(EngineError::errno(op, e)),
    }
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .map_err(|e| EngineError::errno(op, e))?;
    mount(Some("tmpfs"), "/run", Some("tmpfs"), MsFlags::empty(), Some("mode=755"))
        .map_err(|e| EngineError::errno(format!("{op}: mount a private /run"), e))?;
    for dir in ["/run/netns", "/run/nslab"] {
        super::trusted_dir::ensure(std::path::Path::new(dir), "the sandbox's namespaces and ledgers")?;
    }
    own_sysfs()?;
    ENTERED.store(true, Ordering::Relaxed);
    // From here on the caller's process is the keeper (see `keeper.rs`); this returns in the lab.
    super::keeper::split()
}

/// Mounts a sysfs of the sandbox's network namespace over the machine's: sysfs shows the network
/// namespace of whoever mounts it, so `/sys/class/net` then lists the sandbox's links, for every
/// program run in the sandbox's own namespace, which shares nslab's mounts (named namespaces get
/// theirs from `exec.rs`; `/proc/net` and `/proc/sys/net` follow the reader's namespace anyway). In a
/// user namespace the inherited `/sys` is locked and cannot be unmounted: the new one goes over
/// it. A kernel may refuse a new sysfs (a container that masks parts of `/sys` makes one "too
/// revealing"): then an empty read-only directory over `/sys/class/net` still hides the
/// machine's links. The sandbox never shows them.
fn own_sysfs() -> Result<()> {
    if mount(Some("sysfs"), "/sys", Some("sysfs"), MsFlags::empty(), None::<&str>).is_ok() {
        return Ok(());
    }
    let flags = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(Some("tmpfs"), "/sys/class/net", Some("tmpfs"), flags, Some("mode=555"))
        .map_err(|e| EngineError::errno("enter the sandbox: hide the machine's /sys/class/net", e))
}

/// Maps root inside to the caller outside, so programs run with `exec_in` keep their capabilities.
fn map_ids(uid: u32, gid: u32) -> std::io::Result<()> {
    std::fs::write("/proc/self/setgroups", "deny")?;
    std::fs::write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    std::fs::write("/proc/self/gid_map", format!("0 {gid} 1"))
}
