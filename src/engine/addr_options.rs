//! Addresses with their options (`ip addr add ... peer, broadcast, scope, lifetimes, nodad,
//! noprefixroute`) and as the kernel reports them in full (flags, lifetimes).

use std::net::{IpAddr, Ipv4Addr};

use futures::TryStreamExt;
use rtnetlink::packet_core::{NetlinkMessage, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST};
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags, AddressMessage, AddressScope, CacheInfo};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};

use super::error::{EngineError, Result};
use super::netlink::Conn;

/// The kernel's "forever" lifetime (INFINITY_LIFE_TIME).
pub const FOREVER: u32 = u32::MAX;

/// An address as nslab adds it, with everything `ip addr add` can say about it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AddrSpec {
    /// This end's address (IFA_LOCAL).
    pub ip: Option<IpAddr>,
    pub prefix: u8,
    /// The other end of a point-to-point link (IFA_ADDRESS); the prefix applies to it.
    pub peer: Option<IpAddr>,
    /// IPv4 broadcast address.
    pub broadcast: Option<Ipv4Addr>,
    /// RT_SCOPE_* (0 universe/global, 253 link, 254 host); None: the kernel's choice.
    pub scope: Option<u8>,
    /// IFA_F_* bits to set (nodad, noprefixroute).
    pub flags: u32,
    /// Lifetimes in seconds; None for both: forever.
    pub valid: Option<u32>,
    pub preferred: Option<u32>,
}

/// IFA_F_* bits nslab sets or names.
pub const IFA_F_NODAD: u32 = 0x02;
pub const IFA_F_NOPREFIXROUTE: u32 = 0x200;

/// An address as the kernel reports it in full.
#[derive(Debug, Clone, PartialEq)]
pub struct AddrDetail {
    pub index: u32,
    pub ip: IpAddr,
    pub prefix: u8,
    pub peer: Option<IpAddr>,
    pub broadcast: Option<Ipv4Addr>,
    pub scope: u8,
    /// IFA_F_* bits (IFA_FLAGS when present, which holds more than the header's 8 bits).
    pub flags: u32,
    /// Remaining lifetimes in seconds (FOREVER: none).
    pub valid: u32,
    pub preferred: u32,
    /// The whole message, to delete exactly this address.
    message: AddressMessage,
}

/// The names of IFA_F_* bits, as `ip addr` prints them; "dynamic" stands for an address
/// without IFA_F_PERMANENT (one with a finite lifetime, or made by the kernel), as `ip` says it.
pub fn flag_names(flags: u32) -> Vec<String> {
    const NAMES: [(u32, &str); 12] = [
        (0x01, "secondary"),
        (0x02, "nodad"),
        (0x04, "optimistic"),
        (0x08, "dadfailed"),
        (0x10, "home"),
        (0x20, "deprecated"),
        (0x40, "tentative"),
        (0x80, "permanent"),
        (0x100, "mngtmpaddr"),
        (0x200, "noprefixroute"),
        (0x400, "autojoin"),
        (0x800, "stable-privacy"),
    ];
    let mut names: Vec<String> = NAMES.iter().filter(|(bit, _)| flags & bit != 0).map(|(_, n)| n.to_string()).collect();
    if flags & 0x80 == 0 {
        names.push("dynamic".into());
    }
    names
}

impl Conn {
    /// Adds an address with its options (`ip addr add`).
    pub async fn add_addr_spec(&self, index: u32, spec: &AddrSpec) -> Result<()> {
        let ip = spec.ip.expect("an address to add");
        let op = format!("add address {ip}/{}", spec.prefix);
        let mut msg = AddressMessage::default();
        msg.header.family = if ip.is_ipv4() { AddressFamily::Inet } else { AddressFamily::Inet6 };
        msg.header.prefix_len = spec.prefix;
        msg.header.index = index;
        msg.header.scope = AddressScope::from(spec.scope.unwrap_or(0));
        msg.attributes.push(AddressAttribute::Local(ip));
        msg.attributes.push(AddressAttribute::Address(spec.peer.unwrap_or(ip)));
        if let Some(b) = spec.broadcast {
            msg.attributes.push(AddressAttribute::Broadcast(b));
        }
        if spec.flags != 0 {
            msg.attributes.push(AddressAttribute::Flags(AddressFlags::from_bits_retain(spec.flags)));
        }
        if spec.valid.is_some() || spec.preferred.is_some() {
            let mut info = CacheInfo::default();
            info.ifa_valid = spec.valid.unwrap_or(FOREVER);
            info.ifa_preferred = spec.preferred.unwrap_or(info.ifa_valid);
            msg.attributes.push(AddressAttribute::CacheInfo(info));
        }
        let mut req = NetlinkMessage::from(RouteNetlinkMessage::NewAddress(msg));
        req.header.flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
        self.send_acked(req, op).await
    }

    /// Every address in this namespace, in full, in the kernel's order (a link's primary IPv4
    /// address before its secondaries).
    pub async fn addr_details(&self) -> Result<Vec<AddrDetail>> {
        let msgs: Vec<AddressMessage> = self
            .handle
            .address()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| EngineError::from_netlink("list addresses", e))?;
        Ok(msgs.into_iter().filter_map(detail).collect())
    }

    /// Deletes exactly this address (the message the kernel reported it with).
    pub async fn del_addr_detail(&self, a: &AddrDetail) -> Result<()> {
        let op = format!("delete address {}/{}", a.ip, a.prefix);
        self.handle.address().del(a.message.clone()).execute().await.map_err(|e| EngineError::from_netlink(op, e))
    }
}

fn detail(m: AddressMessage) -> Option<AddrDetail> {
    let mut local = None;
    let mut address = None;
    let mut broadcast = None;
    let mut flags = u32::from(m.header.flags.bits());
    let (mut valid, mut preferred) = (FOREVER, FOREVER);
    for a in &m.attributes {
        match a {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => address = Some(*ip),
            AddressAttribute::Broadcast(b) => broadcast = Some(*b),
            AddressAttribute::Flags(f) => flags = f.bits(),
            AddressAttribute::CacheInfo(c) => (valid, preferred) = (c.ifa_valid, c.ifa_preferred),
            _ => {}
        }
    }
    // IFA_LOCAL is the link's own address; IFA_ADDRESS differs from it on a point-to-point one.
    let ip = local.or(address)?;
    let peer = match (local, address) {
        (Some(l), Some(a)) if l != a => Some(a),
        _ => None,
    };
    Some(AddrDetail {
        index: m.header.index,
        ip,
        prefix: m.header.prefix_len,
        peer,
        broadcast,
        scope: u8::from(m.header.scope),
        flags,
        valid,
        preferred,
        message: m,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_named_like_ip_names_them() {
        assert_eq!(flag_names(0x80 | 0x02), vec!["nodad", "permanent"]);
        assert_eq!(flag_names(0x40 | 0x200), vec!["tentative", "noprefixroute", "dynamic"]);
    }
}
