//! Statistics and the printed tables: min/median/max per cell, nslab's speed-up over each peer,
//! peak RSS, and the targets.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::cell::Outcome;
use crate::workloads::{Idioms, Tool, Workload};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellResult {
    pub workload: Workload,
    pub tool: Tool,
    pub n: usize,
    pub runs: Vec<Outcome>,
    /// Errors of runs that failed (and were retried).
    pub failures: Vec<String>,
    /// Why the cell has no runs (a failure), if so.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

pub fn stats(values: &[f64]) -> Option<Stats> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let mid = v.len() / 2;
    let median = if v.len() % 2 == 1 { v[mid] } else { (v[mid - 1] + v[mid]) / 2.0 };
    Some(Stats { min: v[0], median, max: v[v.len() - 1] })
}

impl CellResult {
    pub fn stat(&self, f: impl Fn(&Outcome) -> f64) -> Option<Stats> {
        stats(&self.runs.iter().map(f).collect::<Vec<_>>())
    }

    pub fn maxrss_mb(&self) -> Option<f64> {
        self.runs.iter().map(|o| o.maxrss_kb).max().filter(|k| *k > 0).map(|k| k as f64 / 1024.0)
    }
}

/// Milliseconds, with as many decimals as help.
fn ms(s: f64) -> String {
    let m = s * 1000.0;
    if m < 10.0 {
        format!("{m:.2}")
    } else if m < 100.0 {
        format!("{m:.1}")
    } else {
        format!("{m:.0}")
    }
}

fn triple(s: Option<Stats>) -> String {
    match s {
        Some(s) => format!("{:>8} {:>8} {:>8}", ms(s.min), ms(s.median), ms(s.max)),
        None => format!("{:>8} {:>8} {:>8}", "-", "-", "-"),
    }
}

fn ratio(peer: Option<Stats>, nslab: Option<Stats>) -> Option<f64> {
    Some(peer?.median / nslab?.median)
}

fn x(r: Option<f64>) -> String {
    r.map(|r| if r >= 10.0 { format!("{r:.0}x") } else { format!("{r:.2}x") }).unwrap_or_else(|| "-".into())
}

fn find(results: &[CellResult], w: Workload, n: usize, t: Tool) -> Option<&CellResult> {
    results.iter().find(|c| c.workload == w && c.n == n && c.tool == t)
}

fn rss(c: &CellResult) -> String {
    c.maxrss_mb().map(|m| format!("{m:.1} MB")).unwrap_or_default()
}

/// The number of good runs, and of failed ones when there were any ("5+3f").
fn runs(c: &CellResult) -> String {
    match c.failures.len() {
        0 => c.runs.len().to_string(),
        f => format!("{}+{f}f", c.runs.len()),
    }
}

/// One line per cell whose runs failed, with the first error's first line.
pub fn failures(results: &[CellResult]) -> String {
    let mut out = String::new();
    for c in results.iter().filter(|c| !c.failures.is_empty()) {
        let first = c.failures[0].lines().map(str::trim).filter(|l| !l.is_empty()).take(2).collect::<Vec<_>>().join(" / ");
        let _ = writeln!(
            out,
            "  {} N={} {}: {} of {} runs failed; first: {first}",
            c.workload.title(),
            c.n,
            c.tool.label(),
            c.failures.len(),
            c.failures.len() + c.runs.len()
        );
    }
    if !out.is_empty() {
        out.insert_str(0, "Failed runs (not in the statistics):\n");
    }
    out
}

fn build_of(o: &Outcome) -> f64 {
    o.build
}

fn teardown_of(o: &Outcome) -> f64 {
    o.teardown
}

