//! Routes: add, delete, list.

use nix::errno::Errno;

use super::ledger::Object;
use super::{validate, Lab, LabError, Ns, Result, RouteView};
use crate::engine::route::{self, RouteKey, RouteSpec};
use crate::engine::EngineError;

impl Lab {
    /// Adds a route to `dst` (a CIDR or `default`) in `ns`, through the gateway `via` and/or out of
    /// the link `dev`, with an optional `metric` (`ip route add`).
    pub fn route(&mut self, ns: &Ns, dst: &str, via: Option<&str>, dev: Option<&str>, metric: Option<u32>) -> Result<()> {
        self.trace(|| format!("{} route add {}", super::trace::ip(ns), route_words(dst, via, dev, metric)));
        // Only adding needs one: deleting by destination alone is what `ip route del DST` does.
        if via.is_none() && dev.is_none() {
            return Err(LabError::Invalid {
                what: "route",
                value: dst.into(),
                reason: "it needs a gateway (via) or a device (dev)".into(),
            });
        }
        let mut spec = self.route_spec(ns, dst, via, dev, metric)?;
        // Every field of the key stated, so that the route is known exactly (see `route_key`).
        spec.metric = Some(metric.unwrap_or(route::default_metric(spec.v6)));
        let record = if !self.records(ns) {
            None
        } else {
            let ns_inode = self.ns_inode(ns)?;
            Some(route_record(ns, ns_inode, dst, via.unwrap_or(""), &spec))
        };
        if let Some(r) = &record {
            self.ledger_mut()?.intent(r)?;
        }
        let conn = self.conn(ns)?;
        let done = self.block_on(conn.add_route(&spec));
        match (&done, record) {
            (Ok(()), Some(mut r)) => {
                // The output link the kernel chose completes the key.
                if let (Object::Route { dev: None, .. }, Some(key)) = (&r, route_key(&r)) {
                    let found = self.block_on(conn.find_route(&key)).ok().flatten().and_then(|found| found.dev);
                    if let Object::Route { dev, .. } = &mut r {
                        *dev = found;
                    }
                }
                self.ledger_mut()?.made(&r)?;
                self.changed.routes.push(r);
            }
            (Err(_), Some(r)) => self.ledger_mut()?.failed(&r)?,
            _ => {}
        }
        let Err(e) = done else { return Ok(()) };
        Err(match e.code() {
            Some(Errno::EEXIST) => {
                // Same destination and metric: say which route stands there.
                let there = self.routes_like(ns, &spec)?;
                let there: Vec<String> =
                    there.iter().filter(|r| r.metric.unwrap_or(0) == spec.metric.unwrap_or(0)).map(describe).collect();
                let owner = if there.is_empty() { format!(" in {ns}") } else { format!(" in {ns}: {}", there.join("; ")) };
                LabError::Exists { what: "route", name: dst.into(), owner }
            }
            // ENETUNREACH (IPv4) or EHOSTUNREACH (IPv6): no connected network holds the gateway.
            Some(code @ (Errno::ENETUNREACH | Errno::EHOSTUNREACH)) => {
                let connected: Vec<String> = self
                    .routes(ns)?
                    .into_iter()
                    // The kernel's own routes to the networks of the addresses there.
                    .filter(|r| r.via.is_empty() && r.protocol == "kernel" && (r.family == "inet6") == spec.v6)
                    .map(|r| format!("{} (dev {})", r.dst, r.dev))
                    .collect();
                let there = if connected.is_empty() {
                    "there are none there: give a link an address in the gateway's network and bring it up".to_string()
                } else {
                    format!("the connected ones there are {}", connected.join(", "))
                };
                LabError::Failed {
                    op: format!("add route {dst} in {ns}"),
                    detail: format!("the gateway {} is not on any directly connected network; {there}", via.unwrap_or("?")),
                    errno: Some(code),
                }
            }
            Some(Errno::ENETDOWN) => LabError::Failed {
                op: format!("add route {dst} in {ns}"),
                detail: match dev {
                    Some(d) => format!("link {d:?} is down; bring it up first (up({d:?}) in that namespace)"),
                    None => "the link it would go through is down; bring it up first".into(),
                },
                errno: Some(Errno::ENETDOWN),
            },
            _ => LabError::from_engine(format!("add route {dst} in {ns}"), e),
        })
    }

    /// The routes of `ns` with the destination (and family) of `spec`.
    fn routes_like(&mut self, ns: &Ns, spec: &RouteSpec) -> Result<Vec<RouteView>> {
        let dst = spec.dst.map(|(ip, len)| format!("{ip}/{len}")).unwrap_or_else(|| "default".into());
        Ok(self.routes(ns)?.into_iter().filter(|r| r.dst == dst && (r.family == "inet6") == spec.v6).collect())
    }

