//! Waiting for the kernel to finish bringing a link up.
//!
//! A link that is up but has no carrier (a veth whose peer is down) keeps the "noop" qdisc, which
//! drops every packet. When the peer comes up, the kernel's link watcher activates the real qdisc
//! a moment later, asynchronously; until then the first packets (typically the ARP reply to a first
//! ping) are lost and the sender retries only after a second. `up()` waits for that moment.

use std::time::{Duration, Instant};

use super::{Lab, Ns};

/// Longest wait; the kernel normally takes well under a millisecond.
const SETTLE_LIMIT: Duration = Duration::from_millis(500);

impl Lab {
    /// After `link` in `ns` was brought up: waits until it and, for a veth pair the lab knows,
    /// its peer are either without carrier or have their qdisc activated. Best effort: a link that
    /// cannot be read is not waited for.
    pub(super) fn settle_after_up(&mut self, ns: &Ns, link: &str) {
        let mut ends = vec![(ns.clone(), link.to_string())];
        if let Some((pns, peer)) = self.peers.get(&(ns.key(), link.to_string())) {
            ends.push((pns.clone().map(Ns::Named).unwrap_or(Ns::Root), peer.clone()));
        }
        let deadline = Instant::now() + SETTLE_LIMIT;
        for (ns, name) in ends {
            let Ok(conn) = self.conn(&ns) else { continue };
            while let Ok(info) = self.block_on(conn.link_by_name(&name)) {
                let waiting = info.up && info.lower_up && info.qdisc == "noop";
                if !waiting || Instant::now() >= deadline || self.cancelled() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}
