//! `nslab graph --hosts FILE SCRIPT` (issue 16) on three simulated machines
//! (tests/support/machines.rs): the script runs across the machines, every machine's part is
//! read before teardown and drawn with its machine (DOT clusters, Mermaid subgraphs, "machine"
//! in JSON), the links between machines as vxlan edges; nothing is left on any machine.

use serde_json::Value;

use crate::support::machines::{self, DEFAULT};
use crate::support::{json, run_nslab, scratch, script, sections, unwrap};

/// a and d on local (joined by a veth), b on m2, c on m3; a—b and b—c cross machines.
const LAB: &str = r#"
netns_add("a");
netns_add("d");
netns_add("b", #{on: "m2"});
netns_add("c", #{on: "m3"});
veth("a", "to-d", "d", "to-a");
veth("a", "to-b", "b", "to-a");
veth("b", "to-c", "c", "to-b");
addr("a", "to-b", "10.9.1.1/24");
addr("b", "to-a", "10.9.1.2/24");
addr("b", "to-c", "10.9.2.1/24");
addr("c", "to-b", "10.9.2.2/24");
print("built");
"#;

/// The text of DOT cluster `name` (from its line to its closing brace).
fn cluster<'a>(dot: &'a str, name: &str) -> &'a str {
    let start = dot.find(&format!("subgraph \"cluster_{name}\" {{")).unwrap_or_else(|| panic!("no cluster {name}: {dot}"));
    let end = dot[start..].find("\n  }\n").expect("the cluster ends");
    &dot[start..start + end]
}

