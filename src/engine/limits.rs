//! The open-file limit: a lab keeps a file per namespace, and a 1000-namespace lab would not fit
//! in the usual soft limit of 1024. nslab raises its own soft limit to the hard one, and gives
//! the programs it runs the limit it was started with (some still use select(), which breaks on
//! descriptors above 1023).

use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// The soft limit nslab started with; u64::MAX until `raise_open_files` ran.
static STARTED_WITH: AtomicU64 = AtomicU64::new(u64::MAX);

/// Raises the soft open-file limit to the hard limit. Failure only leaves the limit as it was.
pub fn raise_open_files() {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else { return };
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        STARTED_WITH.store(soft, Ordering::Relaxed);
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

/// The open-file limits now in force: (soft, hard).
pub fn open_files() -> (u64, u64) {
    getrlimit(Resource::RLIMIT_NOFILE).unwrap_or((0, 0))
}

/// Why a call failed with EMFILE or ENFILE and what to do, in the user's terms; None for other
/// errnos. A lab holds a descriptor per namespace, so a big lab meets the limit while building.
pub fn exhausted(errno: nix::errno::Errno) -> Option<String> {
    match errno {
        nix::errno::Errno::EMFILE => {
            let (soft, hard) = open_files();
            let limit = |n: u64| if n == libc::RLIM_INFINITY { "unlimited".to_string() } else { n.to_string() };
            Some(format!(
                "nslab reached its open-file limit of {} (hard limit {}; it holds one file per namespace): \
                 raise the limit before running nslab (`ulimit -n N`; above the hard limit only root can, \
                 with `ulimit -Hn N` or `prlimit --nofile=N:N`), or build fewer namespaces",
                limit(soft),
                limit(hard)
            ))
        }
        nix::errno::Errno::ENFILE => Some(
            "the system's open-file table is full (fs.file-max): end other programs, raise \
             `sysctl fs.file-max`, or build fewer namespaces"
                .into(),
        ),
        _ => None,
    }
}
