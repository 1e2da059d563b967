//! One measured run ("cell"), executed inside its own fresh
//! `unshare --user --map-root-user --mount --net --propagation private` with a tmpfs on /run.
//!
//! Times are taken here, next to the processes: a build is timed from spawn to exit (for nslab:
//! from spawn to the `@built` line its script prints, since nslab tears the lab down itself at the
//! end of the run), a teardown from its start until the kernel has finished cleaning up the
//! deleted namespaces.
//!
//! How "the kernel has finished" is detected: the kernel counts every network namespace against
//! its owner user namespace (`/proc/sys/user/max_net_namespaces` is the limit) and gives the count
//! back only at the very end of `cleanup_net`, after the devices are unregistered, the pernet exit
//! methods have run and `rcu_barrier()` has returned. The cell runs in its own user namespace
//! whose only other namespace is the cell's own, so after a teardown it sets that limit to 2 and
//! tries `unshare(CLONE_NEWNET)` every 100 µs: the attempt fails with ENOSPC (before allocating
//! anything) while any lab namespace is still being cleaned up, and succeeds once all are gone.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::workloads::{self, Idioms, Tool, Workload};

pub const WORK_DIR: &str = "/run/bench";
const PROCESS_TIMEOUT: Duration = Duration::from_secs(600);
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Spec {
    pub workload: Workload,
    pub tool: Tool,
    pub n: usize,
    pub nslab: PathBuf,
    pub repo: PathBuf,
    pub idioms: Idioms,
    /// Run the nslab process under this wrapper (e.g. `strace -f -c -o FILE`), for profiling.
    #[serde(default)]
    pub wrap: Vec<String>,
    /// The cell has its own user namespace (needed to detect the end of the kernel's cleanup).
    /// Without one (for `perf`), teardown is timed to the process's exit only.
    #[serde(default = "yes")]
    pub userns: bool,
    /// Ending links (`ends.rs`): the other lab's size, run before (0: alone).
    #[serde(default)]
    pub load: usize,
    /// Throughput runs (`machines.rs`): seconds to send.
    #[serde(default)]
    pub seconds: f64,
}

fn yes() -> bool {
    true
}

/// What one run measured, in seconds (kilobytes for memory).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Outcome {
    pub ok: bool,
    pub error: String,
    /// Spawn until the topology stands (peers: until the build script exits).
    pub build: f64,
    /// nslab W2: the ping from the first host to the last.
    pub ping: Option<f64>,
    /// From the start of teardown until the process that tears down has exited.
    pub teardown_exit: f64,
    /// From the start of teardown until the kernel has freed every namespace of the lab.
    pub teardown: f64,
    /// Spawn until exit of the whole run (W3, start-up), or build plus teardown.
    pub total: f64,
    /// Spawn until the kernel has finished cleaning up.
    pub total_clean: f64,
    /// W3: spawn until nothing of the walkthrough's lab is visible any more (no name in
    /// /run/netns, no veth0/veth1, no 10.1.1.x address), polled from the run's exit on.
    #[serde(default)]
    pub gone: Option<f64>,
    /// W3: something of the lab was still visible when the run exited.
    #[serde(default)]
    pub left_at_exit: bool,
    /// Ending links: measured right after another lab's teardown.
    #[serde(default)]
    pub busy: bool,
    /// nslab: of the build, the time its main thread ran on a CPU, and the time it was ready to
    /// run but waited for a CPU (other load on the machine), from /proc/PID/schedstat.
    #[serde(default)]
    pub build_oncpu: Option<f64>,
    #[serde(default)]
    pub build_runq: Option<f64>,
    /// Peak resident set of the measured nslab process (wait4's ru_maxrss; 0 for the peers).
    pub maxrss_kb: u64,
    /// Throughput runs (`machines.rs`): what nslab's throughput measured, in bits per second.
    #[serde(default)]
    pub bps: Option<f64>,
    /// CPU time of the nslab process (and children it waited for).
    pub user: f64,
    pub sys: f64,
}

