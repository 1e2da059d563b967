//! `run --trace` prints each operation as a command line; replayed by bash in a fresh namespace,
//! those lines build the same lab (links, addresses, routes, sysctls, checked with `ip -j`).

use serde_json::Value;

use crate::support::{in_private_netns, json, script, sections};

const LAB: &str = r#"
let r = netns_add("r");
let h1 = netns_add("h1");
let sw = netns_add("sw");
veth(h1, "eth0", sw, "p1");
veth(r, "eth0", sw, "p0");
bridge(sw, "br0");
master(sw, "p0", "br0"); master(sw, "p1", "br0");
up(sw, "br0"); up(sw, "p0"); up(sw, "p1");
addr(r, "eth0", "10.0.0.1/24");
addr(h1, "eth0", "10.0.0.2/24");
up(r, "eth0"); up(h1, "eth0");
mtu(h1, "eth0", 1400);
veth(r, "up0", "up1");
rename(r, "up1", "wan0");
route(h1, "default", "10.0.0.1");
route(h1, "10.9.0.0/24", #{via: "10.0.0.1", metric: 50});
forwarding(r, true);
shape(r, "eth0", #{rate: "10mbit"});
"#;

/// What the namespaces hold, as comparable text: links (name, kind, master, mtu, up),
/// addresses and routes.
const STATE: &str = r#"for ns in r h1 sw; do
  echo "=links-$ns"; ip -n $ns -j -d link show
  echo "=addrs-$ns"; ip -n $ns -j addr show
  echo "=routes-$ns"; ip -n $ns -j route show
  echo "=fwd-$ns"; ip netns exec $ns cat /proc/sys/net/ipv4/ip_forward
  echo "=qdisc-$ns"; ip netns exec $ns tc -j qdisc show
done"#;

fn summary(s: &std::collections::HashMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for ns in ["r", "h1", "sw"] {
        for l in json(&s[&format!("links-{ns}")]).as_array().unwrap() {
            let kind = l["linkinfo"]["info_kind"].as_str().unwrap_or("");
            let up = l["flags"].as_array().unwrap().iter().any(|f| f == "UP");
            out.push(format!("{ns} link {} {kind} master={} mtu={} up={up}", l["ifname"], l["master"], l["mtu"]));
        }
        for l in json(&s[&format!("addrs-{ns}")]).as_array().unwrap() {
            for a in l["addr_info"].as_array().unwrap().iter().filter(|a| a["scope"] == "global") {
                out.push(format!("{ns} addr {} {}/{}", l["ifname"], a["local"], a["prefixlen"]));
            }
        }
        for r in json(&s[&format!("routes-{ns}")]).as_array().unwrap() {
            out.push(format!("{ns} route {} via={} dev={} metric={}", r["dst"], r["gateway"], r["dev"], r["metric"]));
        }
        out.push(format!("{ns} forwarding {}", s[&format!("fwd-{ns}")].trim()));
        let q: Value = json(&s[&format!("qdisc-{ns}")]);
        let root: Vec<String> = q
            .as_array()
            .unwrap()
            .iter()
            .filter(|q| q["root"] == true && q["dev"] == "eth0")
            .map(|q| format!("{} {}", q["kind"], q["options"]["rate"]))
            .collect();
        out.push(format!("{ns} qdisc {root:?}"));
    }
    out.sort();
    out
}

#[test]
fn the_trace_replays_into_the_same_lab() {
    let path = script("trace", "lab.rhai", LAB);
    let run = in_private_netns(&format!(
        r#"$NSLAB run --keep --trace {} 2>trace.err || exit 9
grep '^+ ' trace.err | sed 's/^+ //' > trace.sh
echo =trace; cat trace.sh
{STATE}
$NSLAB down lab >/dev/null 2>&1 || exit 8
echo =left; ip netns list
bash -e trace.sh || exit 7
echo =replayed
{}
"#,
        path.display(),
        STATE
            .replace("=links-", "=again-links-")
            .replace("=addrs-", "=again-addrs-")
            .replace("=routes-", "=again-routes-")
            .replace("=fwd-", "=again-fwd-")
            .replace("=qdisc-", "=again-qdisc-")
    ));
    assert_eq!(run.code, 0, "{run:?}");
    let s = sections(&run.stdout);
    let trace = &s["trace"];
    assert!(trace.starts_with("ip netns add r\nip netns add h1\n"), "{trace}");
    assert!(trace.contains("ip -n h1 link add eth0 type veth peer name p1 netns sw\n"), "{trace}");
    assert!(trace.contains("ip -n h1 route add 10.9.0.0/24 via 10.0.0.1 metric 50\n"), "{trace}");
    assert!(
        trace.contains("ip netns exec r tc qdisc replace dev eth0 root tbf rate 10000000bit burst 12500 latency 50000us\n"),
        "{trace}"
    );
    assert_eq!(s["left"], "");
    let again: std::collections::HashMap<String, String> =
        s.iter().filter_map(|(k, v)| k.strip_prefix("again-").map(|k| (k.to_string(), v.clone()))).collect();
    let (built, replayed) = (summary(&s), summary(&again));
    assert_eq!(built, replayed);
    assert!(built.iter().any(|l| l == "r forwarding 1"), "{built:?}");
}
