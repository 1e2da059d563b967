//! What `route` and `route_del` are given, resolved: names to numbers, link names to indexes,
//! one family; and the request `route` sends, with the defaults `ip route add` gives.

use std::net::IpAddr;

use super::validate_routes::{self as vr, NameOrNumber};
use super::{validate, Lab, LabError, Ns, Result};
use crate::engine::route::{self, NextHop, RouteInfo, RouteSpec};

/// A route as a script names it (`route`, `route_del`): every field optional, checked here.
#[derive(Debug, Clone, Default)]
pub struct RouteArgs {
    /// Gateway address.
    pub via: Option<String>,
    /// Output link name.
    pub dev: Option<String>,
    /// Route metric (priority).
    pub metric: Option<u32>,
    /// Routing table.
    pub table: Option<NameOrNumber>,
    /// The route type ("unicast", "local", "blackhole", ...).
    pub kind: Option<String>,
    /// The gateway is on the link, whatever its address says.
    pub onlink: Option<bool>,
    /// Preferred source address.
    pub src: Option<String>,
    /// Route scope.
    pub scope: Option<NameOrNumber>,
    /// Routing protocol mark.
    pub proto: Option<NameOrNumber>,
    /// Multipath nexthops.
    pub nexthops: Option<Vec<HopArgs>>,
}

/// One nexthop of a multipath route as a script gives it.
#[derive(Debug, Clone, Default)]
pub struct HopArgs {
    /// Gateway address.
    pub via: Option<String>,
    /// Output link name.
    pub dev: Option<String>,
    /// Nexthop weight (1 to 256).
    pub weight: Option<i64>,
    /// The gateway is on the link, whatever its address says.
    pub onlink: Option<bool>,
}

/// A route as asked for, resolved: what was given (None: not given) and the family.
#[derive(Debug, Clone, Default)]
pub(super) struct Wanted {
    pub v6: bool,
    pub dst: Option<(IpAddr, u8)>,
    pub table: u32,
    pub kind: Option<u8>,
    pub via: Option<IpAddr>,
    pub dev: Option<u32>,
    pub metric: Option<u32>,
    pub scope: Option<u8>,
    pub src: Option<IpAddr>,
    pub protocol: Option<u8>,
    pub onlink: Option<bool>,
    pub nexthops: Option<Vec<NextHop>>,
    /// Which nexthop weights were given (deleting compares only those).
    pub weights_given: Vec<bool>,
}

/// A network (address and prefix length); None: the default route.
type Prefix = Option<(IpAddr, u8)>;

/// A destination: "default" or a CIDR ("0.0.0.0/0" and "::/0" are the default routes of a
/// family); an address alone is a host route. The family when the text says it.
pub(super) fn destination(dst: &str) -> Result<(Prefix, Option<bool>)> {
    if dst == "default" {
        return Ok((None, None));
    }
    let c = validate::network("route destination", dst)?;
    Ok(((c.prefix > 0).then_some((c.ip, c.prefix)), Some(c.ip.is_ipv6())))
}

/// A route's destination as `routes()` and messages show it: "default" for either family's
/// default route (as `ip route` does), else a CIDR.
pub(super) fn dst_view(dst: Option<(IpAddr, u8)>) -> String {
    dst.map(|(ip, len)| format!("{ip}/{len}")).unwrap_or_else(|| "default".into())
}

/// A route's destination as the ledger records it: "default" for IPv4's, "::/0" for IPv6's.
pub(super) fn dst_text(dst: Option<(IpAddr, u8)>, v6: bool) -> String {
    match dst {
        Some((ip, len)) => format!("{ip}/{len}"),
        None if v6 => "::/0".into(),
        None => "default".into(),
    }
}

pub(super) fn gateway(text: &str) -> Result<IpAddr> {
    let gw = validate::ip_as("gateway", text)?;
    if let Some(why) = validate::not_unicast(gw) {
        return Err(LabError::Invalid {
            what: "gateway",
            value: text.into(),
            reason: format!("{why}; a gateway is a neighbour's unicast address"),
        });
    }
    Ok(gw)
}

