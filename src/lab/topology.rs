//! A lab's topology read back from the kernel: its namespaces with their links (kind, state,
//! MTU, MAC, veth peer, bridge master, vxlan and macvlan settings, root qdisc), addresses,
//! routes, forwarding and changed sysctls, and the edges between them (veth pairs, bridge ports,
//! vxlan overlays, macvlan and vlan parents). The same shape serves `nslab graph`, `topology()`
//! in scripts and `nslab export --ip`; its JSON form is documented in docs/topology.md.
//!
//! It is read, not remembered: a kept lab is read through a lab that made nothing (see
//! [`Scope::of_record`]), so what is drawn is what the kernel holds.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::ledger::{Object, Record};
use super::{Lab, LabError, Ns, Result};
use crate::engine::netlink::AddrInfo;
use crate::engine::route::RouteInfo;
use crate::engine::tc::QdiscInfo;
use crate::engine::topo::{self, LinkDetail};
use crate::engine::EngineError;

/// The sysctls a topology reports when they differ from a fresh namespace's, in the order an
/// export sets them (`default` before links exist, so that new links take it).
pub const WATCHED_SYSCTLS: &[&str] = &[
    "net.ipv4.ip_forward",
    "net.ipv6.conf.all.forwarding",
    "net.ipv6.conf.default.forwarding",
    "net.ipv4.conf.all.rp_filter",
    "net.ipv4.conf.default.rp_filter",
    "net.ipv4.conf.all.proxy_arp",
    "net.ipv4.conf.all.accept_redirects",
    "net.ipv4.conf.all.send_redirects",
    "net.ipv4.conf.all.arp_ignore",
    "net.ipv4.conf.all.arp_announce",
    "net.ipv4.ping_group_range",
    "net.ipv6.conf.all.disable_ipv6",
    "net.ipv6.conf.default.disable_ipv6",
    "net.ipv6.conf.all.accept_dad",
    "net.ipv6.conf.default.accept_dad",
    "net.ipv6.conf.all.accept_ra",
    "net.ipv6.conf.default.accept_ra",
];

/// A lab's namespaces, links, addresses, routes and the edges between them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Topology {
    /// The lab's name.
    pub lab: String,
    /// The root namespace first (when links of the lab live there), then the lab's namespaces
    /// by name.
    pub nodes: Vec<Node>,
    /// Veth pairs, bridge ports, vxlan overlays, macvlan and vlan parents.
    pub edges: Vec<Edge>,
}

/// A namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// The namespace's name; the root namespace is "root" (or "root namespace" when the lab has
    /// a namespace called "root").
    pub name: String,
    /// True for the namespace nslab runs in.
    pub root: bool,
    /// The machine it lives on, in a lab across machines (`nslab graph --hosts`); left out
    /// of a lab on one machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
    /// IPv4 and IPv6 forwarding (net.ipv4.ip_forward, net.ipv6.conf.all.forwarding).
    pub forwarding: Forwarding,
    /// Its links, by name (in the root namespace: only the lab's and those its links lead to).
    pub links: Vec<Link>,
    /// Its main routing table (in the root namespace: only routes through the links shown).
    pub routes: Vec<Route>,
    /// Routes in other tables that the kernel did not make (policy routing; none listed in the
    /// root namespace).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<Route>,
    /// The watched sysctls whose values differ from a fresh namespace's (in the root namespace:
    /// those the lab's ledger records), by key.
    pub sysctls: BTreeMap<String, String>,
    /// Policy routing rules beyond the three every namespace starts with (none listed in the
    /// root namespace).
    pub rules: Vec<PolicyRule>,
    /// Permanent neighbour entries and proxy entries on the links shown (learned ones are left
    /// out: traffic makes them).
    pub neighbours: Vec<Neighbour>,
}

