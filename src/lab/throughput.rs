//! `throughput`: TCP bits per second from one namespace to another, measured at the receiver.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use nix::errno::Errno;

use super::{validate, Lab, LabError, Ns, Result};
use crate::engine::error::EngineError;
use crate::engine::tcp_bench::{self, BenchOptions, BenchReport};
use crate::engine::udp_bench::{self, UdpOptions, UdpReport};

/// What `throughput` asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct ThroughputSpec {
    pub duration: Duration,
    /// 0: a free port the kernel picks.
    pub port: u16,
    /// Where to connect; by default the first global address of the receiving namespace.
    pub dst: Option<String>,
}

/// iperf's UDP rate when none is given: 1 Mbit/s.
pub const DEFAULT_UDP_RATE: f64 = 1e6;

impl Default for ThroughputSpec {
    fn default() -> Self {
        ThroughputSpec { duration: Duration::from_secs(2), port: 0, dst: None }
    }
}

pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl Lab {
    /// Sends TCP from `from` to `to` for the spec's duration and reports what arrived.
    pub fn throughput(&mut self, from: &Ns, to: &Ns, spec: &ThroughputSpec) -> Result<BenchReport> {
        self.flush()?;
        self.settle()?;
        let op = format!("measure throughput from {from} to {to}");
        let dst = match &spec.dst {
            Some(text) => validate::ip_as("destination", text)?,
            None => self.first_global_address(to, &op)?,
        };
        let from_file = match from {
            Ns::Root => None,
            Ns::Named(_) => Some(self.ns_file(from)?),
        };
        let to_file = match to {
            Ns::Root => None,
            Ns::Named(_) => Some(self.ns_file(to)?),
        };
        let opts = BenchOptions { dst, port: spec.port, duration: spec.duration, connect_timeout: CONNECT_TIMEOUT };
        let cancel = self.cancel.clone();
        let cancelled: tcp_bench::Cancel = Arc::new(move || cancel.load(Ordering::Relaxed));
        let measured = tcp_bench::measure(from_file.as_deref(), to_file.as_deref(), &self.home, &opts, cancelled);
        match measured {
            Ok(Some(report)) if !self.cancelled() => Ok(report),
            Ok(_) => Err(LabError::Interrupted),
            Err(e) => Err(failure(op, e, from, Some(to), dst, spec.port, false)),
        }
    }

    /// Sends UDP from `from` to `to` at `rate_bps` for the spec's duration (`iperf -u -b`) and
    /// reports the received rate, the loss and the jitter.
    pub fn throughput_udp(&mut self, from: &Ns, to: &Ns, spec: &ThroughputSpec, rate_bps: f64) -> Result<UdpReport> {
        check_rate(rate_bps)?;
        self.flush()?;
        self.settle()?;
        let op = format!("measure UDP throughput from {from} to {to}");
        let dst = match &spec.dst {
            Some(text) => validate::ip_as("destination", text)?,
            None => self.first_global_address(to, &op)?,
        };
        let from_file = self.ns_file(from)?;
        let to_file = self.ns_file(to)?;
        let opts = UdpOptions { dst, port: spec.port, rate_bps, duration: spec.duration };
        let cancel = self.cancel.clone();
        let cancelled = move || cancel.load(Ordering::Relaxed);
        match udp_bench::measure(Some(&from_file), Some(&to_file), &self.home, &opts, &cancelled) {
            Ok(Some(report)) if !self.cancelled() => Ok(report),
            Ok(_) => Err(LabError::Interrupted),
            Err(e) => Err(failure(op, e, from, Some(to), dst, spec.port, true)),
        }
    }

    /// The first global IPv4 address of a namespace, else its first global IPv6 address.
    pub(super) fn first_global_address(&mut self, ns: &Ns, op: &str) -> Result<IpAddr> {
        let addrs = self.addrs(ns)?;
        let global = |v4: bool| {
            addrs
                .iter()
                .filter(|a| a.scope == "global")
                .filter_map(|a| a.address.parse::<IpAddr>().ok())
                .find(|ip| ip.is_ipv4() == v4)
        };
        global(true).or_else(|| global(false)).ok_or_else(|| LabError::Failed {
            op: op.into(),
            detail: format!("{ns} has no global address to connect to (add one, or give one with #{{dst: \"...\"}})"),
            errno: None,
        })
    }
}

/// A UDP test's rate, checked.
pub(super) fn check_rate(rate_bps: f64) -> Result<()> {
    if !(1000.0..=1e11).contains(&rate_bps) {
        return Err(LabError::Invalid {
            what: "rate",
            value: format!("{rate_bps}"),
            reason: "a UDP test rate must be from 1kbit to 100gbit".into(),
        });
    }
    Ok(())
}

/// A measurement's (or one of its halves') failure, worded for the user: `to` is the receiving
/// namespace when known here, `port` the port asked for (0: any).
pub(super) fn failure(op: String, e: EngineError, from: &Ns, to: Option<&Ns>, dst: IpAddr, port: u16, udp: bool) -> LabError {
    let proto = if udp { "UDP port" } else { "port" };
    match e.code() {
        Some(Errno::ETIMEDOUT) if !udp => LabError::Failed {
            op,
            detail: format!("{}: no connection within {} s (is {dst} reachable from there?)", e.op, CONNECT_TIMEOUT.as_secs()),
            errno: Some(Errno::ETIMEDOUT),
        },
        Some(Errno::EADDRINUSE) => LabError::Failed {
            op,
            detail: match to {
                Some(to) => format!("{proto} {port} is already in use in {to}"),
                None => format!("{proto} {port} is already in use"),
            },
            errno: Some(Errno::EADDRINUSE),
        },
        // The port is chosen freely: the kernel's words alone, without it.
        Some(code @ (Errno::ENETUNREACH | Errno::EHOSTUNREACH)) => LabError::Failed {
            op,
            detail: format!("{from} has no route to {dst} ({})", crate::engine::error::errno_text(code)),
            errno: Some(code),
        },
        Some(Errno::EPERM | Errno::EACCES) => LabError::from_engine(op, e),
        code if !udp => LabError::Failed { op, detail: e.to_string(), errno: code },
        _ => LabError::from_engine(op, e),
    }
}
