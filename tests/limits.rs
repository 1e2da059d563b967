//! Runaway scripts end cleanly: each case that once crashed nslab past its teardown (an
//! allocation failure, a stack overflow, output read without end, a print to a closed pipe, a
//! panic) runs here without `--sandbox` in a private network + mount namespace, under an
//! address-space limit (so a regression fails fast instead of eating the machine's memory), and
//! must end with a clear error at its script line, a non-zero status other than 134 (abort) or
//! 101 (panic), and nothing left: no namespace, no ledger, no program.
//!
//! Background programs are `sleep N` / `yes N` with an N unique to each test.

use std::collections::HashMap;

use crate::support::{in_private_netns, processes, run_nslab, scratch, script, sections, Run};

/// The address space nslab may use in these tests (KiB, for `ulimit -v`): far below what the
/// runaway scripts would take without limits, far above what nslab needs with them (a debug
/// build maps about 300 MiB, plus the interpreter's 256 MiB stack).
const ADDRESS_SPACE_KIB: u64 = 3_000_000;

/// Runs `nslab ARGS` in a private namespace under the address-space limit, then reports what
/// is left: sections =rc, =out, =err, =netns (`ip -j netns list`), =ledgers (files in
/// /run/nslab).
fn run_limited(args: &str, env: &str) -> (Run, HashMap<String, String>) {
    run_limited_to(ADDRESS_SPACE_KIB, args, env)
}

fn run_limited_to(kib: u64, args: &str, env: &str) -> (Run, HashMap<String, String>) {
    let run = in_private_netns(&format!(
        r#"( ulimit -v {kib}; {env} exec $NSLAB {args} ) > /run/out 2> /run/err; rc=$?
        echo "=rc"; echo $rc
        echo "=out"; head -c 100000 /run/out
        echo "=err"; cat /run/err
        echo "=netns"; ip -j netns list
        echo "=ledgers"; ls /run/nslab | wc -l"#
    ));
    let s = sections(&run.stdout);
    (run, s)
}

/// Text as one line: reports wrap long messages at 100 columns (with "│" in front of the
/// continued lines); messages are compared without that.
fn flat(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().filter(|w| *w != "│").collect();
    words.join(" ")
}

/// Whether the report `text` says `message` (wrapped or not).
fn says(text: &str, message: &str) -> bool {
    flat(text).contains(&flat(message))
}

/// Asserts the run failed cleanly: `status`, the message at `file:line`, the teardown of the
/// namespace and the program, and nothing left.
fn assert_clean_failure(run: &Run, s: &HashMap<String, String>, status: i32, message: &str, at: &str, sleep: &str) {
    assert_eq!(s["rc"].trim(), status.to_string(), "{run:?}");
    let err = &s["err"];
    assert!(says(err, message), "expected {message:?}: {run:?}");
    assert!(says(err, &format!("╭─[{at}")), "expected the error at {at}: {run:?}");
    assert!(err.trim_end().ends_with("torn down: 1 namespace, 1 process"), "{run:?}");
    assert_nothing_left(run, s, sleep);
}

fn assert_nothing_left(run: &Run, s: &HashMap<String, String>, sleep: &str) {
    assert_eq!(s["netns"].trim(), "[]", "{run:?}");
    assert_eq!(s["ledgers"].trim(), "0", "{run:?}");
    assert_eq!(processes(&["sleep", sleep]), Vec::<i32>::new(), "{run:?}");
}

/// A script that makes a namespace and a program (so teardown has work), then `body` from
/// line 3 on.
fn lab_script(test: &str, sleep: &str, body: &str) -> String {
    let text = format!("netns_add(\"a\");\nspawn_in(\"a\", [\"sleep\", \"{sleep}\"]);\n{body}\n");
    script(test, "lab.rhai", &text).display().to_string()
}

#[test]
fn growing_strings_arrays_maps_and_blobs_stop_at_their_limits() {
    let cases = [
        (
            "strings",
            "let s = \"x\";\nloop { s += s; }",
            "a string (or the strings in one array or map together) grew past the limit of 64 MiB (strings=64M)",
            "strings=128M",
        ),
        (
            "arrays",
            "let a = [1];\nloop { a += a; }",
            "an array or blob (with the arrays inside it) grew past the limit of 10000000 (arrays=10M)",
            "arrays=20M",
        ),
        (
            "maps",
            "let m = #{a: 1};\nloop { m = #{a: m, b: m}; }",
            "a map (with the maps inside it) grew past the limit of 1000000 (maps=1M)",
            "maps=2M",
        ),
        (
            "blobs",
            "let b = blob(1);\nloop { b += b; }",
            "an array or blob (with the arrays inside it) grew past the limit of 10000000 (arrays=10M)",
            "arrays=20M",
        ),
    ];
    for (i, (name, body, message, raise)) in cases.into_iter().enumerate() {
        let sleep = format!("810{i}");
        let path = lab_script(&format!("limits-{name}"), &sleep, body);
        let (run, s) = run_limited(&format!("run {path}"), "");
        assert_clean_failure(&run, &s, 1, message, &format!("{path}:4:"), &sleep);
        assert!(says(&s["err"], &format!("`--limit {raise}` on the command line, or a line `// limits: {raise}`")), "{run:?}");
    }
}

