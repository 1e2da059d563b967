//! Fuzzing with a fixed budget (proptest, fixed seed, so a run is deterministic): generated
//! scripts through the pre-flight check, and generated arguments of every kind through every
//! native function nslab registers (the list comes from the registrar, so a new function is
//! covered without touching this file). Asserted: no panic, and every error carries a location
//! (line and column) and renders.
//!
//! The budget is small enough for every `cargo test`; to run longer, or other cases:
//!   NSLAB_FUZZ_CASES=20000 NSLAB_FUZZ_SEED=7 cargo test --test integration fuzz:: -- --nocapture
//! (NSLAB_FUZZ_CASES: scripts checked, and about as many native calls; NSLAB_FUZZ_VERBOSE=1
//! prints every call and its outcome). A failure prints the shrunk input: once fixed, add it to `REGRESSIONS` below.

use std::cell::RefCell;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use miette::{GraphicalReportHandler, GraphicalTheme};
use nslab::lab::{Lab, LabOptions};
use nslab::script::catalog;
use nslab::script::harness::SubtestOutcome;
use nslab::script::{ScriptError, Session, Source};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::support::Run;

/// Calls of the native-function target in one `cargo test` (each a few milliseconds).
const CALLS: u32 = 400;

fn budget(default: u32) -> u32 {
    std::env::var("NSLAB_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A runner with a fixed seed (NSLAB_FUZZ_SEED picks another; `stream` makes one sequence per
/// use), no files of past failures, and the whole budget spent on generated cases.
fn runner(cases: u32, stream: u64) -> TestRunner {
    let config = Config { cases, failure_persistence: None, max_shrink_iters: 2000, ..Config::default() };
    let seed: u64 = std::env::var("NSLAB_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(12);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&stream.to_le_bytes());
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

// ---- Generated values, as Rhai source text ----

/// A value of every kind a script can pass: rendered as the source text that makes it.
#[derive(Debug, Clone)]
enum Arg {
    Int(i64),
    Float(f64),
    Bool(bool),
    Char(char),
    Str(String),
    Unit,
    Blob(usize),
    Array(Vec<Arg>),
    Map(Vec<(String, Arg)>),
    /// A handle the script made earlier (`HANDLES`): a namespace, a process, a result.
    Handle(&'static str),
    /// A closure or function pointer (`CLOSURES`).
    Closure(&'static str),
}

/// Strings that mean something to some function (names, addresses, keys, units), and strings
/// that are hard on conversions (empty, long, NUL, BOM, unicode, path parts). None is the name
/// of a program: commands built from them never run anything.
const STRINGS: &[&str] = &[
    "",
    "fz",
    "fz0",
    "fz1",
    "lo",
    "nslab-no-such-program",
    "10.9.0.1/24",
    "10.9.0.1",
    "10.9.0.0/24",
    "fd00::1/64",
    "224.0.0.1",
    "255.255.255.255/32",
    "0.0.0.0/0",
    "default",
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.forwarding",
    "net.ipv6.conf.lo.mtu",
    "1mbit",
    "10ms",
    "1.5%",
    "-1",
    "0x10",
    "1e999",
    "tcp",
    "udp",
    "veth",
    "ipv6",
    "a b",
    "\"quoted\"",
    "a\0b",
    "\0",
    "\u{feff}",
    "é🦀\u{200b}",
    "/",
    "..",
    ".",
    "a/b",
    "../fz",
    "\n",
    "\t ",
];

/// Option names the functions take, and keys none does.
const KEYS: &[&str] = &[
    "mtu",
    "up",
    "master",
    "queues",
    "dev",
    "via",
    "metric",
    "table",
    "rate",
    "burst",
    "limit",
    "delay",
    "jitter",
    "loss",
    "duplicate",
    "reorder",
    "corrupt",
    "count",
    "timeout",
    "interval",
    "size",
    "ttl",
    "family",
    "seconds",
    "duration",
    "port",
    "protocol",
    "kind",
    "peer",
    "",
    "x y",
    "ü",
    "\0",
];

const HANDLES: &[&str] = &["h_root", "h_ns", "h_proc", "h_exec", "h_ping"];

const CLOSURES: &[&str] = &[
    "|| true",
    "|| false",
    "|| 1",
    "|x| x",
    "|a, b| a",
    "|| throw \"boom\"",
    "|| { loop {} }",
    "|| netns_list()",
    "Fn(\"netns_list\")",
    "Fn(\"nslab_no_such_function\")",
    "|| up(())",
    "|x| skip(x)",
];

/// The text of a Rhai string literal holding `s` (escaped where the source must be).
fn string_literal(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || c == '\u{feff}' => out.push_str(&format!("\\U{:08x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn float_literal(f: f64) -> String {
    if f.is_nan() {
        return "(0.0 / 0.0)".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "(1.0 / 0.0)".into() } else { "(-1.0 / 0.0)".into() };
    }
    let text = format!("{:?}", f.abs());
    // Rhai wants a digit after the point, and a point before an exponent.
    let text = match text.split_once('e') {
        Some((m, e)) if !m.contains('.') => format!("{m}.0e{e}"),
        _ => text,
    };
    if f.is_sign_negative() {
        format!("(-{text})")
    } else {
        text
    }
}

impl Arg {
    fn text(&self) -> String {
        match self {
            Arg::Int(i64::MIN) => "(-9223372036854775807 - 1)".into(),
            Arg::Int(i) if *i < 0 => format!("({i})"),
            Arg::Int(i) => i.to_string(),
            Arg::Float(f) => float_literal(*f),
            Arg::Bool(b) => b.to_string(),
            Arg::Char(c) => match c {
                '\'' | '\\' => format!("'\\{c}'"),
                c if c.is_control() || *c == '\u{feff}' => format!("'\\U{:08x}'", *c as u32),
                c => format!("'{c}'"),
            },
            Arg::Str(s) => string_literal(s),
            Arg::Unit => "()".into(),
            Arg::Blob(n) => format!("blob({n}, 7)"),
            Arg::Array(items) => format!("[{}]", items.iter().map(Arg::text).collect::<Vec<_>>().join(", ")),
            Arg::Map(entries) => {
                // A key given twice is a syntax error: the first one counts.
                let mut seen = std::collections::HashSet::new();
                let entries: Vec<String> = entries
                    .iter()
                    .filter(|(k, _)| seen.insert(k.as_str()))
                    .map(|(k, v)| format!("{}: {}", string_literal(k), v.text()))
                    .collect();
                format!("#{{{}}}", entries.join(", "))
            }
            Arg::Handle(h) => h.to_string(),
            Arg::Closure(c) => format!("({c})"),
        }
    }
}

fn int() -> impl Strategy<Value = i64> {
    prop_oneof![
        select(vec![
            0,
            1,
            -1,
            2,
            3,
            64,
            1280,
            1500,
            65535,
            65536,
            4_294_967_295,
            4_294_967_296,
            i64::MIN,
            i64::MAX,
            i64::MIN + 1
        ]),
        0i64..100,
        any::<i64>(),
    ]
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        select(vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, 0.5, 1e-300, f64::MIN_POSITIVE, f64::MAX, 1e19]),
        -10.0f64..100.0,
        any::<f64>(),
    ]
}

fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(STRINGS).prop_map(String::from),
        1 => vec(any::<char>(), 0..12).prop_map(|c| c.into_iter().collect()),
        1 => select(vec![300usize, 4097, 70_000]).prop_map(|n| "x".repeat(n)),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![4 => select(KEYS).prop_map(String::from), 1 => string()]
}

fn leaf() -> impl Strategy<Value = Arg> {
    prop_oneof![
        3 => int().prop_map(Arg::Int),
        2 => float().prop_map(Arg::Float),
        1 => any::<bool>().prop_map(Arg::Bool),
        1 => any::<char>().prop_map(Arg::Char),
        6 => string().prop_map(Arg::Str),
        2 => Just(Arg::Unit),
        1 => (0usize..5).prop_map(Arg::Blob),
        3 => select(HANDLES).prop_map(Arg::Handle),
        2 => select(CLOSURES).prop_map(Arg::Closure),
    ]
}

fn arg() -> impl Strategy<Value = Arg> {
    let nested = leaf().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![vec(inner.clone(), 0..4).prop_map(Arg::Array), vec((key(), inner), 0..4).prop_map(Arg::Map),]
    });
    prop_oneof![3 => leaf(), 1 => nested]
}

// ---- Plausible arguments, from the parameter names of the documented forms ----

/// A value that makes sense for a parameter or option of this name (so that calls get past the
/// first check and into the conversions behind it); arbitrary for a name not known here.
fn plausible(param: &str) -> BoxedStrategy<Arg> {
    let s = |v: &[&'static str]| select(v.to_vec()).prop_map(|x| Arg::Str(x.into())).boxed();
    let ints = |v: &[i64]| select(v.to_vec()).prop_map(Arg::Int).boxed();
    let floats = |v: &[f64]| select(v.to_vec()).prop_map(Arg::Float).boxed();
    let either = |a: BoxedStrategy<Arg>, b: BoxedStrategy<Arg>| prop_oneof![a, b].boxed();
    match param {
        "ns" | "from_ns" | "to_ns" | "peer_ns" => {
            prop_oneof![s(&["fz", "fz", "nope"]), select(vec!["h_ns", "h_root"]).prop_map(Arg::Handle), Just(Arg::Unit)].boxed()
        }
        "name" | "peer" | "link" | "new" | "parent" | "bridge" | "dev" | "master" => {
            s(&["fz0", "fz1", "fzb", "lo", "nope", "fz0.5"])
        }
        "cidr" => s(&["10.9.0.1/24", "10.9.0.2/24", "fd00::1/64", "10.9.0.0/24", "224.0.0.1/4", "10.9.0.1/33"]),
        "dst" | "via" | "local" | "remote" => {
            s(&["10.9.0.1", "10.9.0.2", "127.0.0.1", "10.9.0.0/24", "default", "fd00::2", "239.1.1.1"])
        }
        "cmd" => prop_oneof![
            s(&["true", "nslab-no-such-program", "sleep 1000", "sh -c 'exit 3'"]),
            Just(Arg::Array(vec![Arg::Str("true".into())])),
        ]
        .boxed(),
        "seconds" | "timeout" | "interval" | "latency" | "delay" | "jitter" => {
            either(floats(&[0.0, 0.01, 0.05, 1e9, -1.0, f64::NAN]), s(&["10ms", "1s", "0.5", "-1ms", "1e999s"]))
        }
        "count" | "id" | "table" | "n" | "mtu" | "queues" | "metric" | "port" => {
            ints(&[0, 1, 2, 3, 68, 1280, 1500, 9000, 65535, 65536, -1, i64::MAX])
        }
        "rate" | "burst" | "limit" => either(ints(&[1, 8, 1000, 1_000_000, -1, i64::MAX]), s(&["1mbit", "10kbit", "1gbit", "0"])),
        "loss" | "duplicate" | "corrupt" | "reorder" => {
            either(floats(&[0.0, 1.5, 100.0, 101.0, -1.0]), s(&["1%", "0.5%", "200%"]))
        }
        "up" | "stp" | "replace" | "on" | "cond" => any::<bool>().prop_map(Arg::Bool).boxed(),
        "mode" => s(&["bridge", "private", "vepa", "active-backup", "802.3ad", "balance-rr", "nope"]),
        "address" => s(&["02:00:00:00:00:01", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", "02:00"]),
        "key" => s(&["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding", "net.ipv4.conf.lo.rp_filter", "kernel.hostname"]),
        "value" => either(s(&["1", "0", "2", "x"]), ints(&[0, 1])),
        "file" => s(&["dev", "route", "snmp", "nope", "../version"]),
        "feature" => s(&["vlan", "netem", "ipv6", "vxlan", "nope"]),
        "proc" => Just(Arg::Handle("h_proc")).boxed(),
        "body" => select(CLOSURES).prop_map(Arg::Closure).boxed(),
        _ => arg().boxed(),
    }
}

/// The parameters of a documented form: plain names, or the option names of a `#{...}` map
/// (`None` for a form's map of namespaces, `#{ns: [ns, ...]}`, which is generated as a whole).
fn parameters(form: &str) -> Vec<Result<String, Vec<String>>> {
    let inside = form.split_once('(').map(|(_, r)| r).unwrap_or("");
    let inside = &inside[..inside.rfind(')').unwrap_or(inside.len())];
    let mut out = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inside.char_indices().chain(std::iter::once((inside.len(), ','))) {
        match c {
            '{' | '[' | '(' => depth += 1,
            '}' | ']' | ')' => depth -= 1,
            ',' if depth == 0 => {
                let p = inside[start..i].trim();
                start = i + 1;
                if p.is_empty() {
                    continue;
                }
                match p.strip_prefix("#{").and_then(|m| m.strip_suffix('}')) {
                    Some(keys) => {
                        out.push(Err(keys.split(',').map(|k| k.split(':').next().unwrap().trim().to_string()).collect()))
                    }
                    None => out.push(Ok(p.to_string())),
                }
            }
            _ => {}
        }
    }
    out
}

/// An options map with some of `keys` (plausible values, now and then an arbitrary one) and
/// sometimes a key no function takes.
fn options(keys: Vec<String>) -> BoxedStrategy<Arg> {
    if keys.first().is_some_and(|k| k == "ns") {
        // expect_matrix's #{ns: [ns, ...]}.
        return vec(
            (select(vec!["fz", "fz0", "nope"]).prop_map(String::from), vec(plausible("dst"), 0..3).prop_map(Arg::Array)),
            0..3,
        )
        .prop_map(Arg::Map)
        .boxed();
    }
    let entry = select(keys).prop_flat_map(|k| {
        let value = prop_oneof![4 => plausible(&k), 1 => arg()];
        (Just(k), value)
    });
    (vec(entry, 0..4), proptest::option::weighted(0.1, (key(), arg())))
        .prop_map(|(mut entries, extra)| {
            entries.extend(extra);
            Arg::Map(entries)
        })
        .boxed()
}

/// Arguments for `name` with `arity`: after one of its documented forms of that arity, each
/// argument plausible or (one time in four) of any kind.
fn arguments(name: &str, arity: usize) -> BoxedStrategy<Vec<Arg>> {
    let forms: Vec<&str> = catalog::find(name)
        .map(|d| d.forms.iter().copied().filter(|f| catalog::form_arity(f) == arity).collect())
        .unwrap_or_default();
    let mut choices: Vec<BoxedStrategy<Vec<Arg>>> = forms
        .iter()
        .map(|f| {
            let per_param: Vec<BoxedStrategy<Arg>> = parameters(f)
                .into_iter()
                .map(|p| {
                    let likely = match p {
                        Ok(param) => plausible(&param),
                        Err(keys) => options(keys),
                    };
                    prop_oneof![5 => likely, 1 => arg()].boxed()
                })
                .collect();
            per_param.boxed()
        })
        .collect();
    let mut weighted: Vec<(u32, BoxedStrategy<Vec<Arg>>)> = choices.drain(..).map(|c| (4, c)).collect();
    weighted.push((1, vec(arg(), arity).boxed()));
    proptest::strategy::Union::new_weighted(weighted).boxed()
}

/// A call of `name` with `args`: as a function, or as a method of its first argument.
fn call_text(name: &str, args: &[Arg], method: bool) -> String {
    let texts: Vec<String> = args.iter().map(Arg::text).collect();
    match texts.split_first() {
        Some((first, rest)) if method => format!("{first}.{name}({})", rest.join(", ")),
        _ => format!("{name}({})", texts.join(", ")),
    }
}

// ---- Errors: each must say where ----

/// A script shown in a failure message, cut short (generated strings can be 70 kB).
fn short(text: &str) -> String {
    if text.chars().count() <= 400 {
        return text.to_string();
    }
    format!("{}…[{} characters]", text.chars().take(400).collect::<String>(), text.chars().count())
}

fn render(e: &ScriptError) -> String {
    let mut out = String::new();
    GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .render_report(&mut out, e)
        .expect("a script error renders");
    out
}

/// An error is proper: it has a message, a line and a column in the script it names, and it
/// renders (miette panics on a label outside the source; rendering is the slow part, so only
/// where `render_it`).
fn assert_located(e: &ScriptError, text: &str, render_it: bool) {
    let shown = if render_it { render(e) } else { String::new() };
    let (text, shown) = (short(text), short(&shown));
    assert!(!e.message.trim().is_empty(), "an error without a message for:\n{text}\n{shown}");
    assert!(e.line >= 1 && e.column >= 1, "an error without a location ({}:{}) for:\n{text}\n{shown}", e.line, e.column);
    assert!(
        !e.message.contains("CallFailure") && !e.message.contains("nslab::"),
        "an error shows a Rust type, not what it means, for:\n{text}\n{shown}"
    );
}

// ---- Target 1: generated scripts through the pre-flight check (nothing runs) ----

/// Tokens of token soup: nslab's names, keywords, punctuation, literals, and characters that
/// are no tokens at all.
const TOKENS: &[&str] = &[
    "let",
    "const",
    "fn",
    "if",
    "else",
    "while",
    "loop",
    "for",
    "in",
    "do",
    "until",
    "return",
    "throw",
    "try",
    "catch",
    "import",
    "export",
    "as",
    "break",
    "continue",
    "switch",
    "private",
    "this",
    "global",
    "Fn",
    "call",
    "curry",
    "print",
    "is_def_fn",
    "type_of",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    "#{",
    ",",
    ";",
    ".",
    ":",
    "::",
    "=>",
    "->",
    "|",
    "||",
    "&&",
    "!",
    "=",
    "==",
    "!=",
    "<",
    ">",
    "+",
    "-",
    "*",
    "/",
    "%",
    "**",
    "?",
    "?.",
    "?[",
    "..",
    "..=",
    "+=",
    "`",
    "${",
    "\"",
    "'",
    "//",
    "/*",
    "*/",
    "\n",
    "x",
    "a",
    "_",
    "f",
    "m",
    "0",
    "-1",
    "9223372036854775807",
    "1.5e308",
    "0x7f",
    "1_000",
    "\"s\"",
    "'c'",
    "()",
    "\u{feff}",
    "é",
    "🦀",
    "\0",
    "\\",
    "@",
    "$",
    "\t",
];

#[derive(Debug, Clone)]
enum Piece {
    Token(&'static str),
    /// A name from the registrar (by index).
    Native(usize),
    Value(Arg),
}

#[derive(Debug, Clone)]
enum Stmt {
    /// A native function by index, its arguments (any count), as a method or not, kept or not.
    Call(usize, Vec<Arg>, bool, bool),
    /// A script function of `n` parameters calling a native one with them.
    Def(usize, usize),
    /// Calls of a script function (defined or not) and of an unknown name.
    ScriptCall(usize, Vec<Arg>),
    Unknown(String, Vec<Arg>),
    Import(String),
    Soup(Vec<Piece>),
}

fn script_text(stmts: &[Stmt], names: &[&str]) -> String {
    let mut out = String::new();
    for s in stmts {
        match s {
            Stmt::Call(i, args, method, keep) => {
                let call = call_text(names[*i], args, *method);
                out += &if *keep { format!("let v = {call};\n") } else { format!("{call};\n") };
            }
            Stmt::Def(n, i) => {
                let params: Vec<String> = (0..*n).map(|k| format!("p{k}")).collect();
                out += &format!("fn g{n}({}) {{ {}({}) }}\n", params.join(", "), names[*i], params.join(", "));
            }
            Stmt::ScriptCall(n, args) => out += &format!("{};\n", call_text(&format!("g{n}"), args, false)),
            Stmt::Unknown(name, args) => out += &format!("{};\n", call_text(name, args, false)),
            Stmt::Import(path) => out += &format!("import {} as m;\nm::f();\n", string_literal(path)),
            Stmt::Soup(pieces) => {
                for p in pieces {
                    match p {
                        Piece::Token(t) => out += t,
                        Piece::Native(i) => out += names[*i],
                        Piece::Value(a) => out += &a.text(),
                    }
                    out.push(' ');
                }
                out.push('\n');
            }
        }
    }
    out
}

fn stmt(natives: usize) -> impl Strategy<Value = Stmt> {
    let piece = prop_oneof![
        4 => select(TOKENS).prop_map(Piece::Token),
        2 => (0..natives).prop_map(Piece::Native),
        1 => leaf().prop_map(Piece::Value),
    ];
    prop_oneof![
        6 => (0..natives, vec(arg(), 0..6), any::<bool>(), any::<bool>()).prop_map(|(i, a, m, k)| Stmt::Call(i, a, m, k)),
        1 => (0usize..4, 0..natives).prop_map(|(n, i)| Stmt::Def(n, i)),
        1 => (0usize..4, vec(arg(), 0..4)).prop_map(|(n, a)| Stmt::ScriptCall(n, a)),
        1 => ("[a-z_]{1,12}", vec(arg(), 0..3)).prop_map(|(n, a)| Stmt::Unknown(n, a)),
        1 => string().prop_map(Stmt::Import),
        3 => vec(piece, 0..24).prop_map(Stmt::Soup),
    ]
}

/// Runs `f` on a thread with the stack nslab's main thread has (8 MiB), not a test thread's.
fn with_main_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(8 << 20).spawn(f).unwrap().join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// Compiles and checks `text` as `nslab check` does; every problem must say where.
fn check_script(session: &mut Session, text: &str) {
    let source = Source { name: "fuzz.rhai".into(), text: text.into() };
    if let Err(problems) = session.compile(&source) {
        assert!(!problems.is_empty(), "a failed check names no problem for:\n{}", short(text));
        for (i, p) in problems.iter().enumerate() {
            assert_located(p, text, i == 0);
        }
    }
}

/// Scripts the check target found trouble with, kept as tests, with the start of the help each
/// problem must give.
fn check_regressions() -> Vec<(String, &'static str)> {
    let long = "x".repeat(70_000);
    // miette panicked drawing a label more than 65535 columns into its line, and Rhai, which
    // counts in 16 bits, says 65535 for any column (or line) past that.
    let far = "at fuzz.rhai, line 1, column 65535 or later (the line is too long to show)";
    vec![
        (format!("let s = \"{long}\"; nslab_no_such_function();"), far),
        (format!("let s = \"{long}\"; veth(1, 2, 3, 4, 5, 6, 7);"), far),
        (format!("let s = \"{long}\"; let t = ;"), far),
        (
            format!("{}nslab_no_such_function();", "\n".repeat(70_000)),
            "at fuzz.rhai, line 65535 or later, column 1 (nslab counts lines only up to 65535)",
        ),
    ]
}

#[test]
fn check_findings_stay_fixed() {
    with_main_stack(|| {
        let mut session = Session::new(None, &std::env::temp_dir(), std::rc::Rc::new(|_: &str| {}));
        for (text, at) in check_regressions() {
            let source = Source { name: "fuzz.rhai".into(), text: text.clone() };
            let problems = session.compile(&source).expect_err("a problem is found");
            for p in &problems {
                assert_located(p, &text, true);
                assert!(p.help.as_deref().unwrap_or("").starts_with(at), "the place is named: {:?}", p.help);
            }
        }
    });
}

#[test]
fn generated_scripts_check_without_panic_and_every_problem_has_a_location() {
    with_main_stack(|| {
        let dir = std::env::temp_dir();
        let session = RefCell::new(Session::new(None, &dir, std::rc::Rc::new(|_: &str| {})));
        let names: Vec<&'static str> = session.borrow().registered.iter().map(|(n, _)| *n).collect();
        let started = Instant::now();
        let strategy = vec(stmt(names.len()), 1..6);
        runner(budget(CALLS), u64::MAX)
            .run(&strategy, |stmts| {
                check_script(&mut session.borrow_mut(), &script_text(&stmts, &names));
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
        eprintln!("fuzz: {} scripts checked in {:?}", budget(CALLS), started.elapsed());
    });
}

// ---- Target 2: every native function with generated arguments, in a private namespace ----

/// What the script makes before the calls: the handles `Arg::Handle` names.
const SETUP: &str = r#"
let h_root = root();
let h_ns = netns_add("fz");
up(h_ns, "lo");
let h_proc = spawn_in(h_ns, ["sleep", "600"]);
let h_exec = exec_in(h_ns, ["true"]);
let h_ping = ping(h_ns, "127.0.0.1", #{count: 1});
"#;

/// Run before every call, so that what a call removed is there for the next ones.
const REFRESH: &str = r#"
if !netns_exists("fz") { netns_add("fz"); h_ns = netns("fz"); }
if !links().map(|l| l.name).contains("fz0") { try { veth("fz0", "fz1"); } catch {} }
"#;

/// What the fuzzing found, kept as calls with (part of) the message each must give now.
const REGRESSIONS: &[(&str, &str)] = &[
    // An empty reason made a skip with an empty message.
    ("skip(())", "skipped (skip() was given no reason)"),
    ("skip(\" \")", "skipped (skip() was given no reason)"),
    // A handle given as a message or a reason read as its Rust type ("nslab::script::...").
    ("skip(h_root)", "root()"),
    ("assert(false, h_root)", "assertion failed: root()"),
    ("assert_eq(1, 2, h_proc)", "assert_eq failed: process "),
    // ... and as a program's argument it became one.
    ("exec([\"true\", h_root])", "item 1 of the command given to exec must be a string or a number, not Netns"),
];

/// How long one call may block before it is interrupted, as Ctrl-C would (`sleep(1e300)`).
const CALL_LIMIT: Duration = Duration::from_millis(150);

/// Whether a word names a program that could run (on PATH, or as a path).
fn runnable(word: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &Path| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if word.contains('/') {
        return is_exec(Path::new(word));
    }
    !word.is_empty() && std::env::var("PATH").unwrap_or_default().split(':').any(|d| is_exec(&Path::new(d).join(word)))
}

/// Sets `cancel` when a call runs past `CALL_LIMIT`, as Ctrl-C does; the call must then end.
struct Watchdog {
    done: mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Watchdog {
    fn arm(cancel: &Arc<AtomicBool>) -> Watchdog {
        let (done, rx) = mpsc::channel();
        let cancel = cancel.clone();
        let thread = std::thread::spawn(move || {
            if rx.recv_timeout(CALL_LIMIT) == Err(mpsc::RecvTimeoutError::Timeout) {
                cancel.store(true, Ordering::Relaxed);
            }
        });
        Watchdog { done, thread }
    }

    fn disarm(self, cancel: &AtomicBool) {
        let _ = self.done.send(());
        let _ = self.thread.join();
        cancel.store(false, Ordering::Relaxed);
    }
}

/// Runs one generated call; its error, if any, must say where. Returns how long it took and
/// the error's message.
fn run_call(session: &mut Session, cancel: &Arc<AtomicBool>, text: &str) -> (Duration, Option<String>) {
    let source = Source { name: "fuzz.rhai".into(), text: text.into() };
    let ast = match session.compile(&source) {
        Ok(ast) => ast,
        Err(problems) => panic!("a generated call does not compile:\n{}\n{}", short(text), short(&render(&problems[0]))),
    };
    let refresh = Source { name: "refresh.rhai".into(), text: REFRESH.into() };
    if let Err(e) = session.run(&refresh) {
        panic!("after {}: {}", short(text), render(&e[0]));
    }
    let started = Instant::now();
    let dog = Watchdog::arm(cancel);
    let result = session.eval(&ast, &source);
    dog.disarm(cancel);
    let took = started.elapsed();
    if std::env::var_os("NSLAB_FUZZ_VERBOSE").is_some() {
        let outcome = match &result {
            Ok(v) => format!("ok: {}", short(&v.to_string())),
            Err(e) => format!("error at {}:{}: {}", e.line, e.column, short(&e.message)),
        };
        eprintln!("{} ({took:?})\n  {outcome}", short(text));
    }
    let message = result.as_ref().err().map(|e| e.message.clone());
    if let Err(e) = result {
        assert_located(&e, text, true);
    }
    for sub in session.take_subtests(&source) {
        if let SubtestOutcome::Failed(e) | SubtestOutcome::Skipped(e) = &sub.outcome {
            assert_located(e, text, true);
        }
    }
    (took, message)
}

/// The target itself, run only by `native_functions_with_generated_arguments`: in a private
/// network, mount, UTS and IPC namespace with its own /run, where whatever a call makes is
/// private and vanishes with the process.
#[test]
#[ignore = "run by fuzz::native_functions_with_generated_arguments, in a private namespace"]
fn native_calls_in_private_namespace() {
    if std::env::var_os("NSLAB_FUZZ_CHILD").is_none() {
        return;
    }
    let outside = std::env::var("NSLAB_FUZZ_CHILD").unwrap();
    assert_ne!(netns_inode().to_string(), outside, "refusing to fuzz in the caller's network namespace");
    for s in STRINGS {
        for word in shlex::split(s).unwrap_or_default() {
            assert!(!runnable(&word), "{word:?} is a program here: fuzzed commands must never run one");
        }
    }
    with_main_stack(|| {
        let lab = Lab::new(LabOptions::new("fuzz")).expect("a lab");
        let cancel = lab.cancel_flag();
        let mut session = Session::new(Some(lab), Path::new("/run"), std::rc::Rc::new(|_: &str| {}));
        let setup = Source { name: "setup.rhai".into(), text: SETUP.into() };
        if let Err(e) = session.run(&setup) {
            panic!("setup failed: {}", render(&e[0]));
        }
        for (text, expected) in REGRESSIONS {
            let (_, message) = run_call(&mut session, &cancel, text);
            let message = message.unwrap_or_default();
            assert!(message.contains(expected), "{text}: {message:?}, expected {expected:?}");
        }
        let fns = session.registered.clone();
        // Every function gets its share of the budget (at least a few calls), so a function
        // added later is covered without anything to change here.
        let per_fn = (budget(CALLS) / fns.len() as u32).max(4);
        let started = Instant::now();
        let slowest = RefCell::new((Duration::ZERO, String::new()));
        let session = RefCell::new(session);
        for (k, (name, arity)) in fns.iter().enumerate() {
            let strategy = (arguments(name, *arity), any::<bool>());
            runner(per_fn, k as u64)
                .run(&strategy, |(args, method)| {
                    let text = call_text(name, &args, method && !args.is_empty());
                    let (took, _) = run_call(&mut session.borrow_mut(), &cancel, &text);
                    // Interrupted calls end within a moment of the limit.
                    assert!(took < CALL_LIMIT + Duration::from_secs(2), "took {took:?}: {}", short(&text));
                    let mut slowest = slowest.borrow_mut();
                    if took > slowest.0 {
                        *slowest = (took, text);
                    }
                    Ok(())
                })
                .unwrap_or_else(|e| panic!("{name}/{arity}: {e}"));
        }
        let (slowest, session) = (slowest.into_inner(), session.into_inner());
        eprintln!(
            "fuzz: {} functions, {} calls in {:?}, slowest {:?}: {}",
            fns.len(),
            per_fn as usize * fns.len(),
            started.elapsed(),
            slowest.0,
            short(&slowest.1)
        );
        let lab = session.lab.take().expect("the lab");
        let report = lab.teardown();
        assert!(report.failures.is_empty(), "teardown: {report}: {:?}", report.failures);
    });
}

fn netns_inode() -> u64 {
    std::fs::metadata("/proc/self/ns/net").map(|m| std::os::unix::fs::MetadataExt::ino(&m)).unwrap()
}

/// Runs `native_calls_in_private_namespace` in a private network, mount, UTS and IPC namespace
/// with a private /run (this same test binary, run again).
#[test]
fn native_functions_with_generated_arguments() {
    let setup =
        "set -e; mount -t tmpfs tmpfs /run; mkdir -p /run/netns /run/nslab /run/tmp; export TMPDIR=/run/tmp; exec \"$0\" \"$@\"";
    // A call that ignores Ctrl-C would hang the run: it is ended, and the test fails.
    let limit = (120 + budget(CALLS) / 10).to_string();
    let mut cmd = Command::new("timeout");
    cmd.args(["-s", "KILL", &limit, "unshare"]);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        cmd.arg("--map-root-user");
    }
    cmd.args(["--mount", "--net", "--uts", "--ipc", "--propagation", "private", "--", "sh", "-c", setup])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "fuzz::native_calls_in_private_namespace", "--ignored", "--nocapture", "--test-threads=1"])
        .env("NSLAB_FUZZ_CHILD", netns_inode().to_string());
    let run: Run = cmd.output().expect("unshare runs").into();
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("1 passed"), "{run:?}");
    let verbose = std::env::var_os("NSLAB_FUZZ_VERBOSE").is_some();
    eprint!("{}", run.stderr.lines().filter(|l| verbose || l.starts_with("fuzz:")).map(|l| format!("{l}\n")).collect::<String>());
}