    /// Deletes a route; a gateway, device or metric given must match (`ip route del`).
    pub fn route_del(&mut self, ns: &Ns, dst: &str, via: Option<&str>, dev: Option<&str>, metric: Option<u32>) -> Result<()> {
        self.trace(|| format!("{} route del {}", super::trace::ip(ns), route_words(dst, via, dev, metric)));
        let mut spec = route_spec(dst, via.unwrap_or(""))?;
        if let Some(dev) = dev {
            spec.dev = Some(self.index(ns, dev)?);
        }
        spec.metric = metric;
        let conn = self.conn(ns)?;
        if let Err(e) = self.block_on(conn.del_route(&spec)) {
            if e.code() != Some(Errno::ESRCH) {
                return Err(LabError::from_engine(format!("delete route {dst} in {ns}"), e));
            }
            // "No such process": say which routes there are instead.
            let wanted: String =
                [via.map(|v| format!(" via {v}")), dev.map(|d| format!(" dev {d}")), metric.map(|m| format!(" metric {m}"))]
                    .into_iter()
                    .flatten()
                    .collect();
            let same = self.routes_like(ns, &spec)?;
            let message = if same.is_empty() {
                let mut dsts: Vec<String> =
                    self.routes(ns)?.into_iter().filter(|r| (r.family == "inet6") == spec.v6).map(|r| r.dst).collect();
                dsts.dedup();
                let family = if spec.v6 { "IPv6" } else { "IPv4" };
                let has = if dsts.is_empty() {
                    format!("it has no {family} routes")
                } else {
                    format!("its {family} routes go to: {}", dsts.join(", "))
                };
                format!("there is no route to {dst} in {ns}; {has}")
            } else {
                let list: Vec<String> = same.iter().map(describe).collect();
                format!("there is no route to {dst}{wanted} in {ns}; the routes to {dst} there are: {}", list.join("; "))
            };
            return Err(LabError::Refused(message));
        }
        // The kernel deleted the first route matching what was given: whichever of the lab's
        // routes is no longer there is no longer the lab's to remove.
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

    fn route_spec(&mut self, ns: &Ns, dst: &str, via: Option<&str>, dev: Option<&str>, metric: Option<u32>) -> Result<RouteSpec> {
        let mut spec = route_spec(dst, via.unwrap_or(""))?;
        if let Some(dev) = dev {
            spec.dev = Some(self.index(ns, dev)?);
        }
        spec.metric = metric;
        Ok(spec)
    }

    /// The routes in `ns`'s main table (`ip route show`).
    pub fn routes(&mut self, ns: &Ns) -> Result<Vec<RouteView>> {
        let conn = self.conn(ns)?;
        let (links, routes) = self
            .block_on(async { Ok::<_, EngineError>((conn.links().await?, conn.routes().await?)) })
            .map_err(|e| LabError::from_engine(format!("list routes in {ns}"), e))?;
        Ok(routes
            .iter()
            .map(|r| RouteView {
                dst: r.dst.map(|(ip, len)| format!("{ip}/{len}")).unwrap_or_else(|| "default".into()),
                via: r.via.map(|v| v.to_string()).unwrap_or_default(),
                dev: r.dev.and_then(|i| links.iter().find(|l| l.index == i)).map(|l| l.name.clone()).unwrap_or_default(),
                metric: r.metric,
                protocol: r.protocol.clone(),
                scope: r.scope.clone(),
                family: if r.v6 { "inet6".into() } else { "inet".into() },
            })
            .collect())
    }
}

/// A route as `routes()` would show it: "10.5.0.0/24 via 10.1.0.2 dev v0 metric 0".
fn describe(r: &RouteView) -> String {
    let mut text = r.dst.clone();
    if !r.via.is_empty() {
        text += &format!(" via {}", r.via);
    }
    if !r.dev.is_empty() {
        text += &format!(" dev {}", r.dev);
    }
    format!("{text} metric {}", r.metric.unwrap_or(0))
}

/// A route's destination and gateway, parsed ("default", "10.0.0.0/8"; "" for no gateway).
pub fn route_spec(dst: &str, via: &str) -> Result<RouteSpec> {
    let mut spec = RouteSpec::default();
    if dst != "default" {
        let c = validate::network("route destination", dst)?;
        spec.dst = Some((c.ip, c.prefix));
        spec.v6 = c.ip.is_ipv6();
    }
    if !via.is_empty() {
        let gw = validate::ip_as("gateway", via)?;
        if let Some(why) = validate::not_unicast(gw) {
            return Err(LabError::Invalid {
                what: "gateway",
                value: via.into(),
                reason: format!("{why}; a gateway is a neighbour's unicast address"),
            });
        }
        if spec.dst.is_some() && gw.is_ipv6() != spec.v6 {
            return Err(LabError::Invalid {
                what: "gateway",
                value: via.into(),
                reason: format!("it is not of the same family as {dst}"),
            });
        }
        spec.v6 = gw.is_ipv6();
        spec.via = Some(gw);
    }
    Ok(spec)
}

/// The ledger's record of a route the lab adds with `spec`: its whole key, with nslab's
/// protocol, in the main table.
fn route_record(ns: &Ns, ns_inode: u64, dst: &str, via: &str, spec: &RouteSpec) -> Object {
    Object::Route {
        ns: ns.key(),
        ns_inode,
        table: route::MAIN_TABLE,
        dst: dst.into(),
        metric: spec.metric.unwrap_or(route::default_metric(spec.v6)),
        kind: route::UNICAST,
        dev: spec.dev,
        via: via.into(),
        protocol: route::NSLAB_PROTOCOL,
    }
}

/// A route record's key as the kernel matches it; None for a record that does not parse.
pub(super) fn route_key(obj: &Object) -> Option<RouteKey> {
    let Object::Route { table, dst, metric, kind, dev, via, protocol, .. } = obj else { return None };
    let spec = route_spec(dst, via).ok()?;
    Some(RouteKey {
        table: *table,
        dst: spec.dst,
        metric: *metric,
        kind: *kind,
        dev: *dev,
        via: spec.via,
        protocol: *protocol,
        v6: spec.v6,
    })
}

/// A route's words after `ip route add|del`.
fn route_words(dst: &str, via: Option<&str>, dev: Option<&str>, metric: Option<u32>) -> String {
    let mut out = super::trace::word(dst);
    if let Some(v) = via {
        out += &format!(" via {}", super::trace::word(v));
    }
    if let Some(d) = dev {
        out += &format!(" dev {}", super::trace::word(d));
    }
    if let Some(m) = metric {
        out += &format!(" metric {m}");
    }
    out
}
