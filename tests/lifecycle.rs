//! Labs own what they create: fault tests. Each runs nslab without `--sandbox` inside a private
//! network + mount namespace with its own /run (so the ledger under /run/nslab and the namespaces
//! are observable), and checks with `ip -j` and /proc that the machine's namespaces, links,
//! addresses, routes and processes end exactly as they were before the run.
//!
//! Background processes are `sleep N` with an N unique to each test, so tests running in
//! parallel (they share the pid namespace) never see each other's.

use crate::support::{cpu_heavy, in_private_netns, json, last_line, processes, script, sections, Run};

/// Bash functions for the snippets: `snap` prints everything a lab could leave behind in the
/// private namespace, `wait_for FILE TEXT PID` waits until TEXT appears in FILE (or PID exits).
const PRELUDE: &str = r#"
snap() { ip -j netns list; echo; ip -j link; echo; ip -j addr; echo; ip -j route; echo; ip -6 -j route; echo; }
wait_for() { while ! grep -q "$2" "$1" 2>/dev/null; do kill -0 "$3" 2>/dev/null || return 1; sleep 0.01; done; }
made() { cat /run/nslab/*.jsonl 2>/dev/null | grep -c "\"made\":{\"$1\""; }
"#;

fn run_in_private(snippet: &str) -> Run {
    in_private_netns(&format!("{PRELUDE}\n{snippet}"))
}

fn names(v: &serde_json::Value, key: &str) -> Vec<String> {
    v.as_array().unwrap().iter().map(|x| x[key].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_script_failing_half_way_leaves_nothing() {
    let path = script(
        "halfway",
        "halfway.rhai",
        r#"
        let a = netns_add("a");
        let b = netns_add("b");
        veth(a, "e0", root(), "ra");
        veth(a, "x", b, "y");
        addr("lo", "10.99.0.1/32");
        route((), "10.98.0.0/24", #{dev: "lo"});
        let p = spawn_in(b, ["sleep", "5101"]);
        print(`spawned ${p.pid}`);
        link(a, "missing");
        print("not reached");
        "#,
    );
    let run = run_in_private(&format!(
        r#"snap > /run/before
        $NSLAB run {p} > /run/out 2> /run/err; rc=$?; echo "=rc"; echo $rc
        echo "=out"; cat /run/out
        echo "=err"; cat /run/err
        snap > /run/after
        echo "=diff"; diff /run/before /run/after
        echo "=ledgers"; ls /run/nslab | wc -l"#,
        p = path.display()
    ));
    let s = sections(&run.stdout);
    assert_eq!(s["rc"].trim(), "1", "{run:?}");
    assert!(s["out"].starts_with("spawned "), "{run:?}");
    assert!(!s["out"].contains("not reached"), "{run:?}");
    assert!(s["err"].contains(r#"× link "missing" does not exist in namespace "a""#), "{run:?}");
    assert_eq!(last_line(&s["err"]), "torn down: 2 namespaces, 1 link, 1 address, 1 route, 1 process", "{run:?}");
    assert_eq!(s["diff"], "", "the namespace is as before: {run:?}");
    assert_eq!(s["ledgers"].trim(), "0", "{run:?}");
    assert_eq!(processes(&["sleep", "5101"]), Vec::<i32>::new());
}

/// A signal while the script is blocked in each kind of long call: the call stops promptly,
/// the lab is torn down, and nslab exits with 128 + the signal.
#[test]
fn sigint_and_sigterm_interrupt_blocking_calls_and_tear_down() {
    let blocking = [
        ("sleep", "sleep(1000);"),
        ("exec", r#"exec_in(a, ["sleep", "5201"]);"#),
        ("wait", "p.wait();"),
        ("output", "p.output();"),
        // Its own address, which does not answer: no ARP request that would hold the namespace
        // (and so the teardown) for seconds after the signal.
        ("ping", r#"ping(a, "10.52.0.1", #{count: 1, timeout: 1000});"#),
        ("loop", "loop { let x = 1; }"),
    ];
    let mut snippet = String::from("snap > /run/before\n");
    for (name, call) in blocking {
        let path = script(
            &format!("signals-{name}"),
            "blocked.rhai",
            &format!(
                r#"
                let a = netns_add("a");
                veth(a, "e0", root(), "ra");
                up(a, "e0");
                addr(a, "e0", "10.52.0.1/24");
                up("ra");
                up(a, "lo");
                exec_in(a, ["sh", "-c", "echo 1 > /proc/sys/net/ipv4/icmp_echo_ignore_all"]);
                addr("lo", "10.99.0.1/32");
                let p = spawn_in(a, ["sleep", "5202"]);
                print("ready");
                {call}
                print("not reached");
                "#
            ),
        );
        for sig in ["INT", "TERM"] {
            snippet += &format!(
                r#"$NSLAB run {p} > /run/out-{name}-{sig} 2> /run/err-{name}-{sig} &
                P=$!
                wait_for /run/out-{name}-{sig} ready $P
                echo "=running-{name}-{sig}"; pgrep -fcx "sleep 520[12]"
                kill -{sig} $P; wait $P; rc=$?; echo "=rc-{name}-{sig}"; echo $rc
                echo "=err-{name}-{sig}"; cat /run/err-{name}-{sig}
                snap > /run/after
                echo "=diff-{name}-{sig}"; diff /run/before /run/after
                echo "=ledgers-{name}-{sig}"; ls /run/nslab | wc -l
                "#,
                p = path.display()
            );
        }
    }
    let run = run_in_private(&snippet);
    let s = sections(&run.stdout);
    for (name, _) in blocking {
        for (sig, code, words) in [("INT", 130, "SIGINT (Ctrl-C)"), ("TERM", 143, "SIGTERM")] {
            let key = |k: &str| format!("{k}-{name}-{sig}");
            let running: usize = s[&key("running")].trim().parse().unwrap();
            assert!(running >= 1, "{name} {sig}: the background process ran: {run:?}");
            assert_eq!(s[&key("rc")].trim(), code.to_string(), "{name} {sig}: {run:?}");
            let err = &s[&key("err")];
            assert!(err.contains(&format!("interrupted by {words}")), "{name} {sig}: {run:?}");
            assert_eq!(last_line(err), "torn down: 1 namespace, 1 link, 1 address, 1 process", "{name} {sig}: {run:?}");
            assert_eq!(s[&key("diff")], "", "{name} {sig}: {run:?}");
            assert_eq!(s[&key("ledgers")].trim(), "0", "{name} {sig}: {run:?}");
        }
    }
    assert_eq!(processes(&["sleep", "5201"]), Vec::<i32>::new());
    assert_eq!(processes(&["sleep", "5202"]), Vec::<i32>::new());
}

/// `kill -9` at several points of a 50-namespace build, then `nslab clean`.
#[test]
fn kill_9_during_a_50_namespace_build_then_clean_restores_everything() {
    let path = script(
        "kill9",
        "build50.rhai",
        r#"
        addr("lo", "10.99.0.1/32");
        for i in 0..50 {
            let n = netns_add(`n${i}`);
            veth(n, "e0", root(), `r${i}`);
            n.up("e0");
            n.addr("e0", `10.50.${i}.1/24`);
            if i % 10 == 0 { spawn_in(n, ["sleep", "5301"]); }
            sleep(0.005);
        }
        print("built");
        sleep(1000);
        "#,
    );
    let mut snippet = String::from("snap > /run/before\n");
    for at in [5, 25, 45] {
        snippet += &format!(
            r#"$NSLAB run {p} > /run/out 2> /run/err &
            P=$!
            while [ "$(made netns)" -lt {at} ] && kill -0 $P 2>/dev/null; do :; done
            kill -9 $P; wait $P; rc=$?; echo "=rc-{at}"; echo $rc
            echo "=made-{at}"; made netns
            for i in $(seq 200); do [ "$(pgrep -fcx 'sleep 5301')" = 0 ] && break; sleep 0.01; done
            echo "=left-{at}"; ls /run/netns | wc -l; pgrep -fcx "sleep 5301"
            echo "=ls-{at}"; $NSLAB ls
            echo "=clean-{at}"; $NSLAB clean 2>&1; echo "status $?"
            snap > /run/after
            echo "=diff-{at}"; diff /run/before /run/after
            echo "=ledgers-{at}"; ls /run/nslab | wc -l
            "#,
            p = path.display()
        );
    }
    let run = run_in_private(&snippet);
    let s = sections(&run.stdout);
    for at in [5, 25, 45] {
        let key = |k: &str| format!("{k}-{at}");
        assert_eq!(s[&key("rc")].trim(), "137", "killed at {at}: {run:?}");
        let made: usize = s[&key("made")].trim().parse().unwrap();
        assert!(made >= at, "killed at {at}: {run:?}");
        let left: Vec<usize> = s[&key("left")].lines().map(|l| l.trim().parse().unwrap()).collect();
        // The namespaces outlive nslab; its programs end with it (their PID namespace does).
        assert!(left[0] >= at && left[1] == 0, "namespaces outlived nslab, programs did not: {run:?}");
        let ls: Vec<&str> = s[&key("ls")].lines().collect();
        assert_eq!(ls.len(), 2, "{run:?}");
        assert!(ls[0].starts_with("NAME") && ls[0].contains("STATE") && ls[0].contains("OBJECTS"), "{run:?}");
        let row: Vec<&str> = ls[1].split_whitespace().collect();
        assert_eq!((row[0], row[3]), ("build50", "dead"), "{run:?}");
        assert!(ls[1].contains(&format!("{made} netns")) || ls[1].contains(&format!("{} netns", made + 1)), "{run:?}");
        let clean = &s[&key("clean")];
        assert!(clean.contains(&format!("lab build50 (id {}) torn down: ", row[1])), "{run:?}");
        assert!(clean.contains("namespaces"), "{run:?}");
        assert!(clean.ends_with("status 0\n"), "{run:?}");
        assert_eq!(s[&key("diff")], "", "killed at {at}: {run:?}");
        assert_eq!(s[&key("ledgers")].trim(), "0", "{run:?}");
    }
    assert_eq!(processes(&["sleep", "5301"]), Vec::<i32>::new());
}

/// Two labs at once in one namespace: names clash with a clear owner, tearing one down leaves
/// the other whole, and `clean` leaves alone a foreign namespace that took a dead lab's name.
#[test]
fn two_labs_in_parallel_and_a_foreign_namesake() {
    let lab = |ns: [&str; 2], link: &str, sleep: &str| {
        format!(
            r#"
            let x = netns_add("{a}");
            let y = netns_add("{b}");
            veth(x, "e0", root(), "{link}");
            veth(x, "p", y, "q");
            spawn_in(y, ["sleep", "{sleep}"]);
            print("ready");
            sleep(1000);
            "#,
            a = ns[0],
            b = ns[1]
        )
    };
    let a = script("parallel-a", "a.rhai", &lab(["a1", "a2"], "ra", "5401"));
    let b = script("parallel-b", "b.rhai", &lab(["b1", "b2"], "rb", "5402"));
    let clash_ns = script("parallel-clash-ns", "clash.rhai", r#"netns_add("c1"); netns_add("a1");"#);
    let clash_link = script("parallel-clash-link", "clash.rhai", r#"netns_add("c1"); veth("c1", "e0", root(), "ra");"#);
    let run = run_in_private(&format!(
        r#"$NSLAB run --name A {a} > /run/a.out 2> /run/a.err & PA=$!
        $NSLAB run {b} > /run/b.out 2> /run/b.err & PB=$!
        wait_for /run/a.out ready $PA; wait_for /run/b.out ready $PB
        echo "=pids"; echo $PA; echo $PB
        echo "=ls"; $NSLAB ls
        echo "=clash-ns"; $NSLAB run {clash_ns} 2>&1; echo "status $?"
        echo "=clash-link"; $NSLAB run {clash_link} 2>&1; echo "status $?"
        echo "=down"; $NSLAB down b 2>&1; wait $PB; echo "status $?"; tail -n1 /run/b.err
        echo "=after-down"; ip -j netns list; ip -j link; pgrep -fcx "sleep 5401"; pgrep -fcx "sleep 5402"
        kill -9 $PA; wait $PA
        ip netns del a1
        while ip link show ra >/dev/null 2>&1; do sleep 0.01; done  # ra goes with a1's namespace
        ip netns add a1
        echo "=foreign"; stat -L -c %i /run/netns/a1
        echo "=clean"; $NSLAB clean 2>&1; echo "status $?"
        echo "=after-clean"; ip -j netns list; ip -j link; pgrep -fcx "sleep 5401"; stat -L -c %i /run/netns/a1; ls /run/nslab | wc -l
        ip netns del a1"#,
        a = a.display(),
        b = b.display(),
        clash_ns = clash_ns.display(),
        clash_link = clash_link.display(),
    ));
    let s = sections(&run.stdout);
    let pids: Vec<&str> = s["pids"].lines().collect();

    // Both labs listed, alive, with their objects.
    let ls: Vec<&str> = s["ls"].lines().collect();
    assert_eq!(ls.len(), 3, "{run:?}");
    let row = |name: &str| -> Vec<String> {
        let line = ls.iter().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{name} listed: {run:?}"));
        line.split_whitespace().map(str::to_string).collect()
    };
    let (ra, rb) = (row("A"), row("b"));
    assert_eq!((ra[2].as_str(), ra[3].as_str()), (pids[0], "alive"), "{run:?}");
    assert_eq!((rb[2].as_str(), rb[3].as_str()), (pids[1], "alive"), "{run:?}");
    // The link outside (ra) and the three inside the lab's namespaces, read from the kernel.
    let objects = "2 netns, 4 links, 1 proc";
    assert!(ls.iter().all(|l| l.starts_with("NAME") || l.contains(objects)), "{run:?}");

    // A third lab asking for A's names is told who owns them, and nothing of A is touched.
    let owner = format!("(owned by lab \"A\", id {}, pid {}, running)", ra[1], pids[0]);
    // miette wraps long messages at 100 columns: undo that before comparing.
    let unwrap = |t: &str| t.replace("\n  │ ", " ");
    let clash = &unwrap(&s["clash-ns"]);
    assert!(clash.contains(&format!("× namespace \"a1\" already exists {owner}")), "{run:?}");
    assert!(clash.contains("torn down: 1 namespace\nstatus 1"), "{run:?}");
    let clash = &unwrap(&s["clash-link"]);
    assert!(clash.contains(&format!("× link \"ra\" already exists in the root namespace {owner}")), "{run:?}");
    assert!(clash.contains("torn down: 1 namespace\nstatus 1"), "{run:?}");

    // `down b` stops lab b (its process tears it down); A stands whole.
    let down = &s["down"];
    let stopped =
        format!("lab b (id {0}) is running as pid {1}: asked it to stop\nlab b (id {0}) tore itself down\n", rb[1], pids[1]);
    assert!(down.starts_with(&stopped), "{run:?}");
    assert!(down.contains("status 143\ntorn down: 2 namespaces, 1 link, 1 process"), "{run:?}");
    let mut after = s["after-down"].lines();
    assert_eq!(names(&json(after.next().unwrap()), "name"), ["a2", "a1"], "{run:?}");
    assert_eq!(names(&json(after.next().unwrap()), "ifname"), ["lo", "ra"], "{run:?}");
    assert_eq!(after.next(), Some("1"), "A's process runs: {run:?}");
    assert_eq!(after.next(), Some("0"), "b's process is gone: {run:?}");

    // A is killed (its program ends with it); someone replaces its a1 with a namespace of their
    // own. clean leaves that alone.
    let foreign = s["foreign"].trim();
    let clean = &s["clean"];
    let left = format!("left: namespace a1: the name now stands for another namespace (inode {foreign}, the lab's was ");
    assert!(clean.contains(&format!("lab A (id {}) torn down: 1 namespace; {left}", ra[1])), "{run:?}");
    assert!(clean.ends_with("): left as is\nstatus 0\n"), "{run:?}");
    let mut after = s["after-clean"].lines();
    assert_eq!(names(&json(after.next().unwrap()), "name"), ["a1"], "{run:?}");
    assert_eq!(names(&json(after.next().unwrap()), "ifname"), ["lo"], "ra went with a1's old namespace: {run:?}");
    assert_eq!(after.next(), Some("0"), "{run:?}");
    assert_eq!(after.next(), Some(foreign), "the foreign a1 is the same namespace: {run:?}");
    assert_eq!(after.next(), Some("0"), "no ledger left: {run:?}");
    assert_eq!(processes(&["sleep", "5401"]), Vec::<i32>::new());
    assert_eq!(processes(&["sleep", "5402"]), Vec::<i32>::new());
}

/// The lab's name comes from the file or --name; --keep says how to remove it; `down` by id
/// and by name; an ambiguous name is refused.
#[test]
fn keep_ls_and_down_by_id_and_by_name() {
    let path = script("keep", "kept-lab.rhai", r#"netns_add(ARGS[0]); spawn_in(ARGS[0], ["sleep", "5501"]);"#);
    let run = run_in_private(&format!(
        r#"$NSLAB run --keep {p} k1 2>&1; echo "status $?"
        $NSLAB run --keep --name other {p} k2 2>&1
        $NSLAB run --keep --name other {p} k3 2>&1
        echo "=ls"; $NSLAB ls
        echo "=ambiguous"; $NSLAB down other 2>&1; echo "status $?"
        echo "=down-id"; $NSLAB down $($NSLAB ls | awk '$1 == "kept-lab" {{print $2}}') 2>&1; echo "status $?"
        echo "=down-name"; for id in $($NSLAB ls | awk '$1 == "other" {{print $2}}'); do $NSLAB down $id 2>&1; done
        echo "=missing"; $NSLAB down nosuch 2>&1; echo "status $?"
        echo "=end"; ip -j netns list; ls /run/nslab | wc -l; pgrep -fcx "sleep 5501""#,
        p = path.display()
    ));
    let s = sections(&run.stdout);
    let first = s[""].lines().next().unwrap();
    let id = first.strip_prefix("kept: lab kept-lab (id ").and_then(|r| r.split_once(')')).map(|(id, _)| id);
    let id = id.unwrap_or_else(|| panic!("{run:?}"));
    assert_eq!(first, format!("kept: lab kept-lab (id {id}); remove it with `nslab down {id}`"), "{run:?}");
    let ls: Vec<&str> = s["ls"].lines().collect();
    assert_eq!(ls.len(), 4, "{run:?}");
    assert!(ls[1..].iter().all(|l| l.contains(" kept ") && l.ends_with(" 1 netns, 1 proc")), "{run:?}");
    assert!(s["ambiguous"].contains("× 2 labs are named \"other\""), "{run:?}");
    assert!(s["ambiguous"].contains("name one by id: "), "{run:?}");
    assert!(s["ambiguous"].ends_with("status 1\n"), "{run:?}");
    assert_eq!(s["down-id"], format!("lab kept-lab (id {id}) torn down: 1 namespace, 1 process\nstatus 0\n"), "{run:?}");
    assert_eq!(s["down-name"].matches("torn down: 1 namespace, 1 process").count(), 2, "{run:?}");
    assert!(s["missing"].contains("× no lab named \"nosuch\" is standing"), "{run:?}");
    assert!(s["missing"].ends_with("status 1\n"), "{run:?}");
    assert_eq!(s["end"], "[]\n0\n0\n", "{run:?}");
}

/// Teardown goes on past what it cannot remove, reports every failure, keeps the ledger, and
/// exits non-zero; `clean` finishes the job once the cause is gone.
#[test]
fn teardown_reports_what_it_cannot_remove_and_clean_finishes() {
    let path = script(
        "stuck",
        "stuck.rhai",
        r#"
        netns_add("x");
        netns_add("y");
        veth("v0", "v1");
        exec("mount -o remount,ro,bind /run/netns");
        "#,
    );
    let run = run_in_private(&format!(
        r#"$NSLAB run {p} 2>&1; echo "status $?"
        echo "=ls"; $NSLAB ls | tail -n +2 | awk '{{print $1, $4}}'
        echo "=links"; ip -j link
        mount -o remount,rw,bind /run/netns
        echo "=clean"; $NSLAB clean 2>&1; echo "status $?"
        echo "=end"; ls /run/netns | wc -l; ls /run/nslab | wc -l"#,
        p = path.display()
    ));
    let s = sections(&run.stdout);
    assert_eq!(
        s[""],
        "torn down: 1 link; 2 could not be removed: namespace x: Read-only file system; \
         namespace y: Read-only file system\nstatus 1\n",
        "{run:?}"
    );
    assert_eq!(s["ls"], "stuck dead\n", "{run:?}");
    assert_eq!(names(&json(&s["links"]), "ifname"), ["lo"], "{run:?}");
    assert!(s["clean"].ends_with("torn down: 2 namespaces\nstatus 0\n"), "{run:?}");
    assert_eq!(s["end"], "0\n0\n", "{run:?}");
}

#[test]
fn a_lab_larger_than_the_open_file_limit_still_builds_and_programs_keep_the_limit() {
    let _serial = cpu_heavy();
    let path = script(
        "file-limit",
        "many.rhai",
        r#"
        for i in 1..=300 { netns_add(`m${i}`); }
        veth("m1", "a", "m300", "b", #{up: true});
        print(exec_in("m300", "sh -c 'ulimit -Sn'"));
        "#,
    );
    let run =
        in_private_netns(&format!("ulimit -Sn 256\n$NSLAB run {p}; echo \"exit $?\"; ip netns list | wc -l", p = path.display()));
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines, vec!["256", "exit 0", "0"], "{run:?}");
    assert!(run.stderr.contains("torn down: 300 namespaces"), "{run:?}");
}
