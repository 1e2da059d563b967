//! Writing scenario tests: checks that explain themselves, skip/require, sub-tests.
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use rhai::{Array, Dynamic, FnPtr, Map};

use super::args;
use super::failure::{raise, CallFailure, FailureKind};
use super::harness::describe;
use super::native::{done, Call, Fail, Native, Out};
use super::render_reach::{self, short};
use super::values::Netns;
use crate::lab::features::Feature;
use crate::lab::reach::{NO_REACH_WINDOW, REACH_WINDOW};
use crate::lab::Ns;

/// How often `wait_until` asks again.
const POLL: Duration = Duration::from_millis(50);

pub const TESTING: &[Native] = &[
    Native {
        name: "assert_eq",
        forms: &["assert_eq(a, b)", "assert_eq(a, b, message)"],
        summary: "Fail here unless a == b (an integer equals a float of the same value); the report shows both values.",
        example: r#"assert_eq(links("h1").len(), 2);"#,
        ip: "[ \"$A\" = \"$B\" ] || exit 1",
        call: assert_eq,
    },
    Native {
        name: "expect_reach",
        forms: &["expect_reach(ns, dst)", "expect_reach(ns, dst, #{timeout})"],
        summary: "Fail unless ns gets an echo reply from dst (an address, a namespace: any of its global addresses, or an array of addresses; the namespace may live on another machine), \
                  retrying for 3 s (timeout) so a first packet lost to ARP does not count; a failure explains the path hop by hop.",
        example: r#"expect_reach("h1", "10.0.2.2");"#,
        ip: "ip netns exec NS ping -c 1 -w 3 DST",
        call: expect_reach,
    },
    Native {
        name: "expect_no_reach",
        forms: &["expect_no_reach(ns, dst)", "expect_no_reach(ns, dst, #{timeout})"],
        summary: "Fail if ns gets any echo reply from dst within 1 s (timeout); a failure shows the path the packets took.",
        example: r#"expect_no_reach("h1", "h3");"#,
        ip: "! ip netns exec NS ping -c 1 -w 1 DST",
        call: expect_no_reach,
    },
    Native {
        name: "expect_matrix",
        forms: &["expect_matrix(#{ns: [ns, ...]})", "expect_matrix(#{ns: [ns, ...]}, #{timeout})"],
        summary: "Each key namespace must reach exactly the listed namespaces among all those named (pinging their global \
                  addresses, all pairs at once); on failure prints an expected-vs-actual table and explains each wrong pair.",
        example: r#"expect_matrix(#{h1: ["h2", "h3"], h4: []});"#,
        ip: "(a ping from every namespace to every other)",
        call: expect_matrix,
    },
    Native {
        name: "wait_until",
        forms: &["wait_until(cond, timeout) -> float"],
        summary: "Call cond (a closure returning true/false) every 50 ms until it is true; fail after timeout seconds. \
                  Returns the seconds it took.",
        example: r#"wait_until(|| link("h1", "eth0").carrier, 2);"#,
        ip: "timeout T sh -c 'until COND; do sleep 0.05; done'",
        call: wait_until,
    },
    Native {
        name: "skip",
        forms: &["skip(reason)"],
        summary: "Stop here and report the scenario (or the sub-test) as skipped, with the reason.",
        example: r#"if !netns_exists("x") { skip("needs x"); }"#,
        ip: "exit 77",
        call: skip,
    },
    Native {
        name: "require",
        forms: &["require(feature)"],
        summary: "Skip unless the kernel has the feature, found by creating one in a throwaway namespace: a link type \
                  (vlan, vxlan, bond, vrf, wireguard, dummy, macvlan, bridge, ...), a qdisc (netem, tbf, htb, ...), \
                  tun or ipv6; others as \"link:KIND\" or \"qdisc:KIND\".",
        example: r#"require("netem");"#,
        ip: "ip link add probe type KIND || exit 77",
        call: require,
    },
    Native {
        name: "test",
        forms: &["test(name, body)", "test(name, #{keep}, body)"],
        summary: "Run body (a closure) as a named sub-test, reported on its own; a failure or skip inside ends the \
                  sub-test only and the script goes on (the scenario then fails). When it ends (passed, failed or \
                  skipped) what it did is undone: namespaces and links it made, and the addresses, routes, qdiscs, \
                  processes and sysctls it added or changed in namespaces that were there before it (keep: true \
                  leaves them). Its deferred closures run first.",
        example: r#"test("h1 reaches h2", || { expect_reach("h1", "h2"); });"#,
        ip: "(a subtest)",
        call: test,
    },
    Native {
        name: "defer",
        forms: &["defer(f)"],
        summary: "Run the closure f when the enclosing test ends, or the script (a REPL entry) when there is none; \
                  deferred closures run newest first, also after a failure, and a failure in one fails what \
                  encloses it.",
        example: r#"let p = spawn_in("h2", "sleep 60"); defer(|| p.kill());"#,
        ip: "trap '...' EXIT",
        call: defer,
    },
    Native {
        name: "expect_error",
        forms: &["expect_error(f) -> string", "expect_error(f, pattern) -> string"],
        summary: "Call the closure f and fail here unless it fails with a message containing pattern (\"\" or none: \
                  any failure); returns the message. Ctrl-C and skip() pass through.",
        example: r#"expect_error(|| veth("a", "x0", "x0"), "same name");"#,
        ip: "! CMD 2>&1 | grep -q PATTERN",
        call: expect_error,
    },
];

