//! The values nslab's functions return, with their fields: what `nslab doc` and `:help TYPE`
//! list. Handles (`Ping`, `Exec`, ...) are Rhai types with getters; the others are maps. A test
//! keeps the handles' fields equal to the getters registered.

/// A result type and its fields.
pub struct TypeDoc {
    /// The name functions' forms use after `->` (`Ping`), or the map's name (`Link`).
    pub name: &'static str,
    /// What it is and which functions return it.
    pub summary: &'static str,
    /// Whether it is a map (`r.dst` and `r["dst"]`) rather than a handle.
    pub map: bool,
    /// Each field with its type and meaning.
    pub fields: &'static [(&'static str, &'static str, &'static str)],
}

/// Every result type, in the order the reference lists them.
pub const TYPES: &[TypeDoc] = &[
    TypeDoc {
        name: "Netns",
        summary: "A handle to a namespace (netns_add, netns, root); every function taking a namespace first is also its method.",
        map: false,
        fields: &[
            ("name", "string", "the namespace's name (\"\" for root())"),
            ("machine", "string", "the machine it lives on (\"local\": the one running the script)"),
        ],
    },
    TypeDoc {
        name: "Host",
        summary: "A machine of the inventory (host); h.netns_add(name) places a namespace there, and h stands for its own namespace.",
        map: false,
        fields: &[("name", "string", "its name in the inventory")],
    },
    TypeDoc {
        name: "Exec",
        summary: "How a program run by exec/exec_in (or output()) ended.",
        map: false,
        fields: &[
            ("code", "int", "exit status (128 + the signal's number when a signal ended it)"),
            ("ok", "bool", "code == 0"),
            ("stdout", "string", "what it wrote to standard output"),
            ("stderr", "string", "what it wrote to standard error"),
        ],
    },
    TypeDoc {
        name: "Ping",
        summary: "What ping() saw.",
        map: false,
        fields: &[
            ("ok", "bool", "at least one reply came back"),
            ("sent", "int", "echo requests sent"),
            ("received", "int", "replies received"),
            ("loss", "float", "percent of requests without a reply"),
            ("rtt_min", "float", "shortest round trip in milliseconds (() without replies)"),
            ("rtt_avg", "float", "mean round trip in milliseconds"),
            ("rtt_max", "float", "longest round trip in milliseconds"),
            (
                "error",
                "string",
                "why requests failed (\"\" when none did); an ICMP error names its sender: \"Time exceeded from \
                 10.0.0.1\", \"Destination unreachable (port) from ...\"",
            ),
            ("dst", "string", "the destination pinged"),
            ("ttl", "int", "TTL (IPv4) or hop limit (IPv6) of the last reply (() without replies)"),
            ("from", "string", "the source address the requests left from (() when there was no route)"),
            ("icmp_from", "string", "who sent the first ICMP error about the requests (() when none came)"),
        ],
    },
    TypeDoc {
        name: "TcpListener",
        summary: "A TCP listener started by tcp_listen(); it accepts, answers \"nslab\\n\" and closes each connection.",
        map: false,
        fields: &[
            ("port", "int", "the port it listens on (the kernel's choice for port 0)"),
            ("addr", "string", "the address it listens on (\"::\" for every address)"),
            ("accepted", "int", "connections accepted so far"),
            ("open", "bool", "whether it still listens (close() ends it)"),
        ],
    },
    TypeDoc {
        name: "PingAll",
        summary: "What pingall() saw; prints as a table with a summary line.",
        map: false,
        fields: &[
            ("ok", "bool", "every pair answered"),
            ("pairs", "array", "one map per pair: from, to, dst, ok, sent, received, loss, rtt, error"),
            ("namespaces", "array", "the namespaces that took part"),
            ("sent", "int", "requests sent in all"),
            ("received", "int", "replies received in all"),
            ("dropped", "float", "percent of requests without a reply"),
            ("summary", "string", "the summary line"),
        ],
    },
    TypeDoc {
        name: "Proc",
        summary: "A program started in the background by spawn/spawn_in.",
        map: false,
        fields: &[
            ("pid", "int", "its process id (as nslab's namespace numbers it)"),
            ("cmd", "string", "its command line"),
            ("running", "bool", "whether it still runs"),
            ("stdout", "string", "its output so far"),
            ("stderr", "string", "its error output so far"),
        ],
    },
    TypeDoc {
        name: "Error",
        summary: "What `catch (e)` receives when an nslab call fails.",
        map: false,
        fields: &[("message", "string", "the error's message"), ("hint", "string", "what may help (\"\" when nothing)")],
    },
    TypeDoc {
        name: "Link",
        summary: "A link as links() and link() return it.",
        map: true,
        fields: &[
            ("name", "string", "its name"),
            ("index", "int", "its ifindex"),
            ("kind", "string", "veth, bridge, vxlan, ... (\"\" for a plain device such as lo)"),
            ("state", "string", "administrative state: \"up\" or \"down\""),
            ("carrier", "bool", "whether it has a carrier"),
            ("mtu", "int", "its MTU"),
            ("mac", "string", "its Ethernet address (\"\" when it has none)"),
            ("peer", "string", "a veth's peer's name (\"\" otherwise)"),
            ("peer_netns", "string", "the namespace of a veth's peer"),
            ("master", "string", "the bridge (bond, vrf) it is a port of"),
            ("addresses", "array", "its addresses as CIDRs"),
            (
                "operstate",
                "string",
                "operational state, the kernel's IF_OPER name lowercased: \"up\", \"down\", \"lowerlayerdown\", \"dormant\", \"unknown\", ...",
            ),
            ("alias", "string", "its alias (\"\" when it has none)"),
            ("altnames", "array", "its alternative names (link() finds it by them too)"),
            ("group", "int", "its link group (0: default)"),
            ("promisc", "bool", "whether it is in promiscuous mode"),
            ("txqueuelen", "int", "its transmit queue length"),
        ],
    },
    TypeDoc {
        name: "Addr",
        summary: "An address as addrs() returns it.",
        map: true,
        fields: &[
            ("link", "string", "the link it is on"),
            ("index", "int", "that link's ifindex"),
            ("family", "string", "\"inet\" or \"inet6\""),
            ("address", "string", "the address"),
            ("prefix", "int", "its prefix length"),
            ("cidr", "string", "address/prefix"),
            ("scope", "string", "\"global\", \"link\", \"host\", \"site\", or a number"),
            ("flags", "array", "IFA_F_* flags: \"permanent\" or \"dynamic\", \"tentative\", \"dadfailed\", \"nodad\", \"noprefixroute\", \"deprecated\", \"secondary\", ..."),
            ("valid_lft", "int", "seconds it stays valid, or the string \"forever\""),
            ("preferred_lft", "int", "seconds it stays preferred, or the string \"forever\""),
            ("peer", "string", "the other end of a point-to-point address (\"\" when none)"),
            ("broadcast", "string", "its IPv4 broadcast address (\"\" when none)"),
        ],
    },
    TypeDoc {
        name: "Neigh",
        summary: "A neighbour (ARP / NDP) entry as neighs() returns it.",
        map: true,
        fields: &[
            ("dev", "string", "the link it is on"),
            ("ip", "string", "the neighbour's IPv4 or IPv6 address"),
            ("mac", "string", "its Ethernet address (\"\" when unknown, and for proxy entries)"),
            ("state", "string", "\"permanent\", \"noarp\", \"reachable\", \"stale\", \"delay\", \"probe\", \"incomplete\", \"failed\", \"none\""),
            ("router", "bool", "the neighbour said it is a router (IPv6)"),
            ("proxy", "bool", "a proxy entry (listed with neighs(#{proxy: true}))"),
        ],
    },
    TypeDoc {
        name: "Fdb",
        summary: "A bridge forwarding entry as fdbs() returns it.",
        map: true,
        fields: &[
            ("dev", "string", "the link it is on"),
            ("mac", "string", "the Ethernet address"),
            ("dst", "string", "a vxlan remote (\"\" when none)"),
            ("vni", "int", "the remote's VNI where it differs from the vxlan's own (() otherwise)"),
            ("port", "int", "the remote's UDP port where it differs from the vxlan's own (() otherwise)"),
            ("state", "string", "\"permanent\", \"static\" or \"dynamic\""),
            ("master", "bool", "in the bridge's table"),
            ("self", "bool", "in the link's own table"),
            ("bridge", "string", "the bridge whose table holds it (\"\" when none)"),
        ],
    },
    TypeDoc {
        name: "Hop",
        summary: "One hop of traceroute() (which returns an array of them, the last the destination when it answered).",
        map: true,
        fields: &[
            ("ttl", "int", "the TTL of the probe"),
            ("addr", "string", "who answered (a router's \"time exceeded\", or the destination); () when nothing did"),
            ("rtt", "float", "round trip of the answer in seconds (() when nothing answered)"),
        ],
    },
    TypeDoc {
        name: "TcpConnect",
        summary: "One TCP connection attempt, as tcp_connect() and wait_tcp() return it.",
        map: true,
        fields: &[
            ("ok", "bool", "the connection was established"),
            ("error", "string", "why not: \"Connection refused\", \"No route to host\", \"timed out after 1 s\" (\"\" when ok)"),
            ("rtt", "float", "seconds to establish it (() when it was not)"),
        ],
    },
    TypeDoc {
        name: "UdpThroughput",
        summary: "What throughput(from, to, #{udp: true, rate}) measured (like iperf -u).",
        map: true,
        fields: &[
            ("bps", "float", "received payload bits per second of sending time"),
            ("loss", "float", "datagrams lost, in percent of those sent"),
            ("jitter", "float", "RFC 3550 interarrival jitter, in seconds"),
            ("sent", "int", "datagrams sent"),
            ("received", "int", "datagrams received"),
        ],
    },
    TypeDoc {
        name: "Route",
        summary: "A route as routes() returns it.",
        map: true,
        fields: &[
            ("dst", "string", "its destination, a CIDR (\"default\" for the default route of either family: see family)"),
            (
                "type",
                "string",
                "\"unicast\", \"local\", \"broadcast\", \"multicast\", \"blackhole\", \"unreachable\", \"prohibit\", \"throw\"",
            ),
            ("table", "int", "its table: 254 main, 255 local, 253 default, or the table's number"),
            ("via", "string", "its gateway (\"\" when none, or when multipath: see nexthops)"),
            ("dev", "string", "its output link (\"\" when none)"),
            ("metric", "int", "its metric (0 when the kernel reports none, never ())"),
            ("proto", "string", "who added it: kernel, boot, static, nslab (110), ..., or the number"),
            ("protocol", "string", "the same as proto"),
            ("scope", "string", "\"global\", \"link\", \"host\", ..."),
            ("src", "string", "its preferred source address (\"\" when none)"),
            ("onlink", "bool", "the gateway is taken to be on the link (every nexthop's, when multipath)"),
            ("nexthops", "array", "a multipath route's nexthops as #{via, dev, weight}; empty otherwise"),
            ("family", "string", "\"inet\" or \"inet6\""),
        ],
    },
    TypeDoc {
        name: "RouteGet",
        summary: "The kernel's choice of route as route_get() returns it.",
        map: true,
        fields: &[
            ("ok", "bool", "a usable route was found"),
            ("dev", "string", "the output link"),
            ("via", "string", "the gateway (\"\" when direct)"),
            ("src", "string", "the source address the kernel would use"),
            ("table", "int", "the table the route was found in (0 when none was; () when not ok)"),
            ("type", "string", "the route's type (\"unicast\", \"local\", ...)"),
            ("error", "string", "the kernel's answer when not ok (\"Network is unreachable\", ...), else \"\""),
        ],
    },
    TypeDoc {
        name: "Rule",
        summary: "A policy routing rule as rules() returns it.",
        map: true,
        fields: &[
            ("family", "string", "\"inet\" or \"inet6\""),
            ("priority", "int", "its priority (lower first)"),
            ("from", "string", "the source selector: \"all\" or a CIDR"),
            ("to", "string", "the destination selector: \"all\" or a CIDR"),
            ("iif", "string", "the input link it matches (\"\" for any)"),
            ("oif", "string", "the output link it matches (\"\" for any)"),
            ("fwmark", "int", "the firewall mark it matches (0: none)"),
            ("fwmask", "int", "the mark's mask (4294967295: the whole mark; 0 without a mark)"),
            ("table", "int", "the table a lookup rule looks in (0 for other actions)"),
            ("action", "string", "\"lookup\", \"blackhole\", \"unreachable\", \"prohibit\", \"goto\", \"nop\""),
            ("proto", "string", "who added it: kernel, nslab, ..."),
        ],
    },
];

