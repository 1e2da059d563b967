//! Routes through netlink: add, delete, list (`ip route`), in any table, of any type, with
//! multipath nexthops (RTA_MULTIPATH, IPv4 and IPv6).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures::TryStreamExt;
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteMessage, RouteNextHop, RouteNextHopFlags, RouteProtocol, RouteScope, RouteType,
};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::RouteMessageBuilder;

use super::error::{EngineError, Result};
use super::netlink::Conn;

/// RT_TABLE_MAIN: what `ip route` shows.
pub const MAIN_TABLE: u32 = 254;
/// RT_TABLE_LOCAL: local and broadcast routes (`ip route show table local`).
pub const LOCAL_TABLE: u32 = 255;
/// RT_TABLE_DEFAULT.
pub const DEFAULT_TABLE: u32 = 253;
/// RTN_UNICAST: a route to a gateway or a directly connected network.
pub const UNICAST: u8 = 1;
/// RTN_LOCAL: an address of this host.
pub const LOCAL: u8 = 2;
/// RT_SCOPE_* numbers.
pub const SCOPE_UNIVERSE: u8 = 0;
pub const SCOPE_LINK: u8 = 253;
pub const SCOPE_HOST: u8 = 254;
/// The routing protocol number nslab marks its routes with (`rtm_protocol`; `ip route` shows
/// `proto 110`), so that they can be told from anyone else's even without the ledger. Numbers
/// up to 4 are the kernel's; this one is in neither the kernel's RTPROT_* list nor iproute2's
/// rt_protos.
pub const NSLAB_PROTOCOL: u8 = 110;
/// The metric a route gets when none is given: the kernel's own defaults (IPv4 0,
/// IPv6 IP6_RT_PRIO_USER), stated in the request so that the route's whole key is known.
pub fn default_metric(v6: bool) -> u32 {
    if v6 {
        1024
    } else {
        0
    }
}

/// The route types nslab creates, by the names `ip route` gives them (RTN_*).
pub const TYPES: &[(&str, u8)] =
    &[("unicast", 1), ("local", 2), ("blackhole", 6), ("unreachable", 7), ("prohibit", 8), ("throw", 9)];

/// A route type's name as `ip route` prints it ("unicast", "broadcast", ...).
pub fn type_name(kind: u8) -> String {
    const ALL: &[&str] = &[
        "unspec",
        "unicast",
        "local",
        "broadcast",
        "anycast",
        "multicast",
        "blackhole",
        "unreachable",
        "prohibit",
        "throw",
        "nat",
        "xresolve",
    ];
    ALL.get(kind as usize).map(|s| s.to_string()).unwrap_or_else(|| kind.to_string())
}

/// A scope's name as nslab shows it ("global" for universe, as `ip addr` says).
pub fn scope_name(scope: u8) -> String {
    match scope {
        0 => "global".into(),
        200 => "site".into(),
        253 => "link".into(),
        254 => "host".into(),
        255 => "nowhere".into(),
        n => n.to_string(),
    }
}

/// One nexthop of a multipath route as asked for. `weight` is 1 to 256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextHop {
    pub via: Option<IpAddr>,
    pub dev: Option<u32>,
    pub weight: u16,
    pub onlink: bool,
}

/// A route as nslab asks for it. `dst` None is the default route.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RouteSpec {
    pub dst: Option<(IpAddr, u8)>,
    pub via: Option<IpAddr>,
    pub dev: Option<u32>,
    pub metric: Option<u32>,
    /// IPv6 when true; decided by the addresses, needed for a default route with a device only.
    pub v6: bool,
    /// None: the main table.
    pub table: Option<u32>,
    /// RTN_*; 0: unicast.
    pub kind: u8,
    /// RT_SCOPE_*; None: universe.
    pub scope: Option<u8>,
    /// The preferred source address (RTA_PREFSRC).
    pub src: Option<IpAddr>,
    /// None: nslab's own (`NSLAB_PROTOCOL`).
    pub protocol: Option<u8>,
    /// RTNH_F_ONLINK on the single nexthop (each multipath nexthop has its own).
    pub onlink: bool,
    /// Two or more: a multipath route (RTA_MULTIPATH); `via`/`dev` are then unused.
    pub nexthops: Vec<NextHop>,
}

