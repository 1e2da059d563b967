//! Routes and policy rules: route, route_del, routes, route_get, rule, rule_del, rules.

use rhai::{Array, EvalAltResult, Map};

use super::args;
use super::native::{done, Call, Native, Opts};
use super::values_routes::{route_get_map, route_map, rule_map};
use crate::lab::{HopArgs, NameOrNumber, RouteArgs, RouteGetArgs, RuleArgs};

pub const ROUTES: &[Native] = &[
    Native {
        name: "route",
        forms: &[
            "route(dst, via)",
            "route(dst, #{via, dev, metric, table, type, onlink, src, scope, proto, nexthops})",
            "route(ns, dst, via)",
            "route(ns, dst, #{via, dev, metric, table, type, onlink, src, scope, proto, nexthops})",
        ],
        summary: "Add a route. dst: a CIDR, an address (a host route) or \"default\" (IPv4's, or the gateway's family; \"::/0\" is IPv6's). type: \"unicast\" (default; needs via, dev or nexthops), \"local\" (needs dev), \"blackhole\", \"unreachable\", \"prohibit\", \"throw\" (no via/dev). table: a number or \"main\"/\"local\"/\"default\"; table and scope default as ip route add picks them (local: table local, scope host; no gateway: scope link). nexthops: [#{via, dev, weight (1-256), onlink}] for a multipath route (IPv4 and IPv6); a route-level onlink applies to every nexthop. proto: a name or 3-255 (default nslab's own, 110). Routes outside the lab's namespaces are removed at teardown, if still exactly as added.",
        example: r#"route("r1", "10.9.0.0/24", #{nexthops: [#{via: "10.1.0.2", weight: 2}, #{via: "10.2.0.2"}]});"#,
        ip: "ip route add [TYPE] DST [via GW] [dev LINK] [table T] [metric N] [src A] [scope S] [proto P] [onlink] [nexthop via GW dev LINK weight W ...]",
        call: |c| {
            let ns = c.ns()?;
            let dst = c.string("dst", "a destination (a CIDR or \"default\")")?;
            let a = route_args(c)?;
            c.lab().route(&ns, &dst, &a)?;
            done()
        },
    },
    Native {
        name: "route_del",
        forms: &[
            "route_del(dst)",
            "route_del(dst, #{via, dev, metric, table, type, onlink, src, scope, proto, nexthops})",
            "route_del(ns, dst)",
            "route_del(ns, dst, via)",
            "route_del(ns, dst, #{via, dev, metric, table, type, onlink, src, scope, proto, nexthops})",
        ],
        summary: "Delete exactly one route, whoever made it: every key given must match (the type too, which the kernel ignores for IPv6), keys left out match anything, in the main table (local for type \"local\") unless table says another. No match, or several: an error listing the routes there, and nothing is deleted.",
        example: r#"route_del("r1", "10.9.0.0/24", #{type: "blackhole", table: 100});"#,
        ip: "ip route del [TYPE] DST [via GW] [dev LINK] [table T] [metric N] ...",
        call: |c| {
            let ns = c.ns()?;
            let dst = c.string("dst", "a destination (a CIDR or \"default\")")?;
            let a = route_args(c)?;
            c.lab().route_del(&ns, &dst, &a)?;
            done()
        },
    },
    Native {
        name: "routes",
        forms: &["routes() -> array", "routes(#{table, family}) -> array", "routes(ns) -> array", "routes(ns, #{table, family}) -> array"],
        summary: "The routes as Route maps (dst, type, table, via, dev, metric, proto, scope, src, onlink, nexthops, family): the main table, like ip route, unless table says another (\"all\" or 0: every table); both families unless family is \"inet\" or \"inet6\".",
        example: r#"let r = routes("r1", #{table: "all", family: "inet6"});"#,
        ip: "ip -j route show [table T]; ip -j -6 route show [table T]",
        call: |c| {
            let ns = c.ns()?;
            let o = c.opts()?;
            let table = name_or_number(c, &o, "table", "a table number, \"main\", \"local\", \"default\" or \"all\"")?;
            let family = o.text("family", "\"inet\" or \"inet6\"")?;
            let routes = c.lab().routes(&ns, table.as_ref(), family.as_deref())?;
            Ok(routes.into_iter().map(route_map).collect::<Array>().into())
        },
    },
    Native {
        name: "route_get",
        forms: &[
            "route_get(dst) -> RouteGet",
            "route_get(dst, #{from, iif, oif, mark}) -> RouteGet",
            "route_get(ns, dst) -> RouteGet",
            "route_get(ns, dst, #{from, iif, oif, mark}) -> RouteGet",
        ],
        summary: "The route the kernel picks for the address dst (from: a source address; iif: as if arriving on that link, with from; oif: out of that link; mark: a firewall mark). When there is no usable route it does not fail: ok is false and error is the kernel's answer (\"Network is unreachable\", \"No route to host\", \"Invalid argument\" for a blackhole, \"Permission denied\" for prohibit).",
        example: r#"assert(route_get("h1", "10.9.0.1").dev == "eth0");"#,
        ip: "ip route get DST [from SRC] [iif LINK] [oif LINK] [mark M]",
        call: |c| {
            let ns = c.ns()?;
            let dst = c.string("dst", "a destination address")?;
            let o = c.opts()?;
            let a = RouteGetArgs {
                from: o.text("from", "a source address")?,
                iif: o.text("iif", "a link name")?,
                oif: o.text("oif", "a link name")?,
                mark: u32_opt(c, &o, "mark")?,
            };
            let found = c.lab().route_get(&ns, &dst, &a)?;
            Ok(route_get_map(found))
        },
    },
    Native {
        name: "rule",
        forms: &["rule(#{from, to, iif, oif, fwmark, table, priority, action, family})", "rule(ns, #{from, to, iif, oif, fwmark, table, priority, action, family})"],
        summary: "Add a policy routing rule. from/to: an address, a CIDR or \"all\"; fwmark: an integer or \"MARK/MASK\"; action: \"lookup\" (default; table: a number or \"main\"/\"local\"/\"default\", main by default), \"blackhole\", \"unreachable\", \"prohibit\"; priority: the kernel's choice when left out (like ip rule add); family: \"inet\" (default) or \"inet6\", needed only for an IPv6 rule without addresses. Marked proto nslab; removed at teardown outside the lab's namespaces.",
        example: r#"rule("r1", #{from: "10.1.0.0/24", table: 100, priority: 1000});"#,
        ip: "ip rule add [from P] [to P] [iif L] [oif L] [fwmark M[/MASK]] [priority N] [lookup T | blackhole | unreachable | prohibit]",
        call: |c| {
            let ns = c.ns()?;
            let a = rule_args(c)?;
            c.lab().rule(&ns, &a)?;
            done()
        },
    },
    Native {
        name: "rule_del",
        forms: &[
            "rule_del(#{from, to, iif, oif, fwmark, table, priority, action, family})",
            "rule_del(ns, #{from, to, iif, oif, fwmark, table, priority, action, family})",
        ],
        summary: "Delete exactly one rule, whoever made it: every key given must match, keys left out match anything; no match or several: an error listing the rules, and nothing is deleted.",
        example: r#"rule_del("r1", #{priority: 1000});"#,
        ip: "ip rule del [SELECTOR] [ACTION]",
        call: |c| {
            let ns = c.ns()?;
            let a = rule_args(c)?;
            c.lab().rule_del(&ns, &a)?;
            done()
        },
    },
    Native {
        name: "rules",
        forms: &["rules() -> array", "rules(#{family}) -> array", "rules(ns) -> array", "rules(ns, #{family}) -> array"],
        summary: "The policy rules in the kernel's order, as Rule maps (family, priority, from, to, iif, oif, fwmark, fwmask, table, action, proto); both families unless family says one.",
        example: r#"assert(rules("r1", #{family: "inet"}).len() == 4);"#,
        ip: "ip -j rule show; ip -j -6 rule show",
        call: |c| {
            let ns = c.ns()?;
            let family = c.opts()?.text("family", "\"inet\" or \"inet6\"")?;
            let rules = c.lab().rules(&ns, family.as_deref())?;
            Ok(rules.into_iter().map(rule_map).collect::<Array>().into())
        },
    },
];

