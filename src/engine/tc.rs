//! Root qdiscs through netlink (`tc qdisc replace/del dev LINK root ...`), without a `tc` process.
//! rtnetlink's qdisc request builder cannot carry options, so the message is built here from
//! netlink-packet-route's `TcMessage` and sent with `Handle::request`; the option bytes come from
//! `tc_options`.

use futures::{StreamExt, TryStreamExt};
use rtnetlink::packet_core::{DefaultNla, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST};
use rtnetlink::packet_route::tc::{TcAttribute, TcHandle, TcMessage};
use rtnetlink::packet_route::RouteNetlinkMessage;

use super::error::{EngineError, Result};
use super::netlink::Conn;

/// TCA_OPTIONS: the qdisc's own parameters, whose layout depends on its kind.
const TCA_OPTIONS: u16 = 2;

/// The handle majors nslab gives root qdiscs, in turn ("1ab0:" and "1ab1:").
const HANDLE_MAJORS: [u16; 2] = [0x1ab0, 0x1ab1];

/// A link's root qdisc as the kernel reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct QdiscInfo {
    pub kind: String,
    /// major << 16 | minor; 0 for the default qdisc a link starts with.
    pub handle: u32,
}

fn root_message(index: u32) -> TcMessage {
    let mut msg = TcMessage::with_index(index as i32);
    msg.header.parent = TcHandle::ROOT;
    msg
}

impl Conn {
    /// Makes `kind` with `options` the link's root qdisc, replacing whatever root qdisc it had
    /// (`tc qdisc replace dev LINK root`). The new qdisc always gets a handle other than the old
    /// one's, so the kernel creates it and grafts it in place of the old one, even of the same
    /// kind, instead of changing the old one's parameters: an in-place tbf change keeps the
    /// queue, and packets queued under a larger burst than the new one never leave it.
    pub async fn replace_root_qdisc(&self, index: u32, kind: &str, options: Vec<u8>) -> Result<()> {
        let current = self.root_qdisc(index).await?.map(|q| q.handle >> 16);
        let major = HANDLE_MAJORS.into_iter().find(|m| current != Some(u32::from(*m))).expect("two majors differ from one");
        let mut msg = root_message(index);
        msg.header.handle = TcHandle { major, minor: 0 };
        msg.attributes.push(TcAttribute::Kind(kind.to_string()));
        msg.attributes.push(TcAttribute::Other(DefaultNla::new(TCA_OPTIONS, options)));
        let mut req = NetlinkMessage::from(RouteNetlinkMessage::NewQueueDiscipline(msg));
        req.header.flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
        self.send_tc(req, format!("set the root qdisc of link {index} to {kind}")).await
    }

    /// Deletes the link's root qdisc (`tc qdisc del dev LINK root`). When there is none (the
    /// default qdisc has handle 0), the kernel answers ENOENT.
    pub async fn del_root_qdisc(&self, index: u32) -> Result<()> {
        let mut req = NetlinkMessage::from(RouteNetlinkMessage::DelQueueDiscipline(root_message(index)));
        req.header.flags = NLM_F_REQUEST | NLM_F_ACK;
        self.send_tc(req, format!("delete the root qdisc of link {index}")).await
    }

    /// The link's root qdisc (None: a link without one, such as a link that is down).
    pub async fn root_qdisc(&self, index: u32) -> Result<Option<QdiscInfo>> {
        let op = format!("list the qdiscs of link {index}");
        let msgs: Vec<TcMessage> = self
            .handle
            .qdisc()
            .get()
            .index(index as i32)
            .execute()
            .try_collect()
            .await
            .map_err(|e| EngineError::from_netlink(&op, e))?;
        Ok(msgs.iter().find(|m| m.header.index == index as i32 && m.header.parent == TcHandle::ROOT).map(|m| QdiscInfo {
            kind: m
                .attributes
                .iter()
                .find_map(|a| match a {
                    TcAttribute::Kind(k) => Some(k.clone()),
                    _ => None,
                })
                .unwrap_or_default(),
            handle: u32::from(m.header.handle),
        }))
    }

    async fn send_tc(&self, req: NetlinkMessage<RouteNetlinkMessage>, op: String) -> Result<()> {
        let mut handle = self.handle.clone();
        let mut response = handle.request(req).map_err(|e| EngineError::from_netlink(&op, e))?;
        while let Some(msg) = response.next().await {
            if let NetlinkPayload::Error(err) = msg.payload {
                if err.code.is_some() {
                    return Err(EngineError::from_netlink(op, rtnetlink::Error::NetlinkError(err)));
                }
            }
        }
        Ok(())
    }
}
