//! Veth pairs and moving links between namespaces.
//!
//! Moving a device to another namespace costs the kernel ~17 ms (RCU grace periods); creating a
//! veth end directly in its namespace costs ~0.3 ms. So a pair whose ends are both asked for in
//! one namespace (the walkthrough's `veth` then `move_to`) is held back until something needs it:
//! a `move_to` of one of its ends in the meantime just changes where that end is born.

use std::os::fd::AsRawFd;

use nix::errno::Errno;

use super::ledger::Object;
use super::{validate, Lab, LabError, Ns, Outcome, Result, Ticket};
use crate::engine::netlink::LinkOptions;
use crate::engine::EngineError;

/// A veth pair asked for but not created yet.
pub(super) struct PendingVeth {
    ns: Ns,
    name: String,
    peer_ns: Ns,
    peer: String,
    opts: LinkOptions,
    ticket: Ticket,
}

impl Lab {
    /// Creates a veth pair: `name` in `ns`, `peer` in `peer_ns`. A pair with both ends in one
    /// namespace is held back (see the module doc).
    pub fn veth(&mut self, ns: &Ns, name: &str, peer_ns: &Ns, peer: &str, opts: &LinkOptions) -> Result<Outcome> {
        self.trace(|| {
            let there = if peer_ns == ns {
                String::new()
            } else {
                format!(" netns {}", super::trace::word(&peer_ns.key().unwrap_or_else(|| "1".into())))
            };
            format!(
                "{} link add {}{} type veth peer name {}{there}",
                super::trace::ip(ns),
                super::trace::word(name),
                super::trace::link_words(opts),
                super::trace::word(peer)
            )
        });
        self.passing(|lab| lab.veth_now(ns, name, peer_ns, peer, opts))
    }

    fn veth_now(&mut self, ns: &Ns, name: &str, peer_ns: &Ns, peer: &str, opts: &LinkOptions) -> Result<Outcome> {
        validate::link_name(name)?;
        validate::link_name(peer)?;
        if let Some(mtu) = opts.mtu {
            super::validate_net::link_mtu(i64::from(mtu), "veth", name)?;
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
            return self.create_veth(ns, name, peer_ns, peer, opts).map(|()| Outcome::Done);
        }
        // Checked now, so that these errors point at this call rather than at a later one.
        self.conn(ns)?;
        for end in [name, peer] {
            if self.link_exists(ns, end)? {
                return Err(LabError::Exists { what: "link", name: end.into(), owner: self.link_owner(ns, end) });
            }
        }
        let ticket = self.ticket();
        let pending =
            PendingVeth { ns: ns.clone(), name: name.into(), peer_ns: ns.clone(), peer: peer.into(), opts: opts.clone(), ticket };
        self.pending = Some(pending);
        Ok(Outcome::Held(ticket))
    }

    /// The ticket of the veth pair held back, if any.
    pub(super) fn pending_ticket(&self) -> Option<Ticket> {
        self.pending.as_ref().map(|p| p.ticket)
    }

    /// Creates the pair held back, if any (see `holding.rs`).
    pub(super) fn flush_veth(&mut self) -> Result<()> {
        let Some(p) = self.pending.take() else { return Ok(()) };
        self.create_veth(&p.ns, &p.name, &p.peer_ns, &p.peer, &p.opts)
            .map_err(|e| LabError::Deferred { ticket: p.ticket, error: Box::new(e) })
    }

    fn create_veth(&mut self, ns: &Ns, name: &str, peer_ns: &Ns, peer: &str, opts: &LinkOptions) -> Result<()> {
        let ends = [(ns, name), (peer_ns, peer)];
        // Ends outside the lab's namespaces are recorded by namespace inode and ifindex.
        let mut outside: Vec<(usize, u64)> = Vec::new();
        for (i, (n, _)) in ends.iter().enumerate() {
            if self.records(n) {
                outside.push((i, self.ns_inode(n)?));
            }
        }
        // Ends outside the lab's namespaces are numbered by the kernel (see `ifindex.rs`): their
        // intent names the namespace by inode; the index is known once the pair exists.
        let mut records: Vec<Object> = Vec::new();
        for (n, l) in ends {
            if self.records(n) {
                let ns_inode = self.ns_inode(n)?;
                records.push(Object::Link { ns: n.key(), ns_inode, name: l.to_string(), index: None, peer_ns: None });
            }
        }
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
        for r in records {
            let Object::Link { ns: n, ns_inode, name: l, .. } = r else { continue };
            let (this, other_ns) = if n == ns.key() && l == name { (ns, peer_ns) } else { (peer_ns, ns) };
            let index = self.index(this, &l).ok();
            // A peer in a namespace of the lab's takes this end with it when that namespace goes.
            let peer_ns = self.owns(other_ns).then(|| other_ns.key()).flatten();
            self.ledger_mut()?.made(&Object::Link { ns: n.clone(), ns_inode, name: l.clone(), index, peer_ns })?;
            self.made_links.insert((n, l));
        }
        self.peers.insert((ns.key(), name.into()), (peer_ns.key(), peer.into()));
        self.peers.insert((peer_ns.key(), peer.into()), (ns.key(), name.into()));
        // The end the request did not make first could be neither enslaved nor born up.
        let (first_ns, (second_ns, second)) = (req.first.0, req.second);
        if let (true, Some(m)) = (req.swapped, opts.master) {
            self.on_link(second_ns, second, "attach", |conn, index| async move { conn.set_master(index, Some(m)).await })?;
        }
        if opts.up {
            self.set_up(second_ns, second, true)?; // a veth end: never held back
                                                   // Born up: its carrier event comes last (see `Lab::settle`).
            self.unsettled.brought_up(first_ns, req.first.1);
        }
        Ok(())
    }

