//! Creating links of kinds other than veth: bridge, macvlan, vxlan, ifb, and the kinds a kernel
//! may lack (dummy, vlan, vrf, bond, wireguard), whose absence is reported by name.

use std::os::fd::AsRawFd;

use nix::errno::Errno;

use super::ledger::Object;
use super::{validate, validate_net, Lab, LabError, Ns, Result};
use crate::engine::link_kinds::{BondMode, BridgeSpec, Kind, MacvlanMode, VxlanExtra, VxlanSpec};
use crate::engine::netlink::LinkOptions;
use crate::engine::EngineError;

/// IANA's VXLAN port, used when none is given (the kernel's own default, 8472, predates it).
pub const VXLAN_PORT: u16 = 4789;

/// A VXLAN endpoint as the user gives it: VNI, addresses, underlay link, UDP port.
#[derive(Debug, Clone, Default)]
pub struct VxlanOptions {
    pub id: i64,
    pub local: Option<String>,
    pub remote: Option<String>,
    pub dev: Option<String>,
    pub port: Option<i64>,
    pub learning: Option<bool>,
    pub proxy: Option<bool>,
    pub ttl: Option<i64>,
    pub tos: Option<i64>,
    /// The UDP source port range, `[lo, hi]`.
    pub srcport: Option<(i64, i64)>,
    pub l2miss: Option<bool>,
    pub l3miss: Option<bool>,
    /// The namespace the link is created from when not its own: its UDP socket, `dev` and
    /// `local` live there, the device in the link's namespace (one end of a link across
    /// machines: the machine's namespace carries the tunnel, the lab's gets the device).
    pub underlay: Option<Ns>,
    /// With `underlay`: let the kernel take the device with its namespace after teardown
    /// instead of deleting it first (faster; its VNI and UDP socket stay taken in the underlay
    /// for a moment after nslab returns). Links across machines, whose VNIs are chosen afresh,
    /// use it.
    pub linger: bool,
}

/// A bridge's settings at creation: spanning tree, ageing time (seconds), multicast snooping.
#[derive(Debug, Clone, Default)]
pub struct BridgeOptions {
    pub stp: Option<bool>,
    pub ageing_time: Option<f64>,
    pub mcast_snooping: Option<bool>,
}

impl Lab {
    /// Creates a link of `kind` in `ns`, recording it in the ledger when `ns` is not the lab's.
    pub(super) fn create_link(&mut self, ns: &Ns, name: &str, kind: Kind, opts: &LinkOptions) -> Result<()> {
        self.create_link_from(ns, ns, name, kind, opts)
    }

    /// `create_link`, the request sent from namespace `from` (a vxlan's underlay; the kind
    /// carries the descriptor of `ns` when they differ). The link is `ns`'s, as if made there.
    fn create_link_from(&mut self, ns: &Ns, from: &Ns, name: &str, kind: Kind, opts: &LinkOptions) -> Result<()> {
        if self.tracing() {
            let (ip, mut words) = (super::trace::ip(from), super::trace::link_words(opts));
            if from != ns {
                words += &format!(" netns {}", super::trace::netns_word(ns));
            }
            let kind_words = self.kind_words(from, &kind);
            // A parent link comes before `type` (`link PARENT type vlan ...`).
            let kind_words = if kind_words.starts_with("link ") { kind_words } else { format!("type {kind_words}") };
            self.trace(|| format!("{ip} link add name {}{words} {kind_words}", super::trace::word(name)));
        }
        validate::link_name(name)?;
        if let Some(m) = opts.mtu {
            validate_net::link_mtu(i64::from(m), kind.name(), name)?;
        }
        let conn = self.conn(from)?;
        let ns_inode = if self.records(ns) { self.ns_inode(ns)? } else { 0 };
        // The kernel chooses the index: an end killed before it is noted made cannot be confirmed.
        let record =
            self.records(ns).then(|| Object::Link { ns: ns.key(), ns_inode, name: name.into(), index: None, peer_ns: None });
        if let Some(r) = &record {
            self.ledger_mut()?.intent(r)?;
        }
        let group = if record.is_some() { Some(self.link_group()?) } else { opts.group };
        let opts = LinkOptions { group, ..opts.clone() };
        if let Err(e) = self.block_on(conn.add_link(name, &kind, &opts)) {
            if let Some(r) = &record {
                self.ledger_mut()?.failed(r)?;
            }
            return Err(self.create_error(ns, from, name, &kind, e));
        }
        // A name the lab saw before may have belonged to another link.
        self.links.indexes.remove(&(ns.key(), name.to_string()));
        if record.is_some() {
            let index = self.index(ns, name).ok();
            self.ledger_mut()?.made(&Object::Link { ns: ns.key(), ns_inode, name: name.into(), index, peer_ns: None })?;
            self.links.made.insert((ns.key(), name.into()));
        }
        Ok(())
    }

