//! Why a namespace does not reach an address: the path followed hop by hop as far as nslab can
//! see it (through every namespace it can open), each hop naming the route the kernel chose there
//! and what is wrong: no route, a link down or without carrier, no address on the link, a
//! neighbour not resolved, forwarding off, no route back. The result is data (`diagnosis.rs`).

use std::collections::HashMap;
use std::net::IpAddr;

use nix::errno::Errno;

use super::diagnosis::{Diagnosis, Hop, Issue, Refusal, RefusingRoute, Route, Step};
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

/// The kernel's answer when it has no usable route.
fn refusal(e: &EngineError) -> Refusal {
    let by = match e.code() {
        Some(Errno::EHOSTUNREACH) => Some(RefusingRoute::Unreachable),
        Some(Errno::EINVAL) => Some(RefusingRoute::Blackhole),
        Some(Errno::EACCES) => Some(RefusingRoute::Prohibit),
        _ => None,
    };
    Refusal { cause: e.cause.to_string(), by }
}

fn route(r: &RouteLookup, dst: IpAddr, view: &View) -> Route {
    Route { dst, via: r.via, dev: r.dev.map(|d| view.link_name(d)), src: r.src, kind: r.kind.clone() }
}

/// What is wrong with the link a route leaves by, as far as its state and addresses tell; and
/// whether it is fit to ask the neighbour table about (up, with carrier).
fn exit_issues(view: &View, dev: &LinkInfo, v6: bool) -> (Vec<Issue>, bool) {
    if !dev.up {
        return (vec![Issue::LinkDown(dev.name.clone())], false);
    }
    if !dev.lower_up {
        return (vec![Issue::NoCarrier(dev.name.clone())], false);
    }
    let mut issues = Vec::new();
    if !view.has_family(dev.index, v6) && dev.name != "lo" {
        issues.push(Issue::NoAddress { link: dev.name.clone(), v6 });
    }
    (issues, true)
}

impl Lab {
    /// Follows the path from `from` to `dst` and says, hop by hop, what the kernel would do
    /// there and what stands in the way. Reads only; creates nothing.
    pub fn diagnose(&mut self, from: &Ns, dst: IpAddr) -> Diagnosis {
        self.diagnose_onward(from, dst, None)
    }

    /// `diagnose`, for packets from `source` that arrive in `from` from elsewhere (another
    /// machine of a lab across machines): `from` must forward them, and the reply must find its
    /// way back to `source`.
    pub fn diagnose_onward(&mut self, from: &Ns, dst: IpAddr, arrived_from: Option<IpAddr>) -> Diagnosis {
        let v6 = dst.is_ipv6();
        let mut views: HashMap<Ns, Option<View>> = HashMap::new();
        let mut hops = Vec::new();
        let mut here = from.clone();
        let mut visited: Vec<Ns> = Vec::new();
        let mut source: Option<IpAddr> = arrived_from;
        let first = usize::from(arrived_from.is_some());
        for hop in first..MAX_HOPS + first {
            if visited.contains(&here) {
                hops.push(Hop { ns: here, step: Step::Loop, issues: vec![] });
                break;
            }
            visited.push(here.clone());
            let Some(view) = self.view(&here, &mut views) else {
                hops.push(Hop { ns: here, step: Step::Uninspectable, issues: vec![] });
                break;
            };
            let mut issues: Vec<Issue> = Vec::new();

            // Arrived: the address is this namespace's own.
            if let Some(a) = view.addrs.iter().find(|a| a.address == dst) {
                let link = view.link(a.index);
                let mut replies = None;
                if link.is_some_and(|l| !l.up) {
                    issues.push(Issue::LinkDown(view.link_name(a.index)));
                }
                if hop == 0 || link.is_some_and(|l| l.name == "lo") {
                    if view.links.iter().any(|l| l.name == "lo" && !l.up) {
                        issues.push(Issue::LoDown);
                    }
                } else if let Some(src) = source {
                    match self.route_lookup(&here, src) {
                        Ok(back) => replies = Some(route(&back, src, view)),
                        Err(e) => issues.push(Issue::NoRouteBack { src, refusal: refusal(&e) }),
                    }
                }
                let step = Step::Arrived { dst, link: view.link_name(a.index), replies };
                hops.push(Hop { ns: here, step, issues });
                break;
            }

            let found = match self.route_lookup(&here, dst) {
                Ok(r) => r,
                Err(e) => {
                    issues.push(Issue::NoRoute { dst, refusal: refusal(&e) });
                    for l in view.links.iter().filter(|l| l.name != "lo") {
                        if !l.up {
                            issues.push(Issue::LinkDown(l.name.clone()));
                        } else if !view.has_family(l.index, v6) {
                            issues.push(Issue::NoAddress { link: l.name.clone(), v6 });
                        }
                    }
                    hops.push(Hop { ns: here, step: Step::NoRoute, issues });
                    break;
                }
            };
            if hop == 0 {
                source = found.src;
            }
            let step = Step::Forward(route(&found, dst, view));
            if hop > 0 {
                let file = self.ns_file(&here).ok();
                let file = match &here {
                    Ns::Root => None,
                    Ns::Named(_) => file,
                };
                if let Ok(false) = lookup::forwarding(file.as_deref(), &self.home, v6) {
                    issues.push(Issue::ForwardingOff { v6 });
                }
            }
            let next_hop = found.via.unwrap_or(dst);
            if let Some(dev) = found.dev.and_then(|d| view.link(d)).cloned() {
                let (found_issues, usable) = exit_issues(view, &dev, v6);
                issues.extend(found_issues);
                if usable && found.kind == "unicast" {
                    issues.extend(self.neighbour_issue(&here, &dev, next_hop));
                }
            }
            // Where does the packet go next?
            let next = self.owner_of(next_hop, &here, found.dev, &mut views);
            if next.is_none() {
                issues.push(Issue::NoOwner(next_hop));
            }
            hops.push(Hop { ns: here.clone(), step, issues });
            match next {
                Some(ns) => here = ns,
                None => break,
            }
        }
        Diagnosis::new(hops)
    }

