//! A ledger cannot be forged into harm (issue 11): fixed modes whatever the umask, only regular
//! files the caller owns are read (never blocking), every line obeys the language's rules or is
//! reported and never obeyed, a damaged ledger is kept and makes `clean` fail, a running lab
//! tears down from memory, running out of descriptors says so and leaves nothing, and `down`
//! reports at once a lab it may not signal. Each test runs nslab without `--sandbox` in a private
//! network + mount namespace with its own /run, and checks the outcome with `ip -j`, `stat`,
//! `findmnt` and /proc.

use std::path::PathBuf;

use crate::support::{cpu_heavy, in_private_netns, json, script, sections, Run};

/// `snap` prints what a lab could leave behind; `wait_for FILE TEXT PID` waits until TEXT is in
/// FILE (or PID exits); `nobody` runs a command as uid/gid 65534.
const PRELUDE: &str = r#"
snap() { ip -j netns list; echo; ip -j link; echo; ip -j addr; echo; ip -j route; echo; }
wait_for() { while ! grep -q "$2" "$1" 2>/dev/null; do kill -0 "$3" 2>/dev/null || return 1; sleep 0.01; done; }
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
"#;

fn run_in_private(snippet: &str) -> Run {
    in_private_netns(&format!("{PRELUDE}\n{snippet}"))
}

fn netns_names(text: &str) -> Vec<String> {
    if text.trim().is_empty() {
        return vec![];
    }
    let mut names: Vec<String> = json(text).as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap().to_string()).collect();
    names.sort();
    names
}

/// A script in the test's scratch directory, which goes when this does.
struct Script(PathBuf);

impl Script {
    fn new(test: &str, name: &str, text: &str) -> Script {
        Script(script(test, name, text))
    }
}

impl std::fmt::Display for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.display())
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A script that makes namespaces `names` (kept with --keep), named "kept".
fn keeper(test: &str, names: &[&str]) -> Script {
    let body: String = names.iter().map(|n| format!("netns_add(\"{n}\");\n")).collect();
    Script::new(test, "kept.rhai", &body)
}

