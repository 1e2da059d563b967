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
        self.run_to_end(ns, argv)
    }

    /// Waits (at most a second) until links brought up have been activated by the kernel's link
    /// watcher, which runs asynchronously: a packet sent on a link in between is silently dropped,
    /// and a first ping right after `up` would fail for no reason the user could see.
    /// Both directions matter (the reply leaves through the peer), so every namespace touched
    /// since the last ping is checked.
    pub(super) fn settle(&mut self) -> Result<()> {
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        for ns in std::mem::take(&mut self.unsettled) {
            let Ok(conn) = self.conn(&ns) else { continue }; // deleted since: nothing to wait for
            loop {
                let links = self.block_on(conn.links()).map_err(|e| LabError::from_engine(format!("list links in {ns}"), e))?;
                if !links.iter().any(LinkInfo::settling) || std::time::Instant::now() > deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        Ok(())
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
