//! Read-only questions about how a namespace would forward a packet: the route the kernel picks
//! for a destination (`ip route get`), the neighbour table (`ip neigh`), and whether it forwards.

use std::fs::File;
use std::net::IpAddr;

use futures::TryStreamExt;
use rtnetlink::packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteFlags, RouteMessage, RouteType};
use rtnetlink::packet_route::AddressFamily;

use super::error::{EngineError, Result};
use super::netlink::Conn;
use super::netns;

/// The route the kernel chose for one destination.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteLookup {
    /// "unicast", "local", "broadcast", ...
    pub kind: String,
    pub dev: Option<u32>,
    pub via: Option<IpAddr>,
    /// The source address the kernel would use.
    pub src: Option<IpAddr>,
    pub table: Option<u32>,
}

/// What `ip route get` selects on besides the destination: a source address, an input link
/// (the packet arrives there, as if forwarded), an output link and a firewall mark.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouteQuery {
    pub from: Option<IpAddr>,
    pub iif: Option<u32>,
    pub oif: Option<u32>,
    pub mark: Option<u32>,
}

/// One entry of the neighbour (ARP / NDP) table.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbour {
    pub index: u32,
    pub address: IpAddr,
    /// "reachable", "stale", "delay", "probe", "incomplete", "failed", "noarp", "permanent".
    pub state: String,
    pub lladdr: Option<String>,
}

impl Neighbour {
    /// Whether the link-layer address is known (the kernel can send to it).
    pub fn resolved(&self) -> bool {
        matches!(self.state.as_str(), "reachable" | "stale" | "delay" | "probe" | "noarp" | "permanent")
    }
}

fn ip_of(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(ip) => Some(IpAddr::V4(*ip)),
        RouteAddress::Inet6(ip) => Some(IpAddr::V6(*ip)),
        _ => None,
    }
}

fn route_address(ip: IpAddr) -> RouteAddress {
    match ip {
        IpAddr::V4(v4) => RouteAddress::Inet(v4),
        IpAddr::V6(v6) => RouteAddress::Inet6(v6),
    }
}

fn type_name(kind: RouteType) -> String {
    match kind {
        RouteType::Unicast => "unicast".into(),
        RouteType::Local => "local".into(),
        RouteType::Broadcast => "broadcast".into(),
        RouteType::Anycast => "anycast".into(),
        RouteType::Multicast => "multicast".into(),
        RouteType::BlackHole => "blackhole".into(),
        RouteType::Unreachable => "unreachable".into(),
        RouteType::Prohibit => "prohibit".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

impl Conn {
    /// Asks the kernel which route it would use for `dst` (RTM_GETROUTE for one address, like
    /// `ip route get DST`). No route comes back as the errno the kernel gives: ENETUNREACH
    /// (no route), EHOSTUNREACH (an unreachable route), EINVAL (blackhole), EACCES (prohibit).
    pub async fn route_get(&self, dst: IpAddr) -> Result<RouteLookup> {
        self.route_query(dst, &RouteQuery::default()).await
    }

    /// `route_get` with the rest of `ip route get`'s selectors: `from`, `iif`, `oif`, `mark`.
    pub async fn route_query(&self, dst: IpAddr, q: &RouteQuery) -> Result<RouteLookup> {
        let op = format!("look up the route to {dst}");
        let mut msg = RouteMessage::default();
        msg.header.address_family = if dst.is_ipv4() { AddressFamily::Inet } else { AddressFamily::Inet6 };
        msg.header.destination_prefix_length = if dst.is_ipv4() { 32 } else { 128 };
        msg.attributes.push(RouteAttribute::Destination(route_address(dst)));
        // Report the table the route was found in (as `ip route get` asks), not main.
        msg.header.flags |= RouteFlags::LookupTable;
        if let Some(from) = q.from {
            msg.header.source_prefix_length = if from.is_ipv4() { 32 } else { 128 };
            msg.attributes.push(RouteAttribute::Source(route_address(from)));
        }
        if let Some(i) = q.iif {
            msg.attributes.push(RouteAttribute::Iif(i));
        }
        if let Some(o) = q.oif {
            msg.attributes.push(RouteAttribute::Oif(o));
        }
        if let Some(m) = q.mark {
            msg.attributes.push(RouteAttribute::Mark(m));
        }
        let mut stream = self.handle.route().get(msg).execute();
        let reply = match stream.try_next().await {
            Ok(Some(m)) => m,
            Ok(None) => return Err(EngineError::errno(op, nix::errno::Errno::ENETUNREACH)),
            Err(e) => return Err(EngineError::from_netlink(op, e)),
        };
        let mut found = RouteLookup { kind: type_name(reply.header.kind), dev: None, via: None, src: None, table: None };
        for attr in &reply.attributes {
            match attr {
                RouteAttribute::Oif(i) => found.dev = Some(*i),
                RouteAttribute::Gateway(a) => found.via = ip_of(a),
                RouteAttribute::PrefSource(a) => found.src = ip_of(a),
                RouteAttribute::Table(t) => found.table = Some(*t),
                _ => {}
            }
        }
        if found.table.is_none() {
            found.table = Some(u32::from(reply.header.table));
        }
        Ok(found)
    }

    /// The neighbour table, IPv4 and IPv6 (`ip neigh show`).
    pub async fn neighbours(&self) -> Result<Vec<Neighbour>> {
        let msgs: Vec<NeighbourMessage> = self
            .handle
            .neighbours()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| EngineError::from_netlink("list neighbours", e))?;
        Ok(msgs.iter().filter_map(neighbour).collect())
    }
}

fn neighbour(m: &NeighbourMessage) -> Option<Neighbour> {
    let mut address = None;
    let mut lladdr = None;
    for attr in &m.attributes {
        match attr {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)) => address = Some(IpAddr::V4(*ip)),
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(ip)) => address = Some(IpAddr::V6(*ip)),
            NeighbourAttribute::LinkLayerAddress(bytes) => lladdr = Some(super::netlink::format_mac(bytes)),
            _ => {}
        }
    }
    let state = match m.header.state {
        NeighbourState::Incomplete => "incomplete".to_string(),
        NeighbourState::Reachable => "reachable".into(),
        NeighbourState::Stale => "stale".into(),
        NeighbourState::Delay => "delay".into(),
        NeighbourState::Probe => "probe".into(),
        NeighbourState::Failed => "failed".into(),
        NeighbourState::Noarp => "noarp".into(),
        NeighbourState::Permanent => "permanent".into(),
        NeighbourState::None => "none".into(),
        other => format!("{other:?}").to_lowercase(),
    };
    Some(Neighbour { index: m.header.ifindex, address: address?, state, lladdr })
}

/// Whether a namespace forwards packets of a family between its links
/// (`net.ipv4.ip_forward` / `net.ipv6.conf.all.forwarding`). `ns` None: where the thread is.
pub fn forwarding(ns: Option<&File>, home: &File, v6: bool) -> Result<bool> {
    let path = if v6 { "/proc/sys/net/ipv6/conf/all/forwarding" } else { "/proc/sys/net/ipv4/ip_forward" };
    // /proc/sys/net opened from a thread shows that thread's namespace.
    let read = || std::fs::read_to_string(path);
    let text = match ns {
        Some(f) => netns::within(f, home, read)?,
        None => read(),
    }
    .map_err(|e| EngineError::io(format!("read {path}"), e))?;
    Ok(text.trim() != "0")
}
