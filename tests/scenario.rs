//! `nslab test`: scenarios run in their own sandboxes and are reported as text, TAP, JUnit XML
//! and JSON; the testing functions; reachability diagnoses; timeouts that leave nothing behind.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::support::{cpu_heavy, in_private_netns, json, nslab, scratch, Run};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `nslab ARGS...` with `dir` as the working directory.
fn run_in(dir: &Path, args: &[&str]) -> Run {
    Command::new(nslab()).current_dir(dir).args(args).env("NO_COLOR", "1").output().expect("nslab runs").into()
}

/// What each file in tests/failing must come out as.
const FAILING: &[(&str, &str)] = &[
    ("assert_eq.rhai", "FAIL"),
    ("busy_loop.rhai", "TIMEOUT"),
    ("hang.rhai", "TIMEOUT"),
    ("lab_error.rhai", "FAIL"),
    ("link_down.rhai", "FAIL"),
    ("matrix.rhai", "FAIL"),
    ("must_not_reach.rhai", "FAIL"),
    ("neighbour.rhai", "FAIL"),
    ("no_address.rhai", "FAIL"),
    ("no_route.rhai", "FAIL"),
    ("require_absent.rhai", "SKIP"),
    ("skip.rhai", "SKIP"),
    ("subtests.rhai", "FAIL"),
    ("syntax.rhai", "FAIL"),
    ("wait_until.rhai", "FAIL"),
];

/// The status word of each scenario line of the human report ("FAIL    1.02 s  FILE...").
fn statuses(report: &str) -> BTreeMap<String, String> {
    report
        .lines()
        .filter(|l| ["PASS ", "FAIL ", "SKIP ", "TIMEOUT "].iter().any(|w| l.starts_with(w)))
        .map(|l| {
            let mut words = l.split_whitespace();
            let status = words.next().unwrap().to_string();
            let file = words.nth(2).unwrap().trim_end_matches(':').to_string();
            (file, status)
        })
        .collect()
}

