//! Directories whose contents root acts on: `/run/nslab` (ledgers: what `nslab clean` removes)
//! and `/run/netns` (namespace mounts). Whoever can write in them can steer root, so they are
//! created 0755 whatever the umask, and one that exists already is used only when it is a real
//! directory (not a symlink), owned by root or the caller, that nobody else may write to.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use nix::errno::Errno;

use super::error::{EngineError, Result};

pub const DIR_MODE: u32 = 0o755;

/// Creates `dir` with mode 0755 (and missing parents, 0755 at most), or checks the one there.
/// `holds` says what the directory is for, in the error ("lab ledgers").
pub fn ensure(dir: &Path, holds: &str) -> Result<()> {
    let op = format!("prepare {}", dir.display());
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
        std::fs::DirBuilder::new().recursive(true).mode(DIR_MODE).create(parent).map_err(|e| EngineError::io(&op, e))?;
    }
    // mkdir's mode is the most the directory gets: the umask can only take bits away.
    match std::fs::DirBuilder::new().mode(DIR_MODE).create(dir) {
        Ok(()) => {
            // Put back what the umask took (a 0700 /run/nslab would hide every lab from `ls`).
            // Opened without following a symlink, so it is the directory just made.
            let opened = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
                .open(dir)
                .map_err(|e| EngineError::io(&op, e))?;
            opened.set_permissions(std::fs::Permissions::from_mode(DIR_MODE)).map_err(|e| EngineError::io(&op, e))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(EngineError::io(&op, e)),
    }
    check(dir, holds)
}

/// Ok when `dir` is a directory only root or the caller can write to. ENOENT when it is missing.
pub fn check(dir: &Path, holds: &str) -> Result<()> {
    let op = format!("use {}", dir.display());
    let meta = std::fs::symlink_metadata(dir).map_err(|e| EngineError::io(&op, e))?;
    let me = nix::unistd::geteuid().as_raw();
    let refuse = |why: String, fix: String| {
        Err(EngineError::message(&op, format!("{why}; it holds {holds}, which root acts on, so nslab will not use it: {fix}")))
    };
    if meta.file_type().is_symlink() {
        return refuse("it is a symbolic link".into(), format!("remove it (nslab creates {} itself)", dir.display()));
    }
    if !meta.is_dir() {
        return Err(EngineError::errno(&op, Errno::ENOTDIR));
    }
    if meta.uid() != 0 && meta.uid() != me {
        return refuse(
            format!("it belongs to uid {}, neither root nor you (uid {me})", meta.uid()),
            format!("check what is in it, then remove it or `chown root {}`", dir.display()),
        );
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return refuse(
            format!("group or others may write to it (mode {mode:04o})"),
            format!("check what is in it, then `chmod 755 {}`", dir.display()),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_0755_and_checked() {
        let base = std::env::temp_dir().join(format!("nslab-trusted-{}", std::process::id()));
        let dir = base.join("a/b");
        ensure(&dir, "test files").unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o7777, 0o755);
        // Existing and fine: accepted again.
        ensure(&dir, "test files").unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = ensure(&dir, "test files").unwrap_err().to_string();
        assert!(err.contains("group or others may write to it (mode 0777)"), "{err}");
        assert!(err.contains("chmod 755"), "{err}");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(check(&dir, "test files").is_err());
        let link = base.join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert!(check(&link, "test files").unwrap_err().to_string().contains("symbolic link"));
        assert_eq!(check(&base.join("none"), "x").unwrap_err().code(), Some(Errno::ENOENT));
        std::fs::remove_dir_all(&base).unwrap();
    }
}