    /// The ifindex of a bridge to enslave a new link to (the `master` option); `link` is the
    /// link that would join it, for the message when it cannot take ports.
    pub fn master_index(&mut self, ns: &Ns, bridge: &str, link: &str) -> Result<u32> {
        let index = self.index(ns, bridge)?;
        let conn = self.conn(ns)?;
        if let Ok(found) = self.block_on(conn.link_by_index(index)) {
            let kind = found.map(|l| l.kind).unwrap_or_default();
            if !super::bridges::TAKES_PORTS.contains(&kind.as_str()) {
                return Err(LabError::Refused(format!(
                    "{link:?} cannot join {bridge:?} in {ns} (the master option): {bridge:?} is {}, not a bridge, bond or vrf, \
                     so it cannot take ports",
                    super::bridges::kind_text(&kind)
                )));
            }
        }
        Ok(index)
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
        self.trace(|| {
            let to = to.key().map_or_else(|| "1".to_string(), |n| super::trace::word(&n));
            format!("{} link set {} netns {to}", super::trace::ip(from), super::trace::word(link))
        });
        let stays = |why: String| LabError::Refused(format!("link {link:?} cannot leave {from}: it is {why}"));
        let local = |kind: &str| format!("{kind}, which the kernel keeps in the namespace it was made in");
        if link == "lo" && from != to {
            return Err(stays("the namespace's loopback link (every namespace has its own)".into()));
        }
        let moved = self.passing(|lab| lab.move_now(from, link, to));
        if moved.is_ok() {
            self.unsettled.brought_down(from, link);
        }
        match moved {
            // EINVAL: a link the kernel marks local to its namespace (loopback, bridge, ...).
            Err(e @ LabError::Failed { errno: Some(Errno::EINVAL), .. }) => {
                let conn = self.conn(from)?;
                Err(match self.block_on(conn.link_by_name(link)) {
                    // The loopback device is always ifindex 1, whatever its name.
                    Ok(l) if l.index == 1 => stays("the namespace's loopback link (every namespace has its own)".into()),
                    Ok(l) if l.kind == "bridge" => stays(local("a bridge") + "; create a bridge in the other namespace instead"),
                    Ok(l) if !l.kind.is_empty() => stays(local(&format!("a {} link", l.kind))),
                    _ => e,
                })
            }
            Err(LabError::Failed { errno: Some(Errno::EEXIST), .. }) => {
                Err(LabError::Exists { what: "link", name: link.into(), owner: format!(" in {to}") })
            }
            other => other,
        }
    }

