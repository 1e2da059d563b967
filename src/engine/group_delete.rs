//! Deleting a link group without waiting for the kernel's RCU barrier.
//!
//! The kernel removes a deleted link from sight at once (unlisted, its addresses and routes
//! flushed, RTM_DELLINK sent, its sysfs entry gone), and only then, in the requester's own
//! `rtnl_unlock` → `netdev_run_todo`, waits in `rcu_barrier()` until every RCU callback queued
//! on the machine has run: 10–50 ms here, much more under load, with nothing left to see. (A
//! thread blocked there also holds up its process's exit.) So the request is sent by a forked
//! child, which leaves the process group, blocks every signal, and does nothing but send it
//! and report the answer; the caller returns as soon as the kernel has announced every link
//! gone (RTM_DELLINK on a socket subscribed before the request), or the child's answer comes.
//! The child ends by itself once the barrier is over.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::error::{EngineError, Result};
use super::netns;

const RTM_DELLINK: u16 = 17;
const IFLA_GROUP: u16 = 27;
const RTMGRP_LINK: u32 = 1;
const NLMSG_ERROR: u16 = 2;
/// How long to wait for the announcements before relying on the child's answer alone.
const WAIT: Duration = Duration::from_secs(10);

/// RTM_DELLINK with ifindex 0 and IFLA_GROUP `group`: header, ifinfomsg, one attribute.
fn request(group: u32) -> [u8; 40] {
    let mut m = [0u8; 40];
    m[0..4].copy_from_slice(&40u32.to_ne_bytes());
    m[4..6].copy_from_slice(&RTM_DELLINK.to_ne_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
    m[6..8].copy_from_slice(&flags.to_ne_bytes());
    m[8..12].copy_from_slice(&1u32.to_ne_bytes());
    // ifinfomsg (16 bytes) stays zero: any family, ifindex 0.
    m[32..34].copy_from_slice(&8u16.to_ne_bytes());
    m[34..36].copy_from_slice(&IFLA_GROUP.to_ne_bytes());
    m[36..40].copy_from_slice(&group.to_ne_bytes());
    m
}

/// A netlink route socket in the calling thread's namespace, bound to `groups`.
fn socket(groups: u32) -> std::io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the result is checked before use.
    let fd = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a new descriptor owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: an all-zero sockaddr_nl is valid; family and groups are set below.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as u16;
    addr.nl_groups = groups;
    let len = std::mem::size_of::<libc::sockaddr_nl>() as u32;
    // SAFETY: a valid socket and address of the stated length.
    if unsafe { libc::bind(fd.as_raw_fd(), (&addr as *const libc::sockaddr_nl).cast(), len) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(fd)
}

/// Deletes the links of `group` in `ns` (None: where the thread is) and returns once none of
/// `links` (ifindex and name of the group's links there, as just listed) is left to see. Errors
/// are the kernel's answer to the request (ENODEV: no link has the group; EOPNOTSUPP: one cannot
/// be deleted, and none was).
pub fn delete(ns: Option<&File>, home: &File, group: u32, links: &[(u32, String)]) -> Result<()> {
    let indexes: Vec<u32> = links.iter().map(|(i, _)| *i).collect();
    let op = || format!("delete the links of group {group:#x}");
    let io = |e: std::io::Error| EngineError::io(op(), e);
    let open = || -> std::io::Result<(OwnedFd, OwnedFd)> { Ok((socket(RTMGRP_LINK)?, socket(0)?)) };
    // The announcements are subscribed to before the request exists.
    let (watch, req) = match ns {
        Some(f) => netns::within(f, home, open)?.map_err(io)?,
        None => open().map_err(io)?,
    };
    let msg = request(group);
    let mut pipe = [0 as RawFd; 2];
    // SAFETY: pipe2 fills the two descriptors.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io(std::io::Error::last_os_error()));
    }
    // SAFETY: both descriptors are new and owned here.
    let (answer, answer_w) = unsafe { (OwnedFd::from_raw_fd(pipe[0]), OwnedFd::from_raw_fd(pipe[1])) };
    // Held across the fork, so that nobody looking for children of ours sees this one before it
    // is listed (the child never touches it).
    let mut helpers = HELPERS.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: the child calls only async-signal-safe functions (sigprocmask, setsid, close_range,
    // send, recv, write, _exit) on memory prepared before the fork, and never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io(std::io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: see above; the child never returns from this block.
        unsafe { child(req.as_raw_fd(), answer_w.as_raw_fd(), &msg) }
    }
    helpers.push(pid);
    drop(helpers);
    drop(req);
    drop(answer_w);
    let done = wait_gone(&watch, &answer, &indexes);
    reap(pid);
    done.map_err(|errno| EngineError::errno(op(), errno))?;
    if ns.is_none() {
        sysfs_gone(links);
    }
    Ok(())
}

