//! The neighbour (ARP / NDP) table and the bridge forwarding database through netlink: add,
//! delete, list (`ip neigh`, `bridge fdb`). Both are RTM_*NEIGH messages: neighbours in the
//! IPv4 / IPv6 families, forwarding entries in AF_BRIDGE.

use std::net::IpAddr;

use futures::StreamExt;
use rtnetlink::packet_core::{
    NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST,
};
use rtnetlink::packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};

use super::error::{EngineError, Result};
use super::netlink::{format_mac, Conn};

/// NUD_* states, as the kernel numbers them.
pub const NUD_REACHABLE: u16 = 0x02;
pub const NUD_STALE: u16 = 0x04;
pub const NUD_NOARP: u16 = 0x40;
pub const NUD_PERMANENT: u16 = 0x80;

/// One entry of the neighbour table, or of the proxy table (`proxy`: no MAC, no state).
#[derive(Debug, Clone, PartialEq)]
pub struct NeighEntry {
    pub index: u32,
    pub ip: IpAddr,
    /// The link-layer address ("" when the kernel has none: incomplete or failed entries).
    pub mac: String,
    /// NUD_* bits.
    pub state: u16,
    /// NTF_ROUTER: the neighbour said it is a router (IPv6).
    pub router: bool,
    pub proxy: bool,
}

/// A neighbour state's name as `ip neigh` prints it, lowercased.
pub fn nud_name(state: u16) -> String {
    match NeighbourState::from(state) {
        NeighbourState::Other(n) => n.to_string(),
        s => s.to_string(),
    }
}

/// A forwarding entry as nslab asks for it (and deletes it).
#[derive(Debug, Clone, PartialEq)]
pub struct FdbSpec {
    /// The port (bridge port, vxlan, or any link's own address list).
    pub index: u32,
    pub mac: [u8; 6],
    /// A vxlan's remote end.
    pub dst: Option<IpAddr>,
    pub vni: Option<u32>,
    pub port: Option<u16>,
    /// NTF_MASTER: the entry goes to the bridge the port belongs to.
    pub master: bool,
    /// NTF_SELF: the entry goes to the link itself (a vxlan, a bridge device, a NIC).
    pub own: bool,
    /// NUD_* bits (unused by delete).
    pub state: u16,
}

/// A forwarding entry as the kernel reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct FdbEntry {
    pub index: u32,
    pub mac: String,
    pub dst: Option<IpAddr>,
    pub vni: Option<u32>,
    pub port: Option<u16>,
    pub vlan: Option<u16>,
    pub state: u16,
    /// NTF_MASTER: the bridge's own table reported it (its bridge in `bridge`).
    pub master: bool,
    /// NTF_SELF: the link's own table reported it.
    pub own: bool,
    /// The bridge (NDA_MASTER) of a bridge port's entry.
    pub bridge: Option<u32>,
}

/// An FDB state's name: "permanent" (the bridge's local entries), "static", or "dynamic".
pub fn fdb_state_name(state: u16) -> &'static str {
    if state & NUD_PERMANENT != 0 {
        "permanent"
    } else if state & NUD_NOARP != 0 {
        "static"
    } else {
        "dynamic"
    }
}

fn family_of(ip: IpAddr) -> AddressFamily {
    if ip.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    }
}

fn address(ip: IpAddr) -> NeighbourAddress {
    match ip {
        IpAddr::V4(a) => NeighbourAddress::Inet(a),
        IpAddr::V6(a) => NeighbourAddress::Inet6(a),
    }
}

fn ip_of(a: &NeighbourAddress) -> Option<IpAddr> {
    match a {
        NeighbourAddress::Inet(a) => Some(IpAddr::V4(*a)),
        NeighbourAddress::Inet6(a) => Some(IpAddr::V6(*a)),
        // In AF_BRIDGE messages (a vxlan remote) the address comes unparsed: its length tells.
        NeighbourAddress::Other(b) => match b.len() {
            4 => Some(IpAddr::from(<[u8; 4]>::try_from(b.as_slice()).ok()?)),
            16 => Some(IpAddr::from(<[u8; 16]>::try_from(b.as_slice()).ok()?)),
            _ => None,
        },
        _ => None,
    }
}

impl Conn {
    /// Adds a neighbour entry (`ip neigh add|replace IP lladdr MAC dev LINK nud STATE`).
    pub async fn neigh_add(&self, index: u32, ip: IpAddr, mac: [u8; 6], state: u16, replace: bool) -> Result<()> {
        let mut msg = NeighbourMessage::default();
        msg.header.family = family_of(ip);
        msg.header.ifindex = index;
        msg.header.state = NeighbourState::from(state);
        msg.attributes.push(NeighbourAttribute::Destination(address(ip)));
        msg.attributes.push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
        let how = if replace { NLM_F_REPLACE } else { NLM_F_EXCL };
        let op = format!("add neighbour {ip} on link {index}");
        self.ack(RouteNetlinkMessage::NewNeighbour(msg), NLM_F_CREATE | how, op).await
    }

