//! The seed walkthrough, end to end, and interoperation with iproute2.

use crate::support::{in_private_netns, json, run_nslab, script};

#[test]
fn walkthrough_script_passes_in_the_sandbox() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/walkthrough.rhai");
    let run = run_nslab(&["run", "--sandbox", path]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("ping 127.0.0.1: Network is unreachable"), "{run:?}");
    assert!(run.stdout.contains("1 packets transmitted, 1 received, 0% packet loss"), "{run:?}");
    assert!(run.stdout.contains("state DOWN"), "lo is shown down by ip link list: {run:?}");
    assert!(run.stderr.trim_end().lines().last().unwrap().starts_with("torn down:"), "{run:?}");
}

/// Builds the walkthrough's state with --keep and checks it with `ip -j`.
#[test]
fn state_matches_iproute2_view() {
    let path = script(
        "state",
        "state.rhai",
        r#"
        let n = netns_add("netns1");
        veth("veth0", "veth1");
        move_to("veth1", n);
        n.addr("veth1", "10.1.1.1/24");
        n.up("veth1");
        addr("veth0", "10.1.1.2/24");
        addr("veth0", "fd00::2/64");
        up("veth0");
        "#,
    );
    let run = in_private_netns(&format!(
        r#"$NSLAB run --keep {p} || exit 9
        echo "=netns"; ip -j netns list
        echo "=inner"; ip -j -n netns1 addr show
        echo "=root"; ip -j addr show"#,
        p = path.display()
    ));
    assert_eq!(run.code, 0, "{run:?}");
    let section = |name: &str| {
        let start = run.stdout.find(&format!("={name}\n")).unwrap() + name.len() + 2;
        let rest = &run.stdout[start..];
        json(&rest[..rest.find("\n=").unwrap_or(rest.len())])
    };
    let netns = section("netns");
    let names: Vec<&str> = netns.as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["netns1"]);
    let inner = section("inner");
    let veth1 = inner.as_array().unwrap().iter().find(|l| l["ifname"] == "veth1").expect("veth1 in netns1");
    assert!(veth1["flags"].as_array().unwrap().iter().any(|f| f == "UP"));
    assert_eq!(veth1["addr_info"][0]["local"], "10.1.1.1");
    assert_eq!(veth1["addr_info"][0]["prefixlen"], 24);
    let lo = inner.as_array().unwrap().iter().find(|l| l["ifname"] == "lo").unwrap();
    assert!(!lo["flags"].as_array().unwrap().iter().any(|f| f == "UP"), "lo stays down");
    let root = section("root");
    let veth0 = root.as_array().unwrap().iter().find(|l| l["ifname"] == "veth0").expect("veth0 stays in the root namespace");
    let locals: Vec<&str> = veth0["addr_info"].as_array().unwrap().iter().map(|a| a["local"].as_str().unwrap()).collect();
    assert!(locals.contains(&"10.1.1.2") && locals.contains(&"fd00::2"), "{locals:?}");
    assert!(!root.as_array().unwrap().iter().any(|l| l["ifname"] == "veth1"), "veth1 left the root namespace");
}

#[test]
fn iproute2_namespaces_are_usable_from_nslab_and_back() {
    let path = script(
        "interop",
        "interop.rhai",
        r#"
        assert(netns_exists("fromip"));
        let n = netns("fromip");
        n.up("lo");
        assert(n.ping("127.0.0.1").ok);
        netns_add("fromnslab");
        "#,
    );
    let run = in_private_netns(&format!(
        r#"ip netns add fromip || exit 8
        $NSLAB run --keep {p} || exit 9
        ip -n fromip -j link show lo
        ip netns exec fromnslab ip -j link show lo"#,
        p = path.display()
    ));
    assert_eq!(run.code, 0, "{run:?}");
    let mut lines = run.stdout.lines();
    let fromip = json(lines.next().unwrap());
    assert!(fromip[0]["flags"].as_array().unwrap().iter().any(|f| f == "UP"), "nslab brought lo up in the iproute2 namespace");
    let fromnslab = json(lines.next().unwrap());
    assert_eq!(fromnslab[0]["ifname"], "lo", "ip netns exec works in a namespace nslab made");
}