/// The text of a scenario's block in the human report, up to the next scenario line.
fn block<'a>(report: &'a str, file: &str) -> &'a str {
    let start = report.lines().position(|l| l.contains(file) && !l.starts_with(' ')).unwrap_or_else(|| panic!("{file} reported"));
    let lines: Vec<&str> = report.lines().collect();
    let from: usize = lines[..start].iter().map(|l| l.len() + 1).sum();
    let rest = &report[from..];
    let end = rest
        .lines()
        .skip(1)
        .position(|l| ["PASS ", "FAIL ", "SKIP ", "TIMEOUT ", "scenarios:"].iter().any(|w| l.starts_with(w)))
        .map(|n| rest.lines().take(n + 1).map(|l| l.len() + 1).sum())
        .unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn failing_scenarios_give_their_lines_tap_and_junit() {
    let dir = scratch("failing-report");
    let junit = dir.join("junit.xml");
    let run = run_in(root(), &["test", "-j", "4", "--tap", "--junit", junit.to_str().unwrap(), "tests/failing"]);
    assert_eq!(run.code, 1, "{run:?}");

    // The human report (on standard error with --tap): one line per scenario, right status.
    let found = statuses(&run.stderr);
    for (file, want) in FAILING {
        assert_eq!(found.get(&format!("tests/failing/{file}")).map(String::as_str), Some(*want), "{file}: {run:?}");
    }
    assert_eq!(found.len(), FAILING.len(), "tests/failing/README.md is no scenario: {found:?}");
    assert!(run.stderr.contains("scenarios: 0 passed, 13 failed, 2 skipped\n"), "{run:?}");
    assert!(run.stderr.contains("2 of the failed timed out"), "{run:?}");

    // A failure names the file and line and underlines the call.
    let b = block(&run.stderr, "tests/failing/assert_eq.rhai");
    assert!(b.contains("× assert_eq failed: a new namespace has lo only"), "{b}");
    assert!(b.contains("╭─[tests/failing/assert_eq.rhai:4:1]"), "{b}");
    assert!(b.contains("╰── this check failed") && b.contains("left:  1") && b.contains("right: 2"), "{b}");
    // Reachability failures say why, hop by hop.
    let b = block(&run.stderr, "tests/failing/no_route.rhai");
    assert!(b.contains("h1: no route to 10.20.0.1 (route lookup: Network is unreachable)"), "{b}");
    let b = block(&run.stderr, "tests/failing/link_down.rhai");
    assert!(b.contains("link eth0 is down"), "{b}");
    let b = block(&run.stderr, "tests/failing/neighbour.rhai");
    assert!(b.contains("h1: route to 10.99.0.1 via 10.12.0.254 dev eth0 src 10.12.0.1"), "{b}");
    assert!(b.contains("neighbour 10.12.0.254 on eth0 not resolved"), "{b}");
    let b = block(&run.stderr, "tests/failing/no_address.rhai");
    assert!(b.contains("h1: route to 10.15.0.2 dev eth0; link eth0 has no IPv4 address"), "{b}");
    let b = block(&run.stderr, "tests/failing/must_not_reach.rhai");
    assert!(b.contains("outside reaches inside (10.14.0.1), but must not"), "{b}");
    // The matrix shows expected against actual.
    let b = block(&run.stderr, "tests/failing/matrix.rhai");
    assert!(b.contains("expect_matrix: 1 of 4 pairs differ from the expectation"), "{b}");
    let table: Vec<Vec<&str>> = b
        .lines()
        .map(|l| l.trim_start().trim_start_matches("help: "))
        .filter(|l| l.starts_with("from \\ to") || ((l.starts_with("a ") || l.starts_with("c ")) && !l.contains('→')))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        table,
        [vec!["from", "\\", "to", "a", "b", "c"], vec!["a", "·", "yes", "NO!"], vec!["c", "no", "yes", "·"]],
        "{b}"
    );
    assert!(b.contains("a → c: must reach it, but Network is unreachable"), "{b}");
    // Timeouts say where the script was stopped; skips say why.
    let b = block(&run.stderr, "tests/failing/hang.rhai");
    assert!(b.contains("did not finish within 1 s (stopped at line 4)"), "{b}");
    let b = block(&run.stderr, "tests/failing/skip.rhai");
    assert!(b.contains("this scenario only runs on Tuesdays"), "{b}");
    let b = block(&run.stderr, "tests/failing/subtests.rhai");
    let subs: Vec<&str> =
        b.lines().filter(|l| l.starts_with("    PASS") || l.starts_with("    FAIL") || l.starts_with("    SKIP")).collect();
    assert_eq!(subs.len(), 4, "{b}");
    assert!(subs[1].starts_with("    FAIL") && subs[1].ends_with("lo is up"), "{b}");
    assert!(subs[2].starts_with("    SKIP") && subs[2].contains("needs something absent: the running kernel has no"), "{b}");
    assert!(b.contains("in sub-test \"lo is up\":"), "{b}");

    // TAP 13 on standard output.
    let tap = &run.stdout;
    assert!(tap.starts_with("TAP version 13\n1..15\n"), "{tap}");
    let points: Vec<&str> = tap.lines().filter(|l| l.starts_with("ok ") || l.starts_with("not ok ")).collect();
    assert_eq!(points.len(), FAILING.len(), "{tap}");
    for (i, (file, want)) in FAILING.iter().enumerate() {
        let p = points[i];
        let expected = match *want {
            "SKIP" => format!("ok {} - tests/failing/{file} # SKIP ", i + 1),
            _ => format!("not ok {} - tests/failing/{file}", i + 1),
        };
        assert!(p.starts_with(&expected), "{p} should start with {expected}");
        assert_eq!(p.contains("(TIMEOUT after"), *want == "TIMEOUT", "{p}");
    }
    assert!(
        tap.contains("# Subtest: tests/failing/subtests.rhai\n    1..4\n    ok 1 - lo starts down\n    not ok 2 - lo is up\n"),
        "{tap}"
    );
    assert!(tap.contains("  severity: timeout\n"), "{tap}");
    assert!(tap.contains("  message: \"h1 cannot reach 10.20.0.1: Network is unreachable (tried for 1.0 s)\"\n"), "{tap}");

    // JUnit XML that parses, with a suite per scenario and the right elements.
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("JUnit XML does not parse: {e}\n{xml}"));
    let suites = doc.root_element();
    assert_eq!(suites.tag_name().name(), "testsuites");
    let attr = |n: roxmltree::Node, a: &str| n.attribute(a).unwrap_or_else(|| panic!("{a} on {n:?}")).to_string();
    let count = |n: roxmltree::Node, a: &str| attr(n, a).parse::<usize>().unwrap();
    let suite_nodes: Vec<roxmltree::Node> = suites.children().filter(|n| n.has_tag_name("testsuite")).collect();
    assert_eq!(suite_nodes.len(), FAILING.len());
    let (mut tests, mut failures, mut errors, mut skipped) = (0, 0, 0, 0);
    for (suite, (file, want)) in suite_nodes.iter().zip(FAILING) {
        assert_eq!(attr(*suite, "name"), format!("tests/failing/{file}"));
        let cases: Vec<roxmltree::Node> = suite.children().filter(|n| n.has_tag_name("testcase")).collect();
        assert_eq!(count(*suite, "tests"), cases.len());
        let with = |tag: &str| cases.iter().filter(|c| c.children().any(|x| x.has_tag_name(tag))).count();
        assert_eq!(count(*suite, "failures"), with("failure"), "{file}");
        assert_eq!(count(*suite, "errors"), with("error"), "{file}");
        assert_eq!(count(*suite, "skipped"), with("skipped"), "{file}");
        tests += cases.len();
        failures += with("failure");
        errors += with("error");
        skipped += with("skipped");
        for c in &cases {
            assert!(c.attribute("classname").is_some() && c.attribute("time").is_some() && c.attribute("name").is_some());
            assert_eq!(attr(*c, "file"), format!("tests/failing/{file}"));
        }
        let first = cases[0];
        assert_eq!(attr(first, "name"), *file);
        let elem = |tag: &str| first.children().find(|x| x.has_tag_name(tag));
        match (*file, *want) {
            ("subtests.rhai", _) => {
                assert!(elem("failure").is_none() && elem("error").is_none(), "the script itself ran to its end");
                let names: Vec<String> = cases[1..].iter().map(|c| attr(*c, "name")).collect();
                assert_eq!(names, ["lo starts down", "lo is up", "needs something absent", "now lo is up"]);
                assert!(cases[2].children().any(|x| x.has_tag_name("failure")));
                assert!(cases[3].children().any(|x| x.has_tag_name("skipped")));
            }
            (_, "SKIP") => assert!(elem("skipped").is_some(), "{file}"),
            (_, "TIMEOUT") => assert_eq!(elem("error").map(|e| attr(e, "type")), Some("timeout".into()), "{file}"),
            ("lab_error.rhai" | "syntax.rhai", _) => {
                assert_eq!(elem("error").map(|e| attr(e, "type")), Some("error".into()), "{file}")
            }
            _ => {
                let f = elem("failure").unwrap_or_else(|| panic!("{file} has a <failure>"));
                assert!(!attr(f, "message").is_empty());
                assert!(f.text().unwrap_or("").contains(&format!("[tests/failing/{file}:")), "{file}: the report is the body");
                assert!(first.attribute("line").is_some(), "{file}");
            }
        }
    }
    assert_eq!(
        (count(suites, "tests"), count(suites, "failures"), count(suites, "errors"), count(suites, "skipped")),
        (tests, failures, errors, skipped)
    );
}

