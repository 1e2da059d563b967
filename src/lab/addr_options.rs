//! Addresses with options (peer, broadcast, scope, lifetimes, nodad, noprefixroute) and flushing
//! a link's addresses (`ip addr flush dev LINK`). A flush of a link the lab did not create,
//! outside its namespaces, is undone at teardown: each address removed is recorded first and put
//! back (the lab restores, it does not destroy); addresses the lab added itself just go.

use nix::errno::Errno;

use super::ledger::Object;
use super::ledger_neigh::SETTABLE_ADDR_FLAGS;
use super::validate_neigh::{self as v, Lifetime};
use super::{validate, Lab, LabError, Ns, Result};
use crate::engine::addr_options::{AddrDetail, AddrSpec, IFA_F_NODAD, IFA_F_NOPREFIXROUTE};

/// The options of `addr` beyond the address itself.
#[derive(Debug, Clone, Default)]
pub struct AddrOptions {
    /// No duplicate address detection (IPv6): usable at once, never "tentative".
    pub nodad: bool,
    /// How long the address stays valid (default forever).
    pub valid_lft: Option<Lifetime>,
    /// How long it stays preferred as a source (default: as long as it is valid).
    pub preferred_lft: Option<Lifetime>,
    /// An IPv4 broadcast address, or "+" for the network's last one.
    pub broadcast: Option<String>,
    /// No route to the prefix is added with the address.
    pub noprefixroute: bool,
    /// The other end of a point-to-point link.
    pub peer: Option<String>,
    /// "global", "site", "link", "host", "nowhere" or a number.
    pub scope: Option<String>,
}

impl Lab {
    /// Adds `cidr` to `link` with options (`ip addr add CIDR dev LINK [peer P] [brd B] [scope S]
    /// [valid_lft V] [preferred_lft P] [nodad] [noprefixroute]`).
    pub fn addr_with(&mut self, ns: &Ns, link: &str, cidr: &str, o: &AddrOptions) -> Result<()> {
        self.trace(|| format!("{} addr add {} dev {}", super::trace::ip(ns), addr_words(cidr, o), super::trace::word(link)));
        self.passing(|lab| lab.addr_with_now(ns, link, cidr, o))
    }

    fn addr_with_now(&mut self, ns: &Ns, link: &str, cidr: &str, o: &AddrOptions) -> Result<()> {
        let c = validate::link_cidr(cidr)?;
        let (valid, preferred) = v::lifetimes(o.valid_lft, o.preferred_lft)?;
        let mut spec = AddrSpec { ip: Some(c.ip), prefix: c.prefix, valid, preferred, ..Default::default() };
        spec.peer = o.peer.as_deref().map(|p| v::peer(p, c.ip)).transpose()?;
        spec.broadcast = o.broadcast.as_deref().map(|b| v::broadcast(b, c.ip, c.prefix)).transpose()?;
        spec.scope = o.scope.as_deref().map(v::scope).transpose()?;
        if o.nodad {
            spec.flags |= IFA_F_NODAD;
        }
        if o.noprefixroute {
            spec.flags |= IFA_F_NOPREFIXROUTE;
        }
        let index = self.index(ns, link)?;
        let record = if self.records_on_link(ns, link) {
            let ns_inode = Some(self.ns_inode(ns)?);
            Some(Object::Addr { ns: ns.key(), ns_inode, link: link.into(), index: Some(index), cidr: c.to_string() })
        } else {
            None
        };
        if let Some(r) = &record {
            self.ledger_mut()?.intent(r)?;
        }
        let done = self.on_link(ns, link, "add an address to", |conn, index| {
            let spec = spec.clone();
            async move { conn.add_addr_spec(index, &spec).await }
        });
        match (&done, &record) {
            (Ok(()), Some(r)) => self.ledger_mut()?.made(r)?,
            (Err(_), Some(r)) => self.ledger_mut()?.failed(r)?,
            _ => {}
        }
        done.map_err(|e| match e {
            LabError::Failed { errno: Some(Errno::EEXIST), .. } => {
                LabError::Exists { what: "address", name: c.to_string(), owner: format!(" on link {link:?} in {ns}") }
            }
            other => other,
        })
    }

    /// Removes every address of `link`, IPv4 and IPv6, link-local ones included (`ip addr flush
    /// dev LINK`). Returns how many went. Outside the lab's namespaces, on a link it did not
    /// create, each is recorded first and put back at teardown.
    pub fn addr_flush(&mut self, ns: &Ns, link: &str) -> Result<usize> {
        self.trace(|| format!("{} addr flush dev {}", super::trace::ip(ns), super::trace::word(link)));
        self.passing(|lab| lab.addr_flush_now(ns, link))
    }

