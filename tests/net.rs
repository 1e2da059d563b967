//! Bridges, routes, forwarding, sysctls, link settings, more link kinds and /proc/net, checked
//! against the kernel with iproute2 (`ip -j`, `bridge -j`) and procfs as independent oracles.

use serde_json::Value;

use crate::support::{in_private_netns, json, keep_then, run_nslab, script, text_section, Run};

/// The JSON printed after a line "=NAME" (up to the next "=..." line).
fn section(out: &str, name: &str) -> Value {
    json(&text_section(out, name))
}

fn link<'a>(links: &'a Value, name: &str) -> &'a Value {
    links.as_array().unwrap().iter().find(|l| l["ifname"] == name).unwrap_or_else(|| panic!("no link {name} in {links}"))
}

fn has_link(links: &Value, name: &str) -> bool {
    links.as_array().unwrap().iter().any(|l| l["ifname"] == name)
}

fn route<'a>(routes: &'a Value, dst: &str) -> Option<&'a Value> {
    routes.as_array().unwrap().iter().find(|r| r["dst"] == dst)
}

/// The message of the error nslab reported (miette wraps long lines: they are joined again).
fn error_message(stderr: &str) -> String {
    let mut parts = Vec::new();
    let mut lines = stderr.lines().skip_while(|l| !l.trim_start().starts_with('×'));
    if let Some(first) = lines.next() {
        parts.push(first.trim_start().trim_start_matches('×').trim().to_string());
        for l in lines {
            match l.trim_start().strip_prefix('│') {
                Some(more) => parts.push(more.trim().to_string()),
                None => break,
            }
        }
    }
    parts.join(" ")
}

