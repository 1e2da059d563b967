//! Calls in a lab across machines. Every native call passes here first (`native::run`): when
//! its namespaces (and handles) all live on one other machine, the call is sent to that
//! machine's agent, which runs the same function there, and its answer comes back as the
//! call's value or error (naming the machine). A call whose namespaces live on different
//! machines is one of the few that can span them (`veth`, `expect_reach`, ...), or an error.
//! A script without `host` and without an inventory never gets past the first test.

use rhai::{Dynamic, EvalAltResult, Map, Scope};

use super::failure::{raise, CallFailure, FailureKind, Res};
use super::native::Call;
use super::processes::Proc;
use super::values::Netns;
use super::wire;
use crate::lab::inventory::LOCAL;
use crate::lab::machines::{CallError, Failure};

/// A machine of the inventory, as `host("m2")` returns it: a receiver for `netns_add`,
/// `netns`, and for any function acting in that machine's own namespace (`h.exec(..)`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Host {
    /// Its name in the inventory.
    pub name: String,
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "host({:?})", self.name)
    }
}

/// The answer for a call that is not (only) for this machine, or None to run it here.
pub fn intercept(c: &Call) -> Option<Res<Dynamic>> {
    let name = c.ctx().fn_name();
    let spans = c.slot().spans_machines() && !c.slot().machines().is_some_and(|m| m.here_only);
    let has_host = (0..c.len()).any(|i| c.raw(i).is::<Host>());
    if !spans && !has_host && !matches!(name, "netns_add" | "netns") {
        return None;
    }
    match name {
        "netns_add" | "netns" => return placement(c),
        "host" => return None,
        _ => {}
    }
    if spans && c.len() <= 1 && matches!(name, "pingall" | "topology") {
        return Some(match name {
            "pingall" => super::remote_wide::pingall(c),
            _ => super::remote_wide::topology(c),
        });
    }
    if !spans {
        // A `host("local")` receiver: this machine's own namespace.
        return Some(run_here(c, localized(c)));
    }
    if name == "expect_reach" {
        return Some(super::remote_cross::reach_onward(c, route(c, name, has_host)));
    }
    route(c, name, has_host)
}

/// `intercept` once the placement and the lab-wide calls are dealt with: here, there, or across.
fn route(c: &Call, name: &str, has_host: bool) -> Option<Res<Dynamic>> {
    let machines = where_each(c);
    let mut remote: Vec<&str> = machines.iter().filter_map(|(_, m)| (m != LOCAL).then_some(m.as_str())).collect();
    remote.sort_unstable();
    remote.dedup();
    let any_local = c.namespace_left_out() || machines.iter().any(|(_, m)| m == LOCAL);
    match (remote.as_slice(), any_local) {
        ([], _) => {
            if has_host {
                Some(run_here(c, localized(c)))
            } else {
                None
            }
        }
        ([m], false) => {
            let m = m.to_string();
            let out = forward(c, &m, name, args_of(c));
            if name == "netns_del" && out.is_ok() {
                if let Some(n) = ns_name(c.raw(0)) {
                    c.slot().machines().expect("spans").forget(&n);
                }
            }
            Some(out)
        }
        _ => Some(super::remote_cross::across(c, &machines)),
    }
}

/// Where each namespace argument and handle of the call lives: (position, machine).
pub(super) fn where_each(c: &Call) -> Vec<(usize, String)> {
    let machines = c.slot().machines();
    let of_name = |n: &str| machines.as_ref().map(|m| m.machine_of(n).to_string()).unwrap_or_else(|| LOCAL.into());
    let ns_params = c.ns_positions();
    let mut out = Vec::new();
    for i in 0..c.len() {
        let v = c.raw(i);
        let m = if let Some(h) = v.read_lock::<Host>() {
            Some(h.name.clone())
        } else if let Some(n) = v.read_lock::<Netns>() {
            Some(match (&n.on, &n.name) {
                (Some(m), _) => m.clone(),
                (None, Some(name)) => of_name(name),
                (None, None) => LOCAL.into(),
            })
        } else if let Some(p) = v.read_lock::<Proc>() {
            Some(p.on.clone().unwrap_or_else(|| LOCAL.into()))
        } else if i == 1 && matches!(c.ctx().fn_name(), "expect_reach" | "expect_no_reach") && v.is_string() {
            // A namespace named as the destination lives somewhere too (an address: anywhere).
            let text = v.clone().into_string().expect("checked");
            (text.parse::<std::net::IpAddr>().is_err()).then(|| of_name(&text))
        } else if ns_params.contains(&i) && v.is_string() {
            Some(of_name(&v.clone().into_string().expect("checked")))
        } else if ns_params.contains(&i) && v.is_unit() {
            Some(LOCAL.into())
        } else {
            None
        };
        if let Some(m) = m {
            out.push((i, m));
        }
    }
    out
}

