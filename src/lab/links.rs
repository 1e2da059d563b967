//! Links: veth pairs, moving between namespaces, up/down, addresses, and inspection.

use nix::errno::Errno;

use super::ledger::Object;
use super::{validate, AddrView, Lab, LabError, LinkView, Ns, Outcome, Result};
use crate::engine::netlink::LinkInfo;
use crate::engine::EngineError;

impl Lab {
    /// `ip link set LINK up|down`. `up` of a bridge the lab made may be held back (see
    /// `holding.rs`).
    pub fn set_up(&mut self, ns: &Ns, link: &str, up: bool) -> Result<Outcome> {
        self.trace(|| {
            format!("{} link set {} {}", super::trace::ip(ns), super::trace::word(link), if up { "up" } else { "down" })
        });
        self.passing(|lab| {
            if up {
                if let Some(ticket) = lab.hold_bridge_up(ns, link)? {
                    return Ok(Outcome::Held(ticket));
                }
            }
            if !up && lab.is_held_up(ns, link) {
                // Up, then down, in that order.
                lab.release_bridge_up()?;
            }
            lab.bring_up_now(ns, link, up).map(|()| Outcome::Done)
        })
    }

    pub(super) fn bring_up_now(&mut self, ns: &Ns, link: &str, up: bool) -> Result<()> {
        let verb = if up { "bring up" } else { "bring down" };
        if up {
            self.unsettled.brought_up(ns, link);
        } else {
            self.unsettled.brought_down(ns, link);
        }
        self.on_link(ns, link, verb, |conn, index| async move { conn.set_up(index, up).await })
    }

    /// Adds the address `cidr` (`10.0.0.1/24`, `fd00::1/64`) to `link` in `ns` (`ip addr add`).
    pub fn addr(&mut self, ns: &Ns, link: &str, cidr: &str) -> Result<()> {
        self.trace(|| format!("{} addr add {} dev {}", super::trace::ip(ns), super::trace::word(cidr), super::trace::word(link)));
        self.passing(|lab| lab.addr_now(ns, link, cidr))
    }

    fn addr_now(&mut self, ns: &Ns, link: &str, cidr: &str) -> Result<()> {
        let cidr = validate::link_cidr(cidr)?;
        let index = self.index(ns, link)?;
        let record = if self.records_on_link(ns, link) {
            let ns_inode = Some(self.ns_inode(ns)?);
            Some(Object::Addr { ns: ns.key(), ns_inode, link: link.into(), index: Some(index), cidr: cidr.to_string() })
        } else {
            None
        };
        if let Some(r) = &record {
            self.ledger_mut()?.intent(r)?;
        }
        let done =
            self.on_link(
                ns,
                link,
                "add an address to",
                |conn, index| async move { conn.add_addr(index, cidr.ip, cidr.prefix).await },
            );
        match (&done, &record) {
            (Ok(()), Some(r)) => self.ledger_mut()?.made(r)?,
            (Err(_), Some(r)) => self.ledger_mut()?.failed(r)?,
            _ => {}
        }
        done.map_err(|e| match e {
            LabError::Failed { errno: Some(Errno::EEXIST), .. } => {
                LabError::Exists { what: "address", name: cidr.to_string(), owner: format!(" on link {link:?} in {ns}") }
            }
            other => other,
        })
    }

