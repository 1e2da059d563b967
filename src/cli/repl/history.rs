//! Where the REPL keeps its history: `$NSLAB_HISTORY` (empty: nowhere), else `~/.nslab_history`.

use std::path::PathBuf;

pub fn path() -> Option<PathBuf> {
    match std::env::var_os("NSLAB_HISTORY") {
        Some(p) if p.is_empty() => None,
        Some(p) => Some(PathBuf::from(p)),
        None => std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".nslab_history")),
    }
}
