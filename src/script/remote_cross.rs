//! The calls that span machines: a veth between namespaces on two machines becomes a
//! point-to-point link of two VXLAN devices (one per machine, the same VNI, each other's
//! underlay address as remote), each created from its machine's underlay namespace and born in
//! the lab's namespace; a reachability check against a namespace on another machine resolves
//! that namespace's addresses there; a throughput test runs its receiving half on one machine
//! and its sending half on the other. Anything else across machines is refused, saying why.

use rhai::{Array, Dynamic, Map};

use super::failure::{CallFailure, Res};
use super::native::Call;
use super::remote::{call_on, eval_on, ns_name, step_on};
use super::values::Netns;
use crate::lab::inventory::{Machine, LOCAL};
use crate::lab::machines::{CrossLink, End};

/// How many VNIs a link across machines tries before giving up (each clash is another lab's
/// or the machine's own VXLAN link on the same port).
const VNI_TRIES: usize = 16;

/// The call `c`, whose namespaces live on the machines `machines` (position, machine).
pub fn across(c: &Call, machines: &[(usize, String)]) -> Res<Dynamic> {
    let name = c.ctx().fn_name();
    let on = |at: usize| machines.iter().find(|(i, _)| *i == at).map(|(_, m)| m.as_str()).unwrap_or(LOCAL);
    match name {
        "veth" if c.len() >= 4 => veth(c, on(0), on(2)),
        "expect_reach" | "expect_no_reach" if machines.iter().any(|(i, _)| *i == 1) => reach(c, on(0), on(1)),
        "move_to" if c.len() == 3 => move_across(c, on(0), on(2)),
        "move_to" => move_across(c, LOCAL, on(1)),
        "throughput" => throughput(c, on(0), on(1)),
        _ => {
            let mut shown: Vec<String> = machines
                .iter()
                .map(|(i, m)| format!("{} on {m}", ns_name(c.raw(*i)).unwrap_or_else(|| super::args::shown(c.raw(*i)))))
                .collect();
            shown.dedup();
            Err(c
                .error(format!(
                    "{name} acts on namespaces on different machines ({}): only veth (links), expect_reach, pingall, throughput and topology span machines",
                    shown.join(", ")
                )))
        }
    }
}

/// The root namespace of `machine`, as a handle.
fn root_of(machine: &str) -> Dynamic {
    Dynamic::from(Netns { name: None, on: (machine != LOCAL).then(|| machine.to_string()) })
}

/// `veth(a, x, b, y[, #{mtu, up, master}])` with `a` and `b` on different machines.
fn veth(c: &Call, ma: &str, mb: &str) -> Res<Dynamic> {
    let opts = c.opts()?;
    if opts.has("queues") {
        return Err(c.error("the queues option is for veth pairs; a link between machines is a pair of VXLAN links"));
    }
    let (x, y) = (c.string("name", "the link's name")?, c.string("peer", "the peer's name")?);
    let pair = Pair { a: c.raw(0).clone(), x, b: c.raw(2).clone(), y };
    pair.make(c, ma, mb, opts.integer("mtu")?, opts.boolean("up")?.unwrap_or(false), opts.get("master").cloned())
}

