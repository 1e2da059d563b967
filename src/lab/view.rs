//! What inspection returns: links and addresses as the user thinks of them.

/// A link, as `links()` shows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LinkView {
    /// Interface name.
    pub name: String,
    /// Interface index.
    pub index: u32,
    /// "veth", "bridge", ... or empty for links without a kind (lo).
    pub kind: String,
    /// "up" or "down": the administrative state, as `ip link set up` sets it.
    pub state: String,
    /// Carrier: true when the link can pass packets (a veth whose peer is up too).
    pub carrier: bool,
    /// Maximum transmission unit, in bytes.
    pub mtu: u32,
    /// Hardware address (`aa:bb:cc:dd:ee:ff`).
    pub mac: String,
    /// The veth peer's name (empty when not a veth or unknown), and its namespace
    /// (empty: the same namespace as this link).
    pub peer: String,
    /// The veth peer's namespace (empty: the same namespace).
    pub peer_netns: String,
    /// The bridge or bond this link is enslaved to (empty: none).
    pub master: String,
    /// Its addresses, as CIDRs.
    pub addresses: Vec<String>,
    /// The operational state (RFC 2863, the kernel's IF_OPER_* name lowercased): "up", "down",
    /// "lowerlayerdown", "dormant", "unknown", ...
    pub operstate: String,
    /// The alias (empty: none).
    pub alias: String,
    /// Alternative names.
    pub altnames: Vec<String>,
    /// The link group (0: "default").
    pub group: u32,
    /// Promiscuous mode (IFF_PROMISC).
    pub promisc: bool,
    /// Transmit queue length.
    pub txqueuelen: u32,
}

/// An address, as `addrs()` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AddrView {
    /// The link that holds it.
    pub link: String,
    /// That link's interface index.
    pub index: u32,
    /// "ipv4" or "ipv6".
    pub family: String,
    /// The address without prefix.
    pub address: String,
    /// Prefix length.
    pub prefix: u8,
    /// Address and prefix (`10.0.0.1/24`).
    pub cidr: String,
    /// Scope ("global", "link", "host").
    pub scope: String,
    /// IFA_F_* flags by name ("permanent", "tentative", "nodad", "noprefixroute", "dadfailed",
    /// "deprecated", ...; "dynamic" for one that is not permanent, as `ip` says).
    pub flags: Vec<String>,
    /// Remaining lifetimes in seconds; None: forever.
    pub valid_lft: Option<u32>,
    /// Remaining preferred lifetime in seconds; None: forever.
    pub preferred_lft: Option<u32>,
    /// The other end of a point-to-point address ("" for none).
    pub peer: String,
    /// The IPv4 broadcast address ("" for none).
    pub broadcast: String,
}

/// A route, as `routes()` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteView {
    /// Destination (`10.1.0.0/24`, or `default` in either family).
    pub dst: String,
    /// Route type ("unicast", "local", "blackhole", "unreachable", "prohibit", "throw", ...).
    pub kind: String,
    /// Routing table (254 main, 255 local, 253 default, or the table's number).
    pub table: u32,
    /// Gateway (empty: none, or a multipath route's, which are in `nexthops`).
    pub via: String,
    /// Outgoing link (empty: none).
    pub dev: String,
    /// Route metric (priority); 0 when the kernel reports none.
    pub metric: u32,
    /// Who installed it ("kernel", "boot", "static", "nslab", or the number).
    pub protocol: String,
    /// Scope ("global", "link", "host").
    pub scope: String,
    /// Preferred source address (empty: none).
    pub src: String,
    /// The gateway is taken to be on the link (RTNH_F_ONLINK).
    pub onlink: bool,
    /// A multipath route's nexthops; empty otherwise.
    pub nexthops: Vec<NextHopView>,
    /// "inet" or "inet6".
    pub family: String,
}

/// One nexthop of a multipath route.
#[derive(Debug, Clone, PartialEq)]
pub struct NextHopView {
    /// Gateway address.
    pub via: String,
    /// Output link name.
    pub dev: String,
    /// Nexthop weight (1 to 256).
    pub weight: u32,
}

/// The kernel's answer to `route_get` (`ip route get`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RouteGetView {
    /// A route was found (`error` says why not otherwise).
    pub ok: bool,
    /// Output link name.
    pub dev: String,
    /// Gateway address.
    pub via: String,
    /// Preferred source address.
    pub src: String,
    /// The table the route was found in (0: not reported).
    pub table: u32,
    /// The route type ("unicast", "local", "broadcast", ...).
    pub kind: String,
    /// The kernel's answer when it has no route ("Network is unreachable", ...); empty when ok.
    pub error: String,
}

/// A policy routing rule, as `rules()` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleView {
    /// "inet" or "inet6".
    pub family: String,
    /// Rule priority.
    pub priority: u32,
    /// "all" or a CIDR.
    pub from: String,
    /// Destination selector (an address, a CIDR or "all").
    pub to: String,
    /// Empty: any link.
    pub iif: String,
    /// Output link name.
    pub oif: String,
    /// 0: no mark match.
    pub fwmark: u32,
    /// The mark's mask (0xffffffff: the whole mark; 0 without a mark).
    pub fwmask: u32,
    /// Routing table.
    pub table: u32,
    /// "lookup", "blackhole", "unreachable", "prohibit", "goto", "nop".
    pub action: String,
    /// Routing protocol name.
    pub protocol: String,
}
