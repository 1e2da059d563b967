//! Teardown removes the lab's links outside its namespaces by their link group (one request per
//! namespace) and nothing else: fault tests in the root of a private network namespace, with
//! foreign links next to the lab's, one of them in another lab's group and, in the second test,
//! one stamped with this lab's own group while the lab runs.

use crate::support::{in_private_netns, json, last_line, script, sections};

/// The lab: a namespace, a veth with both ends where nslab runs, one end of a second veth there
/// (its peer in the lab's namespace), an address and a route on it; then it waits for /run/go.
const LAB: &str = r#"
let a = netns_add("a");
veth("r0", "x0");
veth(a, "p1", root(), "r1");
addr("r1", "10.77.0.1/24");
up("r1");
route((), "10.78.0.0/24", #{dev: "r1"});
print("ready");
while !exec(["test", "-e", "/run/go"]).ok { sleep(0.01); }
"#;

/// Runs the lab in the background; `meanwhile` (bash) runs once it is ready, with `$G` the lab's
/// link group (read from r1) and `$OTHER` another nslab-like group. Prints the sections
/// rc, err, links (ip -j -d link after the run), netns, ledgers.
fn run_lab(test: &str, meanwhile: &str) -> (std::collections::HashMap<String, String>, crate::support::Run) {
    let path = script(test, "lab.rhai", LAB);
    let run = in_private_netns(&format!(
        r#"wait_for() {{ while ! grep -q "$2" "$1" 2>/dev/null; do kill -0 "$3" 2>/dev/null || return 1; sleep 0.01; done; }}
        ip link add fa0 type veth peer name fb0
        ip link add oa0 type veth peer name ob0
        echo "=fa"; ip -j link show fa0 | jq '.[0].ifindex'
        $NSLAB run {p} > /run/out 2> /run/err &
        P=$!
        wait_for /run/out ready $P
        G=$(ip -j -d link show r1 | jq -r '.[0].group')
        OTHER=$(( G ^ 1 ))
        echo "=group"; echo $G
        ip link set oa0 group $OTHER
        {meanwhile}
        touch /run/go
        wait $P; echo "=rc"; echo $?
        echo "=err"; cat /run/err
        echo "=links"; ip -j -d link
        echo "=netns"; ip netns list | wc -l
        echo "=ledgers"; ls /run/nslab | wc -l"#,
        p = path.display()
    ));
    (sections(&run.stdout), run)
}

/// (name, group) of every link.
fn links(text: &str) -> Vec<(String, String)> {
    json(text)
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["ifname"].as_str().unwrap().to_string(), l["group"].as_str().unwrap_or("").to_string()))
        .collect()
}

#[test]
fn teardown_deletes_exactly_the_labs_group_and_leaves_foreign_links() {
    let (s, run) = run_lab("group-exact", "");
    assert_eq!(s["rc"].trim(), "0", "{run:?}");
    let g: u64 = s["group"].trim().parse().unwrap();
    assert_eq!(g >> 24, 0x6e, "the lab's link group is nslab's: {run:?}");
    assert_eq!(last_line(&s["err"]), "torn down: 1 namespace, 2 links, 1 route", "{run:?}");
    let other = (g ^ 1).to_string();
    let mut left = links(&s["links"]);
    left.sort();
    assert_eq!(
        left,
        [("fa0", "default"), ("fb0", "default"), ("lo", "default"), ("oa0", other.as_str()), ("ob0", "default")]
            .map(|(n, g)| (n.to_string(), g.to_string())),
        "only the lab's links went, the foreign ones (one in another lab's group) stayed: {run:?}"
    );
    assert_eq!(s["netns"].trim(), "0", "{run:?}");
    assert_eq!(s["ledgers"].trim(), "0", "{run:?}");
}

#[test]
fn a_foreign_link_stamped_with_the_labs_group_is_left_and_the_labs_links_still_go() {
    // Someone puts the lab's own group on a link of theirs while the lab runs: the group is no
    // proof for that link any more, so the lab deletes its links one by one and leaves it.
    let (s, run) = run_lab("group-forged", "ip link set fa0 group $G");
    assert_eq!(s["rc"].trim(), "0", "{run:?}");
    let g = s["group"].trim().to_string();
    let err = last_line(&s["err"]);
    // One by one, newest first: the route, r1, then x0, which takes its peer r0 with it. (The
    // route may have gone before with r1, whose peer's namespace went first.)
    assert!(err.starts_with("torn down: 1 namespace, 2 links"), "{run:?}");
    let stamped = format!(
        "left: link fa0 (ifindex {}) in the root namespace: it carries the lab's link group {:#x} but the lab never made it: \
         left as is",
        s["fa"].trim(),
        g.parse::<u64>().unwrap()
    );
    assert!(err.ends_with(&stamped), "{run:?}");
    let mut left = links(&s["links"]);
    left.sort();
    let names: Vec<&str> = left.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["fa0", "fb0", "lo", "oa0", "ob0"], "{run:?}");
    assert_eq!(left[0].1, g, "the stamped link keeps the group it was given: {run:?}");
    assert_eq!(s["netns"].trim(), "0", "{run:?}");
    assert_eq!(s["ledgers"].trim(), "0", "{run:?}");
}

/// The walkthrough's end while the kernel is still cleaning up another lab's 60 namespaces (its
/// one work queue busy): when nslab returns, no name, link or address of the lab is left.
#[test]
fn nothing_of_the_lab_is_visible_when_nslab_returns_while_another_lab_is_cleaned_up() {
    let other = script("busy-other", "other.rhai", "for i in 1..=60 { netns_add(`o${i}`); }\n");
    let lab = script("busy-lab", "lab.rhai", crate::support::WALKTHROUGH_END);
    let run = in_private_netns(&format!(
        r#"$NSLAB run {other} 2> /dev/null || exit 8
        $NSLAB run {lab} || exit 9
        echo "=links"; ip -j link show
        echo "=addrs"; ip -j addr show | jq -c '[.[].addr_info[].local]'
        echo "=netns"; ls /run/netns | wc -l"#,
        other = other.display(),
        lab = lab.display()
    ));
    assert_eq!(run.code, 0, "{run:?}");
    let s = sections(&run.stdout);
    let names: Vec<String> = links(&s["links"]).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["lo"], "{run:?}");
    assert_eq!(s["addrs"].trim(), r#"["127.0.0.1","::1"]"#, "{run:?}");
    assert_eq!(s["netns"].trim(), "0", "{run:?}");
    // `netns_del` deleted the root-side end itself (by group, its RCU wait left to a child):
    // teardown finds nothing left.
    assert!(run.stderr.contains("torn down: nothing to remove"), "{run:?}");
}
