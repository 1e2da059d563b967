//! The ways to end a lab's links outside its namespaces, measured with `ip` on K root-side veth
//! ends whose peers are in one lab namespace (`--only ends`): deleting each link (one request
//! per link, as `ip -batch` sends them), deleting the link group (one request), the same sent by
//! a process not waited for (what nslab does: a forked child waits out the kernel's RCU barrier
//! after the links are gone from sight), and deleting the namespace and waiting until the
//! kernel's namespace cleanup has taken the root-side ends (how nslab ended a lab before). Each is timed from its start until neither a link nor the
//! namespace's name is visible, alone and right after another lab's W1 teardown.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::cell::{Outcome, Spec};
use crate::report::{stats, CellResult};
use crate::workloads::Workload;

/// The group the links are born in (any nslab-like value: the cell is private).
const GROUP: u32 = 0x6e00_0017;

fn ip(args: &str) -> Result<(), String> {
    let out = Command::new("sh").arg("-c").arg(format!("ip {args}")).output().map_err(|e| format!("run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ip {args}: {}", String::from_utf8_lossy(&out.stderr).trim_end()))
    }
}

fn link_exists(name: &str) -> bool {
    let name = std::ffi::CString::new(name).expect("no NUL");
    // SAFETY: a valid NUL-terminated string; if_nametoindex only reads it.
    unsafe { libc::if_nametoindex(name.as_ptr()) != 0 }
}

fn any_visible(k: usize) -> bool {
    Path::new("/run/netns/lab").exists() || (1..=k).any(|i| link_exists(&format!("r{i}")))
}

/// One run inside a cell: builds the K pairs, optionally runs the other lab (`spec.load`
/// namespaces, nslab), then ends the links the workload's way.
pub fn run(spec: &Spec, dir: &Path) -> Result<Outcome, String> {
    let k = spec.n;
    let mut batch = String::from("netns add lab\n");
    for i in 1..=k {
        let _ = writeln!(batch, "link add r{i} group {GROUP} type veth peer name p{i} netns lab");
    }
    std::fs::write(dir.join("ends-build.batch"), batch).map_err(|e| e.to_string())?;
    ip(&format!("-batch {}", dir.join("ends-build.batch").display()))?;
    if spec.load > 0 {
        let plan = crate::workloads::plan(Workload::W1, crate::workloads::Tool::Nslab, spec.load, dir, spec.idioms);
        let file = plan.files.first().ok_or("no W1 script")?;
        let load = dir.join(format!("load-{}", file.name));
        std::fs::write(&load, &file.text).map_err(|e| e.to_string())?;
        let status = Command::new(&spec.nslab).arg("run").arg(&load).env("NO_COLOR", "1").output();
        if !status.is_ok_and(|o| o.status.success()) {
            return Err("the other lab failed".into());
        }
    }
    // A netlink socket in the lab namespace, closed just before (as a lab's own are): the
    // namespace then outlives its unmount by an RCU grace period.
    ip("-n lab link show > /dev/null")?;
    let mut each = String::new();
    for i in 1..=k {
        let _ = writeln!(each, "link del r{i}");
    }
    std::fs::write(dir.join("ends-each.batch"), each).map_err(|e| e.to_string())?;
    let started = Instant::now();
    match spec.workload {
        Workload::EndsEach => {
            ip(&format!("-batch {}", dir.join("ends-each.batch").display()))?;
            ip("netns del lab")?;
        }
        Workload::EndsGroup => {
            ip(&format!("link del group {GROUP}"))?;
            ip("netns del lab")?;
        }
        Workload::EndsGroupDetached => {
            let mut child = Command::new("ip")
                .args(["link", "del", "group", &GROUP.to_string()])
                .spawn()
                .map_err(|e| format!("run ip: {e}"))?;
            let deadline = Instant::now() + Duration::from_secs(60);
            while (1..=k).any(|i| link_exists(&format!("r{i}"))) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_micros(200));
            }
            ip("netns del lab")?;
            let exited = Instant::now();
            let _ = child.wait();
            return Ok(Outcome {
                ok: true,
                total: (exited - started).as_secs_f64(),
                gone: Some((exited - started).as_secs_f64()),
                busy: spec.load > 0,
                ..Default::default()
            });
        }
        _ => ip("netns del lab")?,
    }
    let exited = Instant::now();
    let deadline = started + Duration::from_secs(60);
    while any_visible(k) {
        if Instant::now() > deadline {
            return Err("links still visible after 60 s".into());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let gone = Instant::now();
    Ok(Outcome {
        ok: true,
        total: (exited - started).as_secs_f64(),
        gone: Some((gone - started).as_secs_f64()),
        left_at_exit: gone > exited + Duration::from_micros(300),
        ..Default::default()
    })
}

/// The table: per K and condition, each way's time until nothing is visible.
pub fn table(results: &[CellResult], ks: &[usize], load: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Ending K root-side veth ends (peers in one lab namespace), until no link and no name is visible\n\
         (ms, min median max; with `ip`: a process start, ~2 ms, is in every time)"
    );
    let _ = writeln!(out, "  {:>4}  {:<44} {:>26}  {:>26}", "K", "way", "alone", format!("after a W1 N={load} teardown"));
    for &k in ks {
        for (w, label) in [
            (Workload::EndsEach, "delete each link (ip -batch: K requests)"),
            (Workload::EndsGroup, "delete the link group (1 request)"),
            (Workload::EndsGroupDetached, "the same, its barrier left to a child (nslab)"),
            (Workload::EndsWait, "delete the namespace, wait for the kernel"),
        ] {
            let cell = |busy: bool| {
                results
                    .iter()
                    .find(|c| c.workload == w && c.n == k && c.runs.first().is_some_and(|o| o.busy == busy))
                    .and_then(|c| stats(&c.runs.iter().filter_map(|o| o.gone).collect::<Vec<_>>()))
                    .map(|s| format!("{:>8.1} {:>8.1} {:>8.1}", s.min * 1e3, s.median * 1e3, s.max * 1e3))
                    .unwrap_or_else(|| format!("{:>26}", "-"))
            };
            let _ = writeln!(out, "  {k:>4}  {label:<44} {}  {}", cell(false), cell(true));
        }
    }
    out
}
