//! The REPL when input is not a terminal: statements come from stdin, one entry as soon as it is
//! complete, without prompts or colours, so that other programs can drive it.

use std::io::BufRead;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use super::input::Completeness;
use super::shell::{Flow, Shell};

pub fn run(shell: &mut Shell) {
    // Read on a thread, so that SIGTERM is noticed while waiting for input.
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut completeness = Completeness::default();
    completeness.blank_lines_end = false;
    let mut buffer = String::new();
    loop {
        let line = match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) if shell.stopped() => return,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => {
                // End of input: run what is left (an unfinished entry shows its syntax error).
                shell.handle(&buffer);
                return;
            }
        };
        if !buffer.is_empty() {
            buffer.push('\n');
        }
        buffer.push_str(&line);
        if completeness.unfinished(&buffer) {
            continue;
        }
        let entry = std::mem::take(&mut buffer);
        if let Flow::Quit = shell.handle(&entry) {
            return;
        }
        if shell.stopped() {
            return;
        }
    }
}
