//! Running many blocking jobs (pings from many namespaces) on a bounded pool of threads.
//! A new thread starts in the namespace of the thread that made it (nslab's own), so a job that
//! enters a namespace must return to it: `engine::netns::within` does.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// At most this many jobs run at once; each mostly waits for replies.
const MAX_THREADS: usize = 32;

/// Runs `job` on every item, on up to MAX_THREADS threads; results come back in item order.
pub fn on_threads<T: Sync, R: Send>(items: &[T], job: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..items.len().min(MAX_THREADS) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let result = job(item);
                results.lock().expect("no job panics holding the lock")[i] = Some(result);
            });
        }
    });
    results.into_inner().expect("no job panicked").into_iter().map(|r| r.expect("every item ran")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_come_back_in_order() {
        let items: Vec<u32> = (0..100).collect();
        assert_eq!(super::on_threads(&items, |i| i * 2), items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert!(super::on_threads(&[] as &[u32], |i| *i).is_empty());
    }
}