/// Entry point of `nslab-bench __cell SPEC`: prints one JSON line with the outcome.
pub fn main(spec_json: &str) -> i32 {
    let spec: Spec = match serde_json::from_str(spec_json) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bad cell spec: {e}");
            return 2;
        }
    };
    let outcome = match run(&spec) {
        Ok(o) => o,
        Err(e) => Outcome { ok: false, error: e, ..Default::default() },
    };
    println!("{}", serde_json::to_string(&outcome).expect("outcome serializes"));
    0
}

fn setup() -> Result<(), String> {
    // SAFETY: plain syscalls with valid NUL-terminated strings.
    let mounted = nix::mount::mount(Some("tmpfs"), "/run", Some("tmpfs"), nix::mount::MsFlags::empty(), Some("mode=755"));
    mounted.map_err(|e| format!("mount a tmpfs on /run: {e}"))?;
    for dir in ["/run/netns", "/run/nslab", WORK_DIR] {
        std::fs::create_dir_all(dir).map_err(|e| format!("create {dir}: {e}"))?;
    }
    // A host's loopback is up; so is the sandbox's.
    let lo = Command::new("ip").args(["link", "set", "lo", "up"]).status().map_err(|e| format!("run ip: {e}"))?;
    if !lo.success() {
        return Err("ip link set lo up failed".into());
    }
    Ok(())
}

fn run(spec: &Spec) -> Result<Outcome, String> {
    setup()?;
    let dir = Path::new(WORK_DIR);
    let plan = workloads::plan(spec.workload, spec.tool, spec.n, dir, spec.idioms);
    for f in &plan.files {
        std::fs::write(dir.join(&f.name), &f.text).map_err(|e| format!("write {}: {e}", f.name))?;
    }
    match (spec.workload, spec.tool) {
        (Workload::Empty, _) => whole(spec, nslab_cmd(spec, &["run", &path(dir, &plan.build)]), false),
        (Workload::Check, _) => {
            let walkthrough = spec.repo.join("scripts/walkthrough.rhai");
            whole(spec, nslab_cmd(spec, &["check", &walkthrough.display().to_string()]), false)
        }
        (Workload::W3, Tool::Nslab) => {
            let walkthrough = spec.repo.join("scripts/walkthrough.rhai");
            whole(spec, nslab_cmd(spec, &["run", &walkthrough.display().to_string()]), true)
        }
        (Workload::W3, Tool::NslabSandbox) => {
            let walkthrough = spec.repo.join("scripts/walkthrough.rhai");
            whole(spec, nslab_cmd(spec, &["run", "--sandbox", &walkthrough.display().to_string()]), true)
        }
        (Workload::W3, _) => whole(spec, bash_cmd(dir, &plan.build), true),
        (Workload::W3AfterTeardown | Workload::W3DuringTeardown, _) => busy(spec, dir, &plan.build),
        (Workload::EndsEach | Workload::EndsGroup | Workload::EndsGroupDetached | Workload::EndsWait, _) => {
            crate::ends::run(spec, dir).map(|o| Outcome { busy: spec.load > 0, ..o })
        }
        (Workload::W1Spread | Workload::W1OneMachine | Workload::TputAcross | Workload::TputLocal, _) => {
            crate::machines::run(spec)
        }
        (_, Tool::Nslab | Tool::NslabMove) => nslab_lab(spec, &path(dir, &plan.build), plan.namespaces),
        _ => peer_lab(spec, dir, &plan),
    }
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

fn nslab_cmd(spec: &Spec, args: &[&str]) -> Command {
    let mut cmd = match spec.wrap.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(&spec.nslab);
            c
        }
        None => Command::new(&spec.nslab),
    };
    cmd.args(args).env("NO_COLOR", "1").current_dir(WORK_DIR);
    cmd
}

fn bash_cmd(dir: &Path, script: &str) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(dir.join(script)).current_dir(dir);
    cmd
}