#[test]
fn directories_and_ledgers_get_fixed_modes_whatever_the_umask() {
    let p = keeper("umask", &["mine"]);
    let run = run_in_private(&format!(
        r#"rmdir /run/nslab /run/netns; umask 000
        $NSLAB run --keep {p} 2>&1; echo "status $?"
        echo "=modes"; stat -c %a /run/nslab /run/nslab/*.jsonl /run/netns
        echo "=down"; $NSLAB down kept 2>&1; echo "status $?"
        echo "=open"; chmod 777 /run/nslab; $NSLAB run {p} 2>&1; echo "status $?"
        echo "=netns"; ip -j netns list
        echo "=ls"; $NSLAB ls 2>&1 >/dev/null; echo "status $?"
        echo "=clean"; $NSLAB clean 2>&1; echo "status $?"
        echo "=foreign-dir"; chmod 755 /run/nslab; chown 65534 /run/nslab; $NSLAB run {p} 2>&1; echo "status $?"
        echo "=netns-dir"; chown 0 /run/nslab; chmod 1777 /run/netns; $NSLAB run {p} 2>&1; echo "status $?"
        echo "=end"; chmod 755 /run/netns; ls -A /run/nslab /run/netns"#
    ));
    let s = sections(&run.stdout);
    assert!(s[""].ends_with("status 0\n"), "{run:?}");
    assert_eq!(s["modes"], "755\n600\n755\n", "{run:?}");
    assert!(s["down"].ends_with("torn down: 1 namespace\nstatus 0\n"), "{run:?}");
    // A directory anyone may write to is not used: the lab creates nothing, ls and clean fail.
    let refused = "group or others may write to it (mode 0777); it holds lab ledgers, which root acts on, so nslab \
                   will not use it";
    let open = s["open"].replace("\n  │ ", " ").replace('\n', " ");
    assert!(open.contains(&format!("cannot record the lab in /run/nslab: {refused}")), "{run:?}");
    assert!(open.ends_with("status 1 "), "{run:?}");
    assert_eq!(netns_names(&s["netns"]), Vec::<String>::new(), "{run:?}");
    assert_eq!(
        s["ls"],
        format!("ls: skipped /run/nslab: {refused}: check what is in it, then `chmod 755 /run/nslab`\nstatus 1\n")
    );
    assert!(s["clean"].starts_with(&format!("clean: skipped /run/nslab: {refused}")), "{run:?}");
    assert!(s["clean"].ends_with("status 1\n"), "{run:?}");
    let foreign = s["foreign-dir"].replace("\n  │ ", " ");
    assert!(foreign.contains("it belongs to uid 65534, neither root nor you (uid 0)"), "{run:?}");
    let netns_dir = s["netns-dir"].replace("\n  │ ", " ");
    assert!(
        netns_dir.contains(
            "× cannot prepare /run/netns: group or others may write to it (mode 1777); it holds network namespace \
             mounts, which root acts on, so nslab will not use it"
        ),
        "{run:?}"
    );
    assert_eq!(s["end"], "/run/netns:\n\n/run/nslab:\n", "{run:?}");
}

/// Lines appended to a dead lab's ledger that would delete a foreign namespace, a foreign link,
/// a file through `../`, a mount point, or write kernel.hostname: `clean` obeys none of them,
/// reports each bad line with file and line, keeps the ledger and exits 1. Nothing the ledger
/// lists is removed, not even the lab's own namespace: a ledger with forged lines is not
/// trusted at all.
#[test]
fn forged_ledger_lines_are_reported_and_nothing_is_obeyed() {
    let p = keeper("forged", &["mine"]);
    let forged = [
        r#"{"intent":{"netns":{"name":"victim","inode":null}}}"#,
        r#"{"made":{"link":{"ns":null,"ns_inode":1,"name":"vhost","index":null,"peer_ns":null}}}"#,
        r#"{"made":{"netns":{"name":"../precious","inode":null}}}"#,
        r#"{"made":{"netns":{"name":"../mnt-target","inode":null}}}"#,
        r#"{"made":{"sysctl":{"ns":null,"ns_inode":1,"key":"kernel/hostname","old":"pwned","new":"x"}}}"#,
        r#"{"made":{"sysctl":{"ns":null,"ns_inode":1,"key":"net/../kernel/hostname","old":"pwned","new":"x"}}}"#,
        r#"{"made":{"link":{"ns":null,"ns_inode":1,"name":"vhost/../../x","index":null,"peer_ns":null}}}"#,
    ]
    .join("\n");
    // The UTS namespace is private too, so a broken clean could only rename that one.
    let run = run_in_private(&format!(
        r#"exec unshare --uts bash -c '
        {PRELUDE}
        hostname nslab-forged
        ip netns add victim; ip link add vhost type veth peer name vpeer
        mkdir /run/mnt-target; mount -t tmpfs target /run/mnt-target; echo precious > /run/precious
        $NSLAB run --keep {p} 2>/dev/null
        L=$(ls /run/nslab/*.jsonl); echo "=ledger"; echo $L
        cat >> $L <<EOF
{forged}
EOF
        look() {{ snap; stat -L -c %i /run/netns/victim; findmnt -n -o FSTYPE /run/mnt-target; cat /run/precious /proc/sys/kernel/hostname; }}
        look > /run/before
        echo "=clean"; $NSLAB clean 2>&1; echo "status $?"
        look > /run/after
        echo "=diff"; diff /run/before /run/after
        echo "=after"; ip -j netns list; ls /run/nslab; cat /proc/sys/kernel/hostname
        echo "=ls"; $NSLAB ls > /run/ls 2>/dev/null; echo "status $?"; tail -n +2 /run/ls | awk "{{print \$1, \$4}}"
        echo "=down"; $NSLAB down kept 2>&1; echo "status $?"
        '"#
    ));
    let s = sections(&run.stdout);
    let ledger = s["ledger"].trim().to_string();
    assert!(ledger.starts_with("/run/nslab/") && ledger.ends_with(".jsonl"), "{run:?}");
    let clean: Vec<&str> = s["clean"].lines().collect();
    let at = |n: usize| format!("clean: {ledger}:{n}: ");
    assert!(clean[0].starts_with(&at(8)) && clean[0].contains("invalid namespace name \"../precious\""), "{run:?}");
    assert!(clean[1].starts_with(&at(9)) && clean[1].contains("\"../mnt-target\""), "{run:?}");
    assert!(clean[2].starts_with(&at(10)) && clean[2].contains("only network sysctls (net.*)"), "{run:?}");
    assert!(clean[3].starts_with(&at(11)) && clean[3].contains("empty or relative part"), "{run:?}");
    assert!(clean[4].starts_with(&at(12)) && clean[4].contains("invalid interface name \"vhost/../../x\""), "{run:?}");
    assert!(clean[..5].iter().all(|l| l.ends_with("never acted on")), "{run:?}");
    assert!(clean[5].starts_with("clean: lab kept (id "), "{run:?}");
    assert!(
        clean[5].contains(&format!(
            "left alone: 5 lines of its ledger {ledger} could not be read or break nslab's rules, so none of it is \
             trusted; nothing was removed and the ledger is kept"
        )),
        "{run:?}"
    );
    assert_eq!(&clean[6..], ["status 1"], "{run:?}");
    assert_eq!(s["diff"], "", "nothing foreign changed: {run:?}");
    let mut after = s["after"].lines();
    assert_eq!(netns_names(after.next().unwrap()), ["mine", "victim"], "{run:?}");
    assert_eq!(after.next(), Some(ledger.trim_start_matches("/run/nslab/")), "the ledger is kept: {run:?}");
    assert_eq!(after.next(), Some("nslab-forged"), "{run:?}");
    assert_eq!(s["ls"], "status 1\nkept damaged\n", "{run:?}");
    assert!(s["down"].contains("left alone: 5 lines") && s["down"].ends_with("status 1\n"), "{run:?}");
}

/// A FIFO named like a ledger (and other non-files) is reported and skipped, never opened
/// blocking: `ls` and `clean` return, and `clean` still cleans the real dead lab beside it.
#[test]
fn a_fifo_named_like_a_ledger_does_not_hang_ls_or_clean() {
    let p = keeper("fifo", &["mine"]);
    let run = run_in_private(&format!(
        r#"$NSLAB run --keep {p} 2>/dev/null
        mkfifo /run/nslab/x.jsonl; mkdir /run/nslab/d.jsonl; ln -s /dev/zero /run/nslab/z.jsonl
        echo "=ls"; timeout 10 $NSLAB ls 2>&1 >/dev/null; echo "status $?"
        echo "=clean"; timeout 10 $NSLAB clean --kept 2>&1; echo "status $?"
        echo "=end"; ip -j netns list; ls /run/nslab"#
    ));
    let s = sections(&run.stdout);
    let skipped = "skipped /run/nslab/d.jsonl: it is a directory, not a regular file: not read\n\
                   {cmd}: skipped /run/nslab/x.jsonl: it is a FIFO, not a regular file: not read\n\
                   {cmd}: skipped /run/nslab/z.jsonl: it is a symbolic link, not a regular file: not read\n";
    assert_eq!(s["ls"], format!("ls: {}status 1\n", skipped.replace("{cmd}", "ls")), "{run:?}");
    assert!(s["clean"].starts_with(&format!("clean: {}", skipped.replace("{cmd}", "clean"))), "{run:?}");
    assert!(s["clean"].ends_with("torn down: 1 namespace\nstatus 1\n"), "{run:?}");
    assert_eq!(s["end"], "[]\nd.jsonl\nx.jsonl\nz.jsonl\n", "{run:?}");
}

/// A crash in the middle of a write leaves a last line without its newline: tolerated silently.
#[test]
fn a_torn_last_line_is_tolerated() {
    let p = keeper("torn", &["a", "b"]);
    let run = run_in_private(&format!(
        r#"$NSLAB run --keep {p} 2>/dev/null
        printf '{{"intent":{{"netns":{{"name":"c","in' >> /run/nslab/*.jsonl
        echo "=ls"; $NSLAB ls > /run/ls 2>&1; echo "status $?"; tail -n +2 /run/ls | awk '{{print $1, $4}}'
        echo "=clean"; $NSLAB clean --kept 2>&1; echo "status $?"
        echo "=end"; ip -j netns list; ls /run/nslab | wc -l"#
    ));
    let s = sections(&run.stdout);
    assert_eq!(s["ls"], "status 0\nkept kept\n", "{run:?}");
    assert!(s["clean"].ends_with(") torn down: 2 namespaces\nstatus 0\n"), "{run:?}");
    assert_eq!(s["end"], "[]\n0\n", "{run:?}");
}

/// One unreadable line in the middle: the ledger is kept, nothing it lists is removed, the line
/// is reported with its number, and `clean` exits 1 (it used to skip the rest silently, say
/// "nothing to do", exit 0 and delete the ledger while the namespaces stayed).
#[test]
fn a_bad_line_in_the_middle_keeps_the_ledger_and_fails_clean() {
    let p = keeper("middle", &["a", "b"]);
    let run = run_in_private(&format!(
        r#"$NSLAB run --keep {p} 2>/dev/null
        L=$(ls /run/nslab/*.jsonl); sed -i '3s/.*/{{"made":{{"netns":/' $L
        echo "=clean"; $NSLAB clean 2>&1; echo "status $?"
        echo "=end"; ip -j netns list; ls /run/nslab | wc -l"#
    ));
    let s = sections(&run.stdout);
    let clean: Vec<&str> = s["clean"].lines().collect();
    assert_eq!(clean.len(), 3, "{run:?}");
    assert!(clean[0].starts_with("clean: /run/nslab/") && clean[0].contains(".jsonl:3: not a ledger entry ("), "{run:?}");
    assert!(clean[1].contains("left alone: 1 line of its ledger"), "{run:?}");
    assert_eq!(clean[2], "status 1", "{run:?}");
    let mut end = s["end"].lines();
    assert_eq!(netns_names(end.next().unwrap()), ["a", "b"], "{run:?}");
    assert_eq!(end.next(), Some("1"), "{run:?}");
}

/// A symlink named like a ledger (to a ledger elsewhere that lists a foreign namespace) and a
/// ledger owned by another user are refused, and what they list is left alone.
#[test]
fn symlinked_and_foreign_ledgers_are_refused() {
    let p = keeper("refused", &["mine"]);
    let run = run_in_private(&format!(
        r#"ip netns add victim
        $NSLAB run --keep {p} 2>/dev/null
        L=$(ls /run/nslab/*.jsonl); echo "=ledger"; echo $L
        echo '{{"made":{{"netns":{{"name":"victim","inode":null}}}}}}' >> $L
        mkdir /run/elsewhere; mv $L /run/elsewhere/; ln -s /run/elsewhere/$(basename $L) $L
        echo "=symlink"; $NSLAB clean 2>&1; echo "status $?"
        rm $L; mv /run/elsewhere/$(basename $L) $L; chown 65534 $L
        echo "=foreign"; $NSLAB clean 2>&1; echo "status $?"
        echo "=down"; $NSLAB down kept 2>&1; echo "status $?"
        echo "=end"; ip -j netns list; ls /run/nslab | wc -l"#
    ));
    let s = sections(&run.stdout);
    let ledger = s["ledger"].trim();
    assert_eq!(
        s["symlink"],
        format!("clean: skipped {ledger}: it is a symbolic link, not a regular file: not read\nstatus 1\n"),
        "{run:?}"
    );
    assert_eq!(
        s["foreign"],
        format!(
            "clean: skipped {ledger}: it belongs to uid 65534, not to you (uid 0): not read (only the user who ran a \
             lab acts on its ledger)\nstatus 1\n"
        ),
        "{run:?}"
    );
    assert!(s["down"].contains("× no lab named \"kept\" among the labs you can read"), "{run:?}");
    assert!(s["down"].ends_with("status 1\n"), "{run:?}");
    let mut end = s["end"].lines();
    assert_eq!(netns_names(end.next().unwrap()), ["mine", "victim"], "{run:?}");
    assert_eq!(end.next(), Some("1"), "{run:?}");
}

/// Removing a running lab's ledger file from outside does not stop its teardown: the lab holds
/// its record in memory.
#[test]
fn a_running_lab_whose_ledger_is_deleted_still_tears_down_everything() {
    let p = Script::new(
        "deleted",
        "deleted.rhai",
        r#"
        let a = netns_add("a");
        let b = netns_add("b");
        veth(a, "e0", root(), "ra");
        veth(a, "x", b, "y");
        addr("lo", "10.99.0.1/32");
        route((), "10.98.0.0/24", #{dev: "lo"});
        spawn_in(b, ["sleep", "86101"]);
        exec(["sh", "-c", "rm /run/nslab/*.jsonl"]);
        netns_add("c");
        print(netns_list());
        "#,
    );
    let run = run_in_private(&format!(
        r#"snap > /run/before
        $NSLAB run {p} 2>&1; echo "status $?"
        snap > /run/after
        echo "=diff"; diff /run/before /run/after
        echo "=end"; find /run/nslab /run/netns -mindepth 1 | wc -l; pgrep -x -f "sleep 86101" | wc -l"#
    ));
    let s = sections(&run.stdout);
    assert_eq!(
        s[""], "[\"a\", \"b\", \"c\"]\ntorn down: 3 namespaces, 1 link, 1 address, 1 route, 1 process\nstatus 0\n",
        "{run:?}"
    );
    assert_eq!(s["diff"], "", "{run:?}");
    assert_eq!(s["end"], "0\n0\n", "{run:?}");
}

/// Out of descriptors while building (hard limit 64, a 100-namespace script): the error says
/// which limit and how to raise it, and teardown still removes everything.
#[test]
fn running_out_of_descriptors_while_building_says_why_and_leaves_nothing() {
    let p = Script::new("emfile", "many.rhai", "for i in 1..=100 { netns_add(`n${i}`); }\n");
    let run = run_in_private(&format!(
        r#"prlimit --nofile=64:64 $NSLAB run {p} 2>&1; echo "status $?"
        echo "=end"; ip -j netns list; find /run/netns /run/nslab -mindepth 1 | wc -l"#
    ));
    let s = sections(&run.stdout);
    let out = s[""].replace("\n  │ ", " ");
    assert!(
        out.contains(
            ": nslab reached its open-file limit of 64 (hard limit 64; it holds one file per namespace): raise the \
             limit before running nslab (`ulimit -n N`; above the hard limit only root can, with `ulimit -Hn N` or \
             `prlimit --nofile=N:N`), or build fewer namespaces"
        ),
        "{run:?}"
    );
    assert!(out.contains("× cannot create namespace \"n"), "{run:?}");
    let last = out.trim_end().lines().rev().nth(1).unwrap();
    assert!(last.starts_with("torn down: ") && last.ends_with(" namespaces"), "{run:?}");
    assert!(out.ends_with("status 1\n"), "{run:?}");
    assert_eq!(s["end"], "[]\n0\n", "{run:?}");
}

/// The issue's case: about 1,000 namespaces under `ulimit -n 1024` (soft and hard). The build
/// fails at the limit; teardown, which used to need a descriptor to re-read the ledger, removes
/// every namespace.
#[test]
fn a_thousand_namespaces_at_the_descriptor_limit_still_tear_down() {
    let _serial = cpu_heavy();
    let p = Script::new("emfile-1024", "big.rhai", "for i in 1..=1100 { netns_add(`n${i}`); }\n");
    let run = run_in_private(&format!(
        r#"ulimit -n 1024; $NSLAB run {p} 2>&1; echo "status $?"
        echo "=end"; ip netns list | wc -l; find /run/netns /run/nslab -mindepth 1 | wc -l"#
    ));
    let s = sections(&run.stdout);
    assert!(s[""].contains("nslab reached its open-file limit of 1024 (hard limit 1024;"), "{run:?}");
    let torn = s[""].lines().find(|l| l.starts_with("torn down: ")).unwrap_or_default();
    let n: usize = torn.trim_start_matches("torn down: ").trim_end_matches(" namespaces").parse().unwrap_or(0);
    assert!((900..1024).contains(&n), "{run:?}");
    assert_eq!(s["end"], "0\n0\n", "{run:?}");
}

/// `nslab down` by a user who may not signal the lab: said at once, exit 1, no 10 s wait. A user
/// who cannot even read the lab's ledger (root's, 0600) is told why the lab is not found.
#[test]
fn down_of_a_lab_another_user_runs_fails_at_once() {
    let p = Script::new("eperm", "held.rhai", "netns_add(\"held\");\nprint(\"ready\");\nsleep(60);\n");
    let run = run_in_private(&format!(
        r#"$NSLAB run {p} > /run/out 2>&1 & PL=$!
        wait_for /run/out ready $PL
        L=$(ls /run/nslab/*.jsonl); echo "=ledger"; echo $L; echo $PL
        echo "=unreadable"; t=$(date +%s%N); nobody $NSLAB down held 2>&1; echo "status $?"; ms $t
        chown 65534 $L
        echo "=eperm"; t=$(date +%s%N); nobody $NSLAB down held 2>&1; echo "status $?"; ms $t
        echo "=alive"; kill -0 $PL && echo alive; ip -j netns list
        chown 0 $L; echo "=root"; $NSLAB down held 2>&1; echo "status $?"
        wait $PL; echo "=lab"; cat /run/out
        echo "=end"; ip -j netns list; ls /run/nslab | wc -l"#
    ));
    let s = sections(&run.stdout);
    let mut ledger = s["ledger"].lines();
    let (path, pid) = (ledger.next().unwrap(), ledger.next().unwrap());
    let id = path.trim_start_matches("/run/nslab/").trim_end_matches(".jsonl");
    let quick = |section: &str| {
        let ms: u64 = s[section].lines().last().unwrap().parse().unwrap();
        assert!(ms < 3000, "{section} took {ms} ms: {run:?}");
    };
    let unreadable = s["unreadable"].replace("\n        ", " ");
    assert!(unreadable.contains("× no lab named \"held\" among the labs you can read"), "{run:?}");
    assert!(
        unreadable
            .contains(&format!("1 ledger could not be read: {path}: it belongs to uid 0, not to you (uid 65534): not read")),
        "{run:?}"
    );
    assert!(unreadable.contains("status 1\n"), "{run:?}");
    quick("unreadable");
    assert!(
        s["eperm"].starts_with(&format!(
            "  × lab held (id {id}, pid {pid}) belongs to another user: cannot ask it to stop\n  help: run `nslab \
             down` as the user who runs the lab (or as root)\n"
        )),
        "{run:?}"
    );
    assert!(s["eperm"].contains("\nstatus 1\n"), "{run:?}");
    quick("eperm");
    let mut alive = s["alive"].lines();
    assert_eq!(alive.next(), Some("alive"), "{run:?}");
    assert_eq!(netns_names(alive.next().unwrap()), ["held"], "{run:?}");
    assert!(s["root"].ends_with("tore itself down\nstatus 0\n"), "{run:?}");
    assert!(s["lab"].ends_with("torn down: 1 namespace\n"), "{run:?}");
    assert_eq!(s["end"], "[]\n0\n", "{run:?}");
}
