//! Bindings for bridges, link kinds beyond veth, link settings, forwarding, sysctls and
//! /proc/net. Every function takes the namespace first and optionally; a trailing options map is
//! told from a namespace by its type.

use rhai::{Dynamic, Map, NativeCallContext};

use super::args;
use super::bindings::{Registrar, SharedLab};
use super::failure::{argument_error, lab_error, Res};
use crate::engine::netlink::LinkOptions;
use crate::lab::link_kinds::VxlanOptions;
use crate::lab::{validate_net, Ns};

/// A call's arguments, split into the namespace (given or not), the positional arguments after
/// it (with their position in the call, for messages), and a trailing options map.
struct Call {
    ns: Ns,
    args: Vec<(usize, Dynamic)>,
    opts: Option<(usize, Dynamic)>,
}

impl Call {
    /// `base` is the number of positional arguments the function takes besides the namespace
    /// and the options map; `takes_opts` whether it has an options map at all.
    fn parse(ctx: &NativeCallContext, mut all: Vec<Dynamic>, base: usize, takes_opts: bool) -> Res<Call> {
        let mut indexed: Vec<(usize, Dynamic)> = all.drain(..).enumerate().collect();
        let opts = match indexed.last() {
            Some((_, v)) if takes_opts && indexed.len() > base && args::is_map(v) => indexed.pop(),
            _ => None,
        };
        let ns = match indexed.len() {
            n if n == base + 1 => {
                let (i, v) = indexed.remove(0);
                args::ns(ctx, &v, i)?
            }
            n if n == base => Ns::Root,
            _ => {
                let (i, v) = indexed.last().expect("more arguments than the base");
                return Err(argument_error(
                    ctx,
                    format!(
                        "the {} argument of {} must be an options map, not {}",
                        args::ordinal(*i),
                        ctx.fn_name(),
                        args::shown(v)
                    ),
                ));
            }
        };
        Ok(Call { ns, args: indexed, opts })
    }

    fn string(&self, ctx: &NativeCallContext, k: usize, what: &str) -> Res<String> {
        let (i, v) = &self.args[k];
        args::string(ctx, v, *i, what)
    }

    fn integer(&self, ctx: &NativeCallContext, k: usize, what: &str) -> Res<i64> {
        let (_, v) = &self.args[k];
        args::integer(ctx, v, what)
    }

    fn options(&self, ctx: &NativeCallContext, allowed: &[&str]) -> Res<Map> {
        match &self.opts {
            Some((i, v)) => args::map(ctx, v, *i, allowed),
            None => Ok(Map::new()),
        }
    }
}

fn opt_string(ctx: &NativeCallContext, m: &Map, key: &str) -> Res<Option<String>> {
    m.get(key)
        .map(|v| {
            v.clone().into_string().map_err(|_| {
                argument_error(ctx, format!("the {key} option of {} must be a string, not {}", ctx.fn_name(), args::shown(v)))
            })
        })
        .transpose()
}

fn opt_integer(ctx: &NativeCallContext, m: &Map, key: &str) -> Res<Option<i64>> {
    m.get(key).map(|v| args::integer(ctx, v, &format!("the {key} option"))).transpose()
}

fn opt_bool(ctx: &NativeCallContext, m: &Map, key: &str) -> Res<Option<bool>> {
    m.get(key)
        .map(|v| {
            v.as_bool().map_err(|_| {
                argument_error(
                    ctx,
                    format!("the {key} option of {} must be true or false, not {}", ctx.fn_name(), args::shown(v)),
                )
            })
        })
        .transpose()
}

/// The options every created link takes (`mtu`), from a map already checked for unknown keys;
/// `name` is the link's, for messages.
fn link_opts(ctx: &NativeCallContext, m: &Map, name: &str) -> Res<LinkOptions> {
    let mut opts = LinkOptions::default();
    if let Some(mtu) = opt_integer(ctx, m, "mtu")? {
        opts.mtu = Some(validate_net::link_mtu(mtu, ctx.fn_name(), name).map_err(|e| lab_error(ctx, e))?);
    }
    Ok(opts)
}

type Handler = fn(&NativeCallContext, &SharedLab, Vec<Dynamic>) -> Res<Dynamic>;