/// A policy routing rule, as `ip -j rule` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyRule {
    /// "inet" or "inet6".
    pub family: String,
    pub priority: u32,
    pub from: Option<String>,
    pub to: Option<String>,
    pub iif: Option<String>,
    pub oif: Option<String>,
    /// 0: no mark match.
    pub fwmark: u32,
    pub fwmask: Option<u32>,
    /// "lookup", "blackhole", "unreachable", "prohibit", ...
    pub action: String,
    /// The table looked up (0 for other actions).
    pub table: u32,
    /// Who added it (0: unspecified; nslab's are 110).
    pub protocol: u8,
}

/// A neighbour entry someone set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Neighbour {
    pub ip: String,
    pub link: String,
    /// Empty for a proxy entry.
    pub mac: String,
    pub proxy: bool,
    pub router: bool,
}

/// Forwarding in a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Forwarding {
    pub ipv4: bool,
    pub ipv6: bool,
}

/// A link end in a namespace: where an edge starts or ends.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct End {
    /// The node (namespace) name.
    pub node: String,
    /// The link's name there.
    pub link: String,
}

/// A link, as `ip -d -j link` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub name: String,
    pub index: u32,
    /// "veth", "bridge", "vxlan", "macvlan", ...; empty for lo.
    pub kind: String,
    /// "up" or "down" (administrative).
    pub state: String,
    pub mtu: u32,
    pub mac: String,
    /// The bridge (or bond, vrf) it is a port of.
    pub master: Option<String>,
    /// A veth's other end.
    pub peer: Option<End>,
    /// A macvlan's or vlan's parent link.
    pub parent: Option<End>,
    pub vxlan: Option<Vxlan>,
    pub macvlan_mode: Option<String>,
    pub vlan_id: Option<u16>,
    /// Addresses as CIDRs, IPv4 first.
    pub addresses: Vec<String>,
    /// The root qdisc someone configured (not the kernel's default one).
    pub qdisc: Option<Qdisc>,
}

/// A vxlan's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vxlan {
    pub id: u32,
    pub local: Option<String>,
    pub remote: Option<String>,
    /// The underlay link, in the same namespace.
    pub dev: Option<String>,
    pub port: Option<u16>,
}

/// A root qdisc. `rate` (bytes/s), `burst` and `limit` (bytes) for tbf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Qdisc {
    pub kind: String,
    /// As tc writes it ("1ab0:").
    pub handle: String,
    pub rate: Option<u64>,
    pub burst: Option<u32>,
    pub limit: Option<u32>,
}

/// A route of the main table, as `ip -j route` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    /// Its table, when not main (254).
    #[serde(skip_serializing_if = "is_main_table", default = "main_table")]
    pub table: u32,
    /// "default" or a CIDR.
    pub dst: String,
    pub via: Option<String>,
    pub dev: Option<String>,
    pub metric: Option<u32>,
    /// "kernel", "static", "nslab", ... (`ip route` shows nslab's as 110).
    pub protocol: String,
    pub protocol_number: u8,
    pub scope: String,
    /// "inet" or "inet6".
    pub family: String,
    /// "unicast", "blackhole", "unreachable", "prohibit", "throw", ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The preferred source address.
    pub src: Option<String>,
    pub onlink: bool,
    /// A multipath route's paths (empty otherwise).
    pub nexthops: Vec<NextHop>,
}

fn is_main_table(table: &u32) -> bool {
    *table == MAIN_TABLE
}

fn main_table() -> u32 {
    MAIN_TABLE
}

/// The kernel's main routing table.
const MAIN_TABLE: u32 = 254;

/// One path of a multipath route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NextHop {
    pub via: Option<String>,
    pub dev: Option<String>,
    pub weight: u16,
    pub onlink: bool,
}

/// What joins two link ends.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Edge {
    /// "veth" (from one end to the other), "bridge" (from a port to its bridge), "vxlan"
    /// (between two tunnel ends of one id), "macvlan" or "vlan" (from the link to its parent).
    pub kind: String,
    pub from: End,
    pub to: End,
}

/// Which namespaces and root-namespace objects make up a lab.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// The lab's name.
    pub name: String,
    /// Its named namespaces.
    pub namespaces: Vec<String>,
    /// Links the lab made in the root namespace, by name.
    pub root_links: Vec<String>,
    /// Sysctls the lab set outside its namespaces: (namespace or None for root, key, value).
    pub foreign_sysctls: Vec<(Option<String>, String, String)>,
}

