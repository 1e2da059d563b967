//! Labs across machines (issue 16, `--only machines`): W1 of N namespaces placed round-robin on
//! three simulated machines (every link of the chain crosses machines: a VXLAN pair) against the
//! same W1 on one of them, build and teardown; and the throughput of one link across machines
//! against a local veth pair (nslab's `throughput`).
//!
//! The machines live inside the cell (its private user + mount + network namespace plays the
//! network switch), as tests/support/machines.rs makes them: each a holder process in a new
//! network + mount namespace with its own tmpfs on /run, joined by veths to a bridge ul0, with
//! 10.200.0.i/24 on its eth0. `nslab run --hosts` runs in `local`; the inventory's `via` is an
//! `nsenter` into m2 or m3 that starts `nslab agent` there. Both W1 cases run in `local`, through
//! the same nsenter, so that only the placement differs.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use crate::cell::{execute, kernel_clean, secs, Outcome, Spec};
use crate::report::{stats, CellResult, Stats};
use crate::workloads::{self, Tool, Workload};

/// The simulated machines, `local` first.
const NAMES: [&str; 3] = ["local", "m2", "m3"];

/// Three machines standing; their holders are killed when this is dropped.
struct Machines {
    holders: Vec<Child>,
}

impl Drop for Machines {
    fn drop(&mut self) {
        for h in &mut self.holders {
            let _ = h.kill();
            let _ = h.wait();
        }
    }
}

impl Machines {
    fn pid(&self, i: usize) -> u32 {
        self.holders[i].id()
    }

    /// Where a file of machine `i`'s /run is seen from the cell.
    fn run_dir(&self, i: usize) -> String {
        format!("/proc/{}/root/run", self.pid(i))
    }

    fn start(nslab: &std::path::Path) -> Result<(Machines, String), String> {
        sh("ip link add ul0 type bridge && ip link set ul0 up")?;
        let mut m = Machines { holders: Vec::new() };
        for _ in NAMES {
            let mut cmd = Command::new("unshare");
            cmd.args(["--net", "--mount", "--propagation", "private", "--", "sh", "-c"])
                .arg("mount -t tmpfs -o mode=755 tmpfs /run && mkdir -p /run/netns /run/nslab && echo ready && exec sleep infinity")
                .stdin(Stdio::null())
                .stdout(Stdio::piped());
            // SAFETY: prctl is async-signal-safe; it only asks for SIGKILL when this cell dies,
            // so that a holder never outlives a cell that was killed.
            unsafe {
                cmd.pre_exec(|| {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let mut child = cmd.spawn().map_err(|e| format!("start a machine: {e}"))?;
            let out = child.stdout.take().expect("piped");
            m.holders.push(child);
            let mut line = String::new();
            BufReader::new(out).read_line(&mut line).map_err(|e| format!("wait for a machine: {e}"))?;
            if line.trim() != "ready" {
                return Err("a machine did not start".into());
            }
        }
        let mut hosts = String::new();
        for (i, name) in NAMES.iter().enumerate() {
            let pid = m.pid(i);
            sh(&format!("ip link add ul-{name} type veth peer name eth0 netns /proc/{pid}/ns/net"))?;
            sh(&format!("ip link set ul-{name} master ul0 up"))?;
            sh(&format!(
                "nsenter -t {pid} -n sh -c 'ip link set lo up && ip addr add 10.200.0.{}/24 dev eth0 && ip link set eth0 up'",
                i + 1
            ))?;
            let _ = writeln!(hosts, "[hosts.{name}]\naddress = \"10.200.0.{}\"\ndev = \"eth0\"", i + 1);
            if i > 0 {
                let _ = writeln!(hosts, "via = \"nsenter -t {pid} -n -m {} agent\"", nslab.display());
            }
        }
        Ok((m, hosts))
    }

    /// `nslab ARGS` in machine `local`.
    fn nslab(&self, spec: &Spec, args: &[&str]) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &self.pid(0).to_string(), "-n", "-m", "--"]).arg(&spec.nslab).args(args).env("NO_COLOR", "1");
        cmd
    }
}