#[test]
fn bridges_and_ports_match_the_bridge_tool() {
    let run = keep_then(
        "bridges",
        r#"
        let sw = netns_add("sw");
        bridge(sw, "br0", #{mtu: 1400});
        veth(sw, "p1", "q1");
        veth(sw, "p2", "q2");
        master(sw, "p1", "br0");
        master(sw, "p2", "br0");
        for l in ["br0", "p1", "p2", "q1", "q2"] { up(sw, l); }
        nomaster(sw, "p2");
        assert(link(sw, "p1").master == "br0");
        assert(link(sw, "p2").master == "");
        sw.bridge("br1", #{stp: true});
        bridge("brroot");
        try { bridge(sw, "br9", #{mtu: 65536}); assert(false); } catch {}
        assert(!links(sw).some(|l| l.name == "br9"), "a bridge whose MTU is refused is not left behind");
        "#,
        r#"echo "=ports"; bridge -n sw -j link show
        echo "=br0"; ip -n sw -j -d link show br0
        echo "=br1"; ip -n sw -j -d link show br1
        echo "=links"; ip -n sw -j link show
        echo "=root"; ip -j -d link show brroot"#,
    );
    let ports = section(&run.stdout, "ports");
    let names: Vec<&str> = ports.as_array().unwrap().iter().map(|p| p["ifname"].as_str().unwrap()).collect();
    assert_eq!(names, ["p1"], "only p1 is still a port: {ports}");
    assert_eq!(ports[0]["master"], "br0");
    assert_eq!(ports[0]["state"], "forwarding", "without STP a port forwards at once");
    let br0 = &section(&run.stdout, "br0")[0];
    assert_eq!(br0["linkinfo"]["info_kind"], "bridge");
    assert_eq!(br0["mtu"], 1400, "the bridge keeps its MTU when 1500-byte ports join");
    assert_eq!(section(&run.stdout, "br1")[0]["linkinfo"]["info_data"]["stp_state"], 1);
    let links = section(&run.stdout, "links");
    assert!(link(&links, "p2").get("master").is_none(), "p2 left the bridge");
    assert_eq!(section(&run.stdout, "root")[0]["linkinfo"]["info_kind"], "bridge", "a bridge where nslab runs");
}

#[test]
fn routes_ipv4_and_ipv6_match_ip_route() {
    let run = keep_then(
        "routes",
        r#"
        let n = netns_add("r");
        sysctl(n, "net.ipv6.conf.default.accept_dad", 0);
        veth(n, "a", "b");
        addr(n, "a", "10.1.0.1/24");
        addr(n, "a", "fd00:1::1/64");
        up(n, "a");
        up(n, "b");
        route(n, "10.2.0.0/16", "10.1.0.2");
        route(n, "10.3.0.0/16", #{via: "10.1.0.2", dev: "a", metric: 50});
        route(n, "10.4.0.0/16", #{dev: "a"});
        route(n, "default", "10.1.0.254");
        route(n, "fd00:2::/64", "fd00:1::2");
        route(n, "fd00:3::/64", #{via: "fd00:1::2", dev: "a", metric: 77});
        route(n, "fd00:4::/64", #{dev: "a"});
        route(n, "default", "fd00:1::fe");
        route(n, "10.5.0.0/16", "10.1.0.2");
        route_del(n, "10.5.0.0/16");
        route(n, "10.6.0.0/16", #{via: "10.1.0.2", metric: 5});
        route(n, "10.6.0.0/16", #{via: "10.1.0.3", metric: 6});
        route_del(n, "10.6.0.0/16", #{metric: 6});
        route(n, "fd00:5::/64", "fd00:1::2");
        route_del(n, "fd00:5::/64", "fd00:1::2");
        route_del(n, "10.1.0.0/24");

        let rs = routes(n);
        assert(rs.some(|r| r.dst == "10.3.0.0/16" && r.metric == 50 && r.dev == "a" && r.via == "10.1.0.2"));
        assert(rs.some(|r| r.dst == "default" && r.family == "inet" && r.via == "10.1.0.254"));
        assert(rs.some(|r| r.dst == "default" && r.family == "inet6" && r.via == "fd00:1::fe"));
        assert(rs.some(|r| r.dst == "10.4.0.0/16" && r.scope == "link"));
        assert(!rs.some(|r| r.dst == "10.5.0.0/16"));
        "#,
        r#"echo "=v4"; ip -n r -j route show
        echo "=v6"; ip -n r -j -6 route show"#,
    );
    let v4 = section(&run.stdout, "v4");
    assert_eq!(route(&v4, "10.2.0.0/16").unwrap()["gateway"], "10.1.0.2");
    let r3 = route(&v4, "10.3.0.0/16").unwrap();
    assert_eq!((r3["gateway"].as_str(), r3["dev"].as_str(), r3["metric"].as_u64()), (Some("10.1.0.2"), Some("a"), Some(50)));
    let r4 = route(&v4, "10.4.0.0/16").unwrap();
    assert_eq!((r4["dev"].as_str(), r4["scope"].as_str()), (Some("a"), Some("link")));
    assert_eq!(route(&v4, "default").unwrap()["gateway"], "10.1.0.254");
    assert!(route(&v4, "10.5.0.0/16").is_none(), "route_del removed it: {v4}");
    let r6: Vec<&Value> = v4.as_array().unwrap().iter().filter(|r| r["dst"] == "10.6.0.0/16").collect();
    assert_eq!(r6.len(), 1, "only the metric-6 route was deleted: {v4}");
    assert_eq!(r6[0]["metric"], 5);
    assert!(route(&v4, "10.1.0.0/24").is_none(), "the kernel's connected route can be deleted too: {v4}");

    let v6 = section(&run.stdout, "v6");
    assert_eq!(route(&v6, "fd00:2::/64").unwrap()["gateway"], "fd00:1::2");
    let r3 = route(&v6, "fd00:3::/64").unwrap();
    assert_eq!((r3["gateway"].as_str(), r3["metric"].as_u64()), (Some("fd00:1::2"), Some(77)));
    assert_eq!(route(&v6, "fd00:4::/64").unwrap()["dev"], "a");
    assert_eq!(route(&v6, "default").unwrap()["gateway"], "fd00:1::fe");
    assert!(route(&v6, "fd00:5::/64").is_none(), "{v6}");
}

#[test]
fn forwarding_and_sysctls_act_inside_the_namespace() {
    let run = keep_then(
        "sysctl",
        r#"
        let n = netns_add("fw");
        assert(sysctl(n, "net.ipv4.ip_forward") == "0");
        forwarding(n, true);
        sysctl(n, "net.ipv4.ip_default_ttl", 42);
        sysctl(n, "net/ipv4/conf/all/accept_redirects", false);
        assert(sysctl(n, "net.ipv4.ip_default_ttl") == "42");
        assert(sysctl(n, "net/ipv6/conf/all/forwarding") == "1");
        assert(sysctl("net.ipv4.ip_default_ttl") == "64", "the root namespace keeps its own value");
        assert(sysctl(n, "net.ipv4.ping_group_range").contains("\t"), "multi-field values keep their tab");
        let other = netns_add("off");
        forwarding(other, true);
        forwarding(other, false);
        "#,
        r#"echo "=fw"; ip netns exec fw sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding net.ipv4.ip_default_ttl net.ipv4.conf.all.accept_redirects
        echo "=off"; ip netns exec off sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding
        echo "=root"; sysctl -n net.ipv4.ip_forward net.ipv4.ip_default_ttl"#,
    );
    assert_eq!(text_section(&run.stdout, "fw").split_whitespace().collect::<Vec<_>>(), ["1", "1", "42", "0"]);
    assert_eq!(text_section(&run.stdout, "off").split_whitespace().collect::<Vec<_>>(), ["0", "0"]);
    assert_eq!(text_section(&run.stdout, "root").split_whitespace().collect::<Vec<_>>(), ["0", "64"], "nothing leaked out");
}

/// A sysctl changed where nslab runs is put back by teardown, by `nslab down` after --keep too.
#[test]
fn sysctls_outside_the_lab_are_restored() {
    let path = script(
        "sysctl-restore",
        "restore.rhai",
        r#"
        forwarding(true);
        sysctl("net.ipv4.ip_default_ttl", 33);
        sysctl("net.ipv4.ip_default_ttl", 34);
        assert(sysctl("net.ipv4.ip_forward") == "1");
        "#,
    );
    let run = in_private_netns(&format!(
        r#"$NSLAB run {p} || exit 9
        echo "=after-run"; sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding net.ipv4.ip_default_ttl
        $NSLAB run --keep --name kept {p} || exit 8
        echo "=kept"; sysctl -n net.ipv4.ip_forward net.ipv4.ip_default_ttl
        $NSLAB down kept || exit 7
        echo "=after-down"; sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding net.ipv4.ip_default_ttl"#,
        p = path.display()
    ));
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("torn down: 3 sysctls restored"), "{run:?}");
    let words = |name: &str| text_section(&run.stdout, name).split_whitespace().map(String::from).collect::<Vec<_>>();
    assert_eq!(words("after-run"), ["0", "0", "64"]);
    assert_eq!(words("kept"), ["1", "34"]);
    assert_eq!(words("after-down"), ["0", "0", "64"]);
}

#[test]
fn mtu_mac_and_rename_match_ip_link() {
    let run = keep_then(
        "settings",
        r#"
        let n = netns_add("s");
        veth(n, "a", "b");
        mtu(n, "a", 1280);
        mac(n, "a", "02:00:00:00:00:aa");
        rename(n, "b", "renamed");
        assert(link(n, "renamed").peer == "a", "the lab follows the renamed end");
        assert(link(n, "a").peer == "renamed");
        up(n, "renamed");
        veth(n, "c", "d", #{mtu: 9000});
        mtu("lo", 65536);
        veth("rootend", "other");
        rename("rootend", "moved");
        "#,
        r#"echo "=links"; ip -n s -j link show
        echo "=root"; ip -j link show"#,
    );
    let links = section(&run.stdout, "links");
    let a = link(&links, "a");
    assert_eq!((a["mtu"].as_u64(), a["address"].as_str()), (Some(1280), Some("02:00:00:00:00:aa")));
    assert!(has_link(&links, "renamed") && !has_link(&links, "b"), "{links}");
    assert!(link(&links, "renamed")["flags"].as_array().unwrap().iter().any(|f| f == "UP"));
    assert_eq!(link(&links, "c")["mtu"], 9000);
    assert_eq!(link(&links, "d")["mtu"], 9000);
    let root = section(&run.stdout, "root");
    assert!(has_link(&root, "moved") && !has_link(&root, "rootend"), "{root}");
}

/// A link made where nslab runs and renamed afterwards is still removed by teardown, as are
/// bridges, macvlans and vxlans made there.
#[test]
fn teardown_removes_created_and_renamed_links() {
    let path = script(
        "teardown-net",
        "t.rhai",
        r#"
        bridge("brx");
        rename("brx", "bry");
        veth("v0", "v1");
        macvlan("mv0", "v0");
        vxlan("vx0", #{id: 7, dev: "v0"});
        up("v0");
        route("10.9.0.0/16", #{dev: "v0"});
        "#,
    );
    let run = in_private_netns(&format!(
        r#"$NSLAB run {p} || exit 9
        ip -j link show; ls /run/nslab | wc -l"#,
        p = path.display()
    ));
    assert_eq!(run.code, 0, "{run:?}");
    // The veth pair goes as one: deleting v1 takes v0 with it.
    assert!(run.stderr.contains("torn down: 4 links, 1 route"), "{run:?}");
    let mut parts = run.stdout.lines();
    let links = json(parts.next().unwrap());
    let names: Vec<&str> = links.as_array().unwrap().iter().map(|l| l["ifname"].as_str().unwrap()).collect();
    assert_eq!(names, ["lo"]);
    assert_eq!(parts.next().unwrap().trim(), "0", "the ledger is closed");
}

#[test]
fn macvlan_and_vxlan_match_ip_details() {
    let run = keep_then(
        "kinds",
        r#"
        let n = netns_add("m");
        veth(n, "p", "q");
        for mode in ["bridge", "private", "vepa"] {
            macvlan(n, `mv-${mode}`, "p", #{mode: mode});
        }
        macvlan(n, "mvd", "q", #{mtu: 1400});
        veth(n, "pt", "pu");
        macvlan(n, "mvp", "pt", #{mode: "passthru"});
        vxlan(n, "vx4", #{id: 42, local: "192.0.2.1", remote: "192.0.2.2", dev: "p", port: 4790});
        vxlan(n, "vx6", #{id: 43, local: "fd00::1", remote: "fd00::2"});
        vxlan(n, "vxd", #{id: 44, mtu: 1400});
        assert(link(n, "vx4").kind == "vxlan");
        assert(link(n, "mvd").kind == "macvlan");
        "#,
        r#"echo "=links"; ip -n m -j -d link show"#,
    );
    let links = section(&run.stdout, "links");
    let info = |name: &str| link(&links, name)["linkinfo"].clone();
    for mode in ["bridge", "private", "vepa"] {
        let i = info(&format!("mv-{mode}"));
        assert_eq!((i["info_kind"].as_str(), i["info_data"]["mode"].as_str()), (Some("macvlan"), Some(mode)));
        assert_eq!(link(&links, &format!("mv-{mode}"))["link"], "p");
    }
    assert_eq!(info("mvd")["info_data"]["mode"], "bridge", "nslab's default mode");
    assert_eq!(link(&links, "mvd")["mtu"], 1400);
    assert_eq!(info("mvp")["info_data"]["mode"], "passthru");
    let vx4 = info("vx4")["info_data"].clone();
    assert_eq!(vx4["id"], 42);
    assert_eq!((vx4["local"].as_str(), vx4["remote"].as_str()), (Some("192.0.2.1"), Some("192.0.2.2")));
    assert_eq!((vx4["link"].as_str(), vx4["port"].as_u64()), (Some("p"), Some(4790)));
    let vx6 = info("vx6")["info_data"].clone();
    assert_eq!(
        (vx6["id"].as_u64(), vx6["local6"].as_str(), vx6["remote6"].as_str()),
        (Some(43), Some("fd00::1"), Some("fd00::2"))
    );
    assert_eq!(vx6["port"], 4789, "IANA's port by default");
    assert_eq!(link(&links, "vxd")["mtu"], 1400);
}

/// dummy, vlan, vrf, bond and wireguard: this kernel has none of them. Each is probed with `ip`;
/// a missing one must be reported by name, a present one must be created.
#[test]
fn missing_link_kinds_are_reported_by_name() {
    let cases = [
        ("dummy", "type dummy", r#"dummy("k0");"#, "dummy"),
        ("vlan", "link pr type vlan id 5", r#"vlan("k0", "pr", 5);"#, "vlan (8021q)"),
        ("vrf", "type vrf table 10", r#"vrf("k0", 10);"#, "vrf"),
        ("bond", "type bond mode active-backup", r#"bond("k0", #{mode: "active-backup"});"#, "bonding"),
        ("wireguard", "type wireguard", r#"wireguard("k0");"#, "wireguard"),
    ];
    for (kind, ip_args, call, feature) in cases {
        let lab = format!(r#"veth("pr", "pq"); {call} print(exec("ip -d link show k0"));"#);
        let path = script(&format!("kind-{kind}"), "k.rhai", &lab);
        let run = in_private_netns(&format!(
            r#"ip link add pr type veth peer name pq
            if ip link add probe0 {ip_args} 2>/dev/null; then echo "=probe"; echo yes; else echo "=probe"; echo no; fi
            ip link del probe0 2>/dev/null; ip link del pr
            echo "=nslab"; $NSLAB run {p}; echo "exit $?""#,
            p = path.display()
        ));
        let present = text_section(&run.stdout, "probe").trim() == "yes";
        let out = text_section(&run.stdout, "nslab");
        if present {
            eprintln!("{kind}: the kernel has it, so its creation is checked instead of its error");
            assert!(out.contains("exit 0"), "{run:?}");
            assert!(out.contains(&format!("\n    {kind} ")), "ip -d link shows a {kind}: {run:?}");
        } else {
            assert!(out.contains("exit 1"), "{run:?}");
            assert_eq!(
                error_message(&run.stderr),
                format!("cannot create {kind} link \"k0\" in the root namespace: the running kernel has no {feature} support"),
                "{run:?}"
            );
            assert!(run.stderr.contains("help: this kernel was built without that feature"), "{run:?}");
            assert!(run.stderr.contains("torn down: 1 link"), "the veth made before is still removed: {run:?}");
        }
    }
}

/// ifb in a lab namespace and where nslab runs (the private namespace standing in for a sandbox),
/// seen with `ip -j -d link` while the lab runs, gone after its teardown; bad input refused by
/// name. A kernel without ifb (probed with `ip` first) skips the test, saying so.
#[test]
fn ifb_links_are_created_checked_and_removed() {
    let lab = r#"
        let n = netns_add("fb");
        ifb(n, "ifbup", #{mtu: 1400, up: true});
        n.ifb("ifbdown");
        ifb("ifbroot", #{mtu: 9000});
        assert(link(n, "ifbup").kind == "ifb" && link(n, "ifbup").state == "up");
        for bad in [|| ifb(n, "ifb-name-of-16-b"), || ifb("ifbx", #{mtu: 67}), || ifb(n, "ifbx", #{mtu: 65536})] {
            try { bad.call(); assert(false, "refused"); } catch (e) { print("=bad"); print(e); }
        }
        assert(!links(n).some(|l| l.name == "ifbx") && !links().some(|l| l.name == "ifbx"), "nothing half-made");
        print("=ns");
        print(exec(n, "ip -j -d link show"));
        print("=root");
        print(exec("ip -j -d link show"));
    "#;
    let path = script("ifb", "ifb.rhai", lab);
    let run = in_private_netns(&format!(
        r#"if ip link add probe0 type ifb 2>/dev/null; then ip link del probe0; else echo "=noifb"; exit 0; fi
        $NSLAB run {p} || exit 9
        echo "=after"; ip -j link show; echo "=netns"; ls /run/netns"#,
        p = path.display()
    ));
    if run.stdout.contains("=noifb") {
        eprintln!("skipped: the running kernel has no ifb (ip link add ... type ifb failed)");
        return;
    }
    assert_eq!(run.code, 0, "{run:?}");
    let ns = section(&run.stdout, "ns");
    let (up, down) = (link(&ns, "ifbup"), link(&ns, "ifbdown"));
    assert_eq!(up["linkinfo"]["info_kind"], "ifb", "{up}");
    assert_eq!(up["mtu"], 1400);
    let flags =
        |l: &Value| -> Vec<String> { l["flags"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().into()).collect() };
    assert!(flags(up).contains(&"UP".into()) && flags(up).contains(&"LOWER_UP".into()), "born up: {up}");
    assert_eq!(down["linkinfo"]["info_kind"], "ifb");
    assert_eq!((down["mtu"].as_u64(), down["operstate"].as_str()), (Some(1500), Some("DOWN")), "down by default: {down}");
    assert!(!flags(down).contains(&"UP".into()), "{down}");
    let root = link(&section(&run.stdout, "root"), "ifbroot").clone();
    assert_eq!((root["linkinfo"]["info_kind"].as_str(), root["mtu"].as_u64()), (Some("ifb"), Some(9000)), "{root}");
    assert_eq!(root["operstate"], "DOWN");
    let bad: Vec<String> = run.stdout.split("=bad\n").skip(1).map(|b| b.lines().next().unwrap().to_string()).collect();
    assert_eq!(
        bad,
        [
            r#"invalid interface name "ifb-name-of-16-b": it is 16 bytes long; the kernel allows at most 15"#,
            r#"invalid MTU "67": ifb "ifbx" takes MTUs from 68 (the IPv4 minimum) to 65535"#,
            r#"invalid MTU "65536": ifb "ifbx" takes MTUs from 68 (the IPv4 minimum) to 65535"#,
        ]
    );
    let after = section(&run.stdout, "after");
    assert!(!has_link(&after, "ifbroot"), "the root-namespace ifb is removed at teardown: {after}");
    assert_eq!(text_section(&run.stdout, "netns").trim(), "", "the lab namespace (and its ifbs) is gone");
}

#[test]
fn proc_net_shows_what_the_namespace_sees() {
    let run = keep_then(
        "procnet",
        r#"
        let n = netns_add("pn");
        veth(n, "inside0", "inside1");
        let dev = proc_net(n, "dev");
        assert(dev.contains("inside0:") && dev.contains("inside1:"));
        assert(!proc_net("dev").contains("inside0"), "the root namespace has its own /proc/net/dev");
        assert(proc_net(n, "snmp").starts_with("Ip:"));
        print("=nslab");
        print(dev);
        "#,
        r#"echo "=ip"; ip netns exec pn cat /proc/net/dev"#,
    );
    let names = |text: &str| -> Vec<String> {
        let mut v: Vec<String> = text.lines().filter_map(|l| l.split_once(':')).map(|(n, _)| n.trim().to_string()).collect();
        v.sort();
        v
    };
    let from_nslab = names(&text_section(&run.stdout, "nslab"));
    assert_eq!(from_nslab, ["inside0", "inside1", "lo"]);
    assert_eq!(from_nslab, names(&text_section(&run.stdout, "ip")), "the same view as a process inside the namespace");
}

/// Bad input is refused before the kernel is asked, with a message that says why.
#[test]
fn bad_input_gets_exact_messages() {
    let cases: &[(&str, &str)] = &[
        (
            r#"veth("a", "b"); mac("a", "02:00:00:00:00");"#,
            r#"invalid MAC address "02:00:00:00:00": it must be six hexadecimal bytes separated by colons, like "02:00:00:00:00:01""#,
        ),
        (
            r#"veth("a", "b"); mac("a", "01:00:5e:00:00:01");"#,
            r#"invalid MAC address "01:00:5e:00:00:01": it is a multicast address (the lowest bit of the first byte is set); a link's own address must be unicast, like "02:00:00:00:00:01""#,
        ),
        (
            r#"veth("a", "b"); mtu("a", 20);"#,
            r#"invalid MTU "20": link "a" in the root namespace takes MTUs from 68 (the IPv4 minimum) to 65535"#,
        ),
        (
            r#"bridge("br0", #{mtu: 100000});"#,
            r#"invalid MTU "100000": bridge "br0" takes MTUs from 68 (the IPv4 minimum) to 65535"#,
        ),
        (
            r#"veth("a", "b"); mtu("a", 65536);"#,
            r#"invalid MTU "65536": link "a" in the root namespace takes MTUs from 68 (the IPv4 minimum) to 65535"#,
        ),
        (
            r#"bridge("br0", #{mtu: 65536});"#,
            r#"invalid MTU "65536": bridge "br0" takes MTUs from 68 (the IPv4 minimum) to 65535"#,
        ),
        (r#"macvlan("m", "eth9", #{mode: 7});"#, r#"the mode option of macvlan must be a string, not the integer 7"#),
        (
            r#"sysctl("kernel.hostname");"#,
            r#"invalid sysctl key "kernel.hostname": only network sysctls (net.*) belong to a network namespace; nslab reads and writes no others"#,
        ),
        (
            r#"sysctl("kernel.hostname", "x");"#,
            r#"invalid sysctl key "kernel.hostname": only network sysctls (net.*) belong to a network namespace; nslab reads and writes no others"#,
        ),
        (
            r#"netns_add("n"); sysctl("n", "vm.swappiness", 1);"#,
            r#"invalid sysctl key "vm.swappiness": only network sysctls (net.*) belong to a network namespace; nslab reads and writes no others"#,
        ),
        (
            r#"sysctl("net.ipv4.no_such_key");"#,
            r#"cannot read sysctl net.ipv4.no_such_key in the root namespace: there is no such key"#,
        ),
        (
            r#"sysctl("net.ipv4.ip_default_ttl", "x");"#,
            r#"cannot set sysctl net.ipv4.ip_default_ttl in the root namespace to "x": the kernel refused that value (it holds "64" now)"#,
        ),
        (
            r#"veth("a", "b"); macvlan("m", "a", #{mode: "source"});"#,
            r#"invalid macvlan mode "source": macvlan "m" takes one of bridge, private, vepa, passthru"#,
        ),
        (
            r#"bridge("br0", #{speed: 10});"#,
            r#"bridge has no option "speed"; the options are: mtu, stp, ageing_time, mcast_snooping"#,
        ),
        (
            r#"vxlan("vx0", #{id: 16777216});"#,
            r#"invalid VXLAN id "16777216": vxlan "vx0" needs a VNI from 0 to 16777215 (24 bits)"#,
        ),
        (r#"vxlan("vx0", #{remote: "10.0.0.1"});"#, r#"vxlan needs the id option: the VNI, from 0 to 16777215"#),
        (
            r#"veth("a", "b"); veth("c", "d"); master("a", "c");"#,
            r#"cannot attach link "a" to "c" in the root namespace: "c" is a veth link, not a bridge, bond or vrf, so it cannot take ports"#,
        ),
        (r#"veth("a", "b"); rename("a", "b");"#, r#"link "b" already exists in the root namespace"#),
        (r#"bridge("br0"); bridge("br0");"#, r#"link "br0" already exists in the root namespace"#),
        (r#"master("nope", "br0");"#, r#"link "br0" does not exist in the root namespace"#),
        (
            r#"proc_net("../self/environ");"#,
            r#"invalid /proc/net file name "../self/environ": it must be a plain file name in /proc/net, without '/' (like "dev" or "snmp")"#,
        ),
        (r#"forwarding("yes");"#, r#"the first argument of forwarding must be true or false, not the string "yes""#),
        (r#"bridge("a", "b", 3);"#, r#"the third argument of bridge must be an options map, not the integer 3"#),
    ];
    for (i, (code, expected)) in cases.iter().enumerate() {
        let path = script("bad-input", &format!("bad{i}.rhai"), code);
        let run = run_nslab(&["run", "--sandbox", path.to_str().unwrap()]);
        assert_eq!(run.code, 1, "{code}\n{run:?}");
        assert_eq!(error_message(&run.stderr), *expected, "{code}\n{run:?}");
    }
    // A missing /proc/net file names the ones that exist.
    let path = script("bad-input", "procnet.rhai", r#"proc_net("no_such_file");"#);
    let run = run_nslab(&["run", "--sandbox", path.to_str().unwrap()]);
    let message = error_message(&run.stderr);
    assert!(
        message.starts_with("cannot read /proc/net/no_such_file in the root namespace: there is no such file; /proc/net has: ")
    );
    assert!(message.contains(" dev, ") && message.contains(" snmp, "), "{message}");
}

fn run_script(name: &str) -> Run {
    let path = format!("{}/scripts/{name}", env!("CARGO_MANIFEST_DIR"));
    let run = run_nslab(&["run", "--sandbox", &path]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.trim_end().lines().last().unwrap().starts_with("torn down:"), "{run:?}");
    run
}

#[test]
fn lan_bridge_script_passes_in_the_sandbox() {
    let run = run_script("lan-bridge.rhai");
    assert!(run.stdout.contains("all 6 pairs reach each other over br0"), "{run:?}");
    assert!(run.stdout.contains("h3 unplugged and plugged back in: ok"), "{run:?}");
    assert!(run.stdout.contains("master br0 state forwarding"), "the bridge tool agrees: {run:?}");
}

#[test]
fn router_script_passes_in_the_sandbox() {
    let run = run_script("router.rhai");
    assert!(run.stdout.contains("1 packets transmitted, 0 received, 100% packet loss"), "the negative check ran: {run:?}");
    assert!(run.stdout.contains("router: forwarding off = no reply, forwarding on = replies"), "{run:?}");
}

#[test]
fn vxlan_overlay_script_passes_in_the_sandbox() {
    let run = run_script("vxlan-overlay.rhai");
    assert!(run.stdout.contains("vxlan id 42"), "ip -d link agrees: {run:?}");
    assert!(run.stdout.contains("overlay works:"), "{run:?}");
}

/// `up` of a bridge with no ports yet is held back while ports join (each port joining a running
/// bridge costs the kernel a pass over all ports); everything that looks sees it done.
#[test]
fn a_bridge_brought_up_before_its_ports_is_up_whenever_anything_looks() {
    let run = keep_then(
        "bridge-held-up",
        r#"
        let sw = netns_add("sw");
        bridge(sw, "br0");
        up(sw, "br0");
        for i in 1..=3 {
            let h = netns_add(`h${i}`);
            veth(sw, `p${i}`, h, "eth0", #{up: true, master: "br0"});
            addr(h, "eth0", `10.9.0.${i}/24`);
        }
        assert(link(sw, "br0").state == "up", "a query sees the bridge up");
        assert(ping("h1", "10.9.0.3").ok, "ports forward across it");

        // Up, then down: down it stays.
        bridge(sw, "br1");
        up(sw, "br1");
        down(sw, "br1");
        assert(link(sw, "br1").state == "down");

        // Up, then the end of the script (with --keep): up it is.
        bridge(sw, "br2");
        up(sw, "br2");
        veth(sw, "q1", "h1", "eth1", #{master: "br2"});
        "#,
        r#"echo "=br"; ip -n sw -j link show type bridge
        echo "=ports"; bridge -n sw -j link show"#,
    );
    let bridges = section(&run.stdout, "br");
    let up = |name: &str| link(&bridges, name)["flags"].as_array().unwrap().iter().any(|f| f == "UP");
    assert!(up("br0") && !up("br1") && up("br2"), "{bridges}");
    let ports = section(&run.stdout, "ports");
    let p1 = link(&ports, "p1");
    assert_eq!((p1["master"].as_str(), p1["state"].as_str()), (Some("br0"), Some("forwarding")), "{ports}");
    assert_eq!(link(&ports, "q1")["master"], "br2");
}

/// What a script printed has happened: `print` carries out what the lab holds back first. The
/// script busy-waits after it (no call that looks, not even `sleep`), so only the print can have
/// brought the bridge up by the time another process sees "built".
#[test]
fn print_carries_out_a_held_back_bridge_up() {
    let path = script(
        "bridge-print",
        "print.rhai",
        r#"
        let sw = netns_add("sw");
        bridge(sw, "br0");
        up(sw, "br0");
        print("built");
        let t = timestamp();
        while t.elapsed < 30.0 {}
        "#,
    );
    let run = in_private_netns(&format!(
        r#"$NSLAB run {p} > /run/out 2>&1 & P=$!
        until grep -q built /run/out; do sleep 0.01; done
        ip -n sw -j link show br0
        kill -TERM $P; wait $P; echo "exit $?""#,
        p = path.display()
    ));
    let mut lines = run.stdout.lines();
    let br0 = json(lines.next().unwrap_or_default());
    assert!(br0[0]["flags"].as_array().unwrap().iter().any(|f| f == "UP"), "{run:?}");
    assert_eq!(lines.next(), Some("exit 143"), "{run:?}");
}

/// Time passing is something to see: `sleep` carries out what the lab holds back (checked from
/// outside while the script sleeps).
#[test]
fn sleep_carries_out_a_held_back_bridge_up() {
    let path = script(
        "bridge-sleep",
        "sleep.rhai",
        r#"
        let sw = netns_add("sw");
        bridge(sw, "br0");
        up(sw, "br0");
        sleep(30);
        "#,
    );
    // Nothing in the script but the sleep can bring the bridge up: watched for 5 s.
    let run = in_private_netns(&format!(
        r#"$NSLAB run {p} > /run/out 2>&1 & P=$!
        n=0; until ip -n sw -j link show br0 2>/dev/null | grep -q '"UP"' || [ $n -ge 500 ]; do sleep 0.01; n=$((n+1)); done
        ip -n sw -j link show br0
        kill -TERM $P; wait $P; echo "exit $?""#,
        p = path.display()
    ));
    let mut lines = run.stdout.lines();
    let br0 = json(lines.next().unwrap_or_default());
    assert!(br0[0]["flags"].as_array().unwrap().iter().any(|f| f == "UP"), "{run:?}");
    assert_eq!(lines.next(), Some("exit 143"), "{run:?}");
}