type Res<T> = Result<T, Fail>;

/// A failed check: the message, and the detail the report shows under it.
fn fail(c: &Call, message: String, hint: Option<String>) -> Fail {
    raise(c.ctx(), CallFailure { message, hint, kind: FailureKind::Expectation, held: None }).into()
}

fn function(c: &Call, name: &str) -> Res<FnPtr> {
    let (at, v) = c.arg(name);
    v.clone().try_cast::<FnPtr>().ok_or_else(|| {
        c.error(format!(
            "the {} argument of {} must be a function (a closure like || {{ ... }}), not {}",
            args::ordinal(at),
            c.ctx().fn_name(),
            args::shown(v)
        ))
        .into()
    })
}

fn seconds(c: &Call, v: &Dynamic, what: &str) -> Res<Duration> {
    let s = args::number(c.ctx(), v, what)?;
    if !(0.0..=args::MAX_SECONDS).contains(&s) {
        return Err(c
            .error(format!(
                "{what} of {} must be a number of seconds from 0 to {}, not {s}",
                c.ctx().fn_name(),
                args::MAX_SECONDS
            ))
            .into());
    }
    Ok(Duration::from_secs_f64(s))
}

// ---- assert_eq ------------------------------------------------------------------------------

fn number(v: &Dynamic) -> Option<f64> {
    v.as_int().map(|i| i as f64).ok().or_else(|| v.as_float().ok())
}

/// Equality as Rhai's `==` sees it; an integer equals a float of the same value.
fn equal(c: &Call, a: &Dynamic, b: &Dynamic) -> bool {
    if a.type_id() != b.type_id() {
        return matches!((number(a), number(b)), (Some(x), Some(y)) if x == y);
    }
    match c.ctx().call_native_fn::<bool>("==", (a.clone(), b.clone())) {
        Ok(same) => same,
        Err(_) => a.to_string() == b.to_string(),
    }
}

fn assert_eq(c: &mut Call) -> Out {
    let (a, b) = (c.arg("a").1.clone(), c.arg("b").1.clone());
    if equal(c, &a, &b) {
        return done();
    }
    let message = if c.has("message") { Some(args::text(c.ctx(), c.arg("message").1)) } else { None };
    let detail = format!("left:  {}\nright: {}", describe(&a), describe(&b));
    let message = match message.filter(|m| !m.trim().is_empty()) {
        Some(m) => format!("assert_eq failed: {m}"),
        None => "assert_eq failed: the two values differ".into(),
    };
    Err(fail(c, message, Some(detail)))
}

// ---- expect_reach / expect_no_reach ---------------------------------------------------------

/// What a reachability check pings: an address, or every global address of a namespace.
struct Target {
    label: String,
    addrs: Vec<IpAddr>,
}

fn target(c: &Call, name: &str) -> Res<Target> {
    let (at, v) = c.arg(name);
    let ns = if let Some(h) = v.read_lock::<Netns>() {
        h.ns()
    } else if v.is_string() {
        let text = v.clone().into_string().expect("checked");
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Target { label: text, addrs: vec![ip] });
        }
        if !c.lab().netns_exists(&text) {
            return Err(c
                .error(format!(
                    "{text:?} is neither an IP address nor a namespace (the {} argument of {})",
                    args::ordinal(at),
                    c.ctx().fn_name()
                ))
                .into());
        }
        Ns::Named(text)
    } else if let Some(list) = v.read_lock::<rhai::Array>() {
        // Addresses (a namespace's, read where it lives, for a lab across machines).
        let mut addrs = Vec::with_capacity(list.len());
        for item in list.iter() {
            match item.clone().into_string().ok().and_then(|t| t.parse::<IpAddr>().ok()) {
                Some(ip) => addrs.push(ip),
                None => {
                    return Err(c
                        .error(format!(
                            "the {} argument of {} is an array of addresses, and {} is not one",
                            args::ordinal(at),
                            c.ctx().fn_name(),
                            args::shown(item)
                        ))
                        .into())
                }
            }
        }
        let shown: Vec<String> = addrs.iter().map(ToString::to_string).collect();
        return Ok(Target { label: shown.join(", "), addrs });
    } else {
        return Err(c
            .error(format!(
                "the {} argument of {} must be an address, a namespace or an array of addresses, not {}",
                args::ordinal(at),
                c.ctx().fn_name(),
                args::shown(v)
            ))
            .into());
    };
    let addrs = c.lab().global_addrs(&ns)?;
    let shown: Vec<String> = addrs.iter().map(ToString::to_string).collect();
    let label = if shown.is_empty() { short(&ns) } else { format!("{} ({})", short(&ns), shown.join(", ")) };
    Ok(Target { label, addrs })
}

