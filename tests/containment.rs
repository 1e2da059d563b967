//! No process outlives its lab: whatever is killed (nslab, the sandbox's whole process group, the
//! test runner) with whatever signal, every program the lab started ends, and everything those
//! started (`&` in `exec_in`, `setsid` children, double-forked daemons). See docs/processes.md.
//!
//! Each test notes the whole tree of processes under nslab before killing it and then checks
//! through /proc (`ps`) that none of them runs any more; background programs are `sleep N` with
//! an N unique to this file (61xx-66xx), found through /proc by `pgrep -x` and `processes`.

use std::time::Duration;

use expectrl::session::OsSession;
use expectrl::Expect;

use crate::support::{cpu_heavy, in_private_netns, nslab, processes, scratch, script, sections, Run};

/// Bash functions for the snippets: `tree PID` lists PID and all its descendants, `alive PIDS`
/// counts those still running (a zombie has ended), `until_gone PIDS` waits up to 2 s for them
/// to end and prints how many still run, `wait_for FILE TEXT PID` waits for TEXT in FILE.
const PRELUDE: &str = r#"
tree() { echo $1; for c in $(pgrep -P $1); do tree $c; done; }
alive() { n=0; for p in "$@"; do s=$(ps -o stat= -p $p 2>/dev/null); case "$s" in ""|Z*) ;; *) n=$((n+1));; esac; done; echo $n; }
until_gone() { for i in $(seq 200); do [ "$(alive "$@")" = 0 ] && break; sleep 0.01; done; alive "$@"; }
wait_for() { while ! grep -q "$2" "$1" 2>/dev/null; do kill -0 "$3" 2>/dev/null || return 1; sleep 0.01; done; }
count_until() { while [ "$(pgrep -fcx "$1")" != "$2" ]; do kill -0 "$3" 2>/dev/null || return 1; sleep 0.01; done; }
"#;

fn run_in_private(snippet: &str) -> Run {
    in_private_netns(&format!("{PRELUDE}\n{snippet}"))
}

/// A lab whose programs leave their process groups every way there is: a program backgrounded
/// inside `exec_in`, a `setsid` child of a spawned program, a double-forked daemon (its parent
/// gone, in a session of its own), and a `setsid` child of a program in nslab's own namespace.
/// Six sleeps `sleep {base}1` .. `sleep {base}6` run when it prints "ready".
fn escaping_lab(base: u32) -> String {
    format!(
        r#"
        let a = netns_add("a");
        a.up("lo");
        exec_in(a, "sh -c 'sleep {base}1 &'");
        spawn_in(a, ["sh", "-c", "setsid sleep {base}2 & exec sleep {base}3"]);
        spawn_in(a, ["sh", "-c", "(setsid sh -c 'sleep {base}4 & exit' &); exit 0"]).wait();
        spawn(["sh", "-c", "setsid sleep {base}5 & exec sleep {base}6"]);
        print("ready");
        sleep(1000);
        "#
    )
}

