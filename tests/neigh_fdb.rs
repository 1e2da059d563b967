//! Neighbour entries (`neigh`, `neigh_proxy`, `neigh_del`, `neighs`, `neigh_flush`) and bridge
//! forwarding entries (`fdb`, `fdb_del`, `fdbs`), checked against `ip -j neigh show` and
//! `bridge -j fdb show`; and their bookkeeping: what a lab adds in nslab's own namespace, on
//! links it did not create, is gone after teardown (and after `nslab down` of a kept lab), and
//! an entry someone changed meanwhile is left alone.

use serde_json::Value;

use crate::support::{in_private_netns, json, script, sections};

/// The JSON of section `name` (see `support::sections`).
fn section(s: &std::collections::HashMap<String, String>, name: &str) -> Value {
    json(s.get(name).unwrap_or_else(|| panic!("no section {name} in {s:?}")))
}

fn entries<'a>(v: &'a Value, key: &str, value: &str) -> Vec<&'a Value> {
    v.as_array().unwrap().iter().filter(|e| e[key] == value).collect()
}

fn neigh_state(e: &Value) -> String {
    e["state"].as_array().map(|s| s[0].as_str().unwrap_or("").to_lowercase()).unwrap_or_default()
}

#[test]
fn neighbours_match_ip_neigh() {
    let path = script(
        "neigh-ip",
        "lab.rhai",
        r#"
        let n = netns_add("n");
        veth(n, "v0", "v1");
        up(n, "v0"); up(n, "v1");
        neigh(n, "v0", "10.0.0.2", "02:00:00:00:00:02");
        neigh(n, "v0", "10.0.0.3", "02:00:00:00:00:03", #{state: "reachable"});
        neigh(n, "v0", "10.0.0.4", "02:00:00:00:00:04", #{state: "stale"});
        n.neigh("v0", "10.0.0.5", "02:00:00:00:00:05", #{state: "noarp"});
        neigh(n, "v0", "fd00::2", "02:00:00:00:00:12");
        neigh(n, "v0", "fd00::3", "02:00:00:00:00:13", #{state: "stale"});
        neigh_proxy(n, "v0", "10.0.0.9");
        n.neigh_proxy("v0", "fd00::9");
        let all = neighs(n, #{dev: "v0"});
        let find = |ip| all.filter(|e| e.ip == ip);
        assert(find.call("10.0.0.2")[0].state == "permanent" && find.call("10.0.0.2")[0].mac == "02:00:00:00:00:02");
        assert(find.call("10.0.0.5")[0].state == "noarp", "noarp entries are listed");
        assert(find.call("fd00::3")[0].state == "stale");
        assert(all.all(|e| !e.proxy && e.dev == "v0"));
        assert(!all.some(|e| e.ip == "10.0.0.9"), "proxy entries only when asked");
        let proxies = neighs(n, #{proxy: true});
        assert(proxies.len() == 2 && proxies.all(|e| e.proxy && e.dev == "v0"), `${proxies}`);
        assert(neighs(n, #{dev: "v1"}).all(|e| e.dev == "v1"));
        print("=before"); print(exec(n, "ip -j neigh show nud all").stdout);
        print("=proxy"); print(exec(n, "ip -j neigh show proxy").stdout);
        // A learned-looking entry is replaced; a permanent one is not.
        neigh(n, "v0", "10.0.0.4", "02:00:00:00:00:44");
        let dup = "";
        try { neigh(n, "v0", "10.0.0.2", "02:00:00:00:00:22"); } catch (e) { dup = e; }
        print("=dup"); print(dup);
        // What ip neigh flush removes: the reachable and stale ones, IPv4 and IPv6.
        let flushed = neigh_flush(n, "v0");
        print("=flushed"); print(flushed);
        print("=after"); print(exec(n, "ip -j neigh show nud all").stdout);
        neigh_del(n, "v0", "10.0.0.2");
        neigh_del(n, "v0", "fd00::9", #{proxy: true});
        let gone = "";
        try { neigh_del(n, "v0", "10.0.0.2"); } catch (e) { gone = e; }
        print("=gone"); print(gone);
        print("=deleted"); print(exec(n, "ip -j neigh show nud all").stdout);
        print("=proxy_deleted"); print(exec(n, "ip -j neigh show proxy").stdout);
        "#,
    );
    let run = crate::support::run_nslab(&["run", "--sandbox", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    let s = sections(&run.stdout);
    let before = section(&s, "before");
    for (ip, mac, state) in [
        ("10.0.0.2", "02:00:00:00:00:02", "permanent"),
        ("10.0.0.3", "02:00:00:00:00:03", "reachable"),
        ("10.0.0.4", "02:00:00:00:00:04", "stale"),
        ("10.0.0.5", "02:00:00:00:00:05", "noarp"),
        ("fd00::2", "02:00:00:00:00:12", "permanent"),
        ("fd00::3", "02:00:00:00:00:13", "stale"),
    ] {
        let e = entries(&before, "dst", ip);
        assert_eq!(e.len(), 1, "{ip}: {before}");
        assert_eq!((e[0]["lladdr"].as_str(), neigh_state(e[0]).as_str(), e[0]["dev"].as_str()), (Some(mac), state, Some("v0")));
    }
    let proxy = section(&s, "proxy");
    let mut proxies: Vec<&str> = proxy.as_array().unwrap().iter().map(|e| e["dst"].as_str().unwrap()).collect();
    proxies.sort();
    assert_eq!(proxies, ["10.0.0.9", "fd00::9"], "{proxy}");
    assert!(
        s["dup"]
            .contains("neighbour \"10.0.0.2\" already exists on link \"v0\" in namespace \"n\" (permanent at 02:00:00:00:00:02)"),
        "{s:?}"
    );
    // Flushed: 10.0.0.3 (reachable), 10.0.0.4 (stale, replaced by a permanent one: kept), fd00::3.
    assert_eq!(s["flushed"].trim(), "2", "{s:?}");
    let after = section(&s, "after");
    let left: Vec<&str> =
        after.as_array().unwrap().iter().filter(|e| e["dev"] == "v0").map(|e| e["dst"].as_str().unwrap()).collect();
    for ip in ["10.0.0.2", "10.0.0.4", "10.0.0.5", "fd00::2"] {
        assert!(left.contains(&ip), "{ip} must survive the flush: {after}");
    }
    for ip in ["10.0.0.3", "fd00::3"] {
        assert!(!left.contains(&ip), "{ip} must be flushed: {after}");
    }
    assert_eq!(entries(&after, "dst", "10.0.0.4")[0]["lladdr"], "02:00:00:00:00:44");
    assert!(s["gone"].contains("link \"v0\" in namespace \"n\" has no neighbour entry for 10.0.0.2; it has: "), "{s:?}");
    assert!(entries(&section(&s, "deleted"), "dst", "10.0.0.2").is_empty());
    let proxy = section(&s, "proxy_deleted");
    assert_eq!(proxy.as_array().unwrap().len(), 1, "{proxy}");
    assert_eq!(proxy[0]["dst"], "10.0.0.9");
}

#[test]
fn forwarding_entries_match_bridge_fdb() {
    let path = script(
        "fdb-bridge",
        "lab.rhai",
        r#"
        let n = netns_add("n");
        bridge(n, "br0");
        veth(n, "p1", "q1");
        master(n, "p1", "br0");
        up(n, "br0"); up(n, "p1"); up(n, "q1");
        vxlan(n, "vx0", #{id: 42, local: "10.9.0.1"});
        fdb(n, "p1", "02:00:00:00:00:01");
        fdb(n, "p1", "02:00:00:00:00:02", #{state: "static"});
        fdb(n, "p1", "02:00:00:00:00:03", #{state: "dynamic"});
        // The vxlan's own table: a flood list of two remotes, and a unicast entry with its own
        // VNI and port.
        fdb(n, "vx0", "00:00:00:00:00:00", #{dst: "10.9.0.2"});
        n.fdb("vx0", "00:00:00:00:00:00", #{dst: "10.9.0.3"});
        fdb(n, "vx0", "02:00:00:00:00:04", #{dst: "10.9.0.4", vni: 7, port: 4790, self: true});
        let again = "";
        try { fdb(n, "vx0", "00:00:00:00:00:00", #{dst: "10.9.0.3"}); } catch (e) { again = e; }
        print("=again"); print(again);
        let mine = fdbs(n, #{dev: "p1"}).filter(|f| f.mac.starts_with("02:00:00:00:00:0"));
        assert(mine.len() == 3 && mine.all(|f| f.master && !f.self && f.bridge == "br0"), `${mine}`);
        let vx = fdbs(n, #{dev: "vx0"});
        let flood = vx.filter(|f| f.mac == "00:00:00:00:00:00").map(|f| f.dst);
        flood.sort();
        assert(flood == ["10.9.0.2", "10.9.0.3"], `${vx}`);
        let u = vx.filter(|f| f.mac == "02:00:00:00:00:04")[0];
        assert(u.self && !u.master && u.vni == 7 && u.port == 4790 && u.state == "permanent", `${u}`);
        assert(fdbs(n).some(|f| f.dev == "vx0") && fdbs(n).some(|f| f.dev == "p1"));
        // The bridge device's own entry (self: it is no port), and a vxlan that is a port,
        // in both tables at once (Docker's overlay).
        fdb(n, "br0", "02:00:00:00:00:05");
        assert(fdbs(n, #{dev: "br0"}).some(|f| f.mac == "02:00:00:00:00:05" && f.bridge == "br0"));
        fdb_del(n, "br0", "02:00:00:00:00:05");
        assert(!fdbs(n, #{dev: "br0"}).some(|f| f.mac == "02:00:00:00:00:05"));
        vxlan(n, "vx1", #{id: 43, local: "10.9.0.1", port: 4790});
        master(n, "vx1", "br0");
        fdb(n, "vx1", "02:00:00:00:00:06", #{master: true, self: true, dst: "10.9.0.6"});
        let both = fdbs(n, #{dev: "vx1"}).filter(|f| f.mac == "02:00:00:00:00:06");
        assert(both.len() == 2 && both.some(|f| f.master) && both.some(|f| f.self && f.dst == "10.9.0.6"), `${both}`);
        let port_only = "";
        try { fdb(n, "vx1", "02:00:00:00:00:07", #{dst: "10.9.0.7"}); } catch (e) { port_only = `${e}`; }
        assert(port_only.contains("give #{self: true} for \"vx1\" (it is a bridge port)"), port_only);
        fdb(n, "vx1", "02:00:00:00:00:08", #{dst: "10.9.0.8", master: false});
        assert(fdbs(n, #{dev: "vx1"}).some(|f| f.mac == "02:00:00:00:00:08" && f.self && !f.master && f.dst == "10.9.0.8"));
        fdb_del(n, "vx1", "02:00:00:00:00:06", #{master: true, self: true});
        assert(!fdbs(n, #{dev: "vx1"}).some(|f| f.mac == "02:00:00:00:00:06"));
        print("=before"); print(exec(n, "bridge -j fdb show").stdout);
        fdb_del(n, "vx0", "00:00:00:00:00:00", #{dst: "10.9.0.2"});
        fdb_del(n, "p1", "02:00:00:00:00:02");
        let missing = "";
        try { fdb_del(n, "p1", "02:00:00:00:00:02"); } catch (e) { missing = e; }
        print("=missing"); print(missing);
        print("=after"); print(exec(n, "bridge -j fdb show").stdout);
        fdb_del(n, "vx0", "00:00:00:00:00:00");
        print("=none"); print(exec(n, "bridge -j fdb show dev vx0").stdout);
        "#,
    );
    let run = crate::support::run_nslab(&["run", "--sandbox", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    let s = sections(&run.stdout);
    assert!(
        s["again"].contains(
            "forwarding entry \"00:00:00:00:00:00\" already exists on link \"vx0\" in namespace \"n\" with that remote"
        ),
        "{s:?}"
    );
    let before = section(&s, "before");
    let one = |mac: &str| entries(&before, "mac", mac).into_iter().cloned().collect::<Vec<Value>>();
    for (mac, state) in [("02:00:00:00:00:01", "permanent"), ("02:00:00:00:00:02", "static"), ("02:00:00:00:00:03", "")] {
        let e = one(mac);
        assert_eq!(e.len(), 1, "{mac}: {before}");
        assert_eq!(
            (e[0]["ifname"].as_str(), e[0]["master"].as_str(), e[0]["state"].as_str()),
            (Some("p1"), Some("br0"), Some(state))
        );
    }
    let flood: Vec<String> = one("00:00:00:00:00:00").iter().map(|e| e["dst"].as_str().unwrap().to_string()).collect();
    assert_eq!(flood.len(), 2, "{before}");
    assert!(flood.iter().any(|d| d == "10.9.0.2") && flood.iter().any(|d| d == "10.9.0.3"), "{before}");
    let u = &one("02:00:00:00:00:04")[0];
    assert_eq!((u["dst"].as_str(), u["vni"].as_u64(), u["port"].as_u64()), (Some("10.9.0.4"), Some(7), Some(4790)), "{u}");
    assert_eq!(u["flags"], serde_json::json!(["self"]));
    assert!(
        s["missing"].contains("link \"p1\" in namespace \"n\" has no entry 02:00:00:00:00:02 in the bridge's table"),
        "{s:?}"
    );
    let after = section(&s, "after");
    let flood: Vec<&Value> = entries(&after, "mac", "00:00:00:00:00:00");
    assert_eq!(flood.len(), 1, "one remote left: {after}");
    assert_eq!(flood[0]["dst"], "10.9.0.3");
    assert!(entries(&after, "mac", "02:00:00:00:00:02").is_empty(), "{after}");
    assert_eq!(entries(&after, "mac", "02:00:00:00:00:01").len(), 1, "{after}");
    let none = section(&s, "none");
    assert!(entries(&none, "mac", "00:00:00:00:00:00").is_empty(), "fdb_del without dst removes every remote: {none}");
}

/// Links made with `ip` (not the lab's) in the private namespace's own namespace, the lab's
/// entries on them, and what is left after teardown.
const FOREIGN: &str = r#"
ip link add h0 type veth peer name h1
ip link add br0 type bridge
ip link set h1 master br0
ip link add vx0 type vxlan id 5 dstport 4789 local 10.8.0.1
for l in h0 h1 br0; do ip link set $l up; done
ip neigh add 10.0.0.50 lladdr 02:00:00:00:00:50 dev h0 nud permanent
"#;

const FOREIGN_LAB: &str = r#"
neigh("h0", "10.0.0.2", "02:00:00:00:00:02");
neigh("h0", "fd00::2", "02:00:00:00:00:02", #{state: "noarp"});
neigh("h0", "10.0.0.3", "02:00:00:00:00:03");
neigh_proxy("h0", "10.0.0.9");
fdb("h1", "02:00:00:00:00:0a");
fdb("br0", "02:00:00:00:00:0b");
fdb("vx0", "00:00:00:00:00:00", #{dst: "10.8.0.2"});
fdb("vx0", "00:00:00:00:00:00", #{dst: "10.8.0.3"});
// Someone else changes one of the lab's entries: it is theirs now.
exec("ip neigh replace 10.0.0.3 lladdr 02:00:00:00:00:33 dev h0 nud permanent");
"#;

fn check_foreign_left_clean(s: &std::collections::HashMap<String, String>) {
    let neigh = section(s, "neigh");
    let ips: Vec<&str> = neigh.as_array().unwrap().iter().map(|e| e["dst"].as_str().unwrap()).collect();
    assert!(!ips.contains(&"10.0.0.2") && !ips.contains(&"fd00::2"), "the lab's entries are gone: {neigh}");
    assert!(ips.contains(&"10.0.0.50"), "an entry the lab did not add stays: {neigh}");
    let changed = entries(&neigh, "dst", "10.0.0.3");
    assert_eq!(changed.len(), 1, "an entry changed by someone else stays: {neigh}");
    assert_eq!(changed[0]["lladdr"], "02:00:00:00:00:33");
    assert_eq!(s["proxy"].trim(), "[]", "{s:?}");
    let fdb = section(s, "fdb");
    assert!(entries(&fdb, "mac", "02:00:00:00:00:0a").is_empty(), "{fdb}");
    assert!(entries(&fdb, "mac", "02:00:00:00:00:0b").is_empty(), "{fdb}");
    assert!(entries(&fdb, "mac", "00:00:00:00:00:00").is_empty(), "{fdb}");
    assert_eq!(s["netns"].trim(), "", "{s:?}");
}

const ORACLE: &str = r#"
echo "=neigh"; ip -j neigh show nud all
echo "=proxy"; ip -j neigh show proxy
echo "=fdb"; bridge -j fdb show
echo "=netns"; ip netns list
"#;

#[test]
fn entries_the_lab_added_on_links_it_did_not_create_go_at_teardown() {
    let path = script(
        "neigh-foreign",
        "lab.rhai",
        &format!("{FOREIGN_LAB}\nprint(\"=during\"); print(neighs(#{{dev: \"h0\"}}).len());"),
    );
    let run = in_private_netns(&format!("set -e\n{FOREIGN}\nset +e\n$NSLAB run {} 2>&1\n{ORACLE}", path.display()));
    assert_eq!(run.code, 0, "{run:?}");
    let s = sections(&run.stdout);
    assert!(s["during"].contains("torn down: 3 neighbour entries, 4 forwarding entries"), "{s:?}");
    assert!(
        s["during"].contains(
            "left: neighbour 10.0.0.3 on h0: it is now permanent at \"02:00:00:00:00:33\", not the lab's entry: left as is"
        ),
        "{s:?}"
    );
    check_foreign_left_clean(&s);
}

#[test]
fn a_kept_lab_s_entries_go_with_nslab_down() {
    let path = script("neigh-kept", "lab.rhai", FOREIGN_LAB);
    let run = in_private_netns(&format!(
        "set -e\n{FOREIGN}\nset +e\n$NSLAB run --keep {} || exit 9\necho =kept; ip -j neigh show nud all\necho =down; $NSLAB down lab 2>&1\n{ORACLE}",
        path.display()
    ));
    assert_eq!(run.code, 0, "{run:?}");
    let s = sections(&run.stdout);
    let kept = section(&s, "kept");
    assert_eq!(entries(&kept, "dst", "10.0.0.2").len(), 1, "kept until nslab down: {kept}");
    assert!(s["down"].contains("torn down: 3 neighbour entries, 4 forwarding entries; left: neighbour 10.0.0.3 on h0"), "{s:?}");
    check_foreign_left_clean(&s);
}

/// Neighbour, forwarding and flushed-address lines forged into a kept lab's ledger: `clean`
/// reports each, obeys none, and trusts nothing else in that ledger either.
#[test]
fn forged_neighbour_lines_are_never_obeyed() {
    let path = script("neigh-forged", "lab.rhai", r#"neigh("h0", "10.0.0.2", "02:00:00:00:00:02");"#);
    let forged = [
        r#"{"made":{"neigh":{"ns":null,"ns_inode":1,"link":"h0/../x","index":2,"ip":"10.0.0.50","mac":"02:00:00:00:00:50","state":128,"proxy":false}}}"#,
        r#"{"made":{"neigh":{"ns":null,"ns_inode":1,"link":"h0","index":2,"ip":"10.0.0.50","mac":"02:00:00:00:00:50","state":32,"proxy":false}}}"#,
        r#"{"made":{"fdb":{"ns":null,"ns_inode":1,"link":"h0","index":2,"mac":"zz","dst":"","vni":null,"port":null,"master":true,"own":false,"state":192}}}"#,
        r#"{"made":{"flushed":{"ns":null,"ns_inode":1,"link":"h0","index":2,"cidr":"10.0.0.1/24","peer":"","broadcast":"","scope":0,"flags":128,"valid":1,"preferred":1}}}"#,
    ];
    let lines = path.with_file_name("forged.jsonl");
    std::fs::write(&lines, forged.join("\n") + "\n").unwrap();
    let run = in_private_netns(&format!(
        r#"ip link add h0 type veth peer name h1; ip link set h0 up
        ip neigh add 10.0.0.50 lladdr 02:00:00:00:00:50 dev h0 nud permanent
        $NSLAB run --keep {} 2>/dev/null || exit 9
        cat {} >> $(ls /run/nslab/*.jsonl)
        echo "=clean"; $NSLAB clean 2>&1; echo "status $?"
        echo "=neigh"; ip -j neigh show nud all
        echo "=addrs"; ip -j addr show dev h0"#,
        path.display(),
        lines.display()
    ));
    assert_eq!(run.code, 0, "{run:?}");
    let s = sections(&run.stdout);
    let clean: Vec<&str> = s["clean"].lines().collect();
    assert!(clean[0].contains("invalid interface name \"h0/../x\"") && clean[0].ends_with("never acted on"), "{run:?}");
    assert!(clean[1].contains("invalid neighbour state \"32\": it is not one nslab sets"), "{run:?}");
    assert!(clean[2].contains("invalid MAC address \"zz\""), "{run:?}");
    assert!(clean[3].contains("invalid address flags \"0x80\": nslab restores only flags a user can set"), "{run:?}");
    assert!(clean[4].contains("left alone: 4 lines of its ledger"), "{run:?}");
    assert_eq!(clean.last(), Some(&"status 1"), "{run:?}");
    let neigh = section(&s, "neigh");
    assert_eq!(entries(&neigh, "dst", "10.0.0.50").len(), 1, "{neigh}");
    assert_eq!(entries(&neigh, "dst", "10.0.0.2").len(), 1, "an untrusted ledger removes nothing: {neigh}");
    assert!(section(&s, "addrs")[0]["addr_info"].as_array().unwrap().is_empty(), "nothing was 'restored': {run:?}");
}

/// A sub-test's neighbour and forwarding entries go when it ends, and the addresses it flushed
/// come back, in a namespace the lab made before it (which does not go with the sub-test).
#[test]
fn a_subtest_undoes_its_entries_and_flushes() {
    let path = script(
        "neigh-subtest",
        "lab.rhai",
        r#"
        let n = netns_add("n");
        bridge(n, "br0");
        veth(n, "v0", "v1");
        master(n, "v1", "br0");
        up(n, "v0"); up(n, "v1"); up(n, "br0");
        addr(n, "v0", "10.0.0.1/24");
        addr(n, "v0", "10.0.0.2/24");
        // On another link: removing a link's last IPv4 address drops its ARP entries, permanent
        // ones included (the kernel's arp_ifdown).
        neigh(n, "br0", "10.0.0.7", "02:00:00:00:00:07");
        neigh(n, "v0", "fd00::7", "02:00:00:00:00:07");
        test("changes", || {
            neigh(n, "v0", "10.0.0.9", "02:00:00:00:00:09");
            neigh_proxy(n, "v0", "10.0.0.10");
            fdb(n, "v1", "02:00:00:00:00:0a");
            assert(addr_flush(n, "v0") >= 2);
            addr(n, "v0", "10.5.0.1/24");
        });
        print("=neigh"); print(exec(n, "ip -j neigh show nud all").stdout);
        print("=proxy"); print(exec(n, "ip -j neigh show proxy").stdout);
        print("=fdb"); print(exec(n, "bridge -j fdb show dev v1").stdout);
        print("=addrs"); print(exec(n, "ip -j addr show dev v0").stdout);
        "#,
    );
    let run = crate::support::run_nslab(&["run", "--sandbox", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    let s = sections(&run.stdout);
    let neigh = section(&s, "neigh");
    assert!(entries(&neigh, "dst", "10.0.0.9").is_empty(), "{neigh}");
    assert_eq!(entries(&neigh, "dst", "10.0.0.7").len(), 1, "made before the sub-test: stays {neigh}");
    assert_eq!(entries(&neigh, "dst", "fd00::7").len(), 1, "{neigh}");
    assert_eq!(s["proxy"].trim(), "[]", "{s:?}");
    assert!(entries(&section(&s, "fdb"), "mac", "02:00:00:00:00:0a").is_empty(), "{s:?}");
    let addrs = section(&s, "addrs");
    let mut v4: Vec<String> = addrs[0]["addr_info"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["family"] == "inet")
        .map(|a| format!("{} {}", a["local"].as_str().unwrap(), a["secondary"] == true))
        .collect();
    v4.sort();
    assert_eq!(v4, ["10.0.0.1 false", "10.0.0.2 true"], "flushed ones back, primary first; the sub-test's own gone: {addrs}");
}

/// `run --trace` says each neighbour, forwarding-entry and address operation as the `ip` /
/// `bridge` command that does the same: replayed by bash, they build the same entries.
#[test]
fn the_trace_of_entries_and_address_options_replays() {
    let path = script(
        "neigh-trace",
        "lab.rhai",
        r#"
        let n = netns_add("n");
        bridge(n, "br0");
        veth(n, "v0", "v1");
        master(n, "v1", "br0");
        vxlan(n, "vx0", #{id: 42, local: "10.9.0.1"});
        up(n, "v0"); up(n, "v1"); up(n, "br0");
        addr(n, "v0", "10.0.0.1/24");
        addr(n, "v0", "10.0.0.2/24");
        addr_flush(n, "v0");
        addr(n, "v0", "10.1.0.1/24", #{broadcast: "+", noprefixroute: true, valid_lft: 1000});
        addr(n, "v0", "10.2.0.1/32", #{peer: "10.2.0.2", scope: "link"});
        addr(n, "v0", "fd00::1/64", #{nodad: true, preferred_lft: 500});
        neigh(n, "v0", "10.1.0.2", "02:00:00:00:00:02");
        neigh(n, "v0", "fd00::2", "02:00:00:00:00:02", #{state: "noarp"});
        neigh(n, "v0", "10.1.0.3", "02:00:00:00:00:03");
        neigh_del(n, "v0", "10.1.0.3");
        neigh_proxy(n, "v0", "10.1.0.9");
        fdb(n, "v1", "02:00:00:00:00:0a", #{state: "static"});
        fdb(n, "vx0", "00:00:00:00:00:00", #{dst: "10.9.0.2"});
        fdb(n, "vx0", "00:00:00:00:00:00", #{dst: "10.9.0.3"});
        fdb(n, "vx0", "02:00:00:00:00:0b", #{dst: "10.9.0.4", vni: 7, port: 4790});
        fdb_del(n, "vx0", "00:00:00:00:00:00", #{dst: "10.9.0.2"});
        "#,
    );
    let state = |tag: &str| {
        format!(
            r#"echo ={tag}neigh; ip -n n -j neigh show nud all
echo ={tag}proxy; ip -n n -j neigh show proxy
echo ={tag}fdb; bridge -n n -j fdb show
echo ={tag}addrs; ip -n n -j addr show dev v0"#
        )
    };
    let run = in_private_netns(&format!(
        r#"$NSLAB run --keep --trace {} 2>/run/tmp/trace.err || exit 9
grep '^+ ' /run/tmp/trace.err | sed 's/^+ //' > /run/tmp/trace.sh
echo =trace; cat /run/tmp/trace.sh
{}
$NSLAB down lab >/dev/null 2>&1 || exit 8
bash -e /run/tmp/trace.sh || exit 7
{}"#,
        path.display(),
        state(""),
        state("again-")
    ));
    assert_eq!(run.code, 0, "{run:?}");
    let s = sections(&run.stdout);
    let trace = &s["trace"];
    for line in [
        "ip -n n addr flush dev v0\n",
        "ip -n n addr add 10.1.0.1/24 broadcast + valid_lft 1000 preferred_lft 1000 noprefixroute dev v0\n",
        "ip -n n addr add fd00::1/64 valid_lft forever preferred_lft 500 nodad dev v0\n",
        "ip -n n addr add 10.2.0.1 peer 10.2.0.2/32 scope link dev v0\n",
        "ip -n n neigh add 10.1.0.2 lladdr 02:00:00:00:00:02 dev v0 nud permanent\n",
        "ip -n n neigh del 10.1.0.3 dev v0\n",
        "ip -n n neigh add proxy 10.1.0.9 dev v0\n",
        "bridge -n n fdb add 02:00:00:00:00:0a dev v1 master static\n",
        "bridge -n n fdb append 00:00:00:00:00:00 dev vx0 self dst 10.9.0.3 permanent\n",
        "bridge -n n fdb add 02:00:00:00:00:0b dev vx0 self dst 10.9.0.4 vni 7 port 4790 permanent\n",
        "bridge -n n fdb del 00:00:00:00:00:00 dev vx0 self dst 10.9.0.2\n",
    ] {
        assert!(trace.contains(line), "{line:?} not in:\n{trace}");
    }
    let summary = |tag: &str| -> Vec<String> {
        let mut out = Vec::new();
        // The lab's entries (the kernel's own multicast ones come and go with MLD timing).
        for e in section(&s, &format!("{tag}neigh"))
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["lladdr"].as_str().is_some_and(|m| m.starts_with("02:00:00")))
        {
            out.push(format!("neigh {} {} {} {}", e["dst"], e["dev"], e["lladdr"], neigh_state(e)));
        }
        for e in section(&s, &format!("{tag}proxy")).as_array().unwrap() {
            out.push(format!("proxy {} {}", e["dst"], e["dev"]));
        }
        for e in section(&s, &format!("{tag}fdb")).as_array().unwrap() {
            if e["mac"].as_str().is_some_and(|m| m.starts_with("02:00:00") || m.starts_with("00:00:00")) {
                out.push(format!(
                    "fdb {} {} {} {} {} {} {}",
                    e["mac"], e["ifname"], e["dst"], e["vni"], e["port"], e["flags"], e["state"]
                ));
            }
        }
        for a in addr_infos(&section(&s, &format!("{tag}addrs"))) {
            let flags: Vec<&str> =
                ["nodad", "noprefixroute", "secondary", "dynamic"].into_iter().filter(|f| a[*f] == true).collect();
            out.push(format!(
                "addr {} {} {} {} {} {flags:?}",
                a["local"], a["address"], a["prefixlen"], a["scope"], a["broadcast"]
            ));
        }
        out.sort();
        out
    };
    let (built, replayed) = (summary(""), summary("again-"));
    assert_eq!(built, replayed);
    assert!(built.iter().any(|l| l.starts_with("fdb \"00:00:00:00:00:00\" \"vx0\" \"10.9.0.3\"")), "{built:?}");
    assert!(built.iter().any(|l| l.starts_with("proxy \"10.1.0.9\"")), "{built:?}");
}

fn addr_infos(v: &Value) -> Vec<Value> {
    v.as_array().unwrap().iter().flat_map(|l| l["addr_info"].as_array().cloned().unwrap_or_default()).collect()
}
