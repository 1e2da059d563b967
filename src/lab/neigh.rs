//! The neighbour table: permanent and other entries, proxy entries, delete, list, flush
//! (`ip neigh`). Entries the lab adds outside its own namespaces, on links it did not create,
//! are recorded in the ledger and removed at teardown while they are as the lab left them;
//! entries in its namespaces (or on its links) go with them.

use std::net::IpAddr;

use nix::errno::Errno;

use super::ledger::Object;
use super::validate_neigh as v;
use super::{Lab, LabError, Ns, Result};
use crate::engine::neigh::{nud_name, NeighEntry, NUD_NOARP, NUD_PERMANENT};
use crate::engine::netlink::format_mac;

/// A neighbour entry, as `neighs()` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct NeighView {
    /// The link it is on ("" for a proxy entry on no link).
    pub dev: String,
    /// The neighbour's address.
    pub ip: String,
    /// "" when the kernel has no link-layer address for it (incomplete, failed, proxy).
    pub mac: String,
    /// "permanent", "noarp", "reachable", "stale", "delay", "probe", "incomplete", "failed",
    /// "none" (proxy entries).
    pub state: String,
    /// The neighbour said it is a router (IPv6).
    pub router: bool,
    /// A proxy entry (the link answers for this address).
    pub proxy: bool,
}

/// Entries `ip neigh flush` leaves: the ones a user (or the kernel, for multicast) set.
fn kept_by_flush(state: u16) -> bool {
    state & (NUD_PERMANENT | NUD_NOARP) != 0
}

impl Lab {
    /// Adds a neighbour entry: `ip` is at `mac` on `dev` (`ip neigh add IP lladdr MAC dev DEV nud
    /// STATE`). An entry the kernel learned (not permanent or noarp) is replaced; one someone set
    /// is an error.
    pub fn neigh(&mut self, ns: &Ns, dev: &str, ip: &str, mac: &str, state: Option<&str>) -> Result<()> {
        self.trace(|| {
            let w = super::trace::word;
            let nud = w(state.unwrap_or("permanent"));
            format!("{} neigh add {} lladdr {} dev {} nud {nud}", super::trace::ip(ns), w(ip), w(mac), w(dev))
        });
        let addr = v::neigh_ip(ip)?;
        let bytes = v::any_mac(mac)?;
        let state = v::neigh_state(state.unwrap_or("permanent"))?;
        let index = self.index(ns, dev)?;
        let record = if self.records_on_link(ns, dev) {
            let ns_inode = self.ns_inode(ns)?;
            Some(Object::Neigh {
                ns: ns.key(),
                ns_inode,
                link: dev.into(),
                index,
                ip: addr.to_string(),
                mac: format_mac(&bytes),
                state,
                proxy: false,
            })
        } else {
            None
        };
        if let Some(r) = &record {
            self.ledger_mut()?.intent(r)?;
        }
        let conn = self.conn(ns)?;
        let mut done = self.block_on(conn.neigh_add(index, addr, bytes, state, false));
        if done.as_ref().err().and_then(|e| e.code()) == Some(Errno::EEXIST) {
            match self.neigh_entry(ns, index, addr, false)? {
                Some(e) if !kept_by_flush(e.state) => done = self.block_on(conn.neigh_add(index, addr, bytes, state, true)),
                Some(e) => {
                    if let Some(r) = &record {
                        self.ledger_mut()?.failed(r)?;
                    }
                    return Err(LabError::Exists {
                        what: "neighbour",
                        name: ip.into(),
                        owner: format!(
                            " on link {dev:?} in {ns} ({} at {}): remove it first with neigh_del",
                            nud_name(e.state),
                            e.mac
                        ),
                    });
                }
                None => {}
            }
        }
        match (&done, &record) {
            (Ok(()), Some(r)) => self.ledger_mut()?.made(r)?,
            (Err(_), Some(r)) => self.ledger_mut()?.failed(r)?,
            _ => {}
        }
        done.map_err(|e| self.link_error(ns, dev, "add a neighbour on", e))
    }

    /// Makes `dev` answer ARP / neighbour solicitations for `ip` (`ip neigh add proxy IP dev DEV`;
    /// the kernel answers only with `proxy_arp` / `proxy_ndp` on for the link).
    pub fn neigh_proxy(&mut self, ns: &Ns, dev: &str, ip: &str) -> Result<()> {
        self.trace(|| {
            format!("{} neigh add proxy {} dev {}", super::trace::ip(ns), super::trace::word(ip), super::trace::word(dev))
        });
        let addr = v::neigh_ip(ip)?;
        let index = self.index(ns, dev)?;
        // The kernel takes a second identical proxy entry without a word: say it is there (and
        // never record someone else's as the lab's).
        if self.neigh_entry(ns, index, addr, true)?.is_some() {
            return Err(LabError::Exists {
                what: "proxy neighbour",
                name: ip.into(),
                owner: format!(" on link {dev:?} in {ns}"),
            });
        }
        let record = if self.records_on_link(ns, dev) {
            let ns_inode = self.ns_inode(ns)?;
            let ip = addr.to_string();
            Some(Object::Neigh { ns: ns.key(), ns_inode, link: dev.into(), index, ip, mac: String::new(), state: 0, proxy: true })
        } else {
            None
        };
        if let Some(r) = &record {
            self.ledger_mut()?.intent(r)?;
        }
        let conn = self.conn(ns)?;
        let done = self.block_on(conn.proxy_add(index, addr));
        match (&done, &record) {
            (Ok(()), Some(r)) => self.ledger_mut()?.made(r)?,
            (Err(_), Some(r)) => self.ledger_mut()?.failed(r)?,
            _ => {}
        }
        done.map_err(|e| match e.code() {
            Some(Errno::EEXIST) => {
                LabError::Exists { what: "proxy neighbour", name: ip.into(), owner: format!(" on link {dev:?} in {ns}") }
            }
            _ => self.link_error(ns, dev, "add a proxy neighbour on", e),
        })
    }

