//! The language in a lab across machines: the walkthrough's own `move_to` to a namespace on
//! another machine, `pingall` and `topology` over every machine, sub-tests undone everywhere,
//! handles that answer from where they live, and errors that name the machine. On three
//! simulated machines (tests/support/machines.rs).

use crate::support::machines;
use crate::support::script;

/// The walkthrough as written (`veth` in nslab's namespace, then `move_to` into netns1), with
/// netns1 on m2: the pair becomes a link across machines, veth0 keeps its address and state.
#[test]
fn the_walkthroughs_move_to_reaches_a_namespace_on_another_machine() {
    let path = script(
        "walk-move",
        "walk.rhai",
        r#"
        let n = netns_add("netns1", #{on: "m2"});
        veth("veth0", "veth1");
        addr("veth0", "10.1.1.1/24");
        up("veth0");
        move_to("veth1", n);
        addr(n, "veth1", "10.1.1.2/24");
        up(n, "veth1");
        up(n, "lo");
        let v0 = link("veth0");
        print(`veth0 ${v0.kind} ${v0.state} ${v0.addresses[0]} ${v0.mtu}`);
        let v1 = link(n, "veth1");
        print(`veth1 ${v1.kind} ${v1.mtu} ${n.machine}`);
        let p = ping(n, "10.1.1.1");
        print(`ping ${p.ok}`);
        let forward = exec_in(n, ["cat", "/proc/sys/net/ipv4/ip_forward"]).stdout;
        forward.trim();
        print(forward);
        "#,
    );
    let (run, s) = machines::checked(&format!("on local $NSLAB run --hosts $HOSTS {}", path.display()));
    assert_eq!(s["rc"].trim(), "0", "{run:?}");
    assert_eq!(s["out"], "veth0 vxlan up 10.1.1.1/24 1450\nveth1 vxlan 1450 m2\nping true\n0\n", "{run:?}");
    assert!(s["err"].contains("note: the link root/veth0 (local) - netns1/veth1 (m2) is VXLAN VNI "), "{run:?}");
    assert!(s["err"].ends_with("torn down: 1 namespace, 1 link\n"), "{run:?}");
    assert_eq!(s["diff"], "", "{run:?}");
}

/// pingall, topology, a sub-test, handles and errors over three machines.
#[test]
fn pingall_topology_subtests_and_errors_span_machines() {
    let path = script(
        "lang-machines",
        "lang.rhai",
        r#"
        let a = netns_add("a");
        let b = netns_add("b", #{on: "m2"});
        let c = host("m3").netns_add("c");
        veth(a, "ab", b, "ba", #{up: true});
        veth(b, "bc", c, "cb", #{up: true});
        addr(a, "ab", "10.71.1.1/24"); addr(b, "ba", "10.71.1.2/24");
        addr(b, "bc", "10.71.2.2/24"); addr(c, "cb", "10.71.2.3/24");
        route(a, "default", "10.71.1.2"); route(c, "default", "10.71.2.2");
        forwarding(b, true);
        let r = pingall();
        print(`pingall ${r.ok} ${r.sent} ${r.namespaces}`);
        let t = topology();
        print(t.nodes.map(|n| `${n.name}@${n.machine}`));
        print(t.edges.filter(|e| e.kind == "vxlan" && e.from.machine != e.to.machine).len());
        test("sub", || {
            let d = netns_add("d", #{on: "m3"});
            veth(c, "cd", d, "dc");
        });
        let listed = host("m3").exec("ip netns list").stdout;
        listed.trim();
        print(`after sub: ${netns_exists("d")} ${listed}`);
        let p = spawn_in(b, ["sleep", "7371"]);
        print(`proc ${p.running} ${p.cmd}`);
        kill(p);
        print(`proc ${p.running}`);
        try { link(b, "nope"); } catch (e) { print(e); }
        try { throughput(a, "nope"); } catch (e) { print(e); }
        try { netns_add("b"); } catch (e) { print(e); }
        try { netns_add("z", #{on: "m9"}); } catch (e) { print(e); }
        "#,
    );
    let (run, s) = machines::checked(&format!("on local $NSLAB run --hosts $HOSTS {}", path.display()));
    assert_eq!(s["rc"].trim(), "0", "{run:?}");
    let out: Vec<&str> = s["out"].lines().collect();
    assert_eq!(out[0], r#"pingall true 8 ["a", "b", "c"]"#, "{run:?}");
    assert_eq!(out[1], r#"["a@local", "b@m2", "c@m3"]"#, "{run:?}");
    assert_eq!(out[2], "2", "{run:?}");
    assert_eq!(out[3], "after sub: false c", "the sub-test's namespace on m3 is undone: {run:?}");
    assert_eq!(out[4], "proc true sleep 7371", "{run:?}");
    assert_eq!(out[5], "proc false", "{run:?}");
    assert_eq!(out[6], r#"on m2: link "nope" does not exist in namespace "b""#, "{run:?}");
    assert_eq!(out[7], r#"namespace "nope" does not exist"#, "{run:?}");
    assert_eq!(out[8], r#"namespace "b" already lives on m2: a lab's namespace names are unique across its machines"#, "{run:?}");
    assert_eq!(out[9], r#"no machine "m9" in the inventory (it has: local, m2, m3)"#, "{run:?}");
    assert_eq!(s["diff"], "", "{run:?}");
}

/// A switch on m2 (a bridge) with hosts on local and m3 plugged into it over links across
/// machines: the hosts reach each other through the bridge, at layer 2, as with veth ports.
#[test]
fn a_bridge_on_another_machine_switches_between_hosts_on_two_others() {
    let path = script(
        "bridge-machines",
        "switch.rhai",
        r#"
        let sw = netns_add("sw", #{on: "m2"});
        let h1 = netns_add("h1");
        let h3 = netns_add("h3", #{on: "m3"});
        bridge(sw, "br0");
        up(sw, "br0");
        veth(sw, "p1", h1, "eth0", #{up: true, master: "br0"});
        veth(sw, "p3", h3, "eth0", #{up: true, master: "br0"});
        addr(h1, "eth0", "10.72.0.1/24");
        addr(h3, "eth0", "10.72.0.3/24");
        expect_reach(h1, h3);
        expect_reach(h3, "10.72.0.1");
        print(`${link(sw, "p1").master} ${link(sw, "p3").master} ${link(sw, "p1").kind}`);
        print(ping(h1, "10.72.0.3").ok);
        "#,
    );
    let (run, s) = machines::checked(&format!("on local $NSLAB run --hosts $HOSTS {}", path.display()));
    assert_eq!(s["rc"].trim(), "0", "{run:?}");
    assert_eq!(s["out"], "br0 br0 vxlan\ntrue\n", "{run:?}");
    assert!(s["err"].ends_with("torn down: 3 namespaces\n"), "{run:?}");
    assert_eq!(s["diff"], "", "{run:?}");
}
