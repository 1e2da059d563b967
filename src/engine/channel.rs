//! A channel to a program through its standard input and output, one line per message: how the
//! coordinator of a lab across machines reaches `nslab agent` on another machine. The program
//! is whatever command reaches there (`ssh m2 nslab agent`, `kubectl exec -i ...`), so the
//! transport's own authentication decides who may drive a machine, and nslab opens no port.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{EngineError, Result};

/// The programs of the channels open now: teardown's search for adopted orphans leaves them
/// (a lab's agents end when their channel says so, not by SIGKILL).
static OPEN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Whether `pid` is the program of an open channel.
pub fn is_channel(pid: i32) -> bool {
    OPEN.lock().unwrap_or_else(|e| e.into_inner()).contains(&(pid as u32))
}

/// How much of the program's standard error is kept, for an error message.
const STDERR_TAIL: usize = 4096;

/// A running program and the lines it writes.
pub struct Channel {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<std::io::Result<String>>,
    stderr: Arc<Mutex<String>>,
}

/// What waiting for a line gave.
#[derive(Debug)]
pub enum Received {
    /// A line, without its newline.
    Line(String),
    /// Nothing yet.
    Timeout,
    /// The program closed its output (or reading it failed: said here).
    Closed(Option<String>),
}

impl Channel {
    /// Starts `command` with `sh -c`, in a process group of its own (a Ctrl-C at the terminal
    /// is for nslab, which then ends the lab in order; the program ends when its input closes).
    pub fn start(command: &str) -> Result<Channel> {
        use std::os::unix::process::CommandExt;
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| EngineError::io(format!("start `{command}`"), e))?;
        let stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let end = line.is_err();
                if tx.send(line).is_err() || end {
                    return;
                }
            }
        });
        let tail = Arc::new(Mutex::new(String::new()));
        let keep = tail.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    return;
                }
                let mut t = keep.lock().unwrap_or_else(|e| e.into_inner());
                t.push_str(&String::from_utf8_lossy(&buf[..n]));
                if t.len() > STDERR_TAIL {
                    let cut = t.len() - STDERR_TAIL;
                    let cut = (cut..t.len()).find(|i| t.is_char_boundary(*i)).unwrap_or(t.len());
                    t.drain(..cut);
                }
            }
        });
        let stdin = child.stdin.take();
        OPEN.lock().unwrap_or_else(|e| e.into_inner()).push(child.id());
        Ok(Channel { child, stdin, lines, stderr: tail })
    }

    /// Writes one line (a newline is added).
    pub fn send(&mut self, line: &str) -> std::io::Result<()> {
        let stdin = self.stdin.as_mut().ok_or_else(|| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        stdin.write_all(&buf)?;
        stdin.flush()
    }

    /// The next line, waiting at most `wait`.
    pub fn recv(&self, wait: Duration) -> Received {
        match self.lines.recv_timeout(wait) {
            Ok(Ok(line)) => Received::Line(line),
            Ok(Err(e)) => Received::Closed(Some(e.to_string())),
            Err(RecvTimeoutError::Timeout) => Received::Timeout,
            Err(RecvTimeoutError::Disconnected) => Received::Closed(None),
        }
    }

    /// The end of what the program wrote on its standard error, trimmed.
    pub fn stderr_tail(&self) -> String {
        self.stderr.lock().unwrap_or_else(|e| e.into_inner()).trim().to_string()
    }

    /// Whether the program has ended; its exit status said as text when it has.
    pub fn ended(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            _ => None,
        }
    }

    /// Closes the program's input (its signal to finish) without waiting for it: a thread
    /// collects it when it ends.
    pub fn release(mut self) {
        drop(self.stdin.take());
        let pid = self.child.id();
        std::thread::spawn(move || {
            let _ = self.child.wait();
            OPEN.lock().unwrap_or_else(|e| e.into_inner()).retain(|p| *p != pid);
        });
    }

    /// Closes the program's input (its signal to finish) and waits up to `wait` for it to end;
    /// then ends its process group (ours: it was started in a group of its own).
    pub fn close(mut self, wait: Duration) {
        drop(self.stdin.take());
        let deadline = std::time::Instant::now() + wait;
        let mut ended = false;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                ended = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if !ended {
            super::exec::kill_group(self.child.id() as i32);
            let _ = self.child.wait();
        }
        let pid = self.child.id();
        OPEN.lock().unwrap_or_else(|e| e.into_inner()).retain(|p| *p != pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_go_both_ways_and_the_end_of_input_ends_the_program() {
        let mut ch = Channel::start("while read -r l; do echo \"got $l\"; done; echo bye >&2").unwrap();
        ch.send("one").unwrap();
        assert!(matches!(ch.recv(Duration::from_secs(5)), Received::Line(l) if l == "got one"));
        ch.send("two").unwrap();
        assert!(matches!(ch.recv(Duration::from_secs(5)), Received::Line(l) if l == "got two"));
        assert!(matches!(ch.recv(Duration::from_millis(20)), Received::Timeout));
        drop(ch.stdin.take());
        assert!(matches!(ch.recv(Duration::from_secs(5)), Received::Closed(None)));
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while ch.stderr_tail().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(ch.stderr_tail(), "bye");
        ch.close(Duration::from_secs(5));
    }

    #[test]
    fn a_program_that_fails_at_once_is_seen_closed_with_its_error() {
        let ch = Channel::start("echo 'ssh: Could not resolve hostname m9' >&2; exit 255").unwrap();
        assert!(matches!(ch.recv(Duration::from_secs(5)), Received::Closed(None)));
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while ch.stderr_tail().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(ch.stderr_tail(), "ssh: Could not resolve hostname m9");
        ch.close(Duration::from_secs(1));
    }
}
