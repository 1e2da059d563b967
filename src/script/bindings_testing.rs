//! The functions scenario tests are written with: checks that explain themselves when they fail
//! (`assert_eq`, `expect_reach`, `expect_no_reach`, `expect_matrix`, `wait_until`), ways to stop
//! early without failing (`skip`, `require`), and named sub-tests (`test`).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use rhai::{Array, Dynamic, FnPtr, Map, NativeCallContext};

use super::args;
use super::bindings::{Registrar, SharedLab};
use super::failure::{argument_error, lab_error, raise, CallFailure, FailureKind, Res};
use super::harness::describe;
use super::render_reach::{self, short};
use super::values::Netns;
use crate::lab::features::Feature;
use crate::lab::reach::{NO_REACH_WINDOW, REACH_WINDOW};
use crate::lab::Ns;

/// How often `wait_until` asks again.
const POLL: Duration = Duration::from_millis(50);

pub fn register(reg: &mut Registrar, lab: &SharedLab) {
    register_assert_eq(reg);
    register_reach(reg, lab);
    register_matrix(reg, lab);
    register_flow(reg, lab);
}

fn fail(ctx: &NativeCallContext, message: String, hint: Option<String>) -> Box<rhai::EvalAltResult> {
    raise(ctx, CallFailure { message, hint, kind: FailureKind::Expectation, held: None })
}

fn function(ctx: &NativeCallContext, v: &Dynamic, n: usize) -> Res<FnPtr> {
    v.clone().try_cast::<FnPtr>().ok_or_else(|| {
        argument_error(
            ctx,
            format!(
                "the {} argument of {} must be a function (a closure like || {{ ... }}), not {}",
                args::ordinal(n),
                ctx.fn_name(),
                args::shown(v)
            ),
        )
    })
}

fn seconds(ctx: &NativeCallContext, v: &Dynamic, what: &str) -> Res<Duration> {
    let s = args::number(ctx, v, what)?;
    if !(0.0..=args::MAX_SECONDS).contains(&s) {
        return Err(argument_error(
            ctx,
            format!("{what} of {} must be a number of seconds from 0 to {}, not {s}", ctx.fn_name(), args::MAX_SECONDS),
        ));
    }
    Ok(Duration::from_secs_f64(s))
}

// ---- assert_eq ------------------------------------------------------------------------------

fn number(v: &Dynamic) -> Option<f64> {
    v.as_int().map(|i| i as f64).ok().or_else(|| v.as_float().ok())
}

/// Equality as Rhai's `==` sees it; an integer equals a float of the same value.
fn equal(ctx: &NativeCallContext, a: &Dynamic, b: &Dynamic) -> bool {
    if a.type_id() != b.type_id() {
        return matches!((number(a), number(b)), (Some(x), Some(y)) if x == y);
    }
    match ctx.call_native_fn::<bool>("==", (a.clone(), b.clone())) {
        Ok(same) => same,
        Err(_) => a.to_string() == b.to_string(),
    }
}

fn register_assert_eq(reg: &mut Registrar) {
    fn check(ctx: &NativeCallContext, a: &Dynamic, b: &Dynamic, message: Option<String>) -> Res<()> {
        if equal(ctx, a, b) {
            return Ok(());
        }
        let detail = format!("left:  {}\nright: {}", describe(a), describe(b));
        let message = match message {
            Some(m) => format!("assert_eq failed: {m}"),
            None => "assert_eq failed: the two values differ".into(),
        };
        Err(fail(ctx, message, Some(detail)))
    }
    reg.add("assert_eq", |ctx: NativeCallContext, a: Dynamic, b: Dynamic| check(&ctx, &a, &b, None));
    reg.add("assert_eq", |ctx: NativeCallContext, a: Dynamic, b: Dynamic, message: Dynamic| {
        check(&ctx, &a, &b, Some(args::text(&ctx, &message)).filter(|m| !m.trim().is_empty()))
    });
}

// ---- expect_reach / expect_no_reach ---------------------------------------------------------

/// What a reachability check pings: an address, or every global address of a namespace.
struct Target {
    label: String,
    addrs: Vec<IpAddr>,
}