/// W1 / W2: build and teardown (to the kernel's cleanup) per tool and size.
pub fn lab_table(results: &[CellResult], w: Workload, sizes: &[usize]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}   (times in ms: min median max; speed-up = peer median / nslab median)", w.title());
    let _ = writeln!(
        out,
        "  {:>4}  {:<22} {:>4}  {:>26}  {:>26}  {:>9}  {:>8} {:>8}",
        "N", "tool", "runs", "build", "teardown to kernel done", "peak RSS", "build x", "tear x"
    );
    for &n in sizes {
        let nslab = find(results, w, n, Tool::Nslab);
        let nb = nslab.and_then(|c| c.stat(build_of));
        let nt = nslab.and_then(|c| c.stat(teardown_of));
        for tool in Tool::ALL {
            let Some(c) = find(results, w, n, tool) else { continue };
            if let Some(err) = &c.error {
                let first = err.lines().next().unwrap_or("");
                let _ = writeln!(out, "  {n:>4}  {:<22} failed: {first}", tool.label());
                continue;
            }
            let (b, t) = (c.stat(build_of), c.stat(teardown_of));
            let (bx, tx) = if tool == Tool::Nslab { (String::new(), String::new()) } else { (x(ratio(b, nb)), x(ratio(t, nt))) };
            let _ = writeln!(
                out,
                "  {n:>4}  {:<22} {:>4}  {}  {}  {:>9}  {:>8} {:>8}",
                tool.label(),
                runs(c),
                triple(b),
                triple(t),
                rss(c),
                bx,
                tx
            );
        }
        if w == Workload::W2 {
            if let Some(p) = nslab.and_then(|c| stats(&c.runs.iter().filter_map(|o| o.ping).collect::<Vec<_>>())) {
                let _ =
                    writeln!(out, "  {n:>4}  {:<22}       ping h1 -> h{n} (not in build): {}", "nslab", triple(Some(p)).trim());
            }
        }
        if let Some(c) = nslab {
            let cpu = stats(&c.runs.iter().map(|o| o.user).collect::<Vec<_>>());
            let sys = stats(&c.runs.iter().map(|o| o.sys).collect::<Vec<_>>());
            let oncpu = stats(&c.runs.iter().filter_map(|o| o.build_oncpu).collect::<Vec<_>>());
            let runq = stats(&c.runs.iter().filter_map(|o| o.build_runq).collect::<Vec<_>>());
            if let (Some(on), Some(rq)) = (oncpu, runq) {
                let _ = writeln!(
                    out,
                    "  {n:>4}  {:<22}       build, medians: on a CPU {} ms, waiting for a CPU (other load) {} ms",
                    "nslab",
                    ms(on.median),
                    ms(rq.median)
                );
            }
            let exit = c.stat(|o| o.teardown_exit);
            if let (Some(u), Some(s), Some(e)) = (cpu, sys, exit) {
                let _ = writeln!(
                    out,
                    "  {n:>4}  {:<22}       medians: cpu user {} ms, sys {} ms; teardown until nslab exits {} ms",
                    "nslab",
                    ms(u.median),
                    ms(s.median),
                    ms(e.median)
                );
            }
        }
    }
    out
}

