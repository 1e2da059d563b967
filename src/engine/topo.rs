//! What a topology reader needs from a namespace beyond `links()`: each link's kind-specific
//! settings (a vxlan's id, ends, underlay and port; a macvlan's mode and parent; a vlan's id),
//! and the network sysctls a fresh namespace starts with, so a lab's changes can be told apart.

use std::net::IpAddr;

use futures::TryStreamExt;
use rtnetlink::packet_route::link::{
    InfoData, InfoMacVlan, InfoVlan, InfoVxlan, LinkAttribute, LinkInfo as NlLinkInfo, LinkMessage,
};

use super::error::{EngineError, Result};
use rtnetlink::packet_route::tc::{TcAttribute, TcHandle, TcMessage};

use super::netlink::{link_info, Conn, LinkInfo};
use super::tc::QdiscInfo;

/// A vxlan's settings, as `ip -d link` shows them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VxlanInfo {
    pub id: u32,
    pub local: Option<IpAddr>,
    /// The far end (unicast) or the multicast group.
    pub remote: Option<IpAddr>,
    /// The underlay device's ifindex.
    pub dev: Option<u32>,
    pub port: Option<u16>,
}

/// A link with its kind's own settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkDetail {
    pub info: LinkInfo,
    pub vxlan: Option<VxlanInfo>,
    /// A macvlan's mode ("bridge", "private", "vepa", "passthru", "source").
    pub macvlan_mode: Option<String>,
    /// A vlan's id.
    pub vlan_id: Option<u16>,
}