/// Registers `f` under `name` for each argument count in `arities`.
fn add(reg: &mut Registrar, lab: &SharedLab, name: &'static str, arities: &[usize], f: Handler) {
    for &n in arities {
        let l = lab.clone();
        match n {
            1 => reg.add(name, move |ctx: NativeCallContext, a: Dynamic| f(&ctx, &l, vec![a])),
            2 => reg.add(name, move |ctx: NativeCallContext, a: Dynamic, b: Dynamic| f(&ctx, &l, vec![a, b])),
            3 => reg.add(name, move |ctx: NativeCallContext, a: Dynamic, b: Dynamic, c: Dynamic| f(&ctx, &l, vec![a, b, c])),
            4 => reg.add(name, move |ctx: NativeCallContext, a: Dynamic, b: Dynamic, c: Dynamic, d: Dynamic| {
                f(&ctx, &l, vec![a, b, c, d])
            }),
            5 => reg.add(name, move |ctx: NativeCallContext, a: Dynamic, b: Dynamic, c: Dynamic, d: Dynamic, e: Dynamic| {
                f(&ctx, &l, vec![a, b, c, d, e])
            }),
            _ => unreachable!("no function here takes {n} arguments"),
        }
    }
}

fn done(r: crate::lab::Result<()>, ctx: &NativeCallContext) -> Res<Dynamic> {
    r.map(|_| Dynamic::UNIT).map_err(|e| lab_error(ctx, e))
}

pub fn register(reg: &mut Registrar, lab: &SharedLab) {
    register_bridges(reg, lab);
    register_kinds(reg, lab);
    register_settings(reg, lab);
    register_sysctls(reg, lab);
}

fn register_bridges(reg: &mut Registrar, lab: &SharedLab) {
    add(reg, lab, "bridge", &[1, 2, 3], |ctx, l, all| {
        let c = Call::parse(ctx, all, 1, true)?;
        let name = c.string(ctx, 0, "a link name")?;
        let m = c.options(ctx, &["mtu", "stp"])?;
        let opts = link_opts(ctx, &m, &name)?;
        let stp = opt_bool(ctx, &m, "stp")?;
        done(l.borrow_mut().bridge(&c.ns, &name, &opts, stp), ctx)
    });
    add(reg, lab, "master", &[2, 3], |ctx, l, all| {
        let c = Call::parse(ctx, all, 2, false)?;
        let link = c.string(ctx, 0, "a link name")?;
        let master = c.string(ctx, 1, "the name of a bridge (or bond, or vrf)")?;
        done(l.borrow_mut().master(&c.ns, &link, &master), ctx)
    });
    add(reg, lab, "nomaster", &[1, 2], |ctx, l, all| {
        let c = Call::parse(ctx, all, 1, false)?;
        let link = c.string(ctx, 0, "a link name")?;
        done(l.borrow_mut().nomaster(&c.ns, &link), ctx)
    });
}

