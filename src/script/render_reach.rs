//! Reachability results in words: the lines of a diagnosis (one per hop, then the verdict) and
//! the expected-vs-actual table of `expect_matrix`, as failure hints show them.

use std::net::IpAddr;

use crate::lab::diagnosis::{Diagnosis, Hop, Issue, Refusal, RefusingRoute, Route, Step, Verdict};
use crate::lab::matrix::{MatrixResult, PairVerdict};
use crate::lab::Ns;

/// A namespace as reachability messages name it.
pub fn short(ns: &Ns) -> String {
    match ns {
        Ns::Root => "root".into(),
        Ns::Named(n) => n.clone(),
    }
}

fn family(v6: bool) -> &'static str {
    if v6 {
        "IPv6"
    } else {
        "IPv4"
    }
}

fn refusal(r: &Refusal) -> String {
    let what = match r.by {
        Some(RefusingRoute::Unreachable) => " (an unreachable route)",
        Some(RefusingRoute::Blackhole) => " (a blackhole route)",
        Some(RefusingRoute::Prohibit) => " (a prohibit route)",
        None => "",
    };
    format!("route lookup: {}{what}", r.cause)
}

fn route(r: &Route) -> String {
    let mut s = format!("route to {}", r.dst);
    if let Some(via) = r.via {
        s += &format!(" via {via}");
    }
    if let Some(dev) = &r.dev {
        s += &format!(" dev {dev}");
    }
    if let Some(src) = r.src {
        s += &format!(" src {src}");
    }
    if r.kind != "unicast" {
        s += &format!(" ({})", r.kind);
    }
    s
}

fn issue(i: &Issue) -> String {
    match i {
        Issue::NoRoute { dst, refusal: r } => format!("no route to {dst} ({})", refusal(r)),
        Issue::NoRouteBack { src, refusal: r } => format!("no route back to {src} ({})", refusal(r)),
        Issue::LinkDown(link) => format!("link {link} is down"),
        Issue::LoDown => "lo is down (local delivery needs it)".into(),
        Issue::NoAddress { link, v6 } => format!("link {link} has no {} address", family(*v6)),
        Issue::NoCarrier(link) => format!("link {link} has no carrier (its other end is down or gone)"),
        Issue::ForwardingOff { v6 } => {
            let knob = if *v6 { "net.ipv6.conf.all.forwarding" } else { "net.ipv4.ip_forward" };
            format!("{} forwarding is off (sysctl {knob} = 0)", family(*v6))
        }
        Issue::NeighbourUnanswered { next_hop, link, state } => {
            format!("neighbour {next_hop} on {link} not resolved ({state}): nothing on that link answers for it")
        }
        Issue::NeighbourUnknown { next_hop, link } => {
            format!("neighbour {next_hop} on {link} not resolved (no entry: nothing was sent to it)")
        }
        Issue::NoOwner(ip) => format!("{ip} is not an address of any namespace nslab can see"),
    }
}

/// One hop: where the packet goes there, then what stands in the way, `; `-separated.
fn hop(h: &Hop) -> String {
    let name = short(&h.ns);
    let mut parts: Vec<String> = Vec::new();
    match &h.step {
        Step::Loop => return format!("{name}: the path comes back here: a routing loop"),
        Step::Uninspectable => return format!("{name}: cannot be inspected"),
        Step::Arrived { dst, link, replies } => {
            let mut line = format!("has {dst} on {link}");
            if let Some(r) = replies {
                line += &format!("; replies: {}", route(r));
            }
            parts.push(line);
        }
        Step::NoRoute => {}
        Step::Forward(r) => parts.push(route(r)),
    }
    parts.extend(h.issues.iter().map(issue));
    format!("{name}: {}", parts.join("; "))
}

/// The path's hops, one line each, without the verdict.
pub fn path(d: &Diagnosis) -> Vec<String> {
    d.hops.iter().map(hop).collect()
}

/// The hops, then the verdict when it is that no fault is visible (the faults are in the hops).
pub fn diagnosis(d: &Diagnosis) -> Vec<String> {
    let mut lines = path(d);
    if d.verdict == Verdict::NoFaultVisible {
        lines.push("no fault visible along this path (a firewall rule or a busy link may drop the packets)".into());
    }
    lines
}

/// Diagnoses of several addresses, each block under its address when there are several.
pub fn per_address(found: &[(IpAddr, Diagnosis)], lines_of: fn(&Diagnosis) -> Vec<String>) -> Vec<String> {
    let mut lines = Vec::new();
    for (ip, d) in found {
        if found.len() > 1 {
            lines.push(format!("to {ip}:"));
            lines.extend(lines_of(d).into_iter().map(|l| format!("  {l}")));
        } else {
            lines.extend(lines_of(d));
        }
    }
    lines
}

/// Why `expect_matrix` failed: the table, then a paragraph per pair that differs.
pub fn matrix_failure(m: &MatrixResult) -> Vec<String> {
    let mut lines = table(m);
    for c in m.wrong() {
        let (from, to) = (&c.pair.from, &c.pair.to);
        lines.push(String::new());
        match &c.outcome.reached {
            None if m.plan.addrs_of(to).is_empty() => {
                lines.push(format!("{from} → {to}: must reach it, but {to} has no global address"))
            }
            None => {
                let why = c.outcome.error.clone().unwrap_or_else(|| "no reply".into());
                lines.push(format!("{from} → {to}: must reach it, but {why}"));
                lines.extend(per_address(&c.diagnoses, diagnosis).into_iter().map(|l| format!("  {l}")));
            }
            Some(ip) => lines.push(format!("{from} → {to}: must not reach it, but {ip} answered")),
        }
    }
    lines
}

/// The expected-vs-actual table: a row per source, a column per namespace.
fn table(m: &MatrixResult) -> Vec<String> {
    let cell_text = |from: &str, to: &str| -> &str {
        if from == to {
            return "·";
        }
        match m.cell(from, to).map(|c| c.verdict) {
            Some(PairVerdict::Reaches) => "yes",
            Some(PairVerdict::Isolated) => "no",
            Some(PairVerdict::Unreachable) => "NO!",
            Some(PairVerdict::Leaks) => "YES!",
            None => "",
        }
    };
    let (want, names) = (&m.plan.want, &m.plan.names);
    let first = want.keys().chain(["from \\ to".to_string()].iter()).map(|n| n.chars().count()).max().unwrap_or(0) + 2;
    let widths: Vec<usize> = names.iter().map(|n| n.chars().count().max(4) + 2).collect();
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())));
    let mut lines = vec!["reachability, expected vs actual (each row pings the global addresses of each column):".to_string()];
    let mut header = pad("from \\ to", first);
    for (n, w) in names.iter().zip(&widths) {
        header += &pad(n, *w);
    }
    lines.push(header.trim_end().to_string());
    for from in want.keys() {
        let mut row = pad(from, first);
        for (to, w) in names.iter().zip(&widths) {
            row += &pad(cell_text(from, to), *w);
        }
        lines.push(row.trim_end().to_string());
    }
    lines.push("yes/no: as expected; NO!: must reach but does not; YES!: reaches but must not".into());
    lines
}
