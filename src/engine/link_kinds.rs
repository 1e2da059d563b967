//! Link kinds beyond veth (bridge, macvlan, vxlan, ifb, and the kinds this kernel may lack: dummy,
//! vlan, vrf, bond, wireguard), and the link settings `ip link set` changes: master, mtu,
//! address, name. Like `netlink.rs`, this file names rtnetlink types so the rest does not.

use std::net::IpAddr;
use std::os::fd::RawFd;

use futures::TryStreamExt;
use rtnetlink::packet_route::link::{BondMode as NlBondMode, BridgeStpState, InfoKind, LinkAttribute, LinkFlags, MacVlanMode};
use rtnetlink::{
    LinkBond, LinkBridge, LinkDummy, LinkMacVlan, LinkMessageBuilder, LinkUnspec, LinkVlan, LinkVrf, LinkVxlan, LinkWireguard,
};

use super::error::{EngineError, Result};
use super::netlink::{Conn, LinkOptions};

/// The four macvlan modes `ip link add ... type macvlan mode M` accepts for a plain macvlan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacvlanMode {
    Bridge,
    Private,
    Vepa,
    Passthru,
}

impl MacvlanMode {
    pub const NAMES: &'static [&'static str] = &["bridge", "private", "vepa", "passthru"];

    pub fn parse(text: &str) -> Option<MacvlanMode> {
        Some(match text {
            "bridge" => MacvlanMode::Bridge,
            "private" => MacvlanMode::Private,
            "vepa" => MacvlanMode::Vepa,
            "passthru" => MacvlanMode::Passthru,
            _ => return None,
        })
    }

    fn netlink(self) -> MacVlanMode {
        match self {
            MacvlanMode::Bridge => MacVlanMode::Bridge,
            MacvlanMode::Private => MacVlanMode::Private,
            MacvlanMode::Vepa => MacVlanMode::Vepa,
            MacvlanMode::Passthru => MacVlanMode::Passthrough,
        }
    }
}

/// Bonding modes, by the names `ip link add ... type bond mode M` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BondMode {
    BalanceRr,
    ActiveBackup,
    BalanceXor,
    Broadcast,
    Lacp,
    BalanceTlb,
    BalanceAlb,
}

impl BondMode {
    pub const NAMES: &'static [&'static str] =
        &["balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb"];

    pub fn parse(text: &str) -> Option<BondMode> {
        Some(match text {
            "balance-rr" => BondMode::BalanceRr,
            "active-backup" => BondMode::ActiveBackup,
            "balance-xor" => BondMode::BalanceXor,
            "broadcast" => BondMode::Broadcast,
            "802.3ad" => BondMode::Lacp,
            "balance-tlb" => BondMode::BalanceTlb,
            "balance-alb" => BondMode::BalanceAlb,
            _ => return None,
        })
    }

    fn netlink(self) -> NlBondMode {
        match self {
            BondMode::BalanceRr => NlBondMode::BalanceRr,
            BondMode::ActiveBackup => NlBondMode::ActiveBackup,
            BondMode::BalanceXor => NlBondMode::BalanceXor,
            BondMode::Broadcast => NlBondMode::Broadcast,
            BondMode::Lacp => NlBondMode::Ieee8023Ad,
            BondMode::BalanceTlb => NlBondMode::BalanceTlb,
            BondMode::BalanceAlb => NlBondMode::BalanceAlb,
        }
    }
}

/// A VXLAN tunnel endpoint: VNI, the addresses of both ends, the underlay device, UDP port.
#[derive(Debug, Clone, PartialEq)]
pub struct VxlanSpec {
    pub id: u32,
    pub local: Option<IpAddr>,
    /// The far end (unicast) or a multicast group.
    pub remote: Option<IpAddr>,
    pub dev: Option<u32>,
    pub port: u16,
    /// The namespace the device is born in when it is not the connection's (`IFLA_NET_NS_FD`,
    /// `ip -n UNDERLAY link add NAME netns NS type vxlan`): its UDP socket, `dev` and `local`
    /// stay in the connection's namespace, the underlay. Open until `add_link` returns.
    pub netns: Option<RawFd>,
    /// The rest of `ip link add ... type vxlan`'s settings; None leaves the kernel's default.
    pub extra: VxlanExtra,
}

