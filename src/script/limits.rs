//! Bounds on what a script may build and how deep it may go, so that a runaway script (a string
//! doubled in a loop, endless recursion, modules importing each other) ends with an error at its
//! line, and the lab is torn down, instead of nslab dying of an allocation failure or a stack
//! overflow with the lab left standing.
//!
//! The defaults are far above what a lab needs (a lab's values are names, addresses and program
//! output, which is itself cut at 16 MiB) and far below what breaks nslab. A script that needs
//! more raises them with `--limit KEY=VALUE` on the command line or a line among its first
//! comment lines:
//!
//! ```text
//! // limits: strings=128M, arrays=20M
//! ```
//!
//! (the command line wins over the script for a key given in both).

use rhai::{Engine, EvalAltResult};

/// What each limit bounds, as `--limit` and `// limits:` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Strings,
    Arrays,
    Maps,
    Calls,
    Depth,
    Modules,
    Operations,
    Memory,
}

/// How a limit's value is written: bytes take binary suffixes (K = KiB), counts decimal ones
/// (M = million).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Bytes,
    Count,
}

struct KeyInfo {
    key: Key,
    name: &'static str,
    unit: Unit,
    what: &'static str,
    /// The largest value accepted: beyond it nslab itself could not keep its promise (the
    /// interpreter's stack, see `stack_size`), or the number means nothing.
    max: u64,
}

const KEYS: &[KeyInfo] = &[
    KeyInfo { key: Key::Strings, name: "strings", unit: Unit::Bytes, what: "bytes of text in one value", max: 1 << 40 },
    KeyInfo {
        key: Key::Arrays,
        name: "arrays",
        unit: Unit::Count,
        what: "elements in one array (bytes in one blob), nested ones included",
        max: 1 << 40,
    },
    KeyInfo { key: Key::Maps, name: "maps", unit: Unit::Count, what: "entries in one map, nested ones included", max: 1 << 40 },
    KeyInfo { key: Key::Calls, name: "calls", unit: Unit::Count, what: "nested function calls", max: 2_000 },
    KeyInfo { key: Key::Depth, name: "depth", unit: Unit::Count, what: "levels of nesting in one expression", max: 1_024 },
    KeyInfo { key: Key::Modules, name: "modules", unit: Unit::Count, what: "modules imported", max: 1 << 20 },
    KeyInfo { key: Key::Operations, name: "operations", unit: Unit::Count, what: "steps the script runs", max: u64::MAX },
    KeyInfo { key: Key::Memory, name: "memory", unit: Unit::Bytes, what: "bytes of memory nslab holds", max: 1 << 50 },
];

fn info(key: Key) -> &'static KeyInfo {
    KEYS.iter().find(|k| k.key == key).expect("every key is listed")
}

/// The limits in force for a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of string in one value (Rhai counts the strings inside arrays and maps too).
    pub strings: u64,
    /// Elements of one array, nested ones included; bytes of one blob.
    pub arrays: u64,
    /// Entries of one map, nested ones included.
    pub maps: u64,
    /// Depth of nested function calls.
    pub calls: u64,
    /// Nesting of one expression (in the script and in each function body).
    pub depth: u64,
    /// Modules imported in one run.
    pub modules: u64,
    /// Steps of the interpreter; 0: no limit.
    pub operations: u64,
    /// Bytes of memory nslab may hold while a script runs (see `engine::heap`).
    pub memory: u64,
}

impl Default for Limits {
    /// Strings: 64 MiB, four times the most a program's captured output can be (16 MiB), so a
    /// script can still join a few of them. Arrays: 10 million elements (160 MB: an element is
    /// 16 bytes). Maps: 1 million entries (an entry takes about 100 bytes). Calls: 128, and depth:
    /// 256, as before limits could be set. Modules: 1000 imports. Memory: 2 GiB, or less where
    /// the process may not have that much (see `engine::heap::headroom`).
    fn default() -> Limits {
        Limits {
            strings: 64 << 20,
            arrays: 10_000_000,
            maps: 1_000_000,
            calls: 128,
            depth: 256,
            modules: 1_000,
            operations: 0,
            memory: 2 << 30,
        }
    }
}

/// Limits set by name: from the command line, or from a script's `// limits:` line.
pub type Overrides = Vec<(Key, u64)>;

impl Limits {
    pub fn get(&self, key: Key) -> u64 {
        match key {
            Key::Strings => self.strings,
            Key::Arrays => self.arrays,
            Key::Maps => self.maps,
            Key::Calls => self.calls,
            Key::Depth => self.depth,
            Key::Modules => self.modules,
            Key::Operations => self.operations,
            Key::Memory => self.memory,
        }
    }