/// The `timeout` option of a reachability check, or `default`.
fn window(c: &Call, default: Duration) -> Res<Duration> {
    match c.opts()?.get("timeout") {
        Some(t) => seconds(c, t, "the timeout"),
        None => Ok(default),
    }
}

fn expect(c: &mut Call, want: bool) -> Out {
    let from = c.ns()?;
    let dst = target(c, "dst")?;
    let window = window(c, if want { REACH_WINDOW } else { NO_REACH_WINDOW })?;
    let check = c.lab().check_reach(&from, &dst.addrs, want, Some(window))?;
    if check.as_expected {
        return done();
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
    Err(fail(c, message, Some(lines.join("\n"))))
}

fn expect_reach(c: &mut Call) -> Out {
    expect(c, true)
}

fn expect_no_reach(c: &mut Call) -> Out {
    expect(c, false)
}

// ---- expect_matrix --------------------------------------------------------------------------

fn ns_name(c: &Call, v: &Dynamic, what: &str) -> Res<String> {
    if let Some(h) = v.read_lock::<Netns>() {
        return Ok(short(&h.ns()));
    }
    if v.is_string() {
        return Ok(v.clone().into_string().expect("checked"));
    }
    Err(c.error(format!("{what} in expect_matrix must be a namespace name, not {}", args::shown(v))).into())
}

/// The expectation: for each source namespace, the namespaces it must reach.
fn expectation(c: &Call, v: &Dynamic) -> Res<BTreeMap<String, Vec<String>>> {
    let Some(m) = v.clone().try_cast::<Map>() else {
        return Err(c.error(format!("expect_matrix needs a map like #{{h1: [\"h2\"], h2: []}}, not {}", args::shown(v))).into());
    };
    let mut out = BTreeMap::new();
    for (k, v) in m {
        let Some(list) = v.clone().try_cast::<Array>() else {
            return Err(c
                .error(format!("the value for {k} in expect_matrix must be an array of namespace names, not {}", args::shown(&v)))
                .into());
        };
        let names = list.iter().map(|d| ns_name(c, d, "each entry")).collect::<Res<Vec<String>>>()?;
        out.insert(k.to_string(), names);
    }
    Ok(out)
}

fn expect_matrix(c: &mut Call) -> Out {
    let want = expectation(c, &c.raw(0).clone())?;
    let plan = c.lab().plan_matrix(want)?;
    let window = window(c, REACH_WINDOW)?;
    let result = c.lab().check_matrix(plan, window)?;
    let wrong = result.wrong().count();
    if wrong == 0 {
        return done();
    }
    let message = format!("expect_matrix: {wrong} of {} pairs differ from the expectation", result.cells.len());
    Err(fail(c, message, Some(render_reach::matrix_failure(&result).join("\n"))))
}

// ---- wait_until, skip, require, test --------------------------------------------------------

fn wait_until(c: &mut Call) -> Out {
    let cond = function(c, "cond")?;
    let limit = seconds(c, c.arg("timeout").1, "the timeout")?;
    let start = Instant::now();
    loop {
        let v = cond.call_within_context::<Dynamic>(c.ctx(), ())?;
        let Ok(done) = v.as_bool() else {
            return Err(c
                .error(format!("the condition given to wait_until must return true or false, not {}", args::shown(&v)))
                .into());
        };
        if done {
            return Ok(start.elapsed().as_secs_f64().into());
        }
        if start.elapsed() >= limit {
            return Err(fail(c, format!("wait_until: the condition was still false after {} s", limit.as_secs_f64()), None));
        }
        c.lab().sleep(POLL)?;
    }
}

fn skip(c: &mut Call) -> Out {
    let reason = args::text(c.ctx(), c.arg("reason").1);
    // The reason is what a report shows for the skip: never nothing.
    let reason = if reason.trim().is_empty() { "skipped (skip() was given no reason)".to_string() } else { reason };
    Err(raise(c.ctx(), CallFailure { message: reason, hint: None, kind: FailureKind::Skip, held: None }).into())
}

fn require(c: &mut Call) -> Out {
    let name = c.string("feature", "a kernel feature, like \"vlan\" or \"netem\"")?;
    let Some(feature) = Feature::parse(&name) else {
        return Err(c
            .error(format!(
                "require: no feature {name:?}; known: {}; any other link type or qdisc as \"link:KIND\" or \"qdisc:KIND\"",
                Feature::known().join(", ")
            ))
            .into());
    };
    let missing = c.lab().missing_feature(&feature)?;
    match missing {
        None => done(),
        Some(reason) => {
            Err(raise(c.ctx(), CallFailure { message: reason, hint: None, kind: FailureKind::Skip, held: None }).into())
        }
    }
}

fn test(c: &mut Call) -> Out {
    let name = c.string("name", "the sub-test's name")?;
    let keep = c.opts()?.boolean("keep")?.unwrap_or(false);
    let body = function(c, "body")?;
    let checkpoint = if keep { None } else { Some(c.lab().checkpoint()?) };
    // The lab's other machines, if any, note where their parts stand too.
    let across = !keep && c.slot().spans_machines();
    if across {
        if let Err(e) = c.slot().machines().expect("spans").checkpoint() {
            if let Some(cp) = checkpoint {
                let _ = c.lab().undo_to(cp);
            }
            return Err(c.error(e).into());
        }
    }
    let ctx = c.ctx();
    let harness = c.harness().clone();
    harness.open_defers();
    let c = &*c;
    harness.run_subtest(&name, || {
        let result = body.call_within_context::<Dynamic>(ctx, ());
        let deferred = run_deferred(c, harness.close_defers());
        let result = match (result, deferred) {
            (Ok(_), Err(e)) => Err(e),
            (result, _) => result,
        };
        let Some(cp) = checkpoint else { return result };
        let mut undone = c.lab().undo_to(cp);
        if across {
            undone.merge(c.slot().machines().expect("spans").undo());
        }
        match result {
            Ok(_) if undone.failed() => {
                let message = format!("test {name:?} passed, but what it did could not all be undone: {undone}");
                Err(raise(c.ctx(), CallFailure { message, hint: None, kind: FailureKind::Expectation, held: None }))
            }
            result => result,
        }
    })?;
    done()
}

/// Runs deferred closures (newest first, all of them); the first failure is returned.
fn run_deferred(c: &Call, closures: Vec<super::harness::Deferred>) -> Result<Dynamic, Box<rhai::EvalAltResult>> {
    let mut first = None;
    for d in closures {
        if let Err(e) = d.f.call_within_context::<Dynamic>(c.ctx(), ()) {
            first.get_or_insert(d.locate(e));
        }
    }
    first.map_or(Ok(Dynamic::UNIT), Err)
}

fn defer(c: &mut Call) -> Out {
    let f = function(c, "f")?;
    c.harness().defer(f, c.ctx().call_position());
    done()
}

fn expect_error(c: &mut Call) -> Out {
    let f = function(c, "f")?;
    let pattern = if c.has("pattern") { c.string("pattern", "the text the message must contain")? } else { String::new() };
    let wanted = if pattern.is_empty() { String::new() } else { format!(" with a message containing {pattern:?}") };
    match f.call_within_context::<Dynamic>(c.ctx(), ()) {
        Ok(v) => Err(fail(
            c,
            format!("expect_error: the call succeeded (it returned {}), but it must fail{wanted}", describe(&v)),
            None,
        )),
        Err(e) => match failure_message(&e) {
            // Ctrl-C and skip() are no failures of the call: they go on.
            None => Err(e.into()),
            Some(message) if message.contains(&pattern) => Ok(message.into()),
            Some(message) => {
                Err(fail(c, format!("expect_error: the call failed with {message:?}, but it must fail{wanted}"), None))
            }
        },
    }
}

/// The message of a failure as `catch (e)` would see it; None for an interruption or a skip.
fn failure_message(e: &rhai::EvalAltResult) -> Option<String> {
    match e {
        rhai::EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => failure_message(inner),
        rhai::EvalAltResult::ErrorRuntime(payload, _) => match payload.read_lock::<CallFailure>() {
            Some(f) if matches!(f.kind, FailureKind::Interrupted | FailureKind::Skip) => None,
            Some(f) => Some(f.message.clone()),
            None => Some(payload.to_string()),
        },
        rhai::EvalAltResult::ErrorTerminated(..) => None,
        other => Some(other.to_string()),
    }
}
