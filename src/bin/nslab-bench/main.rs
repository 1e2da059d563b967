//! nslab-bench: builds and tears down the issue-4 workloads (W1 chain, W2 star, W3 walkthrough)
//! with nslab, a bash script of `ip` commands and `ip -batch`, each run inside its own fresh
//! private user + mount + network namespace, and prints min/median/max per cell, nslab's
//! speed-up over each peer, its peak RSS, and its start-up time.
//!
//! Run it with `bench/run` (or `cargo run --release --bin nslab-bench`). `--help` lists options.

mod cell;
mod ends;
mod machines;
mod report;
mod workloads;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Parser;

use cell::{Outcome, Spec};
use report::CellResult;
use workloads::{Idioms, Tool, Workload};

#[derive(Parser, Debug)]
#[command(name = "nslab-bench", about = "Benchmark nslab against bash + ip and ip -batch, in private namespaces")]
struct Args {
    /// Sizes N for W1 and W2.
    #[arg(long, value_delimiter = ',', default_value = "10,100,500")]
    sizes: Vec<usize>,
    /// Runs per cell for N below 500.
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// Runs per cell for N of 500 and more.
    #[arg(long, default_value_t = 3)]
    reps_large: usize,
    /// Runs per tool for W3.
    #[arg(long, default_value_t = 10)]
    reps_w3: usize,
    /// Runs per tool for W3 with another lab tearing down (`busy`).
    #[arg(long, default_value_t = 10)]
    reps_busy: usize,
    /// The other lab's size in the busy W3 cases: W3 right after a W1 of the first N has torn
    /// down, and W3 while a W1 of the second N tears down.
    #[arg(long, value_delimiter = ',', default_value = "100,500")]
    busy_sizes: Vec<usize>,
    /// K, the numbers of root-side links ended in each way (`ends`).
    #[arg(long, value_delimiter = ',', default_value = "1,10,100")]
    ends_k: Vec<usize>,
    /// N of the W1 spread over three simulated machines (`machines`).
    #[arg(long, default_value_t = 300)]
    machines_n: usize,
    /// Runs per case of `machines`.
    #[arg(long, default_value_t = 3)]
    reps_machines: usize,
    /// Seconds each throughput run of `machines` sends.
    #[arg(long, default_value_t = 2.0)]
    tput_seconds: f64,
    /// Runs for each start-up measurement.
    #[arg(long, default_value_t = 20)]
    reps_startup: usize,
    /// Seconds a peer's cell may take: no further run is started once another would exceed it
    /// (every cell runs at least once; nslab's cells always run all their repetitions).
    #[arg(long, default_value_t = 15.0)]
    budget: f64,
    /// Which parts to run: w1, w2, w3, busy (W3 while another lab tears down), ends (the ways
    /// to end a lab's root-side links, with ip), machines (W1 over three simulated machines vs
    /// one, and throughput across machines vs a local veth), startup (default: all).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Which tools: nslab, bash, ip-batch, ip-batch-born (the default set), and nslab-move
    /// (nslab written the walkthrough's way, veth then move_to; slow until moves are coalesced).
    #[arg(long, value_delimiter = ',')]
    tools: Vec<String>,
    /// N = 10 and 100 only, 3 runs per cell.
    #[arg(long)]
    quick: bool,
    /// Write every run's numbers here as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the generated scripts of every tool for size N into DIR and exit.
    #[arg(long, value_name = "DIR")]
    emit: Option<PathBuf>,
    /// Profile nslab on one workload (e.g. W1:500): `strace -f -c -w` (wall time per system call)
    /// and, as root, `perf record` of the build, each in a private namespace.
    #[arg(long, value_name = "W:N")]
    profile: Option<String>,
    /// nslab's idioms in the generated scripts: exec, functions or birth (default: the fastest
    /// this nslab offers; see README).
    #[arg(long)]
    idioms: Option<String>,
    /// The nslab binary (default: next to this one; bench/run builds both in release).
    #[arg(long)]
    nslab: Option<PathBuf>,
}