fn register_kinds(reg: &mut Registrar, lab: &SharedLab) {
    add(reg, lab, "macvlan", &[2, 3, 4], |ctx, l, all| {
        let c = Call::parse(ctx, all, 2, true)?;
        let name = c.string(ctx, 0, "a link name")?;
        let parent = c.string(ctx, 1, "the parent link's name")?;
        let m = c.options(ctx, &["mode", "mtu"])?;
        let mode = opt_string(ctx, &m, "mode")?.unwrap_or_else(|| "bridge".into());
        let opts = link_opts(ctx, &m, &name)?;
        done(l.borrow_mut().macvlan(&c.ns, &name, &parent, &mode, &opts), ctx)
    });
    add(reg, lab, "vxlan", &[2, 3], |ctx, l, all| {
        let c = Call::parse(ctx, all, 1, true)?;
        let name = c.string(ctx, 0, "a link name")?;
        if c.opts.is_none() {
            return Err(argument_error(ctx, "vxlan needs an options map with at least the VNI: #{id: 42, remote: \"10.0.0.2\"}"));
        }
        let m = c.options(ctx, &["id", "local", "remote", "dev", "port", "mtu"])?;
        let id = opt_integer(ctx, &m, "id")?
            .ok_or_else(|| argument_error(ctx, "vxlan needs the id option: the VNI, from 0 to 16777215"))?;
        let v = VxlanOptions {
            id,
            local: opt_string(ctx, &m, "local")?,
            remote: opt_string(ctx, &m, "remote")?,
            dev: opt_string(ctx, &m, "dev")?,
            port: opt_integer(ctx, &m, "port")?,
            ..VxlanOptions::default()
        };
        let opts = link_opts(ctx, &m, &name)?;
        done(l.borrow_mut().vxlan(&c.ns, &name, &v, &opts), ctx)
    });
    add(reg, lab, "dummy", &[1, 2, 3], |ctx, l, all| {
        let c = Call::parse(ctx, all, 1, true)?;
        let name = c.string(ctx, 0, "a link name")?;
        let opts = link_opts(ctx, &c.options(ctx, &["mtu"])?, &name)?;
        done(l.borrow_mut().dummy(&c.ns, &name, &opts), ctx)
    });
    add(reg, lab, "ifb", &[1, 2, 3], |ctx, l, all| {
        let c = Call::parse(ctx, all, 1, true)?;
        let name = c.string(ctx, 0, "a link name")?;
        let m = c.options(ctx, &["mtu", "up"])?;
        let opts = LinkOptions { up: opt_bool(ctx, &m, "up")?.unwrap_or(false), ..link_opts(ctx, &m, &name)? };
        done(l.borrow_mut().ifb(&c.ns, &name, &opts), ctx)
    });
    add(reg, lab, "wireguard", &[1, 2, 3], |ctx, l, all| {
        let c = Call::parse(ctx, all, 1, true)?;
        let name = c.string(ctx, 0, "a link name")?;
        let opts = link_opts(ctx, &c.options(ctx, &["mtu"])?, &name)?;
        done(l.borrow_mut().wireguard(&c.ns, &name, &opts), ctx)
    });
    add(reg, lab, "bond", &[1, 2, 3], |ctx, l, all| {
        let c = Call::parse(ctx, all, 1, true)?;
        let name = c.string(ctx, 0, "a link name")?;
        let m = c.options(ctx, &["mode", "mtu"])?;
        let mode = opt_string(ctx, &m, "mode")?;
        let opts = link_opts(ctx, &m, &name)?;
        done(l.borrow_mut().bond(&c.ns, &name, mode.as_deref(), &opts), ctx)
    });
    add(reg, lab, "vlan", &[3, 4, 5], |ctx, l, all| {
        let c = Call::parse(ctx, all, 3, true)?;
        let name = c.string(ctx, 0, "a link name")?;
        let parent = c.string(ctx, 1, "the parent link's name")?;
        let id = c.integer(ctx, 2, "the VLAN id argument")?;
        let opts = link_opts(ctx, &c.options(ctx, &["mtu"])?, &name)?;
        done(l.borrow_mut().vlan(&c.ns, &name, &parent, id, &opts), ctx)
    });
    add(reg, lab, "vrf", &[2, 3], |ctx, l, all| {
        let c = Call::parse(ctx, all, 2, false)?;
        let name = c.string(ctx, 0, "a link name")?;
        let table = c.integer(ctx, 1, "the routing table argument")?;
        done(l.borrow_mut().vrf(&c.ns, &name, table), ctx)
    });
}

fn register_settings(reg: &mut Registrar, lab: &SharedLab) {
    add(reg, lab, "mtu", &[2, 3], |ctx, l, all| {
        let c = Call::parse(ctx, all, 2, false)?;
        let link = c.string(ctx, 0, "a link name")?;
        let n = c.integer(ctx, 1, "the MTU argument")?;
        done(l.borrow_mut().mtu(&c.ns, &link, n), ctx)
    });
    add(reg, lab, "mac", &[2, 3], |ctx, l, all| {
        let c = Call::parse(ctx, all, 2, false)?;
        let link = c.string(ctx, 0, "a link name")?;
        let mac = c.string(ctx, 1, "a MAC address like \"02:00:00:00:00:01\"")?;
        done(l.borrow_mut().mac(&c.ns, &link, &mac), ctx)
    });
    add(reg, lab, "rename", &[2, 3], |ctx, l, all| {
        let c = Call::parse(ctx, all, 2, false)?;
        let link = c.string(ctx, 0, "a link name")?;
        let new = c.string(ctx, 1, "the new link name")?;
        done(l.borrow_mut().rename(&c.ns, &link, &new), ctx)
    });
}