/// Host mode, `kill -9` of nslab: every program ends with it (the kernel ends the lab's PID
/// namespace when its init dies with nslab), before `nslab clean` even runs; `clean` then finds
/// only the namespace.
#[test]
fn kill_9_of_nslab_ends_every_program_and_what_it_started() {
    let path = script("contain-host", "escape.rhai", &escaping_lab(610));
    let run = run_in_private(&format!(
        r#"$NSLAB run {p} > /run/out 2>&1 & P=$!
        wait_for /run/out ready $P; count_until 'sleep 610[1-6]' 6 $P
        T=$(tree $P)
        echo "=before"; alive $T
        kill -9 $P; wait $P; rc=$?; echo "=rc"; echo $rc
        echo "=after-kill"; until_gone $T; pgrep -fcx 'sleep 610[1-6]'
        echo "=clean"; $NSLAB clean 2>&1; echo "status $?"
        echo "=end"; ip -j netns list; ls /run/nslab | wc -l; pgrep -fcx 'sleep 610[1-6]'"#,
        p = path.display()
    ));
    let s = sections(&run.stdout);
    // nslab, its init, and at least the six sleeps (plus the shells still waiting).
    let before: usize = s["before"].trim().parse().unwrap_or_else(|_| panic!("{run:?}"));
    assert!(before >= 8, "{run:?}");
    assert_eq!(s["rc"], "137\n", "{run:?}");
    assert_eq!(s["after-kill"], "0\n0\n", "nothing of the lab runs 2 s after kill -9: {run:?}");
    assert!(s["clean"].ends_with("torn down: 1 namespace\nstatus 0\n"), "{run:?}");
    assert_eq!(s["end"], "[]\n0\n0\n", "{run:?}");
    for n in 1..=6 {
        assert_eq!(processes(&["sleep", &format!("610{n}")]), Vec::<i32>::new());
    }
}

/// `--sandbox`, `kill -9` of its whole process group (the keeper and the lab at once, so nobody
/// is left to tear anything down): every program still ends.
#[test]
fn kill_9_of_a_sandboxed_runs_process_group_ends_every_program() {
    let path = script("contain-sandbox", "escape.rhai", &escaping_lab(620));
    let run = run_in_private(&format!(
        r#"setsid $NSLAB run --sandbox {p} > /run/out 2>&1 & P=$!
        wait_for /run/out ready $P; count_until 'sleep 620[1-6]' 6 $P
        T=$(tree $P)
        echo "=group"; [ "$(ps -o pgid= -p $P | tr -d ' ')" = "$P" ] && echo "own group"
        echo "=before"; alive $T
        kill -9 -$P; wait $P; rc=$?; echo "=rc"; echo $rc
        echo "=after-kill"; until_gone $T; pgrep -fcx 'sleep 620[1-6]'"#,
        p = path.display()
    ));
    let s = sections(&run.stdout);
    assert_eq!(s["group"], "own group\n", "{run:?}");
    // The keeper, the lab, its init, and at least the six sleeps.
    let before: usize = s["before"].trim().parse().unwrap_or_else(|_| panic!("{run:?}"));
    assert!(before >= 9, "{run:?}");
    assert_eq!(s["rc"], "137\n", "{run:?}");
    assert_eq!(s["after-kill"], "0\n0\n", "nothing of the lab runs 2 s after kill -9: {run:?}");
    for n in 1..=6 {
        assert_eq!(processes(&["sleep", &format!("620{n}")]), Vec::<i32>::new());
    }
}

/// `kill -9` of `nslab test` while a scenario spins with a 60 s time limit: the scenario's
/// processes (its keeper, its lab, the lab's programs) all end within a couple of seconds.
#[test]
fn kill_9_of_the_test_runner_ends_every_scenario() {
    // The scenarios spin on both CPUs until killed.
    let _serial = cpu_heavy();
    let dir = scratch("contain-runner");
    std::fs::write(
        dir.join("spin.rhai"),
        r#"// timeout: 60
        spawn(["sh", "-c", "setsid sleep 6301 & exec sleep 6302"]);
        loop {}
        "#,
    )
    .unwrap();
    std::fs::write(
        dir.join("spin2.rhai"),
        r#"// timeout: 60
        let n = netns_add("s");
        spawn_in(n, ["sh", "-c", "(setsid sh -c 'sleep 6303 & exit' &); exec sleep 6304"]);
        loop {}
        "#,
    )
    .unwrap();
    let run = run_in_private(&format!(
        r#"$NSLAB test --jobs 2 {d} > /run/out 2>&1 & R=$!
        count_until 'sleep 630[1-4]' 4 $R
        T=$(tree $R)
        echo "=before"; alive $T
        kill -9 $R; wait $R; rc=$?; echo "=rc"; echo $rc
        echo "=after-kill"; until_gone $T; pgrep -fcx 'sleep 630[1-4]'; pgrep -fc '{d}' "#,
        d = dir.display()
    ));
    let s = sections(&run.stdout);
    // The runner; per scenario its keeper, lab, init and two sleeps at least.
    let before: usize = s["before"].trim().parse().unwrap_or_else(|_| panic!("{run:?}"));
    assert!(before >= 11, "{run:?}");
    assert_eq!(s["rc"], "137\n", "{run:?}");
    assert_eq!(s["after-kill"], "0\n0\n0\n", "nothing of the scenarios runs 2 s after kill -9: {run:?}");
    for n in 1..=4 {
        assert_eq!(processes(&["sleep", &format!("630{n}")]), Vec::<i32>::new());
    }
}

