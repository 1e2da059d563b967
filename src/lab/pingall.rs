//! `pingall`: every namespace the lab created pings every global address of every other one, in
//! parallel (Mininet's `pingall`, for any lab). nslab's own namespace takes no part: on a host it
//! holds the machine's real addresses, and the lab's namespaces are what a lab is about. Nor do
//! other names in /run/netns: other labs' and users' namespaces are not this lab's to probe, and
//! one being created (an empty file, still) cannot even be opened.

use std::net::IpAddr;
use std::sync::atomic::Ordering;

use super::parallel::on_threads;
use super::{Lab, LabError, Ns, Result};
use crate::engine::icmp::{self, PingOptions, PingReport};

/// One source namespace pinging one address of another namespace.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PingPair {
    pub from: String,
    pub to: String,
    pub dst: IpAddr,
    pub report: PingReport,
}

impl PingPair {
    pub fn ok(&self) -> bool {
        self.report.received > 0
    }
}

/// Who reached whom.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct PingMatrix {
    /// The namespaces that took part, sorted, each with the addresses it was pinged at.
    pub namespaces: Vec<(String, Vec<IpAddr>)>,
    /// Every (from, to, address), in the order of `namespaces`.
    pub pairs: Vec<PingPair>,
    /// Echo requests meant for each pair.
    pub count: u32,
}

impl PingMatrix {
    /// Requests meant to be sent: a request that could not even leave (no route) counts, and is
    /// dropped, as in Mininet's totals.
    pub fn sent(&self) -> u32 {
        self.pairs.iter().map(|p| p.report.sent.max(self.count)).sum()
    }

    pub fn received(&self) -> u32 {
        self.pairs.iter().map(|p| p.report.received.min(p.report.sent.max(self.count))).sum()
    }

    /// Every request was answered (and there was at least one pair to try).
    pub fn ok(&self) -> bool {
        !self.pairs.is_empty() && self.received() == self.sent()
    }

    /// The share of requests left unanswered, in percent (0 when nothing was sent).
    pub fn dropped_percent(&self) -> f64 {
        let sent = self.sent();
        if sent == 0 {
            0.0
        } else {
            100.0 * f64::from(sent - self.received()) / f64::from(sent)
        }
    }

    /// The pairs that got no reply, as "from -> to (address)".
    pub fn failed(&self) -> Vec<String> {
        self.pairs.iter().filter(|p| !p.ok()).map(|p| format!("{} -> {} ({})", p.from, p.to, p.dst)).collect()
    }

    /// The pairs from one namespace to another.
    pub fn between<'a>(&'a self, from: &'a str, to: &'a str) -> impl Iterator<Item = &'a PingPair> + 'a {
        self.pairs.iter().filter(move |p| p.from == from && p.to == to)
    }
}

/// Who pings what: every namespace (by its place in `namespaces`) each global address of every
/// other one, as (from, to, address), sources in order, then destinations, then addresses.
pub fn plan(namespaces: &[(String, Vec<IpAddr>)]) -> Vec<(usize, usize, IpAddr)> {
    let mut jobs = Vec::new();
    for from in 0..namespaces.len() {
        for (to, (_, addrs)) in namespaces.iter().enumerate() {
            if from != to {
                jobs.extend(addrs.iter().map(|a| (from, to, *a)));
            }
        }
    }
    jobs
}

impl Lab {
    /// Pings from every namespace the lab created to every global address of every other one,
    /// all at once (up to 32 at a time), each ping's socket created inside its source namespace.
    ///
    /// The hosts are the lab's namespaces that have a global address (a switch namespace holding
    /// only a bridge is no host), or those `among` names: namespaces the lab created or opened.
    pub fn pingall(&mut self, opts: &PingOptions, among: Option<&[String]>) -> Result<PingMatrix> {
        self.pingall_with(opts, among, &[])
    }

