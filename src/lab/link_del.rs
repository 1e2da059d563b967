//! Deleting links: `link_del` (the lab's own links only: what it did not create it never
//! deletes, see docs/threat-model.md), and the links a namespace takes with it, removed before
//! `netns_del` returns so no surviving veth end (and its routes) outlives the namespace.

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::ledger::Object;
use super::{validate_links, Lab, LabError, Ns, Result};
use crate::engine::link_props::LinkProps;
use crate::engine::netlink::LinkInfo;

/// How long `netns_del` waits for a link it did not create to go with the namespace.
pub(super) const PEER_WAIT: Duration = Duration::from_secs(5);

/// The link group the veths of a lab namespace being deleted are put in, there, to be deleted
/// in one request. Any value would do: it is used only inside that namespace, all of whose
/// links go with it anyway.
const DYING_GROUP: u32 = 0x6e64_0000;

/// A link in another namespace that goes when a namespace does, and that the lab did not
/// create: waited for rather than deleted.
pub(super) struct Survivor {
    ns: Ns,
    index: u32,
    name: String,
}

impl Lab {
    /// Deletes a link the lab created (`ip link del`); a veth takes its peer with it. `name` may
    /// be an alternative name. A link the lab did not create is refused: it may be the host's.
    pub fn link_del(&mut self, ns: &Ns, name: &str) -> Result<()> {
        self.trace(|| format!("{} link del {}", super::trace::ip(ns), super::trace::word(name)));
        self.passing(|lab| lab.link_del_now(ns, name))
    }

    fn link_del_now(&mut self, ns: &Ns, name: &str) -> Result<()> {
        validate_links::link_or_altname(name)?;
        let view = self.link(ns, name)?;
        let conn = self.conn(ns)?;
        let info = self
            .block_on(conn.link_by_index(view.index))
            .map_err(|e| self.link_error(ns, name, "find", e))?
            .ok_or_else(|| LabError::NoSuchLink { ns: ns.to_string(), link: name.into() })?;
        if info.index == 1 {
            return Err(LabError::Refused(format!(
                "link {name:?} is the loopback link of {ns}: every namespace has one, and it goes only with its namespace"
            )));
        }
        if !self.created_here(ns, &info) {
            return Err(LabError::Refused(format!(
                "link {:?} in {ns} was not created by this lab: nslab deletes only what it created (it may be the \
                 host's or another program's); delete it with exec(\"ip link del dev {}\") if you mean to",
                info.name, info.name
            )));
        }
        let peer = self.links.peers.get(&(ns.key(), info.name.clone())).cloned();
        self.block_on(conn.del_link(info.index)).map_err(|e| match e.code() {
            Some(Errno::EOPNOTSUPP) => LabError::Refused(format!(
                "link {:?} in {ns} cannot be deleted: the kernel keeps links of its kind ({}) for the namespace's life",
                info.name,
                super::bridges::kind_text(&info.kind)
            )),
            _ => self.link_error(ns, &info.name, "delete", e),
        })?;
        self.forget_link(ns, &info.name)?;
        if let Some((pns, pname)) = peer {
            self.forget_link(&ns_of(&pns), &pname)?;
        }
        Ok(())
    }

    /// Whether the lab created this link, by the kernel's truth: in a namespace of the lab's,
    /// any link but a foreign one it moved in; elsewhere one it recorded as made, still carrying
    /// the lab's link group or the ifindex recorded (a namesake made since is not the lab's).
    pub(super) fn created_here(&mut self, ns: &Ns, info: &LinkInfo) -> bool {
        if self.owns(ns) {
            return self.lab_made(ns, &info.name, info.index);
        }
        if !self.links.made.contains(&(ns.key(), info.name.clone())) {
            return false;
        }
        let group = self.ledger.as_ref().map(|l| l.header.link_group());
        if group == Some(info.group) {
            return true;
        }
        let recorded = self.ledger.as_ref().and_then(|l| {
            l.standing().into_iter().find_map(|o| match o {
                Object::Link { ns: n, name, index, .. } if n == ns.key() && name == info.name => index,
                _ => None,
            })
        });
        recorded == Some(info.index)
    }

    /// Forgets a link that is gone: the ledger notes it (so neither teardown nor `clean` looks
    /// for it again, or takes a namesake for it), and the lab's memory of it goes.
    pub(super) fn forget_link(&mut self, ns: &Ns, name: &str) -> Result<()> {
        let key = (ns.key(), name.to_string());
        self.links.indexes.remove(&key);
        self.unsettled.brought_down(ns, name);
        self.links.bridges.retain(|(n, l)| !(n == ns && l == name));
        if let Some(peer) = self.links.peers.remove(&key) {
            self.links.peers.remove(&peer);
        }
        if self.links.made.remove(&key) {
            self.forget(&Object::Link { ns: ns.key(), ns_inode: 0, name: name.into(), index: None, peer_ns: None })?;
        }
        Ok(())
    }

