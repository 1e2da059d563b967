//! Deleting and changing links (issue 14): `link_del`, `link_set`, the new fields of `link()`,
//! kind options of vxlan, bridge and bridge ports, name reuse after any deletion, `netns_del`
//! returning only once the namespace's links are gone everywhere, and teardown putting back
//! what the lab changed on links it did not create. Checked against `ip -j -d link` and
//! `bridge -j -d link` as independent oracles.

use serde_json::Value;

use crate::support::{in_private_netns, json, run_nslab, script, sections, Run};

/// Runs `text` in the sandbox; it must end well.
fn sandboxed(test: &str, text: &str) -> (Run, std::collections::HashMap<String, String>) {
    let path = script(test, "lab.rhai", text);
    let run = run_nslab(&["run", "--sandbox", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    let s = sections(&run.stdout);
    (run, s)
}

fn section(s: &std::collections::HashMap<String, String>, name: &str) -> Value {
    json(s.get(name).unwrap_or_else(|| panic!("no section {name}: {s:?}")))
}

/// The only element of `ip -j link show dev X`.
fn one(v: &Value) -> &Value {
    let a = v.as_array().expect("an array");
    assert_eq!(a.len(), 1, "{v}");
    &a[0]
}

fn flags(l: &Value) -> Vec<String> {
    l["flags"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect()
}

fn names(links: &Value) -> Vec<String> {
    links.as_array().unwrap().iter().map(|l| l["ifname"].as_str().unwrap().to_string()).collect()
}

/// `ip`'s group: "default" for 0, otherwise the number as text (no /etc/iproute2/group here).
fn ip_group(l: &Value) -> u64 {
    match l["group"].as_str().unwrap() {
        "default" => 0,
        g => g.parse().unwrap(),
    }
}

#[test]
fn link_set_and_link_fields_match_ip() {
    let (_, s) = sandboxed(
        "link-set",
        r#"
        let x = netns_add("x");
        veth(root(), "a", x, "b");
        up("a");
        // The peer is down: the link is administratively up, without carrier.
        print("=down"); print(link("a").to_json());
        print("=ipdown"); print(exec("ip -j link show dev a").stdout);
        link_set("a", #{alias: "uplink to x", altname: "a-very-long-alternative-name-0", txqueuelen: 500,
                        promisc: true, arp: false, mtu: 1400, mac: "02:00:00:00:00:09"});
        // The group of a link in a lab namespace; outside them the lab's links keep its group.
        link_set(x, "b", #{group: 7});
        // Found by its alternative name, as link() and link_set() and link_del() find it.
        print("=set"); print(link("a-very-long-alternative-name-0").to_json());
        print("=ipset"); print(exec("ip -j -d link show dev a").stdout);
        link_set("a-very-long-alternative-name-0", #{alias: "", promisc: false, arp: true});
        print("=ipundo"); print(exec("ip -j -d link show dev a").stdout);
        up(x, "b");
        print("=up"); print(link("a").to_json());
        print("=ipup"); print(exec("ip -j link show dev a").stdout);
        print("=all"); print(#{v: links(x)}.to_json());
        print("=ipall"); print(exec_in(x, "ip -j -d link show").stdout);
        "#,
    );
    let (down, ipdown) = (section(&s, "down"), section(&s, "ipdown"));
    let ipdown = one(&ipdown);
    assert_eq!(down["state"], "up");
    assert_eq!(down["carrier"], false);
    assert_eq!(down["operstate"].as_str().unwrap(), ipdown["operstate"].as_str().unwrap().to_lowercase());
    assert_ne!(down["operstate"], "up");
    assert_eq!(down["index"], ipdown["ifindex"]);
    assert_eq!(down["txqueuelen"], ipdown["txqlen"]);

    let (set, ipset) = (section(&s, "set"), section(&s, "ipset"));
    let ipset = one(&ipset);
    assert_eq!(set["name"], "a");
    assert_eq!(set["alias"], "uplink to x");
    assert_eq!(ipset["ifalias"], "uplink to x");
    assert_eq!(set["altnames"], serde_json::json!(["a-very-long-alternative-name-0"]));
    assert_eq!(ipset["altnames"], serde_json::json!(["a-very-long-alternative-name-0"]));
    assert_eq!((set["txqueuelen"].as_u64(), ipset["txqlen"].as_u64()), (Some(500), Some(500)));
    assert_eq!(set["promisc"], true);
    assert!(flags(ipset).contains(&"PROMISC".to_string()) && flags(ipset).contains(&"NOARP".to_string()), "{ipset}");
    assert_eq!(set["group"].as_u64().unwrap(), ip_group(ipset));
    assert_eq!((set["mtu"].as_u64(), ipset["mtu"].as_u64()), (Some(1400), Some(1400)));
    assert_eq!((set["mac"].as_str(), ipset["address"].as_str()), (Some("02:00:00:00:00:09"), Some("02:00:00:00:00:09")));

    let ipundo = section(&s, "ipundo");
    let ipundo = one(&ipundo);
    assert!(ipundo.get("ifalias").is_none(), "the alias is removed: {ipundo}");
    assert!(!flags(ipundo).contains(&"PROMISC".to_string()) && !flags(ipundo).contains(&"NOARP".to_string()), "{ipundo}");

    let (up, ipup) = (section(&s, "up"), section(&s, "ipup"));
    assert_eq!((up["operstate"].as_str(), up["carrier"].as_bool()), (Some("up"), Some(true)));
    assert_eq!(one(&ipup)["operstate"], "UP");

    // Every link nslab lists agrees with ip on the new fields.
    let (all, ipall) = (section(&s, "all")["v"].clone(), section(&s, "ipall"));
    let b = all.as_array().unwrap().iter().find(|l| l["name"] == "b").unwrap();
    assert_eq!(b["group"], 7);
    for l in all.as_array().unwrap() {
        let ip = ipall.as_array().unwrap().iter().find(|i| i["ifname"] == l["name"]).unwrap();
        assert_eq!(l["index"], ip["ifindex"], "{l}");
        assert_eq!(l["operstate"].as_str().unwrap(), ip["operstate"].as_str().unwrap().to_lowercase(), "{l}");
        assert_eq!(l["txqueuelen"], ip["txqlen"], "{l}");
        assert_eq!(l["group"].as_u64().unwrap(), ip_group(ip), "{l}");
        assert_eq!(l["promisc"].as_bool().unwrap(), flags(ip).contains(&"PROMISC".to_string()), "{l}");
        assert_eq!(
            l["carrier"].as_bool().unwrap(),
            !flags(ip).contains(&"NO-CARRIER".to_string()) && flags(ip).contains(&"UP".to_string())
                || l["name"] == "lo" && l["carrier"] == true,
            "{l}"
        );
        assert_eq!(l["alias"].as_str().unwrap(), ip.get("ifalias").and_then(|a| a.as_str()).unwrap_or(""), "{l}");
        assert_eq!(l["altnames"], ip.get("altnames").cloned().unwrap_or(serde_json::json!([])), "{l}");
    }
}

#[test]
fn kind_options_match_ip_details() {
    let (_, s) = sandboxed(
        "kind-options",
        r#"
        let x = netns_add("x");
        vxlan(x, "vx0", #{id: 42, learning: false, proxy: true, ttl: 16, tos: 4, srcport: [4000, 5000], l2miss: true, l3miss: true});
        vxlan(x, "vx1", #{id: 43});
        bridge(x, "br0", #{ageing_time: 30.5, mcast_snooping: false});
        bridge(x, "br1");
        veth(x, "p1", "q1");
        veth(x, "p2", "q2");
        master(x, "p1", "br0", #{hairpin: true, learning: false, flood: false, isolated: true, cost: 10, priority: 5});
        master(x, "p2", "br0");
        print("=vx0"); print(exec_in(x, "ip -j -d link show vx0").stdout);
        print("=vx1"); print(exec_in(x, "ip -j -d link show vx1").stdout);
        print("=br0"); print(exec_in(x, "ip -j -d link show br0").stdout);
        print("=br1"); print(exec_in(x, "ip -j -d link show br1").stdout);
        print("=ports"); print(exec_in(x, "bridge -j -d link show").stdout);
        "#,
    );
    let vx0 = section(&s, "vx0");
    let d = &one(&vx0)["linkinfo"]["info_data"];
    assert_eq!(d["id"], 42);
    assert_eq!((d["learning"].as_bool(), d["proxy"].as_bool()), (Some(false), Some(true)));
    assert_eq!((d["l2miss"].as_bool(), d["l3miss"].as_bool()), (Some(true), Some(true)));
    assert_eq!(d["ttl"], 16);
    assert_eq!(d["tos"], "0x4");
    assert_eq!(d["port_range"], serde_json::json!({"low": 4000, "high": 5000}));
    // Not given: the kernel's defaults.
    let vx1 = section(&s, "vx1");
    let d = &one(&vx1)["linkinfo"]["info_data"];
    // (ip shows proxy, l2miss and l3miss only when on.)
    assert_eq!(d["learning"].as_bool(), Some(true), "{d}");
    assert!(d.get("proxy").is_none() && d.get("l2miss").is_none(), "{d}");

    let br0 = section(&s, "br0");
    let d = &one(&br0)["linkinfo"]["info_data"];
    assert_eq!(d["ageing_time"], 3050, "seconds as the kernel's hundredths");
    assert_eq!(d["mcast_snooping"], 0);
    let br1 = section(&s, "br1");
    let d = &one(&br1)["linkinfo"]["info_data"];
    assert_eq!((d["ageing_time"].as_u64(), d["mcast_snooping"].as_u64()), (Some(30000), Some(1)));

    let ports = section(&s, "ports");
    let port = |n: &str| ports.as_array().unwrap().iter().find(|p| p["ifname"] == n).unwrap_or_else(|| panic!("{ports}")).clone();
    let p1 = port("p1");
    assert_eq!(
        (p1["hairpin"].as_bool(), p1["learning"].as_bool(), p1["flood"].as_bool()),
        (Some(true), Some(false), Some(false))
    );
    assert_eq!((p1["isolated"].as_bool(), p1["cost"].as_u64(), p1["priority"].as_u64()), (Some(true), Some(10), Some(5)));
    let p2 = port("p2");
    assert_eq!((p2["hairpin"].as_bool(), p2["learning"].as_bool(), p2["flood"].as_bool()), (Some(false), Some(true), Some(true)));
    assert_eq!((p2["isolated"].as_bool(), p2["priority"].as_u64()), (Some(false), Some(32)));
}

#[test]
fn errors_say_what_is_wrong_and_change_nothing() {
    let (_, s) = sandboxed(
        "link-errors",
        r#"
        let x = netns_add("x");
        veth(root(), "a", x, "b");
        exec("ip link add f1 type veth peer name f2");
        fn fails(f) { let m = "no error"; try { f.call(); } catch (e) { m = `${e}`; } m }
        print("=foreign"); print(fails(|| link_del("f1")));
        print("=lo"); print(fails(|| link_del(x, "lo")));
        print("=clash"); print(fails(|| link_set("a", #{altname: "f2"})));
        print("=group"); print(fails(|| link_set("a", #{group: 7})));
        link_set("f1", #{altname: "f1-alt"});
        print("=altclash"); print(fails(|| link_set("a", #{altname: "f1-alt"})));
        print("=cost"); print(fails(|| master(x, "b", "nobridge", #{cost: 0})));
        // The port option is checked before the port joins the bridge.
        bridge(x, "br0");
        print("=prio"); print(fails(|| master(x, "b", "br0", #{priority: 64})));
        print("=joined"); print(link(x, "b").master);
        print("=ttl"); print(fails(|| vxlan(x, "vx0", #{id: 1, ttl: 300})));
        // A link the lab did not create, moved into one of its namespaces: it goes back as it came.
        exec("ip link add g1 type veth peer name g2");
        move_to("g1", x);
        print("=moved-del"); print(fails(|| link_del(x, "g1")));
        print("=moved-set"); print(fails(|| link_set(x, "g1", #{alias: "x"})));
        print("=vx"); print(links(x).filter(|l| l.name == "vx0").len());
        print("=ip"); print(exec("ip -j link show").stdout);
        "#,
    );
    let text = |k: &str| s[k].trim().to_string();
    assert!(text("foreign").contains(r#"link "f1" in the root namespace was not created by this lab"#), "{}", text("foreign"));
    assert!(text("lo").contains("loopback link"), "{}", text("lo"));
    assert!(
        text("clash").contains(r#"link name "f2" already exists in the root namespace (the name of a link)"#),
        "{}",
        text("clash")
    );
    assert!(text("group").contains(r#"link "a" in the root namespace keeps the lab's link group"#), "{}", text("group"));
    assert!(text("altclash").contains(r#"(an alternative name of link "f1")"#), "{}", text("altclash"));
    assert!(
        text("cost").contains(r#"invalid port cost "0": bridge port "b" takes a path cost from 1 to 65535"#),
        "{}",
        text("cost")
    );
    assert!(text("prio").contains("takes a priority from 0 to 63"), "{}", text("prio"));
    assert_eq!(text("joined"), "");
    assert!(text("ttl").contains(r#"invalid ttl "300": vxlan "vx0" takes a ttl from 0 to 255"#), "{}", text("ttl"));
    assert_eq!(text("vx"), "0");
    assert!(text("moved-del").contains(r#"link "g1" in namespace "x" was not created by this lab"#), "{}", text("moved-del"));
    assert!(text("moved-set").contains("it was moved there with move_to and goes back as it came"), "{}", text("moved-set"));
    assert!(names(&section(&s, "ip")).contains(&"g2".to_string()));
    let ip = section(&s, "ip");
    assert!(names(&ip).contains(&"f1".to_string()), "a refused link_del leaves the link: {ip}");
}

#[test]
fn a_name_freed_by_any_deletion_can_be_created_again() {
    let (run, s) = sandboxed(
        "name-reuse",
        r#"
        let x = netns_add("x");
        // link_del of a pair across namespaces: both ends go, the names are free at once.
        veth(root(), "a", x, "b");
        link_del("a");
        print("=del-root"); print(exec("ip -j link show").stdout);
        print("=del-x"); print(exec_in(x, "ip -j link show").stdout);
        veth(root(), "a", x, "b");
        // By its alternative name, and a pair inside one namespace.
        link_set(x, "b", #{altname: "b-alternative"});
        link_del(x, "b-alternative");
        veth(root(), "a", x, "b");
        veth(x, "p", "q");
        link_del(x, "q");
        veth(x, "p", "q");
        // Deleted behind the lab's back.
        exec("ip link del dev a");
        veth(root(), "a", x, "b");
        // Gone with its peer's namespace.
        let y = netns_add("y");
        veth(root(), "c", y, "d");
        netns_del(y);
        print("=after-netns-del"); print(exec("ip -j link show").stdout);
        let y = netns_add("y");
        veth(root(), "c", y, "d");
        print("=end"); print(#{v: links().map(|l| l.name)}.to_json());
        "#,
    );
    let gone = |k: &str, n: &str| !names(&section(&s, k)).contains(&n.to_string());
    assert!(gone("del-root", "a") && gone("del-x", "b"), "{s:?}");
    assert!(gone("after-netns-del", "c"), "netns_del returned while c was still there: {s:?}");
    assert_eq!(json(&s["end"])["v"], serde_json::json!(["lo", "a", "c"]));
    // Teardown counts what it removed: 2 namespaces; a and c go with their peers' namespaces.
    assert!(run.stderr.trim_end().ends_with("torn down: 2 namespaces, 2 links"), "{run:?}");
}

#[test]
fn netns_del_takes_its_links_from_every_namespace_before_it_returns() {
    let (_, s) = sandboxed(
        "netns-del",
        r#"
        let x = netns_add("x");
        veth(root(), "v", x, "v");
        addr("v", "10.9.0.1/24"); addr(x, "v", "10.9.0.2/24");
        up("v"); up(x, "v");
        assert(ping("10.9.0.2").ok);
        // A veth the lab did not create, from its namespace to the root one.
        exec("ip link add f1 type veth peer name f2 netns x");
        netns_del(x);
        print("=links"); print(exec("ip -j link show").stdout);
        print("=routes"); print(exec("ip -j route show").stdout);
        // The same names again, in another namespace: the ping must go there.
        let y = netns_add("y");
        veth(root(), "v", y, "v");
        addr("v", "10.9.0.1/24"); addr(y, "v", "10.9.0.2/24");
        up("v"); up(y, "v");
        let p = ping(root(), "10.9.0.2", #{count: 3, interval: 0.1});
        print("=ping"); print(#{ok: p.ok}.to_json());
        print("=rx"); print(exec_in(y, "ip -j -s link show v").stdout);
        // A namespace nslab did not create, with a veth nslab did not create: waited for.
        exec("ip netns add z");
        exec("ip link add g1 type veth peer name g2 netns z");
        netns_del("z");
        print("=links-z"); print(exec("ip -j link show").stdout);
        // Something else holding that namespace keeps its veth: a clear error, in bounded time.
        exec("ip netns add w");
        exec("ip link add h1 type veth peer name h2 netns w");
        let p = spawn_in("w", "sleep 30");
        try { netns_del("w"); print("=w"); print("no error"); } catch (e) { print("=w"); print(`${e}`); }
        p.kill();
        "#,
    );
    let links = section(&s, "links");
    assert_eq!(names(&links), vec!["lo"], "the veth ends in the root namespace went with x: {links}");
    let routes = section(&s, "routes");
    assert!(routes.as_array().unwrap().is_empty(), "no route of the old link is left: {routes}");
    let ping = json(&s["ping"]);
    assert_eq!(ping["ok"], true, "{ping}");
    let rx = section(&s, "rx");
    let received = one(&rx)["stats64"]["rx"]["packets"].as_u64().unwrap();
    assert!(received >= 3, "the echo requests arrived in y: {rx}");
    assert!(!names(&section(&s, "links-z")).contains(&"g1".to_string()), "{s:?}");
    let w = s["w"].trim();
    assert!(
        w.contains(r#"link "h1" in the root namespace (its veth peer there, not created by this lab) is still there after 5 s"#),
        "{w}"
    );
}

/// The ledger of a lab kept standing records a deleted link as gone, so `nslab down` leaves a
/// namesake made since alone; what the lab changed on a link it did not create comes back.
#[test]
fn teardown_restores_foreign_links_and_leaves_nothing() {
    let lab = script(
        "restore",
        "lab.rhai",
        r#"
        let x = netns_add("x");
        veth(root(), "a", x, "b");
        link_del("a");
        veth(root(), "c", x, "d");
        link_set("c", #{alias: "ours", txqueuelen: 10});
        link_set("f1", #{alias: "changed", altname: "f1-by-the-lab", promisc: true, arp: false, txqueuelen: 77,
                         group: 9, mtu: 1300, mac: "02:00:00:00:00:77"});
        link_set("f1", #{alias: "changed again"});
        "#,
    );
    let killed = script(
        "restore-killed",
        "killed.rhai",
        r#"
        link_set("f1", #{alias: "killed", txqueuelen: 5, altname: "f1-killed"});
        exec("touch /run/tmp/ready");
        sleep(60);
        "#,
    );
    let run = in_private_netns(&format!(
        r#"ip link add f1 type veth peer name f2; ip link set f1 alias original mtu 1450
        echo =before; ip -j -d link show f1
        $NSLAB run --keep {lab} || exit 9
        echo =kept; ip -j -d link show f1
        ip link add name a type veth peer name a2
        echo =ledger; cat /run/nslab/*.jsonl
        $NSLAB down lab 2>&1
        echo =after; ip -j -d link show f1
        echo =links; ip -j link show
        echo =netns; ip netns list
        $NSLAB run {killed} & pid=$!
        for i in $(seq 100); do [ -e /run/tmp/ready ] && break; sleep 0.1; done
        echo =during; ip -j -d link show f1
        kill -9 $pid; wait $pid
        $NSLAB clean >/dev/null 2>&1
        echo =cleaned; ip -j -d link show f1
        echo =ledgers; ls /run/nslab"#,
        lab = lab.display(),
        killed = killed.display()
    ));
    let s = sections(&run.stdout);
    assert!(s.contains_key("ledgers"), "{run:?}");
    let before = section(&s, "before");
    let before = one(&before);
    let kept = section(&s, "kept");
    let kept = one(&kept);
    assert_eq!(
        (kept["ifalias"].as_str(), kept["txqlen"].as_u64(), kept["mtu"].as_u64()),
        (Some("changed again"), Some(77), Some(1300))
    );
    let ledger = &s["ledger"];
    assert!(ledger.contains(r#"{"gone":{"link":{"ns":null"#) && ledger.contains(r#""name":"a""#), "{ledger}");
    for after in [section(&s, "after"), section(&s, "cleaned")] {
        let after = one(&after);
        for key in ["ifalias", "txqlen", "mtu", "address", "group", "flags"] {
            assert_eq!(after[key], before[key], "{key} is back: {after}");
        }
        assert!(after.get("altnames").is_none(), "the lab's altname is gone: {after}");
    }
    let during = section(&s, "during");
    assert_eq!(one(&during)["ifalias"], "killed", "{run:?}");
    let links = names(&section(&s, "links"));
    assert!(links.contains(&"a".to_string()), "the namesake made since is left alone: {links:?} {run:?}");
    assert!(!links.contains(&"c".to_string()), "{links:?}");
    assert_eq!(s["netns"].trim(), "");
    assert_eq!(s["ledgers"].trim(), "", "{run:?}");
}

/// A sub-test puts back the link settings it changed, to what they were when it started (not to
/// what they were before the lab), and leaves the lab's own earlier changes alone.
#[test]
fn a_subtest_puts_back_the_link_settings_it_changed() {
    let (run, s) = sandboxed(
        "subtest-link-set",
        r#"
        let x = netns_add("x");
        veth(root(), "a", x, "b");
        exec("ip link add f1 type veth peer name f2");
        link_set("f1", #{alias: "before the test", txqueuelen: 900});
        link_set(x, "b", #{alias: "lab b"});
        test("changes links", || {
            link_set("f1", #{alias: "in the test", txqueuelen: 5, promisc: true});
            link_set(x, "b", #{mtu: 1400, alias: "test b", altname: "b-in-test"});
            link_set("a", #{txqueuelen: 7});
            print("=inside"); print(exec("ip -j -d link show dev f1").stdout);
        });
        print("=f1"); print(exec("ip -j -d link show dev f1").stdout);
        print("=b"); print(exec_in(x, "ip -j -d link show dev b").stdout);
        print("=a"); print(exec("ip -j -d link show dev a").stdout);
        "#,
    );
    let inside = section(&s, "inside");
    assert_eq!((one(&inside)["ifalias"].as_str(), one(&inside)["txqlen"].as_u64()), (Some("in the test"), Some(5)), "{run:?}");
    let f1 = section(&s, "f1");
    let f1 = one(&f1);
    assert_eq!((f1["ifalias"].as_str(), f1["txqlen"].as_u64()), (Some("before the test"), Some(900)), "{run:?}");
    assert!(!flags(f1).contains(&"PROMISC".to_string()), "{f1}");
    let b = section(&s, "b");
    let b = one(&b);
    assert_eq!((b["ifalias"].as_str(), b["mtu"].as_u64()), (Some("lab b"), Some(1500)), "{b}");
    assert!(b.get("altnames").is_none(), "{b}");
    let a = section(&s, "a");
    assert_eq!(one(&a)["txqlen"], 1000);
}
