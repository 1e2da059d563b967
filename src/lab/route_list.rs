//! Reading routes: the tables (`ip route show`) and the kernel's choice for one destination
//! (`ip route get`).

use std::collections::HashMap;

use super::route_args::dst_view;
use super::validate_routes::{self as vr, NameOrNumber};
use super::{validate, Lab, LabError, NextHopView, Ns, Result, RouteGetView, RouteView};
use crate::engine::lookup::RouteQuery;
use crate::engine::route::{self, RouteInfo};

/// What `route_get` selects on besides the destination, as a script gives it.
#[derive(Debug, Clone, Default)]
pub struct RouteGetArgs {
    /// Source address selector (an address, a CIDR or "all").
    pub from: Option<String>,
    /// Input link name.
    pub iif: Option<String>,
    /// Output link name.
    pub oif: Option<String>,
    /// Firewall mark.
    pub mark: Option<u32>,
}

impl Lab {
    /// The routes of `ns` in `table` (None: every table) of a family (None: both), IPv4 first.
    pub(super) fn routes_in(&mut self, ns: &Ns, table: Option<u32>, v6: Option<bool>) -> Result<Vec<RouteInfo>> {
        let conn = self.conn(ns)?;
        let families: Vec<bool> = match v6 {
            Some(v6) => vec![v6],
            None => vec![false, true],
        };
        let mut out = Vec::new();
        for v6 in families {
            let all = self.block_on(conn.all_routes(v6)).map_err(|e| LabError::from_engine(format!("list routes in {ns}"), e))?;
            out.extend(all.into_iter().filter(|r| table.is_none_or(|t| r.table == t)));
        }
        Ok(out)
    }

    /// Link names of `ns` by ifindex.
    pub(super) fn link_names(&mut self, ns: &Ns) -> Result<HashMap<u32, String>> {
        let conn = self.conn(ns)?;
        let links = self.block_on(conn.links()).map_err(|e| LabError::from_engine(format!("list links in {ns}"), e))?;
        Ok(links.into_iter().map(|l| (l.index, l.name)).collect())
    }

    /// The routes of `ns` (`ip route show`): the main table unless `table` says another
    /// ("all" or 0: every table), both families unless `family` says one.
    pub fn routes(&mut self, ns: &Ns, table: Option<&NameOrNumber>, family: Option<&str>) -> Result<Vec<RouteView>> {
        let table = match table {
            Some(t) => vr::table_filter(t)?,
            None => Some(route::MAIN_TABLE),
        };
        let v6 = family.map(vr::family).transpose()?;
        let routes = self.routes_in(ns, table, v6)?;
        let names = self.link_names(ns)?;
        let name = |i: Option<u32>| i.and_then(|i| names.get(&i).cloned()).unwrap_or_default();
        Ok(routes
            .iter()
            .map(|r| RouteView {
                dst: dst_view(r.dst),
                kind: r.kind.clone(),
                table: r.table,
                via: r.via.map(|v| v.to_string()).unwrap_or_default(),
                dev: name(r.dev),
                metric: r.metric.unwrap_or(0),
                protocol: r.protocol.clone(),
                scope: r.scope.clone(),
                src: r.src.map(|v| v.to_string()).unwrap_or_default(),
                onlink: r.onlink,
                nexthops: r
                    .nexthops
                    .iter()
                    .map(|h| NextHopView {
                        via: h.via.map(|v| v.to_string()).unwrap_or_default(),
                        dev: name(h.dev),
                        weight: u32::from(h.weight),
                    })
                    .collect(),
                family: if r.v6 { "inet6".into() } else { "inet".into() },
            })
            .collect())
    }

    /// The route the kernel would use for `dst` from `ns` (`ip route get`). The kernel's
    /// refusal (no route, an unreachable/blackhole/prohibit route) is an answer, not an
    /// error: `ok` false and `error` the kernel's words.
    pub fn route_get(&mut self, ns: &Ns, dst: &str, a: &RouteGetArgs) -> Result<RouteGetView> {
        let ip = validate::ip_as("destination", dst)?;
        let from = a.from.as_deref().map(|f| validate::ip_as("source address (from)", f)).transpose()?;
        if let Some(f) = from {
            vr::same_family("source address (from)", f, Some(ip.is_ipv6()), &format!("the destination {dst}"))?;
        }
        let q = RouteQuery {
            from,
            iif: a.iif.as_deref().map(|l| self.index(ns, l)).transpose()?,
            oif: a.oif.as_deref().map(|l| self.index(ns, l)).transpose()?,
            mark: a.mark,
        };
        let conn = self.conn(ns)?;
        match self.block_on(conn.route_query(ip, &q)) {
            Ok(found) => {
                let names = self.link_names(ns)?;
                Ok(RouteGetView {
                    ok: true,
                    dev: found.dev.and_then(|i| names.get(&i).cloned()).unwrap_or_default(),
                    via: found.via.map(|v| v.to_string()).unwrap_or_default(),
                    src: found.src.map(|v| v.to_string()).unwrap_or_default(),
                    table: found.table.unwrap_or(0),
                    kind: found.kind,
                    error: String::new(),
                })
            }
            Err(e) => match e.code() {
                Some(code) => {
                    Ok(RouteGetView { ok: false, error: crate::engine::error::errno_text(code), ..RouteGetView::default() })
                }
                None => Err(LabError::from_engine(format!("look up the route to {dst} in {ns}"), e)),
            },
        }
    }
}
