//! The functions nslab adds to Rhai. Every one is registered through `Registrar`, which marks it
//! volatile (the optimizer must never run it at compile time) and keeps the list of
//! (name, arity) pairs that `check` and the catalog test rely on.

use std::time::Duration;

use rhai::{Array, Dynamic, Engine, FuncRegistration, NativeCallContext, RhaiNativeFunc, Variant};

use super::args;
use super::failure::{argument_error, held_back, lab_error, raise, CallFailure, FailureKind, Res};
use super::values::{addr_map, link_map, route_map, Exec, Netns, Ping};
use crate::engine::icmp::PingOptions;
use crate::engine::netlink::LinkOptions;
use crate::lab::Ns;

pub type SharedLab = super::LabSlot;

pub struct Registrar<'e> {
    engine: &'e mut Engine,
    pub registered: Vec<(&'static str, usize)>,
}

impl<'e> Registrar<'e> {
    pub fn new(engine: &'e mut Engine) -> Self {
        Registrar { engine, registered: Vec::new() }
    }

    pub fn add<A: 'static, const N: usize, const X: bool, R: Variant + Clone, const F: bool>(
        &mut self,
        name: &'static str,
        func: impl RhaiNativeFunc<A, N, X, R, F> + 'static,
    ) {
        // Rhai silently replaces a function registered twice with the same arity.
        assert!(!self.registered.contains(&(name, N)), "{name}/{N} registered twice");
        self.registered.push((name, N));
        FuncRegistration::new(name).with_volatility(true).register_into_engine(self.engine, func);
    }
}

fn note_held_back(lab: &SharedLab, ctx: &NativeCallContext) {
    if lab.borrow().has_pending() {
        held_back(ctx);
    }
}

fn netns_handle(name: String) -> Netns {
    Netns { name: Some(name) }
}

/// A veth's options: `mtu` (both ends), `up` (both ends, at birth), `master` (a bridge in the
/// first end's namespace, joined at birth).
fn link_options(lab: &SharedLab, ctx: &NativeCallContext, ns: &Ns, v: &Dynamic, n: usize) -> Res<LinkOptions> {
    let m = args::map(ctx, v, n, &["mtu", "up", "master"])?;
    let mut opts = LinkOptions::default();
    if let Some(mtu) = m.get("mtu") {
        let mtu = args::integer(ctx, mtu, "the mtu option")?;
        opts.mtu = Some(u32::try_from(mtu).map_err(|_| argument_error(ctx, format!("mtu {mtu} is out of range")))?);
    }
    if let Some(up) = m.get("up") {
        opts.up = up.as_bool().map_err(|_| argument_error(ctx, "the up option must be true or false"))?;
    }
    if let Some(master) = m.get("master") {
        let master = args::string(ctx, master, n, "the master option (a bridge name)")?;
        opts.master = Some(lab.borrow_mut().master_index(ns, &master).map_err(|e| lab_error(ctx, e))?);
    }
    Ok(opts)
}

fn ping_options(ctx: &NativeCallContext, v: &Dynamic) -> Res<PingOptions> {
    let m = args::map(ctx, v, 2, &["count", "timeout", "interval"])?;
    let mut opts = default_ping();
    if let Some(c) = m.get("count") {
        let c = args::integer(ctx, c, "count")?;
        opts.count = u32::try_from(c)
            .ok()
            .filter(|c| *c >= 1)
            .ok_or_else(|| argument_error(ctx, format!("count must be at least 1, not {c}")))?;
    }
    let seconds = |key: &str, min: f64| -> Res<Option<Duration>> {
        let Some(v) = m.get(key) else { return Ok(None) };
        let s = args::number(ctx, v, key)?;
        if !(s >= min && s < 1e6) {
            return Err(argument_error(ctx, format!("{key} must be a number of seconds of at least {min}, not {s}")));
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
    register_types(reg.engine);
    register_namespaces(reg, lab);
    register_links(reg, lab);
    register_inspection(reg, lab);
    register_routes(reg, lab);
    register_exec(reg, lab);
    register_ping(reg, lab);
    register_checks(reg, lab);
    super::bindings_net::register(reg, lab);
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
        let name = args::string(&ctx, &name, 0, "a namespace name")?;
        Ok(l.borrow().netns_exists(&name))
    });
}

