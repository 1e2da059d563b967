//! Why a namespace does not reach an address: the path followed hop by hop as far as nslab can
//! see it (through every namespace it can open), one line per hop, each naming the route the kernel
//! chose there and what is wrong: no route, a link down or without carrier, no address on the
//! link, a neighbour not resolved, forwarding off, no route back.

use std::collections::HashMap;
use std::net::IpAddr;

use nix::errno::Errno;

use super::{Lab, Ns};
use crate::engine::lookup::{self, RouteLookup};
use crate::engine::netlink::{AddrInfo, LinkInfo};
use crate::engine::{netns, EngineError};

/// Hops followed at most (a loop is caught earlier, when a namespace comes round again).
const MAX_HOPS: usize = 8;

/// What one namespace looks like at the moment of the diagnosis.
struct View {
    links: Vec<LinkInfo>,
    addrs: Vec<AddrInfo>,
}

impl View {
    fn link(&self, index: u32) -> Option<&LinkInfo> {
        self.links.iter().find(|l| l.index == index)
    }

    fn link_name(&self, index: u32) -> String {
        self.link(index).map(|l| l.name.clone()).unwrap_or_else(|| format!("#{index}"))
    }

    fn has_family(&self, index: u32, v6: bool) -> bool {
        self.addrs.iter().any(|a| a.index == index && a.address.is_ipv6() == v6 && (!v6 || a.scope == "global"))
    }
}

fn label(ns: &Ns) -> String {
    match ns {
        Ns::Root => "root".into(),
        Ns::Named(n) => n.clone(),
    }
}

fn family(v6: bool) -> &'static str {
    if v6 {
        "IPv6"
    } else {
        "IPv4"
    }
}

/// The kernel's answer when it has no usable route, in words.
fn no_route(e: &EngineError) -> String {
    let what = match e.code() {
        Some(Errno::EHOSTUNREACH) => " (an unreachable route)",
        Some(Errno::EINVAL) => " (a blackhole route)",
        Some(Errno::EACCES) => " (a prohibit route)",
        _ => "",
    };
    format!("route lookup: {}{what}", e.cause)
}

fn describe(r: &RouteLookup, dst: IpAddr, view: &View) -> String {
    let mut s = format!("route to {dst}");
    if let Some(via) = r.via {
        s += &format!(" via {via}");
    }
    if let Some(dev) = r.dev {
        s += &format!(" dev {}", view.link_name(dev));
    }
    if let Some(src) = r.src {
        s += &format!(" src {src}");
    }
    if r.kind != "unicast" {
        s += &format!(" ({})", r.kind);
    }
    s
}

impl Lab {
    /// Follows the path from `from` to `dst` and says, one line per hop, what the kernel would
    /// do there and what stands in the way. Reads only; creates nothing.
    pub fn diagnose(&mut self, from: &Ns, dst: IpAddr) -> Vec<String> {
        let v6 = dst.is_ipv6();
        let mut views: HashMap<Ns, Option<View>> = HashMap::new();
        let mut lines = Vec::new();
        let mut problems = 0;
        let mut here = from.clone();
        let mut visited: Vec<Ns> = Vec::new();
        let mut source: Option<IpAddr> = None;
        for hop in 0..MAX_HOPS {
            let name = label(&here);
            if visited.contains(&here) {
                lines.push(format!("{name}: the path comes back here: a routing loop"));
                problems += 1;
                break;
            }
            visited.push(here.clone());
            let Some(view) = self.view(&here, &mut views) else {
                lines.push(format!("{name}: cannot be inspected"));
                break;
            };
            let mut issues: Vec<String> = Vec::new();

            // Arrived: the address is this namespace's own.
            if let Some(a) = view.addrs.iter().find(|a| a.address == dst) {
                let link = view.link(a.index);
                let mut line = format!("{name}: has {dst} on {}", view.link_name(a.index));
                if link.is_some_and(|l| !l.up) {
                    issues.push(format!("link {} is down", view.link_name(a.index)));
                }
                if hop == 0 || link.is_some_and(|l| l.name == "lo") {
                    if view.links.iter().any(|l| l.name == "lo" && !l.up) {
                        issues.push("lo is down (local delivery needs it)".into());
                    }
                } else if let Some(src) = source {
                    match self.route_lookup(&here, src) {
                        Ok(back) => line += &format!("; replies: {}", describe(&back, src, view)),
                        Err(e) => issues.push(format!("no route back to {src} ({})", no_route(&e))),
                    }
                }
                problems += issues.len();
                lines.push(join(line, &issues));
                break;
            }

            let route = match self.route_lookup(&here, dst) {
                Ok(r) => r,
                Err(e) => {
                    issues.push(format!("no route to {dst} ({})", no_route(&e)));
                    for l in view.links.iter().filter(|l| l.name != "lo") {
                        if !l.up {
                            issues.push(format!("link {} is down", l.name));
                        } else if !view.has_family(l.index, v6) {
                            issues.push(format!("link {} has no {} address", l.name, family(v6)));
                        }
                    }
                    problems += issues.len();
                    lines.push(format!("{name}: {}", issues.join("; ")));
                    break;
                }
            };
            if hop == 0 {
                source = route.src;
            }
            let line = format!("{name}: {}", describe(&route, dst, view));
            if hop > 0 {
                let file = self.ns_file(&here).ok();
                let file = match &here {
                    Ns::Root => None,
                    Ns::Named(_) => file,
                };
                if let Ok(false) = lookup::forwarding(file.as_deref(), &self.home, v6) {
                    let knob = if v6 { "net.ipv6.conf.all.forwarding" } else { "net.ipv4.ip_forward" };
                    issues.push(format!("{} forwarding is off (sysctl {knob} = 0)", family(v6)));
                }
            }
            let next_hop = route.via.unwrap_or(dst);
            if let Some(dev) = route.dev.and_then(|d| view.link(d)) {
                if !dev.up {
                    issues.push(format!("link {} is down", dev.name));
                } else if !dev.lower_up {
                    issues.push(format!("link {} has no carrier (its other end is down or gone)", dev.name));
                } else {
                    if !view.has_family(dev.index, v6) && dev.name != "lo" {
                        issues.push(format!("link {} has no {} address", dev.name, family(v6)));
                    }
                    if route.kind == "unicast" {
                        issues.extend(self.neighbour_issue(&here, dev, next_hop));
                    }
                }
            }
            // Where does the packet go next?
            let owner = self.owner_of(next_hop, &here, route.dev, &mut views);
            let next = match owner {
                Some(ns) => Some(ns),
                None => {
                    issues.push(format!("{next_hop} is not an address of any namespace nslab can see"));
                    None
                }
            };
            problems += issues.len();
            lines.push(join(line, &issues));
            match next {
                Some(ns) => here = ns,
                None => break,
            }
        }
        if problems == 0 {
            lines.push("no fault visible along this path (a firewall rule or a busy link may drop the packets)".into());
        }
        lines
    }

