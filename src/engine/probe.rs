//! Finding out what the running kernel supports by trying it: a link or qdisc of a kind is
//! created in a throwaway, nameless network namespace that vanishes with its connection.
//!
//! The kernel answers an unknown link kind with EOPNOTSUPP ("Unknown device type") and an unknown
//! qdisc kind with ENOENT ("Unknown qdisc"); any other answer, including EINVAL for parameters a
//! kind needs and the probe did not give, means the kernel has the kind.

use std::fs::File;

use futures::StreamExt;
use nix::errno::Errno;
use nix::sched::{setns, unshare, CloneFlags};
use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST};
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVlan, InfoVrf, InfoVxlan};
use rtnetlink::packet_route::tc::{TcAttribute, TcHandle, TcMessage};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::{LinkMessageBuilder, LinkUnspec};

use super::error::{EngineError, Result};
use super::netlink::Conn;

/// Opens a connection inside a new network namespace that nothing else refers to: it is freed by
/// the kernel once the connection is dropped. Must be called inside a tokio runtime context.
pub fn scratch(home: &File) -> Result<Conn> {
    let op = "make a throwaway namespace to probe the kernel";
    unshare(CloneFlags::CLONE_NEWNET).map_err(|e| EngineError::errno(op, e))?;
    let conn = Conn::open(None, home);
    // Failing to return would leave every later call in the wrong namespace: nothing is safe then.
    setns(home, CloneFlags::CLONE_NEWNET).expect("return to the home network namespace");
    conn
}

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Support {
    Yes,
    /// The kernel does not know the kind; the text is how it said so.
    No(String),
}

impl Conn {
    /// Tries to create a link of `kind` (with a veth as lower device and the few parameters the
    /// common kinds require) in this connection's namespace, which should be a scratch one.
    pub async fn probe_link_kind(&self, kind: &str) -> Result<Support> {
        // A lower device for kinds that stack on one (vlan, macvlan, ipvlan); ignored by others.
        let lower = match self.add_veth("probe0", None, "probe1", None, None, &Default::default()).await {
            Ok(()) => self.link_by_name("probe0").await.ok().map(|l| l.index),
            Err(_) => None,
        };
        let mut msg = LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(InfoKind::from(kind)).name("probe2".to_string());
        if let Some(index) = lower {
            msg = msg.link(index);
        }
        msg = match kind {
            "vlan" => msg.set_info_data(InfoData::Vlan(vec![InfoVlan::Id(10)])),
            "vxlan" => msg.set_info_data(InfoData::Vxlan(vec![InfoVxlan::Id(42), InfoVxlan::Port(4789)])),
            "vrf" => msg.set_info_data(InfoData::Vrf(vec![InfoVrf::TableId(10)])),
            _ => msg,
        };
        match self.handle.link().add(msg.build()).execute().await {
            Ok(()) => Ok(Support::Yes),
            Err(e) => judge(EngineError::from_netlink(format!("create a {kind} link"), e), Errno::EOPNOTSUPP),
        }
    }

    /// Tries to attach a qdisc of `kind` to `lo` (as root qdisc, or at the ingress hook for
    /// `ingress` and `clsact`).
    pub async fn probe_qdisc_kind(&self, kind: &str) -> Result<Support> {
        let op = format!("add a {kind} qdisc");
        let lo = self.link_by_name("lo").await?.index;
        let mut msg = TcMessage::with_index(lo as i32);
        if kind == "ingress" || kind == "clsact" {
            msg.header.parent = TcHandle::INGRESS;
            msg.header.handle = TcHandle::from(0xffff_0000);
        } else {
            msg.header.parent = TcHandle::ROOT;
            msg.header.handle = TcHandle { major: 1, minor: 0 };
        }
        msg.attributes.push(TcAttribute::Kind(kind.to_string()));
        let mut req = NetlinkMessage::from(RouteNetlinkMessage::NewQueueDiscipline(msg));
        req.header.flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE;
        let mut handle = self.handle.clone();
        let mut replies = handle.request(req).map_err(|e| EngineError::from_netlink(&op, e))?;
        while let Some(reply) = replies.next().await {
            if let NetlinkPayload::Error(err) = reply.payload {
                if err.code.is_some() {
                    return judge(EngineError::from_netlink(&op, rtnetlink::Error::NetlinkError(err)), Errno::ENOENT);
                }
            }
        }
        Ok(Support::Yes)
    }
}

/// A failed creation: `missing` is the errno by which the kernel says it has no such kind.
fn judge(e: EngineError, missing: Errno) -> Result<Support> {
    match e.code() {
        Some(code) if code == missing => Ok(Support::No(e.cause.to_string())),
        Some(Errno::EPERM) | Some(Errno::EACCES) => Err(e),
        Some(_) => Ok(Support::Yes),
        None => Err(e),
    }
}

/// Whether the kernel has TUN/TAP devices: `/dev/net/tun` opens.
pub fn tun() -> Result<Support> {
    match std::fs::OpenOptions::new().read(true).write(true).open("/dev/net/tun") {
        Ok(_) => Ok(Support::Yes),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENODEV) | Some(libc::ENXIO)) => {
            Ok(Support::No(format!("/dev/net/tun: {e}")))
        }
        Err(e) => Err(EngineError::io("open /dev/net/tun", e)),
    }
}

/// Whether the kernel has IPv6 (its sysctl tree exists).
pub fn ipv6() -> Support {
    if std::path::Path::new("/proc/sys/net/ipv6").exists() {
        Support::Yes
    } else {
        Support::No("/proc/sys/net/ipv6 does not exist".into())
    }
}
