//! Errors in the user's terms, end to end through the binary: the place each is reported at
//! (file:line:col), the exit status, errors inside imported modules, scripts saved with a
//! byte-order mark, lab names that are any file name, and `run` and `test` agreeing on what a
//! failed teardown is. (The messages of bad input to every function: `bad_inputs.rs`.)

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::{nslab, run_nslab, scratch, script, Run};

/// The report's message (miette wraps long ones: the lines are joined again) and the place it
/// points at ("file:line:col").
fn reported(run: &Run) -> (String, String) {
    let message = reported_plain(run);
    assert!(!message.is_empty(), "no report in {run:?}");
    let place = run
        .stderr
        .lines()
        .find_map(|l| l.split_once("╭─[").and_then(|(_, rest)| rest.strip_suffix(']')))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no place in {run:?}"));
    (message, place)
}

fn run_sandboxed(path: &std::path::Path) -> Run {
    run_nslab(&["run", "--sandbox", path.to_str().unwrap()])
}

/// Checks made before the kernel is asked, and errnos put in words, at the failing call's line
/// and column, with status 1 and the lab torn down.
#[test]
fn errors_point_at_the_call_and_fail_the_run() {
    let setup = "let n = netns_add(\"a\");\nveth(n, \"v0\", n, \"v1\");\n";
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "hostbits",
            "  route(n, \"10.9.0.1/24\", #{dev: \"v0\"});\n",
            "3:3",
            "invalid route destination \"10.9.0.1/24\": host bits are set; the network is 10.9.0.0/24",
        ),
        (
            "multicast",
            "addr(n, \"v0\", \"10.0.0.1/24\"); addr(n, \"v0\", \"239.0.0.1/24\");\n",
            "3:31",
            "invalid address \"239.0.0.1/24\": 239.0.0.1 is a multicast group address (224.0.0.0/4), not a host's; a link's \
             address must be a unicast one, like \"10.1.1.1/24\"",
        ),
        (
            "lo",
            "let b = netns_add(\"b\");\nmove_to(n, \"lo\", b);\n",
            "4:1",
            "link \"lo\" cannot leave namespace \"a\": it is the namespace's loopback link (every namespace has its own)",
        ),
        (
            "underlay",
            "vxlan(n, \"vx0\", #{id: 42, remote: \"239.1.1.1\"});\n",
            "3:1",
            "vxlan \"vx0\" sends to the multicast group 239.1.1.1, which needs an underlay link to join it on: add dev, \
             like #{dev: \"eth0\"}",
        ),
        (
            "mtu",
            "veth(n, \"x0\", \"x1\", #{mtu: -1});\n",
            "3:1",
            "invalid MTU \"-1\": veth \"x0\" takes MTUs from 68 (the IPv4 minimum) to 65535",
        ),
        (
            "rate",
            "shape(n, \"v0\", #{rate: 8});\n",
            "3:1",
            "invalid rate \"8\": the lowest rate on a link with mtu 1500 is 184bit: the default bucket, four full packets \
             (6056 bytes), must drain within the kernel's limit of 275 s",
        ),
        (
            "addr_del",
            "up(n, \"lo\");\naddr_del(n, \"lo\", \"127.0.0.2/8\");\n",
            "4:1",
            "link \"lo\" in namespace \"a\" has no address 127.0.0.2/8; it has: 127.0.0.1/8, ::1/128",
        ),
        (
            "route_exists",
            "addr(n, \"v0\", \"10.0.0.1/24\");\nup(n, \"v0\");\nroute(n, \"10.7.0.0/16\", \"10.0.0.2\");\n\
             route(n, \"10.7.0.0/16\", \"10.0.0.3\");\n",
            "6:1",
            "route \"10.7.0.0/16\" already exists in namespace \"a\": 10.7.0.0/16 via 10.0.0.2 dev v0 metric 0",
        ),
    ];
    for (name, code, place, message) in cases {
        let path = script("user-errors-place", &format!("{name}.rhai"), &format!("{setup}{code}"));
        let run = run_sandboxed(&path);
        assert_eq!(run.code, 1, "{name}: {run:?}");
        let (got, at) = reported(&run);
        assert_eq!(got, *message, "{name}: {run:?}");
        assert!(at.ends_with(&format!("{name}.rhai:{place}")), "{name}: at {at}, expected {place}: {run:?}");
        let last = run.stderr.trim_end().lines().last().unwrap_or_default();
        assert!(last.starts_with("torn down: ") && last.contains("namespace") && !last.contains("could not"), "{name}: {run:?}");
    }
}

