//! `run --trace`: each operation the lab carries out, as the `ip` (or `tc`, `sysctl`) command
//! line that does the same, handed to a sink the command line sets (the lab never prints).
//! Said as the operation starts, like `set -x`, so a failing one is the last line shown.

use super::{Lab, Ns};
use crate::engine::link_kinds::Kind;
use crate::engine::netlink::LinkOptions;

/// Where trace lines go.
pub type TraceSink = Box<dyn Fn(&str)>;

/// A word for a shell command line: quoted when it needs to be.
pub fn word(s: &str) -> String {
    shlex::try_quote(s).map(|q| q.into_owned()).unwrap_or_else(|_| format!("{s:?}"))
}

/// `ip` for `ns`: `ip -n NAME` for a named namespace.
pub fn ip(ns: &Ns) -> String {
    match ns {
        Ns::Root => "ip".into(),
        Ns::Named(n) => format!("ip -n {}", word(n)),
    }
}

/// `ns` as `ip link add ... netns` takes it: a name, or for nslab's own namespace the shell's
/// process (`ip -n OTHER` runs in another namespace, the shell does not).
pub fn netns_word(ns: &Ns) -> String {
    match ns {
        Ns::Root => "$$".into(),
        Ns::Named(n) => word(n),
    }
}

/// A command run inside `ns`: `ip netns exec NAME` before it for a named namespace.
pub fn inside(ns: &Ns) -> String {
    match ns {
        Ns::Root => String::new(),
        Ns::Named(n) => format!("ip netns exec {} ", word(n)),
    }
}

/// The options a created link is given, as `ip link add` words.
pub fn link_words(opts: &LinkOptions) -> String {
    let mut out = String::new();
    if let Some(m) = opts.mtu {
        out += &format!(" mtu {m}");
    }
    if opts.up {
        out += " up";
    }
    out
}

impl Lab {
    /// A created link's kind with its settings, as `ip link add ... type` words; parents are
    /// named by looking their index up in `ns`.
    pub(super) fn kind_words(&mut self, ns: &Ns, kind: &Kind) -> String {
        let mut name_of = |index: u32| -> String {
            let found = self.conn(ns).ok().and_then(|c| self.block_on(c.link_by_index(index)).ok().flatten());
            found.map_or_else(|| index.to_string(), |l| word(&l.name))
        };
        let flag =
            |on: Option<bool>, name: &str| on.map(|on| format!(" {}{name}", if on { "" } else { "no" })).unwrap_or_default();
        match kind {
            Kind::Vxlan(v) => {
                let mut w = format!("vxlan id {}", v.id);
                if let Some(l) = v.local {
                    w += &format!(" local {l}");
                }
                if let Some(r) = v.remote {
                    w += &format!(" {} {r}", if r.is_multicast() { "group" } else { "remote" });
                }
                if let Some(d) = v.dev {
                    w += &format!(" dev {}", name_of(d));
                }
                w += &format!(" dstport {}", v.port);
                let e = &v.extra;
                w += &flag(e.learning, "learning");
                w += &flag(e.proxy, "proxy");
                if let Some(t) = e.ttl {
                    w += &format!(" ttl {t}");
                }
                if let Some(t) = e.tos {
                    w += &format!(" tos {t}");
                }
                if let Some((lo, hi)) = e.srcport {
                    w += &format!(" srcport {lo} {hi}");
                }
                w += &flag(e.l2miss, "l2miss");
                w += &flag(e.l3miss, "l3miss");
                w
            }
            Kind::Bridge(b) => {
                let mut w = "bridge".to_string();
                if let Some(stp) = b.stp {
                    w += &format!(" stp_state {}", u8::from(stp));
                }
                if let Some(a) = b.ageing_time {
                    w += &format!(" ageing_time {a}");
                }
                if let Some(m) = b.mcast_snooping {
                    w += &format!(" mcast_snooping {}", u8::from(m));
                }
                w
            }
            Kind::Macvlan { parent, mode } => {
                let mode = format!("{mode:?}").to_lowercase();
                format!("link {} type macvlan mode {mode}", name_of(*parent))
            }
            Kind::Vlan { parent, id } => format!("link {} type vlan id {id}", name_of(*parent)),
            Kind::Vrf { table } => format!("vrf table {table}"),
            other => other.name().to_string(),
        }
    }

    /// Sends trace lines to `sink` (None: stops).
    pub fn set_trace(&mut self, sink: Option<TraceSink>) {
        self.trace = sink;
    }

    /// Whether trace lines are wanted.
    pub(super) fn tracing(&self) -> bool {
        self.trace.is_some()
    }

    /// Says `line()` when tracing; the line is only made then.
    pub(super) fn trace(&self, line: impl FnOnce() -> String) {
        if let Some(sink) = &self.trace {
            // One command per line, each said on its own.
            line().lines().for_each(sink);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_for_the_shell() {
        assert_eq!(word("h1"), "h1");
        assert_eq!(word("a b"), "'a b'");
        assert_eq!(ip(&Ns::Named("h 1".into())), "ip -n 'h 1'");
        assert_eq!(inside(&Ns::Root), "");
    }
}
