//! Signals in the REPL: Ctrl-C (SIGINT) stops the running statement; SIGTERM and SIGHUP (`nslab
//! down`, a closed terminal) end the session, tearing the lab down as Ctrl-D would.

use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

pub struct Stop {
    pub flag: Arc<AtomicBool>,
    /// The signal that asked to stop (0: none).
    pub which: Arc<AtomicUsize>,
}

pub fn watch(cancel: &Arc<AtomicBool>) -> Stop {
    let stop = Stop { flag: Arc::new(AtomicBool::new(false)), which: Arc::new(AtomicUsize::new(0)) };
    let _ = signal_hook::flag::register(SIGINT, cancel.clone());
    for sig in [SIGTERM, SIGHUP] {
        let _ = signal_hook::flag::register(sig, cancel.clone());
        let _ = signal_hook::flag::register(sig, stop.flag.clone());
        let _ = signal_hook::flag::register_usize(sig, stop.which.clone(), sig as usize);
    }
    // The line editor waits for keys and does not notice a flag; it does return on SIGINT (which
    // it handles while it reads). So pass SIGTERM and SIGHUP on as a SIGINT to the process.
    if let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP]) {
        std::thread::spawn(move || {
            for _ in signals.forever() {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGINT);
            }
        });
    }
    stop
}