#[test]
fn json_document_with_sub_tests_and_call_log() {
    let run = run_in(
        root(),
        &["test", "--json", "--capture", "tests/failing/subtests.rhai", "tests/failing/no_route.rhai", "tests/failing/skip.rhai"],
    );
    assert_eq!(run.code, 1, "{run:?}");
    let doc = json(&run.stdout);
    assert_eq!(doc["version"], 1);
    let s = &doc["summary"];
    assert_eq!(
        (s["total"].as_u64(), s["passed"].as_u64(), s["failed"].as_u64(), s["skipped"].as_u64()),
        (Some(3), Some(0), Some(2), Some(1))
    );
    let by_file =
        |f: &str| doc["scenarios"].as_array().unwrap().iter().find(|x| x["file"] == f).unwrap_or_else(|| panic!("{f}")).clone();

    let subs = by_file("tests/failing/subtests.rhai");
    assert_eq!(subs["status"], "fail");
    assert!(subs["problem"].is_null(), "the script itself ran to its end");
    let statuses: Vec<&str> = subs["subtests"].as_array().unwrap().iter().map(|t| t["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["pass", "fail", "skip", "pass"]);
    let failed = &subs["subtests"][1]["problem"];
    assert_eq!((failed["kind"].as_str(), failed["line"].as_u64()), (Some("failure"), Some(4)));
    // The call log: every call with its arguments, result and duration, nested under test().
    let calls = subs["calls"].as_array().expect("--capture logs calls");
    let first = &calls[0];
    assert_eq!(
        (first["call"].as_str(), first["result"].as_str(), first["ok"].as_bool()),
        (Some("netns_add(\"subs\")"), Some("netns(\"subs\")"), Some(true))
    );
    assert!(first["duration_ms"].as_f64().unwrap() > 0.0 && first["line"] == 2);
    let inner = calls.iter().find(|c| c["call"] == "assert_eq(\"down\", \"up\")").expect("the failing check is logged");
    assert_eq!((inner["ok"].as_bool(), inner["depth"].as_u64()), (Some(false), Some(1)));
    assert_eq!(inner["result"], "assert_eq failed: the two values differ");
    assert!(calls.iter().any(|c| c["call"] == "test(\"lo is up\", <closure>)" && c["depth"] == 0));

    let no_route = by_file("tests/failing/no_route.rhai");
    assert_eq!((no_route["problem"]["kind"].as_str(), no_route["problem"]["line"].as_u64()), (Some("failure"), Some(11)));
    assert!(no_route["problem"]["report"].as_str().unwrap().contains("h1: no route to 10.20.0.1"));
    assert!(no_route["stderr"].as_str().unwrap().contains("torn down: 2 namespaces"), "the normal teardown ran");
    let skip = by_file("tests/failing/skip.rhai");
    assert_eq!(
        (skip["status"].as_str(), skip["problem"]["message"].as_str()),
        (Some("skip"), Some("this scenario only runs on Tuesdays"))
    );
    // The human report went to standard error, with the call log attached to failures.
    assert!(
        run.stderr.contains("calls:")
            && run.stderr.contains("expect_reach(\"h1\", \"10.20.0.1\", #{\"timeout\": 1}) !! h1 cannot reach"),
        "{run:?}"
    );
}

#[test]
fn scenarios_pass() {
    // scripts/rate-limited.rhai measures throughput against a rate.
    let _serial = cpu_heavy();
    let run = run_in(root(), &["test", "tests/scenarios", "scripts"]);
    assert_eq!(run.code, 0, "{run:?}");
    let found = statuses(&run.stdout);
    let listing = |dir: &str| {
        std::fs::read_dir(root().join(dir))
            .unwrap()
            .map(|e| format!("{dir}/{}", e.unwrap().file_name().to_string_lossy()))
            .filter(|f| f.ends_with(".rhai"))
            .collect::<Vec<_>>()
    };
    // nslab test searches directories recursively: the ported third-party scenarios too.
    let mut files: Vec<String> =
        listing("tests/scenarios").into_iter().chain(listing("scripts")).chain(listing("scripts/selftests")).collect();
    files.sort();
    assert_eq!(found.keys().cloned().collect::<Vec<_>>(), files, "{run:?}");
    assert!(found.values().all(|s| s == "PASS"), "{run:?}");
    assert!(run.stdout.contains(&format!("scenarios: {} passed, 0 failed, 0 skipped\n", files.len())), "{run:?}");
}

#[test]
fn timeouts_end_every_process_of_the_scenario() {
    let dir = scratch("timeout-procs");
    // A marker no other test uses: the sleep's argument.
    let marker = format!("86399.{}", std::process::id());
    std::fs::write(
        dir.join("stuck.rhai"),
        format!("// timeout: 0.5\nlet n = netns_add(\"x\");\nexec_in(n, [\"sleep\", \"{marker}\"]);\n"),
    )
    .unwrap();
    // The header overrides --timeout, in both directions.
    std::fs::write(dir.join("slow_ok.rhai"), "// timeout: 20\nsleep(1);\n").unwrap();
    let run = run_in(&dir, &["test", "--timeout", "0.7", "-j", "2", "."]);
    assert_eq!(run.code, 1, "{run:?}");
    let found = statuses(&run.stdout);
    assert_eq!(found.get("./stuck.rhai").map(String::as_str), Some("TIMEOUT"), "{run:?}");
    assert_eq!(found.get("./slow_ok.rhai").map(String::as_str), Some("PASS"), "{run:?}");
    assert!(run.stdout.contains("did not finish within 0.5 s (stopped at line 3)"), "{run:?}");
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&marker))
        .collect();
    assert!(left.is_empty(), "processes left behind: {left:?}");
}

