//! Routes of every type, in every table, multipath and onlink; route lookups; policy rules; and
//! their removal at teardown, all checked against iproute2 (`ip -j route`, `ip -j route get`,
//! `ip -j rule`) as the independent oracle.

use serde_json::Value;

use crate::support::{in_private_netns, json, script};

use crate::support::{keep_then, text_section as section};

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn table_number(name: &str) -> String {
    match name {
        "" | "main" => "254".into(),
        "local" => "255".into(),
        "default" => "253".into(),
        "unspec" => "0".into(),
        n => n.into(),
    }
}

/// A route from `ip -j route` in one line: dst|type|table|via|dev|metric|proto|scope|src|onlink|hops.
fn ip_route(r: &Value, v6: bool) -> String {
    let mut dst = text(r, "dst").to_string();
    if dst != "default" && !dst.contains('/') {
        dst += if v6 { "/128" } else { "/32" };
    }
    let kind = r.get("type").and_then(Value::as_str).unwrap_or("unicast");
    let proto = match r.get("protocol").and_then(Value::as_str) {
        None => "boot",
        Some("110") => "nslab",
        Some(p) => p,
    };
    let scope = r.get("scope").and_then(Value::as_str).unwrap_or("global");
    let has_onlink = |v: &Value| v["flags"].as_array().is_some_and(|f| f.iter().any(|x| x == "onlink"));
    // A multipath route is onlink when every nexthop is.
    let onlink = has_onlink(r) || r.get("nexthops").and_then(Value::as_array).is_some_and(|h| h.iter().all(has_onlink));
    let hops: Vec<String> = r
        .get("nexthops")
        .and_then(Value::as_array)
        .map(|hops| hops.iter().map(|h| format!("{}@{}@{}", text(h, "gateway"), text(h, "dev"), h["weight"])).collect())
        .unwrap_or_default();
    format!(
        "{dst}|{kind}|{}|{}|{}|{}|{proto}|{scope}|{}|{onlink}|{}",
        table_number(text(r, "table")),
        text(r, "gateway"),
        text(r, "dev"),
        r.get("metric").and_then(Value::as_u64).unwrap_or(0),
        text(r, "prefsrc"),
        hops.join(",")
    )
}

