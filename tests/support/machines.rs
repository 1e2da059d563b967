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
//! - `on NAME CMD...`: runs CMD inside machine NAME (`on local $NSLAB run --hosts $HOSTS x.rhai`);
//! - `machines_snap`: what a lab could leave behind on the switch and on every machine, for
//!   before/after diffs;
//! - `MACHINE_PID[NAME]`, `MACHINE_NAMES`, `MACHINES_DIR` (the inventory's folder);
//! - an EXIT trap that kills the holders by pid and removes the inventory's folder (a snippet that
//!   sets its own EXIT trap must call `machines_cleanup` from it).
//!
//! The holders cannot outlive the test's bash: each gets SIGKILL as its parent-death signal
//! (`setpriv --pdeathsig`), for the case where bash itself is killed and its trap never runs.
//! When a holder dies, its namespaces go with it: the network namespace takes eth0 (and its
//! switch end), the mount namespace takes the machine's /run and every namespace mounted there.

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
    local m
    for m in "${MACHINE_NAMES[@]}"; do kill -KILL "${MACHINE_PID[$m]}" 2>/dev/null; done
    for m in "${MACHINE_NAMES[@]}"; do wait "${MACHINE_PID[$m]}" 2>/dev/null; done
    if [ -n "$MACHINES_DIR" ]; then rm -rf "$MACHINES_DIR"; fi
}
on() {
    local pid=${MACHINE_PID[$1]}
    if [ -z "$pid" ]; then echo "on: no machine named '$1' (machines: ${MACHINE_NAMES[*]})" >&2; return 127; fi
    shift
    nsenter -t "$pid" -n -m -- "$@"
}
machines_snap() {
    local m
    echo "# switch"; ip -j netns list; echo; ip -j link
    for m in "${MACHINE_NAMES[@]}"; do
        echo "# $m"; on "$m" ip -j netns list; echo; on "$m" ip -j link; echo; on "$m" ls -A /run/nslab
    done
}
machines_up() {
    local n=$1 i name pid tries
    trap machines_cleanup EXIT
    MACHINES_DIR=$(mktemp -d "$MACHINES_TMP/nslab-test-$MACHINES_TEST_PID-machines.XXXXXX") || return 1
    chmod 755 "$MACHINES_DIR"
    HOSTS=$MACHINES_DIR/hosts.toml
    ip link add ul0 type bridge && ip link set ul0 up || return 1
    for ((i = 1; i <= n; i++)); do
        name=$(machine_name "$i")
        # The holder: the machine's namespaces stay as long as it lives. Its stdout (a file on
        # the switch's /run, opened before its own /run hides it) says when /run is ready.
        setpriv --pdeathsig KILL -- unshare --net --mount --propagation private -- sh -c \
            'mount -t tmpfs -o mode=755 tmpfs /run && mkdir -p /run/netns /run/nslab /run/tmp && echo ready && exec sleep infinity' \
            > "/run/tmp/machine-$name" < /dev/null &
        MACHINE_PID[$name]=$!
        MACHINE_NAMES+=("$name")
    done
    for ((i = 1; i <= n; i++)); do
        name=$(machine_name "$i"); pid=${MACHINE_PID[$name]}
        for ((tries = 0; tries < 500; tries++)); do
            grep -q ready "/run/tmp/machine-$name" 2>/dev/null && break
            kill -0 "$pid" 2>/dev/null || { echo "machine $name did not start" >&2; return 1; }
            sleep 0.01
        done
        rm -f "/run/tmp/machine-$name"
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
}
"##;

/// Machine i's name (1-based): `local`, `m2`, `m3`, ...
pub fn name(i: usize) -> String {
    if i == 1 {
        "local".into()
    } else {
        format!("m{i}")
    }
}

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