    fn set(&mut self, key: Key, value: u64) {
        let slot = match key {
            Key::Strings => &mut self.strings,
            Key::Arrays => &mut self.arrays,
            Key::Maps => &mut self.maps,
            Key::Calls => &mut self.calls,
            Key::Depth => &mut self.depth,
            Key::Modules => &mut self.modules,
            Key::Operations => &mut self.operations,
            Key::Memory => &mut self.memory,
        };
        *slot = value;
    }

    /// These limits with `overrides` applied in order (a later one wins).
    pub fn with(mut self, overrides: &[(Key, u64)]) -> Limits {
        for (k, v) in overrides {
            self.set(*k, *v);
        }
        self
    }

    /// Puts the limits on an engine; the memory limit is watched by the session (see
    /// `Session::new`).
    pub fn apply(&self, engine: &mut Engine) {
        let size = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        engine.set_max_string_size(size(self.strings));
        engine.set_max_array_size(size(self.arrays));
        engine.set_max_map_size(size(self.maps));
        engine.set_max_call_levels(size(self.calls));
        engine.set_max_expr_depths(size(self.depth), size(self.depth));
        engine.set_max_modules(size(self.modules));
        engine.set_max_operations(self.operations);
    }

    /// The stack the interpreter runs on: Rhai recurses in Rust for every call and every level of
    /// nesting, so what it needs grows with `calls` × `depth`. Measured: a debug build needs
    /// about 3 KiB per call and level of nesting (96 MiB for 128 calls each 122 levels deep), a
    /// release build about a third of that; this takes twice that, and at least 256 MiB. Only
    /// what is used is ever backed by memory.
    pub fn stack_size(&self) -> usize {
        let per_level: u64 = if cfg!(debug_assertions) { 6 << 10 } else { 2 << 10 };
        let need = self.calls.saturating_mul(self.depth).saturating_mul(per_level);
        usize::try_from(need.max(256 << 20)).unwrap_or(usize::MAX)
    }

    /// The stack to run on: `stack_size`, or at most a quarter of what an address-space limit
    /// (`ulimit -v`) leaves, so that a small limit still runs scripts that stay shallow.
    pub fn stack(&self) -> usize {
        let want = self.stack_size() as u64;
        let room = crate::engine::heap::address_space_room().map_or(want, |r| r / 4);
        usize::try_from(want.min(room)).unwrap_or(usize::MAX)
    }
}

/// Parses `KEY=VALUE[,KEY=VALUE...]` (the argument of `--limit`, the text of `// limits:`).
pub fn parse(text: &str) -> Result<Overrides, String> {
    let mut out = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((name, value)) = item.split_once('=') else {
            return Err(format!("`{item}` is not KEY=VALUE (like strings=128M); {}", keys_list()));
        };
        let (name, value) = (name.trim(), value.trim());
        let Some(k) = KEYS.iter().find(|k| k.name == name) else {
            return Err(format!("there is no limit named `{name}`; {}", keys_list()));
        };
        out.push((k.key, parse_value(k, value)?));
    }
    if out.is_empty() {
        return Err(format!("no limit given (like strings=128M); {}", keys_list()));
    }
    Ok(out)
}

fn keys_list() -> String {
    let names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
    format!("the limits are {}", names.join(", "))
}

fn parse_value(k: &KeyInfo, value: &str) -> Result<u64, String> {
    let bad = |why: &str| {
        let like = match k.unit {
            Unit::Bytes => "a number of bytes, like 128M (K, M, G, T: KiB, MiB, GiB, TiB)",
            Unit::Count => "a count, like 20M (k, M, G: thousand, million, billion)",
        };
        format!("{}={value}: {why}; {} is {like}", k.name, k.name)
    };
    if k.key == Key::Operations && matches!(value, "unlimited" | "none" | "0") {
        return Ok(0);
    }
    let digits_end = value.find(|c: char| !(c.is_ascii_digit() || c == '_')).unwrap_or(value.len());
    let (number, suffix) = value.split_at(digits_end);
    let number: u64 = number.replace('_', "").parse().map_err(|_| bad("not a number"))?;
    let scale: u64 = match (k.unit, suffix.trim()) {
        (_, "") => 1,
        (Unit::Bytes, "K" | "k" | "KiB" | "KB") => 1 << 10,
        (Unit::Bytes, "M" | "MiB" | "MB") => 1 << 20,
        (Unit::Bytes, "G" | "GiB" | "GB") => 1 << 30,
        (Unit::Bytes, "T" | "TiB" | "TB") => 1 << 40,
        (Unit::Count, "k" | "K") => 1_000,
        (Unit::Count, "M") => 1_000_000,
        (Unit::Count, "G") => 1_000_000_000,
        _ => return Err(bad("unknown suffix")),
    };
    let v = number.checked_mul(scale).ok_or_else(|| bad("too large"))?;
    if v == 0 {
        return Err(bad("a limit of 0 would stop every script"));
    }
    if v > k.max {
        return Err(bad(&format!("at most {} (the {what})", show(k.unit, k.max), what = k.what)));
    }
    Ok(v)
}

