//! Changing a link after creation (`link_set`: alias, altname, promisc, arp, txqueuelen, group,
//! mtu, mac) and bridge port options (`master` with options). On a link the lab did not create,
//! outside its namespaces, the old values are recorded first and put back at teardown: the
//! trust rule is restore, never destroy (docs/threat-model.md). Links the lab created go anyway.

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use super::ledger::Object;
use super::{validate_links, validate_net, Lab, LabError, Ns, Result};
use crate::engine::link_props::{LinkProps, PortOptions};
use crate::engine::netlink::{format_mac, Conn, LinkInfo};
use crate::engine::EngineError;

/// What `link_set` changes; None leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct LinkChanges {
    pub alias: Option<String>,
    /// An alternative name to add.
    pub altname: Option<String>,
    pub promisc: Option<bool>,
    pub arp: Option<bool>,
    pub txqueuelen: Option<i64>,
    pub group: Option<i64>,
    pub mtu: Option<i64>,
    pub mac: Option<String>,
}

/// A bridge port's options as the user gives them (`master(link, bridge, #{...})`).
#[derive(Debug, Clone, Default)]
pub struct PortSettings {
    pub hairpin: Option<bool>,
    pub learning: Option<bool>,
    pub flood: Option<bool>,
    pub isolated: Option<bool>,
    pub cost: Option<i64>,
    pub priority: Option<i64>,
}

/// A link's settings before the lab's first change of each (None: not changed), and the
/// alternative names the lab added.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedLink {
    #[serde(default)]
    pub alias: Option<String>,
    #[serde(default)]
    pub promisc: Option<bool>,
    #[serde(default)]
    pub arp: Option<bool>,
    #[serde(default)]
    pub txqueuelen: Option<u32>,
    #[serde(default)]
    pub group: Option<u32>,
    #[serde(default)]
    pub mtu: Option<u32>,
    #[serde(default)]
    pub mac: Option<String>,
    #[serde(default)]
    pub altnames: Vec<String>,
}

impl SavedLink {
    /// Notes the values `c` is about to change, where no earlier change noted them already.
    fn note(&mut self, now: &LinkInfo, c: &LinkChanges) {
        if c.alias.is_some() && self.alias.is_none() {
            self.alias = Some(now.alias.clone());
        }
        if c.promisc.is_some() && self.promisc.is_none() {
            self.promisc = Some(now.promisc);
        }
        if c.arp.is_some() && self.arp.is_none() {
            self.arp = Some(!now.noarp);
        }
        if c.txqueuelen.is_some() && self.txqueuelen.is_none() {
            self.txqueuelen = Some(now.txqueuelen);
        }
        if c.group.is_some() && self.group.is_none() {
            self.group = Some(now.group);
        }
        if c.mtu.is_some() && self.mtu.is_none() {
            self.mtu = Some(now.mtu);
        }
        if c.mac.is_some() && self.mac.is_none() {
            self.mac = Some(now.mac.clone());
        }
        if let Some(a) = &c.altname {
            if !now.altnames.contains(a) && !self.altnames.contains(a) {
                self.altnames.push(a.clone());
            }
        }
    }
}

/// What putting a link's settings back did.
pub(super) enum Restored {
    Done,
    /// The link is gone.
    Absent,
    /// Not the link the lab changed any more: left as it is, for this reason.
    Left(String),
}

impl Lab {
    /// `ip link set LINK alias/promisc/arp/txqueuelen/group/mtu/address`, `ip link property add
    /// altname`. `name` may be an alternative name.
    pub fn link_set(&mut self, ns: &Ns, name: &str, c: &LinkChanges) -> Result<()> {
        self.passing(|lab| lab.link_set_now(ns, name, c))
    }

