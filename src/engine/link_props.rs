//! Changing a link after creation (`ip link set LINK alias/promisc/arp/txqueuelen/group/mtu/
//! address`, `ip link property add altname`), bridge port options (`ip link set LINK type
//! bridge_slave ...`), and the namespace id (NSID) one namespace knows another by. Like
//! `netlink.rs`, this file names rtnetlink types so the rest does not.

use futures::StreamExt;
use rtnetlink::packet_core::{DefaultNla, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_REQUEST};
use rtnetlink::packet_route::link::{InfoBridgePort, InfoPortData, InfoPortKind, LinkAttribute, LinkMessage, Prop};
use rtnetlink::packet_route::nsid::{NsidAttribute, NsidMessage};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::LinkUnspec;

use super::error::{EngineError, Result};
use super::netlink::Conn;

/// IFLA_IFALIAS: sent without a trailing NUL, as iproute2 does, so an alias may use all 255
/// bytes the kernel keeps (it counts a NUL sent with it against that limit).
const IFLA_IFALIAS: u16 = 20;

/// What `ip link set` changes on an existing link; None leaves a setting as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkProps {
    /// The alias ("" removes it).
    pub alias: Option<String>,
    /// IFF_PROMISC.
    pub promisc: Option<bool>,
    /// ARP on (true) or IFF_NOARP (false).
    pub arp: Option<bool>,
    pub txqueuelen: Option<u32>,
    pub group: Option<u32>,
    pub mtu: Option<u32>,
    pub mac: Option<[u8; 6]>,
}

impl LinkProps {
    /// Whether nothing is to change.
    pub fn is_empty(&self) -> bool {
        *self == LinkProps::default()
    }
}

/// A bridge port's options (IFLA_BRPORT_*); None leaves one as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortOptions {
    pub hairpin: Option<bool>,
    pub learning: Option<bool>,
    pub flood: Option<bool>,
    pub isolated: Option<bool>,
    pub cost: Option<u32>,
    pub priority: Option<u16>,
}

impl PortOptions {
    /// Whether no option is given.
    pub fn is_empty(&self) -> bool {
        *self == PortOptions::default()
    }
}

impl Conn {
    /// Changes the settings `props` names, in one request (the kernel applies all or none of
    /// the attributes it validates up front; flags and the rest are applied in order).
    pub async fn set_props(&self, index: u32, props: &LinkProps) -> Result<()> {
        let mut b = LinkUnspec::new_with_index(index);
        if let Some(on) = props.promisc {
            b = b.promiscuous(on);
        }
        if let Some(on) = props.arp {
            b = b.arp(on);
        }
        if let Some(n) = props.txqueuelen {
            b = b.txqueuelen(n);
        }
        if let Some(g) = props.group {
            b = b.link_group(g);
        }
        if let Some(m) = props.mtu {
            b = b.mtu(m);
        }
        if let Some(mac) = props.mac {
            b = b.address(mac.to_vec());
        }
        if let Some(alias) = &props.alias {
            b = b.append_extra_attribute(LinkAttribute::Other(DefaultNla::new(IFLA_IFALIAS, alias.as_bytes().to_vec())));
        }
        self.handle
            .link()
            .change(b.build())
            .execute()
            .await
            .map_err(|e| EngineError::from_netlink(format!("change link {index}"), e))
    }

    /// Adds an alternative name (`ip link property add dev LINK altname NAME`, RTM_NEWLINKPROP).
    pub async fn add_altname(&self, index: u32, name: &str) -> Result<()> {
        self.handle
            .link()
            .property_add(index)
            .alt_ifname(&[name])
            .execute()
            .await
            .map_err(|e| EngineError::from_netlink(format!("add altname {name} to link {index}"), e))
    }

    /// Removes an alternative name (RTM_DELLINKPROP).
    pub async fn del_altname(&self, index: u32, name: &str) -> Result<()> {
        self.handle
            .link()
            .property_del(index)
            .alt_ifname(&[name])
            .execute()
            .await
            .map_err(|e| EngineError::from_netlink(format!("remove altname {name} from link {index}"), e))
    }

    /// Sets a bridge port's options (`ip link set LINK type bridge_slave ...`): RTM_NEWLINK with
    /// IFLA_INFO_SLAVE_DATA, which the bridge turns into the same IFLA_BRPORT_* changes as
    /// IFLA_PROTINFO.
    pub async fn set_port(&self, index: u32, o: &PortOptions) -> Result<()> {
        let mut infos = Vec::new();
        if let Some(v) = o.hairpin {
            infos.push(InfoBridgePort::HairpinMode(v));
        }
        if let Some(v) = o.learning {
            infos.push(InfoBridgePort::Learning(v));
        }
        if let Some(v) = o.flood {
            infos.push(InfoBridgePort::UnicastFlood(v));
        }
        if let Some(v) = o.isolated {
            infos.push(InfoBridgePort::Isolated(v));
        }
        if let Some(v) = o.cost {
            infos.push(InfoBridgePort::Cost(v));
        }
        if let Some(v) = o.priority {
            infos.push(InfoBridgePort::Priority(v));
        }
        let msg = LinkUnspec::new_with_index(index)
            .set_port_kind(InfoPortKind::Bridge)
            .set_port_data(InfoPortData::BridgePort(infos))
            .build();
        self.handle
            .link()
            .set_port(msg)
            .execute()
            .await
            .map_err(|e| EngineError::from_netlink(format!("set the bridge port options of link {index}"), e))
    }

    /// Deletes every link in link group `group`, in one batch: one RCU grace period for all of
    /// them instead of one per link (`ip link del group G`).
    pub async fn del_group(&self, group: u32) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::Group(group));
        self.handle
            .link()
            .del_with_message(msg)
            .execute()
            .await
            .map_err(|e| EngineError::from_netlink(format!("delete the links of group {group}"), e))
    }

    /// The id this namespace knows the namespace `fd` by (RTM_GETNSID), or None when it has
    /// none: no link here has a peer there.
    pub async fn nsid_of(&self, fd: u32) -> Result<Option<i32>> {
        let op = "ask for a namespace id";
        let mut msg = NsidMessage::default();
        msg.attributes.push(NsidAttribute::Fd(fd));
        let mut req = NetlinkMessage::from(RouteNetlinkMessage::GetNsId(msg));
        req.header.flags = NLM_F_REQUEST | NLM_F_ACK;
        let mut handle = self.handle.clone();
        let mut response = handle.request(req).map_err(|e| EngineError::from_netlink(op, e))?;
        let mut id = None;
        while let Some(message) = response.next().await {
            match message.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewNsId(m)) => {
                    id = m.attributes.iter().find_map(|a| match a {
                        NsidAttribute::Id(i) if *i >= 0 => Some(*i),
                        _ => None,
                    });
                }
                NetlinkPayload::Error(e) if e.code.is_some() => {
                    return Err(EngineError::from_netlink(op, rtnetlink::Error::NetlinkError(e)));
                }
                _ => {}
            }
        }
        Ok(id)
    }
}

/// The alternative names of a link, from its RTM_NEWLINK message.
pub(super) fn altnames(msg: &LinkMessage) -> Vec<String> {
    msg.attributes
        .iter()
        .filter_map(|a| match a {
            LinkAttribute::PropList(props) => Some(props),
            _ => None,
        })
        .flatten()
        .filter_map(|p| match p {
            Prop::AltIfName(n) => Some(n.clone()),
            _ => None,
        })
        .collect()
}