type Res<T> = Result<T, Box<EvalAltResult>>;

fn u32_opt(c: &Call, o: &Opts, key: &str) -> Res<Option<u32>> {
    let Some(n) = o.integer(key)? else { return Ok(None) };
    u32::try_from(n)
        .map(Some)
        .map_err(|_| c.error(format!("the {key} option of {} must be from 0 to {}, not {n}", c.ctx().fn_name(), u32::MAX)))
}

/// A table, scope, protocol or mark: a string or an integer.
fn name_or_number(c: &Call, o: &Opts, key: &str, what: &str) -> Res<Option<NameOrNumber>> {
    let Some(v) = o.get(key) else { return Ok(None) };
    if let Ok(n) = v.as_int() {
        return Ok(Some(NameOrNumber::Number(n)));
    }
    if v.is_string() {
        return Ok(Some(NameOrNumber::Name(v.clone().into_string().expect("checked"))));
    }
    Err(c.error(format!("the {key} option of {} must be {what}, not {}", c.ctx().fn_name(), args::shown(v))))
}

fn hop_text(c: &Call, h: &Map, key: &str, what: &str) -> Res<Option<String>> {
    h.get(key)
        .map(|v| {
            v.clone().into_string().map_err(|_| {
                c.error(format!(
                    "the {key} of a nexthop of {} must be {what} (a string), not {}",
                    c.ctx().fn_name(),
                    args::shown(v)
                ))
            })
        })
        .transpose()
}

