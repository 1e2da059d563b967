//! Settings that several live labs may change at once: a network sysctl outside the labs' own
//! namespaces (forwarding where nslab runs, say). Each is one record per (namespace inode, key)
//! under `SHARED_DIR`, changed only under its `flock`: the value before the first lab, the
//! labs' value, and the labs holding it (id, name, pid, pid start time). A lab asking for the
//! value the others hold joins them; one asking for another value is refused, naming a holder;
//! the last one to leave puts the first value back, if the setting still holds the labs' value.
//! A holder whose process is gone (or whose pid now names another process) is dropped by
//! whoever looks next, so `clean` of a dead lab does the right thing too.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg, OFlag};
use nix::sys::stat::Mode;
use serde::{Deserialize, Serialize};

use super::ledger::process_start;
use crate::engine::{EngineError, Result as EngineResult};

pub const SHARED_DIR: &str = "/run/nslab/shared";

/// A lab holding a setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub id: String,
    pub name: String,
    pub pid: i32,
    pub start: u64,
}

impl Holder {
    fn alive(&self) -> bool {
        process_start(self.pid) == Some(self.start) && crate::engine::spawn::running(self.pid)
    }

    fn is_me(&self) -> bool {
        let pid = std::process::id() as i32;
        self.pid == pid && process_start(pid) == Some(self.start)
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "lab {:?} (id {}, pid {})", self.name, self.id, self.pid)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Setting {
    ns_inode: u64,
    key: String,
    /// The value before the first lab.
    original: String,
    /// The labs' value, as the kernel reads it back.
    value: String,
    holders: Vec<Holder>,
}

/// How the setting is read and written (in its namespace).
pub struct Access<'a> {
    pub read: &'a dyn Fn() -> EngineResult<String>,
    pub write: &'a dyn Fn(&str) -> EngineResult<()>,
}

/// Why a lab could not take a setting.
#[derive(Debug)]
pub enum TakeError<E> {
    /// Another live lab holds it at another value.
    Held { by: Holder, value: String },
    /// The caller's `record` step failed.
    Record(E),
    /// Reading or writing the setting failed.
    Access(EngineError),
    /// The record could not be used.
    Failed(String),
}

/// What leaving a setting did.
#[derive(Debug, PartialEq, Eq)]
pub enum Released {
    /// The value from before the first lab is back.
    Restored,
    /// It holds the value from before the first lab already (put back by another lab, or
    /// never changed): nothing to do.
    AlreadyBack,
    /// Someone changed it since the labs set it: left as is.
    Changed { now: String, labs: String },
    /// Other live labs still hold it.
    StillHeld(Vec<Holder>),
    /// The setting itself is gone (a link's, and the link was deleted): nothing to restore.
    Gone,
}

/// Values compare as the kernel prints them, whitespace aside ("1" and "1\n", "0 0" and "0\t0").
pub fn same_value(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

/// The record's file name: the key with '/' and '%' escaped, so that every key has its own.
fn file_name(ns_inode: u64, key: &str) -> String {
    format!("{ns_inode}-{}", key.replace('%', "%25").replace('/', "%2f"))
}

/// A record, locked until dropped.
struct Locked {
    file: Flock<File>,
    dir: File,
    name: String,
}

/// Opens the directory, creating it 0700 whatever the umask, and refusing a symlink or a
/// directory someone else owns.
fn open_dir(dir: &Path, create: bool) -> Result<Option<File>, String> {
    let op = |e: Errno| format!("open {}: {}", dir.display(), e.desc());
    if create {
        if let Some(parent) = dir.parent() {
            if !parent.exists() {
                std::fs::create_dir_all(parent).map_err(|e| format!("create {}: {e}", parent.display()))?;
            }
        }
        match nix::unistd::mkdir(dir, Mode::from_bits_truncate(0o700)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(op(e)),
        }
    }
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = match nix::fcntl::open(dir, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) if !create => return Ok(None),
        Err(e) => return Err(op(e)),
    };
    let file = File::from(fd);
    let meta = file.metadata().map_err(|e| format!("inspect {}: {e}", dir.display()))?;
    if meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(format!("{} belongs to uid {}, not to this user: refusing to use it", dir.display(), meta.uid()));
    }
    if meta.mode() & 0o7777 != 0o700 {
        nix::sys::stat::fchmod(file.as_fd(), Mode::from_bits_truncate(0o700)).map_err(op)?;
    }
    Ok(Some(file))
}

