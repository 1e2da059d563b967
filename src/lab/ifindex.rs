//! Which ifindex a new veth end gets.
//!
//! nslab numbers an end itself (from `FIRST_CHOSEN_INDEX` up) so it needs no lookup afterwards,
//! but only in a namespace the lab created: there it alone makes links. An ifindex is per
//! namespace, so in the root namespace or anyone else's a chosen number can be held already (by
//! another lab, or by an admin's link), and the kernel would refuse the pair with EEXIST (the
//! first end's number: the request then names an existing device) or EBUSY (the peer's). Ends
//! there are numbered by the kernel. Two facts shape the request (docs/kernel-notes.md):
//! - the kernel ignores a chosen peer index unless the first end's is chosen too, so a pair whose
//!   only lab-owned end is the peer is asked for from the other side;
//! - the two ends must not share a number (the peer would be activated up to 1 s late), which a
//!   kernel-numbered end in another namespace can happen to do: then the pair is made again.
//!
//! A refusal with both names free is a number taken (something else made a link in a lab
//! namespace, or a number had to be chosen elsewhere): the lab skips the numbers in use and tries
//! again, and never reports the names as existing.

use std::collections::HashSet;

use nix::errno::Errno;

use super::{Lab, LabError, Ns, Result};
use crate::engine::netlink::LinkOptions;

/// Where nslab numbers the links it creates, far above the kernel's own numbering in a new
/// namespace (which starts at 2).
pub(super) const FIRST_CHOSEN_INDEX: u32 = 4096;
/// Requests for one pair before giving up: a retry skips every number seen taken, so more than
/// one is needed only while something else keeps making links in the same namespaces.
const TRIES: usize = 6;

/// A veth pair as asked of the kernel: the request is made in `first`'s namespace; the caller's
/// ends may be swapped (see the module doc).
pub(super) struct Request<'a> {
    pub first: (&'a Ns, &'a str),
    pub second: (&'a Ns, &'a str),
    pub swapped: bool,
}

impl Lab {
    /// The link group of this lab's links outside its namespaces.
    pub(super) fn link_group(&mut self) -> Result<u32> {
        Ok(self.ledger_mut()?.header.link_group())
    }

    /// The next ifindex nslab gives a link it creates. One counter for the whole lab, so the two
    /// ends of a veth never share a number: the kernel takes an end whose index equals its peer's
    /// for a device without a peer and activates it only with its once-a-second link watch run
    /// (a first ping then waits ~1 s).
    pub(super) fn chosen_index(&mut self) -> u32 {
        self.links.next_index += 1;
        self.links.next_index - 1
    }

