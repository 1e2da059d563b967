//! The simulated machines themselves (tests/support/machines.rs): they reach each other over the
//! underlay, each has its own /run, and nothing of them outlives the test: no process, no
//! namespace, no link, no file.

use std::collections::HashMap;
use std::process::Command;

use crate::support::machines::{self, listens, vxlan, DEFAULT};
use crate::support::{json, script, sections, text_section};

/// The inode of a namespace file (`/proc/PID/ns/net`, `/run/netns/x`), as `stat -L -c %i` prints it.
fn ns_inode(path: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.ino())
}

/// Pids of the processes whose network or mount namespace is one of `inodes`.
fn processes_in(inodes: &[u64]) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        for kind in ["net", "mnt"] {
            if ns_inode(&format!("/proc/{pid}/ns/{kind}")).is_some_and(|i| inodes.contains(&i)) {
                found.push(pid);
            }
        }
    }
    found
}

/// The machine's own view: its namespaces and the names of its links.
fn real_machine() -> (String, Vec<String>) {
    let netns = Command::new("ip").args(["-j", "netns", "list"]).output().unwrap();
    let links = Command::new("ip").args(["-j", "link"]).output().unwrap();
    let names = json(&String::from_utf8_lossy(&links.stdout))
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["ifname"].as_str().unwrap().to_string())
        .collect();
    (String::from_utf8_lossy(&netns.stdout).trim().to_string(), names)
}

#[test]
fn the_inventory_names_every_machine_and_how_to_reach_it() {
    let run = machines::run(
        DEFAULT,
        r#"echo "=pids"; echo ${MACHINE_PID[local]} ${MACHINE_PID[m2]} ${MACHINE_PID[m3]}
        echo "=hosts"; on m3 cat $HOSTS"#,
    );
    let s = sections(&run.stdout);
    let pids: Vec<&str> = s["pids"].split_whitespace().collect();
    assert_eq!(pids.len(), 3, "{run:?}");
    let nslab = crate::support::nslab();
    let expected = format!(
        "[hosts.local]\naddress = \"10.200.0.1\"\ndev = \"eth0\"\n\
         [hosts.m2]\naddress = \"10.200.0.2\"\ndev = \"eth0\"\nvia = \"nsenter -t {} -n -m {nslab} agent\"\n\
         [hosts.m3]\naddress = \"10.200.0.3\"\ndev = \"eth0\"\nvia = \"nsenter -t {} -n -m {nslab} agent\"\n",
        pids[1], pids[2]
    );
    assert_eq!(s["hosts"], expected, "readable from inside a machine: {run:?}");
    assert_eq!(run.code, 0, "{run:?}");
}