impl Locked {
    /// Locks the record (creating its file 0600 when `create`). A file unlinked by a lab that
    /// left while this one waited for the lock is not the record any more: then it starts again.
    fn open(dir: &Path, ns_inode: u64, key: &str, create: bool) -> Result<Option<Locked>, String> {
        let name = file_name(ns_inode, key);
        loop {
            let Some(dirf) = open_dir(dir, create)? else { return Ok(None) };
            let mut flags = OFlag::O_RDWR | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK;
            if create {
                flags |= OFlag::O_CREAT;
            }
            let fd = match nix::fcntl::openat(dirf.as_fd(), name.as_str(), flags, Mode::from_bits_truncate(0o600)) {
                Ok(fd) => fd,
                // The directory went with the last record while this lab opened it: again.
                Err(Errno::ENOENT) if create => continue,
                Err(Errno::ENOENT) => return Ok(None),
                Err(e) => return Err(format!("open {}/{name}: {}", dir.display(), e.desc())),
            };
            let file = File::from(fd);
            let meta = file.metadata().map_err(|e| format!("inspect {}/{name}: {e}", dir.display()))?;
            if !meta.file_type().is_file() || meta.uid() != nix::unistd::geteuid().as_raw() {
                return Err(format!("{}/{name} is not a regular file of this user's: refusing to use it", dir.display()));
            }
            if meta.mode() & 0o7777 != 0o600 {
                let _ = nix::sys::stat::fchmod(file.as_fd(), Mode::from_bits_truncate(0o600));
            }
            let file = Flock::lock(file, FlockArg::LockExclusive)
                .map_err(|(_, e)| format!("lock {}/{name}: {}", dir.display(), e.desc()))?;
            let now = nix::sys::stat::fstatat(dirf.as_fd(), name.as_str(), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW);
            if now.is_ok_and(|st| st.st_ino == meta.ino()) {
                return Ok(Some(Locked { file, dir: dirf, name }));
            }
        }
    }

    fn load(&mut self) -> Option<Setting> {
        let mut text = String::new();
        self.file.seek(SeekFrom::Start(0)).ok()?;
        self.file.read_to_string(&mut text).ok()?;
        // Only the first value counts: a shorter record written over a longer one is followed
        // by the old one's tail until the file is truncated.
        serde_json::Deserializer::from_str(&text).into_iter::<Setting>().next()?.ok()
    }

    /// One write from the start, then the length: a process killed in between leaves the
    /// record whole, followed by a tail `load` ignores.
    fn store(&mut self, s: &Setting) -> Result<(), String> {
        let text = serde_json::to_string(s).expect("a setting serializes");
        let fail = |e: std::io::Error| format!("write {}: {e}", self.name);
        self.file.seek(SeekFrom::Start(0)).map_err(fail)?;
        self.file.write_all(text.as_bytes()).map_err(fail)?;
        self.file.set_len(text.len() as u64).map_err(fail)
    }

    /// Removes the record (still locked: a lab waiting for it sees it gone and starts again),
    /// and the directory when it was the last one.
    fn remove(self, dir: &Path) {
        let _ = nix::unistd::unlinkat(self.dir.as_fd(), self.name.as_str(), nix::unistd::UnlinkatFlags::NoRemoveDir);
        let _ = std::fs::remove_dir(dir);
    }
}

/// Takes the setting for `me` at `want`: first (the current value is noted as the original),
/// or joining live labs that hold the same value. `record(original)` runs before the value is
/// written (the caller's ledger intent). Returns the original and the labs' value as read back.
pub fn take<E>(
    dir: &Path,
    ns_inode: u64,
    key: &str,
    me: &Holder,
    want: &str,
    access: &Access,
    record: impl FnOnce(&str) -> Result<(), E>,
) -> Result<(String, String), TakeError<E>> {
    let mut lock = Locked::open(dir, ns_inode, key, true).map_err(TakeError::Failed)?.expect("created");
    let before = lock.load();
    let mut others: Vec<Holder> = Vec::new();
    let mut held_by_me = false;
    if let Some(s) = &before {
        for h in &s.holders {
            if h.is_me() && h.id == me.id {
                held_by_me = true;
            } else if h.alive() {
                others.push(h.clone());
            }
        }
    }
    let current = (access.read)().map_err(TakeError::Access)?;
    let original = match &before {
        Some(s) if !others.is_empty() => {
            if !same_value(&s.value, want) {
                return Err(TakeError::Held { by: others[0].clone(), value: s.value.clone() });
            }
            s.original.clone()
        }
        Some(s) if held_by_me => s.original.clone(),
        // Its holders are all gone: they left the labs' value (put it back, in effect) or
        // someone changed it since (that is the value to come back to).
        Some(s) if same_value(&current, &s.value) => s.original.clone(),
        _ => current.clone(),
    };
    record(&original).map_err(TakeError::Record)?;
    let mut holders = others.clone();
    holders.push(me.clone());
    // Written down before the value is: whatever happens next, the original is known.
    let mut setting = Setting { ns_inode, key: key.into(), original: original.clone(), value: want.into(), holders };
    lock.store(&setting).map_err(TakeError::Failed)?;
    let written = (access.write)(want).and_then(|()| (access.read)());
    match written {
        Ok(value) => {
            setting.value = value.clone();
            lock.store(&setting).map_err(TakeError::Failed)?;
            Ok((original, value))
        }
        Err(e) => {
            // Nothing changed: the record goes back to what it was.
            match before {
                Some(mut s) => {
                    s.holders.retain(|h| if h.is_me() && h.id == me.id { held_by_me } else { h.alive() });
                    let _ = lock.store(&s);
                }
                None => lock.remove(dir),
            }
            Err(TakeError::Access(e))
        }
    }
}