/// A route from nslab's `routes()` (printed with to_json) in the same form.
fn nslab_route(r: &Value) -> String {
    let hops: Vec<String> = r["nexthops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| format!("{}@{}@{}", text(h, "via"), text(h, "dev"), h["weight"]))
        .collect();
    format!(
        "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
        text(r, "dst"),
        text(r, "type"),
        r["table"],
        text(r, "via"),
        text(r, "dev"),
        r["metric"],
        text(r, "proto"),
        text(r, "scope"),
        text(r, "src"),
        r["onlink"],
        hops.join(",")
    )
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Every route iproute2 shows, in both families and every table, as nslab shows it.
fn ip_routes(out: &str, v4: &str, v6: &str) -> Vec<String> {
    let mut all: Vec<String> = json(&section(out, v4)).as_array().unwrap().iter().map(|r| ip_route(r, false)).collect();
    all.extend(json(&section(out, v6)).as_array().unwrap().iter().map(|r| ip_route(r, true)));
    sorted(all)
}

fn nslab_routes(out: &str, name: &str) -> Vec<String> {
    sorted(json(&section(out, name))["r"].as_array().unwrap().iter().map(nslab_route).collect())
}

/// Two links with addresses of both families in namespace r.
const TWO_LINKS: &str = r#"
let n = netns_add("r");
veth(n, "a", n, "b");
for l in ["lo", "a", "b"] { up(n, l); }
addr(n, "a", "10.1.0.1/24");
addr(n, "b", "10.2.0.1/24");
addr(n, "a", "fd00:1::1/64");
addr(n, "b", "fd00:2::1/64");
"#;

#[test]
fn routes_of_every_type_table_and_path_match_ip_route() {
    let lab = TWO_LINKS.to_string()
        + r#"
        route(n, "10.9.0.0/24", #{nexthops: [#{via: "10.1.0.2", weight: 2}, #{via: "10.2.0.2"}]});
        route(n, "fd00:9::/64", #{nexthops: [#{via: "fd00:1::2", dev: "a", weight: 3}, #{via: "fd00:2::2", dev: "b"}]});
        route(n, "10.4.0.0/24", #{onlink: true, nexthops: [#{via: "192.168.50.1", dev: "a"}, #{via: "192.168.60.1", dev: "b", weight: 256}]});
        route(n, "10.3.0.0/24", #{nexthops: [#{via: "10.1.0.2", dev: "a"}]});
        route(n, "10.8.0.0/24", #{type: "blackhole", table: 100});
        route(n, "10.7.0.0/24", #{type: "unreachable"});
        route(n, "10.6.0.0/24", #{type: "prohibit", table: "default"});
        route(n, "10.5.0.0/24", #{type: "throw", table: 100, metric: 9});
        route(n, "fd00:8::/64", #{type: "blackhole", table: 100});
        route(n, "fd00:6::/64", #{type: "prohibit", table: 300});
        route(n, "fd00:5::/64", #{type: "throw", table: 300});
        route(n, "fd00:4::/64", #{type: "unreachable"});
        route(n, "10.1.0.77", #{type: "local", dev: "a"});
        route(n, "fd00:1::77", #{type: "local", dev: "a"});
        route(n, "192.168.5.0/24", #{via: "192.168.99.1", dev: "a", onlink: true, src: "10.1.0.1", proto: "static", metric: 5});
        route(n, "fd00:7::/64", #{via: "fd00:99::1", dev: "a", onlink: true, proto: 77});
        route(n, "default", #{dev: "a", table: 300});
        route(n, "::/0", #{dev: "b", table: 300});
        route(n, "10.11.0.0/24", #{dev: "a", scope: "host", table: "main"});
        print("=nslab");
        print(#{r: routes(n, #{table: "all"})}.to_json());
        print("=main");
        print(#{r: routes(n)}.to_json());
        print("=t300");
        print(#{r: routes(n, #{table: 300, family: "inet6"})}.to_json());
        print("=zero");
        print(#{r: routes(n, #{table: 0, family: "inet"})}.to_json());
        print("=end");
        "#;
    let run = keep_then(
        "routes-every-type",
        &lab,
        r#"echo "=v4"; ip -n r -4 -j route show table all
        echo "=v6"; ip -n r -6 -j route show table all
        echo "=v4main"; ip -n r -4 -j route show
        echo "=v6main"; ip -n r -6 -j route show"#,
    );
    let ip = ip_routes(&run.stdout, "v4", "v6");
    let ours = nslab_routes(&run.stdout, "nslab");
    assert_eq!(ours, ip, "routes(#{{table: \"all\"}}) is what ip shows in every table");
    let only = |name: &str, v6: bool| -> Vec<String> {
        sorted(json(&section(&run.stdout, name)).as_array().unwrap().iter().map(|r| ip_route(r, v6)).collect())
    };
    assert_eq!(nslab_routes(&run.stdout, "zero"), only("v4", false));
    assert_eq!(nslab_routes(&run.stdout, "main"), ip_routes(&run.stdout, "v4main", "v6main"), "routes() is the main table");
    let t300v6: Vec<String> = only("v6", true).into_iter().filter(|r| r.contains("|300|")).collect();
    assert_eq!(nslab_routes(&run.stdout, "t300"), t300v6);
    assert_eq!(t300v6.len(), 3, "{ip:#?}");
    // What the contract says, spelled out on the oracle's side.
    let has = |line: &str| ip.iter().any(|r| r == line);
    assert!(has("10.9.0.0/24|unicast|254|||0|nslab|global||false|10.1.0.2@a@2,10.2.0.2@b@1"), "{ip:#?}");
    assert!(has("fd00:9::/64|unicast|254|||1024|nslab|global||false|fd00:1::2@a@3,fd00:2::2@b@1"), "{ip:#?}");
    assert!(has("10.4.0.0/24|unicast|254|||0|nslab|global||true|192.168.50.1@a@1,192.168.60.1@b@256"), "{ip:#?}");
    assert!(has("10.3.0.0/24|unicast|254|10.1.0.2|a|0|nslab|global||false|"), "one nexthop is a single path: {ip:#?}");
    assert!(has("10.8.0.0/24|blackhole|100|||0|nslab|global||false|"), "{ip:#?}");
    assert!(has("10.5.0.0/24|throw|100|||9|nslab|global||false|"), "{ip:#?}");
    assert!(has("10.6.0.0/24|prohibit|253|||0|nslab|global||false|"), "{ip:#?}");
    assert!(has("10.1.0.77/32|local|255||a|0|nslab|host||false|"), "type local: table local, scope host: {ip:#?}");
    assert!(has("192.168.5.0/24|unicast|254|192.168.99.1|a|5|static|global|10.1.0.1|true|"), "{ip:#?}");
    assert!(has("fd00:7::/64|unicast|254|fd00:99::1|a|1024|77|global||true|"), "{ip:#?}");
    assert!(has("default|unicast|300||a|0|nslab|link||false|"), "no gateway: scope link: {ip:#?}");
    assert!(has("default|unicast|300||b|1024|nslab|global||false|"), "IPv6's default route, made as ::/0: {ip:#?}");
    assert!(has("10.11.0.0/24|unicast|254||a|0|nslab|host||false|"), "{ip:#?}");
    assert!(has("fd00:4::/64|unreachable|254||lo|1024|nslab|global||false|"), "{ip:#?}");
    // The kernel's connected IPv4 routes have no metric attribute: 0, never ().
    assert!(has("10.1.0.0/24|unicast|254||a|0|kernel|link|10.1.0.1|false|"), "{ip:#?}");
}

#[test]
fn route_del_removes_exactly_the_route_named() {
    let lab = TWO_LINKS.to_string()
        + r#"
        route(n, "10.9.0.0/24", #{via: "10.1.0.2", metric: 10, table: 100});
        route(n, "10.9.0.0/24", #{via: "10.1.0.2", metric: 20, table: 100});
        route(n, "10.9.0.0/24", #{via: "10.1.0.2"});
        route_del(n, "10.9.0.0/24", #{metric: 20, table: 100});
        // The kernel deletes an IPv6 route whatever type is asked for; nslab does not.
        route(n, "fd00:8::/64", #{type: "blackhole", table: 100});
        try { route_del(n, "fd00:8::/64", #{type: "unreachable", table: 100}); assert(false); }
        catch (e) { assert(e.message.contains("there is no route to fd00:8::/64 type unreachable table 100"), e.message); }
        route(n, "fd00:7::/64", #{type: "unreachable", table: 100});
        route_del(n, "fd00:7::/64", #{type: "unreachable", table: 100});
        // Several match: nothing goes.
        route(n, "10.8.0.0/24", #{via: "10.1.0.2", metric: 1});
        route(n, "10.8.0.0/24", #{via: "10.2.0.2", metric: 2});
        try { route_del(n, "10.8.0.0/24"); assert(false); }
        catch (e) { assert(e.message.contains("2 routes to 10.8.0.0/24 in namespace \"r\" match"), e.message); }
        route_del(n, "10.8.0.0/24", #{via: "10.2.0.2"});
        // Multipath, named by its nexthops (IPv4 and IPv6), and by dst and type alone.
        route(n, "10.7.0.0/24", #{nexthops: [#{via: "10.1.0.2"}, #{via: "10.2.0.2"}]});
        try { route_del(n, "10.7.0.0/24", #{nexthops: [#{via: "10.1.0.2"}, #{via: "10.2.0.9"}]}); assert(false); } catch {}
        route_del(n, "10.7.0.0/24", #{nexthops: [#{via: "10.2.0.2"}, #{via: "10.1.0.2"}]});
        route(n, "fd00:9::/64", #{nexthops: [#{via: "fd00:1::2", dev: "a"}, #{via: "fd00:2::2", dev: "b"}]});
        route_del(n, "fd00:9::/64", #{nexthops: [#{via: "fd00:1::2", dev: "a"}, #{via: "fd00:2::2", dev: "b"}]});
        route(n, "10.6.0.0/24", #{type: "local", dev: "b"});
        route_del(n, "10.6.0.0/24", #{type: "local"});
        route(n, "10.5.0.0/24", #{dev: "a", proto: "static"});
        try { route_del(n, "10.5.0.0/24", #{proto: "bird"}); assert(false); } catch {}
        route_del(n, "10.5.0.0/24", #{proto: "static", scope: "link"});
        // Handles work as methods.
        n.route("10.4.0.0/24", #{type: "blackhole"});
        n.route_del("10.4.0.0/24");
        "#;
    let run = keep_then(
        "route-del",
        &lab,
        r#"echo "=v4"; ip -n r -4 -j route show table all
        echo "=v6"; ip -n r -6 -j route show table all"#,
    );
    let ip = ip_routes(&run.stdout, "v4", "v6");
    let to = |dst: &str| ip.iter().filter(|r| r.starts_with(&format!("{dst}|"))).cloned().collect::<Vec<_>>();
    assert_eq!(
        to("10.9.0.0/24"),
        [
            "10.9.0.0/24|unicast|100|10.1.0.2|a|10|nslab|global||false|",
            "10.9.0.0/24|unicast|254|10.1.0.2|a|0|nslab|global||false|"
        ]
    );
    assert_eq!(to("fd00:8::/64"), ["fd00:8::/64|blackhole|100||lo|1024|nslab|global||false|"], "still there");
    assert_eq!(to("10.8.0.0/24"), ["10.8.0.0/24|unicast|254|10.1.0.2|a|1|nslab|global||false|"]);
    for gone in ["fd00:7::/64", "10.7.0.0/24", "fd00:9::/64", "10.6.0.0/32", "10.6.0.0/24", "10.5.0.0/24", "10.4.0.0/24"] {
        assert!(to(gone).is_empty(), "{gone}: {ip:#?}");
    }
}

#[test]
fn route_get_answers_like_ip_route_get() {
    let lab = TWO_LINKS.to_string()
        + r#"
        route(n, "10.9.0.0/24", #{via: "10.1.0.2"});
        route(n, "10.9.0.0/24", #{via: "10.2.0.2", table: 100});
        route(n, "10.8.0.0/24", #{type: "blackhole"});
        route(n, "10.7.0.0/24", #{type: "unreachable"});
        route(n, "10.6.0.0/24", #{type: "prohibit"});
        route(n, "fd00:9::/64", #{via: "fd00:2::2"});
        rule(n, #{fwmark: 7, table: 100});
        rule(n, #{from: "10.2.0.1", table: 100});
        let show = |name, r| { print("=" + name); print(r.to_json()); };
        show.call("plain", route_get(n, "10.9.0.1"));
        show.call("mark", route_get(n, "10.9.0.1", #{mark: 7}));
        show.call("from", route_get(n, "10.9.0.1", #{from: "10.2.0.1"}));
        show.call("oif", route_get(n, "10.1.0.9", #{oif: "b"}));
        show.call("iif", route_get(n, "10.1.0.5", #{from: "10.2.0.9", iif: "b"}));
        show.call("v6", route_get(n, "fd00:9::1"));
        show.call("local", route_get(n, "10.1.0.1"));
        show.call("blackhole", route_get(n, "10.8.0.1"));
        show.call("unreachable", route_get(n, "10.7.0.1"));
        show.call("prohibit", route_get(n, "10.6.0.1"));
        show.call("none", route_get(n, "fd00:77::1"));
        show.call("handle", n.route_get("10.9.0.1"));
        print("=end");
        "#;
    let run = keep_then(
        "route-get",
        &lab,
        r#"get() { name=$1; shift; echo "=ip-$name"; ip -d -n r -j route get "$@" 2>&1 || true; }
        get plain 10.9.0.1
        get mark 10.9.0.1 mark 7
        get from 10.9.0.1 from 10.2.0.1
        get oif 10.1.0.9 oif b
        get iif 10.1.0.5 from 10.2.0.9 iif b
        get v6 fd00:9::1
        get local 10.1.0.1
        get blackhole 10.8.0.1
        get unreachable 10.7.0.1
        get prohibit 10.6.0.1
        get none fd00:77::1
        echo "=end""#,
    );
    for name in ["plain", "mark", "from", "oif", "iif", "v6", "local", "blackhole", "unreachable", "prohibit", "none"] {
        let ours = json(&section(&run.stdout, name));
        let theirs = section(&run.stdout, &format!("ip-{name}"));
        if let Some(err) = theirs.trim().strip_prefix("RTNETLINK answers: ") {
            assert_eq!(ours["ok"], false, "{name}: {ours}");
            assert_eq!(ours["error"], err, "{name}: the kernel's words");
            continue;
        }
        let ip = &json(&theirs)[0];
        assert_eq!(ours["ok"], true, "{name}: {ours}");
        assert_eq!(ours["error"], "", "{name}");
        assert_eq!(text(&ours, "dev"), text(ip, "dev"), "{name}: {ours} vs {ip}");
        assert_eq!(text(&ours, "via"), text(ip, "gateway"), "{name}: {ours} vs {ip}");
        assert_eq!(text(&ours, "src"), text(ip, "prefsrc"), "{name}: {ours} vs {ip}");
        assert_eq!(text(&ours, "type"), ip.get("type").and_then(Value::as_str).unwrap_or("unicast"), "{name}: {ours} vs {ip}");
        // `ip -d route get` shows every table, 0 ("unspec") where no table answered.
        let table = if ip.get("table").is_some() { table_number(text(ip, "table")) } else { "0".into() };
        assert_eq!(ours["table"].to_string(), table, "{name}: {ours} vs {ip}");
    }
    let get = |name: &str| json(&section(&run.stdout, name));
    assert_eq!(get("plain")["via"], "10.1.0.2");
    assert_eq!(get("mark")["via"], "10.2.0.2", "the fwmark rule picks table 100");
    assert_eq!(get("mark")["table"], 100);
    assert_eq!(get("from")["via"], "10.2.0.2", "the from rule picks table 100");
    assert_eq!(get("local")["type"], "local");
    assert_eq!(get("unreachable")["error"], "No route to host");
    assert_eq!(get("blackhole")["error"], "Invalid argument");
    assert_eq!(get("prohibit")["error"], "Permission denied");
    assert_eq!(get("none")["error"], "Network is unreachable");
    assert_eq!(get("handle"), get("plain"));
}

/// A rule from `ip -j rule` in one line: family|priority|from|to|iif|oif|fwmark/mask|table|action.
fn ip_rule(r: &Value, family: &str) -> String {
    // A host (a full-length prefix) comes without its length.
    let full = if family == "inet6" { 128 } else { 32 };
    let net = |addr: &str, len: &str| match r.get(addr).and_then(Value::as_str) {
        None | Some("all") => "all".to_string(),
        Some(a) => format!("{a}/{}", r.get(len).and_then(Value::as_u64).unwrap_or(full)),
    };
    let mark = match (r.get("fwmark").and_then(Value::as_str), r.get("fwmask").and_then(Value::as_str)) {
        (None, _) => "0/0".to_string(),
        (Some(m), None) => format!("{}/{}", u32::from_str_radix(&m[2..], 16).unwrap(), u32::MAX),
        (Some(m), Some(k)) => {
            format!("{}/{}", u32::from_str_radix(&m[2..], 16).unwrap(), u32::from_str_radix(&k[2..], 16).unwrap())
        }
    };
    let action = r.get("action").and_then(Value::as_str).unwrap_or("lookup");
    let table = if action == "lookup" { table_number(text(r, "table")) } else { "0".into() };
    format!(
        "{family}|{}|{}|{}|{}|{}|{mark}|{table}|{action}",
        r["priority"],
        net("src", "srclen"),
        net("dst", "dstlen"),
        text(r, "iif"),
        text(r, "oif")
    )
}

fn nslab_rule(r: &Value) -> String {
    format!(
        "{}|{}|{}|{}|{}|{}|{}/{}|{}|{}",
        text(r, "family"),
        r["priority"],
        text(r, "from"),
        text(r, "to"),
        text(r, "iif"),
        text(r, "oif"),
        r["fwmark"],
        r["fwmask"],
        r["table"],
        text(r, "action")
    )
}

#[test]
fn rules_match_ip_rule() {
    let lab = TWO_LINKS.to_string()
        + r#"
        rule(n, #{from: "10.1.0.0/24", table: 100, priority: 1000});
        rule(n, #{to: "10.9.0.0/16", iif: "a", oif: "b", fwmark: "0x10/0xff", action: "prohibit", priority: 900});
        rule(n, #{fwmark: 7, table: "default"});
        rule(n, #{from: "10.2.0.1", action: "blackhole", priority: 800});
        rule(n, #{family: "inet6", iif: "b", action: "unreachable"});
        rule(n, #{from: "fd00:1::/64", table: 200, priority: 50});
        rule(n, #{to: "10.8.0.0/24", table: 100, priority: 700});
        rule(n, #{to: "10.8.0.0/24", table: 101, priority: 701});
        // Several match: nothing goes; then one, named by a key.
        try { rule_del(n, #{to: "10.8.0.0/24"}); assert(false); }
        catch (e) { assert(e.message.contains("2 rules in namespace \"r\" match"), e.message); }
        rule_del(n, #{to: "10.8.0.0/24", table: 101});
        n.rule(#{from: "10.3.0.0/24", table: 5, priority: 600});
        n.rule_del(#{priority: 600});
        // The kernel's default priority: one below the second rule's.
        rule(n, #{from: "10.4.0.0/24", table: 6});
        assert(rules(n, #{family: "inet"}).some(|r| r.from == "10.4.0.0/24" && r.priority == 699), `${rules(n)}`);
        assert(rules(n).all(|r| r.proto == "nslab" || r.proto == "kernel"));
        print("=nslab");
        print(#{r: rules(n)}.to_json());
        print("=v6");
        print(#{r: rules(n, #{family: "inet6"})}.to_json());
        print("=end");
        "#;
    let run = keep_then(
        "rules",
        &lab,
        r#"echo "=ip4"; ip -n r -4 -j rule show
        echo "=ip6"; ip -n r -6 -j rule show"#,
    );
    let mut ip: Vec<String> = json(&section(&run.stdout, "ip4")).as_array().unwrap().iter().map(|r| ip_rule(r, "inet")).collect();
    let ip6: Vec<String> = json(&section(&run.stdout, "ip6")).as_array().unwrap().iter().map(|r| ip_rule(r, "inet6")).collect();
    ip.extend(ip6.clone());
    let ours: Vec<String> = json(&section(&run.stdout, "nslab"))["r"].as_array().unwrap().iter().map(nslab_rule).collect();
    assert_eq!(ours, ip, "rules() lists what ip rule shows, in its order");
    let v6: Vec<String> = json(&section(&run.stdout, "v6"))["r"].as_array().unwrap().iter().map(nslab_rule).collect();
    assert_eq!(v6, ip6);
    let has = |line: &str| ip.iter().any(|r| r == line);
    assert!(has("inet|900|all|10.9.0.0/16|a|b|16/255|0|prohibit"), "{ip:#?}");
    assert!(has("inet|1000|10.1.0.0/24|all|||0/0|100|lookup"), "{ip:#?}");
    assert!(has("inet|899|all|all|||7/4294967295|253|lookup"), "the kernel's priority: one below the second rule's: {ip:#?}");
    assert!(has("inet|800|10.2.0.1/32|all|||0/0|0|blackhole"), "{ip:#?}");
    assert!(has("inet6|32765|all|all|b||0/0|0|unreachable"), "{ip:#?}");
    assert!(has("inet|700|all|10.8.0.0/24|||0/0|100|lookup") && !has("inet|701|all|10.8.0.0/24|||0/0|101|lookup"), "{ip:#?}");
    assert!(!ip.iter().any(|r| r.contains("|600|")), "{ip:#?}");
    // Every rule nslab added carries its protocol.
    let marked = json(&section(&run.stdout, "ip4")).as_array().unwrap().iter().filter(|r| r["protocol"] == "110").count();
    assert_eq!(marked, 6);
}

/// Routes and rules in the namespace nslab runs in are the lab's to remove, and only while they
/// are still exactly as it made them.
#[test]
fn teardown_removes_routes_and_rules_outside_the_lab_and_nothing_else() {
    let path = script(
        "routes-teardown",
        "t.rhai",
        r#"
        veth("v0", "v1");
        up("v0");
        up("v1");
        addr("v0", "10.1.0.1/24");
        addr("v0", "fd00:1::1/64");
        route("10.9.0.0/24", #{nexthops: [#{via: "10.1.0.2", weight: 2}, #{via: "10.1.0.3"}]});
        route("fd00:9::/64", #{nexthops: [#{via: "fd00:1::2", dev: "v0"}, #{via: "fd00:1::3", dev: "v0"}]});
        route("10.8.0.0/24", #{type: "blackhole", table: 100});
        route("fd00:8::/64", #{type: "unreachable", table: 100});
        route("10.7.0.0/24", #{via: "10.1.0.9", proto: "static", metric: 10});
        route("default", #{dev: "v0", table: 300});
        route("::/0", #{dev: "v0", table: 300});
        route("10.1.0.77", #{type: "local", dev: "v0"});
        route("192.168.7.0/24", #{via: "192.168.99.1", dev: "v0", onlink: true});
        rule(#{from: "10.1.0.0/24", table: 100, priority: 1000});
        rule(#{family: "inet6", fwmark: "0x10/0xff", table: 100});
        // Routes and rules of its own that the script removed are not removed twice.
        route("10.6.0.0/24", #{type: "prohibit"});
        route_del("10.6.0.0/24");
        rule(#{to: "10.6.0.0/24", action: "prohibit", priority: 5});
        rule_del(#{priority: 5});
        // Someone else's routes and rule where the lab's were (another type, another
        // protocol): left alone. (Not on v0: routes through it go with it.)
        route("10.5.0.0/24", #{type: "blackhole", table: 100});
        exec(["sh", "-c", "ip route del 10.5.0.0/24 table 100; ip route add unreachable 10.5.0.0/24 table 100 proto 110"]);
        route("fd00:5::/64", #{type: "blackhole", table: 100});
        exec(["sh", "-c", "ip route del fd00:5::/64 table 100; ip route add unreachable fd00:5::/64 table 100 proto 110"]);
        rule(#{from: "10.3.0.0/24", table: 100, priority: 2000});
        exec(["sh", "-c", "ip rule del pref 2000; ip rule add from 10.3.0.0/24 table 100 pref 2000"]);
        // Nor anything the kernel or someone else made.
        exec(["sh", "-c", "ip route add prohibit 10.4.0.0/24 table 100 proto static; ip rule add to 10.4.0.0/24 table 100 pref 3000"]);
        "#,
    );
    let run = in_private_netns(&format!(
        r#"$NSLAB run {p} || exit 9
        echo "=v4"; ip -4 -j route show table all
        echo "=v6"; ip -6 -j route show table all
        echo "=r4"; ip -4 -j rule
        echo "=r6"; ip -6 -j rule
        echo "=ledgers"; ls /run/nslab | wc -l
        echo "=end""#,
        p = path.display()
    ));
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("torn down: 1 link, 9 routes, 2 rules"), "{run:?}");
    let ip = ip_routes(&run.stdout, "v4", "v6");
    let left: Vec<&String> = ip.iter().filter(|r| !r.contains("|kernel|")).collect();
    assert_eq!(
        left,
        [
            "10.4.0.0/24|prohibit|100|||0|static|global||false|",
            "10.5.0.0/24|unreachable|100|||0|nslab|global||false|",
            "fd00:5::/64|unreachable|100||lo|1024|nslab|global||false|"
        ],
        "only someone else's routes are left: {ip:#?}"
    );
    let rules4: Vec<String> = json(&section(&run.stdout, "r4")).as_array().unwrap().iter().map(|r| ip_rule(r, "inet")).collect();
    assert_eq!(
        rules4,
        [
            "inet|0|all|all|||0/0|255|lookup",
            "inet|2000|10.3.0.0/24|all|||0/0|100|lookup",
            "inet|3000|all|10.4.0.0/24|||0/0|100|lookup",
            "inet|32766|all|all|||0/0|254|lookup",
            "inet|32767|all|all|||0/0|253|lookup"
        ]
    );
    assert_eq!(json(&section(&run.stdout, "r6")).as_array().unwrap().len(), 2, "the kernel's two IPv6 rules");
    assert_eq!(section(&run.stdout, "ledgers").trim(), "0");
}

/// A lab killed with routes and rules in the namespace nslab runs in: `nslab clean` replays its
/// ledger from disk (every field of every record read back and checked) and removes them.
#[test]
fn clean_after_kill_9_removes_the_routes_and_rules_of_a_dead_lab() {
    let path = script(
        "routes-clean",
        "t.rhai",
        r#"
        veth("v0", "v1");
        up("v0");
        addr("v0", "10.1.0.1/24");
        addr("v0", "fd00:1::1/64");
        route("10.9.0.0/24", #{onlink: true, nexthops: [#{via: "10.1.0.2", dev: "v0", weight: 7}, #{via: "10.7.0.3", dev: "v0"}]});
        route("fd00:9::/64", #{nexthops: [#{via: "fd00:1::2", dev: "v0"}, #{via: "fd00:1::3", dev: "v0", weight: 2}]});
        route("10.8.0.0/24", #{type: "prohibit", table: 1000000});
        route("::/0", #{type: "blackhole", table: 7});
        route("10.7.0.0/24", #{via: "10.1.0.2", proto: "bird"});
        rule(#{from: "10.1.0.0/24", to: "10.8.0.0/24", table: 1000000, priority: 10});
        rule(#{family: "inet6", fwmark: "0x3/0xf", iif: "v0", oif: "lo", action: "unreachable"});
        exec(["touch", "/run/tmp/ready"]);
        sleep(30);
        "#,
    );
    let run = in_private_netns(&format!(
        r#"$NSLAB run {p} >/dev/null 2>&1 & P=$!
        for i in $(seq 1 200); do [ -e /run/tmp/ready ] && break; sleep 0.05; done
        echo "=before"; ip -4 -o route show table all proto 110 | wc -l; ip -6 -o route show table all proto 110 | wc -l; ip rule | grep -c "proto 110"; ip -6 rule | grep -c "proto 110"
        kill -9 $P; wait $P
        echo "=clean"; $NSLAB clean 2>&1; echo "status $?"
        echo "=v4"; ip -4 -j route show table all
        echo "=v6"; ip -6 -j route show table all
        echo "=r4"; ip -4 -j rule
        echo "=r6"; ip -6 -j rule
        echo "=ledgers"; ls /run/nslab | wc -l
        echo "=end""#,
        p = path.display()
    ));
    assert_eq!(run.code, 0, "{run:?}");
    let before = section(&run.stdout, "before");
    let before: Vec<&str> = before.lines().map(str::trim).collect();
    assert_eq!(before, ["2", "2", "1", "1"], "the lab had made them: {run:?}");
    let clean = section(&run.stdout, "clean");
    assert!(clean.contains("torn down: 1 link, 5 routes, 2 rules"), "{run:?}");
    assert!(clean.ends_with("status 0\n"), "{run:?}");
    let ip = ip_routes(&run.stdout, "v4", "v6");
    assert!(ip.iter().all(|r| r.contains("|kernel|")), "nothing of the lab's is left: {ip:#?}");
    assert_eq!(json(&section(&run.stdout, "r4")).as_array().unwrap().len(), 3);
    assert_eq!(json(&section(&run.stdout, "r6")).as_array().unwrap().len(), 2);
    assert_eq!(section(&run.stdout, "ledgers").trim(), "0");
}

/// A sub-test's routes and rules go when it ends, in the lab's namespaces and where nslab runs;
/// routes of the lab's from before it stay.
#[test]
fn a_subtest_undoes_its_routes_and_rules() {
    let path = script(
        "routes-subtest",
        "t.rhai",
        &(TWO_LINKS.to_string()
            + r#"
        route(n, "10.9.0.0/24", #{via: "10.1.0.2"});
        rule(n, #{from: "10.1.0.0/24", table: 100, priority: 100});
        veth("v0", "v1");
        up("v0");
        test("routes and rules", || {
            route(n, "10.8.0.0/24", #{type: "blackhole", table: 100});
            route(n, "fd00:8::/64", #{nexthops: [#{via: "fd00:1::2", dev: "a"}, #{via: "fd00:2::2", dev: "b"}]});
            rule(n, #{to: "10.8.0.0/24", table: 100, priority: 200});
            route("10.7.0.0/24", #{dev: "v0", table: 7});
            rule(#{family: "inet6", table: 7, priority: 300});
            assert(false, "on purpose");
        });
        print("=v4"); print(exec(n, "ip -4 -j route show table all").stdout);
        print("=v6"); print(exec(n, "ip -6 -j route show table all").stdout);
        print("=rules"); print(exec(n, "ip -j rule").stdout);
        print("=root"); print(exec("ip -j route show table 7").stdout);
        print("=rootrules"); print(exec("ip -6 -j rule").stdout);
        print("=end");
        "#),
    );
    let run = in_private_netns(&format!("$NSLAB run {}; echo \"=status\"; echo $?", path.display()));
    let ip = ip_routes(&run.stdout, "v4", "v6");
    let ours: Vec<&String> = ip.iter().filter(|r| r.contains("|nslab|")).collect();
    assert_eq!(ours, ["10.9.0.0/24|unicast|254|10.1.0.2|a|0|nslab|global||false|"], "{run:?}");
    let rules: Vec<String> =
        json(&section(&run.stdout, "rules")).as_array().unwrap().iter().map(|r| ip_rule(r, "inet")).collect();
    assert!(rules.contains(&"inet|100|10.1.0.0/24|all|||0/0|100|lookup".to_string()), "{rules:?}");
    assert!(!rules.iter().any(|r| r.contains("|200|")), "{rules:?}");
    assert_eq!(json(&section(&run.stdout, "root")), json("[]"), "{run:?}");
    assert_eq!(json(&section(&run.stdout, "rootrules")).as_array().unwrap().len(), 2, "{run:?}");
}

/// `run --trace` says each route and rule as the `ip` command that does the same: replayed by
/// bash in the same namespace after `nslab down`, the lines build the same tables and rules
/// (the protocol aside: `ip route add` marks routes "boot", nslab its own).
#[test]
fn the_trace_of_routes_and_rules_replays_into_the_same_tables() {
    let lab = TWO_LINKS.to_string()
        + r#"
        route(n, "10.9.0.0/24", #{nexthops: [#{via: "10.1.0.2", weight: 2}, #{via: "10.2.0.2", dev: "b"}]});
        route(n, "fd00:9::/64", #{nexthops: [#{via: "fd00:1::2", dev: "a"}, #{via: "fd00:2::2", dev: "b", weight: 4}]});
        route(n, "10.4.0.0/24", #{onlink: true, nexthops: [#{via: "192.168.50.1", dev: "a"}, #{via: "192.168.60.1", dev: "b"}]});
        route(n, "10.8.0.0/24", #{type: "blackhole", table: 100});
        route(n, "fd00:8::/64", #{type: "prohibit", table: "default", metric: 7});
        route(n, "10.1.0.77", #{type: "local", dev: "a"});
        route(n, "192.168.5.0/24", #{via: "192.168.99.1", dev: "a", onlink: true, src: "10.1.0.1", scope: "global"});
        route(n, "default", #{dev: "a", table: 300});
        route(n, "10.7.0.0/24", #{type: "unreachable"});
        route_del(n, "10.7.0.0/24", #{type: "unreachable"});
        rule(n, #{from: "10.1.0.0/24", table: 100, priority: 1000});
        rule(n, #{to: "10.9.0.0/16", iif: "a", fwmark: "0x10/0xff", action: "prohibit"});
        rule(n, #{family: "inet6", oif: "b", table: "main"});
        rule(n, #{from: "fd00:1::/64", action: "unreachable", priority: 5});
        rule_del(n, #{priority: 5});
        "#;
    // (Links not called "a" or "b": `ip link add a ...` reads "a" as "address".)
    let lab = lab.replace("\"a\"", "\"va\"").replace("\"b\"", "\"vb\"");
    let path = script("routes-trace", "lab.rhai", &lab);
    let state = |tag: &str| {
        format!(
            r#"echo "={tag}v4"; ip -n r -4 -j route show table all
            echo "={tag}v6"; ip -n r -6 -j route show table all
            echo "={tag}r4"; ip -n r -4 -j rule
            echo "={tag}r6"; ip -n r -6 -j rule
            "#
        )
    };
    let run = in_private_netns(&format!(
        r#"cd /run/tmp
        $NSLAB run --keep --trace {p} 2>trace.err || exit 9
        grep '^+ ' trace.err | sed 's/^+ //' > trace.sh
        echo "=trace"; cat trace.sh
        {built}
        $NSLAB down lab >/dev/null 2>&1 || exit 8
        bash -e trace.sh || exit 7
        {again}
        echo "=end""#,
        p = path.display(),
        built = state("built-"),
        again = state("again-"),
    ));
    assert_eq!(run.code, 0, "{run:?}");
    let trace = section(&run.stdout, "trace");
    for line in [
        "ip -n r route add 10.9.0.0/24 nexthop via 10.1.0.2 weight 2 nexthop via 10.2.0.2 dev vb\n",
        "ip -n r route add blackhole 10.8.0.0/24 table 100\n",
        "ip -n r route add 10.4.0.0/24 nexthop via 192.168.50.1 dev va onlink nexthop via 192.168.60.1 dev vb onlink\n",
        "ip -n r route del unreachable 10.7.0.0/24\n",
        "ip -n r rule add from 10.1.0.0/24 priority 1000 lookup 100\n",
        "ip -n r -6 rule add oif vb lookup main\n",
        "ip -n r -6 rule del priority 5\n",
    ] {
        assert!(trace.contains(line), "{line:?} in:\n{trace}");
    }
    // Routes without their protocol, which is the one difference.
    let no_proto = |tag: &str| -> Vec<String> {
        ip_routes(&run.stdout, &format!("{tag}v4"), &format!("{tag}v6"))
            .into_iter()
            .map(|r| {
                let mut f: Vec<&str> = r.split('|').collect();
                f.remove(6);
                f.join("|")
            })
            .collect()
    };
    let rules = |tag: &str| -> Vec<String> {
        let mut out: Vec<String> =
            json(&section(&run.stdout, &format!("{tag}r4"))).as_array().unwrap().iter().map(|r| ip_rule(r, "inet")).collect();
        out.extend(json(&section(&run.stdout, &format!("{tag}r6"))).as_array().unwrap().iter().map(|r| ip_rule(r, "inet6")));
        out
    };
    assert_eq!(no_proto("built-"), no_proto("again-"));
    assert_eq!(rules("built-"), rules("again-"));
    assert_eq!(rules("built-").len(), 8, "{:?}", rules("built-"));
}
