//! The lab lifecycle shared by `run`, the REPL and `run -i` (`cli/session.rs`): what `--keep`
//! and `:keep` do in the sandbox, and which signal ends a `run -i` session. All in the sandbox.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{nslab, script};

fn last_line(text: &str) -> Option<&str> {
    text.trim_end().lines().last()
}

/// `--keep` and `:keep` keep a sandbox lab: its sandbox stays (see tests/shell.rs), so the last
/// line says how to enter and remove it; `down` ends it. In a private /run, so nothing is left.
#[test]
fn keep_in_the_sandbox_keeps_the_sandbox() {
    let path = script("session-keep", "k.rhai", "netns_add(\"k\");\n");
    let run = crate::support::in_private_netns(&format!(
        "$NSLAB run --sandbox --keep {} </dev/null; echo \"code $?\"; echo '=repl' >&2; \
         printf 'netns_add(\"r\");\\n:keep\\n' | $NSLAB repl --sandbox --name r; echo \"code $?\"; \
         $NSLAB ls; $NSLAB down k; $NSLAB down r; $NSLAB ls",
        path.display()
    ));
    let (first, repl) = run.stderr.split_once("=repl").unwrap_or_else(|| panic!("{run:?}"));
    assert!(last_line(first).is_some_and(|l| l.starts_with("kept: lab k (id ") && l.contains("in its sandbox")), "{run:?}");
    assert!(repl.contains("the lab will be left standing in its sandbox when you leave"), "{run:?}");
    assert!(last_line(repl).is_some_and(|l| l.contains("lab r (id ") && l.contains("ended with its sandbox")), "{run:?}");
    assert_eq!(run.stdout.lines().filter(|l| *l == "code 0").count(), 2, "{run:?}");
    let listed: Vec<&str> = run.stdout.lines().filter(|l| l.contains(" kept ")).collect();
    assert_eq!(listed.len(), 2, "{run:?}");
    assert!(run.stdout.trim_end().ends_with("OBJECTS"), "nothing is left: {run:?}");
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