/// Each machine pings the others' underlay addresses (nslab's own ping, in the machine's root
/// namespace), learns their real MAC addresses, and gets nothing from an address nobody has.
#[test]
fn machines_reach_each_other_over_the_underlay() {
    let ping = script(
        "machines-ping",
        "ping.rhai",
        r#"
        for a in ["10.200.0.1", "10.200.0.2", "10.200.0.3"] {
            let p = ping(a, #{timeout: 1});
            assert(p.ok, `reaches ${a}: ${p}`);
        }
        let nobody = ping("10.200.0.9", #{timeout: 0.2});
        assert(!nobody.ok, `nobody answers for 10.200.0.9: ${nobody}`);
        print("reached all");
        "#,
    );
    let run = machines::run(
        DEFAULT,
        &format!(
            r#"for m in local m2 m3; do echo "=ping-$m"; on $m $NSLAB run {p} 2>&1; echo "rc $?"; done
            echo "=neigh"; on local ip -j neigh show dev eth0
            echo "=m2"; on m2 ip -j link show eth0
            echo "=m3"; on m3 ip -j link show eth0"#,
            p = ping.display()
        ),
    );
    assert_eq!(run.code, 0, "{run:?}");
    let s = sections(&run.stdout);
    for m in ["local", "m2", "m3"] {
        let out = &s[&format!("ping-{m}")];
        assert!(out.starts_with("reached all\n") && out.ends_with("rc 0\n"), "{m}: {run:?}");
    }
    let neigh = json(&s["neigh"]);
    let lladdr = |addr: &str| {
        neigh
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["dst"] == addr)
            .map(|n| n["lladdr"].clone())
            .unwrap_or_else(|| panic!("{run:?}"))
    };
    assert_eq!(lladdr("10.200.0.2"), json(&s["m2"])[0]["address"], "{run:?}");
    assert_eq!(lladdr("10.200.0.3"), json(&s["m3"])[0]["address"], "{run:?}");
}

/// A namespace added on m2 is seen on m2 only; a file in one machine's /run/nslab is in no
/// other's. After the test, no process is left in any namespace of the switch, the machines, or
/// the namespace added on m2, and the machine itself has the same namespaces and links.
#[test]
fn each_machine_has_its_own_run_and_nothing_outlives_the_test() {
    let before = real_machine();
    let run = machines::run(
        DEFAULT,
        r#"on m2 ip netns add x || exit 8
        on m3 touch /run/nslab/mark
        for m in local m2 m3; do echo "=netns-$m"; on $m ip -j netns list; echo "=nslab-$m"; on $m ls -A /run/nslab; done
        echo "=netns-switch"; ip -j netns list
        echo "=nslab-switch"; ls -A /run/nslab
        echo "=inodes"; stat -L -c %i /proc/$$/ns/net /proc/$$/ns/mnt
        for m in local m2 m3; do stat -L -c %i /proc/${MACHINE_PID[$m]}/ns/net /proc/${MACHINE_PID[$m]}/ns/mnt; done
        on m2 stat -L -c %i /run/netns/x
        echo "=pids"; echo ${MACHINE_PID[*]}
        echo "=dir"; echo $MACHINES_DIR"#,
    );
    assert_eq!(run.code, 0, "{run:?}");
    let s = sections(&run.stdout);
    let netns = |m: &str| s[&format!("netns-{m}")].trim().to_string();
    assert_eq!(netns("m2"), r#"[{"name":"x"}]"#, "{run:?}");
    for m in ["local", "m3", "switch"] {
        assert_eq!(netns(m), "[]", "{m}: {run:?}");
    }
    let files: HashMap<&str, &str> =
        ["local", "m2", "m3", "switch"].iter().map(|m| (*m, s[&format!("nslab-{m}")].as_str())).collect();
    assert_eq!(files, HashMap::from([("local", ""), ("m2", ""), ("m3", "mark\n"), ("switch", "")]), "{run:?}");

    let inodes: Vec<u64> = s["inodes"].lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(inodes.len(), 9, "{run:?}");
    let mut distinct = inodes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 9, "every machine has its own network and mount namespace: {run:?}");
    assert_eq!(processes_in(&inodes), Vec::<i32>::new(), "nothing runs in the machines any more");
    for pid in s["pids"].split_whitespace() {
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists() || zombie(pid), "holder {pid} is gone");
    }
    assert!(!std::path::Path::new(s["dir"].trim()).exists(), "the inventory's folder is removed: {run:?}");
    assert_eq!(real_machine(), before, "the machine has the same namespaces and links");
}

/// Whether a process has exited and waits only to be reaped (by an init that may be slow to).
fn zombie(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
}