impl Scope {
    /// The scope of a lab that outlived its run, from what its ledger lists.
    pub fn of_record(rec: &Record) -> Scope {
        let mut scope = Scope { name: rec.header.name.clone(), ..Scope::default() };
        for o in rec.standing() {
            match o {
                Object::Netns { name, .. } => scope.namespaces.push(name),
                Object::Link { ns: None, name, .. } => scope.root_links.push(name),
                Object::Sysctl { ns, key, new, .. } => scope.foreign_sysctls.push((ns, key.replace('/', "."), new)),
                _ => {}
            }
        }
        scope.namespaces.sort();
        scope.namespaces.dedup();
        scope
    }
}

/// One namespace as dumped, before edges are resolved.
struct Raw {
    ns: Ns,
    links: Vec<LinkDetail>,
    addrs: Vec<AddrInfo>,
    routes: Vec<RouteInfo>,
    /// Routes outside the main table (see `Node::tables`).
    other_routes: Vec<RouteInfo>,
    qdiscs: Vec<(u32, QdiscInfo)>,
    rules: Vec<crate::engine::rule::Rule>,
    neighbours: Vec<crate::engine::neigh::NeighEntry>,
    file: std::rc::Rc<std::fs::File>,
    sysctls: Vec<Option<String>>,
}

impl Lab {
    /// This lab's topology: its namespaces (those it made and those it opened), the links it
    /// made in the root namespace, and the sysctls it changed outside its namespaces.
    pub fn topology(&mut self) -> Result<Topology> {
        self.flush()?;
        let mut scope = Scope { name: self.opts.name.clone(), namespaces: self.lab_namespaces(), ..Scope::default() };
        let mut root_links: Vec<String> =
            self.links.made.iter().filter(|(ns, _)| ns.is_none()).map(|(_, name)| name.clone()).collect();
        root_links.sort();
        scope.root_links = root_links;
        if let Some(ledger) = &self.ledger {
            for o in ledger.standing() {
                if let Object::Sysctl { ns, key, new, .. } = o {
                    scope.foreign_sysctls.push((ns, key.replace('/', "."), new));
                }
            }
        }
        self.read_topology(&scope)
    }

