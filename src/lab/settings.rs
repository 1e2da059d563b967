//! Link settings `ip link set` changes: MTU, MAC address, name.

use nix::errno::Errno;

use super::ledger::Object;
use super::{validate, validate_net, Lab, LabError, Ns, Result};

impl Lab {
    /// `ip link set LINK mtu N`. A value out of what the link takes is refused with its range
    /// (as the kernel reports it, IPv4's minimum of 68 at least).
    pub fn mtu(&mut self, ns: &Ns, link: &str, n: i64) -> Result<()> {
        self.trace(|| format!("{} link set {} mtu {n}", super::trace::ip(ns), super::trace::word(link)));
        let index = self.index(ns, link)?;
        let Ok(mtu) = validate_net::mtu(n) else { return Err(self.mtu_refused(ns, link, index, n)) };
        let done = self.on_link(ns, link, "set the mtu of", |conn, index| async move { conn.set_mtu(index, mtu).await });
        match done {
            Err(LabError::Failed { errno: Some(Errno::EINVAL), .. }) => Err(self.mtu_refused(ns, link, index, n)),
            other => other,
        }
    }

    fn mtu_refused(&mut self, ns: &Ns, link: &str, index: u32, n: i64) -> LabError {
        let range = self.conn(ns).ok().and_then(|conn| self.block_on(conn.mtu_range(index)).ok()).unwrap_or_default();
        // The kernel reports 0 for "no limit" (lo); nslab never goes past lo's own 65536.
        let lo = i64::from(range.min.unwrap_or(0)).max(validate_net::MIN_MTU);
        let hi = range.max.filter(|m| *m > 0).map_or(validate_net::MAX_MTU, i64::from);
        let min = if lo == validate_net::MIN_MTU { format!("{lo} (the IPv4 minimum)") } else { lo.to_string() };
        LabError::Invalid {
            what: "MTU",
            value: n.to_string(),
            reason: format!("link {link:?} in {ns} takes MTUs from {min} to {hi}"),
        }
    }

    /// `ip link set LINK address MAC`.
    pub fn mac(&mut self, ns: &Ns, link: &str, mac: &str) -> Result<()> {
        self.trace(|| {
            format!("{} link set {} address {}", super::trace::ip(ns), super::trace::word(link), super::trace::word(mac))
        });
        let bytes = validate_net::mac(mac)?;
        let done = self.on_link(ns, link, "set the address of", |conn, index| async move { conn.set_mac(index, bytes).await });
        match done {
            Err(LabError::Failed { errno: Some(Errno::EBUSY), .. }) => Err(LabError::Failed {
                op: format!("set the address of link {link:?} in {ns}"),
                detail: format!("the link cannot change its address while it is up; take it down first (down({link:?}))"),
                errno: Some(Errno::EBUSY),
            }),
            Err(LabError::Failed { errno: Some(Errno::EADDRNOTAVAIL), .. }) => Err(LabError::Invalid {
                what: "MAC address",
                value: mac.into(),
                reason: "the link refuses it as its own address".into(),
            }),
            other => other,
        }
    }

    /// `ip link set LINK name NEW`. The lab keeps following the link under its new name, and so
    /// does teardown when the lab created it.
    pub fn rename(&mut self, ns: &Ns, link: &str, new: &str) -> Result<()> {
        self.trace(|| format!("{} link set {} name {}", super::trace::ip(ns), super::trace::word(link), super::trace::word(new)));
        validate::link_name(new)?;
        if link == new {
            return Ok(());
        }
        let op = format!("rename link {link:?} in {ns} to {new:?}");
        let old_key = (ns.key(), link.to_string());
        let new_key = (ns.key(), new.to_string());
        // A link the lab made outside its namespaces is recorded under its new name before the
        // rename, so teardown finds it whatever happens next.
        let ours = self.made_links.contains(&old_key);
        let ns_inode = if ours { self.ns_inode(ns)? } else { 0 };
        let index = if ours { self.index(ns, link).ok() } else { None };
        let intent = Object::Link { ns: ns.key(), ns_inode, name: new.into(), index, peer_ns: None };
        if ours {
            self.ledger_mut()?.intent(&intent)?;
        }
        let done = self.on_link(ns, link, "rename", |conn, index| {
            let new = new.to_string();
            async move { conn.rename(index, &new).await }
        });
        if done.is_ok() {
            self.unsettled.renamed(ns, link, new);
        }
        if done.is_err() && ours {
            self.ledger_mut()?.failed(&intent)?;
        }
        match done {
            Err(LabError::Failed { errno: Some(Errno::EEXIST), .. }) => {
                return Err(LabError::Exists { what: "link", name: new.into(), owner: format!(" in {ns}") })
            }
            Err(LabError::Failed { errno: Some(Errno::EBUSY), .. }) => {
                return Err(LabError::Failed {
                    op,
                    detail: format!(
                        "the link is up and this kernel renames only links that are down; take it down first (down({link:?}))"
                    ),
                    errno: Some(Errno::EBUSY),
                })
            }
            other => other?,
        }
        if let Some(i) = self.indexes.remove(&old_key) {
            self.indexes.insert(new_key.clone(), i);
        }
        if let Some(peer) = self.peers.remove(&old_key) {
            self.peers.insert(peer.clone(), new_key.clone());
            self.peers.insert(new_key.clone(), peer);
        }
        if ours {
            let index = self.index(ns, new).ok();
            self.ledger_mut()?.made(&Object::Link { ns: ns.key(), ns_inode, name: new.into(), index, peer_ns: None })?;
            self.forget(&Object::Link { ns: ns.key(), ns_inode, name: link.into(), index: None, peer_ns: None })?;
            self.made_links.remove(&old_key);
            self.made_links.insert(new_key);
        }
        for (n, name) in self.bridges.iter_mut() {
            if n == ns && name == link {
                *name = new.to_string();
            }
        }
        Ok(())
    }
}
