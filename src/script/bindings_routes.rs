//! Routes and policy rules as script functions: route, route_del, routes, route_get, rule,
//! rule_del, rules. Every function takes the namespace first and optionally; a trailing options
//! map is told from a namespace by its type.

use rhai::{Array, Dynamic, Map, NativeCallContext};

use super::args;
use super::bindings::{Registrar, SharedLab};
use super::failure::{argument_error, lab_error, Res};
use super::values_routes::{route_get_map, route_map, rule_map};
use crate::lab::{HopArgs, NameOrNumber, Ns, RouteArgs, RouteGetArgs, RuleArgs};

/// The keys of `route` and `route_del`'s options.
const ROUTE_KEYS: &[&str] = &["via", "dev", "metric", "table", "type", "onlink", "src", "scope", "proto", "nexthops"];
const RULE_KEYS: &[&str] = &["from", "to", "iif", "oif", "fwmark", "table", "priority", "action", "family"];

type Handler = fn(&NativeCallContext, &SharedLab, Vec<Dynamic>) -> Res<Dynamic>;

/// Registers `f` under `name` for each argument count in `arities`.
fn add(reg: &mut Registrar, lab: &SharedLab, name: &'static str, arities: &[usize], f: Handler) {
    for &n in arities {
        let l = lab.clone();
        match n {
            0 => reg.add(name, move |ctx: NativeCallContext| f(&ctx, &l, vec![])),
            1 => reg.add(name, move |ctx: NativeCallContext, a: Dynamic| f(&ctx, &l, vec![a])),
            2 => reg.add(name, move |ctx: NativeCallContext, a: Dynamic, b: Dynamic| f(&ctx, &l, vec![a, b])),
            3 => reg.add(name, move |ctx: NativeCallContext, a: Dynamic, b: Dynamic, c: Dynamic| f(&ctx, &l, vec![a, b, c])),
            _ => unreachable!("no function here takes {n} arguments"),
        }
    }
}

/// Splits a call into its namespace, its `base` positional arguments (with their positions) and
/// its options map: the namespace is there when there is one argument more than `base` besides
/// a trailing map.
fn split(ctx: &NativeCallContext, all: Vec<Dynamic>, base: usize) -> Res<(Ns, Vec<(usize, Dynamic)>, Option<(usize, Dynamic)>)> {
    let mut indexed: Vec<(usize, Dynamic)> = all.into_iter().enumerate().collect();
    let opts = match indexed.last() {
        Some((_, v)) if args::is_map(v) => indexed.pop(),
        _ => None,
    };
    let ns = if indexed.len() == base + 1 {
        let (i, v) = indexed.remove(0);
        args::ns(ctx, &v, i)?
    } else if indexed.len() == base {
        Ns::Root
    } else {
        let (i, v) = indexed.last().cloned().unwrap_or((0, Dynamic::UNIT));
        return Err(argument_error(
            ctx,
            format!("the {} argument of {} must be an options map, not {}", args::ordinal(i), ctx.fn_name(), args::shown(&v)),
        ));
    };
    Ok((ns, indexed, opts))
}

fn options(ctx: &NativeCallContext, opts: &Option<(usize, Dynamic)>, allowed: &[&str]) -> Res<Map> {
    match opts {
        Some((i, v)) => args::map(ctx, v, *i, allowed),
        None => Ok(Map::new()),
    }
}

fn opt_string(ctx: &NativeCallContext, m: &Map, key: &str, what: &str) -> Res<Option<String>> {
    m.get(key)
        .map(|v| {
            v.clone().into_string().map_err(|_| {
                argument_error(
                    ctx,
                    format!("the {key} option of {} must be {what} (a string), not {}", ctx.fn_name(), args::shown(v)),
                )
            })
        })
        .transpose()
}

fn opt_bool(ctx: &NativeCallContext, m: &Map, key: &str) -> Res<Option<bool>> {
    m.get(key)
        .map(|v| {
            v.as_bool().map_err(|_| {
                argument_error(
                    ctx,
                    format!("the {key} option of {} must be true or false, not {}", ctx.fn_name(), args::shown(v)),
                )
            })
        })
        .transpose()
}

fn opt_u32(ctx: &NativeCallContext, m: &Map, key: &str) -> Res<Option<u32>> {
    let Some(v) = m.get(key) else { return Ok(None) };
    let n = args::integer(ctx, v, &format!("the {key} option"))?;
    u32::try_from(n).map(Some).map_err(|_| {
        argument_error(ctx, format!("the {key} option of {} must be from 0 to {}, not {n}", ctx.fn_name(), u32::MAX))
    })
}