/// Removes the records that labs killed before writing them left empty, then the directory if
/// nothing else is in it (for `clean`: such a lab may have died before its ledger existed).
/// A record being written is locked by its writer: this waits for it, then sees it whole.
pub fn prune(dir: &Path) {
    let Ok(Some(dirf)) = open_dir(dir, false) else { return };
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let flags = OFlag::O_RDWR | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK;
        let Ok(fd) = nix::fcntl::openat(dirf.as_fd(), name.as_str(), flags, Mode::empty()) else { continue };
        let file = File::from(fd);
        let Ok(meta) = file.metadata() else { continue };
        if !meta.file_type().is_file() || meta.uid() != nix::unistd::geteuid().as_raw() {
            continue;
        }
        let Ok(file) = Flock::lock(file, FlockArg::LockExclusive) else { continue };
        let now = nix::sys::stat::fstatat(dirf.as_fd(), name.as_str(), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW);
        if !now.is_ok_and(|st| st.st_ino == meta.ino()) {
            continue;
        }
        let Ok(dir_copy) = dirf.try_clone() else { continue };
        let mut record = Locked { file, dir: dir_copy, name };
        if record.load().is_none() {
            record.remove(dir);
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// Leaves the setting: drops the labs of this process (a lab is its process: teardown runs in
/// it, `clean` only for labs whose process is gone) and dead ones from its holders; the last
/// one out puts the original back if the setting still holds the labs' value. Without a record
/// (a lab killed before writing one), `old` and `new` from the lab's own ledger decide.
pub fn release(dir: &Path, ns_inode: u64, key: &str, old: &str, new: &str, access: &Access) -> Result<Released, String> {
    let Some(mut lock) = Locked::open(dir, ns_inode, key, false)? else {
        // A lab killed between making the directory and its first record leaves it empty.
        let _ = std::fs::remove_dir(dir);
        return restore_if_unchanged(old, new, access);
    };
    let Some(mut s) = lock.load() else {
        lock.remove(dir);
        return restore_if_unchanged(old, new, access);
    };
    s.holders.retain(|h| h.alive() && !h.is_me());
    if !s.holders.is_empty() {
        lock.store(&s)?;
        return Ok(Released::StillHeld(s.holders));
    }
    let out = restore_if_unchanged(&s.original, &s.value, access);
    lock.remove(dir);
    out
}

fn restore_if_unchanged(original: &str, labs: &str, access: &Access) -> Result<Released, String> {
    let gone = |e: &EngineError| e.code() == Some(Errno::ENOENT);
    let now = match (access.read)() {
        Err(e) if gone(&e) => return Ok(Released::Gone),
        other => other.map_err(|e| e.to_string())?,
    };
    if same_value(&now, original) {
        return Ok(Released::AlreadyBack);
    }
    if !same_value(&now, labs) {
        return Ok(Released::Changed { now, labs: labs.into() });
    }
    match (access.write)(original) {
        Err(e) if gone(&e) => Ok(Released::Gone),
        other => other.map(|()| Released::Restored).map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    fn me(id: &str) -> Holder {
        let pid = std::process::id() as i32;
        Holder { id: id.into(), name: format!("lab-{id}"), pid, start: process_start(pid).unwrap() }
    }

    /// A dead holder: a pid that is not running.
    fn ghost() -> Holder {
        Holder { id: "dead01".into(), name: "gone".into(), pid: i32::MAX, start: 1 }
    }

    #[test]
    fn prune_removes_only_empty_records_and_then_the_directory() {
        let dir = std::env::temp_dir().join(format!("nslab-shared-prune-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        open_dir(&dir, true).unwrap();
        std::fs::write(dir.join(file_name(1, "net/ipv4/ip_forward")), "").unwrap();
        prune(&dir);
        assert!(!dir.exists(), "an empty record and then the directory go");
        open_dir(&dir, true).unwrap();
        let held = serde_json::to_string(&Setting {
            ns_inode: 1,
            key: "net/ipv4/ip_forward".into(),
            original: "0".into(),
            value: "1".into(),
            holders: vec![me("aaaaaa")],
        })
        .unwrap();
        std::fs::write(dir.join(file_name(1, "net/ipv4/ip_forward")), held).unwrap();
        std::fs::write(dir.join(file_name(2, "net/ipv4/ip_forward")), "").unwrap();
        prune(&dir);
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from(file_name(1, "net/ipv4/ip_forward"))]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn first_joins_refuses_and_last_restores() {
        let dir = std::env::temp_dir().join(format!("nslab-shared-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let value = RefCell::new("0".to_string());
        let read = || Ok(value.borrow().clone());
        let write = |v: &str| {
            *value.borrow_mut() = v.trim().to_string();
            Ok(())
        };
        let access = Access { read: &read, write: &write };
        let key = "net/ipv4/ip_forward";
        let ok = |_: &str| Ok::<(), ()>(());
        assert_eq!(take(&dir, 7, key, &me("a"), "1", &access, ok).unwrap(), ("0".into(), "1".into()));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o7777, 0o700);
        let file = dir.join(file_name(7, key));
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o7777, 0o600);
        // A second lab asking for the same value joins; another value is refused.
        assert_eq!(take(&dir, 7, key, &me("b"), "1", &access, ok).unwrap(), ("0".into(), "1".into()));
        match take(&dir, 7, key, &me("c"), "0", &access, ok) {
            Err(TakeError::Held { by, value }) => assert_eq!((by.id.as_str(), value.as_str()), ("a", "1")),
            other => panic!("{other:?}"),
        }
        // Both labs are this process: leaving drops all of them, and the original comes back.
        assert_eq!(release(&dir, 7, key, "0", "1", &access).unwrap(), Released::Restored);
        assert_eq!(*value.borrow(), "0");
        assert!(!dir.exists(), "the last record takes the directory with it");
        // Leaving again (`clean` of a lab already gone): nothing is left to do.
        assert_eq!(release(&dir, 7, key, "0", "1", &access).unwrap(), Released::AlreadyBack);
    }

    #[test]
    fn dead_holders_are_pruned_and_changes_since_are_left() {
        let dir = std::env::temp_dir().join(format!("nslab-shared-test2-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let value = RefCell::new("5".to_string());
        let read = || Ok(value.borrow().clone());
        let write = |v: &str| {
            *value.borrow_mut() = v.to_string();
            Ok(())
        };
        let access = Access { read: &read, write: &write };
        let key = "net/core/somaxconn";
        let ok = |_: &str| Ok::<(), ()>(());
        // A dead lab held it at 9 (original 5), and the value is still 9.
        let mut lock = Locked::open(&dir, 1, key, true).unwrap().unwrap();
        lock.store(&Setting { ns_inode: 1, key: key.into(), original: "5".into(), value: "9".into(), holders: vec![ghost()] })
            .unwrap();
        drop(lock);
        *value.borrow_mut() = "9".into();
        // A new lab asking for another value is not refused by a dead one, and keeps 5 as the original.
        assert_eq!(take(&dir, 1, key, &me("x"), "7", &access, ok).unwrap(), ("5".into(), "7".into()));
        // Someone changes it afterwards: leaving leaves it.
        *value.borrow_mut() = "8".into();
        assert_eq!(release(&dir, 1, key, "5", "7", &access).unwrap(), Released::Changed { now: "8".into(), labs: "7".into() });
        assert_eq!(*value.borrow(), "8");
        // A record's failure to write the value leaves no holder behind.
        let fail = |_: &str| Err(EngineError::errno("write", Errno::EINVAL));
        let refusing = Access { read: &read, write: &fail };
        assert!(matches!(take(&dir, 1, key, &me("y"), "3", &refusing, ok), Err(TakeError::Access(_))));
        assert!(!dir.exists());
    }

    /// A setting that no longer exists (its link was deleted) has nothing to restore: released,
    /// not a failure, and the record goes.
    #[test]
    fn a_setting_gone_with_its_link_is_released() {
        let dir = std::env::temp_dir().join(format!("nslab-shared-test3-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // None: the setting is gone.
        let value = RefCell::new(Some("0".to_string()));
        let read = || value.borrow().clone().ok_or_else(|| EngineError::errno("read", Errno::ENOENT));
        let write = |v: &str| match value.borrow_mut().as_mut() {
            Some(now) => {
                *now = v.to_string();
                Ok(())
            }
            None => Err(EngineError::errno("write", Errno::ENOENT)),
        };
        let access = Access { read: &read, write: &write };
        let key = "net/ipv4/conf/gone0/forwarding";
        assert_eq!(take(&dir, 3, key, &me("a"), "1", &access, |_: &str| Ok::<(), ()>(())).unwrap(), ("0".into(), "1".into()));
        *value.borrow_mut() = None;
        assert_eq!(release(&dir, 3, key, "0", "1", &access).unwrap(), Released::Gone);
        assert!(!dir.exists(), "nothing of the setting is left on record");
    }
}