/// VXLAN settings beyond the endpoint: `[no]learning`, `[no]proxy`, `ttl`, `tos`, `srcport LO
/// HI`, `[no]l2miss`, `[no]l3miss`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VxlanExtra {
    pub learning: Option<bool>,
    pub proxy: Option<bool>,
    pub ttl: Option<u8>,
    pub tos: Option<u8>,
    pub srcport: Option<(u16, u16)>,
    pub l2miss: Option<bool>,
    pub l3miss: Option<bool>,
}

/// Bridge settings at creation: `stp_state`, `ageing_time` (in the kernel's clock_t, hundredths
/// of a second, as `ip` takes it), `mcast_snooping`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BridgeSpec {
    pub stp: Option<bool>,
    pub ageing_time: Option<u32>,
    pub mcast_snooping: Option<bool>,
}

/// What kind of link to create, with the kind's own settings (ifb, the intermediate functional
/// block ingress traffic is redirected to for shaping, has none). Parents are ifindexes in the
/// namespace the link is created in.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Bridge(BridgeSpec),
    Macvlan { parent: u32, mode: MacvlanMode },
    Vxlan(VxlanSpec),
    Dummy,
    Vlan { parent: u32, id: u16 },
    Vrf { table: u32 },
    Bond { mode: Option<BondMode> },
    Wireguard,
    Ifb,
}

impl Kind {
    /// The kind's name as `ip -d link` shows it.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Bridge(_) => "bridge",
            Kind::Macvlan { .. } => "macvlan",
            Kind::Vxlan(_) => "vxlan",
            Kind::Dummy => "dummy",
            Kind::Vlan { .. } => "vlan",
            Kind::Vrf { .. } => "vrf",
            Kind::Bond { .. } => "bond",
            Kind::Wireguard => "wireguard",
            Kind::Ifb => "ifb",
        }
    }

    /// The kernel feature (config option or module) that provides the kind, in words.
    pub fn feature(&self) -> &'static str {
        match self {
            Kind::Bridge(_) => "bridge",
            Kind::Macvlan { .. } => "macvlan",
            Kind::Vxlan(_) => "vxlan",
            Kind::Dummy => "dummy",
            Kind::Vlan { .. } => "vlan (8021q)",
            Kind::Vrf { .. } => "vrf",
            Kind::Bond { .. } => "bonding",
            Kind::Wireguard => "wireguard",
            Kind::Ifb => "ifb",
        }
    }
}

/// The range of MTUs a link accepts, as the kernel reports it (IFLA_MIN_MTU / IFLA_MAX_MTU).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MtuRange {
    pub min: Option<u32>,
    pub max: Option<u32>,
}

impl Conn {
    /// Creates a link of `kind` named `name`: down, like `ip link add`, unless `opts.up`.
    pub async fn add_link(&self, name: &str, kind: &Kind, opts: &LinkOptions) -> Result<()> {
        let mut msg = match kind {
            Kind::Bridge(spec) => {
                let mut b = LinkMessageBuilder::<LinkBridge>::new(name);
                if let Some(on) = spec.stp {
                    b = b.stp_state(if on { BridgeStpState::KernelStp } else { BridgeStpState::Disabled });
                }
                if let Some(t) = spec.ageing_time {
                    b = b.ageing_time(t);
                }
                if let Some(on) = spec.mcast_snooping {
                    b = b.mcast_snooping(on);
                }
                b.build()
            }
            Kind::Macvlan { parent, mode } => LinkMacVlan::new(name, *parent, mode.netlink()).build(),
            Kind::Vxlan(v) => {
                let mut b = LinkVxlan::new(name, v.id).port(v.port);
                if let Some(dev) = v.dev {
                    b = b.dev(dev);
                }
                match v.local {
                    Some(IpAddr::V4(ip)) => b = b.local(ip),
                    Some(IpAddr::V6(ip)) => b = b.local6(ip),
                    None => {}
                }
                match v.remote {
                    Some(IpAddr::V4(ip)) => b = b.remote(ip),
                    Some(IpAddr::V6(ip)) => b = b.remote6(ip),
                    None => {}
                }
                let x = &v.extra;
                if let Some(on) = x.learning {
                    b = b.learning(on);
                }
                if let Some(on) = x.proxy {
                    b = b.proxy(on);
                }
                if let Some(ttl) = x.ttl {
                    b = b.ttl(ttl);
                }
                if let Some(tos) = x.tos {
                    b = b.tos(tos);
                }
                if let Some((lo, hi)) = x.srcport {
                    b = b.port_range(lo, hi);
                }
                if let Some(on) = x.l2miss {
                    b = b.l2miss(on);
                }
                if let Some(on) = x.l3miss {
                    b = b.l3miss(on);
                }
                if let Some(fd) = v.netns {
                    // Born there: no move afterwards, which would cost an RCU grace period.
                    b = b.setns_by_fd(fd);
                }
                b.build()
            }
            Kind::Dummy => LinkDummy::new(name).build(),
            Kind::Vlan { parent, id } => LinkVlan::new(name, *parent, *id).build(),
            Kind::Vrf { table } => LinkVrf::new(name, *table).build(),
            Kind::Bond { mode } => {
                let mut b = LinkBond::new(name);
                if let Some(m) = mode {
                    b = b.mode(m.netlink());
                }
                b.build()
            }
            Kind::Wireguard => LinkWireguard::new(name).build(),
            // rtnetlink has no typed builder for ifb; it takes no settings of its own.
            Kind::Ifb => LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(InfoKind::Ifb).name(name.to_string()).build(),
        };
        if opts.up {
            // Born up: one request, no window in which the link exists down.
            msg.header.flags |= LinkFlags::Up;
            msg.header.change_mask |= LinkFlags::Up;
        }
        if let Some(mtu) = opts.mtu {
            msg.attributes.push(LinkAttribute::Mtu(mtu));
        }
        if let Some(g) = opts.group {
            msg.attributes.push(LinkAttribute::Group(g));
        }
        self.handle
            .link()
            .add(msg)
            .execute()
            .await
            .map_err(|e| EngineError::from_netlink(format!("create {} link {name}", kind.name()), e))
    }

