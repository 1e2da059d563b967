//! Links: veth pairs, moving between namespaces, up/down, addresses, and inspection.

use std::os::fd::AsRawFd;

use nix::errno::Errno;

use super::ledger::Object;
use super::{validate, AddrView, Lab, LabError, LinkView, Ns, Result};
use crate::engine::netlink::{LinkInfo, LinkOptions};
use crate::engine::EngineError;

impl Lab {
    /// Creates a veth pair: `name` in `ns`, `peer` in `peer_ns`, each end born in its namespace.
    pub fn veth(&mut self, ns: &Ns, name: &str, peer_ns: &Ns, peer: &str, opts: &LinkOptions) -> Result<()> {
        validate::link_name(name)?;
        validate::link_name(peer)?;
        if ns == peer_ns && name == peer {
            return Err(LabError::Invalid {
                what: "veth pair",
                value: name.into(),
                reason: "both ends have the same name".into(),
            });
        }
        let conn = self.conn(ns)?;
        let peer_file = if peer_ns == ns { None } else { Some(self.ns_file(peer_ns)?) };
        let ends = [(ns, name), (peer_ns, peer)];
        let records: Vec<Object> = ends
            .iter()
            .filter(|(n, _)| !self.owns(n))
            .map(|(n, l)| Object::Link { ns: n.key(), name: l.to_string(), index: None })
            .collect();
        for r in &records {
            self.ledger_mut()?.intent(r)?;
        }
        let made = self.block_on(conn.add_veth(name, peer, peer_file.as_deref(), opts));
        if let Err(e) = made {
            for r in &records {
                self.ledger_mut()?.failed(r)?;
            }
            return Err(self.veth_error(ns, name, peer_ns, peer, e));
        }
        for (n, l) in ends {
            if !self.owns(n) {
                let index = self.index(n, l).ok();
                self.ledger_mut()?.made(&Object::Link { ns: n.key(), name: l.into(), index })?;
                self.made_links.insert((n.key(), l.into()));
            }
        }
        self.peers.insert((ns.key(), name.into()), (peer_ns.key(), peer.into()));
        self.peers.insert((peer_ns.key(), peer.into()), (ns.key(), name.into()));
        Ok(())
    }

    fn veth_error(&mut self, ns: &Ns, name: &str, peer_ns: &Ns, peer: &str, e: EngineError) -> LabError {
        if e.code() == Some(Errno::EEXIST) {
            // Say which end clashed: the kernel only says "File exists".
            for (n, l) in [(ns, name), (peer_ns, peer)] {
                if self.index(n, l).is_ok() {
                    return LabError::Exists { what: "link", name: l.into(), owner: format!(" in {n}") };
                }
            }
        }
        if e.code() == Some(Errno::EOPNOTSUPP) {
            return LabError::Unsupported { op: format!("create veth pair {name}/{peer}"), feature: "veth".into() };
        }
        LabError::from_engine(format!("create veth pair {name:?}/{peer:?}"), e)
    }

    /// Moves a link to another namespace (`ip link set LINK netns NS`).
    pub fn move_to(&mut self, from: &Ns, link: &str, to: &Ns) -> Result<()> {
        let target = self.ns_file(to)?;
        if from == to {
            return Ok(());
        }
        let fd = target.as_raw_fd();
        self.on_link(from, link, "move", |conn, index| async move { conn.move_to(index, fd).await })?;
        let old_key = (from.key(), link.to_string());
        self.indexes.remove(&old_key);
        if self.made_links.remove(&old_key) {
            self.forget(&Object::Link { ns: from.key(), name: link.into(), index: None })?;
        }
        if !self.owns(to) {
            let index = self.index(to, link).ok();
            self.ledger_mut()?.made(&Object::Link { ns: to.key(), name: link.into(), index })?;
            self.made_links.insert((to.key(), link.into()));
        }
        if let Some(peer) = self.peers.remove(&old_key) {
            self.peers.insert(peer.clone(), (to.key(), link.into()));
            self.peers.insert((to.key(), link.into()), peer);
        }
        Ok(())
    }

    pub fn set_up(&mut self, ns: &Ns, link: &str, up: bool) -> Result<()> {
        let verb = if up { "bring up" } else { "bring down" };
        if up {
            self.unsettled.insert(ns.clone());
        }
        self.on_link(ns, link, verb, |conn, index| async move { conn.set_up(index, up).await })
    }

    pub fn addr(&mut self, ns: &Ns, link: &str, cidr: &str) -> Result<()> {
        let cidr = validate::cidr(cidr)?;
        let record = (!self.owns(ns) && !self.made_links.contains(&(ns.key(), link.to_string()))).then(|| Object::Addr {
            ns: ns.key(),
            link: link.into(),
            cidr: cidr.to_string(),
        });
        self.index(ns, link)?;
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

    pub fn addr_del(&mut self, ns: &Ns, link: &str, cidr: &str) -> Result<()> {
        let cidr = validate::cidr(cidr)?;
        self.on_link(ns, link, "remove an address from", |conn, index| async move {
            conn.del_addr(index, cidr.ip, cidr.prefix).await
        })?;
        self.forget(&Object::Addr { ns: ns.key(), link: link.into(), cidr: cidr.to_string() })
    }

    // Dumps run one after another: the kernel allows one dump at a time per socket (EBUSY).
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
