//! A native traceroute: probes with TTL 1, 2, ... until the destination answers, each hop the
//! router whose "time exceeded" came back (`traceroute -n -q 1`, ICMP echo or UDP probes).

use std::net::IpAddr;
use std::time::Duration;

use super::{validate, Lab, LabError, Ns, Result};
use crate::engine::icmp::{IcmpErrorKind, PingOptions};
use crate::engine::udp_probe::{self, ProbeAnswer};

/// What traceroute sends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TraceProto {
    /// ICMP echo requests (`traceroute -I`).
    Icmp,
    /// UDP datagrams to ports from 33434 (traceroute's default).
    Udp,
}

#[derive(Debug, Clone)]
pub struct TraceOptions {
    pub max_hops: u8,
    /// How long each probe waits for an answer.
    pub timeout: Duration,
    pub proto: TraceProto,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions { max_hops: 30, timeout: Duration::from_secs(1), proto: TraceProto::Icmp }
    }
}

/// One line of traceroute's output.
#[derive(Debug, Clone, PartialEq)]
pub struct Hop {
    pub ttl: u8,
    /// Who answered; None where nothing did ("*").
    pub addr: Option<IpAddr>,
    /// Round trip of the answer, in milliseconds.
    pub rtt_ms: Option<f64>,
}

/// What one probe found: the hop, and whether the trace ends there.
fn answer_hop(ttl: u8, answer: ProbeAnswer) -> (Hop, bool) {
    let ms = |d: Duration| Some(d.as_secs_f64() * 1000.0);
    match answer {
        ProbeAnswer::TimeExceeded { from, rtt } => (Hop { ttl, addr: Some(from), rtt_ms: ms(rtt) }, false),
        // Port unreachable is the destination's own answer; any other unreachable ends it too.
        ProbeAnswer::Unreachable { from, rtt, .. } => (Hop { ttl, addr: Some(from), rtt_ms: ms(rtt) }, true),
        ProbeAnswer::Silence | ProbeAnswer::NotSent(_) => (Hop { ttl, addr: None, rtt_ms: None }, false),
    }
}

impl Lab {
    /// Traces the path from `ns` to `dst`; the last hop is `dst` when it answered.
    pub fn traceroute(&mut self, ns: &Ns, dst: &str, opts: &TraceOptions) -> Result<Vec<Hop>> {
        let ip: IpAddr = validate::ip_as("destination", dst)?;
        if opts.max_hops == 0 {
            return Err(LabError::Invalid { what: "max_hops", value: "0".into(), reason: "it must be from 1 to 255".into() });
        }
        self.flush()?;
        self.settle()?;
        let mut hops = Vec::new();
        for ttl in 1..=opts.max_hops {
            let answer = match opts.proto {
                TraceProto::Icmp => self.icmp_probe(ns, ip, ttl, opts.timeout)?,
                TraceProto::Udp => {
                    let file = self.ns_file(ns)?;
                    let port = udp_probe::BASE_PORT.wrapping_add(u16::from(ttl) - 1);
                    udp_probe::probe(&file, &self.home, ip, port, ttl, opts.timeout)
                        .map_err(|e| LabError::from_engine(format!("traceroute to {dst} from {ns}"), e))?
                }
            };
            if let ProbeAnswer::NotSent(why) = &answer {
                // No route at all: traceroute stops at once with the kernel's words.
                return Err(LabError::Failed { op: format!("traceroute to {dst} from {ns}"), detail: why.clone(), errno: None });
            }
            if self.cancelled() {
                return Err(LabError::Interrupted);
            }
            let (hop, last) = answer_hop(ttl, answer);
            let reached = hop.addr == Some(ip);
            hops.push(hop);
            if last || reached {
                break;
            }
        }
        Ok(hops)
    }

    /// One echo request with `ttl`, in the terms of a UDP probe.
    fn icmp_probe(&mut self, ns: &Ns, ip: IpAddr, ttl: u8, timeout: Duration) -> Result<ProbeAnswer> {
        let opts = PingOptions { count: 1, timeout, ttl: Some(ttl), ..Default::default() };
        let r = self.ping(ns, &ip.to_string(), &opts)?;
        let ms = |m: f64| Duration::from_secs_f64(m / 1000.0);
        Ok(match (r.received, r.icmp_kind, r.icmp_from, r.send_errno) {
            (1.., ..) => ProbeAnswer::Unreachable { from: ip, rtt: ms(r.rtts_ms[0]), port: false },
            (_, Some(IcmpErrorKind::TimeExceeded), Some(from), _) => {
                ProbeAnswer::TimeExceeded { from, rtt: ms(r.icmp_rtt_ms.unwrap_or(0.0)) }
            }
            (_, Some(_), Some(from), _) => ProbeAnswer::Unreachable { from, rtt: ms(r.icmp_rtt_ms.unwrap_or(0.0)), port: false },
            (_, _, _, Some(_)) => ProbeAnswer::NotSent(r.error.unwrap_or_default()),
            _ => ProbeAnswer::Silence,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routers_continue_and_unreachable_ends() {
        let r: IpAddr = "10.0.0.1".parse().unwrap();
        let d = Duration::from_millis(2);
        let (hop, last) = answer_hop(1, ProbeAnswer::TimeExceeded { from: r, rtt: d });
        assert_eq!((hop.addr, last), (Some(r), false));
        assert!((hop.rtt_ms.unwrap() - 2.0).abs() < 1e-9);
        assert!(answer_hop(2, ProbeAnswer::Unreachable { from: r, rtt: d, port: true }).1);
        assert_eq!(answer_hop(3, ProbeAnswer::Silence).0, Hop { ttl: 3, addr: None, rtt_ms: None });
    }
}
