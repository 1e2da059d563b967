//! Programs that leave their process group (a daemon that detaches) cannot be ended by group.
//! As a child subreaper nslab becomes their parent when the program that started them goes, and
//! teardown ends what it so adopted. Children are found by their parent pid in /proc (this
//! kernel has no /proc/PID/task/TID/children).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::wait::{waitid, waitpid, Id, WaitPidFlag};
use nix::unistd::Pid;

use super::spawn::stat_fields;

static ADOPTING: AtomicBool = AtomicBool::new(false);

/// Makes this process the parent of whatever its programs orphan. Once is enough.
pub fn adopt() {
    if !ADOPTING.swap(true, Ordering::Relaxed) {
        let _ = nix::sys::prctl::set_child_subreaper(true);
    }
}

/// The children of `parent`, each with whether it has ended already (a zombie).
pub fn children_of(parent: i32) -> Vec<(i32, bool)> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let fields = stat_fields(pid)?;
            (fields.get(1)?.parse::<i32>().ok()? == parent).then(|| (pid, fields[0] == "Z"))
        })
        .collect()
}

/// Ends (SIGKILL) `pid` if it is still a child of `me` that no helper waits for, pinned by a
/// pidfd: since the listing, a helper's own waiting thread may have collected it (a child that
/// lived a moment, not adopted) and its pid may be another process's now. Whether it was.
fn still_adopted(pid: i32, me: i32) -> bool {
    let Ok(pinned) = super::pidns::pidfd_open(pid) else { return false };
    let parent = stat_fields(pid).and_then(|f| f.get(1)?.parse::<i32>().ok());
    if parent != Some(me) || super::group_delete::is_helper(pid) || super::channel::is_channel(pid) {
        return false;
    }
    // SAFETY: pidfd_send_signal on the pidfd just opened, no siginfo, no flags.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            std::os::fd::AsRawFd::as_raw_fd(&pinned),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    true
}

/// How long `end_adopted` waits for what it ended to be collectable.
const END_WAIT: Duration = Duration::from_secs(5);

/// Ends (SIGKILL) and reaps this process's children other than `known`: what it adopted.
/// Returns how many were still running. Does nothing unless `adopt` was called.
///
/// Never waits for one child in particular: the init of a PID namespace (a dead lab's) cannot
/// finish dying before the namespace's zombies are collected, and those may be adopted here
/// too. So every round collects whatever has ended, and only then looks again.
pub fn end_adopted(known: &HashSet<i32>) -> usize {
    if !ADOPTING.load(Ordering::Relaxed) {
        return 0;
    }
    // No children at all (the usual case for the sandbox's keeper): one system call instead of
    // a walk through /proc. WNOWAIT: a child's exit status stays for whoever waits for it.
    let peek = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    if waitid(Id::All, peek) == Err(Errno::ECHILD) {
        return 0;
    }
    let me = std::process::id() as i32;
    let mut ended = HashSet::new();
    let deadline = Instant::now() + END_WAIT;
    loop {
        // (Not the children nslab forked to delete a link group: see `group_delete`.)
        let adopted: Vec<(i32, bool)> = children_of(me)
            .into_iter()
            .filter(|(pid, _)| !known.contains(pid) && !super::group_delete::is_helper(*pid) && !super::channel::is_channel(*pid))
            .collect();
        if adopted.is_empty() || Instant::now() >= deadline {
            break;
        }
        for (pid, ended_already) in adopted {
            if !ended_already && !ended.contains(&pid) && still_adopted(pid, me) {
                ended.insert(pid);
            }
            let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    ended.len()
}
