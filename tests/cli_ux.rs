//! The command line as a user meets it (issue 15): completions and the manual page, `--json` on
//! `ls` and `doc`, `--color` and NO_COLOR, `run -`, `--help` describing every argument and exit
//! status, nslab's options placed after the script's arguments, kept labs, `nslab test`'s
//! output, `--partition` and `--merge-junit`, progress, and the surprises `check` now catches.
//! Anything that makes kernel objects runs in nslab's sandbox or in a private namespace.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use crate::support::{in_private_netns, json, nslab, piped, run_nslab, scratch, script, sections, unwrap, Run};

/// `nslab ARGS` in a pseudo-terminal (util-linux `script`), so that it sees a terminal on its
/// standard error; `env` is added to the environment (NO_COLOR is not set unless given).
fn on_terminal(args: &str, env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &format!("{} {args}", nslab()), "/dev/null"]).env_remove("NO_COLOR").stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("script runs").into()
}

fn has_escapes(text: &str) -> bool {
    text.contains("\u{1b}[")
}

#[test]
fn completions_for_three_shells() {
    let bash = run_nslab(&["completions", "bash"]);
    assert_eq!(bash.code, 0, "{bash:?}");
    for sub in ["run", "check", "ls", "down", "clean", "doc", "test", "completions", "man"] {
        assert!(bash.stdout.contains(sub), "bash completion lacks {sub}");
    }
    // Sourced by bash, it registers a completion for nslab.
    let path = script("completions", "nslab.bash", &bash.stdout);
    let out = Command::new("bash").arg("-c").arg(format!("source {} && complete -p nslab", path.display())).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "complete -o bashdefault -o default -o nosort -F _nslab nslab\n");
    // The function names of `nslab doc FUNCTION` complete from the catalog.
    assert!(bash.stdout.contains("netns_add") && bash.stdout.contains("veth"), "function names completed");

    let zsh = run_nslab(&["completions", "zsh"]);
    assert_eq!(zsh.code, 0, "{zsh:?}");
    assert!(zsh.stdout.starts_with("#compdef nslab\n"), "{zsh:?}");
    let fish = run_nslab(&["completions", "fish"]);
    assert_eq!(fish.code, 0, "{fish:?}");
    assert!(fish.stdout.contains("complete -c nslab "), "{fish:?}");
    // Syntax-checked by the shells themselves where installed.
    for (shell, text) in [("zsh", &zsh.stdout), ("fish", &fish.stdout)] {
        if Command::new(shell).arg("--version").output().is_ok() {
            let p = script("completions", &format!("nslab.{shell}"), text);
            let st = Command::new(shell).arg("-n").arg(&p).status().unwrap();
            assert!(st.success(), "{shell} -n {}", p.display());
        }
    }
    let bad = run_nslab(&["completions", "tcsh"]);
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("invalid value 'tcsh'"), "{bad:?}");
}

#[test]
fn man_page_renders_with_every_section() {
    let man = run_nslab(&["man"]);
    assert_eq!(man.code, 0, "{man:?}");
    assert!(man.stdout.starts_with(".ie \\n(.g .ds Aq \\(aq") || man.stdout.contains(".TH nslab 1"), "{}", &man.stdout[..200]);
    let page = script("man", "nslab.1", &man.stdout);
    let rendered = Command::new("man").arg("-l").arg(&page).env("MANWIDTH", "100").env("MAN_KEEP_FORMATTING", "").output();
    let text = match rendered {
        Ok(o) if o.status.success() && !o.stdout.is_empty() => String::from_utf8_lossy(&o.stdout).into_owned(),
        // No man(1) here: the roff source has the sections.
        _ => man.stdout.replace(".SH ", "").replace('"', ""),
    };
    for section in ["NAME", "SYNOPSIS", "OPTIONS", "SUBCOMMANDS", "COMMAND DETAILS", "FUNCTIONS", "EXIT STATUS", "ENVIRONMENT"] {
        assert!(text.lines().any(|l| l.trim() == section), "section {section} missing:\n{text}");
    }
    // Every function of the catalog, as `nslab doc --json` lists them.
    let docs = json(&run_nslab(&["doc", "--json"]).stdout);
    for f in docs["functions"].as_array().unwrap() {
        let name = f["name"].as_str().unwrap();
        assert!(text.contains(name), "{name} not in the manual");
    }
}

