//! Shaping (tbf), impairment (netem), pingall and throughput against the real kernel, with
//! `tc -j` and `ip -j` as the independent view of what the kernel holds.

use serde_json::Value;

use crate::support::{cpu_heavy, in_private_netns, json, run_nslab, script, Run};

/// Two namespaces joined by a veth pair: a/eth0 10.0.0.1 -- b/eth0 10.0.0.2.
const PAIR: &str = r#"
let a = netns_add("a");
let b = netns_add("b");
veth(a, "eth0", b, "eth0");
a.addr("eth0", "10.0.0.1/24");
b.addr("eth0", "10.0.0.2/24");
a.up("eth0");
b.up("eth0");
"#;

/// `out(name, value)` prints a section the test reads back with `section`.
const OUT: &str = "fn out(name, value) { print(\"=\" + name); print(value); }\n";

fn sandbox(test: &str, body: &str) -> Run {
    let path = script(test, "lab.rhai", &format!("{OUT}{PAIR}{body}"));
    run_nslab(&["run", "--sandbox", path.to_str().unwrap()])
}

/// Sections a script printed as "=name" followed by one line of output.
fn section(run: &Run, name: &str) -> String {
    let marker = format!("={name}\n");
    let start = run.stdout.find(&marker).unwrap_or_else(|| panic!("no section {name}: {run:?}")) + marker.len();
    run.stdout[start..].lines().next().unwrap_or("").to_string()
}

/// The root qdisc in `tc -j qdisc show dev LINK` output.
fn root_qdisc(tc_json: &str) -> Value {
    let all = json(tc_json);
    all.as_array().unwrap().iter().find(|q| q["root"] == true).cloned().unwrap_or_else(|| panic!("no root qdisc: {tc_json}"))
}

/// The message of the error nslab reported, with miette's line wrapping undone.
fn error_message(run: &Run) -> String {
    let mut parts = Vec::new();
    for line in run.stderr.lines().skip_while(|l| !l.trim_start().starts_with('×')) {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix('×') {
            parts.push(rest.trim().to_string());
        } else if let Some(rest) = t.strip_prefix('│').filter(|_| parts.len() < 50) {
            if rest.trim().is_empty() {
                break;
            }
            parts.push(rest.trim().to_string());
        } else {
            break;
        }
    }
    parts.join(" ")
}

fn print_tc(name: &str, dev: &str) -> String {
    format!("print(\"={name}\"); print(exec_in(a, \"tc -j qdisc show dev {dev}\").stdout);\n")
}