fn register_links(reg: &mut Registrar, lab: &SharedLab) {
    let l = lab.clone();
    reg.add("veth", move |ctx: NativeCallContext, name: Dynamic, peer: Dynamic| -> Res<()> {
        let (name, peer) = (args::string(&ctx, &name, 0, "a link name")?, args::string(&ctx, &peer, 1, "a link name")?);
        l.borrow_mut().veth(&Ns::Root, &name, &Ns::Root, &peer, &LinkOptions::default()).map_err(|e| lab_error(&ctx, e))?;
        note_held_back(&l, &ctx);
        Ok(())
    });
    let l = lab.clone();
    reg.add("veth", move |ctx: NativeCallContext, a: Dynamic, b: Dynamic, c: Dynamic| -> Res<()> {
        // veth(name, peer, #{opts}) or veth(ns, name, peer)
        let (ns, name, peer, opts) = if args::is_map(&c) {
            (
                Ns::Root,
                args::string(&ctx, &a, 0, "a link name")?,
                args::string(&ctx, &b, 1, "a link name")?,
                link_options(&l, &ctx, &Ns::Root, &c, 2)?,
            )
        } else {
            (
                args::ns(&ctx, &a, 0)?,
                args::string(&ctx, &b, 1, "a link name")?,
                args::string(&ctx, &c, 2, "a link name")?,
                LinkOptions::default(),
            )
        };
        l.borrow_mut().veth(&ns, &name, &ns, &peer, &opts).map_err(|e| lab_error(&ctx, e))?;
        note_held_back(&l, &ctx);
        Ok(())
    });
    let l = lab.clone();
    reg.add("veth", move |ctx: NativeCallContext, a: Dynamic, b: Dynamic, c: Dynamic, d: Dynamic| -> Res<()> {
        // veth(ns, name, peer, #{opts}) or veth(ns, name, peer_ns, peer)
        let ns = args::ns(&ctx, &a, 0)?;
        let name = args::string(&ctx, &b, 1, "a link name")?;
        let (peer_ns, peer, opts) = if args::is_map(&d) {
            (ns.clone(), args::string(&ctx, &c, 2, "a link name")?, link_options(&l, &ctx, &ns, &d, 3)?)
        } else {
            (args::ns(&ctx, &c, 2)?, args::string(&ctx, &d, 3, "a link name")?, LinkOptions::default())
        };
        l.borrow_mut().veth(&ns, &name, &peer_ns, &peer, &opts).map_err(|e| lab_error(&ctx, e))?;
        note_held_back(&l, &ctx);
        Ok(())
    });
    let l = lab.clone();
    reg.add("veth", move |ctx: NativeCallContext, a: Dynamic, b: Dynamic, c: Dynamic, d: Dynamic, o: Dynamic| -> Res<()> {
        let ns = args::ns(&ctx, &a, 0)?;
        let name = args::string(&ctx, &b, 1, "a link name")?;
        let peer_ns = args::ns(&ctx, &c, 2)?;
        let peer = args::string(&ctx, &d, 3, "a link name")?;
        let opts = link_options(&l, &ctx, &ns, &o, 4)?;
        l.borrow_mut().veth(&ns, &name, &peer_ns, &peer, &opts).map_err(|e| lab_error(&ctx, e))?;
        note_held_back(&l, &ctx);
        Ok(())
    });

    let l = lab.clone();
    reg.add("move_to", move |ctx: NativeCallContext, link: Dynamic, to: Dynamic| -> Res<()> {
        let link = args::string(&ctx, &link, 0, "a link name")?;
        let to = args::ns(&ctx, &to, 1)?;
        l.borrow_mut().move_to(&Ns::Root, &link, &to).map_err(|e| lab_error(&ctx, e))
    });
    let l = lab.clone();
    reg.add("move_to", move |ctx: NativeCallContext, from: Dynamic, link: Dynamic, to: Dynamic| -> Res<()> {
        let from = args::ns(&ctx, &from, 0)?;
        let link = args::string(&ctx, &link, 1, "a link name")?;
        let to = args::ns(&ctx, &to, 2)?;
        l.borrow_mut().move_to(&from, &link, &to).map_err(|e| lab_error(&ctx, e))
    });

    for (name, add) in [("addr", true), ("addr_del", false)] {
        let l = lab.clone();
        reg.add(name, move |ctx: NativeCallContext, link: Dynamic, cidr: Dynamic| -> Res<()> {
            let link = args::string(&ctx, &link, 0, "a link name")?;
            let cidr = args::string(&ctx, &cidr, 1, "an address with prefix length, like \"10.1.1.1/24\"")?;
            let mut lab = l.borrow_mut();
            let done = if add { lab.addr(&Ns::Root, &link, &cidr) } else { lab.addr_del(&Ns::Root, &link, &cidr) };
            done.map_err(|e| lab_error(&ctx, e))
        });
        let l = lab.clone();
        reg.add(name, move |ctx: NativeCallContext, ns: Dynamic, link: Dynamic, cidr: Dynamic| -> Res<()> {
            let ns = args::ns(&ctx, &ns, 0)?;
            let link = args::string(&ctx, &link, 1, "a link name")?;
            let cidr = args::string(&ctx, &cidr, 2, "an address with prefix length, like \"10.1.1.1/24\"")?;
            let mut lab = l.borrow_mut();
            let done = if add { lab.addr(&ns, &link, &cidr) } else { lab.addr_del(&ns, &link, &cidr) };
            done.map_err(|e| lab_error(&ctx, e))
        });
    }

    for (name, up) in [("up", true), ("down", false)] {
        let l = lab.clone();
        reg.add(name, move |ctx: NativeCallContext, link: Dynamic| -> Res<()> {
            let link = args::string(&ctx, &link, 0, "a link name")?;
            l.borrow_mut().set_up(&Ns::Root, &link, up).map_err(|e| lab_error(&ctx, e))
        });
        let l = lab.clone();
        reg.add(name, move |ctx: NativeCallContext, ns: Dynamic, link: Dynamic| -> Res<()> {
            let ns = args::ns(&ctx, &ns, 0)?;
            let link = args::string(&ctx, &link, 1, "a link name")?;
            l.borrow_mut().set_up(&ns, &link, up).map_err(|e| lab_error(&ctx, e))
        });
    }
}

