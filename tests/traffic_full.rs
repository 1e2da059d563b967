//! Traffic and honest checks against the real kernel (issue 14): ping options and results (TTL,
//! size, source, device, reply TTL, ICMP errors), traceroute, TCP services, UDP throughput,
//! shaping with delay (netem, probed), and `expect_no_reach` that cannot pass vacuously.
//! Addresses are cross-checked with `ip -j`, byte counts with `ip -j -s link`, qdiscs with `tc -j`.

use serde_json::Value;

use crate::support::{cpu_heavy, json, run_nslab, script, Run};

/// h1 -- r1 -- r2 -- h2, routed: 10.1.0.0/24, 10.2.0.0/24, 10.3.0.0/24.
const CHAIN: &str = r#"
fn out(name, value) { print("=" + name); print(value); }
fn verdict(f) { try { f.call(); return "passed"; } catch (e) { return e.message; } }
let h1 = netns_add("h1"); let r1 = netns_add("r1"); let r2 = netns_add("r2"); let h2 = netns_add("h2");
veth(h1, "eth0", r1, "eth0"); veth(r1, "eth1", r2, "eth0"); veth(r2, "eth1", h2, "eth0");
h1.addr("eth0", "10.1.0.2/24"); h1.addr("eth0", "10.1.0.3/24"); r1.addr("eth0", "10.1.0.1/24");
r1.addr("eth1", "10.2.0.1/24"); r2.addr("eth0", "10.2.0.2/24");
r2.addr("eth1", "10.3.0.1/24"); h2.addr("eth0", "10.3.0.2/24");
for n in [h1, r1, r2, h2] { n.up("lo"); for l in links(n) { if l.name != "lo" { n.up(l.name); } } }
forwarding(r1, true); forwarding(r2, true);
route(h1, "default", #{via: "10.1.0.1"}); route(h2, "default", #{via: "10.3.0.1"});
route(r1, "10.3.0.0/24", #{via: "10.2.0.2"}); route(r2, "10.1.0.0/24", #{via: "10.2.0.1"});
"#;

fn run_chain(test: &str, body: &str) -> Run {
    let path = script(test, "lab.rhai", &format!("{CHAIN}{body}"));
    run_nslab(&["run", "--sandbox", path.to_str().unwrap()])
}

/// The line after "=name".
fn section(run: &Run, name: &str) -> String {
    let marker = format!("={name}\n");
    let start = run.stdout.find(&marker).unwrap_or_else(|| panic!("no section {name}: {run:?}")) + marker.len();
    run.stdout[start..].lines().next().unwrap_or("").to_string()
}

/// The first IPv4 address of `ip -j addr show dev X` output.
fn ipv4_of(ip_json: &str) -> String {
    let v = json(ip_json);
    v[0]["addr_info"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["family"] == "inet")
        .map(|a| a["local"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("no IPv4 address in {ip_json}"))
}

#[test]
fn ping_options_and_what_comes_back_across_two_routers() {
    let body = r#"
        let p = h1.ping("10.3.0.2", #{count: 2, interval: 0.1});
        out("ok", p.ok); out("ttl", p.ttl); out("from", p.from); out("error", p.error);
        out("route_src", exec_in(h1, "ip -j route get 10.3.0.2").stdout);
        // The routers' own TTL-expired answers name them.
        let t1 = ping(h1, "10.3.0.2", #{ttl: 1});
        out("t1_ok", t1.ok); out("t1_error", t1.error); out("t1_icmp", t1.icmp_from);
        let t2 = ping(h1, "10.3.0.2", #{ttl: 2});
        out("t2_error", t2.error); out("t2_icmp", t2.icmp_from);
        out("t3_ok", ping(h1, "10.3.0.2", #{ttl: 3}).ok);
        out("r1_addr", exec_in(r1, "ip -j addr show dev eth0").stdout);
        out("r2_addr", exec_in(r2, "ip -j addr show dev eth0").stdout);
        // A router without a route answers "net unreachable"; the last one, "host unreachable".
        let n = ping(h1, "10.9.0.1"); out("net_error", n.error); out("net_icmp", n.icmp_from);
        let h = ping(h1, "10.3.0.9", #{timeout: 5}); out("host_error", h.error);
        // A source address of its own, and a device.
        let f = ping(h1, "10.3.0.2", #{from: "10.1.0.3"}); out("f_ok", f.ok); out("f_from", f.from);
        out("d_ok", ping("10.3.0.2", #{dev: "lo"}).ok);
        out("d2_ok", h1.ping("10.3.0.2", #{dev: "eth0"}).ok);
        // The payload size is what leaves: the receiver's byte counter grows by it.
        let before = exec_in(h2, "ip -j -s link show dev eth0").stdout;
        let s = ping(h1, "10.3.0.2", #{size: 1200});
        let after = exec_in(h2, "ip -j -s link show dev eth0").stdout;
        out("s_ok", s.ok); out("before", before); out("after", after);
        out("big_ok", ping(h1, "10.3.0.2", #{size: 3000}).ok);
        out("any_from", ping(h1, "10.3.0.2", #{from: "0.0.0.0"}).from);
    "#;
    let run = run_chain("ping_options", body);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(section(&run, "ok"), "true");
    // h2 answers with TTL 64; two routers take one each.
    assert_eq!(section(&run, "ttl"), "62");
    assert_eq!(section(&run, "from"), json(&section(&run, "route_src"))[0]["prefsrc"].as_str().unwrap());
    assert_eq!(section(&run, "error"), "");
    let r1 = ipv4_of(&section(&run, "r1_addr"));
    let r2 = ipv4_of(&section(&run, "r2_addr"));
    assert_eq!(section(&run, "t1_ok"), "false");
    assert_eq!(section(&run, "t1_error"), format!("Time exceeded from {r1}"));
    assert_eq!(section(&run, "t1_icmp"), r1);
    assert_eq!(section(&run, "t2_error"), format!("Time exceeded from {r2}"));
    assert_eq!(section(&run, "t2_icmp"), r2);
    assert_eq!(section(&run, "t3_ok"), "true");
    assert_eq!(section(&run, "net_error"), format!("Destination unreachable (net) from {r1}"));
    assert_eq!(section(&run, "net_icmp"), r1);
    assert_eq!(section(&run, "host_error"), format!("Destination unreachable (host) from {r2}"));
    assert_eq!(section(&run, "f_ok"), "true");
    assert_eq!(section(&run, "f_from"), "10.1.0.3");
    assert_eq!(section(&run, "d_ok"), "false", "nslab's own namespace has no route through lo");
    assert_eq!(section(&run, "d2_ok"), "true");
    assert_eq!(section(&run, "s_ok"), "true");
    let bytes = |s: &str| json(s)[0]["stats64"]["rx"]["bytes"].as_u64().unwrap();
    let grown = bytes(&section(&run, "after")) - bytes(&section(&run, "before"));
    // One echo request: 1200 + 8 (ICMP) + 20 (IP) + 14 (Ethernet) bytes.
    assert_eq!(grown, 1242, "the request carried 1200 bytes of payload");
    assert_eq!(section(&run, "big_ok"), "true", "a payload above the MTU is fragmented, like ping -s 3000");
    assert_eq!(section(&run, "any_from"), "10.1.0.2", "bound to the wildcard, the kernel still chooses");
}

#[test]
fn traceroute_lists_each_router_and_stops_at_the_destination() {
    let body = r#"
        out("icmp", traceroute(h1, "10.3.0.2"));
        out("udp", traceroute(h1, "10.3.0.2", #{proto: "udp"}));
        out("one", traceroute(h1, "10.3.0.2", #{max_hops: 1}).len());
        out("r1_addr", exec_in(r1, "ip -j addr show dev eth0").stdout);
        out("r2_addr", exec_in(r2, "ip -j addr show dev eth0").stdout);
        // r2 drops 10.3.0.0/24 silently: nothing answers past r1.
        exec_in(r2, "ip route add blackhole 10.4.0.0/24");
        route(r1, "10.4.0.0/24", #{via: "10.2.0.2"});
        let silent = traceroute(h1, "10.4.0.1", #{max_hops: 3, timeout: 0.3});
        out("silent", silent.map(|h| `${h.ttl}:${h.addr}`));
        out("rtt_type", type_of(traceroute(h1, "10.3.0.2")[0].rtt));
    "#;
    let run = run_chain("traceroute", body);
    assert_eq!(run.code, 0, "{run:?}");
    let r1 = ipv4_of(&section(&run, "r1_addr"));
    let r2 = ipv4_of(&section(&run, "r2_addr"));
    for proto in ["icmp", "udp"] {
        let hops = section(&run, proto);
        let expected = [(1, r1.as_str()), (2, r2.as_str()), (3, "10.3.0.2")];
        for (ttl, addr) in expected {
            assert!(hops.contains(&format!(r#""addr": "{addr}""#)), "{proto} hop {ttl} is {addr}: {hops}");
        }
        assert_eq!(hops.matches("\"ttl\":").count(), 3, "{proto}: three hops, ending at the destination: {hops}");
    }
    assert_eq!(section(&run, "one"), "1");
    assert_eq!(section(&run, "silent"), format!(r#"["1:{r1}", "2:", "3:"]"#));
    assert_eq!(section(&run, "rtt_type"), "f64", "rtt is seconds as a float");
}

#[test]
fn tcp_listen_connect_and_wait() {
    let body = r#"
        let srv = tcp_listen(h2, 8080);
        out("port", srv.port);
        out("ss", exec_in(h2, "ss -Hltn sport = :8080").stdout.len() > 0);
        let w = wait_tcp(h1, "10.3.0.2", 8080, 3);
        out("w_ok", w.ok); out("w_rtt", type_of(w.rtt));
        let c = tcp_connect(h1, "10.3.0.2", 8080);
        out("c_ok", c.ok); out("c_error", c.error);
        let refused = tcp_connect(h1, "10.3.0.2", 8081);
        out("refused", refused.error); out("refused_rtt", refused.rtt);
        // 10.3.0.9 does not exist: r2 looks for it for 3 s; half a second runs out first.
        let silent = tcp_connect(h1, "10.3.0.9", 8080, #{timeout: 0.5});
        out("silent", silent.error);
        let unreachable = tcp_connect(h1, "10.9.0.1", 80, #{timeout: 2});
        out("unreachable", unreachable.error);
        out("accepted", srv.accepted);
        // Bound to one address: the other is refused.
        let one = h2.tcp_listen(9090, #{addr: "10.3.0.2"});
        out("one_addr", one.addr);
        out("one_other", tcp_connect(h2, "127.0.0.1", 9090).error);
        let any = tcp_listen(h2, 0);
        out("any_port", any.port > 0);
        srv.close();
        out("open", srv.open);
        out("ss_after", exec_in(h2, "ss -Hltn sport = :8080").stdout.len());
        try { wait_tcp(h1, "10.3.0.2", 8080, 0.3); out("wait", "passed"); } catch (e) { out("wait", e.message); }
        // A sub-test closes the listeners it started, not the others.
        let kept = tcp_listen(h2, 6060);
        let inner = ();
        test("listens", || { inner = tcp_listen(h2, 6061); assert(tcp_connect(h1, "10.3.0.2", 6061).ok); });
        out("after_test", tcp_connect(h1, "10.3.0.2", 6061).error);
        out("kept", tcp_connect(h1, "10.3.0.2", 6060).ok);
        // A listener goes with its namespace: the namespace is really gone.
        let doomed = tcp_listen(h2, 7070);
        netns_del(h2);
        out("doomed_open", doomed.open);
    "#;
    let run = run_chain("tcp", body);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(section(&run, "port"), "8080");
    assert_eq!(section(&run, "ss"), "true", "ss sees the listening socket");
    assert_eq!(section(&run, "w_ok"), "true");
    assert_eq!(section(&run, "w_rtt"), "f64");
    assert_eq!((section(&run, "c_ok").as_str(), section(&run, "c_error").as_str()), ("true", ""));
    assert_eq!(section(&run, "refused"), "Connection refused");
    assert_eq!(section(&run, "refused_rtt"), "");
    assert_eq!(section(&run, "silent"), "timed out after 0.5 s");
    assert_eq!(section(&run, "unreachable"), "Network is unreachable", "r1's ICMP net unreachable ends the attempt");
    assert_eq!(section(&run, "accepted"), "2");
    assert_eq!(section(&run, "one_addr"), "10.3.0.2");
    assert_eq!(section(&run, "one_other"), "Connection refused");
    assert_eq!(section(&run, "any_port"), "true");
    assert_eq!(section(&run, "open"), "false");
    assert_eq!(section(&run, "ss_after"), "0", "closed: nothing listens any more");
    assert!(section(&run, "wait").contains("nothing accepted within 0.3 s (last attempt: Connection refused)"), "{run:?}");
    assert_eq!(section(&run, "doomed_open"), "false");
    assert_eq!(section(&run, "after_test"), "Connection refused", "the sub-test's listener closed with it");
    assert_eq!(section(&run, "kept"), "true");
}

#[test]
fn udp_throughput_under_a_tbf_rate() {
    let _serial = cpu_heavy();
    let body = r#"
        let free = throughput(h1, h2, #{udp: true, rate: "4mbit", seconds: 1});
        out("free_bps", free.bps); out("free_loss", free.loss); out("free_jitter", free.jitter);
        shape(r2, "eth1", #{rate: "2mbit"});
        let capped = throughput(h1, h2, #{udp: true, rate: "4mbit", seconds: 2});
        out("cap_bps", capped.bps); out("cap_loss", capped.loss); out("cap_jitter", capped.jitter);
        out("tc", exec_in(r2, "tc -j qdisc show dev eth1").stdout);
    "#;
    let run = run_chain("udp", body);
    assert_eq!(run.code, 0, "{run:?}");
    let f = |name: &str| section(&run, name).parse::<f64>().unwrap_or_else(|_| panic!("{name}: {run:?}"));
    eprintln!(
        "UDP at 4 Mbit/s: free {:.2} Mbit/s loss {:.1}% jitter {:.3} ms; under tbf 2 Mbit/s {:.2} Mbit/s loss {:.1}% jitter {:.3} ms",
        f("free_bps") / 1e6,
        f("free_loss"),
        f("free_jitter") * 1e3,
        f("cap_bps") / 1e6,
        f("cap_loss"),
        f("cap_jitter") * 1e3
    );
    let rate = |v: f64, lo: f64, hi: f64, what: &str| assert!(v >= lo && v <= hi, "{what}: {v} not in {lo}..{hi}");
    rate(f("free_bps"), 3.6e6, 4.4e6, "unshaped: the sending rate arrives");
    rate(f("free_loss"), 0.0, 1.0, "unshaped: nothing lost");
    // The bucket passes 2 Mbit/s of frames (payload a little less), plus its first burst.
    rate(f("cap_bps"), 1.6e6, 2.4e6, "tbf 2 Mbit/s");
    rate(f("cap_loss"), 35.0, 65.0, "half of 4 Mbit/s is dropped");
    rate(f("cap_jitter"), 0.0, 0.05, "jitter in seconds");
    let tc: Value = json(&section(&run, "tc"));
    assert_eq!(tc[0]["kind"], "tbf");
}

#[test]
fn shape_with_delay_needs_netem_and_says_so() {
    let body = r#"
        let e = "";
        try { shape(r1, "eth1", #{rate: "10mbit", delay: "10ms"}); } catch (err) { e = err.message; }
        out("error", e);
        out("tc", exec_in(r1, "tc -j qdisc show dev eth1").stdout);
    "#;
    let run = run_chain("netem", body);
    assert_eq!(run.code, 0, "{run:?}");
    let error = section(&run, "error");
    let tc = json(&section(&run, "tc"));
    if error.is_empty() {
        // A kernel with netem: Mininet's TCLink(bw, delay), netem at the root with tbf under it.
        let kinds: Vec<&str> = tc.as_array().unwrap().iter().map(|q| q["kind"].as_str().unwrap()).collect();
        assert!(kinds.contains(&"netem") && kinds.contains(&"tbf"), "{tc}");
        return;
    }
    eprintln!("skipping the netem qdisc check: this kernel has no sch_netem (checking the error instead)");
    assert_eq!(error, r#"cannot shape link "eth1" in namespace "r1": the running kernel has no netem (sch_netem) support"#);
    assert_eq!(tc[0]["kind"], "noqueue", "the failed probe left the link as it was: {tc}");
}

#[test]
fn expect_no_reach_never_passes_without_a_probe() {
    let body = r#"
        let bare = netns_add("bare");
        out("no_address", verdict(|| expect_no_reach(h1, bare)));
        out("no_address_matrix", verdict(|| expect_matrix(#{h1: [], bare: []})));
        // A broadcast address: the kernel refuses to send (EACCES, no SO_BROADCAST), which
        // says nothing about reachability.
        out("broadcast_ping", ping(h1, "10.1.0.255").error);
        out("broadcast", verdict(|| expect_no_reach(h1, "10.1.0.255")));
        // A namespace with nothing but a down lo has no route: unreachable, rightly.
        out("dev_bound", verdict(|| expect_no_reach(bare, "10.3.0.2")));
        // It still fails when a reply comes.
        out("reached", verdict(|| expect_no_reach(h1, "10.3.0.2")));
        // Right passes: no route, an ICMP unreachable, silence, a blackhole route.
        out("no_route", verdict(|| expect_no_reach(h2, "10.9.0.1")));
        exec_in(h2, "ip route del default");
        out("no_route_errno", ping(h2, "10.1.0.2").error);
        out("no_route2", verdict(|| expect_no_reach(h2, "10.1.0.2")));
        out("icmp", verdict(|| expect_no_reach(h1, "10.9.0.1")));
        exec_in(r1, "ip route add prohibit 10.5.0.0/24");
        out("prohibited", ping(h1, "10.5.0.1").error);
        out("prohibited_check", verdict(|| expect_no_reach(h1, "10.5.0.1")));
        out("silent", verdict(|| expect_no_reach(h1, "10.3.0.9")));
        exec_in(h1, "ip route add blackhole 10.7.0.0/24");
        out("blackhole_ping", ping(h1, "10.7.0.1").error);
        out("blackhole", verdict(|| expect_no_reach(h1, "10.7.0.1")));
        out("reach_bare", verdict(|| expect_reach(h1, bare)));
    "#;
    let run = run_chain("honest", body);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        section(&run, "no_address"),
        r#"cannot check that namespace "h1" reaches nothing: the target has no address to probe, so no probe would be sent"#
    );
    assert_eq!(
        section(&run, "no_address_matrix"),
        r#"cannot check that "h1" does not reach "bare": "bare" has no address to probe"#
    );
    assert_eq!(section(&run, "broadcast_ping"), "Permission denied");
    assert!(section(&run, "broadcast").starts_with(
        r#"cannot check that namespace "h1" does not reach 10.1.0.255: the probe could not be sent (Permission denied)"#
    ));
    assert_eq!(section(&run, "dev_bound"), "passed");
    assert_eq!(section(&run, "no_route"), "passed");
    assert_eq!(section(&run, "no_route_errno"), "Network is unreachable");
    assert_eq!(section(&run, "no_route2"), "passed");
    assert_eq!(section(&run, "icmp"), "passed");
    assert_eq!(section(&run, "prohibited"), "Destination unreachable (administratively prohibited) from 10.1.0.1");
    assert_eq!(section(&run, "prohibited_check"), "passed");
    assert_eq!(section(&run, "silent"), "passed");
    assert_eq!(section(&run, "blackhole_ping"), "Invalid argument");
    assert_eq!(section(&run, "blackhole"), "passed", "EINVAL from a blackhole route: the route lookup says so");
    assert!(section(&run, "reached").contains("reaches 10.3.0.2, but must not"), "{run:?}");
    assert!(section(&run, "reach_bare").contains("it has no global address to ping"), "{run:?}");
}

/// Without CAP_NET_RAW nslab pings through a "ping socket" (SOCK_DGRAM), allowed by the
/// namespace's net.ipv4.ping_group_range; ICMP errors then come through its error queue
/// (IP_RECVERR), and the reply TTL through IP_RECVTTL.
#[test]
fn ping_sockets_without_cap_net_raw_report_the_same() {
    if std::process::Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipping: no setpriv to drop CAP_NET_RAW");
        return;
    }
    let body = r#"
        let refused = ""; try { h1.ping("10.3.0.2"); } catch (e) { refused = e.message; }
        out("refused", refused);
        sysctl(h1, "net.ipv4.ping_group_range", "0 0");
        let p = h1.ping("10.3.0.2", #{count: 2, interval: 0.1});
        out("ok", p.ok); out("ttl", p.ttl); out("from", p.from);
        let t = h1.ping("10.3.0.2", #{ttl: 1}); out("t_error", t.error); out("t_icmp", t.icmp_from);
        out("net", h1.ping("10.9.0.2").error);
        out("hops", traceroute(h1, "10.3.0.2").map(|h| h.addr));
    "#;
    let path = script("dgram", "lab.rhai", &format!("{CHAIN}{body}"));
    let run = crate::support::in_private_netns(&format!(
        "setpriv --bounding-set=-net_raw --inh-caps=-net_raw \"$NSLAB\" run {}",
        path.display()
    ));
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        section(&run, "refused"),
        r#"cannot ping 10.3.0.2 from namespace "h1": neither a raw ICMP socket (needs CAP_NET_RAW) nor a ping socket (needs the group id in net.ipv4.ping_group_range of namespace "h1") is allowed: run as root, or set that sysctl"#
    );
    assert_eq!(section(&run, "ok"), "true");
    assert_eq!(section(&run, "ttl"), "62");
    assert_eq!(section(&run, "from"), "10.1.0.2");
    assert_eq!(section(&run, "t_error"), "Time exceeded from 10.1.0.1");
    assert_eq!(section(&run, "t_icmp"), "10.1.0.1");
    assert_eq!(section(&run, "net"), "Destination unreachable (net) from 10.1.0.1");
    assert_eq!(section(&run, "hops"), r#"["10.1.0.1", "10.2.0.2", "10.3.0.2"]"#);
}

/// The same over IPv6: hop limit of the reply, ICMPv6 time exceeded and no-route errors,
/// traceroute both ways, TCP and UDP.
#[test]
fn ipv6_ping_traceroute_tcp_and_udp() {
    let script_text = r#"
        fn out(name, value) { print("=" + name); print(value); }
        let h1 = netns_add("h1"); let r1 = netns_add("r1"); let h2 = netns_add("h2");
        for n in [h1, r1, h2] { sysctl(n, "net.ipv6.conf.default.accept_dad", 0); }
        veth(h1, "eth0", r1, "eth0"); veth(r1, "eth1", h2, "eth0");
        h1.addr("eth0", "fd01::2/64"); r1.addr("eth0", "fd01::1/64"); r1.addr("eth1", "fd02::1/64"); h2.addr("eth0", "fd02::2/64");
        for n in [h1, r1, h2] { n.up("lo"); for l in links(n) { if l.name != "lo" { n.up(l.name); } } }
        forwarding(r1, true);
        route(h1, "default", #{via: "fd01::1"}); route(h2, "default", #{via: "fd02::1"});
        let p = h1.ping("fd02::2", #{count: 2, interval: 0.1, size: 2000, dev: "eth0"});
        out("ok", p.ok); out("ttl", p.ttl); out("from", p.from);
        out("t1", h1.ping("fd02::2", #{ttl: 1}).error);
        out("noroute", h1.ping("fd09::2").error);
        out("icmp", traceroute(h1, "fd02::2").map(|h| h.addr));
        out("udp", traceroute(h1, "fd02::2", #{proto: "udp"}).map(|h| h.addr));
        let s = tcp_listen(h2, 80);
        out("tcp", tcp_connect(h1, "fd02::2", 80).ok);
        out("udp_loss", throughput(h1, h2, #{udp: true, rate: "2mbit", seconds: 0.5, dst: "fd02::2"}).loss);
    "#;
    let path = script("ipv6", "lab.rhai", script_text);
    let run = run_nslab(&["run", "--sandbox", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(section(&run, "ok"), "true");
    assert_eq!(section(&run, "ttl"), "63", "one router: hop limit 64 - 1");
    assert_eq!(section(&run, "from"), "fd01::2");
    assert_eq!(section(&run, "t1"), "Time exceeded from fd01::1");
    assert_eq!(section(&run, "noroute"), "Destination unreachable (no route) from fd01::1");
    assert_eq!(section(&run, "icmp"), r#"["fd01::1", "fd02::2"]"#);
    assert_eq!(section(&run, "udp"), r#"["fd01::1", "fd02::2"]"#);
    assert_eq!(section(&run, "tcp"), "true");
    assert_eq!(section(&run, "udp_loss"), "0.0");
}
