//! One definition per native function: its name, forms, documentation, `ip` equivalent and
//! handler live together in a `Native`, in one table per group (`defs_*.rs`). Registration,
//! the pre-flight `check`, `:help`, hints, completion and `docs/reference.md` all read the same
//! table, so they cannot drift apart.
//!
//! The forms are the contract and are read, not just shown: their argument counts are what is
//! registered, a parameter called `ns` (or `*_ns`) is a namespace that a shorter form leaves out,
//! and `#{a, b}` is an options map whose keys are the only ones accepted (`#{k: [..., ...]}`, with
//! an ellipsis, is a map of the script's own keys). A handler is a plain function of a `Call`,
//! which converts arguments by their names in the form; a lab error is wrapped once, here.

use std::cell::RefMut;
use std::collections::BTreeSet;
use std::time::Duration;

use rhai::{Dynamic, EvalAltResult, Map, NativeCallContext};

use super::args;
use super::failure::{argument_error, lab_error, Res};
use super::harness::Harness;
use super::registrar::{Registrar, SharedLab};
use crate::lab::{Lab, LabError, Ns, Outcome};

/// A native function: what the script calls, how it is documented, what it does.
pub struct Native {
    /// The function's name in scripts.
    pub name: &'static str,
    /// Each accepted form, like `veth(ns, name, peer, #{mtu, up}) -> ()`; `ns` is a namespace
    /// name or a `Netns` handle, and can be left out where a form without it exists (then the
    /// call acts in nslab's own namespace).
    pub forms: &'static [&'static str],
    /// One line saying what it does.
    pub summary: &'static str,
    /// A call as a script would write it.
    pub example: &'static str,
    /// The iproute2 (or other) command this corresponds to.
    pub ip: &'static str,
    /// What the call does.
    pub call: Handler,
}

/// A native function's behaviour: arguments in, a value or a failure out.
pub type Handler = fn(&mut Call) -> Out;

/// What a handler returns.
pub type Out = Result<Dynamic, Fail>;

/// Why a call failed: the lab's error (wrapped with the call's place once, by `run`) or a
/// failure already made for the script (a wrong argument, a failed check).
#[derive(Debug)]
pub enum Fail {
    /// The lab refused or the kernel failed.
    Lab(LabError),
    /// Already a script error.
    Raised(Box<EvalAltResult>),
}

impl From<LabError> for Fail {
    fn from(e: LabError) -> Fail {
        Fail::Lab(e)
    }
}

impl From<Box<EvalAltResult>> for Fail {
    fn from(e: Box<EvalAltResult>) -> Fail {
        Fail::Raised(e)
    }
}

/// A call that returns nothing.
pub fn done() -> Out {
    Ok(Dynamic::UNIT)
}

/// Rhai's own functions of the same name that match an integer or a float exactly, and would
/// win over a `Dynamic` form: these natives are also registered for those types.
const SHADOWS_RHAI: &[&str] = &["sleep"];

