//! A lab owns what it creates, and only that: by identity, and what it changed but did not
//! create is put back. Each test runs nslab without `--sandbox` in a private network + mount
//! namespace with its own /run, sets up "foreign" objects there the way an admin would (`ip`,
//! `tc`, `sysctl`), and checks with `ip -j`, `tc -j` and /proc that they are exactly as before
//! once the lab is gone, while everything of the lab's is.

use std::path::PathBuf;

use serde_json::Value;

use crate::support::{in_private_netns, json, last_line, scratch, sections, unwrap, Run};

/// Bash functions for the snippets: `wait_for FILE TEXT PID` waits until TEXT appears in FILE
/// (or PID exits).
const PRELUDE: &str = r#"
wait_for() { while ! grep -q "$2" "$1" 2>/dev/null; do kill -0 "$3" 2>/dev/null || return 1; sleep 0.01; done; }
"#;

/// The test's scripts, in a scratch directory removed when the test ends.
struct Scripts(PathBuf);

impl Scripts {
    fn new(test: &str) -> Scripts {
        Scripts(scratch(&format!("ownership-{test}")))
    }

    fn add(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }
}

impl Drop for Scripts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run_in_private(snippet: &str) -> Run {
    in_private_netns(&format!("{PRELUDE}\n{snippet}"))
}

fn routes_with(v: &Value, dst: &str) -> Vec<Value> {
    v.as_array().unwrap().iter().filter(|r| r["dst"] == dst).cloned().collect()
}

