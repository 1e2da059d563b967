//! Named network namespaces, the iproute2 way: a bind mount of the namespace on `/run/netns/NAME`.
//!
//! All switching happens on the calling thread (setns is per thread), and every switch is undone
//! before returning, so callers never observe a thread left in another namespace.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::stat::Mode;
use nix::sys::statfs::NSFS_MAGIC;

use super::error::{EngineError, Result};

pub const NETNS_DIR: &str = "/run/netns";

pub fn netns_path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

/// The namespace the calling thread is in now.
pub fn current() -> Result<File> {
    File::open("/proc/thread-self/ns/net").map_err(|e| EngineError::io("open the current network namespace", e))
}

/// Opens a named namespace, checking that the file really carries a namespace mount
/// (an empty file is what a half-made or half-deleted namespace leaves behind).
pub fn open_named(name: &str) -> Result<File> {
    let path = netns_path(name);
    let file = File::open(&path).map_err(|e| EngineError::io(format!("open namespace {name}"), e))?;
    let fs = nix::sys::statfs::fstatfs(file.as_fd()).map_err(|e| EngineError::errno(format!("inspect namespace {name}"), e))?;
    if fs.filesystem_type() != NSFS_MAGIC {
        return Err(EngineError::message(
            format!("open namespace {name}"),
            format!("{} exists but is not a namespace mount (left over from an interrupted `ip netns add`?)", path.display()),
        ));
    }
    Ok(file)
}

pub fn exists(name: &str) -> bool {
    open_named(name).is_ok()
}

/// The namespace's inode number: its identity, as shown by `ip netns identify` and `lsns`.
pub fn inode_of(file: &File) -> Result<u64> {
    use std::os::unix::fs::MetadataExt;
    file.metadata().map(|m| m.ino()).map_err(|e| EngineError::io("inspect namespace", e))
}

pub fn list() -> Result<Vec<String>> {
    let dir = match std::fs::read_dir(NETNS_DIR) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(EngineError::io("list namespaces", e)),
    };
    let mut names: Vec<String> = dir.filter_map(|e| e.ok()).filter_map(|e| e.file_name().into_string().ok()).collect();
    names.sort();
    Ok(names)
}

/// Runs `f` with the calling thread inside `target`, then returns it to `home`.
pub fn within<T>(target: &impl AsFd, home: &impl AsFd, f: impl FnOnce() -> T) -> Result<T> {
    setns(target, CloneFlags::CLONE_NEWNET).map_err(|e| EngineError::errno("enter namespace", e))?;
    let out = f();
    // Failing to return would leave every later call in the wrong namespace: nothing is safe then.
    setns(home, CloneFlags::CLONE_NEWNET).expect("return to the home network namespace");
    Ok(out)
}

/// Makes `/run/netns` a shared mount point, as `ip netns add` does, so that namespace mounts
/// propagate to every mount namespace that sees the directory.
pub fn prepare_dir() -> Result<()> {
    let op = "prepare /run/netns";
    // 0755 whatever the umask: whoever can write here can plant what root later deletes.
    super::trusted_dir::ensure(Path::new(NETNS_DIR), "network namespace mounts")?;
    let shared = MsFlags::MS_SHARED | MsFlags::MS_REC;
    match mount(None::<&str>, NETNS_DIR, None::<&str>, shared, None::<&str>) {
        Ok(()) => Ok(()),
        Err(Errno::EINVAL) => {
            mount(Some(NETNS_DIR), NETNS_DIR, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
                .map_err(|e| EngineError::errno(op, e))?;
            mount(None::<&str>, NETNS_DIR, None::<&str>, shared, None::<&str>).map_err(|e| EngineError::errno(op, e))
        }
        Err(e) => Err(EngineError::errno(op, e)),
    }
}

/// What a namespace being created is known by before it has its name: the new namespace's
/// inode (its identity for good) and the inode of the placeholder file it will be mounted on
/// (all that an interrupted create leaves behind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placeholder {
    pub inode: u64,
    /// The placeholder file's inode, once it exists.
    pub file: Option<u64>,
}

/// Why `create` failed: the engine, or the caller's `record` step (its own error type).
#[derive(Debug)]
pub enum CreateError<E> {
    Engine(EngineError),
    Record(E),
}

