//! How much memory nslab holds, so a script can be stopped (and its lab torn down) before an
//! allocation fails: Rust ends the process on the spot when one does, and the lab would be left
//! standing. The binary installs `Counting` as its allocator; it keeps a running total of the
//! bytes in use, which the script layer compares with its memory limit between steps.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

static IN_USE: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting.
pub struct Counting;

// SAFETY: every call is passed on to the system allocator unchanged; only a counter is kept.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is the system allocator's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            IN_USE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            IN_USE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) };
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            IN_USE.fetch_add(new_size, Ordering::Relaxed);
            IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

/// To be called first thing, before any thread starts: one malloc arena for all threads. By
/// default glibc reserves up to 64 MiB of address space for each thread that allocates (up to
/// eight per CPU), which makes what nslab can hold under `ulimit -v` unknowable; nslab's
/// threads allocate little, so sharing one arena costs nothing measurable.
pub fn init() {
    // SAFETY: mallopt takes two integers; before any thread exists nothing else calls malloc.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
}

/// Bytes allocated and not freed; 0 where `Counting` is not the allocator (unit tests).
pub fn in_use() -> usize {
    IN_USE.load(Ordering::Relaxed)
}

/// The process's address-space limit (`ulimit -v`), if it has one.
pub fn address_space_limit() -> Option<u64> {
    let (soft, _) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_AS).ok()?;
    (soft != libc::RLIM_INFINITY).then_some(soft)
}

/// The process's address space in use now (VmSize), in bytes.
fn address_space_used() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().next()?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

/// The address space left under the limit (`ulimit -v`), if there is one.
pub fn address_space_room() -> Option<u64> {
    let limit = address_space_limit()?;
    Some(limit.saturating_sub(address_space_used().unwrap_or(0)))
}

/// How many more bytes nslab may safely hold under an address-space limit, keeping `reserve`
/// (the interpreter's stack) and a margin (threads, libraries) free: None without such a
/// limit. Large allocations take address space of their own size, and one step of a script
/// can double a value (the old one, and the new one twice its size), so a third of what is
/// left counts.
pub fn headroom(reserve: u64) -> Option<u64> {
    const MARGIN: u64 = 64 << 20;
    let free = address_space_room()?.saturating_sub(reserve).saturating_sub(MARGIN);
    Some(in_use() as u64 + free / 3)
}
