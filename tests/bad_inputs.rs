//! Bad input to every native function, each with the exact message a script sees: what
//! `catch (e)` gets, which is the message line of the report `nslab run` prints. One sandboxed
//! `nslab run` carries the whole table (each case in its own `try`, its message printed under its
//! number), so hundreds of cases cost about as much as one lab. Places and exit statuses through
//! the binary are in `user_errors.rs`.
//!
//! A case names the function it is about; every function nslab registers has at least one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::support::{run_nslab, script};

struct Case {
    func: &'static str,
    code: &'static str,
    message: &'static str,
}

const fn c(func: &'static str, code: &'static str, message: &'static str) -> Case {
    Case { func, code, message }
}

/// What the cases act on: two namespaces joined by a veth pair with addresses, a second pair
/// that stays down, a bridge, a route, a program. Each case leaves all of it as it was.
const SETUP: &str = r#"
let a = netns_add("a");
let b = netns_add("b");
veth(a, "v0", b, "v1");
veth(a, "w0", a, "w1");
veth(b, "w0", b, "w2");
addr(a, "v0", "10.1.0.1/24");
addr(b, "v1", "10.1.0.2/24");
up(a, "lo");
up(a, "v0");
up(b, "v1");
bridge(a, "br0");
route(a, "10.5.0.0/24", "10.1.0.2");
let p = spawn_in(a, "sleep 30");
links(a);
// Rhai's own errors (a function called with arguments it has no form for) arrive as maps.
fn message(e) {
    if type_of(e) != "map" { return `${e}`; }
    let m = e.message;
    let at = m.index_of(" @ '");
    if at >= 0 { m.sub_string(0, at) } else { m }
}
"#;