/// A sysctl value as text: a string, an integer, or true/false (1/0).
fn sysctl_value(ctx: &NativeCallContext, v: &Dynamic, n: usize) -> Res<String> {
    if v.is_string() {
        return Ok(v.clone().into_string().expect("checked"));
    }
    if let Ok(i) = v.as_int() {
        return Ok(i.to_string());
    }
    if let Ok(b) = v.as_bool() {
        return Ok(if b { "1" } else { "0" }.into());
    }
    Err(argument_error(
        ctx,
        format!(
            "the {} argument of sysctl must be a value (a string, an integer or true/false), not {}",
            args::ordinal(n),
            args::shown(v)
        ),
    ))
}

/// Whether a string is a sysctl key rather than a namespace, in `sysctl(a, b)`.
fn is_key(s: &str) -> bool {
    s.starts_with("net.") || s.starts_with("net/")
}

fn register_sysctls(reg: &mut Registrar, lab: &SharedLab) {
    add(reg, lab, "forwarding", &[1, 2], |ctx, l, all| {
        let c = Call::parse(ctx, all, 1, false)?;
        let (i, v) = &c.args[0];
        let on = v.as_bool().map_err(|_| {
            argument_error(
                ctx,
                format!("the {} argument of forwarding must be true or false, not {}", args::ordinal(*i), args::shown(v)),
            )
        })?;
        done(l.borrow_mut().forwarding(&c.ns, on), ctx)
    });

    let l = lab.clone();
    reg.add("sysctl", move |ctx: NativeCallContext, key: Dynamic| -> Res<String> {
        let key = args::string(&ctx, &key, 0, "a sysctl key like \"net.ipv4.ip_forward\"")?;
        l.borrow_mut().sysctl_get(&Ns::Root, &key).map_err(|e| lab_error(&ctx, e))
    });
    // sysctl(key, value) sets where nslab runs; sysctl(ns, key) reads in ns. A string first
    // argument is a key when it starts with "net." or "net/".
    let l = lab.clone();
    reg.add("sysctl", move |ctx: NativeCallContext, a: Dynamic, b: Dynamic| -> Res<Dynamic> {
        if let Some(first) = a.clone().into_string().ok().filter(|s| is_key(s)) {
            let value = sysctl_value(&ctx, &b, 1)?;
            return l.borrow_mut().sysctl_set(&Ns::Root, &first, &value).map(|_| Dynamic::UNIT).map_err(|e| lab_error(&ctx, e));
        }
        let key = b.clone().into_string().ok();
        if let Ok(first) = a.clone().into_string() {
            // sysctl("kernel.x", 1): the first argument is a key outside net.*, not a namespace.
            let key_ok = key.as_deref().is_some_and(|k| validate_net::sysctl_key(k).is_ok());
            if !key_ok && first.contains('.') {
                if let Err(e) = validate_net::sysctl_key(&first) {
                    return Err(lab_error(&ctx, e));
                }
            }
        }
        let ns = args::ns(&ctx, &a, 0)?;
        let key = args::string(&ctx, &b, 1, "a sysctl key like \"net.ipv4.ip_forward\"")?;
        l.borrow_mut().sysctl_get(&ns, &key).map(Dynamic::from).map_err(|e| lab_error(&ctx, e))
    });
    let l = lab.clone();
    reg.add("sysctl", move |ctx: NativeCallContext, ns: Dynamic, key: Dynamic, value: Dynamic| -> Res<()> {
        let ns = args::ns(&ctx, &ns, 0)?;
        let key = args::string(&ctx, &key, 1, "a sysctl key like \"net.ipv4.ip_forward\"")?;
        let value = sysctl_value(&ctx, &value, 2)?;
        l.borrow_mut().sysctl_set(&ns, &key, &value).map_err(|e| lab_error(&ctx, e))
    });

    add(reg, lab, "proc_net", &[1, 2], |ctx, l, all| {
        let c = Call::parse(ctx, all, 1, false)?;
        let file = c.string(ctx, 0, "a file name in /proc/net, like \"dev\"")?;
        l.borrow_mut().proc_net(&c.ns, &file).map(Dynamic::from).map_err(|e| lab_error(ctx, e))
    });
}
