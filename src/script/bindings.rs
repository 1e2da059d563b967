//! The functions nslab adds to Rhai: `register` calls each group's registration. This file holds
//! the types and the namespace, exec, ping and check functions; `bindings_links.rs` the links.

use std::time::Duration;

use rhai::{Array, Dynamic, Engine, NativeCallContext};

use super::args;
use super::failure::{argument_error, lab_error, raise, CallFailure, FailureKind, Res};
pub use super::registrar::{Registrar, SharedLab};
use super::values::{Exec, Netns, Ping};
use crate::engine::icmp::PingOptions;
use crate::lab::Ns;

fn netns_handle(name: String) -> Netns {
    Netns { name: Some(name) }
}

fn ping_options(ctx: &NativeCallContext, v: &Dynamic) -> Res<PingOptions> {
    let m = args::map(ctx, v, 2, &["count", "timeout", "interval"])?;
    let mut opts = default_ping();
    if let Some(c) = m.get("count") {
        let c = args::integer(ctx, c, "the count option")?;
        opts.count = u32::try_from(c)
            .ok()
            .filter(|c| *c >= 1)
            .ok_or_else(|| argument_error(ctx, format!("the count option of ping must be from 1 to {}, not {c}", u32::MAX)))?;
    }
    let seconds = |key: &str, min: f64| -> Res<Option<Duration>> {
        let Some(v) = m.get(key) else { return Ok(None) };
        let s = args::number(ctx, v, &format!("the {key} option"))?;
        if !(s >= min && s <= args::MAX_SECONDS) {
            return Err(argument_error(
                ctx,
                format!("the {key} option of ping must be a number of seconds from {min} to {}, not {s}", args::MAX_SECONDS),
            ));
        }
        Ok(Some(Duration::from_secs_f64(s)))
    };
    if let Some(t) = seconds("timeout", 0.001)? {
        opts.timeout = t;
    }
    if let Some(i) = seconds("interval", 0.0)? {
        opts.interval = i;
    }
    Ok(opts)
}

fn default_ping() -> PingOptions {
    PingOptions { count: 1, timeout: Duration::from_secs(1), interval: Duration::from_secs(1) }
}

pub fn register(reg: &mut Registrar, lab: &SharedLab) {
    register_types(reg.engine());
    register_namespaces(reg, lab);
    super::bindings_links::register(reg, lab);
    register_exec(reg, lab);
    register_ping(reg, lab);
    register_checks(reg, lab);
    super::bindings_net::register(reg, lab);
    super::bindings_routes::register(reg, lab);
    super::bindings_testing::register(reg, lab);
    super::processes::register(reg, lab);
    super::bindings_traffic::register(reg, lab);
}

fn register_types(engine: &mut Engine) {
    // What `catch (e)` receives when an nslab call fails.
    engine
        .register_type_with_name::<CallFailure>("Error")
        .register_get("message", |f: &mut CallFailure| f.message.clone())
        .register_get("hint", |f: &mut CallFailure| f.hint.clone().unwrap_or_default())
        .register_fn("to_string", |f: &mut CallFailure| f.message.clone())
        .register_fn("to_debug", |f: &mut CallFailure| f.message.clone());
    engine
        .register_type_with_name::<Netns>("Netns")
        .register_get("name", |n: &mut Netns| n.name.clone().unwrap_or_default())
        .register_fn("to_string", |n: &mut Netns| n.to_string())
        .register_fn("to_debug", |n: &mut Netns| n.to_string())
        .register_fn("==", |a: Netns, b: Netns| a == b);
    engine
        .register_type_with_name::<Exec>("Exec")
        .register_get("code", |e: &mut Exec| e.code)
        .register_get("ok", |e: &mut Exec| e.ok())
        .register_get("stdout", |e: &mut Exec| e.stdout.clone())
        .register_get("stderr", |e: &mut Exec| e.stderr.clone())
        .register_fn("to_string", |e: &mut Exec| e.to_string())
        .register_fn("to_debug", |e: &mut Exec| e.to_string());
    engine
        .register_type_with_name::<Ping>("Ping")
        .register_get("ok", |p: &mut Ping| p.ok())
        .register_get("sent", |p: &mut Ping| p.report.sent as i64)
        .register_get("received", |p: &mut Ping| p.report.received as i64)
        .register_get("loss", |p: &mut Ping| p.loss())
        .register_get("rtt_min", |p: &mut Ping| p.rtt_min())
        .register_get("rtt_avg", |p: &mut Ping| p.rtt_avg())
        .register_get("rtt_max", |p: &mut Ping| p.rtt_max())
        .register_get("error", |p: &mut Ping| p.error())
        .register_get("dst", |p: &mut Ping| p.dst.clone())
        .register_fn("to_string", |p: &mut Ping| p.to_string())
        .register_fn("to_debug", |p: &mut Ping| p.to_string());
}

