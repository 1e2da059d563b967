//! Simulated machines for labs that span machines (issue 16), all inside one test's private
//! namespace (`in_private_netns`), which plays the network switch:
//!
//! ```text
//!   private namespace of the test ("the switch"): bridge ul0
//!     ├── ul-local ── eth0 10.200.0.1/24  machine local  (own net + mount namespace, own /run)
//!     ├── ul-m2    ── eth0 10.200.0.2/24  machine m2
//!     └── ul-m3    ── eth0 10.200.0.3/24  machine m3
//! ```
//!
//! Each machine is a holder process (`sleep infinity`) in a new network + mount namespace with a
//! tmpfs on /run, so each has its own /run/netns and /run/nslab, as separate hosts do. Everything
//! outside /run (the binary, /tmp) is shared, which is where the inventory lives.
//!
//! The prelude gives the snippet:
//! - `$HOSTS`: the inventory (`[hosts.NAME] address, dev, via`), `via` being
//!   `nsenter -t PID -n -m NSLAB agent` for every machine but `local`;
//! - `on NAME CMD...`: runs CMD inside machine NAME (`on local $NSLAB run --hosts $HOSTS x.rhai`)
//!   from its / (entering a mount namespace moves there: give absolute paths); a program on
//!   PATH, not a function, so that in `on m2 CMD & P=$!`, $P is CMD's pid;
//! - `machines_snap`: what a lab could leave behind on the switch and on every machine, for
//!   before/after diffs (`machine_snap NAME`: one machine's part);
//! - `machines_agents`: how many `$NSLAB agent` run in these machines (not other tests');
//! - `wait_for FILE TEXT PID`: waits until TEXT is in FILE (fails if PID exits first);
//! - `MACHINE_PID[NAME]`, `MACHINE_NAMES`, `MACHINES_DIR` (the inventory's folder);
//! - an EXIT trap that kills, by pid, what the test left running inside a machine (saying so on
//!   stderr), then the holders, and removes the inventory's folder (a snippet that sets its own
//!   EXIT trap must call `machines_cleanup` from it).
//!
//! The holders cannot outlive the test's bash: each gets SIGKILL as its parent-death signal
//! (`setpriv --pdeathsig`), for the case where bash itself is killed and its trap never runs.
//! When a holder dies, its namespaces go with it: the network namespace takes eth0 (and its
//! switch end), the mount namespace takes the machine's /run and every namespace mounted there.
//! (Were that signal lost, the test would hang, not pass: the holders keep bash's stderr open.)

use super::{in_private_netns, Run};

/// The number of machines most tests use: local, m2, m3.
pub const DEFAULT: usize = 3;

/// The bash functions (no side effects until `machines_up N` is called).
const FUNCTIONS: &str = r##"
declare -A MACHINE_PID
MACHINE_NAMES=()
MACHINES_DIR=
machine_name() { if [ "$1" = 1 ]; then echo local; else echo "m$1"; fi; }
machines_cleanup() {
    local m p
    # Whatever the test started inside a machine and left running (an agent that did not end):
    # it would hold the test's output open, and the test would hang instead of failing.
    for p in $(machines_stragglers); do
        echo "machines: killed $(tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null)(pid $p), left running in a machine" >&2
        kill -KILL "$p" 2>/dev/null
    done
    for m in "${MACHINE_NAMES[@]}"; do kill -KILL "${MACHINE_PID[$m]}" 2>/dev/null; done
    for m in "${MACHINE_NAMES[@]}"; do wait "${MACHINE_PID[$m]}" 2>/dev/null; done
    if [ -n "$MACHINES_DIR" ]; then rm -rf "$MACHINES_DIR"; fi
}
machine_snap() { echo "# $1"; on "$1" ip -j netns list; echo; on "$1" ip -j link; echo; on "$1" ls -A /run/nslab; }
machines_snap() {
    local m
    echo "# switch"; ip -j netns list; echo; ip -j link
    for m in "${MACHINE_NAMES[@]}"; do machine_snap "$m"; done
}
machines_stragglers() {
    local p m holder
    # `-ef` compares the namespace files' inodes without a process per check.
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        for m in "${MACHINE_NAMES[@]}"; do
            holder=${MACHINE_PID[$m]}
            if [ "$p" != "$holder" ] && [ /proc/$p/ns/mnt -ef /proc/$holder/ns/mnt ]; then echo "$p"; fi
        done
    done
}
machines_agents() {
    local p m n=0
    for p in $(pgrep -fx "$NSLAB agent"); do
        for m in "${MACHINE_NAMES[@]}"; do
            if [ /proc/$p/ns/mnt -ef /proc/${MACHINE_PID[$m]}/ns/mnt ]; then n=$((n + 1)); fi
        done
    done
    echo $n
}
wait_for() { while ! grep -q "$2" "$1" 2>/dev/null; do kill -0 "$3" 2>/dev/null || return 1; sleep 0.01; done; }
machines_up() {
    local n=$1 i name pid tries
    trap machines_cleanup EXIT
    MACHINES_DIR=$(mktemp -d "$MACHINES_TMP/nslab-test-$MACHINES_TEST_PID-machines.XXXXXX") || return 1
    chmod 755 "$MACHINES_DIR"
    HOSTS=$MACHINES_DIR/hosts.toml
    # `on` is a program, not a function, so that `on local $NSLAB run ... & P=$!` gives nslab's
    # pid (a function in the background would be a subshell waiting for it).
    mkdir -p /run/tmp/machines && PATH=/run/tmp/machines:$PATH
    cat > /run/tmp/machines/on <<'ON'
#!/bin/bash
# on NAME CMD...: runs CMD inside machine NAME (its network and mount namespaces).
pid=$(cat "/run/tmp/machines/$1.pid" 2>/dev/null)
if [ -z "$pid" ]; then echo "on: no machine named '$1' (machines: $(cat /run/tmp/machines/names))" >&2; exit 127; fi
shift
exec nsenter -t "$pid" -n -m -- "$@"
ON
    chmod 755 /run/tmp/machines/on
    ip link add ul0 type bridge && ip link set ul0 up || return 1
    for ((i = 1; i <= n; i++)); do
        name=$(machine_name "$i")
        # The holder: the machine's namespaces stay as long as it lives. Its stdout (a file on
        # the switch's /run, opened before its own /run hides it) says when /run is ready.
        setpriv --pdeathsig KILL -- unshare --net --mount --propagation private -- sh -c \
            'mount -t tmpfs -o mode=755 tmpfs /run && mkdir -p /run/netns /run/nslab /run/tmp && echo ready && exec sleep infinity' \
            > "/run/tmp/machines/$name.ready" < /dev/null &
        MACHINE_PID[$name]=$!
        MACHINE_NAMES+=("$name")
        echo $! > "/run/tmp/machines/$name.pid"
    done
    echo "${MACHINE_NAMES[*]}" > /run/tmp/machines/names
    for ((i = 1; i <= n; i++)); do
        name=$(machine_name "$i"); pid=${MACHINE_PID[$name]}
        for ((tries = 0; tries < 500; tries++)); do
            grep -q ready "/run/tmp/machines/$name.ready" 2>/dev/null && break
            kill -0 "$pid" 2>/dev/null || { echo "machine $name did not start" >&2; return 1; }
            sleep 0.01
        done
        ip link add "ul-$name" type veth peer name eth0 netns "$pid" || return 1
        ip link set "ul-$name" master ul0 up || return 1
        nsenter -t "$pid" -n sh -c "ip link set lo up && ip addr add 10.200.0.$i/24 dev eth0 && ip link set eth0 up" || return 1
        {
            echo "[hosts.$name]"
            echo "address = \"10.200.0.$i\""
            echo 'dev = "eth0"'
            if [ "$i" != 1 ]; then echo "via = \"nsenter -t $pid -n -m $NSLAB agent\""; fi
        } >> "$HOSTS"
    done
    # The switch's ports come up a moment after their peers: a snapshot taken before that would
    # differ from one taken after for no fault of the test.
    for ((tries = 0; tries < 500; tries++)); do
        ip -o link show master ul0 | grep -q NO-CARRIER || break
        sleep 0.01
    done
}
"##;

