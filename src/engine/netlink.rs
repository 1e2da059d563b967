//! One rtnetlink connection per namespace, and the link and address requests nslab sends.
//! This is the only module that names rtnetlink types: an upgrade touches it alone.

use std::fs::File;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, RawFd};

use futures::TryStreamExt;
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use rtnetlink::packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkExtentMask, LinkFlags, LinkInfo as NlLinkInfo, LinkMessage,
};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::{Handle, LinkMessageBuilder, LinkUnspec};

use super::error::{EngineError, Result};
use super::netns;

/// A link as the kernel reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkInfo {
    /// Interface index, unique within its namespace.
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// "veth", "bridge", ... or "" for links without a kind (lo, physical NICs).
    pub kind: String,
    /// Administrative state (IFF_UP): `lo` reports operstate UNKNOWN even when up.
    pub up: bool,
    /// Carrier (IFF_LOWER_UP): the link can pass packets.
    pub lower_up: bool,
    /// RFC 2863 operational state as the kernel's link watcher last set it ("up", "down",
    /// "unknown", ...). It lags the carrier briefly; packets sent before it turns "up" are dropped.
    pub operstate: String,
    /// Maximum transmission unit, in bytes.
    pub mtu: u32,
    /// Hardware address as `aa:bb:cc:dd:ee:ff` (empty when it has none).
    pub mac: String,
    /// For a veth: the peer's ifindex (in `peer_netnsid`'s namespace when that is set).
    pub peer_index: Option<u32>,
    /// For a veth whose peer is in another namespace: that namespace's id as seen from this one.
    pub peer_netnsid: Option<i32>,
    /// The ifindex of the bridge or bond this link is enslaved to.
    pub master: Option<u32>,
    /// The link group (0: "default").
    pub group: u32,
}

/// An address on a link, as the kernel reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct AddrInfo {
    /// Interface index of the link that holds it.
    pub index: u32,
    /// The address.
    pub address: IpAddr,
    /// Prefix length.
    pub prefix: u8,
    /// Scope ("global", "link", "host").
    pub scope: String,
}

/// Settings a newly created link may be given in its creation request.
#[derive(Debug, Clone, Default)]
pub struct LinkOptions {
    /// MTU to create the link with.
    pub mtu: Option<u32>,
    /// Created up. For a veth only the first end can be: the kernel opens the peer before the
    /// two are joined and refuses it (ENOTCONN), so the lab brings the peer up afterwards.
    pub up: bool,
    /// Enslaved to this bridge (by ifindex, in the link's namespace) as it is created.
    pub master: Option<u32>,
    /// A veth's transmit and receive queues per end (default 1). Stated in the request because
    /// otherwise the kernel allocates one per CPU and then trims them to one, paying an
    /// expedited RCU grace period per end (~80 µs each, 1000 of them in a 500-port star).
    pub queues: Option<u32>,
    /// The link group (IFLA_GROUP) of the first end and of the peer. Set at birth, so a link is
    /// recognisable as its lab's even before the lab has noted its ifindex.
    pub group: Option<u32>,
    /// The link group of the veth peer (see `group`).
    pub peer_group: Option<u32>,
}

/// A netlink connection that belongs to one namespace for its whole life.
#[derive(Clone)]
pub struct Conn {
    pub(super) handle: Handle,
}

impl Conn {
    /// Opens a connection inside `target` (or where the thread is, when `None`). Must be called
    /// inside a tokio runtime context; the socket is created before the thread returns home.
    pub fn open(target: Option<&File>, home: &File) -> Result<Conn> {
        let op = "open a netlink connection";
        let made = match target {
            Some(ns) => netns::within(ns, home, rtnetlink::new_connection)?,
            None => rtnetlink::new_connection(),
        };
        let (connection, handle, _) = made.map_err(|e| EngineError::io(op, e))?;
        tokio::spawn(connection);
        Ok(Conn { handle })
    }

    /// A link query without the kernel's counters (nslab shows none): a quarter less for the
    /// kernel to fill and for nslab to parse (1,116 bytes a veth instead of 1,484).
    pub(super) fn link_get(&self) -> rtnetlink::LinkGetRequest {
        self.handle.link().get().set_filter_mask(AddressFamily::Unspec, vec![LinkExtentMask::SkipStats])
    }

    /// The link named `name` in this namespace.
    pub async fn link_by_name(&self, name: &str) -> Result<LinkInfo> {
        let mut stream = self.link_get().match_name(name.to_string()).execute();
        match stream.try_next().await {
            Ok(Some(msg)) => Ok(link_info(&msg)),
            Ok(None) => Err(EngineError::errno(format!("find link {name}"), nix::errno::Errno::ENODEV)),
            Err(e) => Err(EngineError::from_netlink(format!("find link {name}"), e)),
        }
    }

