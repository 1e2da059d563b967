//! Routes as the ledger records them (their whole key) and as messages describe them.

use std::net::IpAddr;

use super::ledger::{Object, RouteHop};
use super::route_args::{destination, dst_text, dst_view, gateway};
use super::validate_routes as vr;
use super::{Ns, Result};
use crate::engine::route::{self, NextHop, RouteInfo, RouteKey, RouteSpec};

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
pub(super) fn as_spec(r: &RouteInfo) -> RouteSpec {
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

pub(super) fn r_inode(r: &Object) -> u64 {
    match r {
        Object::Route { ns_inode, .. } => *ns_inode,
        _ => 0,
    }
}

/// The ledger's record of a route: its whole key.
pub(super) fn route_record(ns: &Ns, ns_inode: u64, spec: &RouteSpec) -> Object {
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