/// A route's whole key: what tells one route from every other in a namespace. `dev` None
/// matches any output link (the kernel chose it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteKey {
    pub table: u32,
    pub dst: Option<(IpAddr, u8)>,
    pub metric: u32,
    pub kind: u8,
    pub dev: Option<u32>,
    pub via: Option<IpAddr>,
    pub protocol: u8,
    pub v6: bool,
    /// A multipath route's nexthops (gateway, output link, weight), in the kernel's order.
    pub nexthops: Vec<(Option<IpAddr>, Option<u32>, u16)>,
}

impl RouteKey {
    pub fn matches(&self, r: &RouteInfo) -> bool {
        let hops: Vec<(Option<IpAddr>, Option<u32>, u16)> = r.nexthops.iter().map(|h| (h.via, h.dev, h.weight)).collect();
        r.table == self.table
            && r.v6 == self.v6
            && r.dst == self.dst
            && r.metric.unwrap_or(0) == self.metric
            && r.kind_number == self.kind
            && self.dev.is_none_or(|d| r.dev == Some(d))
            && r.via == self.via
            && r.protocol_number == self.protocol
            && hops == self.nexthops
    }

    /// The delete request: every field of the key set, so that the kernel, which deletes the
    /// first route matching the fields given (an unset metric or table matches any), can only
    /// take this one.
    fn message(&self) -> RouteMessage {
        let spec = RouteSpec {
            dst: self.dst,
            via: self.via,
            dev: self.dev,
            metric: Some(self.metric),
            v6: self.v6,
            table: Some(self.table),
            kind: self.kind,
            protocol: Some(self.protocol),
            nexthops: self.nexthops.iter().map(|&(via, dev, weight)| NextHop { via, dev, weight, onlink: false }).collect(),
            ..RouteSpec::default()
        };
        let mut msg = spec.message();
        msg.header.scope = RouteScope::NoWhere;
        msg
    }
}

/// One nexthop of a multipath route as the kernel reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct NextHopInfo {
    pub via: Option<IpAddr>,
    pub dev: Option<u32>,
    pub weight: u16,
    pub onlink: bool,
}

/// A route as the kernel reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteInfo {
    pub table: u32,
    pub dst: Option<(IpAddr, u8)>,
    pub via: Option<IpAddr>,
    pub dev: Option<u32>,
    pub metric: Option<u32>,
    pub protocol: String,
    pub protocol_number: u8,
    pub scope: String,
    pub scope_number: u8,
    pub kind: String,
    pub kind_number: u8,
    pub v6: bool,
    pub src: Option<IpAddr>,
    pub onlink: bool,
    /// Empty unless the route is multipath.
    pub nexthops: Vec<NextHopInfo>,
}

impl RouteInfo {
    /// The key that names exactly this route.
    pub fn key(&self) -> RouteKey {
        RouteKey {
            table: self.table,
            dst: self.dst,
            metric: self.metric.unwrap_or(0),
            kind: self.kind_number,
            dev: self.dev,
            via: self.via,
            protocol: self.protocol_number,
            v6: self.v6,
            nexthops: self.nexthops.iter().map(|h| (h.via, h.dev, h.weight)).collect(),
        }
    }
}

fn route_address(ip: IpAddr) -> RouteAddress {
    match ip {
        IpAddr::V4(v4) => RouteAddress::Inet(v4),
        IpAddr::V6(v6) => RouteAddress::Inet6(v6),
    }
}