#[test]
fn doc_json_lists_every_function_with_its_documentation() {
    let run = run_nslab(&["doc", "--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let reference = json(&run.stdout);
    let docs = reference["functions"].as_array().unwrap();
    // The same functions and types, in the same order, as the Markdown reference.
    let markdown = run_nslab(&["doc"]).stdout;
    let (functions, types) = markdown.split_once("\n## Result types\n").unwrap();
    let headed = |text: &str| -> Vec<String> {
        text.lines().filter_map(|l| l.strip_prefix("### `").and_then(|l| l.strip_suffix('`'))).map(str::to_string).collect()
    };
    let listed: Vec<String> = docs.iter().map(|d| d["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(listed, headed(functions));
    let typed: Vec<String> =
        reference["types"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(typed, headed(types));
    assert_eq!(reference["types"][0]["fields"][0]["type"], "string", "{reference}");
    for d in docs {
        let name = d["name"].as_str().unwrap();
        let forms = d["forms"].as_array().unwrap();
        assert!(!forms.is_empty() && forms.iter().all(|f| f.as_str().unwrap().starts_with(&format!("{name}("))), "{d}");
        for key in ["summary", "example", "ip"] {
            assert!(!d[key].as_str().unwrap().is_empty(), "{name} lacks {key}");
        }
    }
    let veth = json(&run_nslab(&["doc", "--json", "veth"]).stdout);
    assert_eq!(veth["name"], "veth");
    assert_eq!(veth["ip"], "ip link add NAME type veth peer name PEER [netns NS]");
    let one = run_nslab(&["doc", "addr"]);
    assert!(one.stdout.starts_with("### `addr`\n"), "{one:?}");
    let unknown = run_nslab(&["doc", "vet"]);
    assert_eq!(unknown.code, 2, "{unknown:?}");
    assert!(unknown.stderr.contains("invalid value 'vet' for '[FUNCTION]'"), "{unknown:?}");
}

/// Every command's --help describes its positional arguments and lists its exit statuses.
#[test]
fn help_describes_arguments_and_exit_codes() {
    let described = [
        ("run", "<FILE>", "The lab script (`-`: read it from standard input)"),
        ("run", "[ARGS]...", "Passed to the script as the string array ARGS"),
        ("check", "<FILES>...", "The scripts to check (`-` reads one from standard input)"),
        ("down", "<LAB>", "The lab's name or id, as `nslab ls` shows them"),
        ("test", "[PATHS]...", "Scenario files, or directories to search for them"),
        ("doc", "[FUNCTION]", "Print only this function's entry"),
        ("completions", "<SHELL>", "The shell to complete in"),
    ];
    for (cmd, arg, text) in described {
        let help = run_nslab(&[cmd, "--help"]);
        let line = help.stdout.lines().find(|l| l.trim_start().starts_with(arg)).unwrap_or_else(|| panic!("{cmd}: {help:?}"));
        assert!(unwrap(&help.stdout).contains(text), "{cmd} {arg}: {line}\n{help:?}");
    }
    for cmd in ["run", "repl", "check", "ls", "down", "clean", "doc", "test", "completions", "man", "graph", "export"] {
        let help = run_nslab(&[cmd, "--help"]);
        assert_eq!(help.code, 0, "{help:?}");
        assert!(help.stdout.contains("\nExit status:\n  0 "), "{cmd} --help lists no exit status:\n{}", help.stdout);
        assert!(help.stdout.contains("\n  2 "), "{cmd}: bad usage's status:\n{}", help.stdout);
    }
    let top = run_nslab(&["--help"]);
    assert!(top.stdout.contains("--color <WHEN>") && top.stdout.contains("-q, --quiet"), "{top:?}");
}

#[test]
fn color_follows_the_flag_and_no_color() {
    let bad = script("color", "bad.rhai", "nosuch(1);\n");
    let bad = bad.to_str().unwrap();
    // Piped: plain unless asked.
    let piped_out = run_nslab(&["check", bad]);
    assert_eq!(piped_out.code, 1);
    assert!(!has_escapes(&piped_out.stderr), "{piped_out:?}");
    let always = run_nslab(&["--color", "always", "check", bad]);
    assert_eq!(always.code, 1);
    assert!(has_escapes(&always.stderr), "{always:?}");
    // Anywhere before the script's arguments, as any global option.
    let after = run_nslab(&["check", "--color=always", bad]);
    assert!(has_escapes(&after.stderr), "{after:?}");
    // On a terminal: colour, unless NO_COLOR or --color never.
    let tty = on_terminal(&format!("check {bad}"), &[]);
    assert!(has_escapes(&tty.stdout), "{tty:?}");
    let no_color = on_terminal(&format!("check {bad}"), &[("NO_COLOR", "1")]);
    assert!(!has_escapes(&no_color.stdout) && no_color.stdout.contains("unknown function nosuch"), "{no_color:?}");
    let never = on_terminal(&format!("--color never check {bad}"), &[]);
    assert!(!has_escapes(&never.stdout) && never.stdout.contains("unknown function nosuch"), "{never:?}");
    let wrong = run_nslab(&["--color", "sometimes", "ls"]);
    assert_eq!(wrong.code, 2, "{wrong:?}");
}

#[test]
fn a_script_on_standard_input() {
    let run = piped(&["--sandbox", "run", "-", "a", "b"], "netns_add(\"s\"); print(`args ${ARGS}`);\n");
    assert_eq!((run.code, run.stdout.as_str()), (0, "args [\"a\", \"b\"]\n"), "{run:?}");
    assert_eq!(run.stderr, "torn down: 1 namespace\n", "{run:?}");
    let bad = piped(&["run", "--sandbox", "-"], "let x = ;\n");
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(bad.stderr.contains("╭─[<stdin>:1:9]"), "{bad:?}");
    let check = piped(&["check", "-"], "netns_add(\"a\", 1, 2);\n");
    assert_eq!(check.code, 1, "{check:?}");
    assert!(unwrap(&check.stderr).contains("× netns_add takes 1 or 2 arguments, but 3 arguments given here"), "{check:?}");
}

/// nslab's options after the script's first argument would be the script's: refused unless `--`
/// says so; before it, they are nslab's wherever they stand.
#[test]
fn options_after_the_scripts_arguments() {
    let path = script("misplaced", "args.rhai", "print(ARGS);\n");
    let p = path.to_str().unwrap();
    let refused = run_nslab(&["run", p, "x", "--sandbox"]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert_eq!(refused.stdout, "", "the script did not run: {refused:?}");
    assert!(
        unwrap(&refused.stderr)
            .contains("× --sandbox comes after the script's arguments, where it would be passed to the script, not to nslab"),
        "{refused:?}"
    );
    // The help line wraps wherever the path's length puts it (even inside the path): compared
    // without spaces.
    let squeezed = |t: &str| t.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    assert!(squeezed(&unwrap(&refused.stderr)).contains(&squeezed(&format!("`nslab run {p} -- x --sandbox`"))), "{refused:?}");
    let also = run_nslab(&["run", p, "x", "--name=other"]);
    assert_eq!(also.code, 2, "{also:?}");
    // Between the file and its arguments: nslab's. The script runs in the sandbox's own user
    // namespace, not in this one.
    let mine = std::fs::read_link("/proc/self/ns/user").unwrap().display().to_string();
    let userns = script(
        "misplaced-userns",
        "userns.rhai",
        "print(ARGS); let o = exec(\"readlink /proc/self/ns/user\").stdout; o.trim(); print(o);\n",
    );
    let between = run_nslab(&["run", userns.to_str().unwrap(), "--sandbox", "x"]);
    let lines: Vec<&str> = between.stdout.lines().collect();
    assert_eq!((between.code, lines[0]), (0, "[\"x\"]"), "{between:?}");
    assert!(lines[1].starts_with("user:[") && lines[1] != mine, "ran in the sandbox: {between:?}");
    // After `--`, the script's (in a private namespace: this one runs without the sandbox).
    let run = in_private_netns(&format!("$NSLAB run {p} -- x --sandbox; echo \"status $?\""));
    assert_eq!(run.stdout, "[\"x\", \"--sandbox\"]\nstatus 0\n", "{run:?}");
}

/// A kept lab is "kept", not "dead": `clean` leaves it, `clean --kept` and `down` remove it;
/// `ls` counts what is inside its namespaces, and `ls --json` says the same.
#[test]
fn kept_labs_survive_clean() {
    let path = script(
        "kept",
        "kept.rhai",
        r#"let a = netns_add("ka"); let b = netns_add("kb");
        veth(a, "eth0", b, "eth0");
        a.addr("eth0", "10.9.0.1/24"); b.addr("eth0", "10.9.0.2/24");
        a.up("eth0"); b.up("eth0");
        a.route("default", "10.9.0.2");
        spawn_in(a, ["sleep", "5901"]);"#,
    );
    let dead = script("kept-dead", "dead.rhai", r#"netns_add("kd"); print("made"); sleep(100);"#);
    let run = in_private_netns(&format!(
        r#"$NSLAB run --keep {p} 2>&1 | sed 's/(id [0-9a-f]*)/(id ID)/; s/down [0-9a-f]*`/down ID`/'
        $NSLAB run {d} > /run/d.out 2>&1 & P=$!
        while ! grep -q made /run/d.out; do sleep 0.05; done; kill -9 $P; wait $P 2>/dev/null
        echo "=ls"; $NSLAB ls | awk '{{$2=""; $3=""; $5=""; print}}'
        echo "=json"; $NSLAB ls --json
        echo "=ip"; ip netns list | sort | tr '\n' ' '; echo
        echo "=clean"; $NSLAB clean 2>&1 | sed 's/(id [0-9a-f]*)/(id ID)/g'; echo "status $?"
        echo "=after-clean"; ip netns list | sort | tr '\n' ' '; echo; $NSLAB ls | awk 'NR > 1 {{print $1, $4}}'
        echo "=clean-kept"; $NSLAB clean --kept 2>&1 | sed 's/(id [0-9a-f]*)/(id ID)/g'; echo "status $?"
        echo "=end"; ip netns list | wc -l; ls /run/nslab | grep -c jsonl; pgrep -fcx "sleep 5901""#,
        p = path.display(),
        d = dead.display()
    ));
    let s = sections(&run.stdout);
    assert_eq!(s[""], "kept: lab kept (id ID); remove it with `nslab down ID`\n", "{run:?}");
    // Columns: NAME, STATE, OBJECTS (id, pid and age blanked).
    let mut ls: Vec<String> = s["ls"].lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    // Oldest first: the two may have started in the same second or not; compared by name.
    ls[1..].sort();
    assert_eq!(
        ls,
        // Routes: 10.9.0.0/24 on each side and the default route.
        ["NAME STATE OBJECTS", "dead dead 1 netns", "kept kept 2 netns, 2 links, 2 addrs, 3 routes, 1 proc"],
        "{run:?}"
    );
    let labs = json(&s["json"]);
    let lab = |name: &str| labs.as_array().unwrap().iter().find(|l| l["name"] == name).unwrap().clone();
    let kept = lab("kept");
    assert_eq!((&kept["state"], &kept["sandbox"]), (&"kept".into(), &false.into()), "{run:?}");
    let objects = &kept["objects"];
    assert_eq!((&objects["namespaces"], &objects["links"], &objects["addrs"]), (&2.into(), &2.into(), &2.into()), "{run:?}");
    assert_eq!((&objects["routes"], &objects["processes"]), (&3.into(), &1.into()), "{run:?}");
    assert_eq!(lab("dead")["state"], "dead");
    assert_eq!(s["ip"], "ka kb kd \n", "{run:?}");
    assert_eq!(
        s["clean"],
        "lab dead (id ID) torn down: 1 namespace\nclean: left 1 lab kept on purpose: kept (id ID) (`nslab down LAB` or `nslab clean --kept` removes them)\nstatus 0\n",
        "{run:?}"
    );
    assert_eq!(s["after-clean"], "ka kb \nkept kept\n", "{run:?}");
    assert_eq!(s["clean-kept"], "lab kept (id ID) torn down: 2 namespaces, 1 process\nstatus 0\n", "{run:?}");
    assert_eq!(s["end"], "0\n0\n0\n", "{run:?}");
}

#[test]
fn down_says_where_to_look_in_a_whole_sentence() {
    let run = in_private_netns("$NSLAB down nosuch 2>&1; echo \"status $?\"");
    assert_eq!(
        run.stdout,
        "  × no lab named \"nosuch\" is standing\n  help: `nslab ls` lists the labs that are standing, by name and id\n\nstatus 1\n",
        "{run:?}"
    );
}

/// `nslab test` shows what a failing scenario printed (as `cargo test` does), not a passing
/// one's; counts read "1 scenario".
#[test]
fn test_shows_a_failing_scenarios_output() {
    let dir = scratch("failing-output");
    std::fs::write(dir.join("fails.rhai"), "print(\"before the failure\");\nassert(1 == 2, \"one is not two\");\n").unwrap();
    std::fs::write(dir.join("passes.rhai"), "print(\"quiet when passing\");\n").unwrap();
    let run =
        Command::new(nslab()).current_dir(&dir).args(["test", "-j", "1", "fails.rhai"]).env("NO_COLOR", "1").output().unwrap();
    let run: Run = run.into();
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout
            .contains("\n    output:\n      before the failure\n\nscenarios: 0 passed, 1 failed, 0 skipped\n1 scenario in "),
        "{run:?}"
    );
    let both = Command::new(nslab()).current_dir(&dir).args(["test", "."]).env("NO_COLOR", "1").output().unwrap();
    let both: Run = both.into();
    assert!(!both.stdout.contains("quiet when passing"), "{both:?}");
    // In the suite's order, whatever order they finish in.
    let lines: Vec<&str> = both.stdout.lines().filter(|l| l.starts_with("PASS") || l.starts_with("FAIL")).collect();
    assert!(lines[0].ends_with("./fails.rhai") && lines[1].ends_with("./passes.rhai"), "{both:?}");
    assert!(both.stdout.contains("\n2 scenarios in "), "{both:?}");
}

/// `--partition K/N` splits a suite into disjoint shards whose union is the suite, the same on
/// every run; `--merge-junit` joins their reports into the suite's.
#[test]
fn partitions_are_disjoint_and_merge_back() {
    let dir = scratch("partition");
    let mut all = BTreeSet::new();
    for i in 0..12 {
        let sub = if i % 2 == 0 { "even" } else { "odd" };
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        std::fs::write(dir.join(sub).join(format!("s{i:02}.rhai")), format!("print({i});\n")).unwrap();
        all.insert(format!("{sub}/s{i:02}.rhai"));
    }
    let shard = |k: usize| -> (BTreeSet<String>, String) {
        let out = Command::new(nslab())
            .current_dir(&dir)
            .args(["test", "--json", "--partition", &format!("{k}/3"), "--junit", &format!("j{k}.xml"), "even", "odd"])
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let run: Run = out.into();
        assert_eq!(run.code, 0, "{run:?}");
        let doc = json(&run.stdout);
        let files = doc["scenarios"].as_array().unwrap().iter().map(|s| s["file"].as_str().unwrap().to_string()).collect();
        (files, run.stderr)
    };
    let shards: Vec<(BTreeSet<String>, String)> = (1..=3).map(shard).collect();
    let mut union = BTreeSet::new();
    for (i, (files, stderr)) in shards.iter().enumerate() {
        assert!(stderr.starts_with(&format!("partition {}/3: ", i + 1)), "{stderr}");
        assert!(stderr.contains(" of the 12 found\n"), "{stderr}");
        for f in files {
            assert!(union.insert(f.clone()), "{f} in two shards");
        }
    }
    assert_eq!(union, all, "the shards together are the suite");
    assert_eq!(shard(2).0, shards[1].0, "the same shard on every run");

    let merged = Command::new(nslab())
        .current_dir(&dir)
        .args(["test", "--merge-junit", "all.xml", "j1.xml", "j2.xml", "j3.xml"])
        .output()
        .unwrap();
    let merged: Run = merged.into();
    assert_eq!(merged.code, 0, "{merged:?}");
    assert_eq!(merged.stderr, "merged 3 reports into all.xml: 12 tests, 0 failures, 0 errors, 0 skipped\n");
    let text = std::fs::read_to_string(dir.join("all.xml")).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let root = doc.root_element();
    assert_eq!((root.tag_name().name(), root.attribute("tests")), ("testsuites", Some("12")));
    let suites: Vec<&str> =
        root.children().filter(|n| n.has_tag_name("testsuite")).map(|n| n.attribute("name").unwrap()).collect();
    assert_eq!(suites, all.iter().map(String::as_str).collect::<Vec<_>>(), "one suite per scenario, in order");
    let bad = Command::new(nslab()).current_dir(&dir).args(["test", "--merge-junit", "x.xml", "even/s00.rhai"]).output().unwrap();
    let bad: Run = bad.into();
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("even/s00.rhai is not a JUnit report nslab wrote: no <testsuites> element"), "{bad:?}");
    let wrong = run_nslab(&["test", "--partition", "4/3"]);
    assert_eq!(wrong.code, 2, "{wrong:?}");
    assert!(wrong.stderr.contains("\"4/3\" is not a partition: give K/N with 1 <= K <= N"), "{wrong:?}");
}

/// Progress on a terminal, and only there; never with --quiet.
#[test]
fn progress_only_on_a_terminal() {
    let path = script("progress", "slow.rhai", "for i in 0..6 { netns_add(`p${i}`); }\nsleep(0.8);\n");
    let p = path.to_str().unwrap();
    let tty = on_terminal(&format!("run --sandbox {p}"), &[]);
    assert!(tty.stdout.contains("[6 namespaces] "), "{tty:?}");
    let quiet = on_terminal(&format!("run --sandbox --quiet {p}"), &[]);
    assert!(!quiet.stdout.contains("namespaces]"), "{quiet:?}");
    assert!(quiet.stdout.contains("torn down: 6 namespaces"), "{quiet:?}");
    let piped_run = run_nslab(&["run", "--sandbox", p]);
    assert_eq!(piped_run.stderr, "torn down: 6 namespaces\n", "{piped_run:?}");
}

/// `check` finds a namespace handle in the wrong place, and warns about a link named like a
/// namespace.
#[test]
fn check_catches_handles_in_the_wrong_place() {
    let wrong = script("handles", "wrong.rhai", "let h1 = netns_add(\"h1\");\nh1.addr(\"eth0\");\n");
    let run = run_nslab(&["check", wrong.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:?}");
    let text = unwrap(&run.stderr);
    assert!(
        text.contains("× h1.addr(...) passes the namespace h1 as addr's `link`, which is not a namespace (addr(link, cidr))"),
        "{run:?}"
    );
    assert!(text.contains("help: with a namespace first: h1.addr(link, cidr)"), "{run:?}");
    let right = script("handles", "right.rhai", "let h1 = netns_add(\"h1\");\nh1.addr(\"eth0\", \"10.0.0.1/24\");\n");
    let run = run_nslab(&["check", right.to_str().unwrap()]);
    assert_eq!((run.code, run.stderr.as_str()), (0, "ok: 1 script checked, no problems found\n"), "{run:?}");

    let named = script("handles", "named.rhai", "let h1 = netns_add(\"h1\");\nveth(\"h1\", \"eth0\");\n");
    let run = run_nslab(&["check", named.to_str().unwrap()]);
    assert_eq!(run.code, 0, "a warning, not an error: {run:?}");
    let text = unwrap(&run.stderr);
    assert!(text.contains("⚠ veth: the link name \"h1\" is also the name of a namespace of this script"), "{run:?}");
    assert!(text.ends_with("ok: 1 script checked, no problems found\n"), "{run:?}");
    // `run` says it too, then goes on.
    let ran = run_nslab(&["run", "--sandbox", named.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(unwrap(&ran.stderr).contains("⚠ veth: the link name \"h1\""), "{ran:?}");
}

#[test]
fn repl_leaves_out_fields_without_a_value() {
    let run = piped(&["--sandbox"], "#{dst: \"default\", metric: (), via: \"10.0.0.1\"}\n");
    assert_eq!(run.stdout, "#{dst: \"default\", via: \"10.0.0.1\"}\n", "{run:?}");
}