/// `move_to(from_ns, link, to_ns)` of one end of a veth pair to a namespace on another
/// machine: the pair becomes a link across machines, the end that stays keeps its addresses,
/// state and bridge, and the end that moved arrives down and without addresses, as a move
/// leaves a link.
fn move_across(c: &Call, from_m: &str, to_m: &str) -> Res<Dynamic> {
    let three = c.len() == 3;
    let (from, link, to) = if three {
        (c.raw(0).clone(), c.raw(1).clone(), c.raw(2).clone())
    } else {
        (root_of(LOCAL), c.raw(0).clone(), c.raw(1).clone())
    };
    let link_name = link.to_string();
    let field = |m: &Map, k: &str| m.get(k).map(|v| v.to_string()).unwrap_or_default();
    let info = call_on(c, from_m, "link", vec![from.clone(), link.clone()])?.try_cast::<Map>().unwrap_or_default();
    let kind = field(&info, "kind");
    if kind != "veth" {
        let what = if kind.is_empty() { "a device".to_string() } else { format!("a {kind} link") };
        return Err(c
            .error(format!(
                "{link_name:?} is {what}: a link cannot move from {from_m} to {to_m}; one end of a veth pair can (the pair becomes a VXLAN link on each machine)"
            )));
    }
    let peer = field(&info, "peer");
    if peer.is_empty() {
        return Err(
            c.error(format!("the peer of {link_name:?} is not known: only a veth pair the lab made can move between machines"))
        );
    }
    let peer_ns = match field(&info, "peer_netns").as_str() {
        "" => from.clone(),
        "root" => root_of(from_m),
        name => Dynamic::from(Netns { name: Some(name.into()), on: (from_m != LOCAL).then(|| from_m.to_string()) }),
    };
    let stays = call_on(c, from_m, "link", vec![peer_ns.clone(), peer.clone().into()])?.try_cast::<Map>().unwrap_or_default();
    step_on(c, from_m, "link_del", vec![from, link])?;
    let pair = Pair { a: peer_ns.clone(), x: peer.clone(), b: to, y: link_name };
    let _ = pair.make(c, from_m, to_m, None, false, None)?;
    let addresses = stays.get("addresses").cloned().and_then(|a| a.try_cast::<Array>()).unwrap_or_default();
    for cidr in addresses.iter().map(|a| a.to_string()).filter(|a| !a.starts_with("fe80:")) {
        step_on(c, from_m, "addr", vec![peer_ns.clone(), peer.clone().into(), cidr.into()])?;
    }
    if field(&stays, "state") == "up" {
        step_on(c, from_m, "up", vec![peer_ns.clone(), peer.clone().into()])?;
    }
    let master = field(&stays, "master");
    if !master.is_empty() {
        step_on(c, from_m, "master", vec![peer_ns, peer.into(), master.into()])?;
    }
    Ok(Dynamic::UNIT)
}

/// A link between namespace `a` (link `x`) and namespace `b` (link `y`) on two machines.
struct Pair {
    a: Dynamic,
    x: String,
    b: Dynamic,
    y: String,
}

