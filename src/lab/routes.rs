//! Routes: add and delete, in any table, of any type, multipath (`ip route add/del`).

use nix::errno::Errno;

use super::ledger::Object;
use super::route_args::{add_spec, describe_args, dst_view, route_words, RouteArgs};
use super::route_records::{as_spec, describe, r_inode, route_key, route_record};
use super::{Lab, LabError, Ns, Result};
use crate::engine::route::{self, RouteInfo, RouteSpec};

impl Lab {
    /// Adds a route to `dst` (a CIDR or `default`) in `ns` (`ip route add`): through a gateway
    /// and/or out of a link, or over several nexthops, in any table, of any type. Table and scope
    /// default as `ip route add` chooses them; the protocol is nslab's unless given.
    pub fn route(&mut self, ns: &Ns, dst: &str, a: &RouteArgs) -> Result<()> {
        self.trace(|| format!("{} route add {}", super::trace::ip(ns), route_words(dst, a)));
        let w = self.wanted(ns, dst, a)?;
        let spec = add_spec(dst, &w)?;
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
        self.trace(|| format!("{} route del {}", super::trace::ip(ns), route_words(dst, a)));
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