fn register_inspection(reg: &mut Registrar, lab: &SharedLab) {
    let list_links = |l: &SharedLab, ctx: &NativeCallContext, ns: Ns| -> Res<Array> {
        let links = l.borrow_mut().links(&ns).map_err(|e| lab_error(ctx, e))?;
        Ok(links.into_iter().map(link_map).collect())
    };
    let l = lab.clone();
    reg.add("links", move |ctx: NativeCallContext| list_links(&l, &ctx, Ns::Root));
    let l = lab.clone();
    reg.add("links", move |ctx: NativeCallContext, ns: Dynamic| {
        let ns = args::ns(&ctx, &ns, 0)?;
        list_links(&l, &ctx, ns)
    });
    let one_link = |l: &SharedLab, ctx: &NativeCallContext, ns: Ns, name: String| -> Res<Dynamic> {
        let links = l.borrow_mut().links(&ns).map_err(|e| lab_error(ctx, e))?;
        match links.into_iter().find(|x| x.name == name) {
            Some(link) => Ok(link_map(link)),
            None => Err(lab_error(ctx, crate::lab::LabError::NoSuchLink { ns: ns.to_string(), link: name })),
        }
    };
    let l = lab.clone();
    reg.add("link", move |ctx: NativeCallContext, name: Dynamic| {
        let name = args::string(&ctx, &name, 0, "a link name")?;
        one_link(&l, &ctx, Ns::Root, name)
    });
    let l = lab.clone();
    reg.add("link", move |ctx: NativeCallContext, ns: Dynamic, name: Dynamic| {
        let ns = args::ns(&ctx, &ns, 0)?;
        let name = args::string(&ctx, &name, 1, "a link name")?;
        one_link(&l, &ctx, ns, name)
    });
    let list_addrs = |l: &SharedLab, ctx: &NativeCallContext, ns: Ns| -> Res<Array> {
        let addrs = l.borrow_mut().addrs(&ns).map_err(|e| lab_error(ctx, e))?;
        Ok(addrs.into_iter().map(addr_map).collect())
    };
    let l = lab.clone();
    reg.add("addrs", move |ctx: NativeCallContext| list_addrs(&l, &ctx, Ns::Root));
    let l = lab.clone();
    reg.add("addrs", move |ctx: NativeCallContext, ns: Dynamic| {
        let ns = args::ns(&ctx, &ns, 0)?;
        list_addrs(&l, &ctx, ns)
    });
}

