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
    /// Destination (`10.1.0.0/24`, or `default`).
    pub dst: String,
    /// Gateway (empty: none).
    pub via: String,
    /// Outgoing link (empty: none).
    pub dev: String,
    /// Route metric (priority), when set.
    pub metric: Option<u32>,
    /// Who installed it ("kernel", "boot", "static", ...).
    pub protocol: String,
    /// Scope ("global", "link", "host").
    pub scope: String,
    /// "ipv4" or "ipv6".
    pub family: String,
}