/// A table, scope, protocol or mark: a string or an integer.
fn opt_name_or_number(ctx: &NativeCallContext, m: &Map, key: &str, what: &str) -> Res<Option<NameOrNumber>> {
    let Some(v) = m.get(key) else { return Ok(None) };
    if let Ok(n) = v.as_int() {
        return Ok(Some(NameOrNumber::Number(n)));
    }
    if v.is_string() {
        return Ok(Some(NameOrNumber::Name(v.clone().into_string().expect("checked"))));
    }
    Err(argument_error(ctx, format!("the {key} option of {} must be {what}, not {}", ctx.fn_name(), args::shown(v))))
}

fn nexthops(ctx: &NativeCallContext, m: &Map) -> Res<Option<Vec<HopArgs>>> {
    let Some(v) = m.get("nexthops") else { return Ok(None) };
    let Some(items) = v.clone().try_cast::<Array>() else {
        return Err(argument_error(
            ctx,
            format!(
                "the nexthops option of {} must be an array of #{{via, dev, weight, onlink}}, not {}",
                ctx.fn_name(),
                args::shown(v)
            ),
        ));
    };
    let mut out = Vec::new();
    for item in items {
        let Some(h) = item.clone().try_cast::<Map>() else {
            return Err(argument_error(
                ctx,
                format!(
                    "each nexthop of {} must be a map #{{via, dev, weight, onlink}}, not {}",
                    ctx.fn_name(),
                    args::shown(&item)
                ),
            ));
        };
        const KEYS: &[&str] = &["via", "dev", "weight", "onlink"];
        if let Some(bad) = h.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(argument_error(
                ctx,
                format!("a nexthop of {} has no key {bad:?}; the keys are: {}", ctx.fn_name(), KEYS.join(", ")),
            ));
        }
        out.push(HopArgs {
            via: opt_string(ctx, &h, "via", "a gateway address")?,
            dev: opt_string(ctx, &h, "dev", "a link name")?,
            weight: h.get("weight").map(|w| args::integer(ctx, w, "the weight of a nexthop")).transpose()?,
            onlink: opt_bool(ctx, &h, "onlink")?,
        });
    }
    Ok(Some(out))
}

/// `route`/`route_del`'s second part: a gateway address, or the options map.
fn route_args(ctx: &NativeCallContext, how: Option<(usize, Dynamic)>) -> Res<RouteArgs> {
    let Some((i, v)) = how else { return Ok(RouteArgs::default()) };
    if !args::is_map(&v) {
        return Ok(RouteArgs {
            via: Some(args::string(ctx, &v, i, "a gateway address or an options map")?),
            ..RouteArgs::default()
        });
    }
    let m = args::map(ctx, &v, i, ROUTE_KEYS)?;
    Ok(RouteArgs {
        via: opt_string(ctx, &m, "via", "a gateway address")?,
        dev: opt_string(ctx, &m, "dev", "a link name")?,
        metric: opt_u32(ctx, &m, "metric")?,
        table: opt_name_or_number(ctx, &m, "table", "a table number or \"main\", \"local\", \"default\"")?,
        kind: opt_string(ctx, &m, "type", "a route type")?,
        onlink: opt_bool(ctx, &m, "onlink")?,
        src: opt_string(ctx, &m, "src", "an address")?,
        scope: opt_name_or_number(ctx, &m, "scope", "a scope name or number")?,
        proto: opt_name_or_number(ctx, &m, "proto", "a protocol name or number")?,
        nexthops: nexthops(ctx, &m)?,
    })
}

fn rule_args(ctx: &NativeCallContext, opts: &Option<(usize, Dynamic)>) -> Res<RuleArgs> {
    let m = options(ctx, opts, RULE_KEYS)?;
    Ok(RuleArgs {
        from: opt_string(ctx, &m, "from", "an address, a CIDR or \"all\"")?,
        to: opt_string(ctx, &m, "to", "an address, a CIDR or \"all\"")?,
        iif: opt_string(ctx, &m, "iif", "a link name")?,
        oif: opt_string(ctx, &m, "oif", "a link name")?,
        fwmark: opt_name_or_number(ctx, &m, "fwmark", "a mark (an integer, or \"MARK/MASK\")")?,
        table: opt_name_or_number(ctx, &m, "table", "a table number or \"main\", \"local\", \"default\"")?,
        priority: opt_u32(ctx, &m, "priority")?,
        action: opt_string(ctx, &m, "action", "an action")?,
        family: opt_string(ctx, &m, "family", "\"inet\" or \"inet6\"")?,
    })
}

