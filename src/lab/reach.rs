//! Reachability probes for checks: many pings at once, each retried within a window, so that a
//! first packet lost while the kernel resolves a neighbour does not decide the answer.

use std::fs::File;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::diagnosis::Diagnosis;
use super::parallel::on_threads;
use super::{Lab, LabError, Ns, Result};
use crate::engine::icmp::{self, PingOptions};

/// How long a check that expects a reply keeps trying: long enough for a first packet lost to
/// neighbour resolution (the kernel retries after one second) to be sent again.
pub const REACH_WINDOW: Duration = Duration::from_secs(3);
/// How long a check that expects no reply listens for one.
pub const NO_REACH_WINDOW: Duration = Duration::from_secs(1);
/// How long one echo request of a check waits before the next try.
pub const ATTEMPT: Duration = Duration::from_millis(250);

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
    /// A probe the kernel would not send for a reason other than unreachability (EINVAL, EPERM,
    /// ...), or a socket that could not be opened: (target, errno if any, the words). Silence
    /// after that proves nothing.
    pub unsent: Option<(IpAddr, Option<i32>, String)>,
}

impl ProbeOutcome {
    pub fn reached(&self) -> bool {
        self.reached.is_some()
    }
}

impl ProbeOptions {
    /// The options of a check that expects a reply (`want`) or its absence, within `window`.
    pub fn expecting(want: bool, window: Duration) -> ProbeOptions {
        ProbeOptions { window, attempt: ATTEMPT, stop_on_error: !want }
    }
}

/// The result of a reachability check from one namespace to a set of addresses.
#[derive(Debug, Clone, PartialEq)]
pub struct ReachCheck {
    /// What the probe found.
    pub outcome: ProbeOutcome,
    /// Whether that is what was expected.
    pub as_expected: bool,
    /// When it is not: why not, per address (every target when none answered; the one that
    /// answered when one must not have: the path its packets take).
    pub diagnoses: Vec<(IpAddr, Diagnosis)>,
}

impl Lab {
    /// Checks that `from` reaches one of `targets` (`want`), or none of them, within `window`
    /// (by default `REACH_WINDOW` or `NO_REACH_WINDOW`); diagnoses the path when it is not so.
    pub fn check_reach(&mut self, from: &Ns, targets: &[IpAddr], want: bool, window: Option<Duration>) -> Result<ReachCheck> {
        let window = window.unwrap_or(if want { REACH_WINDOW } else { NO_REACH_WINDOW });
        if !want && targets.is_empty() {
            return Err(LabError::Refused(format!(
                "cannot check that {from} reaches nothing: the target has no address to probe, so no probe would be sent"
            )));
        }
        let probe = Probe { from: from.clone(), targets: targets.to_vec() };
        let outcome = self.probe(&[probe], &ProbeOptions::expecting(want, window))?.pop().expect("one probe, one outcome");
        if !want && !outcome.reached() {
            self.silence_means_unreachable(from, &outcome)?;
        }
        let as_expected = outcome.reached() == want;
        let diagnoses = match (as_expected, outcome.reached) {
            (true, _) => vec![],
            (false, None) => self.diagnose_all(from, targets),
            (false, Some(ip)) => self.diagnose_all(from, &[ip]),
        };
        Ok(ReachCheck { outcome, as_expected, diagnoses })
    }

    /// Refuses to count silence as "unreachable" when a probe never left: the kernel refused to
    /// send it for a reason other than unreachability, or no socket could be opened. EINVAL and
    /// EACCES are also what a blackhole or prohibit route gives: they count as unreachable when
    /// the kernel's route lookup for that target fails the same way.
    pub fn silence_means_unreachable(&mut self, from: &Ns, outcome: &ProbeOutcome) -> Result<()> {
        let Some((ip, errno, words)) = &outcome.unsent else { return Ok(()) };
        if let Some(code) = errno {
            let code = nix::errno::Errno::from_raw(*code);
            if matches!(code, nix::errno::Errno::EINVAL | nix::errno::Errno::EACCES) {
                let conn = self.conn(from)?;
                if let Err(e) = self.block_on(conn.route_get(*ip)) {
                    if e.code() == Some(code) {
                        return Ok(());
                    }
                }
            }
        }
        Err(LabError::Refused(format!(
            "cannot check that {from} does not reach {ip}: the probe could not be sent ({words}), which says nothing \
             about reachability (only \"Network is unreachable\", \"No route to host\" or an ICMP error would)"
        )))
    }

    /// The diagnosis of the path from `from` to each address.
    pub fn diagnose_all(&mut self, from: &Ns, addrs: &[IpAddr]) -> Vec<(IpAddr, Diagnosis)> {
        addrs.iter().map(|ip| (*ip, self.diagnose(from, *ip))).collect()
    }

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
    let mut unsent = None;
    if targets.is_empty() {
        return ProbeOutcome {
            reached: None,
            error: Some("no address to ping".into()),
            attempts,
            elapsed: start.elapsed(),
            unsent,
        };
    }
    let cancelled = || cancel.load(Ordering::Relaxed);
    loop {
        let mut all_definite = true;
        let round = Instant::now();
        for &target in targets {
            attempts += 1;
            let remaining = opts.window.saturating_sub(start.elapsed()).max(Duration::from_millis(20));
            let ping = PingOptions {
                count: 1,
                timeout: opts.attempt.min(remaining),
                interval: Duration::from_secs(1),
                ..Default::default()
            };
            match icmp::ping(Some(ns), home, target, &ping, &cancelled) {
                Ok(r) if r.received > 0 => {
                    return ProbeOutcome { reached: Some(target), error: None, attempts, elapsed: start.elapsed(), unsent: None };
                }
                Ok(r) => {
                    if let (Some(errno), None) = (r.send_errno, &unsent) {
                        if !unreachable_errno(errno) {
                            unsent = Some((target, Some(errno), r.error.clone().unwrap_or_default()));
                        }
                    }
                    match r.error {
                        Some(e) => last_error = Some(e),
                        None => {
                            all_definite = false;
                            last_error.get_or_insert_with(|| "no reply".into());
                        }
                    }
                }
                Err(e) => {
                    unsent.get_or_insert_with(|| (target, None, e.to_string()));
                    last_error = Some(e.to_string());
                }
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
    ProbeOutcome { reached: None, error: last_error, attempts, elapsed: start.elapsed(), unsent }
}

/// A `sendto` errno that means the local routing table has no way there.
fn unreachable_errno(errno: i32) -> bool {
    errno == libc::ENETUNREACH || errno == libc::EHOSTUNREACH
}