/// A line of stdout, when it arrived, and (for markers) the process's CPU and run-queue seconds then.
type Line = (String, Instant, Option<(f64, f64)>);

/// A finished process: when it was started and ended, the lines it printed (with when they
/// arrived), its stderr, exit status and resource use.
pub(crate) struct Finished {
    pub started: Instant,
    pub ended: Instant,
    lines: Vec<Line>,
    pub stderr: String,
    status: i32,
    usage: libc::rusage,
}

impl Finished {
    /// When the line starting with marker `m` arrived, and the rest of that line.
    pub fn marker(&self, m: &str) -> Option<(Instant, &str)> {
        self.lines.iter().find_map(|(l, t, _)| {
            let rest = l.strip_prefix(m)?;
            (rest.is_empty() || rest.starts_with(' ')).then_some((*t, rest.trim()))
        })
    }

    /// The process's (main thread's) seconds on a CPU and waiting for one, when marker `m` arrived.
    fn sched_at(&self, m: &str) -> Option<(f64, f64)> {
        self.lines.iter().find(|(l, _, _)| l == m).and_then(|(_, _, s)| *s)
    }

    pub fn check(&self, what: &str) -> Result<(), String> {
        if self.status == 0 {
            return Ok(());
        }
        let tail: Vec<&str> = self.stderr.lines().rev().take(12).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Err(format!("{what} failed (status {}):\n{}", self.status, tail.join("\n")))
    }
}

pub(crate) fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn tv(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 / 1e6
}

/// Spawns and waits for a process with wait4 (for its rusage), reading its stdout line by line.
pub(crate) fn execute(mut cmd: Command) -> Result<Finished, String> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("spawn {cmd:?}: {e}"))?;
    let pid = child.id() as libc::pid_t;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let at = Instant::now();
            // At a marker, how long the process has run on a CPU and waited for one so far.
            let sched = if line.starts_with('@') { schedstat(pid) } else { None };
            let _ = tx.send((line, at, sched));
        }
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    // A watchdog, so a hung run cannot hang the benchmark: it ends only the process it was given.
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if done_rx.recv_timeout(PROCESS_TIMEOUT).is_err() {
            // The pid of our own child, which has not been reaped yet.
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    });
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child, with valid pointers.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let ended = Instant::now();
    let _ = done_tx.send(());
    let _ = watchdog.join();
    if r != pid {
        return Err(format!("wait4: {}", std::io::Error::last_os_error()));
    }
    let _ = reader.join();
    let lines: Vec<Line> = rx.try_iter().collect();
    let stderr = err_reader.join().unwrap_or_default();
    let status = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { 128 + libc::WTERMSIG(status) };
    Ok(Finished { started, ended, lines, stderr, status, usage })
}

/// `/proc/PID/schedstat`: nanoseconds on a CPU, nanoseconds runnable but waiting for a CPU.
fn schedstat(pid: libc::pid_t) -> Option<(f64, f64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).ok()?;
    let mut it = text.split_whitespace().map(|v| v.parse::<f64>().ok());
    Some((it.next()?? / 1e9, it.next()?? / 1e9))
}

/// Waits until the kernel has freed every namespace but the `keep` the cell stands on (its own,
/// and simulated machines'; see the module docs).
pub(crate) fn kernel_clean(spec: &Spec, keep: usize) -> Result<Instant, String> {
    if !spec.userns {
        return Ok(Instant::now());
    }
    // Never touch the limit of the machine's own user namespace.
    let ns = |p: &str| std::fs::metadata(p).map(|m| std::os::unix::fs::MetadataExt::ino(&m)).ok();
    if ns("/proc/self/ns/user").is_none() || ns("/proc/self/ns/user") == ns("/proc/1/ns/user") {
        return Err("not in a private user namespace: refusing to set max_net_namespaces".into());
    }
    std::fs::write("/proc/sys/user/max_net_namespaces", (keep + 1).to_string())
        .map_err(|e| format!("set max_net_namespaces: {e}"))?;
    let deadline = Instant::now() + CLEANUP_TIMEOUT;
    loop {
        // On success only this thread changes namespace (it is the cell's last act).
        let Err(errno) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET) else {
            return Ok(Instant::now());
        };
        let err = std::io::Error::from(errno);
        if err.raw_os_error() != Some(libc::ENOSPC) {
            return Err(format!("probe for the kernel's cleanup: {err}"));
        }
        if Instant::now() > deadline {
            return Err(format!("namespaces still being cleaned up after {} s", CLEANUP_TIMEOUT.as_secs()));
        }
        std::thread::sleep(Duration::from_micros(100));
    }
}

