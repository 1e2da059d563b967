//! Keeping a sandbox after nslab ends (`--sandbox --keep`): a small holder process stays in the
//! sandbox's user, mount and network namespaces, so the lab's namespaces (whose names live in
//! the sandbox's private `/run/netns`) stand until `nslab down` ends the holder. The holder is
//! registered outside the sandbox, in a directory opened before the sandbox was entered, so
//! that `nslab ls`, `shell` and `down` find it; `nslab shell` enters its namespaces.

use std::ffi::CString;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use nix::unistd::{fork, ForkResult};
use serde::{Deserialize, Serialize};

use super::error::{EngineError, Result};

/// Inside the sandbox: the holder's pid, so that the keeper leaves it running.
pub const HOLDER_MARK: &str = "/run/nslab/holder";

/// A kept sandbox, as its registry file records it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Kept {
    /// The lab's name.
    pub name: String,
    /// The lab's id (its ledger's, inside the sandbox).
    pub id: String,
    /// The holder process.
    pub pid: i32,
    /// Its start time (clock ticks since boot), to tell it from pid reuse.
    pub start: u64,
    /// The lab's namespaces, by name.
    pub namespaces: Vec<String>,
}

/// Where kept sandboxes are registered: for root next to the labs' ledgers, for others in their
/// runtime directory (or /tmp), in a directory of their own.
pub fn registry_dir() -> PathBuf {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    if uid == 0 {
        return PathBuf::from("/run/nslab/sandboxes");
    }
    match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).filter(|d| owned_dir(d, uid)) {
        Some(d) => d.join("nslab-sandboxes"),
        None => PathBuf::from(format!("/tmp/nslab-sandboxes-{uid}")),
    }
}

fn owned_dir(dir: &Path, uid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir() && m.uid() == uid)
}

/// The registry's parent directory, opened before the sandbox hides the machine's /run.
static PARENT: OnceLock<Option<(OwnedFd, CString)>> = OnceLock::new();

/// Opens the registry's parent directory (before entering the sandbox); nothing is created.
pub fn remember_registry() {
    PARENT.get_or_init(|| {
        let dir = registry_dir();
        let parent = dir.parent()?;
        // Root's registry sits beside the labs' ledgers, in a directory root may have to make.
        if !parent.exists() {
            super::trusted_dir::ensure(parent, "lab ledgers").ok()?;
        }
        let leaf = CString::new(dir.file_name()?.as_encoded_bytes()).ok()?;
        let path = CString::new(parent.as_os_str().as_encoded_bytes()).ok()?;
        // SAFETY: open with a C string; the descriptor is owned below.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
        // SAFETY: a new descriptor that nothing else owns.
        (fd >= 0).then(|| (unsafe { OwnedFd::from_raw_fd(fd) }, leaf))
    });
}

/// Starts the holder and registers it; returns its pid. Called in the lab's process, in the
/// sandbox, once the lab is kept.
pub fn hold(name: &str, id: &str, namespaces: Vec<String>) -> Result<i32> {
    let op = "keep the sandbox";
    let Some(Some((parent, leaf))) = PARENT.get() else {
        return Err(EngineError::message(op, "the place to register it outside the sandbox could not be opened"));
    };
    // SAFETY: the lab's threads are idle; the child only calls async-signal-safe functions
    // (setsid, open, dup2, close, sigprocmask, pause) before it waits forever.
    let pid = match unsafe { fork() }.map_err(|e| EngineError::errno(op, e))? {
        ForkResult::Child => holder(),
        ForkResult::Parent { child } => child.as_raw(),
    };
    std::fs::write(HOLDER_MARK, pid.to_string()).map_err(|e| EngineError::io(op, e))?;
    let start = super::spawn::process_start(pid).unwrap_or(0);
    let kept = Kept { name: name.into(), id: id.into(), pid, start, namespaces };
    register(parent, leaf, &kept).map_err(|e| EngineError::io(format!("{op}: register it"), e))?;
    Ok(pid)
}