const UNSHARE: [&str; 7] = ["--user", "--map-root-user", "--mount", "--net", "--propagation", "private", "--"];

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("__cell") {
        std::process::exit(cell::main(argv.get(2).map(String::as_str).unwrap_or("")));
    }
    let args = Args::parse();
    std::process::exit(match bench(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("nslab-bench: {e}");
            1
        }
    });
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The nslab binary to measure: built in release here when run through cargo.
fn find_nslab(given: Option<PathBuf>) -> Result<PathBuf, String> {
    if let Some(p) = given {
        return p.canonicalize().map_err(|e| format!("{}: {e}", p.display()));
    }
    if let Ok(cargo) = std::env::var("CARGO") {
        let status = Command::new(cargo)
            .args(["build", "--release", "--quiet", "--bin", "nslab", "--manifest-path"])
            .arg(repo_root().join("Cargo.toml"))
            .status()
            .map_err(|e| format!("run cargo: {e}"))?;
        if !status.success() {
            return Err("cargo build --release --bin nslab failed".into());
        }
    }
    let me = std::env::current_exe().map_err(|e| format!("find this program: {e}"))?;
    let dir = me.parent().ok_or("this program has no directory")?;
    let nslab = dir.join("nslab");
    if !nslab.exists() {
        return Err(format!("{} not found: run bench/run, which builds it in release", nslab.display()));
    }
    if dir.file_name().is_some_and(|d| d == "debug") {
        eprintln!("warning: measuring a debug build of nslab; use bench/run for release numbers");
    }
    Ok(nslab)
}

