//! Programs run in the sandbox's own network namespace see the sandbox's links, never the
//! machine's: in `/sys/class/net` and `/proc/net` (`nslab run --sandbox`, the REPL; `nslab test`
//! runs tests/scenarios/sandbox_view.rhai with the other scenarios).

use std::process::Command;

use crate::support::{nslab, piped, Run};

const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scenarios/sandbox_view.rhai");

#[test]
fn run_sandbox_programs_see_the_sandbox() {
    let run: Run = Command::new(nslab()).args(["run", "--sandbox", SCENARIO]).env("NO_COLOR", "1").output().unwrap().into();
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.ends_with("torn down: 1 link\n"), "{run:?}");
}

#[test]
fn repl_sandbox_programs_see_the_sandbox() {
    let input = "veth(\"r0\", \"r1\");\nexec(\"ls /sys/class/net\").stdout\n\
                 exec(\"ip link set r1 alias in-repl\").ok\nexec(\"cat /sys/class/net/r1/ifalias\").stdout\n";
    let run = piped(&["repl", "--sandbox"], input);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "\"lo\\nr0\\nr1\\n\"\ntrue\n\"in-repl\\n\"\n", "{run:?}");
}