impl Lab {
    /// Resolves a route's arguments: names to numbers, link names to indexes, one family.
    pub(super) fn wanted(&mut self, ns: &Ns, dst: &str, a: &RouteArgs) -> Result<Wanted> {
        let (dst_net, dst_v6) = destination(dst)?;
        let via = a.via.as_deref().map(gateway).transpose()?;
        let src = a.src.as_deref().map(|s| validate::ip_as("source address (src)", s)).transpose()?;
        let kind = a.kind.as_deref().map(vr::route_type).transpose()?;
        let mut hops_v6 = None;
        let mut nexthops = None;
        let mut weights_given = Vec::new();
        if let Some(hops) = &a.nexthops {
            if hops.is_empty() {
                return Err(LabError::Invalid {
                    what: "nexthops",
                    value: "[]".into(),
                    reason: "give at least one #{via, dev, weight, onlink}, or leave nexthops out".into(),
                });
            }
            let mut out = Vec::new();
            for (i, h) in hops.iter().enumerate() {
                if h.via.is_none() && h.dev.is_none() {
                    return Err(LabError::Invalid {
                        what: "nexthop",
                        value: format!("#{}", i + 1),
                        reason: "each nexthop needs a gateway (via) or a device (dev)".into(),
                    });
                }
                let hv = h.via.as_deref().map(gateway).transpose()?;
                if let Some(g) = hv {
                    vr::same_family("gateway", g, hops_v6, "the first nexthop's")?;
                    hops_v6.get_or_insert(g.is_ipv6());
                }
                let dev = h.dev.as_deref().map(|d| self.index(ns, d)).transpose()?;
                let weight = h.weight.map(vr::weight).transpose()?;
                weights_given.push(weight.is_some());
                let onlink = h.onlink.or(a.onlink).unwrap_or(false);
                out.push(NextHop { via: hv, dev, weight: weight.unwrap_or(1), onlink });
            }
            nexthops = Some(out);
        }
        // The family: the destination's, else the gateway's, the nexthops', the source's.
        let v6 = dst_v6.or(via.map(|g| g.is_ipv6())).or(hops_v6).or(src.map(|s| s.is_ipv6())).unwrap_or(false);
        let said = || dst_v6.map(|_| format!("the destination {dst}")).unwrap_or_else(|| "the route".into());
        if let Some(g) = via {
            vr::same_family("gateway", g, Some(v6), &said())?;
        }
        if let Some(s) = src {
            vr::same_family("source address (src)", s, Some(v6), &said())?;
        }
        if let Some(g) = nexthops.iter().flatten().find_map(|h| h.via) {
            vr::same_family("gateway", g, Some(v6), &said())?;
        }
        let table = match &a.table {
            Some(t) => vr::table(t)?,
            None if kind == Some(route::LOCAL) => route::LOCAL_TABLE,
            None => route::MAIN_TABLE,
        };
        Ok(Wanted {
            v6,
            dst: dst_net,
            table,
            kind,
            via,
            dev: a.dev.as_deref().map(|d| self.index(ns, d)).transpose()?,
            metric: a.metric,
            scope: a.scope.as_ref().map(vr::scope).transpose()?,
            src,
            protocol: a.proto.as_ref().map(vr::protocol).transpose()?,
            onlink: a.onlink,
            nexthops,
            weights_given,
        })
    }
}

/// The request `route` sends: the defaults `ip route add` gives (table: local for type local,
/// main otherwise; scope: host for local, link for a unicast route without gateway, universe
/// otherwise and always for IPv6; the kernel's default metric), checked for what the kernel
/// refuses only with EINVAL.
pub(super) fn add_spec(dst: &str, w: &Wanted) -> Result<RouteSpec> {
    let kind = w.kind.unwrap_or(route::UNICAST);
    let refuse = |reason: String| Err(LabError::Invalid { what: "route", value: dst.into(), reason });
    let rejecting = ![route::UNICAST, route::LOCAL].contains(&kind);
    let type_name = route::type_name(kind);
    if rejecting && (w.via.is_some() || w.dev.is_some() || w.nexthops.is_some()) {
        return refuse(format!("a {type_name} route takes no gateway (via), device (dev) or nexthops"));
    }
    if w.nexthops.is_some() && (w.via.is_some() || w.dev.is_some()) {
        return refuse("give either via/dev or nexthops, not both".into());
    }
    if kind == route::UNICAST && w.via.is_none() && w.dev.is_none() && w.nexthops.is_none() {
        return refuse("it needs a gateway (via), a device (dev) or nexthops".into());
    }
    if kind == route::LOCAL && w.dev.is_none() {
        return refuse("a local route needs a device (dev): the link whose address it is".into());
    }
    if w.onlink == Some(true) && w.nexthops.is_none() && (w.via.is_none() || w.dev.is_none()) {
        return refuse("onlink needs a gateway (via) and a device (dev): it says the gateway is on that link".into());
    }
    if let Some(i) = w.nexthops.iter().flatten().position(|h| h.onlink && (h.via.is_none() || h.dev.is_none())) {
        return refuse(format!("nexthop #{} is onlink: it needs a gateway (via) and a device (dev)", i + 1));
    }
    let mut spec = RouteSpec {
        dst: w.dst,
        via: w.via,
        dev: w.dev,
        metric: Some(w.metric.unwrap_or(route::default_metric(w.v6))),
        v6: w.v6,
        table: Some(w.table),
        kind,
        scope: None,
        src: w.src,
        protocol: Some(w.protocol.unwrap_or(route::NSLAB_PROTOCOL)),
        onlink: w.onlink.unwrap_or(false),
        nexthops: Vec::new(),
    };
    // One nexthop is a single path (the kernel stores it so too).
    match w.nexthops.as_deref() {
        Some([one]) => {
            spec.via = one.via;
            spec.dev = one.dev;
            spec.onlink = one.onlink;
        }
        Some(many) => spec.nexthops = many.to_vec(),
        None => {}
    }
    spec.scope = Some(match w.scope {
        Some(s) => s,
        None if w.v6 => route::SCOPE_UNIVERSE,
        None if kind == route::LOCAL => route::SCOPE_HOST,
        None if kind == route::UNICAST && spec.via.is_none() && spec.nexthops.is_empty() => route::SCOPE_LINK,
        None => route::SCOPE_UNIVERSE,
    });
    Ok(spec)
}

