//! Routes, route lookups and rules as script values (maps).

use rhai::{Array, Dynamic, Map};

use crate::lab::{RouteGetView, RouteView, RuleView};

fn int(n: u32) -> Dynamic {
    Dynamic::from(i64::from(n))
}

/// A route: dst, type, table, via, dev, metric, proto, scope, src, onlink, nexthops (and
/// protocol, the same as proto, and family).
pub fn route_map(r: RouteView) -> Dynamic {
    let mut m = Map::new();
    m.insert("dst".into(), r.dst.into());
    m.insert("type".into(), r.kind.into());
    m.insert("table".into(), int(r.table));
    m.insert("via".into(), r.via.into());
    m.insert("dev".into(), r.dev.into());
    m.insert("metric".into(), int(r.metric));
    m.insert("proto".into(), r.protocol.clone().into());
    m.insert("protocol".into(), r.protocol.into());
    m.insert("scope".into(), r.scope.into());
    m.insert("src".into(), r.src.into());
    m.insert("onlink".into(), r.onlink.into());
    let hops: Array = r
        .nexthops
        .into_iter()
        .map(|h| {
            let mut hm = Map::new();
            hm.insert("via".into(), h.via.into());
            hm.insert("dev".into(), h.dev.into());
            hm.insert("weight".into(), int(h.weight));
            hm.into()
        })
        .collect();
    m.insert("nexthops".into(), hops.into());
    m.insert("family".into(), r.family.into());
    m.into()
}

/// What `route_get` found: ok, dev, via, src, table, type, error.
pub fn route_get_map(r: RouteGetView) -> Dynamic {
    let mut m = Map::new();
    m.insert("ok".into(), r.ok.into());
    m.insert("dev".into(), r.dev.into());
    m.insert("via".into(), r.via.into());
    m.insert("src".into(), r.src.into());
    m.insert("table".into(), if r.ok { int(r.table) } else { Dynamic::UNIT });
    m.insert("type".into(), r.kind.into());
    m.insert("error".into(), r.error.into());
    m.into()
}

/// A rule: family, priority, from, to, iif, oif, fwmark, fwmask, table, action, proto.
pub fn rule_map(r: RuleView) -> Dynamic {
    let mut m = Map::new();
    m.insert("family".into(), r.family.into());
    m.insert("priority".into(), int(r.priority));
    m.insert("from".into(), r.from.into());
    m.insert("to".into(), r.to.into());
    m.insert("iif".into(), r.iif.into());
    m.insert("oif".into(), r.oif.into());
    m.insert("fwmark".into(), int(r.fwmark));
    m.insert("fwmask".into(), int(r.fwmask));
    m.insert("table".into(), int(r.table));
    m.insert("action".into(), r.action.into());
    m.insert("proto".into(), r.protocol.into());
    m.into()
}