/// The fastest idioms this nslab offers: `bridge()`/`master()` (asked of `nslab check`), and veth
/// options applied at birth (tried in `nslab run --sandbox`, which leaves nothing behind).
fn detect_idioms(nslab: &Path) -> Idioms {
    let dir = std::env::temp_dir().join(format!("nslab-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let ok = |name: &str, text: &str, args: &[&str]| {
        let path = dir.join(name);
        std::fs::write(&path, text).is_ok()
            && Command::new(nslab).args(args).arg(&path).env("NO_COLOR", "1").output().is_ok_and(|o| o.status.success())
    };
    let functions = ok("functions.rhai", "bridge(\"sw\", \"br0\");\nmaster(\"sw\", \"s1\", \"br0\");\n", &["check"]);
    let birth = functions
        && ok(
            "birth.rhai",
            r#"netns_add("a"); netns_add("b"); bridge("a", "br0");
veth("a", "x", "b", "y", #{up: true, master: "br0"});
assert(link("a", "x").state == "up" && link("b", "y").state == "up");
assert(link("a", "x").master == "br0");
"#,
            &["run", "--sandbox"],
        );
    let _ = std::fs::remove_dir_all(&dir);
    match (functions, birth) {
        (_, true) => Idioms::Birth,
        (true, false) => Idioms::Functions,
        _ => Idioms::Exec,
    }
}

struct Bench {
    nslab: PathBuf,
    me: PathBuf,
    idioms: Idioms,
}

impl Bench {
    fn spec(&self, workload: Workload, tool: Tool, n: usize) -> Spec {
        Spec {
            workload,
            tool,
            n,
            nslab: self.nslab.clone(),
            repo: repo_root(),
            idioms: self.idioms,
            wrap: vec![],
            userns: true,
            load: 0,
            seconds: 0.0,
        }
    }

    /// One run in a fresh private namespace.
    fn cell(&self, spec: &Spec) -> Outcome {
        let json = serde_json::to_string(spec).expect("spec serializes");
        let flags: &[&str] = if spec.userns { &UNSHARE } else { &UNSHARE[2..] };
        let out = Command::new("unshare").args(flags).arg(&self.me).arg("__cell").arg(json).output();
        // Let the kernel free the cell's own namespace before the next run starts.
        std::thread::sleep(Duration::from_millis(20));
        let out = match out {
            Ok(o) => o,
            Err(e) => return Outcome { error: format!("run unshare: {e}"), ..Default::default() },
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        match stdout.lines().last().map(serde_json::from_str::<Outcome>) {
            Some(Ok(o)) => o,
            _ => Outcome {
                error: format!(
                    "the cell failed (status {:?}): {}{}",
                    out.status.code(),
                    stdout.trim_end(),
                    String::from_utf8_lossy(&out.stderr).trim_end()
                ),
                ..Default::default()
            },
        }
    }

    /// Repeats a cell until it has `reps` good runs (peers: fewer when the budget would be
    /// exceeded). A failed run is recorded and retried, up to `reps` failures.
    fn measure(&self, workload: Workload, tool: Tool, n: usize, reps: usize, budget: f64) -> CellResult {
        self.measure_spec(self.spec(workload, tool, n), reps, budget)
    }

    fn measure_spec(&self, spec: Spec, reps: usize, budget: f64) -> CellResult {
        let (workload, tool, n) = (spec.workload, spec.tool, spec.n);
        let started = Instant::now();
        let mut result = CellResult { workload, tool, n, runs: vec![], failures: vec![], error: None };
        let mut last = 0.0;
        while result.runs.len() < reps && result.failures.len() < reps.max(1) {
            let spent = started.elapsed().as_secs_f64();
            if tool != Tool::Nslab && !result.runs.is_empty() && spent + last > budget {
                break;
            }
            let t = Instant::now();
            let o = self.cell(&spec);
            last = t.elapsed().as_secs_f64();
            if o.ok {
                result.runs.push(o);
            } else {
                eprintln!("  {} N={n} {}: a run FAILED: {}", workload.title(), tool.label(), o.error);
                result.failures.push(o.error);
            }
        }
        if result.runs.is_empty() {
            result.error = result.failures.first().cloned();
        }
        let med = result.stat(|o| o.build).map(|s| s.median * 1000.0).unwrap_or(f64::NAN);
        eprintln!(
            "  {} N={n} {}: {} runs ({} failed), build median {med:.1} ms",
            workload.title(),
            tool.label(),
            result.runs.len(),
            result.failures.len()
        );
        result
    }
}

/// The load on the machine (other work skews every number): load average and CPU pressure.
fn machine_load() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").ok().and_then(|l| l.split_whitespace().next().map(String::from));
    let pressure = std::fs::read_to_string("/proc/pressure/cpu").ok().and_then(|p| {
        p.lines().next().and_then(|l| l.split_whitespace().find(|f| f.starts_with("avg60=")).map(|f| f[6..].to_string()))
    });
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    format!(
        "{cpus} CPUs, load average {}, CPU pressure (some, avg60) {}%",
        load.unwrap_or_else(|| "?".into()),
        pressure.unwrap_or_else(|| "?".into())
    )
}

fn wanted<T: PartialEq + Copy>(list: &[String], parse: impl Fn(&str) -> Option<T>, item: T) -> Result<bool, String> {
    if list.is_empty() {
        return Ok(true);
    }
    for s in list {
        if parse(s).is_none() {
            return Err(format!("unknown name {s:?}"));
        }
    }
    Ok(list.iter().any(|s| parse(s) == Some(item)))
}

fn part(s: &str) -> Option<&'static str> {
    match s.to_ascii_lowercase().as_str() {
        "w1" => Some("w1"),
        "w2" => Some("w2"),
        "w3" => Some("w3"),
        "busy" => Some("busy"),
        "ends" => Some("ends"),
        "startup" => Some("startup"),
        "machines" => Some("machines"),
        _ => None,
    }
}

fn bench(mut args: Args) -> Result<(), String> {
    if args.quick {
        args.sizes = vec![10, 100];
        args.reps = 3;
        args.reps_w3 = 5;
        args.reps_startup = 10;
        args.reps_busy = 5;
    }
    let nslab = find_nslab(args.nslab.clone())?;
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let idioms = match &args.idioms {
        Some(s) => Idioms::parse(s).ok_or(format!("unknown idioms {s:?} (exec, functions, birth)"))?,
        None => detect_idioms(&nslab),
    };
    let bench = Bench { nslab, me, idioms };

    if let Some(dir) = &args.emit {
        return emit(dir, &args.sizes, idioms);
    }
    if let Some(p) = &args.profile {
        return profile(&bench, p);
    }

    for t in &args.tools {
        Tool::parse(t).ok_or(format!("unknown tool {t:?} (nslab, nslab-sandbox, nslab-move, bash, ip-batch, ip-batch-born)"))?;
    }
    let tools: Vec<Tool> = if args.tools.is_empty() {
        Tool::DEFAULT.to_vec()
    } else {
        Tool::ALL.into_iter().filter(|t| args.tools.iter().any(|s| Tool::parse(s) == Some(*t))).collect()
    };
    let parts = |p: &str| wanted(&args.only, part, part(p).expect("known part"));
    let started = Instant::now();
    let load_before = machine_load();
    eprintln!("nslab-bench: {}; nslab's idioms: {}", bench.nslab.display(), idioms.describe());
    let mut results = Vec::new();
    for (w, name) in [(Workload::W1, "w1"), (Workload::W2, "w2")] {
        if !parts(name)? {
            continue;
        }
        for &n in &args.sizes {
            let reps = if n >= 500 { args.reps_large } else { args.reps };
            // The sandbox row is W3's: W1 and W2 already run in a private namespace per run.
            for &tool in tools.iter().filter(|t| **t != Tool::NslabSandbox) {
                results.push(bench.measure(w, tool, n, reps, args.budget));
            }
        }
    }
    if parts("w3")? {
        for &tool in tools.iter().filter(|t| !matches!(t, Tool::IpBatchBorn | Tool::NslabMove)) {
            results.push(bench.measure(Workload::W3, tool, 1, args.reps_w3, args.budget));
            if tool == Tool::Nslab && !tools.contains(&Tool::NslabSandbox) {
                results.push(bench.measure(Workload::W3, Tool::NslabSandbox, 1, args.reps_w3, args.budget));
            }
        }
    }
    if parts("busy")? {
        let sizes = [Workload::W3AfterTeardown, Workload::W3DuringTeardown].into_iter().zip(args.busy_sizes.iter().copied());
        for (w, n) in sizes {
            for &tool in tools.iter().filter(|t| matches!(t, Tool::Nslab | Tool::Bash | Tool::IpBatch)) {
                results.push(bench.measure(w, tool, n, args.reps_busy, args.budget));
            }
        }
    }
    let load = args.busy_sizes.first().copied().unwrap_or(100);
    if parts("ends")? {
        for &k in &args.ends_k {
            for w in [Workload::EndsEach, Workload::EndsGroup, Workload::EndsGroupDetached, Workload::EndsWait] {
                for l in [0, load] {
                    let spec = Spec { load: l, ..bench.spec(w, Tool::Bash, k) };
                    results.push(bench.measure_spec(spec, args.reps_w3, args.budget * 4.0));
                }
            }
        }
    }
    if parts("machines")? {
        for w in [Workload::W1OneMachine, Workload::W1Spread] {
            results.push(bench.measure(w, Tool::Nslab, args.machines_n, args.reps_machines, args.budget));
        }
        for w in [Workload::TputLocal, Workload::TputAcross] {
            let spec = Spec { seconds: args.tput_seconds, ..bench.spec(w, Tool::Nslab, 1) };
            results.push(bench.measure_spec(spec, args.reps_machines, args.budget));
        }
    }
    if parts("startup")? {
        for w in [Workload::Empty, Workload::Check] {
            results.push(bench.measure(w, Tool::Nslab, 1, args.reps_startup, args.budget));
        }
    }

    println!();
    for (w, name) in [(Workload::W1, "w1"), (Workload::W2, "w2")] {
        if parts(name)? {
            println!("{}", report::lab_table(&results, w, &args.sizes));
        }
    }
    for (w, name) in [(Workload::W3, "w3"), (Workload::Empty, "startup"), (Workload::Check, "startup")] {
        if parts(name)? {
            println!("{}", report::whole_table(&results, w, 1));
        }
    }
    if parts("busy")? {
        for (w, &n) in [Workload::W3AfterTeardown, Workload::W3DuringTeardown].iter().zip(&args.busy_sizes) {
            println!("{}", report::whole_table(&results, *w, n));
        }
    }
    if parts("ends")? {
        println!("{}", ends::table(&results, &args.ends_k, load));
    }
    if parts("machines")? {
        println!("{}", machines::table(&results, args.machines_n, args.tput_seconds));
    }
    println!("{}", report::failures(&results));
    println!("{}", report::targets(&results, idioms));
    println!(
        "Notes: the peers have no ping (no ping binary here): nslab's W2 ping and W3's four pings are extra work only nslab does.\n\
         Peers create veths in the root namespace and move them (the walkthrough's way), except \"born in ns\".\n\
         Benchmark wall time: {:.0} s. Machine at the start: {load_before}; at the end: {}.",
        started.elapsed().as_secs_f64(),
        machine_load()
    );
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&results).expect("results serialize");
        std::fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// Writes every generated script, for reading.
fn emit(dir: &Path, sizes: &[usize], idioms: Idioms) -> Result<(), String> {
    let n = sizes.first().copied().unwrap_or(10);
    for w in [Workload::W1, Workload::W2, Workload::W3] {
        // (The sandbox row is W3's only.)
        for tool in Tool::ALL.into_iter().filter(|t| w == Workload::W3 || *t != Tool::NslabSandbox) {
            let plan = workloads::plan(w, tool, n, Path::new(cell::WORK_DIR), idioms);
            for f in plan.files {
                let path = dir.join(&f.name);
                std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
                std::fs::write(&path, f.text).map_err(|e| format!("write {}: {e}", path.display()))?;
            }
        }
    }
    eprintln!("wrote the scripts for N={n} into {} (paths inside refer to {})", dir.display(), cell::WORK_DIR);
    Ok(())
}

/// strace (wall time per system call) and perf of nslab on one workload.
fn profile(bench: &Bench, what: &str) -> Result<(), String> {
    let (w, n) = what.split_once(':').ok_or("--profile takes W:N, e.g. W1:500")?;
    let w = Workload::parse(w).ok_or(format!("unknown workload {w:?}"))?;
    let n: usize = n.parse().map_err(|_| format!("bad size {n:?}"))?;
    let out = std::env::temp_dir().join(format!("nslab-bench-profile-{}", std::process::id()));
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;

    let plain = bench.cell(&bench.spec(w, Tool::Nslab, n));
    if !plain.ok {
        return Err(plain.error);
    }
    println!(
        "{} N={n}, nslab without a profiler: build {:.1} ms, teardown to kernel done {:.1} ms, user {:.1} ms, sys {:.1} ms, peak RSS {:.1} MB\n",
        w.title(),
        plain.build * 1e3,
        plain.teardown * 1e3,
        plain.user * 1e3,
        plain.sys * 1e3,
        plain.maxrss_kb as f64 / 1024.0
    );

    let strace_file = out.join("strace.txt");
    let mut spec = bench.spec(w, Tool::Nslab, n);
    spec.wrap = ["strace", "-f", "-c", "-w", "-U", "name,calls,time,avg-time,errors", "-S", "time", "-o"]
        .iter()
        .map(|s| s.to_string())
        .chain([strace_file.display().to_string(), "--".into()])
        .collect();
    let traced = bench.cell(&spec);
    match std::fs::read_to_string(&strace_file) {
        Ok(text) => println!("strace -f -c -w (wall time inside system calls, whole run incl. teardown):\n{text}"),
        Err(e) => println!("strace gave nothing ({e}); cell: {}", traced.error),
    }

    // perf needs privileges of the initial user namespace: run these cells without a user namespace.
    if nix::unistd::geteuid().is_root() && Command::new("perf").arg("--version").output().is_ok() {
        let data = out.join("perf.data");
        perf_cell(bench, w, n, &["perf", "record", "-q", "-g", "-F", "4999", "-o"], &data);
        let report = Command::new("perf")
            .args(["report", "--stdio", "--children", "--percent-limit", "3", "--sort", "sym", "-g", "none", "-i"])
            .arg(&data)
            .output();
        match report {
            Ok(r) if r.status.success() => {
                let text = String::from_utf8_lossy(&r.stdout);
                let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).take(45).collect();
                println!("perf record, on-CPU samples of nslab (children included: the system calls' shares), whole run:");
                println!("{}\n", lines.join("\n"));
            }
            _ => println!("perf report failed\n"),
        }
        let sched = out.join("perf.sched");
        perf_cell(bench, w, n, &["perf", "sched", "record", "-q", "-g", "-o"], &sched);
        match off_cpu(&sched) {
            Some(text) => println!("perf sched, where nslab's main thread was off a CPU, whole run:\n{text}"),
            None => println!("perf sched timehist gave nothing"),
        }
    }
    println!("\nraw profiles kept in {}", out.display());
    Ok(())
}