#[test]
fn graph_across_three_machines_draws_each_machine_in_its_colour_and_leaves_nothing() {
    let path = script("graph-machines", "lab.rhai", LAB);
    let failing = script("graph-machines-failing", "failing.rhai", &format!("{LAB}\nlink(\"c\", \"nope\");\n"));
    let run = machines::run(
        DEFAULT,
        &format!(
            r#"machines_snap > /run/before
            on local $NSLAB graph --hosts $HOSTS {p} --format dot > /run/dot 2> /run/dot-err; rc=$?; echo "=rc-dot"; echo $rc
            on local $NSLAB graph --hosts $HOSTS {p} --json > /run/json 2> /run/json-err; rc=$?; echo "=rc-json"; echo $rc
            on local $NSLAB graph --hosts $HOSTS {p} --format mermaid > /run/mmd 2>&1; rc=$?; echo "=rc-mermaid"; echo $rc
            on local $NSLAB graph --hosts $HOSTS {f} > /run/failing 2> /run/failing-err; rc=$?; echo "=rc-failing"; echo $rc
            for i in $(seq 200); do [ "$(machines_agents)" = 0 ] && break; sleep 0.01; done
            echo "=dot"; cat /run/dot
            echo "=dot-err"; cat /run/dot-err
            # Graphviz, where it is installed, reads the clusters (it draws --format svg).
            echo "=graphviz"; if command -v dot > /dev/null; then dot -Tcanon /run/dot > /dev/null; echo $?; else echo absent; fi
            echo "=json"; cat /run/json
            echo "=mermaid"; cat /run/mmd
            echo "=failing"; cat /run/failing
            echo "=failing-err"; cat /run/failing-err
            machines_snap > /run/after
            echo "=diff"; diff /run/before /run/after
            echo "=agents"; machines_agents"#,
            p = path.display(),
            f = failing.display()
        ),
    );
    let s = sections(&run.stdout);
    for rc in ["rc-dot", "rc-json", "rc-mermaid"] {
        assert_eq!(s[rc].trim(), "0", "{rc}: {run:?}");
    }
    assert!(s["dot-err"].contains("built"), "the script's output goes to stderr: {run:?}");
    assert!(["0", "absent"].contains(&s["graphviz"].trim()), "Graphviz reads the DOT: {run:?}");

    // DOT: one cluster per machine, local first, each with its label and colours; the
    // namespaces inside their machine's cluster, filled with its colour.
    let dot = &s["dot"];
    let at = |m: &str| dot.find(&format!("cluster_{m}")).unwrap_or_else(|| panic!("no cluster {m}: {dot}"));
    assert!(at("local") < at("m2") && at("m2") < at("m3"), "machines in order, local first: {dot}");
    let local = cluster(dot, "local");
    assert!(local.contains(r##"label="local"; style="rounded,filled"; fillcolor="#eef4fb""##), "{dot}");
    assert!(local.contains(r##""a" [label="a", style="rounded,filled", fillcolor="#c6dbef""##), "{dot}");
    assert!(local.contains(r##""d" [label="d", style="rounded,filled", fillcolor="#c6dbef""##), "{dot}");
    let m2 = cluster(dot, "m2");
    assert!(m2.contains(r##"label="m2"; style="rounded,filled"; fillcolor="#eef8ec""##), "{dot}");
    assert!(m2.contains(r##""b" [label="b", style="rounded,filled", fillcolor="#c7e9c0""##), "{dot}");
    assert!(!m2.contains("\"a\" [") && !local.contains("\"b\" ["), "each namespace in its own machine: {dot}");
    let m3 = cluster(dot, "m3");
    assert!(m3.contains(r##""c" [label="c", style="rounded,filled", fillcolor="#fdd0a2""##), "{dot}");
    // The links between machines are vxlan overlays; the one on local a veth.
    assert!(dot.contains(r##""a" -- "b" [label="vxlan: to-b 10.9.1.1/24 — to-a 10.9.1.2/24", style=dashed"##), "{dot}");
    assert!(dot.contains(r##""b" -- "c" [label="vxlan: to-c 10.9.2.1/24 — to-b 10.9.2.2/24", style=dashed"##), "{dot}");
    assert!(dot.contains(r#""a" -- "d" [label="to-d — to-a"];"#), "{dot}");

    // JSON: every node with its machine, and the edges between machines.
    let t = json(&s["json"]);
    let machine_of = |name: &str| -> Value {
        t["nodes"].as_array().unwrap().iter().find(|n| n["name"] == name).unwrap_or_else(|| panic!("no node {name}: {t}"))
            ["machine"]
            .clone()
    };
    assert_eq!(
        [machine_of("a"), machine_of("d"), machine_of("b"), machine_of("c")],
        ["local", "local", "m2", "m3"].map(Value::from),
        "{t}"
    );
    let edge = |kind: &str, a: (&str, &str), b: (&str, &str)| {
        t["edges"].as_array().unwrap().iter().any(|e| {
            e["kind"] == kind
                && e["from"]["node"] == a.0
                && e["from"]["link"] == a.1
                && e["to"]["node"] == b.0
                && e["to"]["link"] == b.1
        })
    };
    assert!(edge("vxlan", ("a", "to-b"), ("b", "to-a")), "{t}");
    assert!(edge("vxlan", ("b", "to-c"), ("c", "to-b")), "{t}");
    assert!(edge("veth", ("a", "to-d"), ("d", "to-a")), "{t}");
    // The cross links' devices are what each machine's kernel holds: VXLAN with one VNI a pair.
    let link = |n: &str, l: &str| {
        t["nodes"].as_array().unwrap().iter().find(|x| x["name"] == n).unwrap()["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == l)
            .unwrap_or_else(|| panic!("no link {l} in {n}: {t}"))
            .clone()
    };
    let (ab, ba) = (link("a", "to-b"), link("b", "to-a"));
    assert_eq!((ab["kind"].as_str(), ba["kind"].as_str()), (Some("vxlan"), Some("vxlan")), "{t}");
    assert_eq!(ab["vxlan"]["id"], ba["vxlan"]["id"], "{t}");
    // Their underlay device is in the machine's own namespace: not named as a link of theirs.
    assert!(ab["vxlan"]["dev"].is_null() && ba["vxlan"]["dev"].is_null(), "{t}");
    assert_eq!((ab["vxlan"]["remote"].as_str(), ba["vxlan"]["remote"].as_str()), (Some("10.200.0.2"), Some("10.200.0.1")), "{t}");

    // Mermaid: a subgraph per machine and its colours.
    let mmd = &s["mermaid"];
    for (i, m) in ["local", "m2", "m3"].iter().enumerate() {
        assert!(mmd.contains(&format!("  subgraph machine{i}[\"{m}\"]\n")), "{mmd}");
        assert!(mmd.contains(&format!("  classDef onmachine{i} fill:")), "{mmd}");
    }

    // A script failing on another machine draws nothing, says where, and its lab goes too.
    assert_eq!(s["rc-failing"].trim(), "1", "{run:?}");
    assert_eq!(s["failing"], "", "{run:?}");
    assert!(s["failing-err"].contains("on m3: link \"nope\" does not exist"), "{run:?}");

    assert_eq!(s["diff"], "", "every machine is as before: {run:?}");
    assert_eq!(s["agents"].trim(), "0", "no agent left: {run:?}");
}

/// A lab kept across machines (`run --hosts --keep`) is drawn from its ledger: each other
/// machine's part read by its agent, the links between machines found from the VXLAN devices.
#[test]
fn graph_of_a_lab_kept_across_machines_reads_every_machine() {
    let path = script("graph-kept-machines", "kept.rhai", LAB);
    let run = machines::run(
        DEFAULT,
        &format!(
            r#"machines_snap > /run/before
            on local $NSLAB run --keep --hosts $HOSTS {p} > /dev/null 2> /run/run-err; rc=$?; echo "=rc-run"; echo $rc
            on local $NSLAB graph kept --json > /run/json 2> /run/json-err; rc=$?; echo "=rc-json"; echo $rc
            on local $NSLAB graph kept > /run/dot 2>&1; rc=$?; echo "=rc-dot"; echo $rc
            on local $NSLAB down kept > /run/down 2>&1; rc=$?; echo "=rc-down"; echo $rc
            for i in $(seq 200); do [ "$(machines_agents)" = 0 ] && break; sleep 0.01; done
            echo "=json"; cat /run/json
            echo "=json-err"; cat /run/json-err
            echo "=dot"; cat /run/dot
            machines_snap > /run/after
            echo "=diff"; diff /run/before /run/after
            echo "=agents"; machines_agents"#,
            p = path.display()
        ),
    );
    let s = sections(&run.stdout);
    for rc in ["rc-run", "rc-json", "rc-dot", "rc-down"] {
        assert_eq!(s[rc].trim(), "0", "{rc}: {run:?}");
    }
    let t = json(&s["json"]);
    let nodes: Vec<(&str, &str)> =
        t["nodes"].as_array().unwrap().iter().map(|n| (n["name"].as_str().unwrap(), n["machine"].as_str().unwrap())).collect();
    assert_eq!(nodes, [("a", "local"), ("d", "local"), ("b", "m2"), ("c", "m3")], "{t}");
    let edges: Vec<(&str, &str, &str)> = t["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["from"]["node"].as_str().unwrap(), e["to"]["node"].as_str().unwrap()))
        .collect();
    assert_eq!(edges, [("veth", "a", "d"), ("vxlan", "a", "b"), ("vxlan", "b", "c")], "{t}");
    let dot = &s["dot"];
    assert!(cluster(dot, "m3").contains(r##""c" [label="c", style="rounded,filled""##), "{dot}");
    assert!(dot.contains(r##""a" -- "b" [label="vxlan: to-b 10.9.1.1/24 — to-a 10.9.1.2/24", style=dashed"##), "{dot}");
    assert_eq!(s["diff"], "", "`down` removed every machine's part: {run:?}");
    assert_eq!(s["agents"].trim(), "0", "no agent left: {run:?}");
}

/// `export --ip` writes one machine's lab: across machines it is refused, saying what to do.
#[test]
fn export_across_machines_is_refused_with_the_way_to_draw_it() {
    let dir = scratch("export-hosts");
    let hosts = script("export-hosts", "hosts.toml", "[hosts.local]\naddress = \"10.0.0.1\"\ndev = \"eth0\"\n");
    let lab = script("export-hosts", "lab.rhai", "netns_add(\"a\");\n");
    let run = run_nslab(&["export", "--ip", "--hosts", hosts.to_str().unwrap(), lab.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{run:?}");
    let said = unwrap(&run.stderr);
    assert!(said.contains("cannot rebuild a lab across machines (--hosts)"), "{run:?}");
    assert!(said.contains("draw it with `nslab graph --hosts FILE"), "{run:?}");
    assert_eq!(run.stdout, "", "{run:?}");
    let _ = std::fs::remove_dir_all(dir);
}

/// `--hosts` runs a script: a standing lab's name with it is a usage error saying so.
#[test]
fn graph_with_hosts_takes_a_script() {
    let dir = scratch("graph-hosts-lab");
    let hosts = script("graph-hosts-lab", "hosts.toml", "[hosts.local]\naddress = \"10.0.0.1\"\ndev = \"eth0\"\n");
    let run = run_nslab(&["graph", "--hosts", hosts.to_str().unwrap(), "no-such-lab"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(unwrap(&run.stderr).contains("no script file \"no-such-lab\": --hosts runs a script across machines"), "{run:?}");
    assert_eq!(run.stdout, "", "{run:?}");
    let _ = std::fs::remove_dir_all(dir);
}