    /// Deletes the entry for `ip` on `dev` (`proxy`: the proxy entry) (`ip neigh del`).
    pub fn neigh_del(&mut self, ns: &Ns, dev: &str, ip: &str, proxy: bool) -> Result<()> {
        self.trace(|| {
            let proxy = if proxy { " proxy" } else { "" };
            format!("{} neigh del{proxy} {} dev {}", super::trace::ip(ns), super::trace::word(ip), super::trace::word(dev))
        });
        let addr = v::neigh_ip(ip)?;
        let index = self.index(ns, dev)?;
        let conn = self.conn(ns)?;
        if let Err(e) = self.block_on(conn.neigh_del(index, addr, proxy)) {
            if e.code() != Some(Errno::ENOENT) {
                return Err(self.link_error(ns, dev, "delete a neighbour on", e));
            }
            let there: Vec<String> = self
                .neighs(ns, Some(dev), proxy)?
                .into_iter()
                .map(|n| if proxy { n.ip } else { format!("{} ({})", n.ip, n.state) })
                .collect();
            let which = if proxy { "proxy entry" } else { "neighbour entry" };
            let has = if there.is_empty() { "it has none".to_string() } else { format!("it has: {}", there.join(", ")) };
            return Err(LabError::Refused(format!("link {dev:?} in {ns} has no {which} for {ip}; {has}")));
        }
        self.forget_recorded(&neigh_key(ns, dev, index, addr, proxy))
    }

    /// The neighbour entries of `ns` (`proxy`: its proxy entries), all states, of `dev` only
    /// when given (`ip neigh show [proxy] [dev DEV] nud all`).
    pub fn neighs(&mut self, ns: &Ns, dev: Option<&str>, proxy: bool) -> Result<Vec<NeighView>> {
        let only = dev.map(|d| self.index(ns, d)).transpose()?;
        let conn = self.conn(ns)?;
        let (links, entries) = self
            .block_on(async { Ok::<_, crate::engine::EngineError>((conn.links().await?, conn.neigh_dump(proxy).await?)) })
            .map_err(|e| LabError::from_engine(format!("list neighbours in {ns}"), e))?;
        let name_of = |i: u32| links.iter().find(|l| l.index == i).map(|l| l.name.clone()).unwrap_or_default();
        Ok(entries
            .into_iter()
            .filter(|e| only.is_none_or(|i| e.index == i))
            .map(|e| NeighView {
                dev: name_of(e.index),
                ip: e.ip.to_string(),
                mac: e.mac,
                state: nud_name(e.state),
                router: e.router,
                proxy: e.proxy,
            })
            .collect())
    }

    /// Removes what `ip neigh flush dev DEV` removes: every entry of the link but the permanent
    /// and noarp ones (and not the proxy entries). Returns how many went.
    pub fn neigh_flush(&mut self, ns: &Ns, dev: &str) -> Result<usize> {
        self.trace(|| format!("{} neigh flush dev {}", super::trace::ip(ns), super::trace::word(dev)));
        let index = self.index(ns, dev)?;
        let conn = self.conn(ns)?;
        let entries =
            self.block_on(conn.neigh_dump(false)).map_err(|e| LabError::from_engine(format!("list neighbours in {ns}"), e))?;
        let mut removed = 0;
        for e in entries.iter().filter(|e| e.index == index && !kept_by_flush(e.state)) {
            match self.block_on(conn.neigh_del(index, e.ip, false)) {
                Ok(()) => removed += 1,
                // Gone by itself meanwhile (garbage-collected, or the link went down).
                Err(err) if err.code() == Some(Errno::ENOENT) => {}
                Err(err) => return Err(self.link_error(ns, dev, "flush the neighbours of", err)),
            }
            self.forget_recorded(&neigh_key(ns, dev, index, e.ip, false))?;
        }
        Ok(removed)
    }

    /// Notes as gone the lab's records of the object `probe` names (by key), if it has any: the
    /// probe itself is never written (it need not be a line the ledger's rules accept).
    pub(super) fn forget_recorded(&mut self, probe: &Object) -> Result<()> {
        let Some(ledger) = self.ledger.as_ref() else { return Ok(()) };
        let found: Vec<Object> = ledger.standing().into_iter().filter(|o| o.same(probe)).collect();
        for o in found {
            self.forget(&o)?;
        }
        Ok(())
    }

    /// The entry for `ip` on the link `index`, if there is one.
    fn neigh_entry(&mut self, ns: &Ns, index: u32, ip: IpAddr, proxy: bool) -> Result<Option<NeighEntry>> {
        let conn = self.conn(ns)?;
        self.block_on(conn.neigh_get(index, ip, proxy))
            .map_err(|e| LabError::from_engine(format!("look up neighbours in {ns}"), e))
    }
}

/// A record with the key of the lab's entry for `ip` on `dev` (for `forget`).
fn neigh_key(ns: &Ns, dev: &str, index: u32, ip: IpAddr, proxy: bool) -> Object {
    Object::Neigh { ns: ns.key(), ns_inode: 0, link: dev.into(), index, ip: ip.to_string(), mac: String::new(), state: 0, proxy }
}
