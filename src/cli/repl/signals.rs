//! Signals in the REPL: Ctrl-C (SIGINT) stops the running statement; SIGTERM, SIGHUP and SIGQUIT
//! (`nslab down`, a closed terminal, Ctrl-\\) end the session, tearing the lab down as Ctrl-D
//! would. The session (`cli::session`) sets the lab's cancel flag and remembers the signal; here
//! the REPL learns to stop reading.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};

pub struct Stop {
    pub flag: Arc<AtomicBool>,
    /// Set once the session has stopped reading input.
    pub done: Arc<AtomicBool>,
}

pub fn watch() -> Stop {
    let stop = Stop { flag: Arc::new(AtomicBool::new(false)), done: Arc::new(AtomicBool::new(false)) };
    for sig in [SIGTERM, SIGHUP, SIGQUIT] {
        let _ = signal_hook::flag::register(sig, stop.flag.clone());
    }
    // The line editor waits for keys and does not look at flags; it does return on a SIGINT that
    // interrupts its read. So pass SIGTERM, SIGHUP and SIGQUIT on as SIGINT to this thread, the one that
    // reads (sent to the process, another thread could take it), and again until the session
    // has stopped: a SIGINT that lands while the SIGTERM handler runs lets the read restart.
    // SAFETY: pthread_self has no preconditions.
    let reader = unsafe { libc::pthread_self() };
    let done = stop.done.clone();
    if let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGQUIT]) {
        std::thread::spawn(move || {
            if signals.forever().next().is_some() {
                while !done.load(Ordering::Relaxed) {
                    // SAFETY: `reader` is the main thread, which lives as long as the process.
                    unsafe {
                        libc::pthread_kill(reader, SIGINT);
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        });
    }
    stop
}