/// Creates a named namespace like `ip netns add` and returns a handle to it. Before the name
/// is given to the namespace, `record` is told its identity (to write it down), so that a
/// process killed at any point leaves a record that names exactly what it made: the namespace
/// is made first (on this thread, which returns to `home` at once, keeping a handle; killed
/// now, nothing is left), then the placeholder file (O_EXCL), then `record` runs, then the
/// namespace is bind-mounted on the file. Only a kill in the two system calls between the
/// file's creation and `record`'s write leaves a file no record names. When `record` fails,
/// nothing is left.
pub fn create<E>(
    name: &str,
    home: &impl AsFd,
    mut record: impl FnMut(Placeholder) -> std::result::Result<(), E>,
) -> std::result::Result<File, CreateError<E>> {
    use std::os::unix::fs::MetadataExt;
    let op = format!("create namespace {name}");
    let engine = |e: EngineError| CreateError::Engine(e);
    let path = netns_path(name);
    unshare(CloneFlags::CLONE_NEWNET).map_err(|e| engine(EngineError::errno(&op, e)))?;
    let new = current();
    setns(home, CloneFlags::CLONE_NEWNET).expect("return to the home network namespace");
    let new = new.map_err(engine)?;
    let inode = inode_of(&new).map_err(engine)?;
    // Recorded before the name exists, then again with the placeholder's inode: a kill between
    // the two leaves an intent naming the namespace and an empty file nobody else can have made
    // (it was created O_EXCL, and someone else's would have a namespace mounted on it).
    record(Placeholder { inode, file: None }).map_err(CreateError::Record)?;
    let flags = OFlag::O_RDONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let placeholder: OwnedFd = open(&path, flags, Mode::empty()).map_err(|e| engine(EngineError::errno(&op, e)))?;
    let made = (|| {
        let file = File::from(placeholder).metadata().map(|m| m.ino()).map_err(|e| engine(EngineError::io(&op, e)))?;
        record(Placeholder { inode, file: Some(file) }).map_err(CreateError::Record)?;
        // The handle's /proc path names the namespace itself: the thread need not be in it.
        let source = format!("/proc/self/fd/{}", new.as_raw_fd());
        mount(Some(source.as_str()), &path, Some("none"), MsFlags::MS_BIND, None::<&str>)
            .map_err(|e| engine(EngineError::errno(&op, e)))
    })();
    if let Err(e) = made {
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    // The handle was opened before anything was made: running out of descriptors (EMFILE)
    // fails before the placeholder exists, never leaving a namespace the caller is told failed.
    Ok(new)
}

/// What a name in /run/netns holds now, seen without following a symlink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtName {
    Missing,
    /// A symbolic link: nslab never deletes through one (`umount2` would act on its target).
    Symlink,
    /// A namespace mount, with the namespace's inode.
    Namespace(u64),
    /// A plain regular file (no namespace mounted on it), with its inode: a placeholder.
    File(u64),
    /// Anything else (a directory, a FIFO, another file system mounted there).
    Other,
}

/// Looks at what `name` holds, never following a symlink and never blocking (a FIFO).
pub fn at_name(name: &str) -> AtName {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let path = netns_path(name);
    let Ok(meta) = std::fs::symlink_metadata(&path) else { return AtName::Missing };
    if meta.file_type().is_symlink() {
        return AtName::Symlink;
    }
    if meta.file_type().is_fifo() || meta.file_type().is_socket() || !meta.file_type().is_file() {
        return AtName::Other;
    }
    let Ok(file) = open_nofollow(&path) else { return AtName::Missing };
    let Ok(fs) = nix::sys::statfs::fstatfs(file.as_fd()) else { return AtName::Other };
    let Ok(meta) = file.metadata() else { return AtName::Other };
    if fs.filesystem_type() == NSFS_MAGIC {
        AtName::Namespace(meta.ino())
    } else if meta.file_type().is_file() {
        AtName::File(meta.ino())
    } else {
        AtName::Other
    }
}

fn open_nofollow(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC).open(path)
}

/// Removes a named namespace like `ip netns delete`, but only what `name` itself holds: never
/// through a symlink, only a namespace mount, and (with `expected`) only the namespace with that
/// inode. The kernel frees the namespace once nothing (process, fd, socket) refers to it.
pub fn delete(name: &str, expected: Option<u64>) -> Result<()> {
    let op = format!("delete namespace {name}");
    let path = netns_path(name);
    match at_name(name) {
        AtName::Namespace(found) if expected.is_none_or(|e| e == found) => {}
        AtName::Namespace(found) => {
            return Err(EngineError::message(
                op,
                format!(
                    "{} now holds another namespace (inode {found}, not {}): left as is",
                    path.display(),
                    expected.unwrap_or(0)
                ),
            ))
        }
        AtName::Missing => return Err(EngineError::errno(op, Errno::ENOENT)),
        AtName::Symlink => {
            let target = std::fs::read_link(&path).map(|t| format!(" (to {})", t.display())).unwrap_or_default();
            return Err(EngineError::message(
                op,
                format!("{} is a symbolic link{target}, not a namespace: nslab never deletes through one (remove the link itself with rm)", path.display()),
            ));
        }
        AtName::File(_) | AtName::Other => {
            return Err(EngineError::message(
                op,
                format!("{} is not a namespace mount (left over from an interrupted `ip netns add`?)", path.display()),
            ))
        }
    }
    unmount(name)?;
    unlink(name)
}

/// The first half of `delete`: detaches the namespace from its name (never through a symlink).
/// The caller has checked what the name holds (`at_name`).
pub fn unmount(name: &str) -> Result<()> {
    match umount2(&netns_path(name), MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW) {
        Ok(()) | Err(Errno::EINVAL) => Ok(()),
        Err(e) => Err(EngineError::errno(format!("delete namespace {name}"), e)),
    }
}

/// The second half of `delete`: removes the (now empty) file.
pub fn unlink(name: &str) -> Result<()> {
    std::fs::remove_file(netns_path(name)).map_err(|e| EngineError::io(format!("delete namespace {name}"), e))
}