/// An error inside an imported module is shown in the module, at its own line, with the import
/// as the related place: not as "Runtime error: ...CallFailure".
#[test]
fn an_error_in_an_imported_module_is_shown_in_the_module() {
    let dir = scratch("user-errors-module");
    std::fs::write(dir.join("lib.rhai"), "let x = 1;\nnetns(\"nope\");\n").unwrap();
    std::fs::write(dir.join("broken.rhai"), "let x = 1;\nlet y = ;\n").unwrap();
    std::fs::write(dir.join("main.rhai"), "let n = netns_add(\"a\");\nimport \"lib\" as lib;\n").unwrap();
    std::fs::write(dir.join("syntax.rhai"), "import \"broken\" as b;\n").unwrap();

    let run = run_sandboxed(&dir.join("main.rhai"));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(!run.stderr.contains("CallFailure") && !run.stderr.contains("Runtime error"), "{run:?}");
    let (message, at) = reported(&run);
    assert_eq!(message, "namespace \"nope\" does not exist", "{run:?}");
    assert!(at.ends_with("lib.rhai:2:1"), "the module's own place, not the import's: {at}");
    assert!(run.stderr.contains("☞ imported here"), "{run:?}");
    assert!(run.stderr.contains("main.rhai:2:8]"), "the import is the related place: {run:?}");
    assert!(run.stderr.contains("help: create it first with netns_add(\"nope\")"), "the module error's hint: {run:?}");
    assert!(run.stderr.trim_end().ends_with("torn down: 1 namespace"), "{run:?}");

    let run = run_sandboxed(&dir.join("syntax.rhai"));
    assert_eq!(run.code, 1, "{run:?}");
    let (message, at) = reported(&run);
    assert_eq!(message, "syntax error: Unexpected ';'", "{run:?}");
    assert!(at.ends_with("broken.rhai:2:9"), "{at}");
    assert!(run.stderr.contains("syntax.rhai:1:8]"), "{run:?}");
}