/// Runs nslab under `perf ARGS FILE --` in a private namespace without a user namespace.
fn perf_cell(bench: &Bench, w: Workload, n: usize, args: &[&str], file: &Path) {
    let mut spec = bench.spec(w, Tool::Nslab, n);
    spec.wrap = args.iter().map(|s| s.to_string()).chain([file.display().to_string(), "--".into()]).collect();
    spec.userns = false;
    let o = bench.cell(&spec);
    if !o.ok {
        println!("the profiled run failed: {}", o.error);
    }
    std::thread::sleep(Duration::from_secs(2)); // no cleanup probe without a user namespace
}

/// From `perf sched record -g` data: nslab's time on and off a CPU, and the kernel paths it slept
/// in (the time until it next ran, summed by the first frames of the stack where it left the CPU).
fn off_cpu(data: &Path) -> Option<String> {
    let timehist = |extra: &[&str]| {
        Command::new("perf").args(["sched", "timehist", "-i"]).arg(data).args(extra).output().ok().filter(|o| o.status.success())
    };
    let summary = String::from_utf8_lossy(&timehist(&["-s"])?.stdout).into_owned();
    // The nslab process that ran longest: "nslab[PID]  PARENT  SCHED-IN  RUN-TIME ...".
    let pid = summary
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let task = f.next()?;
            let pid = task.strip_prefix("nslab[")?.strip_suffix(']')?.parse::<u32>().ok()?;
            let run: f64 = f.nth(2)?.parse().ok()?;
            Some((pid, run))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))?
        .0;
    let hist = String::from_utf8_lossy(&timehist(&["-p", &pid.to_string()])?.stdout).into_owned();
    let (mut wait, mut delay, mut run) = (0.0, 0.0, 0.0);
    let mut by_stack: std::collections::HashMap<String, (f64, usize)> = std::collections::HashMap::new();
    let mut prev: Option<String> = None;
    for line in hist.lines().skip(3) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 6 {
            continue;
        }
        let (Ok(w), Ok(d), Ok(r)) = (f[3].parse::<f64>(), f[4].parse::<f64>(), f[5].parse::<f64>()) else { continue };
        wait += w;
        delay += d;
        run += r;
        if let Some(p) = prev.take() {
            let e = by_stack.entry(p).or_default();
            e.0 += w;
            e.1 += 1;
        }
        prev = Some(f[6..].iter().take(5).copied().collect::<Vec<_>>().join(" "));
    }
    let mut rows: Vec<(String, (f64, usize))> = by_stack.into_iter().collect();
    rows.sort_by(|a, b| b.1 .0.total_cmp(&a.1 .0));
    let mut text = format!(
        "  pid {pid}: on a CPU {run:.1} ms; off a CPU {wait:.1} ms (plus {delay:.1} ms from wake-ups to running)\n  \
         off a CPU, by where it left (a preemption means it waited for a CPU: other load):\n"
    );
    for (stack, (ms, count)) in rows.into_iter().take(10) {
        let note =
            if stack.starts_with("exit_to_user_mode_loop") || stack.starts_with("irqentry_exit") { "  (preempted)" } else { "" };
        text.push_str(&format!("  {ms:>9.1} ms {count:>6}x  {stack}{note}\n"));
    }
    Some(text)
}