#[test]
fn teardown_leaves_nothing_and_foreign_objects_stay() {
    let path = script(
        "teardown",
        "teardown.rhai",
        r#"
        netns_add("a");
        netns_add("b");
        veth("a", "x", "b", "y");
        veth("v0", "v1");
        "#,
    );
    let run = in_private_netns(&format!(
        r#"ip netns add foreign
        $NSLAB run {p} || exit 9
        ip -j netns list; echo; ip -j link show; echo; ls /run/nslab | wc -l"#,
        p = path.display()
    ));
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("torn down: 2 namespaces"), "{run:?}");
    let mut parts = run.stdout.split("\n\n");
    let netns = json(parts.next().unwrap());
    let names: Vec<&str> = netns.as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["foreign"]);
    let links = json(parts.next().unwrap());
    let names: Vec<&str> = links.as_array().unwrap().iter().map(|n| n["ifname"].as_str().unwrap()).collect();
    assert_eq!(names, ["lo"], "v0/v1 are gone");
    assert_eq!(parts.next().unwrap().trim(), "0", "the ledger is removed after teardown");
}

/// The sandbox works for an unprivileged user (where the kernel allows user namespaces).
#[test]
fn sandbox_works_without_root() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to switch to an unprivileged user");
        return;
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/walkthrough.rhai");
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", crate::support::nslab(), "run", "--sandbox", path])
        .env("NO_COLOR", "1")
        .output()
        .expect("setpriv runs");
    let run = crate::support::Run::from(out);
    if run.stderr.contains("cannot start the sandbox") {
        eprintln!("skipped: this kernel refuses unprivileged user namespaces");
        return;
    }
    if run.stderr.contains("failed to execute") || run.stderr.contains("cannot read") {
        eprintln!("skipped: the checkout is not readable by an unprivileged user: {}", run.stderr);
        return;
    }
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("Network is unreachable"), "{run:?}");
}

/// An error inside an imported module points into the module and at the importing call.
#[test]
fn errors_in_imported_modules_show_both_places() {
    let dir = crate::support::scratch("import");
    std::fs::write(dir.join("common.rhai"), "fn broken(n) {\n    up(n, \"nope\");\n}\n").unwrap();
    std::fs::write(dir.join("main.rhai"), "import \"common\" as c;\nnetns_add(\"x\");\nc::broken(\"x\");\n").unwrap();
    let run = run_nslab(&["run", "--sandbox", dir.join("main.rhai").to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("× link \"nope\" does not exist in namespace \"x\""), "{run:?}");
    assert!(run.stderr.contains("common.rhai:2:5]"), "points into the module: {run:?}");
    assert!(run.stderr.contains("main.rhai:3:4]") && run.stderr.contains("in broken()"), "and at the call: {run:?}");
}

/// The walkthrough's end: netns1 deleted after a ping from inside it. The kernel would take the
/// root-side veth only once it has cleaned netns1 up; `netns_del` deletes the pair itself before
/// it returns, so `ip link` right afterwards shows nothing of the lab and teardown has nothing
/// left to remove.
#[test]
fn the_root_side_veth_is_gone_when_nslab_returns() {
    let path = script("vanish", "vanish.rhai", crate::support::WALKTHROUGH_END);
    let run = in_private_netns(&format!("$NSLAB run {p} || exit 9\nip -j link show", p = path.display()));
    assert_eq!(run.code, 0, "{run:?}");
    let links = json(&run.stdout);
    let names: Vec<&str> = links.as_array().unwrap().iter().map(|l| l["ifname"].as_str().unwrap()).collect();
    assert_eq!(names, ["lo"], "{run:?}");
    assert!(run.stderr.contains("torn down: nothing to remove"), "{run:?}");
}