    /// Removes the address `cidr` from `link` in `ns` (`ip addr del`).
    pub fn addr_del(&mut self, ns: &Ns, link: &str, cidr: &str) -> Result<()> {
        self.trace(|| format!("{} addr del {} dev {}", super::trace::ip(ns), super::trace::word(cidr), super::trace::word(link)));
        let cidr = validate::cidr(cidr)?;
        let done = self.on_link(ns, link, "remove an address from", |conn, index| async move {
            conn.del_addr(index, cidr.ip, cidr.prefix).await
        });
        if let Err(LabError::Failed { errno: Some(Errno::EADDRNOTAVAIL), .. }) = done {
            // The kernel's "Cannot assign requested address": say what the link has instead.
            let has: Vec<String> = self.addrs(ns)?.into_iter().filter(|a| a.link == link).map(|a| a.cidr).collect();
            let has = if has.is_empty() { "it has none".to_string() } else { format!("it has: {}", has.join(", ")) };
            return Err(LabError::Refused(format!("link {link:?} in {ns} has no address {cidr}; {has}")));
        }
        done?;
        self.forget(&Object::Addr { ns: ns.key(), ns_inode: None, link: link.into(), index: None, cidr: cidr.to_string() })
    }

    // Dumps run one after another: the kernel allows one dump at a time per socket (EBUSY).
    /// The links in `ns` (`ip link show`).
    pub fn links(&mut self, ns: &Ns) -> Result<Vec<LinkView>> {
        let conn = self.conn(ns)?;
        let (links, addrs) = self
            .block_on(async { Ok::<_, EngineError>((conn.links().await?, conn.addrs().await?)) })
            .map_err(|e| LabError::from_engine(format!("list links in {ns}"), e))?;
        let name_of = |i: u32| links.iter().find(|l| l.index == i).map(|l| l.name.clone()).unwrap_or_default();
        let views = links
            .iter()
            .map(|l: &LinkInfo| {
                let (peer, peer_netns) = self.peer_of(ns, l, &name_of);
                LinkView {
                    name: l.name.clone(),
                    index: l.index,
                    kind: l.kind.clone(),
                    state: if l.up { "up".into() } else { "down".into() },
                    carrier: l.lower_up,
                    mtu: l.mtu,
                    mac: l.mac.clone(),
                    peer,
                    peer_netns,
                    master: l.master.map(name_of).unwrap_or_default(),
                    addresses: addrs
                        .iter()
                        .filter(|a| a.index == l.index)
                        .map(|a| format!("{}/{}", a.address, a.prefix))
                        .collect(),
                }
            })
            .collect();
        Ok(views)
    }

    fn peer_of(&self, ns: &Ns, l: &LinkInfo, name_of: &dyn Fn(u32) -> String) -> (String, String) {
        if l.kind != "veth" {
            return (String::new(), String::new());
        }
        if let Some((pns, pname)) = self.peers.get(&(ns.key(), l.name.clone())) {
            let where_ = if *pns == ns.key() { String::new() } else { pns.clone().unwrap_or_else(|| "root".into()) };
            return (pname.clone(), where_);
        }
        match (l.peer_index, l.peer_netnsid) {
            (Some(i), None) => (name_of(i), String::new()),
            _ => (String::new(), String::new()),
        }
    }

    /// One link, as `links` shows it.
    pub fn link(&mut self, ns: &Ns, name: &str) -> Result<LinkView> {
        validate::link_name(name)?;
        let links = self.links(ns)?;
        links.into_iter().find(|l| l.name == name).ok_or_else(|| LabError::NoSuchLink { ns: ns.to_string(), link: name.into() })
    }

    /// The addresses in `ns` (`ip addr show`).
    pub fn addrs(&mut self, ns: &Ns) -> Result<Vec<AddrView>> {
        let conn = self.conn(ns)?;
        let (links, addrs) = self
            .block_on(async { Ok::<_, EngineError>((conn.links().await?, conn.addrs().await?)) })
            .map_err(|e| LabError::from_engine(format!("list addresses in {ns}"), e))?;
        Ok(addrs
            .iter()
            .map(|a| AddrView {
                link: links.iter().find(|l| l.index == a.index).map(|l| l.name.clone()).unwrap_or_default(),
                index: a.index,
                family: if a.address.is_ipv4() { "inet".into() } else { "inet6".into() },
                address: a.address.to_string(),
                prefix: a.prefix,
                cidr: format!("{}/{}", a.address, a.prefix),
                scope: a.scope.clone(),
            })
            .collect())
    }
}
