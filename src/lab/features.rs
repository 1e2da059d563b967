//! Kernel features a script can require: each is probed for real (a link or qdisc of the kind is
//! created in a throwaway namespace), never looked up in a list of what "should" be there.

use super::{Lab, LabError, Result};
use crate::engine::probe::{self, Support};

/// Something the kernel may or may not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feature {
    /// A link type, as `ip link add ... type KIND` names it.
    LinkKind(String),
    /// A queueing discipline, as `tc qdisc add ... KIND` names it.
    Qdisc(String),
    Tun,
    Ipv6,
}

/// Names `require` knows, and how each is probed. Others can be given as "link:KIND" or
/// "qdisc:KIND".
const LINK_KINDS: &[&str] = &[
    "veth",
    "bridge",
    "vxlan",
    "macvlan",
    "macvtap",
    "ipvlan",
    "ipvtap",
    "vlan",
    "dummy",
    "bond",
    "team",
    "vrf",
    "wireguard",
    "gre",
    "gretap",
    "ip6gre",
    "ip6gretap",
    "geneve",
    "ipip",
    "sit",
    "ip6tnl",
    "vti",
    "xfrm",
    "ifb",
    "netkit",
    "nlmon",
    "bareudp",
    "macsec",
    "vcan",
    "vxcan",
    "hsr",
];
const QDISCS: &[&str] = &[
    "netem",
    "tbf",
    "htb",
    "hfsc",
    "fq_codel",
    "fq",
    "codel",
    "sfq",
    "prio",
    "pfifo",
    "bfifo",
    "pfifo_fast",
    "red",
    "cake",
    "ingress",
    "clsact",
    "drr",
    "mqprio",
    "multiq",
    "plug",
    "sfb",
    "choke",
    "pie",
    "fq_pie",
    "cbs",
    "etf",
    "taprio",
    "ets",
    "qfq",
    "gred",
    "skbprio",
];
const ALIASES: &[(&str, &str)] = &[("8021q", "vlan"), ("bonding", "bond"), ("wg", "wireguard"), ("tap", "tun")];

impl Feature {
    pub fn parse(name: &str) -> Option<Feature> {
        let name = ALIASES.iter().find(|(a, _)| *a == name).map(|(_, n)| *n).unwrap_or(name);
        if let Some(kind) = name.strip_prefix("link:").filter(|k| !k.is_empty()) {
            return Some(Feature::LinkKind(kind.into()));
        }
        if let Some(kind) = name.strip_prefix("qdisc:").filter(|k| !k.is_empty()) {
            return Some(Feature::Qdisc(kind.into()));
        }
        match name {
            "tun" => Some(Feature::Tun),
            "ipv6" => Some(Feature::Ipv6),
            n if LINK_KINDS.contains(&n) => Some(Feature::LinkKind(n.into())),
            n if QDISCS.contains(&n) => Some(Feature::Qdisc(n.into())),
            _ => None,
        }
    }

    /// The names `parse` accepts without a prefix.
    pub fn known() -> Vec<&'static str> {
        let mut all: Vec<&str> = LINK_KINDS.iter().chain(QDISCS).copied().chain(["tun", "ipv6"]).collect();
        all.sort_unstable();
        all
    }

    pub fn describe(&self) -> String {
        match self {
            Feature::LinkKind(k) => format!("{k} link"),
            Feature::Qdisc(k) => format!("{k} qdisc"),
            Feature::Tun => "tun/tap device".into(),
            Feature::Ipv6 => "IPv6".into(),
        }
    }
}

impl Lab {
    /// Whether the running kernel has `feature`: None when it does, else how the probe failed.
    pub fn missing_feature(&mut self, feature: &Feature) -> Result<Option<String>> {
        let failed = |e| LabError::from_engine(format!("probe for {}", feature.describe()), e);
        let support = match feature {
            Feature::Tun => probe::tun().map_err(failed)?,
            Feature::Ipv6 => probe::ipv6(),
            Feature::LinkKind(kind) | Feature::Qdisc(kind) => {
                let conn = {
                    let _guard = self.rt.enter();
                    probe::scratch(&self.home).map_err(failed)?
                };
                let found = match feature {
                    Feature::LinkKind(_) => self.block_on(conn.probe_link_kind(kind)),
                    _ => self.block_on(conn.probe_qdisc_kind(kind)),
                };
                found.map_err(failed)?
            }
        };
        Ok(match support {
            Support::Yes => None,
            Support::No(why) => Some(match feature {
                Feature::LinkKind(_) | Feature::Qdisc(_) => {
                    format!(
                        "the running kernel has no {} (making one in a throwaway namespace failed: {why})",
                        feature.describe()
                    )
                }
                _ => format!("the running kernel has no {} ({why})", feature.describe()),
            }),
        })
    }
}
