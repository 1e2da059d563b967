//! Routes: add and delete, in any table, of any type, multipath (`ip route add/del`).

use std::net::IpAddr;

use nix::errno::Errno;

use super::ledger::{Object, RouteHop};
use super::validate_routes::{self as vr, NameOrNumber};
use super::{validate, Lab, LabError, Ns, Result};
use crate::engine::route::{self, NextHop, RouteInfo, RouteKey, RouteSpec};

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

fn gateway(text: &str) -> Result<IpAddr> {
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

    /// Adds a route to `dst` (a CIDR or `default`) in `ns` (`ip route add`): through a gateway
    /// and/or out of a link, or over several nexthops, in any table, of any type. Table and scope
    /// default as `ip route add` chooses them; the protocol is nslab's unless given.
    pub fn route(&mut self, ns: &Ns, dst: &str, a: &RouteArgs) -> Result<()> {
        let w = self.wanted(ns, dst, a)?;
        let spec = add_spec(dst, a, &w)?;
        let record = if !self.records(ns) {
            None
        } else {
            let ns_inode = self.ns_inode(ns)?;
            Some(route_record(ns, ns_inode, &spec))
        };
        if let Some(r) = &record {
            self.ledger_mut()?.intent(r)?;
        }
        let conn = self.conn(ns)?;
        let done = self.block_on(conn.add_route(&spec));
        match (&done, record) {
            (Ok(()), Some(r)) => {
                // What the kernel made completes the key (the output links it chose).
                let made = self.made_route(ns, &spec)?;
                let r = match made {
                    Some(found) => route_record(ns, r_inode(&r), &as_spec(&found)),
                    None => r,
                };
                self.ledger_mut()?.made(&r)?;
                self.changed.routes.push(r);
            }
            (Err(_), Some(r)) => self.ledger_mut()?.failed(&r)?,
            _ => {}
        }
        let Err(e) = done else { return Ok(()) };
        let op = format!("add route {dst} in {ns}");
        Err(match e.code() {
            Some(Errno::EEXIST) => {
                // Same destination and metric in that table: say which route stands there.
                let metric = spec.metric.unwrap_or(0);
                let there: Vec<String> = self
                    .routes_in(ns, Some(spec.table.unwrap_or(route::MAIN_TABLE)), Some(spec.v6))?
                    .into_iter()
                    .filter(|r| r.dst == spec.dst && r.metric.unwrap_or(0) == metric)
                    .map(|r| self.describe_route(ns, &r))
                    .collect();
                let owner = if there.is_empty() { format!(" in {ns}") } else { format!(" in {ns}: {}", there.join("; ")) };
                LabError::Exists { what: "route", name: dst.into(), owner }
            }
            // ENETUNREACH (IPv4) or EHOSTUNREACH (IPv6): no connected network holds the gateway.
            Some(code @ (Errno::ENETUNREACH | Errno::EHOSTUNREACH)) => {
                let names = self.link_names(ns)?;
                let connected: Vec<String> = self
                    .routes_in(ns, Some(route::MAIN_TABLE), Some(spec.v6))?
                    .into_iter()
                    .filter(|r| r.via.is_none() && r.protocol_number == 2)
                    .map(|r| {
                        let dev = r.dev.and_then(|d| names.get(&d).cloned()).unwrap_or_default();
                        format!("{} (dev {dev})", dst_view(r.dst))
                    })
                    .collect();
                let there = if connected.is_empty() {
                    "there are none there: give a link an address in the gateway's network and bring it up".to_string()
                } else {
                    format!("the connected ones there are {}", connected.join(", "))
                };
                let gw = match (&a.via, &a.nexthops) {
                    (Some(v), _) => v.clone(),
                    (None, Some(h)) => h.iter().filter_map(|h| h.via.clone()).collect::<Vec<_>>().join(" or "),
                    _ => "?".into(),
                };
                LabError::Failed {
                    op,
                    detail: format!("the gateway {gw} is not on any directly connected network; {there}"),
                    errno: Some(code),
                }
            }
            Some(Errno::ENETDOWN) => LabError::Failed {
                op,
                detail: match &a.dev {
                    Some(d) => format!("link {d:?} is down; bring it up first (up({d:?}) in that namespace)"),
                    None => "the link it would go through is down; bring it up first".into(),
                },
                errno: Some(Errno::ENETDOWN),
            },
            Some(Errno::ENODEV) => LabError::Failed {
                op,
                detail: "the kernel needs an output link for this route: give dev".into(),
                errno: Some(Errno::ENODEV),
            },
            _ => LabError::from_engine(op, e),
        })
    }

    /// The route the kernel made for `spec`, read back (None if it is already gone).
    fn made_route(&mut self, ns: &Ns, spec: &RouteSpec) -> Result<Option<RouteInfo>> {
        let table = spec.table.unwrap_or(route::MAIN_TABLE);
        let found = self.routes_in(ns, Some(table), Some(spec.v6))?.into_iter().find(|r| {
            r.dst == spec.dst
                && r.metric.unwrap_or(0) == spec.metric.unwrap_or(0)
                && r.kind_number == spec.kind
                && r.protocol_number == spec.protocol.unwrap_or(route::NSLAB_PROTOCOL)
                && r.via == spec.via
                && spec.dev.is_none_or(|d| r.dev == Some(d))
        });
        Ok(found)
    }

    /// Deletes the one route that `dst` and the arguments name (`ip route del`): every field
    /// given must match (the type too, which the kernel ignores for IPv6), fields not given
    /// match anything, and when that leaves several routes, nothing is deleted.
    pub fn route_del(&mut self, ns: &Ns, dst: &str, a: &RouteArgs) -> Result<()> {
        let w = self.wanted(ns, dst, a)?;
        let family = if w.v6 { "IPv6" } else { "IPv4" };
        let candidates = self.routes_in(ns, Some(w.table), Some(w.v6))?;
        let same_dst: Vec<&RouteInfo> = candidates.iter().filter(|r| r.dst == w.dst).collect();
        let matching: Vec<&RouteInfo> = same_dst.iter().copied().filter(|r| w.matches(r)).collect();
        let table = if w.table == route::MAIN_TABLE { String::new() } else { format!(" table {}", w.table) };
        let found = match matching.as_slice() {
            [one] => (*one).clone(),
            [] if same_dst.is_empty() => {
                let mut dsts: Vec<String> = candidates.iter().map(|r| dst_view(r.dst)).collect();
                dsts.dedup();
                let has = if dsts.is_empty() {
                    format!("it has no {family} routes{table}")
                } else {
                    format!("its {family} routes{table} go to: {}", dsts.join(", "))
                };
                return Err(LabError::Refused(format!("there is no route to {dst}{table} in {ns}; {has}")));
            }
            [] => {
                let list: Vec<String> = same_dst.iter().map(|r| self.describe_route(ns, r)).collect();
                return Err(LabError::Refused(format!(
                    "there is no route to {dst}{}{table} in {ns}; the routes to {dst}{table} there are: {}",
                    describe_args(a),
                    list.join("; ")
                )));
            }
            several => {
                let list: Vec<String> = several.iter().map(|r| self.describe_route(ns, r)).collect();
                return Err(LabError::Refused(format!(
                    "{} routes to {dst}{table} in {ns} match, and route_del removes exactly one: {}; say which with via, dev, metric, type or proto",
                    several.len(),
                    list.join("; ")
                )));
            }
        };
        let conn = self.conn(ns)?;
        let key = found.key();
        let deleted = self
            .block_on(conn.del_route_exact(&key))
            .map_err(|e| LabError::from_engine(format!("delete route {dst} in {ns}"), e))?;
        if !deleted {
            return Err(LabError::Refused(format!(
                "the route {} in {ns} went away while it was being deleted",
                self.describe_route(ns, &found)
            )));
        }
        // Whichever of the lab's routes is no longer there is no longer the lab's to remove.
        let recorded: Vec<Object> = std::mem::take(&mut self.changed.routes);
        for r in recorded {
            let gone = matches!(&r, Object::Route { ns: n, .. } if *n == ns.key())
                && route_key(&r).is_some_and(|key| matches!(self.block_on(conn.find_route(&key)), Ok(None)));
            if gone {
                self.forget(&r)?;
            } else {
                self.changed.routes.push(r);
            }
        }
        Ok(())
    }

    /// A route as `ip route` would print it, link names resolved.
    pub(super) fn describe_route(&mut self, ns: &Ns, r: &RouteInfo) -> String {
        let names = self.link_names(ns).unwrap_or_default();
        describe(r, &names)
    }
}