/// W3 (alone and busy, `n`: the other lab's size) and start-up: whole runs. For the walkthrough
/// also the time until nothing of its lab is visible (peers return while the kernel still shows
/// the root-side veth), with speed-ups on both.
pub fn whole_table(results: &[CellResult], w: Workload, n: usize) -> String {
    let mut out = String::new();
    let clean = w == Workload::W3;
    let seen = w.walkthrough();
    let other = if w.busy() { format!(" of N={n}") } else { String::new() };
    let _ = writeln!(out, "{}{other}   (times in ms: min median max; x = peer median / nslab median)", w.title());
    let _ = writeln!(
        out,
        "  {:<22} {:>4}  {:>26}  {:>26}  {:>26}  {:>9}  {:>8} {:>8}",
        "tool",
        "runs",
        "whole run (start to exit)",
        if seen { "until nothing visible" } else { "" },
        if clean { "to kernel done" } else { "" },
        "peak RSS",
        "x",
        if seen { "x seen" } else { "" }
    );
    let nslab = find(results, w, n, Tool::Nslab);
    let (nt, ng) = (nslab.and_then(|c| c.stat(|o| o.total)), nslab.and_then(|c| c.stat(gone_of)));
    for tool in Tool::ALL {
        let Some(c) = find(results, w, n, tool) else { continue };
        if let Some(err) = &c.error {
            let _ = writeln!(out, "  {:<22} failed: {}", tool.label(), err.lines().next().unwrap_or(""));
            continue;
        }
        let (total, gone) = (c.stat(|o| o.total), c.stat(gone_of));
        let blank = " ".repeat(26);
        let to_clean = if clean { triple(c.stat(|o| o.total_clean)) } else { blank.clone() };
        let to_gone = if seen { triple(gone) } else { blank };
        let (sx, gx) = if tool == Tool::Nslab {
            (String::new(), String::new())
        } else {
            (x(ratio(total, nt)), if seen { x(ratio(gone, ng)) } else { String::new() })
        };
        let _ = writeln!(
            out,
            "  {:<22} {:>4}  {}  {}  {}  {:>9}  {:>8} {:>8}",
            tool.label(),
            runs(c),
            triple(total),
            to_gone,
            to_clean,
            rss(c),
            sx,
            gx
        );
        let left = c.runs.iter().filter(|o| o.left_at_exit).count();
        if seen && left > 0 {
            let _ =
                writeln!(out, "  {:<22}       something of the lab still visible at exit in {left} of {} runs", "", c.runs.len());
        }
    }
    out
}

/// Spawn until nothing of the walkthrough's lab was visible (the exit, for runs that left nothing).
fn gone_of(o: &Outcome) -> f64 {
    o.gone.unwrap_or(o.total)
}

/// Issue 17's targets: W3 alone within 20 ms, and at most half of bash + ip's time while another
/// lab tears down (compared with bash's exit, and with bash's lab being gone from sight).
fn busy_targets(results: &[CellResult], out: &mut String) {
    let _ = writeln!(out, "Targets (issue 17), from medians:");
    match find(results, Workload::W3, 1, Tool::Nslab) {
        Some(c) => {
            let (t, g) = (c.stat(|o| o.total), c.stat(gone_of));
            let left = c.runs.iter().filter(|o| o.left_at_exit).count();
            let _ = writeln!(
                out,
                "  W3 alone, `nslab run` whole run: {} ms median, nothing visible after {} ms (target <= 20 ms): {}; \
                 runs that left something visible at exit: {left}",
                t.map(|s| ms(s.median)).unwrap_or_default(),
                g.map(|s| ms(s.median)).unwrap_or_default(),
                verdict(g.is_some_and(|s| s.median <= 0.020) && left == 0)
            );
        }
        None => {
            let _ = writeln!(out, "  W3 alone: not measured in this run");
        }
    }
    for w in [Workload::W3AfterTeardown, Workload::W3DuringTeardown] {
        let cells: Vec<&CellResult> = results.iter().filter(|c| c.workload == w).collect();
        let Some(nslab) = cells.iter().find(|c| c.tool == Tool::Nslab) else { continue };
        let n = nslab.n;
        let ng = nslab.stat(gone_of);
        for peer in [Tool::Bash, Tool::IpBatch] {
            let Some(p) = cells.iter().find(|c| c.tool == peer) else { continue };
            let by_exit = ratio(ng, p.stat(|o| o.total));
            let by_gone = ratio(ng, p.stat(gone_of));
            let target = if peer == Tool::Bash {
                format!(" (target <= 0.5x): {}", verdict(by_exit.is_some_and(|r| r <= 0.5)))
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "  {} of N={n}: nslab (until nothing visible) takes {} of {}'s time to exit{target}; {} of its time until nothing visible",
                w.title(),
                r2(by_exit),
                peer.label(),
                r2(by_gone)
            );
        }
        let left = nslab.runs.iter().filter(|o| o.left_at_exit).count();
        let _ = writeln!(out, "    (nslab runs that left something visible at exit: {left})");
    }
}