    /// Creates the pair `name` in `ns`, `peer` in `peer_ns`, and learns both ifindexes. `opts`
    /// are the caller's; `master` belongs to `name`. Returns how the pair was asked for: after a
    /// swap the caller's `name` is the request's second end, which the caller still has to
    /// enslave (and bring up, as it does every second end).
    pub(super) fn make_pair<'a>(
        &mut self,
        (ns, name): (&'a Ns, &'a str),
        (peer_ns, peer): (&'a Ns, &'a str),
        opts: &LinkOptions,
    ) -> Result<Request<'a>> {
        let swapped = !self.owns(ns) && self.owns(peer_ns);
        let req = if swapped {
            Request { first: (peer_ns, peer), second: (ns, name), swapped }
        } else {
            Request { first: (ns, name), second: (peer_ns, peer), swapped }
        };
        let ((a_ns, a), (b_ns, b)) = (req.first, req.second);
        let conn = self.conn(a_ns)?;
        let b_file = if b_ns == a_ns { None } else { Some(self.ns_file(b_ns)?) };
        // Ends outside the lab's namespaces carry the lab's link group (see `Header::link_group`).
        let group = self.link_group()?;
        let request = LinkOptions {
            master: if swapped { None } else { opts.master },
            group: (!self.owns(a_ns)).then_some(group),
            peer_group: (!self.owns(b_ns)).then_some(group),
            ..opts.clone()
        };
        let mut number_first = self.owns(a_ns);
        let number_second = self.owns(b_ns);
        let mut refused = None;
        for attempt in 1..=TRIES {
            let ia = number_first.then(|| self.chosen_index());
            let ib = (ia.is_some() && number_second).then(|| self.chosen_index());
            match self.block_on(conn.add_veth(a, ia, b, ib, b_file.as_deref(), &request)) {
                Ok(()) => {
                    // Ends in one namespace never share a number; elsewhere a kernel-numbered end
                    // may take its peer's.
                    let learn = a_ns != b_ns && (ia.is_none() || ib.is_none());
                    let ka = if learn { self.fresh_index(a_ns, a, ia) } else { ia };
                    let kb = if learn { self.fresh_index(b_ns, b, ib) } else { ib };
                    if let (Some(ka), Some(kb)) = (ka, kb) {
                        // (On the last try a shared number is kept: it costs time, not function.)
                        if ka == kb && attempt < TRIES && self.block_on(conn.del_link(ka)).is_ok() {
                            // The kernel hands out the number after its last one next: choose
                            // past that, numbering the first end even outside the lab's
                            // namespaces (a clash there is recovered from below).
                            self.links.next_index = self.links.next_index.max(ka.saturating_add(2));
                            number_first = true;
                            continue;
                        }
                    }
                    for (end, index) in [(req.first, ka), (req.second, kb)] {
                        if let Some(i) = index {
                            self.links.indexes.insert((end.0.key(), end.1.to_string()), i);
                        }
                    }
                    return Ok(req);
                }
                Err(e) if matches!(e.code(), Some(Errno::EEXIST | Errno::EBUSY)) => {
                    for (n, l) in [req.first, req.second] {
                        if self.link_exists(n, l)? {
                            return Err(LabError::Exists { what: "link", name: l.into(), owner: self.link_owner(n, l) });
                        }
                    }
                    // Both names are free: a chosen number is taken.
                    let chosen: Vec<&Ns> =
                        [(a_ns, ia), (b_ns, ib)].iter().filter(|(_, i)| i.is_some()).map(|(n, _)| *n).collect();
                    self.skip_taken_indexes(&chosen)?;
                    refused = Some(e);
                }
                Err(e) => return Err(self.veth_error(name, peer, e)),
            }
        }
        let places = if a_ns == b_ns { a_ns.to_string() } else { format!("{a_ns} and {b_ns}") };
        Err(LabError::Failed {
            op: format!("create veth pair {name:?}/{peer:?}"),
            detail: format!(
                "both names are free, but the kernel refused {TRIES} interface numbers in a row: something else \
                 is creating links in {places} at the same time"
            ),
            errno: refused.and_then(|e| e.code()),
        })
    }

    /// The ifindex of an end just made: the chosen one, or the kernel's, asked for by name.
    fn fresh_index(&mut self, ns: &Ns, link: &str, chosen: Option<u32>) -> Option<u32> {
        if chosen.is_some() {
            return chosen;
        }
        let conn = self.conn(ns).ok()?;
        self.block_on(conn.link_by_name(link)).ok().map(|l| l.index)
    }

    /// Whether a link of this name exists in `ns` now: asked of the kernel, not remembered, so a
    /// free name is never reported as taken.
    pub(super) fn link_exists(&mut self, ns: &Ns, link: &str) -> Result<bool> {
        let key = (ns.key(), link.to_string());
        let conn = self.conn(ns)?;
        match self.block_on(conn.link_by_name(link)) {
            Ok(info) => {
                self.links.indexes.insert(key, info.index);
                Ok(true)
            }
            Err(e) if e.code() == Some(Errno::ENODEV) => {
                self.links.indexes.remove(&key);
                Ok(false)
            }
            Err(e) => Err(self.link_error(ns, link, "find", e)),
        }
    }

    /// Moves the counter past the numbers in use in these namespaces, so that the next pair's
    /// two numbers are free in both.
    fn skip_taken_indexes(&mut self, spaces: &[&Ns]) -> Result<()> {
        let mut taken = HashSet::new();
        for ns in spaces {
            let conn = self.conn(ns)?;
            let links = self.block_on(conn.links()).map_err(|e| LabError::from_engine(format!("list links in {ns}"), e))?;
            taken.extend(links.iter().map(|l| l.index));
        }
        while taken.contains(&self.links.next_index) || taken.contains(&(self.links.next_index + 1)) {
            self.links.next_index += 1;
        }
        Ok(())
    }
}