    /// Reads the topology of the namespaces `scope` names from the kernel. A namespace that is
    /// gone by now is left out.
    pub fn read_topology(&mut self, scope: &Scope) -> Result<Topology> {
        let keys: Vec<Vec<String>> = WATCHED_SYSCTLS.iter().map(|k| k.split('.').map(String::from).collect()).collect();
        let fresh = topo::fresh_sysctls(&keys).map_err(|e| LabError::from_engine("read a fresh namespace's sysctls", e))?;
        let mut raws = vec![self.dump(&Ns::Root)?];
        for name in &scope.namespaces {
            match self.dump(&Ns::named(name)) {
                Ok(raw) => raws.push(raw),
                Err(LabError::NoSuchNetns(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let files: Vec<&std::fs::File> = raws.iter().map(|r| &*r.file).collect();
        let values = topo::read_sysctls(&files, &keys).map_err(|e| LabError::from_engine("read the lab's sysctls", e))?;
        for (raw, values) in raws.iter_mut().zip(values) {
            raw.sysctls = values;
        }
        let root_name = if scope.namespaces.iter().any(|n| n == "root") { "root namespace" } else { "root" };
        Ok(assemble(scope, raws, &fresh, root_name))
    }

    fn dump(&mut self, ns: &Ns) -> Result<Raw> {
        let conn = self.conn(ns)?;
        let what = format!("read the links, addresses and routes of {ns}");
        let (links, addrs, routes) = self
            .block_on(async { Ok::<_, EngineError>((conn.link_details().await?, conn.addrs().await?, conn.routes().await?)) })
            .map_err(|e| LabError::from_engine(&what, e))?;
        let other_routes = match ns {
            Ns::Root => Vec::new(),
            Ns::Named(_) => self.block_on(conn.routes_beyond_main()).map_err(|e| LabError::from_engine(&what, e))?,
        };
        let mut qdiscs = self.block_on(conn.root_qdiscs()).map_err(|e| LabError::from_engine(&what, e))?;
        qdiscs.retain(|(_, q)| !q.is_default());
        let (rules, neighbours) = self
            .block_on(async {
                let mut rules = conn.rules(false).await?;
                rules.extend(conn.rules(true).await?);
                let mut neighbours = conn.neigh_dump(false).await?;
                neighbours.retain(|n| n.state & crate::engine::neigh::NUD_PERMANENT != 0);
                neighbours.extend(conn.neigh_dump(true).await?);
                Ok::<_, EngineError>((rules, neighbours))
            })
            .map_err(|e| LabError::from_engine(&what, e))?;
        let file = self.ns_file(ns)?;
        Ok(Raw { ns: ns.clone(), file, links, addrs, routes, other_routes, qdiscs, rules, neighbours, sysctls: Vec::new() })
    }
}

/// A link's place while resolving: (namespace position in `raws`, link position).
type At = (usize, usize);

fn assemble(scope: &Scope, raws: Vec<Raw>, fresh: &[Option<String>], root_name: &str) -> Topology {
    let node_name = |i: usize| match &raws[i].ns {
        Ns::Root => root_name.to_string(),
        Ns::Named(n) => n.clone(),
    };
    let find = |ns: usize, index: u32| raws[ns].links.iter().position(|l| l.info.index == index).map(|li| (ns, li));
    // A veth's other end: the same namespace without a netnsid, else the one veth elsewhere
    // that points back (ifindex and peer ifindex match; ifindexes are per namespace).
    let peer_of = |(ns, li): At| -> Option<At> {
        let l = &raws[ns].links[li].info;
        let p = l.peer_index?;
        if l.peer_netnsid.is_none() {
            return find(ns, p);
        }
        (0..raws.len()).filter(|o| *o != ns).find_map(|o| {
            raws[o]
                .links
                .iter()
                .position(|c| {
                    c.info.kind == "veth"
                        && c.info.index == p
                        && c.info.peer_index == Some(l.index)
                        && c.info.peer_netnsid.is_some()
                })
                .map(|ci| (o, ci))
        })
    };
    // A macvlan's or vlan's parent: in another namespace when it has a netnsid (the only
    // namespace of the lab with that ifindex, if there is exactly one).
    let parent_of = |(ns, li): At| -> Option<At> {
        let l = &raws[ns].links[li].info;
        let p = l.peer_index?;
        if l.peer_netnsid.is_none() {
            return find(ns, p);
        }
        let found: Vec<At> = (0..raws.len()).filter(|o| *o != ns).filter_map(|o| find(o, p)).collect();
        (found.len() == 1).then(|| found[0])
    };
    let related = |at: At| -> Option<At> {
        match raws[at.0].links[at.1].info.kind.as_str() {
            "veth" => peer_of(at),
            "macvlan" | "macvtap" | "vlan" => parent_of(at),
            _ => None,
        }
    };

    // Which root-namespace links belong in the picture: the lab's own, and those the links of
    // its namespaces lead to (a veth peer left in root, a macvlan's parent).
    let mut root_shown: HashSet<usize> = HashSet::new();
    for (li, l) in raws[0].links.iter().enumerate() {
        if scope.root_links.contains(&l.info.name) {
            root_shown.insert(li);
        }
    }
    for (ns, raw) in raws.iter().enumerate().skip(1) {
        for li in 0..raw.links.len() {
            if let Some((0, r)) = related((ns, li)) {
                root_shown.insert(r);
            }
        }
    }
    // ... and what those lead to in root: their bridge, a vxlan's underlay.
    for li in root_shown.clone() {
        let l = &raws[0].links[li];
        let underlay = l.vxlan.as_ref().and_then(|v| v.dev).filter(|_| l.info.peer_netnsid.is_none());
        for i in l.info.master.into_iter().chain(underlay) {
            if let Some((_, m)) = find(0, i) {
                root_shown.insert(m);
            }
        }
    }
    let shown = |(ns, li): At| ns != 0 || root_shown.contains(&li);

    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for (ns, raw) in raws.iter().enumerate() {
        let root = ns == 0;
        let wanted_sysctl = |k: usize, value: &Option<String>| -> Option<String> {
            let key = WATCHED_SYSCTLS[k];
            if root {
                let ns_key = None::<String>;
                return scope.foreign_sysctls.iter().find(|(n, kk, _)| *n == ns_key && kk == key).map(|(_, _, v)| v.clone());
            }
            let name = node_name(ns);
            if let Some((_, _, v)) = scope.foreign_sysctls.iter().find(|(n, kk, _)| n.as_deref() == Some(&name) && kk == key) {
                return Some(v.clone());
            }
            value.as_ref().filter(|v| fresh.get(k).and_then(|f| f.as_ref()) != Some(*v)).cloned()
        };
        if root && root_shown.is_empty() && !scope.foreign_sysctls.iter().any(|(n, _, _)| n.is_none()) {
            continue;
        }
        let sysctls: BTreeMap<String, String> = raw
            .sysctls
            .iter()
            .enumerate()
            .filter_map(|(k, v)| wanted_sysctl(k, v).map(|v| (WATCHED_SYSCTLS[k].to_string(), v)))
            .collect();
        let on = |k: usize| raw.sysctls.get(k).and_then(|v| v.as_deref()).is_some_and(|v| v.trim() != "0");
        let name_in = |at: At| raws[at.0].links[at.1].info.name.clone();
        let end = |at: At| End { node: node_name(at.0), link: name_in(at) };
        let mut links = Vec::new();
        for (li, d) in raw.links.iter().enumerate() {
            if !shown((ns, li)) {
                continue;
            }
            let l = &d.info;
            let here = End { node: node_name(ns), link: l.name.clone() };
            let master = l.master.and_then(|m| find(ns, m)).map(&name_in);
            let peer = if l.kind == "veth" { peer_of((ns, li)).filter(|at| shown(*at)) } else { None };
            let parent = if l.kind != "veth" { related((ns, li)).filter(|at| shown(*at)) } else { None };
            if let Some(p) = peer {
                // Each pair once: from the end that sorts first.
                let there = end(p);
                if here < there {
                    edges.push(Edge { kind: "veth".into(), from: here.clone(), to: there });
                }
            }
            if let Some(p) = parent {
                edges.push(Edge { kind: l.kind.clone(), from: here.clone(), to: end(p) });
            }
            if let Some(m) = &master {
                edges.push(Edge {
                    kind: "bridge".into(),
                    from: here.clone(),
                    to: End { node: here.node.clone(), link: m.clone() },
                });
            }
            let mut addresses: Vec<&AddrInfo> = raw.addrs.iter().filter(|a| a.index == l.index).collect();
            addresses.sort_by_key(|a| (a.address.is_ipv6(), a.address, a.prefix));
            links.push(Link {
                name: l.name.clone(),
                index: l.index,
                kind: l.kind.clone(),
                state: if l.up { "up".into() } else { "down".into() },
                mtu: l.mtu,
                mac: l.mac.clone(),
                master,
                peer: peer.map(end),
                parent: parent.map(end),
                vxlan: d.vxlan.as_ref().map(|v| Vxlan {
                    id: v.id,
                    local: v.local.map(|ip| ip.to_string()),
                    remote: v.remote.map(|ip| ip.to_string()),
                    // An underlay in another namespace (a link-netnsid: the `underlay` option,
                    // a link between machines) has an ifindex of that namespace, not of this one.
                    dev: v.dev.filter(|_| l.peer_netnsid.is_none()).and_then(|i| find(ns, i)).map(&name_in),
                    port: v.port,
                }),
                macvlan_mode: d.macvlan_mode.clone(),
                vlan_id: d.vlan_id,
                addresses: addresses.iter().map(|a| format!("{}/{}", a.address, a.prefix)).collect(),
                qdisc: raw.qdiscs.iter().find(|(i, _)| *i == l.index).map(|(_, q)| qdisc(q)),
            });
        }
        links.sort_by(|a, b| a.name.cmp(&b.name));
        let dev_name = |i: u32| find(ns, i).map(&name_in);
        let as_route = |r: &RouteInfo| Route {
            table: r.table,
            dst: r.dst.map(|(ip, len)| format!("{ip}/{len}")).unwrap_or_else(|| "default".into()),
            via: r.via.map(|v| v.to_string()),
            dev: r.dev.and_then(dev_name),
            metric: r.metric,
            protocol: r.protocol.clone(),
            protocol_number: r.protocol_number,
            scope: r.scope.clone(),
            family: if r.v6 { "inet6".into() } else { "inet".into() },
            kind: r.kind.clone(),
            src: r.src.map(|ip| ip.to_string()),
            onlink: r.onlink,
            nexthops: r
                .nexthops
                .iter()
                .map(|h| NextHop {
                    via: h.via.map(|ip| ip.to_string()),
                    dev: h.dev.and_then(dev_name),
                    weight: h.weight,
                    onlink: h.onlink,
                })
                .collect(),
        };
        let routes = raw
            .routes
            .iter()
            // In the root namespace, only what runs over the lab's links.
            .filter(|r| !root || r.dev.and_then(|i| find(0, i)).is_some_and(|(_, li)| root_shown.contains(&li)))
            .map(as_route)
            .collect();
        let tables = raw.other_routes.iter().map(as_route).collect();
        let rules = if root { Vec::new() } else { raw.rules.iter().filter(|r| !starting_rule(r)).map(policy_rule).collect() };
        let shown_index = |i: u32| find(ns, i).filter(|at| shown(*at)).map(&name_in);
        let neighbours = raw
            .neighbours
            .iter()
            .filter_map(|n| {
                Some(Neighbour {
                    ip: n.ip.to_string(),
                    link: shown_index(n.index)?,
                    mac: n.mac.clone(),
                    proxy: n.proxy,
                    router: n.router,
                })
            })
            .collect();
        nodes.push(Node {
            name: node_name(ns),
            root,
            machine: None,
            forwarding: Forwarding { ipv4: on(0), ipv6: on(1) },
            links,
            routes,
            tables,
            sysctls,
            rules,
            neighbours,
        });
    }
    edges.extend(overlays(&nodes));
    edges.sort();
    edges.dedup();
    Topology { lab: scope.name.clone(), nodes, edges }
}

/// Vxlan overlays: two tunnel ends with the same id, each one's remote the other's local
/// address (or an address of the other's namespace). Each pair once.
fn overlays(nodes: &[Node]) -> Vec<Edge> {
    let ends: Vec<(&Node, &Link, &Vxlan)> =
        nodes.iter().flat_map(|n| n.links.iter().filter_map(move |l| l.vxlan.as_ref().map(|v| (n, l, v)))).collect();
    let has_addr = |n: &Node, ip: &str| n.links.iter().any(|l| l.addresses.iter().any(|a| a.split('/').next() == Some(ip)));
    let mut out = Vec::new();
    for (i, (na, la, va)) in ends.iter().enumerate() {
        for (nb, lb, vb) in ends.iter().skip(i + 1) {
            let reaches = |v: &Vxlan, n: &Node, w: &Vxlan| {
                v.remote.as_ref().is_some_and(|r| w.local.as_ref() == Some(r) || (w.local.is_none() && has_addr(n, r)))
            };
            if vb.id == va.id && na.name != nb.name && (reaches(va, nb, vb) || reaches(vb, na, va)) {
                let from = End { node: na.name.clone(), link: la.name.clone() };
                let to = End { node: nb.name.clone(), link: lb.name.clone() };
                out.push(Edge { kind: "vxlan".into(), from, to });
            }
        }
    }
    out
}

/// The rules a namespace starts with: local (0), main (32766), default (32767; IPv4 only).
fn starting_rule(r: &crate::engine::rule::Rule) -> bool {
    let plain = !r.extra && r.from.is_none() && r.to.is_none() && r.iif.is_none() && r.oif.is_none() && r.fwmark == 0;
    plain && r.action == 1 && matches!((r.priority, r.table), (0, 255) | (32766, 254) | (32767, 253))
}

fn policy_rule(r: &crate::engine::rule::Rule) -> PolicyRule {
    let cidr = |p: &Option<(std::net::IpAddr, u8)>| p.map(|(ip, len)| format!("{ip}/{len}"));
    PolicyRule {
        family: if r.v6 { "inet6".into() } else { "inet".into() },
        priority: r.priority,
        from: cidr(&r.from),
        to: cidr(&r.to),
        iif: r.iif.clone(),
        oif: r.oif.clone(),
        fwmark: r.fwmark,
        fwmask: r.fwmask,
        action: crate::engine::rule::action_name(r.action),
        table: r.table,
        protocol: r.protocol,
    }
}

fn qdisc(q: &QdiscInfo) -> Qdisc {
    let tbf = if q.kind == "tbf" { topo::decode_tbf(&q.options, &crate::engine::tc_options::Clock::read()) } else { None };
    Qdisc {
        kind: q.kind.clone(),
        handle: crate::engine::tc::handle_text(q.handle),
        rate: tbf.map(|t| t.0),
        burst: tbf.map(|t| t.1),
        limit: tbf.map(|t| t.2),
    }
}

impl Topology {
    /// The node named `name`.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }
}

#[cfg(test)]
impl Node {
    /// A namespace with `links` and nothing else set (for tests of what reads topologies).
    pub fn bare(name: &str, root: bool, links: Vec<Link>) -> Node {
        Node {
            name: name.into(),
            root,
            machine: None,
            forwarding: Forwarding { ipv4: false, ipv6: false },
            links,
            routes: vec![],
            tables: vec![],
            sysctls: BTreeMap::new(),
            rules: vec![],
            neighbours: vec![],
        }
    }
}

#[cfg(test)]
impl Link {
    /// An up link of `kind` with `addresses` and nothing else set (for tests).
    pub fn bare(name: &str, kind: &str, addresses: &[&str]) -> Link {
        Link {
            name: name.into(),
            index: 2,
            kind: kind.into(),
            state: "up".into(),
            mtu: 1500,
            mac: "02:00:00:00:00:01".into(),
            master: None,
            peer: None,
            parent: None,
            vxlan: None,
            macvlan_mode: None,
            vlan_id: None,
            addresses: addresses.iter().map(|a| a.to_string()).collect(),
            qdisc: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_reads_back_and_names_the_machine_only_across_machines() {
        let mut route = Route {
            table: 254,
            dst: "default".into(),
            via: Some("10.0.0.1".into()),
            dev: Some("eth0".into()),
            metric: None,
            protocol: "nslab".into(),
            protocol_number: 110,
            scope: "universe".into(),
            family: "inet".into(),
            kind: "unicast".into(),
            src: None,
            onlink: false,
            nexthops: vec![],
        };
        let mut a = Node::bare("a", false, vec![Link::bare("eth0", "veth", &["10.0.0.2/24"])]);
        a.routes.push(route.clone());
        route.table = 100;
        a.tables.push(route);
        let t = Topology { lab: "l".into(), nodes: vec![a], edges: vec![] };
        let text = serde_json::to_string(&t).unwrap();
        assert!(!text.contains("machine"), "{text}");
        assert_eq!(serde_json::from_str::<Topology>(&text).unwrap(), t, "the main table's routes say no table: {text}");
        let mut t = t;
        t.nodes[0].machine = Some("m2".into());
        let text = serde_json::to_string(&t).unwrap();
        assert!(text.contains(r#""root":false,"machine":"m2","#), "{text}");
        assert_eq!(serde_json::from_str::<Topology>(&text).unwrap(), t);
    }
}
