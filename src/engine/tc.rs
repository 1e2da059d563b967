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

/// The handle of a qdisc nslab attaches under its root qdisc ("1ab8:").
pub const CHILD_HANDLE: u32 = 0x1ab8 << 16;

/// A link's root qdisc as the kernel reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct QdiscInfo {
    pub kind: String,
    /// major << 16 | minor; 0 for the default qdisc a link starts with.
    pub handle: u32,
    /// The TCA_OPTIONS payload (the qdisc's own attributes), as the kernel dumped it.
    pub options: Vec<u8>,
}

impl QdiscInfo {
    /// The qdisc the kernel attaches by itself (noqueue, pfifo_fast, mq, noop, or the
    /// default_qdisc sysctl's): handle 0. Any qdisc someone configured has a handle (tc picks
    /// one, 8001: and up, when none is given).
    pub fn is_default(&self) -> bool {
        self.handle == 0
    }
}

/// A handle nslab gives root qdiscs (this lab or another one).
pub fn is_nslab_handle(handle: u32) -> bool {
    HANDLE_MAJORS.iter().any(|m| handle == u32::from(*m) << 16)
}

/// HTB's dump says its full version (HTB_VER, 0x30011) where creation takes only its major
/// (3): put back as dumped, the kernel refuses it (EINVAL). TCA_HTB_INIT is attribute 2; its
/// payload starts with that version.
fn fix_dumped_options(kind: &str, mut options: Vec<u8>) -> Vec<u8> {
    const TCA_HTB_INIT: u16 = 2;
    if kind != "htb" {
        return options;
    }
    let mut at = 0;
    while at + 4 <= options.len() {
        let len = usize::from(u16::from_ne_bytes([options[at], options[at + 1]]));
        let kind = u16::from_ne_bytes([options[at + 2], options[at + 3]]) & 0x3fff;
        if len < 4 || at + len > options.len() {
            break;
        }
        if kind == TCA_HTB_INIT && len >= 8 {
            let v = u32::from_ne_bytes(options[at + 4..at + 8].try_into().expect("4 bytes"));
            if v > 0xffff {
                options[at + 4..at + 8].copy_from_slice(&(v >> 16).to_ne_bytes());
            }
        }
        at += (len + 3) & !3;
    }
    options
}

/// The handle nslab gives the next root qdisc on a link: one of its two, not the current one
/// (see `replace_root_qdisc`).
pub fn next_handle(current: Option<&QdiscInfo>) -> u32 {
    let current = current.map(|q| q.handle >> 16);
    let major = HANDLE_MAJORS.into_iter().find(|m| current != Some(u32::from(*m))).expect("two majors differ from one");
    u32::from(major) << 16
}

/// A handle as tc prints it ("5:", "1ab0:", "1:2").
pub fn handle_text(handle: u32) -> String {
    match handle & 0xffff {
        0 => format!("{:x}:", handle >> 16),
        minor => format!("{:x}:{minor:x}", handle >> 16),
    }
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
    /// Returns the new qdisc's handle.
    pub async fn replace_root_qdisc(&self, index: u32, kind: &str, options: Vec<u8>) -> Result<u32> {
        let handle = next_handle(self.root_qdisc(index).await?.as_ref());
        self.put_root_qdisc(index, kind, options, handle).await?;
        Ok(handle)
    }

    /// Makes `kind` with `options` and `handle` the link's root qdisc, in place of whatever is
    /// there (a different handle: the old one is replaced, not changed).
    pub async fn put_root_qdisc(&self, index: u32, kind: &str, options: Vec<u8>, handle: u32) -> Result<()> {
        let mut msg = root_message(index);
        msg.header.handle = TcHandle::from(handle);
        msg.attributes.push(TcAttribute::Kind(kind.to_string()));
        let options = fix_dumped_options(kind, options);
        if !options.is_empty() {
            msg.attributes.push(TcAttribute::Other(DefaultNla::new(TCA_OPTIONS, options)));
        }
        let mut req = NetlinkMessage::from(RouteNetlinkMessage::NewQueueDiscipline(msg));
        req.header.flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
        self.send_tc(req, format!("set the root qdisc of link {index} to {kind}")).await
    }

    /// Attaches `kind` with `options` and `handle` under class `parent` of the link's root qdisc
    /// (`tc qdisc replace dev LINK parent P handle H KIND ...`), e.g. a tbf under netem's class.
    pub async fn put_child_qdisc(&self, index: u32, parent: u32, kind: &str, options: Vec<u8>, handle: u32) -> Result<()> {
        let mut msg = TcMessage::with_index(index as i32);
        msg.header.parent = TcHandle::from(parent);
        msg.header.handle = TcHandle::from(handle);
        msg.attributes.push(TcAttribute::Kind(kind.to_string()));
        if !options.is_empty() {
            msg.attributes.push(TcAttribute::Other(DefaultNla::new(TCA_OPTIONS, options)));
        }
        let mut req = NetlinkMessage::from(RouteNetlinkMessage::NewQueueDiscipline(msg));
        req.header.flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
        self.send_tc(req, format!("attach a {kind} qdisc under {} on link {index}", handle_text(parent))).await
    }

    /// Deletes the link's root qdisc (`tc qdisc del dev LINK root`). When there is none (the
    /// default qdisc has handle 0), the kernel answers ENOENT. With `handle`, only a root qdisc
    /// with that handle is deleted: the kernel checks it and answers EINVAL for another one.
    pub async fn del_root_qdisc(&self, index: u32, handle: Option<u32>) -> Result<()> {
        let mut msg = root_message(index);
        if let Some(h) = handle {
            msg.header.handle = TcHandle::from(h);
        }
        let mut req = NetlinkMessage::from(RouteNetlinkMessage::DelQueueDiscipline(msg));
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
            options: m.attributes.iter().find_map(options_bytes).unwrap_or_default(),
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

/// TCA_OPTIONS' payload as sent to the kernel. netlink-packet-route parses the options of the
/// kinds it knows into attributes (emitted back as they were) and keeps the others whole, as
/// one attribute that is TCA_OPTIONS itself (its value is the payload).
fn options_bytes(a: &TcAttribute) -> Option<Vec<u8>> {
    use rtnetlink::packet_core::{Emitable, Nla};
    use rtnetlink::packet_route::tc::TcOption;
    let TcAttribute::Options(opts) = a else { return None };
    if let [TcOption::Other(nla)] = opts.as_slice() {
        if nla.kind() == TCA_OPTIONS {
            let mut value = vec![0; nla.value_len()];
            nla.emit_value(&mut value);
            return Some(value);
        }
    }
    let mut bytes = vec![0; opts.as_slice().buffer_len()];
    opts.as_slice().emit(&mut bytes);
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htb_version_is_put_back_as_creation_takes_it() {
        // TCA_HTB_INIT (len 24, type 2) with version 0x30011, then TCA_HTB_DIRECT_QLEN.
        let mut opts = vec![24, 0, 2, 0];
        opts.extend(0x30011u32.to_ne_bytes());
        opts.extend([0u8; 16]);
        opts.extend([8, 0, 4, 0, 0xe8, 3, 0, 0]);
        let fixed = fix_dumped_options("htb", opts.clone());
        assert_eq!(u32::from_ne_bytes(fixed[4..8].try_into().unwrap()), 3);
        assert_eq!(fixed[8..], opts[8..]);
        assert_eq!(fix_dumped_options("tbf", opts.clone()), opts);
    }
}
