//! Finding scenario files, and the time limit each one asks for.
//!
//! A path that is a file is taken as it is; a directory is searched recursively for `*.rhai`,
//! skipping entries whose name starts with `.` or `_` (`_common.rhai` is a module to import, not a
//! scenario). Without paths: `tests/scenarios` if it exists, else `tests`, else `.`.
//!
//! A scenario may set its own time limit in its first comment lines:
//!
//! ```text
//! // timeout: 30
//! ```
//!
//! (lowercase `timeout`, then seconds: a whole or decimal number, optionally followed by `s`),
//! which overrides `--timeout`.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where `nslab test` looks when given no paths, in order of preference.
pub const DEFAULT_DIRS: &[&str] = &["tests/scenarios", "tests"];

/// One scenario to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub path: PathBuf,
    /// How the file is named in reports: the path as found.
    pub name: String,
    pub timeout: Duration,
    /// A `// timeout:` line that could not be read: the scenario fails without running.
    pub header_error: Option<String>,
}

pub fn default_paths() -> Vec<PathBuf> {
    DEFAULT_DIRS.iter().map(PathBuf::from).find(|p| p.is_dir()).map(|p| vec![p]).unwrap_or_else(|| vec![PathBuf::from(".")])
}

/// The scenario files under `paths`, sorted within each directory, each once.
pub fn find(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut found: Vec<PathBuf> = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if meta.is_dir() {
            walk(p, &mut found).map_err(|e| format!("{}: {e}", p.display()))?;
        } else {
            found.push(p.clone());
        }
    }
    let mut seen = std::collections::HashSet::new();
    found.retain(|p| seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())));
    Ok(found)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().starts_with(['.', '_']))
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "rhai") {
            out.push(p);
        }
    }
    Ok(())
}

/// Reads a `// timeout: SECONDS` line among the comment lines a script starts with.
pub fn timeout_header(text: &str) -> Result<Option<Duration>, String> {
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("#!") {
            continue;
        }
        let Some(comment) = line.strip_prefix("//") else { break };
        let comment = comment.trim_start_matches(['/', '!']).trim();
        let Some((key, value)) = comment.split_once(':') else { continue };
        if key.trim() != "timeout" {
            continue;
        }
        let value = value.trim();
        let number = value.strip_suffix('s').unwrap_or(value).trim();
        return match number.parse::<f64>() {
            Ok(s) if s > 0.0 && s < 1e6 => Ok(Some(Duration::from_secs_f64(s))),
            _ => Err(format!("line {}: `// timeout: {value}` is not a number of seconds (like `// timeout: 30`)", i + 1)),
        };
    }
    Ok(None)
}

/// The scenarios to run, with their time limits (`default` unless a script sets its own).
pub fn scenarios(files: Vec<PathBuf>, default: Duration) -> Vec<Scenario> {
    files
        .into_iter()
        .map(|path| {
            let name = path.display().to_string();
            let (timeout, header_error) =
                match crate::script::files::read_script(&path).map_err(|e| e.to_string()).and_then(|t| timeout_header(&t)) {
                    Ok(t) => (t.unwrap_or(default), None),
                    Err(e) => (default, Some(e)),
                };
            Scenario { path, name, timeout, header_error }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_headers() {
        assert_eq!(timeout_header("// timeout: 30\nlet a = 1;"), Ok(Some(Duration::from_secs(30))));
        assert_eq!(timeout_header("// A scenario.\n//\n// timeout: 2.5s\n"), Ok(Some(Duration::from_millis(2500))));
        assert_eq!(timeout_header("// TIMEOUT: what this scenario shows\n// timeout: 3\n"), Ok(Some(Duration::from_secs(3))));
        assert_eq!(timeout_header("#!/usr/bin/env nslab\n//! timeout: 1\n"), Ok(Some(Duration::from_secs(1))));
        assert_eq!(timeout_header("let a = 1;\n// timeout: 30\n"), Ok(None), "only the first comment lines count");
        assert_eq!(timeout_header("// note: something\nlet x = 1;"), Ok(None));
        assert!(timeout_header("// timeout: soon\n").unwrap_err().starts_with("line 1:"));
        assert!(timeout_header("// timeout: 0\n").is_err());
    }

    #[test]
    fn directories_are_searched_and_helpers_skipped() {
        let dir = std::env::temp_dir().join(format!("nslab-discover-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for f in ["b.rhai", "a.rhai", "_common.rhai", "notes.txt", "sub/c.rhai", ".hidden/d.rhai", "_lib/e.rhai"] {
            let p = dir.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "").unwrap();
        }
        let found = find(&[dir.clone(), dir.join("a.rhai"), dir.join("notes.txt")]).unwrap();
        let names: Vec<String> = found.iter().map(|p| p.strip_prefix(&dir).unwrap().display().to_string()).collect();
        assert_eq!(names, ["a.rhai", "b.rhai", "sub/c.rhai", "notes.txt"]);
        assert!(find(&[dir.join("missing")]).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
