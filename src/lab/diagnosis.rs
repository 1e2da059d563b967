//! What a diagnosis finds (see `diagnose.rs`, which walks the path): the hops, each with the step
//! the kernel takes there and what stands in its way, and a verdict. Data only: the script layer
//! puts it into words.

use std::net::IpAddr;

use super::Ns;

/// Why a namespace does not reach an address, hop by hop.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnosis {
    /// The namespaces the path goes through, in order, the source first.
    pub hops: Vec<Hop>,
    /// Whether anything along the path stands in the way.
    pub verdict: Verdict,
}

impl Diagnosis {
    /// A diagnosis of these hops; the verdict follows from them.
    pub fn new(hops: Vec<Hop>) -> Diagnosis {
        let faults: usize = hops.iter().map(Hop::faults).sum();
        let verdict = if faults == 0 { Verdict::NoFaultVisible } else { Verdict::Faults(faults) };
        Diagnosis { hops, verdict }
    }
}

/// The conclusion of a diagnosis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// This many things stand in the way (each hop's issues, and a routing loop).
    Faults(usize),
    /// Nothing nslab can see is wrong: a firewall rule or a busy link may drop the packets.
    NoFaultVisible,
}

/// One namespace along the path.
#[derive(Debug, Clone, PartialEq)]
pub struct Hop {
    /// The namespace.
    pub ns: Ns,
    /// What the kernel does with the packet there.
    pub step: Step,
    /// What stands in the way there.
    pub issues: Vec<Issue>,
}

impl Hop {
    /// The faults this hop counts for: its issues, and a loop.
    pub fn faults(&self) -> usize {
        self.issues.len() + usize::from(self.step == Step::Loop)
    }
}

/// What happens to the packet in one namespace.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// The path came back to a namespace it went through already.
    Loop,
    /// The namespace could not be opened or listed: the path ends here, unexplained.
    Uninspectable,
    /// The address is this namespace's own, on `link`; `replies` is the route the answer takes
    /// (looked up only past the first hop, and when there is one).
    Arrived {
        /// The address reached.
        dst: IpAddr,
        /// The link that holds it.
        link: String,
        /// The route back to the source.
        replies: Option<Route>,
    },
    /// The kernel has no usable route; the first issue says which answer it gave.
    NoRoute,
    /// The packet leaves by this route.
    Forward(Route),
}

/// A route the kernel chose, with its link by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// The destination looked up.
    pub dst: IpAddr,
    /// The gateway, when there is one.
    pub via: Option<IpAddr>,
    /// The link it leaves by.
    pub dev: Option<String>,
    /// The source address the kernel would use.
    pub src: Option<IpAddr>,
    /// "unicast", "local", "broadcast", ...
    pub kind: String,
}

/// The kernel's refusal to route, as the lookup returned it.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The kernel's answer, in its words.
    pub cause: String,
    /// The kind of route that refused, when the answer tells.
    pub by: Option<RefusingRoute>,
}

/// A route that exists only to refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusingRoute {
    /// An `unreachable` route (EHOSTUNREACH).
    Unreachable,
    /// A `blackhole` route (EINVAL).
    Blackhole,
    /// A `prohibit` route (EACCES).
    Prohibit,
}

/// Something along the path that stands in the way.
#[derive(Debug, Clone, PartialEq)]
pub enum Issue {
    /// No route to the destination.
    NoRoute {
        /// The destination.
        dst: IpAddr,
        /// The kernel's answer.
        refusal: Refusal,
    },
    /// The destination has no route back to the source.
    NoRouteBack {
        /// The source address.
        src: IpAddr,
        /// The kernel's answer.
        refusal: Refusal,
    },
    /// The link is administratively down.
    LinkDown(String),
    /// `lo` is down, and local delivery needs it.
    LoDown,
    /// The link has no address of the packet's family.
    NoAddress {
        /// The link.
        link: String,
        /// IPv6 (else IPv4).
        v6: bool,
    },
    /// The link is up but has no carrier.
    NoCarrier(String),
    /// The namespace routes the packet on but does not forward.
    ForwardingOff {
        /// IPv6 (else IPv4).
        v6: bool,
    },
    /// The next hop's neighbour entry exists but is not resolved.
    NeighbourUnanswered {
        /// The next hop.
        next_hop: IpAddr,
        /// The link it is looked for on.
        link: String,
        /// The entry's state ("FAILED", "INCOMPLETE", ...).
        state: String,
    },
    /// The next hop has no neighbour entry at all.
    NeighbourUnknown {
        /// The next hop.
        next_hop: IpAddr,
        /// The link it is looked for on.
        link: String,
    },
    /// No namespace nslab can see has the next hop's address.
    NoOwner(IpAddr),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(dev: &str) -> Route {
        Route {
            dst: "10.0.0.2".parse().unwrap(),
            via: None,
            dev: Some(dev.into()),
            src: Some("10.0.0.1".parse().unwrap()),
            kind: "unicast".into(),
        }
    }

    #[test]
    fn a_link_down_is_a_fault() {
        let hop = Hop { ns: Ns::named("a"), step: Step::Forward(route("eth0")), issues: vec![Issue::LinkDown("eth0".into())] };
        assert_eq!(Diagnosis::new(vec![hop]).verdict, Verdict::Faults(1));
    }

    #[test]
    fn a_clean_path_has_no_visible_fault() {
        let hops = vec![
            Hop { ns: Ns::named("a"), step: Step::Forward(route("eth0")), issues: vec![] },
            Hop {
                ns: Ns::named("b"),
                step: Step::Arrived { dst: "10.0.0.2".parse().unwrap(), link: "eth0".into(), replies: None },
                issues: vec![],
            },
        ];
        assert_eq!(Diagnosis::new(hops).verdict, Verdict::NoFaultVisible);
        // A namespace that cannot be inspected explains nothing: it is not a fault either.
        let hops = vec![Hop { ns: Ns::named("a"), step: Step::Uninspectable, issues: vec![] }];
        assert_eq!(Diagnosis::new(hops).verdict, Verdict::NoFaultVisible);
    }

    #[test]
    fn a_loop_counts_with_the_issues() {
        let hops = vec![
            Hop { ns: Ns::named("a"), step: Step::Forward(route("eth0")), issues: vec![Issue::ForwardingOff { v6: false }] },
            Hop { ns: Ns::named("a"), step: Step::Loop, issues: vec![] },
        ];
        assert_eq!(Diagnosis::new(hops).verdict, Verdict::Faults(2));
    }
}