fn register_namespaces(reg: &mut Registrar, lab: &SharedLab) {
    let l = lab.clone();
    reg.add("netns_add", move |ctx: NativeCallContext, name: Dynamic| -> Res<Netns> {
        let name = args::string(&ctx, &name, 0, "a namespace name")?;
        l.borrow_mut().netns_add(&name).map_err(|e| lab_error(&ctx, e))?;
        Ok(netns_handle(name))
    });
    let l = lab.clone();
    reg.add("netns", move |ctx: NativeCallContext, name: Dynamic| -> Res<Netns> {
        let name = args::string(&ctx, &name, 0, "a namespace name")?;
        l.borrow_mut().netns_open(&name).map_err(|e| lab_error(&ctx, e))?;
        Ok(netns_handle(name))
    });
    reg.add("root", || Netns { name: None });
    let l = lab.clone();
    reg.add("netns_del", move |ctx: NativeCallContext, ns: Dynamic| -> Res<()> {
        match args::ns(&ctx, &ns, 0)? {
            Ns::Named(name) => l.borrow_mut().netns_del(&name).map_err(|e| lab_error(&ctx, e)),
            Ns::Root => Err(argument_error(&ctx, "the root namespace cannot be deleted")),
        }
    });
    let l = lab.clone();
    reg.add("netns_list", move |ctx: NativeCallContext| -> Res<Array> {
        let names = l.borrow().netns_list().map_err(|e| lab_error(&ctx, e))?;
        Ok(names.into_iter().map(Dynamic::from).collect())
    });
    let l = lab.clone();
    reg.add("netns_exists", move |ctx: NativeCallContext, name: Dynamic| -> Res<bool> {
        // A handle names its namespace too (root() always exists).
        if let Some(h) = name.read_lock::<Netns>() {
            return Ok(h.name.as_deref().is_none_or(|n| l.borrow().netns_exists(n)));
        }
        let Ok(name) = name.clone().into_string() else {
            let msg =
                format!("the argument of netns_exists must be a namespace name or a Netns handle, not {}", args::shown(&name));
            return Err(argument_error(&ctx, msg));
        };
        Ok(l.borrow().netns_exists(&name))
    });
}

fn register_exec(reg: &mut Registrar, lab: &SharedLab) {
    let run = |l: &SharedLab, ctx: &NativeCallContext, ns: Ns, cmd: &Dynamic, n: usize| -> Res<Exec> {
        let argv = args::command(ctx, cmd, n)?;
        let out = l.borrow_mut().exec(&ns, &argv).map_err(|e| lab_error(ctx, e))?;
        Ok(Exec::from_output(out))
    };
    for name in ["exec_in", "exec"] {
        let l = lab.clone();
        reg.add(name, move |ctx: NativeCallContext, ns: Dynamic, cmd: Dynamic| {
            let ns = args::ns(&ctx, &ns, 0)?;
            run(&l, &ctx, ns, &cmd, 1)
        });
    }
    let l = lab.clone();
    reg.add("exec", move |ctx: NativeCallContext, cmd: Dynamic| run(&l, &ctx, Ns::Root, &cmd, 0));
}

fn register_ping(reg: &mut Registrar, lab: &SharedLab) {
    let ping = |l: &SharedLab, ctx: &NativeCallContext, ns: Ns, dst: &Dynamic, n: usize, opts: PingOptions| -> Res<Ping> {
        let dst = args::string(ctx, dst, n, "a destination address")?;
        let report = l.borrow_mut().ping(&ns, &dst, &opts).map_err(|e| lab_error(ctx, e))?;
        Ok(Ping { dst, report })
    };
    let l = lab.clone();
    reg.add("ping", move |ctx: NativeCallContext, dst: Dynamic| ping(&l, &ctx, Ns::Root, &dst, 0, default_ping()));
    let l = lab.clone();
    reg.add("ping", move |ctx: NativeCallContext, ns: Dynamic, dst: Dynamic| {
        let ns = args::ns(&ctx, &ns, 0)?;
        ping(&l, &ctx, ns, &dst, 1, default_ping())
    });
    let l = lab.clone();
    reg.add("ping", move |ctx: NativeCallContext, ns: Dynamic, dst: Dynamic, opts: Dynamic| {
        let ns = args::ns(&ctx, &ns, 0)?;
        let opts = ping_options(&ctx, &opts)?;
        ping(&l, &ctx, ns, &dst, 1, opts)
    });
}

fn register_checks(reg: &mut Registrar, lab: &SharedLab) {
    fn check(ctx: &NativeCallContext, cond: &Dynamic, message: Option<String>) -> Res<()> {
        let Ok(ok) = cond.as_bool() else {
            return Err(argument_error(ctx, format!("assert needs a true/false condition, not {}", super::args::shown(cond))));
        };
        if ok {
            return Ok(());
        }
        let custom = message.is_some();
        let message = message.unwrap_or_else(|| "assertion failed".into());
        Err(raise(ctx, CallFailure { message, hint: None, kind: FailureKind::Assertion { custom }, held: None }))
    }
    reg.add("assert", |ctx: NativeCallContext, cond: Dynamic| check(&ctx, &cond, None));
    reg.add("assert", |ctx: NativeCallContext, cond: Dynamic, message: Dynamic| {
        check(&ctx, &cond, Some(args::text(&ctx, &message)).filter(|m| !m.trim().is_empty()))
    });
    let sleep = |l: &SharedLab, ctx: &NativeCallContext, seconds: &Dynamic| -> Res<()> {
        let s = args::number(ctx, seconds, "the number of seconds")?;
        if !(0.0..=args::MAX_SECONDS).contains(&s) {
            return Err(argument_error(ctx, format!("sleep needs a number of seconds from 0 to {}, not {s}", args::MAX_SECONDS)));
        }
        l.borrow_mut().sleep(Duration::from_secs_f64(s)).map_err(|e| lab_error(ctx, e))
    };
    let l = lab.clone();
    reg.add("sleep", move |ctx: NativeCallContext, seconds: Dynamic| sleep(&l, &ctx, &seconds));
    // Rhai's own sleep(INT) and sleep(FLOAT) match those argument types exactly, so they would
    // win over the Dynamic form, and they cannot be interrupted: replace them too.
    let l = lab.clone();
    reg.add_overload("sleep", move |ctx: NativeCallContext, s: rhai::INT| sleep(&l, &ctx, &Dynamic::from(s)));
    let l = lab.clone();
    reg.add_overload("sleep", move |ctx: NativeCallContext, s: rhai::FLOAT| sleep(&l, &ctx, &Dynamic::from(s)));
}
