//! Running programs and sending pings inside namespaces.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use std::collections::HashSet;

use super::{validate, ExecOutput, Lab, LabError, Ns, Result};
use crate::engine::icmp::{PingOptions, PingReport};
use crate::engine::netlink::LinkInfo;

impl Lab {
    /// Runs a program in `ns` to the end and captures its output. It is recorded in the ledger
    /// while it runs (see `processes.rs`), so even a `kill -9` of nslab leaves it to `clean`.
    /// Like every start, it first carries out a held-back veth and lets links just brought up
    /// come into service (the program may send packets at once).
    pub fn exec(&mut self, ns: &Ns, argv: &[String]) -> Result<ExecOutput> {
        self.run_to_end(ns, argv)
    }

    /// Waits (at most a second) until links brought up have been activated by the kernel's link
    /// watcher, which runs asynchronously: a packet sent on a link in between is silently dropped,
    /// and a first ping right after `up` would fail for no reason the user could see.
    ///
    /// Only what changed since the last wait is looked at, newest first, and usually only the
    /// newest: the watcher handles a veth's carrier events in the order they were raised (one
    /// global FIFO list; a veth's events are all "urgent", so none is set aside for later), and
    /// bringing up a veth whose peer is up raises them for it and then its peer. So once the
    /// newest such `up` (a link the lab knew to be down, whose carrier is on) and its peer are
    /// in service, every earlier one is too. An older entry is looked at only when a newer one
    /// proves nothing (not a veth, no carrier, or an `up` of a link that may have been up
    /// already). Before: a socket and a link dump in every namespace touched, ~0.09 ms each.
    pub(super) fn settle(&mut self) -> Result<()> {
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        let ups = std::mem::take(&mut self.unsettled.ups);
        for up in ups.iter().rev() {
            let Some(info) = self.in_service(&up.ns, &up.link, deadline) else { continue }; // gone since
            let peer = self.peers.get(&(up.ns.key(), up.link.clone())).cloned();
            if let Some((pns, pname)) = &peer {
                let pns = pns.clone().map_or(Ns::Root, Ns::Named);
                self.in_service(&pns, pname, deadline);
            }
            if up.fresh && peer.is_some() && info.kind == "veth" && info.up && info.lower_up {
                break;
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
        self.flush()?;
        self.settle()?;
        let file = match ns {
            Ns::Root => None,
            Ns::Named(_) => Some(self.ns_file(ns)?),
        };
        let cancel = self.cancel.clone();
        let report = crate::engine::icmp::ping(file.as_deref(), &self.home, ip, opts, &|| cancel.load(Ordering::Relaxed))
            .map_err(|e| LabError::from_engine(format!("ping {dst} from {ns}"), e))?;
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
    /// Links the lab brought up and, as far as it knows, are still up.
    up: HashSet<(Option<String>, String)>,
}

struct Up {
    ns: Ns,
    link: String,
    /// The lab knew the link to be down: this `up` raised the link's events.
    fresh: bool,
}

impl Unsettled {
    pub(super) fn brought_up(&mut self, ns: &Ns, link: &str) {
        let fresh = self.up.insert((ns.key(), link.to_string()));
        self.ups.push(Up { ns: ns.clone(), link: link.to_string(), fresh });
    }

    /// Brought down, moved away (the kernel brings a moved link down) or deleted.
    pub(super) fn brought_down(&mut self, ns: &Ns, link: &str) {
        self.up.remove(&(ns.key(), link.to_string()));
    }

    /// Up or not, a renamed link is taken as possibly up: an `up` of it proves nothing.
    pub(super) fn renamed(&mut self, ns: &Ns, old: &str, new: &str) {
        self.up.remove(&(ns.key(), old.to_string()));
        self.up.insert((ns.key(), new.to_string()));
    }

    pub(super) fn forget_ns(&mut self, ns: &Ns) {
        let key = ns.key();
        self.ups.retain(|u| u.ns != *ns);
        self.up.retain(|(n, _)| *n != key);
    }
}