/// One parameter of a form.
#[derive(Debug, Clone, PartialEq)]
enum Param {
    /// A namespace (`ns`, `from_ns`, ...).
    Ns(&'static str),
    /// An options map with the keys it accepts.
    Options(Vec<&'static str>),
    /// A map whose keys the script chooses.
    FreeMap,
    /// Any other value, converted by the handler.
    Value(&'static str),
}

impl Param {
    fn name(&self) -> &'static str {
        match self {
            Param::Ns(n) | Param::Value(n) => n,
            Param::Options(_) | Param::FreeMap => "#{}",
        }
    }

    fn is_map(&self) -> bool {
        matches!(self, Param::Options(_) | Param::FreeMap)
    }
}

/// A parsed form: its parameters in order.
#[derive(Debug, Clone)]
struct Form {
    params: Vec<Param>,
}

/// Splits `text` at commas outside brackets.
fn split_top(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '{' | '(' | '[' | '<' => depth += 1,
            '}' | ')' | ']' | '>' => depth -= 1,
            ',' if depth == 0 => {
                out.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = text[start..].trim();
    if !last.is_empty() || !out.is_empty() {
        out.push(last);
    }
    out
}

/// The text between a form's outer parentheses.
fn inside(form: &str) -> &str {
    let rest = form.split_once('(').map(|(_, rest)| rest).unwrap_or("");
    let mut depth = 1i32;
    for (i, c) in rest.char_indices() {
        match c {
            '(' | '{' | '[' => depth += 1,
            ')' | '}' | ']' => {
                depth -= 1;
                if depth == 0 {
                    return &rest[..i];
                }
            }
            _ => {}
        }
    }
    rest
}

fn parse_form(form: &'static str) -> Form {
    let params = split_top(inside(form))
        .into_iter()
        .map(|p| {
            if let Some(body) = p.strip_prefix("#{").and_then(|b| b.strip_suffix('}')) {
                if body.contains("...") || body.contains('…') {
                    return Param::FreeMap;
                }
                let keys = split_top(body).into_iter().map(|k| k.split(':').next().unwrap_or(k).trim()).collect();
                Param::Options(keys)
            } else if p == "ns" || p.ends_with("_ns") {
                Param::Ns(p)
            } else {
                Param::Value(p)
            }
        })
        .collect();
    Form { params }
}

/// The number of arguments a form takes, counting `#{...}` as one.
pub fn form_arity(form: &str) -> usize {
    split_top(inside(form)).len()
}

impl Native {
    /// The argument counts the forms accept.
    pub fn arities(&self) -> BTreeSet<usize> {
        self.forms.iter().map(|f| form_arity(f)).collect()
    }

    /// The option keys any form accepts, for completion.
    pub fn option_keys(&self) -> BTreeSet<&'static str> {
        self.forms
            .iter()
            .flat_map(|f| parse_form(f).params)
            .flat_map(|p| match p {
                Param::Options(keys) => keys,
                _ => Vec::new(),
            })
            .collect()
    }

    /// The form a call with these arguments is, among those of its length: where several
    /// have that length, the one whose maps are where the maps are.
    fn form_for(&self, args: &[Dynamic]) -> Form {
        let candidates: Vec<Form> = self.forms.iter().filter(|f| form_arity(f) == args.len()).map(|f| parse_form(f)).collect();
        if candidates.len() > 1 {
            let fits = |f: &&Form| f.params.iter().zip(args).all(|(p, a)| p.is_map() == a.is_map());
            if let Some(f) = candidates.iter().find(fits) {
                return f.clone();
            }
            // Nothing fits: the form without a map names the wrong argument best.
            if let Some(f) = candidates.iter().find(|f| !f.params.iter().any(Param::is_map)) {
                return f.clone();
            }
        }
        candidates.into_iter().next().expect("registered only for the arities of the forms")
    }
}

/// Registers every function of `table`.
pub fn register(reg: &mut Registrar, lab: &SharedLab, table: &'static [Native]) {
    for def in table {
        for n in def.arities() {
            add(reg, lab, def, n);
        }
        if SHADOWS_RHAI.contains(&def.name) && def.arities().contains(&1) {
            let (l, h) = (lab.clone(), reg.harness.clone());
            reg.add_overload(def.name, move |ctx: NativeCallContext, a: rhai::INT| run(def, &l, &h, &ctx, vec![a.into()]));
            let (l, h) = (lab.clone(), reg.harness.clone());
            reg.add_overload(def.name, move |ctx: NativeCallContext, a: rhai::FLOAT| run(def, &l, &h, &ctx, vec![a.into()]));
        }
    }
}

fn add(reg: &mut Registrar, lab: &SharedLab, def: &'static Native, n: usize) {
    let (l, h) = (lab.clone(), reg.harness.clone());
    let name = def.name;
    match n {
        0 => reg.add(name, move |ctx: NativeCallContext| run(def, &l, &h, &ctx, vec![])),
        1 => reg.add(name, move |ctx: NativeCallContext, a: Dynamic| run(def, &l, &h, &ctx, vec![a])),
        2 => reg.add(name, move |ctx: NativeCallContext, a: Dynamic, b: Dynamic| run(def, &l, &h, &ctx, vec![a, b])),
        3 => {
            reg.add(name, move |ctx: NativeCallContext, a: Dynamic, b: Dynamic, c: Dynamic| run(def, &l, &h, &ctx, vec![a, b, c]))
        }
        4 => reg.add(name, move |ctx: NativeCallContext, a: Dynamic, b: Dynamic, c: Dynamic, d: Dynamic| {
            run(def, &l, &h, &ctx, vec![a, b, c, d])
        }),
        5 => reg.add(name, move |ctx: NativeCallContext, a: Dynamic, b: Dynamic, c: Dynamic, d: Dynamic, e: Dynamic| {
            run(def, &l, &h, &ctx, vec![a, b, c, d, e])
        }),
        6 => reg.add(
            name,
            move |ctx: NativeCallContext, a: Dynamic, b: Dynamic, c: Dynamic, d: Dynamic, e: Dynamic, f: Dynamic| {
                run(def, &l, &h, &ctx, vec![a, b, c, d, e, f])
            },
        ),
        _ => unreachable!("{name}: no native function takes {n} arguments"),
    }
}

fn run(def: &'static Native, lab: &SharedLab, harness: &Harness, ctx: &NativeCallContext, args: Vec<Dynamic>) -> Res<Dynamic> {
    let form = def.form_for(&args);
    let mut call = Call { def, ctx, lab, harness, form, args };
    if let Some(out) = super::remote::intercept(&call) {
        return out;
    }
    (def.call)(&mut call).map_err(|e| match e {
        Fail::Lab(e) => lab_error(ctx, e),
        Fail::Raised(e) => e,
    })
}

/// One call in progress: its context, the lab, and its arguments by their names in the form.
pub struct Call<'a> {
    def: &'static Native,
    ctx: &'a NativeCallContext<'a>,
    lab: &'a SharedLab,
    harness: &'a Harness,
    form: Form,
    args: Vec<Dynamic>,
}

impl<'a> Call<'a> {
    /// The call's context (its name, place, and the engine, for calling script functions).
    pub fn ctx(&self) -> &NativeCallContext<'a> {
        self.ctx
    }

