//! Test helpers. Every kernel object a test makes lives in a private network + mount namespace:
//! either nslab's own `--sandbox`, or `unshare --mount --net --propagation private` with a
//! private tmpfs on /run (so /run/netns and /run/nslab are private too).

pub mod machines;

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output};

pub fn nslab() -> &'static str {
    env!("CARGO_BIN_EXE_nslab")
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// A scratch directory for one test's files (removed when the test binary exits).
pub fn scratch(test: &str) -> PathBuf {
    remove_scratch_at_exit();
    let dir = std::env::temp_dir().join(format!("nslab-test-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Registers, once, the removal of every scratch directory of this test binary at its exit
/// (passed or failed: the harness ends with `exit` either way).
fn remove_scratch_at_exit() {
    extern "C" fn remove_all() {
        let prefix = format!("nslab-test-{}-", std::process::id());
        let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) else { return };
        for entry in dir.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: atexit is given a function without arguments that lives as long as the program.
    ONCE.call_once(|| unsafe {
        libc::atexit(remove_all);
    });
}

/// Writes a script into the test's scratch directory and returns its path.
pub fn script(test: &str, name: &str, text: &str) -> PathBuf {
    let path = scratch(test).join(name);
    std::fs::File::create(&path).unwrap().write_all(text.as_bytes()).unwrap();
    path
}

/// `nslab ARGS...` in the current directory (use `--sandbox` for anything that creates objects).
pub fn run_nslab(args: &[&str]) -> Run {
    Command::new(nslab()).args(args).env("NO_COLOR", "1").output().expect("nslab runs").into()
}

/// Runs a bash snippet in a private network + mount namespace with its own /run. `$NSLAB` is the
/// binary. Use it to run nslab without `--sandbox` and check the result with `ip -j` afterwards.
pub fn in_private_netns(snippet: &str) -> Run {
    let setup = "set -e; mount -t tmpfs tmpfs /run; mkdir -p /run/netns /run/nslab /run/tmp; export TMPDIR=/run/tmp; ip link set lo up; set +e\n";
    let mut cmd = Command::new("unshare");
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        cmd.arg("--map-root-user");
    }
    cmd.args(["--mount", "--net", "--propagation", "private", "--", "bash", "-c"])
        .arg(format!("{setup}{snippet}"))
        .env("NSLAB", nslab())
        .env("NO_COLOR", "1");
    cmd.output().expect("unshare runs").into()
}

/// Parses JSON printed by `ip -j`.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Pids of the processes whose command line is exactly `argv`, read from /proc.
pub fn processes(argv: &[&str]) -> Vec<i32> {
    let want: Vec<u8> = argv.iter().flat_map(|a| a.bytes().chain([0])).collect();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        if std::fs::read(entry.path().join("cmdline")).is_ok_and(|c| c == want) {
            found.push(pid);
        }
    }
    found
}

/// Held by tests whose outcome depends on CPU time (throughput measured against a rate) and by
/// tests that load both CPUs (full-speed TCP, hundreds of namespaces), so that these never
/// overlap: on 2 CPUs a full-speed flow next door made a 20 Mbit/s measurement read 16.7.
pub fn cpu_heavy() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A snippet's output split at lines "=NAME" (the sections the fault tests print).
pub fn sections(stdout: &str) -> HashMap<String, String> {
    let mut out: HashMap<String, String> = HashMap::new();
    let mut current = String::new();
    for line in stdout.lines() {
        if let Some(name) = line.strip_prefix('=') {
            current = name.to_string();
            out.entry(current.clone()).or_default();
        } else {
            let s = out.entry(current.clone()).or_default();
            s.push_str(line);
            s.push('\n');
        }
    }
    out
}

/// The last line of a text.
pub fn last_line(text: &str) -> &str {
    text.trim_end().lines().last().unwrap_or("")
}

/// A miette report with its wrapped lines joined again, to match messages in one piece.
pub fn unwrap(text: &str) -> String {
    text.replace("\n  │ ", " ")
}

/// Runs `nslab ARGS` with `input` on stdin (not a terminal), without history.
pub fn piped(args: &[&str], input: &str) -> Run {
    use std::process::Stdio;
    let mut child = Command::new(nslab())
        .args(args)
        .env("NO_COLOR", "1")
        .env("NSLAB_HISTORY", "")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nslab runs");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap().into()
}

/// The text printed after a line "=NAME", up to the next "=..." line.
pub fn text_section(out: &str, name: &str) -> String {
    let marker = format!("={name}\n");
    let start = out.find(&marker).unwrap_or_else(|| panic!("no section {name} in:\n{out}")) + marker.len();
    let rest = &out[start..];
    rest[..rest.find("\n=").map(|i| i + 1).unwrap_or(rest.len())].to_string()
}

/// Builds a lab with `nslab run --keep` in a private namespace, then runs `oracle` (bash) there.
pub fn keep_then(test: &str, lab: &str, oracle: &str) -> Run {
    let path = script(test, "lab.rhai", lab);
    let run = in_private_netns(&format!("$NSLAB run --keep {} || exit 9\n{oracle}", path.display()));
    assert_eq!(run.code, 0, "{run:?}");
    run
}

/// The walkthrough's end: a veth from nslab's namespace into netns1, a ping across it, then
/// netns1 deleted (its root-side end is the one the kernel would leave behind for a while).
pub const WALKTHROUGH_END: &str = r#"
        let n = netns_add("netns1");
        veth("veth0", "veth1");
        move_to("veth1", n);
        addr(n, "veth1", "10.1.1.1/24");
        up(n, "veth1");
        addr("veth0", "10.1.1.2/24");
        up("veth0");
        assert(ping(n, "10.1.1.2").ok);
        netns_del("netns1");
"#;