    /// The kernel's refusal in words. Its EEXIST means a link of that name in `ns` (checked
    /// here) or, for a vxlan, one in `from` with the same VNI and UDP port (`vxlan_vni_in_use`:
    /// also the same address family; the local address does not count).
    fn create_error(&mut self, ns: &Ns, from: &Ns, name: &str, kind: &Kind, e: EngineError) -> LabError {
        let op = format!("create {} link {name:?} in {ns}", kind.name());
        match e.code() {
            Some(Errno::EOPNOTSUPP) => LabError::Unsupported { op, feature: kind.feature().into() },
            Some(Errno::EEXIST) => {
                self.links.indexes.remove(&(ns.key(), name.to_string()));
                if self.index(ns, name).is_ok() {
                    return LabError::Exists { what: "link", name: name.into(), owner: format!(" in {ns}") };
                }
                match kind {
                    Kind::Vxlan(v) => LabError::VniTaken { vni: v.id, port: v.port, underlay: from.to_string() },
                    _ => LabError::from_engine(op, e),
                }
            }
            Some(Errno::EBUSY) if matches!(kind, Kind::Macvlan { mode: MacvlanMode::Passthru, .. }) => LabError::Failed {
                op,
                detail: "the parent already has a macvlan; a passthru macvlan must be its only one".into(),
                errno: Some(Errno::EBUSY),
            },
            _ => LabError::from_engine(op, e),
        }
    }

    /// A bridge (`ip link add NAME type bridge`), created down; `stp` turns the spanning tree on.
    /// An MTU given is set after creation, as `ip link set` would: the kernel then keeps it when
    /// ports join, where an MTU given at creation is lowered to the smallest port's.
    pub fn bridge(&mut self, ns: &Ns, name: &str, opts: &LinkOptions, stp: Option<bool>) -> Result<()> {
        self.bridge_with(ns, name, opts, &BridgeOptions { stp, ..BridgeOptions::default() })
    }

    /// A bridge with the settings `b` (see `bridge`).
    pub fn bridge_with(&mut self, ns: &Ns, name: &str, opts: &LinkOptions, b: &BridgeOptions) -> Result<()> {
        validate::link_name(name)?;
        let ageing_time = b.ageing_time.map(|t| super::validate_links::ageing_time(t, name)).transpose()?;
        let spec = BridgeSpec { stp: b.stp, ageing_time, mcast_snooping: b.mcast_snooping };
        let mut at_creation = opts.clone();
        at_creation.mtu = None;
        self.create_link(ns, name, Kind::Bridge(spec), &at_creation)?;
        if let Some(mtu) = opts.mtu {
            if let Err(e) = self.mtu(ns, name, i64::from(mtu)) {
                // No half-built state: the bridge goes again.
                let _ = self.delete_created(ns, name);
                return Err(e);
            }
        }
        self.links.bridges.push((ns.clone(), name.into()));
        Ok(())
    }

    /// Removes a link this call created, after a later step of its creation failed.
    fn delete_created(&mut self, ns: &Ns, name: &str) -> Result<()> {
        let index = self.index(ns, name)?;
        let conn = self.conn(ns)?;
        self.block_on(conn.del_link(index)).map_err(|e| LabError::from_engine(format!("delete link {name:?} in {ns}"), e))?;
        let key = (ns.key(), name.to_string());
        self.links.indexes.remove(&key);
        if self.links.made.remove(&key) {
            self.forget(&Object::Link { ns: ns.key(), ns_inode: 0, name: name.into(), index: None, peer_ns: None })?;
        }
        Ok(())
    }

