//! `/proc/net/*` as one namespace sees it: read by a thread inside that namespace through
//! `/proc/thread-self/net/` (plain `/proc/net` is `/proc/self/net`, the main thread's view).

use std::fs::File;
use std::io::Read;

use super::error::{EngineError, Result};
use super::nsthread;

/// Reads `/proc/net/<file>` in `ns`. The caller has checked that `file` is a plain name.
pub fn read(ns: &File, file: &str) -> Result<String> {
    let path = format!("/proc/thread-self/net/{file}");
    let op = format!("read /proc/net/{file}");
    nsthread::run_in(ns, || {
        let mut text = String::new();
        File::open(&path).and_then(|mut f| f.read_to_string(&mut text)).map_err(|e| EngineError::io(&op, e))?;
        Ok(text)
    })
}

/// The names in `/proc/net` of `ns`, sorted (to say which files exist).
pub fn list(ns: &File) -> Result<Vec<String>> {
    nsthread::run_in(ns, || {
        let dir = std::fs::read_dir("/proc/thread-self/net").map_err(|e| EngineError::io("list /proc/net", e))?;
        let mut names: Vec<String> = dir.flatten().filter_map(|e| e.file_name().into_string().ok()).collect();
        names.sort();
        Ok(names)
    })
}