/// The call's arguments as given.
pub(super) fn args_of(c: &Call) -> Vec<Dynamic> {
    (0..c.len()).map(|i| c.raw(i).clone()).collect()
}

/// The arguments with `host(..)` receivers turned into that machine's own namespace.
fn localized(c: &Call) -> Vec<Dynamic> {
    args_of(c)
        .into_iter()
        .map(|v| match v.read_lock::<Host>().map(|h| h.name.clone()) {
            Some(m) => Dynamic::from(Netns { name: None, on: (m != LOCAL).then_some(m) }),
            None => v,
        })
        .collect()
}

/// Runs the function of `c` here with `args` (through Rhai, so `native::run` sees them).
pub(super) fn run_here(c: &Call, mut args: Vec<Dynamic>) -> Res<Dynamic> {
    let mut refs: Vec<&mut Dynamic> = args.iter_mut().collect();
    c.ctx().call_native_fn_raw(c.ctx().fn_name(), false, &mut refs)
}

/// Runs function `name` with `args` on `machine` (here when it is `local`).
pub(super) fn call_on(c: &Call, machine: &str, name: &str, mut args: Vec<Dynamic>) -> Res<Dynamic> {
    if machine == LOCAL {
        let mut refs: Vec<&mut Dynamic> = args.iter_mut().collect();
        return here_only(c, || c.ctx().call_native_fn_raw(name, false, &mut refs));
    }
    forward(c, machine, name, args)
}

/// Runs `f` with the calls it makes acting on this machine only (a part of a step that spans
/// machines).
pub(super) fn here_only<T>(c: &Call, f: impl FnOnce() -> T) -> T {
    let set = |on: bool| {
        if let Some(mut m) = c.slot().machines() {
            m.here_only = on;
        }
    };
    let was = c.slot().machines().is_some_and(|m| m.here_only);
    set(true);
    let out = f();
    set(was);
    out
}

/// `call_on`, for a step whose value does not matter.
pub(super) fn step_on(c: &Call, machine: &str, name: &str, args: Vec<Dynamic>) -> Res<()> {
    call_on(c, machine, name, args).map(drop)
}

/// Evaluates the expression `expr` (its arguments are `__a0`, `__a1`, ...) on `machine`.
pub(super) fn eval_on(c: &Call, machine: &str, expr: &str, args: Vec<Dynamic>) -> Res<Dynamic> {
    if machine == LOCAL {
        let mut scope = Scope::new();
        for (i, a) in args.into_iter().enumerate() {
            scope.push_dynamic(format!("__a{i}"), a);
        }
        return here_only(c, || c.ctx().engine().eval_with_scope::<Dynamic>(&mut scope, expr));
    }
    send(c, machine, expr, args)
}

/// Sends the call `name(args)` to `machine`'s agent.
fn forward(c: &Call, machine: &str, name: &str, args: Vec<Dynamic>) -> Res<Dynamic> {
    let list: Vec<String> = (0..args.len()).map(|i| format!("__a{i}")).collect();
    send(c, machine, &format!("{name}({})", list.join(", ")), args)
}