fn done(r: crate::lab::Result<()>, ctx: &NativeCallContext) -> Res<Dynamic> {
    r.map(|_| Dynamic::UNIT).map_err(|e| lab_error(ctx, e))
}

pub fn register(reg: &mut Registrar, lab: &SharedLab) {
    // route(dst, how) / route(ns, dst, how): `how` a gateway or a map (the map is not optional).
    add(reg, lab, "route", &[2, 3], |ctx, l, mut all| {
        let how = all.pop().map(|v| (all.len(), v));
        let (ns, rest, _) = split(ctx, all, 1)?;
        let dst = args::string(ctx, &rest[0].1, rest[0].0, "a destination (a CIDR or \"default\")")?;
        let a = route_args(ctx, how)?;
        done(l.borrow_mut().route(&ns, &dst, &a), ctx)
    });
    // route_del(dst), route_del(dst, #{}), route_del(ns, dst), route_del(ns, dst, via or #{}).
    add(reg, lab, "route_del", &[1, 2, 3], |ctx, l, mut all| {
        let how = match all.len() {
            3 => all.pop().map(|v| (2, v)),
            2 if args::is_map(&all[1]) => all.pop().map(|v| (1, v)),
            _ => None,
        };
        let (ns, rest, _) = split(ctx, all, 1)?;
        let dst = args::string(ctx, &rest[0].1, rest[0].0, "a destination (a CIDR or \"default\")")?;
        let a = route_args(ctx, how)?;
        done(l.borrow_mut().route_del(&ns, &dst, &a), ctx)
    });
    add(reg, lab, "routes", &[0, 1, 2], |ctx, l, all| {
        let (ns, _, opts) = split(ctx, all, 0)?;
        let m = options(ctx, &opts, &["table", "family"])?;
        let table = opt_name_or_number(ctx, &m, "table", "a table number, \"main\", \"local\", \"default\" or \"all\"")?;
        let family = opt_string(ctx, &m, "family", "\"inet\" or \"inet6\"")?;
        let routes = l.borrow_mut().routes(&ns, table.as_ref(), family.as_deref()).map_err(|e| lab_error(ctx, e))?;
        Ok(routes.into_iter().map(route_map).collect::<Array>().into())
    });
    add(reg, lab, "route_get", &[1, 2, 3], |ctx, l, all| {
        let (ns, rest, opts) = split(ctx, all, 1)?;
        let dst = args::string(ctx, &rest[0].1, rest[0].0, "a destination address")?;
        let m = options(ctx, &opts, &["from", "iif", "oif", "mark"])?;
        let a = RouteGetArgs {
            from: opt_string(ctx, &m, "from", "a source address")?,
            iif: opt_string(ctx, &m, "iif", "a link name")?,
            oif: opt_string(ctx, &m, "oif", "a link name")?,
            mark: opt_u32(ctx, &m, "mark")?,
        };
        let found = l.borrow_mut().route_get(&ns, &dst, &a).map_err(|e| lab_error(ctx, e))?;
        Ok(route_get_map(found))
    });
    add(reg, lab, "rule", &[1, 2], |ctx, l, all| {
        let (ns, _, opts) = split(ctx, all, 0)?;
        if opts.is_none() {
            return Err(argument_error(ctx, "rule needs an options map, like #{from: \"10.0.0.0/24\", table: 100}"));
        }
        let a = rule_args(ctx, &opts)?;
        done(l.borrow_mut().rule(&ns, &a), ctx)
    });
    add(reg, lab, "rule_del", &[1, 2], |ctx, l, all| {
        let (ns, _, opts) = split(ctx, all, 0)?;
        if opts.is_none() {
            return Err(argument_error(ctx, "rule_del needs an options map naming the rule, like #{priority: 100}"));
        }
        let a = rule_args(ctx, &opts)?;
        done(l.borrow_mut().rule_del(&ns, &a), ctx)
    });
    add(reg, lab, "rules", &[0, 1, 2], |ctx, l, all| {
        let (ns, _, opts) = split(ctx, all, 0)?;
        let m = options(ctx, &opts, &["family"])?;
        let family = opt_string(ctx, &m, "family", "\"inet\" or \"inet6\"")?;
        let rules = l.borrow_mut().rules(&ns, family.as_deref()).map_err(|e| lab_error(ctx, e))?;
        Ok(rules.into_iter().map(rule_map).collect::<Array>().into())
    });
}
