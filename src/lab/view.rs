//! What inspection returns: links and addresses as the user thinks of them.

/// A link, as `links()` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkView {
    pub name: String,
    pub index: u32,
    pub kind: String,
    /// "up" or "down": the administrative state, as `ip link set up` sets it.
    pub state: String,
    /// Carrier: true when the link can pass packets (a veth whose peer is up too).
    pub carrier: bool,
    pub mtu: u32,
    pub mac: String,
    /// The veth peer's name (empty when not a veth or unknown), and its namespace
    /// (empty: the same namespace as this link).
    pub peer: String,
    pub peer_netns: String,
    pub master: String,
    pub addresses: Vec<String>,
}

/// An address, as `addrs()` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AddrView {
    pub link: String,
    pub index: u32,
    pub family: String,
    pub address: String,
    pub prefix: u8,
    pub cidr: String,
    pub scope: String,
}

/// A route, as `routes()` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteView {
    pub dst: String,
    pub via: String,
    pub dev: String,
    pub metric: Option<u32>,
    pub protocol: String,
    pub scope: String,
    pub family: String,
}