fn target(lab: &SharedLab, ctx: &NativeCallContext, v: &Dynamic, n: usize) -> Res<Target> {
    let ns = if let Some(h) = v.read_lock::<Netns>() {
        h.ns()
    } else if v.is_string() {
        let text = v.clone().into_string().expect("checked");
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Target { label: text, addrs: vec![ip] });
        }
        if !lab.borrow().netns_exists(&text) {
            return Err(argument_error(
                ctx,
                format!(
                    "{text:?} is neither an IP address nor a namespace (the {} argument of {})",
                    args::ordinal(n),
                    ctx.fn_name()
                ),
            ));
        }
        Ns::Named(text)
    } else {
        return Err(argument_error(
            ctx,
            format!(
                "the {} argument of {} must be an address or a namespace, not {}",
                args::ordinal(n),
                ctx.fn_name(),
                args::shown(v)
            ),
        ));
    };
    let addrs = lab.borrow_mut().global_addrs(&ns).map_err(|e| lab_error(ctx, e))?;
    let shown: Vec<String> = addrs.iter().map(ToString::to_string).collect();
    let label = if shown.is_empty() { short(&ns) } else { format!("{} ({})", short(&ns), shown.join(", ")) };
    Ok(Target { label, addrs })
}

fn window_option(ctx: &NativeCallContext, v: Option<&Dynamic>, n: usize, default: Duration) -> Res<Duration> {
    let Some(v) = v else { return Ok(default) };
    let m = args::map(ctx, v, n, &["timeout"])?;
    match m.get("timeout") {
        Some(t) => seconds(ctx, t, "the timeout"),
        None => Ok(default),
    }
}

fn expect(lab: &SharedLab, ctx: &NativeCallContext, ns: &Dynamic, dst: &Dynamic, opts: Option<&Dynamic>, want: bool) -> Res<()> {
    let from = args::ns(ctx, ns, 0)?;
    let dst = target(lab, ctx, dst, 1)?;
    let default = if want { REACH_WINDOW } else { NO_REACH_WINDOW };
    let window = window_option(ctx, opts, 2, default)?;
    let check = lab.borrow_mut().check_reach(&from, &dst.addrs, want, Some(window)).map_err(|e| lab_error(ctx, e))?;
    if check.as_expected {
        return Ok(());
    }
    let outcome = check.outcome;
    let (message, lines) = match outcome.reached {
        None => {
            let why = outcome.error.unwrap_or_else(|| "no reply".into());
            let message = if dst.addrs.is_empty() {
                format!("{} cannot reach {}: it has no global address to ping", short(&from), dst.label)
            } else {
                format!("{} cannot reach {}: {why} (tried for {:.1} s)", short(&from), dst.label, outcome.elapsed.as_secs_f64())
            };
            (message, render_reach::per_address(&check.diagnoses, render_reach::diagnosis))
        }
        Some(ip) => {
            let message = format!("{} reaches {}, but must not: {ip} answered", short(&from), dst.label);
            let mut lines = vec!["the path the packets take:".to_string()];
            lines.extend(render_reach::per_address(&check.diagnoses, render_reach::path));
            (message, lines)
        }
    };
    Err(fail(ctx, message, Some(lines.join("\n"))))
}

fn register_reach(reg: &mut Registrar, lab: &SharedLab) {
    for (name, want) in [("expect_reach", true), ("expect_no_reach", false)] {
        let l = lab.clone();
        reg.add(name, move |ctx: NativeCallContext, ns: Dynamic, dst: Dynamic| expect(&l, &ctx, &ns, &dst, None, want));
        let l = lab.clone();
        reg.add(name, move |ctx: NativeCallContext, ns: Dynamic, dst: Dynamic, opts: Dynamic| {
            expect(&l, &ctx, &ns, &dst, Some(&opts), want)
        });
    }
}

// ---- expect_matrix --------------------------------------------------------------------------

fn ns_name(ctx: &NativeCallContext, v: &Dynamic, what: &str) -> Res<String> {
    if let Some(h) = v.read_lock::<Netns>() {
        return Ok(short(&h.ns()));
    }
    if v.is_string() {
        return Ok(v.clone().into_string().expect("checked"));
    }
    Err(argument_error(ctx, format!("{what} in expect_matrix must be a namespace name, not {}", args::shown(v))))
}

/// The expectation: for each source namespace, the namespaces it must reach.
fn expectation(ctx: &NativeCallContext, v: &Dynamic) -> Res<BTreeMap<String, Vec<String>>> {
    let Some(m) = v.clone().try_cast::<Map>() else {
        return Err(argument_error(
            ctx,
            format!("expect_matrix needs a map like #{{h1: [\"h2\"], h2: []}}, not {}", args::shown(v)),
        ));
    };
    let mut out = BTreeMap::new();
    for (k, v) in m {
        let Some(list) = v.clone().try_cast::<Array>() else {
            return Err(argument_error(
                ctx,
                format!("the value for {k} in expect_matrix must be an array of namespace names, not {}", args::shown(&v)),
            ));
        };
        let names = list.iter().map(|d| ns_name(ctx, d, "each entry")).collect::<Res<Vec<String>>>()?;
        out.insert(k.to_string(), names);
    }
    Ok(out)
}

