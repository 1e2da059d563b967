//! Reachability probes for checks: many pings at once, each retried within a window, so that a
//! first packet lost while the kernel resolves a neighbour does not decide the answer.

use std::fs::File;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::parallel::on_threads;
use super::{Lab, LabError, Ns, Result};
use crate::engine::icmp::{self, PingOptions};

/// Ping `targets` from `from`; the probe succeeds when any of them answers.
#[derive(Debug, Clone)]
pub struct Probe {
    pub from: Ns,
    pub targets: Vec<IpAddr>,
}

#[derive(Debug, Clone, Copy)]
pub struct ProbeOptions {
    /// How long to keep trying before giving up.
    pub window: Duration,
    /// How long one echo request waits for its reply.
    pub attempt: Duration,
    /// Stop early when every target failed with a definite answer (no route, an ICMP error),
    /// rather than silence. Right when expecting no reply; when expecting one, keep trying.
    pub stop_on_error: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProbeOutcome {
    /// The target that answered.
    pub reached: Option<IpAddr>,
    /// Why nothing answered ("no reply", or the last error the kernel gave).
    pub error: Option<String>,
    pub attempts: u32,
    pub elapsed: Duration,
}

impl ProbeOutcome {
    pub fn reached(&self) -> bool {
        self.reached.is_some()
    }
}

impl Lab {
    /// Runs the probes in parallel (one thread each, creating its ICMP socket in its namespace).
    pub fn probe(&mut self, probes: &[Probe], opts: &ProbeOptions) -> Result<Vec<ProbeOutcome>> {
        self.settle()?;
        let files: Vec<Rc<File>> = probes.iter().map(|p| self.ns_file(&p.from)).collect::<Result<_>>()?;
        let jobs: Vec<(&File, &[IpAddr])> = files.iter().zip(probes).map(|(f, p)| (&**f, p.targets.as_slice())).collect();
        let (home, cancel) = (&*self.home, &*self.cancel);
        let outcomes = on_threads(&jobs, |&(ns, targets)| probe_one(ns, home, targets, opts, cancel));
        if self.cancelled() {
            return Err(LabError::Interrupted);
        }
        Ok(outcomes)
    }

    /// The global (scope universe) addresses of a namespace, IPv4 first: what others ping it at.
    pub fn global_addrs(&mut self, ns: &Ns) -> Result<Vec<IpAddr>> {
        let conn = self.conn(ns)?;
        let addrs = self.block_on(conn.addrs()).map_err(|e| LabError::from_engine(format!("list addresses in {ns}"), e))?;
        let mut ips: Vec<IpAddr> =
            addrs.iter().filter(|a| a.scope == "global" && !a.address.is_loopback()).map(|a| a.address).collect();
        ips.sort_by_key(|ip| ip.is_ipv6());
        ips.dedup();
        Ok(ips)
    }
}

fn probe_one(ns: &File, home: &File, targets: &[IpAddr], opts: &ProbeOptions, cancel: &AtomicBool) -> ProbeOutcome {
    let start = Instant::now();
    let mut attempts = 0;
    let mut last_error: Option<String> = None;
    if targets.is_empty() {
        return ProbeOutcome { reached: None, error: Some("no address to ping".into()), attempts, elapsed: start.elapsed() };
    }
    let cancelled = || cancel.load(Ordering::Relaxed);
    loop {
        let mut all_definite = true;
        let round = Instant::now();
        for &target in targets {
            attempts += 1;
            let remaining = opts.window.saturating_sub(start.elapsed()).max(Duration::from_millis(20));
            let ping = PingOptions { count: 1, timeout: opts.attempt.min(remaining), interval: Duration::from_secs(1) };
            match icmp::ping(Some(ns), home, target, &ping, &cancelled) {
                Ok(r) if r.received > 0 => {
                    return ProbeOutcome { reached: Some(target), error: None, attempts, elapsed: start.elapsed() };
                }
                Ok(r) => match r.error {
                    Some(e) => last_error = Some(e),
                    None => {
                        all_definite = false;
                        last_error.get_or_insert_with(|| "no reply".into());
                    }
                },
                Err(e) => last_error = Some(e.to_string()),
            }
        }
        if cancelled() || start.elapsed() >= opts.window || (opts.stop_on_error && all_definite) {
            break;
        }
        // Errors come back at once: do not spin on them.
        if round.elapsed() < Duration::from_millis(20) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    ProbeOutcome { reached: None, error: last_error, attempts, elapsed: start.elapsed() }
}