/// The holder: its own session (no terminal's signals reach it), nothing open, waiting.
fn holder() -> ! {
    // SAFETY: async-signal-safe calls only, in a child of a possibly multithreaded process.
    unsafe {
        libc::setsid();
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        for fd in 0..3 {
            libc::dup2(null, fd);
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        libc::signal(libc::SIGTERM, libc::SIG_DFL);
        loop {
            libc::pause();
        }
    }
}

fn register(parent: &OwnedFd, leaf: &CString, kept: &Kept) -> std::io::Result<()> {
    // SAFETY: mkdirat with a C string relative to a directory descriptor we own.
    if unsafe { libc::mkdirat(parent.as_raw_fd(), leaf.as_ptr(), 0o700) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EEXIST) {
            return Err(e);
        }
    }
    // SAFETY: as above; O_NOFOLLOW refuses a symlink planted at the directory's name.
    let dir = unsafe { libc::openat(parent.as_raw_fd(), leaf.as_ptr(), libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC) };
    if dir < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a new descriptor that nothing else owns.
    let dir = unsafe { OwnedFd::from_raw_fd(dir) };
    let file = CString::new(format!("{}.json", kept.id)).expect("an id has no NUL");
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: openat with a C string relative to the directory above.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), file.as_ptr(), flags, 0o600) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a new descriptor that nothing else owns.
    let mut f = unsafe { File::from_raw_fd(fd) };
    f.write_all(serde_json::to_string(kept).expect("serializes").as_bytes())
}

/// The kept sandboxes registered, with those whose holder is gone removed from the registry.
pub fn kept() -> Vec<Kept> {
    let dir = registry_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") || !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let Some(k) = std::fs::read_to_string(&path).ok().and_then(|t| serde_json::from_str::<Kept>(&t).ok()) else {
            continue;
        };
        if alive(&k) {
            out.push(k);
        } else {
            let _ = std::fs::remove_file(&path);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    out
}

/// Whether the holder still runs (the same process, not a reuse of its pid).
pub fn alive(k: &Kept) -> bool {
    super::spawn::process_start(k.pid) == Some(k.start) && super::spawn::running(k.pid)
}

/// Ends a kept sandbox: its holder goes, and every namespace of the sandbox with it.
pub fn end(k: &Kept) -> Result<()> {
    if alive(k) {
        // SAFETY: kill takes no pointers; the pid was checked against its start time.
        if unsafe { libc::kill(k.pid, libc::SIGKILL) } != 0 {
            return Err(EngineError::io("end the kept sandbox", std::io::Error::last_os_error()));
        }
        for _ in 0..200 {
            if !alive(k) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    let _ = std::fs::remove_file(registry_dir().join(format!("{}.json", k.id)));
    Ok(())
}

/// Enters a kept sandbox's user and mount namespaces (this process must have one thread), so
/// that its `/run/netns` is the one seen; returns its own network namespace.
pub fn enter(k: &Kept) -> Result<File> {
    let op = format!("enter the kept sandbox of lab {}", k.name);
    if !alive(k) {
        return Err(EngineError::message(op, "its holder process is gone"));
    }
    let ns = |kind: &str| File::open(format!("/proc/{}/ns/{kind}", k.pid)).map_err(|e| EngineError::io(&op, e));
    let (user, mnt, net) = (ns("user")?, ns("mnt")?, ns("net")?);
    let mine = File::open("/proc/self/ns/user").map_err(|e| EngineError::io(&op, e))?;
    let same_user = super::netns::inode_of(&mine).ok() == super::netns::inode_of(&user).ok();
    if !same_user {
        nix::sched::setns(&user, nix::sched::CloneFlags::CLONE_NEWUSER).map_err(|e| EngineError::errno(&op, e))?;
    }
    nix::sched::setns(&mnt, nix::sched::CloneFlags::CLONE_NEWNS).map_err(|e| EngineError::errno(&op, e))?;
    Ok(net)
}
