//! Keeps the output nslab captures from programs bounded. A program's stdout and stderr go to
//! memory files (see `spawn.rs`); a server that logs for hours would grow them without end. A
//! thread looks at the files every quarter second and, once one holds more than twice `KEEP`,
//! frees all but its last `KEEP` bytes by punching a hole at its start (the program keeps
//! appending; readers skip the hole and are told how much was dropped).
//!
//! Reading is bounded too, and does not wait for the thread: once a program has written more
//! than twice `KEEP` (16 MiB), a read returns its latest `KEEP` (8 MiB) after a line saying how
//! many bytes were dropped, as the reference promises; and a read stops at the size the file had
//! when it started, so a program that writes without pause (`yes`) cannot make it go on forever.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// The bytes of each output kept at least: the latest ones.
pub const KEEP: u64 = 8 << 20;
const TRIM_ABOVE: u64 = 2 * KEEP;
const EVERY: Duration = Duration::from_millis(250);
const EVERY_WHILE_BUSY: Duration = Duration::from_millis(10);
const QUICK_FOR: Duration = Duration::from_secs(1);
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
    // A program that writes without pause (`yes`: over a GB a second) would fill hundreds of
    // MB between two looks a quarter second apart: look often for a while after a program
    // started and after a file had to be trimmed.
    let mut quick_until = Instant::now() + QUICK_FOR;
    let mut known = 0;
    loop {
        std::thread::sleep(if Instant::now() < quick_until { EVERY_WHILE_BUSY } else { EVERY });
        let Some(files) = watched.upgrade() else { return };
        let mut files = files.lock().unwrap_or_else(|p| p.into_inner());
        files.retain(|f| f.strong_count() > 0);
        let mut busy = files.len() > known;
        known = files.len();
        for file in files.iter().filter_map(Weak::upgrade) {
            busy |= trim(&file);
        }
        if busy {
            quick_until = Instant::now() + QUICK_FOR;
        }
    }
}

/// Frees all but the last `KEEP` bytes (whole pages) of a file holding more than `TRIM_ABOVE`;
/// true if it did.
pub fn trim(file: &File) -> bool {
    let Ok(size) = file.metadata().map(|m| m.len()) else { return false };
    let start = first_data(file);
    if size.saturating_sub(start) <= TRIM_ABOVE {
        return false;
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
    true
}

/// What a program has written to `file`: all of it up to 16 MiB, past that the latest 8 MiB
/// after a line saying how much was dropped.
pub fn read(file: &File) -> Vec<u8> {
    // The thread may punch a hole over what is being read (the program kept writing): read again.
    for _ in 0..3 {
        let (from, out) = read_once(file);
        if first_data(file) <= from {
            return out;
        }
    }
    read_once(file).1
}

/// (where the bytes read start, the bytes with the note before them).
fn read_once(file: &File) -> (u64, Vec<u8>) {
    use std::os::unix::fs::FileExt;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = first_data(file).min(size);
    let from = if size > TRIM_ABOVE { (size - KEEP).max(start) } else { start };
    let mut out = Vec::new();
    if from > 0 {
        out.extend_from_slice(format!("[nslab: {from} earlier bytes of output were not kept]\n").as_bytes());
    }
    let head = out.len();
    out.resize(head + (size - from) as usize, 0);
    let mut at = head;
    while at < out.len() {
        match file.read_at(&mut out[at..], from + (at - head) as u64) {
            Ok(0) | Err(_) => break,
            Ok(n) => at += n,
        }
    }
    out.truncate(at);
    (from, out)
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

    #[test]
    fn reads_past_16_mib_keep_the_latest_8_mib() {
        let mut file = tempfile_in_memory();
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..16 {
            file.write_all(&chunk).unwrap();
        }
        // Exactly 16 MiB: all of it.
        assert_eq!(read(&file).len(), 16 << 20);
        file.write_all(b"y").unwrap();
        let out = read(&file);
        let note = format!("[nslab: {} earlier bytes of output were not kept]\n", (16 << 20) + 1 - KEEP);
        assert!(out.starts_with(note.as_bytes()), "{:?}", String::from_utf8_lossy(&out[..80]));
        assert_eq!(out.len(), note.len() + KEEP as usize);
        assert_eq!(out.last(), Some(&b'y'));
        // After the thread trimmed, the same.
        trim(&file);
        assert_eq!(read(&file), out);
    }

    /// In append mode, as a program's output file is (`first_data` moves the offset).
    fn tempfile_in_memory() -> File {
        // SAFETY: memfd_create with a valid name; the descriptor is owned by the File.
        let file = unsafe {
            use std::os::fd::FromRawFd;
            File::from_raw_fd(libc::memfd_create(c"nslab-test".as_ptr(), libc::MFD_CLOEXEC))
        };
        // SAFETY: fcntl on our own descriptor, no pointers.
        unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFL, libc::O_APPEND) };
        file
    }
}
