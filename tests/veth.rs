//! Veth pairs: held back until observed (so `move_to` makes the end born in place), options
//! applied at birth, and errors that still point at the right line.

use crate::support::{in_private_netns, json, run_nslab, script};

#[test]
fn veth_then_move_gives_the_same_state_as_ip() {
    let path = script(
        "veth-move",
        "move.rhai",
        r#"
        netns_add("n1");
        veth("v0", "v1");
        move_to("v1", "n1");
        "#,
    );
    let run = in_private_netns(&format!(
        "$NSLAB run --keep {p} || exit 9\nip -j link show v0\nip -n n1 -j link show v1\nip -j link show v1 2>/dev/null || echo none",
        p = path.display()
    ));
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    let v0 = json(lines[0]);
    let v1 = json(lines[1]);
    assert_eq!(v0[0]["link_type"], "ether");
    assert_eq!(v0[0]["link_netnsid"], 0, "v0's peer is in another namespace: {v0}");
    assert_eq!(v1[0]["ifname"], "v1");
    assert_eq!(v1[0]["ifindex"].as_u64(), v0[0]["link_index"].as_u64(), "v1 is v0's peer");
    assert_eq!(lines[2], "none", "v1 is not in the root namespace");
}

#[test]
fn options_up_and_master_apply_at_birth() {
    let path = script(
        "veth-opts",
        "opts.rhai",
        r#"
        let sw = netns_add("sw");
        bridge(sw, "br0");
        up(sw, "br0");
        let h = netns_add("h");
        veth(sw, "p0", h, "eth0", #{up: true, master: "br0", mtu: 1400});
        "#,
    );
    let run = in_private_netns(&format!(
        "$NSLAB run --keep {p} || exit 9\nip -n sw -j link show p0\nip -n h -j link show eth0",
        p = path.display()
    ));
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    let p0 = json(lines[0]);
    let eth0 = json(lines[1]);
    assert_eq!(p0[0]["master"], "br0");
    assert_eq!(p0[0]["mtu"], 1400);
    assert!(p0[0]["flags"].as_array().unwrap().iter().any(|f| f == "UP"), "{p0}");
    assert!(eth0[0]["flags"].as_array().unwrap().iter().any(|f| f == "UP"), "{eth0}");
    assert_eq!(eth0[0]["mtu"], 1400);
}

#[test]
fn a_clash_is_reported_at_the_veth_that_asked_for_it() {
    let path = script("veth-clash", "clash.rhai", "veth(\"v0\", \"v1\");\nveth(\"v0\", \"v2\");\n");
    let run = run_nslab(&["run", "--sandbox", path.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("link \"v0\" already exists in the root namespace"), "{run:?}");
    assert!(run.stderr.contains("clash.rhai:2:1"), "points at line 2: {run:?}");
}

#[test]
fn a_moved_end_is_found_where_it_went() {
    let path = script(
        "veth-find",
        "find.rhai",
        r#"
        let n = netns_add("n1");
        veth("a", "b");
        move_to("b", n);
        assert(link(n, "b").peer == "a");
        assert(link("a").peer == "b" && link("a").peer_netns == "n1");
        up("a"); up(n, "b");
        addr("a", "10.7.0.1/24"); addr(n, "b", "10.7.0.2/24");
        assert(ping(n, "10.7.0.1").ok);
        "#,
    );
    let run = run_nslab(&["run", "--sandbox", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
}

#[test]
fn veths_get_one_queue_per_end_unless_asked_for_more() {
    let path = script(
        "veth-queues",
        "queues.rhai",
        r#"
        let a = netns_add("a");
        let b = netns_add("b");
        veth(a, "one", b, "one");
        veth(a, "four", b, "four", #{queues: 4});
        "#,
    );
    let run = in_private_netns(&format!(
        "$NSLAB run --keep {p} || exit 9\nip -n a -d -j link show one\nip -n b -d -j link show one\nip -n a -d -j link show four\nip -n b -d -j link show four",
        p = path.display()
    ));
    assert_eq!(run.code, 0, "{run:?}");
    let queues: Vec<(u64, u64)> = run
        .stdout
        .lines()
        .map(|l| {
            let j = json(l);
            (j[0]["num_tx_queues"].as_u64().unwrap(), j[0]["num_rx_queues"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(queues, vec![(1, 1), (1, 1), (4, 4), (4, 4)], "{run:?}");
}

#[test]
fn a_queue_count_the_kernel_refuses_is_an_error_before_anything_is_made() {
    let path = script("veth-queues-bad", "bad.rhai", "let a = netns_add(\"a\");\nveth(a, \"x\", a, \"y\", #{queues: 0});\n");
    let run = in_private_netns(&format!("$NSLAB run {p}; echo \"exit $?\"; ip -j netns list", p = path.display()));
    assert!(run.stderr.contains("invalid queue count \"0\""), "{run:?}");
    assert!(run.stderr.contains("veth \"x\" takes 1 to 4096 queues per direction"), "{run:?}");
    assert!(run.stderr.contains("bad.rhai:2:"), "{run:?}");
    assert!(run.stdout.contains("exit 1"), "{run:?}");
}

/// A `move_to` of an end the lab holds back is checked as a move of an existing pair would be:
/// a name taken there fails the `move_to` itself, inside its `try`, and the pair stays asked for
/// where it was (so it is made there, as it would have been without holding back).
#[test]
fn a_move_of_a_held_end_to_a_taken_name_fails_inside_its_try() {
    let path = script(
        "veth-move-taken",
        "taken.rhai",
        r#"let n1 = netns_add("n1");
veth(n1, "b", n1, "c");
try {
    veth("a", "b");
    move_to("b", n1);
    print("not caught");
} catch (e) {
    print("caught: " + e.message);
}
print(links().map(|l| l.name));
"#,
    );
    let run = run_nslab(&["run", "--sandbox", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines, ["caught: link \"b\" already exists in namespace \"n1\"", "[\"lo\", \"b\", \"a\"]"], "{run:?}");
}

/// Held-back work that fails when it is carried out fails the call that carried it out (so a
/// `try` around it catches it), at the call that asked for it, whose line the message names.
/// Here a program takes the name between the `move_to` (checked then) and the query.
#[test]
fn a_held_veth_failing_later_is_caught_by_the_try_around_it_and_names_its_line() {
    let path = script(
        "veth-held-fails",
        "held.rhai",
        r#"let n1 = netns_add("n1");
spawn_in(n1, ["sh", "-c", "sleep 0.2; ip link add name b type veth peer name c"]);
try {
    veth("a", "b");
    move_to("b", n1);
    let t = timestamp();
    while t.elapsed < 1.5 {}
    links(n1);
    print("not caught");
} catch (e) {
    print("caught: " + e.message);
}
spawn_in(root(), ["sh", "-c", "sleep 0.2; ip link add name x type veth peer name z"]);
veth("x", "y");
let t = timestamp();
while t.elapsed < 1.5 {}
"#,
    );
    let run = run_nslab(&["run", "--sandbox", path.to_str().unwrap()]);
    assert_eq!(
        run.stdout.lines().next(),
        Some("caught: link \"b\" already exists in namespace \"n1\" (held back from veth at line 4)"),
        "{run:?}"
    );
    // Outside a `try`, carried out at the end: the run fails, at the veth that asked for it.
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("link \"x\" already exists in the root namespace"), "{run:?}");
    assert!(run.stderr.contains("held back from veth at"), "{run:?}");
    assert!(run.stderr.contains("held.rhai:14:1"), "{run:?}");
}