impl Wanted {
    /// Whether a route has every field given.
    pub(super) fn matches(&self, r: &RouteInfo) -> bool {
        let kind_ok = self.kind.is_none_or(|k| r.kind_number == k);
        let hops_ok = self.nexthops.as_ref().is_none_or(|hops| {
            // One nexthop names a single-path route.
            if let [one] = hops.as_slice() {
                return r.nexthops.is_empty()
                    && one.via.is_none_or(|v| r.via == Some(v))
                    && one.dev.is_none_or(|d| r.dev == Some(d));
            }
            hops.len() == r.nexthops.len()
                && hops.iter().zip(&self.weights_given).all(|(h, weight_given)| {
                    r.nexthops.iter().any(|x| {
                        h.via.is_none_or(|v| x.via == Some(v))
                            && h.dev.is_none_or(|d| x.dev == Some(d))
                            && (!weight_given || x.weight == h.weight)
                    })
                })
        });
        kind_ok
            && hops_ok
            && self.via.is_none_or(|v| r.via == Some(v))
            && self.dev.is_none_or(|d| r.dev == Some(d))
            && self.metric.is_none_or(|m| r.metric.unwrap_or(0) == m)
            && self.scope.is_none_or(|s| r.scope_number == s)
            && self.src.is_none_or(|s| r.src == Some(s))
            && self.protocol.is_none_or(|p| r.protocol_number == p)
            && self.onlink.is_none_or(|o| r.onlink == o)
    }
}

/// The arguments given, as words for a message (" via 10.0.0.1 dev v0").
pub(super) fn describe_args(a: &RouteArgs) -> String {
    let mut parts = Vec::new();
    if let Some(k) = &a.kind {
        parts.push(format!("type {k}"));
    }
    if let Some(v) = &a.via {
        parts.push(format!("via {v}"));
    }
    if let Some(d) = &a.dev {
        parts.push(format!("dev {d}"));
    }
    if let Some(m) = a.metric {
        parts.push(format!("metric {m}"));
    }
    if let Some(p) = &a.proto {
        parts.push(format!("proto {p}"));
    }
    if let Some(s) = &a.scope {
        parts.push(format!("scope {s}"));
    }
    if let Some(s) = &a.src {
        parts.push(format!("src {s}"));
    }
    if let Some(o) = a.onlink {
        parts.push(format!("onlink {o}"));
    }
    if let Some(h) = &a.nexthops {
        parts.push(format!("these {} nexthops", h.len()));
    }
    parts.iter().map(|p| format!(" {p}")).collect()
}

/// A route's words after `ip route add|del`, as the script gave them (`run --trace`).
pub(super) fn route_words(dst: &str, a: &RouteArgs) -> String {
    use super::trace::word;
    let mut out = String::new();
    if let Some(k) = &a.kind {
        out += &format!("{} ", word(k));
    }
    out += &word(dst);
    if let Some(v) = &a.via {
        out += &format!(" via {}", word(v));
    }
    if let Some(d) = &a.dev {
        out += &format!(" dev {}", word(d));
    }
    if let Some(t) = &a.table {
        out += &format!(" table {}", word(&t.to_string()));
    }
    if let Some(m) = a.metric {
        out += &format!(" metric {m}");
    }
    if let Some(s) = &a.src {
        out += &format!(" src {}", word(s));
    }
    if let Some(s) = &a.scope {
        out += &format!(" scope {}", word(&s.to_string()));
    }
    if let Some(p) = &a.proto {
        out += &format!(" proto {}", word(&p.to_string()));
    }
    // The kernel takes onlink per nexthop on a multipath route (`ip` puts a route-level one in
    // the header, where it is ignored): said on each nexthop, as nslab applies it.
    if a.onlink == Some(true) && a.nexthops.is_none() {
        out += " onlink";
    }
    for h in a.nexthops.iter().flatten() {
        out += " nexthop";
        if let Some(v) = &h.via {
            out += &format!(" via {}", word(v));
        }
        if let Some(d) = &h.dev {
            out += &format!(" dev {}", word(d));
        }
        if let Some(w) = h.weight {
            out += &format!(" weight {w}");
        }
        if h.onlink.or(a.onlink) == Some(true) {
            out += " onlink";
        }
    }
    out
}
