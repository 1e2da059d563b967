//! A lab across machines outlives its run, loses a machine, or is stopped: on three simulated
//! machines (tests/support/machines.rs), checked on every machine with `ip -j` before and after.

use crate::support::machines::{self, DEFAULT};
use crate::support::{processes, script, sections};

/// `--keep`: every machine keeps its part; `nslab ls` shows each machine's part as its agent
/// says; `nslab down` removes all of them.
#[test]
fn a_kept_lab_is_listed_and_taken_down_on_every_machine() {
    let path = script(
        "keep-machines",
        "kept.rhai",
        r#"
        let a = netns_add("ka");
        let b = netns_add("kb", #{on: "m2"});
        veth(a, "x", b, "y", #{up: true});
        "#,
    );
    let run = machines::run(
        DEFAULT,
        &format!(
            r#"machines_snap > /run/before
            on local $NSLAB run --keep --name kept --hosts $HOSTS {p} 2> /run/err; echo "=rc"; echo $?
            echo "=err"; cat /run/err
            echo "=m2"; on m2 ip -j netns list
            echo "=ls"; on local $NSLAB ls
            echo "=json"; on local $NSLAB ls --json
            echo "=down"; on local $NSLAB down kept 2>&1; echo "status $?"
            machines_snap > /run/after
            echo "=diff"; diff /run/before /run/after"#,
            p = path.display()
        ),
    );
    let s = sections(&run.stdout);
    assert_eq!(s["rc"].trim(), "0", "{run:?}");
    assert!(s["err"].contains("kept: its parts on m2, m3 too (`nslab down` here removes them as well)"), "{run:?}");
    assert_eq!(s["m2"].trim(), r#"[{"name":"kb"}]"#, "{run:?}");
    let ls: Vec<&str> = s["ls"].lines().collect();
    let words: Vec<&str> = ls[1].split_whitespace().collect();
    assert_eq!((words[0], words[3]), ("kept", "kept"), "{run:?}");
    assert!(ls[1].ends_with("  1 netns, 1 link"), "{run:?}");
    assert!(ls[2].trim_start().starts_with("on m2: kept (id "), "{run:?}");
    assert!(ls[2].ends_with("): 1 netns, 1 link"), "{run:?}");
    assert_eq!(ls[3].trim(), "on m3: nothing left", "{run:?}");
    let json = crate::support::json(&s["json"]);
    assert_eq!(json[0]["machines"][0]["machine"], "m2", "{run:?}");
    assert_eq!(json[0]["machines"][0]["labs"][0]["state"], "kept", "{run:?}");
    assert!(s["down"].contains("torn down: 2 namespaces"), "{run:?}");
    assert!(s["down"].ends_with("status 0\n"), "{run:?}");
    assert_eq!(s["diff"], "", "{run:?}");
}

/// The agent of a machine dies mid-run: the next call there fails naming the machine, the run
/// ends with exit 1, and the ledger left names the machine: once nslab has exited, its guard
/// asks that machine again and its part goes (`nslab clean` would too).
#[test]
fn a_machine_lost_mid_run_is_named_and_clean_removes_its_part() {
    let path = script(
        "lost-machine",
        "lost.rhai",
        r#"
        let n = netns_add("s1", #{on: "m2"});
        print("ready");
        exec(["sh", "-c", `while [ ! -e ${ARGS[0]} ]; do sleep 0.01; done`]);
        up(n, "lo");
        print("not reached");
        "#,
    );
    let run = machines::run(
        DEFAULT,
        &format!(
            r#"machines_snap > /run/before
            on local $NSLAB run --hosts $HOSTS {p} $MACHINES_DIR/go > /run/out 2> /run/err & P=$!
            wait_for /run/out ready $P
            # The agents are the grandchildren of nslab (via: sh -c nsenter ... nslab agent).
            M2=$(grep -o 'nsenter -t [0-9]*' $HOSTS | sed -n 1p)
            for c in $(pgrep -P $P); do
                if tr '\0' ' ' < /proc/$c/cmdline | grep -q "$M2 "; then kill -9 $(pgrep -P $c); fi
            done
            touch $MACHINES_DIR/go
            wait $P; rc=$?; echo "=rc"; echo $rc
            echo "=err"; cat /run/err
            echo "=m2"; on m2 ip -j netns list
            # Once nslab has exited, its guard asks m2 again (a new agent there removes the part
            # the dead one left).
            for i in $(seq 500); do [ "$(on m2 ip -j netns list)" = "" ] || [ "$(on m2 ip -j netns list)" = "[]" ] && break; sleep 0.01; done
            echo "=waited"; echo $i
            echo "=clean"; on local $NSLAB clean 2>&1; echo "status $?"
            machines_snap > /run/after
            echo "=diff"; diff /run/before /run/after"#,
            p = path.display()
        ),
    );
    let s = sections(&run.stdout);
    assert_eq!(s["rc"].trim(), "1", "{run:?}");
    assert!(s["err"].contains("× machine m2 is lost: "), "{run:?}");
    assert!(s["err"].contains("left: the parts on m2 (asked again when nslab has exited, and by `nslab clean`; id "), "{run:?}");
    // (The guard may already have had it removed by then.)
    assert!(["[{\"name\":\"s1\"}]", "", "[]"].contains(&s["m2"].trim()), "{run:?}");
    let waited: u32 = s["waited"].trim().parse().unwrap();
    assert!(waited < 500, "the guard had m2's part removed: {run:?}");
    assert_eq!(s["clean"], "clean: no dead labs\nstatus 0\n", "{run:?}");
    assert_eq!(s["diff"], "", "{run:?}");
}

/// Ctrl-C while a program runs on another machine: the call there stops, every machine's part
/// goes, and nslab exits 130.
#[test]
fn ctrl_c_stops_a_call_running_on_another_machine() {
    let path = script(
        "sigint-machines",
        "sig.rhai",
        r#"
        let n = netns_add("s1", #{on: "m2"});
        spawn_in(n, ["sleep", "7242"]);
        print("ready");
        exec_in(n, ["sleep", "7243"]);
        print("not reached");
        "#,
    );
    let run = machines::run(
        DEFAULT,
        &format!(
            r#"machines_snap > /run/before
            on local $NSLAB run --hosts $HOSTS {p} > /run/out 2> /run/err & P=$!
            wait_for /run/out ready $P
            for i in $(seq 300); do [ "$(pgrep -fcx 'sleep 7243')" = 1 ] && break; sleep 0.01; done
            kill -INT $P; wait $P; rc=$?; echo "=rc"; echo $rc
            echo "=err"; cat /run/err
            for i in $(seq 200); do [ "$(machines_agents)" = 0 ] && break; sleep 0.01; done
            machines_snap > /run/after
            echo "=diff"; diff /run/before /run/after"#,
            p = path.display()
        ),
    );
    let s = sections(&run.stdout);
    assert_eq!(s["rc"].trim(), "130", "{run:?}");
    assert!(s["err"].contains("interrupted by SIGINT (Ctrl-C)"), "{run:?}");
    assert!(s["err"].ends_with("torn down: 1 namespace, 1 process\n"), "{run:?}");
    assert_eq!(s["diff"], "", "{run:?}");
    assert_eq!(processes(&["sleep", "7242"]), Vec::<i32>::new());
    assert_eq!(processes(&["sleep", "7243"]), Vec::<i32>::new());
}
