//! Named network namespaces, the iproute2 way: a bind mount of the namespace on `/run/netns/NAME`.
//!
//! All switching happens on the calling thread (setns is per thread), and every switch is undone
//! before returning, so callers never observe a thread left in another namespace.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::stat::Mode;

use super::error::{EngineError, Result};

pub const NETNS_DIR: &str = "/run/netns";
const NSFS_MAGIC: i64 = 0x6e73_6673;

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
    if fs.filesystem_type().0 as i64 != NSFS_MAGIC {
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

/// Creates a named namespace like `ip netns add` and returns a handle to it.
/// `home` is where the calling thread is and returns to.
pub fn create(name: &str, home: &impl AsFd) -> Result<File> {
    let op = format!("create namespace {name}");
    let path = netns_path(name);
    let flags = OFlag::O_RDONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC;
    let placeholder: OwnedFd = open(&path, flags, Mode::empty()).map_err(|e| EngineError::errno(&op, e))?;
    drop(placeholder);
    let made = (|| {
        unshare(CloneFlags::CLONE_NEWNET).map_err(|e| EngineError::errno(&op, e))?;
        let bound = mount(Some("/proc/thread-self/ns/net"), &path, Some("none"), MsFlags::MS_BIND, None::<&str>);
        setns(home, CloneFlags::CLONE_NEWNET).expect("return to the home network namespace");
        bound.map_err(|e| EngineError::errno(&op, e))
    })();
    if let Err(e) = made {
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    // Made but not opened (out of descriptors: EMFILE): undo it, or the caller, told it failed,
    // would leave it standing.
    open_named(name).inspect_err(|_| drop(delete(name)))
}

/// Removes a named namespace like `ip netns delete`. The kernel frees it once nothing
/// (process, fd, socket) refers to it any more.
pub fn delete(name: &str) -> Result<()> {
    unmount(name)?;
    unlink(name)
}

/// The first half of `delete`: detaches the namespace from its name.
pub fn unmount(name: &str) -> Result<()> {
    match umount2(&netns_path(name), MntFlags::MNT_DETACH) {
        Ok(()) | Err(Errno::EINVAL) => Ok(()),
        Err(e) => Err(EngineError::errno(format!("delete namespace {name}"), e)),
    }
}

/// The second half of `delete`: removes the (now empty) file.
pub fn unlink(name: &str) -> Result<()> {
    std::fs::remove_file(netns_path(name)).map_err(|e| EngineError::io(format!("delete namespace {name}"), e))
}
