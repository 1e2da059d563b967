//! The two halves of `throughput`, for a measurement whose ends live in two labs (two machines):
//! a receiver the lab keeps (listening in the receiving namespace, counting on a thread of its
//! own) until its result is asked for, the namespace is deleted, or the lab ends; and a sender.
//! `Lab::throughput` runs the same halves in one process.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::throughput::{check_rate, failure, ThroughputSpec, CONNECT_TIMEOUT};
use super::{validate, Lab, LabError, Ns, Result};
use crate::engine::tcp_bench::{self, BenchOptions, BenchReport, Receiver};
use crate::engine::udp_bench::{self, UdpOptions, UdpReceiver};
pub use crate::engine::udp_bench::{Arrived, Sent, UdpReport};

/// A receiver just started: how the sender reaches it.
#[derive(Debug, Clone, PartialEq)]
pub struct Receiving {
    /// Its number in this lab, for `throughput_result`.
    pub id: u64,
    pub port: u16,
    /// The address to send to: the one asked for, or the namespace's first global address.
    pub dst: IpAddr,
}

/// What a sender did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SendReport {
    /// TCP: bytes sent.
    Tcp { bytes: u64 },
    /// UDP: datagrams sent and the sending time.
    Udp(Sent),
}

/// What a receiver counted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Received {
    Tcp(BenchReport),
    Udp(Arrived),
}

enum Half {
    Tcp(Receiver),
    Udp(UdpReceiver),
}

/// The receivers the lab keeps, with the namespace each listens in.
#[derive(Default)]
pub(super) struct Receivers {
    started: Vec<(u64, Ns, Half)>,
    next: u64,
}

impl Receivers {
    /// Ends the receivers in `ns` (before it is deleted: their sockets would keep it alive).
    pub(super) fn close_in(&mut self, ns: &Ns) {
        self.started.retain(|(_, n, _)| n != ns);
    }

    /// The last id given: a checkpoint's mark.
    pub(super) fn mark(&self) -> u64 {
        self.next
    }

    /// Ends the receivers started after `mark` (a sub-test's, when it ends).
    pub(super) fn close_since(&mut self, mark: u64) {
        self.started.retain(|(id, ..)| *id <= mark);
    }

    /// Ends them all (their `Drop` closes the sockets and joins the threads).
    pub(super) fn close_all(&mut self) {
        self.started.clear();
    }
}

impl Lab {
    /// Starts receiving a throughput test in `to`: TCP (measuring `spec.duration` from the
    /// connection) or UDP, on `spec.port` (0: a free one). The sender is told the answer.
    pub fn throughput_receive(&mut self, to: &Ns, spec: &ThroughputSpec, udp: bool) -> Result<Receiving> {
        self.flush()?;
        let op = format!("receive a throughput test in {to}");
        let dst = match &spec.dst {
            Some(text) => validate::ip_as("destination", text)?,
            None => self.first_global_address(to, &op)?,
        };
        let to_file = self.ns_file(to)?;
        let half = if udp {
            udp_bench::start_receiver(Some(&to_file), &self.home, dst.is_ipv6(), spec.port).map(Half::Udp)
        } else {
            let cancel = self.cancel.clone();
            let cancelled: tcp_bench::Cancel = Arc::new(move || cancel.load(Ordering::Relaxed));
            tcp_bench::start_receiver(Some(&to_file), &self.home, dst.is_ipv6(), spec.port, spec.duration, cancelled)
                .map(Half::Tcp)
        }
        .map_err(|e| failure(op, e, to, Some(to), dst, spec.port, udp))?;
        let port = match &half {
            Half::Tcp(r) => r.port(),
            Half::Udp(r) => r.port(),
        };
        let receivers = &mut self.receivers;
        receivers.next += 1;
        let id = receivers.next;
        receivers.started.push((id, to.clone(), half));
        Ok(Receiving { id, port, dst })
    }

    /// Sends a throughput test from `from` to `dst:port` for `spec.duration`: TCP, or UDP
    /// paced at `udp_rate` bits per second.
    pub fn throughput_send(
        &mut self,
        from: &Ns,
        dst: &str,
        port: u16,
        spec: &ThroughputSpec,
        udp_rate: Option<f64>,
    ) -> Result<SendReport> {
        let dst = validate::ip_as("destination", dst)?;
        if let Some(rate) = udp_rate {
            check_rate(rate)?;
        }
        self.flush()?;
        self.settle()?;
        let op = format!("send a throughput test from {from} to {dst} port {port}");
        let from_file = self.ns_file(from)?;
        let cancel = self.cancel.clone();
        let cancelled = move || cancel.load(Ordering::Relaxed);
        let sent = match udp_rate {
            Some(rate_bps) => {
                let opts = UdpOptions { dst, port, rate_bps, duration: spec.duration };
                udp_bench::send(Some(&from_file), &self.home, &opts, &cancelled).map(|s| s.map(SendReport::Udp))
            }
            None => {
                let opts = BenchOptions { dst, port, duration: spec.duration, connect_timeout: CONNECT_TIMEOUT };
                tcp_bench::send(Some(&from_file), &self.home, &opts, &cancelled).map(|s| s.map(|bytes| SendReport::Tcp { bytes }))
            }
        };
        match sent {
            Ok(Some(report)) if !self.cancelled() => Ok(report),
            Ok(_) => Err(LabError::Interrupted),
            Err(e) => Err(failure(op, e, from, None, dst, port, udp_rate.is_some())),
        }
    }

    /// What receiver `id` counted, once its sender is done; the receiver ends.
    pub fn throughput_result(&mut self, id: u64) -> Result<Received> {
        let Some(at) = self.receivers.started.iter().position(|(n, ..)| *n == id) else {
            let open: Vec<String> = self.receivers.started.iter().map(|(n, ..)| n.to_string()).collect();
            return Err(LabError::Invalid {
                what: "receiver",
                value: id.to_string(),
                reason: if open.is_empty() {
                    "no throughput receiver is open in this lab (each gives one result)".into()
                } else {
                    format!("the open receivers are {} (each gives one result)", open.join(", "))
                },
            });
        };
        let (_, ns, half) = self.receivers.started.remove(at);
        let op = format!("receive a throughput test in {ns}");
        match half {
            Half::Udp(r) => Ok(Received::Udp(r.finish())),
            Half::Tcp(r) => {
                let port = r.port();
                match r.finish(tcp_bench::ACCEPT_GRACE) {
                    Ok(Some(report)) if !self.cancelled() => Ok(Received::Tcp(report)),
                    Ok(_) => Err(LabError::Interrupted),
                    Err(e) if e.code() == Some(nix::errno::Errno::ETIMEDOUT) => {
                        Err(LabError::Failed { op, detail: format!("no sender connected to port {port}"), errno: e.code() })
                    }
                    Err(e) => Err(LabError::from_engine(op, e)),
                }
            }
        }
    }
}