    fn link_set_now(&mut self, ns: &Ns, name: &str, c: &LinkChanges) -> Result<()> {
        validate_links::link_or_altname(name)?;
        let link = self.link(ns, name)?.name;
        let props = LinkProps {
            alias: c.alias.as_deref().map(|a| validate_links::alias(a, &link)).transpose()?,
            promisc: c.promisc,
            arp: c.arp,
            txqueuelen: c.txqueuelen.map(|n| validate_links::txqueuelen(n, &link)).transpose()?,
            group: c.group.map(|n| validate_links::group(n, &link)).transpose()?,
            mtu: None,
            mac: None,
        };
        if let Some(m) = c.mac.as_deref() {
            validate_net::mac(m)?;
        }
        if let Some(a) = c.altname.as_deref() {
            validate_links::altname(a)?;
            self.altname_free(ns, &link, a)?;
        }
        let conn = self.conn(ns)?;
        let info = self.block_on(conn.link_by_name(&link)).map_err(|e| self.link_error(ns, &link, "find", e))?;
        if props.group.is_some() && !self.owns(ns) && self.created_here(ns, &info) {
            return Err(LabError::Refused(format!(
                "link {link:?} in {ns} keeps the lab's link group: it is how teardown knows the links the lab made \
                 outside its namespaces; change the group of links inside the lab's namespaces"
            )));
        }
        self.record_changes(ns, &info, c)?;
        if !props.is_empty() {
            self.on_link(ns, &link, "change", |conn, index| {
                let props = props.clone();
                async move { conn.set_props(index, &props).await }
            })?;
        }
        if let Some(n) = c.mtu {
            self.mtu(ns, &link, n)?;
        }
        if let Some(m) = c.mac.as_deref() {
            self.mac(ns, &link, m)?;
        }
        if let Some(a) = c.altname.as_deref().filter(|a| !info.altnames.iter().any(|x| x == a)) {
            let done = self.block_on(conn.add_altname(info.index, a));
            done.map_err(|e| self.altname_error(ns, &link, a, e))?;
        }
        Ok(())
    }

    /// An alternative name is refused when any link in `ns` is called so, or has it already
    /// (other than `link` itself having it as an alternative name).
    fn altname_free(&mut self, ns: &Ns, link: &str, altname: &str) -> Result<()> {
        let clash = self.links(ns)?.into_iter().find(|l| l.name == altname || l.altnames.iter().any(|a| a == altname));
        match clash {
            Some(l) if l.name == link && l.name != altname => Ok(()),
            Some(l) => Err(LabError::Exists {
                what: "link name",
                name: altname.into(),
                owner: if l.name == altname {
                    format!(" in {ns} (the name of a link)")
                } else {
                    format!(" in {ns} (an alternative name of link {:?})", l.name)
                },
            }),
            None => Ok(()),
        }
    }

    fn altname_error(&self, ns: &Ns, link: &str, altname: &str, e: EngineError) -> LabError {
        let op = format!("add the alternative name {altname:?} to link {link:?} in {ns}");
        match e.code() {
            // A kernel before 5.5 knows no RTM_NEWLINKPROP: its answer to an unknown request.
            Some(Errno::EOPNOTSUPP) => {
                LabError::Unsupported { op, feature: "alternative interface names (RTM_NEWLINKPROP, Linux 5.5 or later)".into() }
            }
            Some(Errno::EEXIST) => LabError::Exists { what: "link name", name: altname.into(), owner: format!(" in {ns}") },
            _ => LabError::from_engine(op, e),
        }
    }

    /// Records what `c` changes before it changes, for teardown (or the end of a sub-test) to put
    /// back: on a link the lab did not create, outside its namespaces, and, while a sub-test
    /// runs, on any link that outlives it. A foreign link the lab moved into one of its
    /// namespaces is refused: it goes back as it came.
    fn record_changes(&mut self, ns: &Ns, info: &LinkInfo, c: &LinkChanges) -> Result<()> {
        let ours = self.created_here(ns, info);
        if !ours && self.owns(ns) {
            return Err(LabError::Refused(format!(
                "link {:?} in {ns} is not the lab's: it was moved there with move_to and goes back as it came; \
                 change it where it belongs",
                info.name
            )));
        }
        if ours && !self.records_on_link(ns, &info.name) {
            return Ok(());
        }
        let depth = self.checkpoints.len();
        let key = (ns.key(), info.index, depth);
        // A record undone with its sub-test no longer stands: start afresh.
        let standing =
            self.changed.link_sets.get(&key).filter(|r| self.ledger.as_ref().is_some_and(|l| l.standing().contains(r)));
        let mut old = match standing {
            Some(Object::LinkSet { old, .. }) => old.clone(),
            _ => SavedLink::default(),
        };
        old.note(info, c);
        let ns_inode = self.ns_inode(ns)?;
        let record = Object::LinkSet { ns: ns.key(), ns_inode, name: info.name.clone(), index: info.index, old, depth };
        // Made at once: putting back a value that did not change is harmless, so the record
        // holds whether or not the change goes through.
        self.ledger_mut()?.made(&record)?;
        self.changed.link_sets.insert(key, record);
        Ok(())
    }

