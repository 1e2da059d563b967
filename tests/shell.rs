//! `run --sandbox --keep` keeps the sandbox (a holder process); `ls` shows the lab as kept,
//! `nslab shell` enters its namespaces (driven through a pty by script(1)), `down` ends it.
//! Everything runs in a private network + mount namespace with its own /run.

use crate::support::{in_private_netns, script, sections};

const LAB: &str = r#"
let h1 = netns_add("h1");
let h2 = netns_add("h2");
veth(h1, "eth0", h2, "eth0");
addr(h1, "eth0", "10.0.0.1/24");
addr(h2, "eth0", "10.0.0.2/24");
up(h1, "eth0"); up(h2, "eth0");
"#;

#[test]
fn a_kept_sandbox_lab_is_listed_entered_and_ended() {
    let lab = script("shell_kept", "kept.rhai", LAB);
    let run = in_private_netns(&format!(
        r#"
echo =run; $NSLAB run --sandbox --keep {lab} 2>&1; echo "code $?"
echo =ls; $NSLAB ls
echo =host; ip netns list
echo =tty; printf 'echo "in $NSLAB_NETNS"; ip -br -4 addr show eth0; exit 3\n' | script -qec "$NSLAB shell kept h1" /dev/null; echo "status $?"
echo =cmd; $NSLAB shell kept h2 -- ip -br -4 addr show eth0; echo "status $?"
echo =home; $NSLAB shell kept -- ip netns list
echo =wrong; $NSLAB shell kept h9 -- true 2>&1; echo "status $?"
echo =down; $NSLAB down kept 2>&1; echo "status $?"
echo =after; $NSLAB ls; $NSLAB shell kept h1 -- true 2>&1; ls /run/nslab/sandboxes
"#,
        lab = lab.display()
    ));
    let s = sections(&run.stdout);
    assert!(s["run"].contains("kept: lab kept (id ") && s["run"].contains("code 0"), "{run:?}");
    let ls = &s["ls"];
    let row = ls.lines().nth(1).unwrap_or_else(|| panic!("{run:?}"));
    assert!(row.starts_with("kept ") && row.contains(" kept ") && row.ends_with("2 namespaces in its sandbox"), "{ls}");
    assert_eq!(s["host"], "", "the sandbox's namespaces are not the machine's");
    let tty = &s["tty"];
    assert!(tty.contains("in h1"), "{tty}");
    assert!(tty.contains("10.0.0.1/24"), "{tty}");
    assert!(tty.trim_end().ends_with("status 3"), "{tty}");
    assert!(s["cmd"].contains("10.0.0.2/24") && s["cmd"].trim_end().ends_with("status 0"), "{}", s["cmd"]);
    assert_eq!(s["home"].lines().collect::<Vec<_>>(), ["h2", "h1"]);
    assert!(s["wrong"].contains("lab kept has no namespace \"h9\"") && s["wrong"].contains("status 1"), "{}", s["wrong"]);
    assert!(s["down"].contains("lab kept (id ") && s["down"].contains("ended with its sandbox"), "{}", s["down"]);
    assert!(s["down"].trim_end().ends_with("status 0"));
    let after = &s["after"];
    assert!(after.starts_with("NAME ") && !after.contains(" kept ") && !after.contains(".json"), "{after}");
    assert!(after.contains("no lab named \"kept\" is standing"), "{after}");
}

#[test]
fn shell_in_a_script_runs_on_the_terminal_and_returns_its_status() {
    let lab = script(
        "shell_fn",
        "lab.rhai",
        &format!("{LAB}\nprint(`status ${{shell(h1)}}`);\nprint(`cmd ${{shell(h2, \"true\")}}`);\n"),
    );
    let run = in_private_netns(&format!(
        r#"printf 'echo "in $NSLAB_NETNS"; exit 5\n' | script -qec "$NSLAB run --sandbox {}" /dev/null"#,
        lab.display()
    ));
    assert!(run.stdout.contains("in h1"), "{run:?}");
    assert!(run.stdout.contains("status 5"), "{run:?}");
    assert!(run.stdout.contains("cmd 0"), "{run:?}");
}