    fn move_now(&mut self, from: &Ns, link: &str, to: &Ns) -> Result<()> {
        validate::link_name(link)?;
        if let Ns::Named(name) = to {
            self.space(name)?;
        }
        if let Some(p) = self.pending.as_ref() {
            let first = p.ns == *from && p.name == link;
            if first || (p.peer_ns == *from && p.peer == link) {
                // Checked now, as a move of a pair that existed would be: a name taken there
                // fails this call (inside its `try`), and the pair stays asked for where it was.
                if from != to && self.held_name_taken(to, link)? {
                    return Err(LabError::Failed {
                        op: format!("move link {link:?} to {to}"),
                        detail: format!("{to} already has a link named {link:?}"),
                        errno: Some(Errno::EEXIST),
                    });
                }
                let p = self.pending.as_mut().expect("just seen");
                if first {
                    p.ns = to.clone();
                } else {
                    p.peer_ns = to.clone();
                }
                return Ok(());
            }
        }
        let target = self.ns_file(to)?;
        if from == to {
            return Ok(());
        }
        let fd = target.as_raw_fd();
        let index = self.index(from, link)?;
        let old_key = (from.key(), link.to_string());
        if !self.lab_made(from, link, index) {
            self.move_foreign(from, link, index, to, fd)?;
            self.indexes.remove(&old_key);
            return Ok(());
        }
        let peer = self.peers.get(&old_key).cloned();
        // One the lab made, arriving outside its namespaces, is recorded there before it moves.
        let arriving = (!self.owns(to)).then(|| -> Result<Object> {
            let peer_ns = peer.as_ref().and_then(|(pns, _)| pns.clone()).filter(|p| self.owned.contains(p));
            Ok(Object::Link { ns: to.key(), ns_inode: self.ns_inode(to)?, name: link.into(), index: Some(index), peer_ns })
        });
        let arriving = arriving.transpose()?;
        if let Some(r) = &arriving {
            self.ledger_mut()?.intent(r)?;
        }
        let moved = self.on_link(from, link, "move", |conn, index| async move { conn.move_to(index, fd).await });
        if let Err(e) = moved {
            if let Some(r) = &arriving {
                self.ledger_mut()?.failed(r)?;
            }
            return Err(e);
        }
        self.indexes.remove(&old_key);
        let now = self.index(to, link).ok();
        if self.made_links.remove(&old_key) {
            self.forget(&Object::Link { ns: from.key(), ns_inode: 0, name: link.into(), index: None, peer_ns: None })?;
        }
        let peer = self.peers.remove(&old_key);
        if let Some(Object::Link { ns, ns_inode, name, peer_ns, .. }) = arriving {
            self.ledger_mut()?.made(&Object::Link { ns, ns_inode, name, index: now, peer_ns })?;
            self.made_links.insert((to.key(), link.into()));
        }
        if let Some(peer) = peer {
            // The peer's record learns that this end now lives in one of the lab's namespaces.
            if self.made_links.contains(&peer) && self.owns(to) {
                let (pns, pname) = peer.clone();
                let index = self.indexes.get(&peer).copied();
                let pns_inode = self.ns_inode(&ns_of(&pns))?;
                self.ledger_mut()?.made(&Object::Link { ns: pns, ns_inode: pns_inode, name: pname, index, peer_ns: to.key() })?;
            }
            self.peers.insert(peer.clone(), (to.key(), link.into()));
            self.peers.insert((to.key(), link.into()), peer);
        }
        Ok(())
    }
}

impl Lab {
    /// Whether `ns` has a link named `link`, asked without carrying out the held-back pair
    /// (`conn` would create it first).
    fn held_name_taken(&mut self, ns: &Ns, link: &str) -> Result<bool> {
        let pending = self.pending.take();
        let taken = self.link_exists(ns, link);
        self.pending = pending;
        taken
    }
}

/// Numbers to try for a foreign link moved into the lab before giving up.
const INDEX_TRIES: u32 = 4;

impl Lab {
    /// Moves a link the lab did not create, recording it by where it came from (to go back
    /// there) and by the ifindex it gets where it goes, asked of the kernel (IFLA_NEW_IFINDEX)
    /// rather than guessed: the kernel keeps a link's index only when it is free there, and a
    /// record naming another link's index would send that one away at teardown. The record of
    /// a link's first move stays its identity.
    fn move_foreign(&mut self, from: &Ns, link: &str, index: u32, to: &Ns, fd: std::os::fd::RawFd) -> Result<()> {
        let to_inode = self.ns_inode(to)?;
        let conn = self.conn(from)?;
        let previous = self.changed.moved.remove(&(from.key(), index));
        let (ns, ns_inode, name, home_index, up) = match &previous {
            Some(Object::Moved { ns, ns_inode, name, index, up, .. }) => (ns.clone(), *ns_inode, name.clone(), *index, *up),
            _ => {
                let up = self.block_on(conn.link_by_index(index)).ok().flatten().is_some_and(|l| l.up);
                (from.key(), self.ns_inode(from)?, link.to_string(), index, up)
            }
        };
        for attempt in 0..=INDEX_TRIES {
            // Its own number first; taken there, one of the lab's.
            let now = if attempt == 0 { index } else { self.chosen_index() };
            let record = Object::Moved {
                ns: ns.clone(),
                ns_inode,
                name: name.clone(),
                index: home_index,
                up,
                to: to.key(),
                to_inode,
                now,
            };
            self.ledger_mut()?.intent(&record)?;
            match self.block_on(conn.move_as(index, fd, link, Some(now), false)) {
                Ok(()) => {
                    if ns_inode == to_inode {
                        // Back where it came from: nothing more to put back.
                        return self.forget(&record);
                    }
                    self.ledger_mut()?.made(&record)?;
                    self.changed.moved.insert((to.key(), now), record);
                    return Ok(());
                }
                Err(e) => {
                    self.ledger_mut()?.failed(&record)?;
                    if e.code() == Some(Errno::EBUSY) && attempt < INDEX_TRIES {
                        continue;
                    }
                    // Still where it was, with the record of an earlier move, if any.
                    if let Some(p) = previous {
                        self.changed.moved.insert((from.key(), index), p);
                    }
                    return Err(self.link_error(from, link, "move", e));
                }
            }
        }
        unreachable!("the last attempt returns")
    }
}

fn ns_of(key: &Option<String>) -> Ns {
    match key {
        None => Ns::Root,
        Some(n) => Ns::named(n.clone()),
    }
}