/// A script saved with a UTF-8 byte-order mark runs, checks, tests and imports as without one,
/// and errors in it are placed as the editor shows them (the mark is not a column).
#[test]
fn a_byte_order_mark_is_ignored() {
    const BOM: &str = "\u{feff}";
    let dir = scratch("user-errors-bom");
    std::fs::write(dir.join("helpers.rhai"), format!("{BOM}fn twice(x) {{ x * 2 }}\nlet y = 1;\n")).unwrap();
    std::fs::write(dir.join("fine.rhai"), format!("{BOM}import \"helpers\" as h;\nlet y = h::twice(21);\nprint(y);\n")).unwrap();
    std::fs::write(dir.join("fails.rhai"), format!("{BOM}netns(\"nope\");\n")).unwrap();
    std::fs::write(dir.join("late.rhai"), format!("let x = 1;{BOM}\n")).unwrap();

    let run = run_sandboxed(&dir.join("fine.rhai"));
    assert_eq!((run.code, run.stdout.as_str()), (0, "42\n"), "{run:?}");

    let run = run_sandboxed(&dir.join("fails.rhai"));
    assert_eq!(run.code, 1, "{run:?}");
    let (message, at) = reported(&run);
    assert_eq!(message, "namespace \"nope\" does not exist");
    assert!(at.ends_with("fails.rhai:1:1"), "{at}");

    let run = run_nslab(&["check", dir.join("fine.rhai").to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    let test_dir = scratch("user-errors-bom-test");
    std::fs::write(test_dir.join("bom.rhai"), format!("{BOM}let n = netns_add(\"x\");\nassert(netns_exists(n));\n")).unwrap();
    let run = run_nslab(&["test", test_dir.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("1 passed"), "{run:?}");

    // The REPL after a script (`run -i`) sees what the script made.
    let mut child = Command::new(nslab())
        .args(["run", "-i", "--sandbox", dir.join("fine.rhai").to_str().unwrap()])
        .env("NO_COLOR", "1")
        .env("NSLAB_HISTORY", "")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"y + 1\n").unwrap();
    let run: Run = child.wait_with_output().unwrap().into();
    assert_eq!((run.code, run.stdout.as_str()), (0, "42\n43\n"), "{run:?}");

    // Anywhere but the start, the invisible character is named.
    let run = run_nslab(&["check", dir.join("late.rhai").to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:?}");
    let (message, at) = reported(&run);
    assert_eq!(
        message,
        "syntax error: unexpected invisible character U+FEFF (a byte-order mark: only the very start of a file may have one)"
    );
    assert!(at.ends_with("late.rhai:1:11"), "{at}");
}

/// A lab is named after its script, whatever the script's file name; only what no file name can
/// be is refused, saying what.
#[test]
fn a_lab_may_have_any_file_name() {
    let path = script("user-errors-names", "my lab (v2).rhai", "let n = netns_add(\"x\");\nprint(netns_list());\n");
    let run = run_sandboxed(&path);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "[\"x\"]\n", "{run:?}");

    let file = path.to_str().unwrap();
    let refused = |name: &str| run_nslab(&["run", "--sandbox", "--name", name, file]);
    let run = refused("a/b");
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(reported_plain(&run), "invalid lab name \"a/b\": it contains '/': a lab name is a file name, not a path");
    let run = refused(&"x".repeat(256));
    assert_eq!(run.code, 2, "{run:?}");
    assert!(reported_plain(&run).ends_with("it is 256 bytes long; a lab name may have at most 255, as a file name"), "{run:?}");
    let run = refused("");
    assert_eq!(run.code, 2, "{run:?}");
    assert!(reported_plain(&run).ends_with("it is empty; give one with --name"), "{run:?}");
}

/// A report's message, its wrapped lines joined.
fn reported_plain(run: &Run) -> String {
    let mut lines = run.stderr.lines().skip_while(|l| !l.trim_start().starts_with('×'));
    let Some(first) = lines.next() else { return String::new() };
    let mut parts = vec![first.trim_start().trim_start_matches('×').trim().to_string()];
    parts.extend(lines.map_while(|l| l.trim_start().strip_prefix('│')).map(|l| l.trim().to_string()));
    parts.join(" ")
}

/// A sysctl of a link the script deleted is gone, not a failed teardown; a sysctl that cannot be
/// put back is one. `run` and `test` say the same of both.
#[test]
fn run_and_test_agree_on_a_failed_teardown() {
    // The link's setting goes with the link: nothing to restore.
    let gone = "let n = netns_add(\"n\");\nveth((), \"a\", n, \"b\");\nsysctl(\"net.ipv4.conf.a.forwarding\", 1);\n\
                netns_del(n);\nwait_until(|| links().len() == 1, 5);\n";
    // Someone raised the port range's floor past the value to restore: the kernel refuses it.
    let stuck = "sysctl(\"net.ipv4.ip_unprivileged_port_start\", 100);\n\
                 let r = exec([\"sh\", \"-c\", \"echo 500 60999 > /proc/sys/net/ipv4/ip_local_port_range\"]);\n\
                 assert(r.ok, r.stderr);\n";
    for (name, text, failed) in [("gone", gone, false), ("stuck", stuck, true)] {
        let dir = scratch(&format!("user-errors-teardown-{name}"));
        let path = dir.join(format!("{name}.rhai"));
        std::fs::write(&path, text).unwrap();
        let run = run_sandboxed(&path);
        let tested = run_nslab(&["test", dir.to_str().unwrap()]);
        assert_eq!(run.code, i32::from(failed), "run, {name}: {run:?}");
        assert_eq!(tested.code, i32::from(failed), "test, {name}: {tested:?}");
        assert_eq!(run.stderr.contains("could not be removed"), failed, "{run:?}");
        if failed {
            assert!(run.stderr.contains("sysctl net.ipv4.ip_unprivileged_port_start: write"), "{run:?}");
            assert!(
                tested.stdout.contains("teardown could not remove everything: sysctl net.ipv4.ip_unprivileged_port_start"),
                "{tested:?}"
            );
        }
    }
}
