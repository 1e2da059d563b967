//! `vxlan(ns, name, #{..., underlay})`: one end of a link across machines. The link is made from
//! the underlay namespace (its UDP socket, `dev` and `local` live there) and born in `ns`. Two
//! namespaces u1 and u2 made outside the lab play two machines' own namespaces, joined by a veth;
//! h1 and h2 are the lab's. Checked against `ip -j -d link`, `ss -uln` and the ledger directory.

use serde_json::Value;

use crate::support::{in_private_netns, json, script, sections};

/// The two "machines": u1 and u2 (not the lab's), joined by `ul` (MTU 1500).
const UNDERLAY: &str = r#"
ip netns add u1; ip netns add u2
ip -n u1 link add ul type veth peer name ul netns u2
ip -n u1 addr add 10.77.0.1/24 dev ul; ip -n u1 link set ul up
ip -n u2 addr add 10.77.0.2/24 dev ul; ip -n u2 link set ul up
ip -n u1 link add big mtu 9000 type veth peer name big2
"#;

fn section(run: &crate::support::Run, name: &str) -> String {
    sections(&run.stdout).remove(name).unwrap_or_else(|| panic!("no section {name}: {run:?}"))
}

fn names(links: &Value) -> Vec<String> {
    links.as_array().unwrap().iter().map(|l| l["ifname"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_vxlan_from_each_underlay_links_two_lab_namespaces() {
    let lab = r#"
let h1 = netns_add("h1");
let h2 = netns_add("h2");
vxlan(h1, "x", #{id: 100, local: "10.77.0.1", remote: "10.77.0.2", dev: "ul", underlay: "u1"});
vxlan(h2, "x", #{id: 100, local: "10.77.0.2", remote: "10.77.0.1", dev: "ul", underlay: netns("u2")});
addr(h1, "x", "10.0.0.1/24");
addr(h2, "x", "10.0.0.2/24");
up(h1, "x");
up(h2, "x");
print("=ping"); print(ping(h1, "10.0.0.2", #{count: 3}).received);
print("=x"); print(exec("ip -n h1 -j -d link show x").stdout);
print("=u1"); print(exec("ip netns exec u1 ss -H -uln").stdout);
print("=h1"); print(exec("ip netns exec h1 ss -H -uln").stdout);
// The VNI and port are taken in u1 (whatever the local address or target namespace).
print("=taken"); try { vxlan(h2, "y", #{id: 100, local: "10.77.0.9", dev: "ul", underlay: "u1"}); } catch (e) { print(e); }
// The same VNI on another port, or from another underlay, is free.
vxlan(h2, "p", #{id: 100, port: 4790, underlay: "u1"});
vxlan(h1, "q", #{id: 101, underlay: "u1"});
// A name is taken where the device appears, not in the underlay (u1 has a "ul").
print("=clash"); try { vxlan(h1, "x", #{id: 102, dev: "ul", underlay: "u1"}); } catch (e) { print(e); }
vxlan(h1, "ul", #{id: 103, underlay: "u1"});
// The MTU follows dev's, looked up in the underlay (9000 - 50; over IPv6 - 70); the same VNI
// and port over the other family is free.
vxlan(h1, "j", #{id: 200, dev: "big", underlay: "u1"});
vxlan(h1, "j6", #{id: 200, dev: "big", local: "fd00::1", remote: "fd00::2", underlay: "u1"});
print("=mtu"); print(`${link(h1, "j").mtu} ${link(h1, "j6").mtu}`);
print("=dev"); try { vxlan(h1, "z", #{id: 104, dev: "x", underlay: "u1"}); } catch (e) { print(e); }
// Deleting a namespace takes its tunnel's socket in the underlay at once.
netns_del(h2);
print("=u2"); print(exec("ip netns exec u2 ss -H -uln").stdout);
"#;
    let path = script("vx-underlay", "lab.rhai", lab);
    let run = in_private_netns(&format!(
        r#"{UNDERLAY}
        $NSLAB run {p}; echo "=exit"; echo $?
        echo "=after_u1"; ip netns exec u1 ss -H -uln
        echo "=after_links"; ip -n u1 -j link show
        echo "=netns"; ip netns list
        echo "=ledger"; ls /run/nslab | wc -l"#,
        p = path.display()
    ));
    assert_eq!(section(&run, "exit").trim(), "0", "{run:?}");
    assert_eq!(section(&run, "ping").trim(), "3", "{run:?}");
    let x = &json(&section(&run, "x"))[0];
    let info = &x["linkinfo"];
    assert_eq!(info["info_kind"], "vxlan", "{x}");
    assert_eq!((info["info_data"]["id"].as_u64(), info["info_data"]["port"].as_u64()), (Some(100), Some(4789)), "{x}");
    assert!(x["link_netnsid"].is_u64(), "its underlay is another namespace: {x}");
    // The IPv4 underlay's overhead (20 + 8 + 8 + 14) off dev's 1500.
    assert_eq!(x["mtu"], 1450, "{x}");
    assert!(section(&run, "u1").contains("0.0.0.0:4789"), "the socket lives in the underlay: {run:?}");
    assert_eq!(section(&run, "h1").trim(), "", "and not where the device is: {run:?}");
    assert_eq!(
        section(&run, "taken").trim(),
        r#"VNI 100 is taken on UDP port 4789 in namespace "u1": another vxlan link made from there already uses it; pick another id"#
    );
    assert_eq!(section(&run, "clash").trim(), r#"link "x" already exists in namespace "h1""#);
    assert_eq!(section(&run, "mtu").trim(), "8950 8930", "{run:?}");
    assert_eq!(section(&run, "dev").trim(), r#"link "x" does not exist in namespace "u1""#, "dev is the underlay's");
    assert_eq!(section(&run, "u2").trim(), "", "{run:?}");
    assert!(run.stderr.contains("torn down: 1 namespace"), "{run:?}");
    // Nothing left: no socket, no link, no namespace, no ledger.
    assert_eq!(section(&run, "after_u1").trim(), "", "{run:?}");
    assert_eq!(names(&json(&section(&run, "after_links"))), ["lo", "ul", "big2", "big"]);
    assert_eq!(section(&run, "netns").split_whitespace().filter(|w| w.starts_with('h')).count(), 0, "{run:?}");
    assert_eq!(section(&run, "ledger").trim(), "0", "{run:?}");
}

/// The link's namespace need not be the lab's, nor the underlay a named one: a vxlan in
/// nslab's own namespace made from a lab namespace, and one in a namespace made outside the lab
/// made from nslab's own, are both in the ledger and removed by teardown; one made inside a
/// test() is undone with it.
#[test]
fn links_in_namespaces_the_lab_did_not_create_are_removed() {
    let lab = r#"
let u = netns_add("u");
let h = netns_add("h");
vxlan(root(), "r", #{id: 6, underlay: u});
vxlan("f", "z", #{id: 7, underlay: root()});
vxlan(h, "y", #{id: 8, underlay: ()});
test("undone", || { vxlan(h, "t", #{id: 9, underlay: "u"}); up(h, "t"); });
print("=after_test"); print(exec("ip -n h -j link show").stdout);
print("=root"); print(exec("ip -j -d link show r").stdout);
print("=f"); print(exec("ip -n f -j -d link show z").stdout);
up(h, "y");
print("=root_udp"); print(exec("ss -H -uln").stdout);
"#;
    let path = script("vx-underlay-foreign", "lab.rhai", lab);
    let run = in_private_netns(&format!(
        r#"ip netns add f
        $NSLAB run --trace {p}; echo "=exit"; echo $?
        echo "=links_root"; ip -j link show
        echo "=links_f"; ip -n f -j link show
        echo "=udp"; ss -H -uln
        echo "=ledger"; ls /run/nslab | wc -l"#,
        p = path.display()
    ));
    assert_eq!(section(&run, "exit").trim(), "0", "{run:?}");
    assert!(run.stderr.contains("+ ip -n u link add name r netns $$ type vxlan id 6 dstport 4789"), "{run:?}");
    assert!(run.stderr.contains("+ ip link add name z netns f type vxlan id 7 dstport 4789"), "{run:?}");
    assert!(run.stderr.contains("+ ip link add name y netns h type vxlan id 8 dstport 4789"), "{run:?}");
    assert_eq!(names(&json(&section(&run, "after_test"))), ["lo", "y"], "{run:?}");
    let r = &json(&section(&run, "root"))[0];
    assert_eq!((r["linkinfo"]["info_data"]["id"].as_u64(), r["link_netnsid"].is_u64()), (Some(6), true), "{r}");
    let z = &json(&section(&run, "f"))[0];
    assert_eq!((z["linkinfo"]["info_data"]["id"].as_u64(), z["link_netnsid"].is_u64()), (Some(7), true), "{z}");
    assert!(section(&run, "root_udp").contains("0.0.0.0:4789"), "{run:?}");
    assert!(run.stderr.contains("torn down: 2 namespaces, 2 links"), "{run:?}");
    assert_eq!(names(&json(&section(&run, "links_root"))), ["lo"]);
    assert_eq!(names(&json(&section(&run, "links_f"))), ["lo"]);
    assert_eq!(section(&run, "udp").trim(), "", "{run:?}");
    assert_eq!(section(&run, "ledger").trim(), "0", "{run:?}");
}