    /// Adds a proxy entry: the link answers ARP / neighbour solicitations for `ip`
    /// (`ip neigh add proxy IP dev LINK`).
    pub async fn proxy_add(&self, index: u32, ip: IpAddr) -> Result<()> {
        let mut msg = NeighbourMessage::default();
        msg.header.family = family_of(ip);
        msg.header.ifindex = index;
        msg.header.flags = NeighbourFlags::Proxy;
        msg.header.state = NeighbourState::from(NUD_PERMANENT);
        msg.attributes.push(NeighbourAttribute::Destination(address(ip)));
        let op = format!("add proxy neighbour {ip} on link {index}");
        self.ack(RouteNetlinkMessage::NewNeighbour(msg), NLM_F_CREATE | NLM_F_EXCL, op).await
    }

    /// Deletes a neighbour entry, or a proxy entry (`ip neigh del [proxy] IP dev LINK`).
    pub async fn neigh_del(&self, index: u32, ip: IpAddr, proxy: bool) -> Result<()> {
        let mut msg = NeighbourMessage::default();
        msg.header.family = family_of(ip);
        msg.header.ifindex = index;
        if proxy {
            msg.header.flags = NeighbourFlags::Proxy;
        }
        msg.attributes.push(NeighbourAttribute::Destination(address(ip)));
        self.ack(RouteNetlinkMessage::DelNeighbour(msg), 0, format!("delete neighbour {ip} on link {index}")).await
    }

