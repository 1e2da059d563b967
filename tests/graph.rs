//! `nslab graph`, `nslab export --ip`, `topology()` and `:graph`: what they say is checked
//! against what `ip -j` says of the same namespaces, and the export is replayed in a fresh
//! namespace and compared with the lab it came from.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use serde_json::Value;

use crate::support::{in_private_netns, json, run_nslab, scratch, script, sections};

/// The walkthrough up to its last step (which deletes netns1): what there is to draw.
fn walkthrough() -> String {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/walkthrough.rhai")).unwrap();
    let cut = text.find("// ip netns delete netns1").expect("the walkthrough's last step");
    text[..cut].to_string()
}

/// The router lab up to the step that takes h1's default route away again.
fn router() -> String {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/router.rhai")).unwrap();
    let cut = text.find("route_del(h1, \"default\");").expect("the router lab's route_del");
    text[..cut].to_string()
}

/// Link kinds beyond veth: a bridge with ports, a vxlan overlay, a macvlan, a shaped link.
const KINDS: &str = r#"
let a = netns_add("a");
let b = netns_add("b");
veth(a, "eth0", b, "eth0");
addr(a, "eth0", "192.168.100.1/24");
addr(b, "eth0", "192.168.100.2/24");
up(a, "eth0");
up(b, "eth0");
vxlan(a, "vx0", #{id: 42, local: "192.168.100.1", remote: "192.168.100.2", dev: "eth0", port: 4789});
vxlan(b, "vx0", #{id: 42, local: "192.168.100.2", remote: "192.168.100.1", dev: "eth0", port: 4789});
bridge(a, "br0");
master(a, "vx0", "br0");
addr(a, "br0", "10.200.0.1/24");
addr(b, "vx0", "10.200.0.2/24");
up(a, "vx0");
up(b, "vx0");
up(a, "br0");
macvlan(b, "mv0", "eth0", #{mode: "bridge"});
addr(b, "mv0", "192.168.100.9/24");
shape(a, "eth0", #{rate: "10mbit", burst: "32kb", latency: "50ms"});
route(b, "10.9.0.0/16", "192.168.100.1");
route(b, "10.66.0.0/16", #{type: "blackhole"});
route(b, "fd00:66::/64", #{type: "unreachable"});
route(a, "10.77.0.0/16", #{nexthops: [#{via: "192.168.100.2", weight: 3}, #{dev: "br0"}]});
route(a, "10.88.0.0/16", #{via: "192.168.100.2", src: "192.168.100.1"});
rule(a, #{from: "10.200.0.0/24", table: 100, priority: 1000});
rule(a, #{to: "10.55.0.0/16", action: "blackhole", priority: 1001});
route(a, "10.201.0.0/24", #{via: "192.168.100.2", table: 100});
route(a, "fd00:201::/64", #{type: "unreachable", table: 100});
neigh(b, "eth0", "192.168.100.50", "02:00:00:00:00:50");
neigh_proxy(b, "eth0", "192.168.100.60");
forwarding(a, true);
"#;

/// Rhai that prints `ip -j` state of each namespace named, in sections "=NS what".
fn dumps(namespaces: &[&str]) -> String {
    let mut text = String::from("\nfn dump(ns, cmd) { if ns == \"root\" { exec(cmd).stdout } else { exec(ns, cmd).stdout } }\n");
    for ns in namespaces {
        for (what, cmd) in [
            ("link", "ip -j -d link show"),
            ("addr", "ip -j addr show"),
            ("route", "ip -j route show"),
            ("route6", "ip -j -6 route show"),
            ("fwd", "cat /proc/sys/net/ipv4/ip_forward"),
        ] {
            text += &format!("print(\"={ns} {what}\"); print(dump(\"{ns}\", \"{cmd}\"));\n");
        }
    }
    text + "print(\"=end\");\n"
}

/// `nslab graph FILE --format json --routes` of a script followed by `dumps`: the topology and
/// the kernel's own view, read at the same moment (the script's output goes to stderr).
fn graph_and_kernel(test: &str, text: &str, namespaces: &[&str]) -> (Value, HashMap<String, String>) {
    let path = script(test, "lab.rhai", &format!("{text}{}", dumps(namespaces)));
    let run = run_nslab(&["graph", path.to_str().unwrap(), "--format", "json", "--routes"]);
    assert_eq!(run.code, 0, "{run:?}");
    (json(&run.stdout), sections(&run.stderr))
}

fn arr(v: &Value) -> &Vec<Value> {
    v.as_array().unwrap_or_else(|| panic!("not an array: {v}"))
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// Every node's links, addresses, routes, forwarding and veth peers as `ip -j` shows them.
fn check_against_kernel(topo: &Value, kernel: &HashMap<String, String>) {
    let by_node = |node: &str, what: &str| json(&kernel[&format!("{node} {what}")]);
    for node in arr(&topo["nodes"]) {
        let name = if node["root"].as_bool().unwrap() { "root" } else { s(&node["name"]) };
        let ip_links = by_node(name, "link");
        let ip_addrs = by_node(name, "addr");
        let ours: BTreeSet<&str> = arr(&node["links"]).iter().map(|l| s(&l["name"])).collect();
        let theirs: BTreeSet<&str> = arr(&ip_links).iter().map(|l| s(&l["ifname"])).collect();
        if name == "root" {
            assert!(ours.is_subset(&theirs), "root: {ours:?} not all in {theirs:?}");
        } else {
            assert_eq!(ours, theirs, "links of {name}");
        }
        for l in arr(&node["links"]) {
            let lname = s(&l["name"]);
            let ip = arr(&ip_links).iter().find(|x| x["ifname"] == l["name"]).unwrap();
            let at = format!("{name}/{lname}");
            assert_eq!(l["mtu"], ip["mtu"], "{at} mtu");
            assert_eq!(l["mac"], ip["address"], "{at} mac");
            assert_eq!(s(&l["kind"]), s(&ip["linkinfo"]["info_kind"]), "{at} kind");
            let up = arr(&ip["flags"]).iter().any(|f| f == "UP");
            assert_eq!(s(&l["state"]), if up { "up" } else { "down" }, "{at} state");
            assert_eq!(l["master"].as_str(), ip["master"].as_str(), "{at} master");
            if let Some(v) = l["vxlan"].as_object() {
                let data = &ip["linkinfo"]["info_data"];
                assert_eq!(v["id"], data["id"], "{at} vxlan id");
                assert_eq!(v["remote"], data["remote"], "{at} vxlan remote");
                assert_eq!(v["local"], data["local"], "{at} vxlan local");
                assert_eq!(v["port"], data["port"], "{at} vxlan port");
                assert_eq!(v["dev"], data["link"], "{at} vxlan dev");
            }
            if let Some(mode) = l["macvlan_mode"].as_str() {
                assert_eq!(mode, s(&ip["linkinfo"]["info_data"]["mode"]), "{at} macvlan mode");
            }
            // The peer (a veth's other end, a macvlan's parent) is the link ip names by ifindex,
            // in the namespace it names by netnsid (or this one).
            if let Some(peer) = l["peer"].as_object().or(l["parent"].as_object()) {
                let peer_node = if peer["node"] == "root" { "root" } else { s(&peer["node"]) };
                if ip.get("link_netnsid").is_none() {
                    assert_eq!(peer_node, name, "{at}: ip says the peer is in the same namespace");
                    assert_eq!(ip["link"].as_str(), peer["link"].as_str(), "{at} peer");
                } else {
                    assert_ne!(peer_node, name, "{at}: ip says the peer is in another namespace");
                    let index = &ip["link_index"];
                    let there = by_node(peer_node, "link");
                    let found = arr(&there).iter().find(|x| &x["ifindex"] == index).expect("the peer's ifindex");
                    assert_eq!(found["ifname"].as_str(), peer["link"].as_str(), "{at} peer");
                }
            }
            let addrs: BTreeSet<String> = arr(&ip_addrs)
                .iter()
                .filter(|a| a["ifname"] == l["name"])
                .flat_map(|a| arr(&a["addr_info"]).iter().map(|i| format!("{}/{}", s(&i["local"]), i["prefixlen"])))
                .collect();
            let ours: BTreeSet<String> = arr(&l["addresses"]).iter().map(|a| s(a).to_string()).collect();
            assert_eq!(ours, addrs, "{at} addresses");
        }
        let ip_routes: BTreeSet<(String, String, String)> = ["route", "route6"]
            .iter()
            .flat_map(|w| arr(&by_node(name, w)).clone())
            .map(|r| (s(&r["dst"]).to_string(), s(&r["gateway"]).to_string(), s(&r["dev"]).to_string()))
            .collect();
        let routes: BTreeSet<(String, String, String)> = arr(&node["routes"])
            .iter()
            .map(|r| (s(&r["dst"]).to_string(), s(&r["via"]).to_string(), s(&r["dev"]).to_string()))
            .collect();
        if name == "root" {
            assert!(routes.is_subset(&ip_routes), "root routes {routes:?} not all in {ip_routes:?}");
        } else {
            assert_eq!(routes, ip_routes, "routes of {name}");
        }
        let fwd = kernel[&format!("{name} fwd")].trim() == "1";
        assert_eq!(node["forwarding"]["ipv4"].as_bool(), Some(fwd), "forwarding in {name}");
    }
}

fn edges(topo: &Value) -> BTreeSet<String> {
    arr(&topo["edges"])
        .iter()
        .map(|e| {
            format!(
                "{} {}/{} {}/{}",
                s(&e["kind"]),
                s(&e["from"]["node"]),
                s(&e["from"]["link"]),
                s(&e["to"]["node"]),
                s(&e["to"]["link"])
            )
        })
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn walkthrough_json_matches_the_kernel() {
    let (topo, kernel) = graph_and_kernel("graph-walkthrough", &walkthrough(), &["root", "netns1"]);
    check_against_kernel(&topo, &kernel);
    let names: Vec<&str> = arr(&topo["nodes"]).iter().map(|n| s(&n["name"])).collect();
    assert_eq!(names, ["root", "netns1"]);
    assert_eq!(edges(&topo), set(&["veth netns1/veth1 root/veth0"]));
}

#[test]
fn router_json_matches_the_kernel() {
    let (topo, kernel) = graph_and_kernel("graph-router", &router(), &["h1", "h2", "r"]);
    check_against_kernel(&topo, &kernel);
    let names: Vec<&str> = arr(&topo["nodes"]).iter().map(|n| s(&n["name"])).collect();
    assert_eq!(names, ["h1", "h2", "r"], "no root node: no link of the lab lives there");
    assert_eq!(edges(&topo), set(&["veth h1/eth0 r/eth1", "veth h2/eth0 r/eth2"]));
    let r = arr(&topo["nodes"]).iter().find(|n| n["name"] == "r").unwrap();
    assert_eq!(r["forwarding"]["ipv6"], true);
    assert_eq!(r["sysctls"]["net.ipv4.ip_forward"], "1");
    assert_eq!(r["sysctls"]["net.ipv6.conf.default.accept_dad"], "0");
}

#[test]
fn link_kinds_json_matches_the_kernel() {
    let (topo, kernel) = graph_and_kernel("graph-kinds", KINDS, &["a", "b"]);
    check_against_kernel(&topo, &kernel);
    assert_eq!(edges(&topo), set(&["bridge a/vx0 a/br0", "macvlan b/mv0 b/eth0", "veth a/eth0 b/eth0", "vxlan a/vx0 b/vx0"]));
    let a = &arr(&topo["nodes"])[0];
    let eth0 = arr(&a["links"]).iter().find(|l| l["name"] == "eth0").unwrap();
    assert_eq!(eth0["qdisc"]["kind"], "tbf");
    assert_eq!(eth0["qdisc"]["rate"], 1_250_000, "10mbit is 1,250,000 bytes/s");
    assert_eq!(eth0["qdisc"]["burst"], 32 * 1024);
    let rules: Vec<(u64, &str, u64)> = arr(&a["rules"])
        .iter()
        .map(|r| (r["priority"].as_u64().unwrap(), s(&r["action"]), r["table"].as_u64().unwrap()))
        .collect();
    assert_eq!(rules, [(1000, "lookup", 100), (1001, "blackhole", 0)], "only the lab's rules: {}", a["rules"]);
    let b = &arr(&topo["nodes"])[1];
    let neighbours: Vec<(&str, &str, bool)> =
        arr(&b["neighbours"]).iter().map(|n| (s(&n["ip"]), s(&n["mac"]), n["proxy"].as_bool().unwrap())).collect();
    assert_eq!(neighbours, [("192.168.100.50", "02:00:00:00:00:50", false), ("192.168.100.60", "", true)]);
}

/// The exact Mermaid text of a small lab: namespaces, a bridge and its ports, forwarding,
/// routes, an address no edge shows.
#[test]
fn mermaid_is_exact_for_a_small_lab() {
    let lab = r#"
let h1 = netns_add("h1");
let h2 = netns_add("h2");
let sw = netns_add("sw");
bridge(sw, "br0");
veth(h1, "eth0", sw, "p1");
veth(h2, "eth0", sw, "p2");
master(sw, "p1", "br0");
master(sw, "p2", "br0");
addr(h1, "eth0", "10.0.0.1/24");
addr(h2, "eth0", "10.0.0.2/24");
addr(h2, "lo", "10.9.9.9/32");
for l in [[h1, "eth0"], [h2, "eth0"], [sw, "p1"], [sw, "p2"], [sw, "br0"]] { up(l[0], l[1]); }
route(h1, "10.9.9.9/32", "10.0.0.2");
forwarding(h2, true);
"#;
    let path = script("graph-mermaid", "small.rhai", lab);
    let run = run_nslab(&["graph", path.to_str().unwrap(), "--format", "mermaid", "--routes"]);
    assert_eq!(run.code, 0, "{run:?}");
    let want = r#"flowchart LR
  n0["h1<br/>route 10.9.9.9/32 via 10.0.0.2 dev eth0"]
  n1["h2<br/>forwarding<br/>lo 10.9.9.9/32"]
  n2["sw"]
  n3(("br0 (bridge in sw)"))
  n2 -.- n3
  n0 ---|"eth0 10.0.0.1/24 — p1"| n3
  n1 ---|"eth0 10.0.0.2/24 — p2"| n3
"#;
    assert_eq!(run.stdout, want);
}

/// DOT that Graphviz reads, for each lab; SVG through it; without Graphviz, a clear error.
#[test]
fn dot_is_parsed_by_graphviz() {
    let have_dot = std::process::Command::new("dot").arg("-V").output().is_ok();
    let labs = [("walkthrough", walkthrough()), ("router", router()), ("kinds", KINDS.to_string())];
    for (name, text) in &labs {
        let path = script("graph-dot", &format!("{name}.rhai"), text);
        let run = run_nslab(&["graph", path.to_str().unwrap(), "--routes"]);
        assert_eq!(run.code, 0, "{run:?}");
        assert!(run.stdout.starts_with(&format!("graph \"{name}\" {{")), "{}", run.stdout);
        if !have_dot {
            continue;
        }
        let dir = scratch("graph-dot");
        let file = dir.join(format!("{name}.dot"));
        std::fs::write(&file, &run.stdout).unwrap();
        let parsed = std::process::Command::new("dot").arg("-Tcanon").arg(&file).output().unwrap();
        assert!(parsed.status.success(), "dot refused {name}: {}", String::from_utf8_lossy(&parsed.stderr));
    }
    let path = script("graph-dot", "svg.rhai", &walkthrough());
    if have_dot {
        let svg = run_nslab(&["graph", path.to_str().unwrap(), "--format", "svg"]);
        assert_eq!(svg.code, 0, "{svg:?}");
        // Graphviz's SVG starts with a DOCTYPE.
        let opts = roxmltree::ParsingOptions { allow_dtd: true, ..roxmltree::ParsingOptions::default() };
        let doc = roxmltree::Document::parse_with_options(&svg.stdout, opts).expect("SVG is XML");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let texts: Vec<&str> = doc.descendants().filter(|n| n.has_tag_name("text")).filter_map(|n| n.text()).collect();
        assert!(texts.contains(&"netns1") && texts.iter().any(|t| t.contains("veth1 10.1.1.1/24")), "{texts:?}");
    } else {
        eprintln!("graph: Graphviz's dot is not installed: DOT not parsed, SVG not drawn");
    }
    // Without Graphviz (an empty PATH), the error says how to get it.
    let empty = scratch("graph-dot-nopath");
    let path = script("graph-dot", "small.rhai", "let a = netns_add(\"a\");\nveth(a, \"x\", a, \"y\");\n");
    let out = std::process::Command::new(crate::support::nslab())
        .args(["graph", path.to_str().unwrap(), "--format", "svg"])
        .env("PATH", &empty)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("needs Graphviz's `dot` program") && stderr.contains("apt install graphviz"), "{stderr}");
    assert!(out.stdout.is_empty());
}

/// `ip -j` and `tc -j` state of the namespaces named ("root": where it runs), in sections
/// "=NS what".
const DUMP: &str = r#"
dump() {
    for ns in "$@"; do
        n=(); [ "$ns" != root ] && n=(-n "$ns")
        echo "=$ns link"; ip "${n[@]}" -j -d link show
        echo "=$ns addr"; ip "${n[@]}" -j addr show
        echo "=$ns route"; ip "${n[@]}" -j route show
        echo "=$ns route6"; ip "${n[@]}" -j -6 route show
        echo "=$ns qdisc"; tc "${n[@]}" -j qdisc show
        echo "=$ns rule"; ip "${n[@]}" -j rule show; ip "${n[@]}" -j -6 rule show
        # A table that does not exist makes ip print "[" and fail: then it is empty.
        echo "=$ns table100"
        for f in -4 -6; do t=$(ip "${n[@]}" $f -j route show table 100 2>/dev/null) && echo "$t" || echo "[]"; done
        echo "=$ns neigh"; ip "${n[@]}" -j neigh show nud permanent; ip "${n[@]}" -j neigh show proxy
    done
}
"#;

/// A kept lab, from `ip -j`: links (name, kind, MTU, MAC, up, master), addresses, routes.
fn state(dumps: &HashMap<String, String>, prefix: &str, namespaces: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for ns in namespaces {
        let get = |what: &str| {
            let key = format!("{prefix}{ns} {what}");
            json(dumps.get(&key).unwrap_or_else(|| panic!("no section {key:?} in {dumps:?}")))
        };
        let mut facts = BTreeSet::new();
        for l in arr(&get("link")) {
            let up = arr(&l["flags"]).iter().any(|f| f == "UP");
            facts.insert(format!(
                "link {} kind={} mtu={} mac={} up={up} master={}",
                s(&l["ifname"]),
                s(&l["linkinfo"]["info_kind"]),
                l["mtu"],
                s(&l["address"]),
                s(&l["master"])
            ));
            if let Some(data) = l["linkinfo"]["info_data"].as_object() {
                let keep = ["id", "local", "remote", "port", "mode"];
                let shown: Vec<String> = keep.iter().filter_map(|k| data.get(*k).map(|v| format!("{k}={v}"))).collect();
                facts.insert(format!("data {} {}", s(&l["ifname"]), shown.join(" ")));
            }
        }
        // IPv6 link-local addresses and their routes are left out: the kernel adds them when a
        // link gets its carrier, which a dump right after the replay may precede (and they
        // follow from the MAC, compared above).
        for a in arr(&get("addr")) {
            for i in arr(&a["addr_info"]).iter().filter(|i| !s(&i["local"]).starts_with("fe80:")) {
                facts.insert(format!("addr {} {}/{}", s(&a["ifname"]), s(&i["local"]), i["prefixlen"]));
            }
        }
        for r in arr(&get("route")).iter().chain(arr(&get("route6"))).filter(|r| r["dst"] != "fe80::/64") {
            facts.insert(format!(
                "route {} type={} via={} dev={} proto={} metric={} scope={} src={} nexthops={}",
                s(&r["dst"]),
                s(&r["type"]),
                s(&r["gateway"]),
                s(&r["dev"]),
                r["protocol"],
                r["metric"],
                s(&r["scope"]),
                s(&r["prefsrc"]),
                r["nexthops"]
            ));
        }
        // Rules, routes of table 100 and permanent or proxy neighbours: two JSON arrays each,
        // one per line.
        for what in ["rule", "table100", "neigh"] {
            let key = format!("{prefix}{ns} {what}");
            for line in dumps[&key].lines().filter(|l| !l.trim().is_empty()) {
                for item in arr(&json(line)) {
                    facts.insert(format!("{what} {item}"));
                }
            }
        }
        // Root qdiscs someone configured (a handle), with their rate and burst.
        for qd in arr(&get("qdisc")).iter().filter(|q| q["root"] == true && s(&q["handle"]) != "0:") {
            let o = &qd["options"];
            facts.insert(format!(
                "qdisc {} {} {} rate={} burst={}",
                s(&qd["dev"]),
                s(&qd["kind"]),
                s(&qd["handle"]),
                o["rate"],
                o["burst"]
            ));
        }
        out.insert(ns.to_string(), facts);
    }
    out
}

/// A lab kept with `run --keep` (in a private namespace), drawn and exported; the export is
/// replayed by bash in a fresh namespace and gives the same `ip -j` state.
fn replay(test: &str, text: &str, namespaces: &[&str], want_edges: &[&str]) {
    let dir = scratch(test);
    std::fs::write(dir.join("lab.rhai"), text).unwrap();
    let list = namespaces.join(" ");
    let snippet = format!(
        r#"{DUMP}
cd {dir}
$NSLAB run --keep lab.rhai > run.out 2>&1 || {{ cat run.out; exit 1; }}
$NSLAB graph lab --format json > graph.json 2> graph.err || {{ cat graph.err; exit 1; }}
$NSLAB export lab --ip > export.sh 2> export.err || {{ cat export.err; exit 1; }}
echo "=graph"; cat graph.json
dump {list} | sed 's/^=/=before /'
$NSLAB down lab > /dev/null 2>&1 || echo "=down failed"
echo "=after down"; ip netns list
export -f dump
unshare --mount --net --propagation private bash -c 'mount -t tmpfs tmpfs /run; mkdir -p /run/netns; ip link set lo up; bash -e export.sh 2>&1 | sed "s/^/replay: /"; dump {list} | sed "s/^=/=replayed /"'
echo "=end"
"#,
        dir = dir.display()
    );
    let run = in_private_netns(&snippet);
    let out = sections(&run.stdout);
    assert!(out.contains_key("end") && !out.contains_key("down failed"), "{run:?}");
    assert_eq!(out["after down"].trim(), "", "down removed the kept lab");
    let before = state(&out, "before ", namespaces);
    let after = state(&out, "replayed ", namespaces);
    let export = std::fs::read_to_string(dir.join("export.sh")).unwrap();
    assert_eq!(before, after, "the replayed export differs from the lab\n{export}\n{run:?}");
    // The kept lab's graph, read from the kernel by name, names what the kernel holds too.
    let topo = json(&out["graph"]);
    assert_eq!(edges(&topo), set(want_edges), "edges of the kept lab");
    for n in arr(&topo["nodes"]) {
        let ns = if n["root"] == true { "root" } else { s(&n["name"]) };
        for l in arr(&n["links"]) {
            let fact = before[ns].iter().find(|f| f.starts_with(&format!("link {} ", s(&l["name"]))));
            let fact = fact.unwrap_or_else(|| panic!("{ns}/{} is not in the kernel", s(&l["name"])));
            assert!(fact.contains(&format!("mac={} ", s(&l["mac"]))), "{fact} vs {l}");
        }
    }
}

#[test]
fn export_of_the_router_lab_replays() {
    replay("export-router", &router(), &["h1", "h2", "r"], &["veth h1/eth0 r/eth1", "veth h2/eth0 r/eth2"]);
}

#[test]
fn export_of_the_walkthrough_replays() {
    replay("export-walkthrough", &walkthrough(), &["root", "netns1"], &["veth netns1/veth1 root/veth0"]);
}

#[test]
fn export_of_link_kinds_replays() {
    let edges = ["bridge a/vx0 a/br0", "macvlan b/mv0 b/eth0", "veth a/eth0 b/eth0", "vxlan a/vx0 b/vx0"];
    replay("export-kinds", KINDS, &["a", "b"], &edges);
}

#[test]
fn graph_of_an_unknown_lab_says_what_it_takes() {
    let run = in_private_netns("$NSLAB graph nosuchlab; echo \"exit $?\"");
    assert!(run.stdout.contains("exit 2"), "{run:?}");
    assert!(run.stderr.contains("no script file or standing lab named \"nosuchlab\""), "{run:?}");
}

#[test]
fn topology_in_a_script_is_the_json_shape() {
    let lab = r#"
let a = netns_add("a");
let b = netns_add("b");
veth(a, "x", b, "y");
addr(a, "x", "10.1.0.1/24");
let t = topology();
print(t.lab);
print(t.nodes.map(|n| n.name));
print(t.edges[0].kind + " " + t.edges[0].from.node + "/" + t.edges[0].from.link + " " + t.edges[0].to.node + "/" + t.edges[0].to.link);
let x = t.nodes[0].links.filter(|l| l.name == "x")[0];
print(x.addresses);
print(x.peer.node);
print(type_of(x.index));
"#;
    let path = script("topology-fn", "t.rhai", lab);
    let run = run_nslab(&["run", "--sandbox", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines, ["t", r#"["a", "b"]"#, "veth a/x b/y", r#"["10.1.0.1/24"]"#, "b", "i64"], "{run:?}");
}

#[test]
fn repl_graph_draws_the_lab() {
    let input =
        "let a = netns_add(\"a\");\nlet b = netns_add(\"b\");\nveth(a, \"x\", b, \"y\");\n:graph mermaid\n:graph\n:graph png\n";
    let run = crate::support::piped(&["--sandbox", "repl"], input);
    assert!(run.stdout.contains("flowchart LR\n  n0[\"a\"]\n  n1[\"b\"]\n  n0 ---|\"x — y\"| n1\n"), "{run:?}");
    assert!(run.stdout.contains("graph \"repl\" {"), "{run:?}");
    assert!(run.stderr.contains(":graph draws as dot or mermaid, not \"png\""), "{run:?}");
}

/// A lab kept in its sandbox (`run --sandbox --keep`) is drawn and exported from inside it.
#[test]
fn graph_of_a_lab_kept_in_its_sandbox() {
    let dir = scratch("graph-kept-sandbox");
    let lab = "let a = netns_add(\"a\");\nlet b = netns_add(\"b\");\nveth(a, \"x\", b, \"y\");\naddr(a, \"x\", \"10.1.0.1/24\");\nup(a, \"x\");\n";
    std::fs::write(dir.join("lab.rhai"), lab).unwrap();
    let run = in_private_netns(&format!(
        "cd {}\n$NSLAB run --sandbox --keep lab.rhai > /dev/null 2>&1 || echo '=run failed'\n\
         echo '=mermaid'; $NSLAB graph lab --format mermaid\necho '=export'; $NSLAB export lab --ip\n\
         $NSLAB down lab > /dev/null 2>&1; echo '=end'",
        dir.display()
    ));
    let out = sections(&run.stdout);
    assert!(out.contains_key("end") && !out.contains_key("run failed"), "{run:?}");
    assert_eq!(out["mermaid"], "flowchart LR\n  n0[\"a\"]\n  n1[\"b\"]\n  n0 ---|\"x 10.1.0.1/24 — y\"| n1\n", "{run:?}");
    assert!(out["export"].contains("ip -n a addr add 10.1.0.1/24 dev x\n"), "{run:?}");
}

/// `-` reads the script from standard input; its own output goes to stderr, the picture alone
/// to stdout.
#[test]
fn graph_reads_a_script_on_stdin() {
    let input =
        "let a = netns_add(\"a\");\nlet b = netns_add(\"b\");\nveth(a, \"x\", b, \"y\");\nprint(\"said by the script\");\n";
    let run = crate::support::piped(&["graph", "-", "--format", "mermaid"], input);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "flowchart LR\n  n0[\"a\"]\n  n1[\"b\"]\n  n0 ---|\"x — y\"| n1\n", "{run:?}");
    assert!(run.stderr.contains("said by the script"), "{run:?}");
}
