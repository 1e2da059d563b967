//! Links, addresses and inspection as script functions.

use rhai::{Array, Dynamic, NativeCallContext};

use super::args;
use super::bindings::{Registrar, SharedLab};
use super::failure::{argument_error, lab_error, Res};
use super::values::{addr_map, link_map};
use crate::engine::netlink::LinkOptions;
use crate::lab::{validate_net, Ns};

pub fn register(reg: &mut Registrar, lab: &SharedLab) {
    register_links(reg, lab);
    register_inspection(reg, lab);
}

/// A veth's options: `mtu` (both ends), `up` (both ends, at birth), `master` (a bridge in the
/// first end's namespace, joined at birth), `queues` (transmit and receive queues per end).
/// `name` is the first end's, for messages.
fn link_options(lab: &SharedLab, ctx: &NativeCallContext, ns: &Ns, name: &str, v: &Dynamic, n: usize) -> Res<LinkOptions> {
    let m = args::map(ctx, v, n, &["mtu", "up", "master", "queues"])?;
    let mut opts = LinkOptions::default();
    if let Some(mtu) = m.get("mtu") {
        let mtu = args::integer(ctx, mtu, "the mtu option")?;
        opts.mtu = Some(validate_net::link_mtu(mtu, "veth", name).map_err(|e| lab_error(ctx, e))?);
    }
    if let Some(up) = m.get("up") {
        opts.up = up
            .as_bool()
            .map_err(|_| argument_error(ctx, format!("the up option of veth must be true or false, not {}", args::shown(up))))?;
    }
    if let Some(queues) = m.get("queues") {
        let queues = args::integer(ctx, queues, "the queues option")?;
        opts.queues = Some(validate_net::veth_queues(queues, name).map_err(|e| lab_error(ctx, e))?);
    }
    if let Some(master) = m.get("master") {
        let master = args::string(ctx, master, n, "the master option (a bridge name)")?;
        opts.master = Some(lab.borrow_mut().master_index(ns, &master, name).map_err(|e| lab_error(ctx, e))?);
    }
    Ok(opts)
}

/// `up`/`down`; an `up` the lab holds back (a bridge's, see `lab/holding.rs`) is noted here.
fn set_up(lab: &SharedLab, ctx: &NativeCallContext, ns: &Ns, link: &str, up: bool) -> Res<()> {
    let mut l = lab.borrow_mut();
    let outcome = l.set_up(ns, link, up).map_err(|e| lab_error(ctx, e))?;
    lab.held().note(ctx, outcome, &l);
    Ok(())
}

/// `veth`; a pair the lab holds back is noted here.
fn veth(lab: &SharedLab, ctx: &NativeCallContext, ends: (&Ns, &str, &Ns, &str), opts: &LinkOptions) -> Res<()> {
    let mut l = lab.borrow_mut();
    let outcome = l.veth(ends.0, ends.1, ends.2, ends.3, opts).map_err(|e| lab_error(ctx, e))?;
    lab.held().note(ctx, outcome, &l);
    Ok(())
}

fn register_links(reg: &mut Registrar, lab: &SharedLab) {
    let l = lab.clone();
    reg.add("veth", move |ctx: NativeCallContext, name: Dynamic, peer: Dynamic| -> Res<()> {
        let (name, peer) = (args::string(&ctx, &name, 0, "a link name")?, args::string(&ctx, &peer, 1, "a link name")?);
        veth(&l, &ctx, (&Ns::Root, &name, &Ns::Root, &peer), &LinkOptions::default())
    });
    let l = lab.clone();
    reg.add("veth", move |ctx: NativeCallContext, a: Dynamic, b: Dynamic, c: Dynamic| -> Res<()> {
        // veth(name, peer, #{opts}) or veth(ns, name, peer)
        let (ns, name, peer, opts) = if args::is_map(&c) {
            let name = args::string(&ctx, &a, 0, "a link name")?;
            let peer = args::string(&ctx, &b, 1, "a link name")?;
            let opts = link_options(&l, &ctx, &Ns::Root, &name, &c, 2)?;
            (Ns::Root, name, peer, opts)
        } else {
            (
                args::ns(&ctx, &a, 0)?,
                args::string(&ctx, &b, 1, "a link name")?,
                args::string(&ctx, &c, 2, "a link name")?,
                LinkOptions::default(),
            )
        };
        veth(&l, &ctx, (&ns, &name, &ns, &peer), &opts)
    });
    let l = lab.clone();
    reg.add("veth", move |ctx: NativeCallContext, a: Dynamic, b: Dynamic, c: Dynamic, d: Dynamic| -> Res<()> {
        // veth(ns, name, peer, #{opts}) or veth(ns, name, peer_ns, peer)
        let ns = args::ns(&ctx, &a, 0)?;
        let name = args::string(&ctx, &b, 1, "a link name")?;
        let (peer_ns, peer, opts) = if args::is_map(&d) {
            (ns.clone(), args::string(&ctx, &c, 2, "a link name")?, link_options(&l, &ctx, &ns, &name, &d, 3)?)
        } else {
            (args::ns(&ctx, &c, 2)?, args::string(&ctx, &d, 3, "a link name")?, LinkOptions::default())
        };
        veth(&l, &ctx, (&ns, &name, &peer_ns, &peer), &opts)
    });
    let l = lab.clone();
    reg.add("veth", move |ctx: NativeCallContext, a: Dynamic, b: Dynamic, c: Dynamic, d: Dynamic, o: Dynamic| -> Res<()> {
        let ns = args::ns(&ctx, &a, 0)?;
        let name = args::string(&ctx, &b, 1, "a link name")?;
        let peer_ns = args::ns(&ctx, &c, 2)?;
        let peer = args::string(&ctx, &d, 3, "a link name")?;
        let opts = link_options(&l, &ctx, &ns, &name, &o, 4)?;
        veth(&l, &ctx, (&ns, &name, &peer_ns, &peer), &opts)
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
            set_up(&l, &ctx, &Ns::Root, &link, up)
        });
        let l = lab.clone();
        reg.add(name, move |ctx: NativeCallContext, ns: Dynamic, link: Dynamic| -> Res<()> {
            let ns = args::ns(&ctx, &ns, 0)?;
            let link = args::string(&ctx, &link, 1, "a link name")?;
            set_up(&l, &ctx, &ns, &link, up)
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
        let link = l.borrow_mut().link(&ns, &name).map_err(|e| lab_error(ctx, e))?;
        Ok(link_map(link))
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