    /// `master(link, bridge, #{hairpin, learning, flood, isolated, cost, priority})`: joins
    /// the bridge, then sets the port's options; a port whose options the kernel refuses leaves
    /// the bridge again.
    pub fn master_with(&mut self, ns: &Ns, link: &str, bridge: &str, s: &PortSettings) -> Result<()> {
        let opts = PortOptions {
            hairpin: s.hairpin,
            learning: s.learning,
            flood: s.flood,
            isolated: s.isolated,
            cost: s.cost.map(|n| validate_links::port_cost(n, link)).transpose()?,
            priority: s.priority.map(|n| validate_links::port_priority(n, link)).transpose()?,
        };
        if !opts.is_empty() {
            let conn = self.conn(ns)?;
            let kind = self.block_on(conn.link_by_name(bridge)).map(|l| l.kind).unwrap_or_default();
            if !kind.is_empty() && kind != "bridge" {
                return Err(LabError::Refused(format!(
                    "port options (hairpin, learning, flood, isolated, cost, priority) are a bridge's; {bridge:?} in {ns} is {}",
                    super::bridges::kind_text(&kind)
                )));
            }
        }
        self.master(ns, link, bridge)?;
        if opts.is_empty() {
            return Ok(());
        }
        let done = self.on_link(ns, link, "set the port options of", |conn, index| {
            let opts = opts.clone();
            async move { conn.set_port(index, &opts).await }
        });
        if done.is_err() {
            let _ = self.nomaster(ns, link);
        }
        done
    }
}

/// Puts back what the lab changed on a link it did not create (teardown, `clean`), if the link
/// at `index` is still the one called `name`.
pub(super) async fn restore(conn: &Conn, name: &str, index: u32, old: &SavedLink) -> std::result::Result<Restored, EngineError> {
    let Some(now) = conn.link_by_index(index).await? else { return Ok(Restored::Absent) };
    if now.name != name && !now.altnames.iter().any(|a| a == name) {
        return Ok(Restored::Left(format!("ifindex {index} is now {:?}, another link: left as is", now.name)));
    }
    let mac = old.mac.as_deref().and_then(|m| validate_net::mac(m).ok()).filter(|m| format_mac(m) != now.mac);
    let props = LinkProps {
        alias: old.alias.clone(),
        promisc: old.promisc,
        arp: old.arp,
        txqueuelen: old.txqueuelen,
        group: old.group,
        mtu: old.mtu.filter(|m| *m != now.mtu),
        mac,
    };
    if !props.is_empty() {
        conn.set_props(index, &props).await?;
    }
    for a in old.altnames.iter().filter(|a| now.altnames.contains(a)) {
        conn.del_altname(index, a).await?;
    }
    Ok(Restored::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> LinkInfo {
        LinkInfo { name: "eth0".into(), alias: "orig".into(), txqueuelen: 1000, mtu: 1500, ..LinkInfo::default() }
    }

    #[test]
    fn the_first_old_value_of_each_setting_is_kept() {
        let mut saved = SavedLink::default();
        saved.note(&info(), &LinkChanges { alias: Some("a".into()), altname: Some("alt".into()), ..Default::default() });
        let mut later = info();
        later.alias = "a".into();
        later.altnames = vec!["alt".into()];
        saved.note(
            &later,
            &LinkChanges { alias: Some("b".into()), mtu: Some(1400), altname: Some("alt".into()), ..Default::default() },
        );
        assert_eq!(saved.alias.as_deref(), Some("orig"));
        assert_eq!(saved.mtu, Some(1500));
        assert_eq!(saved.altnames, vec!["alt".to_string()]);
        assert_eq!((saved.txqueuelen, saved.promisc), (None, None), "what was not changed is not put back");
        // An altname the link had before the lab is not the lab's to remove.
        let mut had = info();
        had.altnames = vec!["theirs".into()];
        let mut s = SavedLink::default();
        s.note(&had, &LinkChanges { altname: Some("theirs".into()), ..Default::default() });
        assert!(s.altnames.is_empty());
    }

    #[test]
    fn ledger_records_of_settings_are_checked() {
        let record =
            |name: &str, old: SavedLink| Object::LinkSet { ns: None, ns_inode: 1, name: name.into(), index: 2, old, depth: 0 };
        assert!(record("eth0", SavedLink { alias: Some("x".into()), ..Default::default() }).check().is_ok());
        assert!(record("a/b", SavedLink::default()).check().is_err());
        assert!(record("eth0", SavedLink { altnames: vec!["../x".into()], ..Default::default() }).check().is_err());
        assert!(record("eth0", SavedLink { mac: Some("zz".into()), ..Default::default() }).check().is_err());
        assert!(record("eth0", SavedLink { alias: Some("x".repeat(300)), ..Default::default() }).check().is_err());
    }
}
