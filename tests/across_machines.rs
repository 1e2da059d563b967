//! Labs that span machines (issue 16), on three simulated machines (tests/support/machines.rs):
//! `nslab run --hosts $HOSTS` in `local`, agents started in `m2` and `m3` by the inventory's
//! `via` (an nsenter). Each test checks every machine with `ip -j` from outside the lab, and
//! that the lab leaves nothing on any of them.

use crate::support::machines::{self, listens, vxlan, DEFAULT};
use crate::support::{json, processes, script, sections, Run};

/// Runs `lab` from local with the inventory. Once the script prints "ready" (see `pause`), the
/// bash `checks` run and print their sections, then the script goes on. Returns the run and its
/// sections, with the exit code, the outputs, a before/after diff of every machine and the
/// number of agents left.
fn run_lab(test: &str, lab: &str, checks: &str) -> (Run, std::collections::HashMap<String, String>) {
    let path = script(test, "lab.rhai", lab);
    let go = scratch_path(test).join("go");
    let run = machines::run(
        DEFAULT,
        &format!(
            r#"machines_snap > /run/before
            on local $NSLAB run --hosts $HOSTS {p} > /run/out 2> /run/err & P=$!
            if wait_for /run/out ready $P; then
            {checks}
            fi
            touch {go}
            wait $P; rc=$?
            # Agents may still be exiting when the coordinator has returned.
            for i in $(seq 200); do [ "$(machines_agents)" = 0 ] && break; sleep 0.01; done
            echo "=rc"; echo $rc
            echo "=out"; cat /run/out
            echo "=err"; cat /run/err
            machines_snap > /run/after
            echo "=diff"; diff /run/before /run/after
            echo "=agents"; machines_agents"#,
            p = path.display(),
            go = go.display(),
        ),
    );
    let s = sections(&run.stdout);
    (run, s)
}

/// Rhai: print "ready", then wait (in nslab's own namespace, on local) for the test's checks.
fn pause(test: &str) -> String {
    format!(
        r#"print("ready");
        exec(["sh", "-c", "while [ ! -e {go} ]; do sleep 0.01; done"]);"#,
        go = scratch_path(test).join("go").display()
    )
}

/// The scratch folder's path without emptying it (`scratch` starts it afresh).
fn scratch_path(test: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("nslab-test-{}-{test}", std::process::id()))
}

/// Names in `ip -j netns list`.
fn netns_names(text: &str) -> Vec<String> {
    json(text).as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap().to_string()).collect()
}

fn assert_left_nothing(run: &Run, s: &std::collections::HashMap<String, String>) {
    assert_eq!(s["diff"], "", "every machine is as before: {run:?}");
    assert_eq!(s["agents"].trim(), "0", "no agent left: {run:?}");
}

