//! Running scenarios: each in a child process of this same binary (`nslab test-scenario`, which
//! enters its own sandbox), several at once, each under its time limit.
//!
//! Each child leads a process group of its own. At its time limit (or on Ctrl-C) the group gets
//! SIGTERM, which makes the scenario stop and tear its lab down as `nslab run` does; a group still
//! there after a grace period gets SIGKILL. This process is a child subreaper, so any process a
//! scenario started and left behind comes back to it when the scenario's process ends, and is
//! ended here, by pid. Only processes started by this run are ever signalled.
//!
//! Each child dies with this process (SIGKILL as its parent-death signal, set by the main thread,
//! which lives as long as the run): a `kill -9` of the runner ends every scenario, and with it
//! its lab (the lab's keeper goes, see `engine::keeper`) and the lab's programs (their PID
//! namespace goes with the lab, see `engine::pidns`).

use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::discover::Scenario;
use super::outcome::{ChildReport, Problem, ScenarioResult, Status};

/// How long a scenario asked to stop may take to tear down before it is killed.
const GRACE: Duration = Duration::from_secs(5);
/// How often running scenarios are looked at.
const TICK: Duration = Duration::from_millis(10);
/// Most of a scenario's output kept in its result.
const MAX_OUTPUT: usize = 256 * 1024;

struct Running {
    index: usize,
    child: Child,
    started: Instant,
    deadline: Instant,
    /// When SIGTERM was sent, and whether SIGKILL followed.
    stopping: Option<Instant>,
    killed: bool,
    timed_out: bool,
    interrupted: bool,
}

/// Where the files of one run live; removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> std::io::Result<Scratch> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("nslab-scenarios-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&dir)?;
        Ok(Scratch(dir))
    }

    fn file(&self, index: usize, ext: &str) -> PathBuf {
        self.0.join(format!("{index}.{ext}"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs every scenario, at most `jobs` at once, calling `done` as each finishes. Returns the
/// results in the order of `scenarios` (those never started, after an interruption, are left
/// out) and whether the run was interrupted.
pub fn run(
    scenarios: &[Scenario],
    jobs: usize,
    capture: bool,
    limits: &[crate::cli::LimitArg],
    hosts: Option<&Path>,
    mut done: impl FnMut(&ScenarioResult),
) -> (Vec<ScenarioResult>, bool) {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in crate::cli::session::STOP_SIGNALS {
        let _ = signal_hook::flag::register(sig, stop.clone());
    }
    // Orphans of our scenarios come back to us instead of init (see the module comment).
    crate::engine::orphans::adopt();
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("nslab"));
    let mut results: Vec<Option<ScenarioResult>> = vec![None; scenarios.len()];
    let scratch = match Scratch::new() {
        Ok(s) => s,
        Err(e) => {
            for (i, s) in scenarios.iter().enumerate() {
                let r = immediate(s, Problem::plain("error", format!("cannot make a scratch directory: {e}")));
                done(&r);
                results[i] = Some(r);
            }
            return (results.into_iter().flatten().collect(), false);
        }
    };
    let mut pending: VecDeque<usize> = (0..scenarios.len()).collect();
    let mut running: Vec<Running> = Vec::new();
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        while !stopping && running.len() < jobs.max(1) {
            let Some(index) = pending.pop_front() else { break };
            let s = &scenarios[index];
            if let Some(e) = &s.header_error {
                let r = immediate(s, Problem { file: Some(s.name.clone()), ..Problem::plain("error", e.clone()) });
                done(&r);
                results[index] = Some(r);
                continue;
            }
            match start(&exe, s, &scratch, index, capture, limits, hosts) {
                Ok(child) => {
                    let now = Instant::now();
                    running.push(Running {
                        index,
                        child,
                        started: now,
                        deadline: now + s.timeout,
                        stopping: None,
                        killed: false,
                        timed_out: false,
                        interrupted: false,
                    });
                }
                Err(e) => {
                    let r = immediate(s, Problem::plain("error", format!("cannot start {}: {e}", exe.display())));
                    done(&r);
                    results[index] = Some(r);
                }
            }
        }
        if running.is_empty() && (pending.is_empty() || stopping) {
            break;
        }
        let now = Instant::now();
        let mut i = 0;
        while i < running.len() {
            if let Ok(Some(status)) = running[i].child.try_wait() {
                let r = running.swap_remove(i);
                let index = r.index;
                let result = finish(&scenarios[index], &scratch, r, status);
                end_orphans(&running);
                done(&result);
                results[index] = Some(result);
                continue;
            }
            let r = &mut running[i];
            let group = Pid::from_raw(r.child.id() as i32);
            match r.stopping {
                None if now >= r.deadline || stopping => {
                    r.timed_out = now >= r.deadline;
                    r.interrupted = !r.timed_out;
                    r.stopping = Some(now);
                    let _ = killpg(group, Signal::SIGTERM);
                }
                Some(since) if !r.killed && now >= since + GRACE => {
                    r.killed = true;
                    let _ = killpg(group, Signal::SIGKILL);
                }
                _ => {}
            }
            i += 1;
        }
        std::thread::sleep(TICK);
    }
    end_orphans(&[]);
    let interrupted = stop.load(Ordering::Relaxed);
    (results.into_iter().flatten().collect(), interrupted)
}

fn start(
    exe: &Path,
    s: &Scenario,
    scratch: &Scratch,
    index: usize,
    capture: bool,
    limits: &[crate::cli::LimitArg],
    hosts: Option<&Path>,
) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(exe);
    cmd.arg("test-scenario").arg("--result").arg(scratch.file(index, "json"));
    if capture {
        cmd.arg("--capture");
    }
    for l in limits {
        cmd.arg("--limit").arg(&l.text);
    }
    if let Some(h) = hosts {
        cmd.arg("--hosts").arg(h);
    }
    cmd.arg("--")
        .arg(&s.path)
        .stdin(Stdio::null())
        .stdout(File::create(scratch.file(index, "out"))?)
        .stderr(File::create(scratch.file(index, "err"))?)
        .env("NO_COLOR", "1")
        .process_group(0);
    let runner = std::process::id() as libc::pid_t;
    debug_assert_eq!(nix::unistd::gettid().as_raw(), runner, "scenarios are started from the main thread");
    // SAFETY: only async-signal-safe system calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // The signal follows the thread that forks: this runs on the main thread (see the
            // module comment). A runner gone before this line is seen by the parent pid.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() != runner {
                libc::_exit(128 + libc::SIGKILL);
            }
            Ok(())
        });
    }
    cmd.spawn()
}

