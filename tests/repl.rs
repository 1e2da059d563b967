//! The REPL end to end: through a real pseudo-terminal (expectrl) in the sandbox, and driven
//! through a pipe, with `:save` replayed by `nslab run` and compared with `ip -j`.

use std::process::Command;
use std::time::Duration;

use expectrl::session::OsSession;
use expectrl::{Eof, Expect};

const CTRL_C: &str = "\x03";
const CTRL_D: &str = "\x04";

use crate::support::{in_private_netns, json, nslab, piped, scratch, script};

/// A REPL on a pseudo-terminal, keeping a transcript of what it printed for failure messages.
struct Pty {
    p: OsSession,
    transcript: String,
}

/// What the line editor writes when it starts reading an entry (bracketed paste on, then the
/// prompt); redraws while typing repeat the prompt but not this.
const FRESH_PROMPT: &str = "\x1b[?2004h";

impl Pty {
    /// `nslab repl --sandbox`, its history in the test's scratch directory; waits for the prompt.
    fn start(test: &str) -> Pty {
        Pty::with_history(&scratch(test).join("history"))
    }

    fn with_history(history: &std::path::Path) -> Pty {
        let mut cmd = Command::new(nslab());
        cmd.args(["repl", "--sandbox"]).env("NO_COLOR", "1").env("TERM", "xterm").env("NSLAB_HISTORY", history);
        let mut p = OsSession::spawn(cmd).expect("spawn nslab on a pty");
        p.set_expect_timeout(Some(Duration::from_secs(20)));
        let mut pty = Pty { p, transcript: String::new() };
        pty.prompt();
        pty
    }

    fn send(&mut self, text: &str) {
        self.p.send(text).expect("write to the pty");
    }

    /// Types a line and presses Enter.
    fn line(&mut self, text: &str) {
        self.send(&format!("{text}\r"));
    }

    /// Waits until the editor reads the next entry. Typing before that may be lost (the terminal
    /// switches modes between entries), as it would be for a person typing ahead.
    fn prompt(&mut self) -> String {
        let before = self.expect(FRESH_PROMPT);
        self.expect("nslab> ");
        before
    }

    /// Types an entry and returns what was printed until the next prompt (the echo of the typing
    /// included).
    fn run(&mut self, text: &str) -> String {
        self.line(text);
        self.prompt()
    }

    /// Waits for `needle`; returns what came before it.
    fn expect(&mut self, needle: &str) -> String {
        match self.p.expect(needle) {
            Ok(found) => {
                let before = String::from_utf8_lossy(found.before()).into_owned();
                self.transcript.push_str(&before);
                self.transcript.push_str(needle);
                before
            }
            Err(e) => {
                let mut rest = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = self.p.try_read(&mut buf) {
                    rest.extend_from_slice(&buf[..n]);
                }
                panic!(
                    "waiting for {needle:?}: {e}\n--- transcript:\n{}\n--- unmatched:\n{}",
                    self.transcript,
                    String::from_utf8_lossy(&rest)
                )
            }
        }
    }

    /// Ctrl-D at the prompt: leaves, tearing the lab down; returns the exit status.
    fn leave(mut self) -> i32 {
        self.send(CTRL_D);
        self.expect("torn down");
        let _ = self.p.expect(Eof);
        match self.p.get_process().wait() {
            Ok(expectrl::process::unix::WaitStatus::Exited(_, code)) => code,
            other => panic!("nslab did not exit normally: {other:?}"),
        }
    }
}

#[test]
fn multi_line_input_defines_a_function_for_later_lines() {
    let mut r = Pty::start("multiline");
    r.line("fn double(x) {");
    r.line("  x * 2");
    let out = r.run("}");
    assert!(!out.contains("error"), "the three lines were one entry: {}", r.transcript);
    let out = r.run("double(21)");
    assert!(out.contains("\r\n42\r\n"), "{}", r.transcript);
    // A string in backticks goes on over lines too.
    r.line("let s = `two");
    r.run("lines`;");
    let out = r.run("s.len()");
    assert!(out.contains("\r\n9\r\n"), "{}", r.transcript);
    assert_eq!(r.leave(), 0);
    let history = std::fs::read_to_string(scratch_file("multiline", "history")).unwrap_or_default();
    assert!(history.contains("double(21)"), "history is kept: {history:?}");
}

