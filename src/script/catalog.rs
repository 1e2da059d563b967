//! One description of every function nslab adds to Rhai: signatures, a line of doc, an example,
//! and the `ip` command it stands for. `:help`, `nslab check`'s hints and the reference docs are
//! generated from it, and a test keeps it equal to what is registered.

/// The documentation of one native function.
pub struct FnDoc {
    /// The function's name in scripts.
    pub name: &'static str,
    /// Each accepted form; `ns` is a namespace name or a `Netns` handle, and can be left out
    /// where a form without it exists (then the call acts in nslab's own namespace).
    pub forms: &'static [&'static str],
    /// One line saying what it does.
    pub summary: &'static str,
    /// A call as a script would write it.
    pub example: &'static str,
    /// The iproute2 (or other) command this corresponds to.
    pub ip: &'static str,
}

/// The core language: namespaces, veth pairs, addresses, exec and ping.
pub const CORE: &[FnDoc] = &[
    FnDoc {
        name: "netns_add",
        forms: &["netns_add(name) -> Netns"],
        summary: "Create a named network namespace, visible to `ip netns list` (its lo starts down).",
        example: r#"let n = netns_add("netns1");"#,
        ip: "ip netns add NAME",
    },
    FnDoc {
        name: "netns",
        forms: &["netns(name) -> Netns"],
        summary: "A handle to an existing namespace, including one made by `ip netns add`.",
        example: r#"let n = netns("netns1"); n.up("lo");"#,
        ip: "ip netns exec NAME ...",
    },
    FnDoc {
        name: "root",
        forms: &["root() -> Netns"],
        summary: "A handle to the namespace nslab runs in (the host's, or the sandbox's).",
        example: r#"move_to("netns1", "veth1", root());"#,
        ip: "(the default namespace)",
    },
    FnDoc {
        name: "netns_del",
        forms: &["netns_del(ns)"],
        summary: "Delete a named namespace; links inside it go with it, except links the lab did not create and \
                  moved in, which go back where they came from first. A symbolic link in /run/netns is never followed.",
        example: r#"netns_del("netns1");"#,
        ip: "ip netns delete NAME",
    },
    FnDoc {
        name: "netns_list",
        forms: &["netns_list() -> array"],
        summary: "Names of all named namespaces, sorted.",
        example: r#"print(netns_list());"#,
        ip: "ip netns list",
    },
    FnDoc {
        name: "netns_exists",
        forms: &["netns_exists(name) -> bool"],
        summary: "Whether a named namespace exists; given a Netns handle, whether its namespace still does.",
        example: r#"if !netns_exists("lab") { netns_add("lab"); }"#,
        ip: "test -e /run/netns/NAME",
    },
    FnDoc {
        name: "veth",
        forms: &[
            "veth(name, peer)",
            "veth(name, peer, #{mtu, up, master, queues})",
            "veth(ns, name, peer)",
            "veth(ns, name, peer, #{mtu, up, master, queues})",
            "veth(ns, name, peer_ns, peer)",
            "veth(ns, name, peer_ns, peer, #{mtu, up, master, queues})",
        ],
        summary: "Create a veth pair; with two namespaces each end is born in its own (fastest). Options: mtu, up (both ends born up), master (a bridge the first end joins at birth), queues (transmit and receive queues per end, default 1).",
        example: r#"veth("veth0", "veth1"); veth("a", "eth0", "b", "eth0");"#,
        ip: "ip link add NAME type veth peer name PEER [netns NS]",
    },
    FnDoc {
        name: "move_to",
        forms: &["move_to(link, ns)", "move_to(from_ns, link, to_ns)"],
        summary: "Move a link into another namespace. A link the lab did not create is moved back, under its name, \
                  when the lab ends (before the lab's namespaces go).",
        example: r#"move_to("veth1", "netns1");"#,
        ip: "ip link set LINK netns NS",
    },
    FnDoc {
        name: "addr",
        forms: &["addr(link, cidr)", "addr(ns, link, cidr)"],
        summary: "Add an IPv4 or IPv6 address with its prefix length to a link.",
        example: r#"addr("netns1", "veth1", "10.1.1.1/24");"#,
        ip: "ip addr add CIDR dev LINK",
    },
    FnDoc {
        name: "addr_del",
        forms: &["addr_del(link, cidr)", "addr_del(ns, link, cidr)"],
        summary: "Remove an address from a link.",
        example: r#"addr_del("netns1", "veth1", "10.1.1.1/24");"#,
        ip: "ip addr del CIDR dev LINK",
    },
    FnDoc {
        name: "up",
        forms: &["up(link)", "up(ns, link)"],
        summary: "Bring a link up; returns once the kernel has put it (and its veth peer) in service, so the next packet is not dropped.",
        example: r#"up("netns1", "lo");"#,
        ip: "ip link set LINK up",
    },
    FnDoc {
        name: "down",
        forms: &["down(link)", "down(ns, link)"],
        summary: "Take a link down.",
        example: r#"down("netns1", "veth1");"#,
        ip: "ip link set LINK down",
    },
    FnDoc {
        name: "exec_in",
        forms: &["exec_in(ns, cmd) -> Exec"],
        summary: "Run a program inside a namespace (cmd: array of arguments, or a string split into words like a shell would, without a shell) and capture its output (past 16 MiB, the latest 8 MiB, after a line saying how much was dropped).",
        example: r#"let r = exec_in("netns1", "ip link list"); print(r.stdout);"#,
        ip: "ip netns exec NS CMD...",
    },
    FnDoc {
        name: "exec",
        forms: &["exec(cmd) -> Exec", "exec(ns, cmd) -> Exec"],
        summary: "Like exec_in; without a namespace it runs where nslab runs. As a method: n.exec(cmd).",
        example: r#"let n = netns("netns1"); print(n.exec("ip addr"));"#,
        ip: "ip netns exec NS CMD...",
    },
    FnDoc {
        name: "ping",
        forms: &["ping(dst) -> Ping", "ping(ns, dst) -> Ping", "ping(ns, dst, #{count, timeout, interval}) -> Ping"],
        summary: "Send ICMP echo requests natively (IPv4 or IPv6); one request and one second to answer by default.",
        example: r#"assert(ping("netns1", "10.1.1.2").ok);"#,
        ip: "ip netns exec NS ping -c COUNT -W TIMEOUT -i INTERVAL DST",
    },
    FnDoc {
        name: "links",
        forms: &["links() -> array", "links(ns) -> array"],
        summary: "The links of a namespace as maps: name, index, kind, state, carrier, mtu, mac, peer, peer_netns, master, addresses.",
        example: r#"for l in links("netns1") { print(`${l.name} ${l.state}`); }"#,
        ip: "ip -j addr show",
    },
    FnDoc {
        name: "link",
        forms: &["link(name) -> map", "link(ns, name) -> map"],
        summary: "One link as a map (see links()); an error when it does not exist.",
        example: r#"assert(link("netns1", "lo").state == "up");"#,
        ip: "ip -j addr show dev LINK",
    },
    FnDoc {
        name: "addrs",
        forms: &["addrs() -> array", "addrs(ns) -> array"],
        summary: "The addresses of a namespace as maps: link, index, family, address, prefix, cidr, scope.",
        example: r#"print(addrs("netns1"));"#,
        ip: "ip -j addr show",
    },
    FnDoc {
        name: "assert",
        forms: &["assert(cond)", "assert(cond, message)"],
        summary: "Fail the script at this line unless cond is true.",
        example: r#"assert(ping("netns1", "10.1.1.2").ok, "veth pair must carry pings");"#,
        ip: "[ COND ] || exit 1",
    },
    FnDoc {
        name: "sleep",
        forms: &["sleep(seconds)"],
        summary: "Wait (interruptible with Ctrl-C).",
        example: r#"sleep(0.5);"#,
        ip: "sleep SECONDS",
    },
];

