//! `throughput` between namespaces on two machines (issue 16), on three simulated machines
//! (tests/support/machines.rs): the receiving half runs where the receiving namespace lives,
//! the sending half where the sending one lives. Checked against a shaper's rate, the kernel's
//! sockets (/proc/net/tcp in the namespaces, read on their machines) and a lab that leaves
//! nothing behind.

use crate::support::machines::{self, DEFAULT};
use crate::support::{run_nslab, script, sections};

/// a on local, b on m2, c on m3; a-b and b-c are links across machines (VXLAN), addressed.
const LAB: &str = r#"
    let a = netns_add("a");
    let b = netns_add("b", #{on: "m2"});
    let c = netns_add("c", #{on: "m3"});
    let e = netns_add("empty", #{on: "m3"});
    veth(a, "ab", b, "ba");
    veth(b, "bc", c, "cb");
    addr(a, "ab", "10.7.1.1/24");
    addr(b, "ba", "10.7.1.2/24");
    addr(b, "bc", "10.7.2.2/24");
    addr(c, "cb", "10.7.2.3/24");
    addr(b, "ba", "fd07::2/64");
    addr(a, "ab", "fd07::1/64");
    for l in [[a, "ab"], [b, "ba"], [b, "bc"], [c, "cb"]] { up(l[0], l[1]); }
    // Listening sockets (state 0A) in a namespace, read on its machine.
    fn listening(ns) { proc_net(ns, "tcp").split("\n").filter(|l| l.contains(" 0A ")).len()
                     + proc_net(ns, "tcp6").split("\n").filter(|l| l.contains(" 0A ")).len() }
    fn error_of(f) { try { f.call(); } catch (e) { return e.message; } "no error" }
"#;

#[test]
fn throughput_between_machines_is_measured_where_each_end_lives() {
    let body = format!(
        r#"{LAB}
        // local -> m2, both ways, and m2 -> m3 (neither end local).
        let ab = throughput(a, b, #{{seconds: 0.5}});
        let ba = throughput(b, a, #{{seconds: 0.5}});
        let bc = throughput(b, c, #{{seconds: 0.5}});
        print(`ab ${{ab}} ba ${{ba}} bc ${{bc}}`);
        assert(type_of(ab) == "f64" && ab > 1e6 && ba > 1e6 && bc > 1e6, "bits per second, as on one machine");
        // A shaped link across machines: the measurement is the shaper's rate.
        shape(a, "ab", #{{rate: "20mbit"}});
        let shaped = throughput(a, b, #{{seconds: 2}});
        print(`shaped ${{shaped}}`);
        assert(shaped > 17e6 && shaped < 23e6, `20mbit measured as ${{shaped}}`);
        unshape(a, "ab");
        // IPv6, a given port.
        let v6 = throughput(a, b, #{{seconds: 0.3, dst: "fd07::2", port: 5301}});
        assert(v6 > 1e6, `IPv6: ${{v6}}`);
        // UDP: the map of throughput(.., #{{udp: true}}).
        let u = throughput(c, b, #{{udp: true, rate: "10mbit", seconds: 1, dst: "10.7.2.2"}});
        print(`udp ${{u}}`);
        assert(u.sent > 800 && u.received == u.sent && u.loss == 0.0, `udp: ${{u}}`);
        assert(u.bps > 9e6 && u.bps < 11e6 && u.jitter >= 0.0, `udp: ${{u}}`);
        // No receiver is left listening.
        assert(listening(b) == 0 && listening(c) == 0, "the receivers are gone");
        // Errors name the machine, and leave no receiver behind.
        print("E1 " + error_of(|| throughput(a, e, #{{seconds: 0.1}})));
        print("E2 " + error_of(|| throughput(a, b, #{{seconds: 0.1, dst: "10.9.9.9"}})));
        let busy = tcp_listen(b, 5202);
        print("E3 " + error_of(|| throughput(a, b, #{{seconds: 0.1, port: 5202}})));
        busy.close();
        print("E4 " + error_of(|| throughput(a, b, #{{rate: "1mbit"}})));
        print("E5 " + error_of(|| throughput(a, b, #{{port: 0}})));
        assert(listening(b) == 0, "no receiver left after the errors");
        // A receiver nobody asks the result of ends with the lab.
        let r = throughput_receive(c, #{{seconds: 1}});
        assert(listening(c) == 1, "the receiver listens in c on m3");
        print(`left ${{r.port}}`);
        print("done");
        "#
    );
    let path = script("tput-across", "lab.rhai", &body);
    let run = machines::run(
        DEFAULT,
        &format!(
            r#"machines_snap > /run/before
            on local $NSLAB run --hosts $HOSTS {p} > /run/out 2> /run/err; rc=$?
            for i in $(seq 300); do [ "$(machines_agents)" = 0 ] && break; sleep 0.01; done
            echo "=rc"; echo $rc
            echo "=out"; cat /run/out
            echo "=err"; cat /run/err
            machines_snap > /run/after
            echo "=diff"; diff /run/before /run/after
            echo "=agents"; machines_agents"#,
            p = path.display()
        ),
    );
    let s = sections(&run.stdout);
    assert_eq!(s["rc"].trim(), "0", "{run:?}");
    assert!(s["out"].ends_with("done\n"), "{run:?}");
    let line = |tag: &str| s["out"].lines().find(|l| l.starts_with(tag)).unwrap_or_default().to_string();
    assert_eq!(
        line("E1 "),
        "E1 on m3: cannot receive a throughput test in namespace \"empty\": namespace \"empty\" has no global address to \
         connect to (add one, or give one with #{dst: \"...\"})",
        "{run:?}"
    );
    // The receiver's port is a free one the kernel chose.
    let e2 = line("E2 ");
    assert!(e2.starts_with("E2 on local: cannot send a throughput test from namespace \"a\" to 10.9.9.9 port "), "{run:?}");
    assert!(e2.ends_with(": namespace \"a\" has no route to 10.9.9.9 (Network is unreachable)"), "{run:?}");
    assert_eq!(
        line("E3 "),
        "E3 on m2: cannot receive a throughput test in namespace \"b\": port 5202 is already in use in namespace \"b\"",
        "{run:?}"
    );
    assert_eq!(
        line("E4 "),
        "E4 the rate option of throughput paces UDP: add udp: true (TCP takes what the path gives)",
        "{run:?}"
    );
    assert_eq!(line("E5 "), "E5 the port option of throughput must be from 1 to 65535, not 0", "{run:?}");
    assert_eq!(s["diff"], "", "every machine is as before: {run:?}");
    assert_eq!(s["agents"].trim(), "0", "no agent left: {run:?}");
}

/// The halves on one machine, as an agent runs them: a receiver listening in its namespace until
/// its result is taken, a sender whose bytes it counts, UDP's counts, and a receiver whose
/// namespace is deleted going with it (its socket would keep the namespace alive).
#[test]
fn the_halves_of_throughput_on_one_machine() {
    let body = r#"
        let a = netns_add("a");
        let b = netns_add("b");
        veth(a, "x", b, "y", #{up: true});
        addr(a, "x", "10.8.0.1/24");
        addr(b, "y", "10.8.0.2/24");
        fn listening(ns) { proc_net(ns, "tcp").split("\n").filter(|l| l.contains(" 0A ")).len() }
        let r = throughput_receive(b, #{seconds: 0.5, port: 5311});
        assert(r.port == 5311 && r.dst == "10.8.0.2", `${r}`);
        assert(listening(b) == 1, "listening in b");
        let s = throughput_send(a, r.dst, r.port, #{seconds: 0.5});
        let got = throughput_result(r.id);
        print(`sent ${s} got ${got}`);
        assert(listening(b) == 0, "the receiver ended with its result");
        // What arrived within the window, never more than was sent (the FIN counts one byte).
        assert(got.bytes > 0 && got.bytes <= s.bytes + 1, `${s} ${got}`);
        assert(got.seconds > 0.45 && got.seconds <= 0.5, `${got}`);
        assert(got.bps == got.bytes * 8.0 / got.seconds, `${got}`);
        let u = throughput_receive(b, #{udp: true});
        let us = throughput_send(a, u.dst, u.port, #{udp: true, rate: "2mbit", seconds: 0.5});
        let ug = throughput_result(u.id);
        print(`udp ${us} ${ug}`);
        assert(ug.received == us.sent && ug.bytes == us.sent * 1470 && us.sent > 70, `${us} ${ug}`);
        // A sub-test's receiver ends with the sub-test.
        test("a receiver in a sub-test", || { throughput_receive(a); assert(listening(a) == 1, "listening in a"); });
        assert(listening(a) == 0, "the sub-test's receiver ended with it");
        let left = throughput_receive(b);
        assert(listening(b) == 1, "a receiver again");
        netns_del(b);
        try { throughput_result(left.id); throw "no error"; } catch (e) { print(`gone: ${e.message}`); }
        print("done");
    "#;
    let path = script("tput-halves", "lab.rhai", body);
    let run = run_nslab(&["run", "--sandbox", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.ends_with("done\n"), "{run:?}");
    assert!(
        run.stdout.contains("gone: invalid receiver \"4\": no throughput receiver is open in this lab (each gives one result)"),
        "{run:?}"
    );
}