/// The kernel announces a link deleted a moment before it removes its sysfs entry (same
/// request, same lock): where nslab runs, wait for that too (bounded: the sysfs mounted here
/// may show another namespace, with a namesake of the same ifindex).
fn sysfs_gone(links: &[(u32, String)]) {
    let deadline = Instant::now() + Duration::from_millis(50);
    for (index, name) in links {
        let path = format!("/sys/class/net/{name}/ifindex");
        while std::fs::read_to_string(&path).is_ok_and(|t| t.trim() == index.to_string()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
}

/// The child: out of the caller's process group (a Ctrl-C at the terminal is not for it) with
/// every signal blocked, it sends the request, writes the kernel's answer (0 or an errno) to
/// the pipe and exits.
///
/// # Safety
/// Only to be called in a freshly forked child.
unsafe fn child(req: RawFd, answer: RawFd, msg: &[u8; 40]) -> ! {
    // SAFETY: async-signal-safe calls on valid descriptors and memory; the child exits at the end.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigprocmask(libc::SIG_SETMASK, &all, std::ptr::null_mut());
        // Its name says what it is to another process (the sandbox's keeper, which adopts it
        // when nslab exits and must not wait for it: see `is_helper`).
        libc::prctl(libc::PR_SET_NAME, HELPER_NAME.as_ptr());
        libc::setsid();
        // Nothing of the caller's stays open here: not its output (a reader of it would wait for
        // us), nor a namespace, pipe or socket whose closing someone watches.
        let (low, high) = (i64::from(req.min(answer)), i64::from(req.max(answer)));
        for (first, last) in [(0, low - 1), (low + 1, high - 1), (high + 1, i64::from(u32::MAX))] {
            if first <= last {
                libc::syscall(libc::SYS_close_range, first as libc::c_uint, last as libc::c_uint, 0 as libc::c_uint);
            }
        }
        let mut code: i32 = 0;
        if libc::send(req, msg.as_ptr().cast(), msg.len(), 0) < 0 {
            code = *libc::__errno_location();
        } else {
            let mut buf = [0u8; 256];
            let n = libc::recv(req, buf.as_mut_ptr().cast(), buf.len(), 0);
            if n < 0 {
                code = *libc::__errno_location();
            } else if n >= 20 && u16::from_ne_bytes([buf[4], buf[5]]) == NLMSG_ERROR {
                code = -i32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]);
            }
        }
        libc::write(answer, (&code as *const i32).cast(), 4);
        libc::_exit(0)
    }
}