/// The request `route` sends: the defaults `ip route add` gives (table: local for type local,
/// main otherwise; scope: host for local, link for a unicast route without gateway, universe
/// otherwise and always for IPv6; the kernel's default metric), checked for what the kernel
/// refuses only with EINVAL.
fn add_spec(dst: &str, a: &RouteArgs, w: &Wanted) -> Result<RouteSpec> {
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
    let _ = a;
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
    fn matches(&self, r: &RouteInfo) -> bool {
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
fn describe_args(a: &RouteArgs) -> String {
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

/// A route as `ip route` prints it: "blackhole 10.5.0.0/24 table 100 metric 0".
pub(super) fn describe(r: &RouteInfo, names: &std::collections::HashMap<u32, String>) -> String {
    let name = |i: u32| names.get(&i).cloned().unwrap_or_else(|| format!("#{i}"));
    let mut text = String::new();
    if r.kind_number != route::UNICAST {
        text += &format!("{} ", r.kind);
    }
    text += &dst_view(r.dst);
    if let Some(v) = r.via {
        text += &format!(" via {v}");
    }
    if let Some(d) = r.dev {
        text += &format!(" dev {}", name(d));
    }
    if r.table != route::MAIN_TABLE {
        text += &format!(" table {}", r.table);
    }
    if !["kernel", "nslab"].contains(&r.protocol.as_str()) {
        text += &format!(" proto {}", r.protocol);
    }
    text += &format!(" metric {}", r.metric.unwrap_or(0));
    for h in &r.nexthops {
        text += " nexthop";
        if let Some(v) = h.via {
            text += &format!(" via {v}");
        }
        if let Some(d) = h.dev {
            text += &format!(" dev {}", name(d));
        }
        text += &format!(" weight {}", h.weight);
    }
    text
}

/// The spec that names a route the kernel reported (to record it).
fn as_spec(r: &RouteInfo) -> RouteSpec {
    RouteSpec {
        dst: r.dst,
        via: r.via,
        dev: r.dev,
        metric: Some(r.metric.unwrap_or(0)),
        v6: r.v6,
        table: Some(r.table),
        kind: r.kind_number,
        protocol: Some(r.protocol_number),
        nexthops: r.nexthops.iter().map(|h| NextHop { via: h.via, dev: h.dev, weight: h.weight, onlink: h.onlink }).collect(),
        ..RouteSpec::default()
    }
}

fn r_inode(r: &Object) -> u64 {
    match r {
        Object::Route { ns_inode, .. } => *ns_inode,
        _ => 0,
    }
}

/// The ledger's record of a route: its whole key.
fn route_record(ns: &Ns, ns_inode: u64, spec: &RouteSpec) -> Object {
    Object::Route {
        ns: ns.key(),
        ns_inode,
        table: spec.table.unwrap_or(route::MAIN_TABLE),
        dst: dst_text(spec.dst, spec.v6),
        metric: spec.metric.unwrap_or(route::default_metric(spec.v6)),
        kind: if spec.kind == 0 { route::UNICAST } else { spec.kind },
        dev: spec.dev,
        via: spec.via.map(|v| v.to_string()).unwrap_or_default(),
        protocol: spec.protocol.unwrap_or(route::NSLAB_PROTOCOL),
        nexthops: spec
            .nexthops
            .iter()
            .map(|h| RouteHop { via: h.via.map(|v| v.to_string()).unwrap_or_default(), dev: h.dev, weight: h.weight })
            .collect(),
    }
}

/// A route record's destination and gateway, parsed and of one family ("" for no gateway).
pub fn route_spec(dst: &str, via: &str) -> Result<RouteSpec> {
    let (dst_net, dst_v6) = destination(dst)?;
    let via = if via.is_empty() { None } else { Some(gateway(via)?) };
    if let (Some(v6), Some(g)) = (dst_v6, via) {
        vr::same_family("gateway", g, Some(v6), dst)?;
    }
    Ok(RouteSpec { dst: dst_net, via, v6: dst_v6.or(via.map(|g| g.is_ipv6())).unwrap_or(false), ..RouteSpec::default() })
}

/// A route record's key as the kernel matches it; None for a record that does not parse.
pub(super) fn route_key(obj: &Object) -> Option<RouteKey> {
    let Object::Route { table, dst, metric, kind, dev, via, protocol, nexthops, .. } = obj else { return None };
    let spec = route_spec(dst, via).ok()?;
    let mut hops = Vec::new();
    for h in nexthops {
        let v = if h.via.is_empty() { None } else { Some(h.via.parse::<IpAddr>().ok()?) };
        hops.push((v, h.dev, h.weight));
    }
    let v6 = spec.v6 || hops.iter().any(|(v, _, _)| v.is_some_and(|v| v.is_ipv6()));
    Some(RouteKey {
        table: *table,
        dst: spec.dst,
        metric: *metric,
        kind: *kind,
        dev: *dev,
        via: spec.via,
        protocol: *protocol,
        v6,
        nexthops: hops,
    })
}