/// The result type `name`.
pub fn find(name: &str) -> Option<&'static TypeDoc> {
    TYPES.iter().find(|t| t.name.eq_ignore_ascii_case(name))
}

/// A type's description as `:help` and the reference show it.
pub fn describe(t: &TypeDoc) -> String {
    let width = t.fields.iter().map(|(n, ..)| n.len()).max().unwrap_or(0);
    let mut out = format!("{}{}\n", t.summary, if t.map { " A map." } else { "" });
    for (name, ty, doc) in t.fields {
        out.push_str(&format!("\n  .{name:width$}  {ty:6}  {doc}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    use super::*;
    use crate::script::Session;

    /// Every getter of a handle type is documented, and every documented field is a getter.
    #[test]
    fn handle_fields_are_the_registered_getters() {
        let session = Session::new(None, Path::new("."), std::rc::Rc::new(|_: &str| {}));
        let mut getters: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for sig in session.engine.gen_fn_signatures(false) {
            // "get$name(_: &mut Ping) -> bool"
            let Some(rest) = sig.strip_prefix("get$") else { continue };
            let (field, rest) = rest.split_once('(').unwrap();
            let ty = rest.trim_start_matches("_: &mut ").split(')').next().unwrap().rsplit("::").next().unwrap();
            getters.entry(ty.to_string()).or_default().insert(field.to_string());
        }
        for t in TYPES.iter().filter(|t| !t.map) {
            let documented: BTreeSet<String> = t.fields.iter().map(|(n, ..)| n.to_string()).collect();
            assert_eq!(getters.get(t.name), Some(&documented), "{}: {getters:?}", t.name);
        }
    }
}