/// Every group of documented functions; a feature adds its own slice here.
const GROUPS: &[&[FnDoc]] = &[
    CORE,
    super::catalog_net::NET,
    super::catalog_routes::ROUTES,
    super::catalog_traffic::TRAFFIC,
    super::catalog_testing::TESTING,
    super::processes::PROCESSES,
];

/// Every documented function, group by group.
pub fn all() -> impl Iterator<Item = &'static FnDoc> {
    GROUPS.iter().flat_map(|g| g.iter())
}

/// The documentation of the function `name`.
pub fn find(name: &str) -> Option<&'static FnDoc> {
    all().find(|d| d.name == name)
}

/// The argument counts a documented form accepts, counting `#{...}` as one argument.
pub fn form_arity(form: &str) -> usize {
    let inside = form.split_once('(').map(|(_, rest)| rest).unwrap_or("");
    let inside = &inside[..inside.rfind(')').unwrap_or(inside.len())];
    if inside.trim().is_empty() {
        return 0;
    }
    let mut depth = 0;
    let mut count = 1;
    for c in inside.chars() {
        match c {
            '{' | '(' | '[' | '<' => depth += 1,
            '}' | ')' | ']' | '>' => depth -= 1,
            ',' if depth == 0 => count += 1,
            _ => {}
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::script::Session;

    /// What is registered and what is documented must be the same set of (name, arity).
    #[test]
    fn catalog_matches_registrations() {
        let session = Session::new(None, Path::new("."), std::rc::Rc::new(|_: &str| {}));
        let registered: BTreeSet<(String, usize)> = session.registered.iter().map(|(n, a)| (n.to_string(), *a)).collect();
        let documented: BTreeSet<(String, usize)> =
            all().flat_map(|d| d.forms.iter().map(move |f| (d.name.to_string(), form_arity(f)))).collect();
        assert_eq!(
            registered.difference(&documented).collect::<Vec<_>>(),
            Vec::<&(String, usize)>::new(),
            "registered but undocumented"
        );
        assert_eq!(
            documented.difference(&registered).collect::<Vec<_>>(),
            Vec::<&(String, usize)>::new(),
            "documented but not registered"
        );
    }

    #[test]
    fn arity_of_forms() {
        assert_eq!(form_arity("netns_list() -> array"), 0);
        assert_eq!(form_arity("veth(ns, name, peer, #{mtu})"), 4);
        assert_eq!(form_arity("ping(ns, dst, #{count, timeout, interval}) -> Ping"), 3);
    }
}