    /// The entry for `ip` on link `index` (`proxy`: the proxy entry), asked for alone
    /// (RTM_GETNEIGH without a dump: constant time whatever the table's size).
    pub async fn neigh_get(&self, index: u32, ip: IpAddr, proxy: bool) -> Result<Option<NeighEntry>> {
        let mut msg = NeighbourMessage::default();
        msg.header.family = family_of(ip);
        msg.header.ifindex = index;
        if proxy {
            msg.header.flags = NeighbourFlags::Proxy;
        }
        msg.attributes.push(NeighbourAttribute::Destination(address(ip)));
        let mut req = NetlinkMessage::from(RouteNetlinkMessage::GetNeighbour(msg));
        req.header.flags = NLM_F_REQUEST;
        let op = format!("find neighbour {ip} on link {index}");
        let mut handle = self.handle.clone();
        let mut response = handle.request(req).map_err(|e| EngineError::from_netlink(&op, e))?;
        let mut found = None;
        while let Some(msg) = response.next().await {
            match msg.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewNeighbour(m)) => found = entry(&m),
                NetlinkPayload::Error(err) if err.code.is_some() => {
                    let e = EngineError::from_netlink(op, rtnetlink::Error::NetlinkError(err));
                    return if e.code() == Some(nix::errno::Errno::ENOENT) { Ok(None) } else { Err(e) };
                }
                _ => {}
            }
        }
        Ok(found)
    }

    /// Every IPv4 and IPv6 entry of the neighbour table (`proxy`: of the proxy table instead),
    /// whatever its state (`ip neigh show nud all`).
    pub async fn neigh_dump(&self, proxy: bool) -> Result<Vec<NeighEntry>> {
        let mut msg = NeighbourMessage::default();
        if proxy {
            // The kernel dumps the proxy table when the request's flags are exactly NTF_PROXY.
            msg.header.flags = NeighbourFlags::Proxy;
        }
        let msgs = self.dump(msg, "list neighbours").await?;
        Ok(msgs
            .iter()
            // An unspecified-family dump also runs the bridge's (AF_BRIDGE): not neighbours.
            .filter(|m| matches!(m.header.family, AddressFamily::Inet | AddressFamily::Inet6))
            .filter_map(entry)
            .collect())
    }

    /// Adds a forwarding entry (`bridge fdb add|append MAC dev LINK [master] [self] [dst IP]
    /// [vni N] [port P] STATE`). `append` adds one more remote to an all-zero or multicast MAC of
    /// a vxlan (its flood list) instead of refusing an existing entry.
    pub async fn fdb_add(&self, f: &FdbSpec, append: bool) -> Result<()> {
        let mut msg = fdb_message(f);
        msg.header.state = NeighbourState::from(f.state);
        let how = if append { NLM_F_APPEND } else { NLM_F_EXCL };
        let op = format!("add forwarding entry {} on link {}", format_mac(&f.mac), f.index);
        self.ack(RouteNetlinkMessage::NewNeighbour(msg), NLM_F_CREATE | how, op).await
    }

    /// Deletes a forwarding entry (a vxlan's: only the remote `dst` / `vni` / `port` name).
    pub async fn fdb_del(&self, f: &FdbSpec) -> Result<()> {
        let op = format!("delete forwarding entry {} on link {}", format_mac(&f.mac), f.index);
        self.ack(RouteNetlinkMessage::DelNeighbour(fdb_message(f)), 0, op).await
    }

    /// Every forwarding entry of every link (`bridge fdb show`).
    pub async fn fdb_dump(&self) -> Result<Vec<FdbEntry>> {
        let mut msg = NeighbourMessage::default();
        msg.header.family = AddressFamily::Bridge;
        let msgs = self.dump(msg, "list forwarding entries").await?;
        Ok(msgs
            .iter()
            .filter(|m| m.header.family == AddressFamily::Bridge)
            .map(|m| {
                let mut e = FdbEntry {
                    index: m.header.ifindex,
                    mac: String::new(),
                    dst: None,
                    vni: None,
                    port: None,
                    vlan: None,
                    state: u16::from(m.header.state),
                    master: m.header.flags.contains(NeighbourFlags::Controller),
                    own: m.header.flags.contains(NeighbourFlags::Own),
                    bridge: None,
                };
                // The bridge reports its entries with NDA_MASTER, not always with NTF_MASTER.
                for a in &m.attributes {
                    match a {
                        NeighbourAttribute::LinkLayerAddress(b) => e.mac = format_mac(b),
                        NeighbourAttribute::Destination(d) => e.dst = ip_of(d),
                        NeighbourAttribute::Vni(v) => e.vni = Some(*v),
                        NeighbourAttribute::Port(p) => e.port = Some(*p),
                        NeighbourAttribute::Vlan(v) => e.vlan = Some(*v),
                        NeighbourAttribute::Controller(i) => e.bridge = Some(*i),
                        _ => {}
                    }
                }
                e.master |= e.bridge.is_some();
                e
            })
            .collect())
    }

    async fn ack(&self, msg: RouteNetlinkMessage, flags: u16, op: String) -> Result<()> {
        let mut req = NetlinkMessage::from(msg);
        req.header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        self.send_acked(req, op).await
    }

    async fn dump(&self, msg: NeighbourMessage, op: &str) -> Result<Vec<NeighbourMessage>> {
        let mut req = NetlinkMessage::from(RouteNetlinkMessage::GetNeighbour(msg));
        req.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        let mut handle = self.handle.clone();
        let mut response = handle.request(req).map_err(|e| EngineError::from_netlink(op, e))?;
        let mut out = Vec::new();
        while let Some(msg) = response.next().await {
            match msg.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewNeighbour(m)) => out.push(m),
                NetlinkPayload::Error(err) if err.code.is_some() => {
                    return Err(EngineError::from_netlink(op, rtnetlink::Error::NetlinkError(err)));
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

fn entry(m: &NeighbourMessage) -> Option<NeighEntry> {
    let mut ip = None;
    let mut mac = String::new();
    for a in &m.attributes {
        match a {
            NeighbourAttribute::Destination(d) => ip = ip_of(d),
            NeighbourAttribute::LinkLayerAddress(b) => mac = format_mac(b),
            _ => {}
        }
    }
    Some(NeighEntry {
        index: m.header.ifindex,
        ip: ip?,
        mac,
        state: u16::from(m.header.state),
        router: m.header.flags.contains(NeighbourFlags::Router),
        proxy: m.header.flags.contains(NeighbourFlags::Proxy),
    })
}

fn fdb_message(f: &FdbSpec) -> NeighbourMessage {
    let mut msg = NeighbourMessage::default();
    msg.header.family = AddressFamily::Bridge;
    msg.header.ifindex = f.index;
    let mut flags = NeighbourFlags::empty();
    if f.master {
        flags |= NeighbourFlags::Controller;
    }
    if f.own {
        flags |= NeighbourFlags::Own;
    }
    msg.header.flags = flags;
    msg.attributes.push(NeighbourAttribute::LinkLayerAddress(f.mac.to_vec()));
    if let Some(dst) = f.dst {
        msg.attributes.push(NeighbourAttribute::Destination(address(dst)));
    }
    if let Some(vni) = f.vni {
        msg.attributes.push(NeighbourAttribute::Vni(vni));
    }
    if let Some(port) = f.port {
        msg.attributes.push(NeighbourAttribute::Port(port));
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names() {
        assert_eq!(nud_name(NUD_PERMANENT), "permanent");
        assert_eq!(nud_name(NUD_NOARP), "noarp");
        assert_eq!(nud_name(NUD_STALE), "stale");
        assert_eq!(fdb_state_name(NUD_PERMANENT | NUD_NOARP), "permanent");
        assert_eq!(fdb_state_name(NUD_NOARP | NUD_REACHABLE), "static");
        assert_eq!(fdb_state_name(NUD_REACHABLE), "dynamic");
        assert_eq!(fdb_state_name(NUD_STALE), "dynamic");
    }

    #[test]
    fn fdb_messages_carry_the_remote() {
        let f = FdbSpec {
            index: 3,
            mac: [0; 6],
            dst: Some("10.0.0.2".parse().unwrap()),
            vni: Some(7),
            port: Some(4790),
            master: false,
            own: true,
            state: NUD_PERMANENT,
        };
        let m = fdb_message(&f);
        assert_eq!(m.header.flags, NeighbourFlags::Own);
        assert!(m.attributes.contains(&NeighbourAttribute::Port(4790)));
        assert!(m.attributes.contains(&NeighbourAttribute::Vni(7)));
    }
}