/// SIGQUIT (Ctrl-\) is a request to stop like SIGTERM: the run stops and tears its lab down,
/// programs and what they started included, instead of dying on the spot.
#[test]
fn sigquit_tears_a_host_mode_run_down() {
    let path = script(
        "contain-sigquit",
        "quit.rhai",
        r#"
        let q = netns_add("q");
        spawn_in(q, ["sh", "-c", "setsid sleep 6401 & exec sleep 6402"]);
        print("ready");
        sleep(1000);
        "#,
    );
    let run = run_in_private(&format!(
        r#"$NSLAB run {p} > /run/out 2> /run/err & P=$!
        wait_for /run/out ready $P; count_until 'sleep 640[12]' 2 $P
        kill -QUIT $P; wait $P; rc=$?; echo "=rc"; echo $rc
        echo "=err"; cat /run/err
        echo "=end"; ip -j netns list; ls /run/nslab | wc -l; pgrep -fcx 'sleep 640[12]'"#,
        p = path.display()
    ));
    let s = sections(&run.stdout);
    assert_eq!(s["rc"], format!("{}\n", 128 + libc::SIGQUIT), "{run:?}");
    assert!(s["err"].contains("interrupted by SIGQUIT"), "{run:?}");
    // The spawned sleep by its group, the setsid one with the PID namespace.
    assert!(s["err"].ends_with("torn down: 1 namespace, 2 processes\n"), "{run:?}");
    assert_eq!(s["end"], "[]\n0\n0\n", "{run:?}");
}

/// SIGQUIT in the REPL ends the session with a teardown, as SIGTERM does.
#[test]
fn sigquit_ends_the_repl_with_a_teardown() {
    let history = scratch("contain-repl").join("history");
    let mut cmd = std::process::Command::new(nslab());
    cmd.args(["repl", "--sandbox"]).env("NO_COLOR", "1").env("TERM", "xterm").env("NSLAB_HISTORY", &history);
    let mut p = OsSession::spawn(cmd).expect("spawn nslab on a pty");
    p.set_expect_timeout(Some(Duration::from_secs(20)));
    p.expect("nslab> ").expect("a prompt");
    p.send("netns_add(\"t\"); spawn_in(\"t\", [\"sleep\", \"6403\"]);\r").unwrap();
    p.expect("(sleep 6403) in namespace \"t\"").expect("the entry's value");
    p.expect("nslab> ").expect("a prompt after the entry");
    let pid = p.get_process().pid().as_raw();
    // SAFETY: kill has no memory preconditions; pid is the nslab this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGQUIT) }, 0);
    let rest = match p.expect(expectrl::Eof) {
        // What Eof matches is all that came until the end.
        Ok(c) => String::from_utf8_lossy(c.as_bytes()).into_owned(),
        Err(e) => format!("{e:?}"),
    };
    let status = p.get_process().wait();
    assert!(rest.contains("torn down: 1 namespace, 1 process"), "{rest:?} {status:?}");
    match status {
        Ok(expectrl::process::unix::WaitStatus::Exited(_, code)) => assert_eq!(code, 128 + libc::SIGQUIT),
        other => panic!("nslab did not exit normally: {other:?}"),
    }
    assert_eq!(processes(&["sleep", "6403"]), Vec::<i32>::new());
}