fn send(c: &Call, machine: &str, expr: &str, args: Vec<Dynamic>) -> Res<Dynamic> {
    // What this machine held back happens first: the other machine may look at it.
    c.lab().flush().map_err(|e| super::failure::lab_error(c.ctx(), e))?;
    let mut encoded = Vec::with_capacity(args.len());
    for (i, a) in args.iter().enumerate() {
        let a = match a.read_lock::<Host>().map(|h| h.name.clone()) {
            Some(m) => Dynamic::from(Netns { name: None, on: Some(m) }),
            None => a.clone(),
        };
        encoded.push(wire::encode_for(&a, machine).map_err(|e| {
            c.error(format!(
                "the {} argument of {} cannot be sent to machine {machine}: {e}",
                super::args::ordinal(i),
                c.ctx().fn_name()
            ))
        })?);
    }
    let answer = c.slot().machines().expect("a lab across machines").eval(machine, expr, encoded);
    match answer {
        Ok(v) => wire::decode(&v, Some(machine))
            .map_err(|e| c.error(format!("machine {machine} answered a value nslab cannot read: {e}"))),
        Err(CallError::Failed(f)) => Err(raise(c.ctx(), failure_from(f, machine))),
        Err(CallError::Lost(why)) => Err(raise(
            c.ctx(),
            CallFailure {
                message: why,
                hint: Some(format!(
                    "the other machines' parts are torn down when nslab ends; what {machine}'s agent could not remove is asked again once nslab has exited (and by `nslab clean`)"
                )),
                kind: FailureKind::Lab,
                held: None,
            },
        )),
    }
}

/// A failure reported by machine `machine`, worded for the coordinator's script.
fn failure_from(f: Failure, machine: &str) -> CallFailure {
    CallFailure { message: format!("on {machine}: {}", f.message), hint: f.hint, kind: kind_from(&f.kind), held: None }
}

/// A failure's kind by name, for the channel.
pub fn kind_name(kind: &FailureKind) -> &'static str {
    match kind {
        FailureKind::Lab => "lab",
        FailureKind::Argument => "argument",
        FailureKind::Assertion { custom: false } => "assertion",
        FailureKind::Assertion { custom: true } => "assertion_custom",
        FailureKind::Interrupted => "interrupted",
        FailureKind::Expectation => "expectation",
        FailureKind::Skip => "skip",
    }
}

fn kind_from(name: &str) -> FailureKind {
    match name {
        "argument" => FailureKind::Argument,
        "assertion" => FailureKind::Assertion { custom: false },
        "assertion_custom" => FailureKind::Assertion { custom: true },
        "interrupted" => FailureKind::Interrupted,
        "expectation" => FailureKind::Expectation,
        "skip" => FailureKind::Skip,
        _ => FailureKind::Lab,
    }
}

/// A script error as it crosses the channel.
pub fn failure_of(err: &EvalAltResult) -> Failure {
    let inner = match err {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => inner.as_ref(),
        other => other,
    };
    if let EvalAltResult::ErrorRuntime(v, _) = inner {
        if let Some(f) = v.read_lock::<CallFailure>() {
            return Failure { message: f.message.clone(), hint: f.hint.clone(), kind: kind_name(&f.kind).into() };
        }
        if let Ok(s) = v.clone().into_string() {
            return Failure { message: s, hint: None, kind: "lab".into() };
        }
    }
    if matches!(inner, EvalAltResult::ErrorTerminated(..)) {
        return Failure { message: "interrupted".into(), hint: None, kind: "interrupted".into() };
    }
    Failure { message: inner.to_string(), hint: None, kind: "lab".into() }
}

