//! Running programs and sending pings inside namespaces.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{validate, ExecOutput, Lab, LabError, Ns, Result};
use crate::engine::icmp::{PingOptions, PingReport};
use crate::engine::netlink::LinkInfo;

impl Lab {
    /// Runs a program in `ns` to the end and captures its output. It is recorded in the ledger
    /// while it runs (see `processes.rs`), so even a `kill -9` of nslab leaves it to `clean`.
    /// Like every start, it first carries out a held-back veth and lets links just brought up
    /// come into service (the program may send packets at once).
    pub fn exec(&mut self, ns: &Ns, argv: &[String]) -> Result<ExecOutput> {
        self.trace(|| {
            format!("{}{}", super::trace::inside(ns), argv.iter().map(|a| super::trace::word(a)).collect::<Vec<_>>().join(" "))
        });
        self.run_to_end(ns, argv)
    }

    /// Waits (at most a second) until links brought up have been activated by the kernel's link
    /// watcher, which runs asynchronously: a packet sent on a link in between is silently dropped,
    /// and a first ping right after `up` would fail for no reason the user could see.
    ///
    /// Only what changed since the last wait is looked at: each link brought up since, and its
    /// peer (a lookup each), instead of a socket and a link dump in every namespace touched. Every
    /// one is checked: the watcher runs "urgent" events at once and defers the others to its
    /// once-a-second pass, so one link in service says nothing about an earlier one (seen: 20 labs
    /// side by side, a ping over a link brought up earlier than one already in service, lost).
    pub(super) fn settle(&mut self) -> Result<()> {
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        let ups = std::mem::take(&mut self.unsettled.ups);
        for up in &ups {
            if self.in_service(&up.ns, &up.link, deadline).is_none() {
                continue; // gone since
            }
            let peer = self.peers.get(&(up.ns.key(), up.link.clone())).cloned();
            if let Some((pns, pname)) = &peer {
                let pns = pns.clone().map_or(Ns::Root, Ns::Named);
                self.in_service(&pns, pname, deadline);
            }
        }
        Ok(())
    }

    /// Waits until a link is in service (or the deadline passes); None when it is not there.
    fn in_service(&mut self, ns: &Ns, link: &str, deadline: std::time::Instant) -> Option<LinkInfo> {
        let conn = self.conn(ns).ok()?; // deleted since: nothing to wait for
        loop {
            let info = self.block_on(conn.link_by_name(link)).ok()?;
            if !info.settling() || std::time::Instant::now() > deadline {
                return Some(info);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Pings `dst` from `ns` with ICMP echo requests (`ip netns exec NS ping DST`).
    pub fn ping(&mut self, ns: &Ns, dst: &str, opts: &PingOptions) -> Result<PingReport> {
        let ip: IpAddr = validate::ip_as("destination", dst)?;
        super::validate_traffic::ping_options(ip, opts)?;
        self.flush()?;
        self.settle()?;
        let file = match ns {
            Ns::Root => None,
            Ns::Named(_) => Some(self.ns_file(ns)?),
        };
        let cancel = self.cancel.clone();
        let report = crate::engine::icmp::ping(file.as_deref(), &self.home, ip, opts, &|| cancel.load(Ordering::Relaxed))
            .map_err(|e| match (e.code(), &opts.dev, opts.from) {
                (Some(nix::errno::Errno::ENODEV), Some(dev), _) => LabError::NoSuchLink { ns: ns.to_string(), link: dev.clone() },
                (Some(nix::errno::Errno::EADDRNOTAVAIL), _, Some(from)) => LabError::Failed {
                    op: format!("ping {dst} from {ns}"),
                    detail: format!("{from} is not an address of {ns} (the from option must be one of its own)"),
                    errno: e.code(),
                },
                (Some(code @ (nix::errno::Errno::EACCES | nix::errno::Errno::EPERM)), ..) if e.op == "open an ICMP socket" => {
                    LabError::Failed {
                        op: format!("ping {dst} from {ns}"),
                        detail: format!(
                            "neither a raw ICMP socket (needs CAP_NET_RAW) nor a ping socket (needs the group id in \
                             net.ipv4.ping_group_range of {ns}) is allowed: run as root, or set that sysctl"
                        ),
                        errno: Some(code),
                    }
                }
                _ => LabError::from_engine(format!("ping {dst} from {ns}"), e),
            })?;
        if self.cancelled() {
            return Err(LabError::Interrupted);
        }
        Ok(report)
    }
}

/// Links brought up since the last wait before traffic (see `Lab::settle`).
#[derive(Default)]
pub(super) struct Unsettled {
    /// Oldest first.
    ups: Vec<Up>,
}

struct Up {
    ns: Ns,
    link: String,
}

impl Unsettled {
    pub(super) fn brought_up(&mut self, ns: &Ns, link: &str) {
        self.ups.push(Up { ns: ns.clone(), link: link.to_string() });
    }

    /// Brought down, moved away (the kernel brings a moved link down) or deleted: nothing to
    /// wait for.
    pub(super) fn brought_down(&mut self, ns: &Ns, link: &str) {
        self.ups.retain(|u| !(u.ns == *ns && u.link == link));
    }

    /// A renamed link is waited for under its new name.
    pub(super) fn renamed(&mut self, ns: &Ns, old: &str, new: &str) {
        for u in self.ups.iter_mut().filter(|u| u.ns == *ns && u.link == old) {
            u.link = new.to_string();
        }
    }

    pub(super) fn forget_ns(&mut self, ns: &Ns) {
        self.ups.retain(|u| u.ns != *ns);
    }
}