    /// The lab, to use.
    pub fn lab(&self) -> RefMut<'_, Lab> {
        self.lab.borrow_mut()
    }

    /// The slot holding the lab (for what needs the lab across script calls).
    pub fn slot(&self) -> &SharedLab {
        self.lab
    }

    /// The call log and the sub-tests of the run.
    pub fn harness(&self) -> &Harness {
        self.harness
    }

    /// Notes where an operation the lab held back was asked for (see `held.rs`).
    pub fn note(&self, outcome: Outcome) {
        let lab = self.lab.borrow();
        self.lab.held().note(self.ctx, outcome, &lab);
    }

    /// The number of arguments given.
    pub fn len(&self) -> usize {
        self.args.len()
    }

    /// Whether no arguments were given.
    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.form.params.iter().position(|p| p.name() == name)
    }

    /// Whether this form has the parameter `name`.
    pub fn has(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// The argument `name` as given, with its position (0-based).
    pub fn arg(&self, name: &str) -> (usize, &Dynamic) {
        let at = self.position(name).unwrap_or_else(|| panic!("{} has no parameter {name} in this form", self.ctx.fn_name()));
        (at, &self.args[at])
    }

    /// The argument at position `at` as given, for handlers that tell forms apart themselves.
    pub fn raw(&self, at: usize) -> &Dynamic {
        &self.args[at]
    }

    /// Whether the call acts in nslab's own namespace because its form leaves the namespace
    /// out (`move_to(link, to_ns)` beside `move_to(from_ns, link, to_ns)`).
    pub fn namespace_left_out(&self) -> bool {
        let leads = |f: &Form| matches!(f.params.first(), Some(Param::Ns(_)));
        !leads(&self.form) && self.def.forms.iter().any(|f| leads(&parse_form(f)))
    }

    /// The positions of the namespace parameters of this form.
    pub fn ns_positions(&self) -> Vec<usize> {
        self.form.params.iter().enumerate().filter(|(_, p)| matches!(p, Param::Ns(_))).map(|(i, _)| i).collect()
    }

    /// The namespace the call acts in: the `ns` argument, or nslab's own namespace when the
    /// form leaves it out.
    pub fn ns(&self) -> Res<Ns> {
        if self.has("ns") {
            self.ns_of("ns")
        } else {
            Ok(Ns::Root)
        }
    }

    /// The namespace argument `name`.
    pub fn ns_of(&self, name: &str) -> Res<Ns> {
        let (at, v) = self.arg(name);
        args::ns(self.ctx, v, at)
    }

    /// The string argument `name`; `what` says what it should be, for the message.
    pub fn string(&self, name: &str, what: &str) -> Res<String> {
        let (at, v) = self.arg(name);
        args::string(self.ctx, v, at, what)
    }

    /// The integer argument `name`; `what` names it in the message ("the MTU argument").
    pub fn integer(&self, name: &str, what: &str) -> Res<i64> {
        args::integer(self.ctx, self.arg(name).1, what)
    }

    /// The number argument `name` (an integer or a float).
    pub fn number(&self, name: &str, what: &str) -> Res<f64> {
        args::number(self.ctx, self.arg(name).1, what)
    }

    /// The true/false argument `name`.
    pub fn boolean(&self, name: &str) -> Res<bool> {
        let (at, v) = self.arg(name);
        v.as_bool().map_err(|_| {
            self.error(format!(
                "the {} argument of {} must be true or false, not {}",
                args::ordinal(at),
                self.ctx.fn_name(),
                args::shown(v)
            ))
        })
    }

    /// The options map of this form (checked for unknown keys), or an empty one when the form
    /// has none (a map of the script's own keys is read with `raw`).
    pub fn opts(&self) -> Res<Opts<'a>> {
        let at = self.form.params.iter().position(|p| matches!(p, Param::Options(_)));
        let map = match at.map(|i| (i, &self.form.params[i])) {
            Some((i, Param::Options(keys))) => args::map(self.ctx, &self.args[i], i, keys)?,
            _ => Map::new(),
        };
        Ok(Opts { ctx: self.ctx, map })
    }

    /// Whether the call gave an options map.
    pub fn has_opts(&self) -> bool {
        self.form.params.iter().zip(&self.args).any(|(p, a)| p.is_map() && a.is_map())
    }

    /// An argument error at this call.
    pub fn error(&self, message: impl Into<String>) -> Box<EvalAltResult> {
        argument_error(self.ctx, message)
    }
}