impl RouteSpec {
    fn message(&self) -> RouteMessage {
        let mut msg = if self.v6 {
            let mut b = RouteMessageBuilder::<Ipv6Addr>::new();
            if let Some((IpAddr::V6(ip), len)) = self.dst {
                b = b.destination_prefix(ip, len);
            }
            if let Some(IpAddr::V6(gw)) = self.via {
                b = b.gateway(gw);
            }
            b.get_mut().clone()
        } else {
            let mut b = RouteMessageBuilder::<Ipv4Addr>::new();
            if let Some((IpAddr::V4(ip), len)) = self.dst {
                b = b.destination_prefix(ip, len);
            }
            if let Some(IpAddr::V4(gw)) = self.via {
                b = b.gateway(gw);
            }
            b.get_mut().clone()
        };
        if let Some(dev) = self.dev {
            msg.attributes.push(RouteAttribute::Oif(dev));
        }
        if let Some(metric) = self.metric {
            msg.attributes.push(RouteAttribute::Priority(metric));
        }
        let table = self.table.unwrap_or(MAIN_TABLE);
        // As iproute2 sends it: the header's byte when the number fits, RTA_TABLE always.
        msg.header.table = u8::try_from(table).unwrap_or(0);
        msg.attributes.push(RouteAttribute::Table(table));
        msg.header.kind = RouteType::from(if self.kind == 0 { UNICAST } else { self.kind });
        msg.header.scope = RouteScope::from(self.scope.unwrap_or(SCOPE_UNIVERSE));
        msg.header.protocol = RouteProtocol::from(self.protocol.unwrap_or(NSLAB_PROTOCOL));
        if let Some(src) = self.src {
            msg.attributes.push(RouteAttribute::PrefSource(route_address(src)));
        }
        // A multipath route's is per nexthop (the kernel ignores it in the header there).
        if self.onlink && self.nexthops.is_empty() {
            msg.header.flags |= RouteFlags::Onlink;
        }
        if !self.nexthops.is_empty() {
            let hops = self
                .nexthops
                .iter()
                .map(|h| {
                    let mut hop = RouteNextHop::default();
                    hop.hops = u8::try_from(h.weight.clamp(1, 256) - 1).unwrap_or(255);
                    hop.interface_index = h.dev.unwrap_or(0);
                    if h.onlink {
                        hop.flags |= RouteNextHopFlags::Onlink;
                    }
                    if let Some(via) = h.via {
                        hop.attributes.push(RouteAttribute::Gateway(route_address(via)));
                    }
                    hop
                })
                .collect();
            msg.attributes.push(RouteAttribute::MultiPath(hops));
        }
        msg
    }

    fn describe(&self) -> String {
        let mut s = match self.dst {
            Some((ip, len)) => format!("{ip}/{len}"),
            None => "default".into(),
        };
        if let Some(via) = self.via {
            s += &format!(" via {via}");
        }
        s
    }
}

impl Conn {
    /// Adds a route exactly as `spec` says (protocol: nslab's unless given); refused with
    /// EEXIST when its destination and metric are taken in that table.
    pub async fn add_route(&self, spec: &RouteSpec) -> Result<()> {
        self.handle
            .route()
            .add(spec.message())
            .execute()
            .await
            .map_err(|e| EngineError::from_netlink(format!("add route {}", spec.describe()), e))
    }

    /// The route with exactly this key, if there is one (the first of several when `dev` is
    /// None).
    pub async fn find_route(&self, key: &RouteKey) -> Result<Option<RouteInfo>> {
        Ok(self.all_routes(key.v6).await?.into_iter().find(|r| key.matches(r)))
    }

