//! The calls about the whole lab, in a lab across machines: `pingall` (every machine pings
//! from its hosts to the hosts of all; the matrices are merged) and `topology` (each
//! machine's namespaces, marked with their machine, and the links between machines).

use rhai::{Array, Dynamic, Map};

use super::failure::Res;
use super::native::Call;
use super::remote::{call_on, eval_on};
use super::values_traffic::PingAll;
use crate::lab::inventory::LOCAL;
use crate::lab::pingall::PingMatrix;

/// The hosts of a machine's part of the lab: `[name, [global addresses]]` for each namespace
/// it holds that has one.
const HOSTS: &str = r#"let out = [];
for n in topology().nodes {
    if !n.root {
        let a = addrs(n.name).filter(|x| x.scope == "global").map(|x| x.address);
        if a.len() > 0 { out.push([n.name, a]); }
    }
}
out"#;

/// The hosts named in `__a0` (all of them, with or without an address).
const NAMED_HOSTS: &str = r#"__a0.map(|n| [n, addrs(n).filter(|x| x.scope == "global").map(|x| x.address)])"#;

/// Every machine of the lab, `local` first.
fn machines(c: &Call) -> Vec<String> {
    let m = c.slot().machines().expect("a lab across machines");
    m.inventory().names().into_iter().map(String::from).collect()
}

/// `pingall([#{among, count, timeout}])` across machines.
pub fn pingall(c: &Call) -> Res<Dynamic> {
    let opts = c.opts()?;
    if opts.has("elsewhere") {
        return Err(
            c.error("elsewhere is for a machine's part of pingall; in a lab across machines every machine takes part already")
        );
    }
    let among: Option<Array> = match opts.get("among") {
        None => None,
        Some(v) => Some(v.clone().try_cast::<Array>().ok_or_else(|| {
            c.error(format!("the among option of pingall must be an array of namespaces, not {}", super::args::shown(v)))
        })?),
    };
    // Each machine's hosts.
    let mut hosts: Vec<(String, Array)> = Vec::new();
    for m in machines(c) {
        let list = match &among {
            None => eval_on(c, &m, HOSTS, vec![])?,
            Some(names) => {
                let here: Array = {
                    let placed = c.slot().machines().expect("spans");
                    names
                        .iter()
                        .filter(|n| super::remote::ns_name(n).is_some_and(|name| placed.machine_of(&name) == m))
                        .map(|n| Dynamic::from(super::remote::ns_name(n).expect("checked")))
                        .collect()
                };
                if here.is_empty() {
                    continue;
                }
                eval_on(c, &m, NAMED_HOSTS, vec![here.into()])?
            }
        };
        let list = list.try_cast::<Array>().unwrap_or_default();
        if !list.is_empty() {
            hosts.push((m, list));
        }
    }
    let mut parts = Vec::new();
    for (m, mine) in &hosts {
        let mut elsewhere = Map::new();
        for (other, list) in &hosts {
            if other == m {
                continue;
            }
            for host in list {
                let pair = host.clone().try_cast::<Array>().unwrap_or_default();
                if let (Some(name), Some(addrs)) = (pair.first(), pair.get(1)) {
                    elsewhere.insert(name.to_string().into(), addrs.clone());
                }
            }
        }
        let names: Array = mine.iter().filter_map(|h| h.clone().try_cast::<Array>().and_then(|p| p.first().cloned())).collect();
        let mut o = Map::new();
        for key in ["count", "timeout"] {
            if let Some(v) = opts.get(key) {
                o.insert(key.into(), v.clone());
            }
        }
        o.insert("among".into(), names.into());
        o.insert("elsewhere".into(), elsewhere.into());
        let part = call_on(c, m, "pingall", vec![o.into()])?;
        let part =
            part.try_cast::<PingAll>().ok_or_else(|| c.error(format!("machine {m} answered pingall with something else")))?;
        parts.push(part.0);
    }
    if parts.is_empty() {
        return call_on(c, LOCAL, "pingall", vec![]);
    }
    Ok(Dynamic::from(PingAll(PingMatrix::merged(parts))))
}

/// `topology()` across machines: the nodes of every machine (each with its `machine`), their
/// edges, and an edge `vxlan` for each link between machines.
pub fn topology(c: &Call) -> Res<Dynamic> {
    let mut nodes = Array::new();
    let mut edges = Array::new();
    let mut lab = Dynamic::UNIT;
    for m in machines(c) {
        let t = call_on(c, &m, "topology", vec![])?.try_cast::<Map>().unwrap_or_default();
        if m == LOCAL {
            lab = t.get("lab").cloned().unwrap_or_default();
        }
        for node in t.get("nodes").cloned().and_then(|n| n.try_cast::<Array>()).unwrap_or_default() {
            let mut node = node.try_cast::<Map>().unwrap_or_default();
            // Every machine has a root namespace: it is named by its machine.
            if node.get("root").and_then(|r| r.as_bool().ok()) == Some(true) && m != LOCAL {
                node.insert("name".into(), format!("root@{m}").into());
            }
            node.insert("machine".into(), m.clone().into());
            nodes.push(node.into());
        }
        for edge in t.get("edges").cloned().and_then(|e| e.try_cast::<Array>()).unwrap_or_default() {
            let mut edge = edge.try_cast::<Map>().unwrap_or_default();
            edge.insert("machine".into(), m.clone().into());
            edges.push(edge.into());
        }
    }
    let cross = c.slot().machines().expect("spans").cross.clone();
    for link in cross {
        let end = |e: &crate::lab::machines::End| {
            let mut m = Map::new();
            m.insert("node".into(), e.ns.clone().into());
            m.insert("link".into(), e.link.clone().into());
            m.insert("machine".into(), e.machine.clone().into());
            Dynamic::from(m)
        };
        let mut edge = Map::new();
        edge.insert("kind".into(), "vxlan".into());
        edge.insert("from".into(), end(&link.a));
        edge.insert("to".into(), end(&link.b));
        edge.insert("vni".into(), i64::from(link.vni).into());
        edge.insert("port".into(), i64::from(link.port).into());
        edge.insert("mtu".into(), i64::from(link.mtu).into());
        edges.push(edge.into());
    }
    let mut out = Map::new();
    out.insert("lab".into(), lab);
    out.insert("nodes".into(), nodes.into());
    out.insert("edges".into(), edges.into());
    Ok(out.into())
}