/// An options map, read key by key with messages naming the option and the function.
pub struct Opts<'a> {
    ctx: &'a NativeCallContext<'a>,
    map: Map,
}

impl Opts<'_> {
    /// The value of `key` as given.
    pub fn get(&self, key: &str) -> Option<&Dynamic> {
        self.map.get(key)
    }

    /// Whether `key` was given.
    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// The whole map.
    pub fn map(&self) -> &Map {
        &self.map
    }

    fn wrong(&self, key: &str, should: &str, v: &Dynamic) -> Box<EvalAltResult> {
        argument_error(self.ctx, format!("the {key} option of {} must be {should}, not {}", self.ctx.fn_name(), args::shown(v)))
    }

    /// A string option.
    pub fn string(&self, key: &str) -> Res<Option<String>> {
        self.map.get(key).map(|v| v.clone().into_string().map_err(|_| self.wrong(key, "a string", v))).transpose()
    }

    /// A string option, saying what the string is ("a link name" → "must be a link name (a string)").
    pub fn text(&self, key: &str, what: &str) -> Res<Option<String>> {
        self.map
            .get(key)
            .map(|v| v.clone().into_string().map_err(|_| self.wrong(key, &format!("{what} (a string)"), v)))
            .transpose()
    }

    /// An integer option.
    pub fn integer(&self, key: &str) -> Res<Option<i64>> {
        self.map.get(key).map(|v| args::integer(self.ctx, v, &format!("the {key} option"))).transpose()
    }

    /// A number option (an integer or a float).
    pub fn number(&self, key: &str) -> Res<Option<f64>> {
        self.map.get(key).map(|v| args::number(self.ctx, v, &format!("the {key} option"))).transpose()
    }

    /// A true/false option.
    pub fn boolean(&self, key: &str) -> Res<Option<bool>> {
        self.map.get(key).map(|v| v.as_bool().map_err(|_| self.wrong(key, "true or false", v))).transpose()
    }

    /// A duration option in seconds, from `min` to `args::MAX_SECONDS`.
    pub fn seconds(&self, key: &str, min: f64) -> Res<Option<Duration>> {
        self.seconds_in(key, min, args::MAX_SECONDS)
    }

    /// A duration option in seconds, from `min` to `max`.
    pub fn seconds_in(&self, key: &str, min: f64, max: f64) -> Res<Option<Duration>> {
        let Some(s) = self.number(key)? else { return Ok(None) };
        if !(s >= min && s <= max) {
            return Err(argument_error(
                self.ctx,
                format!("the {key} option of {} must be a number of seconds from {min} to {max}, not {s}", self.ctx.fn_name()),
            ));
        }
        Ok(Some(Duration::from_secs_f64(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_parse_into_kinds() {
        let f = parse_form("veth(ns, name, peer_ns, peer, #{mtu, up}) -> ()");
        assert_eq!(
            f.params,
            vec![
                Param::Ns("ns"),
                Param::Value("name"),
                Param::Ns("peer_ns"),
                Param::Value("peer"),
                Param::Options(vec!["mtu", "up"])
            ]
        );
        assert_eq!(parse_form("netns_list() -> array").params, vec![]);
        assert_eq!(parse_form("expect_matrix(#{ns: [ns, ...]})").params, vec![Param::FreeMap]);
        assert_eq!(
            parse_form("route(dst, #{via, nexthops: [#{via, dev}], srcport: [lo, hi]})").params,
            vec![Param::Value("dst"), Param::Options(vec!["via", "nexthops", "srcport"])]
        );
    }

    #[test]
    fn arity_of_forms() {
        assert_eq!(form_arity("netns_list() -> array"), 0);
        assert_eq!(form_arity("veth(ns, name, peer, #{mtu})"), 4);
        assert_eq!(form_arity("ping(ns, dst, #{count, timeout, interval}) -> Ping"), 3);
    }
}