/// The walkthrough, with netns1 on m2: the veth pair between nslab's namespace (on local) and
/// netns1 becomes two VXLAN devices, one per machine, whose UDP sockets live in the machines'
/// own namespaces. (A veth end cannot be moved to another machine: the pair is made where its
/// ends live, with the four-argument `veth`.)
#[test]
fn the_walkthrough_with_netns1_on_another_machine() {
    let lab = format!(
        r#"
        let netns1 = netns_add("netns1", #{{on: "m2"}});
        let lo = link(netns1, "lo");
        assert(lo.state == "down", "lo starts down in a new namespace");
        print(netns1.exec("ip link list"));
        let p = ping(netns1, "127.0.0.1");
        assert(!p.ok && p.error == "Network is unreachable", `got ${{p}}`);
        up(netns1, "lo");
        assert(ping(netns1, "127.0.0.1").ok, "ping works once lo is up");
        veth(root(), "veth0", netns1, "veth1");
        addr(netns1, "veth1", "10.1.1.1/24");
        up(netns1, "veth1");
        addr("veth0", "10.1.1.2/24");
        up("veth0");
        {pause}
        let there = ping("10.1.1.1");
        print(there);
        assert(there.ok, "local reaches netns1 on m2");
        let back = ping(netns1, "10.1.1.2");
        print(back);
        assert(back.ok, "netns1 on m2 reaches local");
        netns_del(netns1);
        print("done");
        "#,
        pause = pause("walk-m2")
    );
    let (run, s) = run_lab(
        "walk-m2",
        &lab,
        r#"echo "=netns-local"; on local ip -j netns list
        echo "=netns-m2"; on m2 ip -j netns list
        echo "=netns-m3"; on m3 ip -j netns list
        echo "=veth0"; on local ip -j -d link show veth0
        echo "=veth1"; on m2 ip -n netns1 -j -d link show veth1
        echo "=udp-local"; on local cat /proc/net/udp
        echo "=udp-m2"; on m2 cat /proc/net/udp
        echo "=udp-netns1"; on m2 ip netns exec netns1 cat /proc/net/udp"#,
    );
    assert_eq!(s["rc"].trim(), "0", "{run:?}");
    assert!(s["out"].contains("1: lo: <LOOPBACK> mtu 65536"), "netns1.exec ran ip on m2: {run:?}");
    assert!(s["out"].ends_with("done\n"), "{run:?}");
    assert_eq!(netns_names(&s["netns-m2"]), ["netns1"], "{run:?}");
    assert_eq!(netns_names(&s["netns-local"]), Vec::<String>::new(), "{run:?}");
    assert_eq!(netns_names(&s["netns-m3"]), Vec::<String>::new(), "{run:?}");
    let (vni0, remote0, port0, mtu0) = vxlan(&s["veth0"]);
    let (vni1, remote1, port1, mtu1) = vxlan(&s["veth1"]);
    assert_eq!((vni0, port0), (vni1, port1), "one VNI and port for both ends: {run:?}");
    assert_eq!((remote0.as_str(), remote1.as_str()), ("10.200.0.2", "10.200.0.1"), "each other's underlay address: {run:?}");
    assert_eq!((mtu0, mtu1), (1450, 1450), "1500 less the 50 bytes of VXLAN over IPv4: {run:?}");
    assert!(listens(&s["udp-local"], port0) && listens(&s["udp-m2"], port0), "the sockets are on the machines: {run:?}");
    assert!(!listens(&s["udp-netns1"], port0), "not in the lab's namespace: {run:?}");
    assert_left_nothing(&run, &s);
}

/// 30 namespaces c0..c29 placed round-robin on local, m2, m3, each linked to the next (so every
/// link crosses machines), addressed 10.30.i.0/24 per link, routed end to end: c0 reaches c29
/// across 28 routers and back.
#[test]
fn a_chain_of_30_namespaces_over_three_machines_pings_end_to_end() {
    let lab = format!(
        r#"
        let machines = ["local", "m2", "m3"];
        let c = [];
        for i in 0..30 {{
            c.push(netns_add(`c${{i}}`, #{{on: machines[i % 3]}}));
        }}
        for i in 0..30 {{ up(c[i], "lo"); }}
        for i in 0..29 {{
            veth(c[i], "r", c[i + 1], "l");
            addr(c[i], "r", `10.30.${{i}}.1/24`);
            addr(c[i + 1], "l", `10.30.${{i}}.2/24`);
            up(c[i], "r");
            up(c[i + 1], "l");
        }}
        for i in 1..29 {{ forwarding(c[i], true); }}
        for i in 0..29 {{ route(c[i], "default", `10.30.${{i}}.2`); }}
        for i in 2..30 {{ route(c[i], "10.30.0.0/24", `10.30.${{i - 1}}.1`); }}
        expect_reach(c[0], "10.30.28.2");
        expect_reach(c[29], "10.30.0.1");
        let p = ping(c[0], "10.30.28.2");
        print(p);
        assert(p.ok, "c0 reaches c29");
        {pause}
        print("done");
        "#,
        pause = pause("chain30")
    );
    let (run, s) = run_lab(
        "chain30",
        &lab,
        r#"for m in local m2 m3; do echo "=netns-$m"; on $m ip -j netns list; done
        echo "=c1-l"; on m2 ip -n c1 -j -d link show l
        echo "=c0-r"; on local ip -n c0 -j -d link show r
        echo "=c28-r"; on m2 ip -n c28 -j -d link show r
        echo "=c29-l"; on m3 ip -n c29 -j -d link show l"#,
    );
    assert_eq!(s["rc"].trim(), "0", "{run:?}");
    assert!(s["out"].ends_with("done\n"), "{run:?}");
    for (k, m) in ["local", "m2", "m3"].iter().enumerate() {
        let mut names = netns_names(&s[&format!("netns-{m}")]);
        names.sort();
        let mut want: Vec<String> = (0..30).filter(|i| i % 3 == k).map(|i| format!("c{i}")).collect();
        want.sort();
        assert_eq!(names, want, "{m}: {run:?}");
    }
    let (vni_a, remote_a, _, _) = vxlan(&s["c0-r"]);
    let (vni_b, remote_b, _, _) = vxlan(&s["c1-l"]);
    assert_eq!(vni_a, vni_b, "{run:?}");
    assert_eq!((remote_a.as_str(), remote_b.as_str()), ("10.200.0.2", "10.200.0.1"), "{run:?}");
    let (vni_c, remote_c, _, _) = vxlan(&s["c28-r"]);
    let (vni_d, remote_d, _, _) = vxlan(&s["c29-l"]);
    assert_eq!(vni_c, vni_d, "{run:?}");
    assert_ne!(vni_a, vni_c, "links get their own VNIs: {run:?}");
    assert_eq!((remote_c.as_str(), remote_d.as_str()), ("10.200.0.3", "10.200.0.2"), "{run:?}");
    assert_left_nothing(&run, &s);
}

/// The router lab with the router r on m3 (placed with `host("m3").netns_add`), h1 on local and
/// h2 on m2: no reply before forwarding (and the explanation names the machines), replies after.
#[test]
fn a_router_on_a_third_machine_joins_hosts_on_two_others() {
    let lab = format!(
        r#"
        let h1 = netns_add("h1");
        let h2 = netns_add("h2", #{{on: "m2"}});
        let r = host("m3").netns_add("r");
        for n in [h1, h2, r] {{ up(n, "lo"); }}
        veth(h1, "eth0", r, "eth1");
        veth(h2, "eth0", r, "eth2");
        addr(h1, "eth0", "10.0.1.2/24");
        addr(h2, "eth0", "10.0.2.2/24");
        addr(r, "eth1", "10.0.1.1/24");
        addr(r, "eth2", "10.0.2.1/24");
        for pair in [[h1, "eth0"], [h2, "eth0"], [r, "eth1"], [r, "eth2"]] {{ up(pair[0], pair[1]); }}
        route(h1, "default", "10.0.1.1");
        route(h2, "default", "10.0.2.1");
        expect_reach(h1, "10.0.1.1");
        expect_reach(h2, "10.0.2.1");
        assert(sysctl(r, "net.ipv4.ip_forward") == "0", "forwarding starts off");
        try {{
            expect_reach(h1, "10.0.2.2", #{{timeout: 0.5}});
            print("reached without forwarding");
        }} catch (e) {{
            print(`unreachable: ${{e}}`);
        }}
        forwarding(r, true);
        expect_reach(h1, "10.0.2.2");
        expect_reach(h2, "10.0.1.2");
        {pause}
        print("done");
        "#,
        pause = pause("router-m3")
    );
    let (run, s) = run_lab(
        "router-m3",
        &lab,
        r#"for m in local m2 m3; do echo "=netns-$m"; on $m ip -j netns list; done
        echo "=forward"; on m3 ip netns exec r cat /proc/sys/net/ipv4/ip_forward
        echo "=h1"; on local ip -n h1 -j -d link show eth0
        echo "=r1"; on m3 ip -n r -j -d link show eth1
        echo "=r2"; on m3 ip -n r -j -d link show eth2
        echo "=h2"; on m2 ip -n h2 -j -d link show eth0"#,
    );
    assert_eq!(s["rc"].trim(), "0", "{run:?}");
    assert!(s["out"].ends_with("done\n"), "{run:?}");
    assert!(!s["out"].contains("reached without forwarding"), "{run:?}");
    let unreachable = s["out"].lines().find(|l| l.starts_with("unreachable: ")).unwrap_or_else(|| panic!("{run:?}"));
    assert!(unreachable.contains("m3"), "the explanation crosses machines and names them: {run:?}");
    assert_eq!(netns_names(&s["netns-local"]), ["h1"], "{run:?}");
    assert_eq!(netns_names(&s["netns-m2"]), ["h2"], "{run:?}");
    assert_eq!(netns_names(&s["netns-m3"]), ["r"], "{run:?}");
    assert_eq!(s["forward"].trim(), "1", "{run:?}");
    let (h1, r1, h2, r2) = (vxlan(&s["h1"]), vxlan(&s["r1"]), vxlan(&s["h2"]), vxlan(&s["r2"]));
    assert_eq!((h1.0, h1.1.as_str(), r1.1.as_str()), (r1.0, "10.200.0.3", "10.200.0.1"), "{run:?}");
    assert_eq!((h2.0, h2.1.as_str(), r2.1.as_str()), (r2.0, "10.200.0.3", "10.200.0.2"), "{run:?}");
    assert_ne!(h1.0, h2.0, "{run:?}");
    assert_left_nothing(&run, &s);
}

/// `kill -9` of the coordinator while the script sleeps: m2's and m3's agents see their channel
/// close and tear their parts down (processes included) within a few seconds, with nobody
/// asking; the coordinator's own part on local is left for `nslab clean`, as on one machine.
#[test]
fn kill_9_of_the_coordinator_leaves_nothing_on_any_machine() {
    let path = script(
        "kill9-machines",
        "lab.rhai",
        r#"
        let a = netns_add("a");
        let b = netns_add("b", #{on: "m2"});
        let c = netns_add("c", #{on: "m3"});
        veth(a, "x", b, "y");
        veth(b, "z", c, "w");
        addr(b, "y", "10.61.0.2/24");
        spawn_in(b, ["sleep", "7161"]);
        spawn_in(c, ["sleep", "7162"]);
        print("ready");
        sleep(1000);
        "#,
    );
    let run = machines::run(
        DEFAULT,
        &format!(
            r#"machines_snap > /run/before
            for m in local m2 m3; do machine_snap $m > /run/before-$m; done
            on local $NSLAB run --hosts $HOSTS {p} > /run/out 2> /run/err & P=$!
            wait_for /run/out ready $P
            echo "=during"; for m in local m2 m3; do on $m ip -j netns list; done; pgrep -fcx 'sleep 716[12]'
            kill -9 $P; wait $P; rc=$?; echo "=rc"; echo $rc
            for i in $(seq 500); do
                same=1
                for m in local m2 m3; do machine_snap $m | cmp -s - /run/before-$m || same=0; done
                [ $same = 1 ] && [ "$(machines_agents)" = 0 ] && [ "$(pgrep -fcx 'sleep 716[12]')" = 0 ] && break
                sleep 0.01
            done
            echo "=waited"; echo $i
            echo "=remote"; for m in local m2 m3; do machine_snap $m | diff /run/before-$m -; done
            echo "=left"; machines_agents; pgrep -fcx 'sleep 716[12]'
            echo "=clean"; on local $NSLAB clean 2>&1; echo "status $?"
            machines_snap > /run/after
            echo "=diff"; diff /run/before /run/after"#,
            p = path.display()
        ),
    );
    let s = sections(&run.stdout);
    let during: Vec<&str> = s["during"].lines().collect();
    assert_eq!(during, [r#"[{"name":"a"}]"#, r#"[{"name":"b"}]"#, r#"[{"name":"c"}]"#, "2"], "{run:?}");
    assert_eq!(s["rc"].trim(), "137", "{run:?}");
    let waited: u32 = s["waited"].trim().parse().unwrap();
    assert!(waited < 500, "every machine is clean within 5 s, local too (its guard): {run:?}");
    assert_eq!(s["remote"], "", "{run:?}");
    assert_eq!(s["left"], "0\n0\n", "no agent, no process of the lab: {run:?}");
    assert_eq!(s["clean"], "clean: no dead labs\nstatus 0\n", "nothing was left for clean: {run:?}");
    assert_eq!(s["diff"], "", "{run:?}");
    assert_eq!(processes(&["sleep", "7161"]), Vec::<i32>::new());
    assert_eq!(processes(&["sleep", "7162"]), Vec::<i32>::new());
}

/// A machine whose `via` fails (a command that exits at once; an nsenter to a process that is
/// gone): `nslab run` exits 1 with an error naming that machine, and what was made on the
/// others is gone.
#[test]
fn a_machine_unreachable_at_start_is_an_error_naming_it() {
    let path = script(
        "unreachable",
        "lab.rhai",
        r#"
        let a = netns_add("a");
        let b = netns_add("b", #{on: "m2"});
        veth(a, "x", b, "y");
        let c = netns_add("c", #{on: "m3"});
        veth(b, "z", c, "w");
        print("not reached");
        "#,
    );
    let run = machines::run(
        DEFAULT,
        &format!(
            r#"sleep 0 & D=$!; wait $D
            machines_snap > /run/before
            for via in 'false' "nsenter -t $D -n -m $NSLAB agent"; do
                sed "/^\[hosts.m3\]/,\$ s|^via = .*|via = \"$via\"|" $HOSTS > $MACHINES_DIR/bad.toml
                on local $NSLAB run --hosts $MACHINES_DIR/bad.toml {p} > /run/out 2> /run/err; rc=$?
                echo "=rc-$via"; echo $rc
                echo "=out-$via"; cat /run/out
                echo "=err-$via"; cat /run/err
                for i in $(seq 300); do [ "$(machines_agents)" = 0 ] && break; sleep 0.01; done
                echo "=agents-$via"; machines_agents
                machines_snap > /run/after
                echo "=diff-$via"; diff /run/before /run/after
                echo "=inventory-$via"; grep -A3 'hosts.m3' $MACHINES_DIR/bad.toml
            done"#,
            p = path.display()
        ),
    );
    let s = sections(&run.stdout);
    let vias: Vec<String> = s.keys().filter_map(|k| k.strip_prefix("rc-").map(str::to_string)).collect();
    assert_eq!(vias.len(), 2, "{run:?}");
    for via in vias {
        let key = |k: &str| format!("{k}-{via}");
        assert!(s[&key("inventory")].contains(&format!("via = \"{via}\"")), "the bad inventory: {run:?}");
        assert_eq!(s[&key("rc")].trim(), "1", "{via}: {run:?}");
        assert!(!s[&key("out")].contains("not reached"), "{via}: {run:?}");
        assert!(s[&key("err")].contains("m3"), "the error names the machine: {via}: {run:?}");
        assert_eq!(s[&key("agents")].trim(), "0", "{via}: {run:?}");
        assert_eq!(s[&key("diff")], "", "nothing left on local, m2 or m3: {via}: {run:?}");
    }
}