impl Conn {
    /// The root qdisc of every link that has one, by ifindex, in one dump (a query per link
    /// dumps them all each time: 1.6 s for a bridge of 300 ports).
    pub async fn root_qdiscs(&self) -> Result<Vec<(u32, QdiscInfo)>> {
        let msgs: Vec<TcMessage> =
            self.handle.qdisc().get().execute().try_collect().await.map_err(|e| EngineError::from_netlink("list qdiscs", e))?;
        Ok(msgs
            .iter()
            .filter(|m| m.header.parent == TcHandle::ROOT)
            .map(|m| {
                let kind = m
                    .attributes
                    .iter()
                    .find_map(|a| match a {
                        TcAttribute::Kind(k) => Some(k.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                let options = m.attributes.iter().find_map(super::tc::options_bytes).unwrap_or_default();
                (m.header.index as u32, QdiscInfo { kind, handle: u32::from(m.header.handle), options })
            })
            .collect())
    }

    /// Every link in this namespace, with its kind's settings.
    pub async fn link_details(&self) -> Result<Vec<LinkDetail>> {
        let msgs: Vec<LinkMessage> =
            self.link_get().execute().try_collect().await.map_err(|e| EngineError::from_netlink("list links", e))?;
        Ok(msgs.iter().map(detail).collect())
    }
}

fn detail(msg: &LinkMessage) -> LinkDetail {
    let mut d = LinkDetail { info: link_info(msg), vxlan: None, macvlan_mode: None, vlan_id: None };
    let infos = msg.attributes.iter().filter_map(|a| match a {
        LinkAttribute::LinkInfo(infos) => Some(infos),
        _ => None,
    });
    for info in infos.flatten() {
        match info {
            NlLinkInfo::Data(InfoData::Vxlan(attrs)) => d.vxlan = Some(vxlan(attrs)),
            NlLinkInfo::Data(InfoData::MacVlan(attrs)) => {
                d.macvlan_mode = attrs.iter().find_map(|a| match a {
                    InfoMacVlan::Mode(m) => Some(macvlan_mode(u32::from(*m))),
                    _ => None,
                })
            }
            NlLinkInfo::Data(InfoData::Vlan(attrs)) => {
                d.vlan_id = attrs.iter().find_map(|a| match a {
                    InfoVlan::Id(id) => Some(*id),
                    _ => None,
                })
            }
            _ => {}
        }
    }
    d
}

fn vxlan(attrs: &[InfoVxlan]) -> VxlanInfo {
    let mut v = VxlanInfo::default();
    for a in attrs {
        match a {
            InfoVxlan::Id(id) => v.id = *id,
            InfoVxlan::Local(ip) => v.local = Some(IpAddr::V4(*ip)),
            InfoVxlan::Local6(ip) => v.local = Some(IpAddr::V6(*ip)),
            InfoVxlan::Group(ip) => v.remote = Some(IpAddr::V4(*ip)),
            InfoVxlan::Group6(ip) => v.remote = Some(IpAddr::V6(*ip)),
            InfoVxlan::Link(i) => v.dev = Some(*i),
            InfoVxlan::Port(p) => v.port = Some(*p),
            _ => {}
        }
    }
    // The kernel reports unset addresses as 0.0.0.0 / :: and an unset device as 0.
    v.local = v.local.filter(|ip| !ip.is_unspecified());
    v.remote = v.remote.filter(|ip| !ip.is_unspecified());
    v.dev = v.dev.filter(|i| *i != 0);
    v
}

/// MACVLAN_MODE_* as `ip link` names them.
fn macvlan_mode(bits: u32) -> String {
    match bits {
        1 => "private".into(),
        2 => "vepa".into(),
        4 => "bridge".into(),
        8 => "passthru".into(),
        16 => "source".into(),
        other => other.to_string(),
    }
}

/// The values a namespace made now starts with for these sysctls (path components below
/// /proc/sys), read by a thread that moves into a namespace of its own: what "unchanged" means.
/// None for a key the kernel does not have.
pub fn fresh_sysctls(keys: &[Vec<String>]) -> Result<Vec<Option<String>>> {
    std::thread::scope(|s| {
        let worker = s.spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| EngineError::errno("make a scratch namespace to read default sysctls", e))?;
            Ok(keys.iter().map(|k| read_key(k)).collect())
        });
        match worker.join() {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Reads these sysctls (path components below /proc/sys) in each namespace, on one thread that
/// enters them in turn (a thread per namespace costs a few ms each: its exit out of a namespace
/// it entered waits for the kernel). None for a key the kernel does not have there.
pub fn read_sysctls(namespaces: &[&std::fs::File], keys: &[Vec<String>]) -> Result<Vec<Vec<Option<String>>>> {
    std::thread::scope(|s| {
        let worker = s.spawn(|| {
            let mut out = Vec::with_capacity(namespaces.len());
            for ns in namespaces {
                nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(|e| EngineError::errno("enter a namespace to read its sysctls", e))?;
                out.push(keys.iter().map(|k| read_key(k)).collect());
            }
            Ok(out)
        });
        match worker.join() {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

fn read_key(key: &[String]) -> Option<String> {
    std::fs::read_to_string(super::sysctl::path(key)).ok().map(|t| t.trim_end_matches('\n').to_string())
}

/// A token bucket filter's settings from its dumped TCA_OPTIONS: (rate in bytes/s, burst in
/// bytes, limit in bytes), as `tc qdisc add ... tbf rate R burst B limit L` takes them. The
/// kernel dumps the bucket as the time to send it (ticks of `clock`), not in bytes: the burst is
/// worked back from it, as `tc` does (`tc_calc_xmitsize`).
pub fn decode_tbf(options: &[u8], clock: &super::tc_options::Clock) -> Option<(u64, u32, u32)> {
    const PARMS: u16 = 1;
    const RATE64: u16 = 4;
    let (mut rate, mut buffer, mut limit) = (None, None, None);
    let mut at = 0;
    while at + 4 <= options.len() {
        let len = usize::from(u16::from_ne_bytes([options[at], options[at + 1]]));
        let kind = u16::from_ne_bytes([options[at + 2], options[at + 3]]) & 0x3fff;
        if len < 4 || at + len > options.len() {
            break;
        }
        let value = &options[at + 4..at + len];
        let u32_at = |o: usize| value.get(o..o + 4).map(|b| u32::from_ne_bytes(b.try_into().expect("4 bytes")));
        match kind {
            // struct tc_tbf_qopt: rate (a 12-byte tc_ratespec, its rate last), peakrate, limit,
            // buffer.
            PARMS => {
                rate = rate.or(u32_at(8).map(u64::from));
                limit = u32_at(24);
                buffer = u32_at(28);
            }
            RATE64 => rate = value.get(..8).map(|b| u64::from_ne_bytes(b.try_into().expect("8 bytes"))),
            _ => {}
        }
        at += (len + 3) & !3;
    }
    let rate = rate?;
    let burst = (rate as f64 * clock.tick2usec(buffer?) / 1_000_000.0).round();
    Some((rate, burst.min(f64::from(u32::MAX)) as u32, limit?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tbf_options_decode_as_they_were_made() {
        let clock = crate::engine::tc_options::Clock::read();
        let tbf = crate::engine::tc_options::Tbf { rate: 125_000, burst: 5000, latency_us: 50_000 };
        assert_eq!(decode_tbf(&tbf.options(&clock), &clock), Some((125_000, 5000, tbf.limit())));
        let fast = crate::engine::tc_options::Tbf { rate: 10 << 32, burst: 1 << 20, latency_us: 1000 };
        // At such rates the bucket's time is whole microseconds: the burst comes back close.
        let (rate, burst, limit) = decode_tbf(&fast.options(&clock), &clock).unwrap();
        assert_eq!((rate, limit), (10 << 32, fast.limit()));
        assert!((f64::from(burst) / f64::from(1u32 << 20) - 1.0).abs() < 0.02, "{burst}");
        assert_eq!(decode_tbf(&[1, 2, 3], &clock), None);
    }

    #[test]
    fn macvlan_modes_are_named_as_ip_names_them() {
        assert_eq!(macvlan_mode(4), "bridge");
        assert_eq!(macvlan_mode(8), "passthru");
        assert_eq!(macvlan_mode(3), "3");
    }

    #[test]
    fn unset_vxlan_fields_are_none() {
        let v = vxlan(&[
            InfoVxlan::Id(42),
            InfoVxlan::Local(std::net::Ipv4Addr::UNSPECIFIED),
            InfoVxlan::Group(std::net::Ipv4Addr::new(10, 0, 0, 2)),
            InfoVxlan::Link(0),
        ]);
        assert_eq!(v, VxlanInfo { id: 42, local: None, remote: Some("10.0.0.2".parse().unwrap()), dev: None, port: None });
    }
}