#[test]
fn skips_alone_pass_and_usage_errors_are_status_2() {
    let run = run_in(root(), &["test", "tests/failing/skip.rhai", "tests/failing/require_absent.rhai"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("scenarios: 0 passed, 0 failed, 2 skipped\n"), "{run:?}");

    let empty = scratch("no-scenarios");
    let run = run_in(&empty, &["test", "."]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("no scenarios found in ."), "{run:?}");
    let run = run_in(root(), &["test", "--timeout", "0", "tests/scenarios"]);
    assert_eq!(run.code, 2, "{run:?}");
    let run = run_in(root(), &["test", "tests/no-such-dir"]);
    assert_eq!(run.code, 2, "{run:?}");
}

#[test]
fn default_discovery_and_helpers() {
    let dir = scratch("discovery");
    let scen = dir.join("tests/scenarios");
    std::fs::create_dir_all(&scen).unwrap();
    std::fs::create_dir_all(dir.join("tests/failing")).unwrap();
    std::fs::write(scen.join("_common.rhai"), "fn pair(a, b) { veth(a, \"eth0\", b, \"eth0\"); }\n").unwrap();
    std::fs::write(
        scen.join("uses_helper.rhai"),
        "import \"_common\" as c;\nnetns_add(\"a\"); netns_add(\"b\");\nc::pair(\"a\", \"b\");\nassert_eq(link(\"a\", \"eth0\").peer, \"eth0\");\n",
    )
    .unwrap();
    std::fs::write(dir.join("tests/failing/bad.rhai"), "assert(false);\n").unwrap();
    let run = run_in(&dir, &["test"]);
    assert_eq!(run.code, 0, "{run:?}");
    let found = statuses(&run.stdout);
    assert_eq!(found.keys().collect::<Vec<_>>(), ["tests/scenarios/uses_helper.rhai"], "{run:?}");
}

#[test]
fn run_reports_sub_tests_and_skips() {
    let run = run_in(root(), &["run", "--sandbox", "tests/failing/subtests.rhai"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("sub-test \"lo is up\" failed:"), "{run:?}");
    assert!(run.stderr.contains("sub-test \"needs something absent\" skipped: the running kernel has no"), "{run:?}");
    let run = run_in(root(), &["run", "--sandbox", "tests/failing/skip.rhai"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("skipped: this scenario only runs on Tuesdays (line 3)"), "{run:?}");
    let scenarios: Vec<String> = std::fs::read_dir(root().join("tests/scenarios"))
        .unwrap()
        .map(|e| format!("tests/scenarios/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    let mut args = vec!["check"];
    args.extend(scenarios.iter().map(String::as_str));
    let run = run_in(root(), &args);
    assert_eq!(run.code, 0, "the pre-flight check knows the testing functions: {run:?}");
}

/// `require` agrees with iproute2 about what this kernel has.
#[test]
fn require_agrees_with_iproute2() {
    let kinds: &[(&str, &str)] = &[
        ("bridge", "ip link add t0 type bridge"),
        ("vxlan", "ip link add t0 type vxlan id 42 dstport 4789"),
        ("macvlan", "ip link add t0 link p0 type macvlan"),
        ("dummy", "ip link add t0 type dummy"),
        ("vlan", "ip link add t0 link p0 type vlan id 10"),
        ("bond", "ip link add t0 type bond"),
        ("vrf", "ip link add t0 type vrf table 10"),
        ("wireguard", "ip link add t0 type wireguard"),
        ("tbf", "tc qdisc add dev lo root tbf rate 1mbit burst 32kbit latency 400ms"),
        ("htb", "tc qdisc add dev lo root handle 1: htb"),
        ("netem", "tc qdisc add dev lo root netem delay 1ms"),
        ("fq_codel", "tc qdisc add dev lo root fq_codel"),
    ];
    let dir = scratch("require");
    let body: String = kinds.iter().map(|(k, _)| format!("test({k:?}, || require({k:?}));\n")).collect();
    std::fs::write(dir.join("features.rhai"), body).unwrap();
    let run = run_in(&dir, &["test", "--json", "features.rhai"]);
    let doc = json(&run.stdout);
    let subs = doc["scenarios"][0]["subtests"].as_array().unwrap_or_else(|| panic!("{run:?}")).clone();
    // The oracle: iproute2 in a private namespace, each attempt on its own.
    let snippet: String = kinds
        .iter()
        .map(|(k, cmd)| {
            format!("ip link add p0 type veth peer name p1; if {cmd} 2>/dev/null; then echo {k}=yes; else echo {k}=no; fi; ip link del t0 2>/dev/null; tc qdisc del dev lo root 2>/dev/null; ip link del p0\n")
        })
        .collect();
    let oracle = in_private_netns(&snippet);
    for ((kind, _), sub) in kinds.iter().zip(subs) {
        let has = oracle.stdout.lines().any(|l| l == format!("{kind}=yes"));
        assert_eq!(sub["name"], *kind);
        let want = if has { "pass" } else { "skip" };
        assert_eq!(sub["status"], want, "{kind}: nslab says {}, iproute2 says {has}: {oracle:?}", sub["status"]);
        if !has {
            println!("{kind}: absent on this kernel ({})", sub["problem"]["message"]);
        }
    }
}