impl Pair {
    fn make(&self, c: &Call, ma: &str, mb: &str, mtu: Option<i64>, up: bool, master: Option<Dynamic>) -> Res<Dynamic> {
        let Pair { a, x, b, y } = self;
        let label = |v: &Dynamic| ns_name(v).unwrap_or_else(|| "root".into());
        let (a_name, b_name) = (label(a), label(b));
        crate::lab::validate::link_name(x).map_err(|e| super::failure::lab_error(c.ctx(), e))?;
        crate::lab::validate::link_name(y).map_err(|e| super::failure::lab_error(c.ctx(), e))?;
        let (ua, ub) = {
            let machines = c.slot().machines().expect("a lab across machines");
            let inv = machines.inventory();
            (inv.machine(ma).expect("known").clone(), inv.machine(mb).expect("known").clone())
        };
        let overhead: i64 = if ua.address.is_ipv4() { 50 } else { 70 };
        let mtu = match mtu {
            Some(m) => m,
            None => {
                // Read once per machine: the underlay is the machine's, not the lab's.
                let mtu_of = |m: &str, dev: &str| -> Res<i64> {
                    if let Some(known) = c.slot().machines().expect("spans").underlay_mtu(m) {
                        return Ok(known);
                    }
                    let mtu = eval_on(c, m, "link(__a0, __a1).mtu", vec![root_of(m), dev.into()])?
                        .as_int()
                        .map_err(|_| c.error(format!("the MTU of {dev} on {m} is not a number")))?;
                    c.slot().machines().expect("spans").note_underlay_mtu(m, mtu);
                    Ok(mtu)
                };
                mtu_of(ma, &ua.dev)?.min(mtu_of(mb, &ub.dev)?) - overhead
            }
        };
        let end = |m: &str, ns: &Dynamic, link: &str, me: &Machine, other: &Machine, vni: u32, port: u16| {
            let mut o = Map::new();
            o.insert("id".into(), i64::from(vni).into());
            o.insert("local".into(), me.address.to_string().into());
            o.insert("remote".into(), other.address.to_string().into());
            o.insert("dev".into(), me.dev.clone().into());
            o.insert("port".into(), i64::from(port).into());
            o.insert("mtu".into(), mtu.into());
            o.insert("learning".into(), false.into());
            o.insert("underlay".into(), root_of(m));
            // Each lab picks its VNIs afresh (and skips taken ones): no need to free them early.
            o.insert("linger".into(), true.into());
            // Born up when asked: one request instead of two, and one round trip per end.
            o.insert("up".into(), up.into());
            call_on(c, m, "vxlan", vec![ns.clone(), link.into(), o.into()])
        };
        let mut made = None;
        for _ in 0..VNI_TRIES {
            let (vni, port) = c.slot().machines().expect("spans").next_vni();
            if let Err(e) = end(ma, a, x, &ua, &ub, vni, port) {
                if vni_taken(&e) {
                    continue;
                }
                return Err(e);
            }
            if let Err(e) = end(mb, b, y, &ub, &ua, vni, port) {
                // Nothing half made: the first end goes.
                let _ = call_on(c, ma, "link_del", vec![a.clone(), x.into()]);
                if vni_taken(&e) {
                    continue;
                }
                return Err(e);
            }
            made = Some((vni, port));
            break;
        }
        let Some((vni, port)) = made else {
            return Err(c.error(format!("no free VNI for {x} in {VNI_TRIES} tries: the machines' VXLAN links use them")));
        };

        if let Some(master) = master {
            step_on(c, ma, "master", vec![a.clone(), x.into(), master])?;
        }
        let mut machines = c.slot().machines().expect("spans");
        machines.notice(&format!(
            "the link {a_name}/{x} ({ma}) - {b_name}/{y} ({mb}) is VXLAN VNI {vni} over UDP port {port}: MTU {mtu} ({} - {overhead} of encapsulation)",
            mtu + overhead
        ));
        machines.cross.push(CrossLink {
            a: End { machine: ma.into(), ns: a_name, link: x.clone() },
            b: End { machine: mb.into(), ns: b_name, link: y.clone() },
            vni,
            port,
            mtu: mtu as u32,
        });
        Ok(Dynamic::UNIT)
    }
}

/// Whether a failure is the kernel's "this VNI is already used on this port".
fn vni_taken(e: &rhai::EvalAltResult) -> bool {
    let rhai::EvalAltResult::ErrorRuntime(v, _) = e else { return false };
    v.read_lock::<CallFailure>().is_some_and(|f| f.message.contains("VNI ") && f.message.contains(" is taken on UDP port "))
}