fn register_routes(reg: &mut Registrar, lab: &SharedLab) {
    /// The gateway, device and metric of a route: a gateway address, or #{via, dev, metric}.
    /// `n` is the argument's position in the call.
    fn route_how(ctx: &NativeCallContext, how: &Dynamic, n: usize) -> Res<(Option<String>, Option<String>, Option<u32>)> {
        if !args::is_map(how) {
            return Ok((Some(args::string(ctx, how, n, "a gateway address or #{via, dev, metric}")?), None, None));
        }
        let m = args::map(ctx, how, n, &["via", "dev", "metric"])?;
        let text = |k: &str| -> Res<Option<String>> { m.get(k).map(|v| args::string(ctx, v, n, k)).transpose() };
        let metric = match m.get("metric") {
            Some(v) => Some(
                u32::try_from(args::integer(ctx, v, "metric")?)
                    .map_err(|_| argument_error(ctx, "metric must be from 0 to 4294967295"))?,
            ),
            None => None,
        };
        Ok((text("via")?, text("dev")?, metric))
    }
    fn add_route(l: &SharedLab, ctx: &NativeCallContext, ns: Ns, dst: &Dynamic, how: &Dynamic, n: usize) -> Res<()> {
        let dst = args::string(ctx, dst, n, "a destination (a CIDR or \"default\")")?;
        let (via, dev, metric) = route_how(ctx, how, n + 1)?;
        l.borrow_mut().route(&ns, &dst, via.as_deref(), dev.as_deref(), metric).map_err(|e| lab_error(ctx, e))
    }
    let l = lab.clone();
    reg.add("route", move |ctx: NativeCallContext, dst: Dynamic, via: Dynamic| add_route(&l, &ctx, Ns::Root, &dst, &via, 0));
    let l = lab.clone();
    reg.add("route", move |ctx: NativeCallContext, ns: Dynamic, dst: Dynamic, via: Dynamic| {
        let ns = args::ns(&ctx, &ns, 0)?;
        add_route(&l, &ctx, ns, &dst, &via, 1)
    });
    let l = lab.clone();
    reg.add("route_del", move |ctx: NativeCallContext, dst: Dynamic| -> Res<()> {
        let dst = args::string(&ctx, &dst, 0, "a destination")?;
        l.borrow_mut().route_del(&Ns::Root, &dst, None, None, None).map_err(|e| lab_error(&ctx, e))
    });
    let l = lab.clone();
    reg.add("route_del", move |ctx: NativeCallContext, ns: Dynamic, dst: Dynamic| -> Res<()> {
        let ns = args::ns(&ctx, &ns, 0)?;
        let dst = args::string(&ctx, &dst, 1, "a destination")?;
        l.borrow_mut().route_del(&ns, &dst, None, None, None).map_err(|e| lab_error(&ctx, e))
    });
    let l = lab.clone();
    reg.add("route_del", move |ctx: NativeCallContext, ns: Dynamic, dst: Dynamic, how: Dynamic| -> Res<()> {
        let ns = args::ns(&ctx, &ns, 0)?;
        let dst = args::string(&ctx, &dst, 1, "a destination")?;
        let (via, dev, metric) = route_how(&ctx, &how, 2)?;
        l.borrow_mut().route_del(&ns, &dst, via.as_deref(), dev.as_deref(), metric).map_err(|e| lab_error(&ctx, e))
    });
    let list = |l: &SharedLab, ctx: &NativeCallContext, ns: Ns| -> Res<Array> {
        let routes = l.borrow_mut().routes(&ns).map_err(|e| lab_error(ctx, e))?;
        Ok(routes.into_iter().map(route_map).collect())
    };
    let l = lab.clone();
    reg.add("routes", move |ctx: NativeCallContext| list(&l, &ctx, Ns::Root));
    let l = lab.clone();
    reg.add("routes", move |ctx: NativeCallContext, ns: Dynamic| {
        let ns = args::ns(&ctx, &ns, 0)?;
        list(&l, &ctx, ns)
    });
}

fn register_exec(reg: &mut Registrar, lab: &SharedLab) {
    let run = |l: &SharedLab, ctx: &NativeCallContext, ns: Ns, cmd: &Dynamic, n: usize| -> Res<Exec> {
        let argv = args::command(ctx, cmd, n)?;
        let out = l.borrow_mut().exec(&ns, &argv).map_err(|e| lab_error(ctx, e))?;
        Ok(Exec::from_output(argv, out))
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
            return Err(argument_error(
                ctx,
                format!("assert needs a true/false condition, not {}", super::values::type_name(cond)),
            ));
        };
        if ok {
            return Ok(());
        }
        let custom = message.is_some();
        let message = message.unwrap_or_else(|| "assertion failed".into());
        Err(raise(ctx, CallFailure { message, hint: None, kind: FailureKind::Assertion { custom } }))
    }
    reg.add("assert", |ctx: NativeCallContext, cond: Dynamic| check(&ctx, &cond, None));
    reg.add("assert", |ctx: NativeCallContext, cond: Dynamic, message: Dynamic| {
        let message = if message.is_string() { message.into_string().expect("checked") } else { message.to_string() };
        check(&ctx, &cond, Some(message))
    });
    let l = lab.clone();
    reg.add("sleep", move |ctx: NativeCallContext, seconds: Dynamic| -> Res<()> {
        let s = args::number(&ctx, &seconds, "the number of seconds")?;
        if !(0.0..1e6).contains(&s) {
            return Err(argument_error(&ctx, format!("sleep needs a number of seconds from 0, not {s}")));
        }
        l.borrow().pause(Duration::from_secs_f64(s)).map_err(|e| lab_error(&ctx, e))
    });
}
