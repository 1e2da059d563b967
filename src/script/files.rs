//! Reading script files (the script run or checked, the modules it imports) with a size limit,
//! and only from regular files: `nslab check /dev/zero` would otherwise read until memory ran
//! out, and a FIFO would make nslab wait for a writer that may never come.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The largest script nslab reads: hundreds of times a large lab, so a file this size is most
/// likely not a script at all.
pub const MAX_SCRIPT_BYTES: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("cannot read {path}: it is {what}, not a regular file")]
    NotAFile { path: String, what: &'static str },
    #[error("cannot read {path}: it is larger than {} MiB, the most a script may be", MAX_SCRIPT_BYTES >> 20)]
    TooLarge { path: String },
    #[error("cannot read {path}: it is not UTF-8 text (first bad byte at offset {at})")]
    NotText { path: String, at: usize },
}

impl ReadError {
    pub fn not_found(&self) -> bool {
        matches!(self, ReadError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            ReadError::NotAFile { .. } => Some("nslab reads scripts from files: save the script to a file first".into()),
            ReadError::TooLarge { .. } => Some("is it the right file? A script is text of at most 16 MiB".into()),
            _ => None,
        }
    }
}

fn kind(t: std::fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// The text of the script at `path`: a regular file of at most `MAX_SCRIPT_BYTES`.
pub fn read_script(path: &Path) -> Result<String, ReadError> {
    let name = || path.display().to_string();
    // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below); it
    // changes nothing for a regular file.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|source| ReadError::Io { path: name(), source })?;
    let meta = file.metadata().map_err(|source| ReadError::Io { path: name(), source })?;
    if !meta.file_type().is_file() {
        return Err(ReadError::NotAFile { path: name(), what: kind(meta.file_type()) });
    }
    read_bounded(file, &name())
}

fn read_bounded(file: File, name: &str) -> Result<String, ReadError> {
    let mut bytes = Vec::new();
    // One byte more than allowed tells a file that is too large (it may grow while read).
    file.take(MAX_SCRIPT_BYTES + 1).read_to_end(&mut bytes).map_err(|source| ReadError::Io { path: name.to_string(), source })?;
    if bytes.len() as u64 > MAX_SCRIPT_BYTES {
        return Err(ReadError::TooLarge { path: name.to_string() });
    }
    String::from_utf8(bytes).map_err(|e| ReadError::NotText { path: name.to_string(), at: e.utf8_error().valid_up_to() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_fifos_and_directories_are_refused() {
        let e = read_script(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(e.to_string(), "cannot read /dev/zero: it is a character device, not a regular file");
        let e = read_script(Path::new("/")).unwrap_err();
        assert_eq!(e.to_string(), "cannot read /: it is a directory, not a regular file");
        let dir = std::env::temp_dir().join(format!("nslab-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("pipe.rhai");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        // Returns at once: no writer is waited for.
        let e = read_script(&fifo).unwrap_err();
        assert!(e.to_string().ends_with("pipe.rhai: it is a FIFO (named pipe), not a regular file"), "{e}");
        assert!(read_script(&dir.join("missing.rhai")).unwrap_err().not_found());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sizes_are_bounded() {
        let dir = std::env::temp_dir().join(format!("nslab-files-size-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big.rhai");
        let f = File::create(&big).unwrap();
        f.set_len(MAX_SCRIPT_BYTES + 1).unwrap();
        assert!(matches!(read_script(&big), Err(ReadError::TooLarge { .. })));
        f.set_len(5).unwrap();
        std::fs::write(&big, "let a").unwrap();
        assert_eq!(read_script(&big).unwrap(), "let a");
        std::fs::write(&big, b"\xff\xfe").unwrap();
        assert!(matches!(read_script(&big), Err(ReadError::NotText { at: 0, .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