/// `expect_reach(a, b)` (or `expect_no_reach`) with namespace `b` on another machine than `a`:
/// `b`'s global addresses, read where it lives, are checked from `a`'s machine.
fn reach(c: &Call, from: &str, to: &str) -> Res<Dynamic> {
    let dst = c.raw(1).clone();
    let label = ns_name(&dst).unwrap_or_default();
    let addrs = eval_on(c, to, r#"addrs(__a0).filter(|a| a.scope == "global").map(|a| a.address)"#, vec![dst])?;
    let list: Array = addrs.clone().try_cast::<Array>().unwrap_or_default();
    let shown: Vec<String> = list.iter().map(|a| a.to_string()).collect();
    let mut args = vec![c.raw(0).clone(), addrs];
    if c.len() > 2 {
        args.push(c.raw(2).clone());
    }
    call_on(c, from, c.ctx().fn_name(), args).map_err(|mut e| {
        if let rhai::EvalAltResult::ErrorRuntime(v, _) = e.as_mut() {
            if let Some(mut f) = v.write_lock::<CallFailure>() {
                let was = shown.join(", ");
                let now = if shown.is_empty() { format!("{label} on {to}") } else { format!("{label} ({was}) on {to}") };
                f.message = f.message.replacen(&was, &now, 1);
            }
        }
        e
    })
}

/// `throughput(from, to[, opts])` with `from` and `to` on two machines: a receiver started on
/// `to`'s machine, a sender on `from`'s, then the receiver's count; the same value the
/// function gives on one machine.
fn throughput(c: &Call, from_m: &str, to_m: &str) -> Res<Dynamic> {
    let opts = c.opts()?;
    let udp = opts.boolean("udp")?.unwrap_or(false);
    opts.seconds_in("seconds", 0.01, 3600.0)?;
    if let Some(p) = opts.integer("port")? {
        if !(1..=65535).contains(&p) {
            return Err(c.error(format!("the port option of throughput must be from 1 to 65535, not {p}")));
        }
    }
    if opts.has("rate") && !udp {
        return Err(c.error("the rate option of throughput paces UDP: add udp: true (TCP takes what the path gives)"));
    }
    let pick = |keys: &[&str]| {
        let mut m: Map = keys.iter().filter_map(|k| opts.get(k).map(|v| ((*k).into(), v.clone()))).collect();
        m.insert("udp".into(), udp.into());
        Dynamic::from(m)
    };
    let receiving =
        named(to_m, call_on(c, to_m, "throughput_receive", vec![c.raw(1).clone(), pick(&["port", "seconds", "dst"])]))?;
    let r = receiving.try_cast::<Map>().unwrap_or_default();
    let field = |k: &str| r.get(k).cloned().unwrap_or(Dynamic::UNIT);
    let id = field("id");
    let sending =
        call_on(c, from_m, "throughput_send", vec![c.raw(0).clone(), field("dst"), field("port"), pick(&["seconds", "rate"])]);
    let sent = match named(from_m, sending) {
        Ok(s) => s.try_cast::<Map>().unwrap_or_default(),
        Err(e) => {
            // The receiver goes (it waits a moment for a connection that will not come).
            let _ = call_on(c, to_m, "throughput_result", vec![id]);
            return Err(e);
        }
    };
    let received = named(to_m, call_on(c, to_m, "throughput_result", vec![id]))?.try_cast::<Map>().unwrap_or_default();
    if udp {
        return Ok(super::defs_throughput_parts::udp_map(&sent, &received));
    }
    Ok(received.get("bps").cloned().unwrap_or(Dynamic::from(0.0)))
}

/// A failure of a part run on this machine says so, as those of other machines do.
fn named(machine: &str, out: Res<Dynamic>) -> Res<Dynamic> {
    out.map_err(|mut e| {
        if machine == LOCAL {
            if let rhai::EvalAltResult::ErrorRuntime(v, _) = e.as_mut() {
                if let Some(mut f) = v.write_lock::<CallFailure>() {
                    f.message = format!("on {LOCAL}: {}", f.message);
                }
            }
        }
        e
    })
}

/// How many links between machines an explanation follows.
const ONWARD_MACHINES: usize = 8;

/// `expect_reach` in a lab across machines: run where it belongs (`routed`; None: here), and
/// when it fails and the path leaves over a link between machines, the explanation goes on
/// from the far end, machine after machine, and the message names where the path went.
pub fn reach_onward(c: &Call, routed: Option<Res<Dynamic>>) -> Res<Dynamic> {
    let out = routed.unwrap_or_else(|| super::remote::here_only(c, || super::remote::run_here(c, super::remote::args_of(c))));
    let Err(mut err) = out else { return out };
    let dst = c.raw(1).clone().into_string().ok().filter(|t| t.parse::<std::net::IpAddr>().is_ok());
    let (Some(dst), Some(from)) = (dst, ns_name(c.raw(0)).or_else(|| c.raw(0).is_unit().then(|| "root".into()))) else {
        return Err(err);
    };
    let from_m = super::remote::where_each(c).into_iter().find(|(i, _)| *i == 0).map(|(_, m)| m).unwrap_or_else(|| LOCAL.into());
    let (lines, went, changed) = onward(c, &from_m, c.raw(0).clone(), &from, &dst);
    if lines.is_empty() {
        return Err(err);
    }
    if let rhai::EvalAltResult::ErrorRuntime(v, _) = err.as_mut() {
        if let Some(mut f) = v.write_lock::<CallFailure>() {
            f.message = format!("{} (the path crosses to {})", f.message, went.join(", then "));
            let mut hint = f.hint.take().unwrap_or_default();
            for (unseen, seen) in &changed {
                hint = hint.replace(unseen, seen);
            }
            f.hint = Some(if hint.is_empty() { lines.join("\n") } else { format!("{hint}\n{}", lines.join("\n")) });
        }
    }
    Err(err)
}

/// The explanation past the links between machines the path from `from` (on `machine`) to
/// `dst` takes: its lines, and where it went ("r on m3").
/// And the words changed on the way: (what the near side said of the next hop, what it is).
#[allow(clippy::type_complexity)]
fn onward(c: &Call, machine: &str, ns: Dynamic, name: &str, dst: &str) -> (Vec<String>, Vec<String>, Vec<(String, String)>) {
    let (mut lines, mut went): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    let mut pending: Vec<(String, String)> = Vec::new();
    let (mut m, mut ns, mut name) = (machine.to_string(), ns, name.to_string());
    let mut source: Option<String> = None;
    for _ in 0..ONWARD_MACHINES {
        let Ok(r) = eval_on(c, &m, "route_get(__a0, __a1)", vec![ns.clone(), dst.into()]) else { break };
        let r = r.try_cast::<Map>().unwrap_or_default();
        let dev = r.get("dev").map(|d| d.to_string()).unwrap_or_default();
        if source.is_none() {
            source = r.get("src").map(|s| s.to_string()).filter(|s| !s.is_empty());
        }
        let Some(src) = source.clone() else { break };
        let link = {
            let machines = c.slot().machines().expect("spans");
            machines.cross.iter().find_map(|l| {
                let here = |e: &End| e.machine == m && e.ns == name && e.link == dev;
                if here(&l.a) {
                    Some((l.b.clone(), l.vni))
                } else if here(&l.b) {
                    Some((l.a.clone(), l.vni))
                } else {
                    None
                }
            })
        };
        let Some((far, vni)) = link else { break };
        // The next hop is over there: the line that says no namespace has it is about this one.
        let next_hop = r.get("via").map(|v| v.to_string()).filter(|v| !v.is_empty()).unwrap_or_else(|| dst.to_string());
        let unseen = format!("{next_hop} is not an address of any namespace nslab can see");
        let seen = format!("{next_hop} is on {} (its part of the path is below)", far.machine);
        for line in lines.iter_mut() {
            *line = line.replace(&unseen, &seen);
        }
        pending.push((unseen, seen));
        lines.push(format!(
            "{name} on {m} sends it over {dev}, a link to {} ({}) on {} (VXLAN VNI {vni}); there:",
            far.ns, far.link, far.machine
        ));
        let far_ns = if far.ns == "root" {
            root_of(&far.machine)
        } else {
            Dynamic::from(Netns { name: Some(far.ns.clone()), on: (far.machine != LOCAL).then(|| far.machine.clone()) })
        };
        let mut o = Map::new();
        o.insert("arrived_from".into(), src.into());
        match eval_on(c, &far.machine, "explain(__a0, __a1, __a2)", vec![far_ns.clone(), dst.into(), o.into()]) {
            Ok(more) => lines.extend(more.try_cast::<Array>().unwrap_or_default().into_iter().map(|l| format!("  {l}"))),
            Err(_) => break,
        }
        went.push(format!("{} on {}", far.ns, far.machine));
        (m, ns, name) = (far.machine, far_ns, far.ns);
    }
    (lines, went, pending)
}