fn r2(r: Option<f64>) -> String {
    r.map(|r| format!("{r:.2}x")).unwrap_or_else(|| "-".into())
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

/// The targets, from the measured medians.
pub fn targets(results: &[CellResult], idioms: Idioms) -> String {
    let mut out = String::from("Targets (issue 4), from medians:\n");
    for w in [Workload::W1, Workload::W2] {
        let (Some(nslab), Some(batch)) = (find(results, w, 500, Tool::Nslab), find(results, w, 500, Tool::IpBatch)) else {
            let _ = writeln!(out, "  {} N=500: not measured in this run", w.title());
            continue;
        };
        let b = ratio(batch.stat(build_of), nslab.stat(build_of));
        let t = ratio(batch.stat(teardown_of), nslab.stat(teardown_of));
        let _ = writeln!(
            out,
            "  {} N=500 build: {} faster than ip -batch (target >= 25x): {}",
            w.title(),
            x(b),
            verdict(b.is_some_and(|r| r >= 25.0))
        );
        let _ = writeln!(
            out,
            "  {} N=500 teardown to kernel done: {} of ip -batch's speed (target >= 1x): {}",
            w.title(),
            x(t),
            verdict(t.is_some_and(|r| r >= 1.0))
        );
        if let Some(born) = find(results, w, 500, Tool::IpBatchBorn) {
            let b = ratio(born.stat(build_of), nslab.stat(build_of));
            let _ =
                writeln!(out, "    (for reference: build {} faster than ip -batch with veths born in their namespaces)", x(b));
        }
    }
    let _ = writeln!(out, "    (nslab's idioms: {})", idioms.describe());
    let peak = results
        .iter()
        .filter(|c| matches!(c.tool, Tool::Nslab | Tool::NslabSandbox | Tool::NslabMove))
        .filter_map(|c| c.maxrss_mb())
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    match peak {
        Some(p) => {
            let _ = writeln!(out, "  nslab peak RSS, largest over all runs: {p:.1} MB (target < 30 MB): {}", verdict(p < 30.0));
        }
        None => out.push_str("  nslab peak RSS: not measured\n"),
    }
    let bash_w3 = find(results, Workload::W3, 1, Tool::Bash);
    for (tool, how) in [
        (Tool::NslabSandbox, "`nslab run --sandbox` (the README's command)"),
        (Tool::Nslab, "`nslab run` (removes the root-side veth itself before it returns)"),
    ] {
        match (find(results, Workload::W3, 1, tool), bash_w3) {
            (Some(n), Some(b)) => {
                let r = ratio(b.stat(|o| o.total), n.stat(|o| o.total));
                let _ = writeln!(
                    out,
                    "  W3 whole run, {how}: {} faster than the bash ip script (target >= 2x): {}",
                    x(r),
                    verdict(r.is_some_and(|r| r >= 2.0))
                );
            }
            _ => {
                let _ = writeln!(out, "  W3 whole run, {how}: not measured in this run");
            }
        }
    }
    match find(results, Workload::Empty, 1, Tool::Nslab).and_then(|c| c.stat(|o| o.total)) {
        Some(s) => {
            let _ = writeln!(
                out,
                "  empty script, start to exit: {} ms median (target < 10 ms): {}",
                ms(s.median),
                verdict(s.median < 0.010)
            );
        }
        None => out.push_str("  empty script: not measured in this run\n"),
    }
    busy_targets(results, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        let s = stats(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.min, s.median, s.max), (1.0, 2.0, 3.0));
        assert_eq!(stats(&[1.0, 2.0, 3.0, 10.0]).unwrap().median, 2.5);
        assert!(stats(&[]).is_none());
    }
}