/// A value as `--limit` would take it back: 64M, 10M, 128.
fn show(unit: Unit, v: u64) -> String {
    let steps: &[(u64, &str)] = match unit {
        Unit::Bytes => &[(1 << 40, "T"), (1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")],
        Unit::Count => &[(1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")],
    };
    for (n, s) in steps {
        if v >= *n && v.is_multiple_of(*n) {
            return format!("{}{s}", v / n);
        }
    }
    v.to_string()
}

/// A value in words for messages: 64 MiB, 10000000.
fn in_words(unit: Unit, v: u64) -> String {
    match unit {
        Unit::Bytes => {
            let steps: [(u64, &str); 4] = [(1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
            for (n, s) in steps {
                if v >= n {
                    let x = v as f64 / n as f64;
                    return if v.is_multiple_of(n) { format!("{} {s}", v / n) } else { format!("{x:.1} {s}") };
                }
            }
            format!("{v} bytes")
        }
        Unit::Count => v.to_string(),
    }
}

/// Reads the `// limits: ...` lines among the comment lines a script starts with. Err: the
/// 1-based line and what is wrong with it.
pub fn header(text: &str) -> Result<Overrides, (usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim().trim_start_matches('\u{feff}');
        if line.is_empty() || (i == 0 && line.starts_with("#!")) {
            continue;
        }
        let Some(comment) = line.strip_prefix("//") else { break };
        let comment = comment.trim_start_matches(['/', '!']).trim();
        let Some((key, value)) = comment.split_once(':') else { continue };
        if key.trim() != "limits" {
            continue;
        }
        out.extend(parse(value).map_err(|e| (i + 1, format!("`// limits:` line: {e}")))?);
    }
    Ok(out)
}

/// How to raise `key`: what to write on the command line or in the script.
fn raise_hint(key: Key, now: u64) -> String {
    let k = info(key);
    let more = show(k.unit, now.saturating_mul(2).min(k.max));
    format!(
        "if the script really needs more, raise the limit: `--limit {name}={more}` on the command line, or a line \
         `// limits: {name}={more}` at the top of the script",
        name = k.name
    )
}

/// What `Session`'s progress check stops a script with when memory runs short: the bytes held
/// then (they are freed by the time the error is shown).
#[derive(Debug, Clone, Copy)]
pub struct MemoryStop {
    pub held: u64,
    /// The memory limit as applied (see `memory_budget`).
    pub budget: u64,
}

/// A limit error in words: which limit, its value, and how to raise it (message, help).
/// None for other errors.
pub fn explain(err: &EvalAltResult, l: &Limits) -> Option<(String, String)> {
    let (key, message) = match err {
        EvalAltResult::ErrorDataTooLarge(what, _) => {
            let key = match what.as_str() {
                "Length of string" => Key::Strings,
                "Size of array/BLOB" => Key::Arrays,
                "Size of object map" => Key::Maps,
                _ => return None,
            };
            let k = info(key);
            let what = match key {
                Key::Strings => "a string (or the strings in one array or map together) grew past",
                Key::Arrays => "an array or blob (with the arrays inside it) grew past",
                _ => "a map (with the maps inside it) grew past",
            };
            (key, format!("{what} the limit of {} ({}={})", in_words(k.unit, l.get(key)), k.name, show(k.unit, l.get(key))))
        }
        EvalAltResult::ErrorStackOverflow(_) => (
            Key::Calls,
            format!(
                "functions called each other more than {} deep (calls={}): is there a recursion that never ends?",
                l.calls, l.calls
            ),
        ),
        EvalAltResult::ErrorTooManyModules(_) => {
            let s = if l.modules == 1 { "" } else { "s" };
            (Key::Modules, format!("more than {} module{s} imported (modules={})", l.modules, l.modules))
        }
        EvalAltResult::ErrorTooManyOperations(_) => (
            Key::Operations,
            format!("the script ran more than {} steps (operations={})", l.operations, show(Unit::Count, l.operations)),
        ),
        EvalAltResult::ErrorTerminated(token, _) if token.is::<MemoryStop>() => {
            let MemoryStop { held, budget } = token.clone_cast::<MemoryStop>();
            let message =
                format!("the script made nslab hold {} MiB of memory, more than the limit of {} MiB", held >> 20, budget >> 20);
            if budget < l.memory {
                let room = crate::engine::heap::address_space_limit().map(|v| in_words(Unit::Bytes, v)).unwrap_or_default();
                return Some((
                    format!("{message} (memory={}, less what the address space allows)", show(Unit::Bytes, l.memory)),
                    format!(
                        "this process's address space is limited to {room} (ulimit -v): raise that limit to let nslab \
                         hold more"
                    ),
                ));
            }
            (Key::Memory, format!("{message} (memory={})", show(Unit::Bytes, l.memory)))
        }
        _ => return None,
    };
    Some((message, raise_hint(key, l.get(key))))
}

/// The "expression too deep" syntax error in words.
pub fn explain_parse(err: &rhai::ParseErrorType, l: &Limits) -> Option<(String, String)> {
    match err {
        rhai::ParseErrorType::ExprTooDeep => Some((
            format!("an expression (or block) is nested more than {} levels deep (depth={})", l.depth, l.depth),
            raise_hint(Key::Depth, l.depth),
        )),
        _ => None,
    }
}

/// The bytes of memory a script may make nslab hold: the `memory` limit, or less where the
/// process's address space is limited (`ulimit -v`): an allocation refused there would end
/// nslab on the spot.
pub fn memory_budget(l: &Limits) -> u64 {
    match crate::engine::heap::headroom(l.stack() as u64) {
        Some(room) => l.memory.min(room),
        None => l.memory,
    }
}

/// The keys, their defaults and meaning, as `--help` lists them (a test keeps the two equal).
#[cfg(test)]
pub fn help_text() -> String {
    let d = Limits::default();
    let mut out = String::new();
    for k in KEYS {
        let default = match (k.key, d.get(k.key)) {
            (Key::Operations, 0) => "unlimited".to_string(),
            (_, v) => show(k.unit, v),
        };
        out += &format!("  {:<11} {:<10} {}\n", k.name, default, k.what);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_take_suffixes_by_unit() {
        assert_eq!(parse("strings=128M").unwrap(), vec![(Key::Strings, 128 << 20)]);
        assert_eq!(parse("arrays=20M, maps=2k").unwrap(), vec![(Key::Arrays, 20_000_000), (Key::Maps, 2_000)]);
        assert_eq!(parse("memory=4GiB").unwrap(), vec![(Key::Memory, 4 << 30)]);
        assert_eq!(parse("calls=1_000").unwrap(), vec![(Key::Calls, 1000)]);
        assert_eq!(parse("operations=unlimited").unwrap(), vec![(Key::Operations, 0)]);
        assert!(parse("strings=lots").unwrap_err().contains("strings=lots: not a number"));
        assert!(parse("arrays=2MiB").unwrap_err().contains("unknown suffix"));
        assert!(parse("calls=1000000").unwrap_err().contains("at most 2k"));
        assert!(parse("stack=1M").unwrap_err().contains("no limit named `stack`; the limits are strings, arrays"));
        assert!(parse("strings=0").unwrap_err().contains("would stop every script"));
        assert!(parse("").is_err());
    }

    #[test]
    fn headers_are_read_among_the_first_comments() {
        let h = header("#!/usr/bin/env nslab\n// A lab.\n// limits: strings=128M\n//  limits: calls=300\nlet a = 1;\n");
        assert_eq!(h.unwrap(), vec![(Key::Strings, 128 << 20), (Key::Calls, 300)]);
        assert_eq!(header("let a = 1;\n// limits: strings=128M\n").unwrap(), vec![]);
        assert_eq!(header("// limits: strings=x\n").unwrap_err().0, 1);
        let d = Limits::default().with(&header("// limits: maps=5M\n").unwrap());
        assert_eq!(d.maps, 5_000_000);
        assert_eq!(d.strings, 64 << 20);
    }

    #[test]
    fn values_are_shown_as_they_are_written() {
        assert_eq!(show(Unit::Bytes, 64 << 20), "64M");
        assert_eq!(show(Unit::Count, 10_000_000), "10M");
        assert_eq!(show(Unit::Count, 128), "128");
        assert_eq!(in_words(Unit::Bytes, 64 << 20), "64 MiB");
        assert_eq!(in_words(Unit::Bytes, 3 << 29), "1.5 GiB");
    }

    #[test]
    fn the_stack_grows_with_calls_and_depth() {
        let d = Limits::default();
        assert_eq!(d.stack_size(), 256 << 20);
        let deep = d.with(&[(Key::Calls, 2000)]);
        assert!(deep.stack_size() > 2 * d.stack_size());
    }
}