fn count_namespaces() -> usize {
    std::fs::read_dir("/run/netns").map(|d| d.count()).unwrap_or(0)
}

fn usage_into(o: &mut Outcome, f: &Finished) {
    o.maxrss_kb = f.usage.ru_maxrss as u64;
    o.user = tv(f.usage.ru_utime);
    o.sys = tv(f.usage.ru_stime);
}

/// Whether anything of the walkthrough's lab is visible in the cell: its namespace's name, its
/// links, or one of its addresses (the kernel's local table lists every local address).
fn walkthrough_visible() -> bool {
    let link = |name: &std::ffi::CStr| {
        // SAFETY: a valid NUL-terminated string; if_nametoindex only reads it.
        unsafe { libc::if_nametoindex(name.as_ptr()) != 0 }
    };
    Path::new("/run/netns/netns1").exists()
        || link(c"veth0")
        || link(c"veth1")
        || std::fs::read_to_string("/proc/net/fib_trie").is_ok_and(|t| t.contains("10.1.1."))
}

/// Polls from a W3 run's exit until nothing of its lab is visible: fills `gone`, `left_at_exit`.
fn watch_gone(o: &mut Outcome, f: &Finished) -> Result<(), String> {
    o.left_at_exit = walkthrough_visible();
    let deadline = Instant::now() + CLEANUP_TIMEOUT;
    while walkthrough_visible() {
        if Instant::now() > deadline {
            return Err(format!("the walkthrough's lab still visible {} s after the run", CLEANUP_TIMEOUT.as_secs()));
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    o.gone = Some(if o.left_at_exit { secs(Instant::now() - f.started) } else { o.total });
    Ok(())
}

/// A run measured as a whole: spawn to exit, then to the kernel's cleanup when `clean`.
fn whole(spec: &Spec, cmd: Command, clean: bool) -> Result<Outcome, String> {
    let f = execute(cmd)?;
    f.check("the run")?;
    let mut o = Outcome { ok: true, total: secs(f.ended - f.started), ..Default::default() };
    if matches!(spec.tool, Tool::Nslab | Tool::NslabSandbox) {
        usage_into(&mut o, &f);
    }
    if spec.workload.walkthrough() {
        watch_gone(&mut o, &f)?;
    }
    if clean {
        let t = kernel_clean(spec, 1)?;
        o.total_clean = secs(t - f.started);
    } else {
        o.total_clean = o.total;
    }
    o.build = o.total;
    Ok(o)
}

/// The W3 command of a tool.
fn walkthrough_cmd(spec: &Spec, dir: &Path, build: &str) -> Command {
    let walkthrough = spec.repo.join("scripts/walkthrough.rhai").display().to_string();
    match spec.tool {
        Tool::Nslab => nslab_cmd(spec, &["run", &walkthrough]),
        Tool::NslabSandbox => nslab_cmd(spec, &["run", "--sandbox", &walkthrough]),
        _ => bash_cmd(dir, build),
    }
}

/// W3 with another lab (nslab, a W1 of N namespaces) tearing down: started right after that
/// lab's run has returned, or as soon as it starts its teardown. Timed like W3 alone, to exit and
/// until nothing of W3's lab is visible; the kernel's own cleanup is not waited for (it is
/// mostly the other lab's).
fn busy(spec: &Spec, dir: &Path, build: &str) -> Result<Outcome, String> {
    let mut load = nslab_cmd(spec, &["run", &path(dir, workloads::BUSY_LOAD)]);
    load.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut other = load.spawn().map_err(|e| format!("spawn the other lab: {e}"))?;
    let mut lines = BufReader::new(other.stdout.take().expect("piped stdout")).lines();
    // The other lab's teardown starts when its script has printed @built.
    if !lines.any(|l| l.is_ok_and(|l| l == "@built")) {
        let _ = other.wait();
        return Err("the other lab never printed @built".into());
    }
    if spec.workload == Workload::W3AfterTeardown {
        drop(lines);
        let status = other.wait().map_err(|e| format!("wait for the other lab: {e}"))?;
        if !status.success() {
            return Err(format!("the other lab failed: {status}"));
        }
        return whole(spec, walkthrough_cmd(spec, dir, build), false);
    }
    let measured = whole(spec, walkthrough_cmd(spec, dir, build), false);
    drop(lines);
    let out = other.wait_with_output().map_err(|e| format!("wait for the other lab: {e}"))?;
    if !out.status.success() {
        return Err(format!("the other lab failed: {}", String::from_utf8_lossy(&out.stderr).trim_end()));
    }
    measured
}

/// nslab builds, prints `@built` (and, for W2, pings and prints `@pinged`), then tears the lab down
/// itself at the end of the run, as it does by default.
fn nslab_lab(spec: &Spec, script: &str, namespaces: usize) -> Result<Outcome, String> {
    let f = execute(nslab_cmd(spec, &["run", script]))?;
    f.check("nslab run")?;
    let (built, _) = f.marker("@built").ok_or("the script never printed @built")?;
    // The ping's duration as the script measured it; the line's arrival starts the teardown.
    let pinged = f.marker("@pinged").map(|(t, took)| (t, took.parse::<f64>().ok()));
    if spec.workload == Workload::W2 && pinged.is_none() {
        return Err("the script never printed @pinged".into());
    }
    let expect = format!("torn down: {namespaces} namespaces");
    if !f.stderr.contains(&expect) {
        return Err(format!("expected {expect:?} from nslab, got:\n{}", f.stderr.trim_end()));
    }
    let teardown_start = pinged.map(|(t, _)| t).unwrap_or(built);
    let clean = kernel_clean(spec, 1)?;
    let mut o = Outcome {
        ok: true,
        build: secs(built - f.started),
        ping: pinged.map(|(t, took)| took.unwrap_or(secs(t - built))),
        teardown_exit: secs(f.ended - teardown_start),
        teardown: secs(clean - teardown_start),
        total: secs(f.ended - f.started),
        total_clean: secs(clean - f.started),
        ..Default::default()
    };
    if let Some((oncpu, runq)) = f.sched_at("@built") {
        o.build_oncpu = Some(oncpu);
        o.build_runq = Some(runq);
    }
    usage_into(&mut o, &f);
    Ok(o)
}

/// A peer: the build script, then (right after) the teardown script.
fn peer_lab(spec: &Spec, dir: &Path, plan: &workloads::Plan) -> Result<Outcome, String> {
    let b = execute(bash_cmd(dir, &plan.build))?;
    b.check("the build")?;
    let standing = count_namespaces();
    if standing != plan.namespaces {
        return Err(format!("the build left {standing} namespaces, expected {}", plan.namespaces));
    }
    let t = execute(bash_cmd(dir, plan.teardown.as_deref().expect("peers have a teardown")))?;
    t.check("the teardown")?;
    if count_namespaces() != 0 {
        return Err("namespaces left after the teardown".into());
    }
    let clean = kernel_clean(spec, 1)?;
    Ok(Outcome {
        ok: true,
        build: secs(b.ended - b.started),
        ping: None,
        teardown_exit: secs(t.ended - t.started),
        teardown: secs(clean - t.started),
        total: secs(b.ended - b.started) + secs(t.ended - t.started),
        total_clean: secs(b.ended - b.started) + secs(clean - t.started),
        ..Default::default()
    })
}
