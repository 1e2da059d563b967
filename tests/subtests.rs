//! `test(name, || ...)` undoes what its body did (unless `#{keep: true}`), `defer` runs closures
//! when the enclosing test or script ends, `expect_error` asserts a failure. Checked against the
//! kernel with `ip -j` in the same private namespace.

use serde_json::Value;

use crate::support::{in_private_netns, json, run_nslab, script, sections};

fn names(v: &Value, key: &str) -> Vec<String> {
    let mut out: Vec<String> = v.as_array().unwrap().iter().map(|x| x[key].as_str().unwrap_or("").to_string()).collect();
    out.sort();
    out
}

fn cidrs(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for link in v.as_array().unwrap() {
        for a in link["addr_info"].as_array().unwrap() {
            if a["scope"] == "global" {
                out.push(format!("{}/{}", a["local"].as_str().unwrap(), a["prefixlen"]));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_subtest_undoes_what_it_did_even_when_it_fails() {
    let lab = r#"
let a = netns_add("a");
let b = netns_add("b");
veth(a, "v0", b, "v1");
up(a, "v0"); up(b, "v1");
addr(a, "v0", "10.1.0.1/24");
addr(b, "v1", "10.1.0.2/24");
sysctl(a, "net.ipv4.ip_forward", 0);
veth("r0", "r1");
let procs = [];
test("builds and fails", || {
    netns_add("c");
    veth(a, "x0", "c", "x1");
    veth("h0", "h1");
    addr("r0", "10.8.0.1/24");
    addr(a, "v0", "10.9.0.1/24");
    route(a, "10.7.0.0/24", "10.1.0.2");
    sysctl(a, "net.ipv4.ip_forward", 1);
    procs.push(spawn_in(a, "sleep 60"));
    shape(a, "v0", #{rate: "10mbit"});
    assert(false, "on purpose");
});
print("=running"); print(procs[0].running);
print("=netns"); print(exec("ip -j netns list").stdout);
print("=root"); print(exec("ip -j addr show").stdout);
print("=a"); print(exec(a, "ip -j addr show").stdout);
print("=a_routes"); print(exec(a, "ip -j route show").stdout);
print("=a_qdisc"); print(exec(a, "tc -j qdisc show dev v0").stdout);
print("=forward"); print(sysctl(a, "net.ipv4.ip_forward"));
test("same names again", || { netns_add("c"); veth(a, "x0", "c", "x1"); veth("h0", "h1"); });
test("kept", #{keep: true}, || { addr(b, "v1", "10.1.0.3/24"); });
print("=b"); print(exec(b, "ip -j addr show").stdout);
"#;
    let path = script("subtest_undo", "lab.rhai", lab);
    let run =
        in_private_netns(&format!("$NSLAB run {}; code=$?; echo =code; echo $code; echo =left; ip -j link show", path.display()));
    let s = sections(&run.stdout);
    assert_eq!(s["code"].trim(), "1", "{run:?}");
    assert!(run.stderr.contains("sub-test \"builds and fails\" failed"), "{run:?}");
    assert!(!run.stderr.contains("same names again\" failed"), "the second sub-test must pass: {run:?}");
    assert_eq!(s["running"].trim(), "false");
    assert_eq!(names(&json(&s["netns"]), "name"), ["a", "b"]);
    let root = json(&s["root"]);
    assert_eq!(names(&root, "ifname"), ["lo", "r0", "r1"], "{root}");
    assert_eq!(cidrs(&root), Vec::<String>::new());
    let a = json(&s["a"]);
    assert_eq!(names(&a, "ifname"), ["lo", "v0"]);
    assert_eq!(cidrs(&a), ["10.1.0.1/24"]);
    let routes = json(&s["a_routes"]);
    assert_eq!(names(&routes, "dst"), ["10.1.0.0/24"]);
    let qdiscs = json(&s["a_qdisc"]);
    assert!(qdiscs.as_array().unwrap().iter().all(|q| q["kind"] != "tbf"), "{qdiscs}");
    assert_eq!(s["forward"].trim(), "0");
    assert_eq!(cidrs(&json(&s["b"])), ["10.1.0.2/24", "10.1.0.3/24"]);
    // After the run, the private namespace holds only what it had.
    assert_eq!(names(&json(&s["left"]), "ifname"), ["lo"]);
}

#[test]
fn deferred_closures_run_newest_first_at_the_end_of_their_test_or_script() {
    let lab = r#"
defer(|| print("script: first deferred"));
defer(|| print("script: second deferred"));
test("t", || {
    defer(|| print("t: first deferred"));
    defer(|| print("t: second deferred"));
    print("t: body");
});
test("failing defer", || {
    defer(|| throw "cleanup failed");
});
print("script: end");
throw "script failed";
"#;
    let path = script("defer_order", "lab.rhai", lab);
    let run = run_nslab(&["run", "--sandbox", path.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.stdout,
        "t: body\nt: second deferred\nt: first deferred\nscript: end\nscript: second deferred\nscript: first deferred\n"
    );
    assert!(run.stderr.contains("sub-test \"failing defer\" failed"), "{run:?}");
    assert!(run.stderr.contains("cleanup failed"), "{run:?}");
    assert!(run.stderr.contains("script failed"), "{run:?}");
}

#[test]
fn expect_error_passes_only_on_a_matching_failure() {
    let lab = r#"
let a = netns_add("a");
print(expect_error(|| veth(a, "x0", "x0"), "same name"));
print(expect_error(|| throw "boom"));
for f in [|| expect_error(|| 1, "x"), || expect_error(|| veth(a, "y0", "y1"), "zzz"), || expect_error(|| throw "boom", "zzz")] {
    try { f.call(); print("passed"); } catch (e) { print(e); }
}
"#;
    let path = script("expect_error", "lab.rhai", lab);
    let run = run_nslab(&["run", "--sandbox", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        "invalid veth pair \"x0\": both ends have the same name\n\
         boom\n\
         expect_error: the call succeeded (it returned 1), but it must fail with a message containing \"x\"\n\
         expect_error: the call succeeded (it returned ()), but it must fail with a message containing \"zzz\"\n\
         expect_error: the call failed with \"boom\", but it must fail with a message containing \"zzz\"\n"
    );
}