    fn route_lookup(&mut self, ns: &Ns, dst: IpAddr) -> Result<RouteLookup, EngineError> {
        let conn = self.conn(ns).map_err(|e| EngineError::message("open a connection", e.to_string()))?;
        self.block_on(conn.route_get(dst))
    }

    fn neighbour_issue(&mut self, ns: &Ns, dev: &LinkInfo, next_hop: IpAddr) -> Option<Issue> {
        let conn = self.conn(ns).ok()?;
        let table = self.block_on(conn.neighbours()).ok()?;
        let link = dev.name.clone();
        match table.iter().find(|n| n.index == dev.index && n.address == next_hop) {
            Some(n) if n.resolved() => None,
            Some(n) => Some(Issue::NeighbourUnanswered { next_hop, link, state: n.state.clone() }),
            None => Some(Issue::NeighbourUnknown { next_hop, link }),
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
            if let Some((pns, _)) = dev_name.and_then(|n| self.links.peers.get(&(here.key(), n))) {
                let peer_ns = pns.clone().map(Ns::Named).unwrap_or(Ns::Root);
                if owners.contains(&peer_ns) {
                    return Some(peer_ns);
                }
            }
        }
        owners.into_iter().next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(index: u32, name: &str, up: bool, lower_up: bool) -> LinkInfo {
        LinkInfo {
            index,
            name: name.into(),
            kind: "veth".into(),
            up,
            lower_up,
            operstate: if lower_up { "up" } else { "down" }.into(),
            mtu: 1500,
            mac: String::new(),
            peer_index: None,
            peer_netnsid: None,
            master: None,
            ..LinkInfo::default()
        }
    }

    fn view(links: Vec<LinkInfo>) -> View {
        let addrs = vec![AddrInfo { index: 2, address: "10.0.0.1".parse().unwrap(), prefix: 24, scope: "global".into() }];
        View { links, addrs }
    }

    #[test]
    fn a_route_out_of_a_link_that_is_down() {
        let v = view(vec![link(2, "eth0", false, false)]);
        let (issues, usable) = exit_issues(&v, &v.links[0], false);
        assert_eq!(issues, vec![Issue::LinkDown("eth0".into())]);
        assert!(!usable, "a link that is down has no neighbour to ask about");
        let hop = Hop { ns: Ns::named("h1"), step: Step::NoRoute, issues };
        assert_eq!(Diagnosis::new(vec![hop]).verdict, super::super::diagnosis::Verdict::Faults(1));
    }

    #[test]
    fn a_route_out_of_a_link_without_carrier_or_address() {
        let v = view(vec![link(2, "eth0", true, false), link(3, "eth1", true, true)]);
        assert_eq!(exit_issues(&v, &v.links[0], false).0, vec![Issue::NoCarrier("eth0".into())]);
        let (issues, usable) = exit_issues(&v, &v.links[1], false);
        assert_eq!(issues, vec![Issue::NoAddress { link: "eth1".into(), v6: false }]);
        assert!(usable);
        // eth0's IPv4 address is enough for IPv4, not for IPv6.
        let v = view(vec![link(2, "eth0", true, true)]);
        assert_eq!(exit_issues(&v, &v.links[0], false), (vec![], true));
        assert_eq!(exit_issues(&v, &v.links[0], true).0, vec![Issue::NoAddress { link: "eth0".into(), v6: true }]);
    }
}