/// Functions without arguments have no bad input but a call with some, which Rhai refuses
/// itself (`Fn(name).call(...)` gets past `nslab check`'s count of arguments).
const CASES: &[Case] = &[
    c("netns_add", r#"netns_add("a")"#, r#"namespace "a" already exists (this lab created it earlier)"#),
    c(
        "netns_add",
        r#"netns_add("a/b")"#,
        r#"invalid namespace name "a/b": it contains '/'; a namespace name must be a plain file name under /run/netns"#,
    ),
    c("netns_add", r#"netns_add("")"#, r#"invalid namespace name "": it is empty"#),
    c(
        "netns_add",
        r#"netns_add("c", #{on: "m2"})"#,
        r#"no machine "m2": this lab runs on one machine; give an inventory of machines with --hosts FILE"#,
    ),
    c("netns_add", r#"netns_add("c", #{where: "m2"})"#, r#"netns_add has no option "where" (it takes: on)"#),
    c("netns_add", r#"netns_add("c", #{on: 2})"#, r#"the on option of netns_add must be a machine's name, not the integer 2"#),
    c(
        "netns",
        r#"netns("a", #{on: "m9"})"#,
        r#"no machine "m9": this lab runs on one machine; give an inventory of machines with --hosts FILE"#,
    ),
    c(
        "host",
        r#"host("m2")"#,
        r#"no machine "m2": this lab runs on one machine; give an inventory of machines with --hosts FILE"#,
    ),
    c("host", r#"host(2)"#, r#"the first argument of host must be a machine's name (a string), not the integer 2"#),
    c("explain", r#"explain(a, "nowhere")"#, r#"explain needs an address to explain the path to, not "nowhere""#),
    c(
        "explain",
        r#"explain(a, "10.1.0.2", #{arrived_from: "x"})"#,
        r#"the arrived_from option of explain must be an address, not "x""#,
    ),
    c("explain", r#"explain(a, "10.1.0.2", #{via: 1})"#, r#"explain has no option "via"; the options are: arrived_from"#),
    c("netns_add", r#"netns_add("..")"#, r#"invalid namespace name "..": it must be a plain file name, not "." or "..""#),
    c(
        "netns_add",
        r#"netns_add(5)"#,
        r#"the first argument of netns_add must be a namespace name (a string), not the integer 5"#,
    ),
    c(
        "netns_add",
        r#"netns_add("a b")"#,
        r#"invalid namespace name "a b": it contains ' '; a namespace name must be a plain file name under /run/netns"#,
    ),
    c("netns_add", r#"netns_add(root())"#, r#"the first argument of netns_add must be a namespace name (a string), not a Netns"#),
    c("netns", r#"netns("zz")"#, r#"namespace "zz" does not exist"#),
    c("netns", r#"netns("")"#, r#"invalid namespace name "": it is empty"#),
    c("netns", r#"netns(1)"#, r#"the first argument of netns must be a namespace name (a string), not the integer 1"#),
    c("root", r#"Fn("root").call(1)"#, r#"Function not found: root (i64)"#),
    c("netns_del", r#"netns_del("zz")"#, r#"namespace "zz" does not exist"#),
    c("netns_del", r#"netns_del(root())"#, r#"the root namespace cannot be deleted"#),
    c(
        "netns_del",
        r#"netns_del(5)"#,
        r#"the first argument of netns_del must be a namespace (a name or a Netns handle), not the integer 5"#,
    ),
    c(
        "netns_del",
        r#"netns_del("../etc")"#,
        r#"invalid namespace name "../etc": it contains '/'; a namespace name must be a plain file name under /run/netns"#,
    ),
    c("netns_list", r#"Fn("netns_list").call("a")"#, r#"Function not found: netns_list (&str | ImmutableString | String)"#),
    c(
        "netns_exists",
        r#"netns_exists(1)"#,
        r#"the argument of netns_exists must be a namespace name or a Netns handle, not the integer 1"#,
    ),
    c(
        "netns_exists",
        r#"netns_exists([])"#,
        r#"the argument of netns_exists must be a namespace name or a Netns handle, not an array"#,
    ),
    c("veth", r#"veth(a, "v0", "v9")"#, r#"link "v0" already exists in namespace "a""#),
    c("veth", r#"veth(a, "x0", "x0")"#, r#"invalid veth pair "x0": both ends have the same name"#),
    c(
        "veth",
        r#"veth(a, "x0", "x1", #{mtu: -1})"#,
        r#"invalid MTU "-1": veth "x0" takes MTUs from 68 (the IPv4 minimum) to 65535"#,
    ),
    c(
        "veth",
        r#"veth(a, "x0", "x1", #{mtu: 65536})"#,
        r#"invalid MTU "65536": veth "x0" takes MTUs from 68 (the IPv4 minimum) to 65535"#,
    ),
    c("veth", r#"veth(a, "x0", "x1", #{mtu: "1500"})"#, r#"the mtu option of veth must be an integer, not the string "1500""#),
    c(
        "veth",
        r#"veth(a, "x0", "x1", #{queues: 0})"#,
        r#"invalid queue count "0": veth "x0" takes 1 to 4096 queues per direction"#,
    ),
    c(
        "veth",
        r#"veth(a, "x0", "x1", #{queues: 5000})"#,
        r#"invalid queue count "5000": veth "x0" takes 1 to 4096 queues per direction"#,
    ),
    c(
        "veth",
        r#"veth(a, "x0", "x1", #{master: "w0"})"#,
        r#""x0" cannot join "w0" in namespace "a" (the master option): "w0" is a veth link, not a bridge, bond or vrf, so it cannot take ports"#,
    ),
    c("veth", r#"veth(a, "x0", "x1", #{master: "nob"})"#, r#"link "nob" does not exist in namespace "a""#),
    c("veth", r#"veth(a, "x0", "x1", #{up: 1})"#, r#"the up option of veth must be true or false, not the integer 1"#),
    c("veth", r#"veth(a, "x0", "zz", "x1")"#, r#"namespace "zz" does not exist"#),
    c("veth", r#"veth(a, "x0", "x1", #{speed: 10})"#, r#"veth has no option "speed"; the options are: mtu, up, master, queues"#),
    c(
        "veth",
        r#"veth("averyveryverylongname", "x1")"#,
        r#"invalid interface name "averyveryverylongname": it is 21 bytes long; the kernel allows at most 15"#,
    ),
    c("veth", r#"veth(a, "x0", b, "v1")"#, r#"link "v1" already exists in namespace "b""#),
    c(
        "move_to",
        r#"move_to(a, "lo", b)"#,
        r#"link "lo" cannot leave namespace "a": it is the namespace's loopback link (every namespace has its own)"#,
    ),
    c(
        "move_to",
        r#"move_to(a, "br0", b)"#,
        r#"link "br0" cannot leave namespace "a": it is a bridge, which the kernel keeps in the namespace it was made in; create a bridge in the other namespace instead"#,
    ),
    c("move_to", r#"move_to(a, "nope", b)"#, r#"link "nope" does not exist in namespace "a""#),
    c("move_to", r#"move_to(a, "v0", "zz")"#, r#"namespace "zz" does not exist"#),
    c("move_to", r#"move_to("zz", "v0", a)"#, r#"namespace "zz" does not exist"#),
    c(
        "move_to",
        r#"move_to(a, "w0", 5)"#,
        r#"the third argument of move_to must be a namespace (a name or a Netns handle), not the integer 5"#,
    ),
    c("move_to", r#"move_to(a, "w0", b)"#, r#"link "w0" already exists in namespace "b""#),
    c("addr", r#"addr(a, "v0", "10.1.0.1/24")"#, r#"address "10.1.0.1/24" already exists on link "v0" in namespace "a""#),
    c(
        "addr",
        r#"addr(a, "v0", "224.0.0.5/24")"#,
        r#"invalid address "224.0.0.5/24": 224.0.0.5 is a multicast group address (224.0.0.0/4), not a host's; a link's address must be a unicast one, like "10.1.1.1/24""#,
    ),
    c(
        "addr",
        r#"addr(a, "v0", "0.0.0.0/8")"#,
        r#"invalid address "0.0.0.0/8": 0.0.0.0 is the unspecified address ("any"), not a host's; a link's address must be a unicast one, like "10.1.1.1/24""#,
    ),
    c(
        "addr",
        r#"addr(a, "v0", "255.255.255.255/32")"#,
        r#"invalid address "255.255.255.255/32": 255.255.255.255 is the limited broadcast address, not a host's; a link's address must be a unicast one, like "10.1.1.1/24""#,
    ),
    c(
        "addr",
        r#"addr(a, "v0", "::/64")"#,
        r#"invalid address "::/64": :: is the unspecified address ("any"), not a host's; a link's address must be a unicast one, like "fd00::1/64""#,
    ),
    c(
        "addr",
        r#"addr(a, "v0", "ff02::1/64")"#,
        r#"invalid address "ff02::1/64": ff02::1 is a multicast group address (ff00::/8), not a host's; a link's address must be a unicast one, like "fd00::1/64""#,
    ),
    c(
        "addr",
        r#"addr(a, "v0", "10.1.0.300/24")"#,
        r#"invalid address "10.1.0.300/24": "10.1.0.300" is not an IPv4 or IPv6 address (expected e.g. "10.1.1.1/24")"#,
    ),
    c(
        "addr",
        r#"addr(a, "v0", "10.1.0.3/33")"#,
        r#"invalid address "10.1.0.3/33": the prefix length "33" is not a number from 0 to 32"#,
    ),
    c(
        "addr",
        r#"addr(a, "v0", "fd00::1/129")"#,
        r#"invalid address "fd00::1/129": the prefix length "129" is not a number from 0 to 128"#,
    ),
    c("addr", r#"addr(a, "nope", "10.1.0.3/24")"#, r#"link "nope" does not exist in namespace "a""#),
    c(
        "addr",
        r#"addr(a, "v0", 5)"#,
        r#"the third argument of addr must be an address with prefix length, like "10.1.1.1/24" (a string), not the integer 5"#,
    ),
    c(
        "addr_del",
        r#"addr_del(a, "lo", "127.0.0.2/8")"#,
        r#"link "lo" in namespace "a" has no address 127.0.0.2/8; it has: 127.0.0.1/8, ::1/128"#,
    ),
    c(
        "addr_del",
        r#"addr_del(a, "lo", "127.0.0.1/16")"#,
        r#"link "lo" in namespace "a" has no address 127.0.0.1/16; it has: 127.0.0.1/8, ::1/128"#,
    ),
    c(
        "addr_del",
        r#"addr_del(a, "lo", "10.1.0.1/24x")"#,
        r#"invalid address "10.1.0.1/24x": the prefix length "24x" is not a number from 0 to 32"#,
    ),
    c("addr_del", r#"addr_del(a, "nope", "10.1.0.1/24")"#, r#"link "nope" does not exist in namespace "a""#),
    c("up", r#"up(a, "nope")"#, r#"link "nope" does not exist in namespace "a""#),
    c("up", r#"up(42)"#, r#"the first argument of up must be a link name (a string), not the integer 42"#),
    c("up", r#"up(3.5, "lo")"#, r#"the first argument of up must be a namespace (a name or a Netns handle), not the float 3.5"#),
    c("down", r#"down(a, "v0x")"#, r#"link "v0x" does not exist in namespace "a""#),
    c("down", r#"down("zz", "lo")"#, r#"namespace "zz" does not exist"#),
    c("exec_in", r#"exec_in(a, "")"#, r#"the command given to exec_in is empty"#),
    c(
        "exec_in",
        r#"exec_in(a, "nosuchprog --flag")"#,
        r#"cannot run "nosuchprog" in namespace "a": no such program (is it installed and on PATH?)"#,
    ),
    c("exec_in", r#"exec_in(a, "echo 'x")"#, r#"cannot split the command "echo 'x" into words: a quote is not closed"#),
    c("exec_in", r#"exec_in("zz", "true")"#, r#"namespace "zz" does not exist"#),
    c("exec_in", r#"exec_in(a, "/etc")"#, r#"cannot run "/etc" in namespace "a": it is a directory, not a program"#),
    c("exec_in", r#"exec_in(a, [])"#, r#"the command given to exec_in is empty"#),
    c(
        "exec_in",
        r#"exec_in(a, 5)"#,
        r#"the second argument of exec_in must be a command (a string or an array of strings), not the integer 5"#,
    ),
    c("exec", r#"exec(["", "x"])"#, r#"the command given to exec starts with an empty program name"#),
    c("exec", r#"exec("")"#, r#"the command given to exec is empty"#),
    c("ping", r#"ping(a, "10.1.0.300")"#, r#"invalid destination "10.1.0.300": it is not an IPv4 or IPv6 address"#),
    c("ping", r#"ping(a, "10.1.0.2", #{count: 0})"#, r#"the count option of ping must be from 1 to 4294967295, not 0"#),
    c(
        "ping",
        r#"ping(a, "10.1.0.2", #{timeout: 0})"#,
        r#"the timeout option of ping must be a number of seconds from 0.001 to 999999, not 0"#,
    ),
    c(
        "ping",
        r#"ping(a, "10.1.0.2", #{interval: -1})"#,
        r#"the interval option of ping must be a number of seconds from 0 to 999999, not -1"#,
    ),
    c(
        "ping",
        r#"ping(a, "10.1.0.2", #{cnt: 1})"#,
        r#"ping has no option "cnt"; the options are: count, timeout, interval, ttl, size, from, dev"#,
    ),
    c(
        "ping",
        r#"ping(a, "host.example")"#,
        r#"invalid destination "host.example": it is not an IPv4 or IPv6 address (host names are not looked up: give an address)"#,
    ),
    c("ping", r#"ping(a, "10.1.0.2", #{count: 1.5})"#, r#"the count option of ping must be an integer, not the float 1.5"#),
    c("ping", r#"ping(a, "10.1.0.2", 5)"#, r#"the third argument of ping must be an options map, not the integer 5"#),
    c("ping", r#"ping(5)"#, r#"the first argument of ping must be a destination address (a string), not the integer 5"#),
    c("ping", r#"ping("zz", "10.1.0.2")"#, r#"namespace "zz" does not exist"#),
    c("ping", r#"ping(a, "10.1.0.2", #{ttl: 0})"#, r#"the ttl option of ping must be from 1 to 255, not 0"#),
    c("ping", r#"ping(a, "10.1.0.2", #{ttl: 256})"#, r#"the ttl option of ping must be from 1 to 255, not 256"#),
    c("ping", r#"ping(a, "10.1.0.2", #{size: -1})"#, r#"the size option of ping must be from 0 to 65527, not -1"#),
    c(
        "ping",
        r#"ping(a, "10.1.0.2", #{size: 65508})"#,
        r#"invalid ping size "65508": an echo payload to 10.1.0.2 holds at most 65507 bytes"#,
    ),
    c(
        "ping",
        r#"ping(a, "10.1.0.2", #{from: "fd00::1"})"#,
        r#"invalid source address "fd00::1": it is not of the destination's family (10.1.0.2 is IPv4)"#,
    ),
    c(
        "ping",
        r#"ping(a, "10.1.0.2", #{from: "10.1.0.9"})"#,
        r#"cannot ping 10.1.0.2 from namespace "a": 10.1.0.9 is not an address of namespace "a" (the from option must be one of its own)"#,
    ),
    c(
        "ping",
        r#"ping(a, "10.1.0.2", #{from: "nowhere"})"#,
        r#"the from option of ping must be an IP address like "10.0.0.1" or "fd00::1", not "nowhere""#,
    ),
    c("ping", r#"ping(a, "10.1.0.2", #{dev: "zz"})"#, r#"link "zz" does not exist in namespace "a""#),
    c("ping", r#"ping(a, "10.1.0.2", #{dev: 5})"#, r#"the dev option of ping must be a link name (a string), not the integer 5"#),
    c("ping", r#"ping("10.1.0.300", #{count: 1})"#, r#"invalid destination "10.1.0.300": it is not an IPv4 or IPv6 address"#),
    c("traceroute", r#"traceroute(a, "10.1.0.300")"#, r#"invalid destination "10.1.0.300": it is not an IPv4 or IPv6 address"#),
    c(
        "traceroute",
        r#"traceroute(a, "10.1.0.2", #{proto: "tcp"})"#,
        r#"the proto option of traceroute must be "icmp" or "udp", not "tcp""#,
    ),
    c(
        "traceroute",
        r#"traceroute(a, "10.1.0.2", #{max_hops: 0})"#,
        r#"the max_hops option of traceroute must be from 1 to 255, not 0"#,
    ),
    c(
        "traceroute",
        r#"traceroute(a, "10.1.0.2", #{timeout: 0})"#,
        r#"the timeout option of traceroute must be a number of seconds from 0.001 to 60, not 0"#,
    ),
    c(
        "traceroute",
        r#"traceroute(a, "10.1.0.2", #{hops: 3})"#,
        r#"traceroute has no option "hops"; the options are: max_hops, timeout, proto"#,
    ),
    c(
        "traceroute",
        r#"traceroute(a, "10.9.0.1")"#,
        r#"cannot traceroute to 10.9.0.1 from namespace "a": Network is unreachable"#,
    ),
    c("traceroute", r#"traceroute("zz", "10.1.0.2")"#, r#"namespace "zz" does not exist"#),
    c("tcp_listen", r#"tcp_listen(a, 70000)"#, r#"the port of tcp_listen must be from 0 to 65535, not 70000"#),
    c("tcp_listen", r#"tcp_listen(a, "80")"#, r#"the port of tcp_listen must be an integer, not the string "80""#),
    c(
        "tcp_listen",
        r#"tcp_listen(a, 8080, #{addr: "10.1.0.9"})"#,
        r#"cannot listen on TCP port 8080 in namespace "a": 10.1.0.9 is not an address of namespace "a""#,
    ),
    c(
        "tcp_listen",
        r#"tcp_listen(a, 8080, #{addr: "nowhere"})"#,
        r#"invalid listening address "nowhere": it is not an IPv4 or IPv6 address (host names are not looked up: give an address)"#,
    ),
    c("tcp_listen", r#"tcp_listen(a, 8080, #{port: 1})"#, r#"tcp_listen has no option "port"; the options are: addr"#),
    c(
        "tcp_listen",
        r#"{ let s = tcp_listen(a, 8081); tcp_listen(a, 8081) }"#,
        r#"cannot listen on TCP port 8081 in namespace "a": port 8081 is already in use in namespace "a""#,
    ),
    c("tcp_listen", r#"tcp_listen("zz", 8080)"#, r#"namespace "zz" does not exist"#),
    c("tcp_connect", r#"tcp_connect(a, "10.1.0.2", 0)"#, r#"the port of tcp_connect must be from 1 to 65535, not 0"#),
    c(
        "tcp_connect",
        r#"tcp_connect(a, "nowhere", 80)"#,
        r#"invalid destination "nowhere": it is not an IPv4 or IPv6 address (host names are not looked up: give an address)"#,
    ),
    c(
        "tcp_connect",
        r#"tcp_connect(a, "10.1.0.2", 80, #{timeout: -1})"#,
        r#"the timeout option of tcp_connect must be a number of seconds from 0.001 to 3600, not -1"#,
    ),
    c(
        "tcp_connect",
        r#"tcp_connect(a, "10.1.0.2", 80, #{wait: 1})"#,
        r#"tcp_connect has no option "wait"; the options are: timeout"#,
    ),
    c("tcp_connect", r#"tcp_connect("zz", "10.1.0.2", 80)"#, r#"namespace "zz" does not exist"#),
    c(
        "wait_tcp",
        r#"wait_tcp(a, "10.1.0.2", 80, 0.2)"#,
        r#"cannot wait for TCP port 80 on 10.1.0.2 from namespace "a": nothing accepted within 0.2 s (last attempt: Connection refused)"#,
    ),
    c(
        "wait_tcp",
        r#"wait_tcp(a, "10.1.0.2", 80, 0)"#,
        r#"the timeout of wait_tcp must be a number of seconds from 0.001 to 3600, not 0"#,
    ),
    c("wait_tcp", r#"wait_tcp(a, "10.1.0.2", 80, "soon")"#, r#"the timeout of wait_tcp must be a number, not the string "soon""#),
    c("wait_tcp", r#"wait_tcp(a, "10.1.0.2", 65536, 1)"#, r#"the port of wait_tcp must be from 1 to 65535, not 65536"#),
    c("links", r#"links("zz")"#, r#"namespace "zz" does not exist"#),
    c("links", r#"links(5)"#, r#"the first argument of links must be a namespace (a name or a Netns handle), not the integer 5"#),
    c("link", r#"link(a, "zz")"#, r#"link "zz" does not exist in namespace "a""#),
    c("link", r#"link(a, "")"#, r#"invalid interface name "": it is empty"#),
    c("addrs", r#"addrs("zz")"#, r#"namespace "zz" does not exist"#),
    c(
        "route",
        r#"route(a, "10.9.0.1/24", #{dev: "v0"})"#,
        r#"invalid route destination "10.9.0.1/24": host bits are set; the network is 10.9.0.0/24"#,
    ),
    c(
        "route",
        r#"route(a, "10.2.0.0/24", "10.3.0.1")"#,
        r#"cannot add route 10.2.0.0/24 in namespace "a": the gateway 10.3.0.1 is not on any directly connected network; the connected ones there are 10.1.0.0/24 (dev v0)"#,
    ),
    c(
        "route",
        r#"route(a, "10.2.0.0/24", "224.0.0.1")"#,
        r#"invalid gateway "224.0.0.1": 224.0.0.1 is a multicast group address (224.0.0.0/4), not a host's; a gateway is a neighbour's unicast address"#,
    ),
    c(
        "route",
        r#"route(a, "10.2.0.0/24", #{via: "10.1.0.2", metric: -1})"#,
        r#"the metric option of route must be from 0 to 4294967295, not -1"#,
    ),
    c(
        "route",
        r#"route(a, "10.2.0.0/24", #{})"#,
        r#"invalid route "10.2.0.0/24": it needs a gateway (via), a device (dev) or nexthops"#,
    ),
    c("route", r#"route(a, "10.2.0.0/24", #{dev: "nope"})"#, r#"link "nope" does not exist in namespace "a""#),
    c(
        "route",
        r#"route(a, "default", "fd00::1")"#,
        r#"cannot add route default in namespace "a": the gateway fd00::1 is not on any directly connected network; the connected ones there are fe80::/64 (dev v0)"#,
    ),
    c(
        "route",
        r#"route(a, "10.2.0.0/24", "fd00::1")"#,
        r#"invalid gateway "fd00::1": it is IPv6 but the destination 10.2.0.0/24 is IPv4"#,
    ),
    c(
        "route",
        r#"route(a, "10.5.0.0/24", "10.1.0.3")"#,
        r#"route "10.5.0.0/24" already exists in namespace "a": 10.5.0.0/24 via 10.1.0.2 dev v0 metric 0"#,
    ),
    c(
        "route",
        r#"route(a, "10.2.0.0/24", #{dev: "w0"})"#,
        r#"cannot add route 10.2.0.0/24 in namespace "a": link "w0" is down; bring it up first (up("w0") in that namespace)"#,
    ),
    c(
        "route",
        r#"route(a, "abc", "10.1.0.2")"#,
        r#"invalid route destination "abc": "abc" is not an IPv4 or IPv6 address (expected e.g. "10.1.0.0/24" or "default")"#,
    ),
    c(
        "route",
        r#"route(a, "default", "10.1.0.2/24")"#,
        r#"invalid gateway "10.1.0.2/24": it has a prefix length; give the address alone, like "10.1.0.2""#,
    ),
    c(
        "route",
        r#"route(a, "10.2.0.0/24", #{via: 5})"#,
        r#"the via option of route must be a gateway address (a string), not the integer 5"#,
    ),
    c(
        "route",
        r#"route(a, "10.2.0.0/24", #{gw: "10.1.0.2"})"#,
        r#"route has no option "gw"; the options are: via, dev, metric, table, type, onlink, src, scope, proto, nexthops"#,
    ),
    c(
        "route",
        r#"route(a, "10.2.0.0/24", "0.0.0.0")"#,
        r#"invalid gateway "0.0.0.0": 0.0.0.0 is the unspecified address ("any"), not a host's; a gateway is a neighbour's unicast address"#,
    ),
    c(
        "route_del",
        r#"route_del(a, "10.6.0.0/24")"#,
        r#"there is no route to 10.6.0.0/24 in namespace "a"; its IPv4 routes go to: 10.1.0.0/24, 10.5.0.0/24"#,
    ),
    c(
        "route_del",
        r#"route_del(a, "10.5.0.0/24", "10.1.0.9")"#,
        r#"there is no route to 10.5.0.0/24 via 10.1.0.9 in namespace "a"; the routes to 10.5.0.0/24 there are: 10.5.0.0/24 via 10.1.0.2 dev v0 metric 0"#,
    ),
    c(
        "route_del",
        r#"route_del(a, "10.5.0.1/24")"#,
        r#"invalid route destination "10.5.0.1/24": host bits are set; the network is 10.5.0.0/24"#,
    ),
    c(
        "route_del",
        r#"route_del(a, "fd00::/64")"#,
        r#"there is no route to fd00::/64 in namespace "a"; its IPv6 routes go to: fe80::/64"#,
    ),
    c(
        "route_del",
        r#"route_del(a, "10.1.0.0/24", #{metric: 7})"#,
        r#"there is no route to 10.1.0.0/24 metric 7 in namespace "a"; the routes to 10.1.0.0/24 there are: 10.1.0.0/24 dev v0 metric 0"#,
    ),
    c(
        "route",
        r#"route(a, "10.2.0.0/24", #{type: "anycast", dev: "v0"})"#,
        r#"invalid route type "anycast": it must be one of "unicast", "local", "blackhole", "unreachable", "prohibit", "throw""#,
    ),
    c(
        "route",
        r#"route(a, "10.2.0.0/24", #{type: "blackhole", via: "10.1.0.2"})"#,
        r#"invalid route "10.2.0.0/24": a blackhole route takes no gateway (via), device (dev) or nexthops"#,
    ),
    c(
        "route",
        r#"route(a, "10.2.0.0/24", #{dev: "v0", table: "mian"})"#,
        r#"invalid table "mian": a table is a number from 1 to 4294967295 or "main", "local" or "default""#,
    ),
    c(
        "route",
        r#"route(a, "10.2.0.0/24", #{dev: "v0", table: 0})"#,
        r#"invalid table "0": a table is a number from 1 to 4294967295 or "main", "local" or "default""#,
    ),
    c(
        "route",
        r#"route(a, "10.2.0.0/24", #{dev: "v0", table: 1.5})"#,
        r#"the table option of route must be a table number or "main", "local", "default", not the float 1.5"#,
    ),
    c(
        "route",
        r#"route(a, "10.2.0.0/24", #{nexthops: [#{via: "10.1.0.2", weight: 0}, #{via: "10.1.0.3"}]})"#,
        r#"invalid nexthop weight "0": it must be from 1 to 256"#,
    ),
    c(
        "route",
        r#"route(a, "10.2.0.0/24", #{nexthops: [#{via: "10.1.0.2", weight: 257}]})"#,
        r#"invalid nexthop weight "257": it must be from 1 to 256"#,
    ),
    c(
        "route",
        r#"route(a, "10.2.0.0/24", #{nexthops: [#{weight: 2}, #{via: "10.1.0.3"}]})"#,
        r##"invalid nexthop "#1": each nexthop needs a gateway (via) or a device (dev)"##,
    ),
    c(
        "route",
        r#"route(a, "10.2.0.0/24", #{nexthops: []})"#,
        r#"invalid nexthops "[]": give at least one #{via, dev, weight, onlink}, or leave nexthops out"#,
    ),
    c(
        "route",
        r#"route(a, "10.2.0.0/24", #{nexthops: [#{via: "10.1.0.2", gw: 1}]})"#,
        r#"a nexthop of route has no key "gw"; the keys are: via, dev, weight, onlink"#,
    ),
    c(
        "route",
        r#"route(a, "10.2.0.0/24", #{nexthops: ["10.1.0.2"]})"#,
        r#"each nexthop of route must be a map #{via, dev, weight, onlink}, not the string "10.1.0.2""#,
    ),
    c(
        "route",
        r#"route(a, "10.2.0.0/24", #{via: "10.1.0.2", nexthops: [#{via: "10.1.0.3"}]})"#,
        r#"invalid route "10.2.0.0/24": give either via/dev or nexthops, not both"#,
    ),
    c(
        "route",
        r#"route(a, "10.2.0.0/24", #{nexthops: [#{via: "10.1.0.2"}, #{via: "fd00::2"}]})"#,
        r#"invalid gateway "fd00::2": it is IPv6 but the first nexthop's is IPv4"#,
    ),
    c(
        "route",
        r#"route(a, "10.2.0.0/24", #{via: "10.1.0.2", src: "fd00::1"})"#,
        r#"invalid source address (src) "fd00::1": it is IPv6 but the destination 10.2.0.0/24 is IPv4"#,
    ),
    c(
        "route",
        r#"route(a, "10.2.0.0/24", #{via: "10.9.0.2", onlink: true})"#,
        r#"invalid route "10.2.0.0/24": onlink needs a gateway (via) and a device (dev): it says the gateway is on that link"#,
    ),
    c(
        "route",
        r#"route(a, "10.2.0.0/24", #{dev: "v0", proto: "kernel"})"#,
        r#"invalid route protocol "kernel": it must be a number from 3 to 255 or one of boot, static, gated, ra, mrt, zebra, bird, dnrouted, xorp, ntk, dhcp, keepalived, babel, openr, nslab, bgp, isis, ospf, rip, eigrp (0 to 2 mark the kernel's own routes)"#,
    ),
    c(
        "route",
        r#"route(a, "10.2.0.0/24", #{dev: "v0", scope: "planet"})"#,
        r#"invalid scope "planet": a scope is "global", "site", "link", "host" or a number from 0 to 255"#,
    ),
    c(
        "route",
        r#"route(a, "10.1.0.9", #{type: "local"})"#,
        r#"invalid route "10.1.0.9": a local route needs a device (dev): the link whose address it is"#,
    ),
    c(
        "route_del",
        r#"route_del(a, "10.5.0.0/24", #{type: "blackhole"})"#,
        r#"there is no route to 10.5.0.0/24 type blackhole in namespace "a"; the routes to 10.5.0.0/24 there are: 10.5.0.0/24 via 10.1.0.2 dev v0 metric 0"#,
    ),
    c(
        "route_del",
        r#"route_del(a, "10.5.0.0/24", #{table: 100})"#,
        r#"there is no route to 10.5.0.0/24 table 100 in namespace "a"; it has no IPv4 routes table 100"#,
    ),
    c(
        "route_del",
        r#"route(a, "10.6.0.0/24", #{via: "10.1.0.2", metric: 1}); route(a, "10.6.0.0/24", #{via: "10.1.0.2", metric: 2}); let e = (); try { route_del(a, "10.6.0.0/24") } catch (x) { e = x } route_del(a, "10.6.0.0/24", #{metric: 1}); route_del(a, "10.6.0.0/24", #{metric: 2}); throw e"#,
        r#"2 routes to 10.6.0.0/24 in namespace "a" match, and route_del removes exactly one: 10.6.0.0/24 via 10.1.0.2 dev v0 metric 1; 10.6.0.0/24 via 10.1.0.2 dev v0 metric 2; say which with via, dev, metric, type or proto"#,
    ),
    c(
        "route_del",
        r#"route_del(a, "10.5.0.0/24", #{weight: 1})"#,
        r#"route_del has no option "weight"; the options are: via, dev, metric, table, type, onlink, src, scope, proto, nexthops"#,
    ),
    c(
        "routes",
        r#"routes(a, #{table: "mian"})"#,
        r#"invalid table "mian": give a number from 1 to 4294967295, "main", "local", "default", or "all" (or 0) for every table"#,
    ),
    c("routes", r#"routes(a, #{family: "ipx"})"#, r#"invalid family "ipx": it must be "inet" (IPv4) or "inet6" (IPv6)"#),
    c("routes", r#"routes(#{dev: "v0"})"#, r#"routes has no option "dev"; the options are: table, family"#),
    c(
        "route_get",
        r#"route_get(a, "10.1.0.0/24")"#,
        r#"invalid destination "10.1.0.0/24": it has a prefix length; give the address alone, like "10.1.0.0""#,
    ),
    c("route_get", r#"route_get(a, "10.1.0.2", #{iif: "nope"})"#, r#"link "nope" does not exist in namespace "a""#),
    c(
        "route_get",
        r#"route_get(a, "10.1.0.2", #{from: "fd00::1"})"#,
        r#"invalid source address (from) "fd00::1": it is IPv6 but the destination 10.1.0.2 is IPv4"#,
    ),
    c(
        "route_get",
        r#"route_get(a, "10.1.0.2", #{mark: -1})"#,
        r#"the mark option of route_get must be from 0 to 4294967295, not -1"#,
    ),
    c(
        "route_get",
        r#"route_get(5)"#,
        r#"the first argument of route_get must be a destination address (a string), not the integer 5"#,
    ),
    c(
        "rule",
        r#"rule(a, #{from: "10.0.0.0/8", family: "inet6"})"#,
        r#"invalid rule source (from) "10.0.0.0": it is IPv4 but family "inet6" is IPv6"#,
    ),
    c(
        "rule",
        r#"rule(a, #{from: "10.0.0.1/8"})"#,
        r#"invalid rule source (from) "10.0.0.1/8": host bits are set; the network is 10.0.0.0/8"#,
    ),
    c(
        "rule",
        r#"rule(a, #{action: "goto"})"#,
        r#"invalid rule action "goto": it must be one of "lookup", "blackhole", "unreachable", "prohibit""#,
    ),
    c(
        "rule",
        r#"rule(a, #{action: "blackhole", table: 100})"#,
        r#"invalid rule "action \"blackhole\"": only a lookup rule takes a table"#,
    ),
    c(
        "rule",
        r#"rule(a, #{fwmark: "x", table: 100})"#,
        r#"invalid fwmark "x": a mark is a number from 1 to 4294967295, or text "MARK/MASK" like "0x10/0xff""#,
    ),
    c(
        "rule",
        r#"rule(a, #{iif: "a/b"})"#,
        r#"invalid interface name "a/b": it contains '/', which the kernel refuses in interface names"#,
    ),
    c(
        "rule",
        r#"rule(a, #{priority: 7, table: 100}); let e = (); try { rule(a, #{priority: 7, table: 100}) } catch (x) { e = x } rule_del(a, #{priority: 7}); throw e"#,
        r#"rule "7: from all lookup 100 proto nslab" already exists in namespace "a""#,
    ),
    c("rule", r#"rule(a)"#, r#"the first argument of rule must be an options map, not a Netns"#),
    c(
        "rule",
        r#"rule(a, #{prio: 5})"#,
        r#"rule has no option "prio"; the options are: from, to, iif, oif, fwmark, table, priority, action, family"#,
    ),
    c(
        "rule_del",
        r#"rule_del(a, #{priority: 5})"#,
        r#"no rule in namespace "a" has what was given; its rules are: 0: from all lookup local proto kernel; 32766: from all lookup main proto kernel; 32767: from all lookup default proto kernel; 0: from all lookup local proto kernel; 32766: from all lookup main proto kernel"#,
    ),
    c(
        "rule_del",
        r#"rule_del(a, #{table: "main"})"#,
        r#"2 rules in namespace "a" match, and rule_del removes exactly one: 32766: from all lookup main proto kernel; 32766: from all lookup main proto kernel; say which with priority, from, table, ..."#,
    ),
    c("rule_del", r#"rule_del(a, #{family: "ipx"})"#, r#"invalid family "ipx": it must be "inet" (IPv4) or "inet6" (IPv6)"#),
    c(
        "rules",
        r#"rules(a, #{family: 6})"#,
        r#"the family option of rules must be "inet" or "inet6" (a string), not the integer 6"#,
    ),
    c("rules", r#"rules("zz")"#, r#"namespace "zz" does not exist"#),
    c("routes", r#"routes("zz")"#, r#"namespace "zz" does not exist"#),
    c(
        "routes",
        r#"routes(5)"#,
        r#"the first argument of routes must be a namespace (a name or a Netns handle), not the integer 5"#,
    ),
    c("assert", r#"assert(1)"#, r#"assert needs a true/false condition, not the integer 1"#),
    c("assert", r#"assert(false)"#, r#"assertion failed"#),
    c("assert", r#"assert(1 == 2, "math")"#, r#"math"#),
    c("sleep", r#"sleep(-1)"#, r#"sleep needs a number of seconds from 0 to 999999, not -1"#),
    c("sleep", r#"sleep("x")"#, r#"the number of seconds of sleep must be a number, not the string "x""#),
    c("sleep", r#"sleep(1e7)"#, r#"sleep needs a number of seconds from 0 to 999999, not 10000000"#),
    c("bridge", r#"bridge(a, "br0")"#, r#"link "br0" already exists in namespace "a""#),
    c("bridge", r#"bridge(a, "br1", #{stp: "yes"})"#, r#"the stp option of bridge must be true or false, not the string "yes""#),
    c(
        "bridge",
        r#"bridge(a, "br1", #{mtu: 70000})"#,
        r#"invalid MTU "70000": bridge "br1" takes MTUs from 68 (the IPv4 minimum) to 65535"#,
    ),
    c(
        "bridge",
        r#"bridge(a, "br1", #{speed: 10})"#,
        r#"bridge has no option "speed"; the options are: mtu, stp, ageing_time, mcast_snooping"#,
    ),
    c(
        "bridge",
        r#"bridge(a, "b r")"#,
        r#"invalid interface name "b r": it contains ' ', which the kernel refuses in interface names"#,
    ),
    c(
        "master",
        r#"master(a, "v0", "lo")"#,
        r#"cannot attach link "v0" to "lo" in namespace "a": "lo" is a link without a kind, not a bridge, bond or vrf, so it cannot take ports"#,
    ),
    c(
        "master",
        r#"master(a, "br0", "br0")"#,
        r#"cannot attach link "br0" to "br0" in namespace "a": that would put a link inside itself"#,
    ),
    c("master", r#"master(a, "v0", "nob")"#, r#"link "nob" does not exist in namespace "a""#),
    c(
        "master",
        r#"master(a, "w0", "v0")"#,
        r#"cannot attach link "w0" to "v0" in namespace "a": "v0" is a veth link, not a bridge, bond or vrf, so it cannot take ports"#,
    ),
    c("nomaster", r#"nomaster(a, "zz")"#, r#"link "zz" does not exist in namespace "a""#),
    c("nomaster", r#"nomaster(5)"#, r#"the first argument of nomaster must be a link name (a string), not the integer 5"#),
    c(
        "macvlan",
        r#"macvlan(a, "mv0", "v0", #{mode: "x"})"#,
        r#"invalid macvlan mode "x": macvlan "mv0" takes one of bridge, private, vepa, passthru"#,
    ),
    c("macvlan", r#"macvlan(a, "mv0", "zz")"#, r#"link "zz" does not exist in namespace "a""#),
    c(
        "macvlan",
        r#"macvlan(a, "mv0", "lo")"#,
        r#"macvlan "mv0" needs an Ethernet parent link; "lo" is the loopback link of namespace "a""#,
    ),
    c(
        "macvlan",
        r#"macvlan(a, "mv0", "v0", #{mtu: 9000})"#,
        r#"invalid MTU "9000": macvlan "mv0" takes at most the MTU of its parent "v0", 1500"#,
    ),
    c("macvlan", r#"macvlan(a, "mv0", "v0", #{mode: 7})"#, r#"the mode option of macvlan must be a string, not the integer 7"#),
    c(
        "vxlan",
        r#"vxlan(a, "vx0", #{id: 1 << 24})"#,
        r#"invalid VXLAN id "16777216": vxlan "vx0" needs a VNI from 0 to 16777215 (24 bits)"#,
    ),
    c("vxlan", r#"vxlan(a, "vx0", #{id: 5, port: 0})"#, r#"invalid UDP port "0": vxlan "vx0" needs a port from 1 to 65535"#),
    c(
        "vxlan",
        r#"vxlan(a, "vx0", #{id: 5, port: 70000})"#,
        r#"invalid UDP port "70000": vxlan "vx0" needs a port from 1 to 65535"#,
    ),
    c(
        "vxlan",
        r#"vxlan(a, "vx0", #{id: 5, remote: "239.1.1.1"})"#,
        r#"vxlan "vx0" sends to the multicast group 239.1.1.1, which needs an underlay link to join it on: add dev, like #{dev: "eth0"}"#,
    ),
    c(
        "vxlan",
        r#"vxlan(a, "vx0", #{id: 5, local: "239.1.1.1"})"#,
        r#"invalid local address "239.1.1.1": 239.1.1.1 is a multicast group address (224.0.0.0/4), not a host's; the local option of vxlan "vx0" is this end's own unicast address"#,
    ),
    c(
        "vxlan",
        r#"vxlan(a, "vx0", #{id: 5, local: "10.1.0.1", remote: "fd00::1"})"#,
        r#"invalid address "fd00::1": the remote end is not of the same family as the local address 10.1.0.1"#,
    ),
    c("vxlan", r#"vxlan(a, "vx0", #{id: 5, dev: "zz"})"#, r#"link "zz" does not exist in namespace "a""#),
    c("vxlan", r#"vxlan(a, "vx0", #{remote: "10.1.0.2"})"#, r#"vxlan needs the id option: the VNI, from 0 to 16777215"#),
    c(
        "vxlan",
        r#"vxlan(a, "vx0", #{id: 6, remote: "255.255.255.255"})"#,
        r#"invalid remote address "255.255.255.255": 255.255.255.255 is the limited broadcast address, not a host's; the remote option of vxlan "vx0" is the other end's unicast address or a multicast group"#,
    ),
    c(
        "vxlan",
        r#"vxlan(a, "vx0", #{id: 6, remote: "0.0.0.0"})"#,
        r#"invalid remote address "0.0.0.0": 0.0.0.0 is the unspecified address ("any"), not a host's; the remote option of vxlan "vx0" is the other end's unicast address or a multicast group"#,
    ),
    c("vxlan", r#"vxlan(a, "vx0")"#, r#"vxlan needs an options map with at least the VNI: #{id: 42, remote: "10.0.0.2"}"#),
    c("vxlan", r#"vxlan(a, "vx0", #{id: "6"})"#, r#"the id option of vxlan must be an integer, not the string "6""#),
    c(
        "vxlan",
        r#"vxlan(a, "vx0", #{id: 6, underlay: 5})"#,
        r#"the underlay option of vxlan must be a namespace (a name, a Netns handle or root()), not the integer 5"#,
    ),
    c("vxlan", r#"vxlan(a, "vx0", #{id: 6, underlay: "zz"})"#, r#"namespace "zz" does not exist"#),
    c(
        "vxlan",
        r#"vxlan(a, "vx0", #{id: 6, underlay: b, linger: 1})"#,
        r#"the linger option of vxlan must be true or false, not the integer 1"#,
    ),
    c("vxlan", r#"vxlan(a, "vx0", #{id: 6, dev: "v0", underlay: b})"#, r#"link "v0" does not exist in namespace "b""#),
    c("vxlan", r#"vxlan("zz", "vx0", #{id: 6, underlay: b})"#, r#"namespace "zz" does not exist"#),
    c(
        "vxlan",
        r#"vxlan(a, "vx0", #{id: 5, mtu: 0})"#,
        r#"invalid MTU "0": vxlan "vx0" takes MTUs from 68 (the IPv4 minimum) to 65535"#,
    ),
    c("dummy", r#"dummy(a, "d0", #{mtu: 10})"#, r#"invalid MTU "10": dummy "d0" takes MTUs from 68 (the IPv4 minimum) to 65535"#),
    c(
        "ifb",
        r#"ifb(a, "ifb0", #{mtu: 70000})"#,
        r#"invalid MTU "70000": ifb "ifb0" takes MTUs from 68 (the IPv4 minimum) to 65535"#,
    ),
    c("ifb", r#"ifb(a, "ifb0", #{up: "yes"})"#, r#"the up option of ifb must be true or false, not the string "yes""#),
    c("vlan", r#"vlan(a, "vl0", "v0", 4095)"#, r#"invalid VLAN id "4095": vlan "vl0" needs an id from 1 to 4094"#),
    c("vlan", r#"vlan(a, "vl0", "v0", 0)"#, r#"invalid VLAN id "0": vlan "vl0" needs an id from 1 to 4094"#),
    c(
        "vlan",
        r#"vlan(a, "vl0", "v0", 10, #{mtu: 9000})"#,
        r#"invalid MTU "9000": vlan "vl0" takes at most the MTU of its parent "v0", 1500"#,
    ),
    c(
        "vlan",
        r#"vlan(a, "vl0", "lo", 10)"#,
        r#"vlan "vl0" needs an Ethernet parent link; "lo" is the loopback link of namespace "a""#,
    ),
    c(
        "vrf",
        r#"vrf(a, "vr0", 254)"#,
        r#"invalid routing table "254": vrf "vr0" needs a table from 1 to 4294967295 other than main (254) and local (255)"#,
    ),
    c(
        "vrf",
        r#"vrf(a, "vr0", 0)"#,
        r#"invalid routing table "0": vrf "vr0" needs a table from 1 to 4294967295 other than main (254) and local (255)"#,
    ),
    c(
        "bond",
        r#"bond(a, "bo0", #{mode: "x"})"#,
        r#"invalid bond mode "x": bond "bo0" takes one of balance-rr, active-backup, balance-xor, broadcast, 802.3ad, balance-tlb, balance-alb"#,
    ),
    c(
        "wireguard",
        r#"wireguard(a, "wg0", #{mtu: 1})"#,
        r#"invalid MTU "1": wireguard "wg0" takes MTUs from 68 (the IPv4 minimum) to 65535"#,
    ),
    c(
        "mtu",
        r#"mtu(a, "v0", 70000)"#,
        r#"invalid MTU "70000": link "v0" in namespace "a" takes MTUs from 68 (the IPv4 minimum) to 65535"#,
    ),
    c(
        "mtu",
        r#"mtu(a, "v0", 65536)"#,
        r#"invalid MTU "65536": link "v0" in namespace "a" takes MTUs from 68 (the IPv4 minimum) to 65535"#,
    ),
    c(
        "mtu",
        r#"mtu(a, "v0", 60)"#,
        r#"invalid MTU "60": link "v0" in namespace "a" takes MTUs from 68 (the IPv4 minimum) to 65535"#,
    ),
    c("mtu", r#"mtu(a, "zz", 1500)"#, r#"link "zz" does not exist in namespace "a""#),
    c("mtu", r#"mtu(a, "v0", "x")"#, r#"the MTU argument of mtu must be an integer, not the string "x""#),
    c(
        "mac",
        r#"mac(a, "v0", "01:00:00:00:00:01")"#,
        r#"invalid MAC address "01:00:00:00:00:01": it is a multicast address (the lowest bit of the first byte is set); a link's own address must be unicast, like "02:00:00:00:00:01""#,
    ),
    c(
        "mac",
        r#"mac(a, "v0", "02:00:00:00:00")"#,
        r#"invalid MAC address "02:00:00:00:00": it must be six hexadecimal bytes separated by colons, like "02:00:00:00:00:01""#,
    ),
    c(
        "mac",
        r#"mac(a, "v0", "00:00:00:00:00:00")"#,
        r#"invalid MAC address "00:00:00:00:00:00": the all-zero address cannot be a link's address"#,
    ),
    c("mac", r#"mac(a, "zz", "02:00:00:00:00:01")"#, r#"link "zz" does not exist in namespace "a""#),
    c("rename", r#"rename(a, "v0", "lo")"#, r#"link "lo" already exists in namespace "a""#),
    c(
        "rename",
        r#"rename(a, "v0", "a very long name x")"#,
        r#"invalid interface name "a very long name x": it is 18 bytes long; the kernel allows at most 15"#,
    ),
    c("rename", r#"rename(a, "zz", "yy")"#, r#"link "zz" does not exist in namespace "a""#),
    c("rename", r#"rename(a, "v0", "w1")"#, r#"link "w1" already exists in namespace "a""#),
    c(
        "forwarding",
        r#"forwarding(a, "yes")"#,
        r#"the second argument of forwarding must be true or false, not the string "yes""#,
    ),
    c("forwarding", r#"forwarding(a, 1)"#, r#"the second argument of forwarding must be true or false, not the integer 1"#),
    c("sysctl", r#"sysctl(a, "net.ipv4.nope")"#, r#"cannot read sysctl net.ipv4.nope in namespace "a": there is no such key"#),
    c(
        "sysctl",
        r#"sysctl(a, "net.ipv4.ip_forward", "abc")"#,
        r#"cannot set sysctl net.ipv4.ip_forward in namespace "a" to "abc": the kernel refused that value (it holds "0" now)"#,
    ),
    c(
        "sysctl",
        r#"sysctl(a, "kernel.hostname")"#,
        r#"invalid sysctl key "kernel.hostname": only network sysctls (net.*) belong to a network namespace; nslab reads and writes no others"#,
    ),
    c(
        "sysctl",
        r#"sysctl(a, "net.ipv4.conf.zz.forwarding", 1)"#,
        r#"cannot write sysctl net.ipv4.conf.zz.forwarding in namespace "a": there is no such key"#,
    ),
    c(
        "sysctl",
        r#"sysctl(a, "net", 1)"#,
        r#"invalid sysctl key "net": it names no setting below net (like "net.ipv4.ip_forward")"#,
    ),
    c(
        "sysctl",
        r#"sysctl(a, "net.ipv4", 1)"#,
        r#"cannot write sysctl net.ipv4 in namespace "a": net.ipv4 is a group of settings, not one; name one inside it (like "net.ipv4.ip_forward")"#,
    ),
    c(
        "sysctl",
        r#"sysctl(a, "net.ipv4.ip_forward", [1])"#,
        r#"the third argument of sysctl must be a value (a string, an integer or true/false), not an array"#,
    ),
    c(
        "proc_net",
        r#"proc_net(a, "../x")"#,
        r#"invalid /proc/net file name "../x": it must be a plain file name in /proc/net, without '/' (like "dev" or "snmp")"#,
    ),
    c(
        "proc_net",
        r#"proc_net(a, "")"#,
        r#"invalid /proc/net file name "": it must name a file in /proc/net, like "dev" or "snmp""#,
    ),
    c(
        "proc_net",
        r#"proc_net(a, "stat")"#,
        r#"cannot read /proc/net/stat in namespace "a": it is a directory; proc_net reads files directly in /proc/net"#,
    ),
    c(
        "shape",
        r#"shape(a, "v0", #{rate: 8})"#,
        r#"invalid rate "8": the lowest rate on a link with mtu 1500 is 184bit: the default bucket, four full packets (6056 bytes), must drain within the kernel's limit of 275 s"#,
    ),
    c(
        "shape",
        r#"shape(a, "v0", #{rate: "10mbit", burst: 100})"#,
        r#"invalid burst "100": it is smaller than one full packet on this link (1514 bytes: mtu 1500 plus the link header), so full-size packets could never pass"#,
    ),
    c(
        "shape",
        r#"shape(a, "v0", #{rate: "10 mbits"})"#,
        r#"invalid rate "10 mbits": expected a number and a unit like "10mbit", "500kbit" or "1gbit" (bit, kbit, mbit, gbit, tbit; bps, kbps, mbps, gbps for bytes per second), or a number of bits per second"#,
    ),
    c(
        "shape",
        r#"shape(a, "v0", #{burst: "10kb"})"#,
        r#"shape needs a rate or a delay, jitter or loss, like #{rate: "10mbit", delay: "10ms"}"#,
    ),
    c(
        "shape",
        r#"shape(a, "v0", #{delay: "10ms", burst: "10kb"})"#,
        r#"the burst and latency options of shape belong to a rate: add rate: "10mbit""#,
    ),
    c(
        "shape",
        r#"shape(a, "v0", #{jitter: "1ms"})"#,
        r#"invalid jitter "1ms": jitter needs a delay (netem varies or reorders delayed packets): add delay: "10ms""#,
    ),
    c(
        "shape",
        r#"shape(a, "v0", #{rate: "1mbit", delay: "10ms"})"#,
        r#"cannot shape link "v0" in namespace "a": the running kernel has no netem (sch_netem) support"#,
    ),
    c(
        "shape",
        r#"shape(a, "v0", #{delay: "10 parsecs"})"#,
        r#"invalid delay "10 parsecs": expected a number and a unit like "50ms" (s, ms, us, ns), or a number of seconds"#,
    ),
    c(
        "shape",
        r#"shape(a, "v0", #{rate: "10mbit", latency: "2h"})"#,
        r#"invalid latency "2h": expected a number and a unit like "50ms" (s, ms, us, ns), or a number of seconds"#,
    ),
    c(
        "shape",
        r#"shape(a, "v0", #{rate: "10mbit", latency: -1})"#,
        r#"invalid latency "-1": it must be from 0 to an hour (3600 s)"#,
    ),
    c("shape", r#"shape(a, "v0", #{rate: 0})"#, r#"invalid rate "0": it must be at least 8 bits per second"#),
    c(
        "shape",
        r#"shape(a, "v0", #{rate: "1gbit", burst: "5gb"})"#,
        r#"invalid burst "5gb": it must be from 1 byte to 4 GiB - 1 (4294967295 bytes)"#,
    ),
    c(
        "shape",
        r#"shape(a, "v0", #{rate: "100bit", burst: "10kb"})"#,
        r#"invalid burst "10kb": at rate 100bit it lasts 853 s, and the kernel's token bucket holds at most 275 s: give a rate of at least 304bit for this burst, or a burst of at most 3298 bytes at this rate"#,
    ),
    c("shape", r#"shape(a, "zz", #{rate: "10mbit"})"#, r#"link "zz" does not exist in namespace "a""#),
    c(
        "shape",
        r#"shape(a, "v0", #{rate: "10mbit", replace: 1})"#,
        r#"the replace option of shape must be true or false, not the integer 1"#,
    ),
    c(
        "shape",
        r#"shape(a, "v0", #{rate: 1e30})"#,
        r#"invalid rate "1000000000000000000000000000000": it is too large: the kernel takes at most 2^64 - 1 bytes per second"#,
    ),
    c("shape", r#"shape(a, "v0", 5)"#, r#"the third argument of shape must be an options map, not the integer 5"#),
    c("impair", r#"impair(a, "v0", #{loss: "110%"})"#, r#"invalid loss "110%": a percentage must be from 0% to 100%"#),
    c("impair", r#"impair(a, "v0", #{loss: -1})"#, r#"invalid loss "-1": a percentage must be from 0% to 100%"#),
    c(
        "impair",
        r#"impair(a, "v0", #{jitter: "1ms"})"#,
        r#"invalid jitter "1ms": jitter needs a delay (netem varies or reorders delayed packets): add delay: "10ms""#,
    ),
    c(
        "impair",
        r#"impair(a, "v0", #{delay: "1ms", rate: "5mbit"})"#,
        r#"impair has no option "rate"; the options are: delay, jitter, loss, duplicate, corrupt, reorder, replace"#,
    ),
    c(
        "impair",
        r#"impair(a, "v0", #{reorder: "5%"})"#,
        r#"invalid reorder "5%": reorder needs a delay (netem varies or reorders delayed packets): add delay: "10ms""#,
    ),
    c(
        "impair",
        r#"impair(a, "v0", #{delay: [1]})"#,
        r#"the delay option of impair must be a string like "100ms" or a number, not an array"#,
    ),
    c(
        "shape",
        r#"shape(a, "v0", #{rate: "10mbit", burst: 0})"#,
        r#"invalid burst "0": it must be from 1 byte to 4 GiB - 1 (4294967295 bytes)"#,
    ),
    c("impair", r#"impair(a, "v0", #{delay: 7200})"#, r#"invalid delay "7200": it must be from 0 to an hour (3600 s)"#),
    c("unshape", r#"unshape(a, "zz")"#, r#"link "zz" does not exist in namespace "a""#),
    c("unshape", r#"unshape(5)"#, r#"the first argument of unshape must be a link name (a string), not the integer 5"#),
    c("pingall", r#"pingall(#{count: 0})"#, r#"the count option of pingall must be from 1 to 1000, not 0"#),
    c(
        "pingall",
        r#"pingall(#{timeout: 0})"#,
        r#"the timeout option of pingall must be a number of seconds from 0.001 to 3600, not 0"#,
    ),
    c("pingall", r#"pingall(#{cnt: 1})"#, r#"pingall has no option "cnt"; the options are: among, count, timeout, elsewhere"#),
    c("pingall", r#"pingall(5)"#, r#"the first argument of pingall must be an options map, not the integer 5"#),
    c(
        "throughput",
        r#"throughput(a, b, #{seconds: 0})"#,
        r#"the seconds option of throughput must be a number of seconds from 0.01 to 3600, not 0"#,
    ),
    c("throughput", r#"throughput(a, b, #{port: 0})"#, r#"the port option of throughput must be from 1 to 65535, not 0"#),
    c("throughput", r#"throughput(a, "zz")"#, r#"namespace "zz" does not exist"#),
    c(
        "throughput",
        r#"throughput(a, b, #{rate: "1mbit"})"#,
        r#"the rate option of throughput paces UDP: add udp: true (TCP takes what the path gives)"#,
    ),
    c(
        "throughput",
        r#"throughput(a, b, #{udp: true, rate: "100bit"})"#,
        r#"the rate of a UDP throughput test must be from 1kbit to 100gbit, not 100bit"#,
    ),
    c(
        "throughput",
        r#"throughput(a, b, #{udp: "yes"})"#,
        r#"the udp option of throughput must be true or false, not the string "yes""#,
    ),
    c(
        "throughput",
        r#"throughput(a, b, #{udp: true, rate: "fast"})"#,
        r#"invalid rate "fast": expected a number and a unit like "10mbit", "500kbit" or "1gbit" (bit, kbit, mbit, gbit, tbit; bps, kbps, mbps, gbps for bytes per second), or a number of bits per second"#,
    ),
    c(
        "throughput",
        r#"throughput(a, b, #{dst: "10.9.9.9", seconds: 0.1})"#,
        r#"cannot measure throughput from namespace "a" to namespace "b": namespace "a" has no route to 10.9.9.9 (Network is unreachable)"#,
    ),
    c("throughput", r#"throughput(a, b, #{dst: "abc"})"#, r#"invalid destination "abc": it is not an IPv4 or IPv6 address"#),
    c(
        "throughput",
        r#"throughput(a, b, #{seconds: "1"})"#,
        r#"the seconds option of throughput must be a number, not the string "1""#,
    ),
    c(
        "throughput_receive",
        r#"throughput_receive(a, #{port: 0})"#,
        r#"the port option of throughput_receive must be from 1 to 65535, not 0"#,
    ),
    c("throughput_receive", r#"throughput_receive("zz")"#, r#"namespace "zz" does not exist"#),
    c(
        "throughput_receive",
        r#"throughput_receive(a, #{secs: 1})"#,
        r#"throughput_receive has no option "secs"; the options are: port, seconds, udp, dst"#,
    ),
    c(
        "throughput_receive",
        r#"throughput_receive(a, #{dst: "abc"})"#,
        r#"invalid destination "abc": it is not an IPv4 or IPv6 address"#,
    ),
    c(
        "throughput_receive",
        r#"throughput_receive(a, #{seconds: 0})"#,
        r#"the seconds option of throughput_receive must be a number of seconds from 0.01 to 3600, not 0"#,
    ),
    c(
        "throughput_receive",
        r#"{ let s = tcp_listen(b, 5203); throughput_receive(b, #{port: 5203}) }"#,
        r#"cannot receive a throughput test in namespace "b": port 5203 is already in use in namespace "b""#,
    ),
    c("throughput_send", r#"throughput_send(a, "10.1.0.2", 0)"#, r#"the port of throughput_send must be from 1 to 65535, not 0"#),
    c("throughput_send", r#"throughput_send(a, "abc", 5201)"#, r#"invalid destination "abc": it is not an IPv4 or IPv6 address"#),
    c(
        "throughput_send",
        r#"throughput_send(a, "10.1.0.2", 5201, #{rate: "1mbit"})"#,
        r#"the rate option of throughput_send paces UDP: add udp: true (TCP takes what the path gives)"#,
    ),
    c(
        "throughput_send",
        r#"throughput_send(a, "10.1.0.2", 5999, #{seconds: 0.1})"#,
        r#"cannot send a throughput test from namespace "a" to 10.1.0.2 port 5999: connect to 10.1.0.2:5999: Connection refused"#,
    ),
    c(
        "throughput_send",
        r#"throughput_send(a, "10.1.0.2", 5999, #{udp: true, rate: "100bit"})"#,
        r#"the rate of a UDP throughput test must be from 1kbit to 100gbit, not 100bit"#,
    ),
    c(
        "throughput_result",
        r#"throughput_result(12345)"#,
        r#"invalid receiver "12345": no throughput receiver is open in this lab (each gives one result)"#,
    ),
    c("throughput_result", r#"throughput_result(-1)"#, r#"the id of throughput_result must be a receiver's id, not -1"#),
    c("throughput_result", r#"throughput_result("x")"#, r#"the id of throughput_result must be an integer, not the string "x""#),
    c("assert_eq", r#"assert_eq(1, 2)"#, r#"assert_eq failed: the two values differ"#),
    c("assert_eq", r#"assert_eq("a", "b", "names")"#, r#"assert_eq failed: names"#),
    c(
        "expect_reach",
        r#"expect_reach(a, "host.example")"#,
        r#""host.example" is neither an IP address nor a namespace (the second argument of expect_reach)"#,
    ),
    c(
        "expect_reach",
        r#"expect_reach(a, "10.1.0.2", #{timeout: -1})"#,
        r#"the timeout of expect_reach must be a number of seconds from 0 to 999999, not -1"#,
    ),
    c(
        "expect_reach",
        r#"expect_reach(a, 5)"#,
        r#"the second argument of expect_reach must be an address, a namespace or an array of addresses, not the integer 5"#,
    ),
    c(
        "expect_reach",
        r#"expect_reach(a, "10.1.0.2", #{wait: 1})"#,
        r#"expect_reach has no option "wait"; the options are: timeout"#,
    ),
    c(
        "expect_no_reach",
        r#"expect_no_reach(a, 5)"#,
        r#"the second argument of expect_no_reach must be an address, a namespace or an array of addresses, not the integer 5"#,
    ),
    c(
        "expect_no_reach",
        r#"expect_no_reach(a, "10.1.0.1", #{timeout: 0.1})"#,
        r#"a reaches 10.1.0.1, but must not: 10.1.0.1 answered"#,
    ),
    c(
        "expect_no_reach",
        r#"expect_no_reach(a, "10.1.0.1", #{tmo: 0.1})"#,
        r#"expect_no_reach has no option "tmo"; the options are: timeout"#,
    ),
    c(
        "expect_no_reach",
        r#"expect_no_reach(a, "10.1.0.255")"#,
        r#"cannot check that namespace "a" does not reach 10.1.0.255: the probe could not be sent (Permission denied), which says nothing about reachability (only "Network is unreachable", "No route to host" or an ICMP error would)"#,
    ),
    c(
        "expect_matrix",
        r#"expect_matrix(#{})"#,
        r#"expect_matrix needs at least two namespaces: with fewer there is no pair to probe"#,
    ),
    c("expect_matrix", r#"expect_matrix(5)"#, r#"expect_matrix needs a map like #{h1: ["h2"], h2: []}, not the integer 5"#),
    c(
        "expect_matrix",
        r#"expect_matrix(#{a: [5]})"#,
        r#"each entry in expect_matrix must be a namespace name, not the integer 5"#,
    ),
    c(
        "expect_matrix",
        r#"expect_matrix(#{a: "b"})"#,
        r#"the value for a in expect_matrix must be an array of namespace names, not the string "b""#,
    ),
    c("expect_matrix", r#"expect_matrix(#{a: ["zz"]})"#, r#"namespace "zz" does not exist"#),
    c(
        "wait_until",
        r#"wait_until(|| 1, 1)"#,
        r#"the condition given to wait_until must return true or false, not the integer 1"#,
    ),
    c(
        "wait_until",
        r#"wait_until(|| true, -1)"#,
        r#"the timeout of wait_until must be a number of seconds from 0 to 999999, not -1"#,
    ),
    c(
        "wait_until",
        r#"wait_until(5, 1)"#,
        r#"the first argument of wait_until must be a function (a closure like || { ... }), not the integer 5"#,
    ),
    c("wait_until", r#"wait_until(|| false, 0.05)"#, r#"wait_until: the condition was still false after 0.05 s"#),
    c("skip", r#"skip("no IPv6 here")"#, r#"no IPv6 here"#),
    c("skip", r#"Fn("skip").call()"#, r#"Function not found: skip ()"#),
    c(
        "require",
        r#"require("teleport")"#,
        r#"require: no feature "teleport"; known: bareudp, bfifo, bond, bridge, cake, cbs, choke, clsact, codel, drr, dummy, etf, ets, fq, fq_codel, fq_pie, geneve, gre, gred, gretap, hfsc, hsr, htb, ifb, ingress, ip6gre, ip6gretap, ip6tnl, ipip, ipv6, ipvlan, ipvtap, macsec, macvlan, macvtap, mqprio, multiq, netem, netkit, nlmon, pfifo, pfifo_fast, pie, plug, prio, qfq, red, sfb, sfq, sit, skbprio, taprio, tbf, team, tun, vcan, veth, vlan, vrf, vti, vxcan, vxlan, wireguard, xfrm; any other link type or qdisc as "link:KIND" or "qdisc:KIND""#,
    ),
    c(
        "require",
        r#"require(5)"#,
        r#"the first argument of require must be a kernel feature, like "vlan" or "netem" (a string), not the integer 5"#,
    ),
    c(
        "require",
        r#"require("link:foo")"#,
        r#"the running kernel has no foo link (making one in a throwaway namespace failed: Operation not supported on transport endpoint)"#,
    ),
    c(
        "test",
        r#"test("x", 5)"#,
        r#"the second argument of test must be a function (a closure like || { ... }), not the integer 5"#,
    ),
    c(
        "shell",
        r#"shell(a)"#,
        r#"cannot open a shell in namespace "a": it needs a terminal, and nslab's standard input is not one"#,
    ),
    c("shell", r#"shell(5)"#, r#"the first argument of shell must be a namespace (a name or a Netns handle), not the integer 5"#),
    c("pingall", r#"pingall(#{among: ["zz"]})"#, r#"namespace "zz" does not exist"#),
    c(
        "pingall",
        r#"pingall(#{among: "a"})"#,
        r#"the among option of pingall must be an array of namespaces, not the string "a""#,
    ),
    c(
        "pingall",
        r#"pingall(#{among: [5]})"#,
        r#"item 0 of the among option of pingall must be a namespace of the lab (a name or a Netns handle), not the integer 5"#,
    ),
    c("test", r#"test(5, || {})"#, r#"the first argument of test must be the sub-test's name (a string), not the integer 5"#),
    c("test", r#"test("x", #{kept: true}, || {})"#, r#"test has no option "kept"; the options are: keep"#),
    c("test", r#"test("x", #{keep: 1}, || {})"#, r#"the keep option of test must be true or false, not the integer 1"#),
    c("defer", r#"defer(5)"#, r#"the first argument of defer must be a function (a closure like || { ... }), not the integer 5"#),
    c(
        "expect_error",
        r#"expect_error("x")"#,
        r#"the first argument of expect_error must be a function (a closure like || { ... }), not the string "x""#,
    ),
    c(
        "expect_error",
        r#"expect_error(|| 1, 5)"#,
        r#"the second argument of expect_error must be the text the message must contain (a string), not the integer 5"#,
    ),
    c("spawn_in", r#"spawn_in(a, "")"#, r#"the command given to spawn_in is empty"#),
    c(
        "spawn_in",
        r#"spawn_in(a, "nosuchprog")"#,
        r#"cannot run "nosuchprog" in namespace "a": no such program (is it installed and on PATH?)"#,
    ),
    c("spawn_in", r#"spawn_in("zz", "true")"#, r#"namespace "zz" does not exist"#),
    c(
        "spawn",
        r#"spawn(5)"#,
        r#"the first argument of spawn must be a command (a string or an array of strings), not the integer 5"#,
    ),
    c("spawn", r#"spawn([])"#, r#"the command given to spawn is empty"#),
    c("kill", r#"kill(5)"#, r#"the first argument of kill must be a process (from spawn_in), not the integer 5"#),
    c("kill", r#"kill("1")"#, r#"the first argument of kill must be a process (from spawn_in), not the string "1""#),
    c("wait", r#"wait(5)"#, r#"the first argument of wait must be a process (from spawn_in), not the integer 5"#),
    c("wait", r#"wait(p, -1)"#, r#"wait needs a number of seconds from 0 to 999999, not -1"#),
    c("wait", r#"wait(p, "x")"#, r#"the number of seconds of wait must be a number, not the string "x""#),
    c("topology", r#"Fn("topology").call(1)"#, r#"Function not found: topology (i64)"#),
    c("topology", r#"Fn("topology").call("a")"#, r#"Function not found: topology (&str | ImmutableString | String)"#),
    c("output", r#"output("x")"#, r#"the first argument of output must be a process (from spawn_in), not the string "x""#),
    // Links: deleting and changing (tests/links_full.rs has the kernel side).
    c("link_del", r#"link_del(a, "zz")"#, r#"link "zz" does not exist in namespace "a""#),
    c(
        "link_del",
        r#"link_del(a, "lo")"#,
        r#"link "lo" is the loopback link of namespace "a": every namespace has one, and it goes only with its namespace"#,
    ),
    c(
        "link_del",
        r#"link_del("lo")"#,
        r#"link "lo" is the loopback link of the root namespace: every namespace has one, and it goes only with its namespace"#,
    ),
    c(
        "link_del",
        r#"link_del(a, "a/b")"#,
        r#"invalid interface name "a/b": it contains '/', which the kernel refuses in interface names"#,
    ),
    c("link_del", r#"link_del(a, 5)"#, r#"the second argument of link_del must be a link name (a string), not the integer 5"#),
    c(
        "link_set",
        r#"link_set(a, "v0", #{})"#,
        r#"link_set needs at least one setting: #{alias, altname, promisc, arp, txqueuelen, group, mtu, mac}"#,
    ),
    c("link_set", r#"link_set(a, "zz", #{promisc: true})"#, r#"link "zz" does not exist in namespace "a""#),
    c(
        "link_set",
        r#"let s = ""; s.pad(256, "x"); link_set(a, "v0", #{alias: s})"#,
        r#"invalid alias "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx": it is 256 bytes long; link "v0" takes an alias of at most 255 bytes"#,
    ),
    c(
        "link_set",
        r#"let s = ""; s.pad(128, "y"); link_set(a, "v0", #{altname: s})"#,
        r#"invalid alternative name "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy": it is 128 bytes long; the kernel allows at most 127"#,
    ),
    c(
        "link_set",
        r#"link_set(a, "v0", #{altname: "w0"})"#,
        r#"link name "w0" already exists in namespace "a" (the name of a link)"#,
    ),
    c(
        "link_set",
        r#"link_set(a, "v0", #{altname: "a b"})"#,
        r#"invalid alternative name "a b": it contains ' ', which the kernel refuses in interface names"#,
    ),
    c(
        "link_set",
        r#"link_set(a, "v0", #{txqueuelen: -1})"#,
        r#"invalid txqueuelen "-1": link "v0" takes a transmit queue length from 0 to 4294967295"#,
    ),
    c(
        "link_set",
        r#"link_set(a, "v0", #{group: 4294967296})"#,
        r#"invalid link group "4294967296": link "v0" takes a group from 0 to 4294967295"#,
    ),
    c(
        "link_set",
        r#"link_set(a, "v0", #{group: 1845493761})"#,
        r#"invalid link group "1845493761": groups 1845493760 to 1862270975 are nslab's marks of its labs' links (teardown deletes by them); link "v0" takes any other group from 0 to 4294967295"#,
    ),
    c(
        "link_set",
        r#"link_set(a, "v0", #{promisc: "on"})"#,
        r#"the promisc option of link_set must be true or false, not the string "on""#,
    ),
    c(
        "link_set",
        r#"link_set(a, "v0", #{mtu: 10})"#,
        r#"invalid MTU "10": link "v0" in namespace "a" takes MTUs from 68 (the IPv4 minimum) to 65535"#,
    ),
    c(
        "link_set",
        r#"link_set(a, "v0", #{mac: "zz"})"#,
        r#"invalid MAC address "zz": it must be six hexadecimal bytes separated by colons, like "02:00:00:00:00:01""#,
    ),
    c(
        "link_set",
        r#"link_set(a, "v0", #{speed: 10})"#,
        r#"link_set has no option "speed"; the options are: alias, altname, promisc, arp, txqueuelen, group, mtu, mac"#,
    ),
    c("vxlan", r#"vxlan(a, "vx0", #{id: 5, ttl: 256})"#, r#"invalid ttl "256": vxlan "vx0" takes a ttl from 0 to 255"#),
    c("vxlan", r#"vxlan(a, "vx0", #{id: 5, tos: -1})"#, r#"invalid tos "-1": vxlan "vx0" takes a tos from 0 to 255"#),
    c(
        "vxlan",
        r#"vxlan(a, "vx0", #{id: 5, srcport: [5000, 4000]})"#,
        r#"invalid srcport "[5000, 4000]": the range of vxlan "vx0" is [low, high] with low <= high"#,
    ),
    c(
        "vxlan",
        r#"vxlan(a, "vx0", #{id: 5, srcport: [1, 70000]})"#,
        r#"invalid srcport "[1, 70000]": vxlan "vx0" takes ports from 0 to 65535"#,
    ),
    c(
        "vxlan",
        r#"vxlan(a, "vx0", #{id: 5, srcport: 4000})"#,
        r#"the srcport option of vxlan must be [low, high], two port numbers, not the integer 4000"#,
    ),
    c(
        "vxlan",
        r#"vxlan(a, "vx0", #{id: 5, learning: 1})"#,
        r#"the learning option of vxlan must be true or false, not the integer 1"#,
    ),
    c(
        "bridge",
        r#"bridge(a, "br1", #{ageing_time: -1})"#,
        r#"invalid ageing_time "-1": bridge "br1" takes an ageing time from 0 to 42949672.95 seconds"#,
    ),
    c(
        "bridge",
        r#"bridge(a, "br1", #{mcast_snooping: "no"})"#,
        r#"the mcast_snooping option of bridge must be true or false, not the string "no""#,
    ),
    c(
        "master",
        r#"master(a, "w0", "br0", #{cost: 0})"#,
        r#"invalid port cost "0": bridge port "w0" takes a path cost from 1 to 65535"#,
    ),
    c(
        "master",
        r#"master(a, "w0", "br0", #{priority: 64})"#,
        r#"invalid port priority "64": bridge port "w0" takes a priority from 0 to 63"#,
    ),
    c(
        "master",
        r#"master(a, "w0", "br0", #{hairpin: "yes"})"#,
        r#"the hairpin option of master must be true or false, not the string "yes""#,
    ),
    c(
        "master",
        r#"master(a, "w0", "br0", #{speed: 1})"#,
        r#"master has no option "speed"; the options are: hairpin, learning, flood, isolated, cost, priority"#,
    ),
    // Neighbours, forwarding entries, address options and flushing.
    c(
        "neigh",
        r#"neigh(a, "v0", "10.1.0.9", "02:00:00:00:00")"#,
        r#"invalid MAC address "02:00:00:00:00": it must be six hexadecimal bytes separated by colons, like "02:00:00:00:00:01""#,
    ),
    c(
        "neigh",
        r#"neigh(a, "v0", "10.1.0.300", "02:00:00:00:00:09")"#,
        r#"invalid neighbour address "10.1.0.300": it is not an IPv4 or IPv6 address"#,
    ),
    c(
        "neigh",
        r#"neigh(a, "v0", "224.0.0.1", "02:00:00:00:00:09")"#,
        r#"invalid neighbour address "224.0.0.1": 224.0.0.1 is a multicast group address (224.0.0.0/4), not a host's; a neighbour entry is for one host's unicast address"#,
    ),
    c(
        "neigh",
        r#"neigh(a, "v0", "10.1.0.9/24", "02:00:00:00:00:09")"#,
        r#"invalid neighbour address "10.1.0.9/24": it has a prefix length; give the address alone, like "10.1.0.9""#,
    ),
    c(
        "neigh",
        r#"neigh(a, "v0", "10.1.0.9", "02:00:00:00:00:09", #{state: "incomplete"})"#,
        r#"invalid neighbour state "incomplete": it must be "permanent", "reachable", "stale" or "noarp""#,
    ),
    c(
        "neigh",
        r#"neigh(a, "v0", "10.1.0.9", "02:00:00:00:00:09", #{nud: "permanent"})"#,
        r#"neigh has no option "nud"; the options are: state"#,
    ),
    c("neigh", r#"neigh(a, "nope", "10.1.0.9", "02:00:00:00:00:09")"#, r#"link "nope" does not exist in namespace "a""#),
    c(
        "neigh",
        r#"neigh(a, "v0", 10, "02:00:00:00:00:09")"#,
        r#"the third argument of neigh must be an IPv4 or IPv6 address (a string), not the integer 10"#,
    ),
    c(
        "neigh",
        r#"{ neigh(a, "w0", "10.1.0.8", "02:00:00:00:00:08"); neigh(a, "w0", "10.1.0.8", "02:00:00:00:00:07") }"#,
        r#"neighbour "10.1.0.8" already exists on link "w0" in namespace "a" (permanent at 02:00:00:00:00:08): remove it first with neigh_del"#,
    ),
    c(
        "neigh_proxy",
        r#"neigh_proxy(a, "v0", "fd00::zz")"#,
        r#"invalid neighbour address "fd00::zz": it is not an IPv4 or IPv6 address (host names are not looked up: give an address)"#,
    ),
    c("neigh_proxy", r#"neigh_proxy(a, "nope", "10.1.0.9")"#, r#"link "nope" does not exist in namespace "a""#),
    c(
        "neigh_proxy",
        r#"{ neigh_proxy(a, "w0", "10.1.0.8"); neigh_proxy(a, "w0", "10.1.0.8") }"#,
        r#"proxy neighbour "10.1.0.8" already exists on link "w0" in namespace "a""#,
    ),
    c(
        "neigh_del",
        r#"neigh_del(a, "w1", "10.1.0.77")"#,
        r#"link "w1" in namespace "a" has no neighbour entry for 10.1.0.77; it has none"#,
    ),
    c(
        "neigh_del",
        r#"neigh_del(a, "w1", "10.1.0.77", #{proxy: true})"#,
        r#"link "w1" in namespace "a" has no proxy entry for 10.1.0.77; it has none"#,
    ),
    c(
        "neigh_del",
        r#"neigh_del(a, "w1", "10.1.0.77", #{proxy: 1})"#,
        r#"the proxy option of neigh_del must be true or false, not the integer 1"#,
    ),
    c("neigh_del", r#"neigh_del(a, "w1", "::1::")"#, r#"invalid neighbour address "::1::": it is not an IPv4 or IPv6 address"#),
    c("neighs", r#"neighs(a, #{dev: "nope"})"#, r#"link "nope" does not exist in namespace "a""#),
    c("neighs", r#"neighs(a, #{dev: 5})"#, r#"the dev option of neighs must be a link name (a string), not the integer 5"#),
    c("neighs", r#"neighs("zz")"#, r#"namespace "zz" does not exist"#),
    c("neigh_flush", r#"neigh_flush(a, "nope")"#, r#"link "nope" does not exist in namespace "a""#),
    c(
        "neigh_flush",
        r#"neigh_flush(5)"#,
        r#"the first argument of neigh_flush must be a link name (a string), not the integer 5"#,
    ),
    c(
        "fdb",
        r#"fdb(a, "w1", "02:00:00:00:00")"#,
        r#"invalid MAC address "02:00:00:00:00": it must be six hexadecimal bytes separated by colons, like "02:00:00:00:00:01""#,
    ),
    c(
        "fdb",
        r#"fdb(a, "w1", "02:00:00:00:00:01", #{master: true})"#,
        r#"link "w1" in namespace "a" is not a bridge port, so there is no bridge table for it (master); give #{self: true} for the link's own table"#,
    ),
    c(
        "fdb",
        r#"fdb(a, "w1", "02:00:00:00:00:01", #{state: "local"})"#,
        r#"invalid forwarding entry state "local": it must be "permanent", "static" or "dynamic""#,
    ),
    c(
        "fdb",
        r#"fdb(a, "w1", "02:00:00:00:00:01", #{dst: "10.0.0.2"})"#,
        r#"dst, vni and port name a vxlan remote; link "w1" in namespace "a" is a veth link, not a vxlan"#,
    ),
    c(
        "fdb",
        r#"fdb(a, "w1", "02:00:00:00:00:01", #{dst: "10.0.0.300"})"#,
        r#"invalid remote address "10.0.0.300": it is not an IPv4 or IPv6 address"#,
    ),
    c(
        "fdb",
        r#"fdb(a, "w1", "02:00:00:00:00:01", #{vni: 16777216})"#,
        r#"invalid VNI "16777216": a VXLAN network identifier is from 0 to 16777215"#,
    ),
    c("fdb", r#"fdb(a, "w1", "02:00:00:00:00:01", #{port: 0})"#, r#"invalid UDP port "0": it must be from 1 to 65535"#),
    c(
        "fdb",
        r#"fdb(a, "w1", "02:00:00:00:00:01", #{master: false, self: false})"#,
        r#"invalid forwarding entry "02:00:00:00:00:01": master and self are both false: it must go to the bridge's table (master) or the link's own (self)"#,
    ),
    c(
        "fdb",
        r#"fdb(a, "w1", "02:00:00:00:00:01", #{state: "static"})"#,
        r#"cannot add forwarding entry 02:00:00:00:00:01 on "w1" in namespace "a": a link's own address list takes only permanent entries"#,
    ),
    c("fdb", r#"fdb(a, "nope", "02:00:00:00:00:01")"#, r#"link "nope" does not exist in namespace "a""#),
    c(
        "fdb_del",
        r#"fdb_del(a, "w1", "02:00:00:00:00:77")"#,
        r#"link "w1" in namespace "a" has no entry 02:00:00:00:00:77 in its own table; its entries: 33:33:00:00:00:01"#,
    ),
    c(
        "fdb_del",
        r#"fdb_del(a, "w1", "zz")"#,
        r#"invalid MAC address "zz": it must be six hexadecimal bytes separated by colons, like "02:00:00:00:00:01""#,
    ),
    c(
        "fdb_del",
        r#"fdb_del(a, "w1", "02:00:00:00:00:77", #{port: 4789})"#,
        r#"fdb_del has no option "port"; the options are: dst, vni, master, self"#,
    ),
    c("fdbs", r#"fdbs(a, #{dev: "nope"})"#, r#"link "nope" does not exist in namespace "a""#),
    c("fdbs", r#"fdbs(a, #{port: 1})"#, r#"fdbs has no option "port"; the options are: dev"#),
    c("addr_flush", r#"addr_flush(a, "nope")"#, r#"link "nope" does not exist in namespace "a""#),
    c("addr_flush", r#"addr_flush(5)"#, r#"the first argument of addr_flush must be a link name (a string), not the integer 5"#),
    c(
        "addr",
        r#"addr(a, "w0", "10.7.0.1/24", #{valid_lft: 10, preferred_lft: 20})"#,
        r#"invalid preferred_lft "20 s": it is longer than the valid lifetime (10 s); an address is preferred at most as long as it is valid"#,
    ),
    c(
        "addr",
        r#"addr(a, "w0", "10.7.0.1/24", #{valid_lft: 0})"#,
        r#"invalid valid_lft "0": it must be from 1 to 4294967294 seconds, or "forever""#,
    ),
    c(
        "addr",
        r#"addr(a, "w0", "10.7.0.1/24", #{valid_lft: "later"})"#,
        r#"the valid_lft option of addr must be a whole number of seconds or "forever", not the string "later""#,
    ),
    c(
        "addr",
        r#"addr(a, "w0", "10.7.0.1/24", #{valid_lft: 1.5})"#,
        r#"the valid_lft option of addr must be a whole number of seconds or "forever", not the float 1.5"#,
    ),
    c(
        "addr",
        r#"addr(a, "w0", "fd07::1/64", #{broadcast: "+"})"#,
        r#"invalid broadcast address "+": fd07::1 is an IPv6 address, and IPv6 has no broadcast"#,
    ),
    c(
        "addr",
        r#"addr(a, "w0", "10.7.0.1/24", #{peer: "fd00::1"})"#,
        r#"invalid peer address "fd00::1": it is not of the same family as the local address 10.7.0.1"#,
    ),
    c(
        "addr",
        r#"addr(a, "w0", "10.7.0.1/24", #{scope: "galaxy"})"#,
        r#"invalid scope "galaxy": it must be "global", "site", "link", "host", "nowhere" or a number from 0 to 255"#,
    ),
    c(
        "addr",
        r#"addr(a, "w0", "10.7.0.1/24", #{scope: 256})"#,
        r#"invalid scope "256": it must be "global", "site", "link", "host", "nowhere" or a number from 0 to 255"#,
    ),
    c(
        "addr",
        r#"addr(a, "w0", "10.7.0.1/24", #{nodad: "yes"})"#,
        r#"the nodad option of addr must be true or false, not the string "yes""#,
    ),
    c(
        "addr",
        r#"addr(a, "w0", "10.7.0.1/24", #{label: "x"})"#,
        r#"addr has no option "label"; the options are: nodad, valid_lft, preferred_lft, broadcast, noprefixroute, peer, scope"#,
    ),
];

/// The script: the setup, then each case in `try`; `links()` after the call carries out
/// whatever the lab held back, so that a failure found then is the case's own.
fn table_script() -> String {
    let mut text = SETUP.to_string();
    for (i, case) in CASES.iter().enumerate() {
        text +=
            &format!("try {{ {}; links(); print(\"#{i} ok\"); }} catch (e) {{ print(\"#{i} \" + message(e)); }}\n", case.code);
    }
    text
}

#[test]
fn the_table_covers_every_registered_function() {
    assert!(CASES.len() >= 150, "{} cases", CASES.len());
    let session = nslab::script::Session::new(None, Path::new("."), std::rc::Rc::new(|_: &str| {}));
    let registered: BTreeSet<&str> = session.registered.iter().map(|(name, _)| *name).collect();
    let covered: BTreeSet<&str> = CASES.iter().map(|c| c.func).collect();
    let missing: Vec<&&str> = registered.difference(&covered).collect();
    assert!(missing.is_empty(), "functions without a bad input in the table: {missing:?}");
    let unknown: Vec<&&str> = covered.difference(&registered).collect();
    assert!(unknown.is_empty(), "cases naming no registered function: {unknown:?}");
    for case in CASES {
        let called = [format!("{}(", case.func), format!("Fn(\"{}\")", case.func)];
        assert!(called.iter().any(|c| case.code.contains(c.as_str())), "{:?} does not call {}", case.code, case.func);
    }
}

#[test]
fn bad_inputs_give_their_exact_messages() {
    let path = script("bad-inputs", "table.rhai", &table_script());
    let run = run_nslab(&["run", "--sandbox", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "the table itself runs to its end: {run:?}");
    let got: BTreeMap<usize, &str> = run
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix('#')?.split_once(' '))
        .filter_map(|(i, m)| Some((i.parse().ok()?, m)))
        .collect();
    let wrong: Vec<String> = CASES
        .iter()
        .enumerate()
        .filter(|(i, case)| got.get(i).copied() != Some(case.message))
        .map(|(i, case)| {
            format!("{}\n  expected: {}\n  got:      {}", case.code, case.message, got.get(&i).copied().unwrap_or("(nothing)"))
        })
        .collect();
    assert!(wrong.is_empty(), "{} of {} cases differ:\n{}", wrong.len(), CASES.len(), wrong.join("\n"));
    assert!(run.stderr.trim_end().ends_with("torn down: 2 namespaces, 1 process"), "{run:?}");
}
