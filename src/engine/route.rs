//! Routes through netlink: add, delete, list (`ip route`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures::TryStreamExt;
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteScope, RouteType};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::RouteMessageBuilder;

use super::error::{EngineError, Result};
use super::netlink::Conn;

/// RT_TABLE_MAIN: what `ip route` shows.
const MAIN_TABLE: u8 = 254;

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

/// A route as the kernel reports it (main table only, like `ip route`).
#[derive(Debug, Clone, PartialEq)]
pub struct RouteInfo {
    pub dst: Option<(IpAddr, u8)>,
    pub via: Option<IpAddr>,
    pub dev: Option<u32>,
    pub metric: Option<u32>,
    pub protocol: String,
    pub scope: String,
    pub kind: String,
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
    pub async fn add_route(&self, spec: &RouteSpec) -> Result<()> {
        self.handle
            .route()
            .add(spec.message())
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

    pub async fn routes(&self) -> Result<Vec<RouteInfo>> {
        let mut out = Vec::new();
        for v6 in [false, true] {
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
            out.extend(msgs.iter().filter(|m| m.header.table == MAIN_TABLE).map(route_info));
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
        other => format!("{other:?}").to_lowercase(),
    }
}
