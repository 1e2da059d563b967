//! Error reports, compared whole: the miette rendering without colour at width 100 (what
//! NO_COLOR=1 gives), the status lines nslab prints after it, and the exit status. Trailing
//! blanks on a line are ignored (miette pads empty source lines).
//!
//! Scripts run without --sandbox inside a private network + mount namespace (see support), from
//! their own directory so the file name in the report is just the script's name.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{in_private_netns, nslab, scratch, Run};

/// Writes each (name, text) as NAME.rhai into one directory that any user can read.
fn write_scripts(test: &str, scripts: &[(&str, &str)]) -> PathBuf {
    let dir = scratch(test);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (name, text) in scripts {
        let path = dir.join(format!("{name}.rhai"));
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    dir
}

/// Runs every script with `nslab run` (prefixed by `wrap`, e.g. to drop privileges) in one
/// private namespace where the host already has a namespace "hostns"; returns, by name, what
/// nslab wrote to stderr followed by "exit N".
fn run_all(test: &str, scripts: &[(&str, &str)], wrap: &str) -> (HashMap<String, String>, Run) {
    let dir = write_scripts(test, scripts);
    let mut snippet = format!("ip netns add hostns\ncd {}\n", dir.display());
    for (name, _) in scripts {
        snippet += &format!(
            "{wrap} $NSLAB run {name}.rhai > /dev/null 2> /run/{name}.err; rc=$?\necho '={name}'; cat /run/{name}.err; echo \"exit $rc\"\n"
        );
    }
    let run = in_private_netns(&snippet);
    let mut out: HashMap<String, String> = HashMap::new();
    let mut current = None;
    for line in run.stdout.lines() {
        if let Some(name) = line.strip_prefix('=') {
            current = Some(name.to_string());
        } else if let Some(name) = &current {
            let text = out.entry(name.clone()).or_default();
            text.push_str(line.trim_end());
            text.push('\n');
        }
    }
    (out, run)
}

fn check_in(dir: &Path, files: &[&str]) -> Run {
    Command::new(nslab()).arg("check").args(files).current_dir(dir).env("NO_COLOR", "1").output().unwrap().into()
}

fn trimmed(text: &str) -> String {
    text.lines().map(str::trim_end).collect::<Vec<_>>().join("\n") + "\n"
}

/// The expected text, written flush left after an opening newline.
fn expected(text: &str) -> String {
    text.strip_prefix('\n').unwrap_or(text).to_string()
}

const SCRIPTS: &[(&str, &str)] = &[
    ("missing_namespace", "let n = netns(\"nope\");\n"),
    ("missing_link", "let n = netns_add(\"a\");\nup(n, \"eth9\");\n"),
    ("name_too_long", "veth(\"a_very_long_name_x\", \"b\");\n"),
    ("bad_cidr", "let n = netns_add(\"a\");\naddr(n, \"lo\", \"10.1.1.1/33\");\n"),
    ("bad_address", "addr(\"lo\", \"10.1.1.300/24\");\n"),
    ("duplicate_namespace", "netns_add(\"x\");\nnetns_add(\"x\");\n"),
    ("duplicate_host_namespace", "netns_add(\"hostns\");\n"),
    ("duplicate_link", "veth(\"v0\", \"v1\");\nveth(\"v0\", \"v2\");\n"),
    ("wrong_type", "up(42);\n"),
    ("wrong_namespace_type", "up(3.5, \"lo\");\n"),
    ("wrong_process_type", "kill(\"1\");\n"),
    ("nested_call", "fn make(name) {\n    let n = netns_add(name);\n    n.up(\"eth9\");\n}\n\nmake(\"x\");\n"),
    ("missing_program", "let n = netns_add(\"a\");\nlet p = spawn_in(n, \"no-such-program --flag\");\n"),
    ("assertion", "let ok = 1 + 1 == 3;\nassert(ok, \"arithmetic works\");\n"),
    ("syntax", "let n = netns_add(\"a\");\nlet x = ;\n"),
    ("wrong_count_at_run", "let n = netns_add(\"a\");\nup(n, \"lo\", true);\n"),
    ("fine", "let n = netns_add(\"a\");\nup(n, \"lo\");\n"),
];

const EXPECTED: &[(&str, &str)] = &[
    (
        "missing_namespace",
        r#"
  × namespace "nope" does not exist
   ╭─[missing_namespace.rhai:1:9]
 1 │ let n = netns("nope");
   ·         ──────┬──────
   ·               ╰── this call failed
   ╰────
  help: create it first with netns_add("nope"); netns_list() shows the ones that exist

torn down: nothing to remove
exit 1
"#,
    ),
    (
        "missing_link",
        r#"
  × link "eth9" does not exist in namespace "a"
   ╭─[missing_link.rhai:2:1]
 1 │ let n = netns_add("a");
 2 │ up(n, "eth9");
   · ──────┬──────
   ·       ╰── this call failed
   ╰────
  help: links(ns) lists the links a namespace has; a link moved with move_to is found in its new
        namespace

torn down: 1 namespace
exit 1
"#,
    ),
    (
        "name_too_long",
        r#"
  × invalid interface name "a_very_long_name_x": it is 18 bytes long; the kernel allows at most 15
   ╭─[name_too_long.rhai:1:1]
 1 │ veth("a_very_long_name_x", "b");
   · ───────────────┬───────────────
   ·                ╰── this call failed
   ╰────

torn down: nothing to remove
exit 1
"#,
    ),
    (
        "bad_cidr",
        r#"
  × invalid address "10.1.1.1/33": the prefix length "33" is not a number from 0 to 32
   ╭─[bad_cidr.rhai:2:1]
 1 │ let n = netns_add("a");
 2 │ addr(n, "lo", "10.1.1.1/33");
   · ──────────────┬─────────────
   ·               ╰── this call failed
   ╰────

torn down: 1 namespace
exit 1
"#,
    ),
    (
        "bad_address",
        r#"
  × invalid address "10.1.1.300/24": "10.1.1.300" is not an IPv4 or IPv6 address (expected e.g.
  │ "10.1.1.1/24")
   ╭─[bad_address.rhai:1:1]
 1 │ addr("lo", "10.1.1.300/24");
   · ─────────────┬─────────────
   ·              ╰── this call failed
   ╰────

torn down: nothing to remove
exit 1
"#,
    ),
    (
        "duplicate_namespace",
        r#"
  × namespace "x" already exists (this lab created it earlier)
   ╭─[duplicate_namespace.rhai:2:1]
 1 │ netns_add("x");
 2 │ netns_add("x");
   · ───────┬──────
   ·        ╰── this call failed
   ╰────
  help: pick another name, or use netns(name) to work with the existing one

torn down: 1 namespace
exit 1
"#,
    ),
    (
        "duplicate_host_namespace",
        r#"
  × namespace "hostns" already exists (on the host, not created by nslab)
   ╭─[duplicate_host_namespace.rhai:1:1]
 1 │ netns_add("hostns");
   · ─────────┬─────────
   ·          ╰── this call failed
   ╰────
  help: pick another name, or use netns(name) to work with the existing one

torn down: nothing to remove
exit 1
"#,
    ),
    (
        "duplicate_link",
        r#"
  × link "v0" already exists in the root namespace (this lab created it earlier)
   ╭─[duplicate_link.rhai:2:1]
 1 │ veth("v0", "v1");
 2 │ veth("v0", "v2");
   · ────────┬───────
   ·         ╰── this call failed
   ╰────
  help: a namespace holds one link of each name: pick another name, or rename the one there first

torn down: 1 link
exit 1
"#,
    ),
    (
        "wrong_type",
        r#"
  × the first argument of up must be a link name (a string), not the integer 42
   ╭─[wrong_type.rhai:1:1]
 1 │ up(42);
   · ───┬──
   ·    ╰── this call failed
   ╰────

torn down: nothing to remove
exit 1
"#,
    ),
    (
        "wrong_namespace_type",
        r#"
  × the first argument of up must be a namespace (a name or a Netns handle), not the float 3.5
   ╭─[wrong_namespace_type.rhai:1:1]
 1 │ up(3.5, "lo");
   · ──────┬──────
   ·       ╰── this call failed
   ╰────

torn down: nothing to remove
exit 1
"#,
    ),
    (
        "wrong_process_type",
        r#"
  × the first argument of kill must be a process (from spawn_in), not the string "1"
   ╭─[wrong_process_type.rhai:1:1]
 1 │ kill("1");
   · ────┬────
   ·     ╰── this call failed
   ╰────

torn down: nothing to remove
exit 1
"#,
    ),
    (
        "nested_call",
        r#"
  × link "eth9" does not exist in namespace "x"
   ╭─[nested_call.rhai:3:7]
 2 │     let n = netns_add(name);
 3 │     n.up("eth9");
   ·       ─────┬────
   ·            ╰── this call failed
 4 │ }
 5 │
 6 │ make("x");
   · ────┬────
   ·     ╰── in make(), called here
   ╰────
  help: links(ns) lists the links a namespace has; a link moved with move_to is found in its new
        namespace

torn down: 1 namespace
exit 1
"#,
    ),
    (
        "missing_program",
        r#"
  × cannot run "no-such-program" in namespace "a": no such program (is it installed and on PATH?)
   ╭─[missing_program.rhai:2:9]
 1 │ let n = netns_add("a");
 2 │ let p = spawn_in(n, "no-such-program --flag");
   ·         ──────────────────┬──────────────────
   ·                           ╰── this call failed
   ╰────

torn down: 1 namespace
exit 1
"#,
    ),
    (
        "assertion",
        r#"
  × assertion failed: arithmetic works
   ╭─[assertion.rhai:2:1]
 1 │ let ok = 1 + 1 == 3;
 2 │ assert(ok, "arithmetic works");
   · ───────────────┬──────────────
   ·                ╰── this assertion
   ╰────

torn down: nothing to remove
exit 1
"#,
    ),
    // Caught before anything runs: the namespace on line 1 is never created.
    (
        "syntax",
        r#"
  × syntax error: Unexpected ';'
   ╭─[syntax.rhai:2:9]
 1 │ let n = netns_add("a");
 2 │ let x = ;
   ·         ┬
   ·         ╰── here
   ╰────

torn down: nothing to remove
exit 1
"#,
    ),
    (
        "wrong_count_at_run",
        r#"
  × up takes 1 or 2 arguments, but 3 arguments given here
   ╭─[wrong_count_at_run.rhai:2:1]
 1 │ let n = netns_add("a");
 2 │ up(n, "lo", true);
   · ────────┬────────
   ·         ╰── here
   ╰────
  help: forms: up(link); up(ns, link)

torn down: nothing to remove
exit 1
"#,
    ),
    (
        "fine",
        r#"
torn down: 1 namespace
exit 0
"#,
    ),
];