/// Waits until the kernel has announced every one of `indexes` deleted, or the child's answer
/// arrives (Ok: done; Err: the kernel refused).
fn wait_gone(watch: &OwnedFd, answer: &OwnedFd, indexes: &[u32]) -> std::result::Result<(), Errno> {
    let mut pending: Vec<u32> = indexes.to_vec();
    let deadline = Instant::now() + WAIT;
    let mut listening = true;
    let mut buf = vec![0u8; 16384];
    while !pending.is_empty() || !listening {
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = if listening { left.as_millis().min(i32::MAX as u128) as i32 } else { -1 };
        let mut fds = [
            libc::pollfd { fd: answer.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: watch.as_raw_fd(), events: libc::POLLIN, revents: 0 },
        ];
        let watched = if listening { 2 } else { 1 };
        // SAFETY: valid pollfds for the given count.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), watched, timeout) };
        if n < 0 {
            let e = Errno::last();
            if e == Errno::EINTR {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            // No announcement in time: the child's answer decides.
            listening = false;
            continue;
        }
        if fds[0].revents != 0 {
            let mut code = [0u8; 4];
            // SAFETY: reading into a 4-byte buffer from our pipe.
            let got = unsafe { libc::read(answer.as_raw_fd(), code.as_mut_ptr().cast(), 4) };
            return match (got, i32::from_ne_bytes(code)) {
                (4, 0) => Ok(()),
                (4, e) => Err(Errno::from_raw(e)),
                // The child died without answering: the links may or may not be gone.
                _ => Err(Errno::EIO),
            };
        }
        if fds[1].revents != 0 {
            // SAFETY: reading into our buffer from our socket, without blocking.
            let got = unsafe { libc::recv(watch.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
            if got < 0 {
                // ENOBUFS: announcements were lost; the child's answer decides.
                if Errno::last() != Errno::EAGAIN {
                    listening = false;
                }
                continue;
            }
            for index in deleted(&buf[..got as usize]) {
                pending.retain(|i| *i != index);
            }
        }
    }
    Ok(())
}

/// The ifindexes of the RTM_DELLINK messages in a datagram.
fn deleted(mut data: &[u8]) -> Vec<u32> {
    let mut out = Vec::new();
    while data.len() >= 16 {
        let len = u32::from_ne_bytes([data[0], data[1], data[2], data[3]]) as usize;
        if len < 16 || len > data.len() {
            break;
        }
        let kind = u16::from_ne_bytes([data[4], data[5]]);
        if kind == RTM_DELLINK && len >= 24 {
            out.push(u32::from_ne_bytes([data[20], data[21], data[22], data[23]]));
        }
        let step = ((len + 3) & !3).min(data.len());
        data = &data[step..];
    }
    out
}

/// The children sending a delete that have not been collected yet.
static HELPERS: std::sync::Mutex<Vec<libc::pid_t>> = std::sync::Mutex::new(Vec::new());

/// The helper's process name (at most 15 bytes).
const HELPER_NAME: &std::ffi::CStr = c"nslab-groupdel";

/// Whether `pid` is one of those children (teardown's search for adopted orphans leaves them):
/// one this process forked, or, for the sandbox's keeper that adopts them, a child by that name.
pub fn is_helper(pid: i32) -> bool {
    if HELPERS.lock().unwrap_or_else(|e| e.into_inner()).contains(&pid) {
        return true;
    }
    std::fs::read(format!("/proc/{pid}/comm")).is_ok_and(|c| c.strip_suffix(b"\n").unwrap_or(&c) == HELPER_NAME.to_bytes())
}

/// Collects the child if it has ended; otherwise a thread waits for it (in a short-lived
/// nslab the process exits first and the child is adopted and collected by the system).
fn reap(pid: libc::pid_t) {
    let collected = move || HELPERS.lock().unwrap_or_else(|e| e.into_inner()).retain(|p| *p != pid);
    let mut status = 0;
    // SAFETY: waiting for our own child.
    if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
        collected();
        return;
    }
    std::thread::spawn(move || {
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        collected();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_a_dellink_of_index_0_with_the_group() {
        let m = request(0x6e00_0abc);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()), 40);
        assert_eq!(u16::from_ne_bytes(m[4..6].try_into().unwrap()), RTM_DELLINK);
        assert_eq!(u32::from_ne_bytes(m[20..24].try_into().unwrap()), 0, "ifindex 0");
        assert_eq!(u16::from_ne_bytes(m[34..36].try_into().unwrap()), IFLA_GROUP);
        assert_eq!(u32::from_ne_bytes(m[36..40].try_into().unwrap()), 0x6e00_0abc);
    }

    #[test]
    fn announcements_are_read_by_ifindex() {
        let mut data = Vec::new();
        for (kind, index) in [(RTM_DELLINK, 7u32), (16, 8), (RTM_DELLINK, 9)] {
            let mut m = vec![0u8; 32];
            m[0..4].copy_from_slice(&32u32.to_ne_bytes());
            m[4..6].copy_from_slice(&kind.to_ne_bytes());
            m[20..24].copy_from_slice(&index.to_ne_bytes());
            data.extend(m);
        }
        assert_eq!(deleted(&data), vec![7, 9]);
        assert_eq!(deleted(&data[..40]), vec![7], "a cut message is not read");
    }
}