    /// A macvlan on `parent` (same namespace); `mode` is one of bridge, private, vepa, passthru.
    pub fn macvlan(&mut self, ns: &Ns, name: &str, parent: &str, mode: &str, opts: &LinkOptions) -> Result<()> {
        let mode = MacvlanMode::parse(mode).ok_or_else(|| LabError::Invalid {
            what: "macvlan mode",
            value: mode.into(),
            reason: format!("macvlan {name:?} takes one of {}", MacvlanMode::NAMES.join(", ")),
        })?;
        validate::link_name(name)?;
        let index = self.on_parent(ns, "macvlan", name, parent, opts)?;
        self.create_link(ns, name, Kind::Macvlan { parent: index, mode }, opts)
    }

    /// The ifindex of the Ethernet link a macvlan or vlan is stacked on, checked: not the
    /// loopback link, and not with a larger MTU than it has (the kernel's EINVAL for both).
    fn on_parent(&mut self, ns: &Ns, kind: &str, name: &str, parent: &str, opts: &LinkOptions) -> Result<u32> {
        let index = self.index(ns, parent)?;
        let conn = self.conn(ns)?;
        let Ok(Some(p)) = self.block_on(conn.link_by_index(index)) else { return Ok(index) };
        // The loopback device is always ifindex 1.
        if p.index == 1 {
            return Err(LabError::Refused(format!(
                "{kind} {name:?} needs an Ethernet parent link; {parent:?} is the loopback link of {ns}"
            )));
        }
        if let Some(mtu) = opts.mtu.filter(|m| *m > p.mtu) {
            return Err(LabError::Invalid {
                what: "MTU",
                value: mtu.to_string(),
                reason: format!("{kind} {name:?} takes at most the MTU of its parent {parent:?}, {}", p.mtu),
            });
        }
        Ok(index)
    }

    /// Creates a VXLAN link `name` in `ns` (`ip link add NAME type vxlan id VNI ...`).
    pub fn vxlan(&mut self, ns: &Ns, name: &str, v: &VxlanOptions, opts: &LinkOptions) -> Result<()> {
        validate::link_name(name)?;
        let id = u32::try_from(v.id).ok().filter(|id| *id < 1 << 24).ok_or_else(|| LabError::Invalid {
            what: "VXLAN id",
            value: v.id.to_string(),
            reason: format!("vxlan {name:?} needs a VNI from 0 to 16777215 (24 bits)"),
        })?;
        let port = match v.port {
            None => VXLAN_PORT,
            Some(p) => u16::try_from(p).ok().filter(|p| *p > 0).ok_or_else(|| LabError::Invalid {
                what: "UDP port",
                value: p.to_string(),
                reason: format!("vxlan {name:?} needs a port from 1 to 65535"),
            })?,
        };
        let local = v.local.as_deref().map(validate::ip).transpose()?;
        let remote = v.remote.as_deref().map(validate::ip).transpose()?;
        if let Some(why) = local.and_then(validate::not_unicast) {
            return Err(LabError::Invalid {
                what: "local address",
                value: v.local.clone().unwrap_or_default(),
                reason: format!("{why}; the local option of vxlan {name:?} is this end's own unicast address"),
            });
        }
        let group = remote.is_some_and(|r| r.is_multicast());
        if let Some(why) = remote.filter(|r| !r.is_multicast()).and_then(validate::not_unicast) {
            return Err(LabError::Invalid {
                what: "remote address",
                value: v.remote.clone().unwrap_or_default(),
                reason: format!(
                    "{why}; the remote option of vxlan {name:?} is the other end's unicast address or a multicast group"
                ),
            });
        }
        if let (Some(l), Some(r)) = (local, remote) {
            if l.is_ipv4() != r.is_ipv4() {
                return Err(LabError::Invalid {
                    what: "address",
                    value: r.to_string(),
                    reason: format!("the remote end is not of the same family as the local address {l}"),
                });
            }
        }
        if group && v.dev.is_none() {
            return Err(LabError::Refused(format!(
                "vxlan {name:?} sends to the multicast group {}, which needs an underlay link to join it on: \
                 add dev, like #{{dev: \"eth0\"}}",
                remote.expect("a group")
            )));
        }
        let extra = vxlan_extra(v, name)?;
        let from = v.underlay.clone().unwrap_or_else(|| ns.clone());
        // The device's namespace, held open until the kernel has answered (checked before the
        // underlay's, so that a missing one is named first).
        let target = if from == *ns { None } else { Some(self.ns_file(ns)?) };
        let dev = v.dev.as_deref().map(|d| self.index(&from, d)).transpose()?;
        let netns = target.as_ref().map(|f| f.as_raw_fd());
        let spec = VxlanSpec { id, local, remote, dev, port, netns, extra };
        let tunnel = from != *ns && self.owns(ns) && !v.linger;
        // In the lab's namespace, a group of its own to be deleted by (`tunnels.rs`).
        let opts = LinkOptions { group: tunnel.then_some(super::tunnels::TUNNEL_GROUP), ..opts.clone() };
        self.create_link_from(ns, &from, name, Kind::Vxlan(spec), &opts)?;
        if let (Ns::Named(n), true) = (ns, tunnel) {
            self.links.tunnels.insert(n.clone());
        }
        if opts.up {
            // As after `up`: the wait before traffic looks at it.
            self.unsettled.brought_up(ns, name);
        }
        Ok(())
    }