fn matrix(lab: &SharedLab, ctx: &NativeCallContext, spec: &Dynamic, opts: Option<&Dynamic>) -> Res<()> {
    let want = expectation(ctx, spec)?;
    let plan = lab.borrow_mut().plan_matrix(want).map_err(|e| lab_error(ctx, e))?;
    let window = window_option(ctx, opts, 1, REACH_WINDOW)?;
    let result = lab.borrow_mut().check_matrix(plan, window).map_err(|e| lab_error(ctx, e))?;
    let wrong = result.wrong().count();
    if wrong == 0 {
        return Ok(());
    }
    let message = format!("expect_matrix: {wrong} of {} pairs differ from the expectation", result.cells.len());
    Err(fail(ctx, message, Some(render_reach::matrix_failure(&result).join("\n"))))
}

fn register_matrix(reg: &mut Registrar, lab: &SharedLab) {
    let l = lab.clone();
    reg.add("expect_matrix", move |ctx: NativeCallContext, spec: Dynamic| matrix(&l, &ctx, &spec, None));
    let l = lab.clone();
    reg.add("expect_matrix", move |ctx: NativeCallContext, spec: Dynamic, opts: Dynamic| matrix(&l, &ctx, &spec, Some(&opts)));
}

// ---- wait_until, skip, require, test --------------------------------------------------------

fn register_flow(reg: &mut Registrar, lab: &SharedLab) {
    let l = lab.clone();
    reg.add("wait_until", move |ctx: NativeCallContext, cond: Dynamic, timeout: Dynamic| -> Res<f64> {
        let cond = function(&ctx, &cond, 0)?;
        let limit = seconds(&ctx, &timeout, "the timeout")?;
        let start = Instant::now();
        loop {
            let v = cond.call_within_context::<Dynamic>(&ctx, ())?;
            let Ok(done) = v.as_bool() else {
                return Err(argument_error(
                    &ctx,
                    format!("the condition given to wait_until must return true or false, not {}", args::shown(&v)),
                ));
            };
            if done {
                return Ok(start.elapsed().as_secs_f64());
            }
            if start.elapsed() >= limit {
                return Err(fail(
                    &ctx,
                    format!("wait_until: the condition was still false after {} s", limit.as_secs_f64()),
                    None,
                ));
            }
            l.borrow_mut().sleep(POLL).map_err(|e| lab_error(&ctx, e))?;
        }
    });

    reg.add("skip", |ctx: NativeCallContext, reason: Dynamic| -> Res<()> {
        let reason = args::text(&ctx, &reason);
        // The reason is what a report shows for the skip: never nothing.
        let reason = if reason.trim().is_empty() { "skipped (skip() was given no reason)".to_string() } else { reason };
        Err(raise(&ctx, CallFailure { message: reason, hint: None, kind: FailureKind::Skip, held: None }))
    });

    let l = lab.clone();
    reg.add("require", move |ctx: NativeCallContext, kind: Dynamic| -> Res<()> {
        let name = args::string(&ctx, &kind, 0, "a kernel feature, like \"vlan\" or \"netem\"")?;
        let Some(feature) = Feature::parse(&name) else {
            return Err(argument_error(
                &ctx,
                format!(
                    "require: no feature {name:?}; known: {}; any other link type or qdisc as \"link:KIND\" or \"qdisc:KIND\"",
                    Feature::known().join(", ")
                ),
            ));
        };
        let missing = l.borrow_mut().missing_feature(&feature).map_err(|e| lab_error(&ctx, e))?;
        match missing {
            None => Ok(()),
            Some(reason) => Err(raise(&ctx, CallFailure { message: reason, hint: None, kind: FailureKind::Skip, held: None })),
        }
    });

    let harness = reg.harness.clone();
    reg.add("test", move |ctx: NativeCallContext, name: Dynamic, body: Dynamic| -> Res<()> {
        let name = args::string(&ctx, &name, 0, "the sub-test's name")?;
        let body = function(&ctx, &body, 1)?;
        harness.run_subtest(&name, || body.call_within_context::<Dynamic>(&ctx, ()))
    });
}
