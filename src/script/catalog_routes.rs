//! Documentation of routes and policy rules: route, route_del, routes, route_get, rule,
//! rule_del, rules.

use super::catalog::FnDoc;

pub const ROUTES: &[FnDoc] = &[
    FnDoc {
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
    },
    FnDoc {
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
    },
    FnDoc {
        name: "routes",
        forms: &["routes() -> array", "routes(#{table, family}) -> array", "routes(ns) -> array", "routes(ns, #{table, family}) -> array"],
        summary: "The routes as maps: dst, type, table (a number: 254 main, 255 local, 253 default), via, dev, metric (0 when the kernel gives none), proto (= protocol), scope, src, onlink, nexthops (an array of #{via, dev, weight} for a multipath route, empty otherwise), family. The main table unless table says another (\"all\" or 0: every table); both families unless family is \"inet\" or \"inet6\".",
        example: r#"let r = routes("r1", #{table: "all", family: "inet6"});"#,
        ip: "ip -j route show [table T]; ip -j -6 route show [table T]",
    },
    FnDoc {
        name: "route_get",
        forms: &["route_get(dst) -> map", "route_get(dst, #{from, iif, oif, mark}) -> map", "route_get(ns, dst) -> map", "route_get(ns, dst, #{from, iif, oif, mark}) -> map"],
        summary: "The route the kernel picks for the address dst (from: a source address; iif: as if arriving on that link, with from; oif: out of that link; mark: a firewall mark), as #{ok, dev, via, src, table, type, error}. When there is no usable route it does not fail: ok is false and error is the kernel's answer (\"Network is unreachable\", \"No route to host\", \"Invalid argument\" for a blackhole, \"Permission denied\" for prohibit).",
        example: r#"assert(route_get("h1", "10.9.0.1").dev == "eth0");"#,
        ip: "ip route get DST [from SRC] [iif LINK] [oif LINK] [mark M]",
    },
    FnDoc {
        name: "rule",
        forms: &["rule(#{from, to, iif, oif, fwmark, table, priority, action, family})", "rule(ns, #{from, to, iif, oif, fwmark, table, priority, action, family})"],
        summary: "Add a policy routing rule. from/to: an address, a CIDR or \"all\"; fwmark: an integer or \"MARK/MASK\"; action: \"lookup\" (default; table: a number or \"main\"/\"local\"/\"default\", main by default), \"blackhole\", \"unreachable\", \"prohibit\"; priority: the kernel's choice when left out (like ip rule add); family: \"inet\" (default) or \"inet6\", needed only for an IPv6 rule without addresses. Marked proto nslab; removed at teardown outside the lab's namespaces.",
        example: r#"rule("r1", #{from: "10.1.0.0/24", table: 100, priority: 1000});"#,
        ip: "ip rule add [from P] [to P] [iif L] [oif L] [fwmark M[/MASK]] [priority N] [lookup T | blackhole | unreachable | prohibit]",
    },
    FnDoc {
        name: "rule_del",
        forms: &["rule_del(#{from, to, iif, oif, fwmark, table, priority, action, family})", "rule_del(ns, #{from, to, iif, oif, fwmark, table, priority, action, family})"],
        summary: "Delete exactly one rule, whoever made it: every key given must match, keys left out match anything; no match or several: an error listing the rules, and nothing is deleted.",
        example: r#"rule_del("r1", #{priority: 1000});"#,
        ip: "ip rule del [SELECTOR] [ACTION]",
    },
    FnDoc {
        name: "rules",
        forms: &["rules() -> array", "rules(#{family}) -> array", "rules(ns) -> array", "rules(ns, #{family}) -> array"],
        summary: "The policy rules in the kernel's order, as maps: family, priority, from and to (\"all\" or a CIDR), iif, oif (\"\" for any), fwmark and fwmask (0: none), table (a number; 0 for a non-lookup action), action, proto. Both families unless family says one.",
        example: r#"assert(rules("r1", #{family: "inet"}).len() == 4);"#,
        ip: "ip -j rule show; ip -j -6 rule show",
    },
];