/// A file in a test's scratch directory (made by `scratch`, not cleared again).
fn scratch_file(test: &str, name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("nslab-test-{}-{test}", std::process::id())).join(name)
}

#[test]
fn tab_completes_namespace_and_link_names_from_the_kernel() {
    let mut r = Pty::start("complete");
    r.run(r#"netns_add("alpha"); veth("alpha", "left", "alpha", "right");"#);
    r.send("netns_exists(\"al\t");
    r.expect("alpha\"");
    let out = r.run(")");
    assert!(out.contains("\r\ntrue\r\n"), "{}", r.transcript);
    r.send("link(\"alpha\", \"ri\t");
    r.expect("right\"");
    let out = r.run(").state");
    assert!(out.contains("\r\n\"down\"\r\n"), "{}", r.transcript);
    // Functions complete too: `netns_li` → `netns_list`.
    r.send("netns_li\t");
    r.expect("netns_list");
    let out = r.run("()");
    assert!(out.contains("\r\n[\"alpha\"]\r\n"), "{}", r.transcript);
    assert_eq!(r.leave(), 0);
}

#[test]
fn help_on_a_function_shows_forms_example_and_ip_command() {
    // A history that cannot be written changes nothing.
    let mut r = Pty::with_history(std::path::Path::new("/proc/no-such-dir/history"));
    let out = r.run(":help ping");
    assert!(out.contains("ping(ns, dst, #{count, timeout, interval, ttl, size, from, dev}) -> Ping"), "{out}");
    assert!(out.contains("example:  assert(ping("), "{out}");
    assert!(out.contains("ip netns exec NS ping -c COUNT -W TIMEOUT -i INTERVAL -t TTL -s SIZE -I FROM|DEV DST"), "{out}");
    let out = r.run(":help");
    assert!(out.contains(":save FILE") && out.contains("netns_add"), "{out}");
    assert_eq!(r.leave(), 0);
}

#[test]
fn ctrl_c_stops_a_long_ping_and_the_session_goes_on() {
    let mut r = Pty::start("ctrlc");
    r.run(r#"let n = netns_add("p"); n.up("lo");"#);
    // "go" + "ing" is printed once the statement runs (the typed line does not contain it).
    r.line(r#"print("go" + "ing"); ping(n, "127.0.0.1", #{count: 1000})"#);
    r.expect("going");
    r.send(CTRL_C);
    let out = r.prompt();
    assert!(out.contains("interrupted"), "{}", r.transcript);
    let out = r.run("6 * 7");
    assert!(out.contains("\r\n42\r\n"), "{}", r.transcript);
    // A program that hangs is ended too.
    r.line(r#"print("sle" + "eping"); n.exec("sleep 1000")"#);
    r.expect("sleeping");
    r.send(CTRL_C);
    let out = r.prompt();
    assert!(out.contains("interrupted"), "{}", r.transcript);
    // Ctrl-C at the prompt drops the line being typed.
    r.send("this is not run");
    r.send(CTRL_C);
    r.prompt();
    let out = r.run("netns_list().len()");
    assert!(out.contains("\r\n1\r\n") && !out.contains("error"), "{}", r.transcript);
    assert_eq!(r.leave(), 0);
}

#[test]
fn errors_point_into_the_entry_and_the_session_goes_on() {
    let mut r = Pty::start("errors");
    let out = r.run(r#"netns("nope")"#);
    assert!(out.contains(r#"namespace "nope" does not exist"#) && out.contains("[input 1:1:1]"), "{out}");
    r.line("fn bad() {");
    r.line(r#"  netns("zz")"#);
    r.run("}");
    let out = r.run("bad()");
    // It points into the entry that defined bad(), at its second line.
    assert!(out.contains(r#"namespace "zz" does not exist"#) && out.contains("[input 2:2:3]"), "{out}");
    let out = r.run("veth(1)");
    assert!(out.contains("veth takes 2, 3, 4 or 5 arguments, but 1 argument given here"), "{out}");
    let out = r.run("let x = 40; x + 2");
    assert!(out.contains("\r\n42\r\n"), "{}", r.transcript);
    assert_eq!(r.leave(), 0);
}

#[test]
fn sigterm_at_the_prompt_tears_the_lab_down() {
    let mut r = Pty::start("sigterm");
    r.run(r#"netns_add("t")"#);
    let pid = r.p.get_process().pid().as_raw();
    // SAFETY: kill has no memory preconditions; pid is the nslab this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    r.expect("torn down: 1 namespace");
    let _ = r.p.expect(Eof);
    match r.p.get_process().wait() {
        Ok(expectrl::process::unix::WaitStatus::Exited(_, code)) => assert_eq!(code, 128 + libc::SIGTERM),
        other => panic!("nslab did not exit normally: {other:?}"),
    }
}

#[test]
fn piped_input_gives_values_without_prompts() {
    let run = piped(
        &["repl", "--sandbox"],
        "let n = netns_add(\"a\");\nlet x = 40;\nfn add(a, b) {\n  a + b\n}\nadd(x, 2)\nnetns_list()\n",
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "42\n[\"a\"]\n", "{run:?}");
    assert!(!run.stderr.contains("nslab>"), "{run:?}");
    assert_eq!(run.stderr.trim_end().lines().last(), Some("torn down: 1 namespace"), "{run:?}");

    let run = piped(&["--sandbox"], "netns(\"nope\")\n1 + 1\n");
    assert_eq!(run.code, 1, "a failed entry makes the status 1: {run:?}");
    assert_eq!(run.stdout, "2\n", "{run:?}");
    assert!(run.stderr.contains("namespace \"nope\" does not exist"), "{run:?}");
    assert!(!run.stderr.contains('\x1b'), "no colours: {run:?}");
}

#[test]
fn run_interactive_opens_the_repl_on_the_lab_the_script_built() {
    let path = script("runi", "built.rhai", "let made = netns_add(\"fromscript\");\nveth(made, \"e0\", made, \"e1\");\n");
    let run = piped(&["run", "-i", "--sandbox", path.to_str().unwrap()], "made\n:net\n");
    assert_eq!(run.code, 0, "{run:?}");
    let mut out = run.stdout.lines();
    assert_eq!(out.next(), Some("netns(\"fromscript\")"), "script variables live on: {run:?}");
    assert!(run.stdout.contains("fromscript\n  lo "), "{run:?}");
    assert!(run.stdout.contains("  e0  veth  down") && run.stdout.contains("peer e1"), ":net shows links and peers: {run:?}");
    assert!(run.stderr.contains("torn down: 1 namespace"), "{run:?}");
}

/// What must be equal between the REPL's lab and its replay: links (name, flags, mtu, addresses
/// other than link-local ones) and routes, per namespace. Ifindexes and MACs differ.
fn normalize(dump: &str) -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    for section in dump.split("=ns ").filter(|s| !s.trim().is_empty()) {
        let (name, rest) = section.split_once('\n').unwrap();
        let mut parts = rest.split("\n=route\n");
        let addrs = json(parts.next().unwrap());
        let routes = json(parts.next().unwrap());
        let links: Vec<serde_json::Value> = addrs
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                // Carrier (LOWER_UP, NO-CARRIER, operstate) follows the admin state asynchronously
                // (the kernel's linkwatch): compare what a script sets.
                let mut flags: Vec<String> = l["flags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f.as_str().unwrap().to_string())
                    .filter(|f| f != "LOWER_UP" && f != "NO-CARRIER")
                    .collect();
                flags.sort();
                let addrs: Vec<String> = l["addr_info"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|a| a["scope"] != "link")
                    .map(|a| format!("{}/{}", a["local"].as_str().unwrap(), a["prefixlen"]))
                    .collect();
                serde_json::json!({"ifname": l["ifname"], "flags": flags, "mtu": l["mtu"], "addrs": addrs})
            })
            .collect();
        out.push((name.trim().to_string(), serde_json::json!({"links": links, "routes": routes})));
    }
    out
}

#[test]
fn save_writes_a_script_that_replays_to_the_same_state() {
    let dir = scratch("save");
    let session = r#"let a = netns_add("a");
let b = netns_add("b");
veth(a, "eth0", b, "eth0");
fn wire(ns, cidr) {
  ns.addr("eth0", cidr);
  ns.up("eth0");
}
wire(a, "10.0.0.1/24");
wire(b, "10.0.0.2/24");
netns("nope")
a.up("lo"); netns("nope2")
route(b, "10.9.0.0/16", "10.0.0.1");
ping(a, "10.0.0.2", #{count: 3, interval: 0.1}).ok
:save saved.rhai
:keep
"#;
    std::fs::write(dir.join("session.txt"), session).unwrap();
    let dump = r#"for ns in $(ip netns list | cut -d' ' -f1 | sort); do echo "=ns $ns"; ip -j -n $ns addr show; echo "=route"; ip -j -n $ns route show; done"#;
    let run = in_private_netns(&format!(
        r#"cd {dir} || exit 7
        NSLAB_HISTORY= $NSLAB repl < session.txt > repl.out 2> repl.err
        echo "repl exit $?" >> repl.err
        {dump} > before.txt
        $NSLAB down repl >> repl.err 2>&1 || exit 8
        [ -z "$(ip netns list)" ] || exit 9
        $NSLAB run --keep saved.rhai > run.out 2>&1 || {{ cat run.out; exit 10; }}
        {dump} > after.txt
        $NSLAB down saved > /dev/null 2>&1
        cat repl.out"#,
        dir = dir.display()
    ));
    let err = std::fs::read_to_string(dir.join("repl.err")).unwrap_or_default();
    assert_eq!(run.code, 0, "{run:?}\n--- repl stderr\n{err}");
    assert_eq!(run.stdout, "true\n", "only the ping's value is echoed: {run:?}");
    assert!(err.contains("repl exit 1"), "two entries failed, so the status is 1: {err}");
    assert!(err.contains("kept: lab repl"), "{err}");

    let saved = std::fs::read_to_string(dir.join("saved.rhai")).unwrap();
    assert!(saved.contains("fn wire(ns, cidr) {\n  ns.addr(\"eth0\", cidr);"), "{saved}");
    assert!(saved.contains("a.up(\"lo\");"), "the statement before a failure took effect: {saved}");
    assert!(!saved.contains("nope"), "failed statements are not saved: {saved}");

    let before = normalize(&std::fs::read_to_string(dir.join("before.txt")).unwrap());
    let after = normalize(&std::fs::read_to_string(dir.join("after.txt")).unwrap());
    assert_eq!(before.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(before, after, "the replay builds the same lab");
    let a = &before[0].1;
    assert!(a["links"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["ifname"] == "lo" && l["flags"].as_array().unwrap().iter().any(|f| f == "UP")));
    assert_eq!(before[1].1["routes"].as_array().unwrap().len(), 2, "the connected route and 10.9.0.0/16: {before:?}");
}

/// What the lab holds back is carried out at the end of each entry: a veth pair (held back
/// until something needs it) after an entry that succeeded, a bridge's `up` after one that failed
/// later on. Checked from outside while a later entry runs.
#[test]
fn each_entry_leaves_what_it_did_done_even_when_it_failed_half_way() {
    let run = in_private_netns(
        r#"printf '%s\n' 'veth("x0", "x1");' 'let sw = netns_add("sw"); bridge(sw, "br0"); up(sw, "br0"); throw "stop";' \
            'print("between");' 'let t = timestamp(); while t.elapsed < 20.0 {}' | $NSLAB repl > /run/out 2>&1 & P=$!
        until grep -q between /run/out; do sleep 0.01; done
        ip -j link show x0
        ip -n sw -j link show br0
        kill -TERM $P; wait $P; echo "exit $?""#,
    );
    let mut lines = run.stdout.lines();
    let x0 = json(lines.next().unwrap_or_default());
    assert_eq!(x0[0]["ifname"], "x0", "{run:?}");
    let br0 = json(lines.next().unwrap_or_default());
    assert!(br0[0]["flags"].as_array().unwrap().iter().any(|f| f == "UP"), "{run:?}");
    assert_eq!(lines.next(), Some("exit 143"), "{run:?}");
}