/// The nexthops option: an array of #{via, dev, weight, onlink}.
fn nexthops(c: &Call, o: &Opts) -> Res<Option<Vec<HopArgs>>> {
    let Some(v) = o.get("nexthops") else { return Ok(None) };
    let Some(items) = v.clone().try_cast::<Array>() else {
        return Err(c.error(format!(
            "the nexthops option of {} must be an array of #{{via, dev, weight, onlink}}, not {}",
            c.ctx().fn_name(),
            args::shown(v)
        )));
    };
    let mut out = Vec::new();
    for item in items {
        let Some(h) = item.clone().try_cast::<Map>() else {
            return Err(c.error(format!(
                "each nexthop of {} must be a map #{{via, dev, weight, onlink}}, not {}",
                c.ctx().fn_name(),
                args::shown(&item)
            )));
        };
        const KEYS: &[&str] = &["via", "dev", "weight", "onlink"];
        if let Some(bad) = h.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(c.error(format!(
                "a nexthop of {} has no key {bad:?}; the keys are: {}",
                c.ctx().fn_name(),
                KEYS.join(", ")
            )));
        }
        let weight = h.get("weight").map(|w| args::integer(c.ctx(), w, "the weight of a nexthop")).transpose()?;
        let onlink = match h.get("onlink") {
            None => None,
            Some(v) => Some(v.as_bool().map_err(|_| {
                c.error(format!("the onlink of a nexthop of {} must be true or false, not {}", c.ctx().fn_name(), args::shown(v)))
            })?),
        };
        out.push(HopArgs {
            via: hop_text(c, &h, "via", "a gateway address")?,
            dev: hop_text(c, &h, "dev", "a link name")?,
            weight,
            onlink,
        });
    }
    Ok(Some(out))
}

/// `route`/`route_del`'s route: a gateway address (`via`), or the options map.
fn route_args(c: &Call) -> Res<RouteArgs> {
    if c.has("via") {
        let via = c.string("via", "a gateway address or an options map")?;
        return Ok(RouteArgs { via: Some(via), ..RouteArgs::default() });
    }
    let o = c.opts()?;
    Ok(RouteArgs {
        via: o.text("via", "a gateway address")?,
        dev: o.text("dev", "a link name")?,
        metric: u32_opt(c, &o, "metric")?,
        table: name_or_number(c, &o, "table", "a table number or \"main\", \"local\", \"default\"")?,
        kind: o.text("type", "a route type")?,
        onlink: o.boolean("onlink")?,
        src: o.text("src", "an address")?,
        scope: name_or_number(c, &o, "scope", "a scope name or number")?,
        proto: name_or_number(c, &o, "proto", "a protocol name or number")?,
        nexthops: nexthops(c, &o)?,
    })
}

fn rule_args(c: &Call) -> Res<RuleArgs> {
    let o = c.opts()?;
    Ok(RuleArgs {
        from: o.text("from", "an address, a CIDR or \"all\"")?,
        to: o.text("to", "an address, a CIDR or \"all\"")?,
        iif: o.text("iif", "a link name")?,
        oif: o.text("oif", "a link name")?,
        fwmark: name_or_number(c, &o, "fwmark", "a mark (an integer, or \"MARK/MASK\")")?,
        table: name_or_number(c, &o, "table", "a table number or \"main\", \"local\", \"default\"")?,
        priority: u32_opt(c, &o, "priority")?,
        action: o.text("action", "an action")?,
        family: o.text("family", "\"inet\" or \"inet6\"")?,
    })
}
