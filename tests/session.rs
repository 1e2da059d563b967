//! The lab lifecycle shared by `run`, the REPL and `run -i` (`cli/session.rs`): what `--keep`
//! and `:keep` do in the sandbox, and which signal ends a `run -i` session. All in the sandbox.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{nslab, piped, script};

const KEEP_NOTE: &str = "note: --keep has no effect with --sandbox: the sandbox ends with nslab";
const REPL_KEEP_NOTE: &str = "note: the sandbox ends with nslab, so its lab cannot outlive the REPL";

fn last_line(text: &str) -> Option<&str> {
    text.trim_end().lines().last()
}

#[test]
fn keep_in_the_sandbox_is_said_to_have_no_effect_and_the_lab_goes() {
    let path = script("session-keep", "k.rhai", "netns_add(\"k\");\n");
    let run = piped(&["run", "--sandbox", "--keep", path.to_str().unwrap()], "");
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains(KEEP_NOTE), "{run:?}");
    assert_eq!(last_line(&run.stderr), Some("torn down: 1 namespace"), "{run:?}");

    // `:keep` says so itself; the note about --keep comes only with --keep.
    let run = piped(&["repl", "--sandbox"], "netns_add(\"k\");\n:keep\n");
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains(REPL_KEEP_NOTE), "{run:?}");
    assert!(!run.stderr.contains(KEEP_NOTE), "{run:?}");
    assert_eq!(last_line(&run.stderr), Some("torn down: 1 namespace"), "{run:?}");

    let run = piped(&["repl", "--sandbox", "--keep"], "netns_add(\"k\");\n:keep\n");
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains(REPL_KEEP_NOTE) && run.stderr.contains(KEEP_NOTE), "{run:?}");
    assert_eq!(last_line(&run.stderr), Some("torn down: 1 namespace"), "{run:?}");
}

/// `run -i` with a signal while its script runs: Ctrl-C stops only the script and the REPL goes
/// on (status 0 at the end); SIGTERM ends the session with a teardown (143).
#[test]
fn run_interactive_goes_on_after_ctrl_c_and_ends_on_sigterm() {
    let path = script("session-signal", "wait.rhai", "netns_add(\"w\");\nprint(\"=ready\");\nsleep(60);\nprint(\"=after\");\n");
    for (signal, code) in [(nix::sys::signal::Signal::SIGINT, 0), (nix::sys::signal::Signal::SIGTERM, 128 + libc::SIGTERM)] {
        let mut child = Command::new(nslab())
            .args(["run", "-i", "--sandbox", path.to_str().unwrap()])
            .env("NO_COLOR", "1")
            .env("NSLAB_HISTORY", "")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Waits in the pipe until the REPL reads it.
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"netns_list()\n").unwrap();
        drop(stdin);
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line, "=ready\n");
        // Only the process this test started.
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
        let limit = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > limit {
                child.kill().unwrap();
                let _ = child.wait();
                panic!("{signal} did not stop the script's sleep");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let (mut rest, mut stderr) = (String::new(), String::new());
        stdout.read_to_string(&mut rest).unwrap();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert_eq!(status.code(), Some(code), "{signal}: {rest}{stderr}");
        assert!(!rest.contains("=after"), "{signal}: the script stopped at sleep: {rest}");
        if code == 0 {
            assert!(stderr.contains("wait.rhai: interrupted"), "{stderr}");
            assert_eq!(rest, "[\"w\"]\n", "the REPL ran the entry on the script's lab: {stderr}");
        } else {
            assert_eq!(rest, "", "the REPL never started: {stderr}");
        }
        assert_eq!(last_line(&stderr), Some("torn down: 1 namespace"), "{signal}: {stderr}");
    }
}
