//! Waiting, after a link comes up, until the kernel has put it in service.
//!
//! When a link gets its carrier (a veth whose peer comes up), the kernel's link watch activates
//! its transmit queue asynchronously: until then every packet it sends is dropped silently.
//! A ping right after `up()` then loses its ARP request, and ARP retries only after a second,
//! so the ping times out. Measured here: 1 run in 3 of "veth, addresses, up both ends, ping"
//! lost the first second. `up()` therefore waits until the link (and its veth peer, which gets
//! its carrier at the same moment) shows IFF_RUNNING, which link watch sets when it is done.

use std::time::{Duration, Instant};

use super::{Lab, Ns};

/// Link watch runs at least once a second: this bounds the wait for links it delays.
const SETTLE_LIMIT: Duration = Duration::from_millis(1500);
const SETTLE_STEP: Duration = Duration::from_micros(500);

impl Lab {
    /// Waits until `link` in `ns`, and its veth peer if the lab knows it, are in service.
    /// Links without carrier (nothing to wait for) return at once. Never fails: a link that
    /// cannot be inspected is simply not waited for.
    pub(super) fn settle(&mut self, ns: &Ns, link: &str) {
        let mut ends = vec![(ns.clone(), link.to_string())];
        if let Some((pns, pname)) = self.peers.get(&(ns.key(), link.to_string())) {
            let pns = match pns {
                Some(n) => Ns::Named(n.clone()),
                None => Ns::Root,
            };
            ends.push((pns, pname.clone()));
        }
        let deadline = Instant::now() + SETTLE_LIMIT;
        for (n, l) in ends {
            let (Ok(index), Ok(conn)) = (self.index(&n, &l), self.conn(&n)) else { continue };
            while Instant::now() < deadline && !self.cancelled() {
                match self.block_on(conn.carrier_pending(index)) {
                    Ok(true) => std::thread::sleep(SETTLE_STEP),
                    _ => break,
                }
            }
        }
    }
}