#[test]
fn memory_held_across_calls_stops_at_the_memory_limit() {
    // Each call holds a new 32 MiB string: 100 calls would need 3.2 GiB.
    let body = "let s = \"x\";\nfor i in 0..25 { s += s; }\nfn f(s, n) { let t = s + \"y\"; if n > 0 { f(t, n - 1) } else { 0 } }\nf(s, 100);";
    let path = lab_script("limits-memory", "8110", body);
    let (run, s) = run_limited(&format!("run {path}"), "");
    assert_clean_failure(&run, &s, 1, "the script made nslab hold ", &format!("{path}:6:"), "8110");
    assert!(says(&s["err"], "(memory=2G, less what the address space allows)"), "{run:?}");
    assert!(says(&s["err"], "address space is limited to 2.9 GiB (ulimit -v)"), "{run:?}");

    // Under a tight limit the memory limit shrinks with it: a string doubled in a loop stops
    // before an allocation can fail, long before the string limit.
    let path = lab_script("limits-memory-tight", "8111", "let s = \"x\";\nloop { s += s; }");
    let (run, s) = run_limited_to(400_000, &format!("run {path}"), "");
    assert_clean_failure(&run, &s, 1, "the script made nslab hold ", &format!("{path}:4:"), "8111");
    assert!(says(&s["err"], "address space is limited to 390.6 MiB (ulimit -v)"), "{run:?}");
}

#[test]
fn endless_recursion_ends_with_the_call_depth_error_not_a_stack_overflow() {
    // The deepest a function body may nest (depth=256), in every one of the 128 calls: the
    // most stack the interpreter can take within the limits.
    let mut nested = String::from("f(n + 1)");
    for _ in 0..122 {
        nested = format!("(1 + {nested})");
    }
    let cases = [
        ("plain", "fn f(x) { f(x) }\nf(1);".to_string(), "8120", 4),
        ("nested", format!("fn f(n) {{ {nested} }}\nf(0);"), "8121", 4),
        // Through a native function that calls back: the innermost call is shown.
        ("closure", "fn f(x) { [x].map(|y| f(y)) }\nf(1);".to_string(), "8122", 3),
    ];
    for (name, body, sleep, line) in cases {
        let path = lab_script(&format!("limits-recursion-{name}"), sleep, &body);
        let (run, s) = run_limited(&format!("run {path}"), "");
        assert_clean_failure(
            &run,
            &s,
            1,
            "functions called each other more than 128 deep (calls=128): is there a recursion that never ends?",
            &format!("{path}:{line}:"),
            sleep,
        );
    }
}

