//! Routes: add, delete, list.

use rhai::{Array, EvalAltResult};

use super::native::{done, Call, Native};
use super::values::route_map;

pub const ROUTES: &[Native] = &[
    Native {
        name: "route",
        forms: &["route(dst, via)", "route(dst, #{via, dev, metric})", "route(ns, dst, via)", "route(ns, dst, #{via, dev, metric})"],
        summary: "Add a route (dst: a CIDR or \"default\"; IPv4 or IPv6: \"default\" takes the gateway's family, \"::/0\" is the IPv6 default without one). It needs a gateway (via) or a device (dev).",
        example: r#"route("h1", "default", "10.0.1.1");"#,
        ip: "ip route add DST via GW [dev LINK] [metric N]",
        call: |c| {
            let ns = c.ns()?;
            let dst = c.string("dst", "a destination (a CIDR or \"default\")")?;
            let (via, dev, metric) = how(c)?;
            c.lab().route(&ns, &dst, via.as_deref(), dev.as_deref(), metric)?;
            done()
        },
    },
    Native {
        name: "route_del",
        forms: &["route_del(dst)", "route_del(ns, dst)", "route_del(ns, dst, via)", "route_del(ns, dst, #{via, dev, metric})"],
        summary: "Delete a route, whatever its protocol (kernel-made connected routes too); a gateway, device or metric given must match.",
        example: r#"route_del("h1", "default");"#,
        ip: "ip route del DST [via GW] [dev LINK] [metric N]",
        call: |c| {
            let ns = c.ns()?;
            let dst = c.string("dst", "a destination")?;
            let (via, dev, metric) = how(c)?;
            c.lab().route_del(&ns, &dst, via.as_deref(), dev.as_deref(), metric)?;
            done()
        },
    },
    Native {
        name: "routes",
        forms: &["routes() -> array", "routes(ns) -> array"],
        summary: "The main routing table as maps: dst, via, dev, metric, protocol, scope, family.",
        example: r#"print(routes("h1"));"#,
        ip: "ip -j route show",
        call: |c| {
            let ns = c.ns()?;
            let routes = c.lab().routes(&ns)?;
            Ok(routes.into_iter().map(route_map).collect::<Array>().into())
        },
    },
];

type Res<T> = Result<T, Box<EvalAltResult>>;

/// The gateway, device and metric of a route: a gateway address, or #{via, dev, metric}.
fn how(c: &Call) -> Res<(Option<String>, Option<String>, Option<u32>)> {
    if c.has("via") {
        return Ok((Some(c.string("via", "a gateway address or #{via, dev, metric}")?), None, None));
    }
    let o = c.opts()?;
    let metric = match o.integer("metric")? {
        Some(m) => Some(u32::try_from(m).map_err(|_| {
            c.error(format!("the metric option of {} must be from 0 to {}, not {m}", c.ctx().fn_name(), u32::MAX))
        })?),
        None => None,
    };
    Ok((o.text("via", "a gateway address")?, o.text("dev", "a link name")?, metric))
}
