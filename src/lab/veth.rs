//! Veth pairs and moving links between namespaces.
//!
//! Moving a device to another namespace costs the kernel ~17 ms (RCU grace periods); creating a
//! veth end directly in its namespace costs ~0.3 ms. So a pair whose ends are both asked for in
//! one namespace (the walkthrough's `veth` then `move_to`) is held back until something needs it:
//! a `move_to` of one of its ends in the meantime just changes where that end is born.

use std::os::fd::AsRawFd;

use nix::errno::Errno;

use super::ledger::Object;
use super::{validate, Held, Lab, LabError, Ns, Result};
use crate::engine::netlink::LinkOptions;
use crate::engine::EngineError;

/// A veth pair asked for but not created yet.
pub(super) struct PendingVeth {
    ns: Ns,
    name: String,
    peer_ns: Ns,
    peer: String,
    opts: LinkOptions,
}

impl Lab {
    /// Creates a veth pair: `name` in `ns`, `peer` in `peer_ns`.
    pub fn veth(&mut self, ns: &Ns, name: &str, peer_ns: &Ns, peer: &str, opts: &LinkOptions) -> Result<()> {
        self.passing(|lab| lab.veth_now(ns, name, peer_ns, peer, opts))
    }

    fn veth_now(&mut self, ns: &Ns, name: &str, peer_ns: &Ns, peer: &str, opts: &LinkOptions) -> Result<()> {
        validate::link_name(name)?;
        validate::link_name(peer)?;
        if let Some(mtu) = opts.mtu {
            super::validate_net::mtu(i64::from(mtu))?;
        }
        if ns == peer_ns && name == peer {
            return Err(LabError::Invalid {
                what: "veth pair",
                value: name.into(),
                reason: "both ends have the same name".into(),
            });
        }
        self.flush()?;
        if ns != peer_ns {
            return self.create_veth(ns, name, peer_ns, peer, opts);
        }
        // Checked now, so that these errors point at this call rather than at a later one.
        self.conn(ns)?;
        for end in [name, peer] {
            if self.link_exists(ns, end)? {
                return Err(LabError::Exists { what: "link", name: end.into(), owner: self.link_owner(ns, end) });
            }
        }
        let pending =
            PendingVeth { ns: ns.clone(), name: name.into(), peer_ns: ns.clone(), peer: peer.into(), opts: opts.clone() };
        self.pending = Some(pending);
        Ok(())
    }

    /// True while a veth pair is held back (see the module doc).
    pub fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Creates the pair held back, if any (see `holding.rs`).
    pub(super) fn flush_veth(&mut self) -> Result<()> {
        let Some(p) = self.pending.take() else { return Ok(()) };
        self.create_veth(&p.ns, &p.name, &p.peer_ns, &p.peer, &p.opts).map_err(|e| LabError::Deferred(Held::Veth, Box::new(e)))
    }

    fn create_veth(&mut self, ns: &Ns, name: &str, peer_ns: &Ns, peer: &str, opts: &LinkOptions) -> Result<()> {
        let ends = [(ns, name), (peer_ns, peer)];
        let records: Vec<Object> = ends
            .iter()
            .filter(|(n, _)| !self.owns(n))
            .map(|(n, l)| Object::Link { ns: n.key(), name: l.to_string(), index: None, peer_ns: None })
            .collect();
        for r in &records {
            self.ledger_mut()?.intent(r)?;
        }
        let req = match self.make_pair((ns, name), (peer_ns, peer), opts) {
            Ok(req) => req,
            Err(e) => {
                for r in &records {
                    self.ledger_mut()?.failed(r)?;
                }
                return Err(e);
            }
        };
        for ((n, l), (other_ns, _)) in ends.iter().zip([ends[1], ends[0]]) {
            if !self.owns(n) {
                let index = self.index(n, l).ok();
                // A peer in a namespace of the lab's takes this end with it when that namespace goes.
                let peer_ns = self.owns(other_ns).then(|| other_ns.key()).flatten();
                self.ledger_mut()?.made(&Object::Link { ns: n.key(), name: l.to_string(), index, peer_ns })?;
                self.made_links.insert((n.key(), l.to_string()));
            }
        }
        self.peers.insert((ns.key(), name.into()), (peer_ns.key(), peer.into()));
        self.peers.insert((peer_ns.key(), peer.into()), (ns.key(), name.into()));
        // The end the request did not make first could be neither enslaved nor born up.
        let (first_ns, (second_ns, second)) = (req.first.0, req.second);
        if let (true, Some(m)) = (req.swapped, opts.master) {
            self.on_link(second_ns, second, "attach", |conn, index| async move { conn.set_master(index, Some(m)).await })?;
        }
        if opts.up {
            self.set_up(second_ns, second, true)?;
            self.unsettled.insert(first_ns.clone());
        }
        Ok(())
    }

    /// The ifindex of a bridge to enslave a new link to (the `master` option).
    pub fn master_index(&mut self, ns: &Ns, bridge: &str) -> Result<u32> {
        self.index(ns, bridge)
    }

    /// A failure other than a name or number taken (`ifindex.rs` tells those apart).
    pub(super) fn veth_error(&self, name: &str, peer: &str, e: EngineError) -> LabError {
        if e.code() == Some(Errno::EOPNOTSUPP) {
            return LabError::Unsupported { op: format!("create veth pair {name}/{peer}"), feature: "veth".into() };
        }
        LabError::from_engine(format!("create veth pair {name:?}/{peer:?}"), e)
    }

    /// Moves a link to another namespace (`ip link set LINK netns NS`).
    pub fn move_to(&mut self, from: &Ns, link: &str, to: &Ns) -> Result<()> {
        self.passing(|lab| lab.move_now(from, link, to))
    }

    fn move_now(&mut self, from: &Ns, link: &str, to: &Ns) -> Result<()> {
        validate::link_name(link)?;
        if let Ns::Named(name) = to {
            self.space(name)?;
        }
        if let Some(p) = self.pending.as_mut() {
            if p.ns == *from && p.name == link {
                p.ns = to.clone();
                return Ok(());
            }
            if p.peer_ns == *from && p.peer == link {
                p.peer_ns = to.clone();
                return Ok(());
            }
        }
        let target = self.ns_file(to)?;
        if from == to {
            return Ok(());
        }
        let fd = target.as_raw_fd();
        self.on_link(from, link, "move", |conn, index| async move { conn.move_to(index, fd).await })?;
        let old_key = (from.key(), link.to_string());
        self.indexes.remove(&old_key);
        if self.made_links.remove(&old_key) {
            self.forget(&Object::Link { ns: from.key(), name: link.into(), index: None, peer_ns: None })?;
        }
        let peer = self.peers.remove(&old_key);
        if !self.owns(to) {
            let index = self.index(to, link).ok();
            let peer_ns = peer.as_ref().and_then(|(pns, _)| pns.clone()).filter(|p| self.owned.contains(p));
            self.ledger_mut()?.made(&Object::Link { ns: to.key(), name: link.into(), index, peer_ns })?;
            self.made_links.insert((to.key(), link.into()));
        }
        if let Some(peer) = peer {
            // The peer's record learns that this end now lives in one of the lab's namespaces.
            if self.made_links.contains(&peer) && self.owns(to) {
                let (pns, pname) = peer.clone();
                let index = self.indexes.get(&peer).copied();
                self.ledger_mut()?.made(&Object::Link { ns: pns, name: pname, index, peer_ns: to.key() })?;
            }
            self.peers.insert(peer.clone(), (to.key(), link.into()));
            self.peers.insert((to.key(), link.into()), peer);
        }
        Ok(())
    }
}
