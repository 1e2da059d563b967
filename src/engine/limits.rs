//! The open-file limit: a lab keeps a file per namespace, and a 1000-namespace lab would not fit
//! in the usual soft limit of 1024. nslab raises its own soft limit to the hard one, and gives
//! the programs it runs the limit it was started with (some still use select(), which breaks on
//! descriptors above 1023).

use std::sync::atomic::{AtomicU64, Ordering};

/// The soft limit nslab started with; u64::MAX until `raise_open_files` ran.
static STARTED_WITH: AtomicU64 = AtomicU64::new(u64::MAX);

/// Raises the soft open-file limit to the hard limit. Failure only leaves the limit as it was.
pub fn raise_open_files() {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 || lim.rlim_cur >= lim.rlim_max {
            return;
        }
        let started = lim.rlim_cur;
        lim.rlim_cur = lim.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
            STARTED_WITH.store(started, Ordering::Relaxed);
        }
    }
}

/// In a child between fork and exec (raw system calls only): puts the original limit back.
pub fn restore_in_child() {
    let started = STARTED_WITH.load(Ordering::Relaxed);
    if started == u64::MAX {
        return;
    }
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: as above; both calls are async-signal-safe.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = started;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
