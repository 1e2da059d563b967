//! The randomized fault test of the ownership promise: `kill -9` at random points of a
//! 50-namespace build that also starts programs (a spawned one, one a command leaves running in
//! the background, one that detaches with `setsid`), changes a host sysctl, adds a host route and
//! shapes a link, then `nslab clean`. Afterwards nothing of the lab may be left (namespaces,
//! links, addresses, routes, qdiscs, sysctls, processes, ledgers), and the foreign namespace,
//! link, route, qdisc and sysctls set up beforehand must be exactly as they were.
//!
//! Host mode runs inside one private network + mount namespace (its /run private too); the
//! sandbox runs are started there as well. The kill points are drawn from a seed printed on
//! failure, so a failing run can be replayed with NSLAB_FAULT_SEED.

use crate::support::{in_private_netns, processes, script, Run};

/// Kills per mode.
const KILLS: usize = 30;

/// Programs the lab starts, told apart by their arguments from other tests' and from other
/// runs of this test on the machine (the test process's pid is part of them).
fn markers() -> [String; 3] {
    let pid = std::process::id();
    [format!("7301{pid}"), format!("7302{pid}"), format!("7303{pid}")]
}

const BUILD_TEMPLATE: &str = r#"
forwarding(true);
addr("lo", "10.99.0.1/32");
for i in 0..50 {
    let n = netns_add(`n${i}`);
    veth(n, "e0", root(), `r${i}`);
    n.up("e0");
    n.addr("e0", `10.50.${i}.1/24`);
    if i % 10 == 0 {
        spawn_in(n, ["sleep", "SPAWNED"]);
        exec_in(n, ["sh", "-c", "sleep BACKGROUNDED >/dev/null 2>&1 &"]);
        spawn_in(n, ["setsid", "sleep", "DETACHED"]);
    }
    if i == 20 {
        up(`r${i}`);
        addr(`r${i}`, "10.50.20.2/24");
        route("10.120.0.0/16", #{via: "10.50.20.1", metric: 9});
        shape(`r${i}`, #{rate: "10mbit"});
    }
}
print("built");
sleep(1000);
"#;

/// Foreign objects, made before any lab, and everything a lab could leave, printed as one
/// snapshot (JSON from `ip -j` / `tc -j`, sysctls, mounts under /run/netns).
const PRELUDE: &str = r#"
ip netns add foreign
ip link add fa type veth peer name fb netns foreign
ip addr add 10.202.0.1/24 dev fa
ip link set fa up
ip route add 10.201.0.0/24 dev lo metric 7
ip route add 10.203.0.0/24 via 10.202.0.2 dev fa onlink
tc qdisc add dev fa root tbf rate 1mbit burst 32kb latency 50ms
sysctl -qw net.ipv4.ip_forward=0
sysctl -qw net.ipv4.conf.all.rp_filter=2
ip netns exec foreign sysctl -qw net.ipv4.ip_forward=1
snap() {
  ip -j netns list; echo; ip -j link; echo; ip -j addr; echo; ip -j route show table all; echo
  ip -6 -j route show table all; echo; tc -j qdisc; echo
  sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding net.ipv4.conf.all.rp_filter
  ip -n foreign -j link; echo; ip -n foreign -j addr; echo; ip netns exec foreign sysctl -n net.ipv4.ip_forward
  grep -c ' /run/netns/' /proc/self/mountinfo
}
programs() { pgrep -cx -f "sleep ($MARKERS)"; }
ledger_lines() { cat /run/nslab/*.jsonl 2>/dev/null | wc -l; }
"#;

/// The build script and the prelude with this run's markers.
fn build_and_prelude() -> (String, String) {
    let [a, b, c] = markers();
    let build = BUILD_TEMPLATE.replace("SPAWNED", &a).replace("BACKGROUNDED", &b).replace("DETACHED", &c);
    (build, format!("MARKERS='{a}|{b}|{c}'\n{PRELUDE}"))
}

fn seed() -> u64 {
    std::env::var("NSLAB_FAULT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
    })
}

/// A small deterministic generator (xorshift): the points must be replayable from the seed.
struct Points(u64);

impl Points {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

fn check(run: &Run, seed: u64, mode: &str) {
    let out = &run.stdout;
    assert!(out.contains("=done"), "seed {seed}, {mode}: the snippet did not finish: {run:?}");
    let failures: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(failures.is_empty(), "seed {seed}, {mode}: {}\n{run:?}", failures.join("\n"));
    let killed = out.lines().filter(|l| l.starts_with("killed ")).count();
    assert_eq!(killed, KILLS, "seed {seed}, {mode}: {run:?}");
}

#[test]
fn random_kill_9_of_a_host_lab_then_clean_leaves_nothing_and_touches_nothing_foreign() {
    let _heavy = crate::support::cpu_heavy();
    let seed = seed();
    let mut points = Points(seed | 1);
    let (build, prelude) = build_and_prelude();
    let path = script("fault-host", "build.rhai", &build);
    let mut snippet = format!("{prelude}\nsnap > /run/before\n");
    for k in 0..KILLS {
        // A point in the build, as a number of ledger lines written (each object writes two or
        // three), or a moment in time: both land between intents and their results.
        let (wait, what) = if k % 2 == 0 {
            let n = 1 + points.next(260);
            (
                format!(
                    r#"while [ "$(ledger_lines)" -lt {n} ] && ! grep -q built /run/out && kill -0 $P 2>/dev/null; do :; done"#
                ),
                format!("line {n}"),
            )
        } else {
            let ms = points.next(400);
            (format!("sleep 0.{ms:03}"), format!("{ms} ms"))
        };
        snippet += &format!(
            r#"
            $NSLAB run {p} > /run/out 2> /run/err &
            P=$!
            {wait}
            kill -9 $P; wait $P 2>/dev/null
            echo "killed {k} at {what}"
            $NSLAB clean > /run/clean 2>&1 || {{ echo "FAIL {k} ({what}): clean exited $?: $(cat /run/clean)"; }}
            snap > /run/after
            diff /run/before /run/after > /run/diff || echo "FAIL {k} ({what}): the machine differs: $(head -20 /run/diff | tr '\n' '|')"
            [ "$(ls -A /run/nslab 2>/dev/null | wc -l)" = 0 ] || echo "FAIL {k} ({what}): ledgers left: $(ls /run/nslab)"
            for i in 1 2 3 4 5 6 7 8 9 10; do [ "$(programs)" = 0 ] && break; sleep 0.1; done
            [ "$(programs)" = 0 ] || echo "FAIL {k} ({what}): programs left: $(pgrep -a -x -f "sleep ($MARKERS)")"
            "#,
            p = path.display()
        );
    }
    snippet += "echo =done\n";
    let run = in_private_netns(&snippet);
    check(&run, seed, "host");
    for marker in markers() {
        assert_eq!(processes(&["sleep", &marker]), Vec::<i32>::new(), "seed {seed}");
    }
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn random_kill_9_of_a_sandboxed_lab_leaves_no_program_and_touches_nothing_foreign() {
    let _heavy = crate::support::cpu_heavy();
    let seed = seed();
    let mut points = Points(seed.rotate_left(17) | 1);
    let (build, prelude) = build_and_prelude();
    let path = script("fault-sandbox", "build.rhai", &build);
    let mut snippet = format!("{prelude}\nsnap > /run/before\n");
    for k in 0..KILLS {
        let ms = points.next(500);
        // The keeper alone (its lab must notice and tear down), or the whole process group.
        let (target, what) = if k % 2 == 0 { ("$P", "keeper") } else { ("-$P", "group") };
        snippet += &format!(
            r#"
            setsid $NSLAB run --sandbox {p} > /run/out 2> /run/err &
            P=$!
            sleep 0.{ms:03}
            # A group that does not exist yet (killed before setsid ran) is the process alone.
            kill -9 {target} 2>/dev/null || kill -9 $P; wait $P 2>/dev/null
            echo "killed {k} ({what}) at {ms} ms"
            for i in $(seq 1 30); do [ "$(programs)" = 0 ] && break; sleep 0.1; done
            [ "$(programs)" = 0 ] || echo "FAIL {k} ({what} at {ms} ms): programs left: $(pgrep -a -x -f "sleep ($MARKERS)")"
            snap > /run/after
            diff /run/before /run/after > /run/diff || echo "FAIL {k} ({what} at {ms} ms): the machine differs: $(head -20 /run/diff | tr '\n' '|')"
            [ "$(ls -A /run/nslab 2>/dev/null | wc -l)" = 0 ] || echo "FAIL {k}: ledgers left on the host: $(ls /run/nslab)"
            "#,
            p = path.display()
        );
    }
    snippet += "echo =done\n";
    let run = in_private_netns(&snippet);
    check(&run, seed, "sandbox");
    for marker in markers() {
        assert_eq!(processes(&["sleep", &marker]), Vec::<i32>::new(), "seed {seed}");
    }
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}