    /// `pingall`, also pinging `elsewhere`: hosts this lab reaches but does not hold (the
    /// namespaces of a lab's other machines, with their global addresses); they are
    /// destinations only, their own machine pings from them.
    pub fn pingall_with(
        &mut self,
        opts: &PingOptions,
        among: Option<&[String]>,
        elsewhere: &[(String, Vec<IpAddr>)],
    ) -> Result<PingMatrix> {
        self.flush()?;
        self.settle()?;
        let names = match among {
            Some(names) => {
                let ours = self.lab_namespaces();
                for name in names {
                    super::validate::netns_name(name)?;
                    if !ours.contains(name) {
                        return Err(if self.netns_exists(name) {
                            LabError::Refused(format!(
                                "namespace {name:?} is not this lab's (it neither created nor opened it): pingall probes only the lab's namespaces"
                            ))
                        } else {
                            LabError::NoSuchNetns(name.clone())
                        });
                    }
                }
                let mut names = names.to_vec();
                names.sort();
                names.dedup();
                names
            }
            None => self.created_namespaces(),
        };
        let mut namespaces = Vec::with_capacity(names.len());
        let mut files = Vec::with_capacity(names.len());
        for name in &names {
            let ns = Ns::named(name);
            let addrs = self.global_addrs(&ns)?;
            // Without an address a namespace is not a host, unless named.
            if addrs.is_empty() && among.is_none() {
                continue;
            }
            namespaces.push((name.clone(), addrs));
            files.push(self.ns_file(&ns)?);
        }
        let sources = namespaces.len();
        namespaces.extend(elsewhere.iter().cloned());
        let jobs: Vec<_> = plan(&namespaces).into_iter().filter(|(from, ..)| *from < sources).collect();
        let files: Vec<&std::fs::File> = files.iter().map(|f| &**f).collect();
        let (home, cancel) = (&*self.home, &*self.cancel);
        let cancelled = || cancel.load(Ordering::Relaxed);
        let results = on_threads(&jobs, |&(from, _, dst)| icmp::ping(Some(files[from]), home, dst, opts, &cancelled));
        if self.cancelled() {
            return Err(LabError::Interrupted);
        }
        let mut pairs = Vec::with_capacity(jobs.len());
        for ((from, to, dst), result) in jobs.iter().zip(results) {
            let (from, to) = (&namespaces[*from].0, &namespaces[*to].0);
            let report = result.map_err(|e| LabError::from_engine(format!("ping {dst} from namespace {from:?}"), e))?;
            pairs.push(PingPair { from: from.clone(), to: to.clone(), dst: *dst, report });
        }
        namespaces.sort();
        Ok(PingMatrix { namespaces, pairs, count: opts.count })
    }
}

impl PingMatrix {
    /// The matrices of several machines as one: the hosts of all, every pair of each, in the
    /// order of the hosts (sources, then destinations).
    pub fn merged(parts: Vec<PingMatrix>) -> PingMatrix {
        let count = parts.iter().map(|p| p.count).max().unwrap_or(0);
        let mut namespaces: Vec<(String, Vec<IpAddr>)> = parts.iter().flat_map(|p| p.namespaces.iter().cloned()).collect();
        namespaces.sort();
        namespaces.dedup_by(|a, b| a.0 == b.0);
        let place = |name: &str| namespaces.iter().position(|(n, _)| n == name).unwrap_or(usize::MAX);
        let mut pairs: Vec<PingPair> = parts.into_iter().flat_map(|p| p.pairs).collect();
        pairs.sort_by_key(|p| (place(&p.from), place(&p.to), p.dst));
        PingMatrix { namespaces, pairs, count }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(from: &str, to: &str, sent: u32, received: u32) -> PingPair {
        PingPair {
            from: from.into(),
            to: to.into(),
            dst: "10.0.0.1".parse().unwrap(),
            report: PingReport { sent, received, rtts_ms: vec![0.1; received as usize], ..Default::default() },
        }
    }

    #[test]
    fn plan_of_three_namespaces() {
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        let namespaces = vec![
            ("a".to_string(), vec![ip("10.0.0.1")]),
            ("b".to_string(), vec![]),
            ("c".to_string(), vec![ip("10.0.0.3"), ip("fd00::3")]),
        ];
        // b has no address: it pings the others, nobody pings it; nobody pings itself.
        assert_eq!(
            plan(&namespaces),
            [
                (0, 2, ip("10.0.0.3")),
                (0, 2, ip("fd00::3")),
                (1, 0, ip("10.0.0.1")),
                (1, 2, ip("10.0.0.3")),
                (1, 2, ip("fd00::3")),
                (2, 0, ip("10.0.0.1"))
            ]
        );
    }

    #[test]
    fn totals_and_dropped_share() {
        let pairs = vec![pair("a", "b", 2, 2), pair("b", "a", 2, 1), pair("a", "c", 2, 2)];
        let m = PingMatrix { namespaces: vec![], pairs, count: 2 };
        assert_eq!((m.sent(), m.received()), (6, 5));
        assert!(!m.ok());
        assert_eq!(m.between("a", "b").count(), 1);
        // A request that never left (sendto failed: no route) is still counted, as dropped.
        let m = PingMatrix { namespaces: vec![], pairs: vec![pair("a", "b", 1, 1), pair("a", "c", 0, 0)], count: 1 };
        assert_eq!((m.sent(), m.received()), (2, 1));
        assert_eq!(m.dropped_percent(), 50.0);
        let all = PingMatrix { namespaces: vec![], pairs: vec![pair("a", "b", 1, 1)], count: 1 };
        assert!(all.ok());
        assert!(!PingMatrix::default().ok(), "nothing tried is not success");
        assert_eq!(PingMatrix::default().dropped_percent(), 0.0);
    }
}