    fn addr_flush_now(&mut self, ns: &Ns, link: &str) -> Result<usize> {
        let index = self.index(ns, link)?;
        let conn = self.conn(ns)?;
        let all = self.block_on(conn.addr_details()).map_err(|e| LabError::from_engine(format!("list addresses in {ns}"), e))?;
        // Secondaries (listed after their primary) first: deleting a primary takes them along.
        let on_link: Vec<AddrDetail> = all.into_iter().filter(|a| a.index == index).rev().collect();
        let records = self.records_on_link(ns, link);
        let ns_inode = if records { self.ns_inode(ns)? } else { 0 };
        let mut removed = 0;
        for a in &on_link {
            let cidr = format!("{}/{}", a.ip, a.prefix);
            let own = Object::Addr { ns: ns.key(), ns_inode: None, link: link.into(), index: None, cidr: cidr.clone() };
            // The lab's own address just goes, and is no longer the lab's to remove; while a
            // sub-test runs it is put back like any other when the sub-test ends (its record
            // stays for the lab's teardown).
            let is_labs =
                self.checkpoints.is_empty() && self.ledger.as_ref().is_some_and(|l| l.standing().iter().any(|o| o.same(&own)));
            // Written newest last in this reverse order, so teardown (newest first) puts the
            // primary back before its secondaries.
            let record = (records && !is_labs).then(|| flushed_record(ns, ns_inode, link, a));
            if let Some(r) = &record {
                self.ledger_mut()?.intent(r)?;
            }
            let done = self.block_on(conn.del_addr_detail(a));
            match done {
                Ok(()) => removed += 1,
                // Gone with its primary.
                Err(e) if e.code() == Some(Errno::EADDRNOTAVAIL) => {}
                Err(e) => {
                    if let Some(r) = &record {
                        self.ledger_mut()?.failed(r)?;
                    }
                    return Err(self.link_error(ns, link, "flush the addresses of", e));
                }
            }
            if let Some(r) = &record {
                self.ledger_mut()?.made(r)?;
            }
            if is_labs {
                self.forget_recorded(&own)?;
            }
        }
        Ok(removed)
    }
}

/// An address and its options as `ip addr add` words (a peer takes the prefix: `A peer P/N`).
fn addr_words(cidr: &str, o: &AddrOptions) -> String {
    let w = super::trace::word;
    let mut out = match (&o.peer, cidr.split_once('/')) {
        (Some(p), Some((ip, prefix))) => format!("{} peer {}", w(ip), w(&format!("{p}/{prefix}"))),
        (Some(p), None) => format!("{} peer {}", w(cidr), w(p)),
        (None, _) => w(cidr),
    };
    if let Some(b) = &o.broadcast {
        out += &format!(" broadcast {}", w(b));
    }
    if let Some(s) = &o.scope {
        out += &format!(" scope {}", w(s));
    }
    // `ip` wants both lifetimes when one is given (and no preferred beyond valid).
    if let Ok((Some(v), Some(p))) = v::lifetimes(o.valid_lft, o.preferred_lft) {
        let text = |n: u32| if n == crate::engine::addr_options::FOREVER { "forever".to_string() } else { n.to_string() };
        out += &format!(" valid_lft {} preferred_lft {}", text(v), text(p));
    }
    if o.nodad {
        out += " nodad";
    }
    if o.noprefixroute {
        out += " noprefixroute";
    }
    out
}

fn flushed_record(ns: &Ns, ns_inode: u64, link: &str, a: &AddrDetail) -> Object {
    // A permanent address comes back permanent; one with lifetimes gets what it had left.
    let permanent = a.flags & 0x80 != 0;
    Object::Flushed {
        ns: ns.key(),
        ns_inode,
        link: link.into(),
        index: a.index,
        cidr: format!("{}/{}", a.ip, a.prefix),
        peer: a.peer.map(|p| p.to_string()).unwrap_or_default(),
        broadcast: a.broadcast.map(|b| b.to_string()).unwrap_or_default(),
        scope: a.scope,
        flags: a.flags & SETTABLE_ADDR_FLAGS,
        valid: if permanent { u32::MAX } else { a.valid.max(1) },
        preferred: if permanent { u32::MAX } else { a.preferred.min(a.valid.max(1)) },
    }
}

/// The request that puts a flushed address back (None: the record does not parse).
pub(super) fn restore_spec(r: &Object) -> Option<(u32, AddrSpec)> {
    let Object::Flushed { index, cidr, peer, broadcast, scope, flags, valid, preferred, .. } = r else { return None };
    let c = validate::cidr(cidr).ok()?;
    let spec = AddrSpec {
        ip: Some(c.ip),
        prefix: c.prefix,
        peer: if peer.is_empty() { None } else { Some(peer.parse().ok()?) },
        broadcast: if broadcast.is_empty() { None } else { Some(broadcast.parse().ok()?) },
        scope: Some(*scope),
        flags: flags & SETTABLE_ADDR_FLAGS,
        valid: Some(*valid),
        preferred: Some(*preferred),
    };
    Some((*index, spec))
}

/// An address as `addrs()` shows it.
pub(super) fn addr_view(a: &AddrDetail, links: &[crate::engine::netlink::LinkInfo]) -> super::AddrView {
    let lifetime = |n: u32| (n != crate::engine::addr_options::FOREVER).then_some(n);
    super::AddrView {
        link: links.iter().find(|l| l.index == a.index).map(|l| l.name.clone()).unwrap_or_default(),
        index: a.index,
        family: if a.ip.is_ipv4() { "inet".into() } else { "inet6".into() },
        address: a.ip.to_string(),
        prefix: a.prefix,
        cidr: format!("{}/{}", a.ip, a.prefix),
        scope: v::scope_name(a.scope),
        flags: crate::engine::addr_options::flag_names(a.flags),
        valid_lft: lifetime(a.valid),
        preferred_lft: lifetime(a.preferred),
        peer: a.peer.map(|p| p.to_string()).unwrap_or_default(),
        broadcast: a.broadcast.map(|b| b.to_string()).unwrap_or_default(),
    }
}