    /// Makes `index` a port of `master` (a bridge, bond or vrf), or frees it with `None`.
    pub async fn set_master(&self, index: u32, master: Option<u32>) -> Result<()> {
        let b = LinkUnspec::new_with_index(index);
        let msg = match master {
            Some(m) => b.controller(m),
            None => b.nocontroller(),
        };
        self.handle
            .link()
            .change(msg.build())
            .execute()
            .await
            .map_err(|e| EngineError::from_netlink(format!("set the master of link {index}"), e))
    }

    /// Sets a link's MTU.
    pub async fn set_mtu(&self, index: u32, mtu: u32) -> Result<()> {
        let msg = LinkUnspec::new_with_index(index).mtu(mtu).build();
        self.handle
            .link()
            .change(msg)
            .execute()
            .await
            .map_err(|e| EngineError::from_netlink(format!("set the mtu of link {index}"), e))
    }

    /// Sets a link's hardware address.
    pub async fn set_mac(&self, index: u32, mac: [u8; 6]) -> Result<()> {
        let msg = LinkUnspec::new_with_index(index).address(mac.to_vec()).build();
        self.handle
            .link()
            .change(msg)
            .execute()
            .await
            .map_err(|e| EngineError::from_netlink(format!("set the address of link {index}"), e))
    }

    /// Renames a link.
    pub async fn rename(&self, index: u32, new: &str) -> Result<()> {
        let msg = LinkUnspec::new_with_index(index).name(new.to_string()).build();
        self.handle
            .link()
            .change(msg)
            .execute()
            .await
            .map_err(|e| EngineError::from_netlink(format!("rename link {index} to {new}"), e))
    }

    /// The MTU range a link accepts (to explain a refused MTU).
    pub async fn mtu_range(&self, index: u32) -> Result<MtuRange> {
        let op = format!("find link {index}");
        let mut stream = self.link_get().match_index(index).execute();
        let msg = match stream.try_next().await {
            Ok(Some(msg)) => msg,
            Ok(None) => return Err(EngineError::errno(op, nix::errno::Errno::ENODEV)),
            Err(e) => return Err(EngineError::from_netlink(op, e)),
        };
        let mut range = MtuRange::default();
        for attr in &msg.attributes {
            match attr {
                LinkAttribute::MinMtu(m) => range.min = Some(*m),
                LinkAttribute::MaxMtu(m) => range.max = Some(*m),
                _ => {}
            }
        }
        Ok(range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_names_round_trip() {
        for name in MacvlanMode::NAMES {
            assert!(MacvlanMode::parse(name).is_some(), "{name}");
        }
        for name in BondMode::NAMES {
            assert!(BondMode::parse(name).is_some(), "{name}");
        }
        assert_eq!(MacvlanMode::parse("source"), None);
    }
}