#[test]
fn run_errors_render_exactly() {
    let (out, run) = run_all("errors-run", SCRIPTS, "");
    assert_eq!(run.code, 0, "{run:?}");
    let mut mismatches = Vec::new();
    for (name, want) in EXPECTED {
        let got = out.get(*name).cloned().unwrap_or_default();
        if got != expected(want) {
            mismatches.push(format!("--- {name}: expected\n{}--- got\n{got}", expected(want)));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert_eq!(EXPECTED.len(), SCRIPTS.len(), "every script has its expected report");
}

/// Without --sandbox and without CAP_NET_ADMIN: the cause and what to do about it.
#[test]
fn permission_denied_for_an_unprivileged_user() {
    let scripts = [("permission", "netns_add(\"x\");\n"), ("read_only", "print(exec(\"id -u\").stdout);\n")];
    let (out, run) = run_all("errors-permission", &scripts, "setpriv --reuid=65534 --regid=65534 --clear-groups");
    assert_eq!(run.code, 0, "{run:?}");
    let want = r#"
  × permission denied: cannot prepare /run/netns
   ╭─[permission.rhai:1:1]
 1 │ netns_add("x");
   · ───────┬──────
   ·        ╰── this call failed
   ╰────
  help: changing network namespaces needs CAP_NET_ADMIN: run as root, or run with --sandbox to
        work in a private namespace

torn down: nothing to remove
exit 1
"#;
    assert_eq!(out["permission"], expected(want), "{run:?}");
    // Running a program needs no privilege (it is then simply not recorded in the ledger).
    assert_eq!(out["read_only"], "torn down: nothing to remove\nexit 0\n", "{run:?}");
}

/// `nslab check` finds unknown functions and wrong argument counts without running anything.
#[test]
fn check_reports_unknown_functions_and_argument_counts() {
    let dir = write_scripts(
        "errors-check",
        &[
            ("check", "let n = netns_ad(\"x\");\nup(\"a\", \"b\", \"c\");\nn.upp(\"lo\");\n"),
            ("fine", "let n = netns_add(\"a\");\n"),
        ],
    );
    let run = check_in(&dir, &["check.rhai", "fine.rhai"]);
    let want = r#"
  × unknown function netns_ad
   ╭─[check.rhai:1:9]
 1 │ let n = netns_ad("x");
   ·         ──────┬──────
   ·               ╰── here
 2 │ up("a", "b", "c");
   ╰────
  help: did you mean netns_add? (netns_add(name) -> Netns; netns_add(name, #{on}) -> Netns)

  × up takes 1 or 2 arguments, but 3 arguments given here
   ╭─[check.rhai:2:1]
 1 │ let n = netns_ad("x");
 2 │ up("a", "b", "c");
   · ────────┬────────
   ·         ╰── here
 3 │ n.upp("lo");
   ╰────
  help: forms: up(link); up(ns, link)

  × unknown function upp
   ╭─[check.rhai:3:3]
 2 │ up("a", "b", "c");
 3 │ n.upp("lo");
   ·   ────┬────
   ·       ╰── here
   ╰────
  help: did you mean up? (up(link); up(ns, link))

"#;
    assert_eq!((run.code, trimmed(&run.stderr)), (1, expected(want)), "{run:?}");
    assert_eq!(run.stdout, "");

    let run = check_in(&dir, &["fine.rhai"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, "ok: 1 script checked, no problems found\n"), "{run:?}");
}

/// Exit statuses: 0 success, 1 any error, 2 a usage problem (here: no such file).
#[test]
fn exit_status_of_usage_errors() {
    let dir = write_scripts("errors-usage", &[]);
    let run = check_in(&dir, &["nosuch.rhai"]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (2, "  × cannot read nosuch.rhai: No such file or directory (os error 2)\n\n"),
        "{run:?}"
    );
    let run: Run =
        Command::new(nslab()).args(["run", "nosuch.rhai"]).current_dir(&dir).env("NO_COLOR", "1").output().unwrap().into();
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (2, "  × cannot read nosuch.rhai: No such file or directory (os error 2)\n\n"),
        "{run:?}"
    );
}
