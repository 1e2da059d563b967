//! Catalog group: the functions scenario tests are written with (`nslab test`).

use super::catalog::FnDoc;

pub const TESTING: &[FnDoc] = &[
    FnDoc {
        name: "assert_eq",
        forms: &["assert_eq(a, b)", "assert_eq(a, b, message)"],
        summary: "Fail here unless a == b (an integer equals a float of the same value); the report shows both values.",
        example: r#"assert_eq(links("h1").len(), 2);"#,
        ip: "[ \"$A\" = \"$B\" ] || exit 1",
    },
    FnDoc {
        name: "expect_reach",
        forms: &["expect_reach(ns, dst)", "expect_reach(ns, dst, #{timeout})"],
        summary: "Fail unless ns gets an echo reply from dst (an address, or a namespace: any of its global addresses), \
                  retrying for 3 s (timeout) so a first packet lost to ARP does not count; a failure explains the path hop by hop.",
        example: r#"expect_reach("h1", "10.0.2.2");"#,
        ip: "ip netns exec NS ping -c 1 -w 3 DST",
    },
    FnDoc {
        name: "expect_no_reach",
        forms: &["expect_no_reach(ns, dst)", "expect_no_reach(ns, dst, #{timeout})"],
        summary: "Fail if ns gets any echo reply from dst within 1 s (timeout); a failure shows the path the packets took.",
        example: r#"expect_no_reach("h1", "h3");"#,
        ip: "! ip netns exec NS ping -c 1 -w 1 DST",
    },
    FnDoc {
        name: "expect_matrix",
        forms: &["expect_matrix(#{ns: [ns, ...]})", "expect_matrix(#{ns: [ns, ...]}, #{timeout})"],
        summary: "Each key namespace must reach exactly the listed namespaces among all those named (pinging their global \
                  addresses, all pairs at once); on failure prints an expected-vs-actual table and explains each wrong pair.",
        example: r#"expect_matrix(#{h1: ["h2", "h3"], h4: []});"#,
        ip: "(a ping from every namespace to every other)",
    },
    FnDoc {
        name: "wait_until",
        forms: &["wait_until(cond, timeout) -> float"],
        summary: "Call cond (a closure returning true/false) every 50 ms until it is true; fail after timeout seconds. \
                  Returns the seconds it took.",
        example: r#"wait_until(|| link("h1", "eth0").carrier, 2);"#,
        ip: "timeout T sh -c 'until COND; do sleep 0.05; done'",
    },
    FnDoc {
        name: "skip",
        forms: &["skip(reason)"],
        summary: "Stop here and report the scenario (or the sub-test) as skipped, with the reason.",
        example: r#"if !netns_exists("x") { skip("needs x"); }"#,
        ip: "exit 77",
    },
    FnDoc {
        name: "require",
        forms: &["require(feature)"],
        summary: "Skip unless the kernel has the feature, found by creating one in a throwaway namespace: a link type \
                  (vlan, vxlan, bond, vrf, wireguard, dummy, macvlan, bridge, ...), a qdisc (netem, tbf, htb, ...), \
                  tun or ipv6; others as \"link:KIND\" or \"qdisc:KIND\".",
        example: r#"require("netem");"#,
        ip: "ip link add probe type KIND || exit 77",
    },
    FnDoc {
        name: "test",
        forms: &["test(name, body)"],
        summary: "Run body (a closure) as a named sub-test, reported on its own; a failure or skip inside ends the \
                  sub-test only and the script goes on (the scenario then fails).",
        example: r#"test("h1 reaches h2", || { expect_reach("h1", "h2"); });"#,
        ip: "(a subtest)",
    },
];
