//! Background processes: `spawn_in` places a program as `exec_in` does, in its own process
//! group; the handle's `pid`, `running`, `stdout`, `wait`, `output` and `kill` work; and the lab
//! ends what it started (and what that started) at teardown, and after `kill -9` via `clean`.

use crate::support::{cpu_heavy, in_private_netns, processes, run_nslab, script};

#[test]
fn spawn_in_runs_in_the_namespace_in_its_own_group_and_its_handle_works() {
    let path = script(
        "spawn-handle",
        "spawn.rhai",
        r#"
        let n = netns_add("h");
        n.up("lo");

        // Placed like exec_in: the same network namespace; its own process group.
        let inside = exec_in(n, "readlink /proc/self/ns/net").stdout;
        // (Its own pids are those of the lab's PID namespace; `p.pid` is the pid nslab sees.)
        let p = spawn_in(n, ["sh", "-c", "readlink /proc/self/ns/net; cut -d' ' -f5 /proc/$$/stat; echo $$; echo oops >&2; exit 3"]);
        assert(p.pid > 0);
        let r = p.output();
        assert(r.code == 3, `exit status ${r.code}`);
        assert(!r.ok);
        let lines = r.stdout.split("\n");
        assert(lines[0] + "\n" == inside, `${lines[0]} is not ${inside}`);
        assert(lines[1] == lines[2], `process group ${lines[1]}, pid ${lines[2]}`);
        assert(r.stderr == "oops\n");
        assert(!p.running);
        assert(p.wait() == 3, "waiting again gives the same status");

        // The method form, output so far, wait with a time limit, kill.
        let s = n.spawn(["sh", "-c", "echo hello; exec sleep 5701"]);
        while !s.stdout.contains("hello") { sleep(0.01); }
        assert(s.running);
        let group = exec(["cut", "-d ", "-f5", `/proc/${s.pid}/stat`]).stdout;
        group.trim();
        assert(group == `${s.pid}`, `process group ${group} of ${s.pid}, as nslab sees them`);
        assert(s.wait(0.05) == (), "still running after the time limit");
        assert(s.kill() == 137, "ended by SIGKILL");
        assert(!s.running);

        // kill ends the whole group: a shell and the two programs it started.
        let g = spawn_in(n, ["sh", "-c", "sleep 5702 & sleep 5702 & wait"]);
        while exec(["pgrep", "-fcx", "sleep 5702"]).stdout != "2\n" { sleep(0.01); }
        g.kill();
        assert(exec(["pgrep", "-fcx", "sleep 5702"]).stdout == "0\n", "the group is gone");

        // In nslab's own namespace; a process whose leader ends leaves its children to teardown.
        let q = spawn(["sh", "-c", "sleep 5703 & echo started"]);
        assert(q.wait() == 0);
        assert(q.stdout == "started\n");
        // The child outlives its shell (it may still be between fork and exec: wait for it).
        while exec(["pgrep", "-fcx", "sleep 5703"]).stdout != "1\n" { sleep(0.01); }

        let bg = spawn_in("h", "sleep 5704");
        print(`${bg}`);
        print(`${bg.cmd}|${bg.pid > 0}`);
        "#,
    );
    let run = run_nslab(&["run", "--sandbox", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    let mut out = run.stdout.lines();
    let shown = out.next().unwrap();
    assert!(shown.starts_with("process ") && shown.ends_with(" (sleep 5704) in namespace \"h\""), "{run:?}");
    assert_eq!(out.next(), Some("sleep 5704|true"), "{run:?}");
    // Teardown ended the shell's orphan (its group) and the background sleep.
    assert_eq!(run.stderr.trim_end().lines().last(), Some("torn down: 1 namespace, 2 processes"), "{run:?}");
    for n in ["5701", "5702", "5703", "5704"] {
        assert_eq!(processes(&["sleep", n]), Vec::<i32>::new(), "sleep {n} is gone");
    }
}

/// A `kill -9` while `exec_in` waits for a program: the program, and what it started, end with
/// nslab (their PID namespace dies with it); `clean` finds only the namespace left.
#[test]
fn kill_9_during_exec_in_then_clean_ends_the_program() {
    let path = script(
        "exec-kill9",
        "exec.rhai",
        r#"
        let n = netns_add("e");
        print("ready");
        exec_in(n, ["sh", "-c", "sleep 5801 & sleep 5801"]);
        "#,
    );
    let run = in_private_netns(&format!(
        r#"$NSLAB run {p} > /run/out 2>&1 & P=$!
        until [ "$(pgrep -fcx 'sleep 5801')" = 2 ]; do sleep 0.01; done
        kill -9 $P; wait $P
        for i in $(seq 200); do [ "$(pgrep -fcx 'sleep 5801')" = 0 ] && break; sleep 0.01; done
        echo "=left"; pgrep -fcx 'sleep 5801'
        echo "=clean"; $NSLAB clean 2>&1
        echo "=after"; pgrep -fcx 'sleep 5801'; ip -j netns list"#,
        p = path.display()
    ));
    let want = "=left\n0\n=clean\n";
    assert!(run.stdout.starts_with(want), "{run:?}");
    assert!(run.stdout.contains("torn down: 1 namespace\n=after\n0\n[]\n"), "{run:?}");
    assert_eq!(processes(&["sleep", "5801"]), Vec::<i32>::new());
}

/// Many `exec` calls: each program is recorded while it runs and struck off once it has ended
/// (in batches), so neither the ledger nor nslab's zombies grow with the number of calls.
#[test]
fn many_execs_leave_few_records_and_zombies() {
    let path = script(
        "exec-many",
        "many.rhai",
        r#"
        let n = netns_add("m");
        for i in 0..100 { exec_in(n, "true"); }
        let ledger = exec(["sh", "-c", "cat /run/nslab/*.jsonl"]).stdout;
        let made = ledger.split("\"made\":{\"process\"").len() - 1;
        let gone = ledger.split("\"gone\":{\"process\"").len() - 1;
        let zombies = exec(["sh", "-c", "ps -o stat= --ppid $PPID | grep -c Z"]).stdout;
        zombies.trim();
        print(`${made} ${made - gone} ${zombies}`);
        "#,
    );
    let run = run_nslab(&["run", "--sandbox", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    let numbers: Vec<i64> = run.stdout.split_whitespace().map(|n| n.parse().unwrap()).collect();
    let [made, open, zombies] = numbers[..] else { panic!("{run:?}") };
    assert_eq!(made, 101, "every program was recorded (the 100 and the cat): {run:?}");
    assert!(open <= 33, "at most a batch of ended programs is still listed: {run:?}");
    assert!(zombies <= 32, "{run:?}");
}

/// With `--sandbox`, `kill -9` of nslab still ends what the lab started: the process the caller
/// knows is a keeper, and its death tells the lab (as SIGTERM) to tear down.
#[test]
fn kill_9_of_a_sandboxed_run_ends_its_programs() {
    let path = script(
        "sandbox-kill9",
        "spawn.rhai",
        r#"
        let n = netns_add("h");
        spawn_in(n, "sleep 5901");
        spawn(["sleep", "5902"]);
        print("ready");
        sleep(60);
        "#,
    );
    let run = in_private_netns(&format!(
        r#"$NSLAB run --sandbox {p} > /run/out 2>&1 & P=$!
        until grep -q ready /run/out; do sleep 0.01; done
        pgrep -fcx 'sleep 590[12]'
        kill -9 $P; wait $P; echo "exit $?"
        for i in $(seq 200); do [ "$(pgrep -fcx 'sleep 590[12]')" = 0 ] && break; sleep 0.01; done
        pgrep -fcx 'sleep 590[12]'
        for i in $(seq 200); do grep -q "torn down" /run/out && break; sleep 0.01; done; tail -1 /run/out"#,
        p = path.display()
    ));
    assert_eq!(run.stdout, "2\nexit 137\n0\ntorn down: 1 namespace, 2 processes\n", "{run:?}");
    assert_eq!(processes(&["sleep", "5901"]), Vec::<i32>::new());
    assert_eq!(processes(&["sleep", "5902"]), Vec::<i32>::new());
}

/// A program that leaves its process group (a daemon) is still ended when a sandboxed run ends.
#[test]
fn a_sandboxed_run_ends_daemons_that_left_their_group() {
    let path = script(
        "sandbox-daemon",
        "daemon.rhai",
        r#"
        spawn(["sh", "-c", "setsid sleep 5903 & echo started"]).wait();
        exec(["sh", "-c", "setsid sleep 5904 &"]);
        while exec(["pgrep", "-fc", "sleep 590[34]"]).stdout != "2\n" { sleep(0.01); }
        "#,
    );
    let run = run_nslab(&["run", "--sandbox", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(processes(&["sleep", "5903"]), Vec::<i32>::new());
    assert_eq!(processes(&["sleep", "5904"]), Vec::<i32>::new());
}

/// A program that writes without end does not grow nslab's memory without end: its captured
/// output keeps the latest 8 MiB at least, and says what was dropped.
#[test]
fn captured_output_is_bounded_and_says_what_was_dropped() {
    let _serial = cpu_heavy();
    let path = script(
        "output-cap",
        "cap.rhai",
        r#"
        let p = spawn(["sh", "-c", "head -c 40000000 /dev/zero | tr '\\0' x; echo; echo last line"]);
        p.wait();
        sleep(0.6);
        let out = p.stdout;
        print(out.len());
        print(out.sub_string(0, 8));
        print(out.ends_with("xx\nlast line\n"));
        let small = exec(["echo", "hello"]);
        print(small.stdout);
        "#,
    );
    let run = run_nslab(&["run", "--sandbox", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    let len: usize = lines[0].parse().unwrap();
    assert!((8 << 20..(8 << 20) + 8192).contains(&len), "kept {len} bytes: {run:?}");
    assert_eq!(lines[1], "[nslab: ", "{run:?}");
    assert_eq!(&lines[2..], ["true", "hello", ""], "{run:?}");
}

/// Outside a sandbox too, teardown ends programs that left their process group (daemons): nslab
/// adopts what its programs orphan.
#[test]
fn teardown_ends_daemons_that_left_their_group() {
    let path = script(
        "host-daemon",
        "daemon.rhai",
        r#"
        let n = netns_add("d");
        spawn_in(n, ["sh", "-c", "setsid sleep 5905 & echo started"]).wait();
        exec_in(n, ["sh", "-c", "setsid sleep 5906 &"]);
        while exec(["pgrep", "-fc", "sleep 590[56]"]).stdout != "2\n" { sleep(0.01); }
        "#,
    );
    let run = in_private_netns(&format!("$NSLAB run {p}; echo \"exit $?\"; pgrep -fc 'sleep 590[56]'", p = path.display()));
    assert_eq!(run.stdout, "exit 0\n0\n", "{run:?}");
    assert!(run.stderr.ends_with("torn down: 1 namespace, 2 processes\n"), "{run:?}");
    assert_eq!(processes(&["sleep", "5905"]), Vec::<i32>::new());
    assert_eq!(processes(&["sleep", "5906"]), Vec::<i32>::new());
}