    /// Every link in this namespace.
    pub async fn links(&self) -> Result<Vec<LinkInfo>> {
        let msgs: Vec<LinkMessage> =
            self.link_get().execute().try_collect().await.map_err(|e| EngineError::from_netlink("list links", e))?;
        Ok(msgs.iter().map(link_info).collect())
    }

    /// Creates a veth pair. With `peer_ns`, the peer is born directly in that namespace,
    /// which avoids the ~17 ms RCU cost of moving it later.
    /// Each end's ifindex may be chosen (`index`, `peer_index`), sparing a lookup afterwards.
    pub async fn add_veth(
        &self,
        name: &str,
        index: Option<u32>,
        peer: &str,
        peer_index: Option<u32>,
        peer_ns: Option<&File>,
        opts: &LinkOptions,
    ) -> Result<()> {
        let mut peer_msg = LinkUnspec::new_with_name(peer);
        if let Some(i) = peer_index {
            peer_msg = peer_msg.index(i);
        }
        if let Some(ns) = peer_ns {
            peer_msg = peer_msg.setns_by_fd(ns.as_fd().as_raw_fd());
        }
        if let Some(mtu) = opts.mtu {
            peer_msg = peer_msg.mtu(mtu);
        }
        let queues = opts.queues.unwrap_or(1);
        peer_msg = with_queues(peer_msg, queues);
        if let Some(g) = opts.peer_group {
            peer_msg = peer_msg.append_extra_attribute(LinkAttribute::Group(g));
        }
        let mut msg = LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(InfoKind::Veth)
            .name(name.to_string())
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_msg.build())));
        msg = with_queues(msg, queues);
        if let Some(g) = opts.group {
            msg = msg.append_extra_attribute(LinkAttribute::Group(g));
        }
        if let Some(mtu) = opts.mtu {
            msg = msg.mtu(mtu);
        }
        if let Some(i) = index {
            msg = msg.index(i);
        }
        if opts.up {
            msg = msg.up();
        }
        if let Some(master) = opts.master {
            msg = msg.controller(master);
        }
        self.handle
            .link()
            .add(msg.build())
            .execute()
            .await
            .map_err(|e| EngineError::from_netlink(format!("create veth pair {name}/{peer}"), e))
    }

    /// Sets a link administratively up or down.
    pub async fn set_up(&self, index: u32, up: bool) -> Result<()> {
        let msg = LinkUnspec::new_with_index(index);
        let msg = if up { msg.up() } else { msg.down() };
        let what = if up { "up" } else { "down" };
        self.handle
            .link()
            .change(msg.build())
            .execute()
            .await
            .map_err(|e| EngineError::from_netlink(format!("set link {index} {what}"), e))
    }

    /// Moves a link into the namespace `fd` refers to (`ip link set DEV netns NS`).
    pub async fn move_to(&self, index: u32, fd: RawFd) -> Result<()> {
        let msg = LinkUnspec::new_with_index(index).setns_by_fd(fd).build();
        self.handle.link().change(msg).execute().await.map_err(|e| EngineError::from_netlink(format!("move link {index}"), e))
    }

    /// Moves a link into the namespace `fd` refers to, giving it `name` there and, if that
    /// number is free there, ifindex `new_index` (`ip link set DEV netns NS name NAME`; the
    /// kernel renames and renumbers on the way, in one request), and bringing it up there when
    /// `up` (a move takes a link down; the kernel moves first, then applies the flags).
    pub async fn move_as(&self, index: u32, fd: RawFd, name: &str, new_index: Option<u32>, up: bool) -> Result<()> {
        let mut msg = LinkUnspec::new_with_index(index).setns_by_fd(fd).name(name.to_string());
        if up {
            msg = msg.up();
        }
        if let Some(i) = new_index.and_then(|i| i32::try_from(i).ok()) {
            msg = msg.append_extra_attribute(LinkAttribute::NewIfIndex(i));
        }
        self.handle
            .link()
            .change(msg.build())
            .execute()
            .await
            .map_err(|e| EngineError::from_netlink(format!("move link {index} back as {name}"), e))
    }

    /// The link with this ifindex, if there is one.
    pub async fn link_by_index(&self, index: u32) -> Result<Option<LinkInfo>> {
        let mut stream = self.link_get().match_index(index).execute();
        match stream.try_next().await {
            Ok(Some(msg)) => Ok(Some(link_info(&msg))),
            Ok(None) => Ok(None),
            Err(e) => {
                let e = EngineError::from_netlink(format!("find link {index}"), e);
                if e.code() == Some(nix::errno::Errno::ENODEV) {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Deletes a link (a veth takes its peer with it).
    pub async fn del_link(&self, index: u32) -> Result<()> {
        self.handle.link().del(index).execute().await.map_err(|e| EngineError::from_netlink(format!("delete link {index}"), e))
    }

    /// Adds an address to a link.
    pub async fn add_addr(&self, index: u32, address: IpAddr, prefix: u8) -> Result<()> {
        self.handle
            .address()
            .add(index, address, prefix)
            .execute()
            .await
            .map_err(|e| EngineError::from_netlink(format!("add address {address}/{prefix}"), e))
    }

    /// Removes an address from a link.
    pub async fn del_addr(&self, index: u32, address: IpAddr, prefix: u8) -> Result<()> {
        let all = self.addr_messages().await?;
        let found = all
            .into_iter()
            .find(|m| m.header.index == index && m.header.prefix_len == prefix && message_address(m) == Some(address));
        let op = format!("delete address {address}/{prefix}");
        let Some(msg) = found else {
            return Err(EngineError::errno(op, nix::errno::Errno::EADDRNOTAVAIL));
        };
        self.handle.address().del(msg).execute().await.map_err(|e| EngineError::from_netlink(op, e))
    }

    async fn addr_messages(&self) -> Result<Vec<AddressMessage>> {
        self.handle.address().get().execute().try_collect().await.map_err(|e| EngineError::from_netlink("list addresses", e))
    }

    /// Every address in this namespace.
    pub async fn addrs(&self) -> Result<Vec<AddrInfo>> {
        let msgs = self.addr_messages().await?;
        Ok(msgs
            .iter()
            .filter_map(|m| {
                Some(AddrInfo {
                    index: m.header.index,
                    address: message_address(m)?,
                    prefix: m.header.prefix_len,
                    scope: scope_name(m.header.scope),
                })
            })
            .collect())
    }
}

fn message_address(m: &AddressMessage) -> Option<IpAddr> {
    // IFA_LOCAL is the interface's own address on point-to-point links; prefer it like iproute2.
    let local = m.attributes.iter().find_map(|a| match a {
        AddressAttribute::Local(ip) => Some(*ip),
        _ => None,
    });
    local.or_else(|| {
        m.attributes.iter().find_map(|a| match a {
            AddressAttribute::Address(ip) => Some(*ip),
            _ => None,
        })
    })
}

fn scope_name(scope: AddressScope) -> String {
    match scope {
        AddressScope::Universe => "global".into(),
        AddressScope::Site => "site".into(),
        AddressScope::Link => "link".into(),
        AddressScope::Host => "host".into(),
        AddressScope::Nowhere => "nowhere".into(),
        AddressScope::Other(n) => n.to_string(),
        _ => "other".into(),
    }
}

fn link_info(msg: &LinkMessage) -> LinkInfo {
    let mut info = LinkInfo {
        index: msg.header.index,
        name: String::new(),
        kind: String::new(),
        up: msg.header.flags.contains(LinkFlags::Up),
        lower_up: msg.header.flags.contains(LinkFlags::LowerUp),
        operstate: String::new(),
        mtu: 0,
        mac: String::new(),
        peer_index: None,
        peer_netnsid: None,
        master: None,
        group: 0,
    };
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(n) => info.name = n.clone(),
            LinkAttribute::Mtu(m) => info.mtu = *m,
            LinkAttribute::OperState(s) => info.operstate = format!("{s:?}").to_lowercase(),
            LinkAttribute::Address(a) => info.mac = format_mac(a),
            LinkAttribute::Link(i) => info.peer_index = Some(*i),
            LinkAttribute::LinkNetNsId(id) => info.peer_netnsid = Some(*id),
            LinkAttribute::Controller(i) => info.master = Some(*i),
            LinkAttribute::Group(g) => info.group = *g,
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    if let NlLinkInfo::Kind(k) = i {
                        info.kind = k.to_string();
                    }
                }
            }
            _ => {}
        }
    }
    info
}

impl LinkInfo {
    /// True while a veth has its carrier but the kernel's link watcher has not put it in service
    /// yet (until then it drops what it sends). The watcher sets the operstate when it is done;
    /// before, a new veth still shows its initial "unknown" (and IFLA_QDISC already names the
    /// qdisc, so that tells nothing). Other kinds may stay "unknown" for good (lo, vxlan), so only
    /// veths are judged.
    pub fn settling(&self) -> bool {
        self.kind == "veth" && self.up && self.lower_up && self.operstate != "up"
    }
}

/// A hardware address as `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

fn with_queues<T>(msg: LinkMessageBuilder<T>, queues: u32) -> LinkMessageBuilder<T> {
    msg.append_extra_attribute(LinkAttribute::NumTxQueues(queues)).append_extra_attribute(LinkAttribute::NumRxQueues(queues))
}
