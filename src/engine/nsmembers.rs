//! The processes in a namespace, found through /proc: `/proc/PID/ns/KIND` is a link to the
//! namespace, and its inode (through `stat`, which follows the link) names the namespace for as
//! long as it exists. A zombie still shows its namespaces until it is reaped.

use std::collections::HashSet;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use super::spawn::stat_fields;

/// Which of a process's namespaces to look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Net,
    Pid,
}

impl Kind {
    fn link(self) -> &'static str {
        match self {
            Kind::Net => "net",
            Kind::Pid => "pid",
        }
    }
}

/// A process found in one of the namespaces asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub pid: i32,
    pub ppid: i32,
    /// Ended, waiting for its parent to collect it.
    pub zombie: bool,
}

/// The inode of a process's namespace of `kind`, or None when the process is gone.
pub fn ns_inode(pid: i32, kind: Kind) -> Option<u64> {
    std::fs::metadata(format!("/proc/{pid}/ns/{}", kind.link())).ok().map(|m| m.ino())
}

/// Every process whose namespace of `kind` is one of `inodes`, from one pass over /proc.
pub fn members(kind: Kind, inodes: &HashSet<u64>) -> Vec<Member> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| ns_inode(pid, kind).is_some_and(|ino| inodes.contains(&ino)))
        .filter_map(|pid| {
            let fields = stat_fields(pid)?;
            Some(Member { pid, ppid: fields.get(1)?.parse().ok()?, zombie: fields[0] == "Z" })
        })
        .collect()
}

/// Ends (SIGKILL) every running process whose namespace of `kind` is one of `inodes`, and waits
/// up to `limit` until none runs. Each is signalled through a pidfd opened before its namespace
/// is checked once more, so a pid reused in the meantime is never signalled. Returns how many
/// were running, or the pids still running after `limit`.
pub fn end_members(kind: Kind, inodes: &HashSet<u64>, limit: Duration) -> Result<usize, Vec<i32>> {
    let mut ended = HashSet::new();
    let deadline = Instant::now() + limit;
    loop {
        let running: Vec<i32> = members(kind, inodes).into_iter().filter(|m| !m.zombie).map(|m| m.pid).collect();
        if running.is_empty() {
            return Ok(ended.len());
        }
        if Instant::now() >= deadline {
            return Err(running);
        }
        for pid in running {
            if kill_if_in(pid, kind, inodes) {
                ended.insert(pid);
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// SIGKILL to `pid` if it is (still) in one of `inodes`; true when the signal was sent.
fn kill_if_in(pid: i32, kind: Kind, inodes: &HashSet<u64>) -> bool {
    // SAFETY: pidfd_open takes a pid and flags, no pointers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return false;
    }
    // SAFETY: pidfd_open returned a new descriptor that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    if !ns_inode(pid, kind).is_some_and(|ino| inodes.contains(&ino)) {
        return false;
    }
    use std::os::fd::AsRawFd;
    // SAFETY: pidfd_send_signal with a valid pidfd, no siginfo (NULL) and no flags.
    let rc = unsafe {
        libc::syscall(libc::SYS_pidfd_send_signal, pidfd.as_raw_fd(), libc::SIGKILL, std::ptr::null::<libc::siginfo_t>(), 0)
    };
    rc == 0
}