/// A result for a scenario that did not run.
fn immediate(s: &Scenario, problem: Problem) -> ScenarioResult {
    ScenarioResult {
        file: s.name.clone(),
        status: Status::Fail,
        duration_ms: 0.0,
        timeout_s: s.timeout.as_secs_f64(),
        problem: Some(problem),
        subtests: vec![],
        calls: None,
        output: String::new(),
        stderr: String::new(),
    }
}

/// The first `MAX_OUTPUT` bytes of a scenario's output, reading no more than that (a scenario
/// that printed in a loop may have left gigabytes).
fn read_capped(path: &Path) -> String {
    use std::io::Read;
    let Ok(file) = File::open(path) else { return String::new() };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut text = Vec::new();
    let _ = file.take(MAX_OUTPUT as u64).read_to_end(&mut text);
    let cut = String::from_utf8_lossy(&text).into_owned();
    if size > text.len() as u64 {
        format!("{cut}\n[... {} more bytes]\n", size - text.len() as u64)
    } else {
        cut
    }
}

fn finish(s: &Scenario, scratch: &Scratch, r: Running, exit: ExitStatus) -> ScenarioResult {
    let duration_ms = r.started.elapsed().as_secs_f64() * 1000.0;
    let output = read_capped(&scratch.file(r.index, "out"));
    let stderr = read_capped(&scratch.file(r.index, "err"));
    let report: Option<ChildReport> =
        std::fs::read_to_string(scratch.file(r.index, "json")).ok().and_then(|t| serde_json::from_str(&t).ok());
    let limit = s.timeout.as_secs_f64();
    let (mut status, mut problem, subtests, calls) = match report {
        Some(rep) => (rep.status, rep.problem, rep.subtests, rep.calls),
        None => {
            use std::os::unix::process::ExitStatusExt;
            let how = match (exit.code(), exit.signal()) {
                (_, Some(sig)) => format!("was killed by signal {sig}"),
                (Some(code), _) => format!("exited with status {code}"),
                _ => "ended".into(),
            };
            let tail: Vec<&str> = stderr.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect();
            let p = Problem {
                report: tail.join("\n"),
                ..Problem::plain("crash", format!("the scenario's process {how} without a result"))
            };
            (Status::Fail, Some(p), vec![], None)
        }
    };
    if r.timed_out || r.interrupted {
        let (kind, what) = if r.timed_out {
            ("timeout", format!("did not finish within {} s", fmt_seconds(limit)))
        } else {
            ("interrupted", "interrupted".to_string())
        };
        let mut p = problem.take().filter(|p| p.kind == "interrupted").unwrap_or_default();
        p.kind = kind.into();
        p.message = match p.line {
            Some(line) => format!("{what} (stopped at line {line})"),
            None => what,
        };
        if r.killed {
            p.message += &format!("; killed after a {} s grace period", GRACE.as_secs());
        }
        problem = Some(p);
        status = if r.timed_out { Status::Timeout } else { Status::Fail };
    }
    ScenarioResult { file: s.name.clone(), status, duration_ms, timeout_s: limit, problem, subtests, calls, output, stderr }
}

pub fn fmt_seconds(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s}")
    }
}

/// Ends (by pid) the processes our scenarios left behind: after a scenario's process ended, its
/// remaining children were handed to us; the ones we are not running ourselves are those.
/// Ends what scenarios left behind and this process adopted (see `engine::orphans`), sparing
/// the scenarios still running.
fn end_orphans(running: &[Running]) {
    let ours: HashSet<i32> = running.iter().map(|r| r.child.id() as i32).collect();
    crate::engine::orphans::end_adopted(&ours);
}