/// bash killed with SIGKILL runs no trap: the holders still die (their parent-death signal),
/// and with them the machines. Only the inventory's folder stays, for the test binary's exit.
#[test]
fn the_machines_die_with_a_killed_bash() {
    let run = machines::run(DEFAULT, r#"echo "=pids"; echo ${MACHINE_PID[*]}; echo "=dir"; echo $MACHINES_DIR; kill -9 $$"#);
    assert_eq!(run.code, -1, "bash was killed: {run:?}");
    let pids = text_section(&run.stdout, "pids");
    let dir = text_section(&run.stdout, "dir");
    let mut alive: Vec<&str> = pids.split_whitespace().collect();
    assert_eq!(alive.len(), 3, "{run:?}");
    for _ in 0..100 {
        alive.retain(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists() && !zombie(pid));
        if alive.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(alive, Vec::<&str>::new(), "the holders died with bash");
    let dir = std::path::Path::new(dir.trim());
    assert!(dir.join("hosts.toml").exists(), "no trap ran: {run:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// `on` refuses a machine that does not exist, naming the ones that do.
#[test]
fn on_an_unknown_machine_is_an_error() {
    let run = machines::run(2, r#"on m3 true; rc=$?; echo "=rc"; echo $rc"#);
    assert_eq!(text_section(&run.stdout, "rc"), "127\n", "{run:?}");
    assert!(run.stderr.contains("on: no machine named 'm3' (machines: local m2)"), "{run:?}");
}

/// `machines_agents` counts the processes named `$NSLAB agent` inside these machines only (a
/// stand-in here: `cat agent` on a FIFO, under the binary's name), not one outside them.
#[test]
fn machines_agents_counts_agents_inside_the_machines_only() {
    let run = machines::run(
        DEFAULT,
        r#"mkfifo /run/tmp/agent
        (cd /run/tmp && exec -a "$NSLAB" cat agent) & OUTSIDE=$!
        echo "=none"; machines_agents
        on m2 sh -c 'mkfifo /run/tmp/agent && cd /run/tmp && exec bash -c "exec -a \"$NSLAB\" cat agent"' & INSIDE=$!
        for i in $(seq 200); do [ "$(machines_agents)" = 1 ] && break; sleep 0.01; done
        echo "=one"; machines_agents; pgrep -fcx "$NSLAB agent"
        kill $INSIDE $OUTSIDE; wait $INSIDE $OUTSIDE
        echo "=after"; machines_agents"#,
    );
    let s = sections(&run.stdout);
    assert_eq!(s["none"], "0\n", "{run:?}");
    assert_eq!(s["one"], "1\n2\n", "the one in m2 counts, the one on the switch does not: {run:?}");
    assert_eq!(s["after"], "0\n", "{run:?}");
    assert!(!run.stderr.contains("machines: killed"), "$INSIDE was the stand-in itself: {run:?}");
}

/// The underlay carries VXLAN, as labs across machines will use it: a tunnel made by hand with
/// `ip` from local's and m2's own namespaces, each end in a namespace `a` of its machine, carries
/// a ping; the UDP sockets are in the machines' namespaces, not in `a` (read by the helpers the
/// tests of labs across machines use).
#[test]
fn a_vxlan_tunnel_made_by_hand_crosses_the_underlay() {
    let ping = script("machines-vxlan", "ping.rhai", r#"let p = ping("10.9.0.2", #{timeout: 1}); print(p); assert(p.ok);"#);
    let run = machines::run(
        DEFAULT,
        &format!(
            r#"for i in 1 2; do
                m=$(machine_name $i); peer=$((3 - i))
                on $m ip netns add a
                on $m ip link add vx0 type vxlan id 7 remote 10.200.0.$peer dstport 4790 dev eth0
                on $m ip link set vx0 netns a
                on $m ip -n a addr add 10.9.0.$i/24 dev vx0
                on $m ip -n a link set vx0 up
            done
            echo "=ping"; on local ip netns exec a $NSLAB run {p} 2>&1; echo "rc $?"
            echo "=local"; on local ip -n a -j -d link show vx0
            echo "=m2"; on m2 ip -n a -j -d link show vx0
            echo "=udp-local"; on local cat /proc/net/udp
            echo "=udp-m2"; on m2 cat /proc/net/udp
            echo "=udp-a"; on m2 ip netns exec a cat /proc/net/udp"#,
            p = ping.display()
        ),
    );
    assert_eq!(run.code, 0, "{run:?}");
    let s = sections(&run.stdout);
    assert!(s["ping"].ends_with("rc 0\n"), "{run:?}");
    assert_eq!(vxlan(&s["local"]), (7, "10.200.0.2".to_string(), 4790, 1450), "{run:?}");
    assert_eq!(vxlan(&s["m2"]), (7, "10.200.0.1".to_string(), 4790, 1450), "{run:?}");
    assert!(listens(&s["udp-local"], 4790) && listens(&s["udp-m2"], 4790), "{run:?}");
    assert!(!listens(&s["udp-a"], 4790) && !listens(&s["udp-m2"], 4789), "{run:?}");
}

/// A program a test leaves running inside a machine (an agent that never ends) is killed at the
/// end, and said so, instead of holding the test's output open forever.
#[test]
fn a_program_left_running_in_a_machine_is_killed_at_the_end() {
    // (Once it runs in m3: until `on` has entered the machine, it is no straggler of one.)
    let run = machines::run(
        DEFAULT,
        r#"on m3 sleep 7171 & P=$!
        for i in $(seq 500); do
            [ "$(cat /proc/$P/comm 2>/dev/null)" = sleep ] && [ /proc/$P/ns/mnt -ef /proc/${MACHINE_PID[m3]}/ns/mnt ] && break
            sleep 0.01
        done
        echo "=pid"; echo $P"#,
    );
    assert_eq!(run.code, 0, "{run:?}");
    let pid = text_section(&run.stdout, "pid");
    assert!(
        run.stderr.contains(&format!("machines: killed sleep 7171 (pid {}), left running in a machine", pid.trim())),
        "{run:?}"
    );
    assert_eq!(crate::support::processes(&["sleep", "7171"]), Vec::<i32>::new());
}
