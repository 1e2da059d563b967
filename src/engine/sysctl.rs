//! Network sysctls of one namespace: `/proc/sys/net/...`, opened by a thread inside it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::PathBuf;

use super::error::{EngineError, Result};
use super::nsthread;

/// The file behind a key, given as its path components below `/proc/sys` ("net", "ipv4", ...).
/// The caller has checked the components (no "", ".", ".." or "/").
pub fn path(components: &[String]) -> PathBuf {
    let mut p = PathBuf::from("/proc/sys");
    p.extend(components);
    p
}

/// Reads a sysctl in `ns`; the value without its final newline (tabs between fields stay).
pub fn read(ns: &File, components: &[String]) -> Result<String> {
    let path = path(components);
    let op = format!("read {}", path.display());
    nsthread::run_in(ns, || {
        let mut text = String::new();
        File::open(&path).and_then(|mut f| f.read_to_string(&mut text)).map_err(|e| EngineError::io(&op, e))?;
        Ok(text.trim_end_matches('\n').to_string())
    })
}

/// Writes a sysctl in `ns`, in one write, as `sysctl -w` does.
pub fn write(ns: &File, components: &[String], value: &str) -> Result<()> {
    let path = path(components);
    let op = format!("write {}", path.display());
    nsthread::run_in(ns, || {
        let mut f = OpenOptions::new().write(true).open(&path).map_err(|e| EngineError::io(&op, e))?;
        f.write_all(value.as_bytes()).map_err(|e| EngineError::io(&op, e))
    })
}
