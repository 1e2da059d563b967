//! Short work on a thread of its own inside a namespace. Some things are decided by the namespace
//! of the *thread* that opens a file: `/proc/sys/net/...` and `/proc/thread-self/net/...` show
//! the namespace the opening thread is in. A fresh thread that enters the namespace and ends when
//! the work is done can never leave another thread in the wrong place.

use std::fs::File;

use nix::sched::{setns, CloneFlags};

use super::error::{EngineError, Result};

/// Runs `work` on a new thread that has entered `ns`, and returns its result.
pub fn run_in<T: Send>(ns: &File, work: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    std::thread::scope(|s| {
        let worker = s.spawn(|| {
            setns(ns, CloneFlags::CLONE_NEWNET).map_err(|e| EngineError::errno("enter namespace", e))?;
            work()
        });
        match worker.join() {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}