    fn route_lookup(&mut self, ns: &Ns, dst: IpAddr) -> Result<RouteLookup, EngineError> {
        let conn = self.conn(ns).map_err(|e| EngineError::message("open a connection", e.to_string()))?;
        self.block_on(conn.route_get(dst))
    }

    fn neighbour_issue(&mut self, ns: &Ns, dev: &LinkInfo, next_hop: IpAddr) -> Option<String> {
        let conn = self.conn(ns).ok()?;
        let table = self.block_on(conn.neighbours()).ok()?;
        match table.iter().find(|n| n.index == dev.index && n.address == next_hop) {
            Some(n) if n.resolved() => None,
            Some(n) => Some(format!(
                "neighbour {next_hop} on {} not resolved ({}): nothing on that link answers for it",
                dev.name, n.state
            )),
            None => Some(format!("neighbour {next_hop} on {} not resolved (no entry: nothing was sent to it)", dev.name)),
        }
    }

    fn view<'v>(&mut self, ns: &Ns, views: &'v mut HashMap<Ns, Option<View>>) -> Option<&'v View> {
        if !views.contains_key(ns) {
            let view = self.conn(ns).ok().and_then(|conn| {
                self.block_on(async { Ok::<_, EngineError>(View { links: conn.links().await?, addrs: conn.addrs().await? }) })
                    .ok()
            });
            views.insert(ns.clone(), view);
        }
        views.get(ns).and_then(Option::as_ref)
    }

    /// The namespace (other than `here`) that has `ip`; with several, the one at the other end of
    /// the veth `dev` leaves by, when the lab knows it.
    fn owner_of(&mut self, ip: IpAddr, here: &Ns, dev: Option<u32>, views: &mut HashMap<Ns, Option<View>>) -> Option<Ns> {
        let mut all = vec![Ns::Root];
        all.extend(netns::list().unwrap_or_default().into_iter().map(Ns::Named));
        let owners: Vec<Ns> = all
            .into_iter()
            .filter(|ns| ns != here)
            .filter(|ns| self.view(ns, views).is_some_and(|v| v.addrs.iter().any(|a| a.address == ip)))
            .collect();
        if owners.len() > 1 {
            let dev_name = dev.and_then(|d| views.get(here).and_then(Option::as_ref).map(|v| v.link_name(d)));
            if let Some((pns, _)) = dev_name.and_then(|n| self.peers.get(&(here.key(), n))) {
                let peer_ns = pns.clone().map(Ns::Named).unwrap_or(Ns::Root);
                if owners.contains(&peer_ns) {
                    return Some(peer_ns);
                }
            }
        }
        owners.into_iter().next()
    }
}

fn join(line: String, issues: &[String]) -> String {
    if issues.is_empty() {
        line
    } else {
        format!("{line}; {}", issues.join("; "))
    }
}