/// The prelude for `in_private_netns`: the functions, then `n` machines started (the snippet
/// exits with 99 if they cannot be).
pub fn prelude(n: usize) -> String {
    format!(
        "MACHINES_TMP={tmp}\nMACHINES_TEST_PID={pid}\n{FUNCTIONS}\nmachines_up {n} || exit 99\n",
        tmp = std::env::temp_dir().display(),
        pid = std::process::id(),
    )
}

/// Runs a bash snippet on `n` simulated machines (see the module's text for what it can use).
pub fn run(n: usize, snippet: &str) -> Run {
    // The inventory's folder is named like a scratch directory, so that the test binary removes
    // it at exit even when bash was killed before its trap could.
    super::remove_scratch_at_exit();
    in_private_netns(&format!("{}{snippet}", prelude(n)))
}

/// Runs `command` (a line of bash, `on local $NSLAB ...`) on the default machines and returns the
/// run and its sections: `rc`, `out`, `err` (the command's), and `diff`: every machine before and
/// after (once no agent is left), which is empty when the command left nothing anywhere.
pub fn checked(command: &str) -> (Run, std::collections::HashMap<String, String>) {
    let run = run(
        DEFAULT,
        &format!(
            r#"machines_snap > /run/before
            {command} > /run/out 2> /run/err; rc=$?
            echo "=rc"; echo $rc; echo "=out"; cat /run/out; echo "=err"; cat /run/err
            for i in $(seq 200); do [ "$(machines_agents)" = 0 ] && break; sleep 0.01; done
            machines_snap > /run/after
            echo "=diff"; diff /run/before /run/after"#
        ),
    );
    let s = super::sections(&run.stdout);
    (run, s)
}

/// A VXLAN device seen by `ip -j -d link show DEV`: (VNI, remote, UDP port, MTU).
pub fn vxlan(text: &str) -> (u64, String, u64, u64) {
    let link = &super::json(text)[0];
    assert_eq!(link["linkinfo"]["info_kind"], "vxlan", "{link}");
    let data = &link["linkinfo"]["info_data"];
    (
        data["id"].as_u64().unwrap(),
        data["remote"].as_str().unwrap().to_string(),
        data["port"].as_u64().unwrap(),
        link["mtu"].as_u64().unwrap(),
    )
}

/// Whether /proc/net/udp (as printed) has a socket bound to `port`.
pub fn listens(proc_net_udp: &str, port: u64) -> bool {
    let needle = format!(":{port:04X} ");
    proc_net_udp.lines().skip(1).any(|l| l.split_whitespace().nth(1).is_some_and(|local| format!("{local} ").ends_with(&needle)))
}
