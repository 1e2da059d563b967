//! Keeps the output nslab captures from programs bounded. A program's stdout and stderr go to
//! memory files (see `spawn.rs`); a server that logs for hours would grow them without end. A
//! thread looks at the files every quarter second and, once one holds more than twice `KEEP`,
//! frees all but its last `KEEP` bytes by punching a hole at its start (the program keeps
//! appending; readers skip the hole and are told how much was dropped).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// The bytes of each output kept at least: the latest ones.
pub const KEEP: u64 = 8 << 20;
const TRIM_ABOVE: u64 = 2 * KEEP;
const EVERY: Duration = Duration::from_millis(250);
const PAGE: u64 = 4096;

/// The files being watched, shared with the thread (started with the first file). The thread
/// holds weak references: a file dropped elsewhere is forgotten, and the thread ends with the
/// last `Trimmer`.
#[derive(Default)]
pub struct Trimmer {
    files: Arc<Mutex<Vec<Weak<File>>>>,
}

impl Trimmer {
    pub fn watch(&self, file: &Arc<File>) {
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        let first = files.is_empty() && Arc::weak_count(&self.files) == 0;
        files.push(Arc::downgrade(file));
        if first {
            let watched = Arc::downgrade(&self.files);
            let _ = std::thread::Builder::new().name("nslab-output".into()).spawn(move || run(watched));
        }
    }
}

fn run(watched: Weak<Mutex<Vec<Weak<File>>>>) {
    loop {
        std::thread::sleep(EVERY);
        let Some(files) = watched.upgrade() else { return };
        let mut files = files.lock().unwrap_or_else(|p| p.into_inner());
        files.retain(|f| f.strong_count() > 0);
        for file in files.iter().filter_map(Weak::upgrade) {
            trim(&file);
        }
    }
}

/// Frees all but the last `KEEP` bytes (whole pages) of a file holding more than `TRIM_ABOVE`.
pub fn trim(file: &File) {
    let Ok(size) = file.metadata().map(|m| m.len()) else { return };
    let start = first_data(file);
    if size.saturating_sub(start) <= TRIM_ABOVE {
        return;
    }
    let cut = (size - KEEP) / PAGE * PAGE;
    // SAFETY: fallocate on our own file descriptor; no pointers involved.
    unsafe {
        libc::fallocate(
            file.as_raw_fd(),
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            start as libc::off_t,
            (cut - start) as libc::off_t,
        );
    }
}

/// Where the data of a file starts: past the hole `trim` punched, if any.
pub fn first_data(file: &File) -> u64 {
    // SAFETY: lseek with SEEK_DATA only reports an offset; positioned reads elsewhere ignore it.
    let at = unsafe { libc::lseek(file.as_raw_fd(), 0, libc::SEEK_DATA) };
    if at >= 0 {
        at as u64
    } else {
        // ENXIO: no data at all (empty, or all of it dropped so far).
        file.metadata().map(|m| m.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::FileExt;

    #[test]
    fn trim_keeps_the_last_bytes_and_frees_the_rest() {
        let mut file = tempfile_in_memory();
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..20 {
            file.write_all(&chunk).unwrap();
        }
        file.write_all(b"the end\n").unwrap();
        trim(&file);
        let size = file.metadata().unwrap().len();
        let start = first_data(&file);
        assert_eq!(size, 20 * (1 << 20) + 8, "the size stays: the program keeps appending");
        assert!(size - start >= KEEP && size - start < KEEP + PAGE, "kept {} bytes", size - start);
        let mut tail = vec![0u8; 8];
        file.read_exact_at(&mut tail, size - 8).unwrap();
        assert_eq!(&tail, b"the end\n");
        // What was dropped is freed: the file holds about KEEP bytes of memory now.
        use std::os::unix::fs::MetadataExt;
        let held = file.metadata().unwrap().blocks() * 512;
        assert!(held < KEEP + 2 * PAGE, "{held} bytes still held");
        // Small files are left alone.
        let small = tempfile_in_memory();
        (&small).write_all(b"hello").unwrap();
        trim(&small);
        assert_eq!(first_data(&small), 0);
    }

    fn tempfile_in_memory() -> File {
        // SAFETY: memfd_create with a valid name; the descriptor is owned by the File.
        unsafe {
            use std::os::fd::FromRawFd;
            File::from_raw_fd(libc::memfd_create(c"nslab-test".as_ptr(), libc::MFD_CLOEXEC))
        }
    }
}
