//! The other front ends across machines: the REPL (`nslab repl --hosts`) and the scenario runner
//! (`nslab test --hosts`), on three simulated machines (tests/support/machines.rs).

use crate::support::machines;
use crate::support::script;

/// Entries typed into `nslab repl --hosts` act on the machines; the end of input tears every
/// part down.
#[test]
fn the_repl_places_namespaces_on_other_machines() {
    let entries = script(
        "repl-machines",
        "entries",
        "let n = netns_add(\"rx\", #{on: \"m3\"});\nprint(n.machine);\nprint(host(\"m3\").exec(\"ip netns list\").stdout);\n",
    );
    let (run, s) = machines::checked(&format!("on local $NSLAB repl --hosts $HOSTS < {}", entries.display()));
    assert_eq!(s["rc"].trim(), "0", "{run:?}");
    assert!(s["out"].contains("m3\nrx\n"), "{run:?}");
    assert!(s["err"].ends_with("torn down: 1 namespace\n"), "{run:?}");
    assert_eq!(s["diff"], "", "{run:?}");
}

/// `nslab test --hosts`: each scenario's lab spreads over the machines (not in a sandbox); a
/// failing one fails with the machine named, and nothing is left anywhere.
#[test]
fn scenarios_run_across_machines() {
    let pass = script(
        "scen-machines",
        "pass.rhai",
        r#"
        let a = netns_add("pa");
        let b = netns_add("pb", #{on: "m2"});
        veth(a, "x", b, "y", #{up: true});
        addr(a, "x", "10.73.0.1/24"); addr(b, "y", "10.73.0.2/24");
        expect_reach(a, b);
        "#,
    );
    // (In the same folder: `script` starts its folder afresh.)
    let dir = pass.parent().unwrap();
    std::fs::write(dir.join("fail.rhai"), "let c = netns_add(\"fc\", #{on: \"m3\"});\nlink(c, \"nope\");\n").unwrap();
    let dir = dir.display().to_string();
    let (run, s) = machines::checked(&format!("on local $NSLAB test --hosts $HOSTS {dir}"));
    assert_eq!(s["rc"].trim(), "1", "one scenario fails: {run:?}");
    assert!(s["out"].contains("PASS") && s["out"].contains("pass.rhai"), "{run:?}");
    assert!(s["out"].contains("FAIL") && s["out"].contains("fail.rhai"), "{run:?}");
    assert!(s["out"].contains(r#"on m3: link "nope" does not exist in namespace "fc""#), "{run:?}");
    assert!(s["out"].contains("scenarios: 1 passed, 1 failed, 0 skipped"), "{run:?}");
    assert_eq!(s["diff"], "", "{run:?}");
}