    /// Deletes the route with exactly this key, and only when it exists: Ok(false) when there
    /// is none (nothing is sent, so no other route can be taken instead).
    pub async fn del_route_exact(&self, key: &RouteKey) -> Result<bool> {
        let Some(found) = self.find_route(key).await? else { return Ok(false) };
        let exact = found.key();
        let done = self.handle.route().del(exact.message()).execute().await;
        match done {
            Ok(()) => Ok(true),
            Err(e) => {
                let e = EngineError::from_netlink("delete route", e);
                if e.code() == Some(nix::errno::Errno::ESRCH) {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Every route of one family, in every table (cached clones excluded).
    pub async fn all_routes(&self, v6: bool) -> Result<Vec<RouteInfo>> {
        let query =
            if v6 { RouteMessageBuilder::<Ipv6Addr>::new().build() } else { RouteMessageBuilder::<Ipv4Addr>::new().build() };
        let msgs: Vec<RouteMessage> = self
            .handle
            .route()
            .get(query)
            .execute()
            .try_collect()
            .await
            .map_err(|e| EngineError::from_netlink("list routes", e))?;
        Ok(msgs.iter().filter(|m| !m.header.flags.contains(RouteFlags::Cloned)).map(route_info).collect())
    }

    /// The routes outside the main table that the kernel did not make itself (its own fill the
    /// local table), both families.
    pub async fn routes_beyond_main(&self) -> Result<Vec<RouteInfo>> {
        let mut out = Vec::new();
        for v6 in [false, true] {
            out.extend(self.all_routes(v6).await?.into_iter().filter(|r| r.table != MAIN_TABLE && r.protocol_number != 2));
        }
        Ok(out)
    }

    /// The main table, IPv4 then IPv6, like `ip route; ip -6 route`.
    pub async fn routes(&self) -> Result<Vec<RouteInfo>> {
        let mut out = Vec::new();
        for v6 in [false, true] {
            out.extend(self.all_routes(v6).await?.into_iter().filter(|r| r.table == MAIN_TABLE));
        }
        Ok(out)
    }
}

fn address(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(ip) => Some(IpAddr::V4(*ip)),
        RouteAddress::Inet6(ip) => Some(IpAddr::V6(*ip)),
        _ => None,
    }
}

fn route_info(m: &RouteMessage) -> RouteInfo {
    let v6 = m.header.address_family == AddressFamily::Inet6;
    let scope = u8::from(m.header.scope);
    let kind = u8::from(m.header.kind);
    let mut info = RouteInfo {
        table: u32::from(m.header.table),
        protocol_number: u8::from(m.header.protocol),
        kind_number: kind,
        dst: None,
        via: None,
        dev: None,
        metric: None,
        protocol: protocol_name(u8::from(m.header.protocol)),
        scope: scope_name(scope),
        scope_number: scope,
        kind: type_name(kind),
        v6,
        src: None,
        onlink: m.header.flags.contains(RouteFlags::Onlink),
        nexthops: Vec::new(),
    };
    for attr in &m.attributes {
        match attr {
            RouteAttribute::Destination(a) => info.dst = address(a).map(|ip| (ip, m.header.destination_prefix_length)),
            RouteAttribute::Gateway(a) => info.via = address(a),
            RouteAttribute::Oif(i) => info.dev = Some(*i),
            RouteAttribute::Priority(p) => info.metric = Some(*p),
            RouteAttribute::Table(t) => info.table = *t,
            RouteAttribute::PrefSource(a) => info.src = address(a),
            RouteAttribute::MultiPath(hops) => {
                info.nexthops = hops
                    .iter()
                    .map(|h| NextHopInfo {
                        via: h.attributes.iter().find_map(|a| match a {
                            RouteAttribute::Gateway(g) => address(g),
                            _ => None,
                        }),
                        dev: (h.interface_index != 0).then_some(h.interface_index),
                        weight: u16::from(h.hops) + 1,
                        onlink: h.flags.contains(RouteNextHopFlags::Onlink),
                    })
                    .collect()
            }
            _ => {}
        }
    }
    if !info.nexthops.is_empty() {
        // The route is onlink when its nexthops are (iproute2 shows it per nexthop).
        info.onlink = info.nexthops.iter().all(|h| h.onlink);
    }
    if info.dst.is_none() && m.header.destination_prefix_length > 0 {
        info.dst = Some((
            if v6 { IpAddr::V6(Ipv6Addr::UNSPECIFIED) } else { IpAddr::V4(Ipv4Addr::UNSPECIFIED) },
            m.header.destination_prefix_length,
        ));
    }
    info
}

/// The routing protocols by the names iproute2 gives them (`/usr/share/iproute2/rt_protos`),
/// and nslab's own.
pub const PROTOCOLS: &[(&str, u8)] = &[
    ("redirect", 1),
    ("kernel", 2),
    ("boot", 3),
    ("static", 4),
    ("gated", 8),
    ("ra", 9),
    ("mrt", 10),
    ("zebra", 11),
    ("bird", 12),
    ("dnrouted", 13),
    ("xorp", 14),
    ("ntk", 15),
    ("dhcp", 16),
    ("keepalived", 18),
    ("babel", 42),
    ("openr", 99),
    ("nslab", NSLAB_PROTOCOL),
    ("bgp", 186),
    ("isis", 187),
    ("ospf", 188),
    ("rip", 189),
    ("eigrp", 192),
];

/// A protocol's name, or its number as text.
pub fn protocol_name(p: u8) -> String {
    if p == 0 {
        return "unspec".into();
    }
    PROTOCOLS.iter().find(|(_, n)| *n == p).map(|(s, _)| s.to_string()).unwrap_or_else(|| p.to_string())
}