    /// Creates a dummy link `name` in `ns` (`ip link add NAME type dummy`).
    pub fn dummy(&mut self, ns: &Ns, name: &str, opts: &LinkOptions) -> Result<()> {
        self.create_link(ns, name, Kind::Dummy, opts)
    }

    /// An 802.1Q VLAN link on `parent` (same namespace).
    pub fn vlan(&mut self, ns: &Ns, name: &str, parent: &str, id: i64, opts: &LinkOptions) -> Result<()> {
        let id = u16::try_from(id).ok().filter(|id| (1..=4094).contains(id)).ok_or_else(|| LabError::Invalid {
            what: "VLAN id",
            value: id.to_string(),
            reason: format!("vlan {name:?} needs an id from 1 to 4094"),
        })?;
        validate::link_name(name)?;
        let parent = self.on_parent(ns, "vlan", name, parent, opts)?;
        self.create_link(ns, name, Kind::Vlan { parent, id }, opts)
    }

    /// A VRF bound to routing table `table`.
    pub fn vrf(&mut self, ns: &Ns, name: &str, table: i64) -> Result<()> {
        let table = u32::try_from(table).ok().filter(|t| *t > 0 && *t != 254 && *t != 255).ok_or_else(|| LabError::Invalid {
            what: "routing table",
            value: table.to_string(),
            reason: format!("vrf {name:?} needs a table from 1 to 4294967295 other than main (254) and local (255)"),
        })?;
        self.create_link(ns, name, Kind::Vrf { table }, &LinkOptions::default())
    }

    /// Creates a bond `name` in `ns`, in `mode` (default balance-rr) (`ip link add NAME type bond`).
    pub fn bond(&mut self, ns: &Ns, name: &str, mode: Option<&str>, opts: &LinkOptions) -> Result<()> {
        let mode = mode
            .map(|m| {
                BondMode::parse(m).ok_or_else(|| LabError::Invalid {
                    what: "bond mode",
                    value: m.into(),
                    reason: format!("bond {name:?} takes one of {}", BondMode::NAMES.join(", ")),
                })
            })
            .transpose()?;
        self.create_link(ns, name, Kind::Bond { mode }, opts)
    }

    /// Creates an intermediate functional block `name` in `ns` (`ip link add NAME type ifb`), the
    /// link ingress traffic is redirected to so it can be shaped; born up when `opts.up`.
    pub fn ifb(&mut self, ns: &Ns, name: &str, opts: &LinkOptions) -> Result<()> {
        self.create_link(ns, name, Kind::Ifb, opts)?;
        if opts.up {
            // As after `up`: the wait before traffic looks at it.
            self.unsettled.brought_up(ns, name);
        }
        Ok(())
    }

    /// Creates a WireGuard link `name` in `ns` (`ip link add NAME type wireguard`).
    pub fn wireguard(&mut self, ns: &Ns, name: &str, opts: &LinkOptions) -> Result<()> {
        self.create_link(ns, name, Kind::Wireguard, opts)
    }
}

/// The VXLAN settings beyond the endpoint, checked.
fn vxlan_extra(v: &VxlanOptions, name: &str) -> Result<VxlanExtra> {
    use super::validate_links::{header_byte, srcport};
    Ok(VxlanExtra {
        learning: v.learning,
        proxy: v.proxy,
        ttl: v.ttl.map(|n| header_byte("ttl", n, name)).transpose()?,
        tos: v.tos.map(|n| header_byte("tos", n, name)).transpose()?,
        srcport: v.srcport.map(|(lo, hi)| srcport(lo, hi, name)).transpose()?,
        l2miss: v.l2miss,
        l3miss: v.l3miss,
    })
}