    /// Before namespace `name` goes: deletes the veths in it whose peers are elsewhere, where the
    /// lab may (the namespace is the lab's, or the outside end is), so that no end survives it
    /// for a moment; returns the outside ends of the others, to wait for once it is gone.
    pub(super) fn cut_outside_peers(&mut self, name: &str) -> Result<Vec<Survivor>> {
        // Only a namespace mount is looked into: `netns_del` refuses anything else itself (and
        // never follows a symlink).
        if !matches!(crate::engine::netns::at_name(name), crate::engine::netns::AtName::Namespace(_)) {
            return Ok(Vec::new());
        }
        let target = Ns::named(name);
        let conn = self.conn(&target)?;
        let links = self.block_on(conn.links()).map_err(|e| LabError::from_engine(format!("list links in {target}"), e))?;
        let owned = self.owns(&target);
        let mut left = Vec::new();
        let mut cut = Vec::new();
        // A veth with its peer elsewhere; in the lab's own namespace also any link whose other
        // half lives in another namespace (a vxlan made elsewhere and moved in keeps its VNI
        // and UDP port there until the kernel's cleanup destroys it, and a new one with that VNI
        // would be refused until then).
        for l in links.iter().filter(|l| l.peer_netnsid.is_some() && (l.kind == "veth" || owned)) {
            let peer = self.links.peers.get(&(target.key(), l.name.clone())).cloned();
            let peer_ours = peer.as_ref().is_some_and(|p| self.links.made.contains(p));
            if owned || peer_ours {
                cut.push((l, peer));
            } else if l.kind == "veth" {
                left.push(l.index);
            }
        }
        if owned && !cut.is_empty() {
            // Everything in the namespace is the lab's and goes with it anyway: marked with a
            // group of their own there, the pairs go in one request, sent by a child that takes
            // the kernel's RCU wait (see `engine/group_delete.rs`); this returns once they are
            // gone from sight.
            let group = DYING_GROUP;
            for (l, _) in &cut {
                let props = LinkProps { group: Some(group), ..LinkProps::default() };
                self.block_on(conn.set_props(l.index, &props)).map_err(|e| self.link_error(&target, &l.name, "mark", e))?;
            }
            let marked: Vec<(u32, String)> = cut.iter().map(|(l, _)| (l.index, l.name.clone())).collect();
            let file = self.ns_file(&target)?;
            crate::engine::group_delete::delete(Some(&file), &self.home, group, &marked)
                .map_err(|e| LabError::from_engine(format!("delete the links of {target} that lead elsewhere"), e))?;
        } else {
            for (l, _) in &cut {
                match self.block_on(conn.del_link(l.index)) {
                    Ok(()) => {}
                    Err(e) if e.code() == Some(Errno::ENODEV) => {}
                    Err(e) => return Err(self.link_error(&target, &l.name, "delete", e)),
                }
            }
        }
        for (_, peer) in cut {
            if let Some((pns, pname)) = peer {
                self.forget_link(&ns_of(&pns), &pname)?;
            }
        }
        if left.is_empty() {
            return Ok(Vec::new());
        }
        self.outside_ends(&target, &links.into_iter().filter(|l| left.contains(&l.index)).collect::<Vec<_>>())
    }

    /// The ends, in the namespaces the lab knows (where nslab runs and those it opened), of the
    /// veths `inside` (in `target`): found by the id each of those namespaces knows `target` by.
    fn outside_ends(&mut self, target: &Ns, inside: &[LinkInfo]) -> Result<Vec<Survivor>> {
        let file = self.ns_file(target)?;
        let fd = u32::try_from(file.as_raw_fd()).unwrap_or(u32::MAX);
        let Ns::Named(name) = target else { return Ok(Vec::new()) };
        let mut others = vec![Ns::Root];
        others.extend(self.spaces.open.keys().filter(|k| *k != name).map(|k| Ns::named(k.clone())));
        let mut found = Vec::new();
        for other in others {
            let conn = self.conn(&other)?;
            // Listed first: listing a link whose peer is in `target` gives `target` an id here.
            let Ok(links) = self.block_on(conn.links()) else { continue };
            let Ok(Some(id)) = self.block_on(conn.nsid_of(fd)) else { continue };
            for l in links.into_iter().filter(|l| l.peer_netnsid == Some(id)) {
                if inside.iter().any(|i| Some(i.index) == l.peer_index) {
                    found.push(Survivor { ns: other.clone(), index: l.index, name: l.name });
                }
            }
        }
        Ok(found)
    }

    /// Waits until the links that go with a deleted namespace are gone (bounded by
    /// `PEER_WAIT`), forgetting them as they go.
    pub(super) fn wait_survivors(&mut self, name: &str, survivors: Vec<Survivor>) -> Result<()> {
        let deadline = Instant::now() + PEER_WAIT;
        for s in survivors {
            loop {
                let conn = self.conn(&s.ns)?;
                match self.block_on(conn.link_by_index(s.index)) {
                    Ok(Some(l)) if l.name == s.name => {}
                    _ => break,
                }
                if Instant::now() >= deadline {
                    return Err(LabError::Failed {
                        op: format!("delete namespace {name:?}"),
                        detail: format!(
                            "it is deleted, but link {:?} in {} (its veth peer there, not created by this lab) is still \
                             there after {} s: something else still holds the namespace (a process running in it, or \
                             an open file of it)",
                            s.name,
                            s.ns,
                            PEER_WAIT.as_secs()
                        ),
                        errno: None,
                    });
                }
                self.pause(Duration::from_millis(2))?;
            }
            self.forget_link(&s.ns, &s.name)?;
        }
        Ok(())
    }
}

fn ns_of(key: &Option<String>) -> Ns {
    match key {
        None => Ns::Root,
        Some(n) => Ns::named(n.clone()),
    }
}