#[test]
fn limits_are_raised_by_flag_or_header_and_bad_ones_refused() {
    // 64 MiB of string is over the default (the doubling reaches 128 MiB), not over 256M.
    let body = "let s = \"x\";\nfor i in 0..27 { s += s; }\nprint(s.len());";
    let path = lab_script("limits-raise", "8130", body);
    let (run, s) = run_limited(&format!("run --limit strings=256M {path}"), "");
    assert_eq!(s["rc"].trim(), "0", "{run:?}");
    assert_eq!(s["out"].trim(), "134217728", "{run:?}");
    assert_nothing_left(&run, &s, "8130");

    let header = script("limits-header", "lab.rhai", &format!("// A lab with a big string.\n// limits: strings=256M\n{body}\n"));
    let (run, s) = run_limited(&format!("run {}", header.display()), "");
    assert_eq!(s["rc"].trim(), "0", "{run:?}");
    assert_eq!(s["out"].trim(), "134217728", "{run:?}");
    // The command line wins over the header.
    let (run, s) = run_limited(&format!("run --limit strings=64M {}", header.display()), "");
    assert_eq!(s["rc"].trim(), "1", "{run:?}");
    assert!(says(&s["err"], "grew past the limit of 64 MiB (strings=64M)"), "{run:?}");

    let bad = script("limits-bad-header", "lab.rhai", "// limits: strings=lots\nnetns_add(\"a\");\n");
    let run = run_nslab(&["check", bad.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(says(&run.stderr, "`// limits:` line: strings=lots: not a number; strings is a number of bytes"), "{run:?}");
    assert!(says(&run.stderr, &format!("╭─[{}:1:1]", bad.display())), "{run:?}");

    let run = run_nslab(&["run", "--limit", "stack=1M", bad.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(says(&run.stderr, "there is no limit named `stack`; the limits are strings, arrays, maps"), "{run:?}");
    let run = run_nslab(&["check", "--limit", "calls=5000", bad.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(says(&run.stderr, "calls=5000: at most 2k"), "{run:?}");
}

#[test]
fn import_cycles_are_named_by_check_and_at_run_time() {
    let dir = scratch("limits-cycle");
    std::fs::write(dir.join("a.rhai"), "import \"b\" as b;\nprint(\"a\");\n").unwrap();
    std::fs::write(dir.join("b.rhai"), "// b\nimport \"c\" as c;\n").unwrap();
    std::fs::write(dir.join("c.rhai"), "\n\nimport \"a\" as a;\n").unwrap();
    let main = dir.join("a.rhai");
    let run = run_nslab(&["check", main.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        says(
            &run.stderr,
            "import cycle: a.rhai imports b.rhai (line 1), which imports c.rhai (line 2), which imports a.rhai (line 3)"
        ),
        "{run:?}"
    );
    assert!(says(&run.stderr, &format!("╭─[{}:1:8]", main.display())), "{run:?}");
    assert!(says(&run.stderr, "modules cannot import each other"), "{run:?}");

    // A path only known when the script runs: found then, at the import line, the lab torn down.
    let dynamic = lab_script("limits-cycle-dynamic", "8140", "let name = \"loop_b\";\nimport name as b;");
    let dir = std::path::Path::new(&dynamic).parent().unwrap().to_path_buf();
    std::fs::write(dir.join("loop_b.rhai"), "import \"loop_c\" as c;\n").unwrap();
    std::fs::write(dir.join("loop_c.rhai"), "import \"loop_b\" as b;\n").unwrap();
    let run = run_nslab(&["check", &dynamic]);
    assert_eq!(run.code, 0, "check cannot know the path: {run:?}");
    let (run, s) = run_limited(&format!("run {dynamic}"), "");
    assert_clean_failure(
        &run,
        &s,
        1,
        "import cycle: loop_b.rhai imports loop_c.rhai (line 1), which imports loop_b.rhai (line 1)",
        &format!("{dynamic}:4:"),
        "8140",
    );
}

#[test]
fn scripts_and_modules_must_be_regular_files_of_bounded_size() {
    let dir = scratch("limits-files");
    let fifo = dir.join("pipe.rhai");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let big = dir.join("big.rhai");
    std::fs::File::create(&big).unwrap().set_len((16 << 20) + 1).unwrap();
    let started = std::time::Instant::now();
    for (file, what) in [
        ("/dev/zero".to_string(), "cannot read /dev/zero: it is a character device, not a regular file"),
        (fifo.display().to_string(), "pipe.rhai: it is a FIFO (named pipe), not a regular file"),
        (big.display().to_string(), "big.rhai: it is larger than 16 MiB, the most a script may be"),
    ] {
        for cmd in ["check", "run"] {
            let run = run_nslab(&[cmd, "--limit", "memory=1G", &file]);
            assert_eq!(run.code, 2, "{cmd} {file}: {run:?}");
            assert!(says(&run.stderr, what), "{cmd} {file}: {run:?}");
        }
    }
    let run = run_nslab(&["test", fifo.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(says(&run.stdout, "it is a FIFO (named pipe), not a regular file"), "{run:?}");
    assert!(started.elapsed().as_secs() < 20, "nothing waited for a writer or read a device");

    // A module that is a FIFO: refused at the import, by check and when the script runs.
    let main = lab_script("limits-module-fifo", "8150", "import \"pipe\" as p;");
    let pipe = std::path::Path::new(&main).parent().unwrap().join("pipe.rhai");
    nix::unistd::mkfifo(&pipe, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let run = run_nslab(&["check", &main]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(says(&run.stderr, "import \"pipe\": cannot read"), "{run:?}");
    assert!(says(&run.stderr, &format!("╭─[{main}:3:8]")), "{run:?}");
}

#[test]
fn output_read_without_end_is_bounded_and_the_writer_ended() {
    let body = r#"let p = spawn_in("a", ["yes", "8161"]);
sleep(0.5);
let most = 0;
for i in 0..10 { let n = p.stdout.len(); if n > most { most = n; } }
print(most);
print(p.stdout.sub_string(0, 36));"#;
    let path = lab_script("limits-yes", "8160", body);
    let (run, s) = run_limited(&format!("run {path}"), "");
    assert_eq!(s["rc"].trim(), "0", "{run:?}");
    let lines: Vec<&str> = s["out"].lines().collect();
    let most: usize = lines[0].parse().unwrap();
    assert!(most > 8 << 20 && most < (8 << 20) + 100, "8 MiB and a note, not {most}: {run:?}");
    assert!(lines[1].starts_with("[nslab: ") && lines[1].contains(" earlier bytes"), "{run:?}");
    assert!(s["err"].trim_end().ends_with("torn down: 1 namespace, 2 processes"), "{run:?}");
    assert_nothing_left(&run, &s, "8160");
    assert_eq!(processes(&["yes", "8161"]), Vec::<i32>::new());
}

#[test]
fn forty_megabytes_of_output_give_the_latest_eight_mebibytes_everywhere() {
    // 40 MiB written: 32 MiB dropped, the latest 8 MiB kept, for each way of reading it.
    let write = r#"["sh", "-c", "yes 8171 | head -c 41943040"]"#;
    let write_err = r#"["sh", "-c", "yes 8171 | head -c 41943040 >&2"]"#;
    let body = format!(
        r#"let note = "[nslab: 33554432 earlier bytes of output were not kept]\n";
fn check(text, note, how) {{
    if !text.starts_with(note) || text.len() != note.len() + 8388608 {{ throw `${{how}}: ${{text.len()}} bytes`; }}
    print(how);
}}
check(exec_in("a", {write}).stdout, note, "exec_in stdout");
check(exec_in("a", {write_err}).stderr, note, "exec_in stderr");
check(spawn_in("a", {write}).output().stdout, note, "output");
let p = spawn_in("a", {write});
p.wait();
check(p.stdout, note, "stdout");
let q = spawn_in("a", {write_err});
q.wait();
check(q.stderr, note, "stderr");"#
    );
    let path = lab_script("limits-40mb", "8170", &body);
    let (run, s) = run_limited(&format!("run {path}"), "");
    assert_eq!(s["rc"].trim(), "0", "{run:?}");
    assert_eq!(s["out"], "exec_in stdout\nexec_in stderr\noutput\nstdout\nstderr\n", "{run:?}");
    assert_nothing_left(&run, &s, "8170");
}

#[test]
fn a_hangup_with_output_to_a_closed_pipe_tears_down() {
    let path = lab_script("limits-hup", "8180", "print(\"ready\");\nloop { print(\"still here\"); sleep(0.01); }");
    let run = in_private_netns(&format!(
        r#"mkfifo /run/pipe
        ( ulimit -v {ADDRESS_SPACE_KIB}; exec $NSLAB run {path} ) > /run/pipe 2>&1 & P=$!
        exec 3</run/pipe; read -u 3 line; exec 3<&-
        sleep 0.3; kill -HUP $P; wait $P; rc=$?
        echo "=rc"; echo $rc
        echo "=netns"; ip -j netns list
        echo "=ledgers"; ls /run/nslab | wc -l"#
    ));
    let s = sections(&run.stdout);
    assert_eq!(s["rc"].trim(), (128 + libc::SIGHUP).to_string(), "{run:?}");
    assert_nothing_left(&run, &s, "8180");
}

#[test]
fn a_panic_in_nslab_still_tears_the_lab_down() {
    if !cfg!(debug_assertions) {
        return; // the test's panic (NSLAB_TEST_PANIC) exists in debug builds only
    }
    let path = lab_script("limits-panic", "8190", "netns_list();\nprint(\"not reached\");");
    let (run, s) = run_limited(&format!("run {path}"), "NSLAB_TEST_PANIC=netns_list RUST_BACKTRACE=0");
    assert_eq!(s["rc"].trim(), "1", "{run:?}");
    assert!(says(&s["err"], "nslab: internal error (a bug in nslab): NSLAB_TEST_PANIC: netns_list was called"), "{run:?}");
    assert!(s["err"].trim_end().ends_with("torn down: 1 namespace, 1 process"), "{run:?}");
    assert!(!says(&s["out"], "not reached"), "{run:?}");
    assert_nothing_left(&run, &s, "8190");
}

#[test]
fn the_call_log_of_capture_keeps_the_latest_calls() {
    let path = script(
        "limits-capture",
        "many.rhai",
        "for i in 0..12000 { netns_list(); }\nlet big = \"x\";\nfor i in 0..20 { big += big; }\nnetns_add(big);\n",
    );
    let run = run_nslab(&["test", "--json", "--capture", path.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:?}");
    let doc: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    let calls = doc["scenarios"][0]["calls"].as_array().unwrap_or_else(|| panic!("{run:?}"));
    assert_eq!(calls.len(), 10_001, "the latest 10000 and a note");
    assert_eq!(calls[0]["call"], "[nslab: 2001 earlier calls were not kept, only the latest 10000]");
    // A 1 MiB argument is shown cut, not whole.
    let last = calls.last().unwrap()["call"].as_str().unwrap();
    assert!(last.len() < 1000 && last.contains('…'), "{last}");
}
