//! Routes through netlink: add, delete, list (`ip route`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures::TryStreamExt;
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteScope, RouteType};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::RouteMessageBuilder;

use super::error::{EngineError, Result};
use super::netlink::Conn;

/// RT_TABLE_MAIN: what `ip route` shows.
pub const MAIN_TABLE: u32 = 254;
/// RTN_UNICAST: a route to a gateway or a directly connected network.
pub const UNICAST: u8 = 1;
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

/// A route as nslab asks for it. `dst` None is the default route.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RouteSpec {
    pub dst: Option<(IpAddr, u8)>,
    pub via: Option<IpAddr>,
    pub dev: Option<u32>,
    pub metric: Option<u32>,
    /// IPv6 when true; decided by the addresses, needed for a default route with a device only.
    pub v6: bool,
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
}

impl RouteKey {
    pub fn matches(&self, r: &RouteInfo) -> bool {
        r.table == self.table
            && r.v6 == self.v6
            && r.dst == self.dst
            && r.metric.unwrap_or(0) == self.metric
            && r.kind_number == self.kind
            && self.dev.is_none_or(|d| r.dev == Some(d))
            && r.via == self.via
            && r.protocol_number == self.protocol
    }

    /// The delete request: every field of the key set, so that the kernel, which deletes the
    /// first route matching the fields given (an unset metric or table matches any), can only
    /// take this one.
    fn message(&self) -> RouteMessage {
        let spec = RouteSpec { dst: self.dst, via: self.via, dev: self.dev, metric: Some(self.metric), v6: self.v6 };
        let mut msg = spec.message();
        msg.header.scope = RouteScope::NoWhere;
        msg.header.protocol = RouteProtocol::from(self.protocol);
        msg.header.kind = RouteType::from(self.kind);
        match u8::try_from(self.table) {
            Ok(t) => msg.header.table = t,
            Err(_) => msg.attributes.push(RouteAttribute::Table(self.table)),
        }
        msg
    }
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
    pub kind: String,
    pub kind_number: u8,
    pub v6: bool,
}

impl RouteSpec {
    fn message(&self) -> RouteMessage {
        if self.v6 {
            let mut b = RouteMessageBuilder::<Ipv6Addr>::new();
            if let Some((IpAddr::V6(ip), len)) = self.dst {
                b = b.destination_prefix(ip, len);
            }
            if let Some(IpAddr::V6(gw)) = self.via {
                b = b.gateway(gw);
            }
            self.finish(b.get_mut().clone())
        } else {
            let mut b = RouteMessageBuilder::<Ipv4Addr>::new();
            if let Some((IpAddr::V4(ip), len)) = self.dst {
                b = b.destination_prefix(ip, len);
            }
            if let Some(IpAddr::V4(gw)) = self.via {
                b = b.gateway(gw);
            }
            self.finish(b.get_mut().clone())
        }
    }

    fn finish(&self, mut msg: RouteMessage) -> RouteMessage {
        if let Some(dev) = self.dev {
            msg.attributes.push(RouteAttribute::Oif(dev));
            if self.via.is_none() && !self.v6 {
                // A device route without a gateway reaches hosts directly, like `ip route add X dev D`
                // (IPv6 routes are always scope universe, as iproute2 sends them).
                msg.header.scope = RouteScope::Link;
            }
        }
        if let Some(metric) = self.metric {
            msg.attributes.push(RouteAttribute::Priority(metric));
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
    /// Adds a route marked as nslab's (`NSLAB_PROTOCOL`), in the main table.
    pub async fn add_route(&self, spec: &RouteSpec) -> Result<()> {
        let mut msg = spec.message();
        msg.header.protocol = RouteProtocol::from(NSLAB_PROTOCOL);
        self.handle
            .route()
            .add(msg)
            .execute()
            .await
            .map_err(|e| EngineError::from_netlink(format!("add route {}", spec.describe()), e))
    }

    /// Deletes the first route that matches what `spec` gives, whatever its protocol, scope and
    /// type (like `ip route del`: a connected route or a device route can be deleted too).
    pub async fn del_route(&self, spec: &RouteSpec) -> Result<()> {
        let mut msg = spec.message();
        msg.header.protocol = RouteProtocol::Unspec;
        msg.header.scope = RouteScope::NoWhere;
        msg.header.kind = RouteType::Unspec;
        self.handle
            .route()
            .del(msg)
            .execute()
            .await
            .map_err(|e| EngineError::from_netlink(format!("delete route {}", spec.describe()), e))
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
        let mut exact = key.clone();
        exact.dev = found.dev;
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

    /// Every route of one family, in every table.
    async fn all_routes(&self, v6: bool) -> Result<Vec<RouteInfo>> {
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
        Ok(msgs.iter().map(route_info).collect())
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
    let mut info = RouteInfo {
        table: u32::from(m.header.table),
        protocol_number: u8::from(m.header.protocol),
        kind_number: u8::from(m.header.kind),
        dst: None,
        via: None,
        dev: None,
        metric: None,
        protocol: protocol_name(m.header.protocol),
        scope: match m.header.scope {
            // `ip route` and addrs() call it global.
            RouteScope::Universe => "global".into(),
            other => format!("{other:?}").to_lowercase(),
        },
        kind: format!("{:?}", m.header.kind).to_lowercase(),
        v6,
    };
    for attr in &m.attributes {
        match attr {
            RouteAttribute::Destination(a) => info.dst = address(a).map(|ip| (ip, m.header.destination_prefix_length)),
            RouteAttribute::Gateway(a) => info.via = address(a),
            RouteAttribute::Oif(i) => info.dev = Some(*i),
            RouteAttribute::Priority(p) => info.metric = Some(*p),
            RouteAttribute::Table(t) => info.table = *t,
            _ => {}
        }
    }
    if info.dst.is_none() && m.header.destination_prefix_length > 0 {
        info.dst = Some((
            if v6 { IpAddr::V6(Ipv6Addr::UNSPECIFIED) } else { IpAddr::V4(Ipv4Addr::UNSPECIFIED) },
            m.header.destination_prefix_length,
        ));
    }
    info
}

fn protocol_name(p: RouteProtocol) -> String {
    match p {
        RouteProtocol::Kernel => "kernel".into(),
        RouteProtocol::Boot => "boot".into(),
        RouteProtocol::Static => "static".into(),
        RouteProtocol::Dhcp => "dhcp".into(),
        RouteProtocol::Ra => "ra".into(),
        RouteProtocol::Other(NSLAB_PROTOCOL) => "nslab".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}