#[test]
fn routes_are_removed_by_their_whole_key_and_nslabs_protocol() {
    let scripts = Scripts::new("routes");
    let lab = scripts.add(
        "routes.rhai",
        r#"
        route("default", #{via: "10.9.0.254", metric: 500});
        route("10.7.0.0/16", #{via: "10.9.0.254", metric: 10});
        route("10.7.0.0/16", #{via: "10.9.0.254", metric: 20});
        route("10.8.0.0/16", #{dev: "d0"});
        route("10.6.0.0/16", #{via: "10.9.0.254", metric: 40});
        print("ready");
        sleep(1000);
        "#,
    );
    let run = run_in_private(&format!(
        r#"ip link add d0 type veth peer name d1; ip link set d0 up; ip link set d1 up
        ip addr add 10.9.0.2/24 dev d0
        ip route add default via 10.9.0.254
        ip route add 10.6.0.0/16 via 10.9.0.254 metric 30
        echo "=before"; ip -j route
        $NSLAB run {lab} > /run/out 2> /run/err & P=$!
        wait_for /run/out ready $P
        echo "=during"; ip -j route
        echo "=text"; ip route
        # The admin takes over one of the lab's routes: same key, but not nslab's protocol.
        ip route del 10.6.0.0/16 via 10.9.0.254 metric 40
        ip route add 10.6.0.0/16 via 10.9.0.254 metric 40
        kill -TERM $P; wait $P
        echo "=err"; cat /run/err
        echo "=after"; ip -j route"#
    ));
    let s = sections(&run.stdout);
    let before = json(&s["before"]);
    let during = json(&s["during"]);
    // The lab's routes carry nslab's protocol number, next to the admin's default route.
    let defaults = routes_with(&during, "default");
    assert_eq!(defaults.len(), 2, "{run:?}");
    assert!(defaults.iter().any(|r| r["protocol"] == "110" && r["metric"] == 500), "{run:?}");
    // `ip -j` leaves out protocol "boot" (what `ip route add` gives) and metric 0.
    assert!(defaults.iter().any(|r| r.get("protocol").is_none() && r.get("metric").is_none()), "{run:?}");
    let metrics: Vec<Value> = routes_with(&during, "10.7.0.0/16").iter().map(|r| r["metric"].clone()).collect();
    assert_eq!(metrics, [Value::from(10), Value::from(20)], "{run:?}");
    assert_eq!(routes_with(&during, "10.8.0.0/16")[0]["protocol"], "110", "{run:?}");
    assert!(s["text"].contains("default via 10.9.0.254 dev d0 proto 110 metric 500"), "{run:?}");
    // Torn down: the lab's four (the one the admin took over is not the lab's any more).
    assert_eq!(last_line(&s["err"]), "torn down: 4 routes", "{run:?}");
    let after = json(&s["after"]);
    let admins = routes_with(&after, "10.6.0.0/16");
    assert_eq!(admins.len(), 2, "{run:?}");
    assert!(admins.iter().all(|r| r.get("protocol").is_none()), "{run:?}");
    let without_takeover: Vec<Value> =
        after.as_array().unwrap().iter().filter(|r| !(r["dst"] == "10.6.0.0/16" && r["metric"] == 40)).cloned().collect();
    assert_eq!(Value::from(without_takeover), before, "the admin's routes are exactly as before: {run:?}");
}

#[test]
fn a_foreign_root_qdisc_is_refused_without_replace_and_restored_with_it() {
    let scripts = Scripts::new("qdisc");
    let refuse = scripts.add("refuse.rhai", r#"shape("d0", #{rate: "10mbit"});"#);
    let unshape = scripts.add("unshape.rhai", r#"unshape("d0");"#);
    let lab = scripts.add(
        "replace.rhai",
        r#"
        shape("d0", #{rate: "10mbit", replace: true});
        shape("d0", #{rate: "20mbit"});
        shape("d1", #{rate: "5mbit", replace: true});
        shape("d2", #{rate: "5mbit"});
        shape("d4", #{rate: "5mbit"});
        print("ready");
        sleep(1000);
        "#,
    );
    let run = run_in_private(&format!(
        r#"for p in "d0 d1" "d2 d3" "d4 d5"; do set -- $p; ip link add $1 type veth peer name $2; ip link set $1 up; ip link set $2 up; done
        tc qdisc add dev d0 root handle 5: tbf rate 1mbit burst 5k latency 70ms
        tc qdisc add dev d1 root handle 7: htb default 10 r2q 5
        for d in d0 d1 d2 d4; do tc -j qdisc show dev $d > /run/$d.before; done
        echo "=refuse"; $NSLAB run {refuse} 2>&1; echo "status $?"
        echo "=unshape"; $NSLAB run {unshape} 2>&1; echo "status $?"
        echo "=untouched"; tc -j qdisc show dev d0 | diff /run/d0.before - && echo same
        $NSLAB run {lab} > /run/out 2> /run/err & P=$!
        wait_for /run/out ready $P
        echo "=during"; tc -j qdisc show dev d0; echo; tc -j qdisc show dev d1
        # The admin replaces the lab's qdisc on d2: that one is theirs now.
        tc qdisc replace dev d2 root handle 9: tbf rate 2mbit burst 5k latency 70ms
        kill -TERM $P; wait $P
        echo "=err"; cat /run/err
        for d in d0 d1 d4; do echo "=before-$d"; cat /run/$d.before; echo; echo "=after-$d"; tc -j qdisc show dev $d; done
        echo "=d2"; tc -j qdisc show dev d2"#
    ));
    let s = sections(&run.stdout);
    let refused = unwrap(&s["refuse"]);
    assert!(
        refused.contains(
            "× cannot shape link \"d0\" in the root namespace: the link has a root qdisc someone configured (tbf 5:), \
             and the lab did not create the link: pass #{replace: true} to replace it (it is put back when the lab ends)"
        ),
        "{run:?}"
    );
    assert!(refused.ends_with("torn down: nothing to remove\nstatus 1\n"), "{run:?}");
    assert!(unwrap(&s["unshape"]).contains("its root qdisc (tbf 5:) was not set by this lab"), "{run:?}");
    assert_eq!(s["untouched"], "same\n", "{run:?}");
    let mut during = s["during"].lines().filter(|l| !l.is_empty());
    let d0 = json(during.next().unwrap());
    assert_eq!((d0[0]["kind"].as_str(), d0[0]["handle"].as_str()), (Some("tbf"), Some("1ab1:")), "{run:?}");
    assert_eq!(d0[0]["options"]["rate"], 2_500_000, "{run:?}");
    assert_eq!(json(during.next().unwrap())[0]["kind"], "tbf", "{run:?}");
    let err = unwrap(&s["err"]);
    assert_eq!(
        last_line(&err),
        "torn down: 3 qdiscs; left: qdisc 1ab0: on d2: the link's root qdisc is now tbf 9:, not the lab's: left as is",
        "{run:?}"
    );
    // tbf and htb exactly as configured, the default qdisc back where there was none (counters
    // aside: htb counts the packets it sent directly, such as IPv6's own).
    let config = |text: &str| {
        let mut v = json(text);
        for q in v.as_array_mut().unwrap() {
            q.as_object_mut().unwrap().remove("refcnt");
            q["options"].as_object_mut().map(|o| o.remove("direct_packets_stat"));
        }
        v
    };
    for d in ["d0", "d1", "d4"] {
        assert_eq!(config(&s[&format!("after-{d}")]), config(&s[&format!("before-{d}")]), "{d}: {run:?}");
    }
    assert_eq!(json(&s["after-d1"])[0]["kind"], "htb", "{run:?}");
    assert_eq!(json(&s["d2"])[0]["handle"], "9:", "{run:?}");
}

#[test]
fn foreign_links_moved_into_the_lab_come_back_with_their_names() {
    let scripts = Scripts::new("moved");
    let lab = scripts.add(
        "moved.rhai",
        r#"
        let a = netns_add("a");
        move_to(root(), "d0", a);
        rename(a, "d0", "x");
        move_to("f", "f0", a);
        let b = netns_add("b");
        move_to(root(), "d1", b);
        netns_del(b);
        print("ready");
        sleep(1000);
        "#,
    );
    let snapshot =
        r#"ip -j link show d0; ip -j link show d1; ip -n f -j link show f0; ip -n f -j link show f1; ip -j netns list"#;
    let run = run_in_private(&format!(
        r#"ip link add d0 type veth peer name d1; ip link set d0 up
        ip netns add f; ip -n f link add f0 type veth peer name f1; ip -n f link set f1 up
        echo "=before"; {snapshot}
        for end in term kill; do
            $NSLAB run {lab} > /run/out-$end 2> /run/err & P=$!
            wait_for /run/out-$end ready $P
            echo "=during-$end"; ip -j link; ip -n a -j link
            if [ $end = term ]; then kill -TERM $P; wait $P; else kill -9 $P; wait $P; $NSLAB clean >> /run/err 2>&1; fi
            echo "=err-$end"; cat /run/err
            echo "=after-$end"; {snapshot}
        done
        # Someone takes d0's name while the lab holds it: it comes back under the lab's name for it.
        $NSLAB run {lab} > /run/out-taken 2> /run/err & P=$!
        wait_for /run/out-taken ready $P
        ip link add d0 type veth peer name z0
        kill -TERM $P; wait $P
        echo "=err-taken"; tail -n1 /run/err
        echo "=after-taken"; ip -j link show x
        ip netns del f"#
    ));
    let s = sections(&run.stdout);
    let names =
        |v: &Value| -> Vec<String> { v.as_array().unwrap().iter().map(|l| l["ifname"].as_str().unwrap().to_string()).collect() };
    for end in ["term", "kill"] {
        let mut during = s[&format!("during-{end}")].lines();
        // d1 came back when the script deleted b; d0 and f0 are in a.
        assert_eq!(names(&json(during.next().unwrap())), ["lo", "d1"], "{end}: {run:?}");
        let mut in_a = names(&json(during.next().unwrap()));
        in_a.sort();
        assert_eq!(in_a, ["f0", "lo", "x"], "{end}: {run:?}");
        let err = &s[&format!("err-{end}")];
        assert_eq!(last_line(err).rsplit(") ").next().unwrap(), "torn down: 1 namespace, 2 links moved back", "{end}: {run:?}");
        // Same names, same ifindexes, same namespaces as before.
        assert_eq!(s[&format!("after-{end}")], s["before"], "{end}: {run:?}");
    }
    assert_eq!(
        s["err-taken"],
        "torn down: 1 namespace, 2 links moved back; left: link d0 (moved from the root namespace): moved back as x: its \
         name is taken there now\n",
        "{run:?}"
    );
    let before = json(s["before"].lines().next().unwrap());
    assert_eq!(json(&s["after-taken"])[0]["ifindex"], before[0]["ifindex"], "the same link, its ifindex kept: {run:?}");
}

#[test]
fn a_sysctl_changed_by_someone_else_after_the_lab_set_it_is_left_as_is() {
    let scripts = Scripts::new("sysctl-changed");
    let lab = scripts.add(
        "sysctl.rhai",
        r#"
        sysctl("net.ipv4.conf.all.log_martians", 1);
        sysctl("net.ipv4.ip_default_ttl", 33);
        print("ready");
        sleep(1000);
        "#,
    );
    let run = run_in_private(&format!(
        r#"echo "=before"; sysctl -n net.ipv4.conf.all.log_martians net.ipv4.ip_default_ttl
        $NSLAB run {lab} > /run/out 2> /run/err & P=$!
        wait_for /run/out ready $P
        echo "=during"; sysctl -n net.ipv4.conf.all.log_martians net.ipv4.ip_default_ttl
        sysctl -qw net.ipv4.conf.all.log_martians=2
        kill -TERM $P; wait $P
        echo "=err"; cat /run/err
        echo "=after"; sysctl -n net.ipv4.conf.all.log_martians net.ipv4.ip_default_ttl; ls -A /run/nslab | wc -l"#
    ));
    let s = sections(&run.stdout);
    assert_eq!(s["before"], "0\n64\n", "{run:?}");
    assert_eq!(s["during"], "1\n33\n", "{run:?}");
    assert_eq!(
        last_line(&unwrap(&s["err"])),
        "torn down: 1 sysctl restored; left: sysctl net.ipv4.conf.all.log_martians: changed since by someone else \
         (now \"2\", the lab's value was \"1\"): left as is",
        "{run:?}"
    );
    assert_eq!(s["after"], "2\n64\n0\n", "{run:?}");
}

/// Two labs in one namespace both turn forwarding on: it stays on until the second ends, then
/// the value from before the first comes back; a third asking for "off" meanwhile is refused,
/// naming the holder; a holder killed with -9 is pruned, and `clean` of it does the right thing.
#[test]
fn host_settings_are_shared_by_the_labs_that_run() {
    let scripts = Scripts::new("shared");
    let on = scripts.add("on.rhai", r#"forwarding(true); print("ready"); sleep(1000);"#);
    let off = scripts.add("off.rhai", r#"forwarding(false);"#);
    let run = run_in_private(&format!(
        r#"umask 000
        fw() {{ sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding | tr '\n' ' '; echo; }}
        echo "=before"; fw
        $NSLAB run --name A {on} > /run/a.out 2> /run/a.err & PA=$!
        wait_for /run/a.out ready $PA
        $NSLAB run --name B {on} > /run/b.out 2> /run/b.err & PB=$!
        wait_for /run/b.out ready $PB
        echo "=pid"; echo $PA
        echo "=modes"; stat -c %a /run/nslab/shared /run/nslab/shared/*
        echo "=ids"; $NSLAB ls | awk '$1 == "A" {{print $2}}'
        echo "=off"; $NSLAB run --name C {off} 2>&1; echo "status $?"
        kill -TERM $PA; wait $PA
        echo "=a-gone"; fw; tail -n1 /run/a.err
        kill -TERM $PB; wait $PB
        echo "=b-gone"; fw; tail -n1 /run/b.err; ls -A /run/nslab | wc -l
        # A holder killed with -9 is dropped by the next lab, and by clean.
        $NSLAB run --name A {on} > /run/a2.out 2> /run/a2.err & PA=$!
        wait_for /run/a2.out ready $PA
        kill -9 $PA; wait $PA
        $NSLAB run --name B {on} > /run/b2.out 2> /run/b2.err & PB=$!
        wait_for /run/b2.out ready $PB
        echo "=dead-a"; fw
        kill -TERM $PB; wait $PB
        echo "=b-alone-gone"; fw; tail -n1 /run/b2.err
        echo "=clean-a"; $NSLAB clean 2>&1; echo "status $?"
        $NSLAB run --name A {on} > /run/a3.out 2> /run/a3.err & PA=$!
        wait_for /run/a3.out ready $PA
        kill -9 $PA; wait $PA
        echo "=killed"; fw
        echo "=clean"; $NSLAB clean 2>&1; echo "status $?"
        echo "=end"; fw; ls -A /run/nslab | wc -l"#
    ));
    let s = sections(&run.stdout);
    assert_eq!(s["before"], "0 0 \n", "{run:?}");
    assert_eq!(s["modes"], "700\n600\n600\n", "fixed modes whatever the umask: {run:?}");
    let (pid, id) = (s["pid"].trim(), s["ids"].trim());
    let off = unwrap(&s["off"]);
    assert!(
        off.contains(&format!(
            "× cannot set sysctl net.ipv4.ip_forward in the root namespace to \"0\": lab \"A\" (id {id}, pid {pid}) holds \
             it at \"1\""
        )),
        "{run:?}"
    );
    assert!(off.ends_with("torn down: nothing to remove\nstatus 1\n"), "{run:?}");
    let a_gone = unwrap(&s["a-gone"]);
    assert!(
        a_gone.starts_with(
            "1 1 \ntorn down: nothing to remove; left: sysctl net.ipv6.conf.all.forwarding: still held by lab \"B\""
        ),
        "{run:?}"
    );
    assert_eq!(s["b-gone"], "0 0 \ntorn down: 2 sysctls restored\n0\n", "{run:?}");
    assert_eq!(s["dead-a"], "1 1 \n", "{run:?}");
    assert_eq!(s["b-alone-gone"], "0 0 \ntorn down: 2 sysctls restored\n", "{run:?}");
    assert!(s["clean-a"].ends_with(") torn down: nothing to remove\nstatus 0\n"), "{run:?}");
    assert_eq!(s["killed"], "1 1 \n", "{run:?}");
    assert!(s["clean"].ends_with(") torn down: 2 sysctls restored\nstatus 0\n"), "{run:?}");
    assert_eq!(s["end"], "0 0 \n0\n", "{run:?}");
}

/// nslab killed between writing an intent and noting the result, a user re-creating an object
/// of that name, then `clean`: the user's object stays. The kill is the kernel's: with a file
/// size limit (`ulimit -f`), the write that crosses it kills nslab (SIGXFSZ, like SIGKILL not
/// handled) at that very write, so a limit that falls in a "made" line kills nslab after the
/// object was made and before it was noted.
#[test]
fn clean_leaves_namesakes_of_objects_whose_creation_was_interrupted() {
    let scripts = Scripts::new("interrupted");
    let namespaces = scripts.add("ns.rhai", r#"for i in 0..200 { netns_add(`n${i}`); }"#);
    let links = scripts.add("links.rhai", r#"let h = netns_add("h"); for i in 0..200 { veth(h, `e${i}`, root(), `r${i}`); }"#);
    let run = run_in_private(&format!(
        r#"ulimit -c 0
        # The last whole line of a file (a line cut short by the kill has no newline).
        last_line() {{ local line last=""; while IFS= read -r line; do last=$line; done < "$1"; echo "$last"; }}
        # Runs SCRIPT under growing file size limits until its ledger ends with an intent for KIND.
        interrupt() {{
            for n in 1 2 3 4 5 6 7 8; do
                (ulimit -f $n; exec $NSLAB run $2) > /dev/null 2>&1
                last=$(last_line /run/nslab/*.jsonl)
                case "$last" in *'"intent":{{"'$1'"'*) echo "$last"; return 0;; esac
                $NSLAB clean > /dev/null 2>&1
            done
            return 1
        }}
        echo "=ns-intent"; interrupt netns {namespaces}
        N=$(last_line /run/nslab/*.jsonl | grep -o '"name":"[^"]*"' | cut -d'"' -f4)
        echo "=ns-count"; ls /run/netns | wc -l
        ip netns del $N
        ip netns add $N
        echo "=ns-foreign"; echo $N; stat -L -c %i /run/netns/$N
        echo "=ns-clean"; $NSLAB clean 2>&1; echo "status $?"
        echo "=ns-after"; ip -j netns list; stat -L -c %i /run/netns/$N; ls -A /run/nslab | wc -l
        ip netns del $N
        echo "=link-intent"; interrupt link {links}
        L=$(last_line /run/nslab/*.jsonl | grep -o '"name":"[^"]*"' | cut -d'"' -f4)
        ip link del $L
        ip link add $L type veth peer name u$L
        echo "=link-foreign"; echo $L; ip -j link show $L
        echo "=link-clean"; $NSLAB clean 2>&1; echo "status $?"
        echo "=link-after"; ip -j link; ip -j netns list; ls -A /run/nslab | wc -l"#
    ));
    let s = sections(&run.stdout);
    // The namespace's intent names it by inode, recorded before the mount.
    let intent = json(&s["ns-intent"]);
    assert!(intent["intent"]["netns"]["inode"].is_u64() && intent["intent"]["netns"]["file"].is_u64(), "{run:?}");
    let made: usize = s["ns-count"].trim().parse().unwrap();
    let mut foreign = s["ns-foreign"].lines();
    let (name, inode) = (foreign.next().unwrap(), foreign.next().unwrap());
    let clean = unwrap(&s["ns-clean"]);
    assert!(clean.contains(&format!(") torn down: {} namespaces; left: namespace {name}: the name now stands for another namespace (inode {inode}, the lab's was ", made - 1)), "{run:?}");
    assert!(clean.ends_with("): left as is\nstatus 0\n"), "{run:?}");
    let mut after = s["ns-after"].lines();
    assert_eq!(json(after.next().unwrap()), serde_json::json!([{"name": name}]), "only the user's namespace: {run:?}");
    assert_eq!(after.next(), Some(inode), "the same namespace: {run:?}");
    assert_eq!(after.next(), Some("0"), "{run:?}");
    // The link's intent carries the namespace's inode; the kernel numbers a root-side end (a
    // lab chooses numbers only in its own namespaces), so its index is not known yet.
    let intent = json(&s["link-intent"]);
    assert!(intent["intent"]["link"]["index"].is_null(), "{run:?}");
    assert!(intent["intent"]["link"]["ns_inode"].is_u64(), "{run:?}");
    let mut foreign = s["link-foreign"].lines();
    let name = foreign.next().unwrap();
    let index = json(foreign.next().unwrap())[0]["ifindex"].clone();
    assert!(s["link-clean"].ends_with("status 0\n"), "{run:?}");
    let mut after = s["link-after"].lines();
    let links = json(after.next().unwrap());
    let left: Vec<(String, Value)> =
        links.as_array().unwrap().iter().map(|l| (l["ifname"].as_str().unwrap().to_string(), l["ifindex"].clone())).collect();
    assert_eq!(left.len(), 3, "lo and the user's pair only: {run:?}");
    assert!(left.contains(&(name.to_string(), index)), "the user's link is the same link: {run:?}");
    assert_eq!(after.next(), Some("[]"), "{run:?}");
    assert_eq!(after.next(), Some("0"), "{run:?}");
}

/// nslab killed between the intent and the result of a root-namespace veth pair (both ends
/// outside the lab's namespaces, numbered by the kernel): the pair carries the lab's link group
/// from birth, so `clean` knows it for the lab's and removes it.
#[test]
fn clean_removes_an_unnoted_link_by_the_labs_link_group() {
    let scripts = Scripts::new("group");
    let links = scripts.add("pairs.rhai", r#"for i in 0..300 { veth(`a${i}`, `b${i}`); }"#);
    let run = run_in_private(&format!(
        r#"ulimit -c 0
        last_line() {{ local line last=""; while IFS= read -r line; do last=$line; done < "$1"; echo "$last"; }}
        for n in 1 2 3 4 5 6 7 8 9 10; do
            (ulimit -f $n; exec $NSLAB run {links}) > /dev/null 2>&1
            last=$(last_line /run/nslab/*.jsonl)
            case "$last" in *'"intent":{{"link"'*) break;; esac
            $NSLAB clean > /dev/null 2>&1
        done
        echo "=intent"; echo "$last"
        L=$(echo "$last" | grep -o '"name":"[^"]*"' | cut -d'"' -f4)
        ID=$(ls /run/nslab | cut -d. -f1)
        echo "=group"; printf '%d\n' $((0x6e$ID)); ip -j -d link show $L
        echo "=clean"; $NSLAB clean 2>&1; echo "status $?"
        echo "=after"; ip -j link; ls -A /run/nslab | wc -l"#
    ));
    let s = sections(&run.stdout);
    let intent = json(&s["intent"]);
    assert!(intent["intent"]["link"]["index"].is_null(), "{run:?}");
    let mut group = s["group"].lines();
    let expected: u64 = group.next().unwrap().parse().unwrap();
    let shown = json(group.next().unwrap());
    assert_eq!(shown[0]["group"].as_str().map(|g| g.parse::<u64>().unwrap()), Some(expected), "{run:?}");
    assert!(s["clean"].ends_with("status 0\n") && !s["clean"].contains("left:"), "{run:?}");
    let mut after = s["after"].lines();
    assert_eq!(json(after.next().unwrap()).as_array().unwrap().len(), 1, "only lo: {run:?}");
    assert_eq!(after.next(), Some("0"), "{run:?}");
}

/// A symlink in /run/netns pointing at a mount point: neither `netns_del` nor `clean` unmounts
/// its target.
#[test]
fn namespace_deletion_never_follows_a_symlink() {
    let scripts = Scripts::new("symlink");
    let del = scripts.add("del.rhai", r#"netns_del("evil");"#);
    let lab = scripts.add("lab.rhai", r#"netns_add("s1"); print("ready"); sleep(1000);"#);
    let run = run_in_private(&format!(
        r#"mkdir /run/target; mount -t tmpfs target /run/target; touch /run/target/file
        ln -s /run/target /run/netns/evil
        echo "=del"; $NSLAB run {del} 2>&1; echo "status $?"
        echo "=mounted"; grep -c " /run/target " /proc/self/mounts; ls /run/target
        $NSLAB run {lab} > /run/out 2> /run/err & P=$!
        wait_for /run/out ready $P
        kill -9 $P; wait $P
        ip netns del s1; ln -s /run/target /run/netns/s1
        echo "=clean"; $NSLAB clean 2>&1; echo "status $?"
        echo "=still"; grep -c " /run/target " /proc/self/mounts; ls /run/target; ls -A /run/nslab | wc -l
        rm /run/netns/evil /run/netns/s1; umount /run/target"#
    ));
    let s = sections(&run.stdout);
    let del = unwrap(&s["del"]);
    assert!(
        del.contains(
            "× cannot delete namespace \"evil\": /run/netns/evil is a symbolic link (to /run/target), not a namespace: \
             nslab never deletes through one (remove the link itself with rm)"
        ),
        "{run:?}"
    );
    assert!(del.ends_with("status 1\n"), "{run:?}");
    assert_eq!(s["mounted"], "1\nfile\n", "{run:?}");
    assert!(
        s["clean"].ends_with(
            "torn down: nothing to remove; left: namespace s1: the name is a symbolic link now; nslab never follows one: \
             left as is\nstatus 0\n"
        ),
        "{run:?}"
    );
    assert_eq!(s["still"], "1\nfile\n0\n", "{run:?}");
}