fn sh(cmd: &str) -> Result<(), String> {
    let out = Command::new("sh").arg("-c").arg(cmd).output().map_err(|e| format!("run sh: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{cmd}: {}", String::from_utf8_lossy(&out.stderr).trim_end()))
    }
}

/// W1 of `n` namespaces, placed round-robin on the three machines (`spread`) or all on local.
pub fn w1_script(n: usize, spread: bool, idioms: workloads::Idioms) -> String {
    let plain = workloads::plan(Workload::W1, Tool::Nslab, n, std::path::Path::new("/"), idioms).files.remove(0).text;
    if !spread {
        return plain;
    }
    let names = NAMES.map(|m| format!("\"{m}\"")).join(", ");
    let placed = plain.replace("    netns_add(`n${i}`);", &format!("    netns_add(`n${{i}}`, #{{on: [{names}][(i - 1) % 3]}});"));
    assert_ne!(placed, plain, "W1's script places its namespaces with netns_add(`n${{i}}`)");
    placed
}

/// One link (a on local, b on m2 when `across`, else both on local), then `throughput(a, b)`.
pub fn throughput_script(across: bool, seconds: f64) -> String {
    let on = if across { "m2" } else { "local" };
    format!(
        r#"let a = netns_add("a");
let b = netns_add("b", #{{on: "{on}"}});
veth(a, "x", b, "y", #{{up: true}});
addr(a, "x", "10.9.0.1/24");
addr(b, "y", "10.9.0.2/24");
let bps = throughput(a, b, #{{seconds: {seconds}}});
print(`@bps ${{bps}}`);
"#
    )
}

/// One run of a machines workload, inside a cell.
pub fn run(spec: &Spec) -> Result<Outcome, String> {
    let (machines, hosts) = Machines::start(&spec.nslab)?;
    let dir = machines.run_dir(0);
    std::fs::write(format!("{dir}/hosts.toml"), hosts).map_err(|e| format!("write the inventory: {e}"))?;
    let script = match spec.workload {
        Workload::W1Spread => w1_script(spec.n, true, spec.idioms),
        Workload::W1OneMachine => w1_script(spec.n, false, spec.idioms),
        Workload::TputAcross => throughput_script(true, spec.seconds),
        _ => throughput_script(false, spec.seconds),
    };
    std::fs::write(format!("{dir}/lab.rhai"), script).map_err(|e| format!("write the script: {e}"))?;
    let f = execute(machines.nslab(spec, &["run", "--hosts", "/run/hosts.toml", "/run/lab.rhai"]))?;
    f.check("nslab run")?;
    if matches!(spec.workload, Workload::TputAcross | Workload::TputLocal) {
        let (_, bps) = f.marker("@bps").ok_or("the script never printed @bps")?;
        let bps: f64 = bps.parse().map_err(|_| format!("not a rate: {bps:?}"))?;
        return Ok(Outcome { ok: true, bps: Some(bps), total: secs(f.ended - f.started), ..Default::default() });
    }
    let (built, _) = f.marker("@built").ok_or("the script never printed @built")?;
    // What was measured is what was asked: every link of a spread chain a VXLAN pair, none
    // on one machine.
    let tunnels = f.stderr.matches(" is VXLAN VNI ").count();
    let expected = if spec.workload == Workload::W1Spread { spec.n - 1 } else { 0 };
    if tunnels != expected {
        return Err(format!("{tunnels} links across machines, expected {expected}:\n{}", f.stderr.trim_end()));
    }
    let expect = format!("torn down: {} namespaces", spec.n);
    if !f.stderr.contains(&expect) {
        return Err(format!("expected {expect:?} from nslab, got:\n{}", f.stderr.trim_end()));
    }
    // Every lab namespace freed: only the cell's own and the machines' are left.
    let clean = kernel_clean(spec, 1 + NAMES.len())?;
    drop(machines);
    Ok(Outcome {
        ok: true,
        build: secs(built - f.started),
        teardown_exit: secs(f.ended - built),
        teardown: secs(clean - built),
        total: secs(f.ended - f.started),
        total_clean: secs(clean - f.started),
        ..Default::default()
    })
}

fn cell(results: &[CellResult], w: Workload) -> Option<&CellResult> {
    results.iter().find(|c| c.workload == w && !c.runs.is_empty())
}

fn three(s: Option<Stats>, scale: f64) -> String {
    s.map(|s| format!("{:>8.1} {:>8.1} {:>8.1}", s.min * scale, s.median * scale, s.max * scale))
        .unwrap_or_else(|| format!("{:>26}", "-"))
}

fn ratio(a: Option<Stats>, b: Option<Stats>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b.median > 0.0 => format!("{:.2}x", a.median / b.median),
        _ => "-".into(),
    }
}

/// The table of the machines part.
pub fn table(results: &[CellResult], n: usize, seconds: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Labs across machines: three simulated machines (private net + mount namespaces, own /run, an underlay bridge;\n\
         agents started by nsenter), W1 N={n}   (ms: min median max; x = across / one machine, medians)"
    );
    let _ = writeln!(
        out,
        "  {:<34} {:>4}  {:>26}  {:>26}  {:>26}",
        "W1", "runs", "build", "teardown to exit", "teardown to kernel done"
    );
    let one = cell(results, Workload::W1OneMachine);
    let spread = cell(results, Workload::W1Spread);
    for (label, c) in [("on one machine", one), ("round-robin on local, m2, m3", spread)] {
        let runs = c.map_or(0, |c| c.runs.len());
        let st = |f: fn(&Outcome) -> f64| c.and_then(|c| c.stat(f));
        let _ = writeln!(
            out,
            "  {label:<34} {runs:>4}  {}  {}  {}",
            three(st(|o| o.build), 1e3),
            three(st(|o| o.teardown_exit), 1e3),
            three(st(|o| o.teardown), 1e3)
        );
    }
    let st = |c: Option<&CellResult>, f: fn(&Outcome) -> f64| c.and_then(|c| c.stat(f));
    let _ = writeln!(
        out,
        "  {:<34} {:>4}  {:>26}  {:>26}  {:>26}",
        "across / one machine",
        "",
        ratio(st(spread, |o| o.build), st(one, |o| o.build)),
        ratio(st(spread, |o| o.teardown_exit), st(one, |o| o.teardown_exit)),
        ratio(st(spread, |o| o.teardown), st(one, |o| o.teardown))
    );
    let _ =
        writeln!(out, "  (round-robin: each of the {} links of the chain crosses machines, a VXLAN pair)", n.saturating_sub(1));
    let bps = |w: Workload| cell(results, w).and_then(|c| stats(&c.runs.iter().filter_map(|o| o.bps).collect::<Vec<_>>()));
    let (local, across) = (bps(Workload::TputLocal), bps(Workload::TputAcross));
    let _ = writeln!(out, "Throughput, nslab's throughput(a, b), TCP for {seconds} s   (Gbit/s: min median max)");
    for (label, w, s) in
        [("a local veth pair", Workload::TputLocal, local), ("one link across machines (VXLAN)", Workload::TputAcross, across)]
    {
        let runs = cell(results, w).map_or(0, |c| c.runs.len());
        let _ = writeln!(out, "  {label:<34} {runs:>4}  {}", three(s, 1e-9));
    }
    let _ = writeln!(out, "  {:<34} {:>4}  {:>26}", "across / local", "", ratio(across, local));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spread_w1_places_every_namespace_round_robin() {
        let s = w1_script(6, true, workloads::Idioms::Birth);
        assert!(s.contains(r#"netns_add(`n${i}`, #{on: ["local", "m2", "m3"][(i - 1) % 3]});"#), "{s}");
        assert!(s.contains("print(\"@built\");"));
        assert!(!w1_script(6, false, workloads::Idioms::Birth).contains("on:"));
    }
}