/// A kept lab's programs outlive nslab, as the user asked (their PID namespace stops dying with
/// nslab); `nslab down` ends them all, a double-forked daemon included, through the namespace's
/// init recorded in the ledger.
#[test]
fn a_kept_labs_programs_run_on_until_down_ends_them_all() {
    let path = script(
        "contain-keep",
        "kept.rhai",
        r#"
        let k = netns_add("k");
        spawn_in(k, ["sh", "-c", "exec sleep 6501"]);
        spawn_in(k, ["sh", "-c", "(setsid sh -c 'sleep 6502 & exit' &); exit 0"]).wait();
        spawn(["sh", "-c", "setsid sleep 6503 & exec sleep 6504"]);
        "#,
    );
    let run = run_in_private(&format!(
        r#"$NSLAB run --keep {p} > /run/out 2>&1; rc=$?; echo "=rc"; echo $rc
        sleep 0.3
        echo "=kept"; pgrep -fcx 'sleep 650[1-4]'; grep -c '"pidns"' /run/nslab/*.jsonl
        echo "=down"; $NSLAB down kept 2>&1; echo "status $?"
        echo "=end"; ip -j netns list; ls /run/nslab | wc -l; pgrep -fcx 'sleep 650[1-4]'"#,
        p = path.display()
    ));
    let s = sections(&run.stdout);
    assert_eq!(s["rc"], "0\n", "{run:?}");
    assert_eq!(s["kept"], "4\n1\n", "the kept lab's programs still run: {run:?}");
    // Two programs by their groups, the daemon and the setsid sleep with the PID namespace.
    assert!(s["down"].ends_with("torn down: 1 namespace, 4 processes\nstatus 0\n"), "{run:?}");
    assert_eq!(s["end"], "[]\n0\n0\n", "{run:?}");
    for n in 1..=4 {
        assert_eq!(processes(&["sleep", &format!("650{n}")]), Vec::<i32>::new());
    }
}

/// `nslab clean` ends what still runs inside a dead lab's namespaces (here a program entered by
/// hand with `ip netns exec`, as a lab without a PID namespace would leave its programs) before
/// removing them, and leaves alone a process in a namespace that is not the lab's.
#[test]
fn clean_ends_processes_in_a_dead_labs_namespaces_only() {
    let path = script(
        "contain-clean",
        "dead.rhai",
        r#"
        netns_add("d1");
        netns_add("d2");
        print("ready");
        sleep(1000);
        "#,
    );
    let run = run_in_private(&format!(
        r#"$NSLAB run {p} > /run/out 2>&1 & P=$!
        wait_for /run/out ready $P
        kill -9 $P; wait $P
        ip netns exec d1 sleep 6601 & ip netns exec d2 sh -c 'setsid sleep 6602 & exec sleep 6603' &
        ip netns add foreign; ip netns exec foreign sleep 6604 & F=$!
        count_until 'sleep 660[1-4]' 4 $$
        echo "=clean"; $NSLAB clean 2>&1; echo "status $?"
        echo "=end"; ip -j netns list; ls /run/nslab | wc -l; pgrep -fcx 'sleep 660[1-3]'; pgrep -fcx 'sleep 6604'
        kill -9 $F; wait $F; ip netns del foreign"#,
        p = path.display()
    ));
    let s = sections(&run.stdout);
    assert!(s["clean"].ends_with("torn down: 2 namespaces, 3 processes\nstatus 0\n"), "{run:?}");
    assert_eq!(s["end"], "[{\"name\":\"foreign\"}]\n0\n0\n1\n", "{run:?}");
    for n in 1..=4 {
        assert_eq!(processes(&["sleep", &format!("660{n}")]), Vec::<i32>::new());
    }
}