#[test]
fn shape_sets_the_same_tbf_as_tc_and_changes_it_in_place() {
    let body = format!(
        r#"
        veth(a, "ref0", "ref1");
        exec_in(a, "tc qdisc replace dev ref0 root tbf rate 10mbit burst 32kb latency 50ms");
        {ref_}
        shape(a, "eth0", #{{rate: "10mbit", burst: "32kb", latency: "50ms"}});
        {first}
        shape(a, "eth0", #{{rate: "20mbit", burst: 32768, latency: 0.05}});
        {second}
        exec_in(a, "tc qdisc replace dev ref0 root tbf rate 20mbit burst 25000 latency 50ms");
        {ref_default}
        shape(a, "eth0", #{{rate: 20000000}});
        {defaults}
        "#,
        ref_ = print_tc("ref", "ref0"),
        first = print_tc("first", "eth0"),
        second = print_tc("second", "eth0"),
        ref_default = print_tc("refdefault", "ref0"),
        defaults = print_tc("defaults", "eth0"),
    );
    let run = sandbox("shape", &body);
    assert_eq!(run.code, 0, "{run:?}");
    let reference = root_qdisc(&section(&run, "ref"));
    let first = root_qdisc(&section(&run, "first"));
    assert_eq!(first["kind"], "tbf");
    assert_eq!(first["options"], reference["options"], "the kernel holds what `tc` itself would set");
    assert_eq!(first["options"]["rate"], 1_250_000);
    let second = root_qdisc(&section(&run, "second"));
    assert_eq!(second["kind"], "tbf");
    assert_eq!(second["options"]["rate"], 2_500_000, "calling shape again changes the rate");
    assert_ne!(second["handle"], first["handle"], "a fresh qdisc replaces the old one");
    let all = json(&section(&run, "second"));
    assert_eq!(all.as_array().unwrap().len(), 1, "one root qdisc, not two: {all}");
    // Defaults: burst = 10 ms of the rate (25000 bytes at 20 Mbit/s), latency 50 ms.
    let defaults = root_qdisc(&section(&run, "defaults"));
    assert_eq!(defaults["options"], root_qdisc(&section(&run, "refdefault"))["options"]);
}

#[test]
fn unshape_restores_the_default_and_is_quiet_without_a_qdisc() {
    let body = format!(
        r#"
        unshape(a, "eth0");
        shape(a, "eth0", #{{rate: "1mbit"}});
        unshape(a, "eth0");
        {after}
        unshape(a, "eth0");
        a.unshape("eth0");
        "#,
        after = print_tc("after", "eth0"),
    );
    let run = sandbox("unshape", &body);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(root_qdisc(&section(&run, "after"))["kind"], "noqueue", "veth's default qdisc is back");
}

#[test]
fn throughput_over_a_shaped_link_is_within_15_percent_of_the_rate() {
    let _serial = cpu_heavy();
    let body = r#"
        out("unshaped", throughput(a, b, #{seconds: 1}));
        shape(a, "eth0", #{rate: "20mbit"});
        out("20mbit", throughput(a, b, #{seconds: 2}));
        shape(a, "eth0", #{rate: "100mbit"});
        out("100mbit", throughput(a, b, #{seconds: 2}));
        // Only egress is shaped: the way back runs free.
        out("back", throughput(b, a, #{seconds: 0.5}));
        out("qdisc", exec_in(a, "tc -j qdisc show dev eth0").stdout);
    "#;
    let run = sandbox("throughput", body);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(root_qdisc(&section(&run, "qdisc"))["options"]["rate"], 12_500_000, "tc sees the 100 Mbit/s bucket");
    let measured = |name: &str| section(&run, name).parse::<f64>().unwrap();
    for (name, rate) in [("20mbit", 20e6), ("100mbit", 100e6)] {
        let bps = measured(name);
        eprintln!("throughput at {name}: {:.2} Mbit/s ({:.1}% of the rate)", bps / 1e6, 100.0 * bps / rate);
        assert!((bps - rate).abs() <= 0.15 * rate, "{name}: measured {bps} bit/s");
    }
    let (free, back) = (measured("unshaped"), measured("back"));
    eprintln!("unshaped: {:.0} Mbit/s, reverse of the 100 Mbit/s link: {:.0} Mbit/s", free / 1e6, back / 1e6);
    assert!(free > 200e6 && back > 200e6, "unshaped directions are not limited: {free} {back}");
}

#[test]
fn throughput_options_ipv6_and_errors() {
    let _serial = cpu_heavy();
    let body = r#"
        // No DAD, so the addresses are usable at once.
        for ns in [a, b] { exec_in(ns, "sysctl -qw net.ipv6.conf.eth0.accept_dad=0"); }
        a.addr("eth0", "fd00::1/64");
        b.addr("eth0", "fd00::2/64");
        let v6 = throughput(a, b, #{seconds: 0.2, dst: "fd00::2", port: 5201});
        out("v6", v6);
        out("type", type_of(v6));
        netns_add("empty");
        throughput(a, "empty", #{seconds: 0.1});
    "#;
    let run = sandbox("throughput-errors", body);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(section(&run, "v6").parse::<f64>().unwrap() > 1e6, "{run:?}");
    assert_eq!(section(&run, "type"), "f64");
    assert_eq!(
        error_message(&run),
        "cannot measure throughput from namespace \"a\" to namespace \"empty\": namespace \"empty\" has no global \
         address to connect to (add one, or give one with #{dst: \"...\"})"
    );

    let run = sandbox("throughput-unreachable", r#"throughput(a, b, #{seconds: 0.1, dst: "10.9.9.9", port: 5201});"#);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        error_message(&run),
        "cannot measure throughput from namespace \"a\" to namespace \"b\": namespace \"a\" has no route to 10.9.9.9 \
         (Network is unreachable)"
    );
    let run = sandbox("throughput-option", r#"throughput(a, b, #{secs: 1});"#);
    assert_eq!(error_message(&run), "throughput has no option \"secs\"; the options are: seconds, port, dst, udp, rate");
    let run = sandbox("throughput-seconds", r#"throughput(a, b, #{seconds: 0});"#);
    assert_eq!(error_message(&run), "the seconds option of throughput must be a number of seconds from 0.01 to 3600, not 0");
}

#[test]
fn bad_shaping_input_is_refused_with_exact_messages() {
    let cases = [
        (
            r#"shape(a, "eth0", #{rate: "fast"});"#,
            "invalid rate \"fast\": expected a number and a unit like \"10mbit\", \"500kbit\" or \"1gbit\" (bit, kbit, \
             mbit, gbit, tbit; bps, kbps, mbps, gbps for bytes per second), or a number of bits per second",
        ),
        (r#"impair(a, "eth0", #{loss: "200%"});"#, "invalid loss \"200%\": a percentage must be from 0% to 100%"),
        (
            r#"shape(a, "eth0", #{rate: "1mbit", speed: 3});"#,
            "shape has no option \"speed\"; the options are: rate, burst, latency, delay, jitter, loss, replace",
        ),
        (
            r#"impair(a, "eth0", #{drop: "1%"});"#,
            "impair has no option \"drop\"; the options are: delay, jitter, loss, duplicate, corrupt, reorder, replace",
        ),
        (
            r#"shape(a, "eth0", #{burst: "32kb"});"#,
            "shape needs a rate or a delay, jitter or loss, like #{rate: \"10mbit\", delay: \"10ms\"}",
        ),
        (
            r#"shape(a, "eth0", #{rate: "1mbit", burst: 1000});"#,
            "invalid burst \"1000\": it is smaller than one full packet on this link (1514 bytes: mtu 1500 plus the link \
             header), so full-size packets could never pass",
        ),
        (
            r#"shape(a, "eth0", #{rate: "1mbit", latency: "50"});"#,
            "invalid latency \"50\": expected a number and a unit like \"50ms\" (s, ms, us, ns), or a number of seconds",
        ),
        (
            r#"shape(a, "eth0", #{rate: [1]});"#,
            "the rate option of shape must be a string like \"10mbit\" or a number, not an array",
        ),
        (
            r#"impair(a, "eth0", #{jitter: "5ms"});"#,
            "invalid jitter \"5ms\": jitter needs a delay (netem varies or reorders delayed packets): add delay: \"10ms\"",
        ),
        (r#"shape(a, "nope", #{rate: "1mbit"});"#, "link \"nope\" does not exist in namespace \"a\""),
        (r#"unshape(a, "nope");"#, "link \"nope\" does not exist in namespace \"a\""),
    ];
    for (i, (call, expected)) in cases.iter().enumerate() {
        let run = sandbox(&format!("bad-{i}"), &format!("{call}\nprint(\"not reached\");"));
        assert_eq!(run.code, 1, "{call}: {run:?}");
        assert!(!run.stdout.contains("not reached"));
        assert_eq!(error_message(&run), *expected, "{call}: {run:?}");
    }
}

/// Whether this kernel has sch_netem (this machine's does not): `tc` itself is the probe.
fn kernel_has_netem() -> bool {
    let probe = in_private_netns("ip link add p0 type veth peer name p1 && tc qdisc add dev p0 root netem delay 1ms");
    probe.code == 0
}

#[test]
fn impair_sets_netem_or_names_the_missing_kernel_feature() {
    let body = format!(
        r#"
        impair(a, "eth0", #{{delay: "100ms", jitter: "10ms", loss: "1%", duplicate: "2%", corrupt: "0.5%", reorder: "25%"}});
        {after}
        "#,
        after = print_tc("after", "eth0"),
    );
    let run = sandbox("impair", &body);
    if !kernel_has_netem() {
        eprintln!("skipping the netem state check: this kernel has no sch_netem (checking the error instead)");
        assert_eq!(run.code, 1, "{run:?}");
        assert_eq!(
            error_message(&run),
            "cannot impair link \"eth0\" in namespace \"a\": the running kernel has no netem (sch_netem) support"
        );
        assert!(run.stderr.contains("this kernel was built without that feature"), "the hint: {run:?}");
        return;
    }
    assert_eq!(run.code, 0, "{run:?}");
    let q = root_qdisc(&section(&run, "after"));
    assert_eq!(q["kind"], "netem");
    let o = &q["options"];
    assert_eq!(o["delay"]["delay"], 0.1);
    assert_eq!(o["delay"]["jitter"], 0.01);
    assert_eq!(o["loss-random"]["loss"], 0.01);
    assert_eq!(o["duplicate"]["duplicate"], 0.02);
    assert_eq!(o["reorder"]["reorder"], 0.25);
    assert_eq!(o["corrupt"]["corrupt"], 0.005);
}

#[test]
fn a_failed_impair_leaves_the_shaping_in_place() {
    if kernel_has_netem() {
        eprintln!("skipping: this kernel has netem, so impair does not fail");
        return;
    }
    let body = format!(
        r#"
        shape(a, "eth0", #{{rate: "10mbit"}});
        try {{ impair(a, "eth0", #{{delay: "10ms"}}); }} catch {{ print("=refused"); print("yes"); }}
        {after}
        "#,
        after = print_tc("after", "eth0"),
    );
    let run = sandbox("impair-keeps", &body);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(section(&run, "refused"), "yes");
    assert_eq!(root_qdisc(&section(&run, "after"))["kind"], "tbf");
}

/// a --10.0.1.0/24, fd00:1::/64-- b --10.0.2.0/24, fd00:2::/64-- c.
const CHAIN: &str = r#"
let a = netns_add("a");
let b = netns_add("b");
let c = netns_add("c");
for ns in [a, b, c] { exec_in(ns, "sysctl -qw net.ipv6.conf.default.accept_dad=0"); }
veth(a, "eth0", b, "eth0");
veth(b, "eth1", c, "eth0");
a.addr("eth0", "10.0.1.1/24");
b.addr("eth0", "10.0.1.2/24");
b.addr("eth1", "10.0.2.1/24");
c.addr("eth0", "10.0.2.2/24");
a.addr("eth0", "fd00:1::1/64");
b.addr("eth0", "fd00:1::2/64");
b.addr("eth1", "fd00:2::1/64");
c.addr("eth0", "fd00:2::2/64");
for l in [[a, "eth0"], [b, "eth0"], [b, "eth1"], [c, "eth0"], [a, "lo"], [b, "lo"], [c, "lo"]] { up(l[0], l[1]); }
// The kernel activates a veth's queue asynchronously (linkwatch) after both ends are up, and
// drops what is sent before; IPv6 addresses are tentative for a moment. Wait for both (checked
// with iproute2), so that pingall is tested on a settled network.
for l in [[a, "eth0"], [b, "eth0"], [b, "eth1"], [c, "eth0"]] {
    let settled = false;
    for i in 0..500 {
        let state = exec_in(l[0], `ip -o link show dev ${l[1]}`).stdout;
        let tentative = exec_in(l[0], "ip -6 -o addr show tentative").stdout;
        if state.contains("state UP") && tentative == "" { settled = true; break; }
        sleep(0.01);
    }
    assert(settled, `${l[1]} settles`);
}
"#;

#[test]
fn pingall_shows_who_reaches_whom() {
    let body = r#"
        let r = pingall(#{timeout: 0.5});
        print("=table");
        print(r);
        print("=end");
        out("ok", r.ok);
        out("counts", `${r.sent} ${r.received} ${r.dropped}`);
        out("namespaces", r.namespaces);
        for p in r.pairs { out(`pair ${p.from} ${p.to} ${p.dst}`, `${p.ok} ${p.loss} ${type_of(p.rtt)} ${p.error}`); }
        // Join the subnets: b forwards, a and c route through it.
        exec_in(b, "sysctl -qw net.ipv4.ip_forward=1");
        exec_in(b, "sysctl -qw net.ipv6.conf.all.forwarding=1");
        route(a, "default", "10.0.1.2");
        route(c, "default", "10.0.2.1");
        route(a, "fd00:2::/64", "fd00:1::2");
        route(c, "fd00:1::/64", "fd00:2::1");
        let all = pingall(#{count: 2, timeout: 1});
        out("all", `${all.ok} ${all.sent} ${all.received}`);
        out("summary", all.summary);
        pingall(#{cnt: 1});
    "#;
    let path = script("pingall", "lab.rhai", &format!("{OUT}{CHAIN}{body}"));
    let run = run_nslab(&["run", "--sandbox", path.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:?}");
    // Without routes, a and c only reach b's address on their own link.
    let table_start = run.stdout.find("=table\n").unwrap() + 7;
    let table = &run.stdout[table_start..run.stdout.find("=end").unwrap()];
    let rows: Vec<Vec<&str>> = table.lines().map(|l| l.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect()).collect();
    assert_eq!(rows[0], ["from \\ to", "a", "b", "c"], "{table}");
    // a reaches b's two addresses on their shared link, not the two on b's other link.
    assert_eq!(rows[1], ["a", "-", "2/4 addrs", "X"], "{table}");
    assert_eq!(rows[3], ["c", "X", "2/4 addrs", "-"], "{table}");
    assert_eq!(rows[2][..1], ["b"]);
    assert!(rows[2][1].ends_with(" ms") && rows[2][3].ends_with(" ms"), "b reaches both neighbours: {table}");
    // The summary names the pairs without a reply: a and c cannot reach each other's subnet.
    assert!(rows[4][0].starts_with("*** Results: 50% dropped (8/16 received); no reply: a -> b ("), "{table}");
    assert!(rows[4].join("  ").contains("c -> a (10.0.1.1)"), "{table}");
    assert_eq!(section(&run, "ok"), "false");
    assert_eq!(section(&run, "counts"), "16 8 50.0");
    assert_eq!(section(&run, "namespaces"), r#"["a", "b", "c"]"#, "nslab's own namespace takes no part");
    // Link-local and loopback addresses are not targets; global IPv6 ones are.
    assert!(!run.stdout.contains("=pair a b fe80") && !run.stdout.contains("127.0.0.1"));
    assert_eq!(section(&run, "pair a b 10.0.1.2"), "true 0.0 f64 ");
    assert_eq!(section(&run, "pair a c 10.0.2.2"), "false 100.0 () Network is unreachable");
    assert_eq!(section(&run, "pair b a fd00:1::1"), "true 0.0 f64 ");
    // The kernel agrees: a has no route to c's subnet.
    let oracle = in_private_netns(
        "ip netns add a && ip -n a link set lo up && ip -n a link add eth0 type veth peer name p && \
         ip -n a addr add 10.0.1.1/24 dev eth0 && ip -n a link set eth0 up && ip -n a route get 10.0.2.2",
    );
    assert!(oracle.stderr.contains("Network is unreachable"), "{oracle:?}");
    assert_eq!(section(&run, "all"), "true 32 32", "with forwarding and routes everyone reaches everyone");
    assert_eq!(section(&run, "summary"), "*** Results: 0% dropped (32/32 received)");
    assert_eq!(error_message(&run), "pingall has no option \"cnt\"; the options are: among, count, timeout, elsewhere");
}

#[test]
fn qdiscs_on_links_the_lab_did_not_create_are_in_the_ledger() {
    let path = script(
        "ledger",
        "lab.rhai",
        r#"
        shape("hostveth", #{rate: "5mbit"});
        shape("hostveth", #{rate: "6mbit"});
        "#,
    );
    let run = in_private_netns(&format!(
        r#"ip link add hostveth type veth peer name hostpeer && ip link set hostveth up && ip link set hostpeer up || exit 8
        $NSLAB run {p} || exit 9
        echo "=after-run"; tc -j qdisc show dev hostveth
        $NSLAB run --keep --name kept {p} || exit 10
        echo "=kept"; tc -j qdisc show dev hostveth
        echo "=ls"; $NSLAB ls | tail -n +2
        $NSLAB down kept || exit 11
        echo "=after-down"; tc -j qdisc show dev hostveth
        echo "=links"; ip -j link show"#,
        p = path.display()
    ));
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("torn down: 1 qdisc"), "{run:?}");
    let sec = |name: &str| {
        let start = run.stdout.find(&format!("={name}\n")).unwrap() + name.len() + 2;
        run.stdout[start..].lines().next().unwrap().to_string()
    };
    assert_eq!(root_qdisc(&sec("after-run"))["kind"], "noqueue", "teardown removed the shaping");
    assert_eq!(root_qdisc(&sec("kept"))["options"]["rate"], 750_000, "--keep leaves the 6mbit bucket");
    assert!(
        sec("ls").ends_with(" kept       0s  1 qdisc") || sec("ls").contains(" kept ") && sec("ls").ends_with("  1 qdisc"),
        "{run:?}"
    );
    assert_eq!(root_qdisc(&sec("after-down"))["kind"], "noqueue", "`nslab down` removed it");
    let links = json(&sec("links"));
    let names: Vec<&str> = links.as_array().unwrap().iter().map(|l| l["ifname"].as_str().unwrap()).collect();
    assert!(names.contains(&"hostveth"), "the link itself was not the lab's and stays: {names:?}");
}

#[test]
fn rate_limited_script_passes_in_the_sandbox() {
    let _serial = cpu_heavy();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/rate-limited.rhai");
    let run = run_nslab(&["run", "--sandbox", path]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("*** Results: 0% dropped (2/2 received)"), "{run:?}");
    eprintln!("{}", run.stdout);
}

#[test]
fn ctrl_c_stops_a_throughput_run() {
    let _serial = cpu_heavy();
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let path = script(
        "ctrl-c",
        "lab.rhai",
        &format!("{PAIR}print(\"=started\");\nthroughput(a, b, #{{seconds: 60}});\nprint(\"=after\");\n"),
    );
    let mut child = Command::new(crate::support::nslab())
        .args(["run", "--sandbox", path.to_str().unwrap()])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "=started\n");
    // Let the measurement get going, then press Ctrl-C (only the process this test started).
    std::thread::sleep(Duration::from_millis(300));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    // The run would take a minute; stopping must not wait for it.
    let limit = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > limit {
            child.kill().unwrap();
            panic!("throughput ignored Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (mut rest, mut stderr) = (String::new(), String::new());
    stdout.read_to_string(&mut rest).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(!rest.contains("=after"), "the script stopped at the interrupted call");
    assert!(stderr.contains("interrupted by SIGINT (Ctrl-C)"), "{stderr}");
    assert!(stderr.trim_end().ends_with("torn down: 2 namespaces"), "{stderr}");
}