/// `netns_add(name)`, `netns_add(name, #{on})`, `host(m).netns_add(name)`, and the same for
/// `netns`: where the namespace goes, and remembering it.
fn placement(c: &Call) -> Option<Res<Dynamic>> {
    let name_fn = c.ctx().fn_name();
    let (on, name) = match c.len() {
        1 => (None, c.raw(0).clone()),
        2 => match c.raw(0).read_lock::<Host>().map(|h| h.name.clone()) {
            Some(m) => (Some(m), c.raw(1).clone()),
            None => (None, c.raw(0).clone()),
        },
        _ => return None,
    };
    let on = match on {
        Some(m) => Some(m),
        None if c.len() == 2 => match machine_option(c, c.raw(1)) {
            Ok(m) => m,
            Err(e) => return Some(Err(e)),
        },
        None => None,
    };
    let Some(text) = name.clone().into_string().ok() else {
        // Not a name: the function's own checks word it.
        return if c.len() == 2 { Some(run_here(c, vec![name])) } else { None };
    };
    let spans = c.slot().spans_machines() && !c.slot().machines().is_some_and(|m| m.here_only);
    let placed_on = c.slot().machines().map(|m| m.machine_of(&text).to_string()).unwrap_or_else(|| LOCAL.into());
    let target = on.clone().unwrap_or_else(|| if name_fn == "netns" { placed_on.clone() } else { LOCAL.into() });
    if let Err(e) = known_machine(c, &target) {
        return Some(Err(e));
    }
    if name_fn == "netns_add" && spans && placed_on != LOCAL && placed_on != target {
        return Some(Err(c.error(format!(
            "namespace {text:?} already lives on {placed_on}: a lab's namespace names are unique across its machines"
        ))));
    }
    if name_fn == "netns_add" && spans && target != LOCAL && c.lab().netns_exists(&text) {
        return Some(Err(c.error(format!(
            "namespace {text:?} already exists on local: a lab's namespace names are unique across its machines"
        ))));
    }
    if target == LOCAL {
        return if c.len() == 1 { None } else { Some(run_here(c, vec![name])) };
    }
    let out = forward(c, &target, name_fn, vec![name]);
    if out.is_ok() {
        c.slot().machines().expect("checked").place(&text, &target);
    }
    Some(out)
}

/// The `on` option of `netns_add(name, #{on})`, checked.
fn machine_option(c: &Call, v: &Dynamic) -> Res<Option<String>> {
    let Some(map) = v.read_lock::<Map>() else {
        return Err(c.error(format!(
            "the second argument of {} must be a map like #{{on: \"m2\"}}, not {}",
            c.ctx().fn_name(),
            super::args::shown(v)
        )));
    };
    for k in map.keys() {
        if k.as_str() != "on" {
            return Err(c.error(format!("{} has no option {k:?} (it takes: on)", c.ctx().fn_name())));
        }
    }
    match map.get("on") {
        None => Ok(None),
        Some(m) => {
            if let Some(h) = m.read_lock::<Host>() {
                return Ok(Some(h.name.clone()));
            }
            m.clone().into_string().map(Some).map_err(|_| {
                c.error(format!("the on option of {} must be a machine's name, not {}", c.ctx().fn_name(), super::args::shown(m)))
            })
        }
    }
}

/// An error unless `machine` is `local` or in the inventory.
pub(super) fn known_machine(c: &Call, machine: &str) -> Res<()> {
    if machine == LOCAL {
        return Ok(());
    }
    match c.slot().machines() {
        Some(m) if m.inventory().machine(machine).is_some() => Ok(()),
        Some(m) => {
            Err(c.error(format!("no machine {machine:?} in the inventory (it has: {})", m.inventory().names().join(", "))))
        }
        None => Err(c.error(format!(
            "no machine {machine:?}: this lab runs on one machine; give an inventory of machines with --hosts FILE"
        ))),
    }
}

/// A getter or method of a handle living on `machine` (a `Proc` or `TcpListener` an agent
/// made): `expr` on `__a0` there. Getters cannot fail in Rhai: the caller picks a default.
pub fn on_handle(slot: &super::LabSlot, machine: &str, expr: &str, handle: Dynamic) -> Result<Dynamic, String> {
    let arg = wire::encode_for(&handle, machine).map_err(|e| e.to_string())?;
    let mut machines = slot.machines().ok_or("this lab does not span machines")?;
    match machines.eval(machine, expr, vec![arg]) {
        Ok(v) => wire::decode(&v, Some(machine)).map_err(|e| e.to_string()),
        Err(CallError::Failed(f)) => Err(format!("on {machine}: {}", f.message)),
        Err(CallError::Lost(why)) => Err(why),
    }
}

/// The name of a namespace argument (a name or a handle).
pub(super) fn ns_name(v: &Dynamic) -> Option<String> {
    if let Some(n) = v.read_lock::<Netns>() {
        return n.name.clone();
    }
    v.clone().into_string().ok()
}
